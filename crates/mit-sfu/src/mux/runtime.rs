//! The webrtc-rs runtime of one connection: tokio for everything, except that the UDP socket and
//! TCP listener webrtc-rs binds for the connection are swapped for its [`PeerSocket`] and its
//! listener on the node's ports. What webrtc-rs bound (ephemeral ports of the bind address) is
//! closed at once; those addresses only name the connection's host candidates inside webrtc-rs.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use webrtc::runtime::{AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime, TokioRuntime};

use super::PeerSocket;

/// Tokio, with the node's port as the connection's UDP socket.
#[derive(Debug)]
pub struct MuxRuntime {
    socket: Arc<PeerSocket>,
}

impl MuxRuntime {
    /// The runtime of the connection that owns `socket`.
    pub fn new(socket: Arc<PeerSocket>) -> Self {
        Self { socket }
    }
}

impl Runtime for MuxRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        TokioRuntime.spawn(future)
    }

    fn spawn_reactor(&self, pool_size: usize, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        TokioRuntime.spawn_reactor(pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        self.socket.set_internal_addr(socket.local_addr()?);
        Ok(self.socket.clone())
    }

    fn wrap_tcp_listener(&self, listener: std::net::TcpListener) -> io::Result<Arc<dyn AsyncTcpListener>> {
        match self.socket.take_tcp_listener(listener.local_addr()?) {
            Some(shared) => Ok(Arc::new(shared)),
            None => Err(io::Error::new(io::ErrorKind::Unsupported, "ICE over TCP is off, or this connection's listener exists")),
        }
    }

    fn connect_tcp<'a>(&'a self, _remote: SocketAddr) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        // The server is only the passive end of ICE over TCP: clients connect to its TCP port.
        Box::pin(std::future::ready(Err(io::Error::new(io::ErrorKind::Unsupported, "the server never dials out over TCP"))))
    }

    fn resolve_host<'a>(&'a self, host: &'a str) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        TokioRuntime.resolve_host(host)
    }

    fn now(&self) -> Instant {
        TokioRuntime.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        TokioRuntime.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        TokioRuntime.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        TokioRuntime.block_on(future)
    }

    fn name(&self) -> &'static str {
        "mit-mux"
    }
}
