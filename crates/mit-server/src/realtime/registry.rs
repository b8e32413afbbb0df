//! Every live room on this node, by meeting. The REST side reaches rooms through the domain's
//! `RoomControl` port, implemented here.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use mit_domain::ports::rooms::{Departure, RoomControl};
use uuid::Uuid;

/// The rooms hosted on this node.
#[derive(Default)]
pub struct RoomRegistry {
    occupants: Mutex<HashMap<Uuid, Vec<Uuid>>>,
}

#[async_trait]
impl RoomControl for RoomRegistry {
    async fn occupants(&self, meeting: Uuid) -> Vec<Uuid> {
        self.occupants.lock().map(|rooms| rooms.get(&meeting).cloned().unwrap_or_default()).unwrap_or_default()
    }

    async fn remove(&self, meeting: Uuid, user: Uuid, _why: Departure) {
        if let Ok(mut rooms) = self.occupants.lock()
            && let Some(room) = rooms.get_mut(&meeting)
        {
            room.retain(|u| *u != user);
        }
    }

    async fn close(&self, meeting: Uuid) {
        if let Ok(mut rooms) = self.occupants.lock() {
            rooms.remove(&meeting);
        }
    }
}
