//! The I/O side: one pinned thread and monoio runtime per core, each with
//! its own SO_REUSEPORT listener, accept loop, inbox, flusher and sweeper.

mod accept;
mod api;
mod awaiting;
mod carried;
pub mod cluster;
mod conn;
pub mod core;
mod dispatch;
mod forward;
mod gate;
mod handshake;
mod held;
pub mod inbox;
mod known;
pub mod numbering;
pub mod origin;
mod pager;
mod presence;
mod replaying;
mod routes;
pub mod shared;
mod sweeper;
mod sync;
pub mod sys;
mod web;
mod write;

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use monoio::{FusionDriver, FusionRuntime, LegacyDriver, RuntimeBuilder};

use self::core::Core;
use self::inbox::CoreMsg;
pub use self::shared::Shared;
use crate::config::Config;
use crate::store::Store;

/// io_uring submission queue entries per core.
const RING_ENTRIES: u32 = 1024;

/// Runs the node until a drain (SIGTERM or SIGINT) completes. `on_listen`
/// is called with the bound address once every core listens.
pub fn run(
    config: Config,
    secret: Vec<u8>,
    store: Arc<dyn Store>,
    on_listen: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    match sys::raise_nofile_limit() {
        Ok(n) => tracing::info!(limit = n, "open-files limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-files limit"),
    }
    let (listen, threads) = (config.listen, config.threads());
    // Signal handlers first: they need descriptors (a self-pipe), and once
    // the cores accept, a flood of connections can take every one left.
    let (drain_tx, drain_rx) = std::sync::mpsc::channel();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])
    .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("imedge-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let _ = drain_tx.send(sig);
            }
        })
        .context("cannot start the signal thread")?;

    let addr = accept::probe(listen).with_context(|| format!("cannot listen on {listen}"))?;
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..threads).map(|_| flume::unbounded::<CoreMsg>()).unzip();
    let inboxes = txs.clone();
    store.set_notify(Arc::new(move |core, done| {
        let _ = inboxes[core].send(CoreMsg::Durable(done));
    }));
    let cluster = cluster::start(&config)?;
    let mut shared = Shared::new(config, secret, store, txs);
    let mut cluster_task = None;
    if let Some((handle, task)) = cluster {
        let render = handle.clone();
        shared
            .metrics
            .set_extra(Box::new(move |out| render.render(out)));
        shared.cluster = Some(handle);
        cluster_task = Some(task);
    }
    let shared = Arc::new(shared);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Listeners first, then runtimes, and accepting only once every core has
    // its runtime: an early core must not use up the descriptors a later
    // core needs for its ring.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx): (Vec<_>, Vec<_>) = (0..threads)
        .map(|_| std::sync::mpsc::channel::<()>())
        .unzip();
    for ((id, rx), go) in rxs.into_iter().enumerate().zip(go_rx) {
        let listener = accept::listener(addr)
            .with_context(|| format!("core {id}: cannot listen on {addr}"))?;
        let shared = shared.clone();
        let ready = ready_tx.clone();
        // The cluster task runs on the first core (see `cluster`).
        let cluster = if id == 0 { cluster_task.take() } else { None };
        // Pinned only when the cores fill the machine: a node given fewer
        // threads than CPUs may share the host with other nodes, and all of
        // them pinned from CPU 0 up would crowd the first CPUs.
        let cpu = (threads >= cpus).then_some(id % cpus);
        std::thread::Builder::new()
            .name(format!("imedge-core-{id}"))
            .spawn(move || core_thread(id, cpu, shared, listener, rx, cluster, ready, go))
            .context("cannot start a core thread")?;
    }
    for _ in 0..threads {
        ready_rx
            .recv()
            .context("a core thread died at start")?
            .context("cannot build a core runtime")?;
    }
    for go in go_tx {
        let _ = go.send(());
    }
    on_listen(addr);
    tracing::info!(%addr, threads, "imedge listening");

    let sig = drain_rx.recv().context("signal thread ended")?;
    tracing::info!(signal = sig, "draining");
    shared.metrics.draining.store(true, Relaxed);
    for core in 0..shared.cores() {
        shared.send(core, CoreMsg::Drain);
    }
    let deadline = Instant::now() + Duration::from_millis(shared.config.drain_timeout_ms);
    while shared.ws_conns.load(Relaxed) > 0 && Instant::now() < deadline {
        if drain_rx.try_recv().is_ok() {
            tracing::warn!("second signal: exiting without waiting for the drain");
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let left = shared.ws_conns.load(Relaxed);
    tracing::info!(left, "drain finished");
    shared.store.close(Duration::from_secs(5));
    Ok(())
}

/// A built runtime of either driver.
enum Runtime {
    Uring(monoio::Runtime<monoio::time::TimeDriver<monoio::IoUringDriver>>),
    Epoll(monoio::Runtime<monoio::time::TimeDriver<LegacyDriver>>),
}

fn build_runtime(id: usize) -> std::io::Result<Runtime> {
    match RuntimeBuilder::<FusionDriver>::new()
        .with_entries(RING_ENTRIES)
        .enable_timer()
        .build()
    {
        Ok(FusionRuntime::Uring(rt)) => Ok(Runtime::Uring(rt)),
        Ok(FusionRuntime::Legacy(rt)) => Ok(Runtime::Epoll(rt)),
        Err(e) => {
            // io_uring was detected but this thread's ring could not be made (memlock, memcg).
            tracing::warn!(core = id, error = %e, "io_uring runtime failed; falling back to epoll");
            RuntimeBuilder::<LegacyDriver>::new()
                .enable_timer()
                .build()
                .map(Runtime::Epoll)
        }
    }
}

/// Builds the core's runtime, reports on `ready`, then serves until the process exits.
#[allow(clippy::too_many_arguments)]
fn core_thread(
    id: usize,
    cpu: Option<usize>,
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    rx: flume::Receiver<CoreMsg>,
    cluster: Option<cluster::Task>,
    ready: std::sync::mpsc::Sender<std::io::Result<()>>,
    go: std::sync::mpsc::Receiver<()>,
) {
    if let Some(cpu) = cpu {
        if let Err(e) = monoio::utils::bind_to_cpu_set(Some(cpu)) {
            tracing::warn!(core = id, cpu, error = %e, "could not pin the core thread");
        }
    }
    let rt = match build_runtime(id) {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let core = Rc::new(Core::new(id, shared));
    let uring = matches!(rt, Runtime::Uring(_));
    core.counters().io_uring.store(uring, Relaxed);
    tracing::info!(
        core = id,
        driver = if uring { "io_uring" } else { "epoll" },
        "core started"
    );
    let _ = ready.send(Ok(()));
    if go.recv().is_err() {
        return;
    }
    let main = core_main(core, listener, rx, cluster);
    match rt {
        Runtime::Uring(mut rt) => rt.block_on(main),
        Runtime::Epoll(mut rt) => rt.block_on(main),
    }
}

async fn core_main(
    core: Rc<Core>,
    listener: std::net::TcpListener,
    rx: flume::Receiver<CoreMsg>,
    cluster: Option<cluster::Task>,
) {
    let listener = match monoio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(core = core.id, error = %e, "listener adoption failed");
            return;
        }
    };
    monoio::spawn(write::flusher(core.clone()));
    monoio::spawn(sweeper::run(core.clone()));
    monoio::spawn(inbox::run(core.clone(), rx));
    if let Some(task) = cluster {
        monoio::spawn(cluster::run(core.clone(), task));
    }
    accept::run(core, listener).await;
    // The listener is closed; connections drain while the process waits.
    std::future::pending::<()>().await
}
