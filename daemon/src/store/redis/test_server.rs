//! A real `redis-server` for tests: installed by the project's `.ci/need`
//! if missing, started on a free loopback port with its own directory,
//! append-only persistence on, killed (and its directory removed) when
//! dropped, panics included. Shared by the unit tests and, through
//! `#[path]`, the integration tests.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// A running redis-server.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its data directory (the append-only files).
    pub dir: PathBuf,
}

/// Installs redis-server if missing, once per test process.
pub fn need_redis() {
    static NEED: Once = Once::new();
    NEED.call_once(|| {
        let need = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/need");
        let status = Command::new(need)
            .args(["redis-server", "redis-tools:redis-cli"])
            .status()
            .expect("run .ci/need");
        assert!(status.success(), ".ci/need could not install redis-server");
    });
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    /// Starts a server on a fresh directory.
    pub fn start(tag: &str) -> RedisServer {
        let dir = std::env::temp_dir().join(format!(
            "imedge-redis-{tag}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() ^ u128::from(free_port())
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = RedisServer {
            child: None,
            port: free_port(),
            dir,
        };
        s.restart();
        s
    }

    /// The `redis://` URL of database `db`.
    pub fn url(&self, db: u32) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    /// Kills the server (SIGKILL: no chance to write more than it had).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and directory, and waits
    /// until it answers (its append-only file loaded).
    pub fn restart(&mut self) {
        self.restart_with(&[]);
    }

    /// [`RedisServer::restart`] with extra redis-server arguments.
    fn restart_with(&mut self, extra: &[&str]) {
        self.kill();
        need_redis();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(extra)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
            .args(["--appendfsync", "always", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer", self.port);
    }

    /// Whether the server answers PING with PONG (not while loading).
    pub fn ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut buf = [0u8; 64];
        s.write_all(b"PING\r\n").is_ok()
            && s.read(&mut buf)
                .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of three masters (no replicas) on loopback.
pub struct RedisCluster {
    /// Its nodes.
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers and joins them with
    /// `redis-cli --cluster create`; waits until the cluster is ok.
    pub fn start(tag: &str) -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|i| {
                let mut s = RedisServer::start(&format!("{tag}-{i}"));
                s.restart_with(&["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]);
                s
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("run redis-cli --cluster create");
        assert!(status.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        for n in &nodes {
            loop {
                let out = Command::new("redis-cli")
                    .args(["-p", &n.port.to_string(), "cluster", "info"])
                    .output()
                    .expect("run redis-cli");
                if String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok") {
                    break;
                }
                assert!(Instant::now() < deadline, "the cluster never became ok");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        RedisCluster { nodes }
    }

    /// The seed node URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url(0)).collect()
    }

    /// Empties every master.
    pub fn flush(&self) {
        for n in &self.nodes {
            let status = Command::new("redis-cli")
                .args(["-p", &n.port.to_string(), "flushall"])
                .stdout(Stdio::null())
                .status()
                .expect("run redis-cli");
            assert!(status.success());
        }
    }
}
