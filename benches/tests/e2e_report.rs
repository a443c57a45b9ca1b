//! The end-to-end suite's reporting, on sample row files in `data/rows`
//! (loadgen reports and run.sh meta files for a few systems): figures
//! derived, ratios to imedge, the share of the ceiling, the table, the
//! JSON and the SVG, through the library and through the `e2e-report`
//! binary that run.sh calls.

use std::path::{Path, PathBuf};
use std::process::Command;

use imedge_benches::e2e::{chart, collect, table, Row, Scenario, Suite};

fn rows_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rows")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imedge-e2e-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sample() -> Suite {
    Suite {
        date: "2026-11-22".into(),
        cores: 2,
        kernel: "6.18.0".into(),
        command: "benches/e2e/run.sh".into(),
        quick: false,
        latency_rate: Some(12_500.0),
        rows: collect::rows(&rows_dir()).unwrap(),
    }
}

fn row<'a>(s: &'a Suite, scenario: Scenario, system: &str) -> &'a Row {
    s.row(scenario, system).unwrap()
}

#[test]
fn rows_derive_per_connection_and_per_cpu_figures() {
    let s = sample();
    assert_eq!(s.rows.len(), 7);
    assert_eq!(
        row(&s, Scenario::Idle, "imedge").rss_per_conn_b,
        Some(1024.0)
    );
    assert_eq!(
        row(&s, Scenario::Idle, "node-ws").rss_per_conn_b,
        Some(9216.0)
    );
    let chat = row(&s, Scenario::ChatMax, "imedge");
    assert_eq!(chat.deliveries_per_cpu_s, Some(200_000.0));
    assert_eq!(
        (chat.p50_us, chat.p99_us, chat.p999_us),
        (500, 2_000, 4_000)
    );
    assert_eq!(row(&s, Scenario::ChatMax, "node-ws").lost, 5);
    let go = row(&s, Scenario::ChatMax, "seed-go");
    assert!(go
        .failed
        .as_deref()
        .unwrap()
        .contains("go is not installed"));
    assert_eq!(go.headline(), None);
}

#[test]
fn ratios_follow_each_scenarios_headline() {
    let s = sample();
    let node_idle = row(&s, Scenario::Idle, "node-ws");
    assert_eq!(s.ratio_to_imedge(node_idle), Some(9.0));
    let node_chat = row(&s, Scenario::ChatMax, "node-ws");
    assert_eq!(s.ratio_to_imedge(node_chat), Some(0.25));
    // Less memory and more deliveries per CPU-second both count as a larger share.
    assert_eq!(
        s.share_of_ceiling(row(&s, Scenario::Idle, "imedge")),
        Some(0.5)
    );
    assert_eq!(
        s.share_of_ceiling(row(&s, Scenario::ChatMax, "imedge")),
        Some(0.5)
    );
    assert_eq!(
        s.ratio_to_imedge(row(&s, Scenario::ChatMax, "seed-go")),
        None
    );
}

#[test]
fn the_table_shows_figures_ratios_and_why_rows_are_missing() {
    let text = table::render(&sample());
    let line = |scenario: &str, system: &str| {
        text.lines()
            .find(|l| l.starts_with(scenario) && l.split_whitespace().nth(1) == Some(system))
            .unwrap_or_else(|| panic!("no {scenario}/{system} line in\n{text}"))
            .to_owned()
    };
    let imedge = line("chat-max", "imedge");
    assert!(
        imedge.contains("100,000") && imedge.contains("200,000"),
        "{imedge}"
    );
    assert!(
        imedge.contains("1.00x") && imedge.ends_with("50%"),
        "{imedge}"
    );
    assert!(line("chat-max", "node-ws").contains("0.25x"));
    assert!(line("idle", "node-ws").contains("9,216 B"));
    assert!(line("idle", "node-ws").contains("9.00x"));
    assert!(text.contains("note: chat-max / seed-go: go is not installed"));
    assert!(text.contains("latency rows: 12,500 messages/s"));
}

#[test]
fn the_chart_has_a_bar_and_a_label_per_measured_row() {
    let dir = scratch("chart");
    let svg = dir.join("suite.svg");
    chart::draw(&sample(), &svg).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(text.starts_with("<svg"));
    for label in [
        "200k (1.00x)",
        "50k (0.25x)",
        "1024 B (1.00x)",
        "9216 B (9.00x)",
        "no figures",
    ] {
        assert!(text.contains(label), "no {label:?} in the SVG");
    }
    // 6 bars: 3 systems on idle and chat-max; seed-go failed; room and latency have none.
    let bars = text.matches("<rect").count();
    assert!(bars >= 6, "{bars} rectangles");
}

#[test]
fn the_binary_collects_renders_and_picks_the_latency_rate() {
    let exe = env!("CARGO_BIN_EXE_e2e-report");
    let dir = scratch("bin");
    let (json, svg) = (dir.join("suite.json"), dir.join("suite.svg"));
    let out = Command::new(exe)
        .args(["collect", "--rows"])
        .arg(rows_dir())
        .arg("--out")
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .args(["--date", "2026-11-22", "--command", "run.sh", "--quick"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("(--quick: a smoke test, not figures)"));
    let suite: Suite = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(suite.rows, sample().rows);
    assert!(suite.quick);
    assert!(std::fs::metadata(&svg).unwrap().len() > 1000);

    let render = Command::new(exe).arg("render").arg(&json).output().unwrap();
    assert!(render.status.success());
    assert_eq!(
        String::from_utf8(render.stdout).unwrap(),
        stdout
            .lines()
            .filter(|l| !l.starts_with("wrote "))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );

    let half = Command::new(exe)
        .args(["half-slowest", "--scenario", "chat-max", "--rows"])
        .arg(rows_dir())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(half.stdout).unwrap().trim(), "12500");
    let bad = Command::new(exe)
        .args(["half-slowest", "--scenario", "nope", "--rows"])
        .arg(rows_dir())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scenario \"nope\""));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_real_loadgen_report_gives_its_figures() {
    // Written by `imedge-loadgen chat --peer --ceiling --out` against the ceiling.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/loadgen-chat-report.json");
    let text = std::fs::read_to_string(path).unwrap();
    let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
    let meta = collect::Meta {
        scenario: "chat-max".into(),
        system: "ceiling".into(),
        baseline_rss_kib: Some(1000),
        failed: None,
    };
    let r = collect::row(&meta, Some(&text)).unwrap();
    assert_eq!(r.failed, None);
    assert_eq!(r.connected, raw["connect"]["connected"].as_u64().unwrap());
    assert_eq!(
        r.p99_us,
        raw["latency_us"]["delivery"]["p99"].as_u64().unwrap()
    );
    let delivered = raw["messages"]["delivered"].as_f64().unwrap();
    let cpu = raw["cpu"]["target_cpu_s"].as_f64().unwrap();
    assert!(delivered > 0.0 && cpu > 0.0);
    assert_eq!(r.deliveries_per_cpu_s, Some(delivered / cpu));
    assert_eq!(
        r.deliveries_per_s,
        raw["messages"]["delivered_per_s"].as_f64().unwrap()
    );
    // Only the idle scenario turns RSS into a per-connection figure.
    assert_eq!(r.rss_per_conn_b, None);
    let broken = collect::row(&meta, Some("{\"connect\": 3}")).unwrap();
    assert!(broken
        .failed
        .unwrap()
        .starts_with("unreadable loadgen report"));
}
