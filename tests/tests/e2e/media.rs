//! Media through the SFU with real webrtc-rs peers on loopback: forwarding to everyone else,
//! renegotiation as people come and go, screen share, moderation, reconnection, and teardown.

use std::sync::Arc;
use std::time::Duration;

use mit_client::types;
use mit_tests::media::{MediaClient, play_ogg, send_synthetic};
use mit_tests::room::RoomClient;
use mit_tests::{TestApp, TestUser, opus_fixture};
use serde_json::json;
use webrtc::peer_connection::RTCPeerConnectionState;

use crate::meetings::meeting;

const PACE: Duration = Duration::from_millis(20);
const SETTLE: Duration = Duration::from_secs(10);

async fn running(host: &TestUser, others: &[&TestUser]) -> types::Meeting {
    let m = meeting(host, "Call", others).await;
    host.client.start_meeting().meeting_id(m.id).send().await.expect("start").into_inner()
}

fn stream(user: &TestUser, source: &str) -> String {
    format!("{}:{source}", user.id)
}

/// Enters the room with `media` (its tracks already added), makes the first offer, and waits
/// for the connection.
async fn connect(user: &TestUser, meeting: uuid::Uuid, media: Arc<MediaClient>) -> RoomClient {
    let mut room = RoomClient::join_with_media(user, meeting, media).await;
    room.expect("room-info").await;
    room.negotiate().await;
    assert!(room.media().wait_for_state(RTCPeerConnectionState::Connected, SETTLE).await, "{} connects", user.name);
    room
}

/// Enters the room with a microphone and sends `packets` synthetic Opus packets on it.
async fn connect_speaking(user: &TestUser, meeting: uuid::Uuid, packets: u32) -> (RoomClient, tokio::task::JoinHandle<u32>) {
    let media = MediaClient::new().await;
    let microphone = media.microphone("mic").await;
    let room = connect(user, meeting, media).await;
    (room, tokio::spawn(async move { send_synthetic(&microphone, packets, PACE).await }))
}

async fn receive_only() -> Arc<MediaClient> {
    let media = MediaClient::new().await;
    media.receive_only().await;
    media
}

/// Whether the count of `stream_id` stays put for a second.
async fn stays_silent(media: &MediaClient, stream_id: &str) -> bool {
    let before = media.packets(stream_id);
    tokio::time::sleep(Duration::from_secs(1)).await;
    media.packets(stream_id) == before
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ogg_opus_microphone_reaches_every_other_participant() {
    let app = TestApp::spawn().await;
    let (host, guest, listener) = (app.register("Host").await, app.register("Guest").await, app.register("Listener").await);
    let m = running(&host, &[&guest, &listener]).await;
    let b = connect(&guest, m.id, receive_only().await).await;
    let c = connect(&listener, m.id, receive_only().await).await;
    let a_media = MediaClient::new().await;
    let microphone = a_media.microphone("mic").await;
    let a = connect(&host, m.id, a_media).await;
    let sent = play_ogg(&microphone, &opus_fixture()).await;
    assert!(sent >= 240, "the 5 s fixture has 250 packets; sent {sent}");
    let microphone_stream = stream(&host, "microphone");
    // Loopback UDP can still drop a packet when a CI box is starved of CPU (Opus has no
    // retransmission); loss at load is what `cargo xtask bench sfu` measures.
    let enough = u64::from(sent) * 98 / 100;
    for (name, client) in [("guest", &b), ("listener", &c)] {
        let received = client.media().wait_for_packets(&microphone_stream, u64::from(sent), SETTLE).await;
        assert!(received >= enough && received <= u64::from(sent), "{name} received {received} of {sent} packets");
    }
    assert!(a.media().streams().is_empty(), "nobody hears themselves: {:?}", a.media().streams());
}

#[tokio::test(flavor = "multi_thread")]
async fn someone_joining_mid_meeting_gets_the_running_tracks() {
    let app = TestApp::spawn().await;
    let (host, late) = (app.register("Host").await, app.register("Late").await);
    let m = running(&host, &[&late]).await;
    let (_a, sending) = connect_speaking(&host, m.id, 300).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let b = connect(&late, m.id, receive_only().await).await;
    let received = b.media().wait_for_packets(&stream(&host, "microphone"), 100, SETTLE).await;
    assert!(received >= 100, "the late joiner receives the running microphone ({received})");
    assert!(b.server_offers() >= 1, "the server renegotiated to add the track");
    sending.abort();
}

/// Browsers' `addTrack` puts a microphone turned on later onto an audio m-line the participant
/// already has: its own receive-only one (`early`, who joined before anyone spoke) or the one
/// the server sends someone else's voice on (`late`). Both must reach the others.
#[tokio::test(flavor = "multi_thread")]
async fn listeners_who_turn_their_microphone_on_are_heard() {
    let app = TestApp::spawn().await;
    let (host, early, late) = (app.register("Host").await, app.register("Early").await, app.register("Late").await);
    let m = running(&host, &[&early, &late]).await;
    let b = connect(&early, m.id, receive_only().await).await;
    let (a, host_speaking) = connect_speaking(&host, m.id, 1500).await;
    let c = connect(&late, m.id, receive_only().await).await;
    for listener in [&b, &c] {
        listener.media().wait_for_packets(&stream(&host, "microphone"), 25, SETTLE).await;
    }

    let mut speaking = Vec::new();
    for listener in [&b, &c] {
        let microphone = listener.media().microphone_on_a_free_transceiver("late-mic").await;
        listener.negotiate().await;
        speaking.push(tokio::spawn(async move { send_synthetic(&microphone, 500, PACE).await }));
    }
    for (name, user) in [("early", &early), ("late", &late)] {
        let heard = a.media().wait_for_packets(&stream(user, "microphone"), 50, SETTLE).await;
        assert!(heard >= 50, "the host hears the {name} listener's microphone ({heard})");
    }
    for listener in [&b, &c] {
        let before = listener.media().packets(&stream(&host, "microphone"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(listener.media().packets(&stream(&host, "microphone")) > before, "listeners still hear the host");
    }
    speaking.into_iter().for_each(|task| task.abort());
    host_speaking.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn leaving_mid_meeting_renegotiates_the_others() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let a = connect(&host, m.id, receive_only().await).await;
    let (mut b, sending) = connect_speaking(&guest, m.id, 500).await;
    a.media().wait_for_packets(&stream(&guest, "microphone"), 25, SETTLE).await;
    let offers = a.server_offers();
    b.send(json!({"type": "leave"}));
    assert_eq!(b.expect_close().await.0, 1000);
    assert!(a.wait_for_server_offer_after(offers).await, "the server renegotiates to drop the departed track");
    assert!(stays_silent(a.media(), &stream(&guest, "microphone")).await);
    sending.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kick_and_an_end_cut_the_media() {
    let app = TestApp::spawn().await;
    let (host, guest, other) = (app.register("Host").await, app.register("Guest").await, app.register("Other").await);
    let m = running(&host, &[&guest, &other]).await;
    let a_media = MediaClient::new().await;
    let microphone = a_media.microphone("mic").await;
    let _a = connect(&host, m.id, a_media).await;
    let mut b = connect(&guest, m.id, receive_only().await).await;
    let mut c = connect(&other, m.id, receive_only().await).await;
    let sending = tokio::spawn(async move { send_synthetic(&microphone, 1000, PACE).await });
    let microphone_stream = stream(&host, "microphone");
    b.media().wait_for_packets(&microphone_stream, 25, SETTLE).await;
    c.media().wait_for_packets(&microphone_stream, 25, SETTLE).await;

    host.client.remove_participant().meeting_id(m.id).user_id(guest.id).send().await.expect("kick");
    assert_eq!(b.expect_close().await.0, 4008);
    assert!(stays_silent(b.media(), &microphone_stream).await, "the kicked participant's media stops");
    let before = c.media().packets(&microphone_stream);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(c.media().packets(&microphone_stream) > before, "the others keep receiving");

    host.client.end_meeting().meeting_id(m.id).send().await.expect("end");
    c.expect("meeting-ended").await;
    assert_eq!(c.expect_close().await.0, 1000);
    assert!(stays_silent(c.media(), &microphone_stream).await, "ending the meeting stops all media");
    sending.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_screen_share_is_a_second_video_track() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let mut b = connect(&guest, m.id, receive_only().await).await;
    let a_media = MediaClient::new().await;
    let camera = a_media.video("camera-1").await;
    let a = connect(&host, m.id, a_media.clone()).await;
    let camera_sending = tokio::spawn(async move { send_synthetic(&camera, 400, Duration::from_millis(33)).await });

    a.send(json!({"type": "screen-share-start", "track_id": "screen-1"}));
    let screen = a_media.video("screen-1").await;
    a.negotiate().await;
    assert_eq!(b.expect("screen-share-started").await["user_id"], host.id.to_string());
    let screen_sending = tokio::spawn(async move { send_synthetic(&screen, 400, Duration::from_millis(66)).await });
    assert!(b.media().wait_for_packets(&stream(&host, "camera"), 30, SETTLE).await >= 30, "the camera arrives");
    assert!(b.media().wait_for_packets(&stream(&host, "screen"), 15, SETTLE).await >= 15, "the screen arrives as its own stream");

    let offers = b.server_offers();
    a.send(json!({"type": "screen-share-stop"}));
    assert_eq!(b.expect("screen-share-stopped").await["user_id"], host.id.to_string());
    assert!(b.wait_for_server_offer_after(offers).await, "the screen's track is negotiated away");
    assert!(stays_silent(b.media(), &stream(&host, "screen")).await);
    camera_sending.abort();
    screen_sending.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_mute_holds_the_microphone_back_until_it_is_turned_on_again() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let a = connect(&host, m.id, receive_only().await).await;
    let (mut b, sending) = connect_speaking(&guest, m.id, 1000).await;
    let guest_microphone = stream(&guest, "microphone");
    a.media().wait_for_packets(&guest_microphone, 25, SETTLE).await;

    a.send(json!({"type": "force-mute", "target": guest.id, "muted": true}));
    assert_eq!(b.expect("force-muted").await["muted"], true);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(stays_silent(a.media(), &guest_microphone).await, "a muted microphone is not forwarded");

    b.send(json!({"type": "media-state", "audio": true, "video": false}));
    let before = a.media().packets(&guest_microphone);
    assert!(a.media().wait_for_packets(&guest_microphone, before + 25, SETTLE).await >= before + 25, "unmuting resumes forwarding");
    sending.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reconnect_within_the_grace_period_resumes_the_same_stream() {
    let app = TestApp::spawn_with(&[("ROOM_GRACE_SECONDS", "10")]).await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let mut a = connect(&host, m.id, receive_only().await).await;
    let b_media = MediaClient::new().await;
    let microphone = b_media.microphone("mic").await;
    let b = connect(&guest, m.id, b_media.clone()).await;
    let first = tokio::spawn(async move { send_synthetic(&microphone, 1000, PACE).await });
    let guest_microphone = stream(&guest, "microphone");
    a.media().wait_for_packets(&guest_microphone, 25, SETTLE).await;
    let offers_before = a.server_offers();

    b.drop_connection();
    first.abort();
    b_media.close().await;
    let (_b2, second) = connect_speaking(&guest, m.id, 1000).await;
    let before = a.media().packets(&guest_microphone);
    assert!(a.media().wait_for_packets(&guest_microphone, before + 50, SETTLE).await >= before + 50, "the same stream carries on");
    assert_eq!(a.server_offers(), offers_before, "the others need no renegotiation");
    assert!(!a.receives("user-left", Duration::from_millis(500)).await);
    second.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn colliding_offers_resolve_with_the_server_as_the_impolite_side() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let mut a = connect(&host, m.id, receive_only().await).await;
    let b_media = receive_only().await;
    let b = connect(&guest, m.id, b_media.clone()).await;

    // The guest starts publishing (on a transceiver of its own); the server's offer to the host is held back unanswered.
    a.hold_offers(true);
    let b_microphone = b_media.microphone("mic").await;
    b.negotiate().await;
    let guest_sending = tokio::spawn(async move { send_synthetic(&b_microphone, 1000, PACE).await });
    let server_offer = a.expect("offer").await["sdp"].as_str().expect("sdp").to_string();

    // The host offers too: a collision. The impolite server ignores the host's offer.
    let a_microphone = a.media().microphone("mic").await;
    a.negotiate().await;
    assert!(!a.receives("answer", Duration::from_secs(1)).await, "the server does not answer a colliding offer");

    // The polite host rolls back, answers the server, then offers again.
    let answer = a.media().answer(server_offer).await;
    a.send(json!({"type": "answer", "sdp": answer}));
    a.hold_offers(false);
    a.negotiate().await;
    let host_sending = tokio::spawn(async move { send_synthetic(&a_microphone, 1000, PACE).await });
    assert!(a.media().wait_for_packets(&stream(&guest, "microphone"), 25, SETTLE).await >= 25, "the server's track arrived");
    assert!(b.media().wait_for_packets(&stream(&host, "microphone"), 25, SETTLE).await >= 25, "the host's re-offered track arrived");
    guest_sending.abort();
    host_sending.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn keyframe_requests_reach_the_publisher_throttled() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let a_media = MediaClient::new().await;
    let camera = a_media.video("camera").await;
    let requests = camera.count_keyframe_requests();
    let _a = connect(&host, m.id, a_media).await;
    let sending = tokio::spawn(async move { send_synthetic(&camera, 1000, Duration::from_millis(33)).await });
    let b = connect(&guest, m.id, receive_only().await).await;
    let camera_stream = stream(&host, "camera");
    b.media().wait_for_packets(&camera_stream, 10, SETTLE).await;
    let deadline = tokio::time::Instant::now() + SETTLE;
    while requests.load(std::sync::atomic::Ordering::SeqCst) == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(requests.load(std::sync::atomic::Ordering::SeqCst) >= 1, "a new subscriber makes the SFU ask for a keyframe");

    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = requests.load(std::sync::atomic::Ordering::SeqCst);
    for _ in 0..10 {
        b.media().request_keyframe(&camera_stream).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let burst = requests.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert_eq!(burst, 1, "ten PLIs within the throttle interval cost the publisher one keyframe");
    sending.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_media_plane_binds_the_configured_ports_and_announces_the_public_address() {
    let app = TestApp::spawn_with(&[("RTC_UDP_PORT_MIN", "45100"), ("RTC_UDP_PORT_MAX", "45140"), ("RTC_PUBLIC_IP", "192.0.2.10")]).await;
    let host = app.register("Host").await;
    let m = running(&host, &[]).await;
    let media = receive_only().await;
    let mut room = RoomClient::join_with_media(&host, m.id, media.clone()).await;
    room.expect("room-info").await;
    room.negotiate().await;
    let deadline = tokio::time::Instant::now() + SETTLE;
    let mut answer = None;
    while answer.is_none() && tokio::time::Instant::now() < deadline {
        answer = media.connection.remote_description().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sdp = answer.expect("the server answered").sdp;
    let candidates: Vec<&str> = sdp.lines().filter(|l| l.starts_with("a=candidate:")).collect();
    assert!(!candidates.is_empty(), "{sdp}");
    for candidate in candidates {
        let fields: Vec<&str> = candidate.split_whitespace().collect();
        let port: u16 = fields[5].parse().expect("a port");
        assert_eq!(fields[4], "192.0.2.10", "the public address is announced: {candidate}");
        assert!((45100..=45140).contains(&port), "the port comes from the range: {candidate}");
    }
}
