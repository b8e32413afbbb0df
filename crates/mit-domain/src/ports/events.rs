//! The event outbox and the events socket's tickets.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;

/// An event as committed: its topic, its place in the topic, and the message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The outbox row, in insertion order across topics.
    pub id: i64,
    /// `review:<meeting id>`.
    pub topic: String,
    /// 1, 2, 3, … within the topic, in commit order.
    pub seq: i64,
    /// The `event` message as JSON text, `seq` included.
    pub message: String,
}

/// What the store keeps of events and tickets.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Stores a ticket's hash for `user`, valid until `expires_at`.
    async fn issue_ticket(&self, hash: Vec<u8>, user: Uuid, expires_at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Spends a ticket: the user it was issued to, if it exists, is unused and not expired.
    async fn redeem_ticket(&self, hash: Vec<u8>, now: DateTime<Utc>) -> Result<Option<Uuid>, StoreError>;
    /// The topic's last sequence number (0 before its first event).
    async fn last_seq(&self, topic: &str) -> Result<i64, StoreError>;
    /// Up to `limit` events of `topic` after `since`, in order. A caller tells pruned events by
    /// a first `seq` above `since + 1`.
    async fn events_after(&self, topic: &str, since: i64, limit: i64) -> Result<Vec<StoredEvent>, StoreError>;
    /// Up to `limit` events not yet relayed, oldest first.
    async fn unrelayed(&self, limit: i64) -> Result<Vec<StoredEvent>, StoreError>;
    /// Marks events relayed.
    async fn mark_relayed(&self, ids: &[i64]) -> Result<(), StoreError>;
    /// Deletes relayed events older than `before`, keeping at most `keep` per topic.
    async fn prune(&self, before: DateTime<Utc>, keep: i64) -> Result<u64, StoreError>;
}
