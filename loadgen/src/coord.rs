//! The coordinator: drives every core (in this process or in workers)
//! through the phases of a run (connect, traffic, storm, drain, finish),
//! prints a progress line each second and gathers the results.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};

use crate::engine::{Command, CoreResult, Event, Tick};
use crate::procstat::{self, Usage};
use crate::stats::{Counters, Hist};

/// What the coordinator needs to know of the run.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Cores in the run.
    pub units: usize,
    /// Traffic time.
    pub duration: Duration,
    /// Longest drain.
    pub drain: Duration,
    /// Longest connect phase.
    pub connect_limit: Duration,
    /// Storm: when (into the traffic) and what share.
    pub storm: Option<(Duration, f64)>,
    /// Users in the run, for the progress line.
    pub users: usize,
    /// Print progress lines.
    pub progress: bool,
    /// Server processes to measure (their usage is summed); empty: none.
    pub target_pids: Vec<u32>,
}

/// One second of the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Point {
    /// Seconds since the coordinator started.
    pub t_s: f64,
    /// Phase: connect, run, drain.
    pub phase: String,
    /// Connections open.
    pub connected: u64,
    /// Messages sent per second.
    pub sent_per_s: f64,
    /// New deliveries per second.
    pub delivered_per_s: f64,
    /// Delivery latency of this second.
    pub p50_us: u64,
    /// Delivery latency of this second.
    pub p99_us: u64,
    /// Delivery latency of this second.
    pub p999_us: u64,
}

/// What a run produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every core's final result.
    pub finals: Vec<CoreResult>,
    /// Per-second points.
    pub timeline: Vec<Point>,
    /// Seconds from start until every core had tried all its users.
    pub connect_s: f64,
    /// Seconds of traffic (Start to StopSending).
    pub run_s: f64,
    /// Seconds of drain.
    pub drain_s: f64,
    /// Whether the drain ended with everything accounted for (not by timeout).
    pub drained: bool,
    /// The server's usage over the traffic and drain window.
    pub target_cpu_s: Option<f64>,
    /// The server's largest RSS seen, KiB.
    pub target_rss_max_kib: Option<u64>,
    /// The coordinator process's own CPU over the window (not in the cores' figure when workers run).
    pub coordinator_cpu_s: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    Connect,
    Run,
    Drain,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Run => "run",
            Stage::Drain => "drain",
        }
    }
}

/// The latest tick of every core, and the seconds' latency histograms.
struct View {
    latest: BTreeMap<usize, Tick>,
    second: Hist,
    all: Hist,
    last_point: Instant,
    last_sent: u64,
    last_delivered: u64,
    /// Ticks received per core since the drain began.
    drain_ticks: BTreeMap<usize, u32>,
}

impl View {
    fn totals(&self) -> (Counters, u64, u64, u64) {
        let mut c = Counters::default();
        let (mut live, mut pending, mut syncing) = (0, 0, 0);
        for t in self.latest.values() {
            c.merge(&t.counters);
            live += t.live;
            pending += t.pending;
            syncing += t.syncing;
        }
        (c, live, pending, syncing)
    }
}

/// Runs the phases. `send` delivers a command to every core; `events`
/// receives theirs.
pub fn coordinate(
    s: &Schedule,
    events: &flume::Receiver<Event>,
    mut send: impl FnMut(Command) -> anyhow::Result<()>,
) -> anyhow::Result<Outcome> {
    let t0 = Instant::now();
    let mut out = Outcome::default();
    let mut view = View {
        latest: BTreeMap::new(),
        second: Hist::default(),
        all: Hist::default(),
        last_point: t0,
        last_sent: 0,
        last_delivered: 0,
        drain_ticks: BTreeMap::new(),
    };
    let mut connected = HashSet::new();
    let mut stage = Stage::Connect;
    let mut rss_max = 0u64;
    let mut target_start: Option<Usage> = None;
    let mut own_start = None;
    let mut run_start = t0;
    let mut drain_start = t0;
    let mut storm_done = s.storm.is_none();
    let mut balanced_rounds = 0;
    loop {
        match events.recv_timeout(Duration::from_millis(50)) {
            Ok(Event::Connected { unit }) => {
                connected.insert(unit);
            }
            Ok(Event::Tick(t)) => {
                view.second.merge(&t.delivery);
                view.all.merge(&t.delivery);
                if stage == Stage::Drain {
                    *view.drain_ticks.entry(t.unit).or_default() += 1;
                }
                view.latest.insert(t.unit, *t);
            }
            Ok(Event::Failed { unit, error }) => bail!("core {unit} failed: {error}"),
            Ok(Event::Final(_)) => bail!("a core finished before it was asked to"),
            Ok(Event::Hello { .. }) => {}
            Err(flume::RecvTimeoutError::Timeout) => {}
            Err(flume::RecvTimeoutError::Disconnected) => bail!("every core has gone"),
        }
        let now = Instant::now();
        if now.duration_since(view.last_point) >= Duration::from_secs(1) {
            let p = point(&mut view, t0, now, stage);
            if s.progress {
                progress_line(&p, &view, s.users);
            }
            if let Some(u) = procstat::read_sum(&s.target_pids) {
                rss_max = rss_max.max(u.rss_kib);
            }
            out.timeline.push(p);
        }
        match stage {
            Stage::Connect => {
                if connected.len() == s.units {
                    out.connect_s = t0.elapsed().as_secs_f64();
                    target_start = procstat::read_sum(&s.target_pids);
                    own_start = procstat::read("self");
                    send(Command::Start)?;
                    stage = Stage::Run;
                    run_start = Instant::now();
                } else if t0.elapsed() > s.connect_limit {
                    bail!(
                        "only {} of {} cores finished connecting within {:?}",
                        connected.len(),
                        s.units,
                        s.connect_limit
                    );
                }
            }
            Stage::Run => {
                let elapsed = run_start.elapsed();
                if !storm_done {
                    if let Some((at, share)) = s.storm {
                        if elapsed >= at {
                            send(Command::Storm { share })?;
                            storm_done = true;
                        }
                    }
                }
                if elapsed >= s.duration {
                    send(Command::StopSending)?;
                    out.run_s = elapsed.as_secs_f64();
                    stage = Stage::Drain;
                    drain_start = Instant::now();
                }
            }
            Stage::Drain => {
                // Judge only on ticks taken after the drain began, from every core.
                let fresh = view.drain_ticks.len() == s.units
                    && view.drain_ticks.values().all(|&n| n >= 2 + balanced_rounds);
                if fresh {
                    let (c, _, pending, syncing) = view.totals();
                    if pending == 0 && syncing == 0 && c.delivered_unique >= c.expected {
                        balanced_rounds += 1;
                    } else {
                        balanced_rounds = 0;
                        view.drain_ticks.clear();
                    }
                }
                let timed_out = drain_start.elapsed() >= s.drain;
                if balanced_rounds >= 2 || timed_out {
                    out.drained = !timed_out || balanced_rounds >= 2;
                    out.drain_s = drain_start.elapsed().as_secs_f64();
                    break;
                }
            }
        }
    }
    if let Some(a) = target_start {
        if let Some(b) = procstat::read_sum(&s.target_pids) {
            out.target_cpu_s = Some(b.cpu_s - a.cpu_s);
            out.target_rss_max_kib = Some(rss_max.max(b.rss_kib));
        }
    }
    if let (Some(a), Some(b)) = (own_start, procstat::read("self")) {
        out.coordinator_cpu_s = Some(b.cpu_s - a.cpu_s);
    }
    let p = point(&mut view, t0, Instant::now(), stage);
    out.timeline.push(p);
    send(Command::Finish)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.finals.len() < s.units {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(Event::Final(f)) => out.finals.push(*f),
            Ok(Event::Failed { unit, error }) => bail!("core {unit} failed: {error}"),
            Ok(_) => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("{} of {} cores reported", out.finals.len(), s.units))
            }
        }
    }
    Ok(out)
}

fn point(view: &mut View, t0: Instant, now: Instant, stage: Stage) -> Point {
    let (c, live, _, _) = view.totals();
    let secs = now.duration_since(view.last_point).as_secs_f64().max(1e-3);
    let p = Point {
        t_s: now.duration_since(t0).as_secs_f64(),
        phase: stage.name().to_owned(),
        connected: live,
        sent_per_s: (c.sent - view.last_sent.min(c.sent)) as f64 / secs,
        delivered_per_s: (c.delivered_unique - view.last_delivered.min(c.delivered_unique)) as f64
            / secs,
        p50_us: view.second.quantile(0.5),
        p99_us: view.second.quantile(0.99),
        p999_us: view.second.quantile(0.999),
    };
    view.last_sent = c.sent;
    view.last_delivered = c.delivered_unique;
    view.last_point = now;
    view.second.clear();
    p
}

fn progress_line(p: &Point, view: &View, users: usize) {
    let (c, ..) = view.totals();
    let errors: u64 = c.errors.values().sum();
    eprintln!(
        "[{:>6.1}s] {:<7} users {}/{}  sent {:>9.0}/s  delivered {:>9.0}/s  p99 {} (so far {})  errors {}  failed connects {}",
        p.t_s,
        p.phase,
        p.connected,
        users,
        p.sent_per_s,
        p.delivered_per_s,
        fmt_us(p.p99_us),
        fmt_us(view.all.quantile(0.99)),
        errors,
        c.connect_failed,
    );
}

/// Microseconds as a short human figure.
pub fn fmt_us(us: u64) -> String {
    match us {
        0 => "-".to_owned(),
        1..=999 => format!("{us} us"),
        1_000..=999_999 => format!("{:.2} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}
