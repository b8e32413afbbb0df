//! A published track: one participant's microphone, camera or screen. It outlives the
//! participant's connection (a reconnect within the grace period swaps its feed). The worker that
//! drives the feed writes each packet into the other participants' connections
//! ([`crate::engine`]) and hands the publication a copy for its queued subscribers (recorders).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use arc_swap::{ArcSwap, ArcSwapOption};
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::engine::FeedLink;
use crate::keyframe::KeyframeThrottle;
use crate::metrics::SfuMetrics;

/// What a participant publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// Their microphone.
    Microphone,
    /// Their camera.
    Camera,
    /// Their shared screen.
    Screen,
}

impl Source {
    /// The lower-case name used in stream ids and recordings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Microphone => "microphone",
            Self::Camera => "camera",
            Self::Screen => "screen",
        }
    }
}

/// Which publication: whose, and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicationKey {
    /// The publisher.
    pub user: Uuid,
    /// What they publish.
    pub source: Source,
}

impl PublicationKey {
    /// The stream id subscribers see (`<user id>:<source>`), so a client can tell whose media
    /// arrived and what it is.
    pub fn stream_id(&self) -> String {
        format!("{}:{}", self.user, self.source.as_str())
    }
}

/// One receiver of a publication's packets.
struct Subscriber {
    id: u64,
    queue: mpsc::Sender<rtp::Packet>,
}

/// The publisher's current incoming track: its connection, whose worker fans the packets out
/// ([`crate::engine`]) and takes the keyframe requests.
struct Feed {
    link: FeedLink,
    ssrc: u32,
}

/// A published track and everyone receiving it.
pub struct Publication {
    id: u64,
    key: PublicationKey,
    kind: RtpCodecKind,
    codec: RTCRtpCodec,
    subscribers: ArcSwap<Vec<Subscriber>>,
    next_subscriber: AtomicU64,
    feed: ArcSwapOption<Feed>,
    paused: AtomicBool,
    keyframes: KeyframeThrottle,
    metrics: Arc<SfuMetrics>,
    queue_depth: usize,
}

/// A subscription: the queue packets arrive on, and the id to unsubscribe with.
pub struct Subscription {
    /// Pass to [`Publication::unsubscribe`].
    pub id: u64,
    /// Packets, as the publisher sent them (header extensions removed).
    pub packets: mpsc::Receiver<rtp::Packet>,
}

impl Publication {
    pub(crate) fn new(
        key: PublicationKey,
        kind: RtpCodecKind,
        codec: RTCRtpCodec,
        config: &crate::SfuConfig,
        metrics: Arc<SfuMetrics>,
    ) -> Arc<Self> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Arc::new(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            key,
            kind,
            codec,
            subscribers: ArcSwap::from_pointee(Vec::new()),
            next_subscriber: AtomicU64::new(1),
            feed: ArcSwapOption::empty(),
            paused: AtomicBool::new(false),
            keyframes: KeyframeThrottle::new(config.keyframe_interval),
            metrics,
            queue_depth: config.subscriber_queue,
        })
    }

    /// Whose and what.
    pub fn key(&self) -> PublicationKey {
        self.key
    }

    /// Audio or video.
    pub fn kind(&self) -> RtpCodecKind {
        self.kind
    }

    /// The codec packets are in (Opus or VP8).
    pub fn codec(&self) -> &RTCRtpCodec {
        &self.codec
    }

    /// Starts receiving packets; the queue holds the configured depth, beyond which packets for
    /// this subscriber are dropped and counted.
    pub fn subscribe(&self) -> Subscription {
        let (queue, packets) = mpsc::channel(self.queue_depth);
        let id = self.next_subscriber.fetch_add(1, Ordering::Relaxed);
        self.subscribers.rcu(|current| {
            let mut next: Vec<Subscriber> = current.iter().map(|s| Subscriber { id: s.id, queue: s.queue.clone() }).collect();
            next.push(Subscriber { id, queue: queue.clone() });
            next
        });
        self.request_keyframe();
        Subscription { id, packets }
    }

    /// Stops sending packets to subscription `id`.
    pub fn unsubscribe(&self, id: u64) {
        self.subscribers.rcu(|current| {
            current.iter().filter(|s| s.id != id).map(|s| Subscriber { id: s.id, queue: s.queue.clone() }).collect::<Vec<_>>()
        });
    }

    /// Holds back (or resumes) forwarding, e.g. while a host has muted the publisher.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    /// Whether forwarding is held back.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// Asks the publisher for a keyframe (video only; throttled). Without a feed there is nobody
    /// to ask, and the request must not use up the throttle: attaching a feed asks anyway.
    pub fn request_keyframe(&self) {
        if self.kind != RtpCodecKind::Video {
            return;
        }
        let feed = self.feed.load();
        if let Some(feed) = feed.as_ref()
            && self.keyframes.allow(Instant::now())
        {
            feed.link.request_keyframe(feed.ssrc);
        }
    }

    /// A number no other publication of this process has (the engine's routes key by it).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Replaces the feed with the track `ssrc` of the connection behind `link`.
    pub(crate) fn attach(&self, link: FeedLink, ssrc: u32) {
        self.feed.store(Some(Arc::new(Feed { link, ssrc })));
        self.request_keyframe();
    }

    /// Ends forwarding: the queued subscribers' queues close.
    pub(crate) fn end(&self) {
        self.feed.store(None);
        self.subscribers.store(Arc::new(Vec::new()));
    }

    /// Counts a packet that arrived from the feed.
    pub(crate) fn count_received(&self) {
        self.metrics.received.increment(1);
    }

    /// Counts a packet handed to a subscriber's connection by the engine.
    pub(crate) fn count_forwarded(&self) {
        self.metrics.forwarded.increment(1);
    }

    /// Fans one packet out to every queued subscriber without waiting for any of them.
    pub(crate) fn fan_out(&self, packet: &rtp::Packet) {
        let subscribers = self.subscribers.load();
        for subscriber in subscribers.iter() {
            match subscriber.queue.try_send(packet.clone()) {
                Ok(()) => self.metrics.forwarded.increment(1),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.metrics.dropped.increment(1);
                    if self.kind == RtpCodecKind::Video {
                        self.request_keyframe();
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn microphone(queue: usize) -> Arc<Publication> {
        let mut config = crate::SfuConfig::new(std::net::IpAddr::from([127, 0, 0, 1]), 0);
        config.subscriber_queue = queue;
        let key = PublicationKey { user: Uuid::nil(), source: Source::Microphone };
        Publication::new(key, RtpCodecKind::Audio, crate::opus(), &config, Arc::new(SfuMetrics::new()))
    }

    fn packet(seq: u16) -> rtp::Packet {
        rtp::Packet { header: rtp::header::Header { sequence_number: seq, ..Default::default() }, payload: Bytes::from_static(&[1, 2, 3]) }
    }

    #[test]
    fn a_stalled_subscriber_loses_its_own_packets_and_nobody_elses() {
        let publication = microphone(8);
        let mut stalled = publication.subscribe();
        let mut live = publication.subscribe();
        for seq in 0..100 {
            publication.fan_out(&packet(seq));
            let received = live.packets.try_recv().expect("the live subscriber gets every packet at once");
            assert_eq!(received.header.sequence_number, seq);
        }
        let mut queued = 0;
        while stalled.packets.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, 8, "the stalled subscriber kept only its queue's worth");
    }

    #[test]
    fn unsubscribing_stops_delivery() {
        let publication = microphone(8);
        let mut subscription = publication.subscribe();
        publication.unsubscribe(subscription.id);
        publication.fan_out(&packet(1));
        assert!(subscription.packets.try_recv().is_err());
    }

    #[test]
    fn a_publication_paused_by_a_host_still_accepts_subscribers() {
        let publication = microphone(8);
        publication.set_paused(true);
        assert!(publication.is_paused());
        let _subscription = publication.subscribe();
        publication.set_paused(false);
        assert!(!publication.is_paused());
    }
}
