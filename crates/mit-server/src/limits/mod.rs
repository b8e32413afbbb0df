//! The rate limiter port on one node (in process) or on Redis (shared by every node).

mod memory;
mod redis_window;

pub use memory::MemoryLimiter;
pub use redis_window::RedisLimiter;

/// Whole seconds to wait for `millis`, at least one.
fn wait_seconds(millis: u128) -> u64 {
    u64::try_from(millis.div_ceil(1000)).unwrap_or(u64::MAX).max(1)
}
