//! Notes on a meeting.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use super::people::UserRef;
use crate::paging::{Page, PageRequest};

/// A stored note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteRecord {
    /// Id.
    pub id: Uuid,
    /// Its meeting.
    pub meeting_id: Uuid,
    /// Who wrote it.
    pub author: UserRef,
    /// Markdown.
    pub content: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Storage of notes.
#[async_trait]
pub trait NoteStore: Send + Sync + 'static {
    /// A meeting's notes, oldest first.
    async fn notes(&self, meeting: Uuid, page: PageRequest) -> Result<Page<NoteRecord>, StoreError>;
    /// One note of a meeting.
    async fn note(&self, meeting: Uuid, note: Uuid) -> Result<Option<NoteRecord>, StoreError>;
    /// Stores a new note.
    async fn create_note(
        &self,
        id: Uuid,
        meeting: Uuid,
        author: Uuid,
        content: String,
        now: DateTime<Utc>,
    ) -> Result<NoteRecord, StoreError>;
    /// Replaces a note's content.
    async fn update_note(&self, meeting: Uuid, note: Uuid, content: String, now: DateTime<Utc>) -> Result<Option<NoteRecord>, StoreError>;
    /// Deletes a note.
    async fn delete_note(&self, meeting: Uuid, note: Uuid) -> Result<(), StoreError>;
}
