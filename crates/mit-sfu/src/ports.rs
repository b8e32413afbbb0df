//! The UDP ports of the configured range, handed out one per peer connection. webrtc-rs 0.21
//! has no UDP mux, so every connection needs its own port; a port taken by another process is
//! skipped at bind time.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::sync::Mutex;

/// Ports in use by our own connections.
#[derive(Debug)]
pub struct PortPool {
    range: RangeInclusive<u16>,
    in_use: Mutex<BTreeSet<u16>>,
}

impl PortPool {
    /// A pool over `range`.
    pub fn new(range: RangeInclusive<u16>) -> Self {
        Self { range, in_use: Mutex::new(BTreeSet::new()) }
    }

    /// Ports to try, in order, each reserved for the caller until released. Reservation happens
    /// as the iterator advances, so concurrent callers never try the same port.
    pub fn candidates(&self) -> impl Iterator<Item = Reserved<'_>> + '_ {
        self.range.clone().filter_map(move |port| {
            let mut in_use = self.in_use.lock().ok()?;
            in_use.insert(port).then(|| Reserved { pool: self, port: Some(port) })
        })
    }

    fn release(&self, port: u16) {
        if let Ok(mut in_use) = self.in_use.lock() {
            in_use.remove(&port);
        }
    }

    /// Ports reserved now.
    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.in_use.lock().map(|s| s.len()).unwrap_or(0)
    }
}

/// A reserved port; released when dropped unless kept with [`Reserved::keep`].
#[derive(Debug)]
pub struct Reserved<'a> {
    pool: &'a PortPool,
    port: Option<u16>,
}

impl Reserved<'_> {
    /// The port.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_default()
    }

    /// Keeps the reservation past this guard; release it later with [`PortPool::give_back`].
    pub fn keep(mut self) -> u16 {
        self.port.take().unwrap_or_default()
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        if let Some(port) = self.port {
            self.pool.release(port);
        }
    }
}

impl PortPool {
    /// Releases a port kept with [`Reserved::keep`].
    pub fn give_back(&self, port: u16) {
        self.release(port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_reserved_once_and_released() {
        let pool = PortPool::new(40000..=40002);
        let first = pool.candidates().next().expect("a port").keep();
        let second = pool.candidates().next().expect("a port").keep();
        assert_eq!((first, second), (40000, 40001));
        {
            let tried = pool.candidates().next().expect("a port");
            assert_eq!(tried.port(), 40002);
        }
        assert_eq!(pool.in_use(), 2, "a dropped reservation is released");
        pool.give_back(first);
        assert_eq!(pool.candidates().next().expect("a port").keep(), 40000);
    }

    #[test]
    fn an_exhausted_range_offers_nothing() {
        let pool = PortPool::new(40000..=40000);
        let _kept = pool.candidates().next().expect("a port").keep();
        assert!(pool.candidates().next().is_none());
    }
}
