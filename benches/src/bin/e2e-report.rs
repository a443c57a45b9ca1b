//! The end-to-end suite's reporting step (run by `e2e/run.sh`): collects
//! the row files into one JSON, prints the table and draws the SVG; or
//! redraws both from a JSON written earlier; or tells run.sh the latency
//! scenario's rate.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use imedge_benches::e2e::{chart, collect, table, Scenario, Suite};

/// imedge end-to-end suite report.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Collect a run's row files into JSON, print the table, draw the SVG
    Collect {
        /// Directory of NAME.meta.json and NAME.json row files
        #[arg(long)]
        rows: PathBuf,
        /// The suite's JSON, written here
        #[arg(long)]
        out: PathBuf,
        /// The chart, written here
        #[arg(long)]
        svg: PathBuf,
        /// UTC date of the run
        #[arg(long)]
        date: String,
        /// The command that ran the suite
        #[arg(long)]
        command: String,
        /// Messages per second the latency rows ran at
        #[arg(long)]
        latency_rate: Option<f64>,
        /// The run was --quick
        #[arg(long)]
        quick: bool,
    },
    /// Print the table and draw the SVG of a suite JSON written earlier
    Render {
        /// The suite's JSON
        json: PathBuf,
        /// The chart, written here
        #[arg(long)]
        svg: Option<PathBuf>,
    },
    /// Print half the lowest deliveries/s among a scenario's rows (the latency rate)
    HalfSlowest {
        /// Directory of row files
        #[arg(long)]
        rows: PathBuf,
        /// Scenario name, e.g. chat-max
        #[arg(long)]
        scenario: String,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Collect {
            rows,
            out,
            svg,
            date,
            command,
            latency_rate,
            quick,
        } => {
            let suite = Suite {
                date,
                cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
                kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                    .map_or_else(|_| "unknown".into(), |k| k.trim().to_owned()),
                command,
                quick,
                latency_rate,
                rows: collect::rows(&rows)?,
            };
            std::fs::write(&out, serde_json::to_string_pretty(&suite)? + "\n")
                .with_context(|| format!("writing {}", out.display()))?;
            chart::draw(&suite, &svg)?;
            print!("{}", table::render(&suite));
            println!("wrote {} and {}", out.display(), svg.display());
        }
        Cmd::Render { json, svg } => {
            let text = std::fs::read_to_string(&json)
                .with_context(|| format!("reading {}", json.display()))?;
            let suite: Suite = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a suite JSON", json.display()))?;
            print!("{}", table::render(&suite));
            if let Some(svg) = svg {
                chart::draw(&suite, &svg)?;
            }
        }
        Cmd::HalfSlowest { rows, scenario } => {
            let scenario = Scenario::from_name(&scenario)
                .with_context(|| format!("unknown scenario {scenario:?}"))?;
            let slowest = collect::rows(&rows)?
                .iter()
                .filter(|r| {
                    r.scenario == scenario && r.failed.is_none() && r.deliveries_per_s > 0.0
                })
                .map(|r| r.deliveries_per_s)
                .fold(f64::INFINITY, f64::min);
            anyhow::ensure!(
                slowest.is_finite(),
                "no {} row has figures",
                scenario.name()
            );
            println!("{:.0}", (slowest / 2.0).max(1.0));
        }
    }
    Ok(())
}
