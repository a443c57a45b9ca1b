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

/// Most datagrams one `sendmmsg` or `recvmmsg` call moves.
pub const MMSG_BATCH: usize = 32;

/// Sends up to [`MMSG_BATCH`] datagrams, each to its own address, with one
/// `sendmmsg`; returns how many left (the first `n`). `WouldBlock` when the
/// socket buffer is full; any other error belongs to the first datagram.
pub fn send_datagrams(fd: RawFd, msgs: &[(&[u8], &socket2::SockAddr)]) -> io::Result<usize> {
    let n = msgs.len().min(MMSG_BATCH);
    if n == 0 {
        return Ok(0);
    }
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; MMSG_BATCH];
    // SAFETY: a zeroed mmsghdr is a valid empty header (null pointers, zero lengths).
    let mut hdrs: [libc::mmsghdr; MMSG_BATCH] = unsafe { std::mem::zeroed() };
    for (i, (bytes, addr)) in msgs[..n].iter().enumerate() {
        iov[i] = libc::iovec {
            iov_base: bytes.as_ptr() as *mut _,
            iov_len: bytes.len(),
        };
        let h = &mut hdrs[i].msg_hdr;
        h.msg_name = addr.as_ptr() as *mut _;
        h.msg_namelen = addr.len();
        h.msg_iov = &mut iov[i];
        h.msg_iovlen = 1;
    }
    // SAFETY: every header points at an iovec and an address that live on
    // this frame or in `msgs` for the duration of the call; the kernel only
    // reads them and writes `msg_len` into `hdrs`.
    let r = unsafe {
        libc::sendmmsg(
            fd,
            hdrs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// One datagram taken by [`recv_datagrams`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// Bytes placed in its buffer.
    pub len: usize,
    /// It was longer than its buffer and was cut (`MSG_TRUNC`).
    pub truncated: bool,
}

/// Receives up to `bufs.len()` (at most [`MMSG_BATCH`]) waiting datagrams
/// with one `recvmmsg`, datagram `i` into `bufs[i]` and its size into
/// `got[i]`; returns how many. `WouldBlock` when none is waiting.
pub fn recv_datagrams(
    fd: RawFd,
    bufs: &mut [Box<[u8]>],
    got: &mut [Received; MMSG_BATCH],
) -> io::Result<usize> {
    let n = bufs.len().min(MMSG_BATCH);
    if n == 0 {
        return Ok(0);
    }
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; MMSG_BATCH];
    // SAFETY: a zeroed mmsghdr is a valid empty header (no address wanted).
    let mut hdrs: [libc::mmsghdr; MMSG_BATCH] = unsafe { std::mem::zeroed() };
    for (i, buf) in bufs[..n].iter_mut().enumerate() {
        iov[i] = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        hdrs[i].msg_hdr.msg_iov = &mut iov[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: each iovec covers one distinct buffer borrowed mutably for the
    // call; the kernel writes at most `iov_len` bytes into each and the
    // lengths and flags into `hdrs`. A null timeout means no timer.
    let r = unsafe {
        libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let r = r as usize;
    for (g, h) in got.iter_mut().zip(&hdrs[..r]) {
        *g = Received {
            len: h.msg_len as usize,
            truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
        };
    }
    Ok(r)
}
