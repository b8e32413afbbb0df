//! Logs (tracing, also collecting the `log` records of webrtc-rs) and Prometheus metrics.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Installs the log subscriber once per process: `RUST_LOG` if set, else `info` (`debug` with
/// `DEBUG`), as text or JSON lines.
pub fn init_logs(debug: bool, json: bool) {
    // webrtc-rs warns about an empty remote address and an empty pair list on every new
    // connection; neither means anything is wrong.
    let quiet = "rtc_dtls::config=error,rtc_ice::agent=error";
    let default = if debug { format!("debug,webrtc=info,rtc=info,{quiet}") } else { format!("info,{quiet}") };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = if json { builder.json().try_init() } else { builder.try_init() };
    if result.is_err() {
        tracing::debug!("a log subscriber was already installed");
    }
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        handle
    })
}
