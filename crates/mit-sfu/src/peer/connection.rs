//! Building one server-side peer connection: only Opus and VP8 (every browser has them, and
//! forwarding never transcodes), the default interceptors (NACK, reports, TWCC) plus the
//! keyframe-request forwarder, no mDNS socket, ICE credentials chosen by the node's UDP port and
//! that port as its socket ([`crate::mux`]).

use std::sync::Arc;

use rtc::interceptor::Slot;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder, Registry,
    SettingEngineBuilder, register_default_interceptors,
};

use crate::interceptor::{KeyframeRequestRouter, KeyframeRoutes, SLOT};
use crate::mux::PeerSocket;
use crate::mux::runtime::MuxRuntime;
use crate::{SfuError, Shared};

/// The Opus codec the SFU negotiates.
pub fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.into(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
        rtcp_feedback: vec![],
    }
}

/// The VP8 codec the SFU negotiates, with keyframe and retransmission feedback.
pub fn vp8() -> RTCRtpCodec {
    let feedback =
        |typ: &str, parameter: &str| rtc::rtp_transceiver::rtp_sender::RTCPFeedback { typ: typ.into(), parameter: parameter.into() };
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.into(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![feedback("goog-remb", ""), feedback("ccm", "fir"), feedback("nack", ""), feedback("nack", "pli")],
    }
}

pub(crate) fn media_engine() -> Result<MediaEngine, SfuError> {
    use rtc::rtp_transceiver::rtp_sender::RTCRtpCodecParameters;
    let mut engine = MediaEngine::default();
    engine
        .register_codec(RTCRtpCodecParameters { rtp_codec: opus(), payload_type: 111 }, RtpCodecKind::Audio)
        .map_err(|e| SfuError::Build(e.to_string()))?;
    engine
        .register_codec(RTCRtpCodecParameters { rtp_codec: vp8(), payload_type: 96 }, RtpCodecKind::Video)
        .map_err(|e| SfuError::Build(e.to_string()))?;
    Ok(engine)
}

/// A participant's connection with the server, as built.
pub(crate) struct Built {
    pub(crate) connection: Arc<dyn PeerConnection>,
    /// Its place on the node's UDP port.
    pub(crate) socket: Arc<PeerSocket>,
    /// Where its subscriber's keyframe requests go.
    pub(crate) keyframes: Arc<KeyframeRoutes>,
}

/// A connection on the node's UDP port.
pub(crate) async fn build(shared: &Shared, handler: Arc<dyn PeerConnectionEventHandler>) -> Result<Built, SfuError> {
    let mut engine = media_engine()?;
    let keyframes = Arc::new(KeyframeRoutes::default());
    let registry = register_default_interceptors(Registry::new(), &mut engine)
        .map_err(|e| SfuError::Build(e.to_string()))?
        .with(Slot::from(SLOT), KeyframeRequestRouter::new(keyframes.clone()));
    let config = &shared.config;
    let socket = shared.ports.peer();
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .with_ice_timeouts(Some(config.ice_disconnected_timeout), Some(config.ice_failed_timeout), Some(std::time::Duration::from_secs(2)))
        .with_ice_credentials(socket.ufrag.clone(), socket.password.clone());
    let bind = socket_ip(config.bind_ip);
    let tcp_addrs = if shared.tcp_port.is_some() { vec![format!("{bind}:0")] } else { Vec::new() };
    let connection = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(engine)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings.build())
        .with_handler(handler)
        .with_runtime(Arc::new(MuxRuntime::new(socket.clone())))
        // webrtc-rs binds this (an ephemeral port, closed again by the runtime) to name its host
        // candidate; the media goes through the node's port.
        .with_udp_addrs(vec![format!("{bind}:0")])
        .with_tcp_addrs(tcp_addrs)
        .build()
        .await
        .map_err(|e| SfuError::Build(e.to_string()))?;
    Ok(Built { connection: Arc::new(connection), socket, keyframes })
}

fn socket_ip(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        std::net::IpAddr::V4(v4) => v4.to_string(),
    }
}
