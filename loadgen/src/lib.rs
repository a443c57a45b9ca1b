//! imedge-loadgen: simulated WebSocket users against imedge (or the
//! reference peers), with exact delivery accounting.
//!
//! `engine` runs the users (one monoio runtime per core), `coord` drives
//! the run's phases over cores or worker processes, `account` joins what
//! was sent with what was received, `report` prints, saves and plots it.

#![warn(missing_docs)]
// System calls live in `sys`, the one module allowed to use `unsafe`.
#![deny(unsafe_code)]

pub mod account;
pub mod cli;
pub mod cluster;
pub mod coord;
pub mod engine;
pub mod groups;
pub mod limits;
pub mod pairing;
pub mod plan;
pub mod procstat;
pub mod proto;
pub mod report;
pub mod run;
pub mod sink;
pub mod stats;
#[allow(unsafe_code)]
pub mod sys;
pub mod target;
pub mod worker;
