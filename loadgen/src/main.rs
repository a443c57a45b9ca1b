//! The `imedge-loadgen` binary: parses flags and runs (see `--help`).

use clap::Parser as _;

fn main() {
    let args = imedge_loadgen::cli::Args::parse();
    if let Err(e) = imedge_loadgen::run::main(args) {
        eprintln!("imedge-loadgen: {e:#}");
        std::process::exit(1);
    }
}
