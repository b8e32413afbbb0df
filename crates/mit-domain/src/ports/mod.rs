//! The domain's ports: what it needs from the outside world, as traits. `mit-store` and `mit-server` implement
//! them on PostgreSQL, Redis, object storage and the SFU.

pub mod accounts;
pub mod chat;
pub mod events;
pub mod health;
pub mod knowledge;
pub mod limits;
pub mod meetings;
pub mod notes;
pub mod people;
pub mod recorder;
pub mod recordings;
pub mod review;
pub mod rooms;
pub mod teams;

use std::sync::Arc;

pub use accounts::AccountStore;
pub use chat::ChatStore;
pub use events::EventStore;
pub use health::DependencyProbe;
pub use knowledge::{BranchStore, KnowledgeStore};
pub use limits::RateLimiter;
pub use meetings::MeetingStore;
pub use notes::NoteStore;
pub use recorder::RecordingLedger;
pub use recordings::{RecordingFiles, RecordingStore};
pub use review::ReviewStore;
pub use rooms::{RoomControl, RoomDirectory};
pub use teams::TeamStore;

use crate::clock::Clock;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached (pool timeout, connection refused); the caller may retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness constraint was violated; the text names it.
    #[error("constraint violated: {0}")]
    Conflict(String),
    /// Anything else (a bug, a schema mismatch).
    #[error("store error: {0}")]
    Other(String),
}

/// Every port the domain uses.
#[derive(Clone)]
pub struct Ports {
    /// Users, sessions and refresh tokens.
    pub accounts: Arc<dyn AccountStore>,
    /// Teams and members.
    pub teams: Arc<dyn TeamStore>,
    /// Meetings and participants.
    pub meetings: Arc<dyn MeetingStore>,
    /// Notes.
    pub notes: Arc<dyn NoteStore>,
    /// Reviews.
    pub review: Arc<dyn ReviewStore>,
    /// Projects, facts and their history.
    pub knowledge: Arc<dyn KnowledgeStore>,
    /// Branches, their discussions, and approval rules.
    pub branches: Arc<dyn BranchStore>,
    /// The event outbox and tickets for the events socket.
    pub events: Arc<dyn EventStore>,
    /// Chat history.
    pub chat: Arc<dyn ChatStore>,
    /// Recordings.
    pub recordings: Arc<dyn RecordingStore>,
    /// Finished recording files.
    pub files: Arc<dyn RecordingFiles>,
    /// Live rooms.
    pub rooms: Arc<dyn RoomControl>,
    /// Which node hosts each room.
    pub directory: Arc<dyn RoomDirectory>,
    /// Fixed-window counters for rate limits.
    pub limits: Arc<dyn RateLimiter>,
    /// Dependencies `/ready` checks.
    pub probes: Vec<Arc<dyn DependencyProbe>>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}
