//! A sending m-line of one participant's connection. It lives as long as the connection and
//! carries one publication at a time: when a publisher leaves, the m-line goes quiet and later
//! carries the next publication of the same kind, so a long meeting's SDP does not grow by one
//! m-line per track that ever came and went.
//!
//! An outlet keeps its SSRC for life, with one continuous sequence across publishers
//! ([`Rewriter`]), because `rtc` binds a sender's SSRC to its interceptors (NACK responder,
//! sender reports) when first negotiated; what changes through `replace_track` is the stream id
//! (whose media it is) and the track id, which clients key their tracks by (webrtc-rs and
//! Chromium then report a new track on the m-line; the tests show both). Keyframe requests are
//! routed by SSRC for the same reason ([`KeyframeRoutes`]). The worker's fan-out writes to it
//! synchronously: no queue, task or lock per packet.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverId, RTCRtpTransceiverInit};

use crate::SfuError;
use crate::interceptor::KeyframeRoutes;
use crate::publication::Publication;
use crate::rewrite::Rewriter;

/// One sending m-line.
pub(super) struct Outlet {
    kind: RtpCodecKind,
    ssrc: u32,
    /// Publications carried so far, which names each one's track.
    carried: u32,
    transceiver: RTCRtpTransceiverId,
    sender: RTCRtpSenderId,
    rewriter: Rewriter,
    /// The negotiated payload type while packets may flow; `None` while quiet or unreleased.
    payload_type: Option<u8>,
    /// Packets of the publication it carries that came before the subscriber had its
    /// description, written once it has (so a new subscriber misses nothing); at most `depth`.
    pending: VecDeque<rtp::Packet>,
    depth: usize,
}

impl Outlet {
    /// Adds a new sending m-line for `publication`.
    pub(super) fn open(
        connection: &mut RTCPeerConnection,
        publication: &Arc<Publication>,
        keyframes: &KeyframeRoutes,
        depth: usize,
    ) -> Result<Self, SfuError> {
        let ssrc = rand::random::<u32>();
        let failed = |error: rtc::shared::error::Error| SfuError::Track(error.to_string());
        // Created able to receive, then made send-only: see `crate::outlet::Outlet::open`.
        let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Sendrecv, streams: vec![], send_encodings: vec![] };
        let transceiver = connection.add_transceiver_from_track(media_track(publication, ssrc, 0), Some(init)).map_err(failed)?;
        let mut handle = connection.rtp_transceiver(transceiver).ok_or_else(|| SfuError::Track("the new transceiver is gone".into()))?;
        handle.set_direction(RTCRtpTransceiverDirection::Sendonly);
        let sender = handle.sender().ok_or_else(|| SfuError::Track("the new transceiver has no sender".into()))?;
        keyframes.set(ssrc, publication);
        let rewriter = Rewriter::new(ssrc, publication.codec().clock_rate);
        let pending = VecDeque::with_capacity(depth);
        Ok(Self { kind: publication.kind(), ssrc, carried: 0, transceiver, sender, rewriter, payload_type: None, pending, depth })
    }

    /// Audio or video.
    pub(super) fn kind(&self) -> RtpCodecKind {
        self.kind
    }

    /// Whether the m-line has been negotiated at least once.
    pub(super) fn has_mid(&self, connection: &mut RTCPeerConnection) -> bool {
        connection.rtp_transceiver(self.transceiver).is_some_and(|t| t.mid().is_some())
    }

    /// The transceiver it is on.
    pub(super) fn transceiver(&self) -> RTCRtpTransceiverId {
        self.transceiver
    }

    /// Makes this quiet outlet carry `publication` from the next negotiation on.
    pub(super) fn carry(
        &mut self,
        connection: &mut RTCPeerConnection,
        publication: &Arc<Publication>,
        keyframes: &KeyframeRoutes,
    ) -> Result<(), SfuError> {
        self.set_sending(connection, true);
        self.pending.clear();
        let track = media_track(publication, self.ssrc, self.carried + 1);
        let replaced = match connection.rtp_sender(self.sender) {
            Some(mut sender) => sender.replace_track(track).map_err(|error| SfuError::Track(error.to_string())),
            None => Err(SfuError::Track("the outlet's sender is gone".into())),
        };
        if let Err(error) = replaced {
            self.set_sending(connection, false);
            return Err(error);
        }
        self.carried += 1;
        keyframes.set(self.ssrc, publication);
        Ok(())
    }

    /// Lets packets of codec `mime` flow once the subscriber has negotiated it, starting with
    /// those held back; false if not yet.
    pub(super) fn release(&mut self, connection: &mut RTCPeerConnection, mime: &str, now: Instant) -> bool {
        let Some(mut sender) = connection.rtp_sender(self.sender) else { return false };
        let codecs = &sender.get_parameters().rtp_parameters.codecs;
        self.payload_type = codecs.iter().find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime)).map(|c| c.payload_type);
        if self.payload_type.is_none() {
            return false;
        }
        while let Some(packet) = self.pending.pop_front() {
            self.send(connection, packet, now);
        }
        true
    }

    /// Stops packets and stops offering to send on the m-line; it stays for the next publication.
    pub(super) fn quiet(&mut self, connection: &mut RTCPeerConnection, keyframes: &KeyframeRoutes) {
        self.payload_type = None;
        self.pending.clear();
        keyframes.remove(self.ssrc);
        self.set_sending(connection, false);
    }

    /// Writes one packet, rewritten onto the outlet's SSRC and sequence, or holds it back until
    /// the subscriber has the description; false if it was dropped.
    pub(super) fn write(&mut self, connection: &mut RTCPeerConnection, packet: rtp::Packet, now: Instant) -> bool {
        if self.payload_type.is_some() {
            return self.send(connection, packet, now);
        }
        if self.pending.len() >= self.depth {
            return false;
        }
        self.pending.push_back(packet);
        true
    }

    fn send(&mut self, connection: &mut RTCPeerConnection, mut packet: rtp::Packet, now: Instant) -> bool {
        let (Some(payload_type), Some(mut sender)) = (self.payload_type, connection.rtp_sender(self.sender)) else { return false };
        self.rewriter.rewrite(&mut packet.header, payload_type, now);
        sender.write_rtp(now, packet).is_ok()
    }

    /// Keeps whatever the client sends on the m-line and changes only whether the server sends.
    fn set_sending(&self, connection: &mut RTCPeerConnection, send: bool) {
        if let Some(mut transceiver) = connection.rtp_transceiver(self.transceiver) {
            let receiving = transceiver.direction().has_recv();
            transceiver.set_direction(RTCRtpTransceiverDirection::from_send_recv(send, receiving));
        }
    }

    /// Forgets the keyframe route when the connection closes.
    pub(super) fn close(&self, keyframes: &KeyframeRoutes) {
        keyframes.remove(self.ssrc);
    }
}

/// The track a subscriber sees: the publication's stream id on the outlet's SSRC, named by the
/// outlet and how many publications it carried before.
fn media_track(publication: &Publication, ssrc: u32, carried: u32) -> MediaStreamTrack {
    let encoding = RTCRtpEncodingParameters {
        rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
        codec: publication.codec().clone(),
        ..Default::default()
    };
    let stream_id = publication.key().stream_id();
    MediaStreamTrack::new(stream_id.clone(), format!("mit-{ssrc:08x}-{carried}"), stream_id, publication.kind(), vec![encoding])
}
