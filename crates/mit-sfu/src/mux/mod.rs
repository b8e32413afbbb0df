//! One UDP port (and one TCP port for ICE over TCP, [`tcp`]) for every peer connection of the
//! node. One task receives everything on the node's UDP port and hands each datagram to the
//! worker driving its connection ([`routes::Routes`]); workers send on the same socket. Each
//! connection's ICE credentials are chosen here ([`PortLease`]), so the ports know every
//! username fragment before the first check arrives.
//!
//! The receive task owns the routing table (no lock on the per-packet path) and reads into one
//! growing buffer that datagrams are split off (an allocation per buffer, not per packet).

pub mod routes;
pub mod tcp;
mod udp;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use tokio::sync::mpsc;

pub(crate) use udp::UdpPort;

use routes::{DropReason, Routes, Slot, Verdict};

/// How much the receive buffer grows at once (an allocation per chunk, not per datagram).
/// Queued datagrams keep their chunk alive, so a worker that falls behind holds at most its
/// inbox's worth of chunks.
const BUFFER_CHUNK: usize = 64 * 1024;
/// Room left in the receive buffer below which it grows: more than the largest datagram read.
const BUFFER_LOW: usize = 4 * 1024;

/// A datagram for one connection.
#[derive(Debug)]
pub(crate) struct Datagram {
    /// The connection it is for.
    pub(crate) slot: Slot,
    /// Who sent it.
    pub(crate) from: SocketAddr,
    /// The bytes, split off the receive buffer (owned, so `rtc` can decrypt in place).
    pub(crate) data: BytesMut,
    /// Whether it came as an ICE-TCP frame rather than on the UDP port.
    pub(crate) tcp: bool,
}

/// A connection joining or leaving a port's routing task; `T` is what the port hands it.
enum Control<T> {
    Add { slot: Slot, ufrag: String, password: String, inbox: mpsc::Sender<T> },
    Remove(Slot),
}

/// A routing task's table: who may check in, and where each one's traffic goes.
struct Table<T> {
    routes: Routes,
    inboxes: HashMap<Slot, mpsc::Sender<T>>,
}

impl<T> Table<T> {
    fn new(routes: Routes) -> Self {
        Self { routes, inboxes: HashMap::new() }
    }

    fn apply(&mut self, control: Control<T>) {
        match control {
            Control::Add { slot, ufrag, password, inbox } => {
                self.routes.add(slot, ufrag, password);
                self.inboxes.insert(slot, inbox);
            }
            Control::Remove(slot) => {
                self.routes.remove(slot);
                self.inboxes.remove(&slot);
            }
        }
    }

    /// Queues `item` for `slot`; false if it is gone or behind.
    fn deliver(&self, slot: Slot, item: T) -> bool {
        self.inboxes.get(&slot).is_some_and(|inbox| inbox.try_send(item).is_ok())
    }
}

/// The node's media ports.
pub struct NodePorts {
    socket: Arc<UdpPort>,
    control: mpsc::UnboundedSender<Control<Datagram>>,
    tcp: Option<(SocketAddr, mpsc::UnboundedSender<Control<tcp::Accepted>>)>,
    next_slot: AtomicU64,
}

impl NodePorts {
    /// Binds `udp`, and `tcp` when given (port 0 picks one), and starts receiving.
    pub fn bind(udp: SocketAddr, tcp: Option<SocketAddr>) -> io::Result<Arc<Self>> {
        let socket = Arc::new(UdpPort::bind(udp)?);
        let crypto = rtc::crypto::default_provider().map_err(|e| io::Error::other(e.to_string()))?;
        let (control, commands) = mpsc::unbounded_channel();
        tokio::spawn(receive(socket.clone(), Table::new(Routes::new(crypto.clone())), commands));
        let tcp = match tcp {
            Some(address) => {
                let listener = std::net::TcpListener::bind(address).map_err(|e| io::Error::new(e.kind(), format!("TCP {address}: {e}")))?;
                listener.set_nonblocking(true)?;
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let bound = listener.local_addr()?;
                Some((bound, tcp::start(listener, Table::new(Routes::new(crypto)))))
            }
            None => None,
        };
        Ok(Arc::new(Self { socket, control, tcp, next_slot: AtomicU64::new(1) }))
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The bound TCP address, if ICE over TCP is on.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().map(|(address, _)| *address)
    }

    /// The node's UDP socket, for connections that send from their worker.
    pub(crate) fn udp_socket(&self) -> Arc<UdpPort> {
        self.socket.clone()
    }

    /// A place on the node's ports for one connection, with the ICE credentials it must use:
    /// its datagrams go to `datagrams`, and its ICE-TCP connections (when on) to `streams` (both
    /// shared by the connections of one worker).
    pub(crate) fn lease(&self, datagrams: mpsc::Sender<Datagram>, streams: mpsc::Sender<tcp::Accepted>) -> PortLease {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
        let (ufrag, password) = (random_text(16), random_text(32));
        let _ = self.control.send(Control::Add { slot, ufrag: ufrag.clone(), password: password.clone(), inbox: datagrams });
        if let Some((_, control)) = &self.tcp {
            let _ = control.send(Control::Add { slot, ufrag: ufrag.clone(), password: password.clone(), inbox: streams });
        }
        let tcp_control = self.tcp.as_ref().map(|(_, control)| control.clone());
        PortLease { slot, ufrag, password, control: self.control.clone(), tcp_control }
    }
}

/// ICE credentials: letters and digits (`ice-char`, RFC 8839), from a CSPRNG.
fn random_text(length: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut random = rand::rng();
    (0..length).map(|_| char::from(ALPHABET[random.random_range(0..ALPHABET.len())])).collect()
}

/// Dropped datagrams by reason (`sfu_udp_datagrams_dropped_total`), resolved once.
struct Dropped {
    unknown_source: metrics::Counter,
    unknown_ufrag: metrics::Counter,
    bad_integrity: metrics::Counter,
    connection_behind: metrics::Counter,
}

impl Dropped {
    fn new() -> Self {
        let counter = |reason: &'static str| metrics::counter!("sfu_udp_datagrams_dropped_total", "reason" => reason);
        Self {
            unknown_source: counter("unknown_source"),
            unknown_ufrag: counter("unknown_ufrag"),
            bad_integrity: counter("bad_integrity"),
            connection_behind: counter("connection_behind"),
        }
    }

    fn count(&self, reason: DropReason) {
        match reason {
            DropReason::UnknownSource => self.unknown_source.increment(1),
            DropReason::UnknownUfrag => self.unknown_ufrag.increment(1),
            DropReason::BadIntegrity => self.bad_integrity.increment(1),
        }
    }
}

/// Receives on the port until every handle is gone.
async fn receive(socket: Arc<UdpPort>, mut table: Table<Datagram>, mut control: mpsc::UnboundedReceiver<Control<Datagram>>) {
    let dropped = Dropped::new();
    let mut buffer = BytesMut::with_capacity(BUFFER_CHUNK);
    loop {
        if buffer.capacity() < BUFFER_LOW {
            buffer.reserve(BUFFER_CHUNK);
        }
        tokio::select! {
            command = control.recv() => match command {
                Some(command) => table.apply(command),
                None => return,
            },
            received = socket.recv_into(&mut buffer) => {
                let Ok(from) = received else { continue };
                let data = buffer.split();
                match table.routes.route(from, &data) {
                    Verdict::Deliver(slot) => {
                        if !table.deliver(slot, Datagram { slot, from, data, tcp: false }) {
                            dropped.connection_behind.increment(1);
                        }
                    }
                    Verdict::Drop(reason) => dropped.count(reason),
                }
            }
        }
    }
}

/// A connection's route on the node's UDP port; the route goes when this is dropped.
#[derive(Debug)]
pub(crate) struct PortLease {
    /// The connection's slot, which its datagrams carry.
    pub(crate) slot: Slot,
    /// The ICE username fragment the connection must use.
    pub(crate) ufrag: String,
    /// Its ICE password.
    pub(crate) password: String,
    control: mpsc::UnboundedSender<Control<Datagram>>,
    tcp_control: Option<mpsc::UnboundedSender<Control<tcp::Accepted>>>,
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Remove(self.slot));
        if let Some(control) = &self.tcp_control {
            let _ = control.send(Control::Remove(self.slot));
        }
    }
}
