//! The domain's settings, filled in by the server from its environment.

use std::time::Duration;

use crate::ports::limits::Window;

/// The HMAC algorithms accepted for JWTs (`JWT_ALGORITHM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256.
    Hs256,
    /// HMAC-SHA384.
    Hs384,
    /// HMAC-SHA512.
    Hs512,
}

impl std::str::FromStr for JwtAlgorithm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "HS256" => Ok(Self::Hs256),
            "HS384" => Ok(Self::Hs384),
            "HS512" => Ok(Self::Hs512),
            other => Err(format!("`{other}` is not one of HS256, HS384, HS512")),
        }
    }
}

/// Token signing and lifetimes.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The HMAC secret (at least 32 bytes).
    pub secret: Vec<u8>,
    /// The signing algorithm.
    pub algorithm: JwtAlgorithm,
    /// Access token lifetime (default 30 minutes).
    pub access_ttl: Duration,
    /// Refresh token lifetime (default 7 days).
    pub refresh_ttl: Duration,
    /// Room token lifetime (default 5 minutes).
    pub room_ttl: Duration,
}

/// TURN credentials: static, or minted per user from a shared secret (coturn REST scheme).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnCredentials {
    /// `TURN_USERNAME` / `TURN_PASSWORD`.
    Static {
        /// Username.
        username: String,
        /// Password.
        password: String,
    },
    /// `TURN_SECRET`: username `<expiry>:<user id>`, credential base64(HMAC-SHA1(secret, username)).
    Secret {
        /// The shared secret configured in coturn (`static-auth-secret`).
        secret: String,
        /// How long minted credentials last.
        ttl: Duration,
    },
}

/// The ICE servers handed to clients.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceConfig {
    /// `stun:` URLs.
    pub stun_urls: Vec<String>,
    /// `turn:`/`turns:` URLs.
    pub turn_urls: Vec<String>,
    /// How clients authenticate to TURN.
    pub turn_credentials: Option<TurnCredentials>,
}

/// Meeting room settings.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// Where clients open the signalling socket: `ws(s)://host[:port]` (no path).
    pub signaling_base_url: String,
    /// Participants allowed in one room at once.
    pub capacity: u32,
    /// ICE servers.
    pub ice: IceConfig,
}

/// Recording downloads.
#[derive(Debug, Clone)]
pub struct RecordingConfig {
    /// How long a download URL works.
    pub link_ttl: Duration,
}

/// Everything the domain is configured with.
#[derive(Debug, Clone)]
pub struct DomainConfig {
    /// Tokens.
    pub jwt: JwtConfig,
    /// Failed logins allowed per account and address.
    pub login_failures: Window,
    /// Requests allowed per user; `None` disables the limit.
    pub requests_per_user: Option<Window>,
    /// Meeting rooms.
    pub room: RoomConfig,
    /// Recordings.
    pub recordings: RecordingConfig,
    /// Where clients reach this API: `http(s)://host[:port]` (no path), for links it hands out.
    pub public_url: String,
}
