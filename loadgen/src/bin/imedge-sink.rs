//! `imedge-sink [ADDR] [CORES]`: a WebSocket server that discards
//! everything, to measure the loadgen's own ceiling. Prints
//! `imedge-sink listening on <addr>`.

use std::io::Write as _;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()
        .expect("ADDR like 127.0.0.1:9000");
    let cores = args
        .next()
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(imedge_loadgen::run::cpus);
    let r = imedge_loadgen::sink::serve(addr, cores, |a| {
        println!("imedge-sink listening on {a}");
        let _ = std::io::stdout().flush();
    });
    if let Err(e) = r {
        eprintln!("imedge-sink: {e}");
        std::process::exit(1);
    }
}
