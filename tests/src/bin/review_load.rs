//! The review load generator behind `cargo xtask bench review`: a host and 19 other reviewers who
//! attended a meeting review its 2,000-line minutes at once — commenting, suggesting and voting
//! through the API — while event sockets listen to the review. Reports requests/s and latency
//! percentiles per operation, and how long events took from commit to socket, as one JSON line.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mit_client::types;
use mit_tests::TestUser;
use mit_tests::events::EventsClient;
use mit_tests::load::{cpu_seconds, machine_busy_seconds, percentile};
use mit_tests::room::RoomClient;
use serde_json::json;
use uuid::Uuid;

struct Args {
    base_url: String,
    reviewers: usize,
    listeners: usize,
    lines: usize,
    seconds: u64,
    server_pid: u32,
}

fn args() -> Args {
    let mut args = Args { base_url: String::new(), reviewers: 20, listeners: 200, lines: 2000, seconds: 20, server_pid: 0 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--base-url" => args.base_url = value(),
            "--reviewers" => args.reviewers = value().parse().unwrap_or(20),
            "--listeners" => args.listeners = value().parse().unwrap_or(200),
            "--lines" => args.lines = value().parse().unwrap_or(2000),
            "--seconds" => args.seconds = value().parse().unwrap_or(20),
            "--server-pid" => args.server_pid = value().parse().unwrap_or(0),
            other => eprintln!("ignoring unknown argument {other}"),
        }
    }
    args
}

/// A small deterministic generator; the load needs variety, not cryptographic randomness.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Latencies in microseconds per operation, and how many answered 409.
#[derive(Default)]
struct Samples {
    latencies: BTreeMap<&'static str, Vec<u64>>,
    conflicts: BTreeMap<&'static str, u64>,
}

/// A completed meeting every reviewer attended, with its review submitted.
async fn review_ready(args: &Args, users: &[TestUser]) -> (Uuid, Vec<Uuid>) {
    let host = &users[0];
    let body = types::CreateMeetingRequest::builder()
        .title("Review benchmark")
        .participant_ids(Some(users[1..].iter().map(|u| u.id).collect()))
        .auto_record(Some(false));
    let meeting = host.client.create_meeting().body(body).send().await.expect("meeting").into_inner();
    host.client.start_meeting().meeting_id(meeting.id).send().await.expect("start");
    for user in &users[1..] {
        let mut room = RoomClient::join(user, meeting.id).await;
        room.expect("room-info").await;
        room.send(json!({"type": "leave"}));
    }
    wait_for_attendance(host, meeting.id, users.len()).await;
    host.client.end_meeting().meeting_id(meeting.id).send().await.expect("end");
    let content: String = (1..=args.lines).map(|i| format!("{i}. We agreed on item {i}.\n")).collect();
    let body = types::CreateReviewRequest::builder().content(Some(content.as_str().try_into().expect("content")));
    let review = host.client.create_review().meeting_id(meeting.id).body(body).send().await.expect("review").into_inner();
    host.client.submit_review().meeting_id(meeting.id).send().await.expect("submit");
    (meeting.id, review.lines.iter().map(|l| l.id).collect())
}

async fn wait_for_attendance(host: &TestUser, meeting: Uuid, count: usize) {
    for _ in 0..300 {
        let page = host.client.list_participants().meeting_id(meeting).limit(100).send().await.expect("participants").into_inner();
        if page.items.iter().filter(|p| p.joined_at.is_some() || p.role == types::ParticipantRole::Host).count() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the reviewers' attendance was not recorded");
}

/// One listener: counts events and their delay from commit to arrival.
async fn listen(mut socket: EventsClient, meeting: Uuid, stop: Arc<AtomicBool>) -> Vec<u64> {
    socket.subscribe_review(meeting, None).await;
    let mut delays = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let Some(event) = socket.next_within(Duration::from_millis(500)).await else { continue };
        let at = event["at"].as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok());
        if let Some(at) = at {
            delays.push((Utc::now() - at).num_microseconds().unwrap_or(0).max(0) as u64);
        }
    }
    delays
}

/// One reviewer's loop of comments, suggestions and votes until `deadline`.
async fn review(
    user: &TestUser,
    meeting: Uuid,
    lines: &[Uuid],
    suggestions: &Mutex<Vec<(Uuid, Uuid)>>,
    seed: u64,
    deadline: Instant,
) -> Samples {
    let mut random = XorShift(seed | 1);
    let mut samples = Samples::default();
    while Instant::now() < deadline {
        let line = lines[random.below(lines.len())];
        let pick = random.below(100);
        let started = Instant::now();
        let (operation, status) = if pick < 45 {
            let body = types::WriteReviewCommentRequest::builder().content("Looks right to me.");
            (
                "createLineComment",
                user.client.create_line_comment().meeting_id(meeting).line_id(line).body(body).send().await.map(|r| r.status()),
            )
        } else if pick < 70 {
            let text = format!("Reworded by {} ({})", user.name, random.below(1_000_000));
            let body = types::CreateSuggestionRequest::builder().suggested_text(text);
            let made = user.client.create_line_suggestion().meeting_id(meeting).line_id(line).body(body).send().await;
            if let Ok(made) = &made {
                suggestions.lock().unwrap_or_else(|e| e.into_inner()).push((made.id, user.id));
            }
            ("createLineSuggestion", made.map(|r| r.status()))
        } else if pick < 95 {
            let target = {
                let all = suggestions.lock().unwrap_or_else(|e| e.into_inner());
                let recent = &all[all.len().saturating_sub(50)..];
                recent.iter().filter(|(_, author)| *author != user.id).nth(random.below(recent.len())).map(|(id, _)| *id)
            };
            let Some(target) = target else { continue };
            let vote = if random.below(10) < 8 { types::Vote::Accept } else { types::Vote::Reject };
            let body = types::CastVoteRequest::builder().vote(vote);
            (
                "castSuggestionVote",
                user.client.cast_suggestion_vote().meeting_id(meeting).suggestion_id(target).body(body).send().await.map(|r| r.status()),
            )
        } else {
            ("listReviewLines", user.client.list_review_lines().meeting_id(meeting).limit(100).send().await.map(|r| r.status()))
        };
        let micros = started.elapsed().as_micros() as u64;
        match status {
            Ok(_) => samples.latencies.entry(operation).or_default().push(micros),
            Err(mit_client::Error::ErrorResponse(response)) if response.status().as_u16() == 409 => {
                samples.latencies.entry(operation).or_default().push(micros);
                *samples.conflicts.entry(operation).or_default() += 1;
            }
            Err(error) => panic!("{operation} failed: {error}"),
        }
    }
    samples
}

#[tokio::main]
async fn main() {
    let args = args();
    let mut users = Vec::new();
    for i in 0..args.reviewers {
        users.push(TestUser::register_at(&args.base_url, &format!("Reviewer {i}")).await);
    }
    let (meeting, lines) = review_ready(&args, &users).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut listeners = Vec::new();
    for i in 0..args.listeners {
        let socket = EventsClient::connect(&users[i % users.len()]).await;
        listeners.push(tokio::spawn(listen(socket, meeting, stop.clone())));
    }
    let suggestions = Arc::new(Mutex::new(Vec::new()));
    let lines = Arc::new(lines);
    let users = Arc::new(users);
    let server = args.server_pid.to_string();
    let cpu_before = (cpu_seconds(&server), cpu_seconds("self"), machine_busy_seconds());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let workers: Vec<_> = (0..users.len())
        .map(|i| {
            let (users, lines, suggestions) = (users.clone(), lines.clone(), suggestions.clone());
            tokio::spawn(async move { review(&users[i], meeting, &lines, &suggestions, 0x9e37_79b9 + i as u64, deadline).await })
        })
        .collect();
    let mut total = Samples::default();
    for worker in workers {
        let samples = worker.await.expect("a reviewer");
        for (op, mut values) in samples.latencies {
            total.latencies.entry(op).or_default().append(&mut values);
        }
        for (op, n) in samples.conflicts {
            *total.conflicts.entry(op).or_default() += n;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let percent = |after: f64, before: f64| 100.0 * (after - before) / elapsed;
    let server_cpu = percent(cpu_seconds(&server), cpu_before.0);
    let generator_cpu = percent(cpu_seconds("self"), cpu_before.1);
    let machine_cpu = percent(machine_busy_seconds(), cpu_before.2);
    // Let the last events arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut delays = Vec::new();
    for listener in listeners {
        delays.extend(listener.await.expect("a listener"));
    }
    delays.sort_unstable();
    let operations: Vec<_> = total
        .latencies
        .iter_mut()
        .map(|(op, values)| {
            values.sort_unstable();
            json!({
                "operation": op,
                "requests": values.len(),
                "per_second": values.len() as f64 / elapsed,
                "conflicts": total.conflicts.get(op).copied().unwrap_or(0),
                "p50_us": percentile(values, 0.5),
                "p99_us": percentile(values, 0.99),
            })
        })
        .collect();
    let report = json!({
        "reviewers": args.reviewers,
        "listeners": args.listeners,
        "lines": args.lines,
        "seconds": elapsed,
        "cores": std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        "operations": operations,
        "events_delivered": delays.len(),
        "event_delay_p50_us": percentile(&delays, 0.5),
        "event_delay_p99_us": percentile(&delays, 0.99),
        "server_cpu_percent_of_one_core": server_cpu,
        "generator_cpu_percent_of_one_core": generator_cpu,
        "machine_cpu_percent_of_one_core": machine_cpu,
    });
    println!("{report}");
}
