//! Host commands across nodes. A kick, an end or a recording switch is made on whichever node
//! took the REST call; it is applied to the room here if the room is here, and published on
//! `mit:rooms` so the node hosting the room applies it too. The database holds the outcome of
//! every command, so a room that may have missed one checks itself against it: on every node
//! after its own subscription comes back, and on every node when a node that could not publish
//! a command says so on [`RESYNC_CHANNEL`] once Redis answers it again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use mit_domain::Mit;
use mit_domain::ports::meetings::RecordingFlag;
use mit_domain::ports::rooms::{Departure, Ending, RoomControl};
use mit_domain::realtime::Standing;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::link::RedisLink;
use crate::realtime::RoomRegistry;

/// The channel every node publishes host commands on.
const CHANNEL: &str = "mit:rooms";
/// The channel telling every node to check its rooms against the database.
const RESYNC_CHANNEL: &str = "mit:rooms:resync";
/// How long subscribing may take before the connection is given up and made again.
const SUBSCRIBE_DEADLINE: Duration = Duration::from_secs(2);

/// A command on the channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Wire {
    /// The publishing node, which applied it already.
    origin: String,
    meeting: Uuid,
    command: Command,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Command {
    Remove { user: Uuid, kicked: bool },
    Recording { since: Option<DateTime<Utc>>, version: i64 },
    Close { cancelled: bool },
}

/// The rooms of every node, as the REST side reaches them.
pub struct ClusterRooms {
    local: Arc<RoomRegistry>,
    redis: RedisLink,
    node: String,
    /// A command could not be published: the other nodes must be told to resync.
    owed: Arc<AtomicBool>,
}

impl ClusterRooms {
    /// Rooms on this node (`local`) and, through `redis`, on the others.
    pub fn new(local: Arc<RoomRegistry>, redis: RedisLink, node: String) -> Self {
        let owed = Arc::new(AtomicBool::new(false));
        tokio::spawn(settle(redis.clone(), owed.clone()));
        Self { local, redis, node, owed }
    }

    async fn publish(&self, meeting: Uuid, command: Command) {
        let wire = Wire { origin: self.node.clone(), meeting, command };
        let Ok(text) = serde_json::to_string(&wire) else { return };
        if let Err(error) =
            self.redis.run(|mut r| async move { redis::cmd("PUBLISH").arg(CHANNEL).arg(text).query_async::<()>(&mut r).await }).await
        {
            tracing::warn!(%error, %meeting, "a host command did not reach the other nodes; their rooms catch up when Redis returns");
            self.owed.store(true, Ordering::Release);
        }
    }
}

/// Once Redis answers again after a command could not be published, tells every node to check
/// its rooms. Ends with the process.
async fn settle(redis: RedisLink, owed: Arc<AtomicBool>) {
    let mut changes = redis.changes();
    loop {
        if owed.load(Ordering::Acquire) && redis.is_up() {
            let sent =
                redis.run(|mut r| async move { redis::cmd("PUBLISH").arg(RESYNC_CHANNEL).arg("resync").query_async::<()>(&mut r).await });
            if sent.await.is_ok() {
                owed.store(false, Ordering::Release);
            }
        }
        // Woken when Redis comes back; the timer retries a notice whose publish failed.
        let _ = tokio::time::timeout(Duration::from_secs(1), changes.changed()).await;
    }
}

#[async_trait]
impl RoomControl for ClusterRooms {
    async fn has_seat_for(&self, meeting: Uuid, user: Uuid) -> bool {
        // Only the owner knows its seats; its socket admission applies the same rule.
        self.local.has_seat_for(meeting, user).await
    }

    async fn remove(&self, meeting: Uuid, user: Uuid, why: Departure) {
        self.local.remove(meeting, user, why).await;
        self.publish(meeting, Command::Remove { user, kicked: why == Departure::Kicked }).await;
    }

    async fn set_recording(&self, meeting: Uuid, recording: RecordingFlag) {
        self.local.set_recording(meeting, recording).await;
        self.publish(meeting, Command::Recording { since: recording.since, version: recording.version }).await;
    }

    async fn close(&self, meeting: Uuid, ending: Ending) {
        RoomControl::close(self.local.as_ref(), meeting, ending).await;
        self.publish(meeting, Command::Close { cancelled: ending == Ending::Cancelled }).await;
    }
}

/// Applies the other nodes' commands to this node's rooms; after every (re)subscription, checks
/// the rooms against the database for commands missed meanwhile.
pub fn listen(redis: RedisLink, node: String, rooms: Arc<RoomRegistry>, mit: Arc<Mit>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            let connect = tokio::time::timeout(Duration::from_secs(2), redis.client().get_async_pubsub()).await;
            match connect {
                Ok(Ok(mut pubsub)) => {
                    if matches!(tokio::time::timeout(SUBSCRIBE_DEADLINE, pubsub.subscribe(&[CHANNEL, RESYNC_CHANNEL])).await, Ok(Ok(()))) {
                        backoff = Duration::from_millis(200);
                        reconcile(&rooms, &mit).await;
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            if message.get_channel_name() == RESYNC_CHANNEL {
                                reconcile(&rooms, &mit).await;
                                continue;
                            }
                            let wire = message.get_payload::<String>().ok().and_then(|text| serde_json::from_str::<Wire>(&text).ok());
                            if let Some(wire) = wire.filter(|wire| wire.origin != node) {
                                apply(&rooms, wire).await;
                            }
                        }
                        tracing::warn!("the room command channel closed; reconnecting");
                    }
                }
                _ => tracing::debug!("cannot subscribe to room commands yet; retrying"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
}

async fn apply(rooms: &RoomRegistry, wire: Wire) {
    match wire.command {
        Command::Remove { user, kicked } => {
            rooms.remove(wire.meeting, user, if kicked { Departure::Kicked } else { Departure::Left }).await;
        }
        Command::Recording { since, version } => rooms.set_recording(wire.meeting, RecordingFlag { since, version }).await,
        Command::Close { cancelled } => {
            RoomControl::close(rooms, wire.meeting, if cancelled { Ending::Cancelled } else { Ending::Completed }).await;
        }
    }
}

/// Brings every room here in line with the database: ended meetings close, removed
/// participants leave, the recording state is the stored one.
async fn reconcile(rooms: &RoomRegistry, mit: &Mit) {
    for (meeting, occupants) in rooms.occupancy() {
        for user in occupants {
            match mit.standing(meeting, user).await {
                Ok(Standing::Participant(recording)) => rooms.set_recording(meeting, recording).await,
                Ok(Standing::Removed) => rooms.remove(meeting, user, Departure::Kicked).await,
                Ok(Standing::Ended(ending)) => {
                    RoomControl::close(rooms, meeting, ending).await;
                    break;
                }
                Err(error) => tracing::warn!(%error, %meeting, "cannot check a room against the database"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_survive_the_wire() {
        let meeting = Uuid::now_v7();
        for command in [
            Command::Remove { user: Uuid::now_v7(), kicked: true },
            Command::Recording { since: Some(Utc::now()), version: 4 },
            Command::Close { cancelled: false },
        ] {
            let wire = Wire { origin: "a".into(), meeting, command };
            let text = serde_json::to_string(&wire).expect("encodes");
            assert_eq!(serde_json::from_str::<Wire>(&text).expect("decodes"), wire);
        }
    }

    #[test]
    fn anything_else_on_the_channel_is_not_a_command() {
        let meeting = Uuid::now_v7();
        for text in [
            String::from("resume"),
            format!(r#"{{"origin":"a","meeting":"{meeting}","command":{{"kind":"explode"}}}}"#),
            format!(r#"{{"origin":"a","meeting":"{meeting}","command":{{"kind":"remove","user":"nope","kicked":true}}}}"#),
            r#"{"origin":"a","meeting":"not-a-uuid","command":{"kind":"close","cancelled":true}}"#.into(),
        ] {
            assert!(serde_json::from_str::<Wire>(&text).is_err(), "{text} must be ignored");
        }
    }
}
