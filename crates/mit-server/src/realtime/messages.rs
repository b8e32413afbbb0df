//! The signalling messages of `api-contract/signaling.yaml` as Rust types. A test validates
//! every type against the contract's JSON Schemas, so the two cannot drift apart.

use chrono::{DateTime, Utc};
use mit_domain::ports::chat::ChatRecord;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The largest message a client may send, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// The longest ICE candidate line.
const MAX_CANDIDATE_CHARS: usize = 1024;
/// The longest track id.
const MAX_TRACK_ID_CHARS: usize = 128;

/// An ICE candidate as `RTCIceCandidate.toJSON()` gives it, in snake_case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceCandidate {
    /// The `candidate:` line; empty for end of candidates.
    pub candidate: String,
    /// The media section's mid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// The media section's index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
    /// The ICE username fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ClientMessage {
    /// An SDP offer.
    Offer {
        /// The SDP.
        sdp: String,
    },
    /// An SDP answer to the server's offer.
    Answer {
        /// The SDP.
        sdp: String,
    },
    /// A trickled ICE candidate.
    IceCandidate {
        /// The candidate.
        candidate: IceCandidate,
    },
    /// The sender's microphone and camera state.
    MediaState {
        /// Microphone on.
        audio: bool,
        /// Camera on.
        video: bool,
    },
    /// The sender's track `track_id` is their screen.
    ScreenShareStart {
        /// `MediaStreamTrack.id`.
        track_id: String,
    },
    /// The sender stopped sharing.
    ScreenShareStop,
    /// A host mutes or unmutes `target`.
    ForceMute {
        /// Whom.
        target: Uuid,
        /// Mute or unmute.
        muted: bool,
    },
    /// A chat message.
    Chat {
        /// The text.
        text: String,
    },
    /// Leave now.
    Leave,
    /// Keepalive answer.
    Pong,
}

/// The `type`s a client may send.
pub const CLIENT_TYPES: [&str; 10] =
    ["offer", "answer", "ice-candidate", "media-state", "screen-share-start", "screen-share-stop", "force-mute", "chat", "leave", "pong"];

impl ClientMessage {
    /// Checks the limits serde cannot express (lengths), naming what is wrong.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Self::Offer { sdp } | Self::Answer { sdp } if sdp.is_empty() => Err("`sdp` must not be empty".into()),
            Self::IceCandidate { candidate } if candidate.candidate.chars().count() > MAX_CANDIDATE_CHARS => {
                Err(format!("`candidate` has more than {MAX_CANDIDATE_CHARS} characters"))
            }
            Self::ScreenShareStart { track_id } if track_id.is_empty() || track_id.chars().count() > MAX_TRACK_ID_CHARS => {
                Err(format!("`track_id` must have 1 to {MAX_TRACK_ID_CHARS} characters"))
            }
            _ => Ok(()),
        }
    }
}

/// A participant present in the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// Who.
    pub user_id: Uuid,
    /// Display name.
    pub name: String,
    /// `host` or `participant`.
    pub role: &'static str,
    /// Microphone on.
    pub audio: bool,
    /// Camera on.
    pub video: bool,
    /// Sharing their screen.
    pub screen: bool,
}

/// The recording state in `room-info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingState {
    /// Recording now.
    pub active: bool,
    /// Since when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
}

/// Why someone left the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftReason {
    /// They left.
    Left,
    /// A host removed them.
    Kicked,
    /// Their connection dropped and they did not come back within the grace period.
    Timeout,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerMessage {
    /// Sent once on connecting.
    RoomInfo {
        /// The receiver.
        user_id: Uuid,
        /// The receiver's role.
        role: &'static str,
        /// This connection took over a dropped one's seat.
        resumed: bool,
        /// Everyone present, the receiver included.
        participants: Vec<Member>,
        /// Whether the meeting is recorded.
        recording: RecordingState,
        /// Seats in the room.
        capacity: usize,
    },
    /// Someone entered.
    UserJoined {
        /// Who.
        participant: Member,
    },
    /// Someone left.
    UserLeft {
        /// Who.
        user_id: Uuid,
        /// Why.
        reason: LeftReason,
    },
    /// Someone's microphone or camera changed.
    MediaState {
        /// Whose.
        user_id: Uuid,
        /// Microphone on.
        audio: bool,
        /// Camera on.
        video: bool,
    },
    /// An SDP offer from the server.
    Offer {
        /// The SDP.
        sdp: String,
    },
    /// The server's SDP answer.
    Answer {
        /// The SDP.
        sdp: String,
    },
    /// A server ICE candidate.
    IceCandidate {
        /// The candidate.
        candidate: IceCandidate,
    },
    /// Someone started sharing their screen.
    ScreenShareStarted {
        /// Who.
        user_id: Uuid,
    },
    /// Someone stopped sharing.
    ScreenShareStopped {
        /// Who.
        user_id: Uuid,
    },
    /// A host muted or unmuted the receiver.
    ForceMuted {
        /// Which host.
        by: Uuid,
        /// Muted or unmuted.
        muted: bool,
    },
    /// The server started recording.
    RecordingStarted {
        /// When.
        started_at: DateTime<Utc>,
    },
    /// The server stopped recording.
    RecordingStopped,
    /// A stored chat message.
    Chat {
        /// Its id.
        id: Uuid,
        /// Sender.
        user_id: Uuid,
        /// Sender's name.
        user_name: String,
        /// Text.
        text: String,
        /// Sent.
        created_at: DateTime<Utc>,
    },
    /// The meeting is over; the socket closes next.
    MeetingEnded {
        /// `completed` or `cancelled`.
        reason: &'static str,
    },
    /// The client's last message was refused.
    Error {
        /// Machine code.
        code: &'static str,
        /// Human text.
        message: String,
    },
    /// Keepalive.
    Ping,
}

impl ServerMessage {
    /// An `error` message.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::Error { code, message: message.into() }
    }

    /// The JSON text of the message.
    pub fn to_text(&self) -> String {
        // Every field serialises infallibly (strings, numbers, booleans, uuids, times).
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"type":"error","code":"internal_error","message":"unserialisable"}"#.into())
    }
}

impl From<ChatRecord> for ServerMessage {
    fn from(message: ChatRecord) -> Self {
        Self::Chat {
            id: message.id,
            user_id: message.user_id,
            user_name: message.user_name,
            text: message.text,
            created_at: message.created_at,
        }
    }
}

/// Why a client message could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Machine code.
    pub code: &'static str,
    /// Human text.
    pub message: String,
}

/// Reads one client text frame.
pub fn parse(text: &str) -> Result<ClientMessage, Refused> {
    let refused = |code, message: String| Refused { code, message };
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(refused("message_too_large", format!("messages are at most {MAX_MESSAGE_BYTES} bytes")));
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| refused("invalid_message", format!("not JSON: {e}")))?;
    let Some(kind) = value.get("type").and_then(serde_json::Value::as_str).map(str::to_string) else {
        return Err(refused("invalid_message", "a message needs a string `type`".into()));
    };
    if !CLIENT_TYPES.contains(&kind.as_str()) {
        return Err(refused("unknown_type", format!("unknown message type `{kind}`")));
    }
    let message: ClientMessage = serde_json::from_value(value).map_err(|e| refused("invalid_message", format!("`{kind}`: {e}")))?;
    message.check().map_err(|e| refused("invalid_message", format!("`{kind}`: {e}")))?;
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_or_refused_with_a_code() {
        assert_eq!(parse(r#"{"type":"pong"}"#), Ok(ClientMessage::Pong));
        assert_eq!(
            parse(r#"{"type":"media-state","audio":true,"video":false}"#),
            Ok(ClientMessage::MediaState { audio: true, video: false })
        );
        assert_eq!(parse("nope").map_err(|r| r.code), Err("invalid_message"));
        assert_eq!(parse(r#"{"kind":"pong"}"#).map_err(|r| r.code), Err("invalid_message"));
        assert_eq!(parse(r#"{"type":"dance"}"#).map_err(|r| r.code), Err("unknown_type"));
        assert_eq!(parse(r#"{"type":"chat"}"#).map_err(|r| r.code), Err("invalid_message"));
        assert_eq!(parse(r#"{"type":"chat","text":"hi","extra":1}"#).map_err(|r| r.code), Err("invalid_message"));
        assert_eq!(parse(r#"{"type":"media-state","audio":"yes","video":false}"#).map_err(|r| r.code), Err("invalid_message"));
        assert_eq!(parse(r#"{"type":"offer","sdp":""}"#).map_err(|r| r.code), Err("invalid_message"));
        let huge = format!(r#"{{"type":"chat","text":"{}"}}"#, "x".repeat(MAX_MESSAGE_BYTES));
        assert_eq!(parse(&huge).map_err(|r| r.code), Err("message_too_large"));
    }
}

#[cfg(test)]
mod contract {
    //! The types above against `api-contract/signaling.yaml`.

    use std::collections::BTreeSet;

    use serde_json::{Value, json};

    use super::*;
    use crate::socket_contract::{load, types_of, validator};

    fn contract() -> Value {
        load("signaling.yaml")
    }

    fn every_server_message() -> Vec<ServerMessage> {
        let user = Uuid::now_v7();
        let member = Member { user_id: user, name: "Ada".into(), role: "host", audio: true, video: false, screen: false };
        let candidate = IceCandidate {
            candidate: "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: None,
        };
        let now = chrono::Utc::now();
        vec![
            ServerMessage::RoomInfo {
                user_id: user,
                role: "participant",
                resumed: false,
                participants: vec![member.clone()],
                recording: RecordingState { active: true, started_at: Some(now) },
                capacity: 20,
            },
            ServerMessage::UserJoined { participant: member },
            ServerMessage::UserLeft { user_id: user, reason: LeftReason::Timeout },
            ServerMessage::MediaState { user_id: user, audio: false, video: true },
            ServerMessage::Offer { sdp: "v=0".into() },
            ServerMessage::Answer { sdp: "v=0".into() },
            ServerMessage::IceCandidate { candidate },
            ServerMessage::ScreenShareStarted { user_id: user },
            ServerMessage::ScreenShareStopped { user_id: user },
            ServerMessage::ForceMuted { by: user, muted: true },
            ServerMessage::RecordingStarted { started_at: now },
            ServerMessage::RecordingStopped,
            ServerMessage::Chat { id: Uuid::now_v7(), user_id: user, user_name: "Ada".into(), text: "hi".into(), created_at: now },
            ServerMessage::MeetingEnded { reason: "cancelled" },
            ServerMessage::error("rate_limited", "slow down"),
            ServerMessage::Ping,
        ]
    }

    #[test]
    fn every_server_message_matches_its_schema_and_every_schema_has_a_message() {
        let doc = contract();
        let validator = validator(&doc, "ServerMessage");
        let mut seen = BTreeSet::new();
        for message in every_server_message() {
            let value: Value = serde_json::from_str(&message.to_text()).expect("json");
            let errors: Vec<String> = validator.iter_errors(&value).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{value} breaks the contract: {errors:?}");
            seen.insert(value["type"].as_str().expect("type").to_string());
        }
        assert_eq!(seen, types_of(&doc, "ServerMessage"));
    }

    #[test]
    fn client_messages_are_accepted_and_refused_as_the_contract_says() {
        let doc = contract();
        let validator = validator(&doc, "ClientMessage");
        assert_eq!(CLIENT_TYPES.iter().map(|t| t.to_string()).collect::<BTreeSet<_>>(), types_of(&doc, "ClientMessage"));
        let valid = [
            json!({"type": "offer", "sdp": "v=0"}),
            json!({"type": "answer", "sdp": "v=0"}),
            json!({"type": "ice-candidate", "candidate": {"candidate": "", "sdp_mid": null, "sdp_m_line_index": 0}}),
            json!({"type": "media-state", "audio": true, "video": false}),
            json!({"type": "screen-share-start", "track_id": "abc"}),
            json!({"type": "screen-share-stop"}),
            json!({"type": "force-mute", "target": Uuid::now_v7(), "muted": true}),
            json!({"type": "chat", "text": "hello"}),
            json!({"type": "leave"}),
            json!({"type": "pong"}),
        ];
        for message in valid {
            assert!(validator.is_valid(&message), "the contract refuses {message}");
            assert!(parse(&message.to_string()).is_ok(), "the server refuses {message}");
        }
        let invalid = [
            json!({"type": "chat", "text": "hi", "extra": 1}),
            json!({"type": "chat"}),
            json!({"type": "media-state", "audio": "yes", "video": false}),
            json!({"type": "force-mute", "target": 7, "muted": true}),
            json!({"type": "offer", "sdp": ""}),
            json!({"type": "screen-share-start", "track_id": "x".repeat(129)}),
            json!({"type": "ice-candidate", "candidate": {"candidate": "x".repeat(1025)}}),
        ];
        for message in invalid {
            assert!(!validator.is_valid(&message), "the contract accepts {message}");
            assert!(parse(&message.to_string()).is_err(), "the server accepts {message}");
        }
    }
}
