//! Several nodes behind one load balancer (SPEC §5: a room lives on one node). With Redis each
//! node registers itself under a lease, a directory of leases says which node hosts each room,
//! and host commands reach a room on whichever node it lives. Without Redis the node is alone:
//! every room is its own.

pub mod directory;
pub mod heartbeat;
pub mod link;
pub mod nodes;
pub mod room_bus;

pub use directory::Directory;
pub use link::RedisLink;
pub use nodes::ThisNode;
