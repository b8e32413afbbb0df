//! ICE servers for a participant: STUN as configured, TURN with either static credentials or
//! time-limited ones in coturn's REST scheme (username `<expiry>:<user>`, credential
//! base64(HMAC-SHA1(secret, username))).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use mit_api::server::models::IceServer;
use sha1::Sha1;
use uuid::Uuid;

use crate::config::{IceConfig, TurnCredentials};

/// The ICE servers `user` gets at `now`.
pub fn ice_servers(config: &IceConfig, user: Uuid, now: DateTime<Utc>) -> Vec<IceServer> {
    let mut servers = Vec::with_capacity(2);
    if !config.stun_urls.is_empty() {
        servers.push(IceServer { urls: config.stun_urls.clone(), username: None, credential: None });
    }
    if let (false, Some(credentials)) = (config.turn_urls.is_empty(), &config.turn_credentials) {
        let (username, credential) = match credentials {
            TurnCredentials::Static { username, password } => (username.clone(), password.clone()),
            TurnCredentials::Secret { secret, ttl } => {
                let expiry = now.timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
                let username = format!("{expiry}:{user}");
                (username.clone(), turn_credential(secret, &username))
            }
        };
        servers.push(IceServer { urls: config.turn_urls.clone(), username: Some(username), credential: Some(credential) });
    }
    servers
}

/// coturn's `use-auth-secret` credential for `username`.
pub fn turn_credential(secret: &str, username: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn turn_credentials_follow_the_coturn_rest_scheme() {
        // Reference value computed with: printf '1700000000:ada' | openssl dgst -sha1 -hmac secret -binary | base64
        assert_eq!(turn_credential("secret", "1700000000:ada"), "lV8v9c9TsajfLXLkZIc5nnmtEng=");
    }

    #[test]
    fn stun_and_turn_servers_are_listed() {
        let config = IceConfig {
            stun_urls: vec!["stun:stun.example.com:3478".into()],
            turn_urls: vec!["turn:turn.example.com:3478?transport=udp".into()],
            turn_credentials: Some(TurnCredentials::Secret { secret: "s".into(), ttl: Duration::from_secs(3600) }),
        };
        let now = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let user = Uuid::nil();
        let servers = ice_servers(&config, user, now);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[1].username.as_deref(), Some(format!("1700003600:{user}").as_str()));
        assert_eq!(servers[1].credential.as_deref(), Some(turn_credential("s", &format!("1700003600:{user}")).as_str()));
    }

    #[test]
    fn nothing_configured_means_no_servers() {
        assert!(ice_servers(&IceConfig::default(), Uuid::nil(), Utc::now()).is_empty());
    }
}
