//! `NoteStore` on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::notes::{NoteRecord, NoteStore};
use mit_domain::ports::people::UserRef;
use uuid::Uuid;

use super::schema::{notes, users};
use super::{PgStore, store_error};

type NoteRow = (Uuid, Uuid, String, DateTime<Utc>, DateTime<Utc>, Uuid, String, Option<String>);

fn record((id, meeting_id, content, created_at, updated_at, author_id, name, avatar_url): NoteRow) -> NoteRecord {
    NoteRecord { id, meeting_id, author: UserRef { id: author_id, name, avatar_url }, content, created_at, updated_at }
}

type NoteColumns =
    (notes::id, notes::meeting_id, notes::content, notes::created_at, notes::updated_at, users::id, users::name, users::avatar_url);

const NOTE_COLUMNS: NoteColumns =
    (notes::id, notes::meeting_id, notes::content, notes::created_at, notes::updated_at, users::id, users::name, users::avatar_url);

type WithAuthor =
    diesel::dsl::IntoBoxed<'static, diesel::dsl::Select<diesel::dsl::InnerJoin<notes::table, users::table>, NoteColumns>, diesel::pg::Pg>;

/// Notes joined with their authors.
fn with_author() -> WithAuthor {
    notes::table.inner_join(users::table).select(NOTE_COLUMNS).into_boxed()
}

async fn one(conn: &mut AsyncPgConnection, meeting: Uuid, note: Uuid) -> Result<Option<NoteRecord>, StoreError> {
    let row: Option<NoteRow> =
        with_author().filter(notes::meeting_id.eq(meeting)).filter(notes::id.eq(note)).first(conn).await.optional().map_err(store_error)?;
    Ok(row.map(record))
}

#[async_trait]
impl NoteStore for PgStore {
    async fn notes(&self, meeting: Uuid, page: PageRequest) -> Result<Page<NoteRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let total = notes::table.filter(notes::meeting_id.eq(meeting)).count().get_result(&mut conn).await.map_err(store_error)?;
        let rows: Vec<NoteRow> = with_author()
            .filter(notes::meeting_id.eq(meeting))
            .order((notes::created_at, notes::id))
            .offset(page.offset())
            .limit(page.limit())
            .load(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(Page { items: rows.into_iter().map(record).collect(), total })
    }

    async fn note(&self, meeting: Uuid, note: Uuid) -> Result<Option<NoteRecord>, StoreError> {
        let mut conn = self.connection().await?;
        one(&mut conn, meeting, note).await
    }

    async fn create_note(
        &self,
        id: Uuid,
        meeting: Uuid,
        author: Uuid,
        content: String,
        now: DateTime<Utc>,
    ) -> Result<NoteRecord, StoreError> {
        let mut conn = self.connection().await?;
        diesel::insert_into(notes::table)
            .values((
                notes::id.eq(id),
                notes::meeting_id.eq(meeting),
                notes::author_id.eq(author),
                notes::content.eq(content),
                notes::created_at.eq(now),
                notes::updated_at.eq(now),
            ))
            .execute(&mut conn)
            .await
            .map_err(store_error)?;
        one(&mut conn, meeting, id).await?.ok_or_else(|| StoreError::Other("a new note vanished".into()))
    }

    async fn update_note(&self, meeting: Uuid, note: Uuid, content: String, now: DateTime<Utc>) -> Result<Option<NoteRecord>, StoreError> {
        let mut conn = self.connection().await?;
        diesel::update(notes::table.filter(notes::meeting_id.eq(meeting)).filter(notes::id.eq(note)))
            .set((notes::content.eq(content), notes::updated_at.eq(now)))
            .execute(&mut conn)
            .await
            .map_err(store_error)?;
        one(&mut conn, meeting, note).await
    }

    async fn delete_note(&self, meeting: Uuid, note: Uuid) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        diesel::delete(notes::table.filter(notes::meeting_id.eq(meeting)).filter(notes::id.eq(note)))
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}
