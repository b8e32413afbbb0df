//! One participant's connection with the server: a handle for the signalling layer and an actor
//! task that owns the connection and serialises every negotiation step.

mod actor;
pub(crate) mod connection;
mod handler;
pub(crate) mod receivers;

use std::sync::{Arc, Weak};

use tokio::sync::{mpsc, watch};
use uuid::Uuid;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{RTCIceCandidateInit, RTCPeerConnectionState};

use crate::publication::{Publication, PublicationKey, Subscription};
use crate::room::MediaRoom;
use crate::{SfuError, Shared};

/// An ICE candidate as browsers exchange them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCandidate {
    /// The `candidate:` line; empty for end-of-candidates.
    pub candidate: String,
    /// The media section's mid.
    pub sdp_mid: Option<String>,
    /// The media section's index.
    pub sdp_m_line_index: Option<u16>,
    /// The ICE username fragment.
    pub username_fragment: Option<String>,
}

/// The connection's state, as the signalling layer needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Media can flow.
    Connected,
    /// Connectivity was lost; it may come back.
    Disconnected,
    /// Connectivity is gone; the client must renegotiate with an ICE restart or reconnect.
    Failed,
}

/// What the server must send to the participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// An SDP offer (the server renegotiates because tracks came or went).
    Offer(String),
    /// The SDP answer to the participant's offer.
    Answer(String),
    /// A server ICE candidate found after the description was sent.
    Candidate(IceCandidate),
    /// The participant's last signalling message could not be used.
    Rejected {
        /// Machine code (`invalid_sdp`, `unexpected_answer`).
        code: &'static str,
        /// Human text.
        message: String,
    },
    /// The connection changed state.
    Connection(ConnectionState),
}

pub(crate) enum Command {
    RemoteOffer(String),
    RemoteAnswer(String),
    RemoteCandidate(IceCandidate),
    ScreenTrack(String),
    Subscribe(Arc<Publication>, Subscription),
    Unsubscribe(PublicationKey),
    TrackArrived(Arc<dyn TrackRemote>),
    LocalCandidate(RTCIceCandidateInit),
    ConnectionState(RTCPeerConnectionState),
    Close,
}

/// What the signalling layer and the room ask of a connection, whichever engine drives it.
pub(crate) enum Signal {
    RemoteOffer(String),
    RemoteAnswer(String),
    RemoteCandidate(IceCandidate),
    ScreenTrack(String),
    Subscribe(Arc<Publication>),
    Unsubscribe(PublicationKey),
    Close,
}

/// Where a handle's requests go.
#[derive(Clone)]
enum Link {
    /// The connection's actor (webrtc-rs's async layer).
    Actor(mpsc::UnboundedSender<Command>),
    /// The media worker driving the connection ([`crate::engine`]).
    Engine(crate::engine::PeerLink),
}

/// The handle the signalling layer and the room use; cheap to clone.
#[derive(Clone)]
pub struct MediaPeer {
    user: Uuid,
    session: u64,
    link: Link,
}

impl MediaPeer {
    /// Builds the connection and starts its actor; events for the participant go to `events`.
    pub(crate) async fn spawn(
        shared: Arc<Shared>,
        room: Weak<MediaRoom>,
        user: Uuid,
        session: u64,
        events: mpsc::UnboundedSender<PeerEvent>,
    ) -> Result<Self, SfuError> {
        let (commands, inbox) = mpsc::unbounded_channel();
        let (gathered_tx, gathered) = watch::channel(false);
        let handler = Arc::new(handler::Handler { commands: commands.clone(), gathered: gathered_tx });
        let built = connection::build(&shared, handler).await?;
        let meeting = room.upgrade().map(|room| room.meeting()).unwrap_or_default();
        let span = tracing::info_span!("sfu_peer", %meeting, %user, media_session = session);
        let actor = actor::Actor::new(built, shared, room, user, events, gathered);
        tokio::spawn(tracing::Instrument::instrument(actor.run(inbox), span));
        Ok(Self { user, session, link: Link::Actor(commands) })
    }

    /// A handle for a connection the media engine drives.
    pub(crate) fn on_engine(user: Uuid, session: u64, link: crate::engine::PeerLink) -> Self {
        Self { user, session, link: Link::Engine(link) }
    }

    fn send(&self, signal: Signal) {
        match &self.link {
            Link::Engine(link) => link.send(signal),
            Link::Actor(commands) => {
                let command = match signal {
                    Signal::RemoteOffer(sdp) => Command::RemoteOffer(sdp),
                    Signal::RemoteAnswer(sdp) => Command::RemoteAnswer(sdp),
                    Signal::RemoteCandidate(candidate) => Command::RemoteCandidate(candidate),
                    Signal::ScreenTrack(track_id) => Command::ScreenTrack(track_id),
                    Signal::Subscribe(publication) => {
                        // The queue starts at once, so the subscriber misses no packet.
                        let subscription = publication.subscribe();
                        let id = subscription.id;
                        if commands.send(Command::Subscribe(publication.clone(), subscription)).is_err() {
                            publication.unsubscribe(id);
                        }
                        return;
                    }
                    Signal::Unsubscribe(key) => Command::Unsubscribe(key),
                    Signal::Close => Command::Close,
                };
                let _ = commands.send(command);
            }
        }
    }

    /// The participant.
    pub fn user(&self) -> Uuid {
        self.user
    }

    /// Tells this connection apart from earlier ones of the same participant.
    pub fn session(&self) -> u64 {
        self.session
    }

    /// The participant's SDP offer.
    pub fn offer(&self, sdp: String) {
        self.send(Signal::RemoteOffer(sdp));
    }

    /// The participant's SDP answer to the server's offer.
    pub fn answer(&self, sdp: String) {
        self.send(Signal::RemoteAnswer(sdp));
    }

    /// A trickled ICE candidate of the participant.
    pub fn candidate(&self, candidate: IceCandidate) {
        self.send(Signal::RemoteCandidate(candidate));
    }

    /// Marks the participant's track `track_id` as their screen (announced before the offer
    /// that carries it).
    pub fn screen_track(&self, track_id: String) {
        self.send(Signal::ScreenTrack(track_id));
    }

    /// Delivers `publication` to this participant.
    pub(crate) fn subscribe(&self, publication: Arc<Publication>) {
        self.send(Signal::Subscribe(publication));
    }

    /// Stops delivering the publication `key`.
    pub(crate) fn unsubscribe(&self, key: PublicationKey) {
        self.send(Signal::Unsubscribe(key));
    }

    /// Closes the connection (its publications stay with the room).
    pub(crate) fn close(&self) {
        self.send(Signal::Close);
    }
}
