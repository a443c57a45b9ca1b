//! Runs the loadgen binary against the real imedge daemon and checks the
//! report: every expected delivery made, nothing lost, duplicated or
//! unexpected, for single messages, room messages and a reconnect storm.

mod common;

use std::process::{Command, Stdio};

use common::{count as n, Daemon, SECRET};
use serde_json::Value;

/// The daemon as these tests run it: the rate limit lifted.
fn start() -> Daemon {
    Daemon::start_with(&["--rate-limit", "100000", "--rate-burst", "100000"])
}

/// Loadgen runs against a [`Daemon`].
trait Load {
    /// Runs the loadgen with `args` and returns its JSON report.
    fn load(&self, args: &[&str]) -> Value;
    /// Same, with extra environment variables for the loadgen.
    fn load_with(&self, args: &[&str], env: &[(&str, &str)]) -> Value;
}

impl Load for Daemon {
    fn load(&self, args: &[&str]) -> Value {
        self.load_with(args, &[])
    }

    fn load_with(&self, args: &[&str], env: &[(&str, &str)]) -> Value {
        let out = self.temp_file("json");
        let status = Command::new(env!("CARGO_BIN_EXE_imedge-loadgen"))
            .envs(env.iter().copied())
            .args(args)
            .args([
                "--url",
                &format!("ws://{}/chat", self.addr),
                "--secret",
                SECRET,
            ])
            .args(["--quiet", "--ramp", "0.2", "--drain", "5"])
            .arg("--target-pid")
            .arg(self.child.id().to_string())
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .status()
            .expect("run the loadgen");
        assert!(status.success(), "loadgen failed: {args:?}");
        let report: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let _ = std::fs::remove_file(out);
        report
    }
}

/// Every message answered and every expected delivery made, once, in order.
fn assert_clean(r: &Value, recipients_per_message: u64) {
    let m = &r["messages"];
    assert_eq!(n(r, "connect.failed"), 0, "{}", r["connect"]);
    assert!(n(m, "sent") > 0);
    assert_eq!(n(m, "acked"), n(m, "sent"), "{m}");
    assert_eq!(
        n(m, "expected"),
        n(m, "acked") * recipients_per_message,
        "{m}"
    );
    assert_eq!(n(m, "delivered"), n(m, "expected"), "{m}");
    for zero in [
        "lost",
        "duplicated",
        "reordered",
        "unexpected",
        "rejected",
        "unresolved",
    ] {
        assert_eq!(n(m, zero), 0, "{zero}: {m}");
    }
    assert!(
        r["errors_by_code"].as_object().unwrap().is_empty(),
        "{}",
        r["errors_by_code"]
    );
    assert_eq!(n(r, "latency_us.delivery.count"), n(m, "delivered"));
    assert!(r["cpu"]["target_cpu_s"].as_f64().is_some());
}

#[test]
fn chat_room_and_storm_lose_nothing() {
    let d = start();

    let chat = d.load(&[
        "chat",
        "--users",
        "100",
        "--rate",
        "2000",
        "--duration",
        "1.5",
    ]);
    assert_clean(&chat, 1);
    assert_eq!(n(&chat, "connect.connected"), 100);
    assert_eq!(n(&chat, "messages.pairs"), 100);

    let room = d.load(&[
        "room",
        "--users",
        "60",
        "--groups",
        "3",
        "--group-size",
        "20",
        "--rate",
        "300",
        "--duration",
        "1.5",
    ]);
    assert_clean(&room, 19);
    assert_eq!(room["config"]["groups"], 3);

    // Two worker processes: their results merge into one report.
    let workers = d.load(&[
        "chat",
        "--users",
        "60",
        "--rate",
        "600",
        "--duration",
        "1",
        "--workers",
        "2",
        "--cores",
        "1",
    ]);
    assert_clean(&workers, 1);
    assert_eq!(workers["config"]["workers"], 2);
    assert_eq!(n(&workers, "connect.connected"), 60);

    let max = d.load(&[
        "chat",
        "--users",
        "40",
        "--max",
        "--inflight",
        "4",
        "--duration",
        "1",
        "--pairs",
        "random",
    ]);
    assert_clean(&max, 1);

    let storm = d.load(&[
        "storm",
        "--users",
        "80",
        "--groups",
        "2",
        "--group-size",
        "40",
        "--rate",
        "800",
        "--duration",
        "2",
        "--storm-at",
        "0.8",
        "--storm-share",
        "0.5",
        "--storm-pause-ms",
        "200",
    ]);
    let m = &storm["messages"];
    assert_eq!(n(m, "lost"), 0, "{m}");
    assert_eq!(
        n(m, "duplicated") + n(m, "unexpected") + n(m, "reordered"),
        0,
        "{m}"
    );
    let s = &storm["storm"];
    assert_eq!(n(s, "dropped"), 40, "{s}");
    assert_eq!(n(s, "synced"), 40, "{s}");
    assert!(n(s, "missed") > 0, "{s}");
    assert_eq!(n(s, "unrecovered"), 0, "{s}");
}

#[test]
fn the_epoll_driver_accounts_the_same() {
    let d = start();
    let env = [("MONOIO_FORCE_LEGACY_DRIVER", "1")];
    let chat = d.load_with(
        &["chat", "--users", "50", "--rate", "1000", "--duration", "1"],
        &env,
    );
    assert_clean(&chat, 1);
    let room = d.load_with(
        &[
            "room",
            "--users",
            "40",
            "--groups",
            "2",
            "--group-size",
            "20",
            "--max",
            "--inflight",
            "2",
            "--duration",
            "1",
        ],
        &env,
    );
    assert_clean(&room, 19);
}
