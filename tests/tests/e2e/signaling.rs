//! The signalling socket: admission close codes, presence, media state, moderation, chat, bad
//! input, limits, replacement, the grace period, and the REST side's kicks and ends.

use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header};
use mit_client::types;
use mit_tests::room::RoomClient;
use mit_tests::{TEST_JWT_SECRET, TestApp, TestUser, eventually};
use serde_json::json;

use crate::meetings::meeting;
use crate::{expect_raw_error, http};

fn room_token(user: uuid::Uuid, meeting: uuid::Uuid) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": user, "mid": meeting, "iat": now, "exp": now + 300, "iss": "mit", "aud": "mit-room"});
    jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes())).expect("sign")
}

/// A started meeting hosted by `host` with `others`.
async fn running(host: &TestUser, others: &[&TestUser]) -> types::Meeting {
    let m = meeting(host, "Call", others).await;
    host.client.start_meeting().meeting_id(m.id).send().await.expect("start").into_inner()
}

async fn refused(url: String, user: uuid::Uuid) -> (u16, String) {
    RoomClient::open(&url, user, None).await.expect_close().await
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_close_the_socket_with_the_documented_codes() {
    let app = TestApp::spawn_with(&[("ROOM_CAPACITY", "1")]).await;
    let (host, guest, outsider) = (app.register("Host").await, app.register("Guest").await, app.register("Outsider").await);
    let live = running(&host, &[&guest]).await;
    let scheduled = meeting(&host, "Later", &[&guest]).await;
    let ended = running(&host, &[&guest]).await;
    let ended_token = room_token(guest.id, ended.id);
    host.client.end_meeting().meeting_id(ended.id).send().await.expect("end");

    assert_eq!(refused(app.room_url(&live.id.to_string(), "garbage"), guest.id).await.0, 4001);
    assert_eq!(refused(format!("ws://{}/ws/room/{}", app.address, live.id), guest.id).await.0, 4001);
    assert_eq!(
        refused(app.room_url(&live.id.to_string(), &room_token(guest.id, scheduled.id)), guest.id).await.0,
        4001,
        "a token for another meeting"
    );
    let missing = uuid::Uuid::new_v4();
    assert_eq!(refused(app.room_url(&missing.to_string(), &room_token(guest.id, missing)), guest.id).await.0, 4002);
    assert_eq!(refused(app.room_url("not-a-uuid", "x"), guest.id).await.0, 4002);
    assert_eq!(refused(app.room_url(&live.id.to_string(), &room_token(outsider.id, live.id)), outsider.id).await.0, 4003);
    assert_eq!(refused(app.room_url(&scheduled.id.to_string(), &room_token(guest.id, scheduled.id)), guest.id).await.0, 4004);
    assert_eq!(refused(app.room_url(&ended.id.to_string(), &ended_token), guest.id).await.0, 4005);

    let mut first = RoomClient::join(&host, live.id).await;
    first.expect("room-info").await;
    let (code, reason) = refused(app.room_url(&live.id.to_string(), &room_token(guest.id, live.id)), guest.id).await;
    assert_eq!(code, 4006, "{reason}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_http_request_gets_the_error_shape() {
    let app = TestApp::spawn().await;
    let response = http().get(app.url(&format!("/ws/room/{}", uuid::Uuid::new_v4()))).send().await.expect("request");
    expect_raw_error(response, 400, "malformed_request").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn presence_media_state_and_leaving_are_announced() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let mut a = RoomClient::join(&host, m.id).await;
    let info = a.expect("room-info").await;
    assert_eq!(
        (info["user_id"].as_str(), info["role"].as_str(), info["capacity"].as_u64()),
        (Some(host.id.to_string().as_str()), Some("host"), Some(20))
    );
    assert_eq!(info["participants"].as_array().map(Vec::len), Some(1));
    assert_eq!(info["recording"]["active"], true, "meetings record from the start by default");
    assert!(info["recording"]["started_at"].is_string(), "{info}");

    let mut b = RoomClient::join(&guest, m.id).await;
    let info = b.expect("room-info").await;
    assert_eq!(info["participants"].as_array().map(Vec::len), Some(2));
    let joined = a.expect("user-joined").await;
    assert_eq!(
        (joined["participant"]["user_id"].as_str(), joined["participant"]["name"].as_str()),
        (Some(guest.id.to_string().as_str()), Some("Guest"))
    );
    // Presence is stored by the room's reporting task, just after the messages went out.
    eventually(Duration::from_secs(5), "both listed as in the room", || async {
        let listed = host.client.list_participants().meeting_id(m.id).send().await.expect("list").into_inner();
        listed.items.iter().all(|p| p.in_room).then_some(())
    })
    .await;

    b.send(json!({"type": "media-state", "audio": true, "video": false}));
    let state = a.expect("media-state").await;
    assert_eq!(
        (state["user_id"].as_str(), state["audio"].as_bool(), state["video"].as_bool()),
        (Some(guest.id.to_string().as_str()), Some(true), Some(false))
    );

    b.send(json!({"type": "leave"}));
    assert_eq!(b.expect_close().await.0, 1000);
    let left = a.expect("user-left").await;
    assert_eq!((left["user_id"].as_str(), left["reason"].as_str()), (Some(guest.id.to_string().as_str()), Some("left")));
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_is_stored_broadcast_and_listed() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let mut a = RoomClient::join(&host, m.id).await;
    let mut b = RoomClient::join(&guest, m.id).await;
    a.expect("room-info").await;
    b.expect("room-info").await;
    a.send(json!({"type": "chat", "text": "  first  "}));
    let seen_by_b = b.expect("chat").await;
    let seen_by_a = a.expect("chat").await;
    assert_eq!(seen_by_a, seen_by_b);
    assert_eq!((seen_by_b["text"].as_str(), seen_by_b["user_name"].as_str()), (Some("first"), Some("Host")));
    b.send(json!({"type": "chat", "text": "second"}));
    a.expect("chat").await;
    b.send(json!({"type": "chat", "text": "   "}));
    assert_eq!(b.expect("error").await["code"], "invalid_message");
    let history = guest.client.list_chat_messages().meeting_id(m.id).send().await.expect("history").into_inner();
    let texts: Vec<&str> = history.items.iter().map(|c| c.text.as_str()).collect();
    assert_eq!((history.total, texts), (2, vec!["second", "first"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn only_hosts_force_mute_and_the_target_is_told() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let mut a = RoomClient::join(&host, m.id).await;
    let mut b = RoomClient::join(&guest, m.id).await;
    a.expect("room-info").await;
    b.expect("room-info").await;
    b.send(json!({"type": "force-mute", "target": host.id, "muted": true}));
    assert_eq!(b.expect("error").await["code"], "forbidden");
    a.send(json!({"type": "force-mute", "target": uuid::Uuid::new_v4(), "muted": true}));
    assert_eq!(a.expect("error").await["code"], "not_found");
    a.send(json!({"type": "force-mute", "target": guest.id, "muted": true}));
    let muted = b.expect("force-muted").await;
    assert_eq!((muted["by"].as_str(), muted["muted"].as_bool()), (Some(host.id.to_string().as_str()), Some(true)));
    let state = a.expect("media-state").await;
    assert_eq!((state["user_id"].as_str(), state["audio"].as_bool()), (Some(guest.id.to_string().as_str()), Some(false)));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_messages_get_an_error_and_the_socket_stays_up() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = running(&host, &[]).await;
    let mut a = RoomClient::join(&host, m.id).await;
    a.expect("room-info").await;
    for (text, code) in [
        ("not json".to_string(), "invalid_message"),
        (json!({"no": "type"}).to_string(), "invalid_message"),
        (json!({"type": "dance"}).to_string(), "unknown_type"),
        (json!({"type": "chat"}).to_string(), "invalid_message"),
        (json!({"type": "chat", "text": "x", "extra": true}).to_string(), "invalid_message"),
        (json!({"type": "force-mute", "target": "nobody", "muted": true}).to_string(), "invalid_message"),
        (json!({"type": "chat", "text": "x".repeat(300 * 1024)}).to_string(), "message_too_large"),
        (json!({"type": "answer", "sdp": "v=0"}).to_string(), "unexpected_answer"),
        (json!({"type": "offer", "sdp": "this is not sdp"}).to_string(), "invalid_sdp"),
    ] {
        a.send_text(text.clone());
        let error = a.expect("error").await;
        assert_eq!(error["code"], code, "for {}", &text[..text.len().min(80)]);
    }
    a.send(json!({"type": "chat", "text": "still here"}));
    assert_eq!(a.expect("chat").await["text"], "still here");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_is_rate_limited_without_closing_the_socket() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = running(&host, &[]).await;
    let mut a = RoomClient::join(&host, m.id).await;
    a.expect("room-info").await;
    for _ in 0..400 {
        a.send(json!({"type": "pong"}));
    }
    assert_eq!(a.expect("error").await["code"], "rate_limited");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    a.send(json!({"type": "chat", "text": "after the flood"}));
    assert_eq!(a.expect("chat").await["text"], "after the flood");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_socket_replaces_the_first_without_leaving() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let mut a = RoomClient::join(&host, m.id).await;
    a.expect("room-info").await;
    let mut first = RoomClient::join(&guest, m.id).await;
    first.expect("room-info").await;
    a.expect("user-joined").await;
    let mut second = RoomClient::join(&guest, m.id).await;
    let info = second.expect("room-info").await;
    assert_eq!(info["resumed"], true);
    assert_eq!(first.expect_close().await.0, 4007);
    assert!(!a.receives("user-left", Duration::from_secs(1)).await, "a replacement is not a departure");
    second.send(json!({"type": "chat", "text": "from the new socket"}));
    assert_eq!(a.expect("chat").await["text"], "from the new socket");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_participant_keeps_their_seat_for_the_grace_period() {
    let app = TestApp::spawn_with(&[("ROOM_GRACE_SECONDS", "5")]).await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let mut a = RoomClient::join(&host, m.id).await;
    a.expect("room-info").await;
    let b = RoomClient::join(&guest, m.id).await;
    a.expect("user-joined").await;
    b.drop_connection();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut back = RoomClient::join(&guest, m.id).await;
    assert_eq!(back.expect("room-info").await["resumed"], true);
    assert!(!a.receives("user-left", Duration::from_secs(6)).await, "back within the grace period");
    back.drop_connection();
    let left = a.expect("user-left").await;
    assert_eq!(left["reason"], "timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_grace_period_counts_from_the_latest_drop() {
    let app = TestApp::spawn_with(&[("ROOM_GRACE_SECONDS", "5")]).await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let mut a = RoomClient::join(&host, m.id).await;
    a.expect("room-info").await;
    let mut b = RoomClient::join(&guest, m.id).await;
    b.expect("room-info").await;
    a.expect("user-joined").await;
    b.drop_connection();
    let mut back = RoomClient::join(&guest, m.id).await;
    assert_eq!(back.expect("room-info").await["resumed"], true);
    // Dropped again 3 s after the first drop: the first drop's timer (at 5 s) must find a seat
    // whose grace period runs until 8 s.
    tokio::time::sleep(Duration::from_secs(3)).await;
    back.drop_connection();
    assert!(!a.receives("user-left", Duration::from_secs(4)).await, "the seat is held 5 s from the latest drop");
    assert_eq!(a.expect("user-left").await["reason"], "timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quick_join_and_leave_is_stored_in_order() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let mut a = RoomClient::join(&host, m.id).await;
    a.expect("room-info").await;
    for round in 0..20 {
        let mut b = RoomClient::join(&guest, m.id).await;
        b.expect("room-info").await;
        b.send(json!({"type": "leave"}));
        assert_eq!(b.expect_close().await.0, 1000, "round {round}");
        assert_eq!(a.expect("user-left").await["reason"], "left", "round {round}");
    }
    // The last write is in once the host's own leave (written after it, in order) is.
    a.send(json!({"type": "leave"}));
    assert_eq!(a.expect_close().await.0, 1000);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let guest_row = loop {
        let listed = host.client.list_participants().meeting_id(m.id).send().await.expect("list").into_inner();
        let host_row = listed.items.iter().find(|p| p.user.id == host.id).expect("the host").clone();
        let guest_row = listed.items.iter().find(|p| p.user.id == guest.id).expect("the guest").clone();
        if !host_row.in_room {
            break guest_row;
        }
        assert!(tokio::time::Instant::now() < deadline, "the host's leave was never stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!guest_row.in_room, "left last: {guest_row:?}");
    let (joined, left) = (guest_row.joined_at.expect("joined"), guest_row.left_at.expect("left"));
    assert!(left >= joined, "left_at {left} before joined_at {joined}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kicks_ends_and_rest_leaves_close_sockets() {
    let app = TestApp::spawn().await;
    let (host, guest, other) = (app.register("Host").await, app.register("Guest").await, app.register("Other").await);
    let m = running(&host, &[&guest, &other]).await;
    let mut a = RoomClient::join(&host, m.id).await;
    a.expect("room-info").await;
    let mut b = RoomClient::join(&guest, m.id).await;
    b.expect("room-info").await;
    let mut c = RoomClient::join(&other, m.id).await;
    c.expect("room-info").await;

    host.client.remove_participant().meeting_id(m.id).user_id(guest.id).send().await.expect("kick");
    assert_eq!(b.expect_close().await.0, 4008);
    let left = a.expect("user-left").await;
    assert_eq!((left["user_id"].as_str(), left["reason"].as_str()), (Some(guest.id.to_string().as_str()), Some("kicked")));

    other.client.leave_meeting().meeting_id(m.id).send().await.expect("leave through the API");
    assert_eq!(c.expect_close().await.0, 1000);
    assert_eq!(a.expect("user-left").await["reason"], "left");
    let presence = host.client.list_participants().meeting_id(m.id).send().await.expect("list").into_inner();
    let other_row = presence.items.iter().find(|p| p.user.id == other.id).expect("still a participant");
    assert!(!other_row.in_room && other_row.left_at.is_some());

    host.client.end_meeting().meeting_id(m.id).send().await.expect("end");
    assert_eq!(a.expect("meeting-ended").await["reason"], "completed");
    assert_eq!(a.expect_close().await.0, 1000);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_socket_outlives_the_access_token() {
    let app = TestApp::spawn_with(&[("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "1")]).await;
    let host = app.register("Host").await;
    let m = running(&host, &[]).await;
    let mut a = RoomClient::join(&host, m.id).await;
    a.expect("room-info").await;
    host.client.logout().send().await.expect("logout");
    a.send(json!({"type": "chat", "text": "still connected"}));
    assert_eq!(a.expect("chat").await["text"], "still connected");
}
