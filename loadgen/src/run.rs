//! A run from the command line: check the limits, set up the groups, start
//! the cores (here or in worker processes), coordinate, report.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::cli::{Args, Scenario};
use crate::cluster::Cluster;
use crate::coord::{coordinate, Schedule};
use crate::engine::{spawn_core, Command, Ctx, Event};
use crate::plan::Plan;
use crate::report::{self, Setup};
use crate::target::{parse_src_ips, Target, Tokens};
use crate::{groups, limits, sys, worker};

/// Checks flag combinations that clap cannot.
pub fn validate(args: &Args) -> anyhow::Result<()> {
    let traffic = args.scenario != Scenario::Connect;
    if traffic && args.rate.is_none() && !args.max {
        bail!(
            "{:?} sends messages: give --rate N (total msgs/s) or --max",
            args.scenario
        );
    }
    if args.users == 0 {
        bail!("--users must be at least 1");
    }
    if args.peer && args.scenario == Scenario::Storm {
        bail!("storm needs stored messages and sync (cmd 30); the peers have neither");
    }
    if args.peer && args.max && args.pairs == crate::cli::Pairs::Random {
        bail!("--peer --max frees window slots on delivery, which needs fixed pairs: use --pairs fixed or --rate");
    }
    if args.pairs.by_owner().is_some() {
        if args.peer {
            bail!(
                "--pairs {} needs imedge's ring, which the peers do not have: use --pairs fixed",
                args.pairs.name()
            );
        }
        if args.ring.is_none() && args.ring_config.is_none() {
            bail!(
                "--pairs {} picks partners by owner node: give --ring or --ring-config",
                args.pairs.name()
            );
        }
    }
    if !args.peer && args.secret.is_none() && args.tokens.is_none() {
        bail!("give --secret (the daemon's secret, to mint tokens) or --tokens FILE; or --peer for a reference server");
    }
    if args.scenario.uses_rooms() && Plan::group_count(args) == 0 {
        bail!(
            "{:?} needs groups: --users ({}) must be at least --group-size ({})",
            args.scenario,
            args.users,
            args.group_size
        );
    }
    if args.max && args.inflight == 0 {
        bail!("--inflight must be at least 1");
    }
    Ok(())
}

/// Everything a process needs to start its cores.
pub struct Parts {
    /// Shared context.
    pub ctx: Arc<Ctx>,
    /// Cores per process.
    pub cores: usize,
}

/// Targets, tokens and source addresses from the flags.
pub fn endpoints(args: &Args) -> anyhow::Result<(Vec<Target>, Tokens, Vec<std::net::Ipv4Addr>)> {
    let targets = args
        .urls()
        .iter()
        .map(|u| Target::parse(u))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tokens = if args.peer {
        Tokens::Any
    } else if let Some(f) = &args.tokens {
        Tokens::from_file(f)?
    } else {
        Tokens::mint(args.secret.as_deref().unwrap_or_default())
    };
    let src = match &args.src_ips {
        Some(s) => parse_src_ips(s)?,
        None => Vec::new(),
    };
    Ok((targets, tokens, src))
}

/// The shared context of every core of the run.
pub fn context(
    args: &Args,
    mut plan: Plan,
    total_cores: usize,
    run_id: u32,
) -> anyhow::Result<Ctx> {
    let (targets, tokens, src_ips) = endpoints(args)?;
    let cluster = Cluster::from_args(args, &plan, &targets)?;
    if let Some(c) = &cluster {
        plan.pair_by_owner(&c.owners());
    }
    let total_senders = (0..plan.users).filter(|&i| plan.is_sender(i)).count();
    if args.scenario == Scenario::Chat && args.pairs.by_owner().is_some() && total_senders == 0 {
        bail!(
            "--pairs {}: no user has a partner (one node owns all {} users, or every node owns a single one)",
            args.pairs.name(),
            plan.users
        );
    }
    Ok(Ctx {
        plan,
        targets,
        cluster,
        tokens,
        src_ips,
        peer: args.peer,
        unmasked: args.ceiling,
        rate: if args.max { None } else { args.rate },
        inflight: args.inflight.max(1),
        message_bytes: args.message_bytes,
        connect_concurrency: (args.connect_concurrency / total_cores.max(1)).max(1),
        connect_timeout: Duration::from_secs_f64(args.connect_timeout),
        ramp: Duration::from_secs_f64(args.ramp),
        storm_pause: Duration::from_millis(args.storm_pause_ms),
        total_senders,
        run_id,
    })
}

/// CPUs of this machine.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The CPUs `--cpus` names (`None`: do not pin).
pub fn pin_list(spec: Option<&str>) -> anyhow::Result<Option<Vec<usize>>> {
    let Some(spec) = spec else {
        return Ok(Some((0..cpus()).collect()));
    };
    if spec == "none" {
        return Ok(None);
    }
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<usize>()?..=b.parse::<usize>()?),
            None => out.push(part.parse()?),
        }
    }
    if out.is_empty() {
        bail!("--cpus names no CPU");
    }
    Ok(Some(out))
}

/// Starts `cores` cores for `units` of the plan: core `c` is unit
/// `first_unit + c`, pinned to the `(first_unit + c)`-th CPU of `pins`
/// (round robin).
pub fn start_cores(
    ctx: &Arc<Ctx>,
    units: std::ops::Range<usize>,
    cores: usize,
    first_unit: usize,
    pins: Option<&[usize]>,
    events: &flume::Sender<Event>,
) -> anyhow::Result<Vec<flume::Sender<Command>>> {
    let mut senders = Vec::with_capacity(cores);
    for c in 0..cores {
        let users = ctx.plan.core_users(units.clone(), c, cores);
        let (tx, rx) = flume::unbounded();
        let unit = first_unit + c;
        spawn_core(
            ctx.clone(),
            unit,
            users,
            pins.map(|p| p[unit % p.len()]),
            c == 0,
            rx,
            events.clone(),
        )
        .context("starting a core thread")?;
        senders.push(tx);
    }
    Ok(senders)
}

/// How many processes: `--workers N`, or `auto` from the open-files limit.
fn resolve_workers(args: &Args, cores: usize, hard: u64) -> anyhow::Result<usize> {
    if args.workers == "auto" {
        let per = limits::users_per_process(hard, cores).max(1);
        return Ok(args.users.div_ceil(per).max(1));
    }
    let n: usize = args
        .workers
        .parse()
        .context("--workers takes a number or auto")?;
    Ok(n.max(1))
}

/// Runs the command line's scenario and reports.
pub fn main(args: Args) -> anyhow::Result<()> {
    if args.worker_index.is_some() {
        return worker::main(args);
    }
    validate(&args)?;
    let (soft, hard) = sys::raise_nofile().context("reading the open-files limit")?;
    let (targets, tokens, src_ips) = endpoints(&args)?;
    // Built here too so a ring that does not fit the URLs fails before anything starts.
    let cluster = Cluster::from_args(&args, &Plan::new(&args, Vec::new()), &targets)?;
    let probe_cores = args.cores.unwrap_or_else(cpus).max(1);
    let workers = resolve_workers(&args, probe_cores, hard)?;
    let cores = if workers > 1 {
        args.cores
            .unwrap_or_else(|| (cpus() / workers).max(1))
            .max(1)
    } else {
        probe_cores
    };
    let per_process = args.users.div_ceil(workers);
    limits::check_fds(per_process, cores, soft, hard)?;
    limits::check_ports(args.users, src_ips.len(), targets.len())?;

    let gids = groups::for_run(&args, &targets[0], &tokens)?;
    if !gids.is_empty() && !args.quiet && !args.peer {
        eprintln!(
            "created {} groups of {} through the HTTP API",
            gids.len(),
            args.group_size
        );
    }
    let plan = Plan::new(&args, gids.clone());
    // Distinct across runs against the same server (seconds, wrapping).
    let run_id = (crate::stats::now_us() / 1_000_000 % 1_000_000_000) as u32;
    let (ev_tx, ev_rx) = flume::unbounded();
    let (outcome, cores) = if workers == 1 {
        let cores = cores.min(plan.units()).max(1);
        let ctx = Arc::new(context(&args, plan.clone(), cores, run_id)?);
        let pins = pin_list(args.cpus.as_deref())?;
        let senders = start_cores(&ctx, 0..plan.units(), cores, 0, pins.as_deref(), &ev_tx)?;
        drop(ev_tx);
        let schedule = schedule(&args, cores);
        let outcome = coordinate(&schedule, &ev_rx, |cmd| {
            for s in &senders {
                s.send(cmd).context("a core has gone")?;
            }
            Ok(())
        })?;
        (outcome, cores)
    } else {
        let mut pool = worker::Pool::start(workers, cores, &gids, run_id, ev_tx)?;
        let schedule = schedule(&args, workers * cores);
        let outcome = coordinate(&schedule, &ev_rx, |cmd| pool.broadcast(cmd))?;
        pool.wait();
        (outcome, cores)
    };
    let setup = Setup {
        args: &args,
        plan: &plan,
        cores,
        workers,
        src_ips: src_ips.len(),
        cluster: cluster.as_ref(),
    };
    let report = report::build(&setup, outcome);
    report::print(&report);
    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        report::plot(&report, path).with_context(|| format!("plotting to {}", path.display()))?;
    }
    Ok(())
}

fn schedule(args: &Args, units: usize) -> Schedule {
    Schedule {
        units,
        // For connect the users are held idle this long.
        duration: Duration::from_secs_f64(args.duration),
        drain: Duration::from_secs_f64(args.drain),
        connect_limit: Duration::from_secs_f64(args.ramp + args.connect_timeout + 30.0),
        storm: (args.scenario == Scenario::Storm).then(|| {
            (
                Duration::from_secs_f64(args.storm_at.unwrap_or(args.duration / 2.0)),
                args.storm_share,
            )
        }),
        users: args.users,
        progress: !args.quiet,
        target_pids: args.target_pid.clone(),
    }
}
