//! A mediasoup participant, for the SFU benchmark's side-by-side runs: the small signalling
//! server in `tests/mediasoup/server.mjs` (JSON over WebSocket, plain SDP offer/answer) drives
//! the same webrtc-rs [`MediaClient`] Mit's participants use, so both servers get the same
//! peers, packets and timing.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::media::MediaClient;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One WebSocket to the mediasoup signalling server; each publish or subscribe on it is a
/// WebRTC transport of its own.
pub struct MediasoupParticipant {
    socket: Socket,
    requests: u64,
}

impl MediasoupParticipant {
    /// Connects to the signalling server at `url` (e.g. `ws://127.0.0.1:18300`).
    pub async fn connect(url: &str) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("the mediasoup server's WebSocket");
        Self { socket, requests: 0 }
    }

    /// Publishes `media`'s tracks (one producer per sending m-line); returns the producer ids.
    pub async fn publish(&mut self, media: &MediaClient) -> Vec<String> {
        let offer = media.offer().await;
        let reply = self.call(json!({"request": "publish", "sdp": offer})).await;
        let answer = reply["answer"].as_str().unwrap_or_else(|| panic!("mediasoup answers the publisher: {reply}"));
        media.accept(answer.to_string()).await;
        let producers = reply["producers"].as_array().unwrap_or_else(|| panic!("mediasoup names the producers: {reply}"));
        producers.iter().filter_map(|id| id.as_str().map(str::to_string)).collect()
    }

    /// Subscribes `media` to `producers` on one connection.
    pub async fn subscribe(&mut self, producers: &[String], media: &MediaClient) {
        let reply = self.call(json!({"request": "subscribe", "producers": producers})).await;
        let offer = reply["offer"].as_str().unwrap_or_else(|| panic!("mediasoup offers the subscriber: {reply}"));
        let answer = media.answer(offer.to_string()).await;
        self.call(json!({"request": "answer", "sdp": answer})).await;
    }

    /// Reads (and drops) whatever the server sends from now on; the socket stays open, and
    /// with it the server's transports for this participant.
    pub fn drain(self) -> tokio::task::JoinHandle<()> {
        let mut socket = self.socket;
        tokio::spawn(async move { while let Some(Ok(_)) = socket.next().await {} })
    }

    /// Sends `request` with a fresh id and waits for the reply that echoes it.
    async fn call(&mut self, mut request: Value) -> Value {
        self.requests += 1;
        let id = self.requests;
        request["id"] = json!(id);
        self.socket.send(Message::text(request.to_string())).await.expect("mediasoup's server takes the request");
        while let Some(frame) = self.socket.next().await {
            let Ok(Message::Text(text)) = frame else { continue };
            let Ok(reply) = serde_json::from_str::<Value>(&text) else { continue };
            if reply["id"] != json!(id) {
                continue;
            }
            assert!(reply.get("error").is_none(), "mediasoup's server refuses {request}: {reply}");
            return reply;
        }
        panic!("mediasoup's server closed the socket during {request}");
    }
}
