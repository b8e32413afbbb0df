//! Building one participant's `rtc` peer connection: only Opus and VP8, the default
//! interceptors (NACK, reports, TWCC) plus the keyframe-request forwarder, no mDNS, the ICE
//! credentials its route on the node's ports was leased with, and the node's announced addresses
//! as its host candidates (UDP, and passive TCP when on), which are also the local addresses
//! every datagram it receives is tagged with.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rtc::ice::tcp_type::TcpType;
use rtc::interceptor::{Registry, Slot};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};

use super::Local;
use crate::SfuConfig;
use crate::SfuError;
use crate::interceptor::{KeyframeRequestRouter, KeyframeRoutes, SLOT};

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

/// Only Opus and VP8: every browser has them, and forwarding never transcodes.
pub(super) fn media_engine() -> Result<MediaEngine, SfuError> {
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

/// A connection answering on `local`'s addresses with the given ICE credentials.
pub(super) fn build(
    config: &SfuConfig,
    local: Local,
    credentials: (String, String),
    keyframes: Arc<KeyframeRoutes>,
    now: Instant,
) -> Result<RTCPeerConnection, SfuError> {
    let failed = |error: rtc::shared::error::Error| SfuError::Build(error.to_string());
    let mut engine = media_engine()?;
    let registry = register_default_interceptors(Registry::new(), &mut engine)
        .map_err(failed)?
        .with(Slot::from(SLOT), KeyframeRequestRouter::new(keyframes));
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .with_ice_timeouts(Some(config.ice_disconnected_timeout), Some(config.ice_failed_timeout), Some(std::time::Duration::from_secs(2)))
        .with_ice_credentials(credentials.0, credentials.1)
        .build();
    let mut connection = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(engine)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings)
        .build(now)
        .map_err(failed)?;
    connection.add_local_candidate(host_candidate(local.udp, TcpType::Unspecified)?).map_err(failed)?;
    if let Some(tcp) = local.tcp {
        connection.add_local_candidate(host_candidate(tcp, TcpType::Passive)?).map_err(failed)?;
    }
    Ok(connection)
}

/// A host candidate on `address`: UDP, or passive TCP.
pub(super) fn host_candidate(address: SocketAddr, tcp_type: TcpType) -> Result<RTCIceCandidateInit, SfuError> {
    let network = if tcp_type == TcpType::Passive { "tcp" } else { "udp" };
    let host = CandidateHostConfig {
        base_config: CandidateConfig {
            network: network.into(),
            address: address.ip().to_string(),
            port: address.port(),
            component: 1,
            ..Default::default()
        },
        tcp_type,
    }
    .new_candidate_host()
    .map_err(|error| SfuError::Build(error.to_string()))?;
    RTCIceCandidate::from(&host).to_json().map_err(|error| SfuError::Build(error.to_string()))
}
