//! The ICE-TCP connections of one worker's peers (passive, RFC 6544; frames as in RFC 4571).
//! A reader task per stream turns its frames into datagrams for the worker; a writer task per
//! stream frames what the worker sends, so a client that reads slowly never blocks the worker
//! (its frames are dropped once its queue is full, as a congested network would drop them).

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::mux::Datagram;
use crate::mux::tcp::Accepted;

/// Frames queued for one stream before new ones are dropped.
const WRITE_QUEUE: usize = 512;
/// How much a stream's read buffer grows at once.
const READ_CHUNK: usize = 16 * 1024;

/// The worker's ICE-TCP streams, by client address.
#[derive(Default)]
pub(super) struct TcpStreams {
    writers: HashMap<SocketAddr, mpsc::Sender<BytesMut>>,
}

impl TcpStreams {
    /// Starts reading `accepted` into `datagrams` and writing what is sent to its client.
    pub(super) fn open(&mut self, accepted: Accepted, datagrams: mpsc::Sender<Datagram>) {
        let (slot, peer) = (accepted.slot, accepted.peer());
        let (stream, prefix) = accepted.into_parts();
        let (read_half, write_half) = stream.into_split();
        // Streams whose client went away (their writer ended) are forgotten here.
        self.writers.retain(|_, writer| !writer.is_closed());
        let (writer, frames) = mpsc::channel(WRITE_QUEUE);
        self.writers.insert(peer, writer);
        let mut buffer = BytesMut::with_capacity(READ_CHUNK);
        buffer.extend_from_slice(&prefix);
        let (reading, read_ended) = oneshot::channel::<()>();
        tokio::spawn(read(read_half, buffer, slot, peer, datagrams, reading));
        tokio::spawn(write(write_half, frames, read_ended));
    }

    /// Sends `data` as one frame to the client at `to`; false if it has no stream or is behind.
    pub(super) fn send(&mut self, to: SocketAddr, data: &[u8]) -> bool {
        let Some(writer) = self.writers.get(&to) else { return false };
        let Ok(length) = u16::try_from(data.len()) else { return false };
        let mut frame = BytesMut::with_capacity(2 + data.len());
        frame.put_u16(length);
        frame.extend_from_slice(data);
        match writer.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => false,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.writers.remove(&to);
                false
            }
        }
    }
}

/// Splits the stream into frames until it ends or the worker is gone; `_reading` is dropped
/// then, which ends the stream's writer too.
async fn read(
    mut stream: tokio::net::tcp::OwnedReadHalf,
    mut buffer: BytesMut,
    slot: crate::mux::routes::Slot,
    from: SocketAddr,
    datagrams: mpsc::Sender<Datagram>,
    _reading: oneshot::Sender<()>,
) {
    loop {
        while let Some(data) = next_frame(&mut buffer) {
            if datagrams.send(Datagram { slot, from, data, tcp: true }).await.is_err() {
                return;
            }
        }
        if buffer.capacity() - buffer.len() < 2048 {
            buffer.reserve(READ_CHUNK);
        }
        match stream.read_buf(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// The next whole frame at the front of `buffer`, without its length.
fn next_frame(buffer: &mut BytesMut) -> Option<BytesMut> {
    let header: [u8; 2] = buffer.get(..2)?.try_into().ok()?;
    let length = usize::from(u16::from_be_bytes(header));
    if buffer.len() < 2 + length {
        return None;
    }
    let mut frame = buffer.split_to(2 + length);
    Some(frame.split_off(2))
}

/// Writes the worker's frames until the stream fails or its reader ended.
async fn write(mut stream: tokio::net::tcp::OwnedWriteHalf, mut frames: mpsc::Receiver<BytesMut>, mut read_ended: oneshot::Receiver<()>) {
    loop {
        let frame = tokio::select! {
            frame = frames.recv() => frame,
            _ = &mut read_ended => None,
        };
        let Some(frame) = frame else { return };
        if stream.write_all(&frame).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_whole_and_in_order_however_the_bytes_arrive() {
        let mut buffer = BytesMut::new();
        buffer.extend_from_slice(&[0, 3, b'a', b'b']);
        assert_eq!(next_frame(&mut buffer), None, "half a frame waits");
        buffer.extend_from_slice(&[b'c', 0, 0, 0, 1]);
        assert_eq!(next_frame(&mut buffer).as_deref(), Some(&b"abc"[..]));
        assert_eq!(next_frame(&mut buffer).as_deref(), Some(&b""[..]), "an empty frame is a frame");
        assert_eq!(next_frame(&mut buffer), None);
        buffer.extend_from_slice(b"z");
        assert_eq!(next_frame(&mut buffer).as_deref(), Some(&b"z"[..]));
        assert!(buffer.is_empty());
    }
}
