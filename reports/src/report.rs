//! `isobench report`: a run directory in, a report directory out
//! (`index.html`, `summary.md`, `results.csv`, `bencher.json`, and every plot
//! as `plots/<name>.svg` and `.png`).

use crate::analysis::{analyse, Analysis, StatsOptions};
use crate::claims::{self, ClaimResult};
use crate::export;
use crate::load::{load_run, LoadError, Run};
use crate::output::{write_files, OutputFile, WriteError};
use crate::plot::{self, NamedImage, PlotError};
use crate::schema::RunInfo;
use std::path::{Path, PathBuf};

/// Everything the exporters need.
pub struct ReportContext<'a> {
    pub info: &'a RunInfo,
    pub analysis: &'a Analysis,
    pub claims: &'a [ClaimResult],
    /// Load warnings and the run's own measurement warnings.
    pub warnings: Vec<String>,
    pub plots: &'a [NamedImage],
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// What a rendered report holds, for the caller to print.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub files: Vec<OutputFile>,
    pub analysis: Analysis,
    pub claims: Vec<ClaimResult>,
    pub warnings: Vec<String>,
}

/// Render the report of a loaded run, in memory.
pub fn render(run: &Run, opts: StatsOptions) -> Result<Rendered, PlotError> {
    let analysis = analyse(&run.records, opts);
    let claims = claims::evaluate_on_host(&analysis, Some(run.info.host.memory_bytes));
    let plots = plot::report_plots(&analysis, &run.info.host.hostname)?;
    let mut warnings: Vec<String> = run.warnings.iter().map(|w| w.to_string()).collect();
    warnings.extend(run.info.warnings.iter().cloned());
    if analysis.invalid_total() > 0 {
        warnings.push(format!(
            "{} result(s) were invalid (the kernel's self-check failed or the run failed) and are excluded from every figure; see the environments table",
            analysis.invalid_total()
        ));
    }
    let cx = ReportContext {
        info: &run.info,
        analysis: &analysis,
        claims: &claims,
        warnings: warnings.clone(),
        plots: &plots,
    };
    let mut files = vec![
        OutputFile {
            name: "index.html".into(),
            bytes: export::html::to_html(&cx).into_bytes(),
        },
        OutputFile {
            name: "summary.md".into(),
            bytes: export::markdown::to_markdown(&cx).into_bytes(),
        },
        OutputFile {
            name: "results.csv".into(),
            bytes: export::csv::to_csv(&analysis).into_bytes(),
        },
        OutputFile {
            name: "bencher.json".into(),
            bytes: export::bencher::to_bmf_string(&analysis).into_bytes(),
        },
    ];
    for p in &plots {
        files.push(OutputFile {
            name: format!("plots/{}.svg", p.stem),
            bytes: p.image.svg.clone().into_bytes(),
        });
        files.push(OutputFile {
            name: format!("plots/{}.png", p.stem),
            bytes: p.image.png.clone(),
        });
    }
    Ok(Rendered {
        files,
        analysis,
        claims,
        warnings,
    })
}

/// Default output directory of a run's report.
pub fn default_out_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("report")
}

/// Load `run_dir`, render, write into `out_dir`. Returns the rendering and
/// the paths written.
pub fn write_report(
    run_dir: &Path,
    out_dir: &Path,
) -> Result<(Rendered, Vec<PathBuf>), ReportError> {
    let run = load_run(run_dir)?;
    let rendered = render(&run, StatsOptions::default())?;
    let paths = write_files(out_dir, &rendered.files)?;
    Ok((rendered, paths))
}
