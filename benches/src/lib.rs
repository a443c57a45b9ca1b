//! Support for imedge's benchmarks: the payloads the criterion benches
//! share (`benches/`), the ceiling forwarder's frame splitting and routing
//! (`src/bin/ceiling.rs`) and the end-to-end suite's report (`e2e/run.sh`,
//! `src/bin/e2e-report.rs`).

pub mod ceiling;
pub mod e2e;
pub mod sample;
