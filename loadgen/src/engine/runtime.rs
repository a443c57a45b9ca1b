//! A core's thread: pinned, with its own monoio runtime (io_uring, or epoll
//! where io_uring is unavailable), driven by the coordinator's commands.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use monoio::time::sleep;

use super::core::{Core, Phase, State, READ_BUF};
use super::user::User;
use super::{pace, send, storm, task, Command, CoreResult, Ctx, Event, Tick, TICK};
use crate::procstat;
use crate::stats::now_us;
use crate::sys;

/// Starts core `unit` on its own thread (pinned to `cpu` if given), serving
/// the plan's users `users`. `report_cpu`: this core reports its process's
/// CPU time.
pub fn spawn_core(
    ctx: Arc<Ctx>,
    unit: usize,
    users: Vec<usize>,
    cpu: Option<usize>,
    report_cpu: bool,
    commands: flume::Receiver<Command>,
    events: flume::Sender<Event>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("lg-core-{unit}"))
        .spawn(move || {
            if let Some(cpu) = cpu {
                // Pinning is an optimisation; a refusal (cgroup cpuset) is not fatal.
                let _ = monoio::utils::bind_to_cpu_set(Some(cpu));
            }
            let fut = core_main(ctx, unit, users, report_cpu, commands, events.clone());
            let built = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .with_entries(4096)
                .enable_timer()
                .build();
            match built {
                Ok(mut rt) => rt.block_on(fut),
                // The io_uring probe can pass while this thread's ring
                // cannot be made (memlock, memcg): fall back to epoll.
                Err(_) => match monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                    .enable_timer()
                    .build()
                {
                    Ok(mut rt) => rt.block_on(fut),
                    Err(e) => {
                        let _ = events.send(Event::Failed {
                            unit,
                            error: format!("no runtime: {e}"),
                        });
                    }
                },
            }
        })
}

async fn core_main(
    ctx: Arc<Ctx>,
    unit: usize,
    indices: Vec<usize>,
    report_cpu: bool,
    commands: flume::Receiver<Command>,
    events: flume::Sender<Event>,
) {
    let plan = &ctx.plan;
    let users: Vec<User> = indices
        .iter()
        .map(|&i| {
            User::new(
                plan.uid(i),
                i,
                plan.group_of(i).map(|g| plan.gid(g)),
                plan.is_sender(i),
            )
        })
        .collect();
    let empty = users.is_empty();
    let seed = now_us() ^ ((unit as u64 + 1) << 40);
    let core = Rc::new(Core {
        unit,
        ctx: ctx.clone(),
        phase: Cell::new(Phase::Connecting),
        rbuf: RefCell::new(vec![0u8; READ_BUF].into_boxed_slice()),
        st: RefCell::new(State::new(users, seed)),
        events,
    });
    if empty {
        core.phase.set(Phase::Ready);
        let _ = core.events.send(Event::Connected { unit });
    } else {
        monoio::spawn(task::connector(core.clone()));
    }
    monoio::spawn(ticker(core.clone()));
    let mut cpu_at_start = None;
    while let Ok(cmd) = commands.recv_async().await {
        match cmd {
            Command::Start => {
                cpu_at_start = procstat::read("self").map(|u| u.cpu_s);
                core.phase.set(Phase::Running);
                monoio::spawn(pace::pacer(core.clone()));
            }
            Command::Storm { share } => storm::drop_share(&core, share),
            Command::StopSending => core.phase.set(Phase::Draining),
            Command::Finish => {
                let end = procstat::read("self");
                let cpu_end = end.map(|u| u.cpu_s);
                finish(&core).await;
                let process_cpu_s = match (report_cpu, cpu_at_start, cpu_end) {
                    (true, Some(a), Some(b)) => Some(b - a),
                    _ => None,
                };
                let rss = end.filter(|_| report_cpu).map(|u| u.rss_kib);
                let result = collect(&core, process_cpu_s, rss);
                let _ = core.events.send(Event::Final(Box::new(result)));
                return;
            }
        }
    }
}

/// Sends the core's state to the coordinator every [`TICK`].
async fn ticker(core: Rc<Core>) {
    loop {
        sleep(TICK).await;
        if core.phase.get() == Phase::Finishing {
            return;
        }
        let tick = {
            let mut st = core.st.borrow_mut();
            let delivery = std::mem::take(&mut st.tick_delivery);
            let syncing = st
                .users
                .iter()
                .filter(|u| matches!(u.link, super::user::Link::Syncing { .. }))
                .count() as u64;
            let pending = st.users.iter().map(|u| u.pending.len() as u64).sum();
            Tick {
                unit: core.unit,
                at_us: now_us(),
                live: st.live,
                syncing,
                pending,
                counters: st.counters.clone(),
                delivery,
            }
        };
        if core.events.send(Event::Tick(Box::new(tick))).is_err() {
            return;
        }
    }
}

/// Closes every connection politely, then abruptly what is left.
async fn finish(core: &Rc<Core>) {
    core.phase.set(Phase::Finishing);
    {
        let mut st = core.st.borrow_mut();
        for i in 0..st.users.len() {
            if st.users[i].fd >= 0 {
                send::write_close(core, &mut st, i, 1000);
            }
        }
    }
    for round in 0..120 {
        if core.st.borrow().live == 0 {
            break;
        }
        if round == 100 {
            for u in &core.st.borrow().users {
                if u.fd >= 0 {
                    sys::shutdown(u.fd);
                }
            }
        }
        sleep(Duration::from_millis(10)).await;
    }
}

/// Moves the core's results out.
fn collect(core: &Core, process_cpu_s: Option<f64>, process_rss_kib: Option<u64>) -> CoreResult {
    let mut st = core.st.borrow_mut();
    let st = &mut *st;
    // Whatever is still waiting for an answer never got one.
    if !core.ctx.peer {
        for u in &mut st.users {
            for p in u.pending.drain(..) {
                if let Some(t) = st.tx.get_mut(&(u.uid, p.dst)) {
                    t.unresolved.push(p.seq);
                }
                st.counters.unresolved += 1;
            }
        }
    }
    CoreResult {
        unit: core.unit,
        counters: st.counters.clone(),
        hists: std::mem::take(&mut st.hists),
        tx: st.tx.drain().collect(),
        rx: st.rx.drain().collect(),
        process_cpu_s,
        process_rss_kib,
    }
}
