//! A token bucket per socket: `rate` messages per second with bursts up to `burst`.

use std::time::Instant;

/// Message budget of one socket.
#[derive(Debug, Clone)]
pub struct MessageBudget {
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
}

impl MessageBudget {
    /// A full bucket.
    pub fn new(rate: u32, burst: u32) -> Self {
        Self { rate: f64::from(rate), burst: f64::from(burst), tokens: f64::from(burst), refilled: Instant::now() }
    }

    /// Spends one message at `now`; false if the budget is exhausted.
    pub fn spend(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_applies() {
        let mut budget = MessageBudget::new(10, 3);
        let t0 = Instant::now();
        assert!((0..3).all(|_| budget.spend(t0)));
        assert!(!budget.spend(t0));
        assert!(budget.spend(t0 + Duration::from_millis(100)));
        assert!(!budget.spend(t0 + Duration::from_millis(100)));
    }
}
