//! Reviews of meetings' minutes. Every write locks the review row, reads a
//! [`ReviewState`](crate::review::rules::ReviewState) inside the transaction, lets the rules in
//! [`crate::review::rules`] decide, writes, and appends its events to the outbox, all in one
//! transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mit_api::server::models::{SuggestionResolutionReason, SuggestionStatus, Vote};
use uuid::Uuid;

use super::StoreError;
use super::people::UserRef;
use crate::paging::{Page, PageRequest};
use crate::review::rules::{Refusal, ReviewState, Transition};

/// A stored review with its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRecord {
    /// Id.
    pub id: Uuid,
    /// Its meeting.
    pub meeting_id: Uuid,
    /// The host who created it.
    pub created_by: UserRef,
    /// Phase, revision, reviewers and approvals.
    pub state: ReviewState,
    /// Every line, in order.
    pub lines: Vec<LineRecord>,
    /// When the last current approval was given.
    pub last_approved_at: Option<DateTime<Utc>>,
    /// When it was submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// When and by whom it was merged.
    pub merged: Option<(DateTime<Utc>, UserRef)>,
    /// When and by whom it was closed (while closed).
    pub closed: Option<(DateTime<Utc>, UserRef)>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// One line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRecord {
    /// Id.
    pub id: Uuid,
    /// 1-based position.
    pub line_number: i32,
    /// Current text.
    pub content: String,
    /// The imported text, once a suggestion rewrote it.
    pub original_content: Option<String>,
    /// Comments not deleted.
    pub comment_count: i64,
    /// Suggestions pending.
    pub pending_suggestion_count: i64,
    /// Its fact candidate, if marked.
    pub candidate: Option<CandidateRecord>,
    /// Once merged: the fact the candidate became or was proposed for.
    pub fact_id: Option<Uuid>,
    /// Once merged: the branch opened on an existing fact.
    pub branch_id: Option<Uuid>,
}

/// A line's fact candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateRecord {
    /// The fact's key.
    pub key: String,
    /// Its value.
    pub value: String,
    /// For a new fact.
    pub category: Option<String>,
    /// For a new fact.
    pub project_id: Option<Uuid>,
    /// Who marked it.
    pub marked_by: UserRef,
    /// When.
    pub marked_at: DateTime<Utc>,
}

/// What a reviewer marks a line as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateMark {
    /// Trimmed key.
    pub key: String,
    /// The value, or `None` for the line's content.
    pub value: Option<String>,
    /// For a new fact.
    pub category: Option<String>,
    /// For a new fact.
    pub project_id: Option<Uuid>,
}

/// One comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRecord {
    /// Id.
    pub id: Uuid,
    /// Its line.
    pub line_id: Uuid,
    /// The comment it replies to.
    pub parent_id: Option<Uuid>,
    /// Who wrote it.
    pub author: UserRef,
    /// Its text; `None` once deleted.
    pub content: Option<String>,
    /// Last edit.
    pub edited_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// One vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteRecord {
    /// The voter.
    pub user: UserRef,
    /// Their vote.
    pub vote: Vote,
    /// When cast or changed.
    pub voted_at: DateTime<Utc>,
}

/// One suggestion with its votes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestionRecord {
    /// Id.
    pub id: Uuid,
    /// Its line.
    pub line_id: Uuid,
    /// Who suggested it.
    pub author: UserRef,
    /// The line's text when suggested.
    pub original_text: String,
    /// The proposed text.
    pub suggested_text: String,
    /// Why.
    pub reason: Option<String>,
    /// Status.
    pub status: SuggestionStatus,
    /// Why it stopped being pending.
    pub resolution: Option<SuggestionResolutionReason>,
    /// Who ended it (a host, or its author withdrawing).
    pub resolved_by: Option<UserRef>,
    /// When it stopped being pending.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Votes, oldest first.
    pub votes: Vec<VoteRecord>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// One reviewer and their approval, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewerRecord {
    /// The reviewer.
    pub user: UserRef,
    /// The revision they approved and when.
    pub approval: Option<(i64, DateTime<Utc>)>,
}

/// Who acts, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Act {
    /// The meeting whose review it is.
    pub meeting: Uuid,
    /// The caller.
    pub actor: Uuid,
    /// The time.
    pub now: DateTime<Utc>,
}

/// Why a review write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReviewFailure {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The rules refused.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The review, line, comment or suggestion named does not exist.
    #[error("{0} not found")]
    Missing(&'static str),
    /// The meeting already has a review.
    #[error("the meeting already has a review")]
    AlreadyExists,
    /// The meeting is not completed; its status.
    #[error("the meeting is `{0}`")]
    MeetingNotCompleted(String),
    /// A reply's parent is not a comment of the same line.
    #[error("the parent is not a comment of this line")]
    UnknownParent,
    /// A reply's parent is deleted.
    #[error("the parent comment is deleted")]
    DeletedParent,
    /// A suggestion that would not change the line.
    #[error("the line already reads so")]
    Unchanged,
    /// Fact candidates need the meeting to belong to a team.
    #[error("the meeting belongs to no team, so it has no Ground Truth to add to")]
    NoTeam,
    /// The line is marked already, or another line (named) proposes the key.
    #[error("already marked")]
    CandidateTaken(Option<Uuid>),
    /// The line is longer than a fact's value may be and no value was given.
    #[error("the line is longer than a fact's value may be: give `value`")]
    CandidateTooLong,
    /// The project named is not one of the team's.
    #[error("no project of the meeting's team has this id")]
    UnknownProject,
    /// The line has no candidate to take back.
    #[error("the line is not marked")]
    NotMarked,
    /// A candidate's fact is archived (the line named), so the merge cannot propose to it.
    #[error("the fact a candidate proposes a value for is archived")]
    CandidateArchived(Uuid),
}

/// Storage of reviews.
#[async_trait]
pub trait ReviewStore: Send + Sync + 'static {
    /// Creates the review of a completed meeting, as its host, from these lines.
    async fn create_review(&self, act: Act, lines: Vec<String>) -> Result<ReviewRecord, ReviewFailure>;
    /// The meeting's review.
    async fn review(&self, meeting: Uuid) -> Result<Option<ReviewRecord>, StoreError>;
    /// Replaces a draft's lines.
    async fn replace_content(&self, act: Act, lines: Vec<String>) -> Result<ReviewRecord, ReviewFailure>;
    /// Applies a host's life-cycle request.
    async fn transition(&self, act: Act, request: Transition) -> Result<ReviewRecord, ReviewFailure>;
    /// Records the caller's approval of `revision`.
    async fn approve(&self, act: Act, revision: i64) -> Result<ReviewState, ReviewFailure>;
    /// Withdraws the caller's approval.
    async fn withdraw_approval(&self, act: Act) -> Result<ReviewState, ReviewFailure>;
    /// The reviewers, by name then id; `None` without a review.
    async fn reviewers(&self, meeting: Uuid, page: PageRequest) -> Result<Option<(ReviewState, Page<ReviewerRecord>)>, StoreError>;
    /// A page of lines; `None` without a review.
    async fn lines(&self, meeting: Uuid, page: PageRequest) -> Result<Option<Page<LineRecord>>, StoreError>;
    /// A line's comments; `None` when the line is not the review's.
    async fn comments(&self, meeting: Uuid, line: Uuid, page: PageRequest) -> Result<Option<Page<CommentRecord>>, StoreError>;
    /// Writes a comment on a line.
    async fn create_comment(&self, act: Act, line: Uuid, parent: Option<Uuid>, content: String) -> Result<CommentRecord, ReviewFailure>;
    /// Edits the caller's comment.
    async fn edit_comment(&self, act: Act, comment: Uuid, content: String) -> Result<CommentRecord, ReviewFailure>;
    /// Deletes a comment, leaving a placeholder.
    async fn delete_comment(&self, act: Act, comment: Uuid) -> Result<(), ReviewFailure>;
    /// A line's suggestions; `None` when the line is not the review's.
    async fn suggestions(
        &self,
        meeting: Uuid,
        line: Uuid,
        status: Option<SuggestionStatus>,
        page: PageRequest,
    ) -> Result<Option<Page<SuggestionRecord>>, StoreError>;
    /// Suggests a new text for a line.
    async fn create_suggestion(
        &self,
        act: Act,
        line: Uuid,
        text: String,
        reason: Option<String>,
    ) -> Result<SuggestionRecord, ReviewFailure>;
    /// Casts or changes the caller's vote.
    async fn vote(&self, act: Act, suggestion: Uuid, vote: Vote) -> Result<SuggestionRecord, ReviewFailure>;
    /// A host accepts or rejects.
    async fn resolve(&self, act: Act, suggestion: Uuid, accept: bool) -> Result<SuggestionRecord, ReviewFailure>;
    /// The author withdraws.
    async fn withdraw_suggestion(&self, act: Act, suggestion: Uuid) -> Result<SuggestionRecord, ReviewFailure>;
    /// Marks a line as a fact candidate (the revision rises).
    async fn mark_candidate(&self, act: Act, line: Uuid, mark: CandidateMark) -> Result<LineRecord, ReviewFailure>;
    /// Takes a line's candidate back (the revision rises).
    async fn unmark_candidate(&self, act: Act, line: Uuid) -> Result<LineRecord, ReviewFailure>;
}
