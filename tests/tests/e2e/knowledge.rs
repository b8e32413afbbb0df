//! Ground Truth, first part: a team's knowledge projects and facts, each fact's history, what it
//! was "as of" a moment, the comparison of its versions, and search. Knowledge is visible to the
//! team's members only; members create, admins and owners change and archive; facts are archived,
//! never deleted, and keep their keys taken.

use std::collections::HashSet;
use std::num::NonZeroU32;

use chrono::{DateTime, TimeDelta, Utc};
use mit_client::types::{self, FactChangeKind, FactDiffOp, TeamRole};
use mit_client::{Error, ResponseValue};
use mit_tests::{TestApp, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{expect_error, expect_raw_error, http, race};

/// Rounds per race: enough to hit both orders many times on two cores.
const ROUNDS: usize = 20;

type ApiResult<T> = Result<ResponseValue<T>, Error<types::ErrorResponse>>;

/// A team with one user of each role, and a registered user outside the team.
struct Crew {
    team: Uuid,
    owner: TestUser,
    admin: TestUser,
    member: TestUser,
    outsider: TestUser,
}

/// A fresh server and a [`Crew`] on it. Keep the server bound for the whole test: dropping it
/// stops the server.
async fn crew() -> (TestApp, Crew) {
    let app = TestApp::spawn().await;
    let (owner, admin, member, outsider) =
        tokio::join!(app.register("Owner"), app.register("Admin"), app.register("Member"), app.register("Outsider"));
    let team = create_team(&owner, "Knowledge").await;
    add(&owner, team, &admin, TeamRole::Admin).await;
    add(&owner, team, &member, TeamRole::Member).await;
    (app, Crew { team, owner, admin, member, outsider })
}

async fn create_team(owner: &TestUser, name: &str) -> Uuid {
    owner.client.create_team().body(types::CreateTeamRequest::builder().name(name)).send().await.expect("create team").into_inner().id
}

async fn add(owner: &TestUser, team: Uuid, who: &TestUser, role: TeamRole) {
    owner
        .client
        .add_team_member()
        .team_id(team)
        .body(types::AddTeamMemberRequest::builder().email(who.email.as_str()).role(Some(role)))
        .send()
        .await
        .expect("add team member");
}

async fn set_role(owner: &TestUser, team: Uuid, who: Uuid, role: TeamRole) -> ApiResult<types::TeamMember> {
    owner.client.update_team_member().team_id(team).user_id(who).body(types::UpdateTeamMemberRequest::builder().role(role)).send().await
}

fn n(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).expect("not zero")
}

// Projects.

async fn create_project(user: &TestUser, team: Uuid, name: &str) -> ApiResult<types::Project> {
    user.client.create_project().team_id(team).body(types::CreateProjectRequest::builder().name(name)).send().await
}

async fn project(user: &TestUser, team: Uuid, name: &str) -> types::Project {
    let created = create_project(user, team, name).await.expect("create project");
    assert_eq!(created.status().as_u16(), 201);
    created.into_inner()
}

async fn rename_project(user: &TestUser, id: Uuid, name: &str) -> ApiResult<types::Project> {
    let body = types::UpdateProjectRequest::builder().name(Some(name.try_into().expect("name")));
    user.client.update_project().project_id(id).body(body).send().await
}

async fn project_names(user: &TestUser, team: Uuid, q: Option<&str>) -> Vec<String> {
    let mut request = user.client.list_projects().team_id(team).limit(n(100));
    if let Some(q) = q {
        request = request.q(q);
    }
    let page = request.send().await.expect("list projects").into_inner();
    assert_eq!(page.total, page.items.len() as i64, "{page:?}");
    page.items.iter().map(|p| p.name.to_string()).collect()
}

// Facts.

fn fact_body(key: &str, value: &str) -> types::builder::CreateFactRequest {
    types::CreateFactRequest::builder().key(key).value(value)
}

async fn create_fact(user: &TestUser, team: Uuid, body: types::builder::CreateFactRequest) -> ApiResult<types::Fact> {
    user.client.create_fact().team_id(team).body(body).send().await
}

async fn fact_with(user: &TestUser, team: Uuid, body: types::builder::CreateFactRequest) -> types::Fact {
    let created = create_fact(user, team, body).await.expect("create fact");
    assert_eq!(created.status().as_u16(), 201);
    created.into_inner()
}

async fn fact(user: &TestUser, team: Uuid, key: &str, value: &str) -> types::Fact {
    fact_with(user, team, fact_body(key, value)).await
}

async fn get_fact(user: &TestUser, id: Uuid) -> types::Fact {
    user.client.get_fact().fact_id(id).send().await.expect("get fact").into_inner()
}

async fn update_fact(user: &TestUser, id: Uuid, body: types::builder::UpdateFactRequest) -> ApiResult<types::Fact> {
    user.client.update_fact().fact_id(id).body(body).send().await
}

fn new_key(key: &str) -> types::builder::UpdateFactRequest {
    types::UpdateFactRequest::builder().key(Some(key.try_into().expect("key")))
}

/// A raw PATCH of a fact, for bodies with `null` (the typed client leaves absent and null alike out).
async fn patch_fact(app: &TestApp, user: &TestUser, id: Uuid, body: Value) -> reqwest::Response {
    http()
        .patch(app.url(&format!("/api/v1/knowledge/facts/{id}")))
        .bearer_auth(&user.access_token)
        .json(&body)
        .send()
        .await
        .expect("request")
}

async fn patched_fact(app: &TestApp, user: &TestUser, id: Uuid, body: Value) -> types::Fact {
    let response = patch_fact(app, user, id, body.clone()).await;
    assert_eq!(response.status().as_u16(), 200, "PATCH {body}");
    response.json().await.expect("a fact")
}

async fn archive(user: &TestUser, id: Uuid) -> ApiResult<()> {
    user.client.delete_fact().fact_id(id).send().await
}

async fn archived(user: &TestUser, id: Uuid) {
    let response = archive(user, id).await.expect("archive");
    assert_eq!(response.status().as_u16(), 204);
}

async fn history(user: &TestUser, id: Uuid) -> Vec<types::FactHistoryEntry> {
    let page = user.client.list_fact_history().fact_id(id).limit(n(100)).send().await.expect("history").into_inner();
    assert_eq!(page.total, page.items.len() as i64, "{page:?}");
    page.items
}

async fn as_of(user: &TestUser, id: Uuid, at: DateTime<Utc>) -> ApiResult<types::FactAsOf> {
    user.client.get_fact_as_of().fact_id(id).at(at).send().await
}

async fn compare(user: &TestUser, id: Uuid, from: u32, to: u32) -> ApiResult<types::FactComparison> {
    user.client.compare_fact_versions().fact_id(id).from(n(from)).to(n(to)).send().await
}

async fn page(request: mit_client::builder::ListFacts<'_>) -> types::FactPage {
    request.send().await.expect("list facts").into_inner()
}

/// Every fact `request` lists (one page of 100), checking `total` agrees.
async fn all(request: mit_client::builder::ListFacts<'_>) -> Vec<types::Fact> {
    let page = page(request.limit(n(100))).await;
    assert_eq!(page.total, page.items.len() as i64, "{page:?}");
    page.items
}

fn keys(facts: &[types::Fact]) -> Vec<&str> {
    facts.iter().map(|f| f.key.as_str()).collect()
}

/// A history entry's changes as `(field, previous, new)`, sorted by field.
fn changes(entry: &types::FactHistoryEntry) -> Vec<(String, Option<String>, Option<String>)> {
    let mut changes: Vec<_> = entry
        .changes
        .iter()
        .map(|c| (c.field.to_string(), c.previous.as_ref().map(|p| p.to_string()), c.new.as_ref().map(|n| n.to_string())))
        .collect();
    changes.sort();
    changes
}

fn change(field: &str, previous: Option<&str>, new: Option<&str>) -> (String, Option<String>, Option<String>) {
    (field.to_string(), previous.map(str::to_string), new.map(str::to_string))
}

#[track_caller]
fn expect_not_found_field<T: std::fmt::Debug>(result: ApiResult<T>, field: &str) {
    let error = expect_error(result, 404, "not_found");
    assert_eq!(error.details.get("field").and_then(Value::as_str), Some(field), "{error:?}");
}

#[track_caller]
fn expect_taken_by<T: std::fmt::Debug>(result: ApiResult<T>, existing: Uuid) {
    let error = expect_error(result, 409, "already_exists");
    assert_eq!(error.details.get("fact_id").and_then(Value::as_str), Some(existing.to_string().as_str()), "{error:?}");
}

#[track_caller]
fn expect_archived_conflict<T: std::fmt::Debug>(result: ApiResult<T>) {
    let error = expect_error(result, 409, "conflict");
    assert_eq!(error.details.get("current").and_then(Value::as_str), Some("archived"), "{error:?}");
}

// Projects.

#[tokio::test(flavor = "multi_thread")]
async fn a_member_creates_a_project_that_admins_edit_and_delete() {
    let (app, Crew { team, admin, member, .. }) = crew().await;
    let body = types::CreateProjectRequest::builder().name("Roadmap").description(Some("What we ship when".try_into().expect("text")));
    let created = member.client.create_project().team_id(team).body(body).send().await.expect("create project");
    assert_eq!(created.status().as_u16(), 201);
    let created = created.into_inner();
    assert_eq!((created.name.as_str(), created.team_id, created.fact_count), ("Roadmap", team, 0));
    assert_eq!((created.description.as_deref().map(String::as_str), created.created_by.id), (Some("What we ship when"), member.id));
    let seen = member.client.get_project().project_id(created.id).send().await.expect("get project").into_inner();
    assert_eq!((seen.id, seen.name.as_str()), (created.id, "Roadmap"));

    let body = types::UpdateProjectRequest::builder()
        .name(Some("Roadmap 2027".try_into().expect("name")))
        .description(Some("Next year".try_into().expect("text")));
    let edited = admin.client.update_project().project_id(created.id).body(body).send().await.expect("update project").into_inner();
    assert_eq!((edited.name.as_str(), edited.description.as_deref().map(String::as_str)), ("Roadmap 2027", Some("Next year")));
    assert!(edited.updated_at >= created.updated_at);
    let cleared = http()
        .patch(app.url(&format!("/api/v1/knowledge/projects/{}", created.id)))
        .bearer_auth(&admin.access_token)
        .json(&json!({"description": null}))
        .send()
        .await
        .expect("request");
    assert_eq!(cleared.status().as_u16(), 200);
    let cleared: Value = cleared.json().await.expect("json");
    assert!(cleared.get("description").is_none(), "`description: null` removes it: {cleared}");
    assert_eq!(cleared["name"], "Roadmap 2027", "only the properties present change");

    let deleted = admin.client.delete_project().project_id(created.id).send().await.expect("delete project");
    assert_eq!(deleted.status().as_u16(), 204);
    expect_error(member.client.get_project().project_id(created.id).send().await, 404, "not_found");
    assert!(project_names(&member, team, None).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn projects_are_listed_by_name_and_searched_case_insensitively() {
    let (_app, Crew { team, member, .. }) = crew().await;
    for name in ["Roadmap", "Billing", "Alpha launch"] {
        project(&member, team, name).await;
    }
    assert_eq!(project_names(&member, team, None).await, ["Alpha launch", "Billing", "Roadmap"]);
    assert_eq!(project_names(&member, team, Some("ILL")).await, ["Billing"]);
    assert_eq!(project_names(&member, team, Some("N")).await, ["Alpha launch", "Billing"]);
    assert!(project_names(&member, team, Some("nothing")).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn project_names_are_unique_per_team_case_insensitively() {
    let (_app, Crew { team, owner, admin, member, outsider, .. }) = crew().await;
    let roadmap = project(&member, team, "Roadmap").await;
    let billing = project(&member, team, "Billing").await;
    expect_error(create_project(&member, team, "ROADMAP").await, 409, "already_exists");
    expect_error(create_project(&owner, team, "roadmap").await, 409, "already_exists");
    expect_error(rename_project(&admin, billing.id, "roadMAP").await, 409, "already_exists");
    // Its own name in another case is no conflict.
    assert_eq!(rename_project(&admin, roadmap.id, "ROADMAP").await.expect("recase").into_inner().name.as_str(), "ROADMAP");
    // Another team has its own names.
    let other = create_team(&outsider, "Elsewhere").await;
    project(&outsider, other, "Roadmap").await;
    assert_eq!(project_names(&member, team, None).await, ["Billing", "ROADMAP"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_with_active_facts_is_not_deleted_and_its_archived_facts_lose_it() {
    let (app, Crew { team, admin, member, .. }) = crew().await;
    let infra = project(&member, team, "Infra").await;
    let in_infra = |key: &str| fact_body(key, "some value").project_id(Some(infra.id));
    let staying = fact_with(&member, team, in_infra("Deploy day")).await;
    let leaving = fact_with(&member, team, in_infra("Standup time")).await;
    assert_eq!(member.client.get_project().project_id(infra.id).send().await.expect("get").into_inner().fact_count, 2);
    let old = fact_with(&member, team, in_infra("Old rule")).await;
    archived(&admin, old.id).await;

    let refused = expect_error(admin.client.delete_project().project_id(infra.id).send().await, 409, "conflict");
    assert_eq!(refused.details.get("fact_count").and_then(Value::as_i64), Some(2), "archived facts do not count: {refused:?}");
    let moved = patched_fact(&app, &admin, leaving.id, json!({"project_id": null})).await;
    assert!(moved.project.is_none());
    let refused = expect_error(admin.client.delete_project().project_id(infra.id).send().await, 409, "conflict");
    assert_eq!(refused.details.get("fact_count").and_then(Value::as_i64), Some(1), "{refused:?}");
    archived(&admin, staying.id).await;

    let deleted = admin.client.delete_project().project_id(infra.id).send().await.expect("delete project");
    assert_eq!(deleted.status().as_u16(), 204);
    expect_error(member.client.get_project().project_id(infra.id).send().await, 404, "not_found");
    for id in [staying.id, old.id] {
        let now = get_fact(&member, id).await;
        assert!(now.project.is_none() && now.archived_at.is_some(), "{now:?}");
        let kinds: Vec<FactChangeKind> = history(&member, id).await.iter().map(|e| e.kind).collect();
        assert_eq!(kinds.last(), Some(&FactChangeKind::Created), "the history is kept: {kinds:?}");
        assert!(kinds.contains(&FactChangeKind::Archived), "{kinds:?}");
    }
    assert!(all(member.client.list_facts().team_id(team).project_id(infra.id).include_archived(true)).await.is_empty());
    assert_eq!(get_fact(&member, leaving.id).await.key.as_str(), "Standup time");
}

// Facts.

#[tokio::test(flavor = "multi_thread")]
async fn a_member_creates_a_fact_at_version_1_with_its_created_entry() {
    let (_app, Crew { team, member, owner, .. }) = crew().await;
    let infra = project(&owner, team, "Infra").await;
    let body = fact_body("  Deploy day  ", "Deploys happen on Friday")
        .category(Some("Ops".try_into().expect("category")))
        .project_id(Some(infra.id))
        .reason(Some("Agreed in the retro".try_into().expect("reason")));
    let created = fact_with(&member, team, body).await;
    assert_eq!(created.key.as_str(), "Deploy day", "the key is stored trimmed");
    assert_eq!((created.value.as_str(), created.version.get(), created.open_branch_count), ("Deploys happen on Friday", 1, 0));
    assert_eq!((created.team_id, created.created_by.id), (team, member.id));
    assert_eq!(created.category.as_deref().map(String::as_str), Some("Ops"));
    let summary = created.project.as_ref().expect("a project");
    assert_eq!((summary.id, summary.name.as_str()), (infra.id, "Infra"));
    assert!(created.archived_at.is_none() && created.source_meeting_id.is_none());

    let seen = get_fact(&owner, created.id).await;
    assert_eq!((seen.id, seen.key.as_str(), seen.version.get()), (created.id, "Deploy day", 1));
    assert_eq!(keys(&all(owner.client.list_facts().team_id(team)).await), ["Deploy day"]);
    assert_eq!(owner.client.get_project().project_id(infra.id).send().await.expect("get").into_inner().fact_count, 1);

    let entries = history(&member, created.id).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!((entry.kind, entry.sequence.get(), entry.version.get(), entry.fact_id), (FactChangeKind::Created, 1, 1, created.id));
    assert_eq!((entry.new_value.as_str(), entry.changed_by.id), ("Deploys happen on Friday", member.id));
    assert!(entry.previous_value.is_none() && entry.changes.is_empty() && entry.branch_id.is_none(), "{entry:?}");
    assert_eq!(entry.reason.as_deref().map(String::as_str), Some("Agreed in the retro"));
}

#[tokio::test(flavor = "multi_thread")]
async fn fact_keys_are_unique_per_team_case_insensitively_ignoring_surrounding_whitespace() {
    let (_app, Crew { team, admin, member, outsider, .. }) = crew().await;
    let deploy = fact(&member, team, "Deploy day", "Friday").await;
    for taken in ["Deploy day", "DEPLOY DAY", "  deploy Day ", "\tDeploy day\n"] {
        expect_taken_by(create_fact(&admin, team, fact_body(taken, "Monday")).await, deploy.id);
    }
    // Inner whitespace is part of the key.
    fact(&member, team, "Deploy  day", "Monday").await;
    // Another team has its own keys.
    let other = create_team(&outsider, "Elsewhere").await;
    fact(&outsider, other, "Deploy day", "Thursday").await;
    assert_eq!(get_fact(&member, deploy.id).await.value.as_str(), "Friday");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blank_key_is_validation_failed() {
    // The contract says so in the schema (`pattern: '\S'`), so the typed client refuses to send it:
    // these requests are raw.
    let (app, Crew { team, admin, member, .. }) = crew().await;
    let create = http()
        .post(app.url(&format!("/api/v1/teams/{team}/knowledge/facts")))
        .bearer_auth(&member.access_token)
        .json(&json!({"key": "   ", "value": "Friday"}))
        .send()
        .await
        .expect("request");
    let error = expect_raw_error(create, 422, "validation_failed").await;
    assert_eq!(error["details"]["field"], "key", "{error}");
    assert!(all(member.client.list_facts().team_id(team).include_archived(true)).await.is_empty());
    let deploy = fact(&member, team, "Deploy day", "Friday").await;
    let error = expect_raw_error(patch_fact(&app, &admin, deploy.id, json!({"key": " \t "})).await, 422, "validation_failed").await;
    assert_eq!(error["details"]["field"], "key", "{error}");
    assert_eq!(history(&member, deploy.id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_that_is_not_the_teams_is_not_found_on_create_and_update() {
    let (_app, Crew { team, admin, member, outsider, .. }) = crew().await;
    let other = create_team(&outsider, "Elsewhere").await;
    let foreign = project(&outsider, other, "Foreign").await;
    for project_id in [foreign.id, Uuid::new_v4()] {
        expect_not_found_field(
            create_fact(&member, team, fact_body("Deploy day", "Friday").project_id(Some(project_id))).await,
            "project_id",
        );
    }
    assert!(all(member.client.list_facts().team_id(team).include_archived(true)).await.is_empty(), "nothing was created");
    let deploy = fact(&member, team, "Deploy day", "Friday").await;
    for project_id in [foreign.id, Uuid::new_v4()] {
        let body = types::UpdateFactRequest::builder().project_id(Some(project_id));
        expect_not_found_field(update_fact(&admin, deploy.id, body).await, "project_id");
    }
    assert!(get_fact(&member, deploy.id).await.project.is_none());
    assert_eq!(history(&member, deploy.id).await.len(), 1, "no entry for a refused edit");
    // As a filter, another team's project simply matches nothing.
    fact_with(&outsider, other, fact_body("Foreign fact", "x").project_id(Some(foreign.id))).await;
    assert!(all(member.client.list_facts().team_id(team).project_id(foreign.id)).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_edits_write_history_entries_listing_each_change() {
    let (app, Crew { team, owner, admin, member, .. }) = crew().await;
    let infra = project(&member, team, "Infra").await;
    let created = fact_with(&member, team, fact_body("Deploy day", "Friday").category(Some("Ops".try_into().expect("category")))).await;
    let body = new_key("Deploy weekday").category(Some("Operations".try_into().expect("category"))).project_id(Some(infra.id));
    let edited = update_fact(&admin, created.id, body).await.expect("update fact").into_inner();
    assert_eq!((edited.key.as_str(), edited.category.as_deref().map(String::as_str)), ("Deploy weekday", Some("Operations")));
    assert_eq!(edited.project.as_ref().map(|p| p.id), Some(infra.id));
    assert_eq!((edited.value.as_str(), edited.version.get(), edited.value_changed_at), ("Friday", 1, created.value_changed_at));
    assert!(edited.updated_at > created.updated_at, "updated_at is the last change of anything");

    let entries = history(&member, created.id).await;
    let entry = &entries[0];
    assert_eq!((entries.len(), entry.kind, entry.sequence.get()), (2, FactChangeKind::MetadataChanged, 2));
    assert_eq!((entry.version.get(), entry.new_value.as_str(), entry.changed_by.id), (1, "Friday", admin.id), "the value version stays");
    let project_id = infra.id.to_string();
    assert_eq!(
        changes(entry),
        [
            change("category", Some("Ops"), Some("Operations")),
            change("key", Some("Deploy day"), Some("Deploy weekday")),
            change("project_id", None, Some(&project_id)),
        ]
    );

    let cleared = patched_fact(&app, &owner, created.id, json!({"category": null, "project_id": null})).await;
    assert!(cleared.category.is_none() && cleared.project.is_none(), "{cleared:?}");
    assert_eq!(cleared.key.as_str(), "Deploy weekday", "only the properties present change");
    let entries = history(&member, created.id).await;
    assert_eq!((entries.len(), entries[0].sequence.get(), entries[0].changed_by.id), (3, 3, owner.id));
    assert_eq!(changes(&entries[0]), [change("category", Some("Operations"), None), change("project_id", Some(&project_id), None)]);

    // A body that changes nothing writes nothing.
    for unchanged in [json!({}), json!({"key": "Deploy weekday"}), json!({"category": null, "project_id": null})] {
        let same = patched_fact(&app, &admin, created.id, unchanged.clone()).await;
        assert_eq!(same.key.as_str(), "Deploy weekday");
        assert_eq!(history(&member, created.id).await.len(), 3, "no entry for {unchanged}");
    }

    // Its own key in another case is no conflict, and is a change.
    let recased = update_fact(&admin, created.id, new_key("deploy WEEKDAY")).await.expect("recase").into_inner();
    assert_eq!(recased.key.as_str(), "deploy WEEKDAY");
    let entries = history(&member, created.id).await;
    assert_eq!((entries.len(), entries[0].kind), (4, FactChangeKind::MetadataChanged));
    assert_eq!(changes(&entries[0]), [change("key", Some("Deploy weekday"), Some("deploy WEEKDAY"))]);
}

#[tokio::test(flavor = "multi_thread")]
async fn renaming_to_a_key_another_fact_has_is_already_exists() {
    let (_app, Crew { team, admin, member, .. }) = crew().await;
    let deploy = fact(&member, team, "Deploy day", "Friday").await;
    let standup = fact(&member, team, "Standup time", "09:30").await;
    let old = fact(&member, team, "Old rule", "No deploys").await;
    archived(&admin, old.id).await;
    expect_taken_by(update_fact(&admin, standup.id, new_key(" DEPLOY DAY ")).await, deploy.id);
    expect_taken_by(update_fact(&admin, standup.id, new_key("old RULE")).await, old.id);
    assert_eq!(get_fact(&member, standup.id).await.key.as_str(), "Standup time");
    assert_eq!(history(&member, standup.id).await.len(), 1);
}

/// The contract says the key is stored trimmed on create and compared trimmed on update; this
/// assumes a renamed key is stored trimmed as well.
#[tokio::test(flavor = "multi_thread")]
async fn a_renamed_key_is_stored_trimmed() {
    let (_app, Crew { team, admin, member, .. }) = crew().await;
    let deploy = fact(&member, team, "Deploy day", "Friday").await;
    let renamed = update_fact(&admin, deploy.id, new_key("  Release day \t")).await.expect("rename").into_inner();
    assert_eq!(renamed.key.as_str(), "Release day");
    assert_eq!(changes(&history(&member, deploy.id).await[0]), [change("key", Some("Deploy day"), Some("Release day"))]);
}

#[tokio::test(flavor = "multi_thread")]
async fn members_create_but_only_admins_and_owners_change_or_archive() {
    let (_app, Crew { team, owner, admin, member, .. }) = crew().await;
    let by_member = project(&member, team, "By member").await;
    let spare = project(&member, team, "Spare").await;
    let deploy = fact_with(&member, team, fact_body("Deploy day", "Friday").project_id(Some(by_member.id))).await;
    let standup = fact(&member, team, "Standup time", "09:30").await;

    expect_error(rename_project(&member, by_member.id, "Mine").await, 403, "forbidden");
    expect_error(member.client.delete_project().project_id(spare.id).send().await, 403, "forbidden");
    expect_error(update_fact(&member, deploy.id, new_key("Release day")).await, 403, "forbidden");
    expect_error(archive(&member, deploy.id).await, 403, "forbidden");
    let unchanged = get_fact(&member, deploy.id).await;
    assert!(unchanged.key.as_str() == "Deploy day" && unchanged.archived_at.is_none(), "{unchanged:?}");
    assert_eq!(history(&member, deploy.id).await.len(), 1);
    assert_eq!(project_names(&member, team, None).await, ["By member", "Spare"]);

    rename_project(&admin, by_member.id, "Renamed by admin").await.expect("admin renames");
    rename_project(&owner, spare.id, "Renamed by owner").await.expect("owner renames");
    update_fact(&admin, deploy.id, new_key("Release day")).await.expect("admin edits");
    update_fact(&owner, standup.id, new_key("Standup start")).await.expect("owner edits");
    archived(&admin, deploy.id).await;
    archived(&owner, standup.id).await;
    let deleted = admin.client.delete_project().project_id(by_member.id).send().await.expect("admin deletes");
    assert_eq!(deleted.status().as_u16(), 204);
    let deleted = owner.client.delete_project().project_id(spare.id).send().await.expect("owner deletes");
    assert_eq!(deleted.status().as_u16(), 204);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_member_gets_404_on_every_knowledge_operation() {
    let (app, Crew { team, owner, member, outsider, .. }) = crew().await;
    let infra = project(&member, team, "Infra").await;
    let deploy = fact_with(&member, team, fact_body("Deploy day", "Friday").project_id(Some(infra.id))).await;
    let at = history(&member, deploy.id).await[0].created_at;
    let c = &outsider.client;
    expect_error(c.list_projects().team_id(team).send().await, 404, "not_found");
    expect_error(create_project(&outsider, team, "Mine").await, 404, "not_found");
    expect_error(c.get_project().project_id(infra.id).send().await, 404, "not_found");
    expect_error(rename_project(&outsider, infra.id, "Mine").await, 404, "not_found");
    expect_error(c.delete_project().project_id(infra.id).send().await, 404, "not_found");
    expect_error(c.list_facts().team_id(team).send().await, 404, "not_found");
    expect_error(create_fact(&outsider, team, fact_body("Mine", "x")).await, 404, "not_found");
    expect_error(c.get_fact().fact_id(deploy.id).send().await, 404, "not_found");
    expect_error(update_fact(&outsider, deploy.id, new_key("Mine")).await, 404, "not_found");
    expect_error(archive(&outsider, deploy.id).await, 404, "not_found");
    expect_error(c.list_fact_history().fact_id(deploy.id).send().await, 404, "not_found");
    expect_error(as_of(&outsider, deploy.id, at).await, 404, "not_found");
    expect_error(compare(&outsider, deploy.id, 1, 1).await, 404, "not_found");
    // Nothing changed.
    let now = get_fact(&member, deploy.id).await;
    assert!(now.key.as_str() == "Deploy day" && now.archived_at.is_none());
    assert_eq!(project_names(&member, team, None).await, ["Infra"]);
    assert_eq!(keys(&all(member.client.list_facts().team_id(team)).await), ["Deploy day"]);

    // Ids that do not exist look the same to a member.
    expect_error(member.client.list_facts().team_id(Uuid::new_v4()).send().await, 404, "not_found");
    expect_error(member.client.get_project().project_id(Uuid::new_v4()).send().await, 404, "not_found");
    expect_error(member.client.get_fact().fact_id(Uuid::new_v4()).send().await, 404, "not_found");
    // A member who leaves sees nothing any more.
    owner.client.remove_team_member().team_id(team).user_id(member.id).send().await.expect("remove");
    expect_error(member.client.get_fact().fact_id(deploy.id).send().await, 404, "not_found");
    expect_error(member.client.list_projects().team_id(team).send().await, 404, "not_found");
    // And without a token there is nothing to see either.
    let anonymous = http().get(app.url(&format!("/api/v1/knowledge/facts/{}", deploy.id))).send().await.expect("request");
    expect_raw_error(anonymous, 401, "unauthenticated").await;
}

// Archiving.

#[tokio::test(flavor = "multi_thread")]
async fn archiving_keeps_the_fact_readable_and_its_key_taken() {
    let (_app, Crew { team, owner, admin, member, .. }) = crew().await;
    let deploy = fact(&member, team, "Deploy day", "Friday").await;
    let standup = fact(&member, team, "Standup time", "09:30").await;
    archived(&admin, deploy.id).await;

    let now = get_fact(&member, deploy.id).await;
    let archived_at = now.archived_at.expect("archived_at");
    assert_eq!((now.key.as_str(), now.value.as_str(), now.version.get()), ("Deploy day", "Friday", 1));
    assert!(archived_at >= now.created_at);
    assert_eq!(keys(&all(member.client.list_facts().team_id(team)).await), ["Standup time"]);
    assert_eq!(keys(&all(member.client.list_facts().team_id(team).include_archived(false)).await), ["Standup time"]);
    let everything = all(member.client.list_facts().team_id(team).include_archived(true)).await;
    assert_eq!(keys(&everything), ["Deploy day", "Standup time"]);
    assert_eq!(everything[0].archived_at, Some(archived_at));

    expect_taken_by(create_fact(&member, team, fact_body(" deploy DAY", "Monday")).await, deploy.id);
    let entries = history(&member, deploy.id).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    let entry = &entries[0];
    assert_eq!((entry.kind, entry.sequence.get(), entry.version.get()), (FactChangeKind::Archived, 2, 1));
    assert_eq!((entry.new_value.as_str(), entry.changed_by.id), ("Friday", admin.id));
    assert!(entry.changes.is_empty(), "{entry:?}");
    assert_eq!(entries[1].kind, FactChangeKind::Created);

    expect_archived_conflict(archive(&owner, deploy.id).await);
    expect_archived_conflict(update_fact(&owner, deploy.id, new_key("Release day")).await);
    assert_eq!(history(&member, deploy.id).await.len(), 2, "refusals write nothing");
    assert_eq!(get_fact(&member, deploy.id).await.archived_at, Some(archived_at));
    let comparison = compare(&member, deploy.id, 1, 1).await.expect("compare an archived fact").into_inner();
    assert_eq!(comparison.to_value.as_str(), "Friday");
    assert!(get_fact(&member, standup.id).await.archived_at.is_none());
}

// History, as-of and comparison.

#[tokio::test(flavor = "multi_thread")]
async fn history_is_listed_newest_first_by_sequence_and_pages() {
    let (_app, Crew { team, admin, member, .. }) = crew().await;
    let created = fact(&member, team, "Key 1", "The value").await;
    for key in ["Key 2", "Key 3", "Key 4"] {
        update_fact(&admin, created.id, new_key(key)).await.expect("rename");
    }
    archived(&admin, created.id).await;
    let entries = history(&member, created.id).await;
    let sequences: Vec<u64> = entries.iter().map(|e| e.sequence.get()).collect();
    assert_eq!(sequences, [5, 4, 3, 2, 1]);
    use FactChangeKind::{Archived, Created, MetadataChanged};
    let kinds: Vec<FactChangeKind> = entries.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [Archived, MetadataChanged, MetadataChanged, MetadataChanged, Created]);
    assert!(entries.iter().all(|e| e.fact_id == created.id && e.version.get() == 1 && e.new_value.as_str() == "The value"));
    assert!(entries.windows(2).all(|w| w[0].created_at >= w[1].created_at), "newest first");
    assert_eq!(changes(&entries[1]), [change("key", Some("Key 3"), Some("Key 4"))]);

    let second = member.client.list_fact_history().fact_id(created.id).page(n(2)).limit(n(2)).send().await.expect("page 2").into_inner();
    assert_eq!((second.total, second.page.get(), second.limit.get()), (5, 2, 2));
    assert_eq!(second.items.iter().map(|e| e.sequence.get()).collect::<Vec<_>>(), [3, 2]);
    let third = member.client.list_fact_history().fact_id(created.id).page(n(3)).limit(n(2)).send().await.expect("page 3").into_inner();
    assert_eq!(third.items.iter().map(|e| e.sequence.get()).collect::<Vec<_>>(), [1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn as_of_a_moment_shows_the_key_and_archived_state_of_that_moment() {
    let (_app, Crew { team, admin, member, .. }) = crew().await;
    let created = fact(&member, team, "Release day", "Friday").await;
    update_fact(&admin, created.id, new_key("Release weekday")).await.expect("rename");
    archived(&admin, created.id).await;
    let entries = history(&member, created.id).await;
    let moments: Vec<DateTime<Utc>> = entries.iter().rev().map(|e| e.created_at).collect();
    let [born, renamed, archived_at] = moments[..] else { panic!("three entries: {entries:?}") };
    assert!(born <= renamed && renamed <= archived_at, "{moments:?}");

    let expect = async |at: DateTime<Utc>, key: &str, is_archived: bool| {
        let seen = as_of(&member, created.id, at).await.expect("as of").into_inner();
        assert_eq!((seen.fact_id, seen.at), (created.id, at), "{seen:?}");
        assert_eq!((seen.key.as_str(), seen.archived), (key, is_archived), "as of {at}: {seen:?}");
        assert_eq!((seen.value.as_str(), seen.version.get(), seen.value_set_at), ("Friday", 1, created.value_changed_at), "as of {at}");
    };
    expect(born, "Release day", false).await;
    if renamed - born > TimeDelta::microseconds(1) {
        expect(born + (renamed - born) / 2, "Release day", false).await;
    }
    expect(renamed, "Release weekday", false).await;
    if archived_at - renamed > TimeDelta::microseconds(1) {
        expect(archived_at - TimeDelta::microseconds(1), "Release weekday", false).await;
    }
    expect(archived_at, "Release weekday", true).await;
    expect(archived_at + TimeDelta::days(365), "Release weekday", true).await;

    expect_not_found_field(as_of(&member, created.id, born - TimeDelta::microseconds(1)).await, "at");
    expect_not_found_field(as_of(&member, created.id, born - TimeDelta::days(1)).await, "at");
}

#[tokio::test(flavor = "multi_thread")]
async fn comparing_version_1_with_itself_gives_equal_lines_and_unknown_versions_are_not_found() {
    let (app, Crew { team, member, .. }) = crew().await;
    let created = fact(&member, team, "Release checklist", "Tag the release\nWrite the notes\nTell the team").await;
    let comparison = compare(&member, created.id, 1, 1).await.expect("compare").into_inner();
    assert_eq!((comparison.fact_id, comparison.from_version.get(), comparison.to_version.get()), (created.id, 1, 1));
    assert_eq!((comparison.from_value.as_str(), comparison.to_value.as_str()), (created.value.as_str(), created.value.as_str()));
    let lines: Vec<(FactDiffOp, &str)> = comparison.lines.iter().map(|l| (l.op, l.text.as_str())).collect();
    assert_eq!(
        lines,
        [(FactDiffOp::Equal, "Tag the release"), (FactDiffOp::Equal, "Write the notes"), (FactDiffOp::Equal, "Tell the team")]
    );

    expect_not_found_field(compare(&member, created.id, 1, 2).await, "to");
    expect_not_found_field(compare(&member, created.id, 2, 1).await, "from");
    let zero = http()
        .get(app.url(&format!("/api/v1/knowledge/facts/{}/compare?from=0&to=1", created.id)))
        .bearer_auth(&member.access_token)
        .send()
        .await
        .expect("request");
    expect_raw_error(zero, 422, "validation_failed").await;
}

// Search and pages.

#[tokio::test(flavor = "multi_thread")]
async fn search_matches_key_or_value_case_insensitively_and_combines_with_filters() {
    let (_app, Crew { team, admin, member, .. }) = crew().await;
    let (infra, product) = (project(&member, team, "Infra").await, project(&member, team, "Product").await);
    let file = async |key: &str, value: &str, category: &str, project: Option<Uuid>| {
        let body = fact_body(key, value).category(Some(category.try_into().expect("category"))).project_id(project);
        fact_with(&member, team, body).await
    };
    file("Deploy day", "Deploys happen on Friday", "Ops", Some(infra.id)).await;
    file("Release train", "Every second FRIDAY", "Ops", Some(product.id)).await;
    file("Friday lunch", "Pizza", "Social", None).await;
    file("Standup time", "09:30", "Ops", Some(infra.id)).await;
    let old = file("Old deploy rule", "Deploys on Friday were banned", "Ops", Some(infra.id)).await;
    archived(&admin, old.id).await;

    let list = || member.client.list_facts().team_id(team);
    assert_eq!(keys(&all(list().q("friday")).await), ["Deploy day", "Friday lunch", "Release train"]);
    assert_eq!(keys(&all(list().q("FRIDAY")).await), ["Deploy day", "Friday lunch", "Release train"]);
    assert_eq!(keys(&all(list().q("pizza")).await), ["Friday lunch"], "the value matches");
    assert_eq!(keys(&all(list().q("lunch")).await), ["Friday lunch"], "the key matches");
    assert_eq!(keys(&all(list().q("DEPLOY")).await), ["Deploy day"]);
    assert_eq!(keys(&all(list().q("DEPLOY").include_archived(true)).await), ["Deploy day", "Old deploy rule"]);
    assert_eq!(keys(&all(list().q("friday").category("Ops")).await), ["Deploy day", "Release train"]);
    assert_eq!(keys(&all(list().q("friday").project_id(infra.id)).await), ["Deploy day"]);
    assert_eq!(keys(&all(list().q("friday").project_id(infra.id).include_archived(true)).await), ["Deploy day", "Old deploy rule"]);
    assert_eq!(
        keys(&all(list().q("friday").include_archived(true)).await),
        ["Deploy day", "Friday lunch", "Old deploy rule", "Release train"]
    );
    assert_eq!(keys(&all(list().category("Ops")).await), ["Deploy day", "Release train", "Standup time"]);
    assert_eq!(keys(&all(list().category("Social").project_id(infra.id)).await), Vec::<&str>::new());
    assert_eq!(keys(&all(list().project_id(product.id)).await), ["Release train"]);
    assert!(all(list().q("nothing like this")).await.is_empty());
    assert!(all(list().source_meeting_id(Uuid::new_v4()).include_archived(true)).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn search_takes_like_wildcards_and_backslashes_literally() {
    let (_app, Crew { team, member, .. }) = crew().await;
    for (key, value) in [("100% uptime", "the target"), ("snake_case keys", "always"), ("Windows paths", "C:\\Temp"), ("Plain", "text")] {
        fact(&member, team, key, value).await;
    }
    let list = || member.client.list_facts().team_id(team);
    assert_eq!(keys(&all(list().q("%")).await), ["100% uptime"]);
    assert_eq!(keys(&all(list().q("_")).await), ["snake_case keys"]);
    assert_eq!(keys(&all(list().q("\\")).await), ["Windows paths"]);
    assert!(all(list().q("a%t")).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn facts_are_ordered_by_case_folded_key_and_pages_are_stable() {
    let (_app, Crew { team, member, .. }) = crew().await;
    for (i, key) in ["fig", "Apple", "date", "Cherry", "banana", "Grape", "Elder"].into_iter().enumerate() {
        fact(&member, team, key, &format!("#{i}")).await;
    }
    let list = || member.client.list_facts().team_id(team);
    let whole = all(list()).await;
    assert_eq!(keys(&whole), ["Apple", "banana", "Cherry", "date", "Elder", "fig", "Grape"]);

    let whole_ids: Vec<Uuid> = whole.iter().map(|f| f.id).collect();
    let mut paged = Vec::new();
    for number in 1..=4 {
        let page = page(list().page(n(number)).limit(n(3))).await;
        assert_eq!((page.total, page.page.get(), page.limit.get()), (7, number, 3));
        paged.extend(page.items.iter().map(|f| f.id));
    }
    assert_eq!(paged, whole_ids, "pages 1 to 4 of 3 are the whole list in order");
    assert_eq!(paged.iter().collect::<HashSet<_>>().len(), 7, "no repeats");

    // With a search, the pages split the matches the same way.
    let matching = all(list().q("E")).await;
    assert_eq!(keys(&matching), ["Apple", "Cherry", "date", "Elder", "Grape"]);
    let mut paged = Vec::new();
    for number in 1..=3 {
        let page = page(list().q("E").page(n(number)).limit(n(2))).await;
        assert_eq!(page.total, 5);
        paged.extend(page.items.iter().map(|f| f.id));
    }
    assert_eq!(paged, matching.iter().map(|f| f.id).collect::<Vec<_>>());
}

// Races.

#[tokio::test(flavor = "multi_thread")]
async fn two_members_creating_one_key_at_once_make_one_fact() {
    let (app, Crew { team, owner, member, .. }) = crew().await;
    let second = app.register("Second").await;
    add(&owner, team, &second, TeamRole::Member).await;
    for round in 0..ROUNDS {
        let (a, b) = (member.client.clone(), second.client.clone());
        let (first, other) = race(
            async move { a.create_fact().team_id(team).body(fact_body(&format!("Launch window {round}"), "Tuesday")).send().await },
            async move { b.create_fact().team_id(team).body(fact_body(&format!("  LAUNCH window {round} "), "Thursday")).send().await },
        )
        .await;
        let (winner, loser) = match (first, other) {
            (Ok(won), lost) | (lost, Ok(won)) => (won, lost),
            (a, b) => panic!("round {round}: neither created: {a:?} / {b:?}"),
        };
        assert_eq!(winner.status().as_u16(), 201, "round {round}");
        let winner = winner.into_inner();
        expect_taken_by(loser, winner.id);
        assert_eq!(winner.key.to_lowercase(), format!("launch window {round}"), "round {round}: stored trimmed");
    }
    let facts = all(owner.client.list_facts().team_id(team).include_archived(true)).await;
    assert_eq!(facts.len(), ROUNDS, "one fact per round: {:?}", keys(&facts));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_demoted_while_archiving_archives_first_or_is_forbidden() {
    let (_app, Crew { team, owner, admin, member, .. }) = crew().await;
    let (mut archived_first, mut forbidden) = (0, 0);
    for round in 0..ROUNDS {
        set_role(&owner, team, admin.id, TeamRole::Admin).await.expect("promote");
        let target = fact(&member, team, &format!("Fact {round}"), "value").await.id;
        let (a, o, admin_id) = (admin.client.clone(), owner.client.clone(), admin.id);
        let (archiving, demoting) = race(async move { a.delete_fact().fact_id(target).send().await }, async move {
            let demote = types::UpdateTeamMemberRequest::builder().role(TeamRole::Member);
            o.update_team_member().team_id(team).user_id(admin_id).body(demote).send().await
        })
        .await;
        assert_eq!(demoting.expect("the demotion succeeds").into_inner().role, TeamRole::Member, "round {round}");
        let now = get_fact(&owner, target).await;
        let entries = history(&owner, target).await;
        if let Ok(response) = &archiving {
            assert_eq!(response.status().as_u16(), 204, "round {round}");
            assert!(now.archived_at.is_some(), "round {round}: {now:?}");
            assert_eq!(
                (entries.len(), entries[0].kind, entries[0].changed_by.id),
                (2, FactChangeKind::Archived, admin.id),
                "round {round}"
            );
            archived_first += 1;
        } else {
            expect_error(archiving, 403, "forbidden");
            assert!(now.archived_at.is_none(), "round {round}: archived after a 403: {now:?}");
            assert_eq!(entries.len(), 1, "round {round}: {entries:?}");
            forbidden += 1;
        }
        // Whatever the order, the demoted admin can archive nothing now.
        let late = fact(&member, team, &format!("Late fact {round}"), "value").await;
        expect_error(archive(&admin, late.id).await, 403, "forbidden");
    }
    println!("archived first {archived_first} times, forbidden {forbidden} times");
}
