//! A team's Ground Truth: projects, facts and their history. Writes that need a team role
//! re-check it inside their transaction, with the member's row locked, so a demotion at the same
//! moment is respected.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mit_api::server::models::{BranchStatus, FactChangeKind, FactField};
use uuid::Uuid;

use super::StoreError;
use super::people::UserRef;
use crate::knowledge::approval::{Rule, Standing};
use crate::paging::{Page, PageRequest};

/// A stored project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRecord {
    /// Id.
    pub id: Uuid,
    /// Its team.
    pub team_id: Uuid,
    /// Name, unique in the team case-insensitively.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Facts that are not archived.
    pub fact_count: i64,
    /// Who created it.
    pub created_by: UserRef,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A stored fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactRecord {
    /// Id.
    pub id: Uuid,
    /// Its team.
    pub team_id: Uuid,
    /// Key, trimmed.
    pub key: String,
    /// Current value.
    pub value: String,
    /// Category.
    pub category: Option<String>,
    /// Project id and name.
    pub project: Option<(Uuid, String)>,
    /// The meeting whose review proposed it.
    pub source_meeting_id: Option<Uuid>,
    /// Values it has had.
    pub version: i32,
    /// Who created it.
    pub created_by: UserRef,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change of anything.
    pub updated_at: DateTime<Utc>,
    /// When the value was set.
    pub value_changed_at: DateTime<Utc>,
    /// When it was archived.
    pub archived_at: Option<DateTime<Utc>>,
    /// Branches still open.
    pub open_branch_count: i64,
}

/// One field a metadata edit changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldChange {
    /// The field.
    #[serde(with = "field_name")]
    pub field: FactField,
    /// Its old value.
    pub previous: Option<String>,
    /// Its new value.
    pub new: Option<String>,
}

mod field_name {
    //! `FactField` as its contract name in the stored JSON.
    use mit_api::server::models::FactField;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(field: &FactField, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(field.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<FactField, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|_| serde::de::Error::custom(format!("unknown fact field `{text}`")))
    }
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecord {
    /// Id.
    pub id: Uuid,
    /// Its fact.
    pub fact_id: Uuid,
    /// 1, 2, 3, … per fact.
    pub sequence: i64,
    /// What happened.
    pub kind: FactChangeKind,
    /// The value version after it.
    pub version: i32,
    /// The value before, for value changes.
    pub previous_value: Option<String>,
    /// The value after.
    pub new_value: String,
    /// The fields a metadata edit changed.
    pub changes: Vec<FieldChange>,
    /// Why.
    pub reason: Option<String>,
    /// Who.
    pub changed_by: UserRef,
    /// The meeting the value came from.
    pub meeting_id: Option<Uuid>,
    /// The branch a value change merged.
    pub branch_id: Option<Uuid>,
    /// The review line the value came from.
    pub review_line_id: Option<Uuid>,
    /// Who merged it.
    pub merged_by: Option<UserRef>,
    /// An owner's reason to merge without the rule met.
    pub override_reason: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A fact as it was at some moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactAsOfRecord {
    /// Key then.
    pub key: String,
    /// Value then.
    pub value: String,
    /// Value version then.
    pub version: i32,
    /// Whether it had been archived.
    pub archived: bool,
    /// When that value was set.
    pub value_set_at: DateTime<Utc>,
}

/// A new fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFact {
    /// Id.
    pub id: Uuid,
    /// Its team.
    pub team: Uuid,
    /// Trimmed key.
    pub key: String,
    /// Value.
    pub value: String,
    /// Category.
    pub category: Option<String>,
    /// Project of the team.
    pub project: Option<Uuid>,
    /// The first history entry's reason.
    pub reason: Option<String>,
    /// Who creates it.
    pub creator: Uuid,
    /// When.
    pub now: DateTime<Utc>,
}

/// A metadata edit; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FactEdit {
    /// New trimmed key.
    pub key: Option<String>,
    /// New category, or `Some(None)` to clear it.
    pub category: Option<Option<String>>,
    /// New project, or `Some(None)` to clear it.
    pub project: Option<Option<Uuid>>,
}

/// Filters of the fact list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FactFilter {
    /// Only this project's.
    pub project: Option<Uuid>,
    /// Only this category.
    pub category: Option<String>,
    /// Only those proposed from this meeting.
    pub source_meeting: Option<Uuid>,
    /// Key or value containing this, case-insensitively.
    pub text: Option<String>,
    /// Archived ones too.
    pub include_archived: bool,
}

/// Why a knowledge write did not happen, or what it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnowledgeWrite<T> {
    /// Written.
    Done(T),
    /// The fact or project named does not exist.
    Missing,
    /// The caller's team role does not allow it (checked with the member row locked).
    Forbidden,
    /// The key is another fact's (its id), or the project name another project's.
    Taken(Option<Uuid>),
    /// The project named is not one of the team's.
    UnknownProject,
    /// The fact is archived.
    Archived,
    /// The project still has this many facts that are not archived.
    HasFacts(i64),
}

/// Storage of a team's knowledge.
#[async_trait]
pub trait KnowledgeStore: Send + Sync + 'static {
    /// The team's projects by name, optionally those whose name contains `text`.
    async fn projects(&self, team: Uuid, text: Option<String>, page: PageRequest) -> Result<Page<ProjectRecord>, StoreError>;
    /// One project.
    async fn project(&self, id: Uuid) -> Result<Option<ProjectRecord>, StoreError>;
    /// Creates a project as a member of its team.
    async fn create_project(
        &self,
        team: Uuid,
        name: String,
        description: Option<String>,
        creator: Uuid,
        now: DateTime<Utc>,
    ) -> Result<KnowledgeWrite<ProjectRecord>, StoreError>;
    /// Renames or re-describes a project, as an admin or owner.
    async fn update_project(
        &self,
        id: Uuid,
        actor: Uuid,
        name: Option<String>,
        description: Option<Option<String>>,
        now: DateTime<Utc>,
    ) -> Result<KnowledgeWrite<ProjectRecord>, StoreError>;
    /// Deletes a project without active facts, as an admin or owner.
    async fn delete_project(&self, id: Uuid, actor: Uuid) -> Result<KnowledgeWrite<()>, StoreError>;
    /// The team's facts by key.
    async fn facts(&self, team: Uuid, filter: FactFilter, page: PageRequest) -> Result<Page<FactRecord>, StoreError>;
    /// One fact.
    async fn fact(&self, id: Uuid) -> Result<Option<FactRecord>, StoreError>;
    /// Creates a fact and its first history entry, as a member of its team.
    async fn create_fact(&self, fact: NewFact) -> Result<KnowledgeWrite<FactRecord>, StoreError>;
    /// Edits a fact's metadata as an admin or owner, recording the change in its history.
    async fn edit_fact(&self, id: Uuid, actor: Uuid, edit: FactEdit, now: DateTime<Utc>) -> Result<KnowledgeWrite<FactRecord>, StoreError>;
    /// Archives a fact as an admin or owner, recording it in its history.
    async fn archive_fact(&self, id: Uuid, actor: Uuid, now: DateTime<Utc>) -> Result<KnowledgeWrite<()>, StoreError>;
    /// A fact's history, newest first.
    async fn history(&self, fact: Uuid, page: PageRequest) -> Result<Page<HistoryRecord>, StoreError>;
    /// The fact as its history says it was at `at`; `None` if it did not exist yet.
    async fn fact_as_of(&self, fact: Uuid, at: DateTime<Utc>) -> Result<Option<FactAsOfRecord>, StoreError>;
    /// The value the fact had at value version `version`.
    async fn value_at_version(&self, fact: Uuid, version: i32) -> Result<Option<String>, StoreError>;
}

/// One approval of a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchApprovalRecord {
    /// The approver.
    pub user: UserRef,
    /// When.
    pub approved_at: DateTime<Utc>,
    /// Whether the team's rule counts it now.
    pub counted: bool,
}

/// One standing veto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VetoRecord {
    /// Who vetoed.
    pub user: UserRef,
    /// Why.
    pub reason: String,
    /// When.
    pub vetoed_at: DateTime<Utc>,
}

/// A stored branch with what its page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchRecord {
    /// Id.
    pub id: Uuid,
    /// Its fact.
    pub fact_id: Uuid,
    /// The fact's key.
    pub fact_key: String,
    /// The fact's version now (the branch is stale when it differs from `base_version`).
    pub fact_version: i32,
    /// Its team.
    pub team_id: Uuid,
    /// Title.
    pub title: String,
    /// The value it proposes.
    pub proposed_value: String,
    /// The value it was proposed against.
    pub base_value: String,
    /// The version it was proposed against.
    pub base_version: i32,
    /// Why.
    pub reason: String,
    /// Status.
    pub status: BranchStatus,
    /// Who proposed it.
    pub author: UserRef,
    /// The meeting it came from.
    pub meeting_id: Option<Uuid>,
    /// The review line that proposed it.
    pub review_line_id: Option<Uuid>,
    /// Approvals, oldest first.
    pub approvals: Vec<BranchApprovalRecord>,
    /// Standing vetoes, oldest first.
    pub vetoes: Vec<VetoRecord>,
    /// The rule's verdict with the team as it is.
    pub standing: Standing,
    /// Messages in its discussion.
    pub discussion_count: i64,
    /// When and by whom merged.
    pub merged: Option<(DateTime<Utc>, UserRef)>,
    /// When and by whom closed.
    pub closed: Option<(DateTime<Utc>, UserRef)>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// One discussion message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscussionRecord {
    /// Id.
    pub id: Uuid,
    /// Its branch.
    pub branch_id: Uuid,
    /// The message it replies to.
    pub parent_id: Option<Uuid>,
    /// Who wrote it.
    pub author: UserRef,
    /// Text.
    pub content: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What a branch write did, or why it did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchWrite<T> {
    /// Written.
    Done(T),
    /// The branch or fact named does not exist.
    Missing,
    /// The caller may not do this.
    Forbidden,
    /// The branch is no longer open.
    Final(BranchStatus),
    /// The fact is archived.
    Archived,
    /// The proposed value equals the fact's current one.
    SameValue,
    /// A reply's parent is not a message of the branch.
    UnknownParent,
    /// Merging needs its base to be the fact's current version.
    StaleBase {
        /// The fact's value now.
        value: String,
        /// The fact's version now.
        version: i32,
    },
    /// A veto stands.
    Vetoed,
    /// The rule is not met.
    ApprovalRequired(Standing),
}

/// A new branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBranch {
    /// Its fact.
    pub fact: Uuid,
    /// Title.
    pub title: String,
    /// Proposed value.
    pub proposed_value: String,
    /// Why.
    pub reason: String,
    /// Who proposes it.
    pub author: Uuid,
    /// When.
    pub now: DateTime<Utc>,
}

/// A change to a branch's text; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BranchEdit {
    /// New title.
    pub title: Option<String>,
    /// New proposed value.
    pub proposed_value: Option<String>,
    /// New reason.
    pub reason: Option<String>,
}

/// Who acts on a branch, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BranchAct {
    /// The branch.
    pub branch: Uuid,
    /// The caller.
    pub actor: Uuid,
    /// When.
    pub now: DateTime<Utc>,
}

/// A branch life-cycle or review action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchAction {
    /// Approve as the caller.
    Approve,
    /// Withdraw the caller's approval.
    WithdrawApproval,
    /// Veto with a reason.
    Veto(String),
    /// Withdraw the caller's veto.
    WithdrawVeto,
    /// Move the base to the fact's current value (author only).
    Rebase,
    /// Change the text (author only).
    Edit(BranchEdit),
    /// Close without merging (author, admin or owner).
    Close,
    /// Merge, with an owner's override reason when the rule can never be met.
    Merge(Option<String>),
}

/// Storage of branches, their discussions and the team's approval rule.
#[async_trait]
pub trait BranchStore: Send + Sync + 'static {
    /// Branches of a fact (or of every fact of a team), newest first.
    async fn branches(&self, scope: BranchScope, status: Option<BranchStatus>, page: PageRequest)
    -> Result<Page<BranchRecord>, StoreError>;
    /// One branch.
    async fn branch(&self, id: Uuid) -> Result<Option<BranchRecord>, StoreError>;
    /// Opens a branch against the fact's current value, as a member of its team.
    async fn create_branch(&self, branch: NewBranch) -> Result<BranchWrite<BranchRecord>, StoreError>;
    /// Applies an action in one transaction with the fact, the branch and the member rows locked.
    async fn act(&self, act: BranchAct, action: BranchAction) -> Result<BranchWrite<BranchRecord>, StoreError>;
    /// A branch's discussion, oldest first.
    async fn discussions(&self, branch: Uuid, page: PageRequest) -> Result<Page<DiscussionRecord>, StoreError>;
    /// Posts to a branch's discussion.
    async fn create_discussion(
        &self,
        act: BranchAct,
        parent: Option<Uuid>,
        content: String,
    ) -> Result<BranchWrite<DiscussionRecord>, StoreError>;
    /// The team's approval rule.
    async fn approval_rule(&self, team: Uuid) -> Result<Rule, StoreError>;
    /// Sets the team's approval rule, as an admin or owner.
    async fn set_approval_rule(&self, team: Uuid, actor: Uuid, rule: Rule, now: DateTime<Utc>) -> Result<BranchWrite<Rule>, StoreError>;
}

/// Which branches to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchScope {
    /// One fact's.
    Fact(Uuid),
    /// Every fact's of a team.
    Team(Uuid),
}
