//! The live meeting rooms (signalling and media), as the REST side needs them.

use super::meetings::RecordingFlag;
use async_trait::async_trait;
use uuid::Uuid;

/// Why the server takes someone out of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// They left through the API.
    Left,
    /// A host removed them from the meeting (close code 4008).
    Kicked,
}

/// How a meeting ended, for the `meeting-ended` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A host ended it (or the room stayed empty).
    Completed,
    /// A host called it off.
    Cancelled,
}

/// The rooms of meetings in progress.
#[async_trait]
pub trait RoomControl: Send + Sync + 'static {
    /// Whether `user` could take a seat in the meeting's room now (the room's own rule, which
    /// it applies again when their socket arrives).
    async fn has_seat_for(&self, meeting: Uuid, user: Uuid) -> bool;
    /// Disconnects one participant, if connected.
    async fn remove(&self, meeting: Uuid, user: Uuid, why: Departure);
    /// Starts or stops recording the meeting's room, telling everyone in it; an older report
    /// than the room has seen is ignored.
    async fn set_recording(&self, meeting: Uuid, recording: RecordingFlag);
    /// Tells everyone the meeting ended and closes the room.
    async fn close(&self, meeting: Uuid, ending: Ending);
}

/// Why no node could be named for a room.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// The directory cannot be asked (Redis is down) and nothing recent is known about the room.
    #[error("the room directory is unreachable")]
    DirectoryDown,
    /// Every node is draining or gone.
    #[error("no node takes new rooms")]
    NoNode,
}

/// Which node hosts each meeting's room.
#[async_trait]
pub trait RoomDirectory: Send + Sync + 'static {
    /// The signalling base URL (`ws(s)://host[:port]`) of the node hosting the meeting's room,
    /// placing the room on the least-loaded live node if none does.
    async fn place(&self, meeting: Uuid) -> Result<String, PlacementError>;
    /// Whether this node is draining: it keeps its running rooms but takes no new ones.
    fn draining(&self) -> bool;
}
