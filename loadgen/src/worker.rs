//! Worker processes: when the users do not fit one process's open-files
//! limit, the coordinator re-executes itself once per worker with a share
//! of the units. Commands go down each worker's stdin and events come up
//! its stdout, one JSON object per line; results (histograms included,
//! V2-serialized) merge exactly as a local core's would.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};

use crate::cli::Args;
use crate::engine::{Command, Event};
use crate::plan::Plan;
use crate::run::{context, start_cores};
use crate::{limits, sys};

/// The first line a worker reads.
#[derive(Debug, Serialize, Deserialize)]
struct Setup {
    gids: Vec<i64>,
    cores: usize,
    run_id: u32,
}

/// The running workers, seen from the coordinator.
pub struct Pool {
    children: Vec<Child>,
    stdins: Vec<ChildStdin>,
}

impl Pool {
    /// Starts `workers` copies of this program with the same flags; their
    /// events go to `events`.
    pub fn start(
        workers: usize,
        cores: usize,
        gids: &[i64],
        run_id: u32,
        events: flume::Sender<Event>,
    ) -> anyhow::Result<Pool> {
        let exe = std::env::current_exe().context("finding the loadgen's own executable")?;
        let flags: Vec<_> = std::env::args_os().skip(1).collect();
        let mut children = Vec::new();
        let mut stdins = Vec::new();
        let setup = serde_json::to_string(&Setup {
            gids: gids.to_vec(),
            cores,
            run_id,
        })?;
        for w in 0..workers {
            let mut child = Process::new(&exe)
                .args(&flags)
                .arg("--worker-index")
                .arg(w.to_string())
                .arg("--worker-count")
                .arg(workers.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .context("starting a worker process")?;
            let mut stdin = child.stdin.take().expect("piped");
            writeln!(stdin, "{setup}")?;
            let stdout = child.stdout.take().expect("piped");
            let events = events.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    match serde_json::from_str::<Event>(&line) {
                        Ok(e) => {
                            if events.send(e).is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            let _ = events.send(Event::Failed {
                                unit: usize::MAX,
                                error: format!("worker {w} sent a bad line: {e}"),
                            });
                            break;
                        }
                    }
                }
            });
            children.push(child);
            stdins.push(stdin);
        }
        Ok(Pool { children, stdins })
    }

    /// Sends `cmd` to every worker.
    pub fn broadcast(&mut self, cmd: Command) -> anyhow::Result<()> {
        let line = serde_json::to_string(&cmd)?;
        for s in &mut self.stdins {
            writeln!(s, "{line}").context("a worker has gone")?;
            s.flush()?;
        }
        Ok(())
    }

    /// Waits for every worker to exit.
    pub fn wait(mut self) {
        self.stdins.clear();
        for c in &mut self.children {
            let _ = c.wait();
        }
    }
}

/// The worker side: runs a share of the units, relays commands and events.
pub fn main(args: Args) -> anyhow::Result<()> {
    let w = args.worker_index.context("worker index")?;
    let workers = args.worker_count.context("--worker-count")?;
    let mut first = String::new();
    std::io::stdin()
        .read_line(&mut first)
        .context("no set-up line")?;
    let setup: Setup = serde_json::from_str(&first)?;
    let (soft, hard) = sys::raise_nofile()?;
    let plan = Plan::new(&args, setup.gids);
    let units = plan.worker_units(w, workers);
    let users: usize = units.clone().map(|u| plan.unit_range(u).len()).sum();
    limits::check_fds(users, setup.cores, soft, hard)?;
    let ctx = Arc::new(context(&args, plan, setup.cores * workers, setup.run_id)?);
    let (ev_tx, ev_rx) = flume::unbounded();
    let pins = crate::run::pin_list(args.cpus.as_deref())?;
    let senders = start_cores(
        &ctx,
        units,
        setup.cores,
        w * setup.cores,
        pins.as_deref(),
        &ev_tx,
    )?;
    drop(ev_tx);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}",
        serde_json::to_string(&Event::Hello { units: setup.cores })?
    )?;
    out.flush()?;
    std::thread::spawn(move || {
        // Stdin's buffer is shared: lines after the set-up line are still in it.
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            let Ok(cmd) = serde_json::from_str::<Command>(&line) else {
                break;
            };
            for s in &senders {
                let _ = s.send(cmd);
            }
        }
    });
    let mut finals = 0;
    while finals < setup.cores {
        let Ok(ev) = ev_rx.recv() else {
            bail!("worker {w}: every core has gone");
        };
        if matches!(ev, Event::Final(_)) {
            finals += 1;
        }
        writeln!(out, "{}", serde_json::to_string(&ev)?)?;
        out.flush()?;
    }
    Ok(())
}
