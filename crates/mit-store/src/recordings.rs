//! Recordings on PostgreSQL: the domain's `RecordingStore` (reads), and what the recorder writes
//! as a recording moves from `recording` through `processing` to `ready` or `failed`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use mit_api::server::models::RecordingStatus;
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::people::UserRef;
use mit_domain::ports::recorder::{ClaimedUpload, Finalised, NewRecording, RecordingLedger, Unfinished, Upload};
use mit_domain::ports::recordings::{RecordingRecord, RecordingStore};
use uuid::Uuid;

use super::jobs::{self, JobKind};
use super::rows::parse_enum;
use super::schema::{recordings, users};
use super::{PgStore, store_error};

type RecordingRow = (
    (Uuid, Uuid, String, String, String, String, String, DateTime<Utc>, Option<DateTime<Utc>>, Option<i64>, Option<i64>, Option<String>),
    (Uuid, String, Option<String>),
);

type Columns = (
    (
        recordings::id,
        recordings::meeting_id,
        recordings::kind,
        recordings::source,
        recordings::media_type,
        recordings::status,
        recordings::storage_key,
        recordings::started_at,
        recordings::ended_at,
        recordings::duration_ms,
        recordings::size_bytes,
        recordings::failure_reason,
    ),
    (users::id, users::name, users::avatar_url),
);

const COLUMNS: Columns = (
    (
        recordings::id,
        recordings::meeting_id,
        recordings::kind,
        recordings::source,
        recordings::media_type,
        recordings::status,
        recordings::storage_key,
        recordings::started_at,
        recordings::ended_at,
        recordings::duration_ms,
        recordings::size_bytes,
        recordings::failure_reason,
    ),
    (users::id, users::name, users::avatar_url),
);

type WithParticipant =
    diesel::dsl::IntoBoxed<'static, diesel::dsl::Select<diesel::dsl::InnerJoin<recordings::table, users::table>, Columns>, diesel::pg::Pg>;

fn with_participant() -> WithParticipant {
    recordings::table.inner_join(users::table).select(COLUMNS).into_boxed()
}

fn record(row: RecordingRow) -> Result<RecordingRecord, StoreError> {
    let (
        (id, meeting_id, kind, source, media_type, status, storage_key, started_at, ended_at, duration_ms, size_bytes, failure_reason),
        user,
    ) = row;
    Ok(RecordingRecord {
        id,
        meeting_id,
        participant: UserRef { id: user.0, name: user.1, avatar_url: user.2 },
        kind: parse_enum("recording kind", &kind)?,
        source: parse_enum("recording source", &source)?,
        media_type,
        status: parse_enum("recording status", &status)?,
        storage_key,
        started_at,
        ended_at,
        duration_ms,
        size_bytes,
        failure_reason,
    })
}

#[async_trait]
impl RecordingStore for PgStore {
    async fn recordings(&self, meeting: Uuid, page: PageRequest) -> Result<Page<RecordingRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let total =
            recordings::table.filter(recordings::meeting_id.eq(meeting)).count().get_result(&mut conn).await.map_err(store_error)?;
        let rows: Vec<RecordingRow> = with_participant()
            .filter(recordings::meeting_id.eq(meeting))
            .order((recordings::started_at, recordings::id))
            .offset(page.offset())
            .limit(page.limit())
            .load(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(Page { items: rows.into_iter().map(record).collect::<Result<_, _>>()?, total })
    }

    async fn recording(&self, meeting: Uuid, recording: Uuid) -> Result<Option<RecordingRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let row: Option<RecordingRow> = with_participant()
            .filter(recordings::meeting_id.eq(meeting))
            .filter(recordings::id.eq(recording))
            .first(&mut conn)
            .await
            .optional()
            .map_err(store_error)?;
        row.map(record).transpose()
    }
}

#[async_trait]
impl RecordingLedger for PgStore {
    async fn insert_recording(&self, new: &NewRecording) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        diesel::insert_into(recordings::table)
            .values((
                recordings::id.eq(new.id),
                recordings::meeting_id.eq(new.meeting_id),
                recordings::user_id.eq(new.user_id),
                recordings::kind.eq(new.kind.as_str()),
                recordings::source.eq(new.source.as_str()),
                recordings::media_type.eq(new.media_type),
                recordings::status.eq(RecordingStatus::Recording.as_str()),
                recordings::node.eq(&new.node),
                recordings::file_path.eq(&new.file_path),
                recordings::storage_key.eq(&new.storage_key),
                recordings::started_at.eq(new.started_at),
                recordings::updated_at.eq(new.started_at),
            ))
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    async fn finalise_recording(&self, id: Uuid, done: Finalised, node: &str) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        let node = node.to_string();
        conn.transaction(async |conn| {
            let updated = diesel::update(recordings::table.filter(recordings::id.eq(id)).filter(recordings::status.eq("recording")))
                .set((
                    recordings::status.eq(RecordingStatus::Processing.as_str()),
                    recordings::ended_at.eq(done.ended_at),
                    recordings::duration_ms.eq(i64::try_from(done.duration_ms).unwrap_or(i64::MAX)),
                    recordings::size_bytes.eq(i64::try_from(done.size_bytes).unwrap_or(i64::MAX)),
                    recordings::updated_at.eq(done.ended_at),
                ))
                .execute(conn)
                .await?;
            if updated > 0 {
                jobs::enqueue(conn, JobKind::UploadRecording, id, Some(&node), done.ended_at).await?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .await
        .map_err(store_error)
    }

    async fn fail_recording(&self, id: Uuid, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        mark_failed(&mut conn, id, reason, now).await.map_err(store_error)
    }

    async fn release_leases(&self, node: &str) -> Result<u64, StoreError> {
        let mut conn = self.connection().await?;
        jobs::release_leases(&mut conn, node).await.map_err(store_error)
    }

    async fn claim_upload(&self, node: &str, lease: Duration) -> Result<Option<ClaimedUpload>, StoreError> {
        let mut conn = self.connection().await?;
        let claimed = jobs::claim(&mut conn, JobKind::UploadRecording, node, lease).await.map_err(store_error)?;
        Ok(claimed.map(|job| ClaimedUpload { job: job.id, recording: job.subject, attempts: job.attempts }))
    }

    async fn retry_upload(&self, job: Uuid, error: &str, delay: Duration) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        jobs::retry(&mut conn, job, error, delay).await.map_err(store_error)
    }

    async fn abandon_upload(&self, job: Uuid, recording: Uuid, detail: &str, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            jobs::finish(conn, job, jobs::Outcome::Failed, Some(detail)).await?;
            mark_failed(conn, recording, reason, now).await
        })
        .await
        .map_err(store_error)
    }

    async fn unfinished_recordings(&self, node: &str) -> Result<Vec<Unfinished>, StoreError> {
        let mut conn = self.connection().await?;
        let rows: Vec<(Uuid, String, String)> = recordings::table
            .filter(recordings::node.eq(node))
            .filter(recordings::status.eq("recording"))
            .select((recordings::id, recordings::media_type, recordings::file_path))
            .load(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(|(id, media_type, file_path)| Unfinished { id, media_type, file_path }).collect())
    }

    async fn upload_of(&self, id: Uuid) -> Result<Option<Upload>, StoreError> {
        let mut conn = self.connection().await?;
        let row: Option<(String, String, String, String)> = recordings::table
            .filter(recordings::id.eq(id))
            .select((recordings::status, recordings::file_path, recordings::storage_key, recordings::media_type))
            .first(&mut conn)
            .await
            .optional()
            .map_err(store_error)?;
        row.map(|(status, file_path, storage_key, media_type)| {
            Ok(Upload { status: parse_enum("recording status", &status)?, file_path, storage_key, media_type })
        })
        .transpose()
    }

    async fn complete_upload(&self, job: Uuid, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            diesel::update(recordings::table.filter(recordings::id.eq(id)).filter(recordings::status.eq("processing")))
                .set((recordings::status.eq(RecordingStatus::Ready.as_str()), recordings::updated_at.eq(now)))
                .execute(conn)
                .await?;
            jobs::finish(conn, job, jobs::Outcome::Done, None).await
        })
        .await
        .map_err(store_error)
    }
}

/// Marks a recording `failed`, saying why (a recording already `ready` stays so).
async fn mark_failed(conn: &mut AsyncPgConnection, id: Uuid, reason: &str, now: DateTime<Utc>) -> Result<(), diesel::result::Error> {
    diesel::sql_query(
        "UPDATE recordings SET status = 'failed', failure_reason = $2, ended_at = coalesce(ended_at, $3), updated_at = $3
         WHERE id = $1 AND status <> 'ready'",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Text, _>(reason)
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .execute(conn)
    .await
    .map(|_| ())
}
