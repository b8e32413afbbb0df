//! A test participant's signalling socket. A reader task answers pings and, when the participant
//! has media, handles the negotiation messages; everything else is handed to the test.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use uuid::Uuid;
use webrtc::peer_connection::RTCIceCandidateInit;

use crate::media::MediaClient;
use crate::{TestApp, TestUser};

/// How long a test waits for one expected message.
const WAIT: Duration = Duration::from_secs(15);

/// A connected signalling socket.
pub struct RoomClient {
    /// The user.
    pub user_id: Uuid,
    outgoing: mpsc::UnboundedSender<Message>,
    events: mpsc::UnboundedReceiver<Value>,
    closed: watch::Receiver<Option<(u16, String)>>,
    media: Option<Arc<MediaClient>>,
    server_offers: Arc<AtomicUsize>,
    hold_offers: Arc<AtomicBool>,
}

impl RoomClient {
    /// Joins `meeting` through the API and opens its signalling socket.
    pub async fn join(user: &TestUser, meeting: Uuid) -> Self {
        let joined = user.client.join_meeting().meeting_id(meeting).send().await.expect("join").into_inner();
        Self::open(&format!("{}?token={}", joined.signaling_url, joined.room_token), user.id, None).await
    }

    /// Joins with a media connection that is driven automatically.
    pub async fn join_with_media(user: &TestUser, meeting: Uuid, media: Arc<MediaClient>) -> Self {
        let joined = user.client.join_meeting().meeting_id(meeting).send().await.expect("join").into_inner();
        Self::open(&format!("{}?token={}", joined.signaling_url, joined.room_token), user.id, Some(media)).await
    }

    /// Opens `url` (a full `ws://…?token=…`) as `user_id`.
    pub async fn open(url: &str, user_id: Uuid, media: Option<Arc<MediaClient>>) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("the WebSocket upgrade");
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
        let (events_tx, events) = mpsc::unbounded_channel();
        let (closed_tx, closed) = watch::channel(None);
        tokio::spawn(async move {
            while let Some(message) = to_send.recv().await {
                if sink.send(message).await.is_err() {
                    return;
                }
            }
        });
        let reader_media = media.clone();
        let reply = outgoing.clone();
        let server_offers = Arc::new(AtomicUsize::new(0));
        let offers = server_offers.clone();
        let hold_offers = Arc::new(AtomicBool::new(false));
        let holding = hold_offers.clone();
        tokio::spawn(async move {
            while let Some(frame) = stream.next().await {
                match frame {
                    Ok(Message::Text(text)) => {
                        let Ok(value) = serde_json::from_str::<Value>(&text) else { continue };
                        if value["type"] == "offer" {
                            offers.fetch_add(1, Ordering::SeqCst);
                        }
                        let negotiation = value["type"] == "offer" || value["type"] == "answer";
                        let held = negotiation && holding.load(Ordering::SeqCst);
                        if held || !handle_automatically(&value, reader_media.as_deref(), &reply).await {
                            let _ = events_tx.send(value);
                        }
                    }
                    Ok(Message::Close(frame)) => {
                        let _ =
                            closed_tx.send(Some(frame.map(|f| (u16::from(f.code), f.reason.to_string())).unwrap_or((1005, String::new()))));
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        let _ = closed_tx.send_if_modified(|current| {
                            current.get_or_insert((1006, "connection lost".into()));
                            true
                        });
                        return;
                    }
                }
            }
        });
        Self { user_id, outgoing, events, closed, media, server_offers, hold_offers }
    }

    /// Sends a message.
    pub fn send(&self, message: Value) {
        let _ = self.outgoing.send(Message::Text(message.to_string().into()));
    }

    /// Sends raw text.
    pub fn send_text(&self, text: String) {
        let _ = self.outgoing.send(Message::Text(text.into()));
    }

    /// The next message of `kind`, skipping others; panics after 15 s or on close.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(message)) if message["type"] == kind => return message,
                Ok(Some(_)) => {}
                Ok(None) => panic!("the socket closed ({:?}) while waiting for `{kind}`", *self.closed.borrow()),
                Err(_) => panic!("no `{kind}` within {WAIT:?}"),
            }
        }
    }

    /// Whether a message of `kind` arrives within `within` (others are skipped).
    pub async fn receives(&mut self, kind: &str, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(message)) if message["type"] == kind => return true,
                Ok(Some(_)) => {}
                _ => return false,
            }
        }
    }

    /// The close code and reason once the server closed the socket; panics after 15 s.
    pub async fn expect_close(&mut self) -> (u16, String) {
        let mut closed = self.closed.clone();
        let code = tokio::time::timeout(WAIT, closed.wait_for(Option::is_some)).await.expect("the socket closes in time").expect("watch");
        code.clone().unwrap_or_default()
    }

    /// Closes the socket from the client side (a dropped connection, not a `leave`).
    pub fn drop_connection(&self) {
        let _ = self
            .outgoing
            .send(Message::Close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame { code: CloseCode::Away, reason: "".into() })));
    }

    /// Sends the participant's first offer (its media must have its tracks already).
    pub async fn negotiate(&self) {
        let media = self.media.as_ref().expect("a media participant");
        let offer = media.offer().await;
        self.send(json!({"type": "offer", "sdp": offer}));
    }

    /// While on, server offers and answers are handed to the test (`expect("offer")`) instead of
    /// being applied.
    pub fn hold_offers(&self, hold: bool) {
        self.hold_offers.store(hold, Ordering::SeqCst);
    }

    /// Offers the server has sent so far (each one a renegotiation the client answered).
    pub fn server_offers(&self) -> usize {
        self.server_offers.load(Ordering::SeqCst)
    }

    /// Waits until the server has sent more than `count` offers.
    pub async fn wait_for_server_offer_after(&self, count: usize) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.server_offers() <= count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.server_offers() > count
    }

    /// The media connection.
    pub fn media(&self) -> &Arc<MediaClient> {
        self.media.as_ref().expect("a media participant")
    }
}

/// Answers pings and negotiation messages; false for messages the test should see.
async fn handle_automatically(message: &Value, media: Option<&MediaClient>, reply: &mpsc::UnboundedSender<Message>) -> bool {
    let send = |value: Value| {
        let _ = reply.send(Message::Text(value.to_string().into()));
    };
    match (message["type"].as_str(), media) {
        (Some("ping"), _) => {
            send(json!({"type": "pong"}));
            true
        }
        (Some("offer"), Some(media)) => {
            let collided = media.offering().await;
            let answer = media.answer(message["sdp"].as_str().unwrap_or_default().to_string()).await;
            send(json!({"type": "answer", "sdp": answer}));
            // The polite side of perfect negotiation offers again what the collision took back.
            if collided {
                send(json!({"type": "offer", "sdp": media.offer().await}));
            }
            true
        }
        (Some("answer"), Some(media)) => {
            media.accept(message["sdp"].as_str().unwrap_or_default().to_string()).await;
            true
        }
        (Some("ice-candidate"), Some(media)) => {
            let candidate = &message["candidate"];
            media
                .add_candidate(RTCIceCandidateInit {
                    candidate: candidate["candidate"].as_str().unwrap_or_default().to_string(),
                    sdp_mid: candidate["sdp_mid"].as_str().map(str::to_string),
                    sdp_mline_index: candidate["sdp_m_line_index"].as_u64().map(|i| i as u16),
                    ..Default::default()
                })
                .await;
            true
        }
        _ => false,
    }
}

impl TestApp {
    /// `ws://<server>/ws/room/<meeting>?token=<token>` for hand-made tokens.
    pub fn room_url(&self, meeting: &str, token: &str) -> String {
        format!("ws://{}/ws/room/{meeting}?token={token}", self.address)
    }
}
