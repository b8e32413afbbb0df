//! A sending m-line of one participant's connection. It lives as long as the connection and
//! carries one publication at a time: when a publisher leaves, the m-line goes quiet and later
//! carries the next publication of the same kind, so a long meeting's SDP does not grow by one
//! m-line per track that ever came and went.
//!
//! webrtc-rs binds a `TrackLocalStaticRTP` to exactly one sender, and binds the sender's SSRC to
//! its interceptors (NACK responder, sender reports) only when first negotiated. So an outlet
//! keeps its writer and its SSRC for life, with one continuous sequence across publishers (see
//! [`Rewriter`]); what changes through `replace_track` is the stream id (whose media it is) and
//! the track id, which clients such as webrtc-rs key their tracks by (webrtc-rs and Chromium
//! then report a new track on the m-line; the tests show both). Keyframe requests are routed by
//! SSRC for the same reason ([`KeyframeRoutes`]).

use std::sync::Arc;
use std::time::Instant;

use rtc::media_stream::MediaStreamTrack;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::peer_connection::PeerConnection;
use webrtc::rtp_transceiver::{RTCRtpSenderId, RTCRtpTransceiverDirection, RtpSender, RtpTransceiver};

use crate::SfuError;
use crate::interceptor::KeyframeRoutes;
use crate::publication::Publication;
use crate::rewrite::Rewriter;

/// Packets of the publication an outlet carries now, released once the subscriber has the
/// description naming it.
struct Feed {
    packets: mpsc::Receiver<rtp::Packet>,
    payload_type: u8,
}

/// One sending m-line and the tasks that write to it.
pub(crate) struct Outlet {
    kind: RtpCodecKind,
    ssrc: u32,
    /// Publications carried so far, which names each one's track.
    carried: u32,
    transceiver: Arc<dyn RtpTransceiver>,
    sender: Arc<dyn RtpSender>,
    /// `Some` to switch the writer to a new feed, `None` to silence it.
    feeds: mpsc::UnboundedSender<Option<Feed>>,
    keyframes: Arc<KeyframeRoutes>,
    writing: JoinHandle<()>,
}

impl Outlet {
    /// Adds a new sending m-line for `publication` to `connection`.
    pub(crate) async fn open(
        connection: &dyn PeerConnection,
        publication: &Arc<Publication>,
        keyframes: Arc<KeyframeRoutes>,
    ) -> Result<Self, SfuError> {
        let ssrc = rand::random::<u32>();
        let writer = Arc::new(TrackLocalStaticRTP::new(media_track(publication, ssrc, 0)));
        // A transceiver of its own: `add_track` would reuse the transceiver of the client's own
        // published track of that kind and break its direction. It is created able to receive
        // and only then made send-only, because webrtc-rs gives a transceiver a receiver at
        // creation or never: a browser's `addTrack` reuses the m-line it receives this outlet on
        // (turning it to sendrecv), and without a receiver that microphone would never arrive.
        let init = webrtc::rtp_transceiver::RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Sendrecv,
            streams: vec![],
            send_encodings: vec![],
        };
        let transceiver =
            connection.add_transceiver_from_track(writer.clone(), Some(init)).await.map_err(|error| SfuError::Track(error.to_string()))?;
        if let Err(error) = transceiver.set_direction(RTCRtpTransceiverDirection::Sendonly).await {
            tracing::warn!(%error, "an outgoing track stays send-and-receive");
        }
        let sender =
            transceiver.sender().await.ok().flatten().ok_or_else(|| SfuError::Track("the new transceiver has no sender".into()))?;
        let (feeds, feed) = mpsc::unbounded_channel();
        let writing = tokio::spawn(write(writer, feed, Rewriter::new(ssrc, publication.codec().clock_rate)));
        keyframes.set(ssrc, publication);
        Ok(Self { kind: publication.kind(), ssrc, carried: 0, transceiver, sender, feeds, keyframes, writing })
    }

    /// Audio or video.
    pub(crate) fn kind(&self) -> RtpCodecKind {
        self.kind
    }

    /// Its sender's id.
    pub(crate) fn sender_id(&self) -> RTCRtpSenderId {
        self.sender.id()
    }

    /// Whether the m-line has been negotiated at least once.
    pub(crate) async fn has_mid(&self) -> bool {
        self.transceiver.mid().await.ok().flatten().is_some()
    }

    /// Makes this quiet outlet carry `publication` from the next negotiation on.
    pub(crate) async fn carry(&mut self, publication: &Arc<Publication>) -> Result<(), SfuError> {
        // webrtc-rs only lets a sending transceiver's sender change.
        self.set_sending(true).await;
        let track = Arc::new(TrackLocalStaticRTP::new(media_track(publication, self.ssrc, self.carried + 1)));
        if let Err(error) = self.sender.replace_track(track).await {
            self.set_sending(false).await;
            return Err(SfuError::Track(error.to_string()));
        }
        self.carried += 1;
        self.keyframes.set(self.ssrc, publication);
        Ok(())
    }

    /// Starts writing `packets` once the subscriber knows the publication's payload type.
    pub(crate) async fn release(&self, packets: mpsc::Receiver<rtp::Packet>, mime: &str) -> Result<(), mpsc::Receiver<rtp::Packet>> {
        let Ok(parameters) = self.sender.get_parameters().await else { return Err(packets) };
        let codec = parameters.rtp_parameters.codecs.iter().find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime));
        match codec {
            Some(codec) => {
                let _ = self.feeds.send(Some(Feed { packets, payload_type: codec.payload_type }));
                Ok(())
            }
            None => Err(packets),
        }
    }

    /// Stops writing and stops offering to send on the m-line; it stays for the next publication.
    pub(crate) async fn quiet(&self) {
        let _ = self.feeds.send(None);
        self.keyframes.remove(self.ssrc);
        self.set_sending(false).await;
    }

    /// Keeps whatever the client sends on the m-line (a browser may have reused it for its own
    /// microphone) and changes only whether the server sends.
    async fn set_sending(&self, send: bool) {
        let receiving = self.transceiver.direction().await.map(|d| d.has_recv()).unwrap_or(false);
        let wanted = RTCRtpTransceiverDirection::from_send_recv(send, receiving);
        if let Err(error) = self.transceiver.set_direction(wanted).await {
            tracing::debug!(%error, "cannot change an outgoing m-line's direction");
        }
    }
}

impl Drop for Outlet {
    fn drop(&mut self) {
        self.writing.abort();
        self.keyframes.remove(self.ssrc);
    }
}

/// The track a subscriber sees: the publication's stream id on the outlet's SSRC, named by the
/// outlet and how many publications it carried before.
pub(crate) fn media_track(publication: &Publication, ssrc: u32, carried: u32) -> MediaStreamTrack {
    let encoding = RTCRtpEncodingParameters {
        rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
        codec: publication.codec().clone(),
        ..Default::default()
    };
    let stream_id = publication.key().stream_id();
    MediaStreamTrack::new(stream_id.clone(), format!("mit-{ssrc:08x}-{carried}"), stream_id, publication.kind(), vec![encoding])
}

/// What the writer waits for next.
enum Step {
    /// A packet of the current feed, or `None` once that feed has ended.
    Packet(Option<rtp::Packet>),
    /// A new feed (`Some(None)` silences the outlet), or `None` once the outlet is dropped.
    Switch(Option<Option<Feed>>),
}

/// Writes the current feed's packets, rewritten onto the outlet's SSRC, until the outlet closes.
async fn write(writer: Arc<TrackLocalStaticRTP>, mut feeds: mpsc::UnboundedReceiver<Option<Feed>>, mut rewriter: Rewriter) {
    let mut current: Option<Feed> = None;
    loop {
        let step = match current.as_mut() {
            // A switch goes first, so a departed publication's queued packets are not written.
            Some(feed) => tokio::select! {
                biased;
                switch = feeds.recv() => Step::Switch(switch),
                packet = feed.packets.recv() => Step::Packet(packet),
            },
            None => Step::Switch(feeds.recv().await),
        };
        match step {
            Step::Packet(Some(mut packet)) => {
                let payload_type = current.as_ref().map_or(0, |feed| feed.payload_type);
                rewriter.rewrite(&mut packet.header, payload_type, Instant::now());
                if writer.write_rtp(packet).await.is_err() {
                    // The connection is closing; the outlet is about to be dropped.
                    return;
                }
            }
            Step::Packet(None) => current = None,
            Step::Switch(Some(feed)) => current = feed,
            Step::Switch(None) => return,
        }
    }
}
