//! A Janus VideoRoom participant, for the SFU benchmark's side-by-side runs: Janus's WebSocket
//! API (subprotocol `janus-protocol`) drives the same webrtc-rs [`MediaClient`] Mit's
//! participants use, so both servers get the same peers, packets and timing.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::media::MediaClient;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One Janus session with one VideoRoom plugin handle.
pub struct JanusParticipant {
    socket: Socket,
    session: u64,
    handle: u64,
    transactions: u64,
}

impl JanusParticipant {
    /// Opens a session at `url` (e.g. `ws://127.0.0.1:8188`) and attaches the VideoRoom plugin.
    pub async fn attach(url: &str) -> Self {
        let mut request = url.into_client_request().expect("a Janus URL");
        request.headers_mut().insert("Sec-WebSocket-Protocol", "janus-protocol".parse().expect("a header value"));
        let (socket, _) = tokio_tungstenite::connect_async(request).await.expect("Janus's WebSocket");
        let mut participant = Self { socket, session: 0, handle: 0, transactions: 0 };
        let created = participant.call(json!({"janus": "create"})).await;
        participant.session = created["data"]["id"].as_u64().expect("a session id");
        let attached = participant.call(json!({"janus": "attach", "plugin": "janus.plugin.videoroom"})).await;
        participant.handle = attached["data"]["id"].as_u64().expect("a handle id");
        participant
    }

    /// Creates VideoRoom `room` for up to `publishers` publishers (Opus and VP8).
    pub async fn create_room(&mut self, room: u64, publishers: usize) {
        let body =
            json!({"request": "create", "room": room, "publishers": publishers, "audiocodec": "opus", "videocodec": "vp8", "bitrate": 0});
        let reply = self.message(body, None).await;
        assert_eq!(reply["plugindata"]["data"]["videoroom"], "created", "Janus creates the room: {reply}");
    }

    /// Joins `room` as a publisher and publishes `media`'s tracks; returns the publisher's feed id.
    pub async fn publish(&mut self, room: u64, media: &MediaClient) -> u64 {
        let joined = self.message(json!({"request": "join", "ptype": "publisher", "room": room}), None).await;
        let feed = joined["plugindata"]["data"]["id"].as_u64().unwrap_or_else(|| panic!("Janus lets the publisher join: {joined}"));
        let offer = media.offer().await;
        let reply = self.message(json!({"request": "publish"}), Some(json!({"type": "offer", "sdp": offer, "trickle": false}))).await;
        let answer = reply["jsep"]["sdp"].as_str().unwrap_or_else(|| panic!("Janus answers the publisher: {reply}"));
        media.accept(answer.to_string()).await;
        feed
    }

    /// Subscribes `media` to `feeds` in `room` on one connection.
    pub async fn subscribe(&mut self, room: u64, feeds: &[u64], media: &MediaClient) {
        let streams: Vec<Value> = feeds.iter().map(|feed| json!({"feed": feed})).collect();
        let reply = self.message(json!({"request": "join", "ptype": "subscriber", "room": room, "streams": streams}), None).await;
        let offer = reply["jsep"]["sdp"].as_str().unwrap_or_else(|| panic!("Janus offers the subscriber: {reply}"));
        let answer = media.answer(offer.to_string()).await;
        self.message(json!({"request": "start"}), Some(json!({"type": "answer", "sdp": answer, "trickle": false}))).await;
    }

    /// Reads (and drops) whatever Janus sends from now on, so its socket never backs up.
    pub fn drain(self) -> tokio::task::JoinHandle<()> {
        let mut socket = self.socket;
        tokio::spawn(async move { while let Some(Ok(_)) = socket.next().await {} })
    }

    async fn message(&mut self, body: Value, jsep: Option<Value>) -> Value {
        let mut request = json!({"janus": "message", "body": body});
        if let Some(jsep) = jsep {
            request["jsep"] = jsep;
        }
        self.call(request).await
    }

    /// Sends `request` and waits for its outcome: the reply, or the event that follows an `ack`.
    async fn call(&mut self, mut request: Value) -> Value {
        self.transactions += 1;
        let transaction = self.transactions.to_string();
        request["transaction"] = json!(transaction);
        if self.session != 0 {
            request["session_id"] = json!(self.session);
        }
        if self.handle != 0 {
            request["handle_id"] = json!(self.handle);
        }
        self.socket.send(Message::text(request.to_string())).await.expect("Janus takes the request");
        while let Some(frame) = self.socket.next().await {
            let Ok(Message::Text(text)) = frame else { continue };
            let Ok(reply) = serde_json::from_str::<Value>(&text) else { continue };
            if reply["transaction"] != json!(transaction) || reply["janus"] == "ack" {
                continue;
            }
            assert_ne!(reply["janus"], "error", "Janus refuses {request}: {reply}");
            return reply;
        }
        panic!("Janus closed the socket during {request}");
    }
}
