//! Building one `rtc` peer connection: the codecs and interceptors of the async layer's
//! connections ([`crate::peer::connection`]), the ICE credentials its route on the node's port
//! was leased with, and one host candidate, the node's announced UDP address, which is also the
//! local address every datagram is tagged with.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rtc::interceptor::{Registry, Slot};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};

use crate::SfuConfig;
use crate::SfuError;
use crate::interceptor::{KeyframeRequestRouter, KeyframeRoutes, SLOT};

/// A connection answering on `announced` with the given ICE credentials.
pub(super) fn build(
    config: &SfuConfig,
    announced: SocketAddr,
    credentials: (String, String),
    keyframes: Arc<KeyframeRoutes>,
    now: Instant,
) -> Result<RTCPeerConnection, SfuError> {
    let failed = |error: rtc::shared::error::Error| SfuError::Build(error.to_string());
    let mut engine = crate::peer::connection::media_engine()?;
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
    let host = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".into(),
            address: announced.ip().to_string(),
            port: announced.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()
    .map_err(|error| SfuError::Build(error.to_string()))?;
    let candidate = RTCIceCandidate::from(&host).to_json().map_err(failed)?;
    connection.add_local_candidate(candidate).map_err(failed)?;
    Ok(connection)
}
