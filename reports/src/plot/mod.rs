//! Plots of a run (shared/DESIGN.md, "Reports"): the series are computed in
//! [`series`] (pure, tested), then drawn by [`draw`] to SVG and PNG.

pub mod draw;
pub mod series;

use crate::analysis::Analysis;
pub use draw::{Image, PlotError};
use std::collections::BTreeMap;

/// A rendered plot and the file stem it is saved under.
#[derive(Debug, Clone)]
pub struct NamedImage {
    pub stem: String,
    pub title: String,
    pub image: Image,
}

/// `subtitle; note` when there is a note.
fn with_note(subtitle: &str, note: Option<String>) -> String {
    match note {
        Some(n) => format!("{subtitle}; {n}"),
        None => subtitle.to_string(),
    }
}

/// Every plot of a run: bars per workload (except latency and startup, which
/// have their own), the latency curve, and the startup distributions.
pub fn report_plots(a: &Analysis, hostname: &str) -> Result<Vec<NamedImage>, PlotError> {
    report_plots_titled(a, hostname, &BTreeMap::new())
}

/// [`report_plots`] with display titles per workload (e.g. membw →
/// `membw — STREAM (tuned: non-temporal stores)`); a workload without one is
/// titled by its name.
pub fn report_plots_titled(
    a: &Analysis,
    hostname: &str,
    titles: &BTreeMap<String, String>,
) -> Result<Vec<NamedImage>, PlotError> {
    let subtitle = series::host_title(a, hostname);
    let mut out = Vec::new();
    for w in a.workloads() {
        // Curves of their own (latency, copy-up, mount), distributions
        // (startup), or host counts with no environment to compare (layers).
        if ["latency", "startup", "copyup", "ovlmount", "layers"].contains(&w.as_str()) {
            continue;
        }
        let Some(chart) = series::bar_chart(a, &w) else {
            continue;
        };
        let units = chart
            .metrics
            .iter()
            .map(|m| {
                a.figure("native", &w, m)
                    .map(|f| f.unit.clone())
                    .unwrap_or_default()
            })
            .collect();
        // Each environment keeps its colour (from its id) in every plot.
        let label = titles.get(&w).cloned().unwrap_or_else(|| w.clone());
        let plot = draw::BarsPlot {
            chart: &chart,
            title: format!("{label}: speed relative to native (higher is better)"),
            units,
            subtitle: with_note(&subtitle, series::thinning_note(a, Some(&w))),
            colors: chart.envs.iter().map(|e| draw::env_color_of(e)).collect(),
        };
        out.push(NamedImage {
            stem: format!("bars-{w}"),
            title: plot.title.clone(),
            image: draw::render(&plot)?,
        });
    }
    let lines = series::latency_lines(a);
    if !lines.is_empty() {
        let plot = draw::LatencyPlot {
            lines: &lines,
            subtitle: subtitle.clone(),
        };
        out.push(NamedImage {
            stem: "latency".into(),
            title: "latency against working set".into(),
            image: draw::render(&plot)?,
        });
    }
    for kind in &series::CURVES {
        let lines = series::curve_lines(a, kind);
        if lines.is_empty() {
            continue;
        }
        let plot = draw::CurvePlot {
            kind,
            lines: &lines,
            subtitle: subtitle.clone(),
        };
        out.push(NamedImage {
            stem: kind.workload.to_string(),
            title: kind.title.to_string(),
            image: draw::render(&plot)?,
        });
    }
    let panels = series::startup_dists(a);
    if !panels.is_empty() {
        let plot = draw::StartupPlot {
            panels: &panels,
            subtitle: with_note(&subtitle, series::thinning_note(a, Some("startup"))),
        };
        out.push(NamedImage {
            stem: "startup".into(),
            title: "startup distributions".into(),
            image: draw::render(&plot)?,
        });
    }
    Ok(out)
}
