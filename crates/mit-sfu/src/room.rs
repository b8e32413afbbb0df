//! A meeting's media room: the participants' connections and their publications. Each new
//! publication is subscribed by every other participant; each new participant subscribes to
//! every existing publication. The state sits behind one mutex that is never held across an
//! await; packets never touch it. The room lives on one media worker ([`crate::workers`]), which
//! drives all its connections and forwards their media ([`crate::engine`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::engine::FeedLink;
use crate::peer::{MediaPeer, PeerEvent};
use crate::publication::{Publication, PublicationKey, Source};
use crate::workers::Placement;
use crate::{SfuError, Shared};

/// Told when publications start and end (the recorder listens).
pub trait RoomObserver: Send + Sync + 'static {
    /// A participant started publishing a track (or came back within the grace period with a
    /// new feed for it: then `resumed` is true).
    fn publication_started(&self, publication: &Arc<Publication>, resumed: bool);
    /// A publication ended for good (the same key may already be published anew).
    fn publication_ended(&self, publication: &Arc<Publication>);
}

#[derive(Default)]
struct RoomState {
    peers: HashMap<Uuid, MediaPeer>,
    publications: BTreeMap<PublicationKey, Arc<Publication>>,
}

/// One meeting's media.
pub struct MediaRoom {
    meeting: Uuid,
    shared: Arc<Shared>,
    observer: Option<Arc<dyn RoomObserver>>,
    state: Mutex<RoomState>,
    sessions: AtomicU64,
    placement: Placement,
}

impl MediaRoom {
    pub(crate) fn new(meeting: Uuid, shared: Arc<Shared>, observer: Option<Arc<dyn RoomObserver>>) -> Arc<Self> {
        let placement = shared.workers.place();
        Arc::new(Self { meeting, shared, observer, state: Mutex::new(RoomState::default()), sessions: AtomicU64::new(1), placement })
    }

    /// The meeting.
    pub fn meeting(&self) -> Uuid {
        self.meeting
    }

    fn state(&self) -> std::sync::MutexGuard<'_, RoomState> {
        // A panic while holding the lock cannot leave the maps half-updated (every update is a
        // single insert or remove), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new connection for `user`, replacing any previous one; it receives every publication of
    /// the others. Events for the participant go to `events`.
    pub fn connect(self: &Arc<Self>, user: Uuid, events: mpsc::UnboundedSender<PeerEvent>) -> Result<MediaPeer, SfuError> {
        let session = self.sessions.fetch_add(1, Ordering::Relaxed);
        let peer = crate::engine::connect(&self.shared, self.placement.engine(), Arc::downgrade(self), user, session, events)?;
        let (previous, others) = {
            let mut state = self.state();
            let previous = state.peers.insert(user, peer.clone());
            let others: Vec<Arc<Publication>> = state.publications.values().filter(|p| p.key().user != user).cloned().collect();
            (previous, others)
        };
        if let Some(previous) = previous {
            previous.close();
        }
        for publication in others {
            peer.subscribe(publication);
        }
        Ok(peer)
    }

    /// Closes `user`'s connection if it is session `session`, keeping their publications (they
    /// may come back within the grace period).
    pub fn disconnect(&self, user: Uuid, session: u64) {
        let peer = {
            let mut state = self.state();
            match state.peers.get(&user) {
                Some(peer) if peer.session() == session => state.peers.remove(&user),
                _ => None,
            }
        };
        if let Some(peer) = peer {
            peer.close();
        }
    }

    /// `user` is gone: their connection closes and their publications end.
    pub fn leave(&self, user: Uuid) {
        let (peer, keys) = {
            let mut state = self.state();
            let keys: Vec<PublicationKey> = state.publications.keys().filter(|k| k.user == user).copied().collect();
            (state.peers.remove(&user), keys)
        };
        if let Some(peer) = peer {
            peer.close();
        }
        for key in keys {
            self.unpublish(key);
        }
    }

    /// Ends a publication (e.g. a stopped screen share) and removes it from every subscriber.
    pub fn unpublish(&self, key: PublicationKey) {
        let (publication, peers) = {
            let mut state = self.state();
            (state.publications.remove(&key), state.peers.values().cloned().collect::<Vec<_>>())
        };
        let Some(publication) = publication else { return };
        publication.end();
        for peer in peers {
            peer.unsubscribe(key);
        }
        if let Some(observer) = &self.observer {
            observer.publication_ended(&publication);
        }
    }

    /// A publication, if it exists.
    pub fn publication(&self, key: PublicationKey) -> Option<Arc<Publication>> {
        self.state().publications.get(&key).cloned()
    }

    /// Every publication.
    pub fn publications(&self) -> Vec<Arc<Publication>> {
        self.state().publications.values().cloned().collect()
    }

    /// Closes every connection and ends every publication.
    pub fn close(&self) {
        let (peers, keys) = {
            let state = self.state();
            (state.peers.values().cloned().collect::<Vec<_>>(), state.publications.keys().copied().collect::<Vec<_>>())
        };
        for key in keys {
            self.unpublish(key);
        }
        for peer in peers {
            peer.close();
        }
        self.state().peers.clear();
    }

    /// A participant's track arrived: it feeds their publication of that source, which is
    /// created (and subscribed by everyone else) the first time.
    pub(crate) fn publish(
        &self,
        user: Uuid,
        source: Source,
        kind: RtpCodecKind,
        codec: RTCRtpCodec,
        feed: FeedLink,
        ssrc: u32,
    ) -> Arc<Publication> {
        let key = PublicationKey { user, source };
        let (publication, created, peers) = {
            let mut state = self.state();
            let existing = state.publications.get(&key).cloned();
            let created = existing.is_none();
            let publication =
                existing.unwrap_or_else(|| Publication::new(key, kind, codec, &self.shared.config, self.shared.metrics.clone()));
            state.publications.insert(key, publication.clone());
            let peers: Vec<MediaPeer> =
                if created { state.peers.values().filter(|p| p.user() != user).cloned().collect() } else { Vec::new() };
            (publication, created, peers)
        };
        // Subscribe everyone (the recorder too) before the feed starts, so they get its first
        // packet.
        for peer in peers {
            peer.subscribe(publication.clone());
        }
        if let Some(observer) = &self.observer {
            observer.publication_started(&publication, !created);
        }
        publication.attach(feed, ssrc);
        publication
    }
}
