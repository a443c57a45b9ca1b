//! The ceiling: the least a server can do and still deliver the loadgen's
//! frames. One monoio runtime per core (pinned, like imedge's), SO_REUSEPORT
//! listeners; each upgrade gets a 101 at once, its socket moves to the core
//! that owns the user's pair or group, and every data frame the user sends
//! is queued, bytes unchanged, for its partner or its group's other members
//! (`--fanout`); once the ready reads are done, every recipient gets its
//! queue in one `send` (imedge batches its writes the same way). No masking, validation, JSON or
//! storage.
//!
//!     ceiling --listen 127.0.0.1:8080 --fanout pairs|groups:100 [--cores N]
//!
//! Drive it with `imedge-loadgen --peer --ceiling` (unmasked client frames,
//! which a client accepts when they come back).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use imedge::server::sys;
use imedge::ws::handshake::accept_key;
use imedge_benches::ceiling::{frame_at, head_len, parse_upgrade, Fanout, Upgrade, OP_CLOSE};
use monoio::net::{TcpListener, TcpStream};
use socket2::{Domain, Socket, Type};

/// Bytes queued for one slow reader before it is dropped.
const MAX_QUEUED: usize = 8 << 20;
/// Largest upgrade request read.
const MAX_HEAD: usize = 16 * 1024;

/// The ceiling forwarder for the end-to-end suite.
#[derive(Parser)]
struct Args {
    /// Address to listen on (port 0: a free port, announced on stderr)
    #[arg(long)]
    listen: SocketAddr,
    /// Who receives a frame: pairs (uid ^ 1) or groups:SIZE (uid / SIZE)
    #[arg(long, value_parser = Fanout::parse)]
    fanout: Fanout,
    /// Runtimes, one per CPU by default
    #[arg(long)]
    cores: Option<usize>,
}

/// A socket handed to the core that owns its user.
struct Handoff {
    fd: RawFd,
    up: Upgrade,
    rest: Vec<u8>,
}

/// One connected user as its core sees it.
struct Peer {
    uid: i64,
    stream: TcpStream,
    /// Bytes the socket did not take yet.
    out: RefCell<Vec<u8>>,
    /// Listed in the core's `dirty` list.
    dirty: Cell<bool>,
    /// A flusher task waits for the socket to take more.
    flushing: Cell<bool>,
}

/// One core's users, by uid and by group.
struct Core {
    fanout: Fanout,
    users: RefCell<HashMap<i64, Rc<Peer>>>,
    groups: RefCell<HashMap<i64, Vec<Rc<Peer>>>>,
    rbuf: RefCell<Box<[u8]>>,
    /// Users with queued bytes, sent once the reads ready now are done.
    dirty: RefCell<Vec<Rc<Peer>>>,
    /// Wakes the sender task when the first user turns dirty.
    sender: Cell<Option<Waker>>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    sys::raise_nofile_limit()?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cores = args.cores.unwrap_or(cpus).max(1);
    let mut addr = args.listen;
    if addr.port() != 0 {
        refuse_a_port_in_use(addr)?;
    }
    // Port 0 lets the kernel choose: the first core's listener takes a free
    // port and the others join it, so tests never race for one.
    let mut listeners = Vec::with_capacity(cores);
    for _ in 0..cores {
        let l = listener(addr).with_context(|| format!("listening on {addr}"))?;
        addr = l.local_addr()?;
        listeners.push(l);
    }
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..cores).map(|_| flume::unbounded::<Handoff>()).unzip();
    let mut threads = Vec::new();
    for (id, (rx, std)) in rxs.into_iter().zip(listeners).enumerate() {
        let txs = txs.clone();
        let fanout = args.fanout;
        threads.push(std::thread::spawn(move || {
            let _ = monoio::utils::bind_to_cpu_set(Some(id % cpus));
            let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .enable_timer()
                .build()
                .expect("ceiling runtime");
            rt.block_on(run_core(id, std, fanout, txs, rx));
        }));
    }
    eprintln!(
        "ceiling listening on {addr}, {cores} cores, fanout {:?}",
        args.fanout
    );
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// SO_REUSEPORT would silently share the port with a server already on it:
/// refuse one that still answers after 3 s (a server that just exited can
/// answer a moment longer while io_uring releases its socket).
fn refuse_a_port_in_use(addr: SocketAddr) -> anyhow::Result<()> {
    let answers =
        || std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok();
    for _ in 0..30 {
        if !answers() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!("{addr} is in use: another server answers there")
}

/// One core's SO_REUSEPORT listener (non-blocking, as the epoll driver needs).
fn listener(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(4096)?;
    Ok(s.into())
}

async fn run_core(
    id: usize,
    std: std::net::TcpListener,
    fanout: Fanout,
    txs: Vec<flume::Sender<Handoff>>,
    rx: flume::Receiver<Handoff>,
) {
    let core = Rc::new(Core {
        fanout,
        users: RefCell::default(),
        groups: RefCell::default(),
        rbuf: RefCell::new(vec![0; 64 * 1024].into_boxed_slice()),
        dirty: RefCell::default(),
        sender: Cell::new(None),
    });
    monoio::spawn(send_loop(core.clone()));
    let c = core.clone();
    monoio::spawn(async move {
        while let Ok(h) = rx.recv_async().await {
            let std = sys::adopt(h.fd);
            if std.set_nonblocking(true).is_err() {
                continue;
            }
            if let Ok(stream) = TcpStream::from_std(std) {
                monoio::spawn(serve(c.clone(), stream, h.up, h.rest));
            }
        }
    });
    let listener = TcpListener::from_std(std).expect("ceiling listener");
    let txs = Rc::new(txs);
    loop {
        match listener.accept().await {
            Ok((s, _)) => {
                monoio::spawn(upgrade(core.clone(), id, txs.clone(), s));
            }
            // Out of descriptors: back off instead of spinning.
            Err(_) => monoio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Reads the upgrade request and passes the socket to its user's core.
async fn upgrade(core: Rc<Core>, id: usize, txs: Rc<Vec<flume::Sender<Handoff>>>, s: TcpStream) {
    let fd = s.as_raw_fd();
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    let len = loop {
        if s.readable(false).await.is_err() {
            return;
        }
        match sys::recv(fd, &mut buf) {
            Ok(0) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        }
        if let Some(len) = head_len(&head) {
            break len;
        }
        if head.len() > MAX_HEAD {
            return;
        }
    };
    let up = match parse_upgrade(&head[..len]) {
        Ok(up) => up,
        Err(e) => {
            let body = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{e}",
                e.len()
            );
            let _ = sys::send_slices(fd, std::iter::once(body.as_bytes()));
            return;
        }
    };
    let rest = head.split_off(len);
    let owner = core.fanout.owner(up.uid, txs.len());
    if owner == id {
        // Spawned, not awaited: this task's read buffer must not live on in
        // every idle connection.
        monoio::spawn(serve(core, s, up, rest));
    } else {
        let fd = s.into_raw_fd();
        if txs[owner].send(Handoff { fd, up, rest }).is_err() {
            drop(sys::adopt(fd));
        }
    }
}

/// Registers the user, answers 101 and forwards its frames until it goes.
async fn serve(core: Rc<Core>, stream: TcpStream, up: Upgrade, mut partial: Vec<u8>) {
    let fd = stream.as_raw_fd();
    // Answered and dropped before the first wait: an idle connection keeps
    // only its small state.
    let answer = answer(up);
    let peer = Rc::new(Peer {
        uid: answer.0,
        stream,
        out: RefCell::default(),
        dirty: Cell::new(false),
        flushing: Cell::new(false),
    });
    core.users.borrow_mut().insert(peer.uid, peer.clone());
    if let Fanout::Groups(_) = core.fanout {
        let gid = core.fanout.unit(peer.uid);
        core.groups
            .borrow_mut()
            .entry(gid)
            .or_default()
            .push(peer.clone());
    }
    queue(&core, &peer, answer.1.as_bytes());
    drop(answer);
    let mut open = forward(&core, &peer, &mut partial);
    while open {
        if peer.stream.readable(false).await.is_err() {
            break;
        }
        let mut rbuf = core.rbuf.borrow_mut();
        let n = match sys::recv(fd, &mut rbuf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if partial.is_empty() {
            let used = forward_frames(&core, &peer, &rbuf[..n]);
            open = used.is_some();
            partial.extend_from_slice(&rbuf[used.unwrap_or(n)..n]);
        } else {
            partial.extend_from_slice(&rbuf[..n]);
            open = forward(&core, &peer, &mut partial);
        }
        drop(rbuf);
        if partial.is_empty() && partial.capacity() > 4096 {
            partial = Vec::new();
        }
    }
    leave(&core, &peer);
}

/// The user and the 101 answer to its upgrade.
fn answer(up: Upgrade) -> (i64, String) {
    let text = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(up.key.as_bytes())
    );
    (up.uid, text)
}

/// Forwards the whole frames of `partial` and keeps the rest; false once
/// the user sent a close.
fn forward(core: &Core, from: &Peer, partial: &mut Vec<u8>) -> bool {
    match forward_frames(core, from, partial) {
        Some(used) => {
            partial.drain(..used);
            true
        }
        None => false,
    }
}

/// Forwards every whole frame at the front of `buf`; returns the bytes
/// used, or `None` at a close frame.
fn forward_frames(core: &Core, from: &Peer, buf: &[u8]) -> Option<usize> {
    let mut off = 0;
    while let Some(at) = frame_at(&buf[off..]) {
        if buf.len() - off < at.len {
            break;
        }
        if at.opcode == OP_CLOSE {
            return None;
        }
        let frame = &buf[off..off + at.len];
        match core.fanout {
            Fanout::Pairs => {
                if let Some(to) = core.users.borrow().get(&(from.uid ^ 1)) {
                    queue(core, to, frame);
                }
            }
            Fanout::Groups(_) => {
                if let Some(members) = core.groups.borrow().get(&core.fanout.unit(from.uid)) {
                    for to in members.iter().filter(|m| m.uid != from.uid) {
                        queue(core, to, frame);
                    }
                }
            }
        }
        off += at.len;
    }
    Some(off)
}

/// Queues `data` for `to`, sent at the end of the current read; drops a
/// reader whose queue passes `MAX_QUEUED`.
fn queue(core: &Core, to: &Rc<Peer>, data: &[u8]) {
    let mut out = to.out.borrow_mut();
    if out.len() + data.len() > MAX_QUEUED {
        sys::shutdown(to.stream.as_raw_fd());
        return;
    }
    out.extend_from_slice(data);
    if !to.dirty.replace(true) {
        core.dirty.borrow_mut().push(to.clone());
        if let Some(w) = core.sender.take() {
            w.wake();
        }
    }
}

/// Sends the dirty users' queues after the reads that are ready have run
/// (a woken task runs after those already queued), so that one `send`
/// carries every frame a recipient got in this round, as imedge's flusher does.
async fn send_loop(core: Rc<Core>) {
    loop {
        std::future::poll_fn(|cx| {
            if core.dirty.borrow().is_empty() {
                core.sender.set(Some(cx.waker().clone()));
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        send_queued(&core);
    }
}

/// Sends every dirty user's queue with one `send` each; what a socket does
/// not take waits for a flusher task.
fn send_queued(core: &Core) {
    let dirty = std::mem::take(&mut *core.dirty.borrow_mut());
    for to in dirty {
        to.dirty.set(false);
        if to.flushing.get() {
            continue;
        }
        let mut out = to.out.borrow_mut();
        match sys::send_slices(to.stream.as_raw_fd(), std::iter::once(&out[..])) {
            Ok(n) => {
                out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => {
                out.clear();
                continue;
            }
        }
        if out.is_empty() {
            if out.capacity() > 64 * 1024 {
                *out = Vec::new();
            }
        } else {
            to.flushing.set(true);
            monoio::spawn(flush(to.clone()));
        }
    }
}

/// Drains a user's queue as its socket takes it.
async fn flush(to: Rc<Peer>) {
    let fd = to.stream.as_raw_fd();
    loop {
        if to.stream.writable(false).await.is_err() {
            break;
        }
        let mut out = to.out.borrow_mut();
        match sys::send_slices(fd, std::iter::once(&out[..])) {
            Ok(n) => {
                out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => {
                out.clear();
                break;
            }
        }
        if out.is_empty() {
            *out = Vec::new();
            break;
        }
    }
    to.flushing.set(false);
}

/// Forgets a user that went (unless it already reconnected).
fn leave(core: &Core, peer: &Rc<Peer>) {
    let mut users = core.users.borrow_mut();
    if users.get(&peer.uid).is_some_and(|p| Rc::ptr_eq(p, peer)) {
        users.remove(&peer.uid);
    }
    if let Fanout::Groups(_) = core.fanout {
        let gid = core.fanout.unit(peer.uid);
        let mut groups = core.groups.borrow_mut();
        if let Some(members) = groups.get_mut(&gid) {
            members.retain(|m| !Rc::ptr_eq(m, peer));
            if members.is_empty() {
                groups.remove(&gid);
            }
        }
    }
    sys::shutdown(peer.stream.as_raw_fd());
}
