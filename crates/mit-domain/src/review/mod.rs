//! Minutes reviewed like a pull request: the `ReviewApi` handlers. Visibility is checked here;
//! every write is decided by [`rules`] inside the store's transaction, so a concurrent change of
//! roles, approvals or votes is seen by the decision that depends on it.

pub mod lines;
mod models;
pub mod rules;

use mit_api::server::ReviewApi;
use mit_api::server::models::SuggestionResolution;
use mit_api::server::models::{ReviewApprovalResult, ReviewCommentPage, ReviewLinePage, ReviewSuggestionPage, ReviewerApprovalPage};
use mit_api::server::ops::{
    approve_review, cast_suggestion_vote, close_review, create_line_comment, create_line_suggestion, create_review, delete_review_comment,
    get_review, list_line_comments, list_line_suggestions, list_review_approvals, list_review_lines, mark_fact_candidate, merge_review,
    reopen_review, replace_review_content, resolve_suggestion, submit_review, unmark_fact_candidate, update_review_comment,
    withdraw_review_approval, withdraw_suggestion,
};
use mit_api::server::runtime::Json;
use uuid::Uuid;

use crate::error::{ApiResult, DomainError};
use crate::paging::PageRequest;
use crate::ports::meetings::MeetingView;
use crate::ports::review::{Act, CandidateMark, ReviewRecord};
use crate::{Caller, Mit};
use lines::NotesRefusal;
use models::{approval_summary, comment_model, line_model, review_model, reviewer_model, suggestion_model};
use rules::Transition;

/// Notes read per page when the minutes are made of them.
const NOTES_PAGE: i32 = 100;

impl ReviewApi for Mit {
    async fn create_review(&self, caller: &Caller, request: create_review::Request) -> ApiResult<create_review::Response> {
        let act = self.review_act(request.meeting_id, caller).await?.0;
        let content = match request.body.content {
            Some(content) => content,
            None => self.minutes_from_notes(act.meeting).await?,
        };
        let lines = lines::split(&content);
        let review = self.ports.review.create_review(act, lines).await.map_err(DomainError::from)?;
        Ok(create_review::Response::Created(Json(review_model(review, caller.user_id))))
    }

    async fn get_review(&self, caller: &Caller, request: get_review::Request) -> ApiResult<get_review::Response> {
        let review = self.visible_review(request.meeting_id, caller).await?;
        Ok(get_review::Response::Ok(Json(review_model(review, caller.user_id))))
    }

    async fn replace_review_content(
        &self,
        caller: &Caller,
        request: replace_review_content::Request,
    ) -> ApiResult<replace_review_content::Response> {
        let act = self.review_act(request.meeting_id, caller).await?.0;
        let lines = lines::split(&request.body.content);
        let review = self.ports.review.replace_content(act, lines).await.map_err(DomainError::from)?;
        Ok(replace_review_content::Response::Ok(Json(review_model(review, caller.user_id))))
    }

    async fn submit_review(&self, caller: &Caller, request: submit_review::Request) -> ApiResult<submit_review::Response> {
        let review = self.transition_review(request.meeting_id, caller, Transition::Submit).await?;
        Ok(submit_review::Response::Ok(Json(review_model(review, caller.user_id))))
    }

    async fn close_review(&self, caller: &Caller, request: close_review::Request) -> ApiResult<close_review::Response> {
        let review = self.transition_review(request.meeting_id, caller, Transition::Close).await?;
        Ok(close_review::Response::Ok(Json(review_model(review, caller.user_id))))
    }

    async fn reopen_review(&self, caller: &Caller, request: reopen_review::Request) -> ApiResult<reopen_review::Response> {
        let review = self.transition_review(request.meeting_id, caller, Transition::Reopen).await?;
        Ok(reopen_review::Response::Ok(Json(review_model(review, caller.user_id))))
    }

    async fn merge_review(&self, caller: &Caller, request: merge_review::Request) -> ApiResult<merge_review::Response> {
        let merge = Transition::Merge { revision: request.body.revision };
        let review = self.transition_review(request.meeting_id, caller, merge).await?;
        Ok(merge_review::Response::Ok(Json(review_model(review, caller.user_id))))
    }

    async fn list_review_approvals(
        &self,
        caller: &Caller,
        request: list_review_approvals::Request,
    ) -> ApiResult<list_review_approvals::Response> {
        self.visible_meeting(request.meeting_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let (state, page) = self.ports.review.reviewers(request.meeting_id, paging).await?.ok_or(DomainError::NotFound("review"))?;
        Ok(list_review_approvals::Response::Ok(Json(ReviewerApprovalPage {
            items: page.items.into_iter().map(|r| reviewer_model(r, state.revision)).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn approve_review(&self, caller: &Caller, request: approve_review::Request) -> ApiResult<approve_review::Response> {
        let act = self.review_act(request.meeting_id, caller).await?.0;
        let state = self.ports.review.approve(act, request.body.revision).await.map_err(DomainError::from)?;
        Ok(approve_review::Response::Ok(Json(ReviewApprovalResult {
            status: state.status(),
            revision: state.revision,
            approvals: approval_summary(&state, caller.user_id),
        })))
    }

    async fn withdraw_review_approval(
        &self,
        caller: &Caller,
        request: withdraw_review_approval::Request,
    ) -> ApiResult<withdraw_review_approval::Response> {
        let act = self.review_act(request.meeting_id, caller).await?.0;
        let state = self.ports.review.withdraw_approval(act).await.map_err(DomainError::from)?;
        Ok(withdraw_review_approval::Response::Ok(Json(ReviewApprovalResult {
            status: state.status(),
            revision: state.revision,
            approvals: approval_summary(&state, caller.user_id),
        })))
    }

    async fn list_review_lines(&self, caller: &Caller, request: list_review_lines::Request) -> ApiResult<list_review_lines::Response> {
        self.visible_meeting(request.meeting_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let page = self.ports.review.lines(request.meeting_id, paging).await?.ok_or(DomainError::NotFound("review"))?;
        Ok(list_review_lines::Response::Ok(Json(ReviewLinePage {
            items: page.items.into_iter().map(line_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn list_line_comments(&self, caller: &Caller, request: list_line_comments::Request) -> ApiResult<list_line_comments::Response> {
        self.visible_meeting(request.meeting_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let page = self.ports.review.comments(request.meeting_id, request.line_id, paging).await?.ok_or(DomainError::NotFound("line"))?;
        Ok(list_line_comments::Response::Ok(Json(ReviewCommentPage {
            items: page.items.into_iter().map(comment_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn create_line_comment(
        &self,
        caller: &Caller,
        request: create_line_comment::Request,
    ) -> ApiResult<create_line_comment::Response> {
        let act = self.review_act(request.meeting_id, caller).await?.0;
        let body = request.body;
        let comment =
            self.ports.review.create_comment(act, request.line_id, body.parent_id, body.content).await.map_err(DomainError::from)?;
        Ok(create_line_comment::Response::Created(Json(comment_model(comment))))
    }

    async fn update_review_comment(
        &self,
        caller: &Caller,
        request: update_review_comment::Request,
    ) -> ApiResult<update_review_comment::Response> {
        let act = self.review_act(request.meeting_id, caller).await?.0;
        let comment = self.ports.review.edit_comment(act, request.comment_id, request.body.content).await.map_err(DomainError::from)?;
        Ok(update_review_comment::Response::Ok(Json(comment_model(comment))))
    }

    async fn delete_review_comment(
        &self,
        caller: &Caller,
        request: delete_review_comment::Request,
    ) -> ApiResult<delete_review_comment::Response> {
        let act = self.review_act(request.meeting_id, caller).await?.0;
        self.ports.review.delete_comment(act, request.comment_id).await.map_err(DomainError::from)?;
        Ok(delete_review_comment::Response::NoContent)
    }

    async fn list_line_suggestions(
        &self,
        caller: &Caller,
        request: list_line_suggestions::Request,
    ) -> ApiResult<list_line_suggestions::Response> {
        self.visible_meeting(request.meeting_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let page = self
            .ports
            .review
            .suggestions(request.meeting_id, request.line_id, request.status, paging)
            .await?
            .ok_or(DomainError::NotFound("line"))?;
        Ok(list_line_suggestions::Response::Ok(Json(ReviewSuggestionPage {
            items: page.items.into_iter().map(suggestion_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn create_line_suggestion(
        &self,
        caller: &Caller,
        request: create_line_suggestion::Request,
    ) -> ApiResult<create_line_suggestion::Response> {
        let act = self.review_act(request.meeting_id, caller).await?.0;
        let body = request.body;
        let suggestion =
            self.ports.review.create_suggestion(act, request.line_id, body.suggested_text, body.reason).await.map_err(DomainError::from)?;
        Ok(create_line_suggestion::Response::Created(Json(suggestion_model(suggestion))))
    }

    async fn cast_suggestion_vote(
        &self,
        caller: &Caller,
        request: cast_suggestion_vote::Request,
    ) -> ApiResult<cast_suggestion_vote::Response> {
        let act = self.review_act(request.meeting_id, caller).await?.0;
        let suggestion = self.ports.review.vote(act, request.suggestion_id, request.body.vote).await.map_err(DomainError::from)?;
        Ok(cast_suggestion_vote::Response::Ok(Json(suggestion_model(suggestion))))
    }

    async fn resolve_suggestion(&self, caller: &Caller, request: resolve_suggestion::Request) -> ApiResult<resolve_suggestion::Response> {
        let act = self.review_act(request.meeting_id, caller).await?.0;
        let accept = request.body.status == SuggestionResolution::Accepted;
        let suggestion = self.ports.review.resolve(act, request.suggestion_id, accept).await.map_err(DomainError::from)?;
        Ok(resolve_suggestion::Response::Ok(Json(suggestion_model(suggestion))))
    }

    async fn mark_fact_candidate(
        &self,
        caller: &Caller,
        request: mark_fact_candidate::Request,
    ) -> ApiResult<mark_fact_candidate::Response> {
        self.mark_candidate(caller, request).await
    }

    async fn unmark_fact_candidate(
        &self,
        caller: &Caller,
        request: unmark_fact_candidate::Request,
    ) -> ApiResult<unmark_fact_candidate::Response> {
        self.unmark_candidate(caller, request).await
    }

    async fn withdraw_suggestion(
        &self,
        caller: &Caller,
        request: withdraw_suggestion::Request,
    ) -> ApiResult<withdraw_suggestion::Response> {
        let act = self.review_act(request.meeting_id, caller).await?.0;
        let suggestion = self.ports.review.withdraw_suggestion(act, request.suggestion_id).await.map_err(DomainError::from)?;
        Ok(withdraw_suggestion::Response::Ok(Json(suggestion_model(suggestion))))
    }
}

impl Mit {
    async fn mark_candidate(&self, caller: &Caller, request: mark_fact_candidate::Request) -> ApiResult<mark_fact_candidate::Response> {
        let act = self.review_act(request.meeting_id, caller).await?.0;
        let body = request.body;
        let key = crate::knowledge::rules::normalise_key(&body.key)
            .ok_or_else(|| DomainError::invalid("key", "a key is more than white space"))?;
        let mark = CandidateMark { key, value: body.value, category: body.category, project_id: body.project_id };
        let line = self.ports.review.mark_candidate(act, request.line_id, mark).await.map_err(DomainError::from)?;
        Ok(mark_fact_candidate::Response::Ok(Json(line_model(line))))
    }

    async fn unmark_candidate(
        &self,
        caller: &Caller,
        request: unmark_fact_candidate::Request,
    ) -> ApiResult<unmark_fact_candidate::Response> {
        let act = self.review_act(request.meeting_id, caller).await?.0;
        let line = self.ports.review.unmark_candidate(act, request.line_id).await.map_err(DomainError::from)?;
        Ok(unmark_fact_candidate::Response::Ok(Json(line_model(line))))
    }

    /// The act of a caller who can see the meeting; who may do what is decided in the store's
    /// transaction.
    async fn review_act(&self, meeting: Uuid, caller: &Caller) -> Result<(Act, MeetingView), DomainError> {
        let view = self.visible_meeting(meeting, caller.user_id).await?;
        Ok((Act { meeting: view.meeting.id, actor: caller.user_id, now: self.ports.clock.now() }, view))
    }

    async fn visible_review(&self, meeting: Uuid, caller: &Caller) -> Result<ReviewRecord, DomainError> {
        self.visible_meeting(meeting, caller.user_id).await?;
        self.ports.review.review(meeting).await?.ok_or(DomainError::NotFound("review"))
    }

    async fn transition_review(&self, meeting: Uuid, caller: &Caller, request: Transition) -> Result<ReviewRecord, DomainError> {
        let act = self.review_act(meeting, caller).await?.0;
        Ok(self.ports.review.transition(act, request).await?)
    }

    /// The meeting's notes in creation order, as minutes.
    async fn minutes_from_notes(&self, meeting: Uuid) -> Result<String, DomainError> {
        let mut notes = Vec::new();
        for page in 1.. {
            let batch = self.ports.notes.notes(meeting, PageRequest::new(page, NOTES_PAGE)).await?;
            let done = batch.items.len() < NOTES_PAGE as usize;
            notes.extend(batch.items.into_iter().map(|n| n.content));
            if done {
                break;
            }
        }
        lines::from_notes(&notes).map_err(|refusal| {
            let message = match refusal {
                NotesRefusal::NoNotes => "the meeting has no notes: give the minutes as `content`",
                NotesRefusal::TooLong => "the meeting's notes are longer than a review holds: give the minutes as `content`",
            };
            DomainError::Conflict { code: "conflict", message: message.into(), details: vec![("field", "content".into())] }
        })
    }
}
