//! One module per CLI verb.

pub mod compare;
pub mod density;
pub mod history;
pub mod list;
pub mod report;
pub mod run;
