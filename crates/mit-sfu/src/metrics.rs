//! Packet counters for Prometheus, resolved once so the packet path only does atomic adds.

use metrics::Counter;

/// The SFU's counters.
pub struct SfuMetrics {
    /// RTP packets read from publishers.
    pub received: Counter,
    /// RTP packets queued to subscribers.
    pub forwarded: Counter,
    /// RTP packets dropped because a subscriber's queue was full.
    pub dropped: Counter,
}

impl SfuMetrics {
    /// Registers the counters with the installed recorder.
    pub fn new() -> Self {
        Self {
            received: metrics::counter!("sfu_rtp_packets_received_total"),
            forwarded: metrics::counter!("sfu_rtp_packets_forwarded_total"),
            dropped: metrics::counter!("sfu_rtp_packets_dropped_total"),
        }
    }
}

impl Default for SfuMetrics {
    fn default() -> Self {
        Self::new()
    }
}
