//! Suggestions on review lines, their votes, and what deciding one writes: the line rewritten
//! compare-and-swap, the other pending suggestions superseded, approvals carried or made stale.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use mit_api::server::models::{SuggestionResolutionReason, SuggestionStatus, Vote};
use mit_domain::events::review::ReviewEventKind;
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::people::UserRef;
use mit_domain::ports::review::{Act, ReviewFailure, SuggestionRecord, VoteRecord};
use mit_domain::review::rules::{self, Outcome, ReviewState, SuggestionState};
use uuid::Uuid;

use super::comments::line_of;
use super::state::{self, ReviewRow};
use super::{Announce, TxError, bump_revision, reread};
use crate::rows::{CountRow, parse_enum};
use crate::{PgStore, store_error};

#[derive(QueryableByName)]
struct SuggestionRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    line_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    author_id: Uuid,
    #[diesel(sql_type = Text)]
    author_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    author_avatar: Option<String>,
    #[diesel(sql_type = Text)]
    original_text: String,
    #[diesel(sql_type = Text)]
    suggested_text: String,
    #[diesel(sql_type = Nullable<Text>)]
    reason: Option<String>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    resolution: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    resolver_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    resolver_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    resolver_avatar: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    resolved_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    line_content: String,
}

#[derive(QueryableByName)]
struct VoteRow {
    #[diesel(sql_type = SqlUuid)]
    suggestion_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    user_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    user_avatar: Option<String>,
    #[diesel(sql_type = Text)]
    vote: String,
    #[diesel(sql_type = Timestamptz)]
    voted_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

const SUGGESTION_COLUMNS: &str = "SELECT s.id, s.line_id, a.id AS author_id, a.name AS author_name, a.avatar_url AS author_avatar,
        s.original_text, s.suggested_text, s.reason, s.status, s.resolution,
        r.id AS resolver_id, r.name AS resolver_name, r.avatar_url AS resolver_avatar, s.resolved_at,
        s.created_at, s.updated_at, l.content AS line_content
     FROM review_suggestions s JOIN review_lines l ON l.id = s.line_id JOIN users a ON a.id = s.author_id
     LEFT JOIN users r ON r.id = s.resolved_by";

async fn votes(conn: &mut AsyncPgConnection, suggestions: &[Uuid]) -> QueryResult<Vec<VoteRow>> {
    diesel::sql_query(
        "SELECT v.suggestion_id, u.id AS user_id, u.name AS user_name, u.avatar_url AS user_avatar, v.vote, v.voted_at
         FROM suggestion_votes v JOIN users u ON u.id = v.user_id WHERE v.suggestion_id = ANY($1) ORDER BY v.voted_at, u.id",
    )
    .bind::<Array<SqlUuid>, _>(suggestions)
    .load(conn)
    .await
}

fn record(row: SuggestionRow, votes: &[VoteRow]) -> Result<SuggestionRecord, StoreError> {
    let votes = votes
        .iter()
        .filter(|v| v.suggestion_id == row.id)
        .map(|v| {
            Ok(VoteRecord {
                user: UserRef { id: v.user_id, name: v.user_name.clone(), avatar_url: v.user_avatar.clone() },
                vote: parse_enum("vote", &v.vote)?,
                voted_at: v.voted_at,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(SuggestionRecord {
        id: row.id,
        line_id: row.line_id,
        author: UserRef { id: row.author_id, name: row.author_name, avatar_url: row.author_avatar },
        original_text: row.original_text,
        suggested_text: row.suggested_text,
        reason: row.reason,
        status: parse_enum("suggestion status", &row.status)?,
        resolution: row.resolution.as_deref().map(|r| parse_enum("resolution", r)).transpose()?,
        resolved_by: row.resolver_id.map(|id| UserRef { id, name: row.resolver_name.unwrap_or_default(), avatar_url: row.resolver_avatar }),
        resolved_at: row.resolved_at,
        votes,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

async fn one(conn: &mut AsyncPgConnection, review: Uuid, suggestion: Uuid) -> QueryResult<Option<SuggestionRow>> {
    diesel::sql_query(format!("{SUGGESTION_COLUMNS} WHERE s.id = $1 AND s.review_id = $2"))
        .bind::<SqlUuid, _>(suggestion)
        .bind::<SqlUuid, _>(review)
        .get_result(conn)
        .await
        .optional()
}

async fn reread_one(conn: &mut AsyncPgConnection, review: Uuid, suggestion: Uuid) -> Result<SuggestionRecord, TxError> {
    let row = one(conn, review, suggestion).await?.ok_or(TxError::missing("suggestion"))?;
    let votes = votes(conn, &[suggestion]).await?;
    record(row, &votes).map_err(|e| TxError::Failed(ReviewFailure::Store(e)))
}

/// A page of a line's suggestions.
pub(super) async fn list(
    store: &PgStore,
    meeting: Uuid,
    line: Uuid,
    status: Option<SuggestionStatus>,
    page: PageRequest,
) -> Result<Option<Page<SuggestionRecord>>, StoreError> {
    let mut conn = store.connection().await?;
    let Some(review) = state::find(&mut conn, meeting).await.map_err(store_error)? else { return Ok(None) };
    if !line_of(&mut conn, review.id, line).await.map_err(store_error)? {
        return Ok(None);
    }
    let status = status.map(|s| s.as_str());
    let filter = "s.line_id = $1 AND ($2::text IS NULL OR s.status = $2)";
    let rows: Vec<SuggestionRow> =
        diesel::sql_query(format!("{SUGGESTION_COLUMNS} WHERE {filter} ORDER BY s.created_at, s.id OFFSET $3 LIMIT $4"))
            .bind::<SqlUuid, _>(line)
            .bind::<Nullable<Text>, _>(status)
            .bind::<BigInt, _>(page.offset())
            .bind::<BigInt, _>(page.limit())
            .load(&mut conn)
            .await
            .map_err(store_error)?;
    let total: CountRow = diesel::sql_query(format!("SELECT count(*) AS count FROM review_suggestions s WHERE {filter}"))
        .bind::<SqlUuid, _>(line)
        .bind::<Nullable<Text>, _>(status)
        .get_result(&mut conn)
        .await
        .map_err(store_error)?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let votes = votes(&mut conn, &ids).await.map_err(store_error)?;
    let items = rows.into_iter().map(|r| record(r, &votes)).collect::<Result<_, _>>()?;
    Ok(Some(Page { items, total: total.count }))
}

pub(super) async fn create(
    conn: &mut AsyncPgConnection,
    act: Act,
    line: Uuid,
    text: String,
    reason: Option<String>,
) -> Result<SuggestionRecord, TxError> {
    let row = state::lock(conn, act.meeting).await?;
    if !line_of(conn, row.id, line).await? {
        return Err(TxError::missing("line"));
    }
    let before = state::state(conn, &row).await?;
    rules::suggest(&before, act.actor)?;
    let current: LineContent =
        diesel::sql_query("SELECT content FROM review_lines WHERE id = $1").bind::<SqlUuid, _>(line).get_result(conn).await?;
    if current.content == text {
        return Err(ReviewFailure::Unchanged.into());
    }
    let id = Uuid::now_v7();
    diesel::sql_query(
        "INSERT INTO review_suggestions
             (id, review_id, line_id, author_id, original_text, suggested_text, reason, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8)",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(row.id)
    .bind::<SqlUuid, _>(line)
    .bind::<SqlUuid, _>(act.actor)
    .bind::<Text, _>(&current.content)
    .bind::<Text, _>(&text)
    .bind::<Nullable<Text>, _>(reason)
    .bind::<Timestamptz, _>(act.now)
    .execute(conn)
    .await?;
    let (_, after) = reread(conn, act.meeting).await?;
    let mut announce = Announce::new(act, &row, &before);
    announce.push(ReviewEventKind::SuggestionCreated, &after, |mut e| {
        e.data.suggested_text = Some(text);
        e.line(line).suggestion(id)
    });
    announce.commit(conn, &after).await?;
    reread_one(conn, row.id, id).await
}

#[derive(QueryableByName)]
struct LineContent {
    #[diesel(sql_type = Text)]
    content: String,
}

/// The locked review, its state, and the suggestion as the rules see it.
async fn load(
    conn: &mut AsyncPgConnection,
    act: Act,
    suggestion: Uuid,
) -> Result<(ReviewRow, ReviewState, SuggestionRow, SuggestionState), TxError> {
    let row = state::lock(conn, act.meeting).await?;
    let found = one(conn, row.id, suggestion).await?.ok_or(TxError::missing("suggestion"))?;
    let cast = votes(conn, &[suggestion]).await?;
    let mut ballot = BTreeMap::new();
    for v in &cast {
        let vote: Vote = parse_enum("vote", &v.vote).map_err(|e| TxError::Failed(ReviewFailure::Store(e)))?;
        ballot.insert(v.user_id, vote);
    }
    let status = parse_enum("suggestion status", &found.status).map_err(|e| TxError::Failed(ReviewFailure::Store(e)))?;
    let view = SuggestionState {
        author: found.author_id,
        status,
        original_text: found.original_text.clone(),
        line_content: found.line_content.clone(),
        votes: ballot,
    };
    let state = state::state(conn, &row).await?;
    Ok((row, state, found, view))
}

pub(super) async fn vote(conn: &mut AsyncPgConnection, act: Act, suggestion: Uuid, vote: Vote) -> Result<SuggestionRecord, TxError> {
    let (row, before, found, view) = load(conn, act, suggestion).await?;
    let outcome = rules::vote(&before, &view, act.actor, vote)?;
    diesel::sql_query(
        "INSERT INTO suggestion_votes (suggestion_id, user_id, vote, voted_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (suggestion_id, user_id) DO UPDATE SET vote = EXCLUDED.vote, voted_at = EXCLUDED.voted_at",
    )
    .bind::<SqlUuid, _>(suggestion)
    .bind::<SqlUuid, _>(act.actor)
    .bind::<Text, _>(vote.as_str())
    .bind::<Timestamptz, _>(act.now)
    .execute(conn)
    .await?;
    let mut announce = Announce::new(act, &row, &before);
    let decided = decide(conn, act, &row, &found, &outcome, None).await?;
    let (_, after) = reread(conn, act.meeting).await?;
    announce.push(ReviewEventKind::VoteCast, &after, |e| e.suggestion(suggestion).user(act.actor).vote(vote));
    decided.announce(&mut announce, &after);
    announce.commit(conn, &after).await?;
    reread_one(conn, row.id, suggestion).await
}

pub(super) async fn resolve(conn: &mut AsyncPgConnection, act: Act, suggestion: Uuid, accept: bool) -> Result<SuggestionRecord, TxError> {
    let (row, before, found, view) = load(conn, act, suggestion).await?;
    let outcome = rules::resolve(&before, &view, act.actor, accept)?;
    finish(conn, act, &row, &before, &found, &outcome, Some(act.actor)).await
}

pub(super) async fn withdraw(conn: &mut AsyncPgConnection, act: Act, suggestion: Uuid) -> Result<SuggestionRecord, TxError> {
    let (row, before, found, view) = load(conn, act, suggestion).await?;
    rules::withdraw_suggestion(&before, &view, act.actor)?;
    diesel::sql_query(
        "UPDATE review_suggestions SET status = 'withdrawn', resolution = 'withdrawn', resolved_by = $2, resolved_at = $3, updated_at = $3
         WHERE id = $1",
    )
    .bind::<SqlUuid, _>(suggestion)
    .bind::<SqlUuid, _>(act.actor)
    .bind::<Timestamptz, _>(act.now)
    .execute(conn)
    .await?;
    let (_, after) = reread(conn, act.meeting).await?;
    let mut announce = Announce::new(act, &row, &before);
    announce.push(ReviewEventKind::SuggestionResolved, &after, |e| {
        e.line(found.line_id).suggestion(suggestion).resolved(SuggestionStatus::Withdrawn, SuggestionResolutionReason::Withdrawn)
    });
    announce.commit(conn, &after).await?;
    reread_one(conn, row.id, suggestion).await
}

async fn finish(
    conn: &mut AsyncPgConnection,
    act: Act,
    row: &ReviewRow,
    before: &ReviewState,
    found: &SuggestionRow,
    outcome: &Outcome,
    host: Option<Uuid>,
) -> Result<SuggestionRecord, TxError> {
    let mut announce = Announce::new(act, row, before);
    let decided = decide(conn, act, row, found, outcome, host).await?;
    let (_, after) = reread(conn, act.meeting).await?;
    decided.announce(&mut announce, &after);
    announce.commit(conn, &after).await?;
    reread_one(conn, row.id, found.id).await
}

/// What deciding a suggestion wrote, for its events.
#[derive(Default)]
struct Decided {
    /// (suggestion, status, reason) of every suggestion that stopped being pending.
    resolved: Vec<(Uuid, SuggestionStatus, SuggestionResolutionReason)>,
    /// The rewritten line and its text.
    rewritten: Option<(Uuid, String)>,
    /// Reviewers whose approval became stale.
    stale: Vec<Uuid>,
    line: Uuid,
}

impl Decided {
    fn announce(self, announce: &mut Announce, after: &ReviewState) {
        let line = self.line;
        for (suggestion, status, reason) in self.resolved {
            announce.push(ReviewEventKind::SuggestionResolved, after, |e| e.line(line).suggestion(suggestion).resolved(status, reason));
        }
        if let Some((line, content)) = self.rewritten {
            announce.push(ReviewEventKind::LineRewritten, after, |mut e| {
                e.data.content = Some(content);
                e.line(line)
            });
        }
        if !self.stale.is_empty() {
            let stale = self.stale;
            announce.push(ReviewEventKind::ApprovalStale, after, |mut e| {
                e.data.user_ids = Some(stale);
                e
            });
        }
    }
}

/// Writes an outcome: the suggestion's status, and for an acceptance the rewrite and its
/// consequences.
async fn decide(
    conn: &mut AsyncPgConnection,
    act: Act,
    row: &ReviewRow,
    found: &SuggestionRow,
    outcome: &Outcome,
    host: Option<Uuid>,
) -> Result<Decided, TxError> {
    let mut decided = Decided { line: found.line_id, ..Decided::default() };
    let reason = match outcome {
        Outcome::Pending => return Ok(decided),
        Outcome::Rejected(reason) => *reason,
        Outcome::Accepted { reason, .. } => *reason,
    };
    let resolver = if reason == SuggestionResolutionReason::Host { host } else { None };
    mark(conn, &[found.id], outcome.status(), reason, resolver, act.now).await?;
    decided.resolved.push((found.id, outcome.status(), reason));
    let Outcome::Accepted { endorsers, .. } = outcome else { return Ok(decided) };
    rewrite(conn, found, act).await?;
    decided.rewritten = Some((found.line_id, found.suggested_text.clone()));
    let superseded: Vec<IdRow> =
        diesel::sql_query("SELECT id FROM review_suggestions WHERE line_id = $1 AND status = 'pending' ORDER BY created_at, id")
            .bind::<SqlUuid, _>(found.line_id)
            .load(conn)
            .await?;
    let superseded: Vec<Uuid> = superseded.into_iter().map(|r| r.id).collect();
    mark(conn, &superseded, SuggestionStatus::Rejected, SuggestionResolutionReason::Superseded, None, act.now).await?;
    decided.resolved.extend(superseded.into_iter().map(|id| (id, SuggestionStatus::Rejected, SuggestionResolutionReason::Superseded)));
    decided.stale = carry_approvals(conn, row, endorsers).await?;
    Ok(decided)
}

async fn mark(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    status: SuggestionStatus,
    reason: SuggestionResolutionReason,
    resolver: Option<Uuid>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE review_suggestions SET status = $2, resolution = $3, resolved_by = $4, resolved_at = $5, updated_at = $5
         WHERE id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Text, _>(status.as_str())
    .bind::<Text, _>(reason.as_str())
    .bind::<Nullable<SqlUuid>, _>(resolver)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Rewrites the line, compare-and-swap on the text the suggestion was made against.
async fn rewrite(conn: &mut AsyncPgConnection, found: &SuggestionRow, act: Act) -> Result<(), TxError> {
    let changed = diesel::sql_query(
        "UPDATE review_lines SET original_content = COALESCE(original_content, content), content = $2 WHERE id = $1 AND content = $3",
    )
    .bind::<SqlUuid, _>(found.line_id)
    .bind::<Text, _>(&found.suggested_text)
    .bind::<Text, _>(&found.original_text)
    .execute(conn)
    .await?;
    if changed != 1 {
        return Err(TxError::corrupt("line changed under a locked review".into()));
    }
    let review: IdRow = diesel::sql_query("SELECT review_id AS id FROM review_lines WHERE id = $1")
        .bind::<SqlUuid, _>(found.line_id)
        .get_result(conn)
        .await?;
    bump_revision(conn, review.id, act).await?;
    Ok(())
}

/// Endorsers' current approvals move to the new revision; the rest stay behind, stale. Returns
/// who went stale.
async fn carry_approvals(conn: &mut AsyncPgConnection, row: &ReviewRow, endorsers: &[Uuid]) -> QueryResult<Vec<Uuid>> {
    let old = row.revision;
    diesel::sql_query("UPDATE review_approvals SET revision = $2 + 1 WHERE review_id = $1 AND revision = $2 AND user_id = ANY($3)")
        .bind::<SqlUuid, _>(row.id)
        .bind::<BigInt, _>(old)
        .bind::<Array<SqlUuid>, _>(endorsers)
        .execute(conn)
        .await?;
    let stale: Vec<IdRow> =
        diesel::sql_query("SELECT user_id AS id FROM review_approvals WHERE review_id = $1 AND revision = $2 ORDER BY user_id")
            .bind::<SqlUuid, _>(row.id)
            .bind::<BigInt, _>(old)
            .load(conn)
            .await?;
    Ok(stale.into_iter().map(|r| r.id).collect())
}
