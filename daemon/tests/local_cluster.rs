//! `nginx/local-cluster.sh` end to end: `up 3` starts three real nodes and a
//! real nginx, `/healthz` answers through nginx and on each node, the nodes
//! see each other up, `status` agrees, and `down` stops every process (also
//! when an assertion fails, through the guard).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../nginx/local-cluster.sh")
}

/// Runs the script with the test's binary and ports, bounded by `timeout`.
fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("120")
        .arg(script())
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env("IMEDGE_BIN", env!("CARGO_BIN_EXE_imedge"))
        .output()
        .expect("run local-cluster.sh")
}

/// Stops the cluster and removes its directory however the test ends.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let out = run(&self.0, &["down"]);
        if !out.status.success() {
            eprintln!("down failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Status and body of a GET on loopback.
fn get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[test]
fn up_three_nodes_behind_nginx_then_down() {
    // Ports away from the defaults, varied per run, and below the kernel's
    // ephemeral range (32768 up), where other tests' sockets take theirs.
    let base = 20_000 + (std::process::id() % 600) as u16 * 20;
    let (http, udp, nginx) = (base, base + 5, base + 10);
    let dir = std::env::temp_dir().join(format!("imedge-local-cluster-{}", std::process::id()));
    let guard = Down(dir.clone());
    let up = run(
        &dir,
        &[
            "up",
            "3",
            "--http-base",
            &http.to_string(),
            "--udp-base",
            &udp.to_string(),
            "--nginx-port",
            &nginx.to_string(),
        ],
    );
    let stdout = String::from_utf8_lossy(&up.stdout);
    assert!(
        up.status.success(),
        "up failed: {stdout}{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{nginx}/")),
        "{stdout}"
    );

    assert_eq!(get(nginx, "/healthz").0, 200, "through nginx");
    assert_eq!(
        get(nginx, "/chat?id=007").0,
        400,
        "nginx refuses a non-canonical id"
    );
    for i in 0..3 {
        assert_eq!(get(http + i, "/healthz").0, 200, "node {}", i + 1);
    }
    // The nodes found each other over UDP with the generated secret.
    let start = std::time::Instant::now();
    let all_up = |body: &str| {
        (1..=3).all(|n| body.contains(&format!("imedge_cluster_peer_up{{node=\"{n}\"}} 1")))
    };
    while !all_up(&get(http, "/metrics").1) && start.elapsed().as_secs() < 15 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        all_up(&get(http, "/metrics").1),
        "node 1 does not see all up"
    );

    let status = run(&dir, &["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert_eq!(text.matches("running").count(), 4, "{text}");

    let pids: Vec<String> = ["node-1", "node-2", "node-3", "nginx"]
        .iter()
        .map(|n| std::fs::read_to_string(dir.join(format!("{n}.pid"))).unwrap())
        .collect();
    let down = run(&dir, &["down"]);
    assert!(down.status.success());
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{}", pid.trim())).exists(),
            "pid {} survived down",
            pid.trim()
        );
    }
    assert_ne!(get_status_or_refused(nginx), 200, "nginx still answers");
    drop(guard);
}

/// The /healthz status, or 0 when nothing listens.
fn get_status_or_refused(port: u16) -> u16 {
    match std::net::TcpStream::connect(("127.0.0.1", port)) {
        Ok(_) => get(port, "/healthz").0,
        Err(_) => 0,
    }
}
