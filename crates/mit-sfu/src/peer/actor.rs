//! The peer's actor: owns the connection and its subscriber legs, and runs perfect negotiation
//! with the server as the impolite side. A client offer that collides with the server's own is
//! ignored (the client, polite, rolls back and answers ours, then offers again); the server
//! never rolls back, so its transceivers stay predictable. It offers only after the client's
//! first offer was answered, and batches track changes into one offer at a time.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCPeerConnectionState, RTCSessionDescription};

use super::connection::Built;
use super::{Command, ConnectionState, IceCandidate, PeerEvent};
use crate::Shared;
use crate::interceptor::KeyframeRoutes;
use crate::leg::Leg;
use crate::mux::PeerSocket;
use crate::outlet::Outlet;
use crate::publication::{Publication, PublicationKey, Source, Subscription};
use crate::room::MediaRoom;

/// The longest wait for host candidates before a description is sent anyway (the rest trickle).
const GATHERING_WAIT: Duration = Duration::from_secs(2);

pub(super) struct Actor {
    connection: Arc<dyn PeerConnection>,
    /// Its place on the node's UDP port, released when the actor ends.
    socket: Arc<PeerSocket>,
    keyframes: Arc<KeyframeRoutes>,
    shared: Arc<Shared>,
    room: Weak<MediaRoom>,
    user: Uuid,
    events: mpsc::UnboundedSender<PeerEvent>,
    gathered: watch::Receiver<bool>,
    legs: BTreeMap<PublicationKey, Leg>,
    /// Sending m-lines whose publication left, kept for the next one of their kind.
    quiet: Vec<Outlet>,
    screen_tracks: HashSet<String>,
    /// The client's first offer has been answered; the server may offer from now on.
    ready: bool,
    /// The server's offer awaits the client's answer.
    making_offer: bool,
    /// Legs changed since the last offer.
    dirty: bool,
    /// A description was sent, so later local candidates are trickled.
    described: bool,
}

impl Actor {
    pub(super) fn new(
        built: Built,
        shared: Arc<Shared>,
        room: Weak<MediaRoom>,
        user: Uuid,
        events: mpsc::UnboundedSender<PeerEvent>,
        gathered: watch::Receiver<bool>,
    ) -> Self {
        Self {
            connection: built.connection,
            socket: built.socket,
            keyframes: built.keyframes,
            shared,
            room,
            user,
            events,
            gathered,
            legs: BTreeMap::new(),
            quiet: Vec::new(),
            screen_tracks: HashSet::new(),
            ready: false,
            making_offer: false,
            dirty: false,
            described: false,
        }
    }

    pub(super) async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Command>) {
        while let Some(command) = inbox.recv().await {
            match command {
                Command::RemoteOffer(sdp) => self.remote_offer(sdp).await,
                Command::RemoteAnswer(sdp) => self.remote_answer(sdp).await,
                Command::RemoteCandidate(candidate) => self.remote_candidate(candidate).await,
                Command::ScreenTrack(track_id) => {
                    self.screen_tracks.insert(track_id);
                }
                Command::Subscribe(publication, subscription) => self.subscribe(publication, subscription).await,
                Command::Unsubscribe(key) => self.unsubscribe(key).await,
                Command::TrackArrived(track) => self.track_arrived(track).await,
                Command::LocalCandidate(candidate) => self.local_candidate(candidate),
                Command::ConnectionState(state) => self.connection_state(state),
                Command::Close => break,
            }
        }
        self.legs.clear();
        self.quiet.clear();
        if let Err(error) = self.connection.close().await {
            tracing::debug!(%error, "closing a peer connection");
        }
    }

    fn emit(&self, event: PeerEvent) {
        let _ = self.events.send(event);
    }

    fn reject(&self, code: &'static str, message: String) {
        tracing::debug!(user = %self.user, code, %message, "signalling message refused");
        self.emit(PeerEvent::Rejected { code, message });
    }

    async fn remote_offer(&mut self, sdp: String) {
        if self.making_offer {
            tracing::debug!(user = %self.user, "offer collision: keeping the server's offer");
            return;
        }
        let offer = match RTCSessionDescription::offer(sdp) {
            Ok(offer) => offer,
            Err(error) => return self.reject("invalid_sdp", format!("the offer is not valid SDP: {error}")),
        };
        let spares = super::receivers::provide(self.connection.as_ref(), &offer).await;
        let applied = self.connection.set_remote_description(offer.clone()).await;
        super::receivers::settle(spares).await;
        if let Err(error) = applied {
            return self.reject("invalid_sdp", format!("the offer cannot be applied: {error}"));
        }
        let legs: HashSet<_> = self.legs.values().filter_map(|leg| leg.outlet().map(Outlet::sender_id)).collect();
        super::receivers::quiet_idle_lines(self.connection.as_ref(), &offer, &legs).await;
        let answer = match self.connection.create_answer(None).await {
            Ok(answer) => answer,
            Err(error) => return self.reject("invalid_sdp", format!("the offer cannot be answered: {error}")),
        };
        if let Err(error) = self.connection.set_local_description(answer).await {
            return self.reject("invalid_sdp", format!("the answer cannot be applied: {error}"));
        }
        self.wait_for_candidates().await;
        if let Some(answer) = self.connection.local_description().await {
            self.emit(PeerEvent::Answer(self.announced(answer.sdp)));
        }
        self.ready = true;
        for leg in self.legs.values_mut() {
            if let Some(outlet) = leg.outlet()
                && outlet.has_mid().await
            {
                leg.described = true;
            }
        }
        self.release_legs().await;
        self.offer_if_needed().await;
    }

    async fn remote_answer(&mut self, sdp: String) {
        if !self.making_offer {
            return self.reject("unexpected_answer", "there is no server offer to answer".into());
        }
        let applied = match RTCSessionDescription::answer(sdp) {
            Ok(answer) => self.connection.set_remote_description(answer).await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = applied {
            // Take the offer back and make it again: the client gets another chance.
            if let Ok(rollback) = RTCSessionDescription::rollback(None) {
                let _ = self.connection.set_local_description(rollback).await;
            }
            self.making_offer = false;
            self.dirty = true;
            for leg in self.legs.values_mut() {
                leg.described = false;
            }
            self.reject("invalid_sdp", format!("the answer cannot be applied: {error}"));
            return self.offer_if_needed().await;
        }
        self.making_offer = false;
        self.release_legs().await;
        self.offer_if_needed().await;
    }

    async fn remote_candidate(&mut self, candidate: IceCandidate) {
        let init = RTCIceCandidateInit {
            candidate: candidate.candidate,
            sdp_mid: candidate.sdp_mid,
            sdp_mline_index: candidate.sdp_m_line_index,
            username_fragment: candidate.username_fragment,
            ..Default::default()
        };
        // Candidates of an offer ignored in a collision fail here; that is expected.
        if let Err(error) = self.connection.add_ice_candidate(init).await {
            tracing::debug!(user = %self.user, %error, "ICE candidate not added");
        }
    }

    fn local_candidate(&mut self, candidate: RTCIceCandidateInit) {
        if self.described {
            let announced = match self.announcement() {
                Some(announcement) => crate::announce::announce_candidate(&candidate.candidate, &announcement),
                None => Some(candidate.candidate),
            };
            let Some(announced) = announced else { return };
            self.emit(PeerEvent::Candidate(IceCandidate {
                candidate: announced,
                sdp_mid: candidate.sdp_mid.filter(|mid| !mid.is_empty()),
                sdp_m_line_index: candidate.sdp_mline_index,
                username_fragment: candidate.username_fragment,
            }));
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

    async fn subscribe(&mut self, publication: Arc<Publication>, subscription: Subscription) {
        let key = publication.key();
        if key.user == self.user || self.legs.contains_key(&key) {
            publication.unsubscribe(subscription.id);
            return;
        }
        let outlet = match self.outlet_for(&publication).await {
            Ok(outlet) => outlet,
            Err(error) => {
                publication.unsubscribe(subscription.id);
                return tracing::warn!(user = %self.user, %error, "cannot add an outgoing track");
            }
        };
        self.legs.insert(key, Leg::new(publication, subscription, outlet));
        self.dirty = true;
        self.offer_if_needed().await;
    }

    /// A quiet m-line of the publication's kind if there is one, else a new one.
    async fn outlet_for(&mut self, publication: &Arc<Publication>) -> Result<Outlet, crate::SfuError> {
        match self.quiet.iter().position(|outlet| outlet.kind() == publication.kind()) {
            Some(index) => {
                let mut outlet = self.quiet.swap_remove(index);
                match outlet.carry(publication).await {
                    Ok(()) => Ok(outlet),
                    Err(error) => {
                        self.quiet.push(outlet);
                        Err(error)
                    }
                }
            }
            None => Outlet::open(self.connection.as_ref(), publication, self.keyframes.clone()).await,
        }
    }

    async fn unsubscribe(&mut self, key: PublicationKey) {
        let Some(leg) = self.legs.remove(&key) else { return };
        if let Some(outlet) = leg.finish().await {
            self.quiet.push(outlet);
        }
        self.dirty = true;
        self.offer_if_needed().await;
    }

    async fn track_arrived(&mut self, track: Arc<dyn TrackRemote>) {
        let kind = track.kind().await;
        let Some(ssrc) = track.ssrcs().await.first().copied() else { return };
        let Some(codec) = track.codec(ssrc).await else { return };
        let source = match kind {
            RtpCodecKind::Audio => Source::Microphone,
            _ if self.screen_tracks.contains(&track.track_id().await) => Source::Screen,
            _ => Source::Camera,
        };
        if let Some(room) = self.room.upgrade() {
            room.publish(self.user, source, kind, codec, crate::publication::FeedSource::Track(track), ssrc);
        }
    }

    async fn offer_if_needed(&mut self) {
        if !self.ready || self.making_offer || !self.dirty {
            return;
        }
        self.dirty = false;
        let offer = match self.connection.create_offer(None).await {
            Ok(offer) => offer,
            Err(error) => return tracing::warn!(user = %self.user, %error, "cannot create an offer"),
        };
        if let Err(error) = self.connection.set_local_description(offer).await {
            return tracing::warn!(user = %self.user, %error, "cannot apply our own offer");
        }
        self.making_offer = true;
        for leg in self.legs.values_mut() {
            leg.described = true;
        }
        if let Some(offer) = self.connection.local_description().await {
            self.emit(PeerEvent::Offer(self.announced(offer.sdp)));
        }
    }

    /// Our description as the peer must see it: the node's port (and public address).
    fn announced(&self, sdp: String) -> String {
        match self.announcement() {
            Some(announcement) => crate::announce::announce_sdp(&sdp, &announcement),
            None => sdp,
        }
    }

    fn announcement(&self) -> Option<crate::announce::Announcement> {
        let internal = self.socket.internal_addr()?;
        let config = &self.shared.config;
        let ip = config.public_ip.unwrap_or(config.bind_ip);
        let tcp =
            self.socket.internal_tcp_addr().zip(self.shared.tcp_port).map(|(inside, port)| (inside, std::net::SocketAddr::new(ip, port)));
        Some(crate::announce::Announcement { internal, announced: std::net::SocketAddr::new(ip, self.shared.udp_port), tcp })
    }

    async fn wait_for_candidates(&mut self) {
        let _ = tokio::time::timeout(GATHERING_WAIT, self.gathered.wait_for(|complete| *complete)).await;
        self.described = true;
    }

    /// Lets every leg the client now knows about flow.
    async fn release_legs(&mut self) {
        for leg in self.legs.values_mut() {
            leg.release().await;
        }
    }
}
