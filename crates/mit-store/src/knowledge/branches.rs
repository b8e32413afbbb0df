//! Branches: proposals to change a fact's value, their approvals, vetoes and discussions, and the
//! merge — compare-and-swap on the fact's version, with the approval rule evaluated on rows
//! this transaction holds locked (the fact, the branch, the team's member rows).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use mit_api::server::models::{ApproverGroup, BranchStatus, FactChangeKind, TeamRole};
use mit_domain::knowledge::approval::{MergeInput, MergeRefusal, Rule, decide_merge, evaluate};
use mit_domain::knowledge::rules::may_curate;
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::knowledge::{
    BranchAct, BranchAction, BranchApprovalRecord, BranchEdit, BranchRecord, BranchScope, BranchWrite, DiscussionRecord, NewBranch,
    VetoRecord,
};
use mit_domain::ports::people::UserRef;
use uuid::Uuid;

use mit_domain::events::Topic;
use mit_domain::events::knowledge::{KnowledgeEvent, KnowledgeEventKind};

use super::history::{Entry, MergeNote, Source, append};
use crate::outbox;
use crate::rows::{CountRow, parse_enum};
use crate::teams::to_diesel;
use crate::{PgStore, store_error};

/// A fact as branch writers read it, its row locked.
#[derive(QueryableByName)]
pub(crate) struct FactHead {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub team_id: Uuid,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    pub value: String,
    #[diesel(sql_type = Integer)]
    version: i32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub archived_at: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct BranchHead {
    #[diesel(sql_type = SqlUuid)]
    author_id: Uuid,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Integer)]
    base_version: i32,
    #[diesel(sql_type = Text)]
    proposed_value: String,
    #[diesel(sql_type = Text)]
    reason: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    meeting_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    review_line_id: Option<Uuid>,
}

#[derive(QueryableByName)]
struct MemberRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    role: String,
}

#[derive(QueryableByName)]
struct RuleRow {
    #[diesel(sql_type = Text)]
    approvers: String,
    #[diesel(sql_type = Nullable<Integer>)]
    required_approvals: Option<i32>,
}

#[derive(QueryableByName)]
struct BranchRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    fact_id: Uuid,
    #[diesel(sql_type = Text)]
    fact_key: String,
    #[diesel(sql_type = Integer)]
    fact_version: i32,
    #[diesel(sql_type = SqlUuid)]
    team_id: Uuid,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    proposed_value: String,
    #[diesel(sql_type = Text)]
    base_value: String,
    #[diesel(sql_type = Integer)]
    base_version: i32,
    #[diesel(sql_type = Text)]
    reason: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = SqlUuid)]
    author_id: Uuid,
    #[diesel(sql_type = Text)]
    author_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    author_avatar: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    meeting_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    review_line_id: Option<Uuid>,
    #[diesel(sql_type = BigInt)]
    discussion_count: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    merged_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    merger_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    merger_name: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    closed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    closer_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    closer_name: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct ApprovalRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    user_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    user_avatar: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    reason: Option<String>,
}

#[derive(QueryableByName)]
struct DiscussionRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    branch_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    parent_id: Option<Uuid>,
    #[diesel(sql_type = SqlUuid)]
    author_id: Uuid,
    #[diesel(sql_type = Text)]
    author_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    author_avatar: Option<String>,
    #[diesel(sql_type = Text)]
    content: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

impl From<DiscussionRow> for DiscussionRecord {
    fn from(row: DiscussionRow) -> Self {
        Self {
            id: row.id,
            branch_id: row.branch_id,
            parent_id: row.parent_id,
            author: UserRef { id: row.author_id, name: row.author_name, avatar_url: row.author_avatar },
            content: row.content,
            created_at: row.created_at,
        }
    }
}

#[derive(QueryableByName)]
struct FactIdRow {
    #[diesel(sql_type = SqlUuid)]
    fact_id: Uuid,
}

#[derive(QueryableByName)]
struct UserIdRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
}

const BRANCH_COLUMNS: &str = "SELECT b.id, b.fact_id, f.key AS fact_key, f.version AS fact_version, b.team_id, b.title,
        b.proposed_value, b.base_value, b.base_version, b.reason, b.status, a.id AS author_id, a.name AS author_name,
        a.avatar_url AS author_avatar, b.meeting_id, b.review_line_id,
        (SELECT count(*) FROM branch_discussions d WHERE d.branch_id = b.id) AS discussion_count,
        b.merged_at, m.id AS merger_id, m.name AS merger_name, b.closed_at, c.id AS closer_id, c.name AS closer_name,
        b.created_at, b.updated_at
     FROM branches b JOIN facts f ON f.id = b.fact_id JOIN users a ON a.id = b.author_id
     LEFT JOIN users m ON m.id = b.merged_by LEFT JOIN users c ON c.id = b.closed_by";

async fn rule_of(conn: &mut AsyncPgConnection, team: Uuid) -> QueryResult<Rule> {
    let row: Option<RuleRow> = diesel::sql_query("SELECT approvers, required_approvals FROM approval_rules WHERE team_id = $1")
        .bind::<SqlUuid, _>(team)
        .get_result(conn)
        .await
        .optional()?;
    let Some(row) = row else { return Ok(Rule::default()) };
    let approvers: ApproverGroup = parse_enum("approvers", &row.approvers).map_err(to_diesel)?;
    Ok(Rule { approvers, required: row.required_approvals.map(|n| n.unsigned_abs()) })
}

/// The team's members and roles; `lock` holds their rows until the transaction ends, so a role
/// change at the same moment waits for the decision that depends on it.
async fn members(conn: &mut AsyncPgConnection, team: Uuid, lock: bool) -> QueryResult<Vec<(Uuid, TeamRole)>> {
    let lock = if lock { " FOR SHARE" } else { "" };
    let rows: Vec<MemberRow> =
        diesel::sql_query(format!("SELECT user_id, role FROM team_members WHERE team_id = $1 ORDER BY user_id{lock}"))
            .bind::<SqlUuid, _>(team)
            .load(conn)
            .await?;
    rows.into_iter().map(|r| Ok((r.user_id, parse_enum("team role", &r.role).map_err(to_diesel)?))).collect()
}

async fn fact_head(conn: &mut AsyncPgConnection, fact: Uuid) -> QueryResult<Option<FactHead>> {
    diesel::sql_query("SELECT id, team_id, key, value, version, archived_at FROM facts WHERE id = $1 FOR UPDATE")
        .bind::<SqlUuid, _>(fact)
        .get_result(conn)
        .await
        .optional()
}

/// The team's fact with this key (case-insensitively), its row locked.
pub(crate) async fn fact_with_key(conn: &mut AsyncPgConnection, team: Uuid, key: &str) -> QueryResult<Option<FactHead>> {
    diesel::sql_query(
        "SELECT id, team_id, key, value, version, archived_at FROM facts WHERE team_id = $1 AND lower(key) = lower($2) FOR UPDATE",
    )
    .bind::<SqlUuid, _>(team)
    .bind::<Text, _>(key)
    .get_result(conn)
    .await
    .optional()
}

/// Opens a branch on the locked `fact` against its current value and announces it, in the
/// caller's transaction; `meeting` is the meeting whose review proposed it.
pub(crate) async fn insert_branch_in(
    conn: &mut AsyncPgConnection,
    fact: &FactHead,
    branch: &NewBranch,
    source: Source,
) -> QueryResult<Uuid> {
    let id = Uuid::now_v7();
    diesel::sql_query(
        "INSERT INTO branches (id, fact_id, team_id, title, proposed_value, base_value, base_version, reason, status, author_id,
             created_at, updated_at, meeting_id, review_line_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10, $10, $11, $12)",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(fact.id)
    .bind::<SqlUuid, _>(fact.team_id)
    .bind::<Text, _>(&branch.title)
    .bind::<Text, _>(&branch.proposed_value)
    .bind::<Text, _>(&fact.value)
    .bind::<Integer, _>(fact.version)
    .bind::<Text, _>(&branch.reason)
    .bind::<SqlUuid, _>(branch.author)
    .bind::<Timestamptz, _>(branch.now)
    .bind::<Nullable<SqlUuid>, _>(source.meeting)
    .bind::<Nullable<SqlUuid>, _>(source.review_line)
    .execute(conn)
    .await?;
    let event = KnowledgeEvent::branch(KnowledgeEventKind::BranchCreated, fact.team_id, fact.id, fact.version, id, BranchStatus::Open);
    outbox::append(conn, &Topic::Knowledge(fact.team_id), &event, branch.author).await?;
    Ok(id)
}

async fn record(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<BranchRecord>> {
    let row: Option<BranchRow> =
        diesel::sql_query(format!("{BRANCH_COLUMNS} WHERE b.id = $1")).bind::<SqlUuid, _>(id).get_result(conn).await.optional()?;
    match row {
        Some(row) => Ok(Some(complete(conn, row).await?)),
        None => Ok(None),
    }
}

/// A branch row with its approvals, vetoes and the rule's verdict.
async fn complete(conn: &mut AsyncPgConnection, row: BranchRow) -> QueryResult<BranchRecord> {
    let approvals: Vec<ApprovalRow> = diesel::sql_query(
        "SELECT u.id AS user_id, u.name AS user_name, u.avatar_url AS user_avatar, x.approved_at AS at, NULL::text AS reason
         FROM branch_approvals x JOIN users u ON u.id = x.user_id WHERE x.branch_id = $1 ORDER BY x.approved_at, u.id",
    )
    .bind::<SqlUuid, _>(row.id)
    .load(conn)
    .await?;
    let vetoes: Vec<ApprovalRow> = diesel::sql_query(
        "SELECT u.id AS user_id, u.name AS user_name, u.avatar_url AS user_avatar, v.vetoed_at AS at, v.reason
         FROM branch_vetoes v JOIN users u ON u.id = v.user_id WHERE v.branch_id = $1 ORDER BY v.vetoed_at, u.id",
    )
    .bind::<SqlUuid, _>(row.id)
    .load(conn)
    .await?;
    let rule = rule_of(conn, row.team_id).await?;
    let team = members(conn, row.team_id, false).await?;
    let approvers: Vec<Uuid> = approvals.iter().map(|a| a.user_id).collect();
    let standing = evaluate(&rule, &team, row.author_id, &approvers);
    let counts = |user: Uuid| user != row.author_id && team.iter().any(|(u, role)| *u == user && rule.counts(*role));
    let person = |id: Option<Uuid>, name: Option<String>| id.map(|id| UserRef { id, name: name.unwrap_or_default(), avatar_url: None });
    Ok(BranchRecord {
        id: row.id,
        fact_id: row.fact_id,
        fact_key: row.fact_key,
        fact_version: row.fact_version,
        team_id: row.team_id,
        title: row.title,
        proposed_value: row.proposed_value,
        base_value: row.base_value,
        base_version: row.base_version,
        reason: row.reason,
        status: parse_enum("branch status", &row.status).map_err(to_diesel)?,
        author: UserRef { id: row.author_id, name: row.author_name, avatar_url: row.author_avatar },
        meeting_id: row.meeting_id,
        review_line_id: row.review_line_id,
        approvals: approvals
            .into_iter()
            .map(|a| BranchApprovalRecord {
                counted: counts(a.user_id),
                user: UserRef { id: a.user_id, name: a.user_name, avatar_url: a.user_avatar },
                approved_at: a.at,
            })
            .collect(),
        vetoes: vetoes
            .into_iter()
            .map(|v| VetoRecord {
                user: UserRef { id: v.user_id, name: v.user_name, avatar_url: v.user_avatar },
                reason: v.reason.unwrap_or_default(),
                vetoed_at: v.at,
            })
            .collect(),
        standing,
        discussion_count: row.discussion_count,
        merged: row.merged_at.zip(person(row.merger_id, row.merger_name)),
        closed: row.closed_at.zip(person(row.closer_id, row.closer_name)),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str, branch: Uuid, user: Uuid) -> QueryResult<usize> {
    diesel::sql_query(sql).bind::<SqlUuid, _>(branch).bind::<SqlUuid, _>(user).execute(conn).await
}

impl PgStore {
    pub(super) async fn list_branches(
        &self,
        scope: BranchScope,
        status: Option<BranchStatus>,
        page: PageRequest,
    ) -> Result<Page<BranchRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let (column, id) = match scope {
            BranchScope::Fact(fact) => ("b.fact_id", fact),
            BranchScope::Team(team) => ("b.team_id", team),
        };
        let filter = format!("{column} = $1 AND ($2::text IS NULL OR b.status = $2)");
        let status = status.map(|s| s.as_str());
        let rows: Vec<BranchRow> =
            diesel::sql_query(format!("{BRANCH_COLUMNS} WHERE {filter} ORDER BY b.created_at DESC, b.id DESC OFFSET $3 LIMIT $4"))
                .bind::<SqlUuid, _>(id)
                .bind::<Nullable<Text>, _>(status)
                .bind::<BigInt, _>(page.offset())
                .bind::<BigInt, _>(page.limit())
                .load(&mut conn)
                .await
                .map_err(store_error)?;
        let total: CountRow = diesel::sql_query(format!("SELECT count(*) AS count FROM branches b WHERE {filter}"))
            .bind::<SqlUuid, _>(id)
            .bind::<Nullable<Text>, _>(status)
            .get_result(&mut conn)
            .await
            .map_err(store_error)?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            items.push(complete(&mut conn, row).await.map_err(store_error)?);
        }
        Ok(Page { items, total: total.count })
    }

    pub(super) async fn find_branch(&self, id: Uuid) -> Result<Option<BranchRecord>, StoreError> {
        let mut conn = self.connection().await?;
        record(&mut conn, id).await.map_err(store_error)
    }

    pub(super) async fn open_branch(&self, branch: NewBranch) -> Result<BranchWrite<BranchRecord>, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            let Some(fact) = fact_head(conn, branch.fact).await? else { return Ok(BranchWrite::Missing) };
            if !members(conn, fact.team_id, true).await?.iter().any(|(u, _)| *u == branch.author) {
                return Ok(BranchWrite::Missing);
            }
            if fact.archived_at.is_some() {
                return Ok(BranchWrite::Archived);
            }
            if fact.value == branch.proposed_value {
                return Ok(BranchWrite::SameValue);
            }
            let id = insert_branch_in(conn, &fact, &branch, Source::default()).await?;
            Ok(record(conn, id).await?.map_or(BranchWrite::Missing, BranchWrite::Done))
        })
        .await
        .map_err(store_error)
        .inspect(|_| self.outbox_written.notify_one())
    }

    pub(super) async fn branch_act(&self, act: BranchAct, action: BranchAction) -> Result<BranchWrite<BranchRecord>, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            // Every writer locks the fact, then the branch, then the team's members: one order,
            // so two of them never wait on each other in a cycle.
            let fact_id: Option<FactIdRow> = diesel::sql_query("SELECT fact_id FROM branches WHERE id = $1")
                .bind::<SqlUuid, _>(act.branch)
                .get_result(conn)
                .await
                .optional()?;
            let Some(fact_id) = fact_id else { return Ok(BranchWrite::Missing) };
            let Some(fact) = fact_head(conn, fact_id.fact_id).await? else { return Ok(BranchWrite::Missing) };
            let head: BranchHead = diesel::sql_query(
                "SELECT author_id, status, base_version, proposed_value, reason, meeting_id, review_line_id FROM branches WHERE id = $1 FOR UPDATE",
            )
            .bind::<SqlUuid, _>(act.branch)
            .get_result(conn)
            .await?;
            let team = members(conn, fact.team_id, true).await?;
            let Some(role) = team.iter().find(|(u, _)| *u == act.actor).map(|(_, r)| *r) else { return Ok(BranchWrite::Missing) };
            let status: BranchStatus = parse_enum("branch status", &head.status).map_err(to_diesel)?;
            if status != BranchStatus::Open {
                return Ok(BranchWrite::Final(status));
            }
            let kind = event_kind(&action);
            let outcome = apply(conn, act, action, &fact, &head, role, &team).await?;
            if let Some(refusal) = outcome {
                return Ok(refusal);
            }
            diesel::sql_query("UPDATE branches SET updated_at = $2 WHERE id = $1")
                .bind::<SqlUuid, _>(act.branch)
                .bind::<Timestamptz, _>(act.now)
                .execute(conn)
                .await?;
            announce(conn, act, &fact, kind).await?;
            Ok(record(conn, act.branch).await?.map_or(BranchWrite::Missing, BranchWrite::Done))
        })
        .await
        .map_err(store_error)
        .inspect(|_| self.outbox_written.notify_one())
    }

    pub(super) async fn list_discussions(&self, branch: Uuid, page: PageRequest) -> Result<Page<DiscussionRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let rows: Vec<DiscussionRow> = diesel::sql_query(
            "SELECT d.id, d.branch_id, d.parent_id, u.id AS author_id, u.name AS author_name, u.avatar_url AS author_avatar, d.content,
                    d.created_at
             FROM branch_discussions d JOIN users u ON u.id = d.author_id WHERE d.branch_id = $1
             ORDER BY d.created_at, d.id OFFSET $2 LIMIT $3",
        )
        .bind::<SqlUuid, _>(branch)
        .bind::<BigInt, _>(page.offset())
        .bind::<BigInt, _>(page.limit())
        .load(&mut conn)
        .await
        .map_err(store_error)?;
        let total: CountRow = diesel::sql_query("SELECT count(*) AS count FROM branch_discussions WHERE branch_id = $1")
            .bind::<SqlUuid, _>(branch)
            .get_result(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(Page { items: rows.into_iter().map(DiscussionRecord::from).collect(), total: total.count })
    }

    pub(super) async fn post_discussion(
        &self,
        act: BranchAct,
        parent: Option<Uuid>,
        content: String,
    ) -> Result<BranchWrite<DiscussionRecord>, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            let head: Option<BranchHead> = diesel::sql_query(
                "SELECT author_id, status, base_version, proposed_value, reason, meeting_id, review_line_id FROM branches WHERE id = $1 FOR SHARE",
            )
            .bind::<SqlUuid, _>(act.branch)
            .get_result(conn)
            .await
            .optional()?;
            let Some(head) = head else { return Ok(BranchWrite::Missing) };
            let status: BranchStatus = parse_enum("branch status", &head.status).map_err(to_diesel)?;
            if status != BranchStatus::Open {
                return Ok(BranchWrite::Final(status));
            }
            if let Some(parent) = parent {
                let found: CountRow =
                    diesel::sql_query("SELECT count(*) AS count FROM branch_discussions WHERE id = $1 AND branch_id = $2")
                        .bind::<SqlUuid, _>(parent)
                        .bind::<SqlUuid, _>(act.branch)
                        .get_result(conn)
                        .await?;
                if found.count == 0 {
                    return Ok(BranchWrite::UnknownParent);
                }
            }
            let id = Uuid::now_v7();
            diesel::sql_query(
                "INSERT INTO branch_discussions (id, branch_id, parent_id, author_id, content, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind::<SqlUuid, _>(id)
            .bind::<SqlUuid, _>(act.branch)
            .bind::<Nullable<SqlUuid>, _>(parent)
            .bind::<SqlUuid, _>(act.actor)
            .bind::<Text, _>(&content)
            .bind::<Timestamptz, _>(act.now)
            .execute(conn)
            .await?;
            let row: DiscussionRow = diesel::sql_query(
                "SELECT d.id, d.branch_id, d.parent_id, u.id AS author_id, u.name AS author_name, u.avatar_url AS author_avatar,
                        d.content, d.created_at
                 FROM branch_discussions d JOIN users u ON u.id = d.author_id WHERE d.id = $1",
            )
            .bind::<SqlUuid, _>(id)
            .get_result(conn)
            .await?;
            Ok(BranchWrite::Done(row.into()))
        })
        .await
        .map_err(store_error)
    }

    pub(super) async fn read_rule(&self, team: Uuid) -> Result<Rule, StoreError> {
        let mut conn = self.connection().await?;
        rule_of(&mut conn, team).await.map_err(store_error)
    }

    pub(super) async fn write_rule(
        &self,
        team: Uuid,
        actor: Uuid,
        rule: Rule,
        now: DateTime<Utc>,
    ) -> Result<BranchWrite<Rule>, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            let role = members(conn, team, true).await?.into_iter().find(|(u, _)| *u == actor).map(|(_, r)| r);
            if !role.is_some_and(may_curate) {
                return Ok(BranchWrite::Forbidden);
            }
            diesel::sql_query(
                "INSERT INTO approval_rules (team_id, approvers, required_approvals, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (team_id) DO UPDATE SET approvers = EXCLUDED.approvers, required_approvals = EXCLUDED.required_approvals,
                     updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at",
            )
            .bind::<SqlUuid, _>(team)
            .bind::<Text, _>(rule.approvers.as_str())
            .bind::<Nullable<Integer>, _>(rule.required.map(|n| n as i32))
            .bind::<SqlUuid, _>(actor)
            .bind::<Timestamptz, _>(now)
            .execute(conn)
            .await?;
            Ok(BranchWrite::Done(rule))
        })
        .await
        .map_err(store_error)
    }
}

/// The event an action announces.
fn event_kind(action: &BranchAction) -> KnowledgeEventKind {
    match action {
        BranchAction::Approve | BranchAction::WithdrawApproval => KnowledgeEventKind::BranchApproved,
        BranchAction::Veto(_) | BranchAction::WithdrawVeto => KnowledgeEventKind::BranchVetoed,
        BranchAction::Rebase | BranchAction::Edit(_) => KnowledgeEventKind::BranchUpdated,
        BranchAction::Close => KnowledgeEventKind::BranchClosed,
        BranchAction::Merge(_) => KnowledgeEventKind::BranchMerged,
    }
}

/// Appends the action's events to the team's topic: a merge also changes the fact and makes the
/// fact's other open branches stale.
async fn announce(conn: &mut AsyncPgConnection, act: BranchAct, fact: &FactHead, kind: KnowledgeEventKind) -> QueryResult<()> {
    let topic = Topic::Knowledge(fact.team_id);
    let status = match kind {
        KnowledgeEventKind::BranchMerged => BranchStatus::Merged,
        KnowledgeEventKind::BranchClosed => BranchStatus::Closed,
        _ => BranchStatus::Open,
    };
    let version = if kind == KnowledgeEventKind::BranchMerged { fact.version + 1 } else { fact.version };
    let event = KnowledgeEvent::branch(kind, fact.team_id, fact.id, version, act.branch, status);
    outbox::append(conn, &topic, &event, act.actor).await?;
    if kind != KnowledgeEventKind::BranchMerged {
        return Ok(());
    }
    let changed = KnowledgeEvent::fact(KnowledgeEventKind::FactChanged, fact.team_id, fact.id, version);
    outbox::append(conn, &topic, &changed, act.actor).await?;
    let others: Vec<UserIdRow> =
        diesel::sql_query("SELECT id AS user_id FROM branches WHERE fact_id = $1 AND status = 'open' ORDER BY created_at, id")
            .bind::<SqlUuid, _>(fact.id)
            .load(conn)
            .await?;
    for other in others {
        let stale =
            KnowledgeEvent::branch(KnowledgeEventKind::BranchStale, fact.team_id, fact.id, version, other.user_id, BranchStatus::Open);
        outbox::append(conn, &topic, &stale, act.actor).await?;
    }
    Ok(())
}

/// Applies an action to an open branch whose rows are locked; `Some` is a refusal.
async fn apply(
    conn: &mut AsyncPgConnection,
    act: BranchAct,
    action: BranchAction,
    fact: &FactHead,
    head: &BranchHead,
    role: TeamRole,
    team: &[(Uuid, TeamRole)],
) -> QueryResult<Option<BranchWrite<BranchRecord>>> {
    let author = act.actor == head.author_id;
    let refuse = |refusal| Ok(Some(refusal));
    match action {
        BranchAction::Approve if author => refuse(BranchWrite::Forbidden),
        BranchAction::Approve => {
            diesel::sql_query("INSERT INTO branch_approvals (branch_id, user_id, approved_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind::<SqlUuid, _>(act.branch)
                .bind::<SqlUuid, _>(act.actor)
                .bind::<Timestamptz, _>(act.now)
                .execute(conn)
                .await?;
            Ok(None)
        }
        BranchAction::WithdrawApproval => {
            exec(conn, "DELETE FROM branch_approvals WHERE branch_id = $1 AND user_id = $2", act.branch, act.actor).await?;
            Ok(None)
        }
        BranchAction::Veto(reason) => {
            let rule = rule_of(conn, fact.team_id).await?;
            if author || !rule.counts(role) {
                return refuse(BranchWrite::Forbidden);
            }
            diesel::sql_query(
                "INSERT INTO branch_vetoes (branch_id, user_id, reason, vetoed_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (branch_id, user_id) DO UPDATE SET reason = EXCLUDED.reason, vetoed_at = EXCLUDED.vetoed_at",
            )
            .bind::<SqlUuid, _>(act.branch)
            .bind::<SqlUuid, _>(act.actor)
            .bind::<Text, _>(&reason)
            .bind::<Timestamptz, _>(act.now)
            .execute(conn)
            .await?;
            Ok(None)
        }
        BranchAction::WithdrawVeto => {
            exec(conn, "DELETE FROM branch_vetoes WHERE branch_id = $1 AND user_id = $2", act.branch, act.actor).await?;
            Ok(None)
        }
        BranchAction::Rebase | BranchAction::Edit(_) if !author => refuse(BranchWrite::Forbidden),
        BranchAction::Rebase => {
            if head.proposed_value == fact.value {
                return refuse(BranchWrite::SameValue);
            }
            diesel::sql_query("UPDATE branches SET base_value = $2, base_version = $3 WHERE id = $1")
                .bind::<SqlUuid, _>(act.branch)
                .bind::<Text, _>(&fact.value)
                .bind::<Integer, _>(fact.version)
                .execute(conn)
                .await?;
            clear_approvals(conn, act.branch).await?;
            Ok(None)
        }
        BranchAction::Edit(edit) => edit_text(conn, act, fact, edit).await,
        BranchAction::Close if !author && !may_curate(role) => refuse(BranchWrite::Forbidden),
        BranchAction::Close => {
            diesel::sql_query("UPDATE branches SET status = 'closed', closed_at = $2, closed_by = $3 WHERE id = $1")
                .bind::<SqlUuid, _>(act.branch)
                .bind::<Timestamptz, _>(act.now)
                .bind::<SqlUuid, _>(act.actor)
                .execute(conn)
                .await?;
            Ok(None)
        }
        BranchAction::Merge(reason) => merge(conn, act, fact, head, role, team, reason.as_deref()).await,
    }
}

async fn clear_approvals(conn: &mut AsyncPgConnection, branch: Uuid) -> QueryResult<()> {
    diesel::sql_query("DELETE FROM branch_approvals WHERE branch_id = $1").bind::<SqlUuid, _>(branch).execute(conn).await.map(|_| ())
}

async fn edit_text(
    conn: &mut AsyncPgConnection,
    act: BranchAct,
    fact: &FactHead,
    edit: BranchEdit,
) -> QueryResult<Option<BranchWrite<BranchRecord>>> {
    if edit.proposed_value.as_deref() == Some(fact.value.as_str()) {
        return Ok(Some(BranchWrite::SameValue));
    }
    let changed = diesel::sql_query(
        "UPDATE branches SET title = COALESCE($2, title), proposed_value = COALESCE($3, proposed_value), reason = COALESCE($4, reason)
         WHERE id = $1 AND (title, proposed_value, reason) IS DISTINCT FROM (COALESCE($2, title), COALESCE($3, proposed_value), COALESCE($4, reason))",
    )
    .bind::<SqlUuid, _>(act.branch)
    .bind::<Nullable<Text>, _>(&edit.title)
    .bind::<Nullable<Text>, _>(&edit.proposed_value)
    .bind::<Nullable<Text>, _>(&edit.reason)
    .execute(conn)
    .await?;
    // Reviewers approve what they saw: any change takes their approvals back.
    if changed > 0 {
        clear_approvals(conn, act.branch).await?;
    }
    Ok(None)
}

async fn merge(
    conn: &mut AsyncPgConnection,
    act: BranchAct,
    fact: &FactHead,
    head: &BranchHead,
    role: TeamRole,
    team: &[(Uuid, TeamRole)],
    override_reason: Option<&str>,
) -> QueryResult<Option<BranchWrite<BranchRecord>>> {
    let rule = rule_of(conn, fact.team_id).await?;
    let approvers: Vec<UserIdRow> =
        diesel::sql_query("SELECT user_id FROM branch_approvals WHERE branch_id = $1").bind::<SqlUuid, _>(act.branch).load(conn).await?;
    let approvers: Vec<Uuid> = approvers.into_iter().map(|r| r.user_id).collect();
    let vetoes: CountRow = diesel::sql_query("SELECT count(*) AS count FROM branch_vetoes WHERE branch_id = $1")
        .bind::<SqlUuid, _>(act.branch)
        .get_result(conn)
        .await?;
    let input = MergeInput {
        actor: (act.actor, role),
        author: head.author_id,
        base_version: head.base_version,
        fact_version: fact.version,
        vetoes: vetoes.count as usize,
        standing: evaluate(&rule, team, head.author_id, &approvers),
        override_reason,
    };
    match decide_merge(&input) {
        Err(MergeRefusal::NotAllowed) => return Ok(Some(BranchWrite::Forbidden)),
        Err(MergeRefusal::StaleBase) => return Ok(Some(BranchWrite::StaleBase { value: fact.value.clone(), version: fact.version })),
        Err(MergeRefusal::Vetoed) => return Ok(Some(BranchWrite::Vetoed)),
        Err(MergeRefusal::ApprovalRequired(standing)) => return Ok(Some(BranchWrite::ApprovalRequired(standing))),
        Ok(_) => {}
    }
    diesel::sql_query("UPDATE facts SET value = $2, version = version + 1, value_changed_at = $3, updated_at = $3 WHERE id = $1")
        .bind::<SqlUuid, _>(fact.id)
        .bind::<Text, _>(&head.proposed_value)
        .bind::<Timestamptz, _>(act.now)
        .execute(conn)
        .await?;
    let entry = Entry {
        kind: FactChangeKind::ValueChanged,
        key: &fact.key,
        version: fact.version + 1,
        previous_value: Some(&fact.value),
        new_value: &head.proposed_value,
        changes: &[],
        reason: Some(&head.reason),
        actor: head.author_id,
        source: Source { meeting: head.meeting_id, review_line: head.review_line_id },
        merge: Some(MergeNote { branch: act.branch, merged_by: act.actor, override_reason }),
        now: act.now,
    };
    append(conn, fact.id, &entry).await?;
    diesel::sql_query("UPDATE branches SET status = 'merged', merged_at = $2, merged_by = $3 WHERE id = $1")
        .bind::<SqlUuid, _>(act.branch)
        .bind::<Timestamptz, _>(act.now)
        .bind::<SqlUuid, _>(act.actor)
        .execute(conn)
        .await?;
    Ok(None)
}
