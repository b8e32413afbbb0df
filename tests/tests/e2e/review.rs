//! Reviews: the minutes of a completed meeting reviewed line by line like a pull request.
//! Reviewers are the hosts and the participants who entered the room; the review is `approved`
//! exactly when all of them approved the current revision and nothing is pending.

use std::num::NonZeroU64;
use std::time::Duration;

use mit_client::types::{
    self, MeetingStatus, ParticipantRole, ReviewStatus, SuggestionResolution, SuggestionResolutionReason, SuggestionStatus, Vote,
};
use mit_client::{Error, ResponseValue};
use mit_tests::room::RoomClient;
use mit_tests::{TestApp, TestUser};
use serde_json::json;

use crate::meetings::{meeting, team_meeting};
use crate::{expect_error, race};

/// Three lines; suggestions in these tests rewrite the second.
const MINUTES: &str = "# Minutes\n- Ship on Friday\n- Ana writes the release notes";

/// Rounds per race: enough to hit both orders many times on two cores.
const ROUNDS: usize = 20;

type ApiResult<T> = Result<ResponseValue<T>, Error<types::ErrorResponse>>;

/// A completed meeting hosted by `host` in which every one of `attendees` entered the room and
/// none of `absentees` did, so the reviewers are `host` and `attendees`.
async fn reviewed_meeting(host: &TestUser, attendees: &[&TestUser], absentees: &[&TestUser]) -> types::Meeting {
    let everyone: Vec<&TestUser> = attendees.iter().chain(absentees).copied().collect();
    let m = meeting(host, "Review", &everyone).await;
    hold(host, m.id, attendees).await
}

/// Like [`reviewed_meeting`], in a team `admin` administers without taking part.
async fn reviewed_team_meeting(host: &TestUser, admin: &TestUser, attendees: &[&TestUser]) -> types::Meeting {
    let m = team_meeting(host, admin, "Review", attendees).await;
    hold(host, m.id, attendees).await
}

/// Starts the meeting, lets each of `attendees` enter the room once and ends it: having entered
/// the room is what makes a non-host participant a reviewer.
async fn hold(host: &TestUser, meeting_id: uuid::Uuid, attendees: &[&TestUser]) -> types::Meeting {
    host.client.start_meeting().meeting_id(meeting_id).send().await.expect("start");
    for user in attendees {
        let mut room = RoomClient::join(user, meeting_id).await;
        room.expect("room-info").await;
        // Leaving (rather than dropping the socket) frees the seat at once, without a grace period.
        room.send(json!({"type": "leave"}));
        room.expect_close().await;
    }
    wait_for_attendance(host, meeting_id, attendees).await;
    let ended = host.client.end_meeting().meeting_id(meeting_id).send().await.expect("end").into_inner();
    assert_eq!(ended.status, MeetingStatus::Completed);
    ended
}

/// Presence is written asynchronously: poll until every attendee's `joined_at` is recorded, or
/// the review would be computed without them.
async fn wait_for_attendance(host: &TestUser, meeting_id: uuid::Uuid, attendees: &[&TestUser]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let page = host.client.list_participants().meeting_id(meeting_id).send().await.expect("participants").into_inner();
        let attended = |user: &&TestUser| page.items.iter().any(|p| p.user.id == user.id && p.joined_at.is_some());
        if attendees.iter().all(attended) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "attendance never recorded: {page:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A draft review of `meeting_id` with `text` as its minutes.
async fn create_review(host: &TestUser, meeting_id: uuid::Uuid, text: &str) -> types::Review {
    let created = host.client.create_review().meeting_id(meeting_id).body(with_content(text)).send().await.expect("create review");
    assert_eq!(created.status().as_u16(), 201);
    created.into_inner()
}

/// A review of [`MINUTES`] submitted for reviewing, in a meeting [`reviewed_meeting`] made.
async fn in_review(host: &TestUser, attendees: &[&TestUser], absentees: &[&TestUser]) -> (types::Meeting, types::Review) {
    let m = reviewed_meeting(host, attendees, absentees).await;
    create_review(host, m.id, MINUTES).await;
    let review = submit(host, m.id).await;
    (m, review)
}

/// A review of [`MINUTES`] every reviewer (`host` and `attendees`) approved.
async fn approved(host: &TestUser, attendees: &[&TestUser]) -> (types::Meeting, types::Review) {
    let (m, review) = in_review(host, attendees, &[]).await;
    for user in std::iter::once(&host).chain(attendees) {
        approve(user, m.id, review.revision).await.expect("approve");
    }
    let review = get(host, m.id).await;
    assert_eq!(review.status, ReviewStatus::Approved);
    (m, review)
}

fn with_content(text: &str) -> types::builder::CreateReviewRequest {
    types::CreateReviewRequest::builder().content(Some(text.try_into().expect("content")))
}

fn at(revision: NonZeroU64) -> types::builder::RevisionRequest {
    types::RevisionRequest::builder().revision(revision)
}

fn rev(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).expect("a revision is at least 1")
}

async fn get(user: &TestUser, meeting_id: uuid::Uuid) -> types::Review {
    user.client.get_review().meeting_id(meeting_id).send().await.expect("get review").into_inner()
}

async fn submit(host: &TestUser, meeting_id: uuid::Uuid) -> types::Review {
    let review = host.client.submit_review().meeting_id(meeting_id).send().await.expect("submit").into_inner();
    assert_eq!(review.status, ReviewStatus::InReview);
    review
}

async fn approve(user: &TestUser, meeting_id: uuid::Uuid, revision: NonZeroU64) -> ApiResult<types::ReviewApprovalResult> {
    user.client.approve_review().meeting_id(meeting_id).body(at(revision)).send().await
}

async fn approvals(user: &TestUser, meeting_id: uuid::Uuid) -> Vec<types::ReviewerApproval> {
    user.client.list_review_approvals().meeting_id(meeting_id).send().await.expect("approvals").into_inner().items
}

/// The approval of `reviewer` in `listReviewApprovals`.
async fn approval_of(viewer: &TestUser, meeting_id: uuid::Uuid, reviewer: &TestUser) -> types::ReviewerApproval {
    let all = approvals(viewer, meeting_id).await;
    all.into_iter().find(|a| a.reviewer.id == reviewer.id).expect("the reviewer is listed")
}

async fn suggest(user: &TestUser, meeting_id: uuid::Uuid, line_id: uuid::Uuid, text: &str) -> ApiResult<types::ReviewSuggestion> {
    let body = types::CreateSuggestionRequest::builder().suggested_text(text);
    user.client.create_line_suggestion().meeting_id(meeting_id).line_id(line_id).body(body).send().await
}

/// A pending suggestion by `user` rewriting `line_id` to `text`.
async fn suggested(user: &TestUser, meeting_id: uuid::Uuid, line_id: uuid::Uuid, text: &str) -> types::ReviewSuggestion {
    let created = suggest(user, meeting_id, line_id, text).await.expect("suggest");
    assert_eq!(created.status().as_u16(), 201);
    let created = created.into_inner();
    assert_eq!(created.status, SuggestionStatus::Pending);
    created
}

async fn vote(user: &TestUser, meeting_id: uuid::Uuid, suggestion_id: uuid::Uuid, vote: Vote) -> ApiResult<types::ReviewSuggestion> {
    let body = types::CastVoteRequest::builder().vote(vote);
    user.client.cast_suggestion_vote().meeting_id(meeting_id).suggestion_id(suggestion_id).body(body).send().await
}

async fn resolve(
    host: &TestUser,
    meeting_id: uuid::Uuid,
    suggestion_id: uuid::Uuid,
    outcome: SuggestionResolution,
) -> ApiResult<types::ReviewSuggestion> {
    let body = types::ResolveSuggestionRequest::builder().status(outcome);
    host.client.resolve_suggestion().meeting_id(meeting_id).suggestion_id(suggestion_id).body(body).send().await
}

async fn suggestions(user: &TestUser, meeting_id: uuid::Uuid, line_id: uuid::Uuid) -> Vec<types::ReviewSuggestion> {
    user.client.list_line_suggestions().meeting_id(meeting_id).line_id(line_id).send().await.expect("suggestions").into_inner().items
}

async fn comment(
    user: &TestUser,
    meeting_id: uuid::Uuid,
    line_id: uuid::Uuid,
    text: &str,
    parent: Option<uuid::Uuid>,
) -> ApiResult<types::ReviewComment> {
    let body = types::WriteReviewCommentRequest::builder().content(text).parent_id(parent);
    user.client.create_line_comment().meeting_id(meeting_id).line_id(line_id).body(body).send().await
}

/// A new comment by `user` on `line_id`.
async fn commented(
    user: &TestUser,
    meeting_id: uuid::Uuid,
    line_id: uuid::Uuid,
    text: &str,
    parent: Option<uuid::Uuid>,
) -> types::ReviewComment {
    let created = comment(user, meeting_id, line_id, text, parent).await.expect("comment");
    assert_eq!(created.status().as_u16(), 201);
    created.into_inner()
}

async fn edit(user: &TestUser, meeting_id: uuid::Uuid, comment_id: uuid::Uuid, text: &str) -> ApiResult<types::ReviewComment> {
    let body = types::EditReviewCommentRequest::builder().content(text);
    user.client.update_review_comment().meeting_id(meeting_id).comment_id(comment_id).body(body).send().await
}

async fn comments(user: &TestUser, meeting_id: uuid::Uuid, line_id: uuid::Uuid) -> Vec<types::ReviewComment> {
    user.client.list_line_comments().meeting_id(meeting_id).line_id(line_id).send().await.expect("comments").into_inner().items
}

fn texts(review: &types::Review) -> Vec<&str> {
    review.lines.iter().map(|l| l.content.as_str()).collect()
}

/// A 409 `invalid_state_transition` naming the state the thing is in and the one asked for.
#[track_caller]
fn expect_transition<T: std::fmt::Debug>(result: ApiResult<T>, current: &str, requested: &str) {
    let error = expect_error(result, 409, "invalid_state_transition");
    assert_eq!((error.details["current"].as_str(), error.details["requested"].as_str()), (Some(current), Some(requested)), "{error:?}");
}

/// A 409 `conflict` naming the review's current status.
#[track_caller]
fn expect_conflict<T: std::fmt::Debug>(result: ApiResult<T>, current: &str) {
    let error = expect_error(result, 409, "conflict");
    assert_eq!(error.details["current"].as_str(), Some(current), "{error:?}");
}

/// A 409 `stale` naming the review's current revision.
#[track_caller]
fn expect_stale<T: std::fmt::Debug>(result: ApiResult<T>, current: NonZeroU64) {
    let error = expect_error(result, 409, "stale");
    assert_eq!(error.details["current_revision"].as_u64(), Some(current.get()), "{error:?}");
}

/// A 409 `invalid_state_transition` for a suggestion that is no longer pending, naming its status.
/// The contract does not say what a vote "requests", so only the presence of `requested` is checked.
#[track_caller]
fn expect_no_longer_pending<T: std::fmt::Debug>(result: ApiResult<T>, current: &str) {
    let error = expect_error(result, 409, "invalid_state_transition");
    assert_eq!(error.details["current"].as_str(), Some(current), "{error:?}");
    assert!(error.details["requested"].is_string(), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_creates_a_draft_at_revision_1_split_into_lines() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = reviewed_meeting(&host, &[], &[]).await;
    expect_error(host.client.get_review().meeting_id(m.id).send().await, 404, "not_found");
    // `\r\n` is one break, blank lines are kept and the final break adds no empty line.
    let review = create_review(&host, m.id, "# Minutes\r\n\r\n- one\n- two\n").await;
    assert_eq!((review.status, review.revision, review.meeting_id, review.created_by.id), (ReviewStatus::Draft, rev(1), m.id, host.id));
    assert_eq!(texts(&review), ["# Minutes", "", "- one", "- two"]);
    assert_eq!(review.line_count, 4);
    let numbers: Vec<u32> = review.lines.iter().map(|l| l.line_number.get()).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert!(review.lines.iter().all(|l| l.original_content.is_none() && l.comment_count == 0 && l.pending_suggestion_count == 0));
    assert!(review.submitted_at.is_none() && review.approved_at.is_none() && review.merged_at.is_none());
    assert_eq!(get(&host, m.id).await.id, review.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_host_creates_a_review() {
    let app = TestApp::spawn().await;
    let (host, guest, stranger, admin) =
        (app.register("Host").await, app.register("Guest").await, app.register("Stranger").await, app.register("Admin").await);
    let m = reviewed_team_meeting(&host, &admin, &[&guest]).await;
    expect_error(guest.client.create_review().meeting_id(m.id).body(with_content(MINUTES)).send().await, 403, "forbidden");
    expect_error(admin.client.create_review().meeting_id(m.id).body(with_content(MINUTES)).send().await, 403, "forbidden");
    expect_error(stranger.client.create_review().meeting_id(m.id).body(with_content(MINUTES)).send().await, 404, "not_found");
    create_review(&host, m.id, MINUTES).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_completed_meeting_is_reviewed() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = meeting(&host, "Later", &[]).await;
    expect_conflict(host.client.create_review().meeting_id(m.id).body(with_content(MINUTES)).send().await, "scheduled");
    host.client.start_meeting().meeting_id(m.id).send().await.expect("start");
    expect_conflict(host.client.create_review().meeting_id(m.id).body(with_content(MINUTES)).send().await, "in_progress");
    let called_off = meeting(&host, "Called off", &[]).await;
    host.client.cancel_meeting().meeting_id(called_off.id).send().await.expect("cancel");
    expect_conflict(host.client.create_review().meeting_id(called_off.id).body(with_content(MINUTES)).send().await, "cancelled");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_meeting_has_at_most_one_review() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = reviewed_meeting(&host, &[], &[]).await;
    let first = create_review(&host, m.id, MINUTES).await;
    expect_error(host.client.create_review().meeting_id(m.id).body(with_content("other")).send().await, 409, "already_exists");
    assert_eq!(texts(&get(&host, m.id).await), texts(&first), "the first review is untouched");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_content_the_minutes_are_the_notes_in_creation_order() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = reviewed_meeting(&host, &[&guest], &[]).await;
    for (author, text) in [(&host, "# Decisions\n- ship it"), (&guest, "- Ana writes the notes"), (&host, "Next: Friday")] {
        let note = types::WriteNoteRequest::builder().content(text.to_string());
        author.client.create_note().meeting_id(m.id).body(note).send().await.expect("note");
    }
    let review = host.client.create_review().meeting_id(m.id).body(types::CreateReviewRequest::builder()).send().await.expect("create");
    let review = review.into_inner();
    // Each note's lines, one blank line between notes.
    assert_eq!(texts(&review), ["# Decisions", "- ship it", "", "- Ana writes the notes", "", "Next: Friday"]);
    assert_eq!((review.status, review.revision), (ReviewStatus::Draft, rev(1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_content_or_notes_there_is_nothing_to_review() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = reviewed_meeting(&host, &[], &[]).await;
    let error = expect_error(
        host.client.create_review().meeting_id(m.id).body(types::CreateReviewRequest::builder()).send().await,
        409,
        "conflict",
    );
    assert_eq!(error.details["field"], "content");
    expect_error(host.client.get_review().meeting_id(m.id).send().await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_may_be_as_long_as_the_whole_text() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = reviewed_meeting(&host, &[], &[]).await;
    let long = format!("ok\n{}\nend", "x".repeat(102_400 - 7));
    let review = create_review(&host, m.id, &long).await;
    assert_eq!(review.lines[1].content.chars().count(), 102_400 - 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn notes_longer_than_a_review_holds_are_refused() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = reviewed_meeting(&host, &[], &[]).await;
    let half = "x".repeat(51_200);
    for _ in 0..2 {
        let note = types::WriteNoteRequest::builder().content(half.clone());
        host.client.create_note().meeting_id(m.id).body(note).send().await.expect("note");
    }
    let error = expect_error(
        host.client.create_review().meeting_id(m.id).body(types::CreateReviewRequest::builder()).send().await,
        409,
        "conflict",
    );
    assert_eq!(error.details["field"], "content");
}

#[tokio::test(flavor = "multi_thread")]
async fn replacing_a_drafts_content_swaps_every_line_and_raises_the_revision() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = reviewed_meeting(&host, &[&guest], &[]).await;
    let old = create_review(&host, m.id, MINUTES).await;
    let old_line = old.lines[1].id;
    commented(&guest, m.id, old_line, "Friday is a holiday", None).await;
    let replace = || types::ReplaceReviewContentRequest::builder().content("# Minutes\n- Ship on Monday");
    expect_error(guest.client.replace_review_content().meeting_id(m.id).body(replace()).send().await, 403, "forbidden");
    let replaced = host.client.replace_review_content().meeting_id(m.id).body(replace()).send().await.expect("replace").into_inner();
    assert_eq!((replaced.status, replaced.revision, replaced.line_count), (ReviewStatus::Draft, rev(2), 2));
    assert_eq!(texts(&replaced), ["# Minutes", "- Ship on Monday"]);
    // Whether the new lines reuse ids is not specified; either way the old comments are gone.
    assert!(replaced.lines.iter().all(|l| l.comment_count == 0), "{:?}", replaced.lines);
}

#[tokio::test(flavor = "multi_thread")]
async fn content_is_replaced_only_while_draft() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let (m, _) = in_review(&host, &[], &[]).await;
    let replace = types::ReplaceReviewContentRequest::builder().content("too late");
    expect_conflict(host.client.replace_review_content().meeting_id(m.id).body(replace).send().await, "in_review");
    assert_eq!(texts(&get(&host, m.id).await), MINUTES.lines().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn lines_are_listed_in_order_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = reviewed_meeting(&host, &[], &[]).await;
    let text: Vec<String> = (1..=25).map(|n| format!("line {n}")).collect();
    create_review(&host, m.id, &text.join("\n")).await;
    let first = host.client.list_review_lines().meeting_id(m.id).send().await.expect("lines").into_inner();
    assert_eq!((first.total, first.items.len()), (25, 20));
    let second =
        host.client.list_review_lines().meeting_id(m.id).page(std::num::NonZeroU32::new(2).expect("2")).send().await.expect("page");
    let numbers: Vec<u32> = second.into_inner().items.iter().map(|l| l.line_number.get()).collect();
    assert_eq!(numbers, [21, 22, 23, 24, 25]);
    assert_eq!(first.items[4].content.as_str(), "line 5");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_submits_a_draft_for_review() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = reviewed_meeting(&host, &[&guest], &[]).await;
    let draft = create_review(&host, m.id, MINUTES).await;
    // A draft takes comments, but nothing that judges the text yet.
    commented(&guest, m.id, draft.lines[0].id, "typo?", None).await;
    expect_conflict(approve(&guest, m.id, rev(1)).await, "draft");
    expect_conflict(suggest(&guest, m.id, draft.lines[1].id, "- Ship on Monday").await, "draft");
    expect_error(guest.client.submit_review().meeting_id(m.id).send().await, 403, "forbidden");
    let submitted = submit(&host, m.id).await;
    assert!(submitted.submitted_at.is_some());
    assert_eq!(submitted.revision, rev(1), "submitting rewrites nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn illegal_transitions_name_the_current_and_requested_states() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = reviewed_meeting(&host, &[], &[]).await;
    let merge = |revision| host.client.merge_review().meeting_id(m.id).body(at(revision)).send();
    create_review(&host, m.id, MINUTES).await;
    expect_transition(host.client.reopen_review().meeting_id(m.id).send().await, "draft", "draft");
    expect_transition(merge(rev(1)).await, "draft", "merged");
    submit(&host, m.id).await;
    expect_transition(host.client.submit_review().meeting_id(m.id).send().await, "in_review", "in_review");
    expect_transition(host.client.reopen_review().meeting_id(m.id).send().await, "in_review", "draft");
    expect_transition(merge(rev(1)).await, "in_review", "merged");
    approve(&host, m.id, rev(1)).await.expect("approve");
    expect_transition(host.client.submit_review().meeting_id(m.id).send().await, "approved", "in_review");
    expect_transition(host.client.reopen_review().meeting_id(m.id).send().await, "approved", "draft");
    host.client.close_review().meeting_id(m.id).send().await.expect("close");
    expect_transition(host.client.close_review().meeting_id(m.id).send().await, "closed", "closed");
    expect_transition(host.client.submit_review().meeting_id(m.id).send().await, "closed", "in_review");
    expect_transition(merge(rev(1)).await, "closed", "merged");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_closes_a_draft_an_in_review_or_an_approved_review() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let draft = reviewed_meeting(&host, &[], &[]).await;
    create_review(&host, draft.id, MINUTES).await;
    let (reviewing, _) = in_review(&host, &[&guest], &[]).await;
    let (done, _) = approved(&host, &[]).await;
    expect_error(guest.client.close_review().meeting_id(reviewing.id).send().await, 403, "forbidden");
    for m in [&draft, &reviewing, &done] {
        let closed = host.client.close_review().meeting_id(m.id).send().await.expect("close").into_inner();
        assert_eq!(closed.status, ReviewStatus::Closed);
        assert!(closed.closed_at.is_some());
        assert_eq!(closed.closed_by.map(|u| u.id), Some(host.id));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_review_takes_nothing_until_reopened_and_keeps_its_suggestions_pending() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let (m, review) = in_review(&host, &[&guest], &[]).await;
    let line = review.lines[1].id;
    let pending = suggested(&guest, m.id, line, "- Ship on Monday").await;
    let note = commented(&guest, m.id, line, "why Monday?", None).await;
    host.client.close_review().meeting_id(m.id).send().await.expect("close");
    expect_conflict(approve(&guest, m.id, rev(1)).await, "closed");
    expect_conflict(guest.client.withdraw_review_approval().meeting_id(m.id).send().await, "closed");
    expect_conflict(comment(&guest, m.id, line, "hello?", None).await, "closed");
    expect_conflict(edit(&guest, m.id, note.id, "hello?").await, "closed");
    expect_conflict(guest.client.delete_review_comment().meeting_id(m.id).comment_id(note.id).send().await, "closed");
    expect_conflict(suggest(&guest, m.id, line, "- Ship on Tuesday").await, "closed");
    expect_conflict(vote(&host, m.id, pending.id, Vote::Accept).await, "closed");
    expect_conflict(resolve(&host, m.id, pending.id, SuggestionResolution::Accepted).await, "closed");
    expect_conflict(guest.client.withdraw_suggestion().meeting_id(m.id).suggestion_id(pending.id).send().await, "closed");
    let listed = suggestions(&host, m.id, line).await;
    assert_eq!(listed.iter().map(|s| s.status).collect::<Vec<_>>(), [SuggestionStatus::Pending], "closing resolves nothing");
    assert_eq!(get(&host, m.id).await.pending_suggestion_count, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn reopening_a_closed_review_brings_it_back_to_draft_without_approvals() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let (m, _) = approved(&host, &[&guest]).await;
    host.client.close_review().meeting_id(m.id).send().await.expect("close");
    expect_error(guest.client.reopen_review().meeting_id(m.id).send().await, 403, "forbidden");
    let reopened = host.client.reopen_review().meeting_id(m.id).send().await.expect("reopen").into_inner();
    assert_eq!(reopened.status, ReviewStatus::Draft);
    assert_eq!((reopened.approvals.approved_count, reopened.approvals.stale_count, reopened.approvals.reviewer_count), (0, 0, 2));
    for entry in approvals(&host, m.id).await {
        assert!(!entry.approved && !entry.stale && entry.approved_revision.is_none() && entry.approved_at.is_none(), "{entry:?}");
    }
    // Back in review, the earlier approvals do not count: everyone approves again.
    submit(&host, m.id).await;
    let result = approve(&host, m.id, reopened.revision).await.expect("approve").into_inner();
    assert_eq!((result.status, result.approvals.approved_count), (ReviewStatus::InReview, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_review_is_approved_once_every_reviewer_approved_the_current_revision() {
    let app = TestApp::spawn().await;
    // Names chosen so the listing order (by name) differs from the order of registration.
    let (host, bea, al) = (app.register("Hana").await, app.register("Bea").await, app.register("Al").await);
    let (m, review) = in_review(&host, &[&bea, &al], &[]).await;
    let listed: Vec<uuid::Uuid> = approvals(&host, m.id).await.iter().map(|a| a.reviewer.id).collect();
    assert_eq!(listed, [al.id, bea.id, host.id], "reviewers by name");
    let first = approve(&al, m.id, review.revision).await.expect("approve").into_inner();
    assert_eq!((first.status, first.approvals.approved_count, first.approvals.reviewer_count), (ReviewStatus::InReview, 1, 3));
    assert!(first.approvals.approved_by_me && first.approvals.i_am_reviewer);
    approve(&bea, m.id, review.revision).await.expect("approve");
    let last = approve(&host, m.id, review.revision).await.expect("approve").into_inner();
    assert_eq!((last.status, last.revision, last.approvals.approved_count), (ReviewStatus::Approved, rev(1), 3));
    let now = get(&bea, m.id).await;
    assert_eq!(now.status, ReviewStatus::Approved);
    assert!(now.approved_at.is_some());
    let entry = approval_of(&bea, m.id, &al).await;
    assert!(entry.approved && !entry.stale && entry.approved_at.is_some());
    assert_eq!(entry.approved_revision, Some(rev(1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn approving_again_changes_nothing_and_an_unseen_revision_is_stale() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let (m, review) = in_review(&host, &[&guest], &[]).await;
    let once = approve(&guest, m.id, review.revision).await.expect("approve").into_inner();
    let twice = approve(&guest, m.id, review.revision).await.expect("approve again").into_inner();
    assert_eq!((twice.status, twice.approvals.approved_count), (once.status, 1));
    expect_stale(approve(&host, m.id, rev(2)).await, rev(1));
    assert_eq!(get(&host, m.id).await.approvals.approved_count, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn withdrawing_an_approval_takes_an_approved_review_back_to_in_review() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let (m, _) = approved(&host, &[&guest]).await;
    let withdrawn = guest.client.withdraw_review_approval().meeting_id(m.id).send().await.expect("withdraw").into_inner();
    assert_eq!((withdrawn.status, withdrawn.approvals.approved_count), (ReviewStatus::InReview, 1));
    assert!(!withdrawn.approvals.approved_by_me);
    let again = guest.client.withdraw_review_approval().meeting_id(m.id).send().await.expect("withdrawing nothing is a no-op").into_inner();
    assert_eq!((again.status, again.approvals.approved_count), (ReviewStatus::InReview, 1));
    let entry = approval_of(&host, m.id, &guest).await;
    assert!(!entry.approved && !entry.stale && entry.approved_revision.is_none());
    assert!(get(&host, m.id).await.approved_at.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_suggestion_holds_the_approval_back() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let (m, review) = approved(&host, &[&guest]).await;
    let pending = suggested(&guest, m.id, review.lines[1].id, "- Ship on Monday").await;
    let held = get(&host, m.id).await;
    assert_eq!((held.status, held.pending_suggestion_count, held.approvals.approved_count), (ReviewStatus::InReview, 1, 2));
    // Rejecting it rewrites nothing, so the approvals still name the current revision.
    vote(&host, m.id, pending.id, Vote::Reject).await.expect("reject");
    let again = get(&host, m.id).await;
    assert_eq!((again.status, again.revision, again.pending_suggestion_count), (ReviewStatus::Approved, rev(1), 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_merges_an_approved_review_at_the_revision_they_saw() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let (m, review) = approved(&host, &[&guest]).await;
    expect_error(guest.client.merge_review().meeting_id(m.id).body(at(review.revision)).send().await, 403, "forbidden");
    expect_stale(host.client.merge_review().meeting_id(m.id).body(at(rev(5))).send().await, review.revision);
    let merged = host.client.merge_review().meeting_id(m.id).body(at(review.revision)).send().await.expect("merge").into_inner();
    assert_eq!((merged.status, merged.revision), (ReviewStatus::Merged, review.revision));
    assert!(merged.merged_at.is_some() && merged.approved_at.is_some());
    assert_eq!(merged.merged_by.map(|u| u.id), Some(host.id));
    assert_eq!(texts(&get(&guest, m.id).await), MINUTES.lines().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merged_review_refuses_every_write_as_immutable() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let (m, review) = in_review(&host, &[&guest], &[]).await;
    let line = review.lines[1].id;
    let note = commented(&guest, m.id, line, "fine by me", None).await;
    let rejected = suggested(&guest, m.id, line, "- Ship on Monday").await;
    vote(&host, m.id, rejected.id, Vote::Reject).await.expect("reject");
    for user in [&host, &guest] {
        approve(user, m.id, review.revision).await.expect("approve");
    }
    host.client.merge_review().meeting_id(m.id).body(at(review.revision)).send().await.expect("merge");

    let replace = types::ReplaceReviewContentRequest::builder().content("rewritten");
    expect_error(host.client.replace_review_content().meeting_id(m.id).body(replace).send().await, 409, "immutable");
    expect_error(host.client.submit_review().meeting_id(m.id).send().await, 409, "immutable");
    expect_error(host.client.close_review().meeting_id(m.id).send().await, 409, "immutable");
    expect_error(host.client.reopen_review().meeting_id(m.id).send().await, 409, "immutable");
    expect_error(host.client.merge_review().meeting_id(m.id).body(at(review.revision)).send().await, 409, "immutable");
    expect_error(approve(&guest, m.id, review.revision).await, 409, "immutable");
    expect_error(guest.client.withdraw_review_approval().meeting_id(m.id).send().await, 409, "immutable");
    expect_error(comment(&guest, m.id, line, "one more thing", None).await, 409, "immutable");
    expect_error(edit(&guest, m.id, note.id, "edited").await, 409, "immutable");
    expect_error(guest.client.delete_review_comment().meeting_id(m.id).comment_id(note.id).send().await, 409, "immutable");
    expect_error(suggest(&guest, m.id, line, "- Ship on Tuesday").await, 409, "immutable");
    expect_error(vote(&guest, m.id, rejected.id, Vote::Accept).await, 409, "immutable");
    expect_error(resolve(&host, m.id, rejected.id, SuggestionResolution::Accepted).await, 409, "immutable");
    expect_error(guest.client.withdraw_suggestion().meeting_id(m.id).suggestion_id(rejected.id).send().await, 409, "immutable");
    expect_error(host.client.create_review().meeting_id(m.id).body(with_content("again")).send().await, 409, "already_exists");
    let after = get(&host, m.id).await;
    assert_eq!((after.status, after.revision), (ReviewStatus::Merged, review.revision));
    assert_eq!(texts(&after), MINUTES.lines().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suggestion_records_the_line_it_replaces() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let (m, review) = in_review(&host, &[&guest], &[]).await;
    let line = &review.lines[1];
    let body = types::CreateSuggestionRequest::builder()
        .suggested_text("- Ship on Monday")
        .reason(Some("Friday is a holiday".try_into().expect("reason")));
    let created = guest.client.create_line_suggestion().meeting_id(m.id).line_id(line.id).body(body).send().await.expect("suggest");
    let created = created.into_inner();
    assert_eq!((created.line_id, created.author.id, created.status), (line.id, guest.id, SuggestionStatus::Pending));
    assert_eq!((created.original_text.as_str(), created.suggested_text.as_str()), ("- Ship on Friday", "- Ship on Monday"));
    assert_eq!(created.reason.as_deref().map(String::as_str), Some("Friday is a holiday"));
    assert!(created.votes.is_empty() && created.resolution.is_none() && created.resolved_at.is_none());
    let now = get(&host, m.id).await;
    assert_eq!((now.pending_suggestion_count, now.lines[1].pending_suggestion_count), (1, 1));
    let error = expect_error(suggest(&host, m.id, line.id, "- Ship on Friday").await, 409, "conflict");
    assert_eq!(error.details["field"], "suggested_text", "a suggestion must change the line");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suggestion_every_other_reviewer_accepts_rewrites_its_line() {
    let app = TestApp::spawn().await;
    let (host, author, other) = (app.register("Host").await, app.register("Author").await, app.register("Other").await);
    let (m, review) = in_review(&host, &[&author, &other], &[]).await;
    let line = review.lines[1].id;
    let s = suggested(&author, m.id, line, "- Ship on Monday").await;
    let half = vote(&host, m.id, s.id, Vote::Accept).await.expect("vote").into_inner();
    assert_eq!((half.status, half.votes.len()), (SuggestionStatus::Pending, 1));
    assert_eq!(get(&host, m.id).await.revision, rev(1), "one accept of two rewrites nothing");
    let done = vote(&other, m.id, s.id, Vote::Accept).await.expect("vote").into_inner();
    assert_eq!((done.status, done.resolution), (SuggestionStatus::Accepted, Some(SuggestionResolutionReason::Votes)));
    assert!(done.resolved_at.is_some() && done.resolved_by.is_none(), "the votes decided: {done:?}");
    let voters: Vec<(uuid::Uuid, Vote)> = done.votes.iter().map(|v| (v.user.id, v.vote)).collect();
    assert_eq!(voters, [(host.id, Vote::Accept), (other.id, Vote::Accept)], "oldest first");
    let now = get(&host, m.id).await;
    assert_eq!((now.revision, now.pending_suggestion_count), (rev(2), 0));
    assert_eq!(now.lines[1].content.as_str(), "- Ship on Monday");
    assert_eq!(now.lines[1].original_content.as_deref().map(String::as_str), Some("- Ship on Friday"));
    assert_eq!(texts(&now)[0], "# Minutes", "the other lines are untouched");
    assert!(now.lines[0].original_content.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn nobody_votes_on_their_own_suggestion() {
    let app = TestApp::spawn().await;
    let (host, author) = (app.register("Host").await, app.register("Author").await);
    let (m, review) = in_review(&host, &[&author], &[]).await;
    let s = suggested(&author, m.id, review.lines[1].id, "- Ship on Monday").await;
    expect_error(vote(&author, m.id, s.id, Vote::Accept).await, 403, "forbidden");
    let own = suggested(&host, m.id, review.lines[2].id, "- Bo writes the release notes").await;
    expect_error(vote(&host, m.id, own.id, Vote::Accept).await, 403, "forbidden");
    assert!(suggestions(&host, m.id, review.lines[1].id).await[0].votes.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_reject_rejects_a_suggestion() {
    let app = TestApp::spawn().await;
    let (host, author, other) = (app.register("Host").await, app.register("Author").await, app.register("Other").await);
    let (m, review) = in_review(&host, &[&author, &other], &[]).await;
    let s = suggested(&author, m.id, review.lines[1].id, "- Ship on Monday").await;
    vote(&host, m.id, s.id, Vote::Accept).await.expect("accept");
    let rejected = vote(&other, m.id, s.id, Vote::Reject).await.expect("reject").into_inner();
    assert_eq!((rejected.status, rejected.resolution), (SuggestionStatus::Rejected, Some(SuggestionResolutionReason::Votes)));
    assert!(rejected.resolved_by.is_none());
    let now = get(&host, m.id).await;
    assert_eq!((now.revision, now.lines[1].content.as_str(), now.pending_suggestion_count), (rev(1), "- Ship on Friday", 0));
    expect_no_longer_pending(vote(&host, m.id, s.id, Vote::Reject).await, "rejected");
}

#[tokio::test(flavor = "multi_thread")]
async fn voting_again_replaces_the_earlier_vote() {
    let app = TestApp::spawn().await;
    let (host, author, other) = (app.register("Host").await, app.register("Author").await, app.register("Other").await);
    let (m, review) = in_review(&host, &[&author, &other], &[]).await;
    let s = suggested(&author, m.id, review.lines[1].id, "- Ship on Monday").await;
    vote(&host, m.id, s.id, Vote::Accept).await.expect("accept");
    let same = vote(&host, m.id, s.id, Vote::Accept).await.expect("accept again").into_inner();
    assert_eq!((same.status, same.votes.len()), (SuggestionStatus::Pending, 1));
    let changed = vote(&host, m.id, s.id, Vote::Reject).await.expect("change to reject").into_inner();
    let votes: Vec<(uuid::Uuid, Vote)> = changed.votes.iter().map(|v| (v.user.id, v.vote)).collect();
    assert_eq!(votes, [(host.id, Vote::Reject)], "one vote per reviewer");
    assert_eq!(changed.status, SuggestionStatus::Rejected);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_accepted_suggestion_supersedes_the_other_pending_ones_on_its_line() {
    let app = TestApp::spawn().await;
    let (host, author, other) = (app.register("Host").await, app.register("Author").await, app.register("Other").await);
    let (m, review) = in_review(&host, &[&author, &other], &[]).await;
    let (line, elsewhere) = (review.lines[1].id, review.lines[2].id);
    let winner = suggested(&author, m.id, line, "- Ship on Monday").await;
    let rival = suggested(&other, m.id, line, "- Ship on Tuesday").await;
    let unrelated = suggested(&other, m.id, elsewhere, "- Bo writes the release notes").await;
    vote(&host, m.id, winner.id, Vote::Accept).await.expect("vote");
    vote(&other, m.id, winner.id, Vote::Accept).await.expect("vote");
    let on_line = suggestions(&host, m.id, line).await;
    let outcome: Vec<(uuid::Uuid, SuggestionStatus, Option<SuggestionResolutionReason>)> =
        on_line.iter().map(|s| (s.id, s.status, s.resolution)).collect();
    assert_eq!(
        outcome,
        [
            (winner.id, SuggestionStatus::Accepted, Some(SuggestionResolutionReason::Votes)),
            (rival.id, SuggestionStatus::Rejected, Some(SuggestionResolutionReason::Superseded))
        ]
    );
    assert_eq!(suggestions(&host, m.id, elsewhere).await[0].status, SuggestionStatus::Pending, "other lines keep theirs");
    let now = get(&host, m.id).await;
    assert_eq!((now.revision, now.pending_suggestion_count), (rev(2), 1));
    expect_no_longer_pending(vote(&author, m.id, rival.id, Vote::Accept).await, "rejected");
    assert_eq!(unrelated.status, SuggestionStatus::Pending);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suggestion_by_the_only_reviewer_waits_for_the_host() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let (m, review) = in_review(&host, &[], &[]).await;
    let s = suggested(&host, m.id, review.lines[1].id, "- Ship on Monday").await;
    // Nobody else can vote, so "every other reviewer accepted" must not hold vacuously.
    assert_eq!(suggestions(&host, m.id, review.lines[1].id).await[0].status, SuggestionStatus::Pending);
    assert_eq!(get(&host, m.id).await.revision, rev(1));
    let resolved = resolve(&host, m.id, s.id, SuggestionResolution::Accepted).await.expect("resolve").into_inner();
    assert_eq!((resolved.status, resolved.resolution), (SuggestionStatus::Accepted, Some(SuggestionResolutionReason::Host)));
    assert_eq!(resolved.resolved_by.map(|u| u.id), Some(host.id));
    let now = get(&host, m.id).await;
    assert_eq!((now.revision, now.lines[1].content.as_str()), (rev(2), "- Ship on Monday"));
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_host_resolves_and_only_a_pending_suggestion() {
    let app = TestApp::spawn().await;
    let (host, author) = (app.register("Host").await, app.register("Author").await);
    let (m, review) = in_review(&host, &[&author], &[]).await;
    let s = suggested(&author, m.id, review.lines[1].id, "- Ship on Monday").await;
    expect_error(resolve(&author, m.id, s.id, SuggestionResolution::Accepted).await, 403, "forbidden");
    let rejected = resolve(&host, m.id, s.id, SuggestionResolution::Rejected).await.expect("resolve").into_inner();
    assert_eq!((rejected.status, rejected.resolution), (SuggestionStatus::Rejected, Some(SuggestionResolutionReason::Host)));
    assert_eq!(rejected.resolved_by.map(|u| u.id), Some(host.id));
    expect_transition(resolve(&host, m.id, s.id, SuggestionResolution::Accepted).await, "rejected", "accepted");
    assert_eq!(get(&host, m.id).await.revision, rev(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_acceptance_makes_the_approvals_of_those_who_did_not_vote_accept_stale() {
    let app = TestApp::spawn().await;
    let (host, author, other) = (app.register("Host").await, app.register("Author").await, app.register("Other").await);
    let (m, review) = in_review(&host, &[&author, &other], &[]).await;
    // The author's own approval is left out: whether accepting one's suggestion keeps it is not
    // what this test is about.
    for user in [&host, &other] {
        approve(user, m.id, review.revision).await.expect("approve");
    }
    let s = suggested(&author, m.id, review.lines[1].id, "- Ship on Monday").await;
    assert_eq!(get(&host, m.id).await.approvals.approved_count, 2);
    vote(&host, m.id, s.id, Vote::Accept).await.expect("the host votes accept");
    resolve(&host, m.id, s.id, SuggestionResolution::Accepted).await.expect("the host accepts before Other voted");
    let now = get(&host, m.id).await;
    assert_eq!((now.revision, now.status), (rev(2), ReviewStatus::InReview));
    assert_eq!((now.approvals.approved_count, now.approvals.stale_count), (1, 1), "{:?}", now.approvals);
    let other_approval = approval_of(&host, m.id, &other).await;
    assert!(other_approval.stale && !other_approval.approved, "{other_approval:?}");
    assert_eq!(other_approval.approved_revision, Some(rev(1)));
    let host_approval = approval_of(&host, m.id, &host).await;
    assert!(host_approval.approved && !host_approval.stale, "{host_approval:?}");
    assert_eq!(host_approval.approved_revision, Some(rev(2)));
    // Renewing the stale approval needs the new revision.
    expect_stale(approve(&other, m.id, rev(1)).await, rev(2));
    let renewed = approve(&other, m.id, rev(2)).await.expect("renew").into_inner();
    assert_eq!((renewed.approvals.approved_count, renewed.approvals.stale_count), (2, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rewrite_every_reviewer_voted_for_keeps_their_approvals_current() {
    let app = TestApp::spawn().await;
    let (host, author, other) = (app.register("Host").await, app.register("Author").await, app.register("Other").await);
    let (m, review) = in_review(&host, &[&author, &other], &[]).await;
    for user in [&host, &other] {
        approve(user, m.id, review.revision).await.expect("approve");
    }
    let s = suggested(&author, m.id, review.lines[1].id, "- Ship on Monday").await;
    for user in [&host, &other] {
        vote(user, m.id, s.id, Vote::Accept).await.expect("accept");
    }
    let now = get(&host, m.id).await;
    assert_eq!((now.revision, now.approvals.approved_count, now.approvals.stale_count), (rev(2), 2, 0), "{:?}", now.approvals);
    for user in [&host, &other] {
        let entry = approval_of(&author, m.id, user).await;
        assert!(entry.approved && !entry.stale && entry.approved_revision == Some(rev(2)), "{entry:?}");
    }
    let last = approve(&author, m.id, rev(2)).await.expect("approve").into_inner();
    assert_eq!(last.status, ReviewStatus::Approved);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_author_withdraws_their_pending_suggestion() {
    let app = TestApp::spawn().await;
    let (host, author) = (app.register("Host").await, app.register("Author").await);
    let (m, review) = in_review(&host, &[&author], &[]).await;
    let line = review.lines[1].id;
    let s = suggested(&author, m.id, line, "- Ship on Monday").await;
    expect_error(host.client.withdraw_suggestion().meeting_id(m.id).suggestion_id(s.id).send().await, 403, "forbidden");
    let withdrawn = author.client.withdraw_suggestion().meeting_id(m.id).suggestion_id(s.id).send().await.expect("withdraw").into_inner();
    assert_eq!((withdrawn.status, withdrawn.resolution), (SuggestionStatus::Withdrawn, Some(SuggestionResolutionReason::Withdrawn)));
    assert_eq!(withdrawn.resolved_by.map(|u| u.id), Some(author.id));
    expect_transition(author.client.withdraw_suggestion().meeting_id(m.id).suggestion_id(s.id).send().await, "withdrawn", "withdrawn");
    let pending = host.client.list_line_suggestions().meeting_id(m.id).line_id(line).status(SuggestionStatus::Pending).send().await;
    assert_eq!(pending.expect("filter").into_inner().total, 0);
    let gone = host.client.list_line_suggestions().meeting_id(m.id).line_id(line).status(SuggestionStatus::Withdrawn).send().await;
    assert_eq!(gone.expect("filter").into_inner().items.iter().map(|s| s.id).collect::<Vec<_>>(), [s.id]);
    assert_eq!(get(&host, m.id).await.pending_suggestion_count, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn comments_thread_on_their_own_line() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let (m, review) = in_review(&host, &[&guest], &[]).await;
    let (line, other_line) = (review.lines[1].id, review.lines[2].id);
    let question = commented(&guest, m.id, line, "Is Friday firm?", None).await;
    let answer = commented(&host, m.id, line, "Yes", Some(question.id)).await;
    assert_eq!((answer.parent_id, answer.line_id, answer.author.id), (Some(question.id), line, host.id));
    let error = expect_error(comment(&host, m.id, other_line, "misplaced", Some(question.id)).await, 404, "not_found");
    assert_eq!(error.details["field"], "parent_id");
    let thread: Vec<(uuid::Uuid, Option<uuid::Uuid>)> = comments(&host, m.id, line).await.iter().map(|c| (c.id, c.parent_id)).collect();
    assert_eq!(thread, [(question.id, None), (answer.id, Some(question.id))], "oldest first");
    assert!(comments(&host, m.id, other_line).await.is_empty());
    assert_eq!(get(&host, m.id).await.lines[1].comment_count, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_its_author_edits_a_comment() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let (m, review) = in_review(&host, &[&guest], &[]).await;
    let c = commented(&guest, m.id, review.lines[1].id, "Frday?", None).await;
    assert!(c.edited_at.is_none());
    expect_error(edit(&host, m.id, c.id, "hijacked").await, 403, "forbidden");
    let edited = edit(&guest, m.id, c.id, "Friday?").await.expect("edit").into_inner();
    assert_eq!(edited.content.as_deref().map(String::as_str), Some("Friday?"));
    assert!(edited.edited_at.is_some_and(|at| at >= c.created_at));
    expect_error(edit(&guest, m.id, uuid::Uuid::new_v4(), "nothing").await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_comment_stays_in_its_thread_as_a_placeholder() {
    let app = TestApp::spawn().await;
    let (host, guest, other) = (app.register("Host").await, app.register("Guest").await, app.register("Other").await);
    let (m, review) = in_review(&host, &[&guest, &other], &[]).await;
    let line = review.lines[1].id;
    let root = commented(&guest, m.id, line, "Friday?", None).await;
    let reply = commented(&other, m.id, line, "Monday.", Some(root.id)).await;
    expect_error(other.client.delete_review_comment().meeting_id(m.id).comment_id(root.id).send().await, 403, "forbidden");
    let deleted = guest.client.delete_review_comment().meeting_id(m.id).comment_id(root.id).send().await.expect("the author deletes");
    assert_eq!(deleted.status().as_u16(), 204);
    let thread = comments(&host, m.id, line).await;
    assert_eq!(thread.iter().map(|c| c.id).collect::<Vec<_>>(), [root.id, reply.id]);
    assert!(thread[0].deleted && thread[0].content.is_none(), "{:?}", thread[0]);
    assert_eq!(thread[1].parent_id, Some(root.id), "the reply keeps its parent");
    assert_eq!(get(&host, m.id).await.lines[1].comment_count, 1, "deleted comments are not counted");
    let error = expect_error(comment(&host, m.id, line, "late", Some(root.id)).await, 409, "conflict");
    assert_eq!(error.details["field"], "parent_id", "nobody replies to a deleted comment");
    expect_error(edit(&guest, m.id, root.id, "undo").await, 404, "not_found");
    expect_error(guest.client.delete_review_comment().meeting_id(m.id).comment_id(root.id).send().await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_deletes_anyones_comment() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let (m, review) = in_review(&host, &[&guest], &[]).await;
    let c = commented(&guest, m.id, review.lines[1].id, "off topic", None).await;
    host.client.delete_review_comment().meeting_id(m.id).comment_id(c.id).send().await.expect("a host deletes");
    assert_eq!(get(&guest, m.id).await.lines[1].comment_count, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stranger_gets_404_on_everything() {
    let app = TestApp::spawn().await;
    let (host, guest, stranger) = (app.register("Host").await, app.register("Guest").await, app.register("Stranger").await);
    let (m, review) = in_review(&host, &[&guest], &[]).await;
    let line = review.lines[1].id;
    let c = commented(&guest, m.id, line, "hi", None).await;
    let s = suggested(&guest, m.id, line, "- Ship on Monday").await;
    let id = m.id;
    let client = &stranger.client;
    expect_error(client.get_review().meeting_id(id).send().await, 404, "not_found");
    expect_error(client.create_review().meeting_id(id).body(with_content("x")).send().await, 404, "not_found");
    let replace = types::ReplaceReviewContentRequest::builder().content("x");
    expect_error(client.replace_review_content().meeting_id(id).body(replace).send().await, 404, "not_found");
    expect_error(client.submit_review().meeting_id(id).send().await, 404, "not_found");
    expect_error(client.close_review().meeting_id(id).send().await, 404, "not_found");
    expect_error(client.reopen_review().meeting_id(id).send().await, 404, "not_found");
    expect_error(client.merge_review().meeting_id(id).body(at(rev(1))).send().await, 404, "not_found");
    expect_error(client.list_review_approvals().meeting_id(id).send().await, 404, "not_found");
    expect_error(approve(&stranger, id, rev(1)).await, 404, "not_found");
    expect_error(client.withdraw_review_approval().meeting_id(id).send().await, 404, "not_found");
    expect_error(client.list_review_lines().meeting_id(id).send().await, 404, "not_found");
    expect_error(client.list_line_comments().meeting_id(id).line_id(line).send().await, 404, "not_found");
    expect_error(comment(&stranger, id, line, "x", None).await, 404, "not_found");
    expect_error(edit(&stranger, id, c.id, "x").await, 404, "not_found");
    expect_error(client.delete_review_comment().meeting_id(id).comment_id(c.id).send().await, 404, "not_found");
    expect_error(client.list_line_suggestions().meeting_id(id).line_id(line).send().await, 404, "not_found");
    expect_error(suggest(&stranger, id, line, "x").await, 404, "not_found");
    expect_error(vote(&stranger, id, s.id, Vote::Accept).await, 404, "not_found");
    expect_error(resolve(&stranger, id, s.id, SuggestionResolution::Accepted).await, 404, "not_found");
    expect_error(client.withdraw_suggestion().meeting_id(id).suggestion_id(s.id).send().await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn lines_and_suggestions_of_another_review_are_404() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let (m, _) = in_review(&host, &[&guest], &[]).await;
    let (other, other_review) = in_review(&host, &[&guest], &[]).await;
    let foreign_line = other_review.lines[1].id;
    let foreign = suggested(&guest, other.id, foreign_line, "- Ship on Monday").await;
    expect_error(host.client.list_line_comments().meeting_id(m.id).line_id(foreign_line).send().await, 404, "not_found");
    expect_error(suggest(&guest, m.id, foreign_line, "x").await, 404, "not_found");
    expect_error(vote(&host, m.id, foreign.id, Vote::Accept).await, 404, "not_found");
    expect_error(resolve(&host, m.id, foreign.id, SuggestionResolution::Rejected).await, 404, "not_found");
    assert_eq!(suggestions(&host, other.id, foreign_line).await[0].status, SuggestionStatus::Pending);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_team_admin_reads_the_review_but_writes_nothing() {
    let app = TestApp::spawn().await;
    let (host, guest, admin) = (app.register("Host").await, app.register("Guest").await, app.register("Admin").await);
    let m = reviewed_team_meeting(&host, &admin, &[&guest]).await;
    let review = create_review(&host, m.id, MINUTES).await;
    let line = review.lines[1].id;
    submit(&host, m.id).await;
    let c = commented(&guest, m.id, line, "hi", None).await;
    let s = suggested(&guest, m.id, line, "- Ship on Monday").await;

    let seen = get(&admin, m.id).await;
    assert_eq!((seen.approvals.reviewer_count, seen.approvals.i_am_reviewer), (2, false), "the admin is no reviewer");
    assert_eq!(approvals(&admin, m.id).await.len(), 2);
    assert_eq!(comments(&admin, m.id, line).await.len(), 1);
    assert_eq!(suggestions(&admin, m.id, line).await.len(), 1);
    admin.client.list_review_lines().meeting_id(m.id).send().await.expect("lines");

    expect_error(approve(&admin, m.id, rev(1)).await, 403, "forbidden");
    expect_error(admin.client.withdraw_review_approval().meeting_id(m.id).send().await, 403, "forbidden");
    expect_error(comment(&admin, m.id, line, "admin here", None).await, 403, "forbidden");
    expect_error(edit(&admin, m.id, c.id, "admin here").await, 403, "forbidden");
    expect_error(admin.client.delete_review_comment().meeting_id(m.id).comment_id(c.id).send().await, 403, "forbidden");
    expect_error(suggest(&admin, m.id, line, "- Ship never").await, 403, "forbidden");
    expect_error(vote(&admin, m.id, s.id, Vote::Accept).await, 403, "forbidden");
    expect_error(resolve(&admin, m.id, s.id, SuggestionResolution::Accepted).await, 403, "forbidden");
    expect_error(admin.client.withdraw_suggestion().meeting_id(m.id).suggestion_id(s.id).send().await, 403, "forbidden");
    expect_error(admin.client.close_review().meeting_id(m.id).send().await, 403, "forbidden");
    expect_error(admin.client.merge_review().meeting_id(m.id).body(at(rev(1))).send().await, 403, "forbidden");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_participant_who_never_attended_is_no_reviewer() {
    let app = TestApp::spawn().await;
    let (host, guest, absent) = (app.register("Host").await, app.register("Guest").await, app.register("Absent").await);
    let (m, review) = in_review(&host, &[&guest], &[&absent]).await;
    let line = review.lines[1].id;
    let seen = get(&absent, m.id).await;
    assert_eq!((seen.approvals.reviewer_count, seen.approvals.i_am_reviewer), (2, false), "a participant still sees the review");
    let listed: Vec<uuid::Uuid> = approvals(&host, m.id).await.iter().map(|a| a.reviewer.id).collect();
    assert!(!listed.contains(&absent.id), "{listed:?}");
    expect_error(approve(&absent, m.id, rev(1)).await, 403, "forbidden");
    expect_error(comment(&absent, m.id, line, "I was not there", None).await, 403, "forbidden");
    expect_error(suggest(&absent, m.id, line, "- Ship never").await, 403, "forbidden");
    let s = suggested(&guest, m.id, line, "- Ship on Monday").await;
    expect_error(vote(&absent, m.id, s.id, Vote::Reject).await, 403, "forbidden");
    // The host's vote is the only other one the suggestion needs: the absentee holds nothing up.
    let accepted = vote(&host, m.id, s.id, Vote::Accept).await.expect("accept").into_inner();
    assert_eq!(accepted.status, SuggestionStatus::Accepted);
    for user in [&host, &guest] {
        approve(user, m.id, rev(2)).await.expect("approve");
    }
    assert_eq!(get(&absent, m.id).await.status, ReviewStatus::Approved);
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_review_without_entering_the_room() {
    let app = TestApp::spawn().await;
    let (host, cohost) = (app.register("Host").await, app.register("Cohost").await);
    let m = meeting(&host, "Review", &[&cohost]).await;
    let promote = types::UpdateParticipantRequest::builder().role(ParticipantRole::Host);
    host.client.update_participant().meeting_id(m.id).user_id(cohost.id).body(promote).send().await.expect("promote");
    hold(&host, m.id, &[]).await;
    create_review(&host, m.id, MINUTES).await;
    let review = submit(&host, m.id).await;
    assert_eq!(review.approvals.reviewer_count, 2);
    let seen = get(&cohost, m.id).await;
    assert!(seen.approvals.i_am_reviewer);
    approve(&host, m.id, review.revision).await.expect("approve");
    let last = approve(&cohost, m.id, review.revision).await.expect("approve").into_inner();
    assert_eq!(last.status, ReviewStatus::Approved);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hosts_creating_at_once_make_one_review() {
    let app = TestApp::spawn().await;
    let (host, cohost) = (app.register("Host").await, app.register("Cohost").await);
    for round in 0..ROUNDS {
        let m = meeting(&host, "Race", &[&cohost]).await;
        let promote = types::UpdateParticipantRequest::builder().role(ParticipantRole::Host);
        host.client.update_participant().meeting_id(m.id).user_id(cohost.id).body(promote).send().await.expect("promote");
        hold(&host, m.id, &[]).await;
        let (a, b) = (host.client.clone(), cohost.client.clone());
        let (first, second) =
            race(async move { a.create_review().meeting_id(m.id).body(with_content("by host")).send().await }, async move {
                b.create_review().meeting_id(m.id).body(with_content("by cohost")).send().await
            })
            .await;
        let (winner, loser) = match (first, second) {
            (Ok(won), lost) | (lost, Ok(won)) => (won.into_inner(), lost),
            (a, b) => panic!("round {round}: neither created: {a:?} / {b:?}"),
        };
        expect_error(loser, 409, "already_exists");
        assert_eq!(get(&host, m.id).await.id, winner.id, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_simultaneous_merges_have_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    for round in 0..ROUNDS {
        let (m, review) = approved(&host, &[]).await;
        let (a, b) = (host.client.clone(), host.client.clone());
        let revision = review.revision;
        let (first, second) = race(async move { a.merge_review().meeting_id(m.id).body(at(revision)).send().await }, async move {
            b.merge_review().meeting_id(m.id).body(at(revision)).send().await
        })
        .await;
        let (winner, loser) = match (first, second) {
            (Ok(won), lost) | (lost, Ok(won)) => (won.into_inner(), lost),
            (a, b) => panic!("round {round}: neither merged: {a:?} / {b:?}"),
        };
        assert_eq!(winner.status, ReviewStatus::Merged);
        expect_error(loser, 409, "immutable");
        assert_eq!(get(&host, m.id).await.status, ReviewStatus::Merged, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_two_approvals_together_approve_the_review() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    for round in 0..ROUNDS {
        let (m, review) = in_review(&host, &[&guest], &[]).await;
        let (a, b) = (host.client.clone(), guest.client.clone());
        let revision = review.revision;
        let (first, second) = race(async move { a.approve_review().meeting_id(m.id).body(at(revision)).send().await }, async move {
            b.approve_review().meeting_id(m.id).body(at(revision)).send().await
        })
        .await;
        let (first, second) = (first.expect("approve").into_inner(), second.expect("approve").into_inner());
        // Whichever committed second saw both approvals.
        assert!([first.status, second.status].contains(&ReviewStatus::Approved), "round {round}: {first:?} / {second:?}");
        let now = get(&host, m.id).await;
        assert_eq!((now.status, now.approvals.approved_count), (ReviewStatus::Approved, 2), "round {round}");
        assert!(now.approved_at.is_some());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn final_accepts_of_two_suggestions_on_one_line_accept_exactly_one() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    for round in 0..ROUNDS {
        let (m, review) = in_review(&host, &[&guest], &[]).await;
        let line = review.lines[1].id;
        // Each suggestion needs only the other reviewer's accept, so both votes are final ones.
        let by_host = suggested(&host, m.id, line, "- Ship on Monday").await;
        let by_guest = suggested(&guest, m.id, line, "- Ship on Tuesday").await;
        let (a, b) = (guest.client.clone(), host.client.clone());
        let accept = || types::CastVoteRequest::builder().vote(Vote::Accept);
        let (first, second) = race(
            async move { a.cast_suggestion_vote().meeting_id(m.id).suggestion_id(by_host.id).body(accept()).send().await },
            async move { b.cast_suggestion_vote().meeting_id(m.id).suggestion_id(by_guest.id).body(accept()).send().await },
        )
        .await;
        let accepted_text = one_accepted_other_superseded(round, first, second);
        let now = get(&host, m.id).await;
        assert_eq!((now.revision, now.pending_suggestion_count), (rev(2), 0), "round {round}: the line was rewritten once");
        assert_eq!(now.lines[1].content.as_str(), accepted_text, "round {round}");
        let statuses: Vec<SuggestionStatus> = suggestions(&host, m.id, line).await.iter().map(|s| s.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == SuggestionStatus::Accepted).count(), 1, "round {round}: {statuses:?}");
    }
}

/// Of two final accept votes on one line, one accepted its suggestion; the other found its
/// suggestion superseded, either already (409) or as the outcome of its own vote. Returns the
/// accepted text.
fn one_accepted_other_superseded(
    round: usize,
    first: ApiResult<types::ReviewSuggestion>,
    second: ApiResult<types::ReviewSuggestion>,
) -> String {
    let accepted = |r: &ApiResult<types::ReviewSuggestion>| r.as_ref().is_ok_and(|s| s.status == SuggestionStatus::Accepted);
    let (winner, loser) = match (accepted(&first), accepted(&second)) {
        (true, false) => (first, second),
        (false, true) => (second, first),
        _ => panic!("round {round}: exactly one suggestion is accepted: {first:?} / {second:?}"),
    };
    match loser {
        Ok(lost) => assert_eq!(
            (lost.status, lost.resolution),
            (SuggestionStatus::Rejected, Some(SuggestionResolutionReason::Superseded)),
            "round {round}"
        ),
        lost => expect_no_longer_pending(lost, "rejected"),
    }
    winner.expect("the winner").into_inner().suggested_text.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vote_racing_a_host_resolution_has_one_outcome() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    for round in 0..ROUNDS {
        let (m, review) = in_review(&host, &[&guest], &[]).await;
        let line = review.lines[1].id;
        // The guest's vote is the only one the host's suggestion needs: a reject ends it at once.
        let s = suggested(&host, m.id, line, "- Ship on Monday").await;
        let (a, b) = (guest.client.clone(), host.client.clone());
        let (voted, resolved) = race(
            async move {
                a.cast_suggestion_vote()
                    .meeting_id(m.id)
                    .suggestion_id(s.id)
                    .body(types::CastVoteRequest::builder().vote(Vote::Reject))
                    .send()
                    .await
            },
            async move {
                let body = types::ResolveSuggestionRequest::builder().status(SuggestionResolution::Accepted);
                b.resolve_suggestion().meeting_id(m.id).suggestion_id(s.id).body(body).send().await
            },
        )
        .await;
        let now = get(&host, m.id).await;
        let stored = &suggestions(&host, m.id, line).await[0];
        match (voted, resolved) {
            (Ok(rejected), lost) => {
                assert_eq!((rejected.status, rejected.resolution), (SuggestionStatus::Rejected, Some(SuggestionResolutionReason::Votes)));
                expect_transition(lost, "rejected", "accepted");
                assert_eq!((now.revision, now.lines[1].content.as_str()), (rev(1), "- Ship on Friday"), "round {round}");
                assert_eq!(stored.status, SuggestionStatus::Rejected, "round {round}");
            }
            (lost, Ok(accepted)) => {
                assert_eq!((accepted.status, accepted.resolution), (SuggestionStatus::Accepted, Some(SuggestionResolutionReason::Host)));
                expect_no_longer_pending(lost, "accepted");
                assert_eq!((now.revision, now.lines[1].content.as_str()), (rev(2), "- Ship on Monday"), "round {round}");
                assert_eq!(stored.status, SuggestionStatus::Accepted, "round {round}");
            }
            (a, b) => panic!("round {round}: neither the vote nor the resolution landed: {a:?} / {b:?}"),
        }
        assert_eq!(now.pending_suggestion_count, 0, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_withdrawn_during_a_merge_lands_before_or_after_it() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    for round in 0..ROUNDS {
        let (m, review) = approved(&host, &[&guest]).await;
        let (a, b) = (host.client.clone(), guest.client.clone());
        let revision = review.revision;
        let (merged, withdrawn) = race(async move { a.merge_review().meeting_id(m.id).body(at(revision)).send().await }, async move {
            b.withdraw_review_approval().meeting_id(m.id).send().await
        })
        .await;
        let now = get(&host, m.id).await;
        match (merged, withdrawn) {
            (Ok(merged), lost) => {
                assert_eq!(merged.status, ReviewStatus::Merged);
                expect_error(lost, 409, "immutable");
                assert_eq!((now.status, now.approvals.approved_count), (ReviewStatus::Merged, 2), "round {round}");
            }
            (lost, Ok(withdrawn)) => {
                assert_eq!(withdrawn.status, ReviewStatus::InReview);
                expect_transition(lost, "in_review", "merged");
                assert_eq!((now.status, now.approvals.approved_count), (ReviewStatus::InReview, 1), "round {round}");
            }
            (a, b) => panic!("round {round}: neither landed: {a:?} / {b:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_the_reviewer_who_held_the_review_up_approves_it_and_says_so() {
    let app = TestApp::spawn().await;
    let (host, holdout) = (app.register("Host").await, app.register("Holdout").await);
    let (m, review) = in_review(&host, &[&holdout], &[]).await;
    approve(&host, m.id, review.revision).await.expect("the host approves");
    let mut events = mit_tests::events::EventsClient::connect(&host).await;
    events.subscribe_review(m.id, None).await;
    host.client.remove_participant().meeting_id(m.id).user_id(holdout.id).send().await.expect("remove");
    let approved = get(&host, m.id).await;
    assert_eq!((approved.status, approved.approvals.reviewer_count), (ReviewStatus::Approved, 1));
    let event = events.expect("event").await;
    assert_eq!((event["kind"].as_str(), event["data"]["status"].as_str()), (Some("review-status-changed"), Some("approved")));
    assert_eq!(event["actor_id"], host.id.to_string());
}

/// Marks `line` as a fact candidate with `key` (and `value`, else the line's content).
async fn mark(user: &TestUser, meeting_id: uuid::Uuid, line: uuid::Uuid, key: &str, value: Option<&str>) -> ApiResult<types::ReviewLine> {
    let mut body = types::FactCandidateRequest::builder().key(key);
    if let Some(value) = value {
        body = body.value(Some(value.try_into().expect("value")));
    }
    user.client.mark_fact_candidate().meeting_id(meeting_id).line_id(line).body(body).send().await
}

async fn team_fact(user: &TestUser, team: uuid::Uuid, key: &str, value: &str) -> types::Fact {
    let body = types::CreateFactRequest::builder().key(key).value(value);
    user.client.create_fact().team_id(team).body(body).send().await.expect("fact").into_inner()
}

/// A team review of "Budget: 70M" / "Launch in May" with the team already holding Budget = 50M.
async fn candidate_review(app: &TestApp) -> (TestUser, types::Meeting, types::Review, types::Fact) {
    let (host, admin) = (app.register("Host").await, app.register("Admin").await);
    let m = reviewed_team_meeting(&host, &admin, &[]).await;
    let team = m.team_id.expect("a team meeting");
    let budget = team_fact(&host, team, "Budget", "50M").await;
    create_review(&host, m.id, "Budget: 70M\nLaunch in May").await;
    let review = submit(&host, m.id).await;
    (host, m, review, budget)
}

#[tokio::test(flavor = "multi_thread")]
async fn marked_lines_become_facts_and_branches_when_the_review_merges() {
    let app = TestApp::spawn().await;
    let (host, m, review, budget) = candidate_review(&app).await;
    let (first, second) = (review.lines[0].id, review.lines[1].id);
    let marked = mark(&host, m.id, first, " budget ", Some("70M")).await.expect("mark").into_inner();
    assert_eq!(marked.fact_candidate.as_ref().map(|c| c.key.as_str()), Some("budget"));
    mark(&host, m.id, second, "Launch", None).await.expect("mark");
    let review = get(&host, m.id).await;
    assert_eq!(review.revision.get(), 3, "each mark is part of what reviewers approve");
    approve(&host, m.id, review.revision).await.expect("approve");
    host.client.merge_review().meeting_id(m.id).body(at(review.revision)).send().await.expect("merge");
    let lines = get(&host, m.id).await.lines;
    let branch_id = lines[0].branch_id.expect("a branch for the existing fact");
    assert_eq!(lines[0].fact_id, Some(budget.id));
    let branch = host.client.get_branch().branch_id(branch_id).send().await.expect("branch").into_inner();
    assert_eq!((branch.proposed_value.as_str(), branch.base_version.get(), branch.meeting_id), ("70M", 1, Some(m.id)));
    let launch = host.client.get_fact().fact_id(lines[1].fact_id.expect("a new fact")).send().await.expect("fact").into_inner();
    assert_eq!((launch.key.as_str(), launch.value.as_str(), launch.source_meeting_id), ("Launch", "Launch in May", Some(m.id)));
    let history = host.client.list_fact_history().fact_id(launch.id).send().await.expect("history").into_inner().items;
    assert_eq!(
        (history[0].meeting_id, history[0].review_line_id),
        (Some(m.id), Some(second)),
        "the first entry names the meeting and line"
    );
    assert_eq!(branch.review_line_id, Some(first));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_is_marked_once_and_a_key_by_one_line_only() {
    let app = TestApp::spawn().await;
    let (host, m, review, _) = candidate_review(&app).await;
    let (first, second) = (review.lines[0].id, review.lines[1].id);
    mark(&host, m.id, second, "Launch", None).await.expect("mark");
    expect_error(mark(&host, m.id, second, "Other", None).await, 409, "already_exists");
    let error = expect_error(mark(&host, m.id, first, "LAUNCH", None).await, 409, "already_exists");
    assert_eq!(error.details["line_id"], second.to_string());
    host.client.unmark_fact_candidate().meeting_id(m.id).line_id(second).send().await.expect("unmark");
    expect_error(host.client.unmark_fact_candidate().meeting_id(m.id).line_id(second).send().await, 404, "not_found");
    mark(&host, m.id, first, "Launch", None).await.expect("the key is free again");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_candidate_for_an_archived_fact_fails_the_whole_merge() {
    let app = TestApp::spawn().await;
    let (host, m, review, budget) = candidate_review(&app).await;
    mark(&host, m.id, review.lines[0].id, "Budget", Some("70M")).await.expect("mark");
    mark(&host, m.id, review.lines[1].id, "Launch", None).await.expect("mark");
    let review = get(&host, m.id).await;
    approve(&host, m.id, review.revision).await.expect("approve");
    host.client.delete_fact().fact_id(budget.id).send().await.expect("archive");
    let error = expect_error(host.client.merge_review().meeting_id(m.id).body(at(review.revision)).send().await, 409, "conflict");
    assert_eq!(error.details["line_id"], review.lines[0].id.to_string());
    assert_eq!(get(&host, m.id).await.status, ReviewStatus::Approved, "nothing merged");
    let team = m.team_id.expect("team");
    let facts = host.client.list_facts().team_id(team).include_archived(true).send().await.expect("facts").into_inner();
    assert_eq!(facts.items.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(), ["Budget"], "no Launch fact was left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn marking_needs_a_team_meeting_under_review() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let (m, review) = in_review(&host, &[], &[]).await;
    let error = expect_error(mark(&host, m.id, review.lines[0].id, "Key", None).await, 409, "conflict");
    assert_eq!(error.details["field"], "team_id");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_lines_marking_one_key_at_once_make_one_mark() {
    let app = TestApp::spawn().await;
    for round in 0..20 {
        let (host, m, review, _) = candidate_review(&app).await;
        let (first, second) = (review.lines[0].id, review.lines[1].id);
        let (a, b) = (host.client.clone(), host.client.clone());
        let body = move || types::FactCandidateRequest::builder().key(format!("Key {round}"));
        let (x, y) = race(async move { a.mark_fact_candidate().meeting_id(m.id).line_id(first).body(body()).send().await }, async move {
            b.mark_fact_candidate().meeting_id(m.id).line_id(second).body(body()).send().await
        })
        .await;
        let outcomes = [x.map(|_| ()), y.map(|_| ())];
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "round {round}: one mark");
        for outcome in outcomes.into_iter().filter(Result::is_err) {
            expect_error(outcome, 409, "already_exists");
        }
        assert_eq!(get(&host, m.id).await.revision.get(), 2, "round {round}: the revision rose once");
    }
}
