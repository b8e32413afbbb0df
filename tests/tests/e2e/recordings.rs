//! Server-side recording end to end: webrtc-rs participants publish into a recorded meeting;
//! the files come back through the API (whole, by range, through signed links, from local
//! storage and from S3) and are read with parsers independent of the server's. Also who may
//! start, stop and fetch, and what happens to a recording that is not ready.

use std::sync::Arc;
use std::time::Duration;

use diesel::sql_types::{Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jsonwebtoken::{EncodingKey, Header};
use mit_client::types::{self, RecordingKind, RecordingSource, RecordingStatus};
use mit_tests::media::{MediaClient, play_ogg, send_synthetic};
use mit_tests::recordings::{download, fetch, opusinfo, read_ivf, read_ogg_opus, settled};
use mit_tests::room::RoomClient;
use mit_tests::server_process::ServerProcess;
use mit_tests::{TEST_JWT_SECRET, TestApp, TestUser, eventually, fresh_database, opus_fixture, s3_env};
use serde_json::json;
use webrtc::peer_connection::RTCPeerConnectionState;

use crate::meetings::{meeting, team_meeting};
use crate::{expect_error, expect_raw_error, http};

const SETTLE: Duration = Duration::from_secs(20);
const PACE: Duration = Duration::from_millis(20);

async fn running(host: &TestUser, others: &[&TestUser]) -> types::Meeting {
    let m = meeting(host, "Recorded call", others).await;
    host.client.start_meeting().meeting_id(m.id).send().await.expect("start").into_inner()
}

/// Enters the room with `media` and waits for the media connection; returns the room and its
/// `room-info`.
async fn connect(user: &TestUser, meeting: uuid::Uuid, media: Arc<MediaClient>) -> (RoomClient, serde_json::Value) {
    let mut room = RoomClient::join_with_media(user, meeting, media).await;
    let info = room.expect("room-info").await;
    room.negotiate().await;
    assert!(room.media().wait_for_state(RTCPeerConnectionState::Connected, SETTLE).await, "{} connects", user.name);
    (room, info)
}

async fn listener(user: &TestUser, meeting: uuid::Uuid) -> RoomClient {
    let media = MediaClient::new().await;
    media.receive_only().await;
    connect(user, meeting, media).await.0
}

async fn stop(host: &TestUser, meeting: uuid::Uuid) -> types::RecordingState {
    host.client.stop_recording().meeting_id(meeting).send().await.expect("stop recording").into_inner()
}

/// A server with these extra variables.
async fn app_with(env: &[(&'static str, String)]) -> TestApp {
    let overrides: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_with(&overrides).await
}

/// A host alone in a running, recorded meeting publishes `packets` packets of synthetic audio
/// (20 ms each) and stops the recording; returns the host, the meeting and the packets sent.
async fn record_speech(app: &TestApp, packets: u32) -> (TestUser, types::Meeting, u32) {
    let host = app.register("Host").await;
    let m = running(&host, &[]).await;
    let media = MediaClient::new().await;
    let microphone = media.microphone("mic").await;
    let (_room, _) = connect(&host, m.id, media).await;
    let sent = send_synthetic(&microphone, packets, PACE).await;
    stop(&host, m.id).await;
    (host, m, sent)
}

#[track_caller]
fn within_5_percent(actual: u64, expected: u64) {
    let tolerance = expected / 20;
    assert!(actual.abs_diff(expected) <= tolerance, "{actual} ms is not within 5% of {expected} ms");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_microphone_comes_back_as_ogg_opus_as_long_as_what_was_sent() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = running(&host, &[&guest]).await;
    let mut guest_room = listener(&guest, m.id).await;
    let media = MediaClient::new().await;
    let microphone = media.microphone("mic").await;
    let (_host_room, info) = connect(&host, m.id, media).await;
    assert_eq!(info["recording"]["active"], true, "meetings record from the start by default: {info}");
    let sent = play_ogg(&microphone, &opus_fixture()).await;
    assert!(!stop(&host, m.id).await.active);
    guest_room.expect("recording-stopped").await;

    let recordings = settled(&host, m.id, 1, SETTLE).await;
    assert_eq!(recordings.len(), 1, "one file for the one published track: {recordings:#?}");
    let recording = &recordings[0];
    assert_eq!(recording.status, RecordingStatus::Ready, "{recording:?}");
    assert_eq!((recording.kind, recording.source, recording.participant.id), (RecordingKind::Audio, RecordingSource::Microphone, host.id));
    assert_eq!(recording.media_type, "audio/ogg; codecs=opus");
    assert!(recording.ended_at.is_some_and(|end| end > recording.started_at));
    let sent_ms = u64::from(sent) * 20;
    within_5_percent(recording.duration_ms.and_then(|d| u64::try_from(d).ok()).unwrap_or_default(), sent_ms);

    let response = download(&app.base_url, &guest, m.id, recording.id, None).await;
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!((header("accept-ranges"), header("content-type")), ("bytes".into(), "audio/ogg; codecs=opus".into()));
    assert_eq!(header("content-length"), recording.size_bytes.unwrap_or_default().to_string());
    let bytes = response.bytes().await.expect("body").to_vec();
    assert_eq!(bytes.len() as i64, recording.size_bytes.unwrap_or_default());
    let ogg = read_ogg_opus(&bytes);
    within_5_percent(ogg.duration_ms, sent_ms);
    assert!(ogg.voiced_packets as u32 >= sent * 98 / 100, "{} of {sent} packets made it into the file", ogg.voiced_packets);
    let report = opusinfo(&bytes);
    assert!(report.contains("Channels: 2"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_and_signed_links_serve_parts_of_a_local_recording() {
    let app = TestApp::spawn().await;
    let (host, m, _) = record_speech(&app, 100).await;
    let recording = settled(&host, m.id, 1, SETTLE).await.remove(0);
    let whole = fetch(&app.base_url, &host, &recording).await;
    let size = whole.len();

    let part = download(&app.base_url, &host, m.id, recording.id, Some("bytes=0-99")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], format!("bytes 0-99/{size}").as_str());
    assert_eq!(part.bytes().await.expect("part").as_ref(), &whole[..100]);
    let tail = download(&app.base_url, &host, m.id, recording.id, Some("bytes=-10")).await;
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.expect("tail").as_ref(), &whole[size - 10..]);
    for bad in [format!("bytes={size}-"), "bytes=0-1,4-5".into(), "bytes=9-1".into(), "bytes=x-".into()] {
        let refused = download(&app.base_url, &host, m.id, recording.id, Some(&bad)).await;
        assert_eq!(refused.headers().get("content-range").map(|v| v.as_bytes()), Some(format!("bytes */{size}").as_bytes()), "{bad}");
        expect_raw_error(refused, 416, "range_not_satisfiable").await;
    }
    let other_unit = download(&app.base_url, &host, m.id, recording.id, Some("items=0-1")).await;
    assert_eq!(other_unit.status(), 200, "a range in another unit is ignored");

    let link =
        host.client.get_recording_download_url().meeting_id(m.id).recording_id(recording.id).send().await.expect("link").into_inner();
    let url = link.url.to_string();
    assert!(url.starts_with(&format!("{}/api/v1/recording-files/", app.base_url)), "{url}");
    let expires_in = (link.expires_at - chrono::Utc::now()).num_seconds();
    assert!((890..=900).contains(&expires_in), "links last 15 minutes by default ({expires_in} s)");
    let fetched = http().get(&url).send().await.expect("fetch the link");
    assert_eq!(fetched.status(), 200, "no bearer token needed");
    assert_eq!(fetched.bytes().await.expect("file").to_vec(), whole);
    let ranged = http().get(&url).header("range", "bytes=10-19").send().await.expect("ranged");
    assert_eq!((ranged.status().as_u16(), ranged.bytes().await.expect("part").to_vec()), (206, whole[10..20].to_vec()));
    let mut tampered = url.clone();
    let last = tampered.pop().expect("a token");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    expect_raw_error(http().get(&tampered).send().await.expect("tampered"), 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_s3_recordings_are_uploaded_and_links_are_signed_for_the_public_endpoint() {
    let endpoint = mit_tests::service_url("MIT_TEST_S3_ENDPOINT");
    let public = endpoint.replace("127.0.0.1", "localhost");
    let app = app_with(&s3_env(Some(&public))).await;
    let (host, m, sent) = record_speech(&app, 100).await;
    let recording = settled(&host, m.id, 1, SETTLE).await.remove(0);
    assert_eq!(recording.status, RecordingStatus::Ready, "{recording:?}");

    let whole = fetch(&app.base_url, &host, &recording).await;
    within_5_percent(read_ogg_opus(&whole).duration_ms, u64::from(sent) * 20);
    let part = download(&app.base_url, &host, m.id, recording.id, Some("bytes=5-14")).await;
    assert_eq!((part.status().as_u16(), part.bytes().await.expect("part").to_vec()), (206, whole[5..15].to_vec()), "ranges reach S3");

    let link =
        host.client.get_recording_download_url().meeting_id(m.id).recording_id(recording.id).send().await.expect("link").into_inner();
    let url = link.url.to_string();
    assert!(url.starts_with(&format!("{public}/{}/recordings/{}/", mit_tests::service_url("MIT_TEST_S3_BUCKET"), m.id)), "{url}");
    let fetched = http().get(&url).send().await.expect("fetch from S3");
    assert_eq!(fetched.status(), 200, "the presigned link works on the public endpoint");
    assert_eq!(fetched.bytes().await.expect("file").to_vec(), whole);
    let internal = url.replacen("localhost", "127.0.0.1", 1);
    let refused = http().get(&internal).send().await.expect("fetch from the internal host");
    assert_eq!(refused.status(), 403, "the signature covers the public host, not the internal one");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_waits_out_an_object_store_outage_and_then_lands() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut env = s3_env(None);
    for (key, value) in &mut env {
        match *key {
            "S3_ENDPOINT" | "S3_PUBLIC_ENDPOINT" => *value = endpoint.clone(),
            "S3_BUCKET" => *value = "outage".into(),
            _ => {}
        }
    }
    let app = app_with(&env).await;
    let (host, m, _) = record_speech(&app, 50).await;

    // The store is down: the upload's first attempt fails and the job waits for its next one.
    let failed = eventually(SETTLE, "a failed upload attempt while the store is down", || failed_upload(&app, m.id)).await;
    let waiting = host.client.list_recordings().meeting_id(m.id).send().await.expect("list").into_inner().items;
    assert_eq!(waiting.iter().map(|r| (r.id, r.status)).collect::<Vec<_>>(), [(failed.recording, RecordingStatus::Processing)]);
    expect_raw_error(download(&app.base_url, &host, m.id, failed.recording, None).await, 409, "not_ready").await;

    let data = tempfile::tempdir().expect("a directory for the store");
    std::fs::create_dir(data.path().join("outage")).expect("the bucket");
    let mut s3 = std::process::Command::new(mit_tests::service_url("MIT_TEST_S3S_FS"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", &mit_tests::service_url("MIT_TEST_S3_ACCESS_KEY")])
        .args(["--secret-key", &mit_tests::service_url("MIT_TEST_S3_SECRET_KEY")])
        .arg(data.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("s3s-fs starts");
    let recording = settled(&host, m.id, 1, Duration::from_secs(30)).await.remove(0);
    assert_eq!(recording.status, RecordingStatus::Ready, "a later attempt uploads it: {recording:?}");
    within_5_percent(read_ogg_opus(&fetch(&app.base_url, &host, &recording).await).duration_ms, 1000);

    let _ = s3.kill();
    let _ = s3.wait();
    let unreachable = download(&app.base_url, &host, m.id, recording.id, None).await;
    assert!(unreachable.headers().contains_key("retry-after"));
    expect_raw_error(unreachable, 503, "service_unavailable").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn leaving_and_coming_back_starts_a_new_file_and_video_is_recorded_as_ivf() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = running(&host, &[]).await;
    let media = MediaClient::new().await;
    let (microphone, camera) = (media.microphone("mic").await, media.video("cam").await);
    let (mut room, _) = connect(&host, m.id, media).await;
    let (audio_sent, video_sent) =
        tokio::join!(send_synthetic(&microphone, 50, PACE), send_synthetic(&camera, 30, Duration::from_millis(33)));
    assert!(audio_sent == 50 && video_sent == 30);
    room.send(json!({"type": "leave"}));
    assert_eq!(room.expect_close().await.0, 1000);

    let media = MediaClient::new().await;
    let microphone = media.microphone("mic").await;
    let (_room, info) = connect(&host, m.id, media).await;
    assert_eq!(info["recording"]["active"], true);
    send_synthetic(&microphone, 50, PACE).await;
    stop(&host, m.id).await;

    let recordings = settled(&host, m.id, 3, SETTLE).await;
    let audio: Vec<&types::Recording> = recordings.iter().filter(|r| r.kind == RecordingKind::Audio).collect();
    let video: Vec<&types::Recording> = recordings.iter().filter(|r| r.kind == RecordingKind::Video).collect();
    assert_eq!((audio.len(), video.len()), (2, 1), "a new audio file after coming back: {recordings:#?}");
    assert!(recordings.iter().all(|r| r.status == RecordingStatus::Ready), "{recordings:#?}");
    assert!(audio[0].started_at < audio[1].started_at, "listed oldest first");
    for recording in &audio {
        within_5_percent(read_ogg_opus(&fetch(&app.base_url, &host, recording).await).duration_ms, 1000);
    }
    let camera_file = video[0];
    assert_eq!((camera_file.source, camera_file.media_type.as_str()), (RecordingSource::Camera, "video/x-ivf; codecs=vp8"));
    let ivf = read_ivf(&fetch(&app.base_url, &host, camera_file).await);
    assert_eq!((&ivf.codec, ivf.width, ivf.height), (b"VP80", 320, 240));
    assert_eq!(ivf.declared_frames as usize, ivf.frames, "the header's frame count is right");
    assert!(ivf.frames >= 28, "{} of 30 frames", ivf.frames);
    assert!((900..=1000).contains(&ivf.last_pts_ms), "frame times follow the RTP clock ({} ms)", ivf.last_pts_ms);
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_start_and_stop_recording_while_the_meeting_runs_and_the_room_hears_it() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = host
        .client
        .create_meeting()
        .body(types::CreateMeetingRequest::builder().title("Off the record").participant_ids(Some(vec![guest.id])).auto_record(Some(false)))
        .send()
        .await
        .expect("create")
        .into_inner();
    expect_error(host.client.start_recording().meeting_id(m.id).send().await, 409, "invalid_state_transition");
    host.client.start_meeting().meeting_id(m.id).send().await.expect("start");
    let state = host.client.get_recording_state().meeting_id(m.id).send().await.expect("state").into_inner();
    assert!(!state.active && state.started_at.is_none(), "auto_record off: {state:?}");
    let mut guest_room = RoomClient::join(&guest, m.id).await;
    assert_eq!(guest_room.expect("room-info").await["recording"]["active"], false);

    expect_error(guest.client.start_recording().meeting_id(m.id).send().await, 403, "forbidden");
    let started = host.client.start_recording().meeting_id(m.id).send().await.expect("start recording").into_inner();
    let since = started.started_at.expect("a start time");
    assert!(started.active);
    let announced = guest_room.expect("recording-started").await;
    let announced: chrono::DateTime<chrono::Utc> = announced["started_at"].as_str().and_then(|t| t.parse().ok()).expect("a start time");
    assert_eq!(announced, since, "the room hears the same start time");
    let again = host.client.start_recording().meeting_id(m.id).send().await.expect("start again").into_inner();
    assert_eq!(again.started_at, Some(since), "starting again keeps the running recording");
    assert!(host.client.get_meeting().meeting_id(m.id).send().await.expect("meeting").recording_active);

    expect_error(guest.client.stop_recording().meeting_id(m.id).send().await, 403, "forbidden");
    assert!(!stop(&host, m.id).await.active);
    guest_room.expect("recording-stopped").await;
    assert!(!stop(&host, m.id).await.active, "stopping is idempotent");
    assert!(!guest_room.receives("recording-stopped", Duration::from_millis(500)).await, "no news, no message");

    // Starts and stops racing each other: the room ends up where the database did.
    let toggles = (0..20).map(|i| {
        let client = host.client.clone();
        async move {
            if i % 2 == 0 {
                client.start_recording().meeting_id(m.id).send().await.map(|r| r.into_inner().active)
            } else {
                client.stop_recording().meeting_id(m.id).send().await.map(|r| r.into_inner().active)
            }
        }
    });
    assert!(futures::future::join_all(toggles).await.iter().all(Result::is_ok));
    let settled_state = host.client.get_recording_state().meeting_id(m.id).send().await.expect("state").into_inner();
    let mut again = RoomClient::join(&guest, m.id).await;
    let info = again.expect("room-info").await;
    assert_eq!(info["recording"]["active"], settled_state.active, "the room agrees with the database: {info}");

    host.client.end_meeting().meeting_id(m.id).send().await.expect("end");
    expect_error(host.client.start_recording().meeting_id(m.id).send().await, 409, "invalid_state_transition");
}

#[tokio::test(flavor = "multi_thread")]
async fn recordings_are_for_participants_only() {
    let app = TestApp::spawn().await;
    let (host, admin, stranger) = (app.register("Host").await, app.register("Admin").await, app.register("Stranger").await);
    let m = team_meeting(&host, &admin, "Team call", &[]).await;
    admin.client.get_meeting().meeting_id(m.id).send().await.expect("a team admin sees the meeting");
    expect_error(admin.client.list_recordings().meeting_id(m.id).send().await, 403, "forbidden");
    expect_error(stranger.client.list_recordings().meeting_id(m.id).send().await, 404, "not_found");
    expect_error(stranger.client.get_recording_state().meeting_id(m.id).send().await, 404, "not_found");
    let anonymous = http().get(app.url(&format!("/api/v1/meetings/{}/recordings", m.id))).send().await.expect("anonymous");
    expect_raw_error(anonymous, 401, "unauthenticated").await;

    let recording = fake_recording(&app, m.id, host.id, "ready").await;
    let path = format!("/api/v1/meetings/{}/recordings/{recording}", m.id);
    expect_error(admin.client.get_recording().meeting_id(m.id).recording_id(recording).send().await, 403, "forbidden");
    expect_raw_error(download(&app.base_url, &admin, m.id, recording, None).await, 403, "forbidden").await;
    let link = admin.client.get_recording_download_url().meeting_id(m.id).recording_id(recording).send().await;
    expect_error(link, 403, "forbidden");
    expect_raw_error(http().get(app.url(&format!("{path}/file"))).send().await.expect("anonymous file"), 401, "unauthenticated").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recording_that_is_not_ready_or_not_there_is_refused() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = running(&host, &[]).await;
    let other = running(&host, &[]).await;
    let writing = fake_recording(&app, m.id, host.id, "recording").await;
    let shown = host.client.get_recording().meeting_id(m.id).recording_id(writing).send().await.expect("get").into_inner();
    assert_eq!((shown.status, shown.duration_ms, shown.size_bytes), (RecordingStatus::Recording, None, None));
    let body = expect_raw_error(download(&app.base_url, &host, m.id, writing, None).await, 409, "not_ready").await;
    assert_eq!(body["details"]["status"], "recording");
    expect_error(host.client.get_recording_download_url().meeting_id(m.id).recording_id(writing).send().await, 409, "not_ready");

    expect_error(host.client.get_recording().meeting_id(other.id).recording_id(writing).send().await, 404, "not_found");
    expect_error(host.client.get_recording().meeting_id(m.id).recording_id(uuid::Uuid::new_v4()).send().await, 404, "not_found");
    let malformed = http()
        .get(app.url(&format!("/api/v1/meetings/{}/recordings/not-a-uuid", m.id)))
        .bearer_auth(&host.access_token)
        .send()
        .await
        .expect("malformed id");
    expect_raw_error(malformed, 422, "validation_failed").await;
    let long_range = "bytes=".to_string() + &"1".repeat(300);
    expect_raw_error(download(&app.base_url, &host, m.id, writing, Some(&long_range)).await, 422, "validation_failed").await;

    let now = chrono::Utc::now().timestamp();
    let file_link = |claims: serde_json::Value| {
        let token = jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes())).expect("sign");
        app.url(&format!("/api/v1/recording-files/{token}"))
    };
    let ready = fake_recording(&app, m.id, host.id, "ready").await;
    let claims = |aud: &str, exp: i64, recording: uuid::Uuid| json!({"sub": recording, "mid": m.id, "iat": now - 10, "exp": exp, "iss": "mit", "aud": aud});
    for (why, claims) in [
        ("expired", claims("mit-file", now - 60, ready)),
        ("a room token", claims("mit-room", now + 60, ready)),
        ("not ready", claims("mit-file", now + 60, writing)),
        ("no such recording", claims("mit-file", now + 60, uuid::Uuid::new_v4())),
    ] {
        let response = http().get(file_link(claims)).send().await.expect("file link");
        assert_eq!(response.status(), 404, "{why}");
        expect_raw_error(response, 404, "not_found").await;
    }
    expect_raw_error(http().get(app.url("/api/v1/recording-files/garbage")).send().await.expect("garbage"), 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_server_finishes_and_uploads_what_it_had_written_when_it_starts_again() {
    let recordings = tempfile::tempdir().expect("a recording directory");
    let mut env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), fresh_database().await),
        ("JWT_SECRET_KEY".into(), TEST_JWT_SECRET.into()),
        ("RATE_LIMIT_REQUESTS".into(), "0".into()),
        ("RECORDING_PATH".into(), recordings.path().display().to_string()),
        ("NODE_ID".into(), "crash-test".into()),
    ];
    env.extend(s3_env(None).into_iter().map(|(k, v)| (k.to_string(), v)));
    let mut server = ServerProcess::start(env.clone()).await;
    let host = TestUser::register_at(&server.base_url, "Host").await;
    let m = running(&host, &[]).await;
    let media = MediaClient::new().await;
    let microphone = media.microphone("mic").await;
    let (_room, _) = connect(&host, m.id, media).await;
    let sent = send_synthetic(&microphone, 150, PACE).await;
    server.kill();

    let live = recordings.path().join("live").join(m.id.to_string());
    let files: Vec<_> = std::fs::read_dir(&live).expect("the meeting's live directory").flatten().collect();
    assert_eq!(files.len(), 1, "one file was being written");
    let written = std::fs::read(files[0].path()).expect("the file");
    let pages = mit_sfu::recording::ogg::pages(&written);
    assert!(pages.last().is_some_and(|page| !page.is_eos()), "the killed server left the file unfinished");
    let state = host.client.get_recording_state().meeting_id(m.id).send().await;
    assert!(state.is_err(), "the server is down");

    let server = server.restart().await;
    let recording = settled(&host, m.id, 1, SETTLE).await.remove(0);
    assert_eq!(recording.status, RecordingStatus::Ready, "{recording:?}");
    let ogg = read_ogg_opus(&fetch(&server.base_url, &host, &recording).await);
    let sent_ms = u64::from(sent) * 20;
    // What the muxer still held in memory (up to a page, 200 ms) is all a kill can take.
    assert!(ogg.duration_ms + 300 >= sent_ms && ogg.duration_ms <= sent_ms + 20, "{} ms kept of {sent_ms} ms sent", ogg.duration_ms);
    assert!(std::fs::read_dir(&live).map(|d| d.count()).unwrap_or(0) == 0, "the uploaded file left the node's disk");
}

/// An upload job that has failed at least once and waits for its next attempt.
#[derive(diesel::QueryableByName)]
struct FailedUpload {
    #[diesel(sql_type = SqlUuid)]
    recording: uuid::Uuid,
}

/// The meeting's upload job once an attempt has failed (the worker keeps the error and puts the
/// job off) and it is not finished yet.
async fn failed_upload(app: &TestApp, meeting: uuid::Uuid) -> Option<FailedUpload> {
    let mut conn = AsyncPgConnection::establish(&app.database_url).await.expect("connect");
    let found: Vec<FailedUpload> = diesel::sql_query(
        "SELECT j.subject AS recording FROM jobs j JOIN recordings r ON r.id = j.subject
         WHERE j.kind = 'upload_recording' AND r.meeting_id = $1 AND j.last_error IS NOT NULL AND j.finished_at IS NULL",
    )
    .bind::<SqlUuid, _>(meeting)
    .load(&mut conn)
    .await
    .expect("look for the upload job");
    found.into_iter().next()
}

/// A recording row made directly in the database (the recorder makes real ones), for states a
/// test cannot hold still long enough through the API.
async fn fake_recording(app: &TestApp, meeting: uuid::Uuid, user: uuid::Uuid, status: &str) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    let mut conn = AsyncPgConnection::establish(&app.database_url).await.expect("connect");
    diesel::sql_query(
        "INSERT INTO recordings (id, meeting_id, user_id, kind, source, media_type, status, node, file_path, storage_key,
             started_at, size_bytes, updated_at)
         VALUES ($1, $2, $3, 'audio', 'microphone', 'audio/ogg; codecs=opus', $4, 'test', '/nonexistent', $5, $6,
             CASE WHEN $4 = 'ready' THEN 0 END, $6)",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(meeting)
    .bind::<SqlUuid, _>(user)
    .bind::<Text, _>(status)
    .bind::<Text, _>(format!("fake/{id}.ogg"))
    .bind::<Timestamptz, _>(chrono::Utc::now())
    .execute(&mut conn)
    .await
    .expect("insert a recording");
    id
}
