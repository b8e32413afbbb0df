//! Mit's media plane: a selective forwarding unit on `rtc` 0.21, webrtc-rs's sans-I/O core.
//!
//! Each participant has one peer connection with the server ([`MediaPeer`] is the signalling
//! layer's handle). A fixed set of media worker threads ([`workers`]) each drive whole rooms'
//! connections themselves, from the node's one UDP port and one TCP port ([`mux`]) and their own
//! timers ([`engine`]). Each published track is a [`Publication`]; its worker writes every packet
//! into each subscriber's connection on an outlet — a sending m-line with its own SSRC, payload
//! type and sequence space that carries the next publication of its kind once this one leaves —
//! without transcoding, and hands a copy to each recorder that subscribes (bounded queues: a
//! slow recorder loses its own packets, counted). Keyframe requests travel upstream, throttled.
//!
//! It knows nothing of HTTP, SQL or signalling formats: the server translates.

mod config;
mod engine;
mod interceptor;
mod keyframe;
mod metrics;
pub mod mux;
mod peer;
mod publication;
pub mod recording;
pub mod rewrite;
mod room;
mod workers;

use std::sync::Arc;

use uuid::Uuid;

pub use config::SfuConfig;
pub use engine::connection::{opus, vp8};
pub use peer::{ConnectionState, IceCandidate, MediaPeer, PeerEvent};
pub use publication::{Publication, PublicationKey, Source, Subscription};
pub use room::{MediaRoom, RoomObserver};
pub use rtc::rtp::Packet as RtpPacket;
pub use rtc::rtp_transceiver::rtp_sender::RtpCodecKind as MediaKind;

use crate::metrics::SfuMetrics;
use crate::mux::NodePorts;
use crate::workers::Workers;

/// Why the media plane could not do something.
#[derive(Debug, thiserror::Error)]
pub enum SfuError {
    /// The node's media ports cannot be bound.
    #[error("cannot bind the media ports (UDP {address}, and TCP when on): {source}")]
    Bind {
        /// The address.
        address: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The media worker threads cannot be started.
    #[error("cannot start the media workers: {0}")]
    Workers(std::io::Error),
    /// `rtc` refused to build a connection.
    #[error("cannot build a peer connection: {0}")]
    Build(String),
    /// `rtc` refused to add or change an outgoing track.
    #[error("cannot change an outgoing track: {0}")]
    Track(String),
}

pub(crate) struct Shared {
    config: SfuConfig,
    ports: Arc<NodePorts>,
    /// The UDP port peers are told to send to (the bound one; differs from `config.udp_port`
    /// when that is 0).
    udp_port: u16,
    /// The TCP port peers may connect to instead, with ICE over TCP on.
    tcp_port: Option<u16>,
    metrics: Arc<SfuMetrics>,
    workers: Workers,
}

/// The media plane of one node.
#[derive(Clone)]
pub struct Sfu {
    shared: Arc<Shared>,
}

impl Sfu {
    /// A media plane configured by `config`, on its UDP port (bound here; needs a tokio runtime).
    pub fn new(config: SfuConfig) -> Result<Self, SfuError> {
        let address = std::net::SocketAddr::new(config.bind_ip, config.udp_port);
        let tcp = config.tcp_port.map(|port| std::net::SocketAddr::new(config.bind_ip, port));
        let ports = NodePorts::bind(address, tcp).map_err(|source| SfuError::Bind { address, source })?;
        let udp_port = ports.udp_addr().map_err(|source| SfuError::Bind { address, source })?.port();
        let tcp_port = ports.tcp_addr().map(|bound| bound.port());
        let workers = Workers::start(config.workers, &ports.udp_socket()).map_err(SfuError::Workers)?;
        Ok(Self { shared: Arc::new(Shared { config, ports, udp_port, tcp_port, metrics: Arc::new(SfuMetrics::new()), workers }) })
    }

    /// The UDP address every participant's media goes through.
    pub fn udp_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.shared.config.bind_ip, self.shared.udp_port)
    }

    /// The TCP address for ICE over TCP, when on.
    pub fn tcp_addr(&self) -> Option<std::net::SocketAddr> {
        self.shared.tcp_port.map(|port| std::net::SocketAddr::new(self.shared.config.bind_ip, port))
    }

    /// A media room for `meeting`, reporting publications to `observer`.
    pub fn room(&self, meeting: Uuid, observer: Option<Arc<dyn RoomObserver>>) -> Arc<MediaRoom> {
        MediaRoom::new(meeting, self.shared.clone(), observer)
    }
}
