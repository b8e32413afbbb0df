//! Liveness and readiness.

use mit_api::server::HealthApi;
use mit_api::server::models::{DependencyCheck, HealthStatus, ReadinessStatus, ServiceState};
use mit_api::server::ops::{get_health, get_readiness};
use mit_api::server::runtime::{ApiError, Json};

use crate::Mit;
use crate::error::ApiResult;

impl HealthApi for Mit {
    async fn get_health(&self, _request: get_health::Request) -> ApiResult<get_health::Response> {
        Ok(get_health::Response::Ok(Json(HealthStatus { status: ServiceState::Ok })))
    }

    async fn get_readiness(&self, _request: get_readiness::Request) -> ApiResult<get_readiness::Response> {
        let mut checks = Vec::with_capacity(self.ports.probes.len());
        let mut failed = Vec::new();
        for probe in &self.ports.probes {
            let outcome = probe.check().await;
            if outcome.is_err() && probe.required() {
                failed.push(probe.name());
            }
            checks.push(DependencyCheck {
                name: probe.name().to_string(),
                status: if outcome.is_ok() { ServiceState::Ok } else { ServiceState::Unavailable },
                message: outcome.err(),
            });
        }
        let draining = self.ports.directory.draining();
        if failed.is_empty() && !draining {
            return Ok(get_readiness::Response::Ok(Json(ReadinessStatus { status: ServiceState::Ok, checks })));
        }
        let error = if draining {
            ApiError::service_unavailable("draining: this node takes no new rooms").with_detail("draining", true)
        } else {
            ApiError::service_unavailable(format!("not ready: {}", failed.join(", ")))
        };
        Ok(get_readiness::Response::ServiceUnavailable(Json(error.body()), error.retry_after_seconds()))
    }
}
