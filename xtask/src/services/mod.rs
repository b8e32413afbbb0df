//! Throwaway (tests) or persistent (dev) instances of the backing services, on free loopback
//! ports, stopped when dropped.

mod postgres;
mod redis;
mod s3;

pub use postgres::Postgres;
pub use redis::Redis;
pub use s3::S3;

/// Polls `ready` every 100 ms for at most `seconds`.
pub fn wait_until(what: &str, seconds: u64, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    anyhow::bail!("{what} did not become ready within {seconds} s")
}
