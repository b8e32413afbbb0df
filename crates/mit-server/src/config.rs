//! Configuration from the environment (and an optional `.env`). A missing or malformed variable
//! stops start-up with one line naming it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use mit_domain::DomainConfig;
use mit_domain::config::{IceConfig, JwtAlgorithm, JwtConfig, RecordingConfig, RoomConfig, TurnCredentials};
use mit_domain::ports::limits::Window;

/// A variable that is missing or does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration error: {variable} {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong with it, and what is expected.
    pub problem: String,
}

/// Where recordings are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectStoreConfig {
    /// An S3-compatible store.
    S3(S3Config),
    /// The local filesystem under this directory (dev default).
    Local(PathBuf),
}

/// An S3-compatible bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Endpoint the server talks to (`S3_ENDPOINT`).
    pub endpoint: String,
    /// Endpoint download URLs are presigned for (`S3_PUBLIC_ENDPOINT`, default `S3_ENDPOINT`).
    pub public_endpoint: String,
    /// Region (`S3_REGION`).
    pub region: String,
    /// Bucket (`S3_BUCKET`).
    pub bucket: String,
    /// Access key (`S3_ACCESS_KEY`).
    pub access_key: String,
    /// Secret key (`S3_SECRET_KEY`).
    pub secret_key: String,
}

/// The media plane's network settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcConfig {
    /// Address the SFU's UDP port binds to (`RTC_BIND_IP`; default: `HOST`, or 127.0.0.1 when
    /// `HOST` is a wildcard: the host candidate must name an address peers can reach).
    pub bind_ip: IpAddr,
    /// The node's one UDP port for every participant's media (`RTC_UDP_PORT`; 0: any free port).
    pub udp_port: u16,
    /// The node's one TCP port for ICE over TCP, for clients whose network blocks UDP
    /// (`RTC_TCP_PORT`; 0: any free port).
    pub tcp_port: u16,
    /// Public address announced in ICE candidates when behind 1:1 NAT (`RTC_PUBLIC_IP`).
    pub public_ip: Option<IpAddr>,
    /// Media worker threads, each holding whole rooms (`RTC_WORKERS`; default: one per core).
    pub workers: usize,
}

/// Everything `mit serve` is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address (`HOST`).
    pub host: IpAddr,
    /// Listen port (`PORT`).
    pub port: u16,
    /// The server's public base URL (`PUBLIC_URL`), for links and the signalling URL.
    pub public_url: String,
    /// `PUBLIC_URL` was given (else it follows the bound address).
    public_url_given: bool,
    /// `SIGNALING_URL` was given (else it follows `public_url`).
    signaling_url_given: bool,
    /// PostgreSQL (`DATABASE_URL`).
    pub database_url: String,
    /// Pool size (`DATABASE_POOL_SIZE`).
    pub database_pool_size: usize,
    /// Redis (`REDIS_URL`); `None` keeps pub/sub and limits in process.
    pub redis_url: Option<String>,
    /// Allowed browser origins (`CORS_ORIGINS`, comma-separated; empty: no CORS).
    pub cors_origins: Vec<String>,
    /// Verbose logs (`DEBUG`).
    pub debug: bool,
    /// Logs as JSON lines (`LOG_FORMAT=json`).
    pub json_logs: bool,
    /// Largest request body (`MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Recordings (`S3_*` or `RECORDING_PATH`).
    pub object_store: ObjectStoreConfig,
    /// Where recordings are written while in progress (`RECORDING_PATH`).
    pub recording_path: PathBuf,
    /// This node's name (`NODE_ID`, default `<host name>:<absolute RECORDING_PATH>`): recordings
    /// in progress and their upload jobs belong to the node whose disk holds them.
    pub node_id: String,
    /// Media plane networking.
    pub rtc: RtcConfig,
    /// Grace period before a dropped participant counts as gone (`ROOM_GRACE_SECONDS`).
    pub room_grace: Duration,
    /// Complete a running meeting whose room stays empty this long (`ROOM_EMPTY_TIMEOUT_MINUTES`).
    pub room_empty_timeout: Option<Duration>,
    /// With Redis: how long a node's registration and its rooms' placements last unless renewed
    /// (`NODE_LEASE_SECONDS`), so how soon a dead node's rooms can be placed elsewhere.
    pub node_lease: Duration,
    /// After SIGTERM, how long running rooms may go on before their participants are sent to
    /// another node (`DRAIN_TIMEOUT_SECONDS`).
    pub drain_timeout: Duration,
    /// The domain's settings.
    pub domain: DomainConfig,
}

/// Reads variables from a snapshot of the environment.
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The process environment.
    pub fn from_process() -> Self {
        Self { vars: std::env::vars().collect() }
    }

    /// Given variables (tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    fn text(&self, variable: &'static str) -> Option<String> {
        self.vars.get(variable).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn required(&self, variable: &'static str, expected: &str) -> Result<String, ConfigError> {
        self.text(variable).ok_or_else(|| ConfigError { variable, problem: format!("is not set ({expected})") })
    }

    fn parsed<T: FromStr>(&self, variable: &'static str, default: T, expected: &str) -> Result<T, ConfigError> {
        match self.text(variable) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| ConfigError { variable, problem: format!("is `{text}`, expected {expected}") }),
        }
    }

    /// A number within `range` (so nothing overflows later, in a request or a timer), in
    /// `unit`s.
    fn ranged<T>(&self, variable: &'static str, default: T, range: RangeInclusive<T>, unit: &str) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + std::fmt::Display,
    {
        let expected = || format!("{} to {} {unit}", range.start(), range.end());
        let value = match self.text(variable) {
            None => default,
            Some(text) => text.parse().map_err(|_| ConfigError { variable, problem: format!("is `{text}`, expected {}", expected()) })?,
        };
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError { variable, problem: format!("is {value}, expected {}", expected()) })
        }
    }

    fn flag(&self, variable: &'static str) -> Result<bool, ConfigError> {
        match self.text(variable).as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("0" | "false" | "no" | "off") => Ok(false),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some(other) => Err(ConfigError { variable, problem: format!("is `{other}`, expected true or false") }),
        }
    }

    fn list(&self, variable: &'static str) -> Vec<String> {
        self.text(variable).map(|t| t.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
    }
}

impl Config {
    /// Reads and checks every variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let host: IpAddr = env.parsed("HOST", IpAddr::from([127, 0, 0, 1]), "an IP address such as 0.0.0.0")?;
        let port: u16 = env.parsed("PORT", 8000, "a TCP port")?;
        let public_url_given = env.text("PUBLIC_URL").is_some();
        let public_url = match env.text("PUBLIC_URL") {
            Some(url) => check_http_url("PUBLIC_URL", &url)?,
            None => derived_url(host, port),
        };
        let database_url = env.required("DATABASE_URL", "a PostgreSQL URL such as postgres://user:pass@127.0.0.1:5432/mit")?;
        if !database_url.starts_with("postgres://") && !database_url.starts_with("postgresql://") {
            return Err(ConfigError { variable: "DATABASE_URL", problem: "must start with postgres:// or postgresql://".into() });
        }
        let redis_url = env.text("REDIS_URL");
        if let Some(url) = &redis_url
            && !url.starts_with("redis://")
            && !url.starts_with("rediss://")
        {
            return Err(ConfigError { variable: "REDIS_URL", problem: "must start with redis:// or rediss://".into() });
        }
        let recording_path: PathBuf = PathBuf::from(env.text("RECORDING_PATH").unwrap_or_else(|| "./recordings".into()));
        Ok(Self {
            host,
            port,
            database_url,
            database_pool_size: env.ranged("DATABASE_POOL_SIZE", 16, 1..=1000, "connections")?,
            redis_url,
            cors_origins: env.list("CORS_ORIGINS"),
            debug: env.flag("DEBUG")?,
            json_logs: env.text("LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")),
            max_body_bytes: env.ranged("MAX_BODY_BYTES", 1 << 20, 1024..=1 << 30, "bytes")?,
            object_store: object_store(env, &recording_path)?,
            node_id: env.text("NODE_ID").unwrap_or_else(|| default_node_id(&recording_path)),
            recording_path,
            rtc: rtc(env, host)?,
            room_grace: Duration::from_secs(env.ranged("ROOM_GRACE_SECONDS", 10, 5..=30, "seconds")?),
            room_empty_timeout: match env.ranged::<u64>("ROOM_EMPTY_TIMEOUT_MINUTES", 0, 0..=10_080, "minutes (0: never)")? {
                0 => None,
                minutes => Some(Duration::from_secs(minutes * 60)),
            },
            node_lease: Duration::from_secs(env.ranged("NODE_LEASE_SECONDS", 10, 3..=300, "seconds")?),
            drain_timeout: Duration::from_secs(env.ranged("DRAIN_TIMEOUT_SECONDS", 600, 0..=86_400, "seconds")?),
            domain: domain(env, &public_url)?,
            public_url,
            public_url_given,
            signaling_url_given: env.text("SIGNALING_URL").is_some(),
        })
    }

    /// Once the listener is bound: URLs not given explicitly follow the real address (which
    /// matters with `PORT=0`).
    pub fn bind_urls(&mut self, bound: std::net::SocketAddr) {
        if !self.public_url_given {
            self.public_url = derived_url(bound.ip(), bound.port());
            self.domain.public_url = self.public_url.clone();
        }
        if !self.signaling_url_given {
            self.domain.room.signaling_base_url = self.public_url.replacen("http", "ws", 1);
        }
    }

    /// The socket address to listen on.
    pub fn listen_address(&self) -> String {
        socket_text(self.host, self.port)
    }
}

/// `<host name>:<absolute recording path>`: unique per machine and directory, and one process per
/// directory is enforced by the recorder's lock.
fn default_node_id(recording_path: &std::path::Path) -> String {
    let path = std::path::absolute(recording_path).unwrap_or_else(|_| recording_path.to_path_buf());
    format!("{}:{}", host_name(), path.display())
}

/// The kernel's host name, or `local`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "local".into())
}

/// `http://host:port`, with loopback standing in for a wildcard listen address.
fn derived_url(host: IpAddr, port: u16) -> String {
    let host = if host.is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { host };
    format!("http://{}", socket_text(host, port))
}

fn socket_text(host: IpAddr, port: u16) -> String {
    match host {
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}

fn check_http_url(variable: &'static str, url: &str) -> Result<String, ConfigError> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() => Ok(url.trim_end_matches('/').to_string()),
        _ => Err(ConfigError { variable, problem: format!("is `{url}`, expected an http:// or https:// URL") }),
    }
}

fn domain(env: &Env, public_url: &str) -> Result<DomainConfig, ConfigError> {
    let secret = env.required("JWT_SECRET_KEY", "at least 32 characters of random text")?;
    if secret.len() < 32 {
        return Err(ConfigError { variable: "JWT_SECRET_KEY", problem: "is shorter than 32 characters".into() });
    }
    let algorithm: JwtAlgorithm = match env.text("JWT_ALGORITHM") {
        None => JwtAlgorithm::Hs256,
        Some(text) => text.parse().map_err(|problem: String| ConfigError { variable: "JWT_ALGORITHM", problem })?,
    };
    let access_minutes: u64 = env.ranged("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", 30, 1..=1440, "minutes")?;
    let refresh_days: u64 = env.ranged("JWT_REFRESH_TOKEN_EXPIRE_DAYS", 7, 1..=365, "days")?;
    let requests: u32 = env.ranged("RATE_LIMIT_REQUESTS", 100, 0..=1_000_000, "requests per window (0: no limit)")?;
    let window_minutes: u64 = env.ranged("RATE_LIMIT_WINDOW_MINUTES", 15, 1..=1440, "minutes")?;
    let login_failures: u32 = env.ranged("LOGIN_MAX_FAILURES", 5, 1..=1_000_000, "failed logins")?;
    let login_minutes: u64 = env.ranged("LOGIN_WINDOW_MINUTES", 15, 1..=1440, "minutes")?;
    let signaling_base_url = match env.text("SIGNALING_URL") {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => public_url.replacen("http", "ws", 1),
    };
    Ok(DomainConfig {
        jwt: JwtConfig {
            secret: secret.into_bytes(),
            algorithm,
            access_ttl: Duration::from_secs(access_minutes * 60),
            refresh_ttl: Duration::from_secs(refresh_days * 86_400),
            room_ttl: Duration::from_secs(env.ranged("ROOM_TOKEN_TTL_SECONDS", 300, 10..=86_400, "seconds")?),
        },
        login_failures: Window { limit: login_failures, period: Duration::from_secs(login_minutes * 60) },
        requests_per_user: (requests > 0).then(|| Window { limit: requests, period: Duration::from_secs(window_minutes * 60) }),
        room: RoomConfig { signaling_base_url, capacity: env.ranged("ROOM_CAPACITY", 20, 1..=10_000, "participants")?, ice: ice(env)? },
        recordings: RecordingConfig {
            link_ttl: Duration::from_secs(env.ranged("RECORDING_LINK_TTL_SECONDS", 900, 10..=86_400, "seconds")?),
        },
        public_url: public_url.to_string(),
    })
}

fn ice(env: &Env) -> Result<IceConfig, ConfigError> {
    let stun_urls = env.list("STUN_SERVER");
    let turn_urls = env.list("TURN_SERVER");
    let turn_credentials = match (env.text("TURN_SECRET"), env.text("TURN_USERNAME"), env.text("TURN_PASSWORD")) {
        (Some(secret), _, _) => {
            let ttl = env.ranged::<u64>("TURN_CREDENTIAL_TTL_SECONDS", 86_400, 60..=604_800, "seconds")?;
            Some(TurnCredentials::Secret { secret, ttl: Duration::from_secs(ttl) })
        }
        (None, Some(username), Some(password)) => Some(TurnCredentials::Static { username, password }),
        (None, Some(_), None) => {
            return Err(ConfigError { variable: "TURN_PASSWORD", problem: "is not set although TURN_USERNAME is".into() });
        }
        (None, None, Some(_)) => {
            return Err(ConfigError { variable: "TURN_USERNAME", problem: "is not set although TURN_PASSWORD is".into() });
        }
        (None, None, None) => None,
    };
    if !turn_urls.is_empty() && turn_credentials.is_none() {
        return Err(ConfigError { variable: "TURN_SECRET", problem: "or TURN_USERNAME/TURN_PASSWORD must be set with TURN_SERVER".into() });
    }
    Ok(IceConfig { stun_urls, turn_urls, turn_credentials })
}

fn object_store(env: &Env, recording_path: &std::path::Path) -> Result<ObjectStoreConfig, ConfigError> {
    let Some(endpoint) = env.text("S3_ENDPOINT") else {
        return Ok(ObjectStoreConfig::Local(recording_path.join("store")));
    };
    let endpoint = check_http_url("S3_ENDPOINT", &endpoint)?;
    let public_endpoint = match env.text("S3_PUBLIC_ENDPOINT") {
        Some(url) => check_http_url("S3_PUBLIC_ENDPOINT", &url)?,
        None => endpoint.clone(),
    };
    Ok(ObjectStoreConfig::S3(S3Config {
        endpoint,
        public_endpoint,
        region: env.text("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
        bucket: env.required("S3_BUCKET", "the bucket for recordings")?,
        access_key: env.required("S3_ACCESS_KEY", "the access key for S3_ENDPOINT")?,
        secret_key: env.required("S3_SECRET_KEY", "the secret key for S3_ENDPOINT")?,
    }))
}

fn rtc(env: &Env, host: IpAddr) -> Result<RtcConfig, ConfigError> {
    let default_bind = if host.is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { host };
    let bind_ip = env.parsed("RTC_BIND_IP", default_bind, "an IP address")?;
    for variable in ["RTC_UDP_PORT_MIN", "RTC_UDP_PORT_MAX"] {
        if env.text(variable).is_some() {
            return Err(ConfigError { variable, problem: "is no longer used: every participant shares RTC_UDP_PORT".into() });
        }
    }
    let udp_port: u16 = env.ranged("RTC_UDP_PORT", 40000, 0..=65_535, "(a UDP port; 0: any free port)")?;
    let tcp_port: u16 = env.ranged("RTC_TCP_PORT", 40000, 0..=65_535, "(a TCP port; 0: any free port)")?;
    let workers: usize = env.ranged("RTC_WORKERS", mit_sfu::SfuConfig::default_workers(), 1..=256, "threads")?;
    let public_ip = match env.text("RTC_PUBLIC_IP") {
        None => None,
        Some(text) => Some(
            text.parse().map_err(|_| ConfigError { variable: "RTC_PUBLIC_IP", problem: format!("is `{text}`, expected an IP address") })?,
        ),
    };
    Ok(RtcConfig { bind_ip, udp_port, tcp_port, public_ip, workers })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut all = vec![("DATABASE_URL", "postgres://127.0.0.1/mit"), ("JWT_SECRET_KEY", SECRET)];
        all.extend_from_slice(pairs);
        Config::from_env(&Env::from_pairs(all))
    }

    #[test]
    fn dev_defaults_need_only_the_database_and_a_secret() {
        let config = config(&[]).expect("config");
        assert_eq!(config.listen_address(), "127.0.0.1:8000");
        assert_eq!(config.public_url, "http://127.0.0.1:8000");
        assert_eq!(config.domain.room.signaling_base_url, "ws://127.0.0.1:8000");
        assert!(matches!(config.object_store, ObjectStoreConfig::Local(_)));
        assert!(config.redis_url.is_none());
    }

    #[test]
    fn a_missing_variable_is_named() {
        let error = Config::from_env(&Env::from_pairs([("JWT_SECRET_KEY", SECRET)])).expect_err("must fail");
        assert_eq!(error.variable, "DATABASE_URL");
        assert!(error.to_string().starts_with("configuration error: DATABASE_URL is not set"));
    }

    #[test]
    fn a_malformed_variable_is_named() {
        assert_eq!(config(&[("PORT", "eighty")]).expect_err("must fail").variable, "PORT");
        assert_eq!(config(&[("JWT_ALGORITHM", "none")]).expect_err("must fail").variable, "JWT_ALGORITHM");
        assert_eq!(config(&[("JWT_SECRET_KEY", "short")]).expect_err("must fail").variable, "JWT_SECRET_KEY");
        assert_eq!(config(&[("S3_ENDPOINT", "http://127.0.0.1:9000")]).expect_err("must fail").variable, "S3_BUCKET");
        assert_eq!(config(&[("TURN_SERVER", "turn:turn.example.com")]).expect_err("must fail").variable, "TURN_SECRET");
    }

    #[test]
    fn every_number_has_a_range_and_an_error_naming_it() {
        let cases = [
            ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "99999999999999"),
            ("JWT_REFRESH_TOKEN_EXPIRE_DAYS", "99999999999999"),
            ("ROOM_TOKEN_TTL_SECONDS", "18446744073709551615"),
            ("ROOM_EMPTY_TIMEOUT_MINUTES", "307445734561825861"),
            ("RATE_LIMIT_WINDOW_MINUTES", "307445734561825861"),
            ("LOGIN_WINDOW_MINUTES", "0"),
            ("ROOM_CAPACITY", "0"),
            ("DATABASE_POOL_SIZE", "0"),
            ("MAX_BODY_BYTES", "1"),
            ("ROOM_GRACE_SECONDS", "31"),
            ("TURN_CREDENTIAL_TTL_SECONDS", "1"),
            ("RTC_UDP_PORT", "65536"),
            ("RTC_WORKERS", "0"),
        ];
        for (variable, value) in cases {
            let error = config(&[("TURN_SECRET", "coturn-secret"), (variable, value)]).expect_err(variable);
            assert_eq!(error.variable, variable);
            assert!(error.problem.contains(" to "), "{variable}: {}", error.problem);
        }
        let error = config(&[("ROOM_CAPACITY", "many")]).expect_err("not a number");
        assert_eq!(error.problem, "is `many`, expected 1 to 10000 participants");
    }

    #[test]
    fn the_largest_allowed_durations_do_not_overflow_a_timestamp() {
        let config = config(&[
            ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "1440"),
            ("JWT_REFRESH_TOKEN_EXPIRE_DAYS", "365"),
            ("ROOM_TOKEN_TTL_SECONDS", "86400"),
        ])
        .expect("config");
        let now = chrono::Utc::now();
        for ttl in [config.domain.jwt.access_ttl, config.domain.jwt.refresh_ttl, config.domain.jwt.room_ttl] {
            let delta = chrono::TimeDelta::from_std(ttl).expect("a time delta");
            assert!(now.checked_add_signed(delta).is_some());
        }
    }

    #[test]
    fn the_node_is_named_after_the_host_and_the_recording_directory() {
        let node = config(&[("RECORDING_PATH", "/var/lib/mit")]).expect("config").node_id;
        assert!(node.ends_with(":/var/lib/mit"), "{node}");
        assert_eq!(config(&[("NODE_ID", "edge-1")]).expect("config").node_id, "edge-1");
    }

    #[test]
    fn a_wildcard_host_binds_media_to_loopback_by_default() {
        let config = config(&[("HOST", "0.0.0.0")]).expect("config");
        assert_eq!(config.rtc.bind_ip, IpAddr::from([127, 0, 0, 1]));
    }
}
