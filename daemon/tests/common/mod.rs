//! Test harness: starts the real `imedge` binary on a free loopback port and
//! connects real WebSocket clients (tokio-tungstenite) to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream as TokioTcp;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod cluster;
pub mod nginx;
pub mod relay;
pub mod stack;
pub mod traffic;

/// The secret every test daemon runs with.
pub const SECRET: &str = "test-secret-0123456789";

/// A running daemon, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    pub data_dir: std::path::PathBuf,
    /// Leave the data directory behind on drop (restart tests reuse it).
    pub keep_dir: bool,
}

/// Starts a daemon with `extra` flags on top of a loopback test set-up.
pub fn start(extra: &[&str]) -> Daemon {
    spawn(extra, None)
}

/// Starts a daemon on `data_dir`, which is kept when it stops.
pub fn start_in(data_dir: &std::path::Path, extra: &[&str]) -> Daemon {
    let mut d = spawn_at(data_dir.to_path_buf(), extra, None);
    d.keep_dir = true;
    d
}

/// A fresh, unique temporary directory path (not created).
pub fn temp_path(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "imedge-test-{tag}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ))
}

/// Starts a daemon whose open-files limit (soft and hard) is `limit`.
pub fn start_with_fd_limit(extra: &[&str], limit: u64) -> Daemon {
    spawn(extra, Some(limit))
}

fn spawn(extra: &[&str], fd_limit: Option<u64>) -> Daemon {
    spawn_at(temp_path("data"), extra, fd_limit)
}

fn spawn_at(data_dir: std::path::PathBuf, extra: &[&str], fd_limit: Option<u64>) -> Daemon {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imedge"));
    if let Some(limit) = fd_limit {
        use std::os::unix::process::CommandExt;
        // SAFETY: close_range and setrlimit are async-signal-safe and touch no memory of the parent.
        unsafe {
            cmd.pre_exec(move || {
                // Descriptors inherited from cargo (its jobserver pipe sits at a
                // high number) would break the low limit: close them first.
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
                let lim = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    // The in-memory store unless the test names one.
    let store: &[&str] = if extra.contains(&"--store") {
        &[]
    } else {
        &["--store", "memory"]
    };
    let child = cmd
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--secret",
            SECRET,
            "--log",
            "warn",
        ])
        .args(store)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start imedge");
    adopt(child, data_dir)
}

/// A [`Daemon`] for an `imedge serve` just spawned with its stdout piped:
/// waits for its "listening on" line, which names the address it serves.
pub fn adopt(mut child: Child, data_dir: std::path::PathBuf) -> Daemon {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("imedge printed nothing").unwrap();
    let addr = line
        .strip_prefix("imedge listening on ")
        .unwrap_or_else(|| panic!("unexpected line {line}"));
    let addr = addr.parse().unwrap();
    // Keep draining stdout so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Daemon {
        child,
        addr,
        data_dir,
        keep_dir: false,
    }
}

impl Daemon {
    /// A valid token for `uid`.
    pub fn token(&self, uid: i64) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        imedge::auth::mint(SECRET.as_bytes(), uid, now + 3600)
    }

    /// The WebSocket URL for `uid` with a valid token.
    pub fn url(&self, uid: i64) -> String {
        format!("ws://{}/chat?id={uid}&token={}", self.addr, self.token(uid))
    }

    /// Connects `uid` and waits until its connection is registered.
    pub async fn connect(&self, uid: i64) -> Client {
        let (ws, resp) = tokio_tungstenite::connect_async(self.url(uid))
            .await
            .expect("connect");
        assert_eq!(resp.status(), 101);
        Client { ws, uid }
    }

    /// Sends a raw HTTP request and returns (status, headers+body text), read to the end.
    pub fn raw_http(&self, request: &str) -> (u16, String) {
        self.exchange(request, None)
    }

    /// Sends a raw request and reads until `marker` appears (for answers that keep the socket open).
    pub fn raw_http_until(&self, request: &str, marker: &str) -> (u16, String) {
        self.exchange(request, Some(marker))
    }

    fn exchange(&self, request: &str, marker: Option<&str>) -> (u16, String) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while !marker.is_some_and(|m| String::from_utf8_lossy(&out).contains(m)) {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, text)
    }

    /// A raw upgraded socket for `uid` (for frames a conforming client cannot send).
    pub fn raw_ws(&self, uid: i64) -> TcpStream {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let req = format!(
            "GET /chat?id={uid}&token={} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            self.token(uid)
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        s
    }

    /// A GET with `Connection: close`; returns (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let (status, text) = self.raw_http(&format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// A POST of a form body with `Connection: close`; returns (status, body).
    pub fn post_form(&self, path: &str, form: &str) -> (u16, String) {
        let (status, text) = self.raw_http(&format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// An authenticated API call of `uid` (form body `form`) that must
    /// answer 200: its `data`.
    pub fn api(&self, uid: i64, path: &str, form: &str) -> serde_json::Value {
        let body = format!("userid={uid}&token={}&{form}", self.token(uid));
        let (status, text) = self.post_form(path, &body);
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"));
        assert_eq!(status, 200, "{path} {form}: {text}");
        v["data"].clone()
    }

    /// The value of a metric line (first match of `prefix`).
    pub fn metric(&self, prefix: &str) -> f64 {
        let (_, body) = self.get("/metrics");
        body.lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    }

    /// Resident set size of the daemon in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        // SAFETY: kill(2) with our child's pid; no memory is involved.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
    }

    /// Waits for the process to exit within `limit`; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// A connected test user.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TokioTcp>>,
    pub uid: i64,
}

/// What a client read: a JSON message, a close, or nothing in time.
#[derive(Debug)]
pub enum Got {
    Json(serde_json::Value),
    Close(Option<u16>),
    Timeout,
}

impl Client {
    /// Sends a text frame.
    pub async fn send(&mut self, text: impl Into<String>) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// The next JSON message or close, skipping pings (answered by
    /// tungstenite) and the end-of-offline-push marker (cmd 31, id 0).
    pub async fn next(&mut self, wait: Duration) -> Got {
        loop {
            match self.next_any(wait).await {
                Got::Json(v) if v["cmd"] == 31 && v["id"] == 0 => continue,
                other => return other,
            }
        }
    }

    /// The next JSON message or close, markers included.
    pub async fn next_any(&mut self, wait: Duration) -> Got {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Got::Timeout,
                Ok(None) => return Got::Close(None),
                Ok(Some(Err(_))) => return Got::Close(None),
                Ok(Some(Ok(Message::Text(t)))) => {
                    return Got::Json(serde_json::from_str(&t).expect("json"))
                }
                Ok(Some(Ok(Message::Close(c)))) => {
                    return Got::Close(c.map(|c: CloseFrame| u16::from(c.code)))
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next JSON message, markers included; panics on a close or a timeout.
    pub async fn recv_any(&mut self) -> serde_json::Value {
        match self.next_any(Duration::from_secs(5)).await {
            Got::Json(v) => v,
            other => panic!("uid {}: expected a message, got {other:?}", self.uid),
        }
    }

    /// The next JSON message; panics on a close or a timeout.
    pub async fn recv(&mut self) -> serde_json::Value {
        match self.next(Duration::from_secs(5)).await {
            Got::Json(v) => v,
            other => panic!("uid {}: expected a message, got {other:?}", self.uid),
        }
    }

    /// Asserts nothing arrives for `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        match self.next(wait).await {
            Got::Timeout => {}
            other => panic!("uid {}: expected silence, got {other:?}", self.uid),
        }
    }

    /// The close code the server closes with (within 5 s).
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match self.next(Duration::from_secs(5)).await {
                Got::Close(c) => return c,
                Got::Json(_) => continue,
                Got::Timeout => panic!("uid {}: no close", self.uid),
            }
        }
    }
}

/// A client frame: `first` is the FIN/RSV/opcode byte, masked unless `mask` is None.
pub fn raw_frame(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = vec![first];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(m | n as u8),
        n if n < 65536 => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

/// Reads server frames until a close; returns its code (None on end of stream without one).
pub fn read_close(s: &mut TcpStream) -> Option<u16> {
    loop {
        let mut h = [0u8; 2];
        if s.read_exact(&mut h).is_err() {
            return None;
        }
        let mut len = (h[1] & 0x7f) as usize;
        if len == 126 {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).ok()?;
            len = u16::from_be_bytes(b) as usize;
        } else if len == 127 {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).ok()?;
            len = u64::from_be_bytes(b) as usize;
        }
        let mut p = vec![0u8; len];
        s.read_exact(&mut p).ok()?;
        if h[0] & 0x0f == 0x8 {
            return (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]]));
        }
    }
}
