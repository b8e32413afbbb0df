//! Participants: host powers, the last host, and concurrent adds.

use mit_client::types::{self, ParticipantRole};
use mit_tests::TestApp;
use serde_json::json;

use crate::meetings::meeting;
use crate::{expect_error, expect_raw_error, http};

fn add_body(user: uuid::Uuid, role: Option<ParticipantRole>) -> types::builder::AddParticipantRequest {
    types::AddParticipantRequest::builder().user_id(user).role(role)
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_add_promote_and_remove_participants() {
    let app = TestApp::spawn().await;
    let (host, guest, late) = (app.register("Host").await, app.register("Guest").await, app.register("Late").await);
    let m = meeting(&host, "M", &[&guest]).await;
    let added = host.client.add_participant().meeting_id(m.id).body(add_body(late.id, None)).send().await.expect("add");
    assert_eq!(added.status().as_u16(), 201);
    let added = added.into_inner();
    assert_eq!((added.user.id, added.role, added.in_room), (late.id, ParticipantRole::Participant, false));
    expect_error(host.client.add_participant().meeting_id(m.id).body(add_body(late.id, None)).send().await, 409, "already_exists");
    let list = guest.client.list_participants().meeting_id(m.id).send().await.expect("list").into_inner();
    assert_eq!(list.total, 3);
    assert_eq!(list.items[0].role, ParticipantRole::Host, "hosts first");
    let promoted = host
        .client
        .update_participant()
        .meeting_id(m.id)
        .user_id(guest.id)
        .body(types::UpdateParticipantRequest::builder().role(ParticipantRole::Host))
        .send()
        .await
        .expect("promote")
        .into_inner();
    assert_eq!(promoted.role, ParticipantRole::Host);
    guest.client.remove_participant().meeting_id(m.id).user_id(late.id).send().await.expect("the new host removes");
    expect_error(late.client.get_meeting().meeting_id(m.id).send().await, 404, "not_found");
    expect_error(host.client.remove_participant().meeting_id(m.id).user_id(late.id).send().await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn participants_without_host_role_change_nothing() {
    let app = TestApp::spawn().await;
    let (host, guest, other) = (app.register("Host").await, app.register("Guest").await, app.register("Other").await);
    let m = meeting(&host, "M", &[&guest]).await;
    expect_error(guest.client.add_participant().meeting_id(m.id).body(add_body(other.id, None)).send().await, 403, "forbidden");
    expect_error(
        guest
            .client
            .update_participant()
            .meeting_id(m.id)
            .user_id(guest.id)
            .body(types::UpdateParticipantRequest::builder().role(ParticipantRole::Host))
            .send()
            .await,
        403,
        "forbidden",
    );
    expect_error(guest.client.remove_participant().meeting_id(m.id).user_id(host.id).send().await, 403, "forbidden");
    expect_error(other.client.list_participants().meeting_id(m.id).send().await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_host_stays() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = meeting(&host, "M", &[&guest]).await;
    let demote = host
        .client
        .update_participant()
        .meeting_id(m.id)
        .user_id(host.id)
        .body(types::UpdateParticipantRequest::builder().role(ParticipantRole::Participant))
        .send()
        .await;
    expect_error(demote, 409, "last_host");
    expect_error(host.client.remove_participant().meeting_id(m.id).user_id(host.id).send().await, 409, "last_host");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_users_and_finished_meetings_are_refused() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = meeting(&host, "M", &[]).await;
    let response = http()
        .post(app.url(&format!("/api/v1/meetings/{}/participants", m.id)))
        .bearer_auth(&host.access_token)
        .json(&json!({"user_id": uuid::Uuid::new_v4()}))
        .send()
        .await
        .expect("request");
    assert_eq!(expect_raw_error(response, 404, "not_found").await["details"]["field"], "user_id");
    host.client.cancel_meeting().meeting_id(m.id).send().await.expect("cancel");
    expect_error(host.client.add_participant().meeting_id(m.id).body(add_body(guest.id, None)).send().await, 409, "immutable");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_adds_of_one_person_make_one_row() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = meeting(&host, "M", &[]).await;
    let attempts = (0..8).map(|_| host.client.add_participant().meeting_id(m.id).body(add_body(guest.id, None)).send());
    let outcomes = futures::future::join_all(attempts).await;
    let created = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(created, 1);
    for outcome in outcomes.into_iter().filter(|o| o.is_err()) {
        expect_error(outcome, 409, "already_exists");
    }
    assert_eq!(host.client.list_participants().meeting_id(m.id).send().await.expect("list").into_inner().total, 2);
}
