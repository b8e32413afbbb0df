//! `ReviewStore` on PostgreSQL. Every write is one transaction that locks the review row
//! ([`state::lock`]), reads the [`ReviewState`] the rules decide on, writes, and appends its
//! events to the outbox ([`super::outbox::append`]), so a change and its announcement commit
//! together and concurrent writers of one review queue on one row.

mod candidates;
mod comments;
pub mod reviewers;
mod state;
mod suggestions;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Integer, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use mit_api::server::models::{MeetingStatus, ParticipantRole, ReviewStatus, SuggestionStatus, Vote};
use mit_domain::events::Topic;
use mit_domain::events::review::{ReviewEvent, ReviewEventKind};
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::people::UserRef;
use mit_domain::ports::review::{
    Act, CandidateMark, CommentRecord, LineRecord, ReviewFailure, ReviewRecord, ReviewStore, ReviewerRecord, SuggestionRecord,
};
use mit_domain::review::rules::{self, Refusal, ReviewState, Transition};
use uuid::Uuid;

use super::{PgStore, store_error};
use state::ReviewRow;

/// Why a review transaction rolled back.
#[derive(Debug)]
pub enum TxError {
    /// The database failed.
    Db(DieselError),
    /// The rules refused, or something named was missing.
    Failed(ReviewFailure),
}

impl TxError {
    fn missing(what: &'static str) -> Self {
        Self::Failed(ReviewFailure::Missing(what))
    }

    fn corrupt(what: String) -> Self {
        Self::Failed(ReviewFailure::Store(StoreError::Other(format!("unexpected {what} in the database"))))
    }

    fn into_failure(self) -> ReviewFailure {
        match self {
            Self::Db(error) => match store_error(error) {
                StoreError::Conflict(constraint) if constraint == "reviews_meeting_id_key" => ReviewFailure::AlreadyExists,
                other => ReviewFailure::Store(other),
            },
            Self::Failed(failure) => failure,
        }
    }
}

impl From<DieselError> for TxError {
    fn from(error: DieselError) -> Self {
        Self::Db(error)
    }
}

impl From<Refusal> for TxError {
    fn from(refusal: Refusal) -> Self {
        Self::Failed(ReviewFailure::Refused(refusal))
    }
}

impl From<ReviewFailure> for TxError {
    fn from(failure: ReviewFailure) -> Self {
        Self::Failed(failure)
    }
}

/// The events of one write, appended at its end with the status change it caused.
struct Announce {
    act: Act,
    review: Uuid,
    before: ReviewStatus,
    events: Vec<ReviewEvent>,
}

impl Announce {
    fn new(act: Act, review: &ReviewRow, before: &ReviewState) -> Self {
        Self { act, review: review.id, before: before.status(), events: Vec::new() }
    }

    /// An event of `kind` about the review as it is after the write.
    fn push(&mut self, kind: ReviewEventKind, after: &ReviewState, fill: impl FnOnce(ReviewEvent) -> ReviewEvent) {
        self.events.push(fill(ReviewEvent::new(kind, self.review, after)));
    }

    /// Appends the events, then the status change, to the meeting's topic.
    async fn commit(self, conn: &mut AsyncPgConnection, after: &ReviewState) -> QueryResult<()> {
        let topic = Topic::Review(self.act.meeting);
        let status = ReviewEvent::status_change(self.review, self.before, after);
        for event in self.events.iter().chain(status.iter()) {
            super::outbox::append(conn, &topic, event, self.act.actor).await?;
        }
        Ok(())
    }
}

/// Reloads the row and state after a write.
async fn reread(conn: &mut AsyncPgConnection, meeting: Uuid) -> Result<(ReviewRow, ReviewState), TxError> {
    let row = state::find(conn, meeting).await?.ok_or(TxError::missing("review"))?;
    let state = state::state(conn, &row).await?;
    Ok((row, state))
}

async fn insert_lines(conn: &mut AsyncPgConnection, review: Uuid, lines: &[String]) -> QueryResult<()> {
    // One statement for the whole text: a 2,000-line review is one round trip.
    let numbers: Vec<i32> = (1..=lines.len() as i32).collect();
    let ids: Vec<Uuid> = lines.iter().map(|_| Uuid::now_v7()).collect();
    diesel::sql_query(
        "INSERT INTO review_lines (id, review_id, line_number, content)
         SELECT id, $2, n, content FROM unnest($1::uuid[], $3::int[], $4::text[]) AS t(id, n, content)",
    )
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(ids)
    .bind::<SqlUuid, _>(review)
    .bind::<diesel::sql_types::Array<Integer>, _>(numbers)
    .bind::<diesel::sql_types::Array<Text>, _>(lines)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct MeetingStatusRow {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    my_role: Option<String>,
}

#[derive(QueryableByName)]
struct ReviewerPageRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    user_name: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    user_avatar: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    revision: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamptz>)]
    approved_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl PgStore {
    /// After a write's transaction: wakes the relay, then reads the review as it now is, outside
    /// the lock (a 2,000-line review is a large read).
    async fn after_commit(&self, conn: &mut AsyncPgConnection, row: Result<ReviewRow, TxError>) -> Result<ReviewRecord, ReviewFailure> {
        let row = row.map_err(TxError::into_failure)?;
        self.outbox_written.notify_one();
        state::record(conn, &row).await.map_err(TxError::into_failure)
    }
}

#[async_trait]
impl ReviewStore for PgStore {
    async fn create_review(&self, act: Act, lines: Vec<String>) -> Result<ReviewRecord, ReviewFailure> {
        let mut conn = self.connection().await?;
        let row = conn
            .transaction(async |conn| {
                // The meeting row is locked so a concurrent status change cannot slip between.
                let meeting: MeetingStatusRow = diesel::sql_query(
                    "SELECT m.status, p.role AS my_role FROM meetings m
                 LEFT JOIN participants p ON p.meeting_id = m.id AND p.user_id = $2
                 WHERE m.id = $1 FOR UPDATE OF m",
                )
                .bind::<SqlUuid, _>(act.meeting)
                .bind::<SqlUuid, _>(act.actor)
                .get_result(conn)
                .await
                .optional()?
                .ok_or(TxError::missing("meeting"))?;
                if meeting.my_role.as_deref() != Some(ParticipantRole::Host.as_str()) {
                    return Err(Refusal::NotHost.into());
                }
                if meeting.status != MeetingStatus::Completed.as_str() {
                    return Err(ReviewFailure::MeetingNotCompleted(meeting.status).into());
                }
                let id = Uuid::now_v7();
                diesel::sql_query(
                    "INSERT INTO reviews (id, meeting_id, phase, created_by, created_at, updated_at) VALUES ($1, $2, 'draft', $3, $4, $4)",
                )
                .bind::<SqlUuid, _>(id)
                .bind::<SqlUuid, _>(act.meeting)
                .bind::<SqlUuid, _>(act.actor)
                .bind::<Timestamptz, _>(act.now)
                .execute(conn)
                .await?;
                insert_lines(conn, id, &lines).await?;
                let (row, after) = reread(conn, act.meeting).await?;
                let mut announce = Announce { act, review: id, before: ReviewStatus::Draft, events: Vec::new() };
                announce.push(ReviewEventKind::ReviewCreated, &after, |e| e);
                announce.commit(conn, &after).await?;
                Ok(row)
            })
            .await;
        self.after_commit(&mut conn, row).await
    }

    async fn review(&self, meeting: Uuid) -> Result<Option<ReviewRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let Some(row) = state::find(&mut conn, meeting).await.map_err(store_error)? else { return Ok(None) };
        state::record(&mut conn, &row).await.map(Some).map_err(tx_store_error)
    }

    async fn replace_content(&self, act: Act, lines: Vec<String>) -> Result<ReviewRecord, ReviewFailure> {
        let mut conn = self.connection().await?;
        let row = conn
            .transaction(async |conn| {
                let row = state::lock(conn, act.meeting).await?;
                let before = state::state(conn, &row).await?;
                rules::replace_content(&before, act.actor)?;
                diesel::sql_query("DELETE FROM review_lines WHERE review_id = $1").bind::<SqlUuid, _>(row.id).execute(conn).await?;
                insert_lines(conn, row.id, &lines).await?;
                bump_revision(conn, row.id, act).await?;
                let (row, after) = reread(conn, act.meeting).await?;
                let mut announce = Announce::new(act, &row, &before);
                announce.push(ReviewEventKind::ContentReplaced, &after, |e| e);
                announce.commit(conn, &after).await?;
                Ok(row)
            })
            .await;
        self.after_commit(&mut conn, row).await
    }

    async fn transition(&self, act: Act, request: Transition) -> Result<ReviewRecord, ReviewFailure> {
        let mut conn = self.connection().await?;
        let row = conn
            .transaction(async |conn| {
                let row = state::lock(conn, act.meeting).await?;
                let before = state::state(conn, &row).await?;
                let next = rules::transition(&before, act.actor, request)?;
                if next.clear_approvals {
                    diesel::sql_query("DELETE FROM review_approvals WHERE review_id = $1").bind::<SqlUuid, _>(row.id).execute(conn).await?;
                }
                let stamp = match request {
                    Transition::Submit => "submitted_at = $3,",
                    Transition::Close => "closed_at = $3, closed_by = $4,",
                    Transition::Reopen => "closed_at = NULL, closed_by = NULL,",
                    Transition::Merge { .. } => "merged_at = $3, merged_by = $4,",
                };
                diesel::sql_query(format!("UPDATE reviews SET phase = $2, {stamp} updated_at = $3 WHERE id = $1"))
                    .bind::<SqlUuid, _>(row.id)
                    .bind::<Text, _>(next.phase.as_str())
                    .bind::<Timestamptz, _>(act.now)
                    .bind::<SqlUuid, _>(act.actor)
                    .execute(conn)
                    .await?;
                if let Transition::Merge { .. } = request {
                    candidates::apply(conn, act, row.id).await?;
                }
                let (row, after) = reread(conn, act.meeting).await?;
                Announce::new(act, &row, &before).commit(conn, &after).await?;
                Ok(row)
            })
            .await;
        self.after_commit(&mut conn, row).await
    }

    async fn approve(&self, act: Act, revision: i64) -> Result<ReviewState, ReviewFailure> {
        self.connection()
            .await?
            .transaction(async |conn| {
                let row = state::lock(conn, act.meeting).await?;
                let before = state::state(conn, &row).await?;
                if !rules::approve(&before, act.actor, revision)? {
                    return Ok(before);
                }
                diesel::sql_query(
                    "INSERT INTO review_approvals (review_id, user_id, revision, approved_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (review_id, user_id) DO UPDATE SET revision = EXCLUDED.revision, approved_at = EXCLUDED.approved_at",
                )
                .bind::<SqlUuid, _>(row.id)
                .bind::<SqlUuid, _>(act.actor)
                .bind::<BigInt, _>(revision)
                .bind::<Timestamptz, _>(act.now)
                .execute(conn)
                .await?;
                touch(conn, row.id, act).await?;
                let (row, after) = reread(conn, act.meeting).await?;
                let mut announce = Announce::new(act, &row, &before);
                announce.push(ReviewEventKind::ApprovalGiven, &after, |e| e.user(act.actor));
                announce.commit(conn, &after).await?;
                Ok(after)
            })
            .await
            .map_err(TxError::into_failure)
            .inspect(|_| self.outbox_written.notify_one())
    }

    async fn withdraw_approval(&self, act: Act) -> Result<ReviewState, ReviewFailure> {
        self.connection()
            .await?
            .transaction(async |conn| {
                let row = state::lock(conn, act.meeting).await?;
                let before = state::state(conn, &row).await?;
                if !rules::withdraw_approval(&before, act.actor)? {
                    return Ok(before);
                }
                diesel::sql_query("DELETE FROM review_approvals WHERE review_id = $1 AND user_id = $2")
                    .bind::<SqlUuid, _>(row.id)
                    .bind::<SqlUuid, _>(act.actor)
                    .execute(conn)
                    .await?;
                touch(conn, row.id, act).await?;
                let (row, after) = reread(conn, act.meeting).await?;
                let mut announce = Announce::new(act, &row, &before);
                announce.push(ReviewEventKind::ApprovalWithdrawn, &after, |e| e.user(act.actor));
                announce.commit(conn, &after).await?;
                Ok(after)
            })
            .await
            .map_err(TxError::into_failure)
            .inspect(|_| self.outbox_written.notify_one())
    }

    async fn reviewers(&self, meeting: Uuid, page: PageRequest) -> Result<Option<(ReviewState, Page<ReviewerRecord>)>, StoreError> {
        let mut conn = self.connection().await?;
        let Some(row) = state::find(&mut conn, meeting).await.map_err(store_error)? else { return Ok(None) };
        let state = state::state(&mut conn, &row).await.map_err(tx_store_error)?;
        let rows: Vec<ReviewerPageRow> = diesel::sql_query(
            "SELECT u.id AS user_id, u.name AS user_name, u.avatar_url AS user_avatar, a.revision, a.approved_at
             FROM participants p JOIN users u ON u.id = p.user_id
             LEFT JOIN review_approvals a ON a.review_id = $2 AND a.user_id = p.user_id
             WHERE p.meeting_id = $1 AND (p.role = 'host' OR p.joined_at IS NOT NULL)
             ORDER BY u.name, u.id OFFSET $3 LIMIT $4",
        )
        .bind::<SqlUuid, _>(meeting)
        .bind::<SqlUuid, _>(row.id)
        .bind::<BigInt, _>(page.offset())
        .bind::<BigInt, _>(page.limit())
        .load(&mut conn)
        .await
        .map_err(store_error)?;
        let items = rows
            .into_iter()
            .map(|r| ReviewerRecord {
                user: UserRef { id: r.user_id, name: r.user_name, avatar_url: r.user_avatar },
                approval: r.revision.zip(r.approved_at),
            })
            .collect();
        let total = state.reviewers.len() as i64;
        Ok(Some((state, Page { items, total })))
    }

    async fn lines(&self, meeting: Uuid, page: PageRequest) -> Result<Option<Page<LineRecord>>, StoreError> {
        let mut conn = self.connection().await?;
        let Some(row) = state::find(&mut conn, meeting).await.map_err(store_error)? else { return Ok(None) };
        state::lines(&mut conn, row.id, Some(page)).await.map(Some).map_err(store_error)
    }

    async fn comments(&self, meeting: Uuid, line: Uuid, page: PageRequest) -> Result<Option<Page<CommentRecord>>, StoreError> {
        comments::list(self, meeting, line, page).await
    }

    async fn create_comment(&self, act: Act, line: Uuid, parent: Option<Uuid>, content: String) -> Result<CommentRecord, ReviewFailure> {
        self.connection()
            .await?
            .transaction(async |conn| comments::create(conn, act, line, parent, content).await)
            .await
            .map_err(TxError::into_failure)
            .inspect(|_| self.outbox_written.notify_one())
    }

    async fn edit_comment(&self, act: Act, comment: Uuid, content: String) -> Result<CommentRecord, ReviewFailure> {
        self.connection()
            .await?
            .transaction(async |conn| comments::edit(conn, act, comment, content).await)
            .await
            .map_err(TxError::into_failure)
            .inspect(|_| self.outbox_written.notify_one())
    }

    async fn delete_comment(&self, act: Act, comment: Uuid) -> Result<(), ReviewFailure> {
        self.connection()
            .await?
            .transaction(async |conn| comments::delete(conn, act, comment).await)
            .await
            .map_err(TxError::into_failure)
            .inspect(|_| self.outbox_written.notify_one())
    }

    async fn suggestions(
        &self,
        meeting: Uuid,
        line: Uuid,
        status: Option<SuggestionStatus>,
        page: PageRequest,
    ) -> Result<Option<Page<SuggestionRecord>>, StoreError> {
        suggestions::list(self, meeting, line, status, page).await
    }

    async fn create_suggestion(
        &self,
        act: Act,
        line: Uuid,
        text: String,
        reason: Option<String>,
    ) -> Result<SuggestionRecord, ReviewFailure> {
        self.connection()
            .await?
            .transaction(async |conn| suggestions::create(conn, act, line, text, reason).await)
            .await
            .map_err(TxError::into_failure)
            .inspect(|_| self.outbox_written.notify_one())
    }

    async fn vote(&self, act: Act, suggestion: Uuid, vote: Vote) -> Result<SuggestionRecord, ReviewFailure> {
        self.connection()
            .await?
            .transaction(async |conn| suggestions::vote(conn, act, suggestion, vote).await)
            .await
            .map_err(TxError::into_failure)
            .inspect(|_| self.outbox_written.notify_one())
    }

    async fn resolve(&self, act: Act, suggestion: Uuid, accept: bool) -> Result<SuggestionRecord, ReviewFailure> {
        self.connection()
            .await?
            .transaction(async |conn| suggestions::resolve(conn, act, suggestion, accept).await)
            .await
            .map_err(TxError::into_failure)
            .inspect(|_| self.outbox_written.notify_one())
    }

    async fn withdraw_suggestion(&self, act: Act, suggestion: Uuid) -> Result<SuggestionRecord, ReviewFailure> {
        self.connection()
            .await?
            .transaction(async |conn| suggestions::withdraw(conn, act, suggestion).await)
            .await
            .map_err(TxError::into_failure)
            .inspect(|_| self.outbox_written.notify_one())
    }

    async fn mark_candidate(&self, act: Act, line: Uuid, mark: CandidateMark) -> Result<LineRecord, ReviewFailure> {
        self.connection()
            .await?
            .transaction(async |conn| candidates::mark(conn, act, line, mark).await)
            .await
            .map_err(TxError::into_failure)
            .inspect(|_| self.outbox_written.notify_one())
    }

    async fn unmark_candidate(&self, act: Act, line: Uuid) -> Result<LineRecord, ReviewFailure> {
        self.connection()
            .await?
            .transaction(async |conn| candidates::unmark(conn, act, line).await)
            .await
            .map_err(TxError::into_failure)
            .inspect(|_| self.outbox_written.notify_one())
    }
}

/// Marks the review changed.
async fn touch(conn: &mut AsyncPgConnection, review: Uuid, act: Act) -> QueryResult<()> {
    diesel::sql_query("UPDATE reviews SET updated_at = $2 WHERE id = $1")
        .bind::<SqlUuid, _>(review)
        .bind::<Timestamptz, _>(act.now)
        .execute(conn)
        .await
        .map(|_| ())
}

/// One more line rewrite.
async fn bump_revision(conn: &mut AsyncPgConnection, review: Uuid, act: Act) -> QueryResult<()> {
    diesel::sql_query("UPDATE reviews SET revision = revision + 1, updated_at = $2 WHERE id = $1")
        .bind::<SqlUuid, _>(review)
        .bind::<Timestamptz, _>(act.now)
        .execute(conn)
        .await
        .map(|_| ())
}

fn tx_store_error(error: TxError) -> StoreError {
    match error.into_failure() {
        ReviewFailure::Store(error) => error,
        other => StoreError::Other(other.to_string()),
    }
}
