//! Media fixtures the tests play: a 5-second 440 Hz stereo tone as Ogg/Opus, encoded by
//! `opusenc` (Debian `opus-tools`) with one 20 ms packet per Ogg page, which is what webrtc-rs's
//! Ogg reader needs to packetise it.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::process::run;
use crate::workspace_root;

/// Seconds of tone.
const SECONDS: u32 = 5;
const RATE: u32 = 48_000;

/// The Ogg/Opus fixture, made once.
pub fn opus_fixture() -> Result<PathBuf> {
    let dir = workspace_root().join("target").join("fixtures");
    let ogg = dir.join("tone-5s.opus.ogg");
    if ogg.exists() {
        return Ok(ogg);
    }
    std::fs::create_dir_all(&dir)?;
    let wav = dir.join("tone-5s.wav");
    std::fs::write(&wav, tone_wav())?;
    run(Command::new("opusenc").args(["--quiet", "--bitrate", "32", "--framesize", "20", "--max-delay", "20"]).arg(&wav).arg(&ogg))?;
    Ok(ogg)
}

/// A 16-bit stereo PCM WAV of a 440 Hz tone.
fn tone_wav() -> Vec<u8> {
    let frames = SECONDS * RATE;
    let data_len = frames * 4;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&2u16.to_le_bytes()); // stereo
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 4).to_le_bytes());
    wav.extend_from_slice(&4u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..frames {
        let sample = (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / f64::from(RATE)).sin()) as i16;
        wav.extend_from_slice(&sample.to_le_bytes());
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    wav
}
