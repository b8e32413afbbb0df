//! One participant's connection on a media worker: the `rtc` state machine, its subscriber legs
//! on recycled outlets, the tracks it publishes, and perfect negotiation with the server as the
//! impolite side, as plain synchronous steps the worker takes between packets. A client offer
//! that collides with the server's own is ignored (the client, polite, rolls back and answers
//! ours, then offers again); the server never rolls back, so its transceivers stay predictable.
//! It offers only after the client's first offer was answered, and batches track changes into
//! one offer at a time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Instant;

use rtc::media_stream::MediaStreamTrackId;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent, RTCTrackEventInit};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::RTCRtpReceiverId;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::outlet::Outlet;
use super::{FeedLink, Local, PeerId};
use crate::interceptor::KeyframeRoutes;
use crate::mux::{Datagram, PortLease};
use crate::peer::{ConnectionState, IceCandidate, PeerEvent, Signal};
use crate::publication::{Publication, PublicationKey, Source};
use crate::room::MediaRoom;

/// One publication flowing to this participant on one of its outlets.
struct Leg {
    publication: Arc<Publication>,
    outlet: usize,
    /// An offer or answer that names this leg has been sent.
    described: bool,
    /// Packets flow (the subscriber has the description, and the payload type is known).
    released: bool,
}

impl Leg {
    fn new(publication: Arc<Publication>, outlet: usize) -> Self {
        // Held-back packets start at a keyframe only if one is asked for now.
        publication.request_keyframe();
        Self { publication, outlet, described: false, released: false }
    }
}

/// One of this participant's incoming tracks and the publication it feeds.
pub(super) struct Feed {
    pub(super) publication: Arc<Publication>,
    receiver: RTCRtpReceiverId,
    ssrc: u32,
}

/// What the worker needs to know about a participant's connection.
pub(crate) struct EnginePeer {
    pub(super) id: PeerId,
    connection: RTCPeerConnection,
    /// The connection's route on the node's port, released with it.
    _lease: PortLease,
    /// The node's announced addresses: the connection's host candidates.
    local: Local,
    keyframes: Arc<KeyframeRoutes>,
    room: Weak<MediaRoom>,
    user: Uuid,
    events: mpsc::UnboundedSender<PeerEvent>,
    /// The worker's inputs, for the keyframe requests of the publications this peer feeds.
    feed_link: FeedLink,
    legs: BTreeMap<PublicationKey, Leg>,
    outlets: Vec<Outlet>,
    /// Outlets carrying nothing, for the next publication of their kind.
    quiet: Vec<usize>,
    feeds: HashMap<MediaStreamTrackId, Feed>,
    screen_tracks: HashSet<String>,
    /// The client's first offer has been answered; the server may offer from now on.
    ready: bool,
    /// The server's offer awaits the client's answer.
    making_offer: bool,
    /// Legs changed since the last offer.
    dirty: bool,
    /// Packets held back per outlet until its subscriber has the description.
    queue_depth: usize,
    /// When the connection next wants `handle_timeout`, as the worker's timer table has it.
    pub(super) deadline: Option<Instant>,
}

/// Everything an [`EnginePeer`] is built from.
pub(crate) struct PeerParts {
    pub(crate) connection: RTCPeerConnection,
    pub(crate) lease: PortLease,
    pub(crate) local: Local,
    pub(crate) keyframes: Arc<KeyframeRoutes>,
    pub(crate) room: Weak<MediaRoom>,
    pub(crate) user: Uuid,
    pub(crate) events: mpsc::UnboundedSender<PeerEvent>,
    pub(crate) feed_link: FeedLink,
    pub(crate) queue_depth: usize,
}

impl EnginePeer {
    /// A participant's new connection.
    pub(crate) fn new(parts: PeerParts) -> Self {
        Self {
            id: parts.lease.slot,
            connection: parts.connection,
            _lease: parts.lease,
            local: parts.local,
            keyframes: parts.keyframes,
            room: parts.room,
            user: parts.user,
            events: parts.events,
            feed_link: parts.feed_link,
            legs: BTreeMap::new(),
            outlets: Vec::new(),
            quiet: Vec::new(),
            feeds: HashMap::new(),
            screen_tracks: HashSet::new(),
            queue_depth: parts.queue_depth,
            ready: false,
            making_offer: false,
            dirty: false,
            deadline: None,
        }
    }

    /// Feeds one datagram (or ICE-TCP frame) to the state machine.
    pub(super) fn receive(&mut self, now: Instant, datagram: Datagram) {
        let (local, protocol) = match (datagram.tcp, self.local.tcp) {
            (true, Some(tcp)) => (tcp, TransportProtocol::TCP),
            (true, None) => return,
            (false, _) => (self.local.udp, TransportProtocol::UDP),
        };
        let transport = TransportContext { local_addr: local, peer_addr: datagram.from, ecn: None, transport_protocol: protocol };
        if let Err(error) = self.connection.handle_read(TaggedBytesMut { now, transport, message: datagram.data }) {
            tracing::trace!(user = %self.user, %error, "datagram refused");
        }
    }

    /// Lets the state machine's timers run.
    pub(super) fn timeout(&mut self, now: Instant) {
        if let Err(error) = self.connection.handle_timeout(now) {
            tracing::debug!(user = %self.user, %error, "connection timer");
        }
    }

    /// When the state machine next wants [`Self::timeout`].
    pub(super) fn next_timeout(&mut self) -> Option<Instant> {
        self.connection.poll_timeout()
    }

    /// The next datagram to send.
    pub(super) fn transmit(&mut self) -> Option<TaggedBytesMut> {
        self.connection.poll_write()
    }

    /// The next media packet received, with the publication it feeds.
    pub(super) fn read(&mut self) -> Option<(Arc<Publication>, rtp::Packet)> {
        use rtc::peer_connection::message::RTCMessage;
        while let Some(message) = self.connection.poll_read() {
            if let RTCMessage::RtpPacket(track, packet) = message.message
                && let Some(feed) = self.feeds.get(&track)
            {
                return Some((feed.publication.clone(), packet));
            }
        }
        None
    }

    /// Writes one packet of a publication to outlet `outlet`; false if it cannot flow.
    pub(super) fn forward(&mut self, now: Instant, outlet: usize, packet: rtp::Packet) -> bool {
        match self.outlets.get_mut(outlet) {
            Some(target) => target.write(&mut self.connection, packet, now),
            None => false,
        }
    }

    /// The (publication, outlet) pairs packets go to (held back on an outlet until released).
    pub(super) fn routes(&self) -> impl Iterator<Item = (u64, usize)> + '_ {
        self.legs.values().map(|leg| (leg.publication.id(), leg.outlet))
    }

    /// Asks the publisher for a keyframe on its incoming track `ssrc`.
    pub(super) fn request_keyframe(&mut self, now: Instant, ssrc: u32) {
        let Some(feed) = self.feeds.values().find(|feed| feed.ssrc == ssrc) else { return };
        let receiver = feed.receiver;
        if let Some(mut receiver) = self.connection.rtp_receiver(receiver) {
            let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: ssrc };
            if let Err(error) = receiver.write_rtcp(now, vec![Box::new(pli)]) {
                tracing::debug!(%error, "keyframe request not sent");
            }
        }
    }

    /// Handles what the state machine reports (tracks, connection state).
    pub(super) fn handle_events(&mut self) {
        while let Some(event) = self.connection.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => self.connection_state(state),
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => self.track_arrived(init),
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnClose(track)) => {
                    self.feeds.remove(&track);
                }
                _ => {}
            }
        }
    }

    /// Carries out one request of the signalling layer or the room; false once closed.
    pub(super) fn signal(&mut self, now: Instant, signal: Signal) -> bool {
        match signal {
            Signal::RemoteOffer(sdp) => self.remote_offer(now, sdp),
            Signal::RemoteAnswer(sdp) => self.remote_answer(now, sdp),
            Signal::RemoteCandidate(candidate) => self.remote_candidate(candidate),
            Signal::ScreenTrack(track_id) => {
                self.screen_tracks.insert(track_id);
            }
            Signal::Subscribe(publication) => self.subscribe(now, publication),
            Signal::Unsubscribe(key) => self.unsubscribe(now, key),
            Signal::Close => {
                self.close();
                return false;
            }
        }
        true
    }

    fn emit(&self, event: PeerEvent) {
        let _ = self.events.send(event);
    }

    fn reject(&self, code: &'static str, message: String) {
        tracing::debug!(user = %self.user, code, %message, "signalling message refused");
        self.emit(PeerEvent::Rejected { code, message });
    }

    fn remote_offer(&mut self, now: Instant, sdp: String) {
        if self.making_offer {
            tracing::debug!(user = %self.user, "offer collision: keeping the server's offer");
            return;
        }
        let offer = match RTCSessionDescription::offer(sdp) {
            Ok(offer) => offer,
            Err(error) => return self.reject("invalid_sdp", format!("the offer is not valid SDP: {error}")),
        };
        let spares = super::receivers::provide(&mut self.connection, &offer);
        let applied = self.connection.set_remote_description(now, offer.clone());
        super::receivers::settle(&mut self.connection, spares);
        if let Err(error) = applied {
            return self.reject("invalid_sdp", format!("the offer cannot be applied: {error}"));
        }
        let carrying: HashSet<_> = self.legs.values().map(|leg| self.outlets[leg.outlet].transceiver()).collect();
        super::receivers::quiet_idle_lines(&mut self.connection, &offer, &carrying);
        let answer = match self.connection.create_answer(None) {
            Ok(answer) => answer,
            Err(error) => return self.reject("invalid_sdp", format!("the offer cannot be answered: {error}")),
        };
        if let Err(error) = self.connection.set_local_description(now, answer) {
            return self.reject("invalid_sdp", format!("the answer cannot be applied: {error}"));
        }
        if let Some(answer) = self.connection.local_description() {
            self.emit(PeerEvent::Answer(answer.sdp));
        }
        self.ready = true;
        for leg in self.legs.values_mut() {
            if self.outlets[leg.outlet].has_mid(&mut self.connection) {
                leg.described = true;
            }
        }
        self.release_legs(now);
        self.offer_if_needed(now);
    }

    fn remote_answer(&mut self, now: Instant, sdp: String) {
        if !self.making_offer {
            return self.reject("unexpected_answer", "there is no server offer to answer".into());
        }
        let applied = match RTCSessionDescription::answer(sdp) {
            Ok(answer) => self.connection.set_remote_description(now, answer).map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        self.making_offer = false;
        if let Err(error) = applied {
            // Take the offer back and make it again: the client gets another chance.
            if let Ok(rollback) = RTCSessionDescription::rollback(None) {
                let _ = self.connection.set_local_description(now, rollback);
            }
            self.dirty = true;
            for leg in self.legs.values_mut() {
                leg.described = false;
            }
            self.reject("invalid_sdp", format!("the answer cannot be applied: {error}"));
            return self.offer_if_needed(now);
        }
        self.release_legs(now);
        self.offer_if_needed(now);
    }

    fn remote_candidate(&mut self, candidate: IceCandidate) {
        let init = RTCIceCandidateInit {
            candidate: candidate.candidate,
            sdp_mid: candidate.sdp_mid,
            sdp_mline_index: candidate.sdp_m_line_index,
            username_fragment: candidate.username_fragment,
            ..Default::default()
        };
        // Candidates of an offer ignored in a collision fail here; that is expected.
        if let Err(error) = self.connection.add_remote_candidate(init) {
            tracing::debug!(user = %self.user, %error, "ICE candidate not added");
        }
    }

    fn connection_state(&self, state: RTCPeerConnectionState) {
        let state = match state {
            RTCPeerConnectionState::Connected => ConnectionState::Connected,
            RTCPeerConnectionState::Disconnected => ConnectionState::Disconnected,
            RTCPeerConnectionState::Failed => ConnectionState::Failed,
            _ => return,
        };
        self.emit(PeerEvent::Connection(state));
    }

    fn subscribe(&mut self, now: Instant, publication: Arc<Publication>) {
        let key = publication.key();
        if key.user == self.user || self.legs.contains_key(&key) {
            return;
        }
        let outlet = match self.outlet_for(&publication) {
            Ok(outlet) => outlet,
            Err(error) => return tracing::warn!(user = %self.user, %error, "cannot add an outgoing track"),
        };
        self.legs.insert(key, Leg::new(publication, outlet));
        self.dirty = true;
        self.offer_if_needed(now);
    }

    /// A quiet outlet of the publication's kind if there is one, else a new one.
    fn outlet_for(&mut self, publication: &Arc<Publication>) -> Result<usize, crate::SfuError> {
        let quiet = self.quiet.iter().position(|&index| self.outlets[index].kind() == publication.kind());
        match quiet {
            Some(position) => {
                let index = self.quiet.swap_remove(position);
                match self.outlets[index].carry(&mut self.connection, publication, &self.keyframes) {
                    Ok(()) => Ok(index),
                    Err(error) => {
                        self.quiet.push(index);
                        Err(error)
                    }
                }
            }
            None => {
                let outlet = Outlet::open(&mut self.connection, publication, &self.keyframes, self.queue_depth)?;
                self.outlets.push(outlet);
                Ok(self.outlets.len() - 1)
            }
        }
    }

    fn unsubscribe(&mut self, now: Instant, key: PublicationKey) {
        let Some(leg) = self.legs.remove(&key) else { return };
        self.outlets[leg.outlet].quiet(&mut self.connection, &self.keyframes);
        self.quiet.push(leg.outlet);
        self.dirty = true;
        self.offer_if_needed(now);
    }

    fn track_arrived(&mut self, init: RTCTrackEventInit) {
        let Some(receiver) = self.connection.rtp_receiver(init.receiver_id) else { return };
        let track = receiver.track();
        let kind = track.kind();
        let Some(codec) = track.codec(init.ssrc).cloned() else { return };
        let source = match kind {
            RtpCodecKind::Audio => Source::Microphone,
            _ if self.screen_tracks.contains(track.track_id()) => Source::Screen,
            _ => Source::Camera,
        };
        let Some(room) = self.room.upgrade() else { return };
        let publication = room.publish(self.user, source, kind, codec, self.feed_link.clone(), init.ssrc);
        self.feeds.insert(init.track_id, Feed { publication, receiver: init.receiver_id, ssrc: init.ssrc });
    }

    fn offer_if_needed(&mut self, now: Instant) {
        if !self.ready || self.making_offer || !self.dirty {
            return;
        }
        self.dirty = false;
        let offer = match self.connection.create_offer(None) {
            Ok(offer) => offer,
            Err(error) => return tracing::warn!(user = %self.user, %error, "cannot create an offer"),
        };
        if let Err(error) = self.connection.set_local_description(now, offer) {
            return tracing::warn!(user = %self.user, %error, "cannot apply our own offer");
        }
        self.making_offer = true;
        for leg in self.legs.values_mut() {
            leg.described = true;
        }
        if let Some(offer) = self.connection.local_description() {
            self.emit(PeerEvent::Offer(offer.sdp));
        }
    }

    /// Lets every leg the client now knows about flow.
    fn release_legs(&mut self, now: Instant) {
        for leg in self.legs.values_mut().filter(|leg| leg.described && !leg.released) {
            let mime = leg.publication.codec().mime_type.clone();
            leg.released = self.outlets[leg.outlet].release(&mut self.connection, &mime, now);
        }
    }

    fn close(&mut self) {
        for outlet in &self.outlets {
            outlet.close(&self.keyframes);
        }
        self.legs.clear();
        if let Err(error) = self.connection.close() {
            tracing::debug!(%error, "closing a peer connection");
        }
    }
}
