//! imedge's ring against the real nginx: nginx balances 10,000 ids with
//! `hash $arg_id consistent` over servers on closed loopback ports, logs the
//! one it picked (`$upstream_addr`; `proxy_next_upstream off`, so only the
//! first pick), and every pick must equal `Ring::owner`. Then the shipped
//! `nginx/imedge.conf` is checked with `nginx -t` and run: its id check, its
//! failover order and its token-free log.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv6Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::nginx::{free_port, nginx_bin, repo_root, Nginx};
use imedge::cluster::Ring;

/// Ids per upstream configuration.
const IDS: usize = 10_000;

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("imedge-ring-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port on `ip` that nothing listens on (bound, then released).
fn closed_port(ip: &str) -> u16 {
    free_port(ip)
}

fn has_ipv6_loopback() -> bool {
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

/// nginx's `access.log` once it holds `n` lines (nginx writes a line
/// after its response, so the last ones may trail the answers briefly).
fn access_lines(nginx: &Nginx, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines: Vec<String> = nginx
            .file("access.log")
            .lines()
            .map(str::to_owned)
            .collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Settings that keep nginx's files inside the test's prefix.
fn main_context(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nevents {{ worker_connections 256; }}\n\
         http {{\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n \
         fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n"
    )
}

/// GETs every path on one keep-alive connection, pipelined in batches;
/// returns each answer's status and body.
fn get_all(port: u16, paths: &[String]) -> Vec<(u16, String)> {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut out = Vec::with_capacity(paths.len());
    for batch in paths.chunks(200) {
        let mut req = String::new();
        for p in batch {
            req.push_str(&format!("GET {p} HTTP/1.1\r\nHost: test\r\n\r\n"));
        }
        writer.write_all(req.as_bytes()).unwrap();
        for _ in batch {
            out.push(read_response(&mut reader));
        }
    }
    out
}

fn read_response(r: &mut impl BufRead) -> (u16, String) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut length = 0;
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// 10,000 ids: the first 5,000 integers and 5,000 spread over 1..2^63.
fn ids() -> Vec<u64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (1..=(IDS / 2) as u64)
        .chain((0..IDS / 2).map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 1).max(1)
        }))
        .collect()
}

/// Runs nginx over `servers` (nginx `server` entries, in order) and checks
/// every id's pick against the ring; returns the picks by id.
fn compare(tag: &str, servers: &[String]) -> HashMap<u64, String> {
    let ring = Ring::parse(servers).unwrap();
    let dir = TempDir::new(tag);
    let port = closed_port("127.0.0.1");
    let mut conf = main_context(&dir.0);
    conf.push_str(" log_format pick '$arg_id $upstream_addr';\n");
    conf.push_str(&format!(
        " access_log {}/access.log pick;\n",
        dir.0.display()
    ));
    conf.push_str(" upstream ring {\n  hash $arg_id consistent;\n");
    for s in servers {
        // max_fails=0: a refused connect must not take a server out of
        // nginx's choice for the next requests.
        conf.push_str(&format!("  server {s} max_fails=0;\n"));
    }
    conf.push_str(" }\n");
    conf.push_str(&format!(
        " server {{\n  listen 127.0.0.1:{port};\n  keepalive_requests 100000;\n  \
         location / {{\n   proxy_pass http://ring;\n   proxy_next_upstream off;\n   \
         proxy_connect_timeout 2s;\n   proxy_read_timeout 2s;\n  }}\n }}\n}}\n"
    ));
    let nginx = Nginx::start(&dir.0, port, &conf);

    let ids = ids();
    let paths: Vec<String> = ids.iter().map(|id| format!("/?id={id}")).collect();
    let answers = get_all(nginx.port, &paths);
    assert!(
        answers.iter().all(|(s, _)| *s == 502),
        "{tag}: every upstream is closed, so every answer is 502"
    );
    let mut picks = HashMap::new();
    for line in access_lines(&nginx, ids.len()) {
        let (id, addr) = line.split_once(' ').unwrap();
        picks.insert(id.parse::<u64>().unwrap(), addr.to_owned());
    }
    assert_eq!(picks.len(), ids.len(), "{tag}: {}", nginx.error_log());
    let mut differ = Vec::new();
    for id in &ids {
        let ours = ring
            .owner_of_uid(*id)
            .map(|i| ring.servers()[i].address.as_str());
        if ours != Some(picks[id].as_str()) {
            differ.push(format!("id {id}: nginx {}, ring {ours:?}", picks[id]));
        }
    }
    assert!(
        differ.is_empty(),
        "{tag}: {} of {} picks differ, e.g. {:?}",
        differ.len(),
        ids.len(),
        &differ[..differ.len().min(5)]
    );
    // Every live server got users, so the comparison covered them all.
    for (i, s) in ring.servers().iter().enumerate() {
        let n = picks.values().filter(|a| **a == s.address).count();
        assert_eq!(n == 0, s.down, "{tag}: server {i} `{s}` got {n} ids");
    }
    picks
}

#[test]
fn plain_ring_matches_nginx() {
    let s: Vec<String> = (0..3)
        .map(|_| format!("127.0.0.1:{}", closed_port("127.0.0.1")))
        .collect();
    compare("plain", &s);
}

#[test]
fn weighted_ring_matches_nginx_and_imedge_ring_prints_it() {
    let s = vec![
        format!("127.0.0.1:{} weight=3", closed_port("127.0.0.1")),
        format!("127.0.0.2:{}", closed_port("127.0.0.2")),
        format!("127.0.0.3:{} weight=2", closed_port("127.0.0.3")),
        format!("127.0.0.1:{}", closed_port("127.0.0.1")),
    ];
    let picks = compare("weights", &s);

    // `imedge ring` on a cluster config of the same servers names, for
    // each id, the node nginx picked.
    let dir = TempDir::new("ring-cli");
    let mut toml = String::from("[cluster]\n");
    for (i, server) in s.iter().enumerate() {
        toml.push_str(&format!(
            "[[cluster.nodes]]\nid = {}\nserver = \"{server}\"\nudp = \"127.0.0.1:{}\"\n",
            i + 1,
            7000 + i
        ));
    }
    let file = dir.0.join("imedge.toml");
    std::fs::write(&file, toml).unwrap();
    let some: Vec<u64> = ids().into_iter().step_by(50).collect();
    let list: Vec<String> = some.iter().map(u64::to_string).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_imedge"))
        .args(["ring", "--config"])
        .arg(&file)
        .args(["--uid", &list.join(",")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), some.len());
    for (id, line) in some.iter().zip(lines) {
        let node = s
            .iter()
            .position(|e| e.split(' ').next() == Some(picks[id].as_str()))
            .unwrap();
        let want = format!("uid {id}: node {}, server {}", node + 1, s[node]);
        assert!(line.starts_with(&want), "{line} / {want}");
    }
}

#[test]
fn down_server_ring_matches_nginx() {
    let s = vec![
        format!("127.0.0.1:{}", closed_port("127.0.0.1")),
        format!("127.0.0.1:{} down", closed_port("127.0.0.1")),
        format!("127.0.0.1:{}", closed_port("127.0.0.1")),
        format!("127.0.0.1:{}", closed_port("127.0.0.1")),
    ];
    compare("down", &s);
}

#[test]
fn ipv6_literal_ring_matches_nginx() {
    if !has_ipv6_loopback() {
        eprintln!("skipped: this machine has no ::1 to run an IPv6 upstream on");
        return;
    }
    let s = vec![
        format!("127.0.0.1:{}", closed_port("127.0.0.1")),
        format!("127.0.0.1:{} weight=2", closed_port("127.0.0.1")),
        format!("[::1]:{}", closed_port("::1")),
    ];
    compare("ipv6", &s);
}

/// `nginx/imedge.conf` with its paths, port and servers moved into a test
/// prefix; returns the text and the server addresses.
fn shipped_conf(dir: &Path, port: u16) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(repo_root().join("nginx/imedge.conf")).unwrap();
    let d = dir.display();
    let servers: Vec<String> = (0..3)
        .map(|_| format!("127.0.0.1:{}", closed_port("127.0.0.1")))
        .collect();
    let mut conf = "daemon off;\nmaster_process off;\n".to_owned()
        + &text
            .replace("/var/log/nginx/", &format!("{d}/"))
            .replace("/run/nginx-imedge.pid", &format!("{d}/nginx.pid"))
            .replace("worker_processes auto;", "worker_processes 1;")
            .replace("worker_connections 140000;", "worker_connections 256;")
            .replace(
                "listen 8080 reuseport backlog=65535;",
                &format!("listen 127.0.0.1:{port};"),
            );
    for (i, s) in servers.iter().enumerate() {
        let was = format!("server 127.0.0.1:900{} max_fails=0;", i + 1);
        assert!(conf.contains(&was), "imedge.conf lacks `{was}`");
        conf = conf.replace(&was, &format!("server {s} max_fails=0;"));
    }
    conf = conf.replace(
        "http {",
        &format!(
            "http {{\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n    \
             fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    \
             scgi_temp_path {d}/scgi;"
        ),
    );
    (conf, servers)
}

#[test]
fn shipped_config_passes_nginx_t() {
    let dir = TempDir::new("conf-t");
    let (conf, _) = shipped_conf(&dir.0, closed_port("127.0.0.1"));
    let file = dir.0.join("imedge.conf");
    std::fs::write(&file, conf).unwrap();
    let out = Command::new(nginx_bin())
        .arg("-t")
        .arg("-p")
        .arg(&dir.0)
        .arg("-c")
        .arg(&file)
        .arg("-e")
        .arg(dir.0.join("error.log"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("test is successful"), "{said}");
    assert!(!said.contains("[warn]"), "{said}");
}

#[test]
fn shipped_config_checks_ids_fails_over_along_the_ring_and_logs_no_token() {
    let dir = TempDir::new("conf-run");
    let port = closed_port("127.0.0.1");
    let (conf, servers) = shipped_conf(&dir.0, port);
    let log = dir.0.join("imedge-access.log");
    let nginx = Nginx::start(&dir.0, port, &conf);
    let ring = Ring::parse(&servers).unwrap();

    let bad = [
        "/chat",
        "/chat?id=",
        "/chat?id=0",
        "/chat?id=0123",
        "/chat?id=%31",
        "/chat?id=-1&token=t",
    ];
    let paths: Vec<String> = bad.iter().map(|p| p.to_string()).collect();
    for (path, (status, body)) in bad.iter().zip(get_all(nginx.port, &paths)) {
        assert_eq!(status, 400, "{path}");
        assert!(
            body.starts_with("{\"code\":-1,\"msg\":\"id must be"),
            "{path}: {body}"
        );
    }

    // Every node is down (closed ports): nginx tries them all, owner first,
    // then clockwise, exactly as Ring::failover says.
    let ids: Vec<u64> = (1..=300).collect();
    let paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/chat?id={id}&token=secret-token-{id}"))
        .collect();
    assert!(get_all(nginx.port, &paths).iter().all(|(s, _)| *s == 502));
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().count() >= bad.len() + ids.len() || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        !text.contains("token"),
        "the access log shows tokens:\n{text}"
    );
    let mut checked = 0;
    for line in text.lines() {
        // ... "GET /chat" 502 <im_key> <a, b, c> <statuses> <time>
        let after = line.split("\" ").nth(1).unwrap();
        let mut f = after.splitn(3, ' ');
        let (status, key, rest) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        if status != "502" {
            continue;
        }
        let tried: Vec<&str> = rest.split(" 502").next().unwrap().split(", ").collect();
        let mut walk = ring.failover(key.as_bytes());
        let want: Vec<&str> = walk
            .by_ref()
            .map(|i| ring.servers()[i].address.as_str())
            .collect();
        // The ring fixes the order until its point budget is spent; nginx
        // then tries the rest by round robin, in an order of its own.
        assert_eq!(
            &tried[..want.len().min(tried.len())],
            &want[..],
            "id {key}: {line}"
        );
        if tried.len() > want.len() {
            assert!(walk.spent(), "id {key}: {line}");
            let mut all: Vec<&str> = tried.clone();
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), tried.len(), "id {key} repeats a server: {line}");
        } else {
            assert_eq!(tried.len(), want.len(), "id {key}: {line}");
        }
        checked += 1;
    }
    assert_eq!(checked, ids.len(), "{text}");
}
