//! Teams and the owner/admin/member matrix.

use mit_client::types::{self, TeamRole};
use mit_tests::{TestApp, TestUser};
use serde_json::json;

use crate::participants::{Aim, RACES, ROUNDS, Step, assert_refused, sole_winner};
use crate::{expect_error, expect_raw_error, http, race};

async fn create_team(owner: &TestUser, name: &str) -> types::Team {
    owner.client.create_team().body(types::CreateTeamRequest::builder().name(name)).send().await.expect("create team").into_inner()
}

async fn add(
    actor: &TestUser,
    team: uuid::Uuid,
    who: &TestUser,
    role: TeamRole,
) -> Result<types::TeamMember, mit_client::Error<types::ErrorResponse>> {
    actor
        .client
        .add_team_member()
        .team_id(team)
        .body(types::AddTeamMemberRequest::builder().email(who.email.as_str()).role(Some(role)))
        .send()
        .await
        .map(|r| r.into_inner())
}

async fn set_role(
    actor: &TestUser,
    team: uuid::Uuid,
    who: uuid::Uuid,
    role: TeamRole,
) -> Result<types::TeamMember, mit_client::Error<types::ErrorResponse>> {
    actor
        .client
        .update_team_member()
        .team_id(team)
        .user_id(who)
        .body(types::UpdateTeamMemberRequest::builder().role(role))
        .send()
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_team_is_created_listed_edited_and_deleted() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    let team = create_team(&ada, "Engine").await;
    assert_eq!(team.my_role, TeamRole::Owner);
    assert_eq!(team.member_count.get(), 1);
    let listed = ada.client.list_teams().send().await.expect("list").into_inner();
    assert_eq!((listed.total, listed.items.len()), (1, 1));
    let edited = http()
        .patch(app.url(&format!("/api/v1/teams/{}", team.id)))
        .bearer_auth(&ada.access_token)
        .json(&json!({"name": "Analytical Engine", "description": "Babbage's"}))
        .send()
        .await
        .expect("request");
    assert_eq!(edited.status().as_u16(), 200);
    let edited: serde_json::Value = edited.json().await.expect("json");
    assert_eq!((edited["name"].as_str(), edited["description"].as_str()), (Some("Analytical Engine"), Some("Babbage's")));
    let cleared: serde_json::Value = http()
        .patch(app.url(&format!("/api/v1/teams/{}", team.id)))
        .bearer_auth(&ada.access_token)
        .json(&json!({"description": null}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(cleared.get("description").is_none(), "{cleared}");
    assert_eq!(ada.client.delete_team().team_id(team.id).send().await.expect("delete").status().as_u16(), 204);
    expect_error(ada.client.get_team().team_id(team.id).send().await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn outsiders_see_nothing_and_members_change_nothing() {
    let app = TestApp::spawn().await;
    let (owner, member, outsider) = (app.register("Owner").await, app.register("Member").await, app.register("Outsider").await);
    let team = create_team(&owner, "Team").await;
    add(&owner, team.id, &member, TeamRole::Member).await.expect("add member");
    expect_error(outsider.client.get_team().team_id(team.id).send().await, 404, "not_found");
    expect_error(outsider.client.list_team_members().team_id(team.id).send().await, 404, "not_found");
    expect_error(outsider.client.delete_team().team_id(team.id).send().await, 404, "not_found");
    let seen = member.client.get_team().team_id(team.id).send().await.expect("member sees").into_inner();
    assert_eq!((seen.my_role, seen.member_count.get()), (TeamRole::Member, 2));
    let rename = member
        .client
        .update_team()
        .team_id(team.id)
        .body(types::UpdateTeamRequest::builder().name(Some("X".try_into().expect("name"))))
        .send()
        .await;
    expect_error(rename, 403, "forbidden");
    expect_error(member.client.delete_team().team_id(team.id).send().await, 403, "forbidden");
    expect_error(add(&member, team.id, &outsider, TeamRole::Member).await, 403, "forbidden");
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_manage_members_but_never_owners() {
    let app = TestApp::spawn().await;
    let (owner, admin, member, newcomer) =
        (app.register("Owner").await, app.register("Admin").await, app.register("Member").await, app.register("New").await);
    let team = create_team(&owner, "Team").await;
    add(&owner, team.id, &admin, TeamRole::Admin).await.expect("add admin");
    add(&admin, team.id, &member, TeamRole::Member).await.expect("admin adds a member");
    expect_error(add(&admin, team.id, &newcomer, TeamRole::Owner).await, 403, "forbidden");
    add(&admin, team.id, &newcomer, TeamRole::Admin).await.expect("admin adds an admin");
    expect_error(set_role(&admin, team.id, member.id, TeamRole::Owner).await, 403, "forbidden");
    expect_error(set_role(&admin, team.id, owner.id, TeamRole::Member).await, 403, "forbidden");
    assert_eq!(set_role(&admin, team.id, member.id, TeamRole::Admin).await.expect("promote").role, TeamRole::Admin);
    expect_error(admin.client.remove_team_member().team_id(team.id).user_id(owner.id).send().await, 403, "forbidden");
    admin.client.remove_team_member().team_id(team.id).user_id(newcomer.id).send().await.expect("admin removes an admin");
    expect_error(admin.client.delete_team().team_id(team.id).send().await, 403, "forbidden");
    let members = owner.client.list_team_members().team_id(team.id).send().await.expect("list").into_inner();
    let roles: Vec<TeamRole> = members.items.iter().map(|m| m.role).collect();
    assert_eq!(roles, [TeamRole::Owner, TeamRole::Admin, TeamRole::Admin], "owners first");
}

#[tokio::test(flavor = "multi_thread")]
async fn adding_needs_an_existing_user_who_is_not_yet_a_member() {
    let app = TestApp::spawn().await;
    let (owner, member) = (app.register("Owner").await, app.register("Member").await);
    let team = create_team(&owner, "Team").await;
    add(&owner, team.id, &member, TeamRole::Member).await.expect("add");
    expect_error(add(&owner, team.id, &member, TeamRole::Admin).await, 409, "already_exists");
    let unknown = http()
        .post(app.url(&format!("/api/v1/teams/{}/members", team.id)))
        .bearer_auth(&owner.access_token)
        .json(&json!({"email": "nobody@example.com"}))
        .send()
        .await
        .expect("request");
    let error = expect_raw_error(unknown, 404, "not_found").await;
    assert_eq!(error["details"]["field"], "email");
    let default_role = http()
        .post(app.url(&format!("/api/v1/teams/{}/members", team.id)))
        .bearer_auth(&owner.access_token)
        .json(&json!({"email": app.register("Third").await.email}))
        .send()
        .await
        .expect("request");
    let body: serde_json::Value = default_role.json().await.expect("json");
    assert_eq!(body["role"], "member");
    expect_error(set_role(&owner, team.id, uuid::Uuid::new_v4(), TeamRole::Admin).await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_owner_can_neither_leave_nor_be_demoted() {
    let app = TestApp::spawn().await;
    let (owner, other) = (app.register("Owner").await, app.register("Other").await);
    let team = create_team(&owner, "Team").await;
    add(&owner, team.id, &other, TeamRole::Member).await.expect("add");
    expect_error(set_role(&owner, team.id, owner.id, TeamRole::Admin).await, 409, "last_owner");
    expect_error(owner.client.remove_team_member().team_id(team.id).user_id(owner.id).send().await, 409, "last_owner");
    let deletion = owner.client.delete_account().body(types::DeleteAccountRequest::builder().password(owner.password.clone())).send().await;
    let error = expect_error(deletion, 409, "last_owner");
    assert_eq!(error.details["team_ids"][0], team.id.to_string());
    set_role(&owner, team.id, other.id, TeamRole::Owner).await.expect("second owner");
    set_role(&owner, team.id, owner.id, TeamRole::Member).await.expect("now the first may step down");
    other.client.remove_team_member().team_id(team.id).user_id(owner.id).send().await.expect("and be removed");
    // A member may always leave.
    let third = app.register("Third").await;
    add(&other, team.id, &third, TeamRole::Member).await.expect("add");
    third.client.remove_team_member().team_id(team.id).user_id(third.id).send().await.expect("leave");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sole_member_team_disappears_with_its_owners_account() {
    let app = TestApp::spawn().await;
    let owner = app.register("Owner").await;
    let team = create_team(&owner, "Solo").await;
    owner
        .client
        .delete_account()
        .body(types::DeleteAccountRequest::builder().password(owner.password.clone()))
        .send()
        .await
        .expect("delete");
    let again = app.register("Again").await;
    expect_error(again.client.get_team().team_id(team.id).send().await, 404, "not_found");
}

/// `step` on `target`, taken by the owner `actor`.
async fn take(
    actor: mit_client::Client,
    team: uuid::Uuid,
    target: uuid::Uuid,
    step: Step,
) -> Result<(), mit_client::Error<types::ErrorResponse>> {
    match step {
        Step::Demote => {
            let body = types::UpdateTeamMemberRequest::builder().role(TeamRole::Member);
            let demoted = actor.update_team_member().team_id(team).user_id(target).body(body).send().await?.into_inner();
            assert_eq!((demoted.user.id, demoted.role), (target, TeamRole::Member), "the demoted member is returned");
        }
        Step::Remove => {
            actor.remove_team_member().team_id(team).user_id(target).send().await?;
        }
    }
    Ok(())
}

async fn owners(viewer: &TestUser, team: uuid::Uuid) -> Vec<uuid::Uuid> {
    let members = viewer.client.list_team_members().team_id(team).send().await.expect("list").into_inner().items;
    let mut owners: Vec<uuid::Uuid> = members.iter().filter(|m| m.role == TeamRole::Owner).map(|m| m.user.id).collect();
    owners.sort();
    owners
}

/// Two owners step down (or demote or remove each other) at the same moment: exactly one may
/// succeed, since the other would leave the team without an owner. Each round puts the team back
/// to two owners.
#[tokio::test(flavor = "multi_thread")]
async fn two_owners_stepping_down_at_once_leave_exactly_one_owner() {
    let app = TestApp::spawn().await;
    let users = [app.register("First").await, app.register("Second").await];
    let team = create_team(&users[0], "Team").await;
    add(&users[0], team.id, &users[1], TeamRole::Owner).await.expect("second owner");
    let mut both: Vec<uuid::Uuid> = users.iter().map(|u| u.id).collect();
    both.sort();
    for round in 0..ROUNDS {
        assert_eq!(owners(&users[0], team.id).await, both, "round {round} starts with two owners");
        let (aim, steps) = RACES[round % RACES.len()];
        let target = |side: usize| match aim {
            Aim::Themselves => users[side].id,
            Aim::EachOther => users[1 - side].id,
        };
        let (first, second) =
            race(take(users[0].client.clone(), team.id, target(0), steps[0]), take(users[1].client.clone(), team.id, target(1), steps[1]))
                .await;
        let label = format!("{round} ({aim:?}, {steps:?})");
        let (winner, refusal) = sole_winner(&label, first, second);
        let loser = 1 - winner;
        // Stepping down themselves, the loser is the last owner (409 `last_owner`). Aiming at
        // the winner, their rights are checked again when the write runs: demoted, they may no
        // longer change owners (403 `forbidden`); removed, they may not either, or no longer see
        // the team at all (404 `not_found`) if that check already knew.
        let refusals: &[(u16, &str)] = match (aim, steps[winner]) {
            (Aim::Themselves, _) => &[(409, "last_owner")],
            (Aim::EachOther, Step::Demote) => &[(403, "forbidden")],
            (Aim::EachOther, Step::Remove) => &[(403, "forbidden"), (404, "not_found")],
        };
        assert_refused(&label, refusal, refusals);
        let (stepped_down, left) = match aim {
            Aim::Themselves => (winner, loser),
            Aim::EachOther => (loser, winner),
        };
        assert_eq!(owners(&users[left], team.id).await, [users[left].id], "round {label}: one owner is left");

        // Back to two owners: the owner left brings the other one back.
        match steps[winner] {
            Step::Demote => set_role(&users[left], team.id, users[stepped_down].id, TeamRole::Owner).await.map(|_| ()),
            Step::Remove => add(&users[left], team.id, &users[stepped_down], TeamRole::Owner).await.map(|_| ()),
        }
        .expect("back to two owners");
    }
}
