//! Fixed-window counters in Redis, shared by every node.

use async_trait::async_trait;
use mit_domain::ports::StoreError;
use mit_domain::ports::limits::{RateLimiter, Window};
use redis::aio::ConnectionManager;

use super::wait_seconds;

const PREFIX: &str = "mit:limit:";

/// Redis-backed fixed-window counters.
#[derive(Clone)]
pub struct RedisLimiter {
    redis: ConnectionManager,
}

impl RedisLimiter {
    /// Counters on `redis`.
    pub fn new(redis: ConnectionManager) -> Self {
        Self { redis }
    }
}

fn unavailable(error: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {error}"))
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn blocked_for(&self, key: &str, window: Window) -> Result<Option<u64>, StoreError> {
        let key = format!("{PREFIX}{key}");
        let mut redis = self.redis.clone();
        let (count, ttl): (Option<u32>, i64) = redis::pipe().get(&key).pttl(&key).query_async(&mut redis).await.map_err(unavailable)?;
        Ok(match count {
            Some(count) if count >= window.limit && ttl > 0 => Some(wait_seconds(ttl as u128)),
            _ => None,
        })
    }

    async fn hit(&self, key: &str, window: Window) -> Result<Option<u64>, StoreError> {
        let key = format!("{PREFIX}{key}");
        let period = u64::try_from(window.period.as_millis()).unwrap_or(u64::MAX);
        let mut redis = self.redis.clone();
        // Atomically: start a window if none is running, count the event, read what is left.
        let (count, ttl): (u32, i64) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&key)
            .arg(0)
            .arg("PX")
            .arg(period)
            .arg("NX")
            .ignore()
            .incr(&key, 1)
            .pttl(&key)
            .query_async(&mut redis)
            .await
            .map_err(unavailable)?;
        Ok((count > window.limit).then(|| wait_seconds(ttl.max(1) as u128)))
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        redis::cmd("DEL").arg(format!("{PREFIX}{key}")).query_async::<()>(&mut redis).await.map_err(unavailable)
    }
}
