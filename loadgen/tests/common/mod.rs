//! The real imedge daemon for the loadgen's tests: built if missing, started
//! on a free loopback port with the memory store, killed on drop.

#![allow(dead_code)] // Each test file uses its own part.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The secret every test daemon and loadgen run share.
pub const SECRET: &str = "loadgen-test-secret-0123";

/// The daemon's binary, built first if missing.
pub fn daemon_binary() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target"));
    let bin = target.join("debug/imedge");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-p", "imedge", "--bin", "imedge"])
            .current_dir(manifest.join(".."))
            .status()
            .expect("run cargo build")
            .success();
        assert!(ok, "building the daemon failed");
    }
    bin
}

/// A number unlikely to repeat, for temp names.
pub fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A daemon on a free loopback port with the memory store, killed on drop.
pub struct Daemon {
    /// The process.
    pub child: Child,
    /// `host:port` it listens on.
    pub addr: String,
    dir: PathBuf,
}

impl Daemon {
    /// Starts one with `extra` serve flags.
    pub fn start_with(extra: &[&str]) -> Daemon {
        let dir = std::env::temp_dir().join(format!(
            "imedge-loadgen-test-{}-{}",
            std::process::id(),
            unique()
        ));
        let mut child = Command::new(daemon_binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--secret", SECRET])
            .args(["--store", "memory", "--log", "warn"])
            .args(extra)
            .arg("--data-dir")
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start imedge");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().expect("imedge printed nothing").unwrap();
        let addr = line
            .strip_prefix("imedge listening on ")
            .unwrap_or_else(|| panic!("unexpected line {line}"))
            .to_owned();
        std::thread::spawn(move || for _ in lines {});
        Daemon { child, addr, dir }
    }

    /// Its WebSocket URL.
    pub fn url(&self) -> String {
        format!("ws://{}/chat", self.addr)
    }

    /// A temp file path beside its data dir (for a loadgen report).
    pub fn temp_file(&self, ext: &str) -> PathBuf {
        self.dir.with_extension(format!("{}.{ext}", unique()))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The number at dotted `path` in a report.
pub fn count(v: &Value, path: &str) -> u64 {
    let mut at = v;
    for key in path.split('.') {
        at = &at[key];
    }
    at.as_u64()
        .unwrap_or_else(|| panic!("{path} is not a count: {at}"))
}
