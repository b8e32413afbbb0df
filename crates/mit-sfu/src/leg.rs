//! A subscriber leg: one publication delivered to one participant, on its own outgoing track.
//! webrtc-rs binds a `TrackLocalStaticRTP` to exactly one connection and drops packets whose
//! SSRC or payload type are not that leg's, so each leg rewrites what it forwards.

use std::sync::Arc;
use std::time::Instant;

use rtc::media_stream::MediaStreamTrack;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::rtp_transceiver::RtpSender;

use crate::publication::{Publication, Subscription};
use crate::rewrite::Rewriter;

/// One publication flowing to one subscriber.
pub struct Leg {
    publication: Arc<Publication>,
    subscription_id: u64,
    packets: Option<tokio::sync::mpsc::Receiver<rtc::rtp::Packet>>,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    /// Set once the transceiver exists.
    pub(crate) sender: Option<Arc<dyn RtpSender>>,
    payload_type: watch::Sender<u8>,
    tasks: Vec<JoinHandle<()>>,
}

impl Leg {
    /// A leg for `publication`, fed by `subscription` (made when the subscriber was chosen, so no
    /// packet falls between choosing and starting), with a fresh random SSRC; nothing is written
    /// until [`Leg::start`].
    pub fn new(publication: Arc<Publication>, subscription: Subscription) -> Self {
        let ssrc = rand::random::<u32>();
        let key = publication.key();
        let encoding = RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec: publication.codec().clone(),
            ..Default::default()
        };
        let stream_id = key.stream_id();
        let track = MediaStreamTrack::new(stream_id.clone(), stream_id.clone(), stream_id, publication.kind(), vec![encoding]);
        Self {
            publication,
            subscription_id: subscription.id,
            packets: Some(subscription.packets),
            track: Arc::new(TrackLocalStaticRTP::new(track)),
            ssrc,
            sender: None,
            payload_type: watch::Sender::new(0),
            tasks: Vec::new(),
        }
    }

    /// The outgoing track to add to the subscriber's connection.
    pub fn track(&self) -> Arc<dyn TrackLocal> {
        self.track.clone()
    }

    /// Starts forwarding (once a payload type is known) and relaying the subscriber's keyframe
    /// requests upstream.
    pub fn start(&mut self) {
        let Some(packets) = self.packets.take() else { return };
        let ssrc = self.ssrc;
        let clock_rate = self.publication.codec().clock_rate;
        self.tasks.push(tokio::spawn(write(self.track.clone(), packets, Rewriter::new(ssrc, clock_rate), self.payload_type.subscribe())));
        self.tasks.push(tokio::spawn(relay_keyframe_requests(self.track.clone(), Arc::downgrade(&self.publication))));
    }

    /// Reads the payload type negotiated for this leg's codec; until then packets wait in the
    /// leg's queue (a newly subscribed participant misses nothing).
    pub async fn refresh_payload_type(&self) {
        let Some(sender) = &self.sender else { return };
        let Ok(parameters) = sender.get_parameters().await else { return };
        let mime = &self.publication.codec().mime_type;
        if let Some(codec) = parameters.rtp_parameters.codecs.iter().find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime)) {
            self.payload_type.send_replace(codec.payload_type);
        }
    }

    /// Stops forwarding.
    pub fn stop(&mut self) {
        self.publication.unsubscribe(self.subscription_id);
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for Leg {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes queued packets to the subscriber's connection, rewritten for this leg.
async fn write(
    track: Arc<TrackLocalStaticRTP>,
    mut packets: tokio::sync::mpsc::Receiver<rtc::rtp::Packet>,
    mut rewriter: Rewriter,
    mut payload_type: watch::Receiver<u8>,
) {
    // Until the subscriber has answered the offer carrying this leg, packets queue up.
    let pt = match payload_type.wait_for(|pt| *pt != 0).await {
        Ok(pt) => *pt,
        Err(_) => return,
    };
    while let Some(mut packet) = packets.recv().await {
        rewriter.rewrite(&mut packet.header, pt, Instant::now());
        if track.write_rtp(packet).await.is_err() {
            // The connection is closing; the leg is about to be stopped.
            return;
        }
    }
}

/// Relays the subscriber's PLI/FIR (surfaced by the interceptor) to the publication.
async fn relay_keyframe_requests(track: Arc<TrackLocalStaticRTP>, publication: std::sync::Weak<Publication>) {
    while let Some(event) = track.poll().await {
        if let TrackLocalEvent::OnRtcpPacket(_) = event {
            match publication.upgrade() {
                Some(publication) => publication.request_keyframe(),
                None => return,
            }
        }
    }
}
