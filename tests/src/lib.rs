//! The end-to-end test harness: [`TestApp::spawn`] starts the real server in this process on a
//! free port, against its own freshly migrated PostgreSQL database (cloned from a template, so
//! it takes milliseconds). The backing services come from `cargo xtask test`, which starts them
//! and exports their URLs.

pub mod cluster;
mod database;
pub mod events;
pub mod janus;
pub mod keyframes;
pub mod load;
pub mod media;
pub mod mediasoup;
pub mod netns;
pub mod recordings;
pub mod room;
pub mod server_process;
mod users;

use std::net::SocketAddr;

use mit_client::Client;
use mit_server::RunningServer;
use mit_server::config::{Config, Env};

pub use database::fresh_database;
pub use users::TestUser;

/// The JWT secret every test server signs with, so tests can craft tokens of their own.
pub const TEST_JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

/// A URL `cargo xtask test` exports; panics with instructions when it is missing.
pub fn service_url(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: run the tests with `cargo xtask test`, which starts PostgreSQL, Redis and S3 for them")
    })
}

/// The Ogg/Opus fixture `cargo xtask test` generates (5 s of a 440 Hz tone, 20 ms packets).
pub fn opus_fixture() -> std::path::PathBuf {
    service_url("MIT_TEST_OPUS_FIXTURE").into()
}

/// The `S3_*` variables for the S3-compatible server `cargo xtask test` runs, with download
/// links signed for `public_endpoint` (defaults to the endpoint itself).
pub fn s3_env(public_endpoint: Option<&str>) -> Vec<(&'static str, String)> {
    let endpoint = service_url("MIT_TEST_S3_ENDPOINT");
    vec![
        ("S3_PUBLIC_ENDPOINT", public_endpoint.map_or_else(|| endpoint.clone(), str::to_string)),
        ("S3_ENDPOINT", endpoint),
        ("S3_ACCESS_KEY", service_url("MIT_TEST_S3_ACCESS_KEY")),
        ("S3_SECRET_KEY", service_url("MIT_TEST_S3_SECRET_KEY")),
        ("S3_BUCKET", service_url("MIT_TEST_S3_BUCKET")),
    ]
}

/// Polls `probe` every 25 ms until it yields something and returns that; fails the test with
/// `what` once `within` has passed without it. For waiting on an event the test can only observe
/// by looking (a row in the database, a counter going up) instead of sleeping "long enough".
pub async fn eventually<T, F, Fut>(within: std::time::Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {within:?} waiting for: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// The `mit` binary `cargo xtask test` builds, for tests that must kill a real server process.
pub fn server_binary() -> std::path::PathBuf {
    service_url("MIT_TEST_SERVER_BIN").into()
}

/// A running server with its own database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The server's address.
    pub address: SocketAddr,
    /// The database the server uses.
    pub database_url: String,
    server: Option<RunningServer>,
    _recordings: tempfile::TempDir,
}

impl TestApp {
    /// A server on test defaults (no Redis, no request rate limit).
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// A server with extra environment variables (they win over the defaults). With `TEST_LOG`
    /// set (`json` for JSON lines), the server's logs go to the test's output.
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> Self {
        if let Ok(format) = std::env::var("TEST_LOG") {
            mit_server::telemetry::init_logs(true, format.eq_ignore_ascii_case("json"));
        }
        let database_url = fresh_database().await;
        let recordings = tempfile::tempdir().expect("a temporary directory for recordings");
        let recording_path = recordings.path().display().to_string();
        let mut vars: Vec<(&str, &str)> = vec![
            ("DATABASE_URL", &database_url),
            ("DATABASE_POOL_SIZE", "8"),
            ("JWT_SECRET_KEY", TEST_JWT_SECRET),
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("RATE_LIMIT_REQUESTS", "0"),
            ("RECORDING_PATH", &recording_path),
            ("RTC_UDP_PORT", "0"),
            ("RTC_TCP_PORT", "0"),
        ];
        vars.retain(|(k, _)| !overrides.iter().any(|(o, _)| o == k));
        vars.extend_from_slice(overrides);
        let config = Config::from_env(&Env::from_pairs(vars)).expect("test configuration");
        let server = mit_server::start(config).await.expect("the server starts");
        let address = server.address;
        Self { base_url: format!("http://{address}"), address, database_url, server: Some(server), _recordings: recordings }
    }

    /// A client without credentials.
    pub fn client(&self) -> Client {
        Client::new(&self.base_url)
    }

    /// A client sending `token` as its bearer token.
    pub fn client_with_token(&self, token: &str) -> Client {
        mit_client::with_bearer(&self.base_url, token).expect("a valid token header")
    }

    /// A plain HTTP client and the URL of `path`, for requests the typed client cannot make.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Registers a new user with a unique email.
    pub async fn register(&self, name: &str) -> TestUser {
        TestUser::register(self, name).await
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}
