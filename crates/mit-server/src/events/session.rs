//! One events socket: the ticket, then a loop over the client's messages, this node's hub, the
//! keepalive and the periodic access check, until the socket ends. No database connection is
//! held between queries.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use mit_domain::Mit;
use mit_domain::events::Topic;
use poem::web::websocket::{CloseCode, Message, WebSocketStream};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::hub::{EventHub, HubItem};
use super::messages::{ClientMessage, MAX_SUBSCRIPTIONS, ServerMessage, UnsubscribeReason, parse};
use crate::realtime::throttle::MessageBudget;

/// How often the server pings.
const PING_INTERVAL: Duration = Duration::from_secs(15);
/// How long a socket may stay silent.
const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// How often each followed topic's visibility is checked again.
const ACCESS_CHECK: Duration = Duration::from_secs(5);
/// Messages per second a client may send, and its burst.
const MESSAGE_RATE: (u32, u32) = (20, 50);
/// Events read from the outbox per query when replaying.
const REPLAY_PAGE: i64 = 1000;

type Sink = SplitSink<WebSocketStream, Message>;

/// What a live event is to a socket that has delivered its topic up to some `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Already delivered (another relay sent it too, or a replay got there first).
    Repeat,
    /// The one after the last delivered.
    Next,
    /// Later than the next: the ones between are read from the outbox first.
    AfterGap,
}

fn delivery(last: i64, seq: i64) -> Delivery {
    match seq - last {
        ..=0 => Delivery::Repeat,
        1 => Delivery::Next,
        _ => Delivery::AfterGap,
    }
}

/// Why the loop ended early.
struct Closed;

struct Session {
    mit: Arc<Mit>,
    user: Uuid,
    sink: Sink,
    /// Followed topics and the last `seq` delivered of each.
    following: BTreeMap<Topic, i64>,
    budget: MessageBudget,
}

/// Serves one socket from upgrade to close.
pub async fn serve(mit: Arc<Mit>, hub: EventHub, ticket: Option<String>, socket: WebSocketStream) {
    let (mut sink, mut stream) = socket.split();
    // Subscribing to the hub before anything else: nothing committed from here on is missed.
    let mut events = hub.subscribe();
    let user = match ticket {
        Some(ticket) => mit.redeem_events_ticket(&ticket).await,
        None => Ok(None),
    };
    let user = match user {
        Ok(Some(user)) => user,
        Ok(None) => return close(&mut sink, 4001, "the ticket is missing, unknown, expired or already used").await,
        Err(error) => {
            tracing::error!(%error, "cannot check an events ticket");
            return close(&mut sink, 4011, "internal error").await;
        }
    };
    let mut session = Session { mit, user, sink, following: BTreeMap::new(), budget: MessageBudget::new(MESSAGE_RATE.0, MESSAGE_RATE.1) };
    let mut ping = tokio::time::interval(PING_INTERVAL);
    let mut access = tokio::time::interval(ACCESS_CHECK);
    let mut heard = Instant::now();
    let outcome: Result<(), Closed> = loop {
        let step = tokio::select! {
            message = stream.next() => match message {
                Some(Ok(message)) => {
                    heard = Instant::now();
                    session.on_client(message).await
                }
                _ => break Ok(()),
            },
            item = events.recv() => match item {
                Ok(HubItem::Event(event)) => session.on_event(event.topic, event.seq, &event.message).await,
                Ok(HubItem::Resume) | Err(RecvError::Lagged(_)) => session.resume().await,
                Err(RecvError::Closed) => break Ok(()),
            },
            _ = ping.tick() => {
                if heard.elapsed() > IDLE_TIMEOUT {
                    break Err(Closed);
                }
                session.send(&ServerMessage::Ping).await
            }
            _ = access.tick() => session.check_access().await,
        };
        if step.is_err() {
            break Ok(());
        }
    };
    if outcome.is_err() {
        close(&mut session.sink, 4009, "no message for 45 s").await;
    }
}

async fn close(sink: &mut Sink, code: u16, reason: &str) {
    let _ = sink.send(Message::Close(Some((CloseCode::from(code), reason.to_string())))).await;
    let _ = sink.close().await;
}

impl Session {
    async fn send(&mut self, message: &ServerMessage) -> Result<(), Closed> {
        self.send_text(message.to_text()).await
    }

    async fn send_text(&mut self, text: String) -> Result<(), Closed> {
        self.sink.send(Message::Text(text)).await.map_err(|_| Closed)
    }

    async fn on_client(&mut self, message: Message) -> Result<(), Closed> {
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => return self.send(&ServerMessage::error("invalid_message", "send JSON text messages", None)).await,
            Message::Close(_) => return Err(Closed),
            _ => return Ok(()),
        };
        if !self.budget.spend(Instant::now()) {
            return self.send(&ServerMessage::error("rate_limited", "too many messages; slow down", None)).await;
        }
        match parse(&text) {
            Ok(ClientMessage::Subscribe { topic, since }) => self.subscribe(&topic, since.map(|s| s as i64)).await,
            Ok(ClientMessage::Unsubscribe { topic }) => self.unsubscribe(&topic).await,
            Ok(ClientMessage::Pong {}) => Ok(()),
            Err(refusal) => self.send(&refusal).await,
        }
    }

    async fn subscribe(&mut self, name: &str, since: Option<i64>) -> Result<(), Closed> {
        let Some(topic) = Topic::parse(name) else {
            return self
                .send(&ServerMessage::error(
                    "invalid_message",
                    "topics are `review:<meeting id>` or `knowledge:<team id>`",
                    Some(name.into()),
                ))
                .await;
        };
        if !self.following.contains_key(&topic) && self.following.len() >= MAX_SUBSCRIPTIONS {
            let message = format!("a socket follows at most {MAX_SUBSCRIPTIONS} topics");
            return self.send(&ServerMessage::error("too_many_subscriptions", message, Some(name.into()))).await;
        }
        match self.mit.may_follow(self.user, &topic).await {
            Ok(true) => {}
            Ok(false) => return self.send(&ServerMessage::error("not_found", "no such topic", Some(name.into()))).await,
            Err(error) => return self.unavailable(name, &error).await,
        }
        let last = match self.mit.ports().events.last_seq(name).await {
            Ok(last) => last,
            Err(error) => return self.unavailable(name, &error).await,
        };
        self.send(&ServerMessage::Subscribed { topic: topic.to_string(), seq: last }).await?;
        match since {
            Some(since) if since <= last => {
                self.following.insert(topic, since);
                self.fill(topic).await
            }
            Some(_) => {
                self.following.insert(topic, last);
                self.send(&ServerMessage::Resync { topic: topic.to_string(), seq: last }).await
            }
            None => {
                self.following.insert(topic, last);
                Ok(())
            }
        }
    }

    async fn unavailable(&mut self, topic: &str, error: &(dyn std::fmt::Display + Sync)) -> Result<(), Closed> {
        tracing::warn!(%error, topic, "events socket cannot reach the store");
        self.send(&ServerMessage::error("unavailable", "a backing service is unavailable; retry shortly", Some(topic.into()))).await
    }

    async fn unsubscribe(&mut self, name: &str) -> Result<(), Closed> {
        if let Some(topic) = Topic::parse(name) {
            self.following.remove(&topic);
        }
        self.send(&ServerMessage::Unsubscribed { topic: name.into(), reason: UnsubscribeReason::Requested }).await
    }

    /// A live event: the next one is sent, a repeat dropped, one after a gap fills the gap first.
    async fn on_event(&mut self, topic: Topic, seq: i64, message: &str) -> Result<(), Closed> {
        let Some(last) = self.following.get(&topic).copied() else { return Ok(()) };
        match delivery(last, seq) {
            Delivery::Repeat => Ok(()),
            Delivery::AfterGap => self.fill(topic).await,
            Delivery::Next => {
                self.following.insert(topic, seq);
                self.send_text(message.to_string()).await
            }
        }
    }

    /// Sends what the outbox has after the last delivered `seq`; `resync` when it no longer has it.
    async fn fill(&mut self, topic: Topic) -> Result<(), Closed> {
        let name = topic.to_string();
        loop {
            let Some(last) = self.following.get(&topic).copied() else { return Ok(()) };
            let batch = match self.mit.ports().events.events_after(&name, last, REPLAY_PAGE).await {
                Ok(batch) => batch,
                Err(error) => return self.unavailable(&name, &error).await,
            };
            if batch.first().is_some_and(|first| first.seq > last + 1) {
                return self.resync(topic).await;
            }
            let full = batch.len() as i64 == REPLAY_PAGE;
            for event in batch {
                self.following.insert(topic, event.seq);
                self.send_text(event.message).await?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    async fn resync(&mut self, topic: Topic) -> Result<(), Closed> {
        let name = topic.to_string();
        let last = match self.mit.ports().events.last_seq(&name).await {
            Ok(last) => last,
            Err(error) => return self.unavailable(&name, &error).await,
        };
        self.following.insert(topic, last);
        self.send(&ServerMessage::Resync { topic: name, seq: last }).await
    }

    /// After an outage or a lag: every topic catches up from the outbox.
    async fn resume(&mut self) -> Result<(), Closed> {
        let topics: Vec<Topic> = self.following.keys().copied().collect();
        for topic in topics {
            self.fill(topic).await?;
        }
        Ok(())
    }

    /// Drops topics the caller may no longer see (removed from the meeting, demoted in the team).
    async fn check_access(&mut self) -> Result<(), Closed> {
        let topics: Vec<Topic> = self.following.keys().copied().collect();
        for topic in topics {
            if let Ok(false) = self.mit.may_follow(self.user, &topic).await {
                self.following.remove(&topic);
                self.send(&ServerMessage::Unsubscribed { topic: topic.to_string(), reason: UnsubscribeReason::AccessLost }).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_dropped_the_next_is_sent_and_a_gap_is_filled_first() {
        assert_eq!(delivery(4, 3), Delivery::Repeat);
        assert_eq!(delivery(4, 4), Delivery::Repeat);
        assert_eq!(delivery(4, 5), Delivery::Next);
        assert_eq!(delivery(4, 7), Delivery::AfterGap);
        assert_eq!(delivery(0, 1), Delivery::Next);
    }
}
