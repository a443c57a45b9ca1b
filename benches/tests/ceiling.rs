//! The ceiling forwarder, run as its real binary and loaded by the real
//! loadgen (`--peer --ceiling`): every single and room message reaches
//! every recipient, and a request without a user id gets a clear 400.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The loadgen binary of the same profile as this test, built if missing.
fn loadgen() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = profile_dir.join("imedge-loadgen");
    if !bin.exists() {
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev".to_owned(),
            Some(other) => other.to_owned(),
            None => "dev".to_owned(),
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args([
                "build",
                "-p",
                "imedge-loadgen",
                "--bin",
                "imedge-loadgen",
                "--profile",
            ])
            .arg(profile)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .status()
            .unwrap()
            .success();
        assert!(ok, "building the loadgen failed");
    }
    bin
}

/// A ceiling on a free loopback port, killed on drop.
struct Ceiling {
    child: Child,
    port: u16,
}

impl Ceiling {
    fn start(fanout: &str) -> Ceiling {
        // Port 0: the ceiling takes a free port itself and names it, so two
        // tests never share one through SO_REUSEPORT.
        let mut child = Command::new(env!("CARGO_BIN_EXE_ceiling"))
            .args(["--listen", "127.0.0.1:0", "--fanout", fanout])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        // Owned at once, so a failed start is still killed and reaped on drop.
        let mut ceiling = Ceiling { child, port: 0 };
        let mut stderr = BufReader::new(stderr);
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        // Drained, so anything the ceiling says later never meets a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        ceiling.port = line
            .strip_prefix("ceiling listening on 127.0.0.1:")
            .and_then(|rest| rest.split(',').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("the ceiling did not start: {line:?}"));
        ceiling
    }

    /// Runs the loadgen against it and returns its JSON report.
    fn load(&self, args: &[&str]) -> Value {
        let out = std::env::temp_dir().join(format!(
            "imedge-ceiling-{}-{}.json",
            std::process::id(),
            self.port
        ));
        let status = Command::new(loadgen())
            .args(args)
            .args([
                "--peer",
                "--ceiling",
                "--quiet",
                "--duration",
                "1",
                "--drain",
                "3",
            ])
            .args(["--url", &format!("ws://127.0.0.1:{}/chat", self.port)])
            .args([
                "--cpus",
                "none",
                "--target-pid",
                &self.child.id().to_string(),
            ])
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "the loadgen failed");
        let report = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        std::fs::remove_file(&out).unwrap();
        report
    }
}

impl Drop for Ceiling {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_all_delivered(r: &Value, users: u64) {
    let m = &r["messages"];
    assert_eq!(r["connect"]["connected"], users, "{r}");
    assert!(m["expected"].as_u64().unwrap() > 0, "{m}");
    assert_eq!(m["delivered"], m["expected"], "{m}");
    for field in ["lost", "duplicated", "reordered", "unexpected"] {
        assert_eq!(m[field], 0, "{field}: {m}");
    }
    assert!(
        r["cpu"]["target_cpu_s"].as_f64().is_some(),
        "no server CPU reading"
    );
}

#[test]
fn pairs_get_each_others_frames() {
    let c = Ceiling::start("pairs");
    let r = c.load(&["chat", "--users", "20", "--max", "--inflight", "4"]);
    assert_all_delivered(&r, 20);
}

#[test]
fn groups_get_every_members_frames() {
    let c = Ceiling::start("groups:10");
    let r = c.load(&[
        "room",
        "--users",
        "30",
        "--groups",
        "3",
        "--group-size",
        "10",
        "--max",
    ]);
    assert_all_delivered(&r, 30);
    // Each message reaches the 9 other members of its group.
    let m = &r["messages"];
    assert_eq!(
        m["expected"].as_u64().unwrap(),
        m["sent"].as_u64().unwrap() * 9
    );
}

#[test]
fn an_upgrade_without_a_user_id_gets_a_400_naming_it() {
    let c = Ceiling::start("pairs");
    let mut s = TcpStream::connect(("127.0.0.1", c.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /chat?token=x HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: k\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("no numeric id="), "{answer}");
}

#[test]
fn a_port_in_use_is_refused_with_a_clear_error() {
    let c = Ceiling::start("pairs");
    let out = Command::new(env!("CARGO_BIN_EXE_ceiling"))
        .args([
            "--listen",
            &format!("127.0.0.1:{}", c.port),
            "--fanout",
            "pairs",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is in use: another server answers there"),
        "{err}"
    );
}
