//! The events load generator behind `cargo xtask bench events`: event sockets spread round-robin
//! over the nodes of one deployment listen to one review while writers post line comments
//! through the first node as fast as they go, so every event committed on node 0 must reach the
//! other nodes' sockets through Redis. Counts what each socket receives — lost, duplicate and
//! out-of-order events — and how long each event took from commit (`at`) to the socket, per
//! node, and reports it as one JSON line.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use mit_client::{Client, types};
use mit_tests::TestUser;
use mit_tests::load::{cpu_seconds, machine_busy_seconds, percentile};
use serde_json::json;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

/// Participants besides the host.
const PARTICIPANTS: usize = 20;
/// Lines of the review.
const LINES: usize = 200;
/// Sockets being opened at once.
const OPEN_AT_ONCE: usize = 50;
/// How long stragglers may take after the writers stop.
const GRACE: Duration = Duration::from_secs(5);

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Args {
    nodes: Vec<String>,
    sockets: usize,
    writers: usize,
    seconds: u64,
    server_pids: Vec<String>,
}

fn args() -> Args {
    let mut args = Args { nodes: Vec::new(), sockets: 1000, writers: 4, seconds: 15, server_pids: Vec::new() };
    let list = |text: String| text.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--nodes" => args.nodes = list(value()),
            "--sockets" => args.sockets = value().parse().unwrap_or(1000),
            "--writers" => args.writers = value().parse().unwrap_or(4),
            "--seconds" => args.seconds = value().parse().unwrap_or(15),
            "--server-pids" => args.server_pids = list(value()),
            other => eprintln!("ignoring unknown argument {other}"),
        }
    }
    assert!(!args.nodes.is_empty(), "--nodes <url,url,...> is required");
    args
}

/// The fields of a server message the generator looks at (the rest is skipped unparsed).
#[derive(serde::Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    seq: i64,
    #[serde(default, borrow)]
    at: Option<Cow<'a, str>>,
}

/// What one socket saw.
#[derive(Default)]
struct Tally {
    node: usize,
    /// Event frames received, repeats included.
    deliveries: u64,
    /// Distinct events of the benchmark's range (after the `subscribed` seq, up to the last
    /// published one).
    in_range: u64,
    duplicates: u64,
    out_of_order: u64,
    resyncs: u64,
    other: u64,
    closed_early: bool,
    last_event: Option<Instant>,
    /// Commit → socket, µs, one per event frame.
    delays: Vec<u64>,
}

/// Which seqs a socket has seen, from its `subscribed` seq on.
struct Seen {
    base: i64,
    bits: Vec<u64>,
}

impl Seen {
    /// Marks `seq`; whether it was seen before.
    fn mark(&mut self, seq: i64) -> bool {
        let Ok(offset) = usize::try_from(seq - self.base - 1) else { return false };
        let (word, bit) = (offset / 64, offset % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let before = self.bits[word] & (1 << bit) != 0;
        self.bits[word] |= 1 << bit;
        before
    }

    fn count_up_to(&self, last: i64) -> u64 {
        (self.base + 1..=last).filter(|&seq| usize::try_from(seq - self.base - 1).is_ok_and(|o| self.bit(o))).count() as u64
    }

    fn bit(&self, offset: usize) -> bool {
        self.bits.get(offset / 64).is_some_and(|w| w & (1 << (offset % 64)) != 0)
    }
}

/// A completed meeting with the participants, and its review (of [`LINES`] lines) submitted;
/// the meeting and the review's line ids.
async fn review_ready(host: &TestUser, participants: &[TestUser]) -> (Uuid, Vec<Uuid>) {
    let body = types::CreateMeetingRequest::builder()
        .title("Events benchmark")
        .participant_ids(Some(participants.iter().map(|u| u.id).collect()))
        .auto_record(Some(false));
    let meeting = host.client.create_meeting().body(body).send().await.expect("meeting").into_inner();
    host.client.start_meeting().meeting_id(meeting.id).send().await.expect("start");
    host.client.end_meeting().meeting_id(meeting.id).send().await.expect("end");
    let content: String = (1..=LINES).map(|i| format!("{i}. We agreed on item {i}.\n")).collect();
    let body = types::CreateReviewRequest::builder().content(Some(content.as_str().try_into().expect("content")));
    let review = host.client.create_review().meeting_id(meeting.id).body(body).send().await.expect("review").into_inner();
    host.client.submit_review().meeting_id(meeting.id).send().await.expect("submit");
    (meeting.id, review.lines.iter().map(|l| l.id).collect())
}

/// Takes a ticket from the node `client` talks to, opens its socket and subscribes to the
/// review; the socket and the `subscribed` seq.
async fn open(client: &Client, meeting: Uuid) -> (Socket, i64) {
    let ticket = client.create_events_ticket().send().await.expect("a ticket").into_inner();
    // A small read buffer: tungstenite zero-fills all of it on every read (128 KiB by default),
    // which would make the generator, not the servers, the bottleneck.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(ticket.url.as_str(), Some(config), false).await.expect("the WebSocket upgrade");
    let subscribe = json!({"type": "subscribe", "topic": format!("review:{meeting}")});
    socket.send(Message::Text(subscribe.to_string().into())).await.expect("subscribe");
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), socket.next()).await.expect("`subscribed` in time");
        let Some(Ok(Message::Text(text))) = frame else { panic!("the socket closed before `subscribed`: {frame:?}") };
        let message: Frame = serde_json::from_str(&text).expect("JSON");
        match message.kind.as_ref() {
            "subscribed" => return (socket, message.seq),
            "ping" => {}
            other => panic!("expected `subscribed`, got `{other}`: {text}"),
        }
    }
}

/// One socket until `stop`: counts, checks and times the events, answering pings.
async fn listen(mut socket: Socket, node: usize, base: i64, progress: Arc<AtomicI64>, mut stop: watch::Receiver<bool>) -> (Tally, Seen) {
    let mut tally = Tally { node, ..Tally::default() };
    let mut seen = Seen { base, bits: Vec::new() };
    let mut previous = base;
    loop {
        let frame = tokio::select! {
            frame = socket.next() => frame,
            _ = stop.changed() => break,
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                tally.closed_early = true;
                break;
            }
            Some(Ok(_)) => continue,
        };
        let Ok(message) = serde_json::from_str::<Frame>(&text) else {
            tally.other += 1;
            continue;
        };
        match message.kind.as_ref() {
            "event" => on_event(&mut tally, &mut seen, &mut previous, message.seq, message.at.as_deref(), &progress),
            "ping" => {
                let _ = socket.send(Message::Text(json!({"type": "pong"}).to_string().into())).await;
            }
            "resync" => tally.resyncs += 1,
            _ => tally.other += 1,
        }
    }
    (tally, seen)
}

fn on_event(tally: &mut Tally, seen: &mut Seen, previous: &mut i64, seq: i64, at: Option<&str>, progress: &AtomicI64) {
    let now = Utc::now();
    tally.deliveries += 1;
    tally.last_event = Some(Instant::now());
    if let Some(at) = at.and_then(|t| t.parse::<DateTime<Utc>>().ok()) {
        tally.delays.push((now - at).num_microseconds().unwrap_or(0).max(0) as u64);
    }
    if seen.mark(seq) {
        tally.duplicates += 1;
    } else if seq < *previous {
        tally.out_of_order += 1;
    }
    *previous = seq;
    progress.fetch_max(seq, Ordering::Relaxed);
}

/// What the writers did.
#[derive(Default)]
struct Writes {
    published: u64,
    failures: u64,
    latencies: Vec<u64>,
}

/// One writer: line comments as fast as they go until `deadline`.
async fn write(client: Client, meeting: Uuid, lines: Arc<Vec<Uuid>>, first: usize, deadline: Instant) -> Writes {
    let mut writes = Writes::default();
    let mut next = first;
    while Instant::now() < deadline {
        let line = lines[next % lines.len()];
        next += 7;
        let started = Instant::now();
        let body = types::WriteReviewCommentRequest::builder().content("Looks right to me.");
        let made = client.create_line_comment().meeting_id(meeting).line_id(line).body(body).send().await;
        writes.latencies.push(started.elapsed().as_micros() as u64);
        match made {
            Ok(response) if response.status().as_u16() == 201 => writes.published += 1,
            Ok(response) => {
                writes.failures += 1;
                eprintln!("createLineComment answered {}", response.status());
            }
            Err(error) => {
                writes.failures += 1;
                eprintln!("createLineComment failed: {error}");
            }
        }
    }
    writes
}

/// The users: the host (registered on node 0) and the participants, registered round-robin on
/// every node.
async fn register(nodes: &[String]) -> (TestUser, Vec<TestUser>) {
    let host = TestUser::register_at(&nodes[0], "Events Host").await;
    let mut participants = Vec::with_capacity(PARTICIPANTS);
    for i in 0..PARTICIPANTS {
        participants.push(TestUser::register_at(&nodes[i % nodes.len()], &format!("Listener {i}")).await);
    }
    (host, participants)
}

/// An open socket and where it listens.
struct Opened {
    node: usize,
    socket: Socket,
    base: i64,
}

/// Opens `count` sockets, socket `i` on node `i % nodes` as user `i % users`, [`OPEN_AT_ONCE`]
/// at a time.
async fn open_all(nodes: &[String], users: &[&TestUser], meeting: Uuid, count: usize) -> Vec<Opened> {
    // One client per (node, user): a client per socket would build a TLS config a thousand times.
    let clients: Vec<Vec<Client>> = nodes.iter().map(|node| users.iter().map(|u| u.client_at(node)).collect()).collect();
    let clients = &clients;
    futures::stream::iter(0..count)
        .map(|i| async move {
            let node = i % clients.len();
            let (socket, base) = open(&clients[node][i % users.len()], meeting).await;
            Opened { node, socket, base }
        })
        .buffer_unordered(OPEN_AT_ONCE)
        .collect()
        .await
}

/// Waits until every socket has seen `published` events past its `subscribed` seq, or the grace
/// period ends.
async fn wait_for_stragglers(progress: &[Arc<AtomicI64>], bases: &[i64], published: u64) {
    let deadline = Instant::now() + GRACE;
    let done = || progress.iter().zip(bases).all(|(p, base)| p.load(Ordering::Relaxed) >= base + published as i64);
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// CPU counters at one moment: each server's, ours, the machine's.
struct Cpu {
    servers: Vec<f64>,
    generator: f64,
    machine: f64,
}

impl Cpu {
    fn now(pids: &[String]) -> Self {
        Self { servers: pids.iter().map(|p| cpu_seconds(p)).collect(), generator: cpu_seconds("self"), machine: machine_busy_seconds() }
    }
}

/// Sums of the tallies of some sockets, and their delays sorted.
struct Summary {
    sockets: usize,
    deliveries: u64,
    in_range: u64,
    duplicates: u64,
    out_of_order: u64,
    resyncs: u64,
    other: u64,
    closed_early: usize,
    delays: Vec<u64>,
}

fn summarize<'a>(tallies: impl Iterator<Item = &'a Tally>) -> Summary {
    let mut s = Summary {
        sockets: 0,
        deliveries: 0,
        in_range: 0,
        duplicates: 0,
        out_of_order: 0,
        resyncs: 0,
        other: 0,
        closed_early: 0,
        delays: Vec::new(),
    };
    for t in tallies {
        s.sockets += 1;
        s.deliveries += t.deliveries;
        s.in_range += t.in_range;
        s.duplicates += t.duplicates;
        s.out_of_order += t.out_of_order;
        s.resyncs += t.resyncs;
        s.other += t.other;
        s.closed_early += usize::from(t.closed_early);
        s.delays.extend_from_slice(&t.delays);
    }
    s.delays.sort_unstable();
    s
}

/// The counts and delays of a summary as JSON fields, `lost` against `published` per socket.
fn summary_json(s: &Summary, published: u64) -> serde_json::Value {
    let expected = published * s.sockets as u64;
    json!({
        "sockets": s.sockets,
        "deliveries": s.deliveries,
        "expected_deliveries": expected,
        "lost": expected as i64 - s.in_range as i64,
        "duplicates": s.duplicates,
        "out_of_order": s.out_of_order,
        "resyncs": s.resyncs,
        "other_messages": s.other,
        "sockets_closed_early": s.closed_early,
        "delay_p50_us": percentile(&s.delays, 0.5),
        "delay_p99_us": percentile(&s.delays, 0.99),
        "delay_max_us": s.delays.last().copied().unwrap_or(0),
    })
}

#[tokio::main]
async fn main() {
    let open_files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let args = args();
    let (host, participants) = register(&args.nodes).await;
    let (meeting, lines) = review_ready(&host, &participants).await;
    let users: Vec<&TestUser> = std::iter::once(&host).chain(&participants).collect();
    let opening = Instant::now();
    let opened = open_all(&args.nodes, &users, meeting, args.sockets).await;
    eprintln!("{} sockets open and subscribed in {:.1} s", opened.len(), opening.elapsed().as_secs_f64());
    let (stop, stopped) = watch::channel(false);
    let bases: Vec<i64> = opened.iter().map(|o| o.base).collect();
    let progress: Vec<Arc<AtomicI64>> = opened.iter().map(|o| Arc::new(AtomicI64::new(o.base))).collect();
    let listeners: Vec<_> = opened
        .into_iter()
        .zip(&progress)
        .map(|(o, p)| tokio::spawn(listen(o.socket, o.node, o.base, p.clone(), stopped.clone())))
        .collect();
    let lines = Arc::new(lines);
    let before = Cpu::now(&args.server_pids);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let writers: Vec<_> =
        (0..args.writers).map(|i| tokio::spawn(write(host.client_at(&args.nodes[0]), meeting, lines.clone(), i, deadline))).collect();
    let mut writes = Writes::default();
    for writer in writers {
        let w = writer.await.expect("a writer");
        writes.published += w.published;
        writes.failures += w.failures;
        writes.latencies.extend(w.latencies);
    }
    let write_seconds = started.elapsed().as_secs_f64();
    wait_for_stragglers(&progress, &bases, writes.published).await;
    let after = Cpu::now(&args.server_pids);
    let window = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let mut tallies = Vec::with_capacity(listeners.len());
    for (listener, base) in listeners.into_iter().zip(&bases) {
        let (mut tally, seen) = listener.await.expect("a listener");
        tally.in_range = seen.count_up_to(base + writes.published as i64);
        tallies.push(tally);
    }
    let last_event = tallies.iter().filter_map(|t| t.last_event).max();
    let delivery_seconds = last_event.map_or(write_seconds, |at| at.duration_since(started).as_secs_f64()).max(0.001);
    writes.latencies.sort_unstable();
    let percent = |after: f64, before: f64| 100.0 * (after - before) / window;
    let server_cpu: Vec<f64> = after.servers.iter().zip(&before.servers).map(|(a, b)| percent(*a, *b)).collect();
    let per_node: Vec<_> = (0..args.nodes.len())
        .map(|node| {
            let mut value = summary_json(&summarize(tallies.iter().filter(|t| t.node == node)), writes.published);
            value["node"] = node.into();
            value["url"] = args.nodes[node].as_str().into();
            value["writing_node"] = (node == 0).into();
            value["server_cpu_percent_of_one_core"] = server_cpu.get(node).copied().unwrap_or(0.0).into();
            value
        })
        .collect();
    let all = summarize(tallies.iter());
    let mut report = json!({
        "nodes": args.nodes.len(),
        "writers": args.writers,
        "seconds": write_seconds,
        "cores": std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        "open_files_limit": open_files,
        "events_published": writes.published,
        "publish_failures": writes.failures,
        "events_per_second": writes.published as f64 / write_seconds,
        "publish_p50_us": percentile(&writes.latencies, 0.5),
        "publish_p99_us": percentile(&writes.latencies, 0.99),
        "delivery_seconds": delivery_seconds,
        "deliveries_per_second": all.deliveries as f64 / delivery_seconds,
        "cpu_window_seconds": window,
        "server_cpu_percent_of_one_core": server_cpu,
        "generator_cpu_percent_of_one_core": percent(after.generator, before.generator),
        "machine_cpu_percent_of_one_core": percent(after.machine, before.machine),
        "per_node": per_node,
    });
    if let (Some(report), serde_json::Value::Object(all)) = (report.as_object_mut(), summary_json(&all, writes.published)) {
        report.extend(all);
    }
    println!("{report}");
}
