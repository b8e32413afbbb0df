//! The events socket's messages (`api-contract/events.yaml`) as Rust types. A test validates
//! them against the contract. Events themselves arrive as JSON text from the outbox and are sent
//! as they are.

use serde::{Deserialize, Serialize};

/// The largest message a client may send, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Topics one socket may follow at once.
pub const MAX_SUBSCRIPTIONS: usize = 100;

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Follow a topic, replaying what came after `since`.
    Subscribe {
        /// `review:<meeting id>`.
        topic: String,
        /// The last `seq` the client saw.
        since: Option<u64>,
    },
    /// Stop following a topic.
    Unsubscribe {
        /// The topic.
        topic: String,
    },
    /// The answer to `ping` (a struct variant: serde's `deny_unknown_fields` skips unit ones).
    Pong {},
}

/// The client message types, as `events.yaml` lists them.
pub const CLIENT_TYPES: [&str; 3] = ["subscribe", "unsubscribe", "pong"];

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsubscribeReason {
    /// The client asked.
    Requested,
    /// The caller may no longer see the topic.
    AccessLost,
}

/// What the server sends, besides the events themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerMessage {
    /// A subscription started.
    Subscribed {
        /// The topic.
        topic: String,
        /// Its last event when the subscription started.
        seq: i64,
    },
    /// A subscription ended.
    Unsubscribed {
        /// The topic.
        topic: String,
        /// Why.
        reason: UnsubscribeReason,
    },
    /// Events were missed beyond what the server keeps: refetch.
    Resync {
        /// The topic.
        topic: String,
        /// Events after this follow.
        seq: i64,
    },
    /// A refused message.
    Error {
        /// Machine code.
        code: &'static str,
        /// Human text.
        message: String,
        /// The topic concerned.
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
    },
    /// Keepalive.
    Ping,
}

impl ServerMessage {
    /// An `error` message.
    pub fn error(code: &'static str, message: impl Into<String>, topic: Option<String>) -> Self {
        Self::Error { code, message: message.into(), topic }
    }

    /// The message as JSON text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"type":"error","code":"unavailable","message":"encoding failed"}"#.into())
    }
}

/// A refused client message: the `error` to answer with.
pub fn parse(text: &str) -> Result<ClientMessage, ServerMessage> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ServerMessage::error("message_too_large", format!("messages are at most {MAX_MESSAGE_BYTES} bytes"), None));
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ServerMessage::error("invalid_message", format!("not JSON: {e}"), None))?;
    let kind = value.get("type").and_then(|t| t.as_str()).unwrap_or_default().to_string();
    if !CLIENT_TYPES.contains(&kind.as_str()) {
        return Err(ServerMessage::error("unknown_type", format!("unknown message type `{kind}`"), None));
    }
    let message: ClientMessage =
        serde_json::from_value(value).map_err(|e| ServerMessage::error("invalid_message", format!("invalid `{kind}`: {e}"), None))?;
    match &message {
        ClientMessage::Subscribe { since: Some(since), .. } if *since > i64::MAX as u64 => {
            Err(ServerMessage::error("invalid_message", "`since` is too large", None))
        }
        _ => Ok(message),
    }
}

#[cfg(test)]
mod contract {
    //! The types above, and the review's event messages, against `api-contract/events.yaml`.

    use std::collections::BTreeSet;

    use chrono::Utc;
    use mit_api::server::models::BranchStatus;
    use mit_domain::events::knowledge::{KnowledgeEvent, KnowledgeEventKind};
    use mit_domain::events::review::{ReviewEvent, ReviewEventKind};
    use mit_domain::events::{Topic, TopicEvent};
    use mit_domain::review::rules::{Phase, ReviewState};
    use serde_json::{Value, json};
    use uuid::Uuid;

    use super::*;
    use crate::socket_contract::{load, types_of, validator};

    fn contract() -> Value {
        load("events.yaml")
    }

    const KINDS: [ReviewEventKind; 14] = [
        ReviewEventKind::ReviewCreated,
        ReviewEventKind::ContentReplaced,
        ReviewEventKind::StatusChanged,
        ReviewEventKind::CommentCreated,
        ReviewEventKind::CommentEdited,
        ReviewEventKind::CommentDeleted,
        ReviewEventKind::SuggestionCreated,
        ReviewEventKind::SuggestionResolved,
        ReviewEventKind::VoteCast,
        ReviewEventKind::LineRewritten,
        ReviewEventKind::ApprovalGiven,
        ReviewEventKind::ApprovalWithdrawn,
        ReviewEventKind::ApprovalStale,
        ReviewEventKind::FactCandidateChanged,
    ];

    fn every_server_message() -> Vec<String> {
        let topic = Topic::Review(Uuid::now_v7());
        let state = ReviewState {
            phase: Phase::InReview,
            revision: 3,
            reviewers: vec![],
            hosts: vec![],
            approvals: vec![],
            pending_suggestions: 0,
        };
        let mut texts: Vec<String> = [
            ServerMessage::Subscribed { topic: topic.to_string(), seq: 0 },
            ServerMessage::Unsubscribed { topic: topic.to_string(), reason: UnsubscribeReason::AccessLost },
            ServerMessage::Resync { topic: topic.to_string(), seq: 12 },
            ServerMessage::error("not_found", "no such topic", Some(topic.to_string())),
            ServerMessage::Ping,
        ]
        .iter()
        .map(ServerMessage::to_text)
        .collect();
        for kind in KINDS {
            let mut event = ReviewEvent::new(kind, Uuid::now_v7(), &state).line(Uuid::now_v7()).user(Uuid::now_v7());
            event.data.user_ids = Some(vec![Uuid::now_v7()]);
            event.data.previous_status = Some("draft");
            texts.push(event.message(&topic, 7, Uuid::now_v7(), Utc::now()));
        }
        let team = Topic::Knowledge(Uuid::now_v7());
        for kind in KNOWLEDGE_KINDS {
            let event = KnowledgeEvent::branch(kind, Uuid::now_v7(), Uuid::now_v7(), 2, Uuid::now_v7(), BranchStatus::Open);
            texts.push(event.message(&team, 3, Uuid::now_v7(), Utc::now()));
        }
        texts.push(KnowledgeEvent::fact(KnowledgeEventKind::FactCreated, Uuid::now_v7(), Uuid::now_v7(), 1).message(
            &team,
            1,
            Uuid::now_v7(),
            Utc::now(),
        ));
        texts
    }

    const KNOWLEDGE_KINDS: [KnowledgeEventKind; 10] = [
        KnowledgeEventKind::FactCreated,
        KnowledgeEventKind::FactChanged,
        KnowledgeEventKind::FactArchived,
        KnowledgeEventKind::BranchCreated,
        KnowledgeEventKind::BranchUpdated,
        KnowledgeEventKind::BranchApproved,
        KnowledgeEventKind::BranchVetoed,
        KnowledgeEventKind::BranchMerged,
        KnowledgeEventKind::BranchClosed,
        KnowledgeEventKind::BranchStale,
    ];

    #[test]
    fn every_server_message_and_event_kind_matches_the_contract() {
        let doc = contract();
        let validator = validator(&doc, "ServerMessage");
        let mut seen = BTreeSet::new();
        for text in every_server_message() {
            let value: Value = serde_json::from_str(&text).expect("json");
            let errors: Vec<String> = validator.iter_errors(&value).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{value} breaks the contract: {errors:?}");
            seen.insert(value["type"].as_str().expect("type").to_string());
        }
        assert_eq!(seen, types_of(&doc, "ServerMessage"));
        let kinds: BTreeSet<&str> = doc["$defs"]["EventKind"]["enum"].as_array().expect("kinds").iter().filter_map(Value::as_str).collect();
        let ours: BTreeSet<&str> = KINDS.iter().map(|k| k.as_str()).chain(KNOWLEDGE_KINDS.iter().map(|k| k.as_str())).collect();
        assert_eq!(kinds, ours);
    }

    #[test]
    fn client_messages_are_accepted_and_refused_as_the_contract_says() {
        let doc = contract();
        let validator = validator(&doc, "ClientMessage");
        assert_eq!(CLIENT_TYPES.iter().map(|t| t.to_string()).collect::<BTreeSet<_>>(), types_of(&doc, "ClientMessage"));
        let topic = format!("review:{}", Uuid::now_v7());
        for message in [
            json!({"type": "subscribe", "topic": topic, "since": 4}),
            json!({"type": "unsubscribe", "topic": topic}),
            json!({"type": "pong"}),
        ] {
            assert!(validator.is_valid(&message), "the contract refuses {message}");
            assert!(parse(&message.to_string()).is_ok(), "the server refuses {message}");
        }
        for message in
            [json!({"type": "subscribe"}), json!({"type": "subscribe", "topic": topic, "since": -1}), json!({"type": "pong", "x": 1})]
        {
            assert!(!validator.is_valid(&message), "the contract accepts {message}");
            assert!(parse(&message.to_string()).is_err(), "the server accepts {message}");
        }
        assert!(matches!(parse("nope"), Err(ServerMessage::Error { code: "invalid_message", .. })));
        assert!(matches!(parse(r#"{"type":"dance"}"#), Err(ServerMessage::Error { code: "unknown_type", .. })));
        let huge = format!(r#"{{"type":"subscribe","topic":"{}"}}"#, "x".repeat(MAX_MESSAGE_BYTES));
        assert!(matches!(parse(&huge), Err(ServerMessage::Error { code: "message_too_large", .. })));
    }
}
