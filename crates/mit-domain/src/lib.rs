//! Mit's domain: the rules of accounts, teams, meetings and their media, implemented as the
//! handler traits generated from the contract. Everything with I/O (storage, rate-limit counters,
//! the media plane, files) sits behind the port traits in [`ports`], which `mit-server` wires to
//! PostgreSQL, Redis, object storage and the SFU.

pub mod auth;
pub mod caller;
pub mod chat;
pub mod clock;
pub mod config;
pub mod error;
pub mod events;
pub mod health;
pub mod knowledge;
pub mod meetings;
pub mod notes;
pub mod paging;
pub mod participants;
pub mod ports;
pub mod realtime;
pub mod recordings;
pub mod review;
pub mod teams;
pub mod users;

use std::sync::Arc;

pub use caller::Caller;
pub use config::DomainConfig;
pub use error::DomainError;
pub use ports::Ports;

use auth::tokens::TokenKeys;

/// The domain service: one value implementing every generated handler trait.
pub struct Mit {
    ports: Ports,
    config: Arc<DomainConfig>,
    keys: TokenKeys,
}

impl Mit {
    /// A domain service over `ports`, configured by `config`.
    pub fn new(ports: Ports, config: DomainConfig) -> Self {
        let keys = TokenKeys::new(&config.jwt);
        Self { ports, config: Arc::new(config), keys }
    }

    /// The ports this service uses.
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// The configuration.
    pub fn config(&self) -> &DomainConfig {
        &self.config
    }
}
