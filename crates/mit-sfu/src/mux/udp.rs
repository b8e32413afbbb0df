//! The node's UDP socket, registered with the runtime's reactor for reading only.
//!
//! Every datagram the kernel has finished sending frees buffer space and signals writability on
//! the socket (a profile of the forwarding loop shows that wake-up inside every send). A socket
//! registered for writability too, as tokio's `UdpSocket` always is, hands each such signal to
//! the reactor. Workers never wait to write — a send the kernel has no room for is dropped and
//! counted, as the network would drop it — so the port is registered for reading only.

use std::io;
use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// The largest datagram read.
const MAX_DATAGRAM: usize = 2048;
/// The kernel buffers asked for on the node's UDP port: every participant's media shares them
/// (the kernel caps them at `net.core.rmem_max`/`wmem_max`).
const SOCKET_BUFFER: usize = 8 * 1024 * 1024;

/// The node's UDP port.
#[derive(Debug)]
pub(crate) struct UdpPort {
    io: AsyncFd<std::net::UdpSocket>,
}

impl UdpPort {
    /// Binds `address`, non-blocking, with large kernel buffers (needs a tokio runtime).
    pub(crate) fn bind(address: SocketAddr) -> io::Result<Self> {
        let socket = socket2::Socket::new(socket2::Domain::for_address(address), socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
        // Best effort: a smaller buffer than asked for still works.
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
        socket.set_nonblocking(true)?;
        socket.bind(&address.into())?;
        let socket: std::net::UdpSocket = socket.into();
        // SAFETY: a `std::net::UdpSocket` owns its descriptor and returns that same descriptor
        // from `as_raw_fd` for its whole life; the `AsyncFd` owns the socket, so the descriptor
        // stays open and unchanged for as long as it is registered.
        let io = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }.map_err(|error| error.into_parts().1)?;
        Ok(Self { io })
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sends one datagram without waiting (`WouldBlock` when the kernel buffer is full).
    pub(crate) fn try_send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.io.get_ref().send_to(data, to)
    }

    /// Appends the next datagram to `buffer`; who sent it.
    pub(crate) async fn recv_into(&self, buffer: &mut BytesMut) -> io::Result<SocketAddr> {
        loop {
            let mut ready = self.io.readable().await?;
            let start = buffer.len();
            buffer.resize(start + MAX_DATAGRAM, 0);
            match ready.try_io(|socket| socket.get_ref().recv_from(&mut buffer[start..])) {
                Ok(Ok((length, from))) => {
                    buffer.truncate(start + length);
                    return Ok(from);
                }
                Ok(Err(error)) => {
                    buffer.truncate(start);
                    return Err(error);
                }
                Err(_would_block) => buffer.truncate(start),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn datagrams_arrive_whole_one_after_another_in_one_buffer() {
        let port = UdpPort::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("a port");
        let to = port.local_addr().expect("bound");
        let sender = UdpPort::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("a sender");
        sender.try_send_to(b"first", to).expect("sent");
        sender.try_send_to(b"second", to).expect("sent");
        let mut buffer = BytesMut::with_capacity(8 * 1024);
        let from = port.recv_into(&mut buffer).await.expect("a datagram");
        assert_eq!(from, sender.local_addr().expect("bound"));
        let first = buffer.split();
        port.recv_into(&mut buffer).await.expect("a datagram");
        assert_eq!((&first[..], &buffer[..]), (&b"first"[..], &b"second"[..]));
    }
}
