//! The media engine: each media worker ([`crate::workers`]) drives its participants' `rtc` peer
//! connections itself — datagrams and ICE-TCP frames from the node's ports, its own timer, sends
//! straight to the port — and forwards a publisher's packet into every subscriber's connection
//! on the same thread ([`forwarder`]): no task, channel or lock per connection or per packet.
//! Each connection negotiates as the impolite side of perfect negotiation ([`peer`]).

pub(crate) mod connection;
mod forwarder;
mod outlet;
mod peer;
mod receivers;
mod tcp;
#[cfg(test)]
mod tests;

use std::io;
use std::sync::{Arc, Weak};
use std::time::Instant;

use tokio::sync::mpsc;
use uuid::Uuid;

use crate::interceptor::KeyframeRoutes;
use crate::mux::tcp::Accepted;
use crate::mux::{Datagram, UdpPort};
use crate::peer::{MediaPeer, PeerEvent, Signal};
use crate::room::MediaRoom;
use crate::{SfuError, Shared};
use forwarder::Forwarder;
use peer::{EnginePeer, PeerParts};
use rtc::shared::TransportProtocol;
use tcp::TcpStreams;

/// The node's addresses as a connection's host candidates name them (the public address
/// behind 1:1 NAT): what every datagram it receives is tagged with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Local {
    udp: std::net::SocketAddr,
    /// With ICE over TCP on.
    tcp: Option<std::net::SocketAddr>,
}

/// A connection on a worker: its slot on the node's UDP port.
pub(crate) type PeerId = crate::mux::routes::Slot;

/// Datagrams queued for one worker before new ones are dropped.
const DATAGRAM_INBOX: usize = 4096;
/// Accepted ICE-TCP connections queued for one worker.
const STREAM_INBOX: usize = 64;
/// Datagrams handled at most between two forwarding passes.
const BATCH: usize = 64;

/// What a worker's engine is asked to do, besides datagrams.
enum Input {
    Open(Box<EnginePeer>),
    Signal(PeerId, Signal),
    Keyframe(PeerId, u32),
}

/// Where one worker's engine takes its input.
#[derive(Clone)]
pub(crate) struct EngineInbox {
    inputs: mpsc::UnboundedSender<Input>,
    datagrams: mpsc::Sender<Datagram>,
    streams: mpsc::Sender<Accepted>,
}

/// A handle's way to its connection on a worker.
#[derive(Clone)]
pub(crate) struct PeerLink {
    id: PeerId,
    inputs: mpsc::UnboundedSender<Input>,
}

impl PeerLink {
    /// Hands `signal` to the connection's worker.
    pub(crate) fn send(&self, signal: Signal) {
        let _ = self.inputs.send(Input::Signal(self.id, signal));
    }
}

/// A publication's way to the connection that feeds it.
#[derive(Clone)]
pub(crate) struct FeedLink {
    peer: PeerId,
    inputs: mpsc::UnboundedSender<Input>,
}

impl FeedLink {
    /// Asks the publisher for a keyframe on its track `ssrc`.
    pub(crate) fn request_keyframe(&self, ssrc: u32) {
        let _ = self.inputs.send(Input::Keyframe(self.peer, ssrc));
    }
}

/// Starts a worker's engine on the current runtime, sending from `socket`.
pub(crate) fn start(socket: Arc<UdpPort>) -> EngineInbox {
    let (inputs, input_rx) = mpsc::unbounded_channel();
    let (datagrams, datagram_rx) = mpsc::channel(DATAGRAM_INBOX);
    let (streams, stream_rx) = mpsc::channel(STREAM_INBOX);
    let io = WorkerIo { socket, streams: TcpStreams::default(), datagrams: datagrams.clone() };
    tokio::spawn(run(io, input_rx, datagram_rx, stream_rx));
    EngineInbox { inputs, datagrams, streams }
}

/// Where a worker's datagrams go out.
struct WorkerIo {
    socket: Arc<UdpPort>,
    streams: TcpStreams,
    /// For the readers of new ICE-TCP streams.
    datagrams: mpsc::Sender<Datagram>,
}

/// Builds `user`'s connection and hands it to the worker behind `inbox`.
pub(crate) fn connect(
    shared: &Shared,
    inbox: &EngineInbox,
    room: Weak<MediaRoom>,
    user: Uuid,
    session: u64,
    events: mpsc::UnboundedSender<PeerEvent>,
) -> Result<MediaPeer, SfuError> {
    let lease = shared.ports.lease(inbox.datagrams.clone(), inbox.streams.clone());
    let config = &shared.config;
    let ip = config.public_ip.unwrap_or(config.bind_ip);
    let local =
        Local { udp: std::net::SocketAddr::new(ip, shared.udp_port), tcp: shared.tcp_port.map(|port| std::net::SocketAddr::new(ip, port)) };
    let keyframes = Arc::new(KeyframeRoutes::default());
    let credentials = (lease.ufrag.clone(), lease.password.clone());
    let connection = connection::build(config, local, credentials, keyframes.clone(), Instant::now())?;
    let id = lease.slot;
    let feed_link = FeedLink { peer: id, inputs: inbox.inputs.clone() };
    let queue_depth = config.subscriber_queue;
    let parts = PeerParts { connection, lease, local, keyframes, room, user, events, feed_link, queue_depth };
    let _ = inbox.inputs.send(Input::Open(Box::new(EnginePeer::new(parts))));
    Ok(MediaPeer::new(user, session, PeerLink { id, inputs: inbox.inputs.clone() }))
}

/// The worker's I/O: inputs and datagrams in, timers, datagrams out, for as long as the worker
/// lives (it holds the inbox, so the channels never close before it).
async fn run(
    mut io: WorkerIo,
    mut inputs: mpsc::UnboundedReceiver<Input>,
    mut datagrams: mpsc::Receiver<Datagram>,
    mut streams: mpsc::Receiver<Accepted>,
) {
    let send_dropped = metrics::counter!("sfu_udp_datagrams_dropped_total", "reason" => "send_buffer_full");
    let mut forwarder = Forwarder::default();
    loop {
        let deadline = forwarder.next_deadline();
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            input = inputs.recv() => match input {
                Some(input) => apply_at(&mut forwarder, Instant::now(), input),
                None => return,
            },
            datagram = datagrams.recv() => match datagram {
                Some(datagram) => forwarder.datagram(Instant::now(), datagram),
                None => return,
            },
            Some(stream) = streams.recv() => io.streams.open(stream, io.datagrams.clone()),
            () = timer => forwarder.timeout(Instant::now()),
        }
        let now = Instant::now();
        // Whatever else arrived meanwhile, in one batch, and the signals those steps caused
        // before the media they made readable is forwarded.
        for _ in 0..BATCH {
            let Ok(datagram) = datagrams.try_recv() else { break };
            forwarder.datagram(now, datagram);
        }
        while let Ok(input) = inputs.try_recv() {
            apply_at(&mut forwarder, now, input);
        }
        // Under a steady stream of datagrams the timer branch may never be picked.
        if forwarder.next_deadline().is_some_and(|at| at <= now) {
            forwarder.timeout(now);
        }
        forwarder.pump(now);
        for datagram in forwarder.outgoing() {
            let to = datagram.transport.peer_addr;
            if datagram.transport.transport_protocol == TransportProtocol::TCP {
                if !io.streams.send(to, &datagram.message) {
                    send_dropped.increment(1);
                }
            } else if let Err(error) = io.socket.try_send_to(&datagram.message, to) {
                count_send_error(&error, &send_dropped);
            }
        }
    }
}

fn apply_at(forwarder: &mut Forwarder, now: Instant, input: Input) {
    match input {
        Input::Open(peer) => forwarder.open(*peer),
        Input::Signal(id, signal) => forwarder.signal(now, id, signal),
        Input::Keyframe(id, ssrc) => forwarder.keyframe(now, id, ssrc),
    }
}

/// A datagram the kernel has no room for is dropped and counted, as the network would drop it.
fn count_send_error(error: &io::Error, dropped: &metrics::Counter) {
    if error.kind() == io::ErrorKind::WouldBlock {
        dropped.increment(1);
    } else {
        tracing::debug!(%error, "a datagram could not be sent");
    }
}
