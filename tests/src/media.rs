//! A webrtc-rs participant for tests: the polite side of perfect negotiation, publishing
//! synthetic or Ogg/Opus audio and VP8-shaped video, and counting what it receives per stream id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rtc::interceptor::Slot;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use tokio::sync::watch;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceCandidateInit,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription, Registry, register_default_interceptors,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit, RtpSender};

/// Packets received, per stream id of the incoming track.
type Counts = Arc<Mutex<HashMap<String, u64>>>;
/// Microseconds from send to receipt of time-stamped packets (see [`send_stamped`]).
type Latencies = Arc<Mutex<Vec<u64>>>;

/// The first payload byte of a time-stamped packet: a valid Opus TOC (CELT wideband, 20 ms,
/// stereo, one frame) that neither the fixture nor the silence frames use, so the recorder takes
/// the packets as 20 ms of audio.
const STAMP: u8 = 0xbc;

/// Incoming tracks by stream id, for sending RTCP back (keyframe requests).
type Incoming = Arc<Mutex<HashMap<String, Arc<dyn TrackRemote>>>>;

struct Handler {
    counts: Counts,
    latencies: Latencies,
    incoming: Incoming,
    gathered: watch::Sender<bool>,
    state: watch::Sender<RTCPeerConnectionState>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let (counts, latencies, incoming) = (self.counts.clone(), self.latencies.clone(), self.incoming.clone());
        tokio::spawn(async move {
            let stream = track.stream_id().await;
            incoming.lock().expect("incoming").insert(stream.clone(), track.clone());
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                    *counts.lock().expect("counts").entry(stream.clone()).or_default() += 1;
                    if let Some(sent) = stamp_of(&packet.payload) {
                        latencies.lock().expect("latencies").push(now_micros().saturating_sub(sent));
                    }
                }
            }
        });
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        let _ = self.gathered.send(state == RTCIceGatheringState::Complete);
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.state.send(state);
    }
}

/// An outgoing track of the test participant.
pub struct Outgoing {
    /// The track.
    pub track: Arc<TrackLocalStaticRTP>,
    /// Its sender (for the negotiated payload type).
    pub sender: Arc<dyn RtpSender>,
    /// Its SSRC.
    pub ssrc: u32,
    /// Its codec's MIME type.
    pub mime: &'static str,
}

impl Outgoing {
    /// Counts the keyframe requests (PLI/FIR) that reach this track from now on.
    pub fn count_keyframe_requests(&self) -> Arc<std::sync::atomic::AtomicUsize> {
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (track, counter) = (self.track.clone(), count.clone());
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                if let webrtc::media_stream::track_local::TrackLocalEvent::OnRtcpPacket(_) = event {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
        count
    }

    /// The payload type negotiated for this track, once negotiated.
    pub async fn payload_type(&self) -> Option<u8> {
        let parameters = self.sender.get_parameters().await.ok()?;
        parameters.rtp_parameters.codecs.iter().find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(self.mime)).map(|c| c.payload_type)
    }
}

/// The media half of a test participant.
pub struct MediaClient {
    /// The connection.
    pub connection: Arc<dyn PeerConnection>,
    counts: Counts,
    latencies: Latencies,
    incoming: Incoming,
    gathered: watch::Receiver<bool>,
    state: watch::Receiver<RTCPeerConnectionState>,
}

impl MediaClient {
    /// A connection on loopback with the default codecs and interceptors.
    pub async fn new() -> Arc<Self> {
        Self::on("127.0.0.1").await
    }

    /// A connection on address `ip` with the default codecs and interceptors.
    pub async fn on(ip: &str) -> Arc<Self> {
        let mut engine = MediaEngine::default();
        engine.register_default_codecs().expect("codecs");
        // The keyframe-request forwarder lets tests see the PLIs the SFU relays to a publisher.
        let registry = register_default_interceptors(Registry::new(), &mut engine)
            .expect("interceptors")
            .with(Slot::from(crate::keyframes::SLOT), crate::keyframes::KeyframeRequestForwarder::default());
        let counts = Counts::default();
        let latencies = Latencies::default();
        let incoming = Incoming::default();
        let (gathered_tx, gathered) = watch::channel(false);
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let handler = Arc::new(Handler {
            counts: counts.clone(),
            latencies: latencies.clone(),
            incoming: incoming.clone(),
            gathered: gathered_tx,
            state: state_tx,
        });
        let connection = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .with_handler(handler)
            .with_udp_addrs(vec![format!("{ip}:0")])
            .build()
            .await
            .expect("a client peer connection");
        Arc::new(Self { connection: Arc::new(connection), counts, latencies, incoming, gathered, state })
    }

    /// Adds a microphone track on a transceiver of its own.
    pub async fn microphone(&self, id: &str) -> Outgoing {
        self.outgoing(id, RtpCodecKind::Audio).await
    }

    /// Adds a microphone track as a browser's `addTrack` does: on an existing audio transceiver
    /// that has nothing to send (a receive-only one), which turns it to send-and-receive.
    pub async fn microphone_on_a_free_transceiver(&self, id: &str) -> Outgoing {
        self.outgoing_on(id, RtpCodecKind::Audio, true).await
    }

    /// Adds a camera or screen track on a transceiver of its own.
    pub async fn video(&self, id: &str) -> Outgoing {
        self.outgoing(id, RtpCodecKind::Video).await
    }

    async fn outgoing(&self, id: &str, kind: RtpCodecKind) -> Outgoing {
        self.outgoing_on(id, kind, false).await
    }

    async fn outgoing_on(&self, id: &str, kind: RtpCodecKind, reuse: bool) -> Outgoing {
        let ssrc = rand_ssrc();
        let (mime, codec) = match kind {
            RtpCodecKind::Audio => (
                MIME_TYPE_OPUS,
                RTCRtpCodec {
                    mime_type: MIME_TYPE_OPUS.into(),
                    clock_rate: 48_000,
                    channels: 2,
                    sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
                    rtcp_feedback: vec![],
                },
            ),
            _ => (
                MIME_TYPE_VP8,
                RTCRtpCodec {
                    mime_type: MIME_TYPE_VP8.into(),
                    clock_rate: 90_000,
                    channels: 0,
                    sdp_fmtp_line: String::new(),
                    rtcp_feedback: vec![],
                },
            ),
        };
        let encoding = RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec,
            ..Default::default()
        };
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            format!("stream-{id}"),
            id.to_string(),
            id.to_string(),
            kind,
            vec![encoding],
        )));
        let sender = if reuse {
            self.connection.add_track(track.clone() as Arc<dyn TrackLocal>).await.expect("a track")
        } else {
            let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Sendonly, streams: vec![], send_encodings: vec![] };
            let transceiver =
                self.connection.add_transceiver_from_track(track.clone() as Arc<dyn TrackLocal>, Some(init)).await.expect("a transceiver");
            transceiver.sender().await.expect("sender").expect("a sender")
        };
        Outgoing { track, sender, ssrc, mime }
    }

    /// Receive-only: one audio and one video transceiver that only receive.
    pub async fn receive_only(&self) {
        for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
            let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, streams: vec![], send_encodings: vec![] };
            self.connection.add_transceiver_from_kind(kind, Some(init)).await.expect("a receive-only transceiver");
        }
    }

    /// Creates and applies an offer; returns its SDP once candidates are gathered.
    pub async fn offer(&self) -> String {
        let offer = self.connection.create_offer(None).await.expect("offer");
        self.connection.set_local_description(offer).await.expect("apply offer");
        self.described().await
    }

    /// Whether an own offer awaits the server's answer.
    pub async fn offering(&self) -> bool {
        self.connection.pending_local_description().await.is_some()
    }

    /// Answers a server offer, rolling back an own pending offer first (the polite side).
    pub async fn answer(&self, sdp: String) -> String {
        if self.connection.pending_local_description().await.is_some() {
            let rollback = RTCSessionDescription::rollback(None).expect("rollback");
            self.connection.set_local_description(rollback).await.expect("roll back");
        }
        let offer = RTCSessionDescription::offer(sdp).expect("server offer");
        self.connection.set_remote_description(offer).await.expect("apply server offer");
        let answer = self.connection.create_answer(None).await.expect("answer");
        self.connection.set_local_description(answer).await.expect("apply answer");
        self.described().await
    }

    /// Applies the server's answer.
    pub async fn accept(&self, sdp: String) {
        let answer = RTCSessionDescription::answer(sdp).expect("server answer");
        self.connection.set_remote_description(answer).await.expect("apply server answer");
    }

    /// Adds a server candidate.
    pub async fn add_candidate(&self, candidate: RTCIceCandidateInit) {
        let _ = self.connection.add_ice_candidate(candidate).await;
    }

    async fn described(&self) -> String {
        let mut gathered = self.gathered.clone();
        let _ = tokio::time::timeout(Duration::from_secs(5), gathered.wait_for(|complete| *complete)).await;
        self.connection.local_description().await.expect("a local description").sdp
    }

    /// Packets received so far on the incoming stream `stream_id` (`<user>:<source>`).
    pub fn packets(&self, stream_id: &str) -> u64 {
        self.counts.lock().expect("counts").get(stream_id).copied().unwrap_or(0)
    }

    /// Asks the sender of incoming stream `stream_id` for a keyframe (a PLI).
    pub async fn request_keyframe(&self, stream_id: &str) {
        let track = self.incoming.lock().expect("incoming").get(stream_id).cloned().expect("an incoming track");
        let ssrc = track.ssrcs().await.first().copied().unwrap_or_default();
        let pli = rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication { sender_ssrc: 0, media_ssrc: ssrc };
        track.write_rtcp(vec![Box::new(pli)]).await.expect("a PLI is sent");
    }

    /// All packets received, over every stream.
    pub fn total_packets(&self) -> u64 {
        self.counts.lock().expect("counts").values().sum()
    }

    /// Takes the send-to-receipt latencies (µs) of time-stamped packets received so far.
    pub fn take_latencies(&self) -> Vec<u64> {
        std::mem::take(&mut *self.latencies.lock().expect("latencies"))
    }

    /// The stream id of every track the connection announced (`ontrack`), whether or not it
    /// delivered a packet.
    pub fn announced(&self) -> Vec<String> {
        let mut streams: Vec<String> = self.incoming.lock().expect("incoming").keys().cloned().collect();
        streams.sort();
        streams
    }

    /// The remote description, for tests that look at what the server negotiated.
    pub async fn remote_sdp(&self) -> String {
        self.connection.remote_description().await.map(|d| d.sdp).unwrap_or_default()
    }

    /// The stream ids received so far.
    pub fn streams(&self) -> Vec<String> {
        let mut streams: Vec<String> = self.counts.lock().expect("counts").keys().cloned().collect();
        streams.sort();
        streams
    }

    /// Waits until `stream_id` has delivered at least `count` packets.
    pub async fn wait_for_packets(&self, stream_id: &str, count: u64, within: Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + within;
        while self.packets(stream_id) < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.packets(stream_id)
    }

    /// Waits for the connection to reach `wanted`.
    pub async fn wait_for_state(&self, wanted: RTCPeerConnectionState, within: Duration) -> bool {
        let mut state = self.state.clone();
        tokio::time::timeout(within, state.wait_for(|s| *s == wanted)).await.is_ok()
    }

    /// Closes the connection.
    pub async fn close(&self) {
        let _ = self.connection.close().await;
    }
}

fn rand_ssrc() -> u32 {
    u32::from_le_bytes(*uuid::Uuid::new_v4().as_bytes().first_chunk().expect("16 bytes"))
}

/// Sends `count` synthetic packets, one per `every`, once the payload type is negotiated.
/// Audio gets an Opus silence frame; video a VP8 keyframe header (descriptor, frame tag, start
/// code, 320×240) that the recorder can frame, though nothing decodes it.
pub async fn send_synthetic(outgoing: &Outgoing, count: u32, every: Duration) -> u32 {
    let Some(pt) = wait_for_payload_type(outgoing).await else { return 0 };
    let (payload, step): (&'static [u8], u32) = if outgoing.mime == MIME_TYPE_OPUS {
        (&[0xf8, 0xff, 0xfe], 960)
    } else {
        (&[0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00], 3000)
    };
    let mut tick = tokio::time::interval(every);
    let mut sent = 0;
    for i in 0..count {
        tick.tick().await;
        let packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                payload_type: pt,
                sequence_number: i as u16,
                timestamp: i * step,
                ssrc: outgoing.ssrc,
                marker: true,
                ..Default::default()
            },
            payload: Bytes::from_static(payload),
        };
        if outgoing.track.write_rtp(packet).await.is_ok() {
            sent += 1;
        }
    }
    sent
}

/// Like [`send_synthetic`] for audio, with the send time in each payload so receivers can
/// measure latency; returns packets sent.
pub async fn send_stamped(outgoing: &Outgoing, count: u32, every: Duration) -> u32 {
    send_stamped_sized(outgoing, count, every, 12).await
}

/// Like [`send_stamped`] with `size`-byte payloads on any track: 1,200 bytes every 10 ms is
/// video-like load, about 1 Mbit/s. As from a browser, the sequence starts at a random number,
/// and video carries VP8 payload descriptors with a picture id, a keyframe every 100 packets
/// (SFUs that parse VP8, such as mediasoup, forward nothing before a keyframe); the send time
/// then sits at the end of the payload.
pub async fn send_stamped_sized(outgoing: &Outgoing, count: u32, every: Duration, size: usize) -> u32 {
    let Some(pt) = wait_for_payload_type(outgoing).await else { return 0 };
    let video = outgoing.mime != MIME_TYPE_OPUS;
    let clock_rate = if video { 90_000.0 } else { 48_000.0 };
    let step = (clock_rate * every.as_secs_f64()) as u32;
    let first = rand_ssrc() as u16;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent = 0;
    for i in 0..count {
        tick.tick().await;
        let payload = if video { stamped_vp8(i, size) } else { stamped_opus(size) };
        let packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                payload_type: pt,
                sequence_number: first.wrapping_add(i as u16),
                timestamp: i * step,
                ssrc: outgoing.ssrc,
                marker: video || i == 0,
                ..Default::default()
            },
            payload,
        };
        if outgoing.track.write_rtp(packet).await.is_ok() {
            sent += 1;
        }
    }
    sent
}

/// An Opus-sized payload: the stamp byte (a valid Opus TOC) and the send time first.
fn stamped_opus(size: usize) -> Bytes {
    let mut payload = vec![0u8; size.max(9)];
    payload[0] = STAMP;
    payload[1..9].copy_from_slice(&now_micros().to_be_bytes());
    Bytes::from(payload)
}

/// Packet `i` of a VP8-shaped stream, one frame per packet: payload descriptor (start of
/// partition, 15-bit picture id), frame tag (a 320×240 keyframe every 100 frames), padding, and
/// the stamp byte with the send time last.
fn stamped_vp8(i: u32, size: usize) -> Bytes {
    let picture_id = (i & 0x7fff) as u16;
    let mut payload = vec![0x90, 0x80, 0x80 | (picture_id >> 8) as u8, picture_id as u8];
    if i.is_multiple_of(100) {
        payload.extend_from_slice(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]);
    } else {
        payload.extend_from_slice(&[0x11, 0x02, 0x00]);
    }
    payload.resize(size.max(payload.len() + 9) - 9, 0);
    payload.push(STAMP);
    payload.extend_from_slice(&now_micros().to_be_bytes());
    Bytes::from(payload)
}

fn now_micros() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// The send time of a stamped packet: first in audio, last in video (see [`send_stamped_sized`]).
fn stamp_of(payload: &[u8]) -> Option<u64> {
    let time = |bytes: &[u8]| bytes.try_into().ok().map(u64::from_be_bytes);
    match payload {
        [STAMP, rest @ ..] if rest.len() >= 8 => time(&rest[..8]),
        [.., STAMP, a, b, c, d, e, f, g, h] => time(&[*a, *b, *c, *d, *e, *f, *g, *h]),
        _ => None,
    }
}

/// Plays an Ogg/Opus file (one packet per page) at real-time pace; returns packets sent.
pub async fn play_ogg(outgoing: &Outgoing, path: &std::path::Path) -> u32 {
    use rtc::media::io::ogg_reader::OggReader;
    let Some(pt) = wait_for_payload_type(outgoing).await else { return 0 };
    let file = std::fs::File::open(path).expect("the Ogg/Opus fixture");
    let (mut ogg, _head) = OggReader::new(std::io::BufReader::new(file), true).expect("an Ogg/Opus file");
    let (mut seq, mut timestamp, mut last_granule, mut sent) = (rand_ssrc() as u16, 0u32, 0u64, 0u32);
    let mut next = tokio::time::Instant::now();
    while let Ok((payload, header)) = ogg.parse_next_page() {
        if header.opus_header_type(&payload).is_some() {
            continue;
        }
        let samples = header.granule_position.saturating_sub(last_granule) as u32;
        last_granule = header.granule_position;
        let packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                payload_type: pt,
                sequence_number: seq,
                timestamp,
                ssrc: outgoing.ssrc,
                marker: sent == 0,
                ..Default::default()
            },
            payload: payload.freeze(),
        };
        if outgoing.track.write_rtp(packet).await.is_ok() {
            sent += 1;
        }
        seq = seq.wrapping_add(1);
        timestamp = timestamp.wrapping_add(samples);
        next += Duration::from_micros(u64::from(samples) * 1_000_000 / 48_000);
        tokio::time::sleep_until(next).await;
    }
    sent
}

async fn wait_for_payload_type(outgoing: &Outgoing) -> Option<u8> {
    for _ in 0..200 {
        if let Some(pt) = outgoing.payload_type().await {
            return Some(pt);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}
