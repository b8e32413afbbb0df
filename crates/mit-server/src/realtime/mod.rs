//! Realtime: the meeting rooms behind the signalling WebSocket.

pub mod registry;

pub use registry::RoomRegistry;
