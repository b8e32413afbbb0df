//! Recording one publication to a file as its packets arrive: continuity across the publisher's
//! reconnects, reordering within 100 ms, the container, page-sized writes, and an fsync about
//! once a second — what a crash can lose is bounded by that.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::ivf::{self, FrameAssembler};
use super::ogg::OggOpusMuxer;
use super::reorder::{Ordered, ReorderBuffer};
use crate::publication::{Publication, Subscription};
use crate::rewrite::Rewriter;

/// How often written data is forced to disk.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// The container a publication is recorded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// Ogg/Opus (audio).
    OggOpus,
    /// IVF/VP8 (video).
    IvfVp8,
}

impl Container {
    /// For a publication of `kind`.
    pub fn for_kind(kind: RtpCodecKind) -> Self {
        if kind == RtpCodecKind::Audio { Self::OggOpus } else { Self::IvfVp8 }
    }

    /// The media type of the file.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::OggOpus => "audio/ogg; codecs=opus",
            Self::IvfVp8 => "video/x-ivf; codecs=vp8",
        }
    }

    /// The container of a file of `media_type` (as [`Container::media_type`] gives it).
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        [Self::OggOpus, Self::IvfVp8].into_iter().find(|c| c.media_type() == media_type)
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::OggOpus => "ogg",
            Self::IvfVp8 => "ivf",
        }
    }

    /// Finishes a file of this container that a crash left open.
    pub fn repair(self, path: &Path) -> io::Result<RecordingStats> {
        match self {
            Self::OggOpus => {
                super::ogg::repair(path).map(|r| RecordingStats { size_bytes: r.size, duration_ms: r.duration_ms, dropped: 0 })
            }
            Self::IvfVp8 => ivf::repair(path).map(|r| RecordingStats { size_bytes: r.size, duration_ms: r.duration_ms, dropped: 0 }),
        }
    }
}

/// What a finished recording holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordingStats {
    /// File size.
    pub size_bytes: u64,
    /// Media time from first to last sample, gaps included.
    pub duration_ms: u64,
    /// Packets that arrived too late, twice, or malformed.
    pub dropped: u64,
}

/// A publication being recorded.
pub struct TrackRecorder {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<RecordingStats>>,
}

impl TrackRecorder {
    /// Starts writing `publication` to `path` (created, with its parent directories).
    pub fn start(publication: &Arc<Publication>, path: PathBuf) -> Self {
        let container = Container::for_kind(publication.kind());
        let clock_rate = publication.codec().clock_rate;
        let subscription = publication.subscribe();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(record(publication.clone(), subscription, path, container, clock_rate, stopped));
        Self { stop: Some(stop), task }
    }

    /// Stops, finishes the file and returns what it holds.
    pub async fn finish(mut self) -> io::Result<RecordingStats> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.map_err(|e| io::Error::other(format!("the recording task failed: {e}")))?
    }
}

async fn record(
    publication: Arc<Publication>,
    subscription: Subscription,
    path: PathBuf,
    container: Container,
    clock_rate: u32,
    stopped: oneshot::Receiver<()>,
) -> io::Result<RecordingStats> {
    let id = subscription.id;
    let result = write(&publication, subscription, &path, container, clock_rate, stopped).await;
    // However writing ended, the publication stops feeding this recorder.
    publication.unsubscribe(id);
    result
}

async fn write(
    publication: &Publication,
    mut subscription: Subscription,
    path: &Path,
    container: Container,
    clock_rate: u32,
    mut stopped: oneshot::Receiver<()>,
) -> io::Result<RecordingStats> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut file = tokio::fs::File::create(path).await?;
    let mut sink: Box<dyn Sink> = match container {
        Container::OggOpus => Box::new(OggSink::new(rand::random())),
        Container::IvfVp8 => Box::new(IvfSink::default()),
    };
    file.write_all(&sink.start()).await?;
    // The recorder sees the publication's raw packets: a publisher reconnecting starts a new
    // SSRC and random timestamps, so it keeps its own continuity, like a subscriber leg.
    let mut rewriter = Rewriter::new(0, clock_rate);
    let mut reorder = ReorderBuffer::new(u64::from(clock_rate / 10));
    let mut synced = Instant::now();
    loop {
        tokio::select! {
            packet = subscription.packets.recv() => {
                let Some(mut packet) = packet else { break };
                let now = Instant::now();
                rewriter.rewrite(&mut packet.header, 0, now);
                for ordered in reorder.push(packet.header.sequence_number, packet.header.timestamp, packet.header.marker, &packet.payload) {
                    let bytes = sink.push(ordered, now);
                    if !bytes.is_empty() {
                        file.write_all(&bytes).await?;
                    }
                }
                if sink.take_keyframe_request() {
                    publication.request_keyframe();
                }
                if synced.elapsed() >= SYNC_EVERY {
                    file.sync_data().await?;
                    synced = Instant::now();
                }
            }
            _ = &mut stopped => break,
        }
    }
    let now = Instant::now();
    for ordered in reorder.drain() {
        let bytes = sink.push(ordered, now);
        file.write_all(&bytes).await?;
    }
    let finished = sink.finish();
    file.write_all(&finished.tail).await?;
    if let Some(header) = finished.header {
        file.seek(io::SeekFrom::Start(0)).await?;
        file.write_all(&header).await?;
    }
    file.sync_all().await?;
    let size_bytes = file.metadata().await?.len();
    Ok(RecordingStats { size_bytes, duration_ms: finished.duration_ms, dropped: reorder.dropped + finished.malformed })
}

/// The end of a file: bytes to append, and a header to rewrite at offset 0.
struct Finished {
    tail: Vec<u8>,
    header: Option<Vec<u8>>,
    duration_ms: u64,
    /// Packets the container refused.
    malformed: u64,
}

/// A container being written.
trait Sink: Send {
    /// Bytes that open the file.
    fn start(&mut self) -> Vec<u8>;
    /// Bytes to append for one ordered packet released at `now` (often none until a page or
    /// frame is complete).
    fn push(&mut self, packet: Ordered, now: Instant) -> Vec<u8>;
    /// Whether the publisher should be asked for a keyframe (video, after a loss).
    fn take_keyframe_request(&mut self) -> bool {
        false
    }
    /// Closes the container.
    fn finish(self: Box<Self>) -> Finished;
}

/// Slack between the RTP clock and the wall clock before a jump of the RTP clock is cut short:
/// the publisher's clock may not say more time passed than really did.
const CLOCK_SLACK_SAMPLES: u64 = 48_000;

struct OggSink {
    muxer: Option<OggOpusMuxer>,
    header: Vec<u8>,
    origin: Option<u64>,
    /// The last packet's position (48 kHz samples from the first) and when it was released.
    last: Option<(u64, Instant)>,
}

impl OggSink {
    fn new(serial: u32) -> Self {
        let (muxer, header) = OggOpusMuxer::new(serial);
        Self { muxer: Some(muxer), header, origin: None, last: None }
    }

    /// Where a packet of RTP time `timestamp` goes: after its predecessor, at most as far on
    /// as the wall clock (plus slack) allows, so a publisher cannot make us write hours of
    /// concealment by jumping its timestamps.
    fn position(&mut self, timestamp: u64, now: Instant) -> u64 {
        let origin = *self.origin.get_or_insert(timestamp);
        let mut position = timestamp.saturating_sub(origin);
        if let Some((last, at)) = self.last {
            let elapsed = now.saturating_duration_since(at).as_millis() as u64 * 48;
            let limit = last + elapsed + CLOCK_SLACK_SAMPLES;
            if position > limit {
                self.origin = Some(origin + (position - limit));
                position = limit;
            }
        }
        self.last = Some((position, now));
        position
    }
}

impl Sink for OggSink {
    fn start(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.header)
    }

    fn push(&mut self, packet: Ordered, now: Instant) -> Vec<u8> {
        let position = self.position(packet.timestamp, now);
        self.muxer.as_mut().map(|m| m.push(packet.payload, position)).unwrap_or_default()
    }

    fn finish(mut self: Box<Self>) -> Finished {
        let muxer = self.muxer.take();
        let duration_ms = muxer.as_ref().map_or(0, OggOpusMuxer::duration_ms);
        let malformed = muxer.as_ref().map_or(0, |m| m.malformed);
        let tail = muxer.map(OggOpusMuxer::finish).unwrap_or_default();
        Finished { tail, header: None, duration_ms, malformed }
    }
}

#[derive(Default)]
struct IvfSink {
    assembler: FrameAssembler,
    size: Option<(u16, u16)>,
    origin: u64,
    last: u64,
    frames: u32,
}

impl Sink for IvfSink {
    fn start(&mut self) -> Vec<u8> {
        Vec::new()
    }

    fn push(&mut self, packet: Ordered, _now: Instant) -> Vec<u8> {
        let Some((frame, timestamp)) = self.assembler.push(&packet.payload, packet.sequence, packet.timestamp, packet.marker) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if self.size.is_none() {
            // Nothing is playable before a keyframe.
            let Some(size) = ivf::keyframe_size(&frame) else { return out };
            self.size = Some(size);
            self.origin = timestamp;
            out.extend_from_slice(&ivf::header(size.0, size.1, 0));
        }
        self.last = timestamp;
        self.frames += 1;
        // Timestamps come from the publisher: one from before the first frame is not a panic.
        out.extend(ivf::frame(&frame, timestamp.saturating_sub(self.origin)));
        out
    }

    fn take_keyframe_request(&mut self) -> bool {
        self.assembler.take_keyframe_request()
    }

    fn finish(self: Box<Self>) -> Finished {
        let header = self.size.map(|(w, h)| ivf::header(w, h, self.frames).to_vec());
        Finished { tail: Vec::new(), header, duration_ms: self.last.saturating_sub(self.origin) / 90, malformed: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rtp_clock_cannot_run_ahead_of_the_wall_clock() {
        let mut sink = OggSink::new(1);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(sink.position(1000, t0), 0);
        assert_eq!(sink.position(1960, t0 + ms(20)), 960);
        // Twelve hours of RTP time 20 ms later: cut to the wall clock plus a second of slack.
        assert_eq!(sink.position(1000 + (1 << 31), t0 + ms(40)), 960 + 960 + 48_000);
        assert_eq!(sink.position(1960 + (1 << 31), t0 + ms(60)), 960 + 960 + 48_000 + 960, "the next packet follows on");
        assert_eq!(sink.position(0, t0 + ms(80)), 0, "a timestamp from before the first is no panic");
    }
}
