//! Live events: tickets for the events socket, topics and who may follow them, and the event
//! messages the review writes to the outbox.

pub mod knowledge;
pub mod review;
pub mod topic;

use chrono::{DateTime, TimeDelta, Utc};
use mit_api::server::EventsApi;
use mit_api::server::models::EventsTicket;
use mit_api::server::ops::create_events_ticket;
use mit_api::server::runtime::Json;
use uuid::Uuid;

use crate::auth::refresh;
use crate::error::{ApiResult, DomainError};
use crate::{Caller, Mit};
pub use topic::Topic;

/// An event of a topic: its kind and data; the outbox numbers it and wraps it as an `event`
/// message (`events.yaml`).
pub trait TopicEvent {
    /// The `kind` on the wire.
    fn kind(&self) -> &'static str;
    /// The `data` object.
    fn data(&self) -> serde_json::Value;

    /// The `event` message of `topic` numbered `seq`, as JSON text.
    fn message(&self, topic: &Topic, seq: i64, actor: Uuid, at: DateTime<Utc>) -> String {
        serde_json::json!({
            "type": "event",
            "topic": topic.to_string(),
            "seq": seq,
            "kind": self.kind(),
            "actor_id": actor,
            "at": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "data": self.data(),
        })
        .to_string()
    }
}

/// How long a ticket may wait before its socket opens.
const TICKET_TTL: TimeDelta = TimeDelta::seconds(60);

impl EventsApi for Mit {
    async fn create_events_ticket(
        &self,
        caller: &Caller,
        _request: create_events_ticket::Request,
    ) -> ApiResult<create_events_ticket::Response> {
        let (ticket, hash) = refresh::generate();
        let expires_at = self.ports.clock.now() + TICKET_TTL;
        self.ports.events.issue_ticket(hash, caller.user_id, expires_at).await.map_err(DomainError::from)?;
        let url = format!("{}/ws/events?ticket={ticket}", self.config.room.signaling_base_url);
        Ok(create_events_ticket::Response::Created(Json(EventsTicket { ticket, url, expires_at })))
    }
}

impl Mit {
    /// Spends a ticket; the user it names, or `None` when it is unknown, used or expired.
    pub async fn redeem_events_ticket(&self, ticket: &str) -> Result<Option<Uuid>, DomainError> {
        Ok(self.ports.events.redeem_ticket(refresh::digest(ticket), self.ports.clock.now()).await?)
    }

    /// Whether `user` may follow `topic` now (a topic they may not see is as if it did not exist).
    pub async fn may_follow(&self, user: Uuid, topic: &Topic) -> Result<bool, DomainError> {
        match topic {
            Topic::Review(meeting) => match self.visible_meeting(*meeting, user).await {
                Ok(_) => Ok(true),
                Err(DomainError::NotFound(_)) => Ok(false),
                Err(other) => Err(other),
            },
            Topic::Knowledge(team) => Ok(self.ports.teams.role_of(*team, user).await?.is_some()),
        }
    }
}
