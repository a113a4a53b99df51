//! isobench reports: the result schema, statistics, plots and exporters.

pub mod schema;
