//! The meeting room's persisted chat.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use crate::paging::{Page, PageRequest};

/// A stored chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRecord {
    /// Id.
    pub id: Uuid,
    /// Its meeting.
    pub meeting_id: Uuid,
    /// Sender.
    pub user_id: Uuid,
    /// Sender's display name.
    pub user_name: String,
    /// Text.
    pub text: String,
    /// Sent.
    pub created_at: DateTime<Utc>,
}

/// Storage of chat messages.
#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    /// A meeting's chat, newest first.
    async fn messages(&self, meeting: Uuid, page: PageRequest) -> Result<Page<ChatRecord>, StoreError>;
    /// Stores a message.
    async fn post_message(&self, id: Uuid, meeting: Uuid, user: Uuid, text: String, now: DateTime<Utc>) -> Result<ChatRecord, StoreError>;
}
