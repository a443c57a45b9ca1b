//! Running out of descriptors: accept backs off instead of spinning, the
//! failures are counted, and service resumes once descriptors free up.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::start_with_fd_limit;

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
    let rest = stat.rsplit_once(')').unwrap().1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// `GET /healthz`'s status, or `None` when the request cannot be made.
fn healthz(addr: std::net::SocketAddr) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split(' ').nth(1)?.parse().ok()
}

#[test]
fn emfile_on_accept_backs_off_is_counted_and_service_resumes() {
    let d = start_with_fd_limit(&["--threads", "2"], 64);
    let mut held = Vec::new();
    for _ in 0..120 {
        held.push(TcpStream::connect(d.addr).unwrap());
    }
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(d.child.id());
    std::thread::sleep(Duration::from_secs(1));
    let spent = cpu_ticks(d.child.id()) - before;
    // A spinning accept loop burns ~100 ticks (1 s) per core here; backing off costs ~nothing.
    assert!(
        spent < 30,
        "accept spun: {spent} ticks in 1 s at the fd limit"
    );
    held.truncate(10);
    let mut metric = 0.0;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(50));
        // Connects may fail while the backlog drains; the daemon must recover.
        if healthz(d.addr) == Some(200) {
            metric = d.metric("imedge_accept_fd_exhausted_total");
            break;
        }
    }
    if metric < 1.0 {
        let (_, body) = d.get("/metrics");
        let limits =
            std::fs::read_to_string(format!("/proc/{}/limits", d.child.id())).unwrap_or_default();
        let accept: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with("imedge_accept"))
            .collect();
        panic!(
            "EMFILE was not counted; {accept:?}; limits: {:?}",
            limits.lines().find(|l| l.contains("open files"))
        );
    }
}
