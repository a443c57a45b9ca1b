//! What one run of the suite found, as written to `results/e2e-*.json`.

use serde::{Deserialize, Serialize};

/// The system every ratio is taken against.
pub const BASELINE: &str = "imedge";
/// The forwarder every imedge row is compared with.
pub const CEILING: &str = "ceiling";

/// The scenarios, in the order the suite runs and prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// 15,000 idle connections: server RSS per connection.
    Idle,
    /// Single messages at maximum rate between 2,000 users (fixed pairs).
    ChatMax,
    /// Room messages at maximum rate in 100-member groups.
    RoomMax,
    /// Single messages at half the slowest system's maximum: latency.
    Latency,
}

impl Scenario {
    /// Every scenario, in run order.
    pub const ALL: [Scenario; 4] = [
        Scenario::Idle,
        Scenario::ChatMax,
        Scenario::RoomMax,
        Scenario::Latency,
    ];

    /// The name used in row files and the table.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Idle => "idle",
            Scenario::ChatMax => "chat-max",
            Scenario::RoomMax => "room-max",
            Scenario::Latency => "latency",
        }
    }

    /// The scenario called `name`.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// What the ratios of this scenario compare, and whether more is better.
    pub fn headline(self) -> (&'static str, bool) {
        match self {
            Scenario::Idle => ("RSS per connection", false),
            Scenario::ChatMax | Scenario::RoomMax => ("deliveries per server CPU-second", true),
            Scenario::Latency => ("p99 latency", false),
        }
    }
}

/// One system under one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The scenario.
    pub scenario: Scenario,
    /// `imedge`, `imedge-sqlite`, a peer's name, or `ceiling`.
    pub system: String,
    /// Why the row has no figures (build or run failure, skipped peer).
    pub failed: Option<String>,
    /// Connections that completed the upgrade.
    pub connected: u64,
    /// Expected deliveries that never came.
    pub lost: u64,
    /// Deliveries per second of traffic.
    pub deliveries_per_s: f64,
    /// The server's utime+stime over the traffic and drain.
    pub server_cpu_s: Option<f64>,
    /// Deliveries per server CPU-second.
    pub deliveries_per_cpu_s: Option<f64>,
    /// Delivery latency percentiles, microseconds.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Server RSS growth per connection, bytes (idle scenario only).
    pub rss_per_conn_b: Option<f64>,
}

impl Row {
    /// A row without figures.
    pub fn failed(scenario: Scenario, system: &str, why: &str) -> Row {
        Row {
            scenario,
            system: system.to_owned(),
            failed: Some(why.to_owned()),
            connected: 0,
            lost: 0,
            deliveries_per_s: 0.0,
            server_cpu_s: None,
            deliveries_per_cpu_s: None,
            p50_us: 0,
            p99_us: 0,
            p999_us: 0,
            rss_per_conn_b: None,
        }
    }

    /// The scenario's headline figure (see [`Scenario::headline`]).
    pub fn headline(&self) -> Option<f64> {
        if self.failed.is_some() {
            return None;
        }
        match self.scenario {
            Scenario::Idle => self.rss_per_conn_b,
            Scenario::ChatMax | Scenario::RoomMax => self.deliveries_per_cpu_s,
            Scenario::Latency => (self.p99_us > 0).then_some(self.p99_us as f64),
        }
        .filter(|v| v.is_finite() && *v > 0.0)
    }
}

/// A whole run of the suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suite {
    /// UTC date of the run, `YYYY-MM-DD`.
    pub date: String,
    /// Online CPUs.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// The command that ran it.
    pub command: String,
    /// Short runs (`--quick`): a smoke test, not figures to publish.
    pub quick: bool,
    /// Messages per second of the latency scenario.
    pub latency_rate: Option<f64>,
    /// Every row, in run order.
    pub rows: Vec<Row>,
}

impl Suite {
    /// The row of `system` under `scenario`.
    pub fn row(&self, scenario: Scenario, system: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.scenario == scenario && r.system == system)
    }

    /// `row`'s headline over imedge's, under the same scenario.
    pub fn ratio_to_imedge(&self, row: &Row) -> Option<f64> {
        let base = self.row(row.scenario, BASELINE)?.headline()?;
        Some(row.headline()? / base)
    }

    /// How much of the ceiling's figure `row` reaches (1.0 = all of it):
    /// the ratio taken so that higher is better.
    pub fn share_of_ceiling(&self, row: &Row) -> Option<f64> {
        let ceiling = self.row(row.scenario, CEILING)?.headline()?;
        let v = row.headline()?;
        Some(if row.scenario.headline().1 {
            v / ceiling
        } else {
            ceiling / v
        })
    }

    /// The systems in the order they first appear.
    pub fn systems(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !out.contains(&r.system.as_str()) {
                out.push(&r.system);
            }
        }
        out
    }
}
