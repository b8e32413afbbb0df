//! Time as a port, so rules about expiry can be tested without waiting.

use chrono::{DateTime, SubsecRound, Utc};

/// The current time.
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC, truncated to microseconds (what PostgreSQL stores).
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}
