//! The cluster's UDP socket, built with socket2 for the options monoio does
//! not set.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// Receive and send buffer asked of the kernel (it caps the request at
/// `net.core.rmem_max` / `wmem_max`; `tuning/` raises those). 8 MiB holds
/// about 6,000 full datagrams: a burst while the owning core is busy.
pub const BUFFER_BYTES: usize = 8 << 20;

/// A nonblocking UDP socket bound to `addr` with SO_REUSEADDR and big
/// buffers; `broadcast` also sets SO_BROADCAST (the seed design's LAN mode).
pub fn bind(addr: SocketAddr, broadcast: bool) -> std::io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    // A smaller buffer than asked is not an error: the kernel caps it.
    let _ = socket.set_recv_buffer_size(BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(BUFFER_BYTES);
    if broadcast {
        socket.set_broadcast(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_nonblocking_with_the_options_set() {
        let udp = bind("127.0.0.1:0".parse().unwrap(), true).unwrap();
        let s = socket2::SockRef::from(&udp);
        assert!(s.reuse_address().unwrap());
        assert!(s.broadcast().unwrap());
        assert!(s.recv_buffer_size().unwrap() > 0);
        let mut buf = [0u8; 8];
        let e = udp.recv(&mut buf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_taken_address_is_an_error() {
        let a = bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        // SO_REUSEADDR does not let two UDP sockets share a port on Linux
        // unless both ask; a plain std socket must fail.
        let taken = a.local_addr().unwrap();
        assert!(std::net::UdpSocket::bind(taken).is_err());
    }
}
