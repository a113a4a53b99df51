//! A report across several runs, hosts side by side (`isobench report RUN
//! RUN ...`, or `--run ID --run ID` from a history store): one column per
//! run, labelled by its host. Each run's figures are its own (geometric mean
//! with a 95% t interval, and its speed relative to native *on its own
//! host*); figures of different runs are placed next to each other, never
//! divided by each other: a difference between hosts is tested by `isobench
//! compare`, which refuses runs of different hosts unless forced.
//!
//! The claims come first, host by host side by side: each run's verdicts
//! are decided from its own data on its own host, and runs of one host that
//! measured different parts (the suite in one run, density in another) are
//! one column, each part from the run that measured it
//! ([`crate::claims::merge`]).
//!
//! Output: `index.html` (one self-contained file), `summary.md`,
//! `claims.json` (docs/claims.md: one entry per column), `results.csv`
//! (long form: one row per run and figure) and one plot per workload
//! (`plots/hosts-<workload>.svg`/`.png`): bars of speed relative to native
//! per (metric, environment), one series per run.

use crate::claims::{self, merge, short, ClaimResult};
use crate::digest::Digest;
use crate::export::html::{esc, svg_body, STYLE};
use crate::output::OutputFile;
use crate::plot::draw::{self, BarsPlot};
use crate::plot::series::{Bar, BarChart};
use crate::plot::PlotError;
use crate::text::{num, ratio_digits, times};
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
            "{} [{}, {}]",
            times(r.speed.point),
            ratio_digits(r.speed.lo),
            ratio_digits(r.speed.hi)
        ),
        None if e == crate::analysis::BASELINE => "1".into(),
        None => f.incomparable.clone().unwrap_or_else(|| "–".into()),
    };
    (abs, rel)
}

/// The claims of the runs as columns: one per run, or per group of runs of
/// one host that measured different parts ([`merge::columns`]; hosts told
/// apart by their fingerprint), with each column's heading.
pub fn claim_columns(ds: &[Digest]) -> (Vec<merge::Column>, Vec<String>) {
    let runs: Vec<(String, Vec<ClaimResult>)> = ds
        .iter()
        .map(|d| {
            (
                crate::history::host_fingerprint(&d.info.host),
                claims::evaluate_with(&d.analysis, Some(d.info.host.memory_bytes), &d.facts),
            )
        })
        .collect();
    let cols = merge::columns(&runs);
    // Headings: the host name; with the first run's start time when the
    // name repeats; with its run id when even that repeats.
    let first = |c: &merge::Column| &ds[c.runs[0]];
    let levels: [&dyn Fn(&merge::Column) -> String; 3] = [
        &|c| first(c).info.host.hostname.clone(),
        &|c| {
            let d = first(c);
            format!(
                "{} {}",
                d.info.host.hostname,
                short_time(&d.info.started_at)
            )
        },
        &|c| {
            let d = first(c);
            format!("{} {}", d.info.host.hostname, d.info.run_id)
        },
    ];
    let labels = cols
        .iter()
        .map(|c| {
            levels
                .iter()
                .map(|f| f(c))
                .enumerate()
                .find(|(i, l)| {
                    *i == levels.len() - 1
                        || cols.iter().filter(|o| levels[*i](o) == *l).count() == 1
                })
                .map(|(_, l)| l)
                .unwrap_or_default()
        })
        .collect();
    (cols, labels)
}

/// A Markdown table cell: no pipe or line break may end it early.
fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The claims, host by host: one line per claim and column (verdict and
/// deciding number), which runs each column holds, every part's verdict per
/// column, and what each column did not measure with the command that does.
fn claims_section(
    ds: &[Digest],
    cols: &[merge::Column],
    labels: &[String],
    md: &mut String,
    html: &mut String,
) {
    let Some(first) = cols.first() else {
        return;
    };
    let note = "Each column's verdicts are decided from its own runs on its own host, with the limits of docs/claims.md; hosts are never divided by each other. Runs of one host that measured different parts are one column (each part from the run that measured it; for C4 the density experiment outranks one instance's footprint, as in a single run); runs that decided the same part keep a column each. Every part's figures: claims.json.";
    md.push_str("## Claims\n\n");
    let _ = writeln!(md, "{note}\n");
    let _ = write!(
        html,
        "<h2 id=\"claims\">Claims</h2><p class=\"note\">{}</p>",
        esc(note)
    );
    let _ = writeln!(
        md,
        "| claim | {} |\n|---|{}",
        labels
            .iter()
            .map(|l| md_cell(l))
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(labels.len())
    );
    let _ = write!(
        html,
        "<table id=\"claims-columns\"><tr><th>claim</th>{}</tr>",
        html_cells("th", labels)
    );
    for (k, c) in first.claims.iter().enumerate() {
        let mut md_row = format!("| **{}** {} |", c.id, md_cell(short(c.id)));
        let _ = write!(
            html,
            "<tr><td><b>{}</b> {}</td>",
            esc(c.id),
            esc(short(c.id))
        );
        for col in cols {
            match col.claims.get(k).filter(|x| x.id == c.id) {
                Some(x) => {
                    let line = claims::claim_line(x);
                    let _ = write!(
                        md_row,
                        " **{}**: {} |",
                        md_cell(&x.verdict_text()),
                        md_cell(&line)
                    );
                    let _ = write!(
                        html,
                        "<td><b class=\"{}\">{}</b><br><span class=\"note\">{}</span></td>",
                        x.verdict.key(),
                        esc(&x.verdict_text()),
                        esc(&line)
                    );
                }
                None => {
                    md_row.push_str(" – |");
                    html.push_str("<td>–</td>");
                }
            }
        }
        let _ = writeln!(md, "{md_row}");
        html.push_str("</tr>");
    }
    let _ = writeln!(md);
    html.push_str("</table>");
    column_runs(ds, cols, labels, md, html);
    claims_by_part(cols, labels, md, html);
    not_measured(cols, labels, md, html);
}

/// Which runs each column holds.
fn column_runs(
    ds: &[Digest],
    cols: &[merge::Column],
    labels: &[String],
    md: &mut String,
    html: &mut String,
) {
    html.push_str("<ul class=\"note\">");
    for (col, l) in cols.iter().zip(labels) {
        let runs: Vec<String> = col
            .runs
            .iter()
            .map(|&i| format!("{} ({} results)", ds[i].info.run_id, ds[i].lines))
            .collect();
        let h = &ds[col.runs[0]].info.host;
        let line = format!(
            "{l}: host {} ({}); {} {}",
            h.hostname,
            &crate::history::host_fingerprint(h)[..8],
            if runs.len() == 1 { "run" } else { "runs" },
            runs.join(", ")
        );
        let _ = writeln!(md, "- {}", md_cell(&line));
        let _ = write!(html, "<li>{}</li>", esc(&line));
    }
    let _ = writeln!(md);
    html.push_str("</ul>");
}

/// Every part, side by side.
fn claims_by_part(cols: &[merge::Column], labels: &[String], md: &mut String, html: &mut String) {
    let Some(first) = cols.first() else {
        return;
    };
    md.push_str("### Claims by part\n\n");
    html.push_str("<h3 id=\"claims-parts\">Claims by part</h3>");
    let columns: Vec<&str> = ["claim", "part"]
        .into_iter()
        .chain(labels.iter().map(String::as_str))
        .collect();
    table_head(md, html, &columns);
    for (k, c) in first.claims.iter().enumerate() {
        // Parts in the order the columns first name them.
        let mut part_labels: Vec<&str> = Vec::new();
        for col in cols {
            if let Some(x) = col.claims.get(k).filter(|x| x.id == c.id) {
                for p in &x.parts {
                    if !part_labels.contains(&p.label.as_str()) {
                        part_labels.push(&p.label);
                    }
                }
            }
        }
        for pl in part_labels {
            let cells: Vec<(String, &str)> = cols
                .iter()
                .map(|col| {
                    col.claims
                        .get(k)
                        .filter(|x| x.id == c.id)
                        .and_then(|x| x.parts.iter().find(|p| p.label == pl))
                        .map_or(("–".to_string(), ""), |p| {
                            (p.verdict_text(), p.verdict.key())
                        })
                })
                .collect();
            let _ = writeln!(
                md,
                "| {} | {} |{}",
                c.id,
                md_cell(pl),
                cells
                    .iter()
                    .map(|(t, _)| format!(" {} |", md_cell(t)))
                    .collect::<String>()
            );
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td>{}</tr>",
                esc(c.id),
                esc(pl),
                cells
                    .iter()
                    .map(|(t, k)| format!("<td class=\"{k}\">{}</td>", esc(t)))
                    .collect::<String>()
            );
        }
    }
    let _ = writeln!(md);
    html.push_str("</table>");
}

/// What each column lacks, once, with the command that measures it.
fn not_measured(cols: &[merge::Column], labels: &[String], md: &mut String, html: &mut String) {
    let lacking: Vec<(String, Vec<claims::Unmeasured>)> = cols
        .iter()
        .zip(labels)
        .map(|(c, l)| (l.clone(), claims::unmeasured(&c.claims)))
        .filter(|(_, u)| !u.is_empty())
        .collect();
    if !lacking.is_empty() {
        md.push_str("### Not measured\n\n");
        html.push_str("<h3 id=\"claims-missing\">Not measured</h3><ul>");
        for (l, us) in lacking {
            let what: Vec<String> = us
                .iter()
                .map(|u| {
                    format!(
                        "{} ({}) — `{}`",
                        u.claims.join(", "),
                        if u.wholly { "not measured" } else { "partly" },
                        u.command
                    )
                })
                .collect();
            let _ = writeln!(md, "- {}: {}", md_cell(&l), md_cell(&what.join("; ")));
            let _ = write!(
                html,
                "<li>{}: {}</li>",
                esc(&l),
                us.iter()
                    .map(|u| format!(
                        "{} ({}) — <code>{}</code>",
                        esc(&u.claims.join(", ")),
                        if u.wholly { "not measured" } else { "partly" },
                        esc(u.command)
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        let _ = writeln!(md);
        html.push_str("</ul>");
    }
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

/// `claims.json` of the columns (docs/claims.md).
fn claims_json(ds: &[Digest], cols: &[merge::Column], labels: &[String]) -> String {
    let ids: Vec<Vec<&str>> = cols
        .iter()
        .map(|c| c.runs.iter().map(|&i| ds[i].info.run_id.as_str()).collect())
        .collect();
    let columns: Vec<claims::json::ClaimsColumn> = cols
        .iter()
        .zip(labels)
        .zip(&ids)
        .map(|((c, l), ids)| claims::json::ClaimsColumn {
            label: l,
            host: &ds[c.runs[0]].info.host.hostname,
            run_ids: ids,
            claims: &c.claims,
        })
        .collect();
    claims::json::pretty(&claims::json::columns_value(&columns))
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
    let plots = host_plots(ds, &labels, &workloads, hosts.len())?;

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
    let (claim_cols, claim_labels) = claim_columns(ds);
    if ds.is_empty() {
        let none = "No run to show.";
        let _ = writeln!(md, "{none}");
        let _ = write!(html, "<p>{none}</p>");
    } else {
        claims_section(ds, &claim_cols, &claim_labels, &mut md, &mut html);
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
    let all = keys(ds);
    for w in &workloads {
        let plot = plots.iter().find(|(s, _, _)| *s == format!("hosts-{w}"));
        let mut out = Out {
            md: &mut md,
            html: &mut html,
            csv: &mut csv,
        };
        workload_section(ds, &labels, &all, w, plot, &mut out);
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
        OutputFile {
            name: claims::json::CLAIMS_FILE.into(),
            bytes: claims_json(ds, &claim_cols, &claim_labels).into_bytes(),
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

/// A plot of a report: its stem, title and image.
type StemPlot = (String, String, crate::plot::Image);

/// Per workload, the speed relative to native of every run, host by host.
fn host_plots(
    ds: &[Digest],
    labels: &[String],
    workloads: &[String],
    hosts: usize,
) -> Result<Vec<StemPlot>, PlotError> {
    let mut plots = Vec::new();
    for w in workloads {
        let Some((chart, units)) = host_chart(ds, labels, w) else {
            continue;
        };
        let p = BarsPlot {
            chart: &chart,
            title: format!("{w}: speed relative to native per host (higher is better)"),
            units,
            subtitle: format!(
                "{} runs on {} host(s); each bar is a run's own speed vs native on its host, 95% interval",
                ds.len(),
                hosts
            ),
            colors: (0..chart.envs.len()).map(draw::env_color).collect(),
        };
        plots.push((format!("hosts-{w}"), p.title.clone(), draw::render(&p)?));
    }
    Ok(plots)
}

/// The three texts a multi-run report writes as it goes.
struct Out<'a> {
    md: &'a mut String,
    html: &'a mut String,
    csv: &'a mut String,
}

/// A workload's figures: its plot, one row per (metric, environment) with
/// a cell per run, and the CSV rows of every run's figure.
fn workload_section(
    ds: &[Digest],
    labels: &[String],
    all: &[(String, String, String)],
    w: &str,
    plot: Option<&StemPlot>,
    out: &mut Out,
) {
    let (md, html) = (&mut *out.md, &mut *out.html);
    let _ = writeln!(md, "## {w}\n");
    let _ = write!(html, "<h2>{}</h2>", esc(w));
    if let Some((_, t, img)) = plot {
        let _ = writeln!(md, "![{t}](plots/hosts-{w}.svg)\n");
        let _ = write!(html, "<figure>{}</figure>", svg_body(&img.svg));
    }
    let columns: Vec<&str> = ["metric", "environment"]
        .into_iter()
        .chain(labels.iter().map(String::as_str))
        .collect();
    table_head(md, html, &columns);
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
            if let Some(f) = d.analysis.figure(e, w, m) {
                csv_row(out.csv, d, f, &unit);
            }
        }
    }
    let _ = writeln!(out.md);
    out.html.push_str("</table>");
}

/// One figure of one run as a row of `results.csv`.
fn csv_row(csv: &mut String, d: &Digest, f: &crate::analysis::Figure, unit: &str) {
    let s = &f.summary;
    let (lo, hi) = s.ci.map_or((String::new(), String::new()), |c| {
        (c.lo.to_string(), c.hi.to_string())
    });
    let (sp, slo, shi) = f
        .vs_native
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
        crate::tidy::field(&d.info.run_id),
        crate::tidy::field(&d.info.host.hostname),
        crate::history::host_fingerprint(&d.info.host),
        crate::tidy::field(&f.env_id),
        crate::tidy::field(&f.workload),
        crate::tidy::field(&f.metric),
        crate::tidy::field(unit),
        s.n,
        s.centre,
        s.median
    );
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

    /// The old main job's runs of one host (suite, density) are one column
    /// of claims; another host's run is the next; claims.json says which
    /// runs each column holds, and the claims come before the runs.
    #[test]
    fn claims_stand_host_by_host_with_runs_of_a_host_merged() {
        let suite = digest_on("epyc", "r1", 1.0);
        let mut dens = testdata::fixture_run(1, 1.0);
        dens.records = testdata::density_records("container-isorun", "", 200, 0.3, 0.5);
        dens.info.host.hostname = "epyc".into();
        dens.info.run_id = "r2".into();
        let dens = Digest::of_run(&dens);
        let other = digest_on("xeon", "r3", 0.8);
        let ds = vec![suite, dens, other];
        let (cols, labels) = claim_columns(&ds);
        assert_eq!(labels, vec!["epyc", "xeon"]);
        assert_eq!(cols[0].runs, vec![0, 1]);
        let files = render_multi(&ds).unwrap();
        let md = String::from_utf8(files[1].bytes.clone()).unwrap();
        assert!(md.contains("| claim | epyc | xeon |"), "{md}");
        let at = md.find("## Claims").expect("claims section");
        assert!(at < md.find("## Runs").unwrap(), "{md}");
        // C4 decided from the density run in epyc's column, not in xeon's.
        let c4 = md
            .lines()
            .find(|l| l.starts_with("| **C4**"))
            .expect("a C4 row");
        let cells: Vec<&str> = c4.split(" | ").collect();
        assert!(!cells[1].contains("not measured"), "{c4}");
        assert!(cells[2].contains("not measured"), "{c4}");
        assert!(
            md.contains("- epyc: host epyc") && md.contains("runs r1 (") && md.contains(", r2 ("),
            "{md}"
        );
        assert!(
            md.contains("### Not measured") && md.contains("`isobench run --experiment density`"),
            "{md}"
        );
        let json = files
            .iter()
            .find(|f| f.name == claims::json::CLAIMS_FILE)
            .expect("claims.json");
        let v: serde_json::Value = serde_json::from_slice(&json.bytes).unwrap();
        assert_eq!(v["schema"], claims::json::CLAIMS_SCHEMA);
        assert_eq!(v["run_ids"], serde_json::json!(["r1", "r2", "r3"]));
        assert_eq!(v["hosts"], serde_json::json!(["epyc", "xeon"]));
        let jc = v["columns"].as_array().unwrap();
        assert_eq!(jc.len(), 2);
        assert_eq!(jc[0]["run_ids"], serde_json::json!(["r1", "r2"]));
        let verdict = |col: usize, id: &str| {
            jc[col]["claims"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == id)
                .unwrap()["verdict"]
                .clone()
        };
        assert_ne!(verdict(0, "C4"), "not-measured");
        assert_eq!(verdict(1, "C4"), "not-measured");
        // C1 in epyc's column is the suite run's own verdict.
        let own = claims::evaluate_with(
            &ds[0].analysis,
            Some(ds[0].info.host.memory_bytes),
            &ds[0].facts,
        );
        assert_eq!(verdict(0, "C1"), own[0].verdict.key());
        let html = String::from_utf8(files[0].bytes.clone()).unwrap();
        assert!(html.contains("<h2 id=\"claims\">Claims</h2>"), "{html}");
        assert!(html.contains("<th>epyc</th><th>xeon</th>"), "{html}");
    }

    /// Two runs of one host that decided the same parts (before and after
    /// a change) keep a column each, told apart by when they started.
    #[test]
    fn runs_of_a_host_that_decided_the_same_parts_stay_apart() {
        let mut a = testdata::fixture_run(4, 1.0);
        a.info.run_id = "r1".into();
        let mut b = testdata::fixture_run(4, 0.5);
        b.info.run_id = "r2".into();
        b.info.started_at = "2026-11-28T09:00:00Z".into();
        let ds = vec![Digest::of_run(&a), Digest::of_run(&b)];
        let (cols, labels) = claim_columns(&ds);
        assert_eq!(cols.len(), 2);
        assert_eq!(
            labels,
            vec!["bench-host 11-27 18:15", "bench-host 11-28 09:00"]
        );
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
