//! The SFU load generator behind `cargo xtask bench sfu`: P publishers and S receive-only
//! subscribers (webrtc-rs peers) join one meeting on a running server — Mit, or with
//! `--janus-url` a Janus VideoRoom, or with `--mediasoup-url` mediasoup behind
//! `tests/mediasoup/server.mjs`; every publisher sends time-stamped Opus-sized packets at
//! 50/s, and with `--video` 1,200-byte packets at 100/s on a camera track too; it reports delivery, loss, latency, and the server's CPU and memory (read from /proc of
//! `--server-pid`) as one JSON line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mit_client::types;
use mit_tests::TestUser;
use mit_tests::janus::JanusParticipant;
use mit_tests::load::{cpu_seconds, percentile};
use mit_tests::media::{MediaClient, Outgoing, send_stamped, send_stamped_sized};
use mit_tests::mediasoup::MediasoupParticipant;
use mit_tests::room::RoomClient;
use serde_json::json;
use webrtc::peer_connection::RTCPeerConnectionState;

struct Args {
    base_url: String,
    publishers: usize,
    subscribers: usize,
    seconds: u32,
    server_pid: u32,
    record: bool,
    perf_output: Option<String>,
    janus_url: Option<String>,
    mediasoup_url: Option<String>,
    /// The address the participants' connections use (Janus never pairs with loopback).
    bind_ip: String,
    /// Publishers also send a camera: 1,200-byte packets at 100/s (about 1 Mbit/s).
    video: bool,
}

fn args() -> Args {
    let mut args = Args {
        base_url: String::new(),
        publishers: 4,
        subscribers: 16,
        seconds: 20,
        server_pid: 0,
        record: false,
        perf_output: None,
        janus_url: None,
        mediasoup_url: None,
        bind_ip: "127.0.0.1".into(),
        video: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--base-url" => args.base_url = value(),
            "--publishers" => args.publishers = value().parse().unwrap_or(4),
            "--subscribers" => args.subscribers = value().parse().unwrap_or(16),
            "--seconds" => args.seconds = value().parse().unwrap_or(20),
            "--server-pid" => args.server_pid = value().parse().unwrap_or(0),
            "--record" => args.record = true,
            "--perf-output" => args.perf_output = Some(value()),
            "--janus-url" => args.janus_url = Some(value()),
            "--mediasoup-url" => args.mediasoup_url = Some(value()),
            "--bind-ip" => args.bind_ip = value(),
            "--video" => args.video = true,
            other => eprintln!("ignoring unknown argument {other}"),
        }
    }
    args
}

/// Bytes the server has had written to storage (`/proc/<pid>/io`), which the recorder's fsync
/// every second keeps close to what it wrote.
fn disk_write_bytes(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    io.lines().find_map(|l| l.strip_prefix("write_bytes:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// The server's resident memory in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn connect(user: &TestUser, meeting: uuid::Uuid, media: Arc<MediaClient>) -> RoomClient {
    let mut room = RoomClient::join_with_media(user, meeting, media).await;
    room.expect("room-info").await;
    room.negotiate().await;
    assert!(room.media().wait_for_state(RTCPeerConnectionState::Connected, Duration::from_secs(30)).await, "a participant connects");
    room
}

/// Everyone connected: each participant's media (publishers first), the publishers'
/// microphones, and whatever must stay open while they talk.
struct Joined {
    media: Vec<Arc<MediaClient>>,
    microphones: Vec<Outgoing>,
    /// The publishers' cameras, with `--video`.
    cameras: Vec<Outgoing>,
    _rooms: Vec<RoomClient>,
    /// Signalling sockets of the other SFUs, read until the end.
    _sockets: Vec<tokio::task::JoinHandle<()>>,
    /// The server's resident memory just before the first connection.
    idle_rss_kib: u64,
}

/// P publishers and S listeners in one Mit meeting.
async fn join_mit(args: &Args) -> Joined {
    let host = TestUser::register_at(&args.base_url, "Bench host").await;
    let mut others = Vec::new();
    for i in 1..args.publishers + args.subscribers {
        others.push(TestUser::register_at(&args.base_url, &format!("Bench {i}")).await);
    }
    // A meeting is created with at most 100 participants; the rest are invited one by one.
    let (first, rest) = others.split_at(others.len().min(100));
    let body = types::CreateMeetingRequest::builder()
        .title("SFU benchmark")
        .participant_ids(Some(first.iter().map(|u| u.id).collect()))
        .auto_record(Some(false));
    let meeting = host.client.create_meeting().body(body).send().await.expect("meeting").into_inner();
    for user in rest {
        let invite = types::AddParticipantRequest::builder().user_id(user.id);
        host.client.add_participant().meeting_id(meeting.id).body(invite).send().await.expect("invite");
    }
    host.client.start_meeting().meeting_id(meeting.id).send().await.expect("start");
    if args.record {
        host.client.start_recording().meeting_id(meeting.id).send().await.expect("recording");
    }
    // The sign-ups' password hashing (19 MiB each) ran on tokio's blocking threads, whose
    // mimalloc heaps stay resident until the threads retire after 10 s idle.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let idle_rss_kib = rss_kib(args.server_pid);
    let users: Vec<&TestUser> = std::iter::once(&host).chain(others.iter()).collect();
    let (mut rooms, mut media, mut microphones, mut cameras) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, user) in users.iter().enumerate() {
        let client = MediaClient::new().await;
        if i < args.publishers {
            microphones.push(client.microphone("mic").await);
            if args.video {
                cameras.push(client.video("cam").await);
            }
        } else {
            client.receive_only().await;
        }
        rooms.push(connect(user, meeting.id, client.clone()).await);
        media.push(client);
    }
    Joined { media, microphones, cameras, _rooms: rooms, _sockets: Vec::new(), idle_rss_kib }
}

/// The same participants in one Janus VideoRoom: each publisher publishes on one connection and
/// (Janus's model) receives the others on a second; each listener subscribes to every publisher.
async fn join_janus(args: &Args, url: &str) -> Joined {
    let idle_rss_kib = rss_kib(args.server_pid);
    let room = u64::from(std::process::id());
    let mut admin = JanusParticipant::attach(url).await;
    admin.create_room(room, args.publishers.max(1)).await;
    let mut keep = vec![admin.drain()];
    let (mut feeds, mut publishing, mut microphones, mut cameras) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.publishers {
        let client = MediaClient::on(&args.bind_ip).await;
        microphones.push(client.microphone("mic").await);
        if args.video {
            cameras.push(client.video("cam").await);
        }
        let mut participant = JanusParticipant::attach(url).await;
        feeds.push(participant.publish(room, &client).await);
        assert!(client.wait_for_state(RTCPeerConnectionState::Connected, Duration::from_secs(30)).await, "a publisher connects");
        keep.push(participant.drain());
        publishing.push(client);
    }
    let mut media = Vec::new();
    for i in 0..args.publishers + args.subscribers {
        let others: Vec<u64> = feeds.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, feed)| *feed).collect();
        let client = MediaClient::on(&args.bind_ip).await;
        if !others.is_empty() {
            let mut participant = JanusParticipant::attach(url).await;
            participant.subscribe(room, &others, &client).await;
            assert!(client.wait_for_state(RTCPeerConnectionState::Connected, Duration::from_secs(30)).await, "a subscriber connects");
            keep.push(participant.drain());
        }
        media.push(client);
    }
    // Receiving connections are what the report counts; the publishing ones stay open too.
    media.extend(publishing);
    Joined { media, microphones, cameras, _rooms: Vec::new(), _sockets: keep, idle_rss_kib }
}

/// The same participants through mediasoup (one router), in the same shape as [`join_janus`]:
/// a publishing and a receiving connection per publisher, one receiving connection per listener.
async fn join_mediasoup(args: &Args, url: &str) -> Joined {
    let idle_rss_kib = rss_kib(args.server_pid);
    let (mut producers, mut keep, mut publishing, mut microphones, mut cameras) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.publishers {
        let client = MediaClient::on(&args.bind_ip).await;
        microphones.push(client.microphone("mic").await);
        if args.video {
            cameras.push(client.video("cam").await);
        }
        let mut participant = MediasoupParticipant::connect(url).await;
        producers.push(participant.publish(&client).await);
        assert!(client.wait_for_state(RTCPeerConnectionState::Connected, Duration::from_secs(30)).await, "a publisher connects");
        keep.push(participant.drain());
        publishing.push(client);
    }
    let mut media = Vec::new();
    for i in 0..args.publishers + args.subscribers {
        let others: Vec<String> = producers.iter().enumerate().filter(|(j, _)| *j != i).flat_map(|(_, ids)| ids.iter().cloned()).collect();
        let client = MediaClient::on(&args.bind_ip).await;
        if !others.is_empty() {
            let mut participant = MediasoupParticipant::connect(url).await;
            participant.subscribe(&others, &client).await;
            assert!(client.wait_for_state(RTCPeerConnectionState::Connected, Duration::from_secs(30)).await, "a subscriber connects");
            keep.push(participant.drain());
        }
        media.push(client);
    }
    media.extend(publishing);
    Joined { media, microphones, cameras, _rooms: Vec::new(), _sockets: keep, idle_rss_kib }
}

#[tokio::main]
async fn main() {
    let args = args();
    let joined = match (&args.janus_url, &args.mediasoup_url) {
        (Some(url), _) => join_janus(&args, url).await,
        (None, Some(url)) => join_mediasoup(&args, url).await,
        (None, None) => join_mit(&args).await,
    };
    let Joined { media, microphones, cameras, _rooms, _sockets, idle_rss_kib: idle_rss } = joined;
    // Let the last renegotiations settle before measuring.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let connected_rss = rss_kib(args.server_pid);
    let participants = args.publishers + args.subscribers;

    let packets = args.seconds * 50;
    // Profile only the forwarding phase, not the sign-ups and connections before it.
    let profiler = args.perf_output.as_ref().and_then(|path| {
        std::process::Command::new("perf")
            .args(["record", "-F", "499", "-g", "-o", path, "-p", &args.server_pid.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()
    });
    let cpu_before = cpu_seconds(&args.server_pid.to_string());
    let disk_before = disk_write_bytes(args.server_pid);
    let started = Instant::now();
    let mut cameras = cameras.into_iter();
    let senders: Vec<_> = microphones
        .into_iter()
        .map(|microphone| {
            let camera = cameras.next();
            tokio::spawn(async move {
                let voice = send_stamped(&microphone, packets, Duration::from_millis(20));
                let picture = async {
                    match &camera {
                        Some(camera) => send_stamped_sized(camera, packets * 2, Duration::from_millis(10), 1200).await,
                        None => 0,
                    }
                };
                let (voice, picture) = tokio::join!(voice, picture);
                voice + picture
            })
        })
        .collect();
    let mut sent = Vec::new();
    for sender in senders {
        sent.push(sender.await.unwrap_or(0));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(&args.server_pid.to_string()) - cpu_before;
    let disk = disk_write_bytes(args.server_pid).saturating_sub(disk_before);
    let peak_rss = rss_kib(args.server_pid);
    if let Some(mut profiler) = profiler {
        let _ = std::process::Command::new("kill").args(["-INT", &profiler.id().to_string()]).status();
        let _ = profiler.wait();
    }

    let total_sent: u64 = sent.iter().map(|s| u64::from(*s)).sum();
    let mut expected = 0u64;
    let mut received = 0u64;
    let mut latencies = Vec::new();
    for (i, client) in media.iter().take(participants).enumerate() {
        let own = if i < args.publishers { u64::from(sent[i]) } else { 0 };
        expected += total_sent - own;
        received += client.total_packets();
        latencies.extend(client.take_latencies());
    }
    latencies.sort_unstable();
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let report = json!({
        "publishers": args.publishers,
        "subscribers": args.subscribers,
        "participants": participants,
        "recording": args.record,
        "sfu": match (&args.janus_url, &args.mediasoup_url) {
            (Some(_), _) => "janus",
            (None, Some(_)) => "mediasoup",
            (None, None) => "mit",
        },
        "video": args.video,
        "seconds": elapsed,
        "packets_sent": total_sent,
        "packets_expected": expected,
        "packets_received": received,
        "loss_percent": if expected == 0 { 0.0 } else { 100.0 * (expected.saturating_sub(received)) as f64 / expected as f64 },
        "forwarded_per_second": received as f64 / elapsed,
        "latency_p50_us": percentile(&latencies, 0.5),
        "latency_p99_us": percentile(&latencies, 0.99),
        "server_cpu_percent_of_one_core": 100.0 * cpu / elapsed,
        "server_disk_write_bytes_per_second": disk as f64 / elapsed,
        "cores": cores,
        "server_rss_idle_kib": idle_rss,
        "server_rss_connected_kib": connected_rss,
        "server_rss_peak_kib": peak_rss,
        "server_rss_per_participant_kib": connected_rss.saturating_sub(idle_rss) / participants as u64,
    });
    println!("{report}");
    for client in &media {
        client.close().await;
    }
}
