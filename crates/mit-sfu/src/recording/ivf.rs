//! VP8 video as IVF: RTP VP8 payloads (RFC 7741) reassembled into frames, starting at the first
//! keyframe, each frame stamped with its RTP time (90 kHz). The header's frame count is kept
//! current on close and rebuilt by [`repair`] after a crash.

use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

const HEADER_LEN: usize = 32;
const FRAME_HEADER_LEN: usize = 12;

/// The IVF file header (32 bytes) for VP8 at `width`×`height`, 90 kHz time base.
pub fn header(width: u16, height: u16, frames: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(b"DKIF");
    header[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
    header[8..12].copy_from_slice(b"VP80");
    header[12..14].copy_from_slice(&width.to_le_bytes());
    header[14..16].copy_from_slice(&height.to_le_bytes());
    header[16..20].copy_from_slice(&90_000u32.to_le_bytes());
    header[20..24].copy_from_slice(&1u32.to_le_bytes());
    header[24..28].copy_from_slice(&frames.to_le_bytes());
    header
}

/// One IVF frame record: its header and data.
pub fn frame(data: &[u8], pts: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + data.len());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&pts.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// The VP8 bitstream part of an RTP VP8 payload, and whether it starts a frame.
pub fn depacketize(payload: &[u8]) -> Option<(&[u8], bool)> {
    let first = *payload.first()?;
    let starts_frame = first & 0x10 != 0 && first & 0x07 == 0;
    let mut at = 1;
    if first & 0x80 != 0 {
        let extensions = *payload.get(at)?;
        at += 1;
        if extensions & 0x80 != 0 {
            at += if payload.get(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        if extensions & 0x40 != 0 {
            at += 1;
        }
        if extensions & 0x30 != 0 {
            at += 1;
        }
    }
    Some((payload.get(at..)?, starts_frame))
}

/// The size of a VP8 keyframe, or `None` for an inter frame.
pub fn keyframe_size(frame: &[u8]) -> Option<(u16, u16)> {
    let is_key = frame.first()? & 0x01 == 0;
    if !is_key || frame.get(3..6)? != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([*frame.get(6)?, *frame.get(7)?]) & 0x3fff;
    let height = u16::from_le_bytes([*frame.get(8)?, *frame.get(9)?]) & 0x3fff;
    Some((width, height))
}

/// Assembles frames from ordered RTP payloads. A frame with a packet missing is dropped, and so
/// is every frame after it until a keyframe: inter frames decoded against a lost frame are
/// garbage. [`FrameAssembler::take_keyframe_request`] says when to ask for one.
#[derive(Debug, Default)]
pub struct FrameAssembler {
    current: Vec<u8>,
    timestamp: Option<u64>,
    last_sequence: Option<u64>,
    broken: bool,
    waiting_for_keyframe: bool,
    wants_keyframe: bool,
}

impl FrameAssembler {
    /// Adds an ordered payload with its extended sequence number and timestamp; returns a frame
    /// once complete.
    pub fn push(&mut self, payload: &[u8], sequence: u64, timestamp: u64, marker: bool) -> Option<(Vec<u8>, u64)> {
        let contiguous = self.last_sequence.is_none_or(|last| sequence == last + 1);
        self.last_sequence = Some(sequence);
        let (data, starts) = depacketize(payload)?;
        if starts || self.timestamp != Some(timestamp) {
            if self.timestamp.is_some() || !contiguous {
                // The previous frame never saw its last packet, or whole frames went missing.
                self.lost_a_frame();
            }
            self.broken = !starts;
            self.current.clear();
            self.timestamp = Some(timestamp);
        } else if !contiguous {
            self.broken = true;
        }
        self.current.extend_from_slice(data);
        if !marker {
            return None;
        }
        self.timestamp = None;
        if self.broken || self.current.is_empty() {
            self.lost_a_frame();
            return None;
        }
        let frame = std::mem::take(&mut self.current);
        if self.waiting_for_keyframe && keyframe_size(&frame).is_none() {
            return None;
        }
        self.waiting_for_keyframe = false;
        Some((frame, timestamp))
    }

    /// Whether a keyframe should be requested (once per loss).
    pub fn take_keyframe_request(&mut self) -> bool {
        std::mem::take(&mut self.wants_keyframe)
    }

    fn lost_a_frame(&mut self) {
        self.waiting_for_keyframe = true;
        self.wants_keyframe = true;
    }
}

/// What repairing a file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repaired {
    /// Bytes kept.
    pub size: u64,
    /// Frames kept.
    pub frames: u32,
    /// From the first to the last frame, in milliseconds.
    pub duration_ms: u64,
}

/// Finishes an IVF file a crash left open: walks the frame headers (video can be gigabytes, so
/// the file is not read whole), cuts a torn last frame, writes the frame count in place and
/// syncs. Idempotent, and safe to interrupt.
pub fn repair(path: &Path) -> io::Result<Repaired> {
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let mut header = [0u8; HEADER_LEN];
    if len < HEADER_LEN as u64 || file.read_exact_at(&mut header, 0).is_err() || &header[..4] != b"DKIF" {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not an IVF file"));
    }
    let (mut at, mut frames, mut first, mut last) = (HEADER_LEN as u64, 0u32, None, 0u64);
    let mut frame_header = [0u8; FRAME_HEADER_LEN];
    while at + FRAME_HEADER_LEN as u64 <= len {
        file.read_exact_at(&mut frame_header, at)?;
        let size = u64::from(u32::from_le_bytes([frame_header[0], frame_header[1], frame_header[2], frame_header[3]]));
        let end = at + FRAME_HEADER_LEN as u64 + size;
        if end > len {
            break;
        }
        let mut pts = [0u8; 8];
        pts.copy_from_slice(&frame_header[4..]);
        let pts = u64::from_le_bytes(pts);
        first.get_or_insert(pts);
        last = pts;
        frames += 1;
        at = end;
    }
    file.write_all_at(&frames.to_le_bytes(), 24)?;
    file.set_len(at)?;
    file.sync_all()?;
    Ok(Repaired { size: at, frames, duration_ms: last.saturating_sub(first.unwrap_or(last)) / 90 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 keyframe start: frame tag, start code, 320×240.
    const KEYFRAME: [u8; 10] = [0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];

    #[test]
    fn payload_descriptors_are_stripped() {
        let mut payload = vec![0x10];
        payload.extend_from_slice(&KEYFRAME);
        assert_eq!(depacketize(&payload), Some((&KEYFRAME[..], true)));
        // X, I with a 15-bit picture id, L, T.
        let extended = [0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0xaa];
        assert_eq!(depacketize(&extended), Some((&[0xaa][..], true)));
        assert_eq!(keyframe_size(&KEYFRAME), Some((320, 240)));
        assert_eq!(keyframe_size(&[0x51, 0x01, 0x00]), None, "an inter frame");
    }

    fn keyframe_payload() -> Vec<u8> {
        std::iter::once(0x10).chain(KEYFRAME).collect()
    }

    #[test]
    fn frames_are_assembled_across_packets() {
        let mut assembler = FrameAssembler::default();
        assert_eq!(assembler.push(&[0x10, 1, 2], 1, 1000, false), None);
        assert_eq!(assembler.push(&[0x00, 3], 2, 1000, true), Some((vec![1, 2, 3], 1000)));
        assert_eq!(assembler.push(&[0x10, 4], 3, 4000, true), Some((vec![4], 4000)));
        assert!(!assembler.take_keyframe_request(), "nothing was lost");
    }

    #[test]
    fn after_a_loss_frames_wait_for_a_keyframe_which_is_asked_for_once() {
        let mut assembler = FrameAssembler::default();
        assert!(assembler.push(&keyframe_payload(), 1, 0, true).is_some());
        // The start of the next frame was lost: its rest is dropped, not glued to the one after.
        assert_eq!(assembler.push(&[0x00, 9], 3, 4000, true), None);
        assert!(assembler.take_keyframe_request());
        assert!(!assembler.take_keyframe_request(), "once per loss");
        assert_eq!(assembler.push(&[0x10, 7], 4, 7000, true), None, "an inter frame refers to what was lost");
        assert_eq!(assembler.push(&keyframe_payload(), 5, 10_000, true).map(|(_, ts)| ts), Some(10_000));
        assert!(assembler.push(&[0x10, 8], 6, 13_000, true).is_some(), "back to normal");
    }

    #[test]
    fn a_frame_missing_a_middle_packet_or_a_whole_frame_missing_is_a_loss() {
        let mut assembler = FrameAssembler::default();
        assert!(assembler.push(&keyframe_payload(), 1, 0, true).is_some());
        assert_eq!(assembler.push(&[0x10, 1], 2, 3000, false), None);
        assert_eq!(assembler.push(&[0x00, 3], 4, 3000, true), None, "packet 3 is missing");
        assert!(assembler.take_keyframe_request());
        assert!(assembler.push(&keyframe_payload(), 5, 6000, true).is_some());
        assert_eq!(assembler.push(&[0x10, 9], 8, 12_000, true), None, "packets 6 and 7 (a frame) are missing");
        assert!(assembler.take_keyframe_request());
    }

    #[test]
    fn a_torn_file_keeps_its_complete_frames() {
        let dir = std::env::temp_dir().join(format!("mit-ivf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("cut.ivf");
        let mut data = header(320, 240, 0).to_vec();
        for i in 0..3u64 {
            data.extend(frame(&KEYFRAME, i * 3000));
        }
        let complete = data.len();
        data.extend(&frame(&KEYFRAME, 9000)[..8]);
        std::fs::write(&path, &data).expect("write");
        let repaired = repair(&path).expect("repair");
        assert_eq!(repaired, Repaired { size: complete as u64, frames: 3, duration_ms: 66 });
        let fixed = std::fs::read(&path).expect("read");
        assert_eq!(u32::from_le_bytes(fixed[24..28].try_into().expect("4 bytes")), 3);
        std::fs::remove_dir_all(&dir).ok();
    }
}
