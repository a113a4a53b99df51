//! One module per CLI verb.

pub mod all;
pub mod baseline;
pub mod clean;
pub mod compare;
pub mod density;
pub mod dry_run;
pub mod fleet;
pub mod history;
pub mod list;
pub mod neighbours;
pub mod permissions;
pub mod push;
pub mod report;
pub mod run;
pub mod select;
pub mod source;
pub mod suite;
