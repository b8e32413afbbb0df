//! VP8 video as IVF: RTP VP8 payloads (RFC 7741) reassembled into frames, starting at the first
//! keyframe, each frame stamped with its RTP time (90 kHz). The header's frame count is kept
//! current on close and rebuilt by [`repair`] after a crash.

use std::io;
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

/// Assembles frames from ordered RTP payloads.
#[derive(Debug, Default)]
pub struct FrameAssembler {
    current: Vec<u8>,
    timestamp: Option<u64>,
    broken: bool,
}

impl FrameAssembler {
    /// Adds an ordered payload with its extended timestamp; returns a frame once complete.
    pub fn push(&mut self, payload: &[u8], timestamp: u64, marker: bool) -> Option<(Vec<u8>, u64)> {
        let (data, starts) = depacketize(payload)?;
        if starts || self.timestamp != Some(timestamp) {
            // A new frame; an unfinished previous one (its end was lost) is abandoned.
            self.broken = !starts;
            self.current.clear();
            self.timestamp = Some(timestamp);
        }
        self.current.extend_from_slice(data);
        if !marker {
            return None;
        }
        let complete = !self.broken && !self.current.is_empty();
        self.timestamp = None;
        complete.then(|| (std::mem::take(&mut self.current), timestamp))
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

/// Finishes an IVF file a crash left open: cuts a torn last frame and fixes the frame count.
pub fn repair(path: &Path) -> io::Result<Repaired> {
    let mut data = std::fs::read(path)?;
    if data.len() < HEADER_LEN || &data[..4] != b"DKIF" {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not an IVF file"));
    }
    let (mut at, mut frames, mut first, mut last) = (HEADER_LEN, 0u32, None, 0u64);
    while let Some(header) = data.get(at..at + FRAME_HEADER_LEN) {
        let size = u32::from_le_bytes(header[..4].try_into().map_err(|_| io::ErrorKind::InvalidData)?) as usize;
        let pts = u64::from_le_bytes(header[4..12].try_into().map_err(|_| io::ErrorKind::InvalidData)?);
        if at + FRAME_HEADER_LEN + size > data.len() {
            break;
        }
        first.get_or_insert(pts);
        last = pts;
        frames += 1;
        at += FRAME_HEADER_LEN + size;
    }
    data.truncate(at);
    data[24..28].copy_from_slice(&frames.to_le_bytes());
    std::fs::write(path, &data)?;
    Ok(Repaired { size: at as u64, frames, duration_ms: last.saturating_sub(first.unwrap_or(last)) / 90 })
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

    #[test]
    fn frames_are_assembled_across_packets() {
        let mut assembler = FrameAssembler::default();
        assert_eq!(assembler.push(&[0x10, 1, 2], 1000, false), None);
        assert_eq!(assembler.push(&[0x00, 3], 1000, true), Some((vec![1, 2, 3], 1000)));
        // The start of the next frame was lost: it is dropped, not glued to the one after.
        assert_eq!(assembler.push(&[0x00, 9], 4000, true), None);
        assert_eq!(assembler.push(&[0x10, 7], 7000, true), Some((vec![7], 7000)));
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
