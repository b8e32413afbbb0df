//! ICE over TCP (passive, RFC 6544, frames as in RFC 4571) on the node's one TCP port, for
//! clients whose network blocks UDP. A client's connection is routed by its first frame, which
//! must be a STUN binding request that verifies with a connection's ICE credentials; the frame is
//! then replayed to that connection's webrtc-rs listener, which does the framing from there on.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use webrtc::runtime::{AsyncTcpListener, AsyncTcpStream};

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

/// One peer connection's listener on the node's TCP port.
#[derive(Debug)]
pub struct PeerListener {
    inbox: Mutex<mpsc::Receiver<Accepted>>,
    /// The address webrtc-rs bound (and names its candidate after).
    internal: SocketAddr,
}

impl PeerListener {
    pub(super) fn new(inbox: mpsc::Receiver<Accepted>, internal: SocketAddr) -> Self {
        Self { inbox: Mutex::new(inbox), internal }
    }
}

impl AsyncTcpListener for PeerListener {
    fn accept<'a>(&'a self) -> Pin<Box<dyn Future<Output = io::Result<(Arc<dyn AsyncTcpStream>, SocketAddr)>> + Send + 'a>> {
        Box::pin(async move {
            // The lock is taken only while polling, never across a wait.
            let accepted =
                std::future::poll_fn(|cx| self.inbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner).poll_recv(cx)).await;
            let Some(accepted) = accepted else {
                return Err(io::Error::new(io::ErrorKind::NotConnected, "the node's TCP port closed"));
            };
            let peer = accepted.peer;
            let stream = PrefixedStream::new(accepted, self.internal);
            Ok((Arc::new(stream) as Arc<dyn AsyncTcpStream>, peer))
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.internal)
    }
}

/// An accepted stream that first yields the bytes read to route it.
#[derive(Debug)]
struct PrefixedStream {
    prefix: Mutex<Bytes>,
    read_half: tokio::net::tcp::OwnedReadHalf,
    write_half: tokio::net::tcp::OwnedWriteHalf,
    local: SocketAddr,
    peer: SocketAddr,
}

impl PrefixedStream {
    fn new(accepted: Accepted, local: SocketAddr) -> Self {
        let (read_half, write_half) = accepted.stream.into_split();
        Self { prefix: Mutex::new(accepted.prefix), read_half, write_half, local, peer: accepted.peer }
    }

    /// Copies what is left of the prefix into `buf`; 0 once it is used up.
    fn take_prefix(&self, buf: &mut [u8]) -> usize {
        let mut prefix = self.prefix.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let length = prefix.len().min(buf.len());
        buf[..length].copy_from_slice(&prefix.split_to(length));
        length
    }
}

impl AsyncTcpStream for PrefixedStream {
    fn read<'a, 'b>(&'a self, buf: &'b mut [u8]) -> Pin<Box<dyn Future<Output = io::Result<usize>> + Send + 'b>>
    where
        'a: 'b,
    {
        Box::pin(async move {
            let from_prefix = self.take_prefix(buf);
            if from_prefix > 0 {
                return Ok(from_prefix);
            }
            loop {
                self.read_half.readable().await?;
                match self.read_half.try_read(buf) {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                    other => return other,
                }
            }
        })
    }

    fn write_all<'a, 'b>(&'a self, buf: &'b [u8]) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send + 'b>>
    where
        'a: 'b,
    {
        Box::pin(async move {
            let mut remaining = buf;
            while !remaining.is_empty() {
                self.write_half.writable().await?;
                match self.write_half.try_write(remaining) {
                    Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "the client stopped reading")),
                    Ok(written) => remaining = &remaining[written..],
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(error) => return Err(error),
                }
            }
            Ok(())
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }
}
