//! What a subscriber leg does to each forwarded packet header: its own SSRC and payload type,
//! and sequence numbers and timestamps that stay continuous when the publisher's feed changes
//! (a reconnect gives a new upstream SSRC and random starting points). Pure logic, so it is
//! tested without sockets.

use std::time::Instant;

use rtc::rtp::header::Header;

/// Per-leg header rewriting state.
#[derive(Debug, Clone)]
pub struct Rewriter {
    out_ssrc: u32,
    clock_rate: u32,
    state: Option<Continuity>,
}

#[derive(Debug, Clone, Copy)]
struct Continuity {
    in_ssrc: u32,
    seq_offset: u16,
    ts_offset: u32,
    last_out_seq: u16,
    last_out_ts: u32,
    last_at: Instant,
}

impl Rewriter {
    /// A rewriter stamping `out_ssrc` on packets of a codec with `clock_rate` Hz.
    pub fn new(out_ssrc: u32, clock_rate: u32) -> Self {
        Self { out_ssrc, clock_rate: clock_rate.max(1), state: None }
    }

    /// Rewrites `header` (received at `now`) in place for this leg with payload type `pt`.
    pub fn rewrite(&mut self, header: &mut Header, pt: u8, now: Instant) {
        let state = match &mut self.state {
            None => self.state.insert(Continuity {
                in_ssrc: header.ssrc,
                seq_offset: 0,
                ts_offset: 0,
                last_out_seq: header.sequence_number.wrapping_sub(1),
                last_out_ts: header.timestamp,
                last_at: now,
            }),
            Some(state) => state,
        };
        if state.in_ssrc != header.ssrc {
            // A new feed: continue the sequence where it left off, and move time forward by the
            // wall-clock gap (at least one 20 ms frame) so the receiver's jitter buffer resyncs.
            let elapsed = now.saturating_duration_since(state.last_at).as_secs_f64();
            let gap = ((elapsed * f64::from(self.clock_rate)) as u32).max(self.clock_rate / 50);
            state.seq_offset = state.last_out_seq.wrapping_add(1).wrapping_sub(header.sequence_number);
            state.ts_offset = state.last_out_ts.wrapping_add(gap).wrapping_sub(header.timestamp);
            state.in_ssrc = header.ssrc;
        }
        let seq = header.sequence_number.wrapping_add(state.seq_offset);
        let ts = header.timestamp.wrapping_add(state.ts_offset);
        // Reordered packets keep their place but do not move the continuity point backwards.
        if is_newer(seq, state.last_out_seq) {
            state.last_out_seq = seq;
            state.last_out_ts = ts;
            state.last_at = now;
        }
        header.sequence_number = seq;
        header.timestamp = ts;
        header.ssrc = self.out_ssrc;
        header.payload_type = pt;
    }
}

/// Whether sequence number `a` comes after `b`, across wrap-around (RFC 3550 arithmetic).
pub fn is_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn header(ssrc: u32, seq: u16, ts: u32) -> Header {
        Header { version: 2, ssrc, sequence_number: seq, timestamp: ts, payload_type: 111, ..Default::default() }
    }

    #[test]
    fn a_steady_feed_keeps_its_numbers_but_gets_the_legs_ssrc_and_type() {
        let mut rewriter = Rewriter::new(42, 48_000);
        let now = Instant::now();
        let mut h = header(7, 65_535, 4_294_966_000);
        rewriter.rewrite(&mut h, 100, now);
        assert_eq!((h.ssrc, h.payload_type, h.sequence_number, h.timestamp), (42, 100, 65_535, 4_294_966_000));
        let mut next = header(7, 0, 4_294_966_000u32.wrapping_add(960));
        rewriter.rewrite(&mut next, 100, now);
        assert_eq!((next.sequence_number, next.timestamp), (0, 4_294_966_000u32.wrapping_add(960)));
    }

    #[test]
    fn a_new_feed_continues_the_sequence_and_moves_time_forward() {
        let mut rewriter = Rewriter::new(42, 48_000);
        let start = Instant::now();
        for i in 0..10u16 {
            let mut h = header(7, 1000 + i, 5000 + u32::from(i) * 960);
            rewriter.rewrite(&mut h, 111, start);
        }
        let mut first_of_new = header(9, 31_000, 77);
        rewriter.rewrite(&mut first_of_new, 111, start + Duration::from_millis(500));
        assert_eq!(first_of_new.sequence_number, 1010);
        assert_eq!(first_of_new.timestamp, 5000 + 9 * 960 + 24_000, "half a second later at 48 kHz");
        let mut second = header(9, 31_001, 77 + 960);
        rewriter.rewrite(&mut second, 111, start + Duration::from_millis(520));
        assert_eq!((second.sequence_number, second.timestamp), (1011, 5000 + 9 * 960 + 24_000 + 960));
    }

    #[test]
    fn reordering_does_not_move_continuity_backwards() {
        let mut rewriter = Rewriter::new(42, 48_000);
        let now = Instant::now();
        for seq in [10u16, 12, 11] {
            let mut h = header(7, seq, u32::from(seq) * 960);
            rewriter.rewrite(&mut h, 111, now);
        }
        let mut switched = header(8, 500, 0);
        rewriter.rewrite(&mut switched, 111, now);
        assert_eq!(switched.sequence_number, 13);
    }

    #[test]
    fn newer_handles_wrap_around() {
        assert!(is_newer(0, 65_535));
        assert!(!is_newer(65_535, 0));
        assert!(is_newer(5, 4));
        assert!(!is_newer(4, 4));
    }
}
