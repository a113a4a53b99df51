//! A report across several runs, hosts side by side (`isobench report RUN
//! RUN ...`, or `--run ID --run ID` from a history store): one column per
//! run, labelled by its host. Each run's figures are its own (geometric mean
//! with a 95% t interval, and its speed relative to native *on its own
//! host*); figures of different runs are placed next to each other, never
//! divided by each other: a difference between hosts is tested by `isobench
//! compare`, which refuses runs of different hosts unless forced.
//!
//! Output: `index.html` (one self-contained file), `summary.md`,
//! `results.csv` (long form: one row per run and figure) and one plot per
//! workload (`plots/hosts-<workload>.svg`/`.png`): bars of speed relative to
//! native per (metric, environment), one series per run.

use crate::digest::Digest;
use crate::export::html::{esc, svg_body, STYLE};
use crate::export::num;
use crate::output::OutputFile;
use crate::plot::draw::{self, BarsPlot};
use crate::plot::series::{Bar, BarChart};
use crate::plot::PlotError;
use std::collections::BTreeSet;
use std::fmt::Write;

/// Column labels of the runs: the host name, with the start time when a
/// host has several runs, and the run id when even that repeats.
pub fn column_labels(ds: &[Digest]) -> Vec<String> {
    let count =
        |f: &dyn Fn(&Digest) -> String, d: &Digest| ds.iter().filter(|x| f(x) == f(d)).count();
    let host = |d: &Digest| d.info.host.hostname.clone();
    let host_time = |d: &Digest| {
        format!(
            "{} {}",
            d.info.host.hostname,
            short_time(&d.info.started_at)
        )
    };
    ds.iter()
        .map(|d| {
            if count(&host, d) == 1 {
                host(d)
            } else if count(&host_time, d) == 1 {
                host_time(d)
            } else {
                format!("{} {}", d.info.host.hostname, d.info.run_id)
            }
        })
        .collect()
}

/// `2026-11-27T18:15:00Z` → `11-27 18:15`.
fn short_time(t: &str) -> String {
    t.get(5..16)
        .map(|s| s.replace('T', " "))
        .unwrap_or_else(|| t.to_string())
}

/// (workload, metric, env_id) of every figure of any run, in report order.
fn keys(ds: &[Digest]) -> Vec<(String, String, String)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for d in ds {
        for f in &d.analysis.figures {
            let k = (f.workload.clone(), f.metric.clone(), f.env_id.clone());
            if seen.insert(k.clone()) {
                out.push(k);
            }
        }
    }
    use crate::metric::{env_order, metric_order, workload_order};
    out.sort_by(|a, b| {
        workload_order(&a.0, &b.0)
            .then(metric_order(&a.1, &b.1))
            .then(env_order(&a.2, &b.2))
    });
    out
}

/// The per-workload chart: categories are (metric, environment) pairs
/// other than native, series are runs.
/// Returns the chart and the environment of each category.
pub fn host_chart(
    ds: &[Digest],
    labels: &[String],
    workload: &str,
) -> Option<(BarChart, Vec<String>)> {
    let mut cats: Vec<(String, String)> = Vec::new();
    for (_, m, e) in keys(ds).into_iter().filter(|k| k.0 == workload) {
        if e != crate::analysis::BASELINE && !cats.contains(&(m.clone(), e.clone())) {
            cats.push((m, e));
        }
    }
    let mut bars = Vec::new();
    for (ci, (m, e)) in cats.iter().enumerate() {
        for (ri, d) in ds.iter().enumerate() {
            let Some(r) = d.analysis.figure(e, workload, m).and_then(|f| f.vs_native) else {
                continue;
            };
            bars.push(Bar {
                metric: ci,
                env: ri,
                value: r.speed.point,
                lo: r.speed.lo,
                hi: r.speed.hi,
                points: vec![],
            });
        }
    }
    (!bars.is_empty()).then(|| {
        (
            BarChart {
                workload: workload.to_string(),
                metrics: cats.iter().map(|(m, _)| m.clone()).collect(),
                envs: labels.to_vec(),
                bars,
            },
            cats.into_iter().map(|(_, e)| e).collect(),
        )
    })
}

fn cell(d: &Digest, w: &str, m: &str, e: &str) -> (String, String) {
    let Some(f) = d.analysis.figure(e, w, m) else {
        return ("–".into(), "–".into());
    };
    let s = &f.summary;
    let abs = match s.ci {
        Some(c) => format!("{} [{}, {}] n={}", num(s.centre), num(c.lo), num(c.hi), s.n),
        None => format!("{} n={}", num(s.centre), s.n),
    };
    let rel = match f.vs_native {
        Some(r) => format!(
            "{:.3} [{:.3}, {:.3}]",
            r.speed.point, r.speed.lo, r.speed.hi
        ),
        None if e == crate::analysis::BASELINE => "1".into(),
        None => f.incomparable.clone().unwrap_or_else(|| "–".into()),
    };
    (abs, rel)
}

/// The note on what the figures are, and the table of the runs.
fn runs_section(ds: &[Digest], labels: &[String], md: &mut String, html: &mut String) {
    let note = "Each run's figures are its own: geometric mean with a 95% Student t interval on the logs (n repetitions), and speed relative to native on the same host (paired t interval). Figures of different runs are shown side by side and never divided by each other; `isobench compare` tests a difference (runs of different hosts only with --force).";
    let _ = writeln!(md, "{note}\n");
    let _ = write!(html, "<p class=\"note\">{}</p>", esc(note));

    // The runs.
    md.push_str("## Runs\n\n");
    html.push_str("<h2>Runs</h2>");
    table_head(
        md,
        html,
        &[
            "column", "run", "host", "CPU", "cores", "memory", "kernel", "started", "results",
        ],
    );
    for (d, l) in ds.iter().zip(labels) {
        let h = &d.info.host;
        let row = [
            l.clone(),
            d.info.run_id.clone(),
            format!(
                "{} ({})",
                h.hostname,
                &crate::history::host_fingerprint(h)[..8]
            ),
            h.cpu_model.clone(),
            h.cores_logical.to_string(),
            format!("{:.1} GiB", h.memory_bytes as f64 / (1u64 << 30) as f64),
            h.kernel.clone(),
            d.info.started_at.clone(),
            format!(
                "{}{}",
                d.lines,
                if d.info.finished_at.is_none() {
                    " (unfinished)"
                } else {
                    ""
                }
            ),
        ];
        table_row(md, html, &row);
    }
    let _ = writeln!(md);
    html.push_str("</table>");
}

/// Open a table in both forms: the Markdown header and its rule, and an
/// HTML `<table>` with its header row.
pub fn table_head(md: &mut String, html: &mut String, columns: &[&str]) {
    let _ = writeln!(
        md,
        "| {} |\n|{}",
        columns.join(" | "),
        "---|".repeat(columns.len())
    );
    let _ = write!(html, "<table><tr>{}</tr>", html_cells("th", columns));
}

/// One table row in both forms (the HTML cells escaped).
pub fn table_row(md: &mut String, html: &mut String, cells: &[String]) {
    let _ = writeln!(md, "| {} |", cells.join(" | "));
    let _ = write!(html, "<tr>{}</tr>", html_cells("td", cells));
}

/// `<TAG>cell</TAG>` for each cell, escaped.
fn html_cells(tag: &str, cells: &[impl AsRef<str>]) -> String {
    cells
        .iter()
        .map(|c| format!("<{tag}>{}</{tag}>", esc(c.as_ref())))
        .collect()
}

/// What a caller puts at the top of the report, under its title (e.g. the
/// per-target status of a fleet campaign): the same content as Markdown and
/// as an HTML fragment.
#[derive(Debug, Clone, Default)]
pub struct Preface {
    pub markdown: String,
    pub html: String,
}

/// Render the report of several runs, in memory.
pub fn render_multi(ds: &[Digest]) -> Result<Vec<OutputFile>, PlotError> {
    render_multi_with(ds, &Preface::default())
}

/// [`render_multi`] with `preface` under the title. No run at all gives the
/// preface and a line saying so.
pub fn render_multi_with(ds: &[Digest], preface: &Preface) -> Result<Vec<OutputFile>, PlotError> {
    let labels = column_labels(ds);
    let hosts: BTreeSet<&str> = ds.iter().map(|d| d.info.host.hostname.as_str()).collect();
    let mut workloads: Vec<String> = keys(ds).into_iter().map(|k| k.0).collect();
    workloads.dedup();
    let mut plots = Vec::new();
    for w in &workloads {
        let Some((chart, units)) = host_chart(ds, &labels, w) else {
            continue;
        };
        let p = BarsPlot {
            chart: &chart,
            title: format!("{w}: speed relative to native per host (higher is better)"),
            units,
            subtitle: format!(
                "{} runs on {} host(s); each bar is a run's own speed vs native on its host, 95% interval",
                ds.len(),
                hosts.len()
            ),
            colors: (0..chart.envs.len()).map(draw::env_color).collect(),
        };
        plots.push((format!("hosts-{w}"), p.title.clone(), draw::render(&p)?));
    }

    let mut md = String::new();
    let mut html = String::new();
    let mut csv = String::from(
        "run_id,hostname,host_fingerprint,env_id,workload,metric,unit,n,geomean,ci95_lo,ci95_hi,median,speed_vs_native,speed_ci95_lo,speed_ci95_hi\n",
    );
    let title = format!(
        "isobench: {} runs on {} host(s), side by side",
        ds.len(),
        hosts.len()
    );
    let _ = writeln!(md, "# {title}\n");
    let _ = write!(
        html,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>",
        esc(&title),
        esc(&title)
    );
    md.push_str(&preface.markdown);
    html.push_str(&preface.html);
    if ds.is_empty() {
        let none = "No run to show.";
        let _ = writeln!(md, "{none}");
        let _ = write!(html, "<p>{none}</p>");
    } else {
        runs_section(ds, &labels, &mut md, &mut html);
    }
    for d in ds {
        for w in &d.load_warnings {
            let _ = writeln!(md, "- warning ({}): {w}", d.info.run_id);
            let _ = write!(
                html,
                "<p class=\"warn\">warning ({}): {}</p>",
                esc(&d.info.run_id),
                esc(w)
            );
        }
    }

    // Figures, per workload.
    let all = keys(ds);
    for w in &workloads {
        let _ = writeln!(md, "## {w}\n");
        let _ = write!(html, "<h2>{}</h2>", esc(w));
        if let Some((_, t, img)) = plots.iter().find(|(s, _, _)| *s == format!("hosts-{w}")) {
            let _ = writeln!(md, "![{t}](plots/hosts-{w}.svg)\n");
            let _ = write!(html, "<figure>{}</figure>", svg_body(&img.svg));
        }
        let columns: Vec<&str> = ["metric", "environment"]
            .into_iter()
            .chain(labels.iter().map(String::as_str))
            .collect();
        table_head(&mut md, &mut html, &columns);
        for (_, m, e) in all.iter().filter(|k| k.0 == *w) {
            let unit = ds
                .iter()
                .find_map(|d| d.analysis.figure(e, w, m).map(|f| f.unit.clone()))
                .unwrap_or_default();
            let cells: Vec<(String, String)> = ds.iter().map(|d| cell(d, w, m, e)).collect();
            let _ = writeln!(
                md,
                "| {m} ({unit}) | {e} |{}",
                cells
                    .iter()
                    .map(|(a, r)| format!(" {a}; speed {r} |"))
                    .collect::<String>()
            );
            let _ = write!(
                html,
                "<tr><td>{} ({})</td><td>{}</td>{}</tr>",
                esc(m),
                esc(&unit),
                esc(e),
                cells
                    .iter()
                    .map(|(a, r)| format!(
                        "<td class=\"h\">{}<br><span class=\"note\">speed {}</span></td>",
                        esc(a),
                        esc(r)
                    ))
                    .collect::<String>()
            );
            for d in ds {
                let Some(f) = d.analysis.figure(e, w, m) else {
                    continue;
                };
                let s = &f.summary;
                let (lo, hi) = s.ci.map_or((String::new(), String::new()), |c| {
                    (c.lo.to_string(), c.hi.to_string())
                });
                let (sp, slo, shi) =
                    f.vs_native
                        .map_or((String::new(), String::new(), String::new()), |r| {
                            (
                                r.speed.point.to_string(),
                                r.speed.lo.to_string(),
                                r.speed.hi.to_string(),
                            )
                        });
                let _ = writeln!(
                    csv,
                    "{},{},{},{},{},{},{},{},{},{lo},{hi},{},{sp},{slo},{shi}",
                    crate::export::csv::field(&d.info.run_id),
                    crate::export::csv::field(&d.info.host.hostname),
                    crate::history::host_fingerprint(&d.info.host),
                    crate::export::csv::field(e),
                    crate::export::csv::field(w),
                    crate::export::csv::field(m),
                    crate::export::csv::field(&unit),
                    s.n,
                    s.centre,
                    s.median
                );
            }
        }
        let _ = writeln!(md);
        html.push_str("</table>");
    }
    html.push_str("</body></html>\n");

    let mut files = vec![
        OutputFile {
            name: "index.html".into(),
            bytes: html.into_bytes(),
        },
        OutputFile {
            name: "summary.md".into(),
            bytes: md.into_bytes(),
        },
        OutputFile {
            name: "results.csv".into(),
            bytes: csv.into_bytes(),
        },
    ];
    for (stem, _, img) in plots {
        files.push(OutputFile {
            name: format!("plots/{stem}.svg"),
            bytes: img.svg.into_bytes(),
        });
        files.push(OutputFile {
            name: format!("plots/{stem}.png"),
            bytes: img.png,
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;

    fn digest_on(host: &str, id: &str, scale: f64) -> Digest {
        let mut run = testdata::fixture_run(4, scale);
        run.info.host.hostname = host.into();
        run.info.run_id = id.into();
        Digest::of_run(&run)
    }

    #[test]
    fn hosts_are_columns_and_series() {
        let ds = vec![
            digest_on("epyc", "r1", 1.0),
            digest_on("xeon", "r2", 0.8),
            digest_on("xeon", "r3", 1.0),
        ];
        let labels = column_labels(&ds);
        assert_eq!(labels[0], "epyc");
        // Two runs of one host at the same time: told apart by run id.
        assert_eq!(labels[1], "xeon r2");
        let (chart, envs) = host_chart(&ds, &labels, "membw").unwrap();
        assert_eq!(envs.len(), chart.metrics.len());
        assert_eq!(chart.envs, labels);
        // Every run has a bar for every (metric, non-native env).
        assert_eq!(chart.bars.len(), 3 * chart.metrics.len());
        let files = render_multi(&ds).unwrap();
        let md = String::from_utf8(files[1].bytes.clone()).unwrap();
        assert!(
            md.contains("| metric | environment | epyc | xeon r2 | xeon r3 |"),
            "{md}"
        );
        let csv = String::from_utf8(files[2].bytes.clone()).unwrap();
        assert_eq!(
            csv.lines().filter(|l| l.starts_with("r2,xeon,")).count(),
            ds[1].analysis.figures.len()
        );
        assert!(files.iter().any(|f| f.name == "plots/hosts-membw.svg"));
        let html = String::from_utf8(files[0].bytes.clone()).unwrap();
        assert!(html.contains("<svg") && html.contains("3 runs on 2 host(s)"));
    }

    #[test]
    fn a_preface_stands_under_the_title_even_without_runs() {
        let p = Preface {
            markdown: "## Campaign c1\n\n".into(),
            html: "<h2>Campaign c1</h2>".into(),
        };
        let files = render_multi_with(&[digest_on("epyc", "r1", 1.0)], &p).unwrap();
        let md = String::from_utf8(files[1].bytes.clone()).unwrap();
        let at = md.find("## Campaign c1").expect("preface in summary.md");
        assert!(at < md.find("## Runs").unwrap(), "{md}");
        let files = render_multi_with(&[], &p).unwrap();
        let md = String::from_utf8(files[1].bytes.clone()).unwrap();
        assert!(
            md.contains("## Campaign c1") && md.contains("No run to show."),
            "{md}"
        );
        assert!(!md.contains("## Runs"), "{md}");
        let html = String::from_utf8(files[0].bytes.clone()).unwrap();
        assert!(
            html.contains("<h2>Campaign c1</h2><p>No run to show.</p>"),
            "{html}"
        );
    }
}
