//! `isobench report RUN... [--run ID ...] [--db FILE|URL] [--out DIR]`:
//! statistics, plots, claims and exports of one run, or several runs side
//! by side with their hosts as columns (the work is done by
//! `isobench_reports`). A run is a run directory or a run id in a history
//! store (see [`crate::cmd::source`]).

pub use crate::cli::report::ReportArgs;
use crate::cmd::source::{Reader, RunRef};
use anyhow::Result;
use isobench_reports::digest::Digest;
use isobench_reports::load::LoadError;
use isobench_reports::multi::Preface;
use isobench_reports::output::write_files;
use isobench_reports::report::{default_out_dir, render_digest, ReportError};
use std::path::{Path, PathBuf};

impl ReportArgs {
    /// The report of one run directory into `out` (or RUN_DIR/report).
    pub fn of_dir(dir: PathBuf, out: Option<PathBuf>) -> ReportArgs {
        ReportArgs {
            runs: vec![dir],
            run_ids: vec![],
            db: None,
            out,
        }
    }
}

/// A run directory that cannot be read is bad input (exit 2); anything
/// else is a failure (exit 1).
pub(crate) fn classify(e: ReportError) -> anyhow::Error {
    match e {
        ReportError::Load(LoadError::Io { .. }) => anyhow::Error::new(e),
        ReportError::Load(l) => crate::plan::usage(l.to_string()),
        other => anyhow::Error::new(other),
    }
}

/// Render runs side by side (with `preface` under the title) into `out`,
/// and say what was written.
pub(crate) fn write_multi(out: &Path, digests: &[Digest], preface: &Preface) -> Result<()> {
    let files = isobench_reports::multi::render_multi_with(digests, preface)
        .map_err(|e| classify(ReportError::Plot(e)))?;
    let paths = write_files(out, &files).map_err(|e| classify(ReportError::Write(e)))?;
    for d in digests {
        for w in &d.load_warnings {
            eprintln!("isobench: warning: {w}");
        }
    }
    let labels = isobench_reports::multi::column_labels(digests);
    println!(
        "report of {} run(s) side by side: {}",
        digests.len(),
        digests
            .iter()
            .zip(&labels)
            .map(|(d, l)| format!("{l} ({}, {} results)", d.info.run_id, d.lines))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The claims, column by column (a host, or runs of one host merged).
    let (cols, labels) = isobench_reports::multi::claim_columns(digests);
    for (c, l) in cols.iter().zip(&labels) {
        println!(
            "  {l}: {}",
            c.claims
                .iter()
                .map(|x| format!("{} {}", x.id, x.verdict_text()))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    println!(
        "wrote {} files; open {}",
        paths.len(),
        out.join("index.html").display()
    );
    Ok(())
}

pub fn run(args: &ReportArgs) -> Result<i32> {
    let mut refs: Vec<RunRef> = args.runs.iter().map(|p| RunRef::of_arg(p)).collect();
    refs.extend(args.run_ids.iter().cloned().map(RunRef::Stored));
    if refs.is_empty() {
        return Err(crate::plan::usage(
            "name a run: a run directory, or --run ID with --db FILE|URL",
        ));
    }
    let mut reader = Reader::new(args.db.as_deref());
    let mut digests = Vec::with_capacity(refs.len());
    for r in &refs {
        digests.push(reader.digest(r)?);
    }
    let out = args.out.clone().unwrap_or_else(|| match &refs[..] {
        [RunRef::Dir(d)] => default_out_dir(d),
        _ => PathBuf::from("isobench-report"),
    });
    if digests.len() > 1 {
        write_multi(&out, &digests, &Preface::default())?;
        return Ok(0);
    }
    let d = digests.pop().expect("one run");
    let source = d.source.clone();
    let rendered = render_digest(d).map_err(|e| classify(ReportError::Plot(e)))?;
    let paths = write_files(&out, &rendered.files).map_err(|e| classify(ReportError::Write(e)))?;
    for w in &rendered.warnings {
        eprintln!("isobench: warning: {w}");
    }
    let a = &rendered.analysis;
    println!(
        "report of {} ({} environments, {} figures, {} invalid results excluded)",
        source,
        a.envs.len(),
        a.figures.len(),
        a.invalid_total()
    );
    for c in &rendered.claims {
        println!("  {} {}", c.id, c.verdict_text());
    }
    println!(
        "wrote {} files; open {}",
        paths.len(),
        out.join("index.html").display()
    );
    Ok(0)
}
