//! The review's events (`events.yaml`, `EventMessage` with `ReviewEventData`): what the store
//! appends to the outbox in the transaction of each change.

use mit_api::server::models::{ReviewStatus, SuggestionResolutionReason, SuggestionStatus, Vote};
use serde::Serialize;
use uuid::Uuid;

use super::TopicEvent;
use crate::review::rules::ReviewState;

/// What happened to a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewEventKind {
    /// The host created it.
    ReviewCreated,
    /// The host replaced a draft's lines.
    ContentReplaced,
    /// Its status changed (including to and from the computed `approved`).
    StatusChanged,
    /// A comment was written.
    CommentCreated,
    /// A comment was edited.
    CommentEdited,
    /// A comment was deleted.
    CommentDeleted,
    /// A suggestion was made.
    SuggestionCreated,
    /// A suggestion stopped being pending.
    SuggestionResolved,
    /// A vote was cast or changed.
    VoteCast,
    /// A line was rewritten by an accepted suggestion.
    LineRewritten,
    /// A reviewer approved.
    ApprovalGiven,
    /// A reviewer withdrew their approval.
    ApprovalWithdrawn,
    /// Approvals no longer match the revision.
    ApprovalStale,
    /// A line was marked as a fact candidate, or the mark taken back.
    FactCandidateChanged,
}

impl ReviewEventKind {
    /// The `kind` on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReviewCreated => "review-created",
            Self::ContentReplaced => "review-content-replaced",
            Self::StatusChanged => "review-status-changed",
            Self::CommentCreated => "comment-created",
            Self::CommentEdited => "comment-edited",
            Self::CommentDeleted => "comment-deleted",
            Self::SuggestionCreated => "suggestion-created",
            Self::SuggestionResolved => "suggestion-resolved",
            Self::VoteCast => "vote-cast",
            Self::LineRewritten => "line-rewritten",
            Self::ApprovalGiven => "approval-given",
            Self::ApprovalWithdrawn => "approval-withdrawn",
            Self::ApprovalStale => "approval-stale",
            Self::FactCandidateChanged => "fact-candidate-changed",
        }
    }
}

/// The ids and values a client patches its view with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReviewEventData {
    /// The review.
    pub review_id: Uuid,
    /// Its revision after the change.
    pub revision: i64,
    /// Its status after the change.
    pub status: &'static str,
    /// The status before (`review-status-changed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<&'static str>,
    /// The line concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_id: Option<Uuid>,
    /// The comment concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<Uuid>,
    /// The comment replied to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Uuid>,
    /// A comment's or a line's new text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The suggestion concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion_id: Option<Uuid>,
    /// A new suggestion's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_text: Option<String>,
    /// A resolved suggestion's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion_status: Option<&'static str>,
    /// Why it was resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<&'static str>,
    /// A vote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vote: Option<&'static str>,
    /// The user concerned (a voter, an approver).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// The users concerned (stale approvals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_ids: Option<Vec<Uuid>>,
}

/// An event to append to the outbox; the store gives it its `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewEvent {
    /// What happened.
    pub kind: ReviewEventKind,
    /// The details.
    pub data: ReviewEventData,
}

impl ReviewEvent {
    /// An event of `kind` about the review in `state`; fill in `data` further as needed.
    pub fn new(kind: ReviewEventKind, review_id: Uuid, state: &ReviewState) -> Self {
        let data = ReviewEventData { review_id, revision: state.revision, status: state.status().as_str(), ..Default::default() };
        Self { kind, data }
    }

    /// The status change from `before` to `after`, if there is one.
    pub fn status_change(review_id: Uuid, before: ReviewStatus, after: &ReviewState) -> Option<Self> {
        (before != after.status()).then(|| {
            let mut event = Self::new(ReviewEventKind::StatusChanged, review_id, after);
            event.data.previous_status = Some(before.as_str());
            event
        })
    }

    /// Sets the line.
    pub fn line(mut self, line: Uuid) -> Self {
        self.data.line_id = Some(line);
        self
    }

    /// Sets the suggestion.
    pub fn suggestion(mut self, suggestion: Uuid) -> Self {
        self.data.suggestion_id = Some(suggestion);
        self
    }

    /// Sets the user.
    pub fn user(mut self, user: Uuid) -> Self {
        self.data.user_id = Some(user);
        self
    }

    /// Sets a resolved suggestion's outcome.
    pub fn resolved(mut self, status: SuggestionStatus, reason: SuggestionResolutionReason) -> Self {
        self.data.suggestion_status = Some(status.as_str());
        self.data.resolution = Some(reason.as_str());
        self
    }

    /// Sets a vote.
    pub fn vote(mut self, vote: Vote) -> Self {
        self.data.vote = Some(vote.as_str());
        self
    }
}

impl TopicEvent for ReviewEvent {
    fn kind(&self) -> &'static str {
        self.kind.as_str()
    }

    fn data(&self) -> serde_json::Value {
        serde_json::to_value(&self.data).unwrap_or_default()
    }
}
