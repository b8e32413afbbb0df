//! A media worker's state: the connections it drives, which outlets each publication's packets
//! go to, and when each connection next wants its timer. Plain synchronous steps — a datagram, a
//! signal, a timeout — and a [`Forwarder::pump`] that forwards what they made readable and
//! collects what the touched connections want sent; the worker's I/O loop ([`super::run`]) only
//! moves bytes and time in and out.
//!
//! A publisher's packet is read, stripped of its header extensions and written into every
//! subscriber's connection in one pass on one thread: no queue, task, wake-up or lock per packet.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use rtc::rtp;
use rtc::shared::TaggedBytesMut;

use super::PeerId;
use super::peer::EnginePeer;
use crate::mux::Datagram;
use crate::peer::Signal;
use crate::publication::Publication;

/// One worker's connections and routes.
#[derive(Default)]
pub(crate) struct Forwarder {
    peers: HashMap<PeerId, EnginePeer>,
    /// Publication id → the (subscriber, outlet) pairs its packets are written to.
    routes: HashMap<u64, Vec<(PeerId, usize)>>,
    /// Each connection's next timer, earliest first.
    deadlines: BTreeSet<(Instant, PeerId)>,
    /// Connections written to since the last drain (reused).
    touched: Vec<PeerId>,
    /// Packets read and not yet forwarded (reused).
    inbound: Vec<(Arc<Publication>, rtp::Packet)>,
    /// Datagrams to send (reused).
    outgoing: Vec<TaggedBytesMut>,
}

impl Forwarder {
    /// Starts driving `peer`.
    pub(crate) fn open(&mut self, peer: EnginePeer) {
        let id = peer.id;
        self.peers.insert(id, peer);
        self.note(id);
    }

    /// A datagram (or ICE-TCP frame) for one of the connections.
    pub(crate) fn datagram(&mut self, now: Instant, datagram: Datagram) {
        let id = datagram.slot;
        let Some(peer) = self.peers.get_mut(&id) else { return };
        peer.receive(now, datagram);
        self.note(id);
    }

    /// A request of the signalling layer or the room for connection `id`.
    pub(crate) fn signal(&mut self, now: Instant, id: PeerId, signal: Signal) {
        let Some(peer) = self.peers.get_mut(&id) else { return };
        if peer.signal(now, signal) {
            self.refresh_routes(id);
            self.note(id);
        } else {
            self.drain(id);
            self.forget(id);
        }
    }

    /// A publication fed by connection `id` wants a keyframe from track `ssrc`.
    pub(crate) fn keyframe(&mut self, now: Instant, id: PeerId, ssrc: u32) {
        let Some(peer) = self.peers.get_mut(&id) else { return };
        peer.request_keyframe(now, ssrc);
        self.note(id);
    }

    /// Runs every timer that is due.
    pub(crate) fn timeout(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.deadline = None;
                peer.timeout(now);
                self.note(id);
            }
        }
    }

    /// When [`Self::timeout`] is next due.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// Forwards the media the connections handed something since the last call have read, and
    /// collects what every touched connection wants sent. The worker calls it once it has
    /// applied the signals those steps caused — a new publication's subscriptions among them —
    /// so the first packets of a track find their subscribers.
    pub(crate) fn pump(&mut self, now: Instant) {
        // A batch of datagrams from one connection notes it once per datagram; read it once.
        self.touched.sort_unstable();
        self.touched.dedup();
        let mut inbound = std::mem::take(&mut self.inbound);
        for index in 0..self.touched.len() {
            if let Some(peer) = self.peers.get_mut(&self.touched[index]) {
                while let Some(read) = peer.read() {
                    inbound.push(read);
                }
            }
        }
        for (publication, packet) in inbound.drain(..) {
            self.fan_out(now, &publication, packet);
        }
        self.inbound = inbound;
        self.touched.sort_unstable();
        self.touched.dedup();
        let touched = std::mem::take(&mut self.touched);
        for &peer in &touched {
            self.drain(peer);
        }
        self.touched = touched;
        self.touched.clear();
    }

    /// The datagrams to send since the last call.
    pub(crate) fn outgoing(&mut self) -> std::vec::Drain<'_, TaggedBytesMut> {
        self.outgoing.drain(..)
    }

    /// Connection `id` was handed something: it reports its events now (which may publish a
    /// track) and is read and drained at the next [`Self::pump`].
    fn note(&mut self, id: PeerId) {
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.handle_events();
            self.touched.push(id);
        }
    }

    fn fan_out(&mut self, now: Instant, publication: &Publication, mut packet: rtp::Packet) {
        publication.count_received();
        if publication.is_paused() {
            return;
        }
        // Extension ids are negotiated per connection and some (TWCC, mid) are per transport:
        // none of them may travel on.
        packet.header.extensions.clear();
        packet.header.extension = false;
        packet.header.extension_profile = 0;
        publication.fan_out(&packet);
        let Some(legs) = self.routes.get(&publication.id()) else { return };
        for &(subscriber, outlet) in legs {
            if let Some(peer) = self.peers.get_mut(&subscriber)
                && peer.forward(now, outlet, packet.clone())
            {
                publication.count_forwarded();
                self.touched.push(subscriber);
            }
        }
    }

    /// Collects what connection `id` wants sent and files its next timer.
    fn drain(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else { return };
        while let Some(datagram) = peer.transmit() {
            self.outgoing.push(datagram);
        }
        let next = peer.next_timeout();
        if next != peer.deadline {
            if let Some(old) = peer.deadline {
                self.deadlines.remove(&(old, id));
            }
            if let Some(at) = next {
                self.deadlines.insert((at, id));
            }
            peer.deadline = next;
        }
    }

    /// Recomputes the routes of connection `id`'s legs.
    fn refresh_routes(&mut self, id: PeerId) {
        for legs in self.routes.values_mut() {
            legs.retain(|(peer, _)| *peer != id);
        }
        if let Some(peer) = self.peers.get(&id) {
            for (publication, outlet) in peer.routes() {
                self.routes.entry(publication).or_default().push((id, outlet));
            }
        }
        self.routes.retain(|_, legs| !legs.is_empty());
    }

    fn forget(&mut self, id: PeerId) {
        if let Some(peer) = self.peers.remove(&id)
            && let Some(at) = peer.deadline
        {
            self.deadlines.remove(&(at, id));
        }
        self.refresh_routes(id);
    }
}
