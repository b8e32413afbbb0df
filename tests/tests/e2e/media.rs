//! Media through the SFU with real webrtc-rs peers on loopback: forwarding to everyone else,
//! renegotiation as people come and go, screen share, moderation, reconnection, and teardown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mit_client::types;
use mit_tests::media::{MediaClient, play_ogg, send_synthetic};
use mit_tests::room::RoomClient;
use mit_tests::{TestApp, TestUser, eventually, opus_fixture};
use serde_json::json;
use webrtc::peer_connection::RTCPeerConnectionState;

use crate::meetings::meeting;

const PACE: Duration = Duration::from_millis(20);
const SETTLE: Duration = Duration::from_secs(10);
/// New packets that show a stream is flowing to a listener right now.
const FLOWING: u64 = 25;
/// After a change that stops a stream, packets already on their way may still land this long.
const DRAIN: Duration = Duration::from_secs(1);
/// How long a stopped stream must then stay silent.
const QUIET: Duration = Duration::from_secs(1);

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

/// Proof that a listener is receiving a stream. Silence can only be asserted through
/// [`Flowing::stops`], so no test can call a stream "stopped" that never reached the listener.
struct Flowing {
    media: Arc<MediaClient>,
    stream: String,
}

impl Flowing {
    /// Fails the test unless [`FLOWING`] new packets of `stream` reach `listener` within [`SETTLE`].
    async fn to(listener: &RoomClient, stream: &str) -> Self {
        let flowing = Self { media: listener.media().clone(), stream: stream.to_string() };
        flowing.continues().await;
        flowing
    }

    /// Fails the test unless [`FLOWING`] more packets arrive within [`SETTLE`].
    async fn continues(&self) {
        let wanted = self.media.packets(&self.stream) + FLOWING;
        let received = self.media.wait_for_packets(&self.stream, wanted, SETTLE).await;
        let streams = self.media.streams();
        assert!(
            received >= wanted,
            "{} flows: {received} packets, wanted {wanted} within {SETTLE:?}; streams heard: {streams:?}",
            self.stream
        );
    }

    /// Call right after the change that should stop the stream: fails the test if a packet
    /// arrives later than [`DRAIN`] after it, or within [`QUIET`] of the last one.
    async fn stops(self, why: &str) {
        let deadline = tokio::time::Instant::now() + DRAIN + QUIET;
        let (mut last, mut quiet_since) = (self.media.packets(&self.stream), tokio::time::Instant::now());
        while quiet_since.elapsed() < QUIET {
            // Asserting an absence: nothing to wait for but the window itself.
            tokio::time::sleep(Duration::from_millis(25)).await;
            let now = self.media.packets(&self.stream);
            if now != last {
                (last, quiet_since) = (now, tokio::time::Instant::now());
            }
            assert!(
                tokio::time::Instant::now() < deadline || quiet_since.elapsed() >= QUIET,
                "{why}: {} still delivers ({last} packets)",
                self.stream
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ogg_opus_microphone_reaches_every_other_participant() {
    let app = TestApp::spawn().await;
    let (host, guest, listener) = (app.register("Host").await, app.register("Guest").await, app.register("Listener").await);
    let m = running(&host, &[&guest, &listener]).await;
    // The guest speaks too, so the host demonstrably receives media: hearing nobody else would
    // make "the host does not hear itself" true of a host that cannot receive at all.
    let (b, guest_speaking) = connect_speaking(&guest, m.id, 1000).await;
    let c = connect(&listener, m.id, receive_only().await).await;
    let a_media = MediaClient::new().await;
    let microphone = a_media.microphone("mic").await;
    let a = connect(&host, m.id, a_media).await;
    let hears_the_guest = Flowing::to(&a, &stream(&guest, "microphone")).await;
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
    hears_the_guest.continues().await;
    assert_eq!(a.media().streams(), [stream(&guest, "microphone")], "the host hears the guest, never itself");
    guest_speaking.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn someone_joining_mid_meeting_gets_the_running_tracks() {
    let app = TestApp::spawn().await;
    let (host, early, late) = (app.register("Host").await, app.register("Early").await, app.register("Late").await);
    let m = running(&host, &[&early, &late]).await;
    let first = connect(&early, m.id, receive_only().await).await;
    let (_a, sending) = connect_speaking(&host, m.id, 500).await;
    // The microphone is running (someone already hears it) before the late joiner arrives.
    Flowing::to(&first, &stream(&host, "microphone")).await;
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
    let mut host_heard = Vec::new();
    for listener in [&b, &c] {
        host_heard.push(Flowing::to(listener, &stream(&host, "microphone")).await);
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
    // Listeners still hear the host.
    for flowing in &host_heard {
        flowing.continues().await;
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
    let (mut b, sending) = connect_speaking(&guest, m.id, 1000).await;
    let guest_heard = Flowing::to(&a, &stream(&guest, "microphone")).await;
    let offers = a.server_offers();
    b.send(json!({"type": "leave"}));
    assert_eq!(b.expect_close().await.0, 1000);
    assert!(a.wait_for_server_offer_after(offers).await, "the server renegotiates to drop the departed track");
    guest_heard.stops("the departed guest's microphone is no longer forwarded").await;
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
    let (to_guest, to_other) = (Flowing::to(&b, &microphone_stream).await, Flowing::to(&c, &microphone_stream).await);

    host.client.remove_participant().meeting_id(m.id).user_id(guest.id).send().await.expect("kick");
    assert_eq!(b.expect_close().await.0, 4008);
    to_guest.stops("the kicked participant's media stops").await;
    to_other.continues().await;

    host.client.end_meeting().meeting_id(m.id).send().await.expect("end");
    c.expect("meeting-ended").await;
    assert_eq!(c.expect_close().await.0, 1000);
    to_other.stops("ending the meeting stops all media").await;
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
    let camera_flowing = Flowing::to(&b, &stream(&host, "camera")).await;
    let screen_flowing = Flowing::to(&b, &stream(&host, "screen")).await;

    let offers = b.server_offers();
    a.send(json!({"type": "screen-share-stop"}));
    assert_eq!(b.expect("screen-share-stopped").await["user_id"], host.id.to_string());
    assert!(b.wait_for_server_offer_after(offers).await, "the screen's track is negotiated away");
    screen_flowing.stops("a stopped screen share is no longer forwarded").await;
    camera_flowing.continues().await;
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
    let guest_heard = Flowing::to(&a, &guest_microphone).await;

    a.send(json!({"type": "force-mute", "target": guest.id, "muted": true}));
    assert_eq!(b.expect("force-muted").await["muted"], true);
    guest_heard.stops("a muted microphone is not forwarded").await;

    // The guest kept sending all along: unmuting brings the same stream back.
    b.send(json!({"type": "media-state", "audio": true, "video": false}));
    Flowing::to(&a, &guest_microphone).await;
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
    Flowing::to(&a, &guest_microphone).await;
    let offers_before = a.server_offers();

    b.drop_connection();
    first.abort();
    b_media.close().await;
    let (_b2, second) = connect_speaking(&guest, m.id, 1000).await;
    // The same stream carries on.
    Flowing::to(&a, &guest_microphone).await;
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

/// The SFU's least time between two keyframe requests to one publisher (`SfuConfig::keyframe_interval`).
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);

/// Sends `subscriber`'s PLIs for `stream_id` until one reaches the publisher (the throttle lets
/// it through once the last interval has passed); returns when the publisher saw it.
async fn keyframe_request_gets_through(subscriber: &RoomClient, stream_id: &str, requests: &AtomicUsize, what: &str) {
    let seen = requests.load(Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + SETTLE;
    while requests.load(Ordering::SeqCst) == seen {
        assert!(tokio::time::Instant::now() < deadline, "{what}: no keyframe request reached the publisher within {SETTLE:?}");
        subscriber.media().request_keyframe(stream_id).await;
        // Look for it for a moment before asking again (the throttle may still be closed).
        let asked = tokio::time::Instant::now();
        while requests.load(Ordering::SeqCst) == seen && asked.elapsed() < Duration::from_millis(100) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
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
    Flowing::to(&b, &camera_stream).await;
    let counted = || requests.load(Ordering::SeqCst);
    eventually(SETTLE, "a new subscriber makes the SFU ask for a keyframe", || std::future::ready((counted() >= 1).then_some(()))).await;

    // The first PLI of the burst is the one that finds the throttle open: it starts the interval
    // the other nine fall into.
    keyframe_request_gets_through(&b, &camera_stream, &requests, "a PLI once the interval has passed").await;
    let after_first = counted();
    for _ in 0..9 {
        b.media().request_keyframe(&camera_stream).await;
    }
    // Asserting an absence: any of the nine the SFU let through would reach the publisher
    // within an interval (loopback takes microseconds).
    tokio::time::sleep(KEYFRAME_INTERVAL).await;
    assert_eq!(counted(), after_first, "ten PLIs within the throttle interval cost the publisher one keyframe");
    // The throttle only spaces requests out: the next interval lets one through again.
    keyframe_request_gets_through(&b, &camera_stream, &requests, "a PLI in the next interval").await;
    sending.abort();
}

/// The server's candidates in `media`'s remote description, once the server has answered.
async fn server_candidates(media: &MediaClient) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + SETTLE;
    let mut answer = None;
    while answer.is_none() && tokio::time::Instant::now() < deadline {
        answer = media.connection.remote_description().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sdp = answer.expect("the server answered").sdp;
    let candidates: Vec<String> = sdp.lines().filter(|l| l.starts_with("a=candidate:")).map(str::to_string).collect();
    assert!(!candidates.is_empty(), "{sdp}");
    candidates
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).expect("a free UDP port").port()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_participant_is_told_the_nodes_two_ports_on_the_public_address() {
    let udp = free_udp_port().to_string();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free TCP port").port().to_string();
    let app = TestApp::spawn_with(&[("RTC_UDP_PORT", &udp), ("RTC_TCP_PORT", &tcp), ("RTC_PUBLIC_IP", "192.0.2.10")]).await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    for user in [&host, &guest] {
        let media = receive_only().await;
        let mut room = RoomClient::join_with_media(user, m.id, media.clone()).await;
        room.expect("room-info").await;
        room.negotiate().await;
        let mut seen = Vec::new();
        for candidate in server_candidates(&media).await {
            let fields: Vec<&str> = candidate.split_whitespace().collect();
            assert_eq!(fields[4], "192.0.2.10", "{}: the public address: {candidate}", user.name);
            let kind = match (fields[2].to_ascii_lowercase().as_str(), candidate.contains("tcptype active")) {
                ("udp", _) => ("udp", udp.as_str()),
                ("tcp", false) => ("tcp passive", tcp.as_str()),
                // An active candidate has no port to connect to (RFC 6544: the discard port).
                _ => ("tcp active", "9"),
            };
            assert_eq!(fields[5], kind.1, "{}: the node's {} port: {candidate}", user.name, kind.0);
            seen.push(kind.0);
        }
        assert!(seen.contains(&"udp") && seen.contains(&"tcp passive"), "{}: {seen:?}", user.name);
    }
}

/// The `sfu_udp_datagrams_dropped_total` count for `reason` on `app`'s `/metrics`.
async fn dropped(app: &TestApp, reason: &str) -> u64 {
    let text = reqwest::get(app.url("/metrics")).await.expect("metrics").text().await.expect("text");
    let series = format!("sfu_udp_datagrams_dropped_total{{reason=\"{reason}\"}} ");
    text.lines().find_map(|line| line.strip_prefix(&series)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn traffic_nobody_checked_in_for_is_dropped_and_counted_while_media_flows() {
    let port = free_udp_port();
    let app = TestApp::spawn_with(&[("RTC_UDP_PORT", &port.to_string())]).await;
    let (host, listener) = (app.register("Host").await, app.register("Listener").await);
    let m = running(&host, &[&listener]).await;
    let (_a, speaking) = connect_speaking(&host, m.id, 1000).await;
    let c = connect(&listener, m.id, receive_only().await).await;
    let flowing = Flowing::to(&c, &stream(&host, "microphone")).await;
    let stranger = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("a socket");
    let before = dropped(&app, "unknown_source").await;
    for _ in 0..200 {
        stranger.send_to(&[0x80, 0x6f, 0, 1, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3], ("127.0.0.1", port)).await.expect("send");
    }
    let counted = eventually(SETTLE, "200 stray datagrams counted", || async {
        let now = dropped(&app, "unknown_source").await;
        (now >= before + 200).then_some(now)
    })
    .await;
    assert!(counted >= before + 200);
    flowing.continues().await;
    speaking.abort();
}

/// The m-lines of an SDP as (kind, direction, msid) triples.
fn m_lines(sdp: &str) -> Vec<(String, String, Option<String>)> {
    let mut lines: Vec<(String, String, Option<String>)> = Vec::new();
    for line in sdp.lines() {
        if let Some(media) = line.strip_prefix("m=") {
            lines.push((media.split(' ').next().unwrap_or_default().to_string(), "sendrecv".into(), None));
        } else if let Some(last) = lines.last_mut() {
            match line {
                "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive" => last.1 = line[2..].to_string(),
                _ => {
                    if let Some(msid) = line.strip_prefix("a=msid:") {
                        last.2 = msid.split(' ').next().map(str::to_string);
                    }
                }
            }
        }
    }
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listener_is_offered_no_track_without_a_publisher_behind_it() {
    let app = TestApp::spawn().await;
    let (host, listener) = (app.register("Host").await, app.register("Listener").await);
    let m = running(&host, &[&listener]).await;
    let (_a, speaking) = connect_speaking(&host, m.id, 1000).await;
    let c = connect(&listener, m.id, receive_only().await).await;
    Flowing::to(&c, &stream(&host, "microphone")).await;
    let lines = m_lines(&c.media().remote_sdp().await);
    let sending: Vec<_> = lines.iter().filter(|(_, direction, _)| direction == "sendonly" || direction == "sendrecv").collect();
    let microphone = stream(&host, "microphone");
    assert_eq!(sending.len(), 1, "only the host's microphone is sent: {lines:?}");
    assert_eq!(sending[0].2.as_deref(), Some(microphone.as_str()), "{lines:?}");
    assert!(lines.iter().any(|(kind, direction, _)| kind == "video" && direction == "inactive"), "the idle video m-line: {lines:?}");
    assert_eq!(c.media().announced(), [microphone], "the listener got one track event");
    speaking.abort();
}

/// Enters the room with a microphone and a camera, both sending until the returned task is aborted.
async fn connect_with_camera(user: &TestUser, meeting: uuid::Uuid) -> (RoomClient, tokio::task::JoinHandle<()>) {
    let media = MediaClient::new().await;
    let (microphone, camera) = (media.microphone("mic").await, media.video("cam").await);
    let room = connect(user, meeting, media).await;
    let sending = tokio::spawn(async move {
        tokio::join!(send_synthetic(&microphone, u32::MAX, PACE), send_synthetic(&camera, u32::MAX, PACE));
    });
    (room, sending)
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_people_coming_and_going_leave_the_listener_one_m_line_per_live_track() {
    const CYCLES: usize = 50;
    let app = TestApp::spawn().await;
    let (host, first, second) = (app.register("Host").await, app.register("Guest A").await, app.register("Guest B").await);
    let m = running(&host, &[&first, &second]).await;
    let listener = connect(&host, m.id, receive_only().await).await;
    // The listener's own two receive-only m-lines, and one per kind for whoever is on air.
    let bound = m_lines(&listener.media().remote_sdp().await).len() + 2;
    for cycle in 0..CYCLES {
        let guest = if cycle % 2 == 0 { &first } else { &second };
        let (mut room, sending) = connect_with_camera(guest, m.id).await;
        let microphone = Flowing::to(&listener, &stream(guest, "microphone")).await;
        let camera = Flowing::to(&listener, &stream(guest, "camera")).await;
        let lines = m_lines(&listener.media().remote_sdp().await);
        assert!(lines.len() <= bound, "cycle {cycle}: {} m-lines for two live tracks: {lines:?}", lines.len());
        let offers = listener.server_offers();
        room.send(json!({"type": "leave"}));
        assert_eq!(room.expect_close().await.0, 1000);
        assert!(listener.wait_for_server_offer_after(offers).await, "cycle {cycle}: the server renegotiates the departure");
        tokio::join!(microphone.stops("a departed guest's microphone"), camera.stops("a departed guest's camera"));
        sending.abort();
        room.media().close().await;
    }
    let lines = m_lines(&listener.media().remote_sdp().await);
    assert!(lines.len() <= bound, "after {CYCLES} cycles: {lines:?}");
    assert!(lines.iter().all(|(_, direction, _)| direction != "sendonly" && direction != "sendrecv"), "nothing is on air: {lines:?}");
}
