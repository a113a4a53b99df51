//! isobench reports: the result schema, loading run directories, statistics,
//! claim verdicts, plots, exporters (HTML, Markdown, CSV, Bencher Metric
//! Format), run comparison and the SQLite history.

pub mod analysis;
pub mod changepoint;
pub mod claims;
pub mod compare;
pub mod density;
pub mod digest;
pub mod export;
pub mod facts;
pub mod gate;
pub mod history;
pub mod history_page;
pub mod isa;
pub mod load;
pub mod metric;
pub mod multi;
pub mod neighbours;
pub mod output;
pub mod permissions;
pub mod plot;
pub mod report;
pub mod schema;
pub mod shift;
pub mod stats;
pub mod testdata;
pub mod text;
pub mod tidy;
pub mod value;
