//! The report of a run: built from every core's results, printed as a
//! table, saved as JSON (the field names are stable: scripts read them) and
//! drawn as SVG.

mod plot;
mod table;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use plot::plot;
pub use table::print;

use crate::account::{reckon, Reckoning, RxTable, TxTable};
use crate::cli::{Args, Pairs, Scenario};
use crate::cluster::Cluster;
use crate::coord::{Outcome, Point};
use crate::engine::Hists;
use crate::plan::Plan;
use crate::stats::{Counters, Percentiles};

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Always "imedge-loadgen".
    pub tool: String,
    /// The loadgen's version.
    pub version: String,
    /// The scenario run.
    pub scenario: Scenario,
    /// What was loaded.
    pub target: TargetOut,
    /// The run's settings.
    pub config: ConfigOut,
    /// Connection set-up.
    pub connect: ConnectOut,
    /// Messages and deliveries.
    pub messages: MessagesOut,
    /// Latency percentiles, microseconds.
    pub latency_us: LatencyOut,
    /// cmd 21 error frames by code.
    pub errors_by_code: BTreeMap<String, u64>,
    /// Server-initiated closes by code (1006: no close frame).
    pub closes_by_code: BTreeMap<String, u64>,
    /// Storm results (storm scenario only).
    pub storm: Option<StormOut>,
    /// CPU use of the loadgen and the target.
    pub cpu: CpuOut,
    /// One point per second.
    pub timeline: Vec<Point>,
    /// Every raw counter, summed over cores.
    pub counters: Counters,
}

/// What was loaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetOut {
    /// The URLs users connected to.
    pub urls: Vec<String>,
    /// Through nginx (`--nginx`).
    pub nginx: bool,
    /// A reference peer (`--peer`).
    pub peer: bool,
    /// The ring's server entries (`--ring`), in order; empty without one.
    pub ring: Vec<String>,
    /// Users owned by each of `ring`'s servers.
    pub users_per_server: Vec<u64>,
}

/// The run's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigOut {
    /// Users.
    pub users: usize,
    /// Groups created.
    pub groups: usize,
    /// Members per group.
    pub group_size: usize,
    /// How single messages pick their recipient.
    pub pairs: Pairs,
    /// Fixed total rate, messages/s (absent in max mode).
    pub rate: Option<f64>,
    /// Max mode.
    pub max: bool,
    /// Window per user in max mode.
    pub inflight: u32,
    /// Seconds of traffic asked for.
    pub duration_s: f64,
    /// Seconds of connection ramp.
    pub ramp_s: f64,
    /// Bytes per message.
    pub message_bytes: usize,
    /// Cores per process.
    pub cores: usize,
    /// Processes.
    pub workers: usize,
    /// Source addresses used (0: the kernel's choice).
    pub src_ips: usize,
}

/// Connection set-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectOut {
    /// Users to connect.
    pub users: usize,
    /// Connections attempted (reconnects included).
    pub attempts: u64,
    /// Upgrades that succeeded (reconnects included).
    pub connected: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Failures by reason.
    pub failures: BTreeMap<String, u64>,
    /// Seconds until every user had been tried.
    pub phase_s: f64,
    /// Connections per second over that phase.
    pub per_s: f64,
    /// TCP connect latency.
    pub connect_latency_us: Percentiles,
    /// Upgrade request to 101 latency.
    pub handshake_latency_us: Percentiles,
}

/// Messages and deliveries, after the drain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessagesOut {
    /// Messages sent.
    pub sent: u64,
    /// Acks received (imedge).
    pub acked: u64,
    /// Refused with cmd 21.
    pub rejected: u64,
    /// Never answered (the sender's connection closed first).
    pub unresolved: u64,
    /// Deliveries expected (each accepted message times its recipients).
    pub expected: u64,
    /// Expected deliveries that happened (distinct).
    pub delivered: u64,
    /// Expected deliveries that never happened.
    pub lost: u64,
    /// Copies of messages already received.
    pub duplicated: u64,
    /// Messages that overtook one another on a sender-receiver pair.
    pub reordered: u64,
    /// Messages a sync (after a drop) brought after later ones had arrived live.
    pub late_by_sync: u64,
    /// Deliveries nobody expected.
    pub unexpected: u64,
    /// Deliveries of unresolved messages (accepted after all).
    pub unresolved_delivered: u64,
    /// Deliveries of refused messages (should be 0).
    pub rejected_delivered: u64,
    /// Sender-receiver pairs with traffic.
    pub pairs: u64,
    /// Pairs that lost something.
    pub pairs_with_loss: u64,
    /// Pairs with reordering.
    pub pairs_reordered: u64,
    /// Pairs with duplicates.
    pub pairs_duplicated: u64,
    /// Expected deliveries whose sender and receiver used different URLs.
    pub cross_target_deliveries: u64,
    /// Deliveries (distinct, rooms counted per receiver) whose sender's
    /// owner node differs from the receiver's; absent without `--ring`.
    pub cross_node_deliveries: Option<u64>,
    /// cross_node_deliveries / delivered (distinct deliveries as counted on
    /// receipt); absent without `--ring` or without deliveries.
    pub cross_node_share: Option<f64>,
    /// Seconds of traffic.
    pub run_s: f64,
    /// Seconds of drain.
    pub drain_s: f64,
    /// The drain ended with everything answered (not by timeout).
    pub drained: bool,
    /// Sent per second of traffic.
    pub sent_per_s: f64,
    /// Delivered per second of traffic.
    pub delivered_per_s: f64,
}

/// Latency percentiles, microseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencyOut {
    /// Send to delivery, live connections.
    pub delivery: Percentiles,
    /// Send to ack.
    pub ack: Percentiles,
    /// Send to delivery through a sync after a drop.
    pub recovered: Percentiles,
}

/// The storm's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StormOut {
    /// Connections dropped.
    pub dropped: u64,
    /// Dropped users that reconnected and finished their sync.
    pub synced: u64,
    /// Server sequences the dropped users had not seen (their own unacked messages included).
    pub missed: u64,
    /// Of those, received by the end of the sync.
    pub recovered: u64,
    /// missed - recovered.
    pub unrecovered: u64,
    /// Drop to end of sync.
    pub reconnect_latency_us: Percentiles,
}

/// CPU use over the traffic and drain window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CpuOut {
    /// The loadgen's CPU seconds (all its processes).
    pub loadgen_cpu_s: Option<f64>,
    /// The loadgen's resident set at the end, KiB (all its processes).
    pub loadgen_rss_kib: Option<u64>,
    /// Messages sent per loadgen CPU second.
    pub loadgen_msgs_per_cpu_s: Option<f64>,
    /// The target's CPU seconds (`--target-pid`, summed over its pids).
    pub target_cpu_s: Option<f64>,
    /// The target's CPU seconds per million deliveries.
    pub target_cpu_s_per_million_deliveries: Option<f64>,
    /// The target's largest resident set, KiB.
    pub target_rss_max_kib: Option<u64>,
}

/// Everything [`build`] needs besides the outcome.
pub struct Setup<'a> {
    /// The flags.
    pub args: &'a Args,
    /// The plan.
    pub plan: &'a Plan,
    /// Cores per process.
    pub cores: usize,
    /// Processes.
    pub workers: usize,
    /// Source addresses.
    pub src_ips: usize,
    /// The ring's owners, with `--ring`.
    pub cluster: Option<&'a Cluster>,
}

/// Joins the cores' results into the report.
pub fn build(s: &Setup<'_>, outcome: Outcome) -> Report {
    let (args, plan) = (s.args, s.plan);
    let mut counters = Counters::default();
    let mut hists = Hists::default();
    let mut tx = TxTable::new();
    let mut rx = RxTable::new();
    let mut cpu: Option<f64> = None;
    let mut rss: Option<u64> = None;
    for f in outcome.finals {
        counters.merge(&f.counters);
        hists.merge(&f.hists);
        tx.extend(f.tx);
        rx.extend(f.rx);
        if let Some(k) = f.process_rss_kib {
            *rss.get_or_insert(0) += k;
        }
        if let Some(c) = f.process_cpu_s {
            *cpu.get_or_insert(0.0) += c;
        }
    }
    if s.workers > 1 {
        if let (Some(c), Some(own)) = (cpu.as_mut(), outcome.coordinator_cpu_s) {
            *c += own;
        }
    }
    let r: Reckoning = reckon(&tx, &rx, |sender, dst| plan.recipients(sender, dst));
    let urls = args.urls();
    let cross = cross_target(&tx, plan, urls.len(), s.cluster);
    let cross_node = s.cluster.map(|_| counters.cross_node);
    let cross_node_share = cross_node.and_then(|n| share(n, counters.delivered_unique));
    let run_s = outcome.run_s.max(1e-9);
    let storm = (args.scenario == Scenario::Storm).then(|| StormOut {
        dropped: counters.storm_dropped,
        synced: counters.storm_synced,
        missed: counters.missed,
        recovered: counters.recovered,
        unrecovered: counters.missed.saturating_sub(counters.recovered),
        reconnect_latency_us: hists.reconnect.percentiles(),
    });
    let per_million = |cpu: Option<f64>, n: u64| cpu.filter(|_| n > 0).map(|c| c * 1e6 / n as f64);
    Report {
        tool: "imedge-loadgen".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        scenario: args.scenario,
        target: TargetOut {
            urls,
            nginx: args.nginx.is_some(),
            peer: args.peer,
            ring: s.cluster.map(|c| c.servers.clone()).unwrap_or_default(),
            users_per_server: s.cluster.map(Cluster::users_per_server).unwrap_or_default(),
        },
        config: ConfigOut {
            users: args.users,
            groups: plan.gids.len(),
            group_size: plan.group_size,
            pairs: args.pairs,
            rate: args.rate,
            max: args.max,
            inflight: args.inflight,
            duration_s: args.duration,
            ramp_s: args.ramp,
            message_bytes: args.message_bytes,
            cores: s.cores,
            workers: s.workers,
            src_ips: s.src_ips,
        },
        connect: ConnectOut {
            users: args.users,
            attempts: counters.connect_attempts,
            connected: counters.connected,
            failed: counters.connect_failed,
            failures: counters.connect_failures.clone(),
            phase_s: outcome.connect_s,
            per_s: (counters.connected - counters.reconnected) as f64 / outcome.connect_s.max(1e-9),
            connect_latency_us: hists.connect.percentiles(),
            handshake_latency_us: hists.handshake.percentiles(),
        },
        messages: MessagesOut {
            sent: counters.sent,
            acked: counters.acked,
            rejected: counters.rejected,
            unresolved: counters.unresolved,
            expected: r.expected,
            delivered: r.delivered,
            lost: r.lost,
            duplicated: r.duplicated,
            reordered: r.reordered,
            late_by_sync: r.late_by_sync,
            unexpected: r.unexpected,
            unresolved_delivered: r.unresolved_delivered,
            rejected_delivered: r.rejected_delivered,
            pairs: r.pairs,
            pairs_with_loss: r.pairs_with_loss,
            pairs_reordered: r.pairs_reordered,
            pairs_duplicated: r.pairs_duplicated,
            cross_target_deliveries: cross,
            cross_node_deliveries: cross_node,
            cross_node_share,
            run_s: outcome.run_s,
            drain_s: outcome.drain_s,
            drained: outcome.drained,
            sent_per_s: counters.sent as f64 / run_s,
            delivered_per_s: r.delivered as f64 / run_s,
        },
        latency_us: LatencyOut {
            delivery: hists.delivery.percentiles(),
            ack: hists.ack.percentiles(),
            recovered: hists.recovered.percentiles(),
        },
        errors_by_code: counters
            .errors
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        closes_by_code: counters
            .closes
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        storm,
        cpu: CpuOut {
            loadgen_cpu_s: cpu,
            loadgen_rss_kib: rss,
            loadgen_msgs_per_cpu_s: cpu.filter(|&c| c > 0.0).map(|c| counters.sent as f64 / c),
            target_cpu_s: outcome.target_cpu_s,
            target_cpu_s_per_million_deliveries: per_million(outcome.target_cpu_s, r.delivered),
            target_rss_max_kib: outcome.target_rss_max_kib,
        },
        timeline: outcome.timeline,
        counters,
    }
}

/// `part / whole`, when there is a whole.
fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Expected deliveries whose sender and receiver use different URLs.
fn cross_target(tx: &TxTable, plan: &Plan, urls: usize, cluster: Option<&Cluster>) -> u64 {
    if urls < 2 {
        return 0;
    }
    let url_of = |uid: i64| {
        plan.index(uid)
            .map(|i| cluster.and_then(|c| c.target_index(i)).unwrap_or(i % urls))
    };
    let mut n = 0;
    for (&(sender, dst), t) in tx {
        let accepted = u64::from(t.sent) - (t.rejected.len() + t.unresolved.len()) as u64;
        let from = url_of(sender);
        let crossing = plan
            .recipients(sender, dst)
            .into_iter()
            .filter(|&r| url_of(r) != from)
            .count() as u64;
        n += accepted * crossing;
    }
    n
}
