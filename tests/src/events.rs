//! A test client of the live events socket (`api-contract/events.yaml`).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::TestUser;

/// How long a test waits for one expected message.
const WAIT: Duration = Duration::from_secs(15);

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An open events socket.
pub struct EventsClient {
    socket: Socket,
}

impl EventsClient {
    /// Takes a ticket as `user` and opens the socket.
    pub async fn connect(user: &TestUser) -> Self {
        let ticket = user.client.create_events_ticket().send().await.expect("a ticket").into_inner();
        Self::open(&ticket.url).await
    }

    /// Opens `url` (`ws://…/ws/events?ticket=…`).
    pub async fn open(url: &str) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("the WebSocket upgrade");
        Self { socket }
    }

    /// Sends a JSON message.
    pub async fn send(&mut self, message: Value) {
        self.socket.send(Message::Text(message.to_string().into())).await.expect("send");
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: String) {
        self.socket.send(Message::Text(text.into())).await.expect("send");
    }

    /// Subscribes to the review of `meeting` and returns the `subscribed` message.
    pub async fn subscribe_review(&mut self, meeting: Uuid, since: Option<i64>) -> Value {
        let mut message = json!({"type": "subscribe", "topic": format!("review:{meeting}")});
        if let Some(since) = since {
            message["since"] = since.into();
        }
        self.send(message).await;
        self.expect("subscribed").await
    }

    /// The next message that is not a `ping`.
    pub async fn next(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next()).await.expect("a message in time").expect("the socket is open");
            match frame.expect("a frame") {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON");
                    if value["type"] != "ping" {
                        return value;
                    }
                }
                Message::Close(frame) => panic!("the socket closed: {frame:?}"),
                _ => {}
            }
        }
    }

    /// The next message, which must be of `kind`.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let message = self.next().await;
        assert_eq!(message["type"], kind, "expected `{kind}`, got {message}");
        message
    }

    /// The next message other than `ping` within `within`; `None` when none came.
    pub async fn next_within(&mut self, within: Duration) -> Option<Value> {
        tokio::time::timeout(within, self.next()).await.ok()
    }

    /// Waits for the close frame; its code.
    pub async fn expect_close(&mut self) -> u16 {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next()).await.expect("a close in time");
            match frame {
                Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
                Some(Ok(Message::Close(None))) | None => return 1005,
                Some(Ok(_)) => {}
                Some(Err(error)) => panic!("socket error before close: {error}"),
            }
        }
    }
}
