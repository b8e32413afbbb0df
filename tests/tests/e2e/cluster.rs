//! Several `mit serve` processes against one PostgreSQL and one Redis (`mit_tests::cluster`):
//! rooms placed and found through the directory, host commands and events across nodes,
//! failover after `kill -9`, draining on SIGTERM, and a Redis outage survived.

use std::time::Duration;

use mit_client::types;
use mit_tests::cluster::Cluster;
use mit_tests::events::EventsClient;
use mit_tests::media::{MediaClient, send_synthetic};
use mit_tests::room::RoomClient;
use mit_tests::{TestUser, eventually};
use reqwest::header::RETRY_AFTER;
use serde_json::{Value, json};
use uuid::Uuid;
use webrtc::peer_connection::RTCPeerConnectionState;

use crate::events::{completed, events, scripted_review};
use crate::meetings::meeting;
use crate::{expect_raw_error, http};

/// The test cluster's `NODE_LEASE_SECONDS`: the bound on how long a dead node keeps its rooms.
const LEASE: Duration = Duration::from_secs(3);
/// Slack on top of a bound for a loaded CI machine (a heartbeat, a poll, a reconnect backoff).
const SLACK: Duration = Duration::from_secs(7);

async fn join_at(base_url: &str, user: &TestUser, meeting: Uuid) -> types::JoinMeetingResponse {
    user.client_at(base_url).join_meeting().meeting_id(meeting).send().await.expect("join").into_inner()
}

fn room_url(joined: &types::JoinMeetingResponse) -> String {
    format!("{}?token={}", joined.signaling_url, joined.room_token)
}

async fn running(host: &TestUser, others: &[&TestUser]) -> types::Meeting {
    let m = meeting(host, "Across nodes", others).await;
    host.client.start_meeting().meeting_id(m.id).send().await.expect("start").into_inner()
}

/// Opens the room at `joined` without media and waits for `room-info`.
async fn enter(joined: &types::JoinMeetingResponse, user: &TestUser) -> RoomClient {
    let mut room = RoomClient::open(&room_url(joined), user.id, None).await;
    room.expect("room-info").await;
    room
}

/// Enters with `media` (tracks already added), negotiates, and waits for the connection.
async fn enter_with_media(joined: &types::JoinMeetingResponse, user: &TestUser, media: std::sync::Arc<MediaClient>) -> RoomClient {
    let mut room = RoomClient::open(&room_url(joined), user.id, Some(media)).await;
    room.expect("room-info").await;
    room.negotiate().await;
    assert!(room.media().wait_for_state(RTCPeerConnectionState::Connected, Duration::from_secs(10)).await, "{} connects", user.name);
    room
}

fn authority(base_url: &str) -> &str {
    base_url.trim_start_matches("http://")
}

#[tokio::test(flavor = "multi_thread")]
async fn participants_joining_through_different_nodes_meet_in_one_room() {
    let cluster = Cluster::start(2, &[]).await;
    let (a, b) = (&cluster.nodes[0].base_url, &cluster.nodes[1].base_url);
    let host = TestUser::register_at(a, "Host").await;
    let guest = TestUser::register_at(b, "Guest").await;
    let m = running(&host, &[&guest]).await;
    let (host_join, guest_join) = (join_at(a, &host, m.id).await, join_at(b, &guest, m.id).await);
    assert_eq!(host_join.signaling_url, guest_join.signaling_url, "both nodes name the room's one host");
    let owner = cluster.node_of(&host_join.signaling_url);
    let other = &cluster.nodes[1 - owner].base_url;

    let speaker = MediaClient::new().await;
    let microphone = speaker.microphone("mic").await;
    let _host_room = enter_with_media(&host_join, &host, speaker).await;
    let listener = MediaClient::new().await;
    listener.receive_only().await;
    let guest_room = enter_with_media(&guest_join, &guest, listener).await;
    let sending = tokio::spawn(async move { send_synthetic(&microphone, 1000, Duration::from_millis(20)).await });
    let heard = guest_room.media().wait_for_packets(&format!("{}:microphone", host.id), 50, Duration::from_secs(10)).await;
    assert!(heard >= 50, "the guest, who joined through the other node, hears the host: {heard} packets");
    sending.abort();

    let stray = room_url(&guest_join).replace(authority(&cluster.nodes[owner].base_url), authority(other));
    let mut stray = RoomClient::open(&stray, guest.id, None).await;
    let (code, reason) = stray.expect_close().await;
    assert_eq!(code, 4010, "a socket on a node that does not host the room is sent back to join ({reason})");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kick_a_recording_and_an_end_on_the_other_node_reach_the_room() {
    let cluster = Cluster::start(2, &[]).await;
    let host = TestUser::register_at(&cluster.nodes[0].base_url, "Host").await;
    let (guest, other) = (
        TestUser::register_at(&cluster.nodes[0].base_url, "Guest").await,
        TestUser::register_at(&cluster.nodes[0].base_url, "Other").await,
    );
    let m = running(&host, &[&guest, &other]).await;
    let joined = join_at(&cluster.nodes[0].base_url, &guest, m.id).await;
    let elsewhere = cluster.nodes[1 - cluster.node_of(&joined.signaling_url)].base_url.clone();
    let mut guest_room = enter(&joined, &guest).await;
    let mut other_room = enter(&join_at(&elsewhere, &other, m.id).await, &other).await;
    guest_room.expect("user-joined").await;
    let remote = host.client_at(&elsewhere);

    remote.remove_participant().meeting_id(m.id).user_id(guest.id).send().await.expect("kick");
    assert_eq!(guest_room.expect_close().await.0, 4008, "the kick made on the other node closes the guest's socket");
    let left = other_room.expect("user-left").await;
    assert_eq!((left["user_id"].as_str(), left["reason"].as_str()), (Some(guest.id.to_string().as_str()), Some("kicked")));

    // Meetings record from their start by default: stop, then start again.
    remote.stop_recording().meeting_id(m.id).send().await.expect("stop recording");
    other_room.expect("recording-stopped").await;
    remote.start_recording().meeting_id(m.id).send().await.expect("start recording");
    other_room.expect("recording-started").await;

    remote.end_meeting().meeting_id(m.id).send().await.expect("end");
    other_room.expect("meeting-ended").await;
    assert_eq!(other_room.expect_close().await.0, 1000);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_published_on_one_node_reaches_a_socket_on_another_in_order() {
    let cluster = Cluster::start(2, &[]).await;
    let (writer, reader) = (&cluster.nodes[0].base_url, &cluster.nodes[1].base_url);
    let host = TestUser::register_at(writer, "Host").await;
    let watcher = TestUser::register_at(writer, "Watcher").await;
    let m = completed(&host, &[&watcher]).await;
    let ticket = watcher.client_at(reader).create_events_ticket().send().await.expect("ticket").into_inner();
    assert!(ticket.url.contains(authority(reader)), "the ticket names the node it came from: {}", ticket.url);
    let mut socket = EventsClient::open(&ticket.url).await;
    socket.subscribe_review(m.id, None).await;
    let kinds = scripted_review(&host, m.id).await;
    let received = events(&mut socket, kinds.len()).await;
    let seqs: Vec<i64> = received.iter().map(|e| e["seq"].as_i64().expect("seq")).collect();
    assert_eq!(seqs, (1..=kinds.len() as i64).collect::<Vec<_>>(), "in order, once each, across processes");
    let got: Vec<&str> = received.iter().map(|e| e["kind"].as_str().expect("kind")).collect();
    assert_eq!(got, kinds);
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_owner_lets_the_next_join_place_the_room_elsewhere_within_the_lease() {
    let mut cluster = Cluster::start(2, &[]).await;
    let host = TestUser::register_at(&cluster.nodes[0].base_url, "Host").await;
    let m = running(&host, &[]).await;
    let first = join_at(&cluster.nodes[0].base_url, &host, m.id).await;
    let owner = cluster.node_of(&first.signaling_url);
    let mut room = enter(&first, &host).await;
    let survivor = 1 - owner;
    cluster.nodes[owner].kill();
    let killed = tokio::time::Instant::now();
    assert_eq!(room.expect_close().await.0, 1006, "the socket to the killed node drops");
    let survivor_url = cluster.nodes[survivor].base_url.clone();
    let placed = eventually(LEASE + SLACK, "a join placing the room on the surviving node", || {
        let (url, host) = (survivor_url.clone(), &host);
        let cluster = &cluster;
        async move {
            let joined = join_at(&url, host, m.id).await;
            (cluster.node_of(&joined.signaling_url) == survivor).then_some(joined)
        }
    })
    .await;
    let took = killed.elapsed();
    assert!(took <= LEASE + Duration::from_secs(2), "the room moved {took:?} after the kill; the lease is {LEASE:?}");
    let _again = enter(&placed, &host).await;
}

/// `/ready` of `base_url`, as status and body.
async fn ready(base_url: &str) -> (u16, Value) {
    let response = http().get(format!("{base_url}/ready")).send().await.expect("ready");
    (response.status().as_u16(), response.json().await.expect("a JSON body"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drained_node_finishes_its_rooms_takes_no_new_ones_and_exits_cleanly() {
    let mut cluster = Cluster::start(2, &[("DRAIN_TIMEOUT_SECONDS", "60")]).await;
    let host = TestUser::register_at(&cluster.nodes[0].base_url, "Host").await;
    let m = running(&host, &[]).await;
    let joined = join_at(&cluster.nodes[0].base_url, &host, m.id).await;
    let owner = cluster.node_of(&joined.signaling_url);
    let (draining, survivor) = (cluster.nodes[owner].base_url.clone(), cluster.nodes[1 - owner].base_url.clone());
    let mut room = enter(&joined, &host).await;

    cluster.nodes[owner].terminate();
    let body = eventually(Duration::from_secs(5), "/ready answering 503 draining", || {
        let url = draining.clone();
        async move {
            let (status, body) = ready(&url).await;
            (status == 503).then_some(body)
        }
    })
    .await;
    assert_eq!((body["error"].as_str(), &body["details"]["draining"]), (Some("service_unavailable"), &json!(true)), "{body}");
    let second = running(&host, &[]).await;
    let placed = join_at(&draining, &host, second.id).await;
    assert_eq!(cluster.node_of(&placed.signaling_url), 1 - owner, "a new room goes to the node that is not draining");
    assert_eq!(cluster.node_of(&join_at(&survivor, &host, m.id).await.signaling_url), owner, "the running room stays");

    room.send(json!({"type": "chat", "text": "still here"}));
    room.expect("chat").await;
    assert!(cluster.nodes[owner].exited(Duration::from_millis(500)).await.is_none(), "the node waits for its room");
    room.send(json!({"type": "leave"}));
    let status = cluster.nodes[owner].exited(Duration::from_secs(20)).await.expect("the node exits once its room is empty");
    assert!(status.success(), "a drained node exits 0, got {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drain_that_times_out_sends_the_remaining_participants_to_another_node() {
    let mut cluster = Cluster::start(2, &[("DRAIN_TIMEOUT_SECONDS", "1")]).await;
    let host = TestUser::register_at(&cluster.nodes[0].base_url, "Host").await;
    let m = running(&host, &[]).await;
    let joined = join_at(&cluster.nodes[0].base_url, &host, m.id).await;
    let owner = cluster.node_of(&joined.signaling_url);
    let mut room = enter(&joined, &host).await;
    cluster.nodes[owner].terminate();
    assert_eq!(room.expect_close().await.0, 4010, "told to join again");
    let status = cluster.nodes[owner].exited(Duration::from_secs(20)).await.expect("the node exits");
    assert!(status.success(), "exit status {status}");
    let rejoined = join_at(&cluster.nodes[1 - owner].base_url, &host, m.id).await;
    assert_eq!(cluster.node_of(&rejoined.signaling_url), 1 - owner, "the room comes back on the other node at once");
    let _back = enter(&rejoined, &host).await;
}

async fn login(base_url: &str, email: &str, password: &str) -> reqwest::Response {
    http().post(format!("{base_url}/api/v1/auth/login")).json(&json!({"email": email, "password": password})).send().await.expect("a login")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_outage_keeps_rest_and_placed_rooms_working_and_loses_nothing() {
    let mut cluster = Cluster::start(2, &[("LOGIN_MAX_FAILURES", "2"), ("LOGIN_WINDOW_MINUTES", "1")]).await;
    let (a, b) = (cluster.nodes[0].base_url.clone(), cluster.nodes[1].base_url.clone());
    let host = TestUser::register_at(&a, "Host").await;
    let (guest, watcher) = (TestUser::register_at(&a, "Guest").await, TestUser::register_at(&a, "Watcher").await);
    let m = running(&host, &[&guest]).await;
    let joined = join_at(&a, &guest, m.id).await;
    assert_eq!(join_at(&b, &host, m.id).await.signaling_url, joined.signaling_url);
    let owner = cluster.node_of(&joined.signaling_url);
    let elsewhere = cluster.nodes[1 - owner].base_url.clone();
    let mut guest_room = enter(&joined, &guest).await;
    let reviewed = completed(&host, &[&watcher]).await;
    let ticket = watcher.client_at(&b).create_events_ticket().send().await.expect("ticket").into_inner();
    let mut on_b = EventsClient::open(&ticket.url).await;
    on_b.subscribe_review(reviewed.id, None).await;
    let pending = running(&host, &[]).await;

    cluster.redis.stop();

    let quick = Duration::from_secs(3);
    let signed_in = tokio::time::timeout(quick, login(&a, &host.email, &host.password)).await;
    assert_eq!(signed_in.expect("a sign-in does not wait on Redis").status(), 200);
    for _ in 0..2 {
        assert_eq!(login(&a, &guest.email, "wrong password").await.status(), 401);
    }
    let throttled = login(&a, &guest.email, "wrong password").await;
    assert!(throttled.headers().contains_key(RETRY_AFTER), "throttled on this node's own counters");
    expect_raw_error(throttled, 429, "rate_limited").await;
    let (status, body) = ready(&a).await;
    assert_eq!(status, 200, "Redis is reported, not required: {body}");
    assert!(body["checks"].as_array().expect("checks").iter().any(|c| c["name"] == "redis" && c["status"] == "unavailable"), "{body}");

    for node in [&a, &b] {
        assert_eq!(join_at(node, &guest, m.id).await.signaling_url, joined.signaling_url, "a placed room still joins");
    }
    let refused =
        http().post(format!("{a}/api/v1/meetings/{}/join", pending.id)).bearer_auth(&host.access_token).send().await.expect("join");
    assert!(refused.headers().contains_key(RETRY_AFTER), "a new placement says when to retry");
    expect_raw_error(refused, 503, "service_unavailable").await;

    let content = types::CreateReviewRequest::builder().content(Some("written while Redis was down".try_into().expect("content")));
    host.client.create_review().meeting_id(reviewed.id).body(content).send().await.expect("a review while Redis is down");
    host.client_at(&elsewhere).remove_participant().meeting_id(m.id).user_id(guest.id).send().await.expect("a kick while Redis is down");

    cluster.redis.restart().await;

    let event = events(&mut on_b, 1).await.remove(0);
    assert_eq!((event["seq"].as_i64(), event["kind"].as_str()), (Some(1), Some("review-created")), "the gap is filled");
    assert_eq!(guest_room.expect_close().await.0, 4008, "the kick reaches the room once the nodes hear each other again");
    let url = a.clone();
    let placed = eventually(Duration::from_secs(15), "new placements once Redis is back", || {
        let (url, host) = (url.clone(), &host);
        async move {
            let response = host.client_at(&url).join_meeting().meeting_id(pending.id).send().await;
            response.ok().map(|r| r.into_inner())
        }
    })
    .await;
    let _entered = enter(&placed, &host).await;
}
