//! Fixed-window counters behind the login throttle and the per-user request limit.

use std::time::Duration;

use async_trait::async_trait;

use super::StoreError;

/// At most `limit` events per `period`, counted from the first event of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Events allowed per window.
    pub limit: u32,
    /// Window length.
    pub period: Duration,
}

/// Counts events per key in fixed windows.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Seconds until `key` is allowed again if it has already used up its window, else `None`.
    async fn blocked_for(&self, key: &str, window: Window) -> Result<Option<u64>, StoreError>;
    /// Counts one event; returns the wait if this event went over the limit.
    async fn hit(&self, key: &str, window: Window) -> Result<Option<u64>, StoreError>;
    /// Forgets `key`.
    async fn clear(&self, key: &str) -> Result<(), StoreError>;
}
