//! Reading a review: the locked row and its [`ReviewState`], and the records the API shows.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::people::UserRef;
use mit_domain::ports::review::{CandidateRecord, LineRecord, ReviewRecord};
use mit_domain::review::rules::{Approval, Phase, ReviewState};
use uuid::Uuid;

use crate::rows::CountRow;

use super::TxError;

/// The review row, as locked by a writer.
#[derive(QueryableByName, Debug, Clone)]
pub struct ReviewRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub meeting_id: Uuid,
    #[diesel(sql_type = Text)]
    pub phase: String,
    #[diesel(sql_type = BigInt)]
    pub revision: i64,
}

#[derive(QueryableByName)]
struct ReviewerRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    role: String,
}

#[derive(QueryableByName)]
struct ApprovalRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = BigInt)]
    revision: i64,
}

#[derive(QueryableByName)]
struct DetailRow {
    #[diesel(sql_type = SqlUuid)]
    creator_id: Uuid,
    #[diesel(sql_type = Text)]
    creator_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    creator_avatar: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    submitted_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    merged_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    merger_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    merger_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    merger_avatar: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    closed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    closer_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    closer_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    closer_avatar: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_approved_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct LineRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Integer)]
    line_number: i32,
    #[diesel(sql_type = Text)]
    content: String,
    #[diesel(sql_type = Nullable<Text>)]
    original_content: Option<String>,
    #[diesel(sql_type = BigInt)]
    comment_count: i64,
    #[diesel(sql_type = BigInt)]
    pending_suggestion_count: i64,
    #[diesel(sql_type = Nullable<Text>)]
    candidate_key: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    candidate_value: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    candidate_category: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    candidate_project: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    marker_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    marker_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    marker_avatar: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    marked_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    candidate_fact: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    candidate_branch: Option<Uuid>,
}

const REVIEW_COLUMNS: &str = "SELECT id, meeting_id, phase, revision FROM reviews WHERE meeting_id = $1";

/// The meeting's review row, locked for this transaction: every writer of one review queues here.
pub async fn lock(conn: &mut AsyncPgConnection, meeting: Uuid) -> Result<ReviewRow, TxError> {
    lock_if_any(conn, meeting).await?.ok_or(TxError::missing("review"))
}

/// The meeting's review row locked, or `None` when the meeting has no review.
pub async fn lock_if_any(conn: &mut AsyncPgConnection, meeting: Uuid) -> QueryResult<Option<ReviewRow>> {
    diesel::sql_query(format!("{REVIEW_COLUMNS} FOR UPDATE")).bind::<SqlUuid, _>(meeting).get_result(conn).await.optional()
}

/// The meeting's review row, unlocked.
pub async fn find(conn: &mut AsyncPgConnection, meeting: Uuid) -> QueryResult<Option<ReviewRow>> {
    diesel::sql_query(REVIEW_COLUMNS).bind::<SqlUuid, _>(meeting).get_result(conn).await.optional()
}

/// The rules' view of the review: phase, revision, reviewers, hosts, approvals, pending count.
pub async fn state(conn: &mut AsyncPgConnection, row: &ReviewRow) -> Result<ReviewState, TxError> {
    let phase = Phase::parse(&row.phase).ok_or_else(|| TxError::corrupt(format!("review phase `{}`", row.phase)))?;
    let people: Vec<ReviewerRow> = diesel::sql_query(
        "SELECT user_id, role FROM participants
         WHERE meeting_id = $1 AND (role = 'host' OR joined_at IS NOT NULL) ORDER BY user_id",
    )
    .bind::<SqlUuid, _>(row.meeting_id)
    .load(conn)
    .await?;
    let reviewers: Vec<Uuid> = people.iter().map(|p| p.user_id).collect();
    let hosts = people.iter().filter(|p| p.role == "host").map(|p| p.user_id).collect();
    let approvals: Vec<ApprovalRow> = diesel::sql_query("SELECT user_id, revision FROM review_approvals WHERE review_id = $1")
        .bind::<SqlUuid, _>(row.id)
        .load(conn)
        .await?;
    let approvals = approvals
        .into_iter()
        .filter(|a| reviewers.binary_search(&a.user_id).is_ok())
        .map(|a| Approval { user: a.user_id, revision: a.revision })
        .collect();
    let pending: CountRow =
        diesel::sql_query("SELECT count(*) AS count FROM review_suggestions WHERE review_id = $1 AND status = 'pending'")
            .bind::<SqlUuid, _>(row.id)
            .get_result(conn)
            .await?;
    Ok(ReviewState { phase, revision: row.revision, reviewers, hosts, approvals, pending_suggestions: pending.count })
}

/// Lines with their counts, grouped once per review rather than counted per line.
const LINE_COLUMNS: &str = "SELECT l.id, l.line_number, l.content, l.original_content,
        COALESCE(c.n, 0) AS comment_count, COALESCE(s.n, 0) AS pending_suggestion_count,
        fc.key AS candidate_key, fc.value AS candidate_value, fc.category AS candidate_category,
        fc.project_id AS candidate_project, mu.id AS marker_id, mu.name AS marker_name, mu.avatar_url AS marker_avatar,
        fc.marked_at, fc.fact_id AS candidate_fact, fc.branch_id AS candidate_branch
     FROM review_lines l
     LEFT JOIN review_fact_candidates fc ON fc.line_id = l.id LEFT JOIN users mu ON mu.id = fc.marked_by
     LEFT JOIN (SELECT line_id, count(*) AS n FROM review_comments
                WHERE review_id = $1 AND deleted_at IS NULL GROUP BY line_id) c ON c.line_id = l.id
     LEFT JOIN (SELECT line_id, count(*) AS n FROM review_suggestions
                WHERE review_id = $1 AND status = 'pending' GROUP BY line_id) s ON s.line_id = l.id
     WHERE l.review_id = $1";

fn line_record(row: LineRow) -> LineRecord {
    let candidate = match (row.candidate_key, row.candidate_value, row.marker_id, row.marked_at) {
        (Some(key), Some(value), Some(marker), Some(marked_at)) => Some(CandidateRecord {
            key,
            value,
            category: row.candidate_category,
            project_id: row.candidate_project,
            marked_by: UserRef { id: marker, name: row.marker_name.unwrap_or_default(), avatar_url: row.marker_avatar },
            marked_at,
        }),
        _ => None,
    };
    LineRecord {
        id: row.id,
        line_number: row.line_number,
        content: row.content,
        original_content: row.original_content,
        comment_count: row.comment_count,
        pending_suggestion_count: row.pending_suggestion_count,
        candidate,
        fact_id: row.candidate_fact,
        branch_id: row.candidate_branch,
    }
}

/// One line of the review, with its counts and candidate.
pub async fn line(conn: &mut AsyncPgConnection, review: Uuid, line: Uuid) -> QueryResult<Option<LineRecord>> {
    let row: Option<LineRow> = diesel::sql_query(format!("{LINE_COLUMNS} AND l.id = $2"))
        .bind::<SqlUuid, _>(review)
        .bind::<SqlUuid, _>(line)
        .get_result(conn)
        .await
        .optional()?;
    Ok(row.map(line_record))
}

/// A page of the review's lines, in order.
pub async fn lines(conn: &mut AsyncPgConnection, review: Uuid, page: Option<PageRequest>) -> QueryResult<Page<LineRecord>> {
    let (offset, limit) = page.map_or((0, i64::MAX), |p| (p.offset(), p.limit()));
    let rows: Vec<LineRow> = diesel::sql_query(format!("{LINE_COLUMNS} ORDER BY l.line_number OFFSET $2 LIMIT $3"))
        .bind::<SqlUuid, _>(review)
        .bind::<BigInt, _>(offset)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?;
    let total: CountRow = diesel::sql_query("SELECT count(*) AS count FROM review_lines WHERE review_id = $1")
        .bind::<SqlUuid, _>(review)
        .get_result(conn)
        .await?;
    Ok(Page { items: rows.into_iter().map(line_record).collect(), total: total.count })
}

/// The whole review as the API shows it.
pub async fn record(conn: &mut AsyncPgConnection, row: &ReviewRow) -> Result<ReviewRecord, TxError> {
    let state = state(conn, row).await?;
    let detail: DetailRow = diesel::sql_query(
        "SELECT c.id AS creator_id, c.name AS creator_name, c.avatar_url AS creator_avatar, r.submitted_at,
                r.merged_at, m.id AS merger_id, m.name AS merger_name, m.avatar_url AS merger_avatar,
                r.closed_at, x.id AS closer_id, x.name AS closer_name, x.avatar_url AS closer_avatar,
                (SELECT max(a.approved_at) FROM review_approvals a WHERE a.review_id = r.id AND a.revision = r.revision)
                    AS last_approved_at,
                r.created_at, r.updated_at
         FROM reviews r JOIN users c ON c.id = r.created_by
         LEFT JOIN users m ON m.id = r.merged_by LEFT JOIN users x ON x.id = r.closed_by
         WHERE r.id = $1",
    )
    .bind::<SqlUuid, _>(row.id)
    .get_result(conn)
    .await?;
    let lines = lines(conn, row.id, None).await?.items;
    let user = |id: Option<Uuid>, name: Option<String>, avatar_url: Option<String>| {
        id.map(|id| UserRef { id, name: name.unwrap_or_default(), avatar_url })
    };
    let merger = user(detail.merger_id, detail.merger_name, detail.merger_avatar);
    let closer = user(detail.closer_id, detail.closer_name, detail.closer_avatar);
    Ok(ReviewRecord {
        id: row.id,
        meeting_id: row.meeting_id,
        created_by: UserRef { id: detail.creator_id, name: detail.creator_name, avatar_url: detail.creator_avatar },
        state,
        lines,
        last_approved_at: detail.last_approved_at,
        submitted_at: detail.submitted_at,
        merged: detail.merged_at.zip(merger),
        closed: detail.closed_at.zip(closer),
        created_at: detail.created_at,
        updated_at: detail.updated_at,
    })
}
