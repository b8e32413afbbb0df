//! One participant's connection with the server, as the signalling layer and the room see it: a
//! handle whose requests go to the media worker that drives the connection ([`crate::engine`]),
//! and the events that come back.

use std::sync::Arc;

use uuid::Uuid;

use crate::publication::{Publication, PublicationKey};

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

/// What the signalling layer and the room ask of a connection.
pub(crate) enum Signal {
    RemoteOffer(String),
    RemoteAnswer(String),
    RemoteCandidate(IceCandidate),
    ScreenTrack(String),
    Subscribe(Arc<Publication>),
    Unsubscribe(PublicationKey),
    Close,
}

/// The handle the signalling layer and the room use; cheap to clone.
#[derive(Clone)]
pub struct MediaPeer {
    user: Uuid,
    session: u64,
    link: crate::engine::PeerLink,
}

impl MediaPeer {
    /// A handle for a connection the media engine drives.
    pub(crate) fn new(user: Uuid, session: u64, link: crate::engine::PeerLink) -> Self {
        Self { user, session, link }
    }

    fn send(&self, signal: Signal) {
        self.link.send(signal);
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
