//! Ogg/Opus (RFC 7845) written as packets arrive, and repaired after a crash.
//!
//! webrtc-rs's `OggWriter` is not used: its OpusTags header has a wrong length, `close()`
//! duplicates the last page, and its `u32` timestamp arithmetic panics on reordering or
//! wrap-around. Here a granule position counts the samples a decoder produces, as RFC 7845
//! requires, and time the RTP clock says passed without packets (loss, DTX, a reconnect) is filled
//! with empty Opus frames, which decoders conceal as silence: time is neither invented nor
//! compressed. Headers are exact, the last page carries the end-of-stream flag, and a file cut off
//! mid-write can be finished later.

use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::opus;

/// Packets per page: a page every ~200 ms bounds what a crash can lose.
pub const PACKETS_PER_PAGE: usize = 10;
/// Samples the decoder discards at the start. A recording usually begins mid-stream, so
/// RFC 7845 §4.2 asks for 80 ms of decoder convergence; empty frames are written for it, so no
/// recorded audio is discarded.
pub const PRE_SKIP: u16 = 3840;
/// The longest silence filled in one go (10 minutes); a bigger jump of the RTP clock is not
/// real time passing, so it is clamped.
const MAX_GAP: u64 = 48_000 * 600;
/// Gaps shorter than the shortest Opus frame (2.5 ms) are jitter, not silence.
const MIN_FRAME: u64 = 120;
/// Lacing values a page may hold (the segment count is one byte); a page is cut before this.
const MAX_SEGMENTS: usize = 255;
const FLAG_BOS: u8 = 0x02;
const FLAG_EOS: u8 = 0x04;
const HEADER_LEN: usize = 27;
const VENDOR: &str = "Mit";

/// Builds Ogg pages of one Opus stream.
#[derive(Debug)]
pub struct OggOpusMuxer {
    serial: u32,
    sequence: u32,
    /// Packets not yet paged, each with the granule position at its end.
    pending: Vec<(Vec<u8>, u64)>,
    /// Samples decoded through the last packet pushed, pre-skip included.
    decoded: u64,
    last_granule: u64,
    /// RTP time cut out of gaps longer than [`MAX_GAP`], so later packets line up after it.
    skew: u64,
    /// The TOC byte of the last real packet, the model for concealment packets.
    last_toc: Option<u8>,
    /// Packets refused as not Opus.
    pub malformed: u64,
}

impl OggOpusMuxer {
    /// A muxer for stream `serial`; returns it and the two header pages (OpusHead, OpusTags).
    pub fn new(serial: u32) -> (Self, Vec<u8>) {
        let mut muxer =
            Self { serial, sequence: 0, pending: Vec::new(), decoded: 0, last_granule: 0, skew: 0, last_toc: None, malformed: 0 };
        let mut head = Vec::with_capacity(19);
        head.extend_from_slice(b"OpusHead");
        head.push(1); // version
        head.push(2); // channels: WebRTC's opus/48000/2
        head.extend_from_slice(&PRE_SKIP.to_le_bytes());
        head.extend_from_slice(&48_000u32.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // channel mapping family
        let mut tags = Vec::with_capacity(16 + VENDOR.len());
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(VENDOR.len() as u32).to_le_bytes());
        tags.extend_from_slice(VENDOR.as_bytes());
        tags.extend_from_slice(&0u32.to_le_bytes()); // no user comments
        let mut bytes = muxer.page(&[&head], 0, FLAG_BOS);
        bytes.extend(muxer.page(&[&tags], 0, 0));
        bytes.extend(muxer.silence(u64::from(PRE_SKIP)));
        (muxer, bytes)
    }

    /// Adds a packet that starts `start` samples (48 kHz) after the recording's first packet;
    /// returns the pages completed by it, often none. One packet is always held back, so the
    /// last page can carry the end-of-stream flag. A packet that is not Opus is refused.
    pub fn push(&mut self, packet: Vec<u8>, start: u64) -> Vec<u8> {
        let Some(samples) = opus::samples(&packet) else {
            self.malformed += 1;
            return Vec::new();
        };
        let position = (start + u64::from(PRE_SKIP)).saturating_sub(self.skew);
        let mut gap = position.saturating_sub(self.decoded);
        if gap > MAX_GAP {
            self.skew += gap - MAX_GAP;
            gap = MAX_GAP;
        }
        let mut bytes = self.silence(gap);
        self.last_toc = packet.first().copied();
        bytes.extend(self.queue(packet, u64::from(samples)));
        bytes
    }

    /// The final page (end of stream), with whatever is still held.
    pub fn finish(mut self) -> Vec<u8> {
        let pending = std::mem::take(&mut self.pending);
        self.page_of(&pending, FLAG_EOS)
    }

    /// Milliseconds of audio written so far.
    pub fn duration_ms(&self) -> u64 {
        self.decoded.saturating_sub(u64::from(PRE_SKIP)) / 48
    }

    /// Packets asking the decoder to conceal `samples` (to the nearest 2.5 ms below) of loss.
    /// RFC 7845 §4.1: the granule position cannot jump, so a muxer fills gaps with zero-length
    /// frames (RFC 6716 §3.2.1), best in the previous packet's mode so the concealment matches.
    fn silence(&mut self, samples: u64) -> Vec<u8> {
        let previous = self.last_toc.map(|toc| toc & !0x03).and_then(|toc| Some((toc, u64::from(opus::samples(&[toc])?))));
        // CELT fullband code-0 packets of 20, 10, 5 and 2.5 ms cover whatever is left.
        let celt = [(0xf8u8, 960u64), (0xf0, 480), (0xe8, 240), (0xe0, MIN_FRAME)];
        let mut bytes = Vec::new();
        let mut left = samples;
        for (toc, frame) in previous.into_iter().chain(celt) {
            while left >= frame {
                bytes.extend(self.queue(vec![toc], frame));
                left -= frame;
            }
        }
        bytes
    }

    fn queue(&mut self, packet: Vec<u8>, samples: u64) -> Vec<u8> {
        self.decoded += samples;
        self.pending.push((packet, self.decoded));
        let segments: usize = self.pending.iter().map(|(p, _)| segments(p.len())).sum();
        if self.pending.len() <= PACKETS_PER_PAGE && segments <= MAX_SEGMENTS {
            return Vec::new();
        }
        let rest = self.pending.split_off(self.pending.len() - 1);
        let full = std::mem::replace(&mut self.pending, rest);
        self.page_of(&full, 0)
    }

    fn page_of(&mut self, packets: &[(Vec<u8>, u64)], flags: u8) -> Vec<u8> {
        let granule = packets.last().map_or(self.last_granule, |(_, end)| *end);
        self.last_granule = granule;
        let payloads: Vec<&[u8]> = packets.iter().map(|(p, _)| p.as_slice()).collect();
        self.page(&payloads, granule, flags)
    }

    fn page(&mut self, packets: &[&[u8]], granule: u64, flags: u8) -> Vec<u8> {
        let mut lacing = Vec::new();
        for packet in packets {
            lacing.extend(std::iter::repeat_n(255u8, packet.len() / 255));
            lacing.push((packet.len() % 255) as u8);
        }
        let body: usize = packets.iter().map(|p| p.len()).sum();
        let mut page = Vec::with_capacity(HEADER_LEN + lacing.len() + body);
        page.extend_from_slice(b"OggS");
        page.push(0);
        page.push(flags);
        page.extend_from_slice(&granule.to_le_bytes());
        page.extend_from_slice(&self.serial.to_le_bytes());
        page.extend_from_slice(&self.sequence.to_le_bytes());
        page.extend_from_slice(&0u32.to_le_bytes());
        page.push(lacing.len() as u8);
        page.extend_from_slice(&lacing);
        for packet in packets {
            page.extend_from_slice(packet);
        }
        let crc = crc32(&page);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        self.sequence += 1;
        page
    }
}

/// Lacing values a packet of `len` bytes takes.
fn segments(len: usize) -> usize {
    len / 255 + 1
}

/// Ogg's CRC-32 (polynomial 0x04c11db7, no reflection, zero initial value and final XOR).
pub fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0u32; 256];
        for (i, entry) in table.iter_mut().enumerate() {
            let mut crc = (i as u32) << 24;
            for _ in 0..8 {
                crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04c1_1db7 } else { crc << 1 };
            }
            *entry = crc;
        }
        table
    });
    data.iter().fold(0u32, |crc, byte| (crc << 8) ^ table[(((crc >> 24) as u8) ^ byte) as usize])
}

/// One valid page found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageInfo {
    /// Where it starts.
    pub offset: usize,
    /// Its length in bytes.
    pub len: usize,
    /// Header flags.
    pub flags: u8,
    /// Granule position.
    pub granule: u64,
    /// Page sequence number.
    pub sequence: u32,
    /// The packets it completes (a packet continued onto the next page is not listed).
    pub packets: Vec<Vec<u8>>,
}

impl PageInfo {
    /// Whether this page ends the stream.
    pub fn is_eos(&self) -> bool {
        self.flags & FLAG_EOS != 0
    }
}

/// The valid pages at the start of `data`; scanning stops at the first torn or corrupt page.
pub fn pages(data: &[u8]) -> Vec<PageInfo> {
    let mut found = Vec::new();
    let mut offset = 0;
    while let Some(page) = page_at(data, offset) {
        offset += page.len;
        found.push(page);
    }
    found
}

fn page_at(data: &[u8], offset: usize) -> Option<PageInfo> {
    let header = data.get(offset..offset + HEADER_LEN)?;
    if &header[..4] != b"OggS" || header[4] != 0 {
        return None;
    }
    let segments = usize::from(header[26]);
    let lacing = data.get(offset + HEADER_LEN..offset + HEADER_LEN + segments)?;
    let body_len: usize = lacing.iter().map(|l| usize::from(*l)).sum();
    let len = HEADER_LEN + segments + body_len;
    let page = data.get(offset..offset + len)?;
    let stored = u32::from_le_bytes(page[22..26].try_into().ok()?);
    let mut zeroed = page.to_vec();
    zeroed[22..26].fill(0);
    if crc32(&zeroed) != stored {
        return None;
    }
    let mut packets = Vec::new();
    let mut current = Vec::new();
    let mut at = HEADER_LEN + segments;
    for lace in lacing {
        current.extend_from_slice(&page[at..at + usize::from(*lace)]);
        at += usize::from(*lace);
        if *lace < 255 {
            packets.push(std::mem::take(&mut current));
        }
    }
    Some(PageInfo {
        offset,
        len,
        flags: header[5],
        granule: u64::from_le_bytes(header[6..14].try_into().ok()?),
        sequence: u32::from_le_bytes(header[18..22].try_into().ok()?),
        packets,
    })
}

/// What repairing a file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repaired {
    /// Bytes kept.
    pub size: u64,
    /// Audio length from the last granule position, in milliseconds.
    pub duration_ms: u64,
}

/// Finishes an Ogg/Opus file a crash left open: sets the end-of-stream flag on the last complete
/// page (patched in place) and cuts what follows it, then syncs. Idempotent, and safe to
/// interrupt: a file caught half-way is repaired again. Audio files are small (about 30 MB for
/// two hours), so the file is scanned in memory.
pub fn repair(path: &Path) -> io::Result<Repaired> {
    let data = std::fs::read(path)?;
    let found = pages(&data);
    let Some(last) = found.last() else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "no complete Ogg page"));
    };
    let end = last.offset + last.len;
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    if !last.is_eos() {
        let mut page = data[last.offset..end].to_vec();
        page[5] |= FLAG_EOS;
        page[22..26].fill(0);
        let crc = crc32(&page);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        file.write_all_at(&page, last.offset as u64)?;
    }
    file.set_len(end as u64)?;
    file.sync_all()?;
    let pre_skip = found
        .first()
        .and_then(|page| page.packets.first())
        .and_then(|head| head.get(10..12))
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
    Ok(Repaired { size: end as u64, duration_ms: last.granule.saturating_sub(u64::from(pre_skip)) / 48 })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKET: [u8; 3] = [0xfc, 0xff, 0xfe];
    const FILLERS: usize = PRE_SKIP as usize / 960;

    fn push_all(muxer: &mut OggOpusMuxer, starts: impl IntoIterator<Item = u64>) -> Vec<u8> {
        starts.into_iter().flat_map(|start| muxer.push(PACKET.to_vec(), start)).collect()
    }

    fn stream(packets: u64) -> Vec<u8> {
        let (mut muxer, mut bytes) = OggOpusMuxer::new(7);
        bytes.extend(push_all(&mut muxer, (0..packets).map(|i| i * 960)));
        bytes.extend(muxer.finish());
        bytes
    }

    #[test]
    fn headers_pages_and_end_of_stream_are_well_formed() {
        let bytes = stream(25);
        let found = pages(&bytes);
        assert_eq!(found.iter().map(|p| p.sequence).collect::<Vec<_>>(), [0, 1, 2, 3, 4], "no gaps, no duplicates");
        assert_eq!(found[0].flags, FLAG_BOS);
        assert_eq!(&found[0].packets[0][..8], b"OpusHead");
        assert_eq!(found[0].packets[0][10..12], PRE_SKIP.to_le_bytes());
        assert_eq!(found[1].packets[0], b"OpusTags\x03\x00\x00\x00Mit\x00\x00\x00\x00", "the vendor length is right");
        assert_eq!(found[2].packets[..FILLERS], vec![vec![0xf8u8]; FILLERS], "the pre-skip is empty frames");
        assert_eq!(found.iter().map(|p| p.packets.len()).sum::<usize>(), 2 + FILLERS + 25);
        assert!(found[4].is_eos() && !found[3].is_eos());
        assert_eq!(found[2].granule, 10 * 960);
        assert_eq!(found[4].granule, u64::from(PRE_SKIP) + 25 * 960);
    }

    #[test]
    fn a_gap_in_time_is_filled_with_empty_frames_so_granules_count_decoded_samples() {
        let (mut muxer, _) = OggOpusMuxer::new(1);
        push_all(&mut muxer, (0..5).map(|i| i * 960));
        // Two seconds of nothing (loss or DTX), then more packets.
        push_all(&mut muxer, (0..6).map(|i| 5 * 960 + 96_000 + i * 960));
        assert_eq!(muxer.duration_ms(), 11 * 20 + 2000);
        let last = pages(&muxer.finish());
        assert_eq!(last[0].granule, u64::from(PRE_SKIP) + 11 * 960 + 96_000);
    }

    #[test]
    fn gaps_are_concealed_in_the_last_mode_then_in_shorter_frames_and_jitter_is_ignored() {
        let (mut muxer, mut bytes) = OggOpusMuxer::new(1);
        // A SILK packet of two 20 ms frames, 57.5 ms of silence and 1 ms of jitter.
        bytes.extend(muxer.push(vec![0x79, 0x01, 0x02], 0));
        bytes.extend(muxer.push(vec![0x78, 0x03], 1920 + (1920 + 480 + 240 + 120) + 48));
        bytes.extend(muxer.finish());
        let found = pages(&bytes);
        let fillers: Vec<u8> = found.iter().flat_map(|p| &p.packets).filter(|p| p.len() == 1).map(|p| p[0]).collect();
        assert_eq!(
            fillers,
            [0xf8, 0xf8, 0xf8, 0xf8, 0x78, 0x78, 0xf0, 0xe8, 0xe0],
            "80 ms pre-skip, 2 × 20 ms in the last mode, then 10 + 5 + 2.5 ms"
        );
    }

    #[test]
    fn packets_that_are_not_opus_are_refused() {
        let (mut muxer, _) = OggOpusMuxer::new(1);
        assert!(muxer.push(Vec::new(), 0).is_empty());
        assert!(muxer.push(vec![0x7b, 0x00], 0).is_empty(), "code 3 with no frames");
        assert_eq!(muxer.malformed, 2);
        assert_eq!(muxer.duration_ms(), 0);
    }

    #[test]
    fn a_runaway_rtp_clock_is_clamped() {
        let (mut muxer, _) = OggOpusMuxer::new(1);
        push_all(&mut muxer, [0, 1 << 40, (1 << 40) + 960]);
        assert_eq!(muxer.duration_ms(), 600_000 + 60, "one clamped gap; the packets after it follow on");
    }

    #[test]
    fn long_packets_use_lacing_values_of_255_and_a_terminator() {
        let (mut muxer, _) = OggOpusMuxer::new(1);
        muxer.push(vec![0xfc; 510], 0);
        let page = muxer.finish();
        let found = pages(&page);
        assert_eq!(found[0].packets.last(), Some(&vec![0xfc; 510]));
        assert_eq!(page[26] as usize, FILLERS + 3, "one lacing value per filler, then 255 + 255 + 0");
    }

    #[test]
    fn a_file_cut_short_is_repaired_to_its_last_complete_page() {
        let dir = std::env::temp_dir().join(format!("mit-ogg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("cut.ogg");
        let (mut muxer, mut bytes) = OggOpusMuxer::new(3);
        bytes.extend(push_all(&mut muxer, (0..36).map(|i| i * 960)));
        let complete = bytes.len();
        bytes.extend_from_slice(&muxer.finish()[..20]); // a torn write
        std::fs::write(&path, &bytes).expect("write");
        let repaired = repair(&path).expect("repair");
        // Pages hold 10 packets: the complete ones end after 4 fillers + 26 packets.
        assert_eq!(repaired, Repaired { size: complete as u64, duration_ms: 26 * 20 });
        let found = pages(&std::fs::read(&path).expect("read"));
        assert!(found.last().expect("pages").is_eos());
        assert_eq!(repair(&path).expect("again"), repaired, "idempotent");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn big_packets_never_overflow_a_pages_segment_table() {
        let (mut muxer, mut bytes) = OggOpusMuxer::new(1);
        for i in 0..12u64 {
            bytes.extend(muxer.push(vec![0xfc; 60 * 255], i * 960));
        }
        bytes.extend(muxer.finish());
        let found = pages(&bytes);
        assert_eq!(found.iter().map(|p| p.packets.len()).sum::<usize>(), 2 + FILLERS + 12);
    }

    #[test]
    fn opusinfo_and_ogginfo_accept_the_files() {
        let dir = std::env::temp_dir().join(format!("mit-ogg-tools-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("tone.opus");
        let (mut muxer, mut bytes) = OggOpusMuxer::new(7);
        bytes.extend(push_all(&mut muxer, (0..200).map(|i| i * 960)));
        // A second of loss in the middle must not upset either tool.
        bytes.extend(push_all(&mut muxer, (0..50).map(|i| 250 * 960 + i * 960)));
        bytes.extend(muxer.finish());
        std::fs::write(&path, bytes).expect("write");
        for (tool, package) in [("opusinfo", "opus-tools"), ("ogginfo", "vorbis-tools")] {
            let output = std::process::Command::new(tool)
                .arg(&path)
                .output()
                .unwrap_or_else(|e| panic!("{tool} ({package}, which `cargo xtask test` installs) cannot run: {e}"));
            let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            assert!(output.status.success(), "{tool} rejects the file:\n{text}");
            for complaint in ["WARNING", "Warning", "error", "gap", "hole"] {
                assert!(!text.contains(complaint), "{tool} complains:\n{text}");
            }
            if tool == "opusinfo" {
                assert!(text.contains("Playback length: 0m:06.000s"), "six seconds of audio, the loss included:\n{text}");
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_crc_matches_the_ogg_reference() {
        // The CRC of "OggS" with this table, as libogg computes it.
        assert_eq!(crc32(b"OggS"), 0x5fb0_a94f);
    }
}
