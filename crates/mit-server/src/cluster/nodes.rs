//! The nodes of a cluster as the directory sees them, and the placement rule: a new room goes to
//! the live node with the fewest participants that is not draining (ties: the lowest id, so every
//! node that decides at once picks the same).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

/// One node's registration, as stored in Redis under its lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// `NODE_ID`.
    pub id: String,
    /// Its signalling base URL (`ws(s)://host[:port]`).
    pub signaling_url: String,
    /// Participants seated in its rooms.
    pub load: usize,
    /// Whether it has stopped taking new rooms.
    pub draining: bool,
}

/// Where a new room goes, if any node takes one.
pub fn choose(nodes: &[NodeRecord]) -> Option<&NodeRecord> {
    nodes.iter().filter(|node| !node.draining).min_by(|a, b| a.load.cmp(&b.load).then_with(|| a.id.cmp(&b.id)))
}

/// This node: who it is, and what it tells the others.
#[derive(Debug)]
pub struct ThisNode {
    /// `NODE_ID`.
    pub id: String,
    /// Its signalling base URL.
    pub signaling_url: String,
    draining: AtomicBool,
    load: AtomicUsize,
}

impl ThisNode {
    /// A node taking rooms.
    pub fn new(id: String, signaling_url: String) -> Self {
        Self { id, signaling_url, draining: AtomicBool::new(false), load: AtomicUsize::new(0) }
    }

    /// Stops taking new rooms (SIGTERM).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether it takes no new rooms.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Sets the participant count the node publishes.
    pub fn set_load(&self, participants: usize) {
        self.load.store(participants, Ordering::Release);
    }

    /// Its registration as of now.
    pub fn record(&self) -> NodeRecord {
        NodeRecord {
            id: self.id.clone(),
            signaling_url: self.signaling_url.clone(),
            load: self.load.load(Ordering::Acquire),
            draining: self.is_draining(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, load: usize, draining: bool) -> NodeRecord {
        NodeRecord { id: id.into(), signaling_url: format!("ws://{id}"), load, draining }
    }

    #[test]
    fn the_least_loaded_node_that_is_not_draining_takes_the_room() {
        let nodes = [node("a", 5, false), node("b", 2, false), node("c", 0, true)];
        assert_eq!(choose(&nodes).map(|n| n.id.as_str()), Some("b"));
    }

    #[test]
    fn equal_loads_go_to_the_lowest_id_so_concurrent_deciders_agree() {
        let nodes = [node("b", 1, false), node("a", 1, false)];
        assert_eq!(choose(&nodes).map(|n| n.id.as_str()), Some("a"));
    }

    #[test]
    fn no_room_is_placed_when_every_node_drains() {
        assert_eq!(choose(&[node("a", 0, true)]), None);
        assert_eq!(choose(&[]), None);
    }
}
