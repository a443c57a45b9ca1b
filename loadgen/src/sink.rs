//! A WebSocket sink: accepts upgrades on `/chat` and discards every byte,
//! so that the loadgen's own ceiling (messages per CPU second) can be
//! measured without a server's cost in the way. One monoio runtime per
//! core with a SO_REUSEPORT listener; no acks, no deliveries (use
//! `--peer --rate` against it: every delivery then counts as lost).

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use monoio::net::{ListenerOpts, TcpListener, TcpStream};

use crate::sys;
use imedge::ws::handshake::accept_key;

/// Serves on `addr` with `cores` runtimes; `ready` gets the bound address.
/// Never returns unless binding fails.
pub fn serve(addr: SocketAddr, cores: usize, ready: impl FnOnce(SocketAddr)) -> io::Result<()> {
    let first = std::net::TcpListener::bind(addr)?;
    let bound = first.local_addr()?;
    drop(first);
    let mut threads = Vec::new();
    for c in 0..cores.max(1) {
        threads.push(std::thread::spawn(move || {
            // From the last CPU down, away from the loadgen's cores (which start at 0).
            let n = crate::run::cpus();
            let _ = monoio::utils::bind_to_cpu_set(Some(n - 1 - c % n));
            let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .enable_timer()
                .build()
                .expect("sink runtime");
            rt.block_on(async move {
                let opts = ListenerOpts::new().reuse_port(true).backlog(4096);
                let listener = TcpListener::bind_with_config(bound, &opts).expect("sink listener");
                loop {
                    match listener.accept().await {
                        Ok((s, _)) => {
                            monoio::spawn(conn(s));
                        }
                        // Out of fds (or similar): back off instead of spinning.
                        Err(_) => monoio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            });
        }));
    }
    ready(bound);
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

async fn conn(s: TcpStream) {
    let fd = s.as_raw_fd();
    let mut head = Vec::with_capacity(512);
    let mut buf = vec![0u8; 64 * 1024];
    // The upgrade request.
    let key = loop {
        if s.readable(false).await.is_err() {
            return;
        }
        match sys::recv(fd, &mut buf) {
            Ok(0) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        }
        if memchr::memmem::find(&head, b"\r\n\r\n").is_some() {
            let text = String::from_utf8_lossy(&head);
            let key = text.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_owned())
            });
            match key {
                Some(k) => break k,
                None => return,
            }
        }
        if head.len() > 16 * 1024 {
            return;
        }
    };
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.as_bytes())
    );
    if sys::send(fd, answer.as_bytes()).is_err() {
        return;
    }
    drop(head);
    // Discard everything until the peer goes.
    loop {
        if s.readable(false).await.is_err() {
            return;
        }
        loop {
            match sys::recv(fd, &mut buf) {
                Ok(0) => return,
                Ok(n) if n < buf.len() => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return,
            }
        }
    }
}
