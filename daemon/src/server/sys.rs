//! The raw socket calls the server makes itself, the one home of its
//! `unsafe`. monoio only tells us when a socket is ready; reading into a
//! per-core buffer and writing many frames with one `sendmsg` are done here
//! with `MSG_DONTWAIT`, since io_uring-accepted sockets are blocking.

use std::io;
use std::os::fd::RawFd;

/// Frames handed to one `sendmsg` at most (well under IOV_MAX = 1024).
pub const MAX_IOV: usize = 64;

/// Reads what is available into `buf`: `Ok(0)` is end of stream, `WouldBlock` nothing yet.
pub fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid writable region of `buf.len()` bytes for the call's duration.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Writes the slices in order with one vectored call; returns the bytes written.
pub fn send_slices<'a>(fd: RawFd, slices: impl Iterator<Item = &'a [u8]>) -> io::Result<usize> {
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; MAX_IOV];
    let mut n = 0;
    for (v, s) in iov.iter_mut().zip(slices) {
        *v = libc::iovec {
            iov_base: s.as_ptr() as *mut _,
            iov_len: s.len(),
        };
        n += 1;
    }
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: zeroed msghdr is a valid empty header; we only set the iovec fields.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = n;
    // SAFETY: every iovec points into a slice borrowed for the duration of this call.
    let r = unsafe { libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Shuts a socket down both ways; a task waiting on it wakes and sees end of stream.
pub fn shutdown(fd: RawFd) {
    // SAFETY: shutdown on any fd value is memory-safe; errors (already closed) are ignored.
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}

/// Shuts the write side down: the peer sees end of stream after what was sent.
pub fn shutdown_write(fd: RawFd) {
    // SAFETY: as in `shutdown`.
    unsafe { libc::shutdown(fd, libc::SHUT_WR) };
}

/// Shuts a listening socket's read side: a pending accept wakes with an error
/// and the kernel refuses new connections.
pub fn stop_listening(fd: RawFd) {
    // SAFETY: as in `shutdown`.
    unsafe { libc::shutdown(fd, libc::SHUT_RD) };
}

/// Takes ownership of a socket another core gave up with `into_raw_fd`.
pub fn adopt(fd: RawFd) -> std::net::TcpStream {
    use std::os::fd::FromRawFd;
    // SAFETY: the sending core released `fd` with into_raw_fd and sent it only to us.
    unsafe { std::net::TcpStream::from_raw_fd(fd) }
}

/// Raises the soft open-files limit to the hard limit; returns the new soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: `lim` is a valid in-pointer.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim.rlim_cur)
}
