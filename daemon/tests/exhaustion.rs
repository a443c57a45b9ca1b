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
        let (status, _) = d.get("/healthz");
        if status == 200 {
            metric = d.metric("imedge_accept_fd_exhausted_total");
            break;
        }
    }
    assert!(
        metric >= 1.0,
        "EMFILE was counted ({metric}) and /healthz answers again"
    );
}
