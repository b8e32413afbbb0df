//! This node's fan-out of committed events to its sockets: one broadcast channel every socket
//! listens on (each keeps the topics it follows). Lagging or a fan-out outage is announced as
//! [`HubItem::Resume`], after which sockets fill their gaps from the outbox.

use std::sync::Arc;

use mit_domain::events::Topic;
use mit_domain::ports::events::StoredEvent;
use tokio::sync::broadcast;

/// How many items a slow socket may fall behind before it resumes from the outbox.
const DEPTH: usize = 4096;

/// A committed event as sockets take it: its topic parsed once for all of them.
#[derive(Debug)]
pub struct HubEvent {
    /// The topic.
    pub topic: Topic,
    /// Its number in the topic.
    pub seq: i64,
    /// The message sent as it is.
    pub message: String,
}

/// What sockets receive.
#[derive(Debug, Clone)]
pub enum HubItem {
    /// A committed event.
    Event(Arc<HubEvent>),
    /// Events may have been missed: check every topic against the outbox.
    Resume,
}

/// The broadcast channel.
#[derive(Clone)]
pub struct EventHub {
    sender: broadcast::Sender<HubItem>,
}

impl Default for EventHub {
    fn default() -> Self {
        Self { sender: broadcast::channel(DEPTH).0 }
    }
}

impl EventHub {
    /// Delivers a committed event to every socket of this node (one on no known topic is
    /// dropped: no socket can follow it).
    pub fn deliver_event(&self, event: StoredEvent) {
        match Topic::parse(&event.topic) {
            Some(topic) => self.deliver(HubItem::Event(Arc::new(HubEvent { topic, seq: event.seq, message: event.message }))),
            None => tracing::warn!(topic = %event.topic, "an event on no known topic"),
        }
    }

    /// Delivers to every socket of this node.
    pub fn deliver(&self, item: HubItem) {
        // No receiver is not an error: nobody is listening.
        let _ = self.sender.send(item);
    }

    /// A new socket's receiver.
    pub fn subscribe(&self) -> broadcast::Receiver<HubItem> {
        self.sender.subscribe()
    }
}
