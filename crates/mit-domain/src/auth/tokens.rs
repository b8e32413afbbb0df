//! Signed tokens: access tokens (bearer JWTs bound to a session), room tokens (bound to a user
//! and a meeting, checked once when the signalling socket opens) and file tokens (a short-lived
//! link to one recording's file).

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::{JwtAlgorithm, JwtConfig};
use crate::error::DomainError;

const ISSUER: &str = "mit";
const ACCESS_AUDIENCE: &str = "mit-api";
const ROOM_AUDIENCE: &str = "mit-room";
const FILE_AUDIENCE: &str = "mit-file";
/// Clock skew tolerated between nodes, in seconds.
const LEEWAY_SECONDS: u64 = 5;

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    sub: Uuid,
    sid: Uuid,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct RoomClaims {
    sub: Uuid,
    mid: Uuid,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct FileClaims {
    sub: Uuid,
    mid: Uuid,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
}

/// What a valid file token grants: reading this recording of this meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileGrant {
    /// The meeting.
    pub meeting_id: Uuid,
    /// The recording.
    pub recording_id: Uuid,
}

/// What a valid room token grants: this user may enter this meeting's room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomGrant {
    /// The user.
    pub user_id: Uuid,
    /// The meeting.
    pub meeting_id: Uuid,
}

/// A freshly issued token and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The compact JWT.
    pub token: String,
    /// Its `exp`.
    pub expires_at: DateTime<Utc>,
}

/// Keys and lifetimes for every token Mit signs.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    algorithm: Algorithm,
    access_ttl: ChronoDuration,
    room_ttl: ChronoDuration,
}

impl TokenKeys {
    /// Keys from the configured secret and algorithm.
    pub fn new(config: &JwtConfig) -> Self {
        let algorithm = match config.algorithm {
            JwtAlgorithm::Hs256 => Algorithm::HS256,
            JwtAlgorithm::Hs384 => Algorithm::HS384,
            JwtAlgorithm::Hs512 => Algorithm::HS512,
        };
        Self {
            encoding: EncodingKey::from_secret(&config.secret),
            decoding: DecodingKey::from_secret(&config.secret),
            algorithm,
            access_ttl: to_chrono(config.access_ttl),
            room_ttl: to_chrono(config.room_ttl),
        }
    }

    /// The access token lifetime in whole seconds.
    pub fn access_ttl_seconds(&self) -> i64 {
        self.access_ttl.num_seconds()
    }

    /// An access token for `user_id` in `session_id`.
    pub fn issue_access(&self, user_id: Uuid, session_id: Uuid, now: DateTime<Utc>) -> Result<Issued, DomainError> {
        let expires_at = now + self.access_ttl;
        let claims = AccessClaims {
            sub: user_id,
            sid: session_id,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            iss: ISSUER.into(),
            aud: ACCESS_AUDIENCE.into(),
        };
        self.sign(&claims).map(|token| Issued { token, expires_at })
    }

    /// The user and session of a valid access token.
    pub fn verify_access(&self, token: &str) -> Result<(Uuid, Uuid), DomainError> {
        let claims: AccessClaims = self.verify(token, ACCESS_AUDIENCE, "access token")?;
        Ok((claims.sub, claims.sid))
    }

    /// A room token letting `user_id` into `meeting_id`'s room.
    pub fn issue_room(&self, user_id: Uuid, meeting_id: Uuid, now: DateTime<Utc>) -> Result<Issued, DomainError> {
        let expires_at = now + self.room_ttl;
        let claims = RoomClaims {
            sub: user_id,
            mid: meeting_id,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            iss: ISSUER.into(),
            aud: ROOM_AUDIENCE.into(),
        };
        self.sign(&claims).map(|token| Issued { token, expires_at })
    }

    /// What a valid room token grants.
    pub fn verify_room(&self, token: &str) -> Result<RoomGrant, DomainError> {
        let claims: RoomClaims = self.verify(token, ROOM_AUDIENCE, "room token")?;
        Ok(RoomGrant { user_id: claims.sub, meeting_id: claims.mid })
    }

    /// A file token for one recording, valid for `ttl`.
    pub fn issue_file(&self, grant: FileGrant, ttl: std::time::Duration, now: DateTime<Utc>) -> Result<Issued, DomainError> {
        let expires_at = now + to_chrono(ttl);
        let claims = FileClaims {
            sub: grant.recording_id,
            mid: grant.meeting_id,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            iss: ISSUER.into(),
            aud: FILE_AUDIENCE.into(),
        };
        self.sign(&claims).map(|token| Issued { token, expires_at })
    }

    /// What a valid file token grants.
    pub fn verify_file(&self, token: &str) -> Result<FileGrant, DomainError> {
        let claims: FileClaims = self.verify(token, FILE_AUDIENCE, "file token")?;
        Ok(FileGrant { meeting_id: claims.mid, recording_id: claims.sub })
    }

    fn sign<T: Serialize>(&self, claims: &T) -> Result<String, DomainError> {
        jsonwebtoken::encode(&Header::new(self.algorithm), claims, &self.encoding)
            .map_err(|e| DomainError::Internal(format!("cannot sign a token: {e}")))
    }

    fn verify<T: for<'de> Deserialize<'de>>(&self, token: &str, audience: &str, what: &str) -> Result<T, DomainError> {
        let mut validation = Validation::new(self.algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_audience(&[audience]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
        jsonwebtoken::decode::<T>(token, &self.decoding, &validation).map(|data| data.claims).map_err(|e| {
            let reason = match e.kind() {
                ErrorKind::ExpiredSignature => format!("the {what} has expired"),
                _ => format!("the {what} is invalid"),
            };
            DomainError::Unauthenticated(reason)
        })
    }
}

fn to_chrono(duration: std::time::Duration) -> ChronoDuration {
    ChronoDuration::from_std(duration).unwrap_or(ChronoDuration::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn keys(secret: &[u8]) -> TokenKeys {
        TokenKeys::new(&JwtConfig {
            secret: secret.to_vec(),
            algorithm: JwtAlgorithm::Hs256,
            access_ttl: Duration::from_secs(1800),
            refresh_ttl: Duration::from_secs(3600),
            room_ttl: Duration::from_secs(300),
        })
    }

    #[test]
    fn an_access_token_round_trips() {
        let keys = keys(b"0123456789abcdef0123456789abcdef");
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
        let issued = keys.issue_access(user, session, Utc::now()).expect("sign");
        assert_eq!(keys.verify_access(&issued.token).expect("verify"), (user, session));
    }

    #[test]
    fn a_room_token_is_not_an_access_token() {
        let keys = keys(b"0123456789abcdef0123456789abcdef");
        let issued = keys.issue_room(Uuid::new_v4(), Uuid::new_v4(), Utc::now()).expect("sign");
        assert!(keys.verify_access(&issued.token).is_err());
        assert!(keys.verify_room(&issued.token).is_ok());
    }

    #[test]
    fn a_file_token_grants_one_recording_and_nothing_else() {
        let keys = keys(b"0123456789abcdef0123456789abcdef");
        let grant = FileGrant { meeting_id: Uuid::new_v4(), recording_id: Uuid::new_v4() };
        let issued = keys.issue_file(grant, Duration::from_secs(60), Utc::now()).expect("sign");
        assert_eq!(keys.verify_file(&issued.token).expect("verify"), grant);
        assert!(keys.verify_access(&issued.token).is_err() && keys.verify_room(&issued.token).is_err());
        let access = keys.issue_access(Uuid::new_v4(), Uuid::new_v4(), Utc::now()).expect("sign");
        assert!(keys.verify_file(&access.token).is_err());
    }

    #[test]
    fn another_key_is_refused() {
        let issued = keys(b"0123456789abcdef0123456789abcdef").issue_access(Uuid::new_v4(), Uuid::new_v4(), Utc::now()).expect("sign");
        assert!(keys(b"fedcba9876543210fedcba9876543210").verify_access(&issued.token).is_err());
    }

    #[test]
    fn an_expired_token_says_so() {
        let keys = keys(b"0123456789abcdef0123456789abcdef");
        let issued = keys.issue_access(Uuid::new_v4(), Uuid::new_v4(), Utc::now() - ChronoDuration::hours(2)).expect("sign");
        match keys.verify_access(&issued.token) {
            Err(DomainError::Unauthenticated(reason)) => assert!(reason.contains("expired"), "{reason}"),
            other => panic!("expected an expiry error, got {other:?}"),
        }
    }
}
