//! The end-to-end suite's results: the rows `e2e/run.sh` collects from
//! loadgen reports, the one table it prints (with each system's ratio to
//! imedge and imedge's share of the ceiling) and the SVG chart of it.

pub mod chart;
pub mod collect;
pub mod suite;
pub mod table;

pub use suite::{Row, Scenario, Suite};
