//! Meetings: scheduling, visibility, editing, the state machine, joining and leaving.

use mit_client::types::{self, MeetingStatus, ParticipantRole, TeamRole};
use mit_tests::{TEST_JWT_SECRET, TestApp, TestUser};
use serde_json::json;

use crate::{expect_error, expect_raw_error, http};

/// Schedules a meeting hosted by `host` with `others` as participants.
pub async fn meeting(host: &TestUser, title: &str, others: &[&TestUser]) -> types::Meeting {
    let ids: Vec<uuid::Uuid> = others.iter().map(|u| u.id).collect();
    host.client
        .create_meeting()
        .body(types::CreateMeetingRequest::builder().title(title).participant_ids(Some(ids)))
        .send()
        .await
        .expect("create meeting")
        .into_inner()
}

/// A team `host` owns and `admin` administers.
async fn team_with_admin(host: &TestUser, admin: &TestUser) -> types::Team {
    let team = host.client.create_team().body(types::CreateTeamRequest::builder().name("Team")).send().await.expect("team").into_inner();
    host.client
        .add_team_member()
        .team_id(team.id)
        .body(types::AddTeamMemberRequest::builder().email(admin.email.as_str()).role(Some(TeamRole::Admin)))
        .send()
        .await
        .expect("admin");
    team
}

/// A meeting of a team `host` owns and `admin` administers (so the admin sees the meeting
/// without taking part in it), with `others` as participants.
pub async fn team_meeting(host: &TestUser, admin: &TestUser, title: &str, others: &[&TestUser]) -> types::Meeting {
    let team = team_with_admin(host, admin).await;
    let ids: Vec<uuid::Uuid> = others.iter().map(|u| u.id).collect();
    host.client
        .create_meeting()
        .body(types::CreateMeetingRequest::builder().title(title).team_id(Some(team.id)).participant_ids(Some(ids)))
        .send()
        .await
        .expect("meeting")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn creating_a_meeting_makes_the_caller_host_and_adds_participants() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let created = meeting(&host, "  Planning  ", &[&guest, &host]).await;
    assert_eq!(created.title.as_str(), "Planning");
    assert_eq!(created.status, MeetingStatus::Scheduled);
    assert_eq!(created.my_role, Some(ParticipantRole::Host));
    assert_eq!(created.participant_count.get(), 2);
    assert!(created.auto_record && !created.recording_active);
    assert_eq!(created.creator.id, host.id);
    let seen = guest.client.get_meeting().meeting_id(created.id).send().await.expect("guest sees").into_inner();
    assert_eq!(seen.my_role, Some(ParticipantRole::Participant));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_participants_are_rejected_by_id() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let response = http()
        .post(app.url("/api/v1/meetings"))
        .bearer_auth(&host.access_token)
        .json(&json!({"title": "T", "participant_ids": [a, b]}))
        .send()
        .await
        .expect("request");
    let error = expect_raw_error(response, 404, "not_found").await;
    assert_eq!(error["details"]["field"], "participant_ids");
    let mut unknown: Vec<String> = serde_json::from_value(error["details"]["unknown_ids"].clone()).expect("ids");
    unknown.sort();
    let mut expected = vec![a.to_string(), b.to_string()];
    expected.sort();
    assert_eq!(unknown, expected);
    let listed = host.client.list_meetings().send().await.expect("list").into_inner();
    assert_eq!(listed.total, 0, "nothing was created");
    let foreign_team = http()
        .post(app.url("/api/v1/meetings"))
        .bearer_auth(&host.access_token)
        .json(&json!({"title": "T", "team_id": uuid::Uuid::new_v4()}))
        .send()
        .await
        .expect("request");
    assert_eq!(expect_raw_error(foreign_team, 404, "not_found").await["details"]["field"], "team_id");
    for (body, field) in [
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": "T", "scheduled_at": "tomorrow"}), "scheduled_at"),
        (json!({"title": "T", "participant_ids": [a, a]}), "participant_ids"),
    ] {
        let response = http().post(app.url("/api/v1/meetings")).bearer_auth(&host.access_token).json(&body).send().await.expect("request");
        let error = expect_raw_error(response, 422, "validation_failed").await;
        assert_eq!(error["details"]["field"], field, "for {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_show_only_visible_meetings_newest_first_with_filters() {
    let app = TestApp::spawn().await;
    let (host, guest, admin, stranger) =
        (app.register("Host").await, app.register("Guest").await, app.register("Admin").await, app.register("Stranger").await);
    let team = team_with_admin(&host, &admin).await;
    let schedule = |title: &str, at: &str, team_id: Option<uuid::Uuid>| {
        let body = types::CreateMeetingRequest::builder()
            .title(title.to_string())
            .scheduled_at(Some(at.parse().expect("time")))
            .team_id(team_id)
            .participant_ids(Some(vec![guest.id]));
        host.client.create_meeting().body(body).send()
    };
    let early = schedule("Early", "2030-01-01T09:00:00Z", Some(team.id)).await.expect("early").into_inner();
    let late = schedule("Late", "2030-01-02T09:00:00Z", None).await.expect("late").into_inner();
    let mid = schedule("Mid", "2030-01-01T12:00:00Z", Some(team.id)).await.expect("mid").into_inner();
    host.client.start_meeting().meeting_id(mid.id).send().await.expect("start");

    let titles = |page: types::MeetingPage| page.items.into_iter().map(|m| m.title.to_string()).collect::<Vec<_>>();
    assert_eq!(titles(guest.client.list_meetings().send().await.expect("list").into_inner()), ["Late", "Mid", "Early"]);
    let admin_view = admin.client.list_meetings().send().await.expect("list").into_inner();
    assert_eq!(titles(admin_view.clone()), ["Mid", "Early"], "team admins see the team's meetings");
    assert!(admin_view.items.iter().all(|m| m.my_role.is_none()));
    assert_eq!(stranger.client.list_meetings().send().await.expect("list").into_inner().total, 0);
    expect_error(stranger.client.get_meeting().meeting_id(late.id).send().await, 404, "not_found");
    admin.client.get_meeting().meeting_id(early.id).send().await.expect("admin reads a team meeting");
    expect_error(admin.client.get_meeting().meeting_id(late.id).send().await, 404, "not_found");

    let running = guest.client.list_meetings().status(MeetingStatus::InProgress).send().await.expect("filter").into_inner();
    assert_eq!(titles(running), ["Mid"]);
    let of_team = guest.client.list_meetings().team_id(team.id).send().await.expect("filter").into_inner();
    assert_eq!(titles(of_team), ["Mid", "Early"]);
    let paged = guest
        .client
        .list_meetings()
        .page(std::num::NonZeroU32::new(2).expect("2"))
        .limit(std::num::NonZeroU32::new(2).expect("2"))
        .send()
        .await
        .expect("page")
        .into_inner();
    assert_eq!((paged.total, titles(paged)), (3, vec!["Early".to_string()]));
}

#[tokio::test(flavor = "multi_thread")]
async fn only_hosts_edit_and_nobody_edits_a_finished_meeting() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = meeting(&host, "Draft", &[&guest]).await;
    let patch = |user: &TestUser, body: serde_json::Value| {
        http().patch(app.url(&format!("/api/v1/meetings/{}", m.id))).bearer_auth(&user.access_token).json(&body).send()
    };
    expect_raw_error(patch(&guest, json!({"title": "Mine"})).await.expect("request"), 403, "forbidden").await;
    let edited: serde_json::Value =
        patch(&host, json!({"title": "Final", "description": "agenda", "scheduled_at": "2030-05-01T10:00:00Z", "auto_record": false}))
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
    assert_eq!(
        (edited["title"].as_str(), edited["description"].as_str(), edited["auto_record"].as_bool()),
        (Some("Final"), Some("agenda"), Some(false))
    );
    let scheduled: chrono::DateTime<chrono::Utc> = edited["scheduled_at"].as_str().expect("scheduled_at").parse().expect("RFC 3339");
    assert_eq!(scheduled.to_rfc3339(), "2030-05-01T10:00:00+00:00");
    let cleared: serde_json::Value =
        patch(&host, json!({"description": null, "scheduled_at": null})).await.expect("request").json().await.expect("json");
    assert!(cleared.get("description").is_none() && cleared.get("scheduled_at").is_none(), "{cleared}");
    host.client.cancel_meeting().meeting_id(m.id).send().await.expect("cancel");
    let error = expect_raw_error(patch(&host, json!({"title": "Late edit"})).await.expect("request"), 409, "immutable").await;
    assert_eq!(error["details"]["current"], "cancelled");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_state_machine_allows_exactly_the_specified_moves() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = meeting(&host, "Lifecycle", &[&guest]).await;
    expect_error(guest.client.start_meeting().meeting_id(m.id).send().await, 403, "forbidden");
    let ended_early = expect_error(host.client.end_meeting().meeting_id(m.id).send().await, 409, "invalid_state_transition");
    let details = ended_early.details;
    assert_eq!((details["current"].as_str(), details["requested"].as_str()), (Some("scheduled"), Some("completed")));
    let started = host.client.start_meeting().meeting_id(m.id).send().await.expect("start").into_inner();
    assert_eq!(started.status, MeetingStatus::InProgress);
    assert!(started.started_at.is_some());
    expect_error(host.client.start_meeting().meeting_id(m.id).send().await, 409, "invalid_state_transition");
    let ended = host.client.end_meeting().meeting_id(m.id).send().await.expect("end").into_inner();
    assert_eq!(ended.status, MeetingStatus::Completed);
    assert!(ended.ended_at.is_some());
    expect_error(host.client.cancel_meeting().meeting_id(m.id).send().await, 409, "invalid_state_transition");
    let other = meeting(&host, "Called off", &[]).await;
    host.client.start_meeting().meeting_id(other.id).send().await.expect("start");
    assert_eq!(
        host.client.cancel_meeting().meeting_id(other.id).send().await.expect("cancel").into_inner().status,
        MeetingStatus::Cancelled
    );
    expect_error(host.client.start_meeting().meeting_id(uuid::Uuid::new_v4()).send().await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_simultaneous_ends_have_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    for _ in 0..5 {
        let m = meeting(&host, "Race", &[]).await;
        host.client.start_meeting().meeting_id(m.id).send().await.expect("start");
        let (a, b) = tokio::join!(host.client.end_meeting().meeting_id(m.id).send(), host.client.end_meeting().meeting_id(m.id).send());
        let winners = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(winners, 1);
        let loser = if a.is_ok() { b } else { a };
        let error = expect_error(loser, 409, "invalid_state_transition");
        assert_eq!(error.details["current"], "completed");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn joining_hands_out_a_room_token_ice_servers_and_the_signalling_url() {
    let secret_turn = [
        ("STUN_SERVER", "stun:stun.example.com:3478"),
        ("TURN_SERVER", "turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349"),
        ("TURN_SECRET", "coturn-shared-secret"),
    ];
    let app = TestApp::spawn_with(&secret_turn).await;
    let (host, guest, admin) = (app.register("Host").await, app.register("Guest").await, app.register("Admin").await);
    let m = team_meeting(&host, &admin, "Call", &[&guest]).await;

    expect_error(guest.client.join_meeting().meeting_id(m.id).send().await, 409, "meeting_not_started");
    let joined = host.client.join_meeting().meeting_id(m.id).send().await.expect("host joins").into_inner();
    let now = host.client.get_meeting().meeting_id(m.id).send().await.expect("get").into_inner();
    assert_eq!(now.status, MeetingStatus::InProgress, "the host joining started it");
    assert_eq!(joined.signaling_url, format!("ws://{}/ws/room/{}", app.address, m.id));
    assert!(joined.expires_at > chrono::Utc::now());
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        &joined.room_token,
        &jsonwebtoken::DecodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        &{
            let mut v = jsonwebtoken::Validation::default();
            v.set_audience(&["mit-room"]);
            v
        },
    )
    .expect("a room token signed by the server")
    .claims;
    assert_eq!((claims["sub"].as_str(), claims["mid"].as_str()), (Some(host.id.to_string().as_str()), Some(m.id.to_string().as_str())));
    assert_eq!(joined.ice_servers.len(), 2);
    assert_eq!(joined.ice_servers[0].urls, ["stun:stun.example.com:3478"]);
    let turn = &joined.ice_servers[1];
    assert_eq!(turn.urls.len(), 2);
    let username = turn.username.clone().expect("TURN username");
    assert!(username.ends_with(&format!(":{}", host.id)), "{username}");
    assert!(turn.credential.as_deref().is_some_and(|c| c.ends_with('=')), "base64 HMAC");

    let again = guest.client.join_meeting().meeting_id(m.id).send().await.expect("guest joins").into_inner();
    assert_ne!(again.room_token, joined.room_token);
    expect_error(admin.client.join_meeting().meeting_id(m.id).send().await, 403, "forbidden");
    assert_eq!(guest.client.leave_meeting().meeting_id(m.id).send().await.expect("leave").status().as_u16(), 204);
    host.client.end_meeting().meeting_id(m.id).send().await.expect("end");
    expect_error(guest.client.join_meeting().meeting_id(m.id).send().await, 409, "meeting_ended");
    let stranger = app.register("Stranger").await;
    expect_error(stranger.client.join_meeting().meeting_id(m.id).send().await, 404, "not_found");
    expect_error(stranger.client.leave_meeting().meeting_id(m.id).send().await, 404, "not_found");
}
