//! tuning/: the scripts parse, and check.sh reports one line per check on
//! this host and judges a fake /proc/sys as the sysctl file says.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tuning() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tuning")
}

/// The (key, value) lines of the sysctl file, in order.
fn recommended() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(tuning().join("sysctl.d/60-imedge.conf")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not key = value: {l}"));
            (
                k.trim().to_owned(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect()
}

fn check(proc_sys: Option<&Path>) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(tuning().join("check.sh"));
    if let Some(p) = proc_sys {
        cmd.env("IMEDGE_PROC_SYS", p);
    }
    cmd.output().expect("run bash tuning/check.sh")
}

/// Check lines as (status, name), after asserting the report's shape: one
/// line per sysctl, the open-files limit, io_uring and seccomp, then a
/// summary that counts them and an exit status that agrees.
fn report(out: &Output) -> Vec<(String, String)> {
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut lines: Vec<&str> = stdout.lines().collect();
    let summary = lines
        .pop()
        .unwrap_or_else(|| panic!("empty report; stderr: {stderr}"));
    let checks: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            let (status, rest) = l.split_once(' ').unwrap_or_else(|| panic!("bad line: {l}"));
            assert!(
                ["ok", "SHORT", "warn"].contains(&status),
                "bad status in: {l}"
            );
            let name = rest
                .trim_start()
                .split("  ")
                .next()
                .unwrap()
                .trim()
                .to_owned();
            (status.to_owned(), name)
        })
        .collect();
    let keys = recommended();
    assert_eq!(checks.len(), keys.len() + 3, "{stdout}");
    for ((_, name), (key, _)) in checks.iter().zip(&keys) {
        assert_eq!(name, key);
    }
    let names: Vec<&str> = checks[keys.len()..].iter().map(|c| c.1.as_str()).collect();
    assert_eq!(
        names,
        ["open files (hard limit)", "io_uring", "seccomp filter"]
    );
    let short = checks.iter().filter(|c| c.0 == "SHORT").count();
    assert_eq!(summary, format!("{} checks, {short} short", checks.len()));
    assert_eq!(
        out.status.code(),
        Some(i32::from(short > 0)),
        "{stdout}{stderr}"
    );
    checks
}

#[test]
fn scripts_parse() {
    for entry in std::fs::read_dir(tuning()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sh") {
            let out = Command::new("bash").arg("-n").arg(&path).output().unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn check_reports_this_host() {
    report(&check(None));
}

/// A fake /proc/sys with `values` (key -> text) and io_uring_disabled.
fn fake_proc(name: &str, values: &HashMap<String, String>, io_uring_disabled: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("imedge-tuning-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (key, value) in values {
        let path = root.join(key.replace('.', "/"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // As the kernel prints them: tab-separated fields, a newline.
        std::fs::write(&path, format!("{}\n", value.replace(' ', "\t"))).unwrap();
    }
    std::fs::create_dir_all(root.join("kernel")).unwrap();
    std::fs::write(
        root.join("kernel/io_uring_disabled"),
        format!("{io_uring_disabled}\n"),
    )
    .unwrap();
    root
}

#[test]
fn check_judges_each_sysctl_by_its_rule() {
    let good: HashMap<String, String> = recommended().into_iter().collect();
    let root = fake_proc("good", &good, "0");
    let checks = report(&check(Some(&root)));
    for (status, name) in &checks[..good.len()] {
        assert_eq!(status, "ok", "{name}");
    }
    assert_eq!(checks[good.len() + 1], ("ok".into(), "io_uring".into()));
    std::fs::remove_dir_all(&root).unwrap();

    let mut bad = good.clone();
    bad.insert("net.core.somaxconn".into(), "4096".into());
    // Narrower at the top: short even though it starts lower.
    bad.insert("net.ipv4.ip_local_port_range".into(), "1024 60999".into());
    // tcp_mem: one field below is enough to be short.
    let mut mem: Vec<u64> = good["net.ipv4.tcp_mem"]
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    mem[2] -= 1;
    bad.insert(
        "net.ipv4.tcp_mem".into(),
        format!("{} {} {}", mem[0], mem[1], mem[2]),
    );
    // A larger initial receive buffer is a choice, not a shortfall.
    bad.insert("net.ipv4.tcp_rmem".into(), "4096 131072 33554432".into());
    bad.remove("net.core.netdev_max_backlog");
    let root = fake_proc("bad", &bad, "2");
    let checks = report(&check(Some(&root)));
    let status: HashMap<&str, &str> = checks
        .iter()
        .map(|(s, n)| (n.as_str(), s.as_str()))
        .collect();
    for key in [
        "net.core.somaxconn",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_mem",
    ] {
        assert_eq!(status[key], "SHORT", "{key}");
    }
    assert_eq!(
        status["net.core.netdev_max_backlog"], "SHORT",
        "unreadable counts as short"
    );
    assert_eq!(status["net.ipv4.tcp_rmem"], "ok");
    assert_eq!(status["net.core.rmem_max"], "ok");
    assert_eq!(status["io_uring"], "SHORT");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn systemd_accepts_the_unit() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let need = Command::new(repo.join(".ci/need"))
        .arg("systemd:systemd-analyze")
        .status();
    assert!(
        need.unwrap().success(),
        ".ci/need could not install systemd-analyze"
    );
    // The binary is not installed here: verify checks that ExecStart exists.
    let unit = std::fs::read_to_string(tuning().join("imedge.service")).unwrap();
    let unit = unit.replace("/usr/local/bin/imedge", "/bin/true");
    let dir = std::env::temp_dir().join(format!("imedge-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("imedge.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Only complaints about our file count; the host may add unrelated noise.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("imedge.service"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
