//! Turns the row files `e2e/run.sh` leaves (one loadgen `--out` report and
//! one meta file per system and scenario) into [`Row`]s.
//!
//! A meta file `NAME.meta.json` holds `{"scenario", "system",
//! "baseline_rss_kib", "failed"}`; the loadgen report, if the run got that
//! far, is `NAME.json` beside it.

use std::path::Path;

use anyhow::{bail, Context as _};
use serde::Deserialize;

use super::suite::{Row, Scenario};

/// The meta file of one row, written by run.sh.
#[derive(Debug, Deserialize)]
pub struct Meta {
    /// Scenario name (see [`Scenario::name`]).
    pub scenario: String,
    /// System name.
    pub system: String,
    /// The server's RSS after start, before any connection (KiB).
    pub baseline_rss_kib: Option<u64>,
    /// Why the row has no report, if it has none.
    pub failed: Option<String>,
}

/// The parts of a loadgen report the suite reads (its field names are stable).
#[derive(Debug, Deserialize)]
struct Report {
    connect: Connect,
    messages: Messages,
    latency_us: Latency,
    cpu: Cpu,
}

#[derive(Debug, Deserialize)]
struct Connect {
    users: u64,
    connected: u64,
}

#[derive(Debug, Deserialize)]
struct Messages {
    delivered: u64,
    lost: u64,
    delivered_per_s: f64,
}

#[derive(Debug, Deserialize)]
struct Latency {
    delivery: Percentiles,
}

#[derive(Debug, Deserialize)]
struct Percentiles {
    p50: u64,
    p99: u64,
    p999: u64,
}

#[derive(Debug, Deserialize)]
struct Cpu {
    target_cpu_s: Option<f64>,
    target_rss_max_kib: Option<u64>,
}

/// The row described by `meta`, from the loadgen report text `report`.
///
/// # Errors
/// An unknown scenario name in the meta file.
pub fn row(meta: &Meta, report: Option<&str>) -> anyhow::Result<Row> {
    let scenario = Scenario::from_name(&meta.scenario)
        .with_context(|| format!("unknown scenario {:?}", meta.scenario))?;
    if let Some(why) = &meta.failed {
        return Ok(Row::failed(scenario, &meta.system, why));
    }
    let Some(text) = report else {
        return Ok(Row::failed(
            scenario,
            &meta.system,
            "the loadgen wrote no report",
        ));
    };
    let r: Report = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            return Ok(Row::failed(
                scenario,
                &meta.system,
                &format!("unreadable loadgen report: {e}"),
            ))
        }
    };
    if r.connect.connected == 0 {
        return Ok(Row::failed(
            scenario,
            &meta.system,
            "no connection succeeded",
        ));
    }
    let cpu = r.cpu.target_cpu_s.filter(|c| *c > 0.0);
    let rss_per_conn_b = match (scenario, r.cpu.target_rss_max_kib, meta.baseline_rss_kib) {
        (Scenario::Idle, Some(max), Some(base)) => {
            Some(max.saturating_sub(base) as f64 * 1024.0 / r.connect.connected as f64)
        }
        _ => None,
    };
    let mut row = Row {
        scenario,
        system: meta.system.clone(),
        failed: None,
        connected: r.connect.connected,
        lost: r.messages.lost,
        deliveries_per_s: r.messages.delivered_per_s,
        server_cpu_s: cpu,
        deliveries_per_cpu_s: cpu.map(|c| r.messages.delivered as f64 / c),
        p50_us: r.latency_us.delivery.p50,
        p99_us: r.latency_us.delivery.p99,
        p999_us: r.latency_us.delivery.p999,
        rss_per_conn_b,
    };
    if r.connect.connected < r.connect.users {
        row.failed = Some(format!(
            "only {} of {} users connected",
            r.connect.connected, r.connect.users
        ));
    }
    Ok(row)
}

/// Every row in `dir`, in file-name order (run.sh numbers them).
///
/// # Errors
/// An unreadable directory or meta file.
pub fn rows(dir: &Path) -> anyhow::Result<Vec<Row>> {
    let mut metas: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".meta.json"))
        .collect();
    metas.sort();
    if metas.is_empty() {
        bail!("no *.meta.json row files in {}", dir.display());
    }
    let mut out = Vec::new();
    for path in metas {
        let text = std::fs::read_to_string(&path)?;
        let meta: Meta =
            serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        let report_path = path.to_string_lossy().replace(".meta.json", ".json");
        let report = std::fs::read_to_string(report_path).ok();
        out.push(row(&meta, report.as_deref())?);
    }
    Ok(out)
}
