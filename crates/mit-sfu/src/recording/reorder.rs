//! Puts packets back in order before they are written, holding at most a short window (by RTP
//! time) so a late packet can still take its place; anything later than that is dropped. Sequence
//! numbers and timestamps are extended to 64 bits with wrapping arithmetic, so neither
//! wrap-around nor reordering can make time run backwards.

use std::collections::BTreeMap;

/// Extends wrapping 16- or 32-bit counters to 64 bits.
#[derive(Debug, Clone, Copy, Default)]
struct Unwrapper {
    last: Option<u64>,
}

impl Unwrapper {
    /// The 64-bit value nearest to the last one whose low `bits` are `value`.
    fn extend(&mut self, value: u64, bits: u32) -> u64 {
        let modulus = 1u64 << bits;
        let extended = match self.last {
            None => value + (modulus << 8),
            Some(last) => {
                let base = last & !(modulus - 1);
                let candidates = [base.wrapping_sub(modulus) + value, base + value, base + modulus + value];
                candidates.into_iter().min_by_key(|c| c.abs_diff(last)).unwrap_or(base + value)
            }
        };
        if self.last.is_none_or(|last| extended > last) {
            self.last = Some(extended);
        }
        extended
    }
}

/// Packets held at most: a publisher that never fills a gap and never moves its clock on must
/// not make the buffer grow without end.
const MAX_HELD: usize = 512;

/// A packet in playout order, with its extended sequence number and RTP timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ordered {
    /// RTP sequence number extended to 64 bits.
    pub sequence: u64,
    /// RTP timestamp extended to 64 bits.
    pub timestamp: u64,
    /// The RTP marker bit.
    pub marker: bool,
    /// The payload.
    pub payload: Vec<u8>,
}

/// The reorder window.
#[derive(Debug)]
pub struct ReorderBuffer {
    window: u64,
    sequence: Unwrapper,
    timestamp: Unwrapper,
    held: BTreeMap<u64, Ordered>,
    released: Option<u64>,
    /// Packets dropped as late or duplicate.
    pub dropped: u64,
}

impl ReorderBuffer {
    /// Holds up to `window` RTP clock units (e.g. 4,800 = 100 ms at 48 kHz).
    pub fn new(window: u64) -> Self {
        Self { window, sequence: Unwrapper::default(), timestamp: Unwrapper::default(), held: BTreeMap::new(), released: None, dropped: 0 }
    }

    /// Adds a packet; returns those now ready, in order.
    pub fn push(&mut self, sequence: u16, timestamp: u32, marker: bool, payload: &[u8]) -> Vec<Ordered> {
        let seq = self.sequence.extend(u64::from(sequence), 16);
        let ts = self.timestamp.extend(u64::from(timestamp), 32);
        if self.released.is_some_and(|released| seq <= released) || self.held.contains_key(&seq) {
            self.dropped += 1;
            return Vec::new();
        }
        self.held.insert(seq, Ordered { sequence: seq, timestamp: ts, marker, payload: payload.to_vec() });
        let newest = self.held.values().map(|p| p.timestamp).max().unwrap_or(ts);
        let mut ready = Vec::new();
        while let Some((&first, packet)) = self.held.first_key_value() {
            // The stream's first packet, or the one right after the last released.
            let next_in_line = self.released.is_none_or(|released| first == released + 1);
            let waited_enough = newest.saturating_sub(packet.timestamp) >= self.window || self.held.len() > MAX_HELD;
            if !next_in_line && !waited_enough {
                break;
            }
            if let Some((seq, packet)) = self.held.pop_first() {
                self.released = Some(seq);
                ready.push(packet);
            }
        }
        ready
    }

    /// Everything still held, in order (at the end of the stream).
    pub fn drain(&mut self) -> Vec<Ordered> {
        let held = std::mem::take(&mut self.held);
        if let Some((&last, _)) = held.last_key_value() {
            self.released = Some(last);
        }
        held.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(buffer: &mut ReorderBuffer, packets: &[(u16, u32)]) -> Vec<u64> {
        let mut out = Vec::new();
        for (seq, ts) in packets {
            out.extend(buffer.push(*seq, *ts, false, &[1]).into_iter().map(|p| p.timestamp));
        }
        out.extend(buffer.drain().into_iter().map(|p| p.timestamp));
        out
    }

    #[test]
    fn in_order_packets_pass_straight_through() {
        let mut buffer = ReorderBuffer::new(4800);
        let first = buffer.push(1, 0, false, &[1]);
        let second = buffer.push(2, 960, false, &[1]);
        assert_eq!(first.len(), 1, "the first packet starts the stream");
        assert_eq!(second.len(), 1, "the next in line is released at once");
    }

    #[test]
    fn reordered_packets_come_out_in_order() {
        let mut buffer = ReorderBuffer::new(4800);
        let out = order(&mut buffer, &[(1, 0), (3, 1920), (2, 960), (4, 2880)]);
        let base = out[0];
        assert_eq!(out.iter().map(|t| t - base).collect::<Vec<_>>(), [0, 960, 1920, 2880]);
        assert_eq!(buffer.dropped, 0);
    }

    #[test]
    fn a_lost_packet_is_waited_for_only_a_window_long() {
        let mut buffer = ReorderBuffer::new(4800);
        buffer.push(1, 0, false, &[1]);
        assert!(buffer.push(3, 1920, false, &[1]).is_empty(), "2 may still come");
        let released = buffer.push(9, 7680, false, &[1]);
        assert_eq!(released.len(), 1, "after 100 ms, 3 goes without 2");
        assert!(buffer.push(2, 960, false, &[1]).is_empty());
        assert_eq!(buffer.dropped, 1, "2 came too late");
    }

    #[test]
    fn a_gap_never_filled_under_a_frozen_clock_holds_a_bounded_number_of_packets() {
        let mut buffer = ReorderBuffer::new(4800);
        buffer.push(1, 0, false, &[1]);
        let released: usize = (3..3 + MAX_HELD as u16 + 10).map(|seq| buffer.push(seq, 0, false, &[1]).len()).sum();
        assert!(released > 0 && buffer.held.len() <= MAX_HELD, "held {}", buffer.held.len());
    }

    #[test]
    fn wrap_around_and_duplicates_are_handled() {
        let mut buffer = ReorderBuffer::new(4800);
        let out = order(&mut buffer, &[(65_534, u32::MAX - 959), (65_535, 0), (0, 960), (0, 960)]);
        assert_eq!(out.len(), 3);
        assert!(out.windows(2).all(|w| w[1] > w[0]), "time keeps increasing across the wrap: {out:?}");
        assert_eq!(buffer.dropped, 1, "the duplicate");
    }
}
