//! How the media plane binds and behaves.

use std::net::IpAddr;
use std::time::Duration;

/// The SFU's settings.
#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// Address the node's UDP port binds to (never a wildcard: the host candidate must name an
    /// address peers can reach).
    pub bind_ip: IpAddr,
    /// The node's one UDP port, shared by every peer connection (0: any free port).
    pub udp_port: u16,
    /// The node's one TCP port for ICE over TCP (`None`: off; 0: any free port).
    pub tcp_port: Option<u16>,
    /// Public address to announce instead of `bind_ip` behind 1:1 NAT.
    pub public_ip: Option<IpAddr>,
    /// Packets queued per subscriber before new ones are dropped (a slow subscriber never
    /// stalls the others).
    pub subscriber_queue: usize,
    /// Least time between two keyframe requests sent to one publisher.
    pub keyframe_interval: Duration,
    /// How long ICE may go without connectivity before the connection counts as disconnected.
    pub ice_disconnected_timeout: Duration,
    /// How long after that it counts as failed.
    pub ice_failed_timeout: Duration,
    /// Media worker threads, each holding whole rooms (default: one per core).
    pub workers: usize,
}

impl SfuConfig {
    /// One media worker per core.
    pub fn default_workers() -> usize {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }

    /// Defaults for a local setup on `bind_ip` and `udp_port`.
    pub fn new(bind_ip: IpAddr, udp_port: u16) -> Self {
        Self {
            bind_ip,
            udp_port,
            tcp_port: None,
            public_ip: None,
            subscriber_queue: 128,
            keyframe_interval: Duration::from_millis(500),
            ice_disconnected_timeout: Duration::from_secs(5),
            ice_failed_timeout: Duration::from_secs(15),
            workers: Self::default_workers(),
        }
    }
}
