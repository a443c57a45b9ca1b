//! The human summary printed at the end of a run.

use std::fmt::Write as _;

use super::Report;
use crate::coord::fmt_us;
use crate::stats::Percentiles;

fn pct(p: &Percentiles) -> String {
    if p.count == 0 {
        return "-".to_owned();
    }
    format!(
        "p50 {}  p90 {}  p99 {}  p999 {}  max {}  (n={})",
        fmt_us(p.p50),
        fmt_us(p.p90),
        fmt_us(p.p99),
        fmt_us(p.p999),
        fmt_us(p.max),
        p.count
    )
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("-".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn codes(map: &std::collections::BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".to_owned();
    }
    map.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The summary table as text.
pub fn render(r: &Report) -> String {
    let c = &r.config;
    let m = &r.messages;
    let mut s = String::new();
    let mode = match c.rate {
        Some(rate) => format!("rate {rate:.0} msg/s"),
        None if c.max => format!("max, {} in flight per user", c.inflight),
        None => "no traffic".to_owned(),
    };
    let _ = writeln!(
        s,
        "imedge-loadgen {:?} against {}{}: {} users, {} core(s) x {} process(es), {}, {} B messages",
        r.scenario,
        r.target.urls.join(", "),
        if r.target.peer { " (peer)" } else { "" },
        c.users,
        c.cores,
        c.workers,
        mode,
        c.message_bytes
    );
    let k = &r.connect;
    let _ = writeln!(
        s,
        "connect    {}/{} connected in {:.2} s ({:.0}/s), {} failed {}",
        k.connected - r.counters.reconnected,
        k.users,
        k.phase_s,
        k.per_s,
        k.failed,
        if k.failures.is_empty() {
            String::new()
        } else {
            format!("({})", codes(&k.failures))
        }
    );
    let _ = writeln!(s, "  tcp      {}", pct(&k.connect_latency_us));
    let _ = writeln!(s, "  upgrade  {}", pct(&k.handshake_latency_us));
    if m.sent > 0 || r.scenario != crate::cli::Scenario::Connect {
        messages(&mut s, r);
    }
    let _ = writeln!(s, "errors     {}", codes(&r.errors_by_code));
    let _ = writeln!(s, "closes     {}", codes(&r.closes_by_code));
    if let Some(st) = &r.storm {
        let _ = writeln!(
            s,
            "storm      dropped {}  synced {}  missed {}  recovered {}  unrecovered {}  (late by sync {})",
            st.dropped,
            st.synced,
            st.missed,
            st.recovered,
            st.unrecovered,
            r.messages.late_by_sync
        );
        let _ = writeln!(s, "  resync   {}", pct(&st.reconnect_latency_us));
    }
    let cpu = &r.cpu;
    let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
    let _ =
        writeln!(
        s,
        "cpu        loadgen {} s ({} msg/cpu-s, RSS {})  target {} s ({} s per 1M deliveries, RSS max {})",
        f(cpu.loadgen_cpu_s),
        cpu.loadgen_msgs_per_cpu_s.map_or("-".to_owned(), |v| format!("{v:.0}")),
        mib(cpu.loadgen_rss_kib),
        f(cpu.target_cpu_s),
        f(cpu.target_cpu_s_per_million_deliveries),
        mib(cpu.target_rss_max_kib),
    );
    if r.counters.behind > 0 {
        let _ = writeln!(
            s,
            "warning    the loadgen fell {} messages behind the requested rate: it was the bottleneck",
            r.counters.behind
        );
    }
    s
}

/// The message, delivery and latency lines.
fn messages(s: &mut String, r: &Report) {
    let m = &r.messages;
    let _ = writeln!(
        s,
        "messages   sent {} ({:.0}/s over {:.1} s)  acked {}  rejected {}  unresolved {}",
        m.sent, m.sent_per_s, m.run_s, m.acked, m.rejected, m.unresolved
    );
    let _ = writeln!(
        s,
        "delivery   expected {}  delivered {} ({:.0}/s)  LOST {}  duplicated {}  reordered {}  unexpected {}",
        m.expected, m.delivered, m.delivered_per_s, m.lost, m.duplicated, m.reordered, m.unexpected
    );
    let _ = writeln!(
        s,
        "  pairs    {} with traffic, {} with loss, {} reordered, {} duplicated; drain {:.2} s{}",
        m.pairs,
        m.pairs_with_loss,
        m.pairs_reordered,
        m.pairs_duplicated,
        m.drain_s,
        if m.drained { "" } else { " (timed out)" }
    );
    if m.cross_target_deliveries > 0 {
        let _ = writeln!(
            s,
            "  crossing {} deliveries between different URLs",
            m.cross_target_deliveries
        );
    }
    if let Some(n) = m.cross_node_deliveries {
        let _ = writeln!(
            s,
            "  nodes    {} deliveries crossed nodes (cross-node share {}) over {} ring servers, users per server {:?}",
            n,
            m.cross_node_share
                .map_or("-".to_owned(), |x| format!("{:.1} %", x * 100.0)),
            r.target.ring.len(),
            r.target.users_per_server
        );
    }
    let _ = writeln!(s, "latency    delivery {}", pct(&r.latency_us.delivery));
    if r.latency_us.ack.count > 0 {
        let _ = writeln!(s, "           ack      {}", pct(&r.latency_us.ack));
    }
    if r.latency_us.recovered.count > 0 {
        let _ = writeln!(s, "           synced   {}", pct(&r.latency_us.recovered));
    }
}

/// Prints the summary to stdout.
pub fn print(r: &Report) {
    print!("{}", render(r));
}
