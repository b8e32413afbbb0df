//! One signalling socket: admission, then a loop over the client's messages, the room's
//! broadcasts, the SFU's negotiation events and the keepalive, until the socket ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use mit_domain::DomainError;
use mit_domain::realtime::{Admission, Refusal};
use mit_sfu::{MediaPeer, PeerEvent};
use poem::web::websocket::{Message, WebSocketStream};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Realtime;
use super::messages::{ClientMessage, IceCandidate, ServerMessage, parse};
use super::room::{Entry, Exit, LiveRoom, OUTBOX_DEPTH, Outgoing};
use super::throttle::MessageBudget;

/// How often the server pings.
const PING_INTERVAL: Duration = Duration::from_secs(15);
/// How long a socket may stay silent.
const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// Messages per second a client may send, and its burst.
const MESSAGE_RATE: (u32, u32) = (50, 200);

/// The close code and reason for an admission refusal (`x-close-codes` in signaling.yaml).
pub fn close_code(refusal: Refusal) -> (u16, &'static str) {
    match refusal {
        Refusal::InvalidToken => (4001, "invalid or expired room token"),
        Refusal::MeetingNotFound => (4002, "meeting not found"),
        Refusal::NotParticipant => (4003, "not a participant of this meeting"),
        Refusal::NotStarted => (4004, "the meeting has not started"),
        Refusal::Ended => (4005, "the meeting is over"),
        Refusal::RoomFull => (4006, "the room is full"),
        Refusal::Elsewhere => (4010, "another node hosts this room: join again"),
        Refusal::Internal => (4011, "internal error"),
    }
}

type Sink = futures::stream::SplitSink<WebSocketStream, Message>;
type Stream = futures::stream::SplitStream<WebSocketStream>;

/// Serves one socket from upgrade to close, inside a `signalling` span naming the meeting, and
/// once admitted the user and the room's session.
pub async fn serve(realtime: Arc<Realtime>, meeting: Option<Uuid>, token: Option<String>, socket: WebSocketStream) {
    let span = tracing::info_span!("signalling", meeting = ?meeting, user = tracing::field::Empty, session = tracing::field::Empty);
    tracing::Instrument::instrument(serve_socket(realtime, meeting, token, socket), span).await;
}

async fn serve_socket(realtime: Arc<Realtime>, meeting: Option<Uuid>, token: Option<String>, socket: WebSocketStream) {
    let (mut sink, stream) = socket.split();
    let admission = match (meeting, token) {
        (None, _) => Err(Refusal::MeetingNotFound),
        (_, None) => Err(Refusal::InvalidToken),
        (Some(meeting), Some(token)) => realtime.mit.admit(meeting, &token).await,
    };
    let admission = match admission {
        Ok(admission) => admission,
        Err(refusal) => return refuse(&mut sink, refusal).await,
    };
    if !realtime.directory.admits(admission.meeting_id).await {
        return refuse(&mut sink, Refusal::Elsewhere).await;
    }
    let Some(room) = realtime.rooms.room(admission.meeting_id) else {
        return refuse(&mut sink, Refusal::Ended).await;
    };
    let (outbox_tx, outbox) = mpsc::channel(OUTBOX_DEPTH);
    let (session, entry) = match room.enter(&admission, outbox_tx) {
        Ok(entered) => entered,
        Err(refusal) => return refuse(&mut sink, refusal).await,
    };
    tracing::Span::current().record("user", tracing::field::display(admission.user_id)).record("session", session);
    tracing::debug!(?entry, "entered the room");
    let (events_tx, events) = mpsc::unbounded_channel();
    let peer = match room.media().connect(admission.user_id, events_tx) {
        Ok(peer) => peer,
        Err(error) => {
            tracing::error!(%error, "cannot open a media connection");
            room.exit(admission.user_id, session, Exit::Dropped);
            return refuse(&mut sink, Refusal::Internal).await;
        }
    };
    realtime.sync_recording(&room, &admission).await;
    let info = room.room_info(admission.user_id, admission.role, entry == Entry::Resumed);
    let mut connection = Connection {
        realtime,
        room: room.clone(),
        admission,
        peer,
        sink,
        budget: MessageBudget::new(MESSAGE_RATE.0, MESSAGE_RATE.1),
        rate_warned: None,
    };
    let exit = if connection.send(&info).await { connection.run(stream, outbox, events).await } else { Exit::Dropped };
    if exit == Exit::Dropped {
        room.media().disconnect(connection.admission.user_id, connection.peer.session());
    }
    room.exit(connection.admission.user_id, session, exit);
}

async fn refuse(sink: &mut Sink, refusal: Refusal) {
    let (code, reason) = close_code(refusal);
    let _ = sink.send(Message::close_with(code, reason)).await;
    let _ = sink.close().await;
}

struct Connection {
    realtime: Arc<Realtime>,
    room: Arc<LiveRoom>,
    admission: Admission,
    peer: MediaPeer,
    sink: Sink,
    budget: MessageBudget,
    rate_warned: Option<Instant>,
}

impl Connection {
    async fn run(
        &mut self,
        mut stream: Stream,
        mut outbox: mpsc::Receiver<Outgoing>,
        mut events: mpsc::UnboundedReceiver<PeerEvent>,
    ) -> Exit {
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
        let mut last_heard = Instant::now();
        loop {
            tokio::select! {
                incoming = stream.next() => {
                    let Some(Ok(frame)) = incoming else { return Exit::Dropped };
                    last_heard = Instant::now();
                    if let Some(exit) = self.frame(frame).await {
                        return exit;
                    }
                }
                outgoing = outbox.recv() => match outgoing {
                    Some(Outgoing::Text(text)) => {
                        if self.sink.send(Message::Text(text.to_string())).await.is_err() {
                            return Exit::Dropped;
                        }
                    }
                    Some(Outgoing::Close(code, reason)) => {
                        let _ = self.sink.send(Message::close_with(code, reason)).await;
                        let _ = self.sink.close().await;
                        return match code {
                            4007 => Exit::Replaced,
                            4008 => Exit::Kicked,
                            _ => Exit::Left,
                        };
                    }
                    None => return Exit::Dropped,
                },
                Some(event) = events.recv() => {
                    if let Some(message) = peer_message(event)
                        && !self.send(&message).await
                    {
                        return Exit::Dropped;
                    }
                }
                _ = ping.tick() => {
                    if last_heard.elapsed() > IDLE_TIMEOUT {
                        let _ = self.sink.send(Message::close_with(4009u16, "no message for 45 s")).await;
                        return Exit::Dropped;
                    }
                    if !self.send(&ServerMessage::Ping).await {
                        return Exit::Dropped;
                    }
                }
            }
        }
    }

    /// Handles one frame; `Some` ends the connection.
    async fn frame(&mut self, frame: Message) -> Option<Exit> {
        let text = match frame {
            Message::Text(text) => text,
            Message::Close(_) => return Some(Exit::Dropped),
            Message::Ping(_) | Message::Pong(_) => return None,
            Message::Binary(_) => {
                self.send(&ServerMessage::error("invalid_message", "send JSON text frames")).await;
                return None;
            }
        };
        if !self.budget.spend(Instant::now()) {
            // One error per second at most, so a flood does not also flood the other way.
            if self.rate_warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                self.rate_warned = Some(Instant::now());
                self.send(&ServerMessage::error("rate_limited", "too many messages; this one was dropped")).await;
            }
            return None;
        }
        match parse(&text) {
            Ok(message) => self.message(message).await,
            Err(refused) => {
                self.send(&ServerMessage::error(refused.code, refused.message)).await;
                None
            }
        }
    }

    async fn message(&mut self, message: ClientMessage) -> Option<Exit> {
        let user = self.admission.user_id;
        match message {
            ClientMessage::Offer { sdp } => self.peer.offer(sdp),
            ClientMessage::Answer { sdp } => self.peer.answer(sdp),
            ClientMessage::IceCandidate { candidate } => self.peer.candidate(sfu_candidate(candidate)),
            ClientMessage::MediaState { audio, video } => self.room.set_media_state(user, audio, video),
            ClientMessage::ScreenShareStart { track_id } => {
                self.peer.screen_track(track_id);
                self.room.set_screen(user, true);
            }
            ClientMessage::ScreenShareStop => self.room.set_screen(user, false),
            ClientMessage::ForceMute { target, muted } => self.force_mute(target, muted).await,
            ClientMessage::Chat { text } => self.chat(&text).await,
            ClientMessage::Leave => {
                let _ = self.sink.send(Message::close_with(1000u16, "left the meeting")).await;
                let _ = self.sink.close().await;
                return Some(Exit::Left);
            }
            ClientMessage::Pong => {}
        }
        None
    }

    async fn force_mute(&mut self, target: Uuid, muted: bool) {
        let meeting = self.admission.meeting_id;
        match self.realtime.mit.is_host(meeting, self.admission.user_id).await {
            Ok(true) => {
                if !self.room.force_mute(self.admission.user_id, target, muted) {
                    self.send(&ServerMessage::error("not_found", "that participant is not in the room")).await;
                }
            }
            Ok(false) => {
                self.send(&ServerMessage::error("forbidden", "only a host may mute others")).await;
            }
            Err(error) => self.internal(error).await,
        }
    }

    async fn chat(&mut self, text: &str) {
        match self.realtime.mit.post_chat(self.admission.meeting_id, self.admission.user_id, text).await {
            Ok(message) => self.room.broadcast(ServerMessage::from(message), None),
            Err(DomainError::Invalid { message, .. }) => {
                self.send(&ServerMessage::error("invalid_message", message)).await;
            }
            Err(error) => self.internal(error).await,
        }
    }

    async fn internal(&mut self, error: DomainError) {
        tracing::error!(%error, "signalling message failed");
        self.send(&ServerMessage::error("internal_error", "something went wrong; try again")).await;
    }

    /// Sends one message; false once the socket is gone.
    async fn send(&mut self, message: &ServerMessage) -> bool {
        self.sink.send(Message::Text(message.to_text())).await.is_ok()
    }
}

fn sfu_candidate(candidate: IceCandidate) -> mit_sfu::IceCandidate {
    mit_sfu::IceCandidate {
        candidate: candidate.candidate,
        sdp_mid: candidate.sdp_mid,
        sdp_m_line_index: candidate.sdp_m_line_index,
        username_fragment: candidate.username_fragment,
    }
}

/// What the participant is told about an SFU event (connection states stay server-side).
fn peer_message(event: PeerEvent) -> Option<ServerMessage> {
    Some(match event {
        PeerEvent::Offer(sdp) => ServerMessage::Offer { sdp },
        PeerEvent::Answer(sdp) => ServerMessage::Answer { sdp },
        PeerEvent::Rejected { code, message } => ServerMessage::error(code, message),
        PeerEvent::Connection(state) => {
            tracing::debug!(?state, "media connection state");
            return None;
        }
    })
}

impl Realtime {
    /// Brings the room's recording state up to the database's (auto-record at start, or a
    /// host's start while the room did not exist yet).
    async fn sync_recording(&self, room: &Arc<LiveRoom>, admission: &Admission) {
        match self.mit.recording_state(admission.meeting_id, admission.user_id).await {
            Ok(recording) => room.apply_recording(recording),
            Err(error) => tracing::warn!(%error, "recording state unknown"),
        }
    }
}
