//! Durable jobs on PostgreSQL: enqueued in the transaction that makes them necessary, claimed
//! with `FOR UPDATE SKIP LOCKED` under a lease (a node that dies mid-job loses the lease and the
//! job runs again), retried at a later `run_at`, and finished as done or failed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Upload a finished recording to the object store (subject: the recording).
    UploadRecording,
}

impl JobKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UploadRecording => "upload_recording",
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did its work.
    Done,
    /// It gave up.
    Failed,
}

/// A job this node now holds.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedJob {
    /// Its id.
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    /// What it works on.
    #[diesel(sql_type = SqlUuid)]
    pub subject: Uuid,
    /// Attempts so far, this one included.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

/// Queues a job unless one of that kind for that subject exists.
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    kind: JobKind,
    subject: Uuid,
    node: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), diesel::result::Error> {
    diesel::sql_query(
        "INSERT INTO jobs (id, kind, subject, node, run_at, created_at) VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (kind, subject) DO NOTHING",
    )
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .bind::<Text, _>(kind.as_str())
    .bind::<SqlUuid, _>(subject)
    .bind::<Nullable<Text>, _>(node)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Ends a job.
pub async fn finish(conn: &mut AsyncPgConnection, job: Uuid, outcome: Outcome, error: Option<&str>) -> Result<(), diesel::result::Error> {
    let outcome = match outcome {
        Outcome::Done => "done",
        Outcome::Failed => "failed",
    };
    diesel::sql_query(
        "UPDATE jobs SET finished_at = now(), outcome = $2, locked_until = NULL, last_error = coalesce($3, last_error) WHERE id = $1",
    )
    .bind::<SqlUuid, _>(job)
    .bind::<Text, _>(outcome)
    .bind::<Nullable<Text>, _>(error)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Takes the oldest due job of `kind` that `node` may run, leasing it for `lease`.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    kind: JobKind,
    node: &str,
    lease: Duration,
) -> Result<Option<ClaimedJob>, diesel::result::Error> {
    let lease_seconds = i32::try_from(lease.as_secs()).unwrap_or(i32::MAX);
    diesel::sql_query(
        "UPDATE jobs SET attempts = attempts + 1, locked_until = now() + make_interval(secs => $3)
         WHERE id = (
             SELECT id FROM jobs
             WHERE kind = $1 AND finished_at IS NULL AND run_at <= now()
               AND (locked_until IS NULL OR locked_until < now()) AND (node IS NULL OR node = $2)
             ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, subject, attempts",
    )
    .bind::<Text, _>(kind.as_str())
    .bind::<Text, _>(node)
    .bind::<Integer, _>(lease_seconds)
    .get_result(conn)
    .await
    .optional()
}

/// Gives a failed attempt back, to run again after `delay`.
pub async fn retry(conn: &mut AsyncPgConnection, job: Uuid, error: &str, delay: Duration) -> Result<(), diesel::result::Error> {
    let delay_seconds = i32::try_from(delay.as_secs()).unwrap_or(i32::MAX);
    diesel::sql_query("UPDATE jobs SET locked_until = NULL, last_error = $2, run_at = now() + make_interval(secs => $3) WHERE id = $1")
        .bind::<SqlUuid, _>(job)
        .bind::<Text, _>(error)
        .bind::<Integer, _>(delay_seconds)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Frees every lease `node` holds: after a restart nothing of this node is running.
pub async fn release_leases(conn: &mut AsyncPgConnection, node: &str) -> Result<u64, diesel::result::Error> {
    let released =
        diesel::sql_query("UPDATE jobs SET locked_until = NULL WHERE node = $1 AND finished_at IS NULL AND locked_until IS NOT NULL")
            .bind::<Text, _>(node)
            .execute(conn)
            .await?;
    Ok(released as u64)
}
