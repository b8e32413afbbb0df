//! Fixed-window counters in Redis, shared by every node; while Redis is down, each node counts on
//! its own (so a limit allows up to that many events per node, not fewer).

use async_trait::async_trait;
use mit_domain::ports::StoreError;
use mit_domain::ports::limits::{RateLimiter, Window};

use super::{MemoryLimiter, wait_seconds};
use crate::cluster::link::{LinkError, RedisLink};

const PREFIX: &str = "mit:limit:";

/// Redis-backed fixed-window counters, with per-node ones for Redis outages.
pub struct RedisLimiter {
    redis: RedisLink,
    fallback: MemoryLimiter,
}

impl RedisLimiter {
    /// Counters on `redis`.
    pub fn new(redis: RedisLink) -> Self {
        Self { redis, fallback: MemoryLimiter::default() }
    }
}

fn unavailable(error: LinkError) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn blocked_for(&self, key: &str, window: Window) -> Result<Option<u64>, StoreError> {
        let redis_key = format!("{PREFIX}{key}");
        let peek = self
            .redis
            .run(|mut r| async move { redis::pipe().get(&redis_key).pttl(&redis_key).query_async::<(Option<u32>, i64)>(&mut r).await })
            .await;
        match peek {
            Ok((Some(count), ttl)) if count >= window.limit && ttl > 0 => Ok(Some(wait_seconds(ttl as u128))),
            Ok(_) => Ok(None),
            Err(error) if error.is_outage() => self.fallback.blocked_for(key, window).await,
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn hit(&self, key: &str, window: Window) -> Result<Option<u64>, StoreError> {
        let redis_key = format!("{PREFIX}{key}");
        let period = u64::try_from(window.period.as_millis()).unwrap_or(u64::MAX);
        // Atomically: start a window if none is running, count the event, read what is left.
        let counted = self
            .redis
            .run(|mut r| async move {
                redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(&redis_key)
                    .arg(0)
                    .arg("PX")
                    .arg(period)
                    .arg("NX")
                    .ignore()
                    .incr(&redis_key, 1)
                    .pttl(&redis_key)
                    .query_async::<(u32, i64)>(&mut r)
                    .await
            })
            .await;
        match counted {
            Ok((count, ttl)) => Ok((count > window.limit).then(|| wait_seconds(ttl.max(1) as u128))),
            Err(error) if error.is_outage() => self.fallback.hit(key, window).await,
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.fallback.clear(key).await?;
        let redis_key = format!("{PREFIX}{key}");
        match self.redis.run(|mut r| async move { redis::cmd("DEL").arg(redis_key).query_async::<()>(&mut r).await }).await {
            Err(error) if !error.is_outage() => Err(unavailable(error)),
            _ => Ok(()),
        }
    }
}
