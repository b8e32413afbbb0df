//! Mit's media plane: a selective forwarding unit on webrtc-rs 0.21.
//!
//! Each participant has one peer connection with the server ([`MediaPeer`], driven by an actor
//! that negotiates as the impolite side of perfect negotiation). Each published track is a
//! [`Publication`] that fans packets out to one [`leg`](crate::leg::Leg) per subscriber — each
//! with its own outgoing track, SSRC, payload type and sequence space — and to any recorder that
//! subscribes, without transcoding. Subscriber queues are bounded: a slow subscriber loses its
//! own packets (counted), never anyone else's. Keyframe requests travel upstream, throttled.
//!
//! It knows nothing of HTTP, SQL or signalling formats: the server translates.

mod announce;
mod config;
mod interceptor;
mod keyframe;
mod leg;
mod metrics;
mod peer;
mod ports;
mod publication;
pub mod recording;
pub mod rewrite;
mod room;

use std::sync::Arc;

use uuid::Uuid;

pub use config::SfuConfig;
pub use interceptor::{KeyframeRequestForwarder, SLOT as KEYFRAME_FORWARDER_SLOT};
pub use peer::connection::{opus, vp8};
pub use peer::{ConnectionState, IceCandidate, MediaPeer, PeerEvent};
pub use publication::{Publication, PublicationKey, Source, Subscription};
pub use room::{MediaRoom, RoomObserver};
pub use rtc::rtp::Packet as RtpPacket;
pub use rtc::rtp_transceiver::rtp_sender::RtpCodecKind as MediaKind;

use crate::metrics::SfuMetrics;
use crate::ports::PortPool;

/// Why the media plane could not do something.
#[derive(Debug, thiserror::Error)]
pub enum SfuError {
    /// No UDP port of the range could be bound.
    #[error("no UDP port available: {0}")]
    NoPort(String),
    /// webrtc-rs refused to build a connection.
    #[error("cannot build a peer connection: {0}")]
    Build(String),
}

pub(crate) struct Shared {
    config: SfuConfig,
    ports: PortPool,
    metrics: Arc<SfuMetrics>,
}

/// The media plane of one node.
#[derive(Clone)]
pub struct Sfu {
    shared: Arc<Shared>,
}

impl Sfu {
    /// A media plane configured by `config`.
    pub fn new(config: SfuConfig) -> Self {
        let ports = PortPool::new(config.udp_ports.clone());
        Self { shared: Arc::new(Shared { config, ports, metrics: Arc::new(SfuMetrics::new()) }) }
    }

    /// A media room for `meeting`, reporting publications to `observer`.
    pub fn room(&self, meeting: Uuid, observer: Option<Arc<dyn RoomObserver>>) -> Arc<MediaRoom> {
        MediaRoom::new(meeting, self.shared.clone(), observer)
    }
}
