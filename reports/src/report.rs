//! `isobench report`: a run directory in, a report directory out
//! (`index.html`, `summary.md`, `results.csv`, `bencher.json`, and every plot
//! as `plots/<name>.svg` and `.png`).

use crate::analysis::{Analysis, StatsOptions};
use crate::claims::{self, ClaimResult};
use crate::digest::{digest_run_dir, Digest};
use crate::export::{self, ReportContext};
use crate::load::{LoadError, Run};
use crate::output::{write_files, OutputFile, WriteError};
use crate::plot::{self, PlotError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
pub fn render(run: &Run, _opts: StatsOptions) -> Result<Rendered, PlotError> {
    render_digest(Digest::of_run(run))
}

/// Render the report of a digested run, in memory.
pub fn render_digest(d: Digest) -> Result<Rendered, PlotError> {
    let Digest {
        info,
        analysis,
        facts,
        load_warnings,
        tidy_csv,
        ..
    } = d;
    let run_info = &info;
    let claims = claims::evaluate_with(&analysis, Some(run_info.host.memory_bytes), &facts);
    let titles: BTreeMap<String, String> = analysis
        .workloads()
        .into_iter()
        .map(|w| (w.clone(), facts.workload_title(&analysis, &w)))
        .collect();
    let mut plots = plot::report_plots_titled(&analysis, &run_info.host.hostname, &titles)?;
    if !facts.slowdowns.is_empty() {
        let g = plot::series::neighbour_cells(&facts.slowdowns);
        let p = plot::draw::NeighbourHeatmap {
            rows: &g.rows,
            cols: &g.cols,
            cells: &g.cells,
            subtitle: format!(
                "host {}; 1× = undisturbed, with 95% intervals; the antagonists' pressure is in the table",
                run_info.host.hostname
            ),
        };
        plots.push(plot::NamedImage {
            stem: "neighbours".into(),
            title: "noisy neighbours: victim slowdown per environment, placement and antagonist"
                .into(),
            image: plot::draw::render(&p)?,
        });
    }
    if !facts.density_series.is_empty() {
        let p = plot::draw::DensityPlot {
            series: &facts.density_series,
            subtitle: format!(
                "host {}; PSS of all of an instance's processes, measured after each launch",
                run_info.host.hostname
            ),
        };
        plots.push(plot::NamedImage {
            stem: "density".into(),
            title: "density: memory per instance and launch time against live instances".into(),
            image: plot::draw::render(&p)?,
        });
    }
    let mut warnings = load_warnings;
    warnings.extend(run_info.warnings.iter().cloned());
    if analysis.invalid_total() > 0 {
        warnings.push(format!(
            "{} result(s) were invalid (the kernel's self-check failed or the run failed) and are excluded from every figure; see the environments table",
            analysis.invalid_total()
        ));
    }
    let cx = ReportContext {
        info: run_info,
        analysis: &analysis,
        claims: &claims,
        warnings: warnings.clone(),
        plots: &plots,
        facts: &facts,
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
            bytes: tidy_csv.into_bytes(),
        },
        OutputFile {
            name: "summary.csv".into(),
            bytes: export::csv::to_csv(&analysis).into_bytes(),
        },
        OutputFile {
            name: "bencher.json".into(),
            bytes: export::bencher::to_bmf_string_with(&analysis, &facts).into_bytes(),
        },
        OutputFile {
            name: claims::json::CLAIMS_FILE.into(),
            bytes: claims::json::to_string(
                &claims,
                &[&run_info.run_id],
                &[&run_info.host.hostname],
            )
            .into_bytes(),
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
    let rendered = render_digest(digest_run_dir(run_dir)?)?;
    let paths = write_files(out_dir, &rendered.files)?;
    Ok((rendered, paths))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_isa_table_appears_where_cpu_records_carry_a_path() {
        let mut run = crate::testdata::fixture_run(3, 1.0);
        let md = |run: &Run| {
            let r = render(run, StatsOptions::default()).unwrap();
            let f = r.files.iter().find(|f| f.name == "summary.md").unwrap();
            String::from_utf8(f.bytes.clone()).unwrap()
        };
        assert!(!md(&run).contains("## ISA"), "no path recorded: no table");
        for r in run.records.iter_mut().filter(|r| r.workload == "cpu") {
            let native = r.env == "native";
            let path = if native { "avx2+fma" } else { "sse2" };
            r.info.insert("dgemm_path".into(), path.into());
            let variant = if native { "tuned" } else { "baseline" };
            r.info.insert("dgemm_variant".into(), variant.into());
            let g = r.metrics["gflops"];
            let base = if native {
                g / (2.5 + 0.01 * r.rep as f64)
            } else {
                g
            };
            r.metrics.insert("gflops_baseline".into(), base);
        }
        let text = md(&run);
        assert!(text.contains("## ISA"), "{text}");
        let row = text
            .lines()
            .skip_while(|l| !l.starts_with("## ISA"))
            .find(|l| l.starts_with("| native |"))
            .expect("a native row");
        assert!(
            row.contains("avx2+fma (tuned)") && row.contains("(n=3)"),
            "{row}"
        );
        assert!(row.contains("2.5"), "{row}");
        assert!(text.contains("sse2 (baseline)"), "{text}");
    }
}
