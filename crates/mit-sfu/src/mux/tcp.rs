//! ICE over TCP (passive, RFC 6544, frames as in RFC 4571) on the node's one TCP port, for
//! clients whose network blocks UDP. A client's connection is routed by its first frame, which
//! must be a STUN binding request that verifies with a connection's ICE credentials; the stream,
//! with the bytes read so far, then goes to the worker driving that connection, which does the
//! framing from there on (`crate::engine`).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::{Control, Table};

/// How long a new connection may take to send its first frame.
const FIRST_FRAME_WAIT: Duration = Duration::from_secs(5);
/// The largest first frame read (a STUN binding request is far smaller).
const MAX_FIRST_FRAME: usize = 1500;
/// Connections at once that have not sent their first frame yet; more wait to be accepted.
const MAX_PENDING: usize = 256;

/// An accepted connection on its way to its peer connection.
#[derive(Debug)]
pub(crate) struct Accepted {
    /// The peer connection it checked in for (known once routed).
    pub(crate) slot: super::routes::Slot,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    /// The bytes read to route it (the first frame, with its length).
    prefix: Bytes,
}

/// Starts accepting on `listener`; peer connections are added and removed through the returned
/// sender.
pub(super) fn start(listener: TcpListener, table: Table<Accepted>) -> mpsc::UnboundedSender<Control<Accepted>> {
    let (control, commands) = mpsc::unbounded_channel();
    let (arrived_tx, arrived) = mpsc::channel(256);
    tokio::spawn(accept(listener, arrived_tx));
    tokio::spawn(route(table, commands, arrived));
    control
}

async fn accept(listener: TcpListener, arrived: mpsc::Sender<Accepted>) {
    let pending = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING));
    loop {
        let Ok(permit) = pending.clone().acquire_owned().await else { return };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, say: retrying at once would spin.
                tracing::warn!(%error, "cannot accept an ICE-TCP connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let arrived = arrived.clone();
        tokio::spawn(async move {
            if let Ok(Ok(accepted)) = tokio::time::timeout(FIRST_FRAME_WAIT, first_frame(stream, peer)).await {
                drop(permit);
                let _ = arrived.send(accepted).await;
            }
        });
    }
}

/// Reads the RFC 4571 length and the frame it announces.
async fn first_frame(mut stream: tokio::net::TcpStream, peer: SocketAddr) -> io::Result<Accepted> {
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).await?;
    let length = usize::from(u16::from_be_bytes(header));
    if length > MAX_FIRST_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "first frame too large"));
    }
    let mut prefix = vec![0u8; 2 + length];
    prefix[..2].copy_from_slice(&header);
    stream.read_exact(&mut prefix[2..]).await?;
    Ok(Accepted { slot: 0, stream, peer, prefix: Bytes::from(prefix) })
}

async fn route(mut table: Table<Accepted>, mut control: mpsc::UnboundedReceiver<Control<Accepted>>, mut arrived: mpsc::Receiver<Accepted>) {
    let refused = metrics::counter!("sfu_tcp_connections_refused_total");
    loop {
        tokio::select! {
            command = control.recv() => match command {
                Some(command) => table.apply(command),
                None => return,
            },
            Some(mut accepted) = arrived.recv() => {
                let delivered = match table.routes.check(&accepted.prefix[2..]) {
                    Ok(slot) => {
                        accepted.slot = slot;
                        table.deliver(slot, accepted)
                    }
                    Err(_) => false,
                };
                if !delivered {
                    refused.increment(1);
                }
            }
        }
    }
}

impl Accepted {
    /// The client's address.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The stream, and the bytes already read from it (the first frame, with its length).
    pub(crate) fn into_parts(self) -> (tokio::net::TcpStream, Bytes) {
        (self.stream, self.prefix)
    }
}
