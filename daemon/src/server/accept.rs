//! The accept loop of one core, on its own SO_REUSEPORT listener.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use monoio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, Type};

use super::core::Core;
use super::handshake;

/// Listen backlog per core.
const BACKLOG: i32 = 4096;
/// Pause after running out of descriptors: accepting again at once would spin.
const FD_BACKOFF: Duration = Duration::from_millis(50);

/// A non-blocking SO_REUSEPORT listener on `addr` (one per core).
pub fn listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    Ok(s.into())
}

/// Binds `addr` once without SO_REUSEPORT, so a second daemon on the same
/// port fails loudly instead of silently sharing it, and resolves port 0.
pub fn probe(addr: SocketAddr) -> io::Result<SocketAddr> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("not an inet address"))
}

fn fd_exhausted(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Accepts until the core drains.
pub async fn run(core: Rc<Core>, listener: TcpListener) {
    core.listener_fd.set(listener.as_raw_fd());
    loop {
        let accepted = listener.accept().await;
        if core.draining.get() {
            return;
        }
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                monoio::spawn(handshake::serve(core.clone(), stream, peer.ip()));
            }
            Err(e) if fd_exhausted(&e) => {
                core.counters().accept_fd_exhausted.fetch_add(1, Relaxed);
                tracing::warn!(error = %e, "accept: out of descriptors; backing off");
                monoio::time::sleep(FD_BACKOFF).await;
            }
            Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {}
            Err(e) => {
                core.counters().accept_errors.fetch_add(1, Relaxed);
                tracing::warn!(error = %e, "accept failed");
                monoio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}
