//! The review's rules as plain functions over a snapshot taken inside the writing transaction:
//! who may do what in which state, when a review is approved, how a suggestion is decided, and
//! which approvals a rewrite carries. No I/O; the store locks, loads, asks, and writes.

use std::collections::BTreeMap;

use mit_api::server::models::{ReviewStatus, SuggestionResolutionReason, SuggestionStatus, Vote};
use uuid::Uuid;

/// Where a review stands, as stored. `approved` is not a phase: it is computed from approvals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The host may still replace the content.
    Draft,
    /// Open for suggestions, votes and approvals.
    InReview,
    /// Set aside; only reopening is allowed.
    Closed,
    /// Final.
    Merged,
}

impl Phase {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Draft => "draft",
            Phase::InReview => "in_review",
            Phase::Closed => "closed",
            Phase::Merged => "merged",
        }
    }

    /// The phase of a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "draft" => Phase::Draft,
            "in_review" => Phase::InReview,
            "closed" => Phase::Closed,
            "merged" => Phase::Merged,
            _ => return None,
        })
    }
}

/// One reviewer's approval: the revision they approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approval {
    /// Who approved.
    pub user: Uuid,
    /// The revision they approved.
    pub revision: i64,
}

/// What the rules need to know of a review, read with its row locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewState {
    /// Stored phase.
    pub phase: Phase,
    /// Line rewrites so far, plus one.
    pub revision: i64,
    /// The meeting's hosts and the participants who attended, sorted.
    pub reviewers: Vec<Uuid>,
    /// The meeting's hosts.
    pub hosts: Vec<Uuid>,
    /// Approvals of current reviewers, at whatever revision.
    pub approvals: Vec<Approval>,
    /// Suggestions still pending.
    pub pending_suggestions: i64,
}

/// Why the rules refuse a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Only a host may do this.
    #[error("only a host of the meeting may do this")]
    NotHost,
    /// Only a reviewer may do this.
    #[error("only reviewers (the hosts and the participants who attended) may do this")]
    NotReviewer,
    /// Nobody votes on their own suggestion.
    #[error("nobody votes on their own suggestion")]
    OwnSuggestion,
    /// Only the author may do this.
    #[error("only its author may do this")]
    NotAuthor,
    /// The review is merged.
    #[error("the review is merged and cannot change")]
    Immutable,
    /// The review is not in a state that allows this.
    #[error("not allowed while the review is `{}`", current.as_str())]
    WrongState {
        /// The review's status.
        current: ReviewStatus,
    },
    /// The transition is not one the life cycle has.
    #[error("cannot go from `{}` to `{}`", current.as_str(), requested.as_str())]
    Transition {
        /// The review's status.
        current: ReviewStatus,
        /// The status asked for.
        requested: ReviewStatus,
    },
    /// The caller saw an older revision.
    #[error("the review is at revision {current}, not {seen}")]
    Stale {
        /// The review's revision.
        current: i64,
        /// The revision the caller named.
        seen: i64,
    },
    /// The suggestion is already decided.
    #[error("the suggestion is `{}`, not pending", current.as_str())]
    NotPending {
        /// Its status.
        current: SuggestionStatus,
        /// What was asked for.
        requested: SuggestionStatus,
    },
}

impl ReviewState {
    /// The status clients see: `approved` when every reviewer approved this revision and
    /// nothing is pending.
    pub fn status(&self) -> ReviewStatus {
        match self.phase {
            Phase::Draft => ReviewStatus::Draft,
            Phase::Closed => ReviewStatus::Closed,
            Phase::Merged => ReviewStatus::Merged,
            Phase::InReview if self.is_approved() => ReviewStatus::Approved,
            Phase::InReview => ReviewStatus::InReview,
        }
    }

    fn is_approved(&self) -> bool {
        self.pending_suggestions == 0 && !self.reviewers.is_empty() && self.reviewers.iter().all(|r| self.approved_by(*r))
    }

    /// Whether `user`'s approval is for the current revision.
    pub fn approved_by(&self, user: Uuid) -> bool {
        self.approvals.iter().any(|a| a.user == user && a.revision == self.revision)
    }

    /// Whether `user` reviews.
    pub fn is_reviewer(&self, user: Uuid) -> bool {
        self.reviewers.binary_search(&user).is_ok()
    }

    /// Whether `user` is a host.
    pub fn is_host(&self, user: Uuid) -> bool {
        self.hosts.contains(&user)
    }

    /// Reviewers whose approval is current.
    pub fn approved_count(&self) -> usize {
        self.reviewers.iter().filter(|r| self.approved_by(**r)).count()
    }

    /// Reviewers whose approval is for an older revision.
    pub fn stale_count(&self) -> usize {
        self.reviewers.iter().filter(|r| self.approvals.iter().any(|a| a.user == **r && a.revision != self.revision)).count()
    }

    fn require_host(&self, user: Uuid) -> Result<(), Refusal> {
        if self.is_host(user) { Ok(()) } else { Err(Refusal::NotHost) }
    }

    fn require_reviewer(&self, user: Uuid) -> Result<(), Refusal> {
        if self.is_reviewer(user) { Ok(()) } else { Err(Refusal::NotReviewer) }
    }

    /// Merged refuses everything; `allowed` lists the phases that accept this write.
    fn require_phase(&self, allowed: &[Phase]) -> Result<(), Refusal> {
        match self.phase {
            Phase::Merged => Err(Refusal::Immutable),
            phase if allowed.contains(&phase) => Ok(()),
            _ => Err(Refusal::WrongState { current: self.status() }),
        }
    }
}

/// A host's life-cycle request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// draft → in_review.
    Submit,
    /// draft | in_review | approved → closed.
    Close,
    /// closed → draft, approvals cleared.
    Reopen,
    /// approved → merged, at the revision the host saw.
    Merge {
        /// The revision the host saw.
        revision: i64,
    },
}

impl Transition {
    fn requested(self) -> ReviewStatus {
        match self {
            Transition::Submit => ReviewStatus::InReview,
            Transition::Close => ReviewStatus::Closed,
            Transition::Reopen => ReviewStatus::Draft,
            Transition::Merge { .. } => ReviewStatus::Merged,
        }
    }
}

/// The phase a transition leads to, and whether it clears every approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transitioned {
    /// The new phase.
    pub phase: Phase,
    /// Reopening starts over.
    pub clear_approvals: bool,
}

/// Decides a host's life-cycle request.
pub fn transition(state: &ReviewState, actor: Uuid, request: Transition) -> Result<Transitioned, Refusal> {
    state.require_host(actor)?;
    if state.phase == Phase::Merged {
        return Err(Refusal::Immutable);
    }
    let current = state.status();
    let refused = Refusal::Transition { current, requested: request.requested() };
    let phase = match (request, current) {
        (Transition::Submit, ReviewStatus::Draft) => Phase::InReview,
        (Transition::Close, ReviewStatus::Draft | ReviewStatus::InReview | ReviewStatus::Approved) => Phase::Closed,
        (Transition::Reopen, ReviewStatus::Closed) => Phase::Draft,
        (Transition::Merge { revision }, ReviewStatus::Approved) => {
            check_revision(state, revision)?;
            Phase::Merged
        }
        _ => return Err(refused),
    };
    Ok(Transitioned { phase, clear_approvals: request == Transition::Reopen })
}

/// Checks the host may replace a draft's content.
pub fn replace_content(state: &ReviewState, actor: Uuid) -> Result<(), Refusal> {
    state.require_host(actor)?;
    state.require_phase(&[Phase::Draft])
}

fn check_revision(state: &ReviewState, seen: i64) -> Result<(), Refusal> {
    if seen == state.revision { Ok(()) } else { Err(Refusal::Stale { current: state.revision, seen }) }
}

/// Checks a reviewer may approve at `revision`; `Ok(false)` when the approval already stands.
pub fn approve(state: &ReviewState, actor: Uuid, revision: i64) -> Result<bool, Refusal> {
    state.require_reviewer(actor)?;
    state.require_phase(&[Phase::InReview])?;
    check_revision(state, revision)?;
    Ok(!state.approved_by(actor))
}

/// Checks a reviewer may withdraw; `Ok(false)` when they have no approval to withdraw.
pub fn withdraw_approval(state: &ReviewState, actor: Uuid) -> Result<bool, Refusal> {
    state.require_reviewer(actor)?;
    state.require_phase(&[Phase::InReview])?;
    Ok(state.approvals.iter().any(|a| a.user == actor))
}

/// Checks `actor` may comment (or edit or delete a comment) now.
pub fn comment(state: &ReviewState, actor: Uuid) -> Result<(), Refusal> {
    state.require_reviewer(actor)?;
    state.require_phase(&[Phase::Draft, Phase::InReview])
}

/// Checks `actor` may delete a comment by `author`.
pub fn delete_comment(state: &ReviewState, actor: Uuid, author: Uuid) -> Result<(), Refusal> {
    state.require_phase(&[Phase::Draft, Phase::InReview])?;
    if actor == author || state.is_host(actor) { Ok(()) } else { Err(Refusal::NotAuthor) }
}

/// Checks `actor` may edit a comment by `author`.
pub fn edit_comment(state: &ReviewState, actor: Uuid, author: Uuid) -> Result<(), Refusal> {
    state.require_phase(&[Phase::Draft, Phase::InReview])?;
    if actor == author { Ok(()) } else { Err(Refusal::NotAuthor) }
}

/// Checks `actor` may suggest a new text for a line.
pub fn suggest(state: &ReviewState, actor: Uuid) -> Result<(), Refusal> {
    state.require_reviewer(actor)?;
    state.require_phase(&[Phase::InReview])
}

/// Checks `actor` may mark a line as a fact candidate, or take a mark back.
pub fn mark_candidate(state: &ReviewState, actor: Uuid) -> Result<(), Refusal> {
    state.require_reviewer(actor)?;
    state.require_phase(&[Phase::InReview])
}

/// A pending suggestion and the line it is on, read with the review locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestionState {
    /// Who suggested it.
    pub author: Uuid,
    /// Its status.
    pub status: SuggestionStatus,
    /// The line's text when it was suggested.
    pub original_text: String,
    /// The line's text now.
    pub line_content: String,
    /// Votes cast so far, by voter.
    pub votes: BTreeMap<Uuid, Vote>,
}

/// How a suggestion ends, or that it goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Still pending.
    Pending,
    /// Rejected, for this reason.
    Rejected(SuggestionResolutionReason),
    /// Accepted: the line is rewritten, and these reviewers' current approvals move to the new
    /// revision (the others' become stale).
    Accepted {
        /// Reviewers who endorsed the rewrite.
        endorsers: Vec<Uuid>,
        /// Why it was accepted.
        reason: SuggestionResolutionReason,
    },
}

impl Outcome {
    /// The suggestion's status after this outcome.
    pub fn status(&self) -> SuggestionStatus {
        match self {
            Outcome::Pending => SuggestionStatus::Pending,
            Outcome::Rejected(_) => SuggestionStatus::Rejected,
            Outcome::Accepted { .. } => SuggestionStatus::Accepted,
        }
    }
}

fn require_pending(suggestion: &SuggestionState, requested: SuggestionStatus) -> Result<(), Refusal> {
    if suggestion.status == SuggestionStatus::Pending { Ok(()) } else { Err(Refusal::NotPending { current: suggestion.status, requested }) }
}

/// Decides a reviewer's vote: one reject rejects at once; once every reviewer but the author
/// has voted accept (this vote included), the suggestion is accepted.
pub fn vote(state: &ReviewState, suggestion: &SuggestionState, actor: Uuid, vote: Vote) -> Result<Outcome, Refusal> {
    state.require_reviewer(actor)?;
    state.require_phase(&[Phase::InReview])?;
    if actor == suggestion.author {
        return Err(Refusal::OwnSuggestion);
    }
    let requested = if vote == Vote::Accept { SuggestionStatus::Accepted } else { SuggestionStatus::Rejected };
    require_pending(suggestion, requested)?;
    if vote == Vote::Reject {
        return Ok(Outcome::Rejected(SuggestionResolutionReason::Votes));
    }
    let mut votes = suggestion.votes.clone();
    votes.insert(actor, vote);
    let voters: Vec<Uuid> = state.reviewers.iter().copied().filter(|r| *r != suggestion.author).collect();
    // An author who is the only reviewer has nobody to vote: the host decides.
    let everyone = !voters.is_empty() && voters.iter().all(|r| votes.get(r) == Some(&Vote::Accept));
    if !everyone {
        return Ok(Outcome::Pending);
    }
    Ok(accept(suggestion, endorsers(state, suggestion, &votes, None), SuggestionResolutionReason::Votes))
}

/// Decides a host's resolution.
pub fn resolve(state: &ReviewState, suggestion: &SuggestionState, actor: Uuid, accept_it: bool) -> Result<Outcome, Refusal> {
    state.require_host(actor)?;
    state.require_phase(&[Phase::InReview])?;
    let requested = if accept_it { SuggestionStatus::Accepted } else { SuggestionStatus::Rejected };
    require_pending(suggestion, requested)?;
    if !accept_it {
        return Ok(Outcome::Rejected(SuggestionResolutionReason::Host));
    }
    Ok(accept(suggestion, endorsers(state, suggestion, &suggestion.votes, Some(actor)), SuggestionResolutionReason::Host))
}

/// Checks the author may withdraw their suggestion.
pub fn withdraw_suggestion(state: &ReviewState, suggestion: &SuggestionState, actor: Uuid) -> Result<(), Refusal> {
    state.require_phase(&[Phase::InReview])?;
    if actor != suggestion.author {
        return Err(Refusal::NotAuthor);
    }
    require_pending(suggestion, SuggestionStatus::Withdrawn)
}

/// Accepting is compare-and-swap on the line: a line that changed since is not overwritten.
fn accept(suggestion: &SuggestionState, endorsers: Vec<Uuid>, reason: SuggestionResolutionReason) -> Outcome {
    if suggestion.line_content != suggestion.original_text {
        return Outcome::Rejected(SuggestionResolutionReason::Superseded);
    }
    Outcome::Accepted { endorsers, reason }
}

/// The reviewers who stand behind a rewrite: those who voted accept, its author, and the host
/// who accepted it. Their approvals carry over to the new revision.
fn endorsers(state: &ReviewState, suggestion: &SuggestionState, votes: &BTreeMap<Uuid, Vote>, host: Option<Uuid>) -> Vec<Uuid> {
    state.reviewers.iter().copied().filter(|r| *r == suggestion.author || Some(*r) == host || votes.get(r) == Some(&Vote::Accept)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
        ids.sort();
        ids
    }

    fn in_review(reviewers: &[Uuid], host: Uuid) -> ReviewState {
        ReviewState {
            phase: Phase::InReview,
            revision: 1,
            reviewers: reviewers.to_vec(),
            hosts: vec![host],
            approvals: Vec::new(),
            pending_suggestions: 0,
        }
    }

    fn pending(author: Uuid) -> SuggestionState {
        SuggestionState {
            author,
            status: SuggestionStatus::Pending,
            original_text: "old".into(),
            line_content: "old".into(),
            votes: BTreeMap::new(),
        }
    }

    #[test]
    fn approved_is_computed_from_current_approvals_and_pending_suggestions() {
        let r = ids(2);
        let mut state = in_review(&r, r[0]);
        state.approvals = vec![Approval { user: r[0], revision: 1 }];
        assert_eq!(state.status(), ReviewStatus::InReview);
        state.approvals.push(Approval { user: r[1], revision: 1 });
        assert_eq!(state.status(), ReviewStatus::Approved);
        state.pending_suggestions = 1;
        assert_eq!(state.status(), ReviewStatus::InReview);
        state.pending_suggestions = 0;
        state.revision = 2;
        assert_eq!(state.status(), ReviewStatus::InReview, "approvals of an older revision are stale");
        assert_eq!((state.approved_count(), state.stale_count()), (0, 2));
    }

    #[test]
    fn the_life_cycle_allows_exactly_its_transitions() {
        let r = ids(1);
        let host = r[0];
        let mut state = in_review(&r, host);
        state.phase = Phase::Draft;
        assert_eq!(transition(&state, host, Transition::Submit).map(|t| t.phase), Ok(Phase::InReview));
        assert_eq!(
            transition(&state, host, Transition::Merge { revision: 1 }),
            Err(Refusal::Transition { current: ReviewStatus::Draft, requested: ReviewStatus::Merged })
        );
        assert_eq!(
            transition(&state, host, Transition::Reopen),
            Err(Refusal::Transition { current: ReviewStatus::Draft, requested: ReviewStatus::Draft })
        );
        state.phase = Phase::Closed;
        assert_eq!(transition(&state, host, Transition::Reopen), Ok(Transitioned { phase: Phase::Draft, clear_approvals: true }));
        assert!(matches!(transition(&state, host, Transition::Close), Err(Refusal::Transition { .. })));
        state.phase = Phase::Merged;
        for request in [Transition::Submit, Transition::Close, Transition::Reopen, Transition::Merge { revision: 1 }] {
            assert_eq!(transition(&state, host, request), Err(Refusal::Immutable));
        }
    }

    #[test]
    fn only_a_host_merges_an_approved_review_at_the_revision_it_saw() {
        let r = ids(2);
        let mut state = in_review(&r, r[0]);
        state.approvals = r.iter().map(|u| Approval { user: *u, revision: 1 }).collect();
        assert_eq!(transition(&state, r[1], Transition::Merge { revision: 1 }), Err(Refusal::NotHost));
        assert_eq!(transition(&state, r[0], Transition::Merge { revision: 0 }), Err(Refusal::Stale { current: 1, seen: 0 }));
        assert_eq!(transition(&state, r[0], Transition::Merge { revision: 1 }).map(|t| t.phase), Ok(Phase::Merged));
    }

    #[test]
    fn approving_needs_a_reviewer_the_right_state_and_the_current_revision() {
        let r = ids(2);
        let outsider = Uuid::now_v7();
        let mut state = in_review(&r, r[0]);
        assert_eq!(approve(&state, outsider, 1), Err(Refusal::NotReviewer));
        assert_eq!(approve(&state, r[1], 2), Err(Refusal::Stale { current: 1, seen: 2 }));
        assert_eq!(approve(&state, r[1], 1), Ok(true));
        state.approvals.push(Approval { user: r[1], revision: 1 });
        assert_eq!(approve(&state, r[1], 1), Ok(false), "approving again is a no-op");
        state.phase = Phase::Draft;
        assert_eq!(approve(&state, r[1], 1), Err(Refusal::WrongState { current: ReviewStatus::Draft }));
    }

    #[test]
    fn a_suggestion_is_accepted_when_every_other_reviewer_accepts_and_rejected_at_the_first_reject() {
        let r = ids(3);
        let state = in_review(&r, r[0]);
        let mut s = pending(r[0]);
        assert_eq!(vote(&state, &s, r[0], Vote::Accept), Err(Refusal::OwnSuggestion));
        assert_eq!(vote(&state, &s, r[1], Vote::Accept), Ok(Outcome::Pending));
        s.votes.insert(r[1], Vote::Accept);
        let accepted = vote(&state, &s, r[2], Vote::Accept).expect("accepted");
        assert_eq!(accepted, Outcome::Accepted { endorsers: r.clone(), reason: SuggestionResolutionReason::Votes });
        assert_eq!(vote(&state, &s, r[2], Vote::Reject), Ok(Outcome::Rejected(SuggestionResolutionReason::Votes)));
    }

    #[test]
    fn an_author_who_is_the_only_reviewer_waits_for_the_host() {
        let r = ids(2);
        let (host, author) = (r[0], r[1]);
        let mut state = in_review(&[author], host);
        state.hosts = vec![host];
        let s = pending(author);
        assert_eq!(vote(&state, &s, author, Vote::Accept), Err(Refusal::OwnSuggestion));
        assert_eq!(
            resolve(&state, &s, host, true),
            Ok(Outcome::Accepted { endorsers: vec![author], reason: SuggestionResolutionReason::Host })
        );
    }

    #[test]
    fn a_host_acceptance_carries_only_the_approvals_of_those_who_endorsed_it() {
        let r = ids(3);
        let (host, voter, silent) = (r[0], r[1], r[2]);
        let state = in_review(&r, host);
        let mut s = pending(voter);
        s.votes.clear();
        let Ok(Outcome::Accepted { endorsers, .. }) = resolve(&state, &s, host, true) else { panic!("accepted") };
        assert!(endorsers.contains(&host) && endorsers.contains(&voter) && !endorsers.contains(&silent));
    }

    #[test]
    fn accepting_is_compare_and_swap_on_the_line() {
        let r = ids(2);
        let state = in_review(&r, r[0]);
        let mut s = pending(r[0]);
        s.line_content = "changed meanwhile".into();
        assert_eq!(vote(&state, &s, r[1], Vote::Accept), Ok(Outcome::Rejected(SuggestionResolutionReason::Superseded)));
    }

    #[test]
    fn decided_suggestions_and_merged_reviews_refuse_further_votes() {
        let r = ids(2);
        let mut state = in_review(&r, r[0]);
        let mut s = pending(r[0]);
        s.status = SuggestionStatus::Rejected;
        assert_eq!(
            vote(&state, &s, r[1], Vote::Accept),
            Err(Refusal::NotPending { current: SuggestionStatus::Rejected, requested: SuggestionStatus::Accepted })
        );
        assert_eq!(withdraw_suggestion(&state, &pending(r[0]), r[1]), Err(Refusal::NotAuthor));
        state.phase = Phase::Merged;
        assert_eq!(vote(&state, &pending(r[0]), r[1], Vote::Accept), Err(Refusal::Immutable));
        assert_eq!(comment(&state, r[1]), Err(Refusal::Immutable));
    }

    #[test]
    fn comments_follow_authorship_and_hosts_may_delete_any() {
        let r = ids(3);
        let state = in_review(&r, r[0]);
        assert_eq!(edit_comment(&state, r[2], r[1]), Err(Refusal::NotAuthor));
        assert_eq!(delete_comment(&state, r[2], r[1]), Err(Refusal::NotAuthor));
        assert_eq!(delete_comment(&state, r[0], r[1]), Ok(()));
        let mut closed = state.clone();
        closed.phase = Phase::Closed;
        assert_eq!(comment(&closed, r[1]), Err(Refusal::WrongState { current: ReviewStatus::Closed }));
    }
}
