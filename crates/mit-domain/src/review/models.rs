//! Review records as the contract shows them, and the one mapping of review failures onto the
//! domain's errors.

use mit_api::server::models::{
    FactCandidate, Review, ReviewApprovalSummary, ReviewComment, ReviewLine, ReviewStatus, ReviewSuggestion, ReviewerApproval,
    SuggestionVote,
};

use super::rules::{Refusal, ReviewState};
use crate::error::DomainError;
use crate::ports::review::{CommentRecord, LineRecord, ReviewFailure, ReviewRecord, ReviewerRecord, SuggestionRecord};
use crate::users::user_ref_model;
use uuid::Uuid;

pub(super) fn review_model(review: ReviewRecord, viewer: Uuid) -> Review {
    let status = review.state.status();
    let approved = matches!(status, ReviewStatus::Approved | ReviewStatus::Merged);
    Review {
        id: review.id,
        meeting_id: review.meeting_id,
        status,
        created_by: user_ref_model(review.created_by),
        revision: review.state.revision,
        approvals: approval_summary(&review.state, viewer),
        pending_suggestion_count: review.state.pending_suggestions,
        line_count: review.lines.len() as i64,
        lines: review.lines.into_iter().map(line_model).collect(),
        submitted_at: review.submitted_at,
        approved_at: if approved { review.last_approved_at } else { None },
        merged_at: review.merged.as_ref().map(|(at, _)| *at),
        merged_by: review.merged.map(|(_, by)| user_ref_model(by)),
        closed_at: review.closed.as_ref().map(|(at, _)| *at),
        closed_by: review.closed.map(|(_, by)| user_ref_model(by)),
        created_at: review.created_at,
        updated_at: review.updated_at,
    }
}

pub(super) fn approval_summary(state: &ReviewState, viewer: Uuid) -> ReviewApprovalSummary {
    ReviewApprovalSummary {
        reviewer_count: state.reviewers.len() as i64,
        approved_count: state.approved_count() as i64,
        stale_count: state.stale_count() as i64,
        approved_by_me: state.approved_by(viewer),
        i_am_reviewer: state.is_reviewer(viewer),
    }
}

pub(super) fn reviewer_model(reviewer: ReviewerRecord, revision: i64) -> ReviewerApproval {
    ReviewerApproval {
        reviewer: user_ref_model(reviewer.user),
        approved: reviewer.approval.is_some_and(|(r, _)| r == revision),
        stale: reviewer.approval.is_some_and(|(r, _)| r != revision),
        approved_revision: reviewer.approval.map(|(r, _)| r),
        approved_at: reviewer.approval.map(|(_, at)| at),
    }
}

pub(super) fn line_model(line: LineRecord) -> ReviewLine {
    ReviewLine {
        id: line.id,
        line_number: line.line_number,
        content: line.content,
        original_content: line.original_content,
        comment_count: line.comment_count,
        pending_suggestion_count: line.pending_suggestion_count,
        fact_candidate: line.candidate.map(|c| FactCandidate {
            key: c.key,
            value: c.value,
            category: c.category,
            project_id: c.project_id,
            marked_by: user_ref_model(c.marked_by),
            marked_at: c.marked_at,
        }),
        fact_id: line.fact_id,
        branch_id: line.branch_id,
    }
}

pub(super) fn comment_model(comment: CommentRecord) -> ReviewComment {
    ReviewComment {
        id: comment.id,
        line_id: comment.line_id,
        parent_id: comment.parent_id,
        author: user_ref_model(comment.author),
        deleted: comment.content.is_none(),
        content: comment.content,
        edited_at: comment.edited_at,
        created_at: comment.created_at,
    }
}

pub(super) fn suggestion_model(suggestion: SuggestionRecord) -> ReviewSuggestion {
    ReviewSuggestion {
        id: suggestion.id,
        line_id: suggestion.line_id,
        author: user_ref_model(suggestion.author),
        original_text: suggestion.original_text,
        suggested_text: suggestion.suggested_text,
        reason: suggestion.reason,
        status: suggestion.status,
        resolution: suggestion.resolution,
        votes: suggestion
            .votes
            .into_iter()
            .map(|v| SuggestionVote { user: user_ref_model(v.user), vote: v.vote, voted_at: v.voted_at })
            .collect(),
        resolved_at: suggestion.resolved_at,
        resolved_by: suggestion.resolved_by.map(user_ref_model),
        created_at: suggestion.created_at,
        updated_at: suggestion.updated_at,
    }
}

impl From<Refusal> for DomainError {
    fn from(refusal: Refusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            Refusal::NotHost | Refusal::NotReviewer | Refusal::OwnSuggestion | Refusal::NotAuthor => DomainError::Forbidden(message),
            Refusal::Immutable => DomainError::conflict("immutable", message),
            Refusal::WrongState { current } => {
                DomainError::Conflict { code: "conflict", message, details: vec![("current", current.as_str().into())] }
            }
            Refusal::Transition { current, requested } => DomainError::transition(current.as_str(), requested.as_str()),
            Refusal::Stale { current, .. } => {
                DomainError::Conflict { code: "stale", message, details: vec![("current_revision", current.into())] }
            }
            Refusal::NotPending { current, requested } => DomainError::transition(current.as_str(), requested.as_str()),
        }
    }
}

impl From<ReviewFailure> for DomainError {
    fn from(failure: ReviewFailure) -> Self {
        let message = failure.to_string();
        match failure {
            ReviewFailure::Store(error) => error.into(),
            ReviewFailure::Refused(refusal) => refusal.into(),
            ReviewFailure::Missing(what) => DomainError::NotFound(what),
            ReviewFailure::AlreadyExists => DomainError::conflict("already_exists", message),
            ReviewFailure::MeetingNotCompleted(current) => {
                DomainError::Conflict { code: "conflict", message, details: vec![("current", current.into())] }
            }
            ReviewFailure::UnknownParent => DomainError::unknown("parent_id", message),
            ReviewFailure::DeletedParent => {
                DomainError::Conflict { code: "conflict", message, details: vec![("field", "parent_id".into())] }
            }
            ReviewFailure::Unchanged => {
                DomainError::Conflict { code: "conflict", message, details: vec![("field", "suggested_text".into())] }
            }
            ReviewFailure::NoTeam => DomainError::Conflict { code: "conflict", message, details: vec![("field", "team_id".into())] },
            ReviewFailure::CandidateTaken(other) => DomainError::Conflict {
                code: "already_exists",
                message: if other.is_some() {
                    "another line of this review proposes this key".into()
                } else {
                    "the line is marked already".into()
                },
                details: other.map(|line| ("line_id", line.to_string().into())).into_iter().collect(),
            },
            ReviewFailure::CandidateTooLong => {
                DomainError::Conflict { code: "conflict", message, details: vec![("field", "value".into())] }
            }
            ReviewFailure::UnknownProject => DomainError::unknown("project_id", message),
            ReviewFailure::NotMarked => DomainError::NotFound("fact candidate"),
            ReviewFailure::CandidateArchived(line) => DomainError::Conflict {
                code: "conflict",
                message,
                details: vec![("line_id", line.to_string().into()), ("current", "archived".into())],
            },
        }
    }
}
