//! Lines marked as fact candidates, and what merging the review makes of them: in the merge's
//! transaction, a key the team does not have becomes a fact, a key it has becomes a branch
//! against the fact's current version; an archived fact fails the whole merge.

use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use mit_domain::events::review::ReviewEventKind;
use mit_domain::ports::knowledge::{NewBranch, NewFact};
use mit_domain::ports::review::{Act, CandidateMark, LineRecord, ReviewFailure};
use mit_domain::review::rules;
use uuid::Uuid;

use crate::rows::CountRow;

use super::state::{self, ReviewRow};
use super::{Announce, TxError, bump_revision, reread};
use crate::knowledge::branches::{fact_with_key, insert_branch_in};
use crate::knowledge::facts::insert_fact_in;
use crate::knowledge::history::Source;

/// The longest value a fact holds, in characters (the contract's `value` limit).
const MAX_VALUE_CHARS: usize = 10_000;

#[derive(QueryableByName)]
struct TeamRow {
    #[diesel(sql_type = Nullable<SqlUuid>)]
    team_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    title: String,
}

#[derive(QueryableByName)]
struct ContentRow {
    #[diesel(sql_type = Text)]
    content: String,
}

#[derive(QueryableByName)]
struct LineIdRow {
    #[diesel(sql_type = SqlUuid)]
    line_id: Uuid,
}

#[derive(QueryableByName)]
struct CandidateRow {
    #[diesel(sql_type = SqlUuid)]
    line_id: Uuid,
    #[diesel(sql_type = Integer)]
    line_number: i32,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    value: String,
    #[diesel(sql_type = Nullable<Text>)]
    category: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    project_id: Option<Uuid>,
    #[diesel(sql_type = SqlUuid)]
    marked_by: Uuid,
}

async fn meeting_team(conn: &mut AsyncPgConnection, meeting: Uuid) -> QueryResult<TeamRow> {
    diesel::sql_query("SELECT team_id, title FROM meetings WHERE id = $1").bind::<SqlUuid, _>(meeting).get_result(conn).await
}

async fn announce(conn: &mut AsyncPgConnection, act: Act, row: &ReviewRow, before: &rules::ReviewState, line: Uuid) -> Result<(), TxError> {
    let (_, after) = reread(conn, act.meeting).await?;
    let mut announce = Announce::new(act, row, before);
    announce.push(ReviewEventKind::FactCandidateChanged, &after, |e| e.line(line));
    announce.commit(conn, &after).await?;
    Ok(())
}

async fn current_line(conn: &mut AsyncPgConnection, review: Uuid, line: Uuid) -> Result<LineRecord, TxError> {
    state::line(conn, review, line).await?.ok_or(TxError::missing("line"))
}

/// Marks a line; the revision rises, so approvals of the previous one are stale.
pub(super) async fn mark(conn: &mut AsyncPgConnection, act: Act, line: Uuid, mark: CandidateMark) -> Result<LineRecord, TxError> {
    let row = state::lock(conn, act.meeting).await?;
    let content: Option<ContentRow> = diesel::sql_query("SELECT content FROM review_lines WHERE id = $1 AND review_id = $2")
        .bind::<SqlUuid, _>(line)
        .bind::<SqlUuid, _>(row.id)
        .get_result(conn)
        .await
        .optional()?;
    let Some(content) = content else { return Err(TxError::missing("line")) };
    let before = state::state(conn, &row).await?;
    rules::mark_candidate(&before, act.actor)?;
    let Some(team) = meeting_team(conn, act.meeting).await?.team_id else { return Err(ReviewFailure::NoTeam.into()) };
    let value = mark.value.unwrap_or(content.content);
    if value.chars().count() > MAX_VALUE_CHARS || value.is_empty() {
        return Err(ReviewFailure::CandidateTooLong.into());
    }
    if let Some(project) = mark.project_id {
        let found: CountRow = diesel::sql_query("SELECT count(*) AS count FROM projects WHERE id = $1 AND team_id = $2")
            .bind::<SqlUuid, _>(project)
            .bind::<SqlUuid, _>(team)
            .get_result(conn)
            .await?;
        if found.count == 0 {
            return Err(ReviewFailure::UnknownProject.into());
        }
    }
    let marked: Option<LineIdRow> = diesel::sql_query(
        "INSERT INTO review_fact_candidates (line_id, review_id, key, value, category, project_id, marked_by, marked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING line_id",
    )
    .bind::<SqlUuid, _>(line)
    .bind::<SqlUuid, _>(row.id)
    .bind::<Text, _>(&mark.key)
    .bind::<Text, _>(&value)
    .bind::<Nullable<Text>, _>(&mark.category)
    .bind::<Nullable<SqlUuid>, _>(mark.project_id)
    .bind::<SqlUuid, _>(act.actor)
    .bind::<Timestamptz, _>(act.now)
    .get_result(conn)
    .await
    .optional()?;
    if marked.is_none() {
        let other: Option<LineIdRow> = diesel::sql_query(
            "SELECT line_id FROM review_fact_candidates WHERE review_id = $1 AND lower(key) = lower($2) AND line_id <> $3",
        )
        .bind::<SqlUuid, _>(row.id)
        .bind::<Text, _>(&mark.key)
        .bind::<SqlUuid, _>(line)
        .get_result(conn)
        .await
        .optional()?;
        return Err(ReviewFailure::CandidateTaken(other.map(|o| o.line_id)).into());
    }
    bump_revision(conn, row.id, act).await?;
    announce(conn, act, &row, &before, line).await?;
    current_line(conn, row.id, line).await
}

/// Takes a line's mark back; the revision rises.
pub(super) async fn unmark(conn: &mut AsyncPgConnection, act: Act, line: Uuid) -> Result<LineRecord, TxError> {
    let row = state::lock(conn, act.meeting).await?;
    let before = state::state(conn, &row).await?;
    rules::mark_candidate(&before, act.actor)?;
    let removed = diesel::sql_query("DELETE FROM review_fact_candidates WHERE line_id = $1 AND review_id = $2")
        .bind::<SqlUuid, _>(line)
        .bind::<SqlUuid, _>(row.id)
        .execute(conn)
        .await?;
    if removed == 0 {
        return Err(if state::line(conn, row.id, line).await?.is_some() {
            ReviewFailure::NotMarked.into()
        } else {
            TxError::missing("line")
        });
    }
    bump_revision(conn, row.id, act).await?;
    announce(conn, act, &row, &before, line).await?;
    current_line(conn, row.id, line).await
}

/// Turns the merged review's candidates into facts and branches, in line order.
pub(super) async fn apply(conn: &mut AsyncPgConnection, act: Act, review: Uuid) -> Result<(), TxError> {
    let candidates: Vec<CandidateRow> = diesel::sql_query(
        "SELECT c.line_id, l.line_number, c.key, c.value, c.category, c.project_id, c.marked_by
         FROM review_fact_candidates c JOIN review_lines l ON l.id = c.line_id WHERE c.review_id = $1 ORDER BY l.line_number",
    )
    .bind::<SqlUuid, _>(review)
    .load(conn)
    .await?;
    if candidates.is_empty() {
        return Ok(());
    }
    let meeting = meeting_team(conn, act.meeting).await?;
    let Some(team) = meeting.team_id else { return Err(ReviewFailure::NoTeam.into()) };
    let reason = format!("Agreed in the review of the meeting \u{201c}{}\u{201d}", meeting.title);
    for candidate in candidates {
        let (fact, branch) = realise(conn, act, team, &reason, &candidate).await?;
        diesel::sql_query("UPDATE review_fact_candidates SET fact_id = $2, branch_id = $3 WHERE line_id = $1")
            .bind::<SqlUuid, _>(candidate.line_id)
            .bind::<SqlUuid, _>(fact)
            .bind::<Nullable<SqlUuid>, _>(branch)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// One candidate as a new fact, or as a branch on the team's fact with its key.
async fn realise(
    conn: &mut AsyncPgConnection,
    act: Act,
    team: Uuid,
    reason: &str,
    c: &CandidateRow,
) -> Result<(Uuid, Option<Uuid>), TxError> {
    if let Some(existing) = fact_with_key(conn, team, &c.key).await? {
        if existing.archived_at.is_some() {
            return Err(ReviewFailure::CandidateArchived(c.line_id).into());
        }
        if existing.value == c.value {
            return Ok((existing.id, None));
        }
        let branch = NewBranch {
            fact: existing.id,
            title: format!("Line {} of the review", c.line_number),
            proposed_value: c.value.clone(),
            reason: reason.to_string(),
            author: c.marked_by,
            now: act.now,
        };
        let source = Source { meeting: Some(act.meeting), review_line: Some(c.line_id) };
        let id = insert_branch_in(conn, &existing, &branch, source).await?;
        return Ok((existing.id, Some(id)));
    }
    let fact = NewFact {
        id: Uuid::now_v7(),
        team,
        key: c.key.clone(),
        value: c.value.clone(),
        category: c.category.clone(),
        project: c.project_id,
        reason: Some(format!("{reason}, line {}", c.line_number)),
        creator: c.marked_by,
        now: act.now,
    };
    // The key was looked up under no lock a concurrent creation would wait on; a loser of that
    // race finds the other fact the next time round, so the merge fails rather than guess.
    if !insert_fact_in(conn, &fact, Source { meeting: Some(act.meeting), review_line: Some(c.line_id) }).await? {
        return Err(ReviewFailure::CandidateTaken(Some(c.line_id)).into());
    }
    Ok((fact.id, None))
}
