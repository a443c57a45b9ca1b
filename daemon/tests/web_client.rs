//! The built-in web client: its HTTP answers, and end-to-end scenarios in
//! Debian's Chromium driven by playwright-core (`tests/web/e2e.mjs`) and in
//! Debian's Firefox ESR driven over Marionette (`tests/web/firefox.py`),
//! both against the real binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::start;

/// The whole browser run, set-up included, must end within this.
const BROWSER_RUN_LIMIT: Duration = Duration::from_secs(180);

/// One browser run at a time: two browsers at once on a small CI machine
/// would starve each other into timeouts.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

/// Removes earlier runs' screenshots of one browser (Firefox's are named
/// `firefox-*`), so they cannot pass for this run's, and keeps the other's.
fn clear_screenshots(shots: &Path, firefox: bool) {
    let Ok(dir) = std::fs::read_dir(shots) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("firefox-") == firefox {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Waits for a browser driver script, killing it past [`BROWSER_RUN_LIMIT`].
fn finish(mut child: Child, what: &str) {
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the browser script") {
            break status;
        }
        if began.elapsed() > BROWSER_RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {BROWSER_RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "{what} failed: {status}");
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The value of header `name` in a raw answer, if present.
fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next().unwrap_or("");
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn get(d: &common::Daemon, path: &str) -> (u16, String) {
    d.raw_http(&format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        d.addr
    ))
}

#[test]
fn serves_the_page_and_assets_with_strict_headers() {
    let d = start(&[]);
    let (status, page) = get(&d, "/");
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        header(&page, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&page, "cache-control"), Some("no-cache"));
    assert_eq!(header(&page, "x-content-type-options"), Some("nosniff"));
    let csp = header(&page, "content-security-policy").expect("a CSP");
    for part in [
        "default-src 'none'",
        "script-src 'self';",
        "style-src 'self';",
        "img-src 'self' http: https:;",
        "media-src http: https:;",
        &format!("connect-src 'self' ws://{0} wss://{0};", d.addr),
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "CSP lacks {part}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");

    // Every asset the page names is served, typed and immutable.
    let dir = page
        .split("/web/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("the page names its asset directory")
        .to_owned();
    for (file, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("sync.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let (status, body) = get(&d, &format!("/web/{dir}/{file}"));
        assert_eq!(status, 200, "{file}: {body}");
        assert_eq!(header(&body, "content-type"), Some(content_type), "{file}");
        assert_eq!(
            header(&body, "cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{file}"
        );
    }
    assert_eq!(get(&d, "/web/0123456789ab/app.js").0, 404, "an old version");
    assert_eq!(get(&d, &format!("/web/{dir}/../Cargo.toml")).0, 404);
    assert_eq!(get(&d, &format!("/web/{dir}/nope.js")).0, 404);
    let (status, body) = d.post_form("/", "a=b");
    assert_eq!(status, 405, "{body}");
    // The API and health endpoints are untouched.
    assert_eq!(d.get("/healthz").0, 200);
}

#[test]
fn a_hostile_host_header_stays_out_of_the_policy() {
    let d = start(&[]);
    let (status, page) = d
        .raw_http("GET / HTTP/1.1\r\nHost: evil.example;script-src *\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 200);
    let csp = header(&page, "content-security-policy").expect("a CSP");
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    assert!(!csp.contains("evil"), "{csp}");
}

#[test]
fn adding_a_friend_by_mobile() {
    let d = start(&[]);
    let reg = |mobile: &str| -> (i64, String) {
        let (status, body) = d.post_form(
            "/user/register",
            &format!("mobile={mobile}&password=secret-9"),
        );
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        (
            v["data"]["id"].as_i64().unwrap(),
            v["data"]["token"].as_str().unwrap().to_owned(),
        )
    };
    let (a, token) = reg("15500000001");
    let (b, _) = reg("15500000002");
    let auth = format!("userid={a}&token={token}");
    let (status, body) = d.post_form("/contact/addfriend", &format!("{auth}&mobile=15500000002"));
    assert_eq!(status, 200, "{body}");
    let (_, list) = d.post_form("/contact/loadfriend", &auth);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["data"][0]["id"], b, "{list}");
    let (status, body) = d.post_form("/contact/addfriend", &format!("{auth}&mobile=15500000099"));
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no user registered with mobile"), "{body}");
    let (status, body) = d.post_form("/contact/addfriend", &format!("{auth}&mobile=12ab"));
    assert_eq!(status, 400, "{body}");
    let (status, body) = d.post_form("/contact/addfriend", &format!("{auth}&mobile=15500000001"));
    assert_eq!(status, 400, "yourself: {body}");
}

/// Runs `cmd` and panics with `what` unless it succeeds.
fn must(cmd: &mut Command, what: &str) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(status.success(), "{what} failed: {status}");
}

fn web_tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web")
}

#[test]
fn client_logic_under_node() {
    must(
        Command::new(repo_root().join(".ci/need")).arg("nodejs:node"),
        ".ci/need nodejs",
    );
    must(
        Command::new("node")
            .arg("unit.mjs")
            .current_dir(web_tests_dir()),
        "node unit.mjs",
    );
}

#[test]
fn chats_in_a_real_browser() {
    let root = repo_root();
    must(
        Command::new(root.join(".ci/need")).args(["chromium", "nodejs:node", "npm"]),
        ".ci/need chromium nodejs npm",
    );
    let web = web_tests_dir();
    if !web.join("node_modules/playwright-core").exists() {
        must(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&web),
            "npm ci in tests/web",
        );
    }
    let shots = root.join("target/web-screenshots");
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    clear_screenshots(&shots, false);
    let d = start(&[]);
    let node = Command::new("node")
        .arg("e2e.mjs")
        .arg(format!("http://{}", d.addr))
        .arg(&shots)
        .current_dir(&web)
        .stdin(Stdio::null())
        .spawn()
        .expect("start node");
    finish(node, "e2e.mjs");
    assert!(
        shots.join("conversation-phone.png").exists(),
        "screenshots saved"
    );
}

/// A Python venv under target/ with Mozilla's Marionette client, installed
/// from PyPI when missing or when its pinned requirements changed.
fn marionette_venv(root: &Path) -> PathBuf {
    let venv = root.join("target/firefox-venv");
    let wanted = web_tests_dir().join("requirements-firefox.txt");
    let installed = venv.join("requirements-firefox.txt");
    let python = venv.join("bin/python");
    let current = std::fs::read(&wanted).expect("read requirements-firefox.txt");
    if python.exists() && std::fs::read(&installed).ok().as_ref() == Some(&current) {
        return python;
    }
    must(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "python3 -m venv target/firefox-venv",
    );
    must(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&wanted),
        "pip install -r requirements-firefox.txt",
    );
    std::fs::write(&installed, current).expect("note the installed requirements");
    python
}

#[test]
fn chats_in_firefox() {
    let root = repo_root();
    must(
        Command::new(root.join(".ci/need")).args(["firefox-esr", "python3"]),
        ".ci/need firefox-esr python3",
    );
    let python = marionette_venv(&root);
    let shots = root.join("target/web-screenshots");
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    clear_screenshots(&shots, true);
    let d = start(&[]);
    let script = Command::new(python)
        .arg("firefox.py")
        .arg(format!("http://{}", d.addr))
        .arg(&shots)
        .current_dir(web_tests_dir())
        .stdin(Stdio::null())
        .spawn()
        .expect("start python");
    finish(script, "firefox.py");
    for name in ["login", "conversation-desktop", "conversation-phone"] {
        assert!(
            shots.join(format!("firefox-{name}.png")).exists(),
            "firefox-{name}.png saved"
        );
    }
}
