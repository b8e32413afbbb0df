//! Branches: a fact's value changes only through a merged branch — compare-and-swap on the
//! fact's version, under the team's approval rule, blocked by vetoes, with an owner's recorded
//! override for a rule that can never be met.

use mit_client::types::{self, TeamRole};
use mit_tests::{TestApp, TestUser};
use uuid::Uuid;

use crate::expect_error;

type ApiResult<T> = Result<mit_client::ResponseValue<T>, mit_client::Error<types::ErrorResponse>>;

/// A team with an owner, an admin and a plain member.
struct Team {
    id: Uuid,
    owner: TestUser,
    admin: TestUser,
    member: TestUser,
}

async fn team(app: &TestApp) -> Team {
    let (owner, admin, member) = (app.register("Owner").await, app.register("Admin").await, app.register("Member").await);
    let id = owner.client.create_team().body(types::CreateTeamRequest::builder().name("Team")).send().await.expect("team").into_inner().id;
    for (who, role) in [(&admin, TeamRole::Admin), (&member, TeamRole::Member)] {
        let body = types::AddTeamMemberRequest::builder().email(who.email.as_str()).role(Some(role));
        owner.client.add_team_member().team_id(id).body(body).send().await.expect("add member");
    }
    Team { id, owner, admin, member }
}

async fn fact(user: &TestUser, team: Uuid, key: &str, value: &str) -> types::Fact {
    let body = types::CreateFactRequest::builder().key(key).value(value);
    user.client.create_fact().team_id(team).body(body).send().await.expect("fact").into_inner()
}

async fn propose(user: &TestUser, fact: Uuid, value: &str) -> ApiResult<types::FactBranch> {
    let body = types::CreateFactBranchRequest::builder().title("Update").proposed_value(value).reason("the meeting agreed");
    user.client.create_fact_branch().fact_id(fact).body(body).send().await
}

async fn branch(user: &TestUser, fact: Uuid, value: &str) -> types::FactBranch {
    propose(user, fact, value).await.expect("branch").into_inner()
}

async fn approve(user: &TestUser, branch: Uuid) -> types::FactBranch {
    user.client.approve_branch().branch_id(branch).send().await.expect("approve").into_inner()
}

async fn merge(user: &TestUser, branch: Uuid, override_reason: Option<&str>) -> ApiResult<types::FactBranch> {
    let mut body = types::MergeBranchRequest::builder();
    if let Some(reason) = override_reason {
        body = body.override_reason(Some(reason.try_into().expect("reason")));
    }
    user.client.merge_branch().branch_id(branch).body(body).send().await
}

async fn value_of(user: &TestUser, fact: Uuid) -> (String, u32) {
    let fact = user.client.get_fact().fact_id(fact).send().await.expect("fact").into_inner();
    (fact.value.to_string(), fact.version.get())
}

async fn history(user: &TestUser, fact: Uuid) -> Vec<types::FactHistoryEntry> {
    user.client.list_fact_history().fact_id(fact).send().await.expect("history").into_inner().items
}

#[tokio::test(flavor = "multi_thread")]
async fn a_branch_approved_by_every_admin_and_owner_merges_and_is_recorded() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let f = fact(&t.member, t.id, "Marketing budget", "50M KRW").await;
    let b = branch(&t.member, f.id, "70M KRW").await;
    assert_eq!((b.base_version.get(), b.approvals.required_count.get(), b.stale), (1, 2, false));
    expect_error(t.member.client.approve_branch().branch_id(b.id).send().await, 403, "forbidden");
    let once = approve(&t.owner, b.id).await;
    assert!(!once.approvals.rule_met);
    let error = expect_error(merge(&t.member, b.id, None).await, 409, "approval_required");
    assert_eq!((error.details["approved_count"].as_i64(), error.details["required_count"].as_i64()), (Some(1), Some(2)));
    assert!(approve(&t.admin, b.id).await.approvals.rule_met);
    let merged = merge(&t.member, b.id, None).await.expect("merge").into_inner();
    assert_eq!(merged.status, types::BranchStatus::Merged);
    assert_eq!(value_of(&t.member, f.id).await, ("70M KRW".into(), 2));
    let entry = &history(&t.member, f.id).await[0];
    assert_eq!(entry.kind, types::FactChangeKind::ValueChanged);
    assert_eq!(
        (entry.previous_value.as_ref().map(|v| v.as_str()), entry.new_value.as_str(), entry.branch_id),
        (Some("50M KRW"), "70M KRW", Some(b.id))
    );
    assert_eq!((entry.changed_by.id, entry.merged_by.as_ref().map(|m| m.id)), (t.member.id, Some(t.member.id)));
    expect_error(merge(&t.member, b.id, None).await, 409, "immutable");
    expect_error(approve_result(&t.admin, b.id).await, 409, "immutable");
}

async fn approve_result(user: &TestUser, branch: Uuid) -> ApiResult<types::FactBranch> {
    user.client.approve_branch().branch_id(branch).send().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_branch_whose_fact_moved_is_stale_until_rebased_and_rebasing_clears_approvals() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let f = fact(&t.member, t.id, "Launch", "May").await;
    let (first, second) = (branch(&t.member, f.id, "June").await, branch(&t.member, f.id, "July").await);
    for b in [first.id, second.id] {
        approve(&t.owner, b).await;
        approve(&t.admin, b).await;
    }
    merge(&t.member, first.id, None).await.expect("first merges");
    let error = expect_error(merge(&t.member, second.id, None).await, 409, "stale_base");
    assert_eq!((error.details["current_value"].as_str(), error.details["current_version"].as_i64()), (Some("June"), Some(2)));
    let stale = t.member.client.get_branch().branch_id(second.id).send().await.expect("get").into_inner();
    assert!(stale.stale);
    expect_error(t.owner.client.rebase_branch().branch_id(second.id).send().await, 403, "forbidden");
    let rebased = t.member.client.rebase_branch().branch_id(second.id).send().await.expect("rebase").into_inner();
    assert_eq!(
        (rebased.stale, rebased.base_version.get(), rebased.base_value.as_str(), rebased.approvals.approved_count),
        (false, 2, "June", 0)
    );
    approve(&t.owner, second.id).await;
    approve(&t.admin, second.id).await;
    merge(&t.member, second.id, None).await.expect("merges after the rebase");
    assert_eq!(value_of(&t.member, f.id).await, ("July".into(), 3));
}

#[tokio::test(flavor = "multi_thread")]
async fn editing_a_branch_clears_its_approvals_and_a_same_value_proposal_is_refused() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let f = fact(&t.member, t.id, "Office", "Seoul").await;
    expect_error(propose(&t.member, f.id, "Seoul").await, 409, "conflict");
    let b = branch(&t.member, f.id, "Busan").await;
    approve(&t.owner, b.id).await;
    let body = types::UpdateBranchRequest::builder().proposed_value(Some("Incheon".try_into().expect("value")));
    expect_error(t.admin.client.update_branch().branch_id(b.id).body(body.clone()).send().await, 403, "forbidden");
    let edited = t.member.client.update_branch().branch_id(b.id).body(body).send().await.expect("edit").into_inner();
    assert_eq!((edited.proposed_value.as_str(), edited.approvals.approved_count), ("Incheon", 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_veto_blocks_the_merge_until_its_author_withdraws_it() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let f = fact(&t.member, t.id, "Price", "10").await;
    let b = branch(&t.member, f.id, "12").await;
    approve(&t.owner, b.id).await;
    approve(&t.admin, b.id).await;
    let veto = types::VetoRequest::builder().reason("not what we decided");
    expect_error(t.member.client.veto_branch().branch_id(b.id).body(veto.clone()).send().await, 403, "forbidden");
    let vetoed = t.admin.client.veto_branch().branch_id(b.id).body(veto).send().await.expect("veto").into_inner();
    assert_eq!(vetoed.vetoes.len(), 1);
    expect_error(merge(&t.owner, b.id, None).await, 409, "vetoed");
    t.owner.client.withdraw_branch_veto().branch_id(b.id).send().await.expect("a no-op for someone else's veto");
    expect_error(merge(&t.owner, b.id, None).await, 409, "vetoed");
    t.admin.client.withdraw_branch_veto().branch_id(b.id).send().await.expect("withdraw");
    merge(&t.owner, b.id, None).await.expect("merges once the veto is gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_team_whose_only_admin_wrote_the_branch_merges_by_a_recorded_owner_override() {
    let app = TestApp::spawn().await;
    let owner = app.register("Solo").await;
    let team =
        owner.client.create_team().body(types::CreateTeamRequest::builder().name("Solo")).send().await.expect("team").into_inner().id;
    let f = fact(&owner, team, "Motto", "ship it").await;
    let b = branch(&owner, f.id, "ship it well").await;
    assert!(!b.approvals.rule_reachable, "nobody but the author could approve");
    expect_error(merge(&owner, b.id, None).await, 409, "approval_required");
    merge(&owner, b.id, Some("sole owner; recorded in the minutes")).await.expect("override");
    let entry = &history(&owner, f.id).await[0];
    assert_eq!(entry.override_reason.as_ref().map(|r| r.as_str()), Some("sole owner; recorded in the minutes"));
    let t = team_with_reachable_rule(&app).await;
    let g = fact(&t.member, t.id, "Rule", "a").await;
    let c = branch(&t.member, g.id, "b").await;
    expect_error(merge(&t.owner, c.id, Some("impatient")).await, 409, "approval_required");
}

async fn team_with_reachable_rule(app: &TestApp) -> Team {
    team(app).await
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_set_the_approval_rule_and_a_members_rule_counts_member_approvals() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let rule = t.admin.client.get_approval_rule().team_id(t.id).send().await.expect("rule").into_inner();
    assert_eq!((rule.approvers, rule.required_approvals), (types::ApproverGroup::Admins, None));
    expect_error(t.member.client.get_approval_rule().team_id(t.id).send().await, 403, "forbidden");
    let members_rule =
        types::ApprovalRule::builder().approvers(types::ApproverGroup::Members).required_approvals(Some(1.try_into().expect("one")));
    expect_error(t.member.client.set_approval_rule().team_id(t.id).body(members_rule.clone()).send().await, 403, "forbidden");
    t.admin.client.set_approval_rule().team_id(t.id).body(members_rule).send().await.expect("set");
    let f = fact(&t.owner, t.id, "Cadence", "weekly").await;
    let b = branch(&t.owner, f.id, "daily").await;
    assert!(approve(&t.member, b.id).await.approvals.rule_met, "one member's approval is enough now");
    merge(&t.owner, b.id, None).await.expect("merge");
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_branches_of_one_fact_merged_at_once_exactly_one_wins() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    for round in 0..20 {
        let f = fact(&t.member, t.id, &format!("Race {round}"), "start").await;
        let (a, b) = (branch(&t.member, f.id, "left").await, branch(&t.member, f.id, "right").await);
        for id in [a.id, b.id] {
            approve(&t.owner, id).await;
            approve(&t.admin, id).await;
        }
        let (left, right) = tokio::join!(merge(&t.member, a.id, None), merge(&t.owner, b.id, None));
        let outcomes = [left.map(|_| ()), right.map(|_| ())];
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "round {round}: exactly one merge");
        for outcome in outcomes.into_iter().filter(Result::is_err) {
            expect_error(outcome, 409, "stale_base");
        }
        let values = history(&t.member, f.id).await.iter().filter(|e| e.kind == types::FactChangeKind::ValueChanged).count();
        assert_eq!((values, value_of(&t.member, f.id).await.1), (1, 2), "round {round}: one history entry, one version");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_branch_merged_twice_at_once_is_one_history_entry() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    for round in 0..20 {
        let f = fact(&t.member, t.id, &format!("Twice {round}"), "before").await;
        let b = branch(&t.member, f.id, "after").await;
        approve(&t.owner, b.id).await;
        approve(&t.admin, b.id).await;
        let (one, two) = tokio::join!(merge(&t.member, b.id, None), merge(&t.owner, b.id, None));
        let outcomes = [one.map(|_| ()), two.map(|_| ())];
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "round {round}");
        for outcome in outcomes.into_iter().filter(Result::is_err) {
            expect_error(outcome, 409, "immutable");
        }
        assert_eq!(history(&t.member, f.id).await.len(), 2, "round {round}: creation and one merge");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approver_demoted_while_the_merge_runs_is_respected() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    for round in 0..20 {
        let f = fact(&t.member, t.id, &format!("Demotion {round}"), "old").await;
        let b = branch(&t.member, f.id, "new").await;
        approve(&t.owner, b.id).await;
        approve(&t.admin, b.id).await;
        let demote = t
            .owner
            .client
            .update_team_member()
            .team_id(t.id)
            .user_id(t.admin.id)
            .body(types::UpdateTeamMemberRequest::builder().role(TeamRole::Member));
        let (merged, demoted) = tokio::join!(merge(&t.member, b.id, None), demote.send());
        demoted.expect("the demotion goes through");
        let merged_now = value_of(&t.member, f.id).await.1 == 2;
        match merged {
            Ok(_) => assert!(merged_now, "round {round}"),
            Err(error) => {
                expect_error::<()>(Err(error), 409, "approval_required");
                assert!(!merged_now, "round {round}: refused, nothing merged");
            }
        }
        let promote = types::UpdateTeamMemberRequest::builder().role(TeamRole::Admin);
        t.owner.client.update_team_member().team_id(t.id).user_id(t.admin.id).body(promote).send().await.expect("promote back");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn discussions_thread_within_their_branch_and_strangers_see_nothing() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let stranger = app.register("Stranger").await;
    let f = fact(&t.member, t.id, "Topic", "x").await;
    let (b, other) = (branch(&t.member, f.id, "y").await, branch(&t.member, f.id, "z").await);
    let post =
        |text: &str, parent: Option<Uuid>| types::CreateBranchDiscussionRequest::builder().content(text.to_string()).parent_id(parent);
    let root = t.owner.client.create_branch_discussion().branch_id(b.id).body(post("why?", None)).send().await.expect("post").into_inner();
    let reply =
        t.member.client.create_branch_discussion().branch_id(b.id).body(post("because", Some(root.id))).send().await.expect("reply");
    assert_eq!(reply.into_inner().parent_id, Some(root.id));
    let misplaced = t.member.client.create_branch_discussion().branch_id(other.id).body(post("lost", Some(root.id))).send().await;
    assert_eq!(expect_error(misplaced, 404, "not_found").details["field"], "parent_id");
    assert_eq!(t.admin.client.list_branch_discussions().branch_id(b.id).send().await.expect("list").into_inner().total, 2);
    expect_error(stranger.client.get_branch().branch_id(b.id).send().await, 404, "not_found");
    expect_error(stranger.client.list_fact_branches().fact_id(f.id).send().await, 404, "not_found");
    expect_error(stranger.client.list_team_branches().team_id(t.id).send().await, 404, "not_found");
    expect_error(approve_result(&stranger, b.id).await, 404, "not_found");
    let closed = t.member.client.close_branch().branch_id(other.id).send().await.expect("the author closes").into_inner();
    assert_eq!(closed.status, types::BranchStatus::Closed);
    let queue =
        t.owner.client.list_team_branches().team_id(t.id).status(types::BranchStatus::Open).send().await.expect("queue").into_inner();
    assert_eq!(queue.items.iter().map(|b| b.id).collect::<Vec<_>>(), [b.id]);
}
