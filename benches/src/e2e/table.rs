//! The suite's one table, as plain text.

use std::fmt::Write as _;

use super::suite::{Row, Scenario, Suite, BASELINE};

/// `1234567.8` as `1,234,568`.
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "-".to_owned())
}

/// One line of the table.
fn line(suite: &Suite, r: &Row) -> String {
    let measured = r.failed.is_none() || r.connected > 0;
    let cell = |s: String| if measured { s } else { "-".to_owned() };
    let ratio = or_dash(suite.ratio_to_imedge(r).map(|x| format!("{x:.2}x")));
    let share = if r.system.starts_with(BASELINE) {
        or_dash(
            suite
                .share_of_ceiling(r)
                .map(|x| format!("{:.0}%", x * 100.0)),
        )
    } else {
        "-".to_owned()
    };
    // Idle rows carry no messages: only their memory figures mean anything.
    let traffic = r.scenario != Scenario::Idle;
    format!(
        "{:<9} {:<18} {:>7} {:>11} {:>11} {:>8} {:>8} {:>8} {:>9} {:>7} {:>9} {:>8}",
        r.scenario.name(),
        r.system,
        cell(r.connected.to_string()),
        if traffic {
            cell(thousands(r.deliveries_per_s))
        } else {
            "-".into()
        },
        or_dash(r.deliveries_per_cpu_s.filter(|_| traffic).map(thousands)),
        if traffic {
            cell(ms(r.p50_us))
        } else {
            "-".into()
        },
        if traffic {
            cell(ms(r.p99_us))
        } else {
            "-".into()
        },
        if traffic {
            cell(ms(r.p999_us))
        } else {
            "-".into()
        },
        or_dash(r.rss_per_conn_b.map(|b| format!("{} B", thousands(b)))),
        if traffic {
            cell(r.lost.to_string())
        } else {
            "-".into()
        },
        ratio,
        share,
    )
}

/// The whole table: a header, one line per row, then what each ratio
/// compares and why any row has no figures.
pub fn render(suite: &Suite) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "imedge end-to-end suite, {}, {} cores, Linux {}{}",
        suite.date,
        suite.cores,
        suite.kernel,
        if suite.quick {
            " (--quick: a smoke test, not figures)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "{:<9} {:<18} {:>7} {:>11} {:>11} {:>8} {:>8} {:>8} {:>9} {:>7} {:>9} {:>8}",
        "scenario",
        "system",
        "conns",
        "deliv/s",
        "deliv/CPU-s",
        "p50 ms",
        "p99 ms",
        "p999 ms",
        "RSS/conn",
        "lost",
        "vs imedge",
        "of ceil."
    );
    for scenario in Scenario::ALL {
        for r in suite.rows.iter().filter(|r| r.scenario == scenario) {
            let _ = writeln!(out, "{}", line(suite, r));
        }
    }
    let _ = writeln!(
        out,
        "vs imedge: the system's figure over imedge's (memory store) on"
    );
    for s in Scenario::ALL {
        let (what, more_is_better) = s.headline();
        let _ = writeln!(
            out,
            "  {:<9} {what} ({} is better)",
            s.name(),
            if more_is_better { "higher" } else { "lower" }
        );
    }
    let _ = writeln!(
        out,
        "of ceil.: share of the ceiling forwarder's figure that imedge reaches (100% = the ceiling)"
    );
    if let Some(rate) = suite.latency_rate {
        let _ = writeln!(
            out,
            "latency rows: {} messages/s, half the slowest chat-max",
            thousands(rate)
        );
    }
    for r in suite.rows.iter().filter(|r| r.failed.is_some()) {
        let _ = writeln!(
            out,
            "note: {} / {}: {}",
            r.scenario.name(),
            r.system,
            r.failed.as_deref().unwrap_or_default()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
    }
}
