//! isobench: measures what isolation costs. The library behind the `isobench`
//! binary: the typed plan, host probing, environments, the suite runner and
//! the run directory store.

pub mod cmd;
pub mod env;
pub mod vm;
