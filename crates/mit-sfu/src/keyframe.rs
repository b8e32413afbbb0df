//! Throttling keyframe requests: many subscribers asking at once (a join, a burst of loss) cost
//! the publisher one keyframe, not one each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Lets at most one request through per interval.
#[derive(Debug)]
pub struct KeyframeThrottle {
    origin: Instant,
    interval_ms: u64,
    last_ms: AtomicU64,
}

impl KeyframeThrottle {
    /// At most one request per `interval`.
    pub fn new(interval: Duration) -> Self {
        let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX).max(1);
        Self { origin: Instant::now(), interval_ms, last_ms: AtomicU64::new(u64::MAX) }
    }

    /// Whether a request made at `now` should be sent.
    pub fn allow(&self, now: Instant) -> bool {
        let now_ms = u64::try_from(now.saturating_duration_since(self.origin).as_millis()).unwrap_or(u64::MAX);
        let mut last = self.last_ms.load(Ordering::Relaxed);
        loop {
            if last != u64::MAX && now_ms.saturating_sub(last) < self.interval_ms {
                return false;
            }
            match self.last_ms.compare_exchange_weak(last, now_ms, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(actual) => last = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_per_interval_passes() {
        let throttle = KeyframeThrottle::new(Duration::from_millis(500));
        let t0 = Instant::now();
        assert!(throttle.allow(t0));
        assert!(!throttle.allow(t0 + Duration::from_millis(100)));
        assert!(!throttle.allow(t0 + Duration::from_millis(499)));
        assert!(throttle.allow(t0 + Duration::from_millis(600)));
    }
}
