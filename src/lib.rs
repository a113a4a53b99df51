//! isobench: measures what isolation costs. The library behind the `isobench`
//! binary: the typed plan, host probing, environments, the suite runner and
//! the run directory store.

pub mod cli;
pub mod cmd;
pub mod env;
pub mod estimate;
pub mod experiment;
pub mod fleet;
pub mod host;
pub mod locate;
pub mod plan;
pub mod progress;
pub mod runner;
pub mod session;
pub mod store;
pub mod sweep;
pub mod usage;
pub mod user_command;
