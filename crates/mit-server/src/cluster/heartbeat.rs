//! The heartbeat: a third of a lease apart, this node re-registers (with its load and whether it
//! drains) and renews the leases of the rooms it hosts. A room another node took over while this
//! one could not renew (a long Redis outage) is vacated here: its participants are told to join
//! again, which leads them to the new owner.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::directory::Directory;
use crate::realtime::RoomRegistry;

/// Starts the heartbeat; `beat_now` makes it beat at once (draining starts).
pub fn start(directory: Arc<Directory>, rooms: Arc<RoomRegistry>, lease: Duration, beat_now: Arc<Notify>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let every = lease / 3;
        loop {
            match directory.renew().await {
                Ok(lost) => {
                    for meeting in lost {
                        tracing::warn!(%meeting, "another node took this room over; sending its participants there");
                        rooms.vacate(meeting);
                    }
                }
                Err(error) => tracing::debug!(%error, "heartbeat skipped"),
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = beat_now.notified() => {}
            }
        }
    })
}
