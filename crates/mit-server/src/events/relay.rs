//! The relay: moves committed outbox rows to the fan-out — Redis pub/sub when configured, so
//! every node's sockets get them, else (or while Redis is down) straight into this node's hub —
//! and marks them relayed.
//! A crash between commit and relay leaves rows unrelayed; the next relay pass (here or on
//! another node) sends them. Two nodes may both send a row: sockets drop repeats by `seq`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use futures::StreamExt;
use mit_domain::ports::EventStore;
use mit_domain::ports::events::StoredEvent;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::hub::{EventHub, HubItem};
use crate::cluster::link::{LinkError, RedisLink};

/// The Redis channel every node publishes to and listens on.
const CHANNEL: &str = "mit:events";
/// The channel telling every node that events may have been missed.
const RESUME_CHANNEL: &str = "mit:events:resume";
/// Rows relayed per pass.
const BATCH: i64 = 500;
/// A pass runs at least this often, so rows another node committed are not left waiting.
const POLL: Duration = Duration::from_millis(500);
/// How long events stay for replay, and how many per topic at most (`events.yaml`).
const KEEP_FOR: TimeDelta = TimeDelta::days(7);
const KEEP_PER_TOPIC: i64 = 10_000;
/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// An event on the Redis channel.
#[derive(Serialize, Deserialize)]
struct Wire {
    id: i64,
    topic: String,
    seq: i64,
    message: String,
}

/// Where relayed events go: through Redis to every node, or while Redis is down (or not
/// configured) straight to this node's sockets. Events sent locally during an outage never
/// reached the other nodes; once Redis answers again a resume notice on [`RESUME_CHANNEL`]
/// makes every node's sockets fill their gaps from the outbox.
pub struct FanOut {
    hub: EventHub,
    redis: Option<RedisLink>,
    owe_resume: AtomicBool,
}

impl FanOut {
    /// Fan-out to `hub` only, or through `redis` when given.
    pub fn new(hub: EventHub, redis: Option<RedisLink>) -> Self {
        Self { hub, redis, owe_resume: AtomicBool::new(false) }
    }

    async fn send(&self, event: StoredEvent) -> Result<(), String> {
        let Some(redis) = &self.redis else {
            self.hub.deliver_event(event);
            return Ok(());
        };
        let wire = Wire { id: event.id, topic: event.topic.clone(), seq: event.seq, message: event.message.clone() };
        let text = serde_json::to_string(&wire).map_err(|e| e.to_string())?;
        match redis.run(|mut r| async move { r.publish::<_, _, ()>(CHANNEL, text).await }).await {
            Ok(()) => Ok(()),
            Err(LinkError::Refused(error)) => Err(error),
            Err(_) => {
                self.owe_resume.store(true, Ordering::Release);
                self.hub.deliver_event(event);
                Ok(())
            }
        }
    }

    /// After an outage: tells every node to check its sockets against the outbox.
    async fn settle(&self) {
        let Some(redis) = &self.redis else { return };
        if !redis.is_up() || !self.owe_resume.load(Ordering::Acquire) {
            return;
        }
        if redis.run(|mut r| async move { r.publish::<_, _, ()>(RESUME_CHANNEL, "resume").await }).await.is_ok() {
            self.owe_resume.store(false, Ordering::Release);
        }
    }
}

/// Starts the relay; `wake` is notified after every commit that wrote events.
pub fn start(store: Arc<dyn EventStore>, fan_out: FanOut, wake: Arc<Notify>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut pruned = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            fan_out.settle().await;
            while let Ok(relayed) = relay_once(store.as_ref(), &fan_out).await {
                if relayed < BATCH as usize {
                    break;
                }
            }
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = tokio::time::Instant::now();
                if let Err(error) = store.prune(Utc::now() - KEEP_FOR, KEEP_PER_TOPIC).await {
                    tracing::warn!(%error, "cannot prune old events");
                }
            }
        }
    })
}

/// One pass: sends what is unrelayed, in order, and marks what was sent.
async fn relay_once(store: &dyn EventStore, fan_out: &FanOut) -> Result<usize, ()> {
    let batch = store.unrelayed(BATCH).await.map_err(|error| tracing::warn!(%error, "cannot read the outbox"))?;
    let mut sent = Vec::with_capacity(batch.len());
    for event in batch {
        let id = event.id;
        if let Err(error) = fan_out.send(event).await {
            tracing::warn!(%error, "cannot publish an event; it stays in the outbox");
            break;
        }
        sent.push(id);
    }
    if !sent.is_empty() {
        store.mark_relayed(&sent).await.map_err(|error| tracing::warn!(%error, "cannot mark events relayed"))?;
    }
    Ok(sent.len())
}

/// Listens on the Redis channels and feeds this node's hub; after every reconnect, and on every
/// resume notice, sockets are told to fill their gaps from the outbox.
pub fn listen(client: redis::Client, hub: EventHub) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            match tokio::time::timeout(Duration::from_secs(2), client.get_async_pubsub()).await {
                Ok(Ok(mut pubsub)) => {
                    let subscribed = tokio::time::timeout(Duration::from_secs(2), pubsub.subscribe(&[CHANNEL, RESUME_CHANNEL])).await;
                    if !matches!(subscribed, Ok(Ok(()))) {
                        tracing::warn!("cannot subscribe to the events channel");
                    } else {
                        backoff = Duration::from_millis(200);
                        hub.deliver(HubItem::Resume);
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            if message.get_channel_name() == RESUME_CHANNEL {
                                hub.deliver(HubItem::Resume);
                            } else {
                                deliver(&hub, message.get_payload::<String>().ok());
                            }
                        }
                        tracing::warn!("the events channel closed; reconnecting");
                    }
                }
                _ => tracing::debug!("cannot reach Redis for events; retrying"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
}

fn deliver(hub: &EventHub, payload: Option<String>) {
    let Some(wire) = payload.and_then(|text| serde_json::from_str::<Wire>(&text).ok()) else {
        tracing::warn!("an unreadable message on the events channel");
        return;
    };
    hub.deliver_event(StoredEvent { id: wire.id, topic: wire.topic, seq: wire.seq, message: wire.message });
}
