//! One real browser: headless Chromium (Debian's, with fake devices) opens a plain page that signs
//! in, joins through the API and the WebSocket, and publishes its microphone and camera; a
//! webrtc-rs participant in the same meeting receives both, the browser receives its audio, and
//! the server records the browser's real Opus and VP8.

use std::process::Stdio;
use std::time::Duration;

use mit_client::types::{self, RecordingKind, RecordingStatus};
use mit_tests::media::{MediaClient, send_synthetic};
use mit_tests::netns::UdpBlocked;
use mit_tests::recordings::{fetch, opusinfo, read_ivf, read_ogg_opus, settled};
use mit_tests::room::RoomClient;
use mit_tests::{TestApp, TestUser};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Route, get, handler, web::Html};
use serde_json::json;
use webrtc::peer_connection::RTCPeerConnectionState;

use crate::meetings::meeting;

#[handler]
fn page() -> Html<&'static str> {
    Html(include_str!("../../browser/page.html"))
}

/// Serves the test page on a port of its own on `ip` (another origin than the API, as in
/// production).
async fn serve_page(ip: &str) -> String {
    let acceptor = TcpListener::bind(format!("{ip}:0")).into_acceptor().await.expect("a port for the page");
    let address = acceptor.local_addr().into_iter().find_map(|a| a.as_socket_addr().copied()).expect("an address");
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(Route::new().at("/", get(page))));
    format!("http://{address}")
}

/// What the page does with its microphone and camera.
#[derive(Clone, Copy)]
enum Role {
    /// Publishes both from the start.
    Publisher,
    /// Joins listening and turns the microphone on once it hears the host.
    LateMicrophone,
    /// Only ever listens.
    Listener,
}

impl Role {
    fn query(self) -> &'static str {
        match self {
            Self::Publisher => "late=0",
            Self::LateMicrophone => "late=1",
            Self::Listener => "listen=1",
        }
    }
}

/// Headless Chromium on the test page, signed in as one user of one meeting; it stays until
/// [`Browser::finish`] releases it (closing the driver's stdin).
struct Browser {
    driver: tokio::process::Child,
    release: Option<tokio::process::ChildStdin>,
}

impl Browser {
    /// Opens the page; `late` joins as a listener that turns its microphone on later. The
    /// browser runs in `namespace` when given.
    fn open(page_origin: &str, app: &TestApp, user: &TestUser, meeting: uuid::Uuid, role: Role, namespace: Option<&UdpBlocked>) -> Self {
        let url = format!(
            "{page_origin}/?api={}&email={}&password={}&meeting={meeting}&{}",
            app.base_url,
            user.email,
            user.password.replace(' ', "%20"),
            role.query()
        );
        let mut node = match namespace {
            Some(namespace) => namespace.command("node"),
            None => tokio::process::Command::new("node"),
        };
        let mut driver = node
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/browser/driver.cjs"))
            .arg(&url)
            .arg("50")
            .env("PLAYWRIGHT_CORE", mit_tests::service_url("MIT_TEST_PLAYWRIGHT"))
            .env("CHROMIUM", mit_tests::service_url("MIT_TEST_CHROMIUM"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let release = driver.stdin.take();
        Self { driver, release }
    }

    /// Lets the browser go once it has heard 50 audio packets; returns the page's final state.
    async fn finish(mut self) -> serde_json::Value {
        drop(self.release.take());
        let driven = self.driver.wait_with_output().await.expect("node runs");
        let stdout = String::from_utf8_lossy(&driven.stdout);
        assert!(driven.status.success(), "driver failed: {}\n{stdout}", String::from_utf8_lossy(&driven.stderr));
        let state: serde_json::Value = serde_json::from_str(stdout.trim()).expect("the page state as JSON");
        assert!(state["error"].is_null(), "the page reports {state}");
        state
    }
}

/// A running meeting whose host, a webrtc-rs participant, is connected and speaking, and whose
/// other participant is the browser's user; the page is served from its own origin.
struct Call {
    page_origin: String,
    app: TestApp,
    host: TestUser,
    browser_user: TestUser,
    /// Two more participants, not yet in the room.
    guests: [TestUser; 2],
    m: types::Meeting,
    host_room: RoomClient,
    speaking: tokio::task::JoinHandle<u32>,
}

impl Call {
    async fn start() -> Self {
        Self::start_on("127.0.0.1").await
    }

    /// The call with the server and the page on `ip`.
    async fn start_on(ip: &str) -> Self {
        let page_origin = serve_page(ip).await;
        let app = TestApp::spawn_with(&[("CORS_ORIGINS", &page_origin), ("HOST", ip)]).await;
        let (host, browser_user) = (app.register("Host").await, app.register("Browser").await);
        let guests = [app.register("Guest A").await, app.register("Guest B").await];
        let m = meeting(&host, "Browser call", &[&browser_user, &guests[0], &guests[1]]).await;
        host.client.start_meeting().meeting_id(m.id).send().await.expect("start");
        let host_media = MediaClient::new().await;
        let microphone = host_media.microphone("mic").await;
        let mut host_room = RoomClient::join_with_media(&host, m.id, host_media).await;
        host_room.expect("room-info").await;
        host_room.negotiate().await;
        assert!(host_room.media().wait_for_state(RTCPeerConnectionState::Connected, Duration::from_secs(10)).await);
        let speaking = tokio::spawn(async move { send_synthetic(&microphone, 3000, Duration::from_millis(20)).await });
        Self { page_origin, app, host, browser_user, guests, m, host_room, speaking }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_publishes_to_and_hears_a_webrtc_rs_participant() {
    let Call { page_origin, app, host, browser_user, m, host_room, speaking, .. } = Call::start().await;
    let browser = Browser::open(&page_origin, &app, &browser_user, m.id, Role::Publisher, None);
    let camera = format!("{}:camera", browser_user.id);
    let voice = format!("{}:microphone", browser_user.id);
    let (heard_voice, saw_camera) = tokio::join!(
        host_room.media().wait_for_packets(&voice, 50, Duration::from_secs(40)),
        host_room.media().wait_for_packets(&camera, 50, Duration::from_secs(40)),
    );
    let state = browser.finish().await;
    speaking.abort();
    assert!(state["inboundAudioPackets"].as_u64().unwrap_or(0) >= 50, "the browser hears the webrtc-rs participant: {state}");
    let publisher = json!({"stream": format!("{}:microphone", host.id), "kind": "audio"});
    assert_eq!(state["trackEvents"], json!([publisher]), "one ontrack, for the one published track: {state}");
    assert!(heard_voice >= 50, "the webrtc-rs participant hears the browser ({heard_voice} packets)");
    assert!(saw_camera >= 50, "the webrtc-rs participant sees the browser's camera ({saw_camera} packets)");

    host.client.stop_recording().meeting_id(m.id).send().await.expect("stop recording");
    let recordings = settled(&host, m.id, 3, Duration::from_secs(30)).await;
    let of_browser = |kind: RecordingKind| {
        recordings.iter().find(|r| r.participant.id == browser_user.id && r.kind == kind).unwrap_or_else(|| panic!("{recordings:#?}"))
    };
    let (voice, camera) = (of_browser(RecordingKind::Audio), of_browser(RecordingKind::Video));
    assert!(recordings.iter().all(|r| r.status == RecordingStatus::Ready), "{recordings:#?}");
    let audio = fetch(&app.base_url, &host, voice).await;
    assert!(read_ogg_opus(&audio).duration_ms >= 1000, "the browser's voice is recorded: {:?}", read_ogg_opus(&audio));
    opusinfo(&audio);
    let video = read_ivf(&fetch(&app.base_url, &host, camera).await);
    assert!(video.width >= 160 && video.height >= 120 && video.frames >= 10, "the browser's camera is recorded: {video:?}");
    assert_eq!(video.declared_frames as usize, video.frames);
}

/// Chromium joins without a microphone and turns it on later with `addTrack`, which reuses the
/// receive-only audio m-line it already has: the webrtc-rs participant hears it.
#[tokio::test(flavor = "multi_thread")]
async fn a_chromium_listener_who_turns_the_microphone_on_is_heard() {
    let Call { page_origin, app, host, browser_user, m, host_room, speaking, .. } = Call::start().await;
    let browser = Browser::open(&page_origin, &app, &browser_user, m.id, Role::LateMicrophone, None);
    let voice = format!("{}:microphone", browser_user.id);
    let heard = host_room.media().wait_for_packets(&voice, 50, Duration::from_secs(40)).await;
    let state = browser.finish().await;
    speaking.abort();
    assert_eq!(state["microphoneOn"], true, "{state}");
    assert!(heard >= 50, "the webrtc-rs participant hears the browser's late microphone ({heard} packets): {state}");
    // The listener offered an audio and a video m-line to receive on; only the host's microphone
    // is published, so the video m-line must not come back as a track with nothing behind it.
    let tracks = state["trackEvents"].as_array().expect("trackEvents").clone();
    let publisher = json!({"stream": format!("{}:microphone", host.id), "kind": "audio"});
    assert!(!tracks.is_empty() && tracks.iter().all(|t| *t == publisher), "every ontrack has a publisher behind it: {tracks:?}");
}

/// Chromium in a network namespace that drops every UDP packet: it reaches the server only over
/// TCP, on the node's one TCP port (ICE over TCP, RFC 6544), and still sends and receives media.
#[tokio::test(flavor = "multi_thread")]
async fn chromium_with_udp_blocked_meets_over_ice_tcp() {
    let namespace = UdpBlocked::create();
    let host_ip = namespace.host_ip.to_string();
    let Call { page_origin, app, host, browser_user, m, host_room, speaking, .. } = Call::start_on(&host_ip).await;
    let browser = Browser::open(&page_origin, &app, &browser_user, m.id, Role::Publisher, Some(&namespace));
    let voice = format!("{}:microphone", browser_user.id);
    let heard = host_room.media().wait_for_packets(&voice, 50, Duration::from_secs(40)).await;
    let state = browser.finish().await;
    speaking.abort();
    assert_eq!(state["transport"], "tcp", "the browser's media went over TCP: {state}");
    assert!(state["inboundAudioPackets"].as_u64().unwrap_or(0) >= 50, "the browser hears the host over TCP: {state}");
    assert!(heard >= 50, "the host hears the browser over TCP ({heard} packets): {state}");
    let publisher = json!({"stream": format!("{}:microphone", host.id), "kind": "audio"});
    assert_eq!(state["trackEvents"], json!([publisher]), "{state}");
}

/// Guests come and go while Chromium listens: each one's microphone arrives as a new `ontrack`
/// with the guest's stream, on the m-line the one before them left, so the browser's SDP stays at
/// its own two m-lines plus one per live track.
#[tokio::test(flavor = "multi_thread")]
async fn chromium_hears_each_newcomer_on_the_m_line_the_last_one_left() {
    const CYCLES: usize = 4;
    let Call { page_origin, app, host, browser_user, guests, m, mut host_room, speaking } = Call::start().await;
    let browser = Browser::open(&page_origin, &app, &browser_user, m.id, Role::Listener, None);
    // The browser is in the room before the first guest comes: Chromium's start-up on a loaded
    // machine can outlast a guest's whole stay.
    host_room.expect("user-joined").await;
    let mut expected = vec![json!({"stream": format!("{}:microphone", host.id), "kind": "audio"})];
    for cycle in 0..CYCLES {
        let guest = &guests[cycle % 2];
        let media = MediaClient::new().await;
        let microphone = media.microphone("mic").await;
        let mut room = RoomClient::join_with_media(guest, m.id, media).await;
        room.expect("room-info").await;
        room.negotiate().await;
        assert!(room.media().wait_for_state(RTCPeerConnectionState::Connected, Duration::from_secs(10)).await);
        let sending = tokio::spawn(async move { send_synthetic(&microphone, 3000, Duration::from_millis(20)).await });
        expected.push(json!({"stream": format!("{}:microphone", guest.id), "kind": "audio"}));
        // The page's state is read only when it finishes: each guest stays long enough for the
        // renegotiation that brings its track to reach the browser.
        tokio::time::sleep(Duration::from_secs(2)).await;
        room.send(json!({"type": "leave"}));
        assert_eq!(room.expect_close().await.0, 1000);
        sending.abort();
        room.media().close().await;
    }
    let state = browser.finish().await;
    speaking.abort();
    drop(host_room);
    assert_eq!(state["trackEvents"], json!(expected), "one ontrack per publisher, in the order they came: {state}");
    let m_lines = state["mLines"].as_u64().unwrap_or(0);
    assert!(m_lines <= 4, "the browser's two m-lines, the host's and one recycled for the guests: {m_lines}; {state}");
}
