//! Checking recordings from the outside: waiting for the recorder to hand them over, fetching
//! them, and reading them with parsers that share no code with the server's muxers (the `ogg`
//! crate, a small IVF reader here, and `opusinfo` from Debian's opus-tools).

use std::io::Cursor;
use std::time::Duration;

use mit_client::types::{self, RecordingStatus};
use uuid::Uuid;

use crate::TestUser;

/// Polls until the meeting has at least `count` recordings and none is still being written or
/// uploaded; returns them. Panics after `within`.
pub async fn settled(user: &TestUser, meeting: Uuid, count: usize, within: Duration) -> Vec<types::Recording> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let page = user.client.list_recordings().meeting_id(meeting).limit(100).send().await.expect("list recordings").into_inner();
        let done = page.items.iter().all(|r| matches!(r.status, RecordingStatus::Ready | RecordingStatus::Failed));
        if page.items.len() >= count && done {
            return page.items;
        }
        assert!(tokio::time::Instant::now() < deadline, "recordings not settled within {within:?}: {:#?}", page.items);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `GET …/recordings/{id}/file` as `user`, with an optional `Range` header.
pub async fn download(base_url: &str, user: &TestUser, meeting: Uuid, recording: Uuid, range: Option<&str>) -> reqwest::Response {
    let url = format!("{base_url}/api/v1/meetings/{meeting}/recordings/{recording}/file");
    let mut request = reqwest::Client::new().get(url).bearer_auth(&user.access_token);
    if let Some(range) = range {
        request = request.header("range", range);
    }
    request.send().await.expect("download request")
}

/// The whole file of a ready recording.
pub async fn fetch(base_url: &str, user: &TestUser, recording: &types::Recording) -> Vec<u8> {
    let response = download(base_url, user, recording.meeting_id, recording.id, None).await;
    assert_eq!(response.status(), 200, "download of {recording:?}");
    response.bytes().await.expect("the file").to_vec()
}

/// What an Ogg/Opus file holds, read by the `ogg` crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggOpus {
    /// Playable audio: the last granule position less the pre-skip, at 48 kHz.
    pub duration_ms: u64,
    /// Audio packets.
    pub packets: usize,
    /// Audio packets that carry audio (not an empty frame standing in for a gap).
    pub voiced_packets: usize,
}

/// Reads an Ogg/Opus file; panics unless it is one well-formed stream ending with end-of-stream.
pub fn read_ogg_opus(bytes: &[u8]) -> OggOpus {
    let mut reader = ogg::PacketReader::new(Cursor::new(bytes));
    let head = reader.read_packet_expected().expect("an OpusHead packet");
    assert!(head.first_in_stream() && head.data.starts_with(b"OpusHead"), "the stream opens with OpusHead");
    let pre_skip = u64::from(u16::from_le_bytes([head.data[10], head.data[11]]));
    let tags = reader.read_packet_expected().expect("an OpusTags packet");
    assert!(tags.data.starts_with(b"OpusTags"), "OpusTags follows");
    let (mut packets, mut voiced, mut last_granule, mut ended) = (0, 0, 0, false);
    while let Some(packet) = reader.read_packet().expect("well-formed pages") {
        assert!(!ended, "nothing follows the end of the stream");
        packets += 1;
        voiced += usize::from(packet.data.len() > 1);
        let granule = packet.absgp_page();
        assert!(granule >= last_granule, "granule positions never go back");
        last_granule = granule;
        ended = packet.last_in_stream();
    }
    assert!(ended, "the last page is marked end-of-stream");
    OggOpus { duration_ms: last_granule.saturating_sub(pre_skip) / 48, packets, voiced_packets: voiced }
}

/// Runs `opusinfo` on the file; panics if it fails or warns. Returns its report.
pub fn opusinfo(bytes: &[u8]) -> String {
    let file = tempfile::Builder::new().suffix(".opus").tempfile().expect("a temporary file");
    std::fs::write(file.path(), bytes).expect("write the recording");
    let output = std::process::Command::new("opusinfo").arg(file.path()).output().expect("opusinfo (opus-tools) runs");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && !report.contains("WARNING") && !report.contains("ERROR"), "opusinfo objects:\n{report}");
    report
}

/// What an IVF file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ivf {
    /// The FourCC.
    pub codec: [u8; 4],
    /// Frame width.
    pub width: u16,
    /// Frame height.
    pub height: u16,
    /// The frame count the header states.
    pub declared_frames: u32,
    /// Frames actually present.
    pub frames: usize,
    /// Presentation time of the last frame, in milliseconds (the header's time base).
    pub last_pts_ms: u64,
}

/// Reads an IVF file; panics if its structure is broken.
pub fn read_ivf(bytes: &[u8]) -> Ivf {
    assert!(bytes.len() >= 32 && &bytes[..4] == b"DKIF", "an IVF signature");
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    assert_eq!(u16_at(6), 32, "header length");
    let (rate, scale) = (u64::from(u32_at(16)), u64::from(u32_at(20)).max(1));
    let (mut at, mut frames, mut last_pts) = (32, 0, 0u64);
    while at < bytes.len() {
        assert!(at + 12 <= bytes.len(), "a whole frame header at {at}");
        let size = u32_at(at) as usize;
        last_pts = u64::from_le_bytes(bytes[at + 4..at + 12].try_into().expect("8 bytes"));
        at += 12 + size;
        assert!(at <= bytes.len(), "a whole frame");
        frames += 1;
    }
    Ivf {
        codec: bytes[8..12].try_into().expect("4 bytes"),
        width: u16_at(12),
        height: u16_at(14),
        declared_frames: u32_at(24),
        frames,
        last_pts_ms: last_pts * scale * 1000 / rate.max(1),
    }
}
