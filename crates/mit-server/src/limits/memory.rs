//! Fixed-window counters in process memory, for a single node without Redis.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use mit_domain::ports::StoreError;
use mit_domain::ports::limits::{RateLimiter, Window};

use super::wait_seconds;

/// Independent shards, so concurrent requests of different users rarely share a lock.
const SHARDS: usize = 16;
/// A shard sweeps out expired windows when it grows past this many keys.
const SWEEP_AT: usize = 4096;

struct Counter {
    count: u32,
    ends: Instant,
}

/// In-process fixed-window counters.
pub struct MemoryLimiter {
    shards: Vec<Mutex<HashMap<String, Counter>>>,
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        Self { shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect() }
    }
}

impl MemoryLimiter {
    fn with_shard<T>(&self, key: &str, f: impl FnOnce(&mut HashMap<String, Counter>) -> T) -> Result<T, StoreError> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let shard = &self.shards[(hasher.finish() as usize) % SHARDS];
        let mut map = shard.lock().map_err(|_| StoreError::Other("rate limiter lock poisoned".into()))?;
        Ok(f(&mut map))
    }
}

#[async_trait]
impl RateLimiter for MemoryLimiter {
    async fn blocked_for(&self, key: &str, window: Window) -> Result<Option<u64>, StoreError> {
        let now = Instant::now();
        self.with_shard(key, |map| match map.get(key) {
            Some(c) if c.ends > now && c.count >= window.limit => Some(wait_seconds((c.ends - now).as_millis())),
            _ => None,
        })
    }

    async fn hit(&self, key: &str, window: Window) -> Result<Option<u64>, StoreError> {
        let now = Instant::now();
        self.with_shard(key, |map| {
            if map.len() >= SWEEP_AT {
                map.retain(|_, c| c.ends > now);
            }
            let counter = map.entry(key.to_string()).or_insert(Counter { count: 0, ends: now + window.period });
            if counter.ends <= now {
                *counter = Counter { count: 0, ends: now + window.period };
            }
            counter.count = counter.count.saturating_add(1);
            (counter.count > window.limit).then(|| wait_seconds((counter.ends - now).as_millis()))
        })
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.with_shard(key, |map| {
            map.remove(key);
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const FIVE_PER_MINUTE: Window = Window { limit: 5, period: Duration::from_secs(60) };

    #[tokio::test]
    async fn the_sixth_event_in_a_window_is_refused() {
        let limiter = MemoryLimiter::default();
        for _ in 0..5 {
            assert_eq!(limiter.hit("k", FIVE_PER_MINUTE).await.expect("hit"), None);
        }
        let wait = limiter.hit("k", FIVE_PER_MINUTE).await.expect("hit").expect("limited");
        assert!((1..=60).contains(&wait));
        assert!(limiter.blocked_for("k", FIVE_PER_MINUTE).await.expect("peek").is_some());
        assert_eq!(limiter.blocked_for("other", FIVE_PER_MINUTE).await.expect("peek"), None);
    }

    #[tokio::test]
    async fn clearing_forgets_the_key() {
        let limiter = MemoryLimiter::default();
        for _ in 0..6 {
            limiter.hit("k", FIVE_PER_MINUTE).await.expect("hit");
        }
        limiter.clear("k").await.expect("clear");
        assert_eq!(limiter.blocked_for("k", FIVE_PER_MINUTE).await.expect("peek"), None);
    }

    #[tokio::test]
    async fn a_window_ends() {
        let limiter = MemoryLimiter::default();
        let short = Window { limit: 1, period: Duration::from_millis(1) };
        limiter.hit("k", short).await.expect("hit");
        limiter.hit("k", short).await.expect("hit");
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(limiter.blocked_for("k", short).await.expect("peek"), None);
    }
}
