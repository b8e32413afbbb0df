//! Server-side recording of publications: Ogg/Opus for audio, IVF for VP8 video, written as
//! packets arrive and repairable after a crash.

pub mod ivf;
pub mod ogg;
pub mod opus;
pub mod reorder;
mod track;

pub use track::{Container, RecordingStats, TrackRecorder};
