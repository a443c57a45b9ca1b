//! The real nginx in front of test nodes, run with the shipped
//! `nginx/imedge.conf` itself (its `map`s, `hash $im_key consistent`
//! upstream and `/chat` location), only moved into a temporary prefix, onto a
//! free loopback port and onto the test nodes' addresses. Clients connect
//! through it, so each lands where nginx, not the test, decides.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Client, SECRET};

/// How long a WebSocket connect through nginx may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

/// The repository's root (the workspace above `daemon/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The nginx binary, installed by the project's `.ci/need` if missing.
pub fn nginx_bin() -> PathBuf {
    let status = Command::new(repo_root().join(".ci/need"))
        .arg("nginx")
        .status()
        .expect("run .ci/need");
    assert!(status.success(), ".ci/need nginx failed");
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
        .expect("nginx is installed but not on PATH or in /usr/sbin")
}

/// A TCP port on 127.0.0.1 that was free a moment ago (see [`free_port`]).
pub fn free_tcp() -> u16 {
    free_port("127.0.0.1")
}

/// A TCP port on `ip` that was free a moment ago and that no other test of
/// this process got: the kernel may hand a released port out again at once,
/// and tests run side by side.
pub fn free_port(ip: &str) -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind((ip, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// `nginx/imedge.conf` with its files under `dir`, listening on `port`,
/// one worker, and its three upstream servers replaced by `servers` (nginx
/// `server` arguments, in order). Panics if the shipped file changed shape.
pub fn shipped_conf(dir: &Path, port: u16, servers: &[String]) -> String {
    let text = std::fs::read_to_string(repo_root().join("nginx/imedge.conf")).unwrap();
    let d = dir.display();
    let mut conf = "daemon off;\nmaster_process off;\n".to_owned() + &text;
    let moves = [
        ("/var/log/nginx/".to_owned(), format!("{d}/")),
        ("/run/nginx-imedge.pid".to_owned(), format!("{d}/nginx.pid")),
        (
            "worker_processes auto;".to_owned(),
            "worker_processes 1;".to_owned(),
        ),
        (
            "worker_connections 140000;".to_owned(),
            "worker_connections 1024;".to_owned(),
        ),
        (
            "listen 8080 reuseport backlog=65535;".to_owned(),
            format!("listen 127.0.0.1:{port};"),
        ),
        (
            "http {".to_owned(),
            format!(
                "http {{\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n    \
                 fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    \
                 scgi_temp_path {d}/scgi;"
            ),
        ),
    ];
    for (was, now) in moves {
        assert!(conf.contains(&was), "nginx/imedge.conf lacks `{was}`");
        conf = conf.replace(&was, &now);
    }
    assert_eq!(servers.len(), 3, "imedge.conf lists three servers");
    for (i, s) in servers.iter().enumerate() {
        let was = format!("server 127.0.0.1:900{} max_fails=0;", i + 1);
        assert!(conf.contains(&was), "nginx/imedge.conf lacks `{was}`");
        conf = conf.replace(&was, &format!("server {s} max_fails=0;"));
    }
    conf
}

/// nginx in the foreground (one process) on its own prefix; killed on drop.
pub struct Nginx {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

impl Nginx {
    /// Writes `conf` (which must listen on `port`) into `dir`, starts nginx
    /// on it and waits until it accepts connections.
    pub fn start(dir: &Path, port: u16, conf: &str) -> Nginx {
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join("nginx.conf");
        std::fs::write(&file, conf).unwrap();
        let child = Command::new(nginx_bin())
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&file)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut n = Nginx {
            child,
            port,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = n.child.try_wait() {
                panic!("nginx exited ({status}): {}", n.error_log());
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen: {}",
                n.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        n
    }

    /// nginx's error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// The access log so far (imedge.conf's token-free format: a line per
    /// finished request, a WebSocket's once it closes).
    pub fn access_log(&self) -> String {
        self.file("imedge-access.log")
    }

    /// A file of nginx's prefix directory (a log its config names), or "".
    pub fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// The WebSocket URL for `uid` through nginx, with a valid token.
    pub fn url(&self, uid: i64) -> String {
        let expires = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600;
        let token = imedge::auth::mint(SECRET.as_bytes(), uid, expires);
        format!("ws://127.0.0.1:{}/chat?id={uid}&token={token}", self.port)
    }

    /// Connects `uid` through nginx (to whichever node nginx picks).
    pub async fn connect(&self, uid: i64) -> Client {
        let attempt = tokio_tungstenite::connect_async(self.url(uid));
        let (ws, resp) = match tokio::time::timeout(CONNECT_LIMIT, attempt).await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => panic!(
                "uid {uid}: connect through nginx: {e}\n{}",
                self.error_log()
            ),
            Err(_) => panic!("uid {uid}: no answer through nginx in {CONNECT_LIMIT:?}"),
        };
        assert_eq!(resp.status(), 101);
        Client { ws, uid }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
