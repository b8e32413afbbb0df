//! The live events socket: tickets, subscriptions, a scripted review's events in order, replay
//! with `since`, refusals that keep the socket up, and access lost when removed.

use std::num::NonZeroU64;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use mit_client::types;
use mit_tests::events::EventsClient;
use mit_tests::server_process::ServerProcess;
use mit_tests::{TEST_JWT_SECRET, TestApp, TestUser, service_url};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::meetings::meeting;

/// A completed meeting hosted by `host` with `others` as participants.
pub(crate) async fn completed(host: &TestUser, others: &[&TestUser]) -> types::Meeting {
    let m = meeting(host, "Planning", others).await;
    host.client.start_meeting().meeting_id(m.id).send().await.expect("start");
    host.client.end_meeting().meeting_id(m.id).send().await.expect("end").into_inner()
}

fn revision(n: u64) -> types::builder::RevisionRequest {
    types::RevisionRequest::builder().revision(NonZeroU64::new(n).expect("revision"))
}

/// The host alone runs a review from creation to merge; returns the kinds it should announce.
pub(crate) async fn scripted_review(host: &TestUser, meeting: Uuid) -> Vec<&'static str> {
    let content = types::CreateReviewRequest::builder().content(Some("# Decisions\nship on Friday".try_into().expect("content")));
    let review = host.client.create_review().meeting_id(meeting).body(content).send().await.expect("create").into_inner();
    let (first, second) = (review.lines[0].id, review.lines[1].id);
    let comment = types::WriteReviewCommentRequest::builder().content("agreed?");
    host.client.create_line_comment().meeting_id(meeting).line_id(first).body(comment).send().await.expect("comment");
    host.client.submit_review().meeting_id(meeting).send().await.expect("submit");
    let suggestion = types::CreateSuggestionRequest::builder().suggested_text("ship on Monday");
    let suggestion = host
        .client
        .create_line_suggestion()
        .meeting_id(meeting)
        .line_id(second)
        .body(suggestion)
        .send()
        .await
        .expect("suggest")
        .into_inner();
    let accept = types::ResolveSuggestionRequest::builder().status(types::SuggestionResolution::Accepted);
    host.client.resolve_suggestion().meeting_id(meeting).suggestion_id(suggestion.id).body(accept).send().await.expect("resolve");
    host.client.approve_review().meeting_id(meeting).body(revision(2)).send().await.expect("approve");
    host.client.merge_review().meeting_id(meeting).body(revision(2)).send().await.expect("merge");
    vec![
        "review-created",
        "comment-created",
        "review-status-changed",
        "suggestion-created",
        "suggestion-resolved",
        "line-rewritten",
        "approval-given",
        "review-status-changed",
        "review-status-changed",
    ]
}

pub(crate) async fn events(socket: &mut EventsClient, count: usize) -> Vec<Value> {
    let mut received = Vec::with_capacity(count);
    for _ in 0..count {
        received.push(socket.expect("event").await);
    }
    received
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_participant_sees_a_scripted_review_in_order_without_gaps() {
    let app = TestApp::spawn().await;
    let (host, watcher) = (app.register("Host").await, app.register("Watcher").await);
    let m = completed(&host, &[&watcher]).await;
    let mut socket = EventsClient::connect(&watcher).await;
    assert_eq!(socket.subscribe_review(m.id, None).await["seq"], 0, "nothing happened yet");
    let kinds = scripted_review(&host, m.id).await;
    let received = events(&mut socket, kinds.len()).await;
    let topic = format!("review:{}", m.id);
    for (index, (event, kind)) in received.iter().zip(&kinds).enumerate() {
        assert_eq!(event["topic"], topic.as_str());
        assert_eq!(event["seq"], index as i64 + 1, "seq of {event}");
        assert_eq!(event["kind"], *kind, "kind of {event}");
        assert_eq!(event["actor_id"], host.id.to_string());
    }
    assert_eq!(received[5]["data"]["content"], "ship on Monday");
    assert_eq!(received[5]["data"]["revision"], 2);
    assert_eq!(
        (received[7]["data"]["previous_status"].as_str(), received[7]["data"]["status"].as_str()),
        (Some("in_review"), Some("approved"))
    );
    assert_eq!(received[8]["data"]["status"], "merged");
    assert!(socket.next_within(Duration::from_millis(500)).await.is_none(), "nothing more");
}

#[tokio::test(flavor = "multi_thread")]
async fn reconnecting_with_since_replays_exactly_what_was_missed() {
    let app = TestApp::spawn().await;
    let (host, watcher) = (app.register("Host").await, app.register("Watcher").await);
    let m = completed(&host, &[&watcher]).await;
    let kinds = scripted_review(&host, m.id).await;
    let mut socket = EventsClient::connect(&watcher).await;
    assert_eq!(socket.subscribe_review(m.id, Some(4)).await["seq"], kinds.len() as i64);
    let replayed = events(&mut socket, kinds.len() - 4).await;
    let seqs: Vec<i64> = replayed.iter().map(|e| e["seq"].as_i64().expect("seq")).collect();
    assert_eq!(seqs, (5..=kinds.len() as i64).collect::<Vec<_>>());
    assert!(socket.next_within(Duration::from_millis(500)).await.is_none(), "no repeats");
    let mut ahead = EventsClient::connect(&watcher).await;
    ahead.subscribe_review(m.id, Some(1000)).await;
    assert_eq!(ahead.expect("resync").await["seq"], kinds.len() as i64, "a `since` the server never had is a resync");
}

#[tokio::test(flavor = "multi_thread")]
async fn tickets_are_single_use_and_bogus_ones_are_refused() {
    let app = TestApp::spawn().await;
    let user = app.register("User").await;
    let ticket = user.client.create_events_ticket().send().await.expect("ticket").into_inner();
    assert!(ticket.url.contains("/ws/events?ticket="));
    let mut first = EventsClient::open(&ticket.url).await;
    first.send(json!({"type": "pong"})).await;
    let mut again = EventsClient::open(&ticket.url).await;
    assert_eq!(again.expect_close().await, 4001, "a used ticket");
    let mut bogus = EventsClient::open(&format!("ws://{}/ws/events?ticket=nope", app.address)).await;
    assert_eq!(bogus.expect_close().await, 4001);
    let mut missing = EventsClient::open(&format!("ws://{}/ws/events", app.address)).await;
    assert_eq!(missing.expect_close().await, 4001);
    let anonymous = app.client().create_events_ticket().send().await;
    crate::expect_error(anonymous, 401, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_messages_and_invisible_topics_get_an_error_and_the_socket_stays_up() {
    let app = TestApp::spawn().await;
    let (host, stranger) = (app.register("Host").await, app.register("Stranger").await);
    let m = completed(&host, &[]).await;
    let mut socket = EventsClient::connect(&stranger).await;
    let refusals = [
        ("not json".to_string(), "invalid_message"),
        (json!({"type": "dance"}).to_string(), "unknown_type"),
        (json!({"type": "subscribe"}).to_string(), "invalid_message"),
        (json!({"type": "subscribe", "topic": "review:nope"}).to_string(), "invalid_message"),
        (json!({"type": "subscribe", "topic": "x".repeat(5000)}).to_string(), "message_too_large"),
        (json!({"type": "subscribe", "topic": format!("review:{}", m.id)}).to_string(), "not_found"),
        (json!({"type": "subscribe", "topic": format!("review:{}", Uuid::now_v7())}).to_string(), "not_found"),
    ];
    for (text, code) in refusals {
        socket.send_text(text.clone()).await;
        let error = socket.expect("error").await;
        assert_eq!(error["code"], code, "for {}", &text[..text.len().min(80)]);
    }
    let own = completed(&stranger, &[]).await;
    assert_eq!(socket.subscribe_review(own.id, None).await["seq"], 0, "the socket still works");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_participant_removed_from_the_meeting_stops_receiving_its_events() {
    let app = TestApp::spawn().await;
    let (host, guest) = (app.register("Host").await, app.register("Guest").await);
    let m = completed(&host, &[&guest]).await;
    let mut socket = EventsClient::connect(&guest).await;
    socket.subscribe_review(m.id, None).await;
    host.client.remove_participant().meeting_id(m.id).user_id(guest.id).send().await.expect("remove");
    let gone = socket.expect("unsubscribed").await;
    assert_eq!(gone["reason"], "access_lost");
    let content = types::CreateReviewRequest::builder().content(Some("after".try_into().expect("content")));
    host.client.create_review().meeting_id(m.id).body(content).send().await.expect("create");
    assert!(socket.next_within(Duration::from_millis(1000)).await.is_none(), "no event after access was lost");
}

/// Marks the topic's events unrelayed, as a crash between commit and relay leaves them.
async fn forget_relaying(database_url: &str, topic: &str) {
    let mut db = AsyncPgConnection::establish(database_url).await.expect("connect");
    diesel::sql_query("UPDATE events SET relayed_at = NULL WHERE topic = $1")
        .bind::<diesel::sql_types::Text, _>(topic)
        .execute(&mut db)
        .await
        .expect("reset relayed_at");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_committed_by_a_node_killed_before_relaying_still_reaches_subscribers() {
    let redis = service_url("MIT_TEST_REDIS_URL");
    let watching_node = TestApp::spawn_with(&[("REDIS_URL", &redis)]).await;
    let recordings = tempfile::tempdir().expect("a recording directory");
    let env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), watching_node.database_url.clone()),
        ("REDIS_URL".into(), redis.clone()),
        ("JWT_SECRET_KEY".into(), TEST_JWT_SECRET.into()),
        ("RATE_LIMIT_REQUESTS".into(), "0".into()),
        ("RECORDING_PATH".into(), recordings.path().display().to_string()),
    ];
    let mut doomed = ServerProcess::start(env).await;
    let host = TestUser::register_at(&doomed.base_url, "Host").await;
    let watcher = TestUser::register_at(&doomed.base_url, "Watcher").await;
    let m = completed(&host, &[&watcher]).await;
    let ticket = watcher.client.create_events_ticket().send().await.expect("ticket").into_inner();
    let port = doomed.base_url.rsplit(':').next().expect("port").to_string();
    let mut socket = EventsClient::open(&ticket.url.replace(&format!("127.0.0.1:{port}"), &watching_node.address.to_string())).await;
    socket.subscribe_review(m.id, None).await;
    let content = types::CreateReviewRequest::builder().content(Some("minutes".try_into().expect("content")));
    host.client.create_review().meeting_id(m.id).body(content).send().await.expect("create");
    doomed.kill();
    // Whether or not the killed node's relay got to it, the row now looks as a crash right after
    // the commit leaves it; the relay of a node still alive must deliver it, exactly once.
    forget_relaying(&watching_node.database_url, &format!("review:{}", m.id)).await;
    let event = socket.expect("event").await;
    assert_eq!((event["seq"].as_i64(), event["kind"].as_str()), (Some(1), Some("review-created")));
    assert!(socket.next_within(Duration::from_millis(1500)).await.is_none(), "delivered once");
    let _restarted = doomed.restart().await;
    let mut replaying = EventsClient::connect(&watcher).await;
    replaying.subscribe_review(m.id, Some(0)).await;
    assert_eq!(replaying.expect("event").await["kind"], "review-created", "the restarted node replays it too");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_sending_too_fast_is_told_so_and_keeps_its_socket() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = completed(&host, &[]).await;
    let mut socket = EventsClient::connect(&host).await;
    // `events.yaml`: 20 messages a second with bursts of 50; pongs are otherwise unanswered.
    for _ in 0..80 {
        socket.send(json!({"type": "pong"})).await;
    }
    let error = socket.expect("error").await;
    assert_eq!(error["code"], "rate_limited");
    while socket.next_within(Duration::from_millis(300)).await.is_some() {}
    assert_eq!(socket.subscribe_review(m.id, None).await["seq"], 0, "the socket still works once the budget refills");
}

/// A team with an owner and an admin, the owner's client and the team's id.
async fn knowledge_team(app: &TestApp) -> (TestUser, TestUser, Uuid) {
    let (owner, admin) = (app.register("Owner").await, app.register("Admin").await);
    let team =
        owner.client.create_team().body(types::CreateTeamRequest::builder().name("Team")).send().await.expect("team").into_inner().id;
    let add = types::AddTeamMemberRequest::builder().email(admin.email.as_str()).role(Some(types::TeamRole::Admin));
    owner.client.add_team_member().team_id(team).body(add).send().await.expect("admin");
    (owner, admin, team)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_teams_knowledge_topic_announces_facts_and_branches_in_order() {
    let app = TestApp::spawn().await;
    let (owner, admin, team) = knowledge_team(&app).await;
    let stranger = app.register("Stranger").await;
    let mut outsider = EventsClient::connect(&stranger).await;
    outsider.send(json!({"type": "subscribe", "topic": format!("knowledge:{team}")})).await;
    assert_eq!(outsider.expect("error").await["code"], "not_found");
    let mut socket = EventsClient::connect(&admin).await;
    socket.send(json!({"type": "subscribe", "topic": format!("knowledge:{team}")})).await;
    socket.expect("subscribed").await;
    let fact = owner.client.create_fact().team_id(team).body(types::CreateFactRequest::builder().key("Budget").value("50M")).send().await;
    let fact = fact.expect("fact").into_inner();
    let body = types::CreateFactBranchRequest::builder().title("Raise").proposed_value("70M").reason("agreed");
    let first = owner.client.create_fact_branch().fact_id(fact.id).body(body.clone()).send().await.expect("branch").into_inner();
    let second =
        owner.client.create_fact_branch().fact_id(fact.id).body(body.proposed_value("80M")).send().await.expect("branch").into_inner();
    admin.client.approve_branch().branch_id(first.id).send().await.expect("approve");
    owner.client.merge_branch().branch_id(first.id).body(types::MergeBranchRequest::builder()).send().await.expect("merge");
    let expected = [
        ("fact-created", None, 1),
        ("branch-created", Some(first.id), 1),
        ("branch-created", Some(second.id), 1),
        ("branch-approved", Some(first.id), 1),
        ("branch-merged", Some(first.id), 2),
        ("fact-changed", None, 2),
        ("branch-stale", Some(second.id), 2),
    ];
    for (index, (kind, branch, version)) in expected.into_iter().enumerate() {
        let event = socket.expect("event").await;
        assert_eq!((event["seq"].as_i64(), event["kind"].as_str()), (Some(index as i64 + 1), Some(kind)), "{event}");
        assert_eq!(event["data"]["version"], version, "{event}");
        assert_eq!(event["data"]["branch_id"].as_str().map(str::to_string), branch.map(|b| b.to_string()), "{event}");
    }
}
