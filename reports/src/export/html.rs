//! `index.html`: one self-contained page (no external `src` or `href`; plots
//! are inline SVG) with the host facts, the configuration, every figure, the
//! plots and the claims section.

use super::{
    emulation_banner, env_not_comparable, envs_of_workload, figure_params, headline_cell,
    headline_columns, interval_methods, not_comparable, ratio, ReportContext, WorkloadEnvs,
};
use crate::claims::{claim_line, env_emulated, short};
use crate::text::num;
use crate::value::{cv_pct, median_ci, ratio_text, vs_native};
use std::fmt::Write;

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) const STYLE: &str = "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}\
table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px;vertical-align:top}\
th{background:#f0f0f0;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}td.h{text-align:right;font-variant-numeric:tabular-nums;min-width:7em}\
figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}\
.supported{color:#1a7f37}.not-supported{color:#c62828}.not-measured{color:#777}.not-testable{color:#9a6700}.inconclusive{color:#6a4fb3}.information{color:#00796b}\
.banner{background:#fff4e5;border:2px solid #e0a030;padding:0.8em 1em;margin:1em 0;font-size:15px}\
.note{color:#555;font-size:13px}.emu{background:#fff8ec}\
pre{background:#f6f6f6;padding:1em;overflow:auto}ul.claims{list-style:none;padding-left:0;font-size:15px}ul.claims li{margin:0.25em 0}.deciding{display:block;margin-left:2.2em;color:#444;font-size:13px}\
nav#contents{font-size:14px;columns:2;background:#fafafa;border:1px solid #ddd;padding:0.5em 1em;margin:1em 0}nav#contents ul{margin:0.2em 0;padding-left:1.2em}.warn{color:#9a6700}ul.cites{font-size:13px;color:#333}";

pub(crate) fn svg_body(svg: &str) -> &str {
    // Drop an XML declaration if the backend wrote one: it is not allowed
    // inside HTML.
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

pub fn to_html(cx: &ReportContext) -> String {
    let mut s = String::new();
    let info = cx.info;
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>isobench run {}</title><style>{STYLE}</style></head><body>\n",
        esc(&info.run_id)
    );
    let _ = writeln!(
        s,
        "<h1>isobench run <code>{}</code></h1>",
        esc(&info.run_id)
    );
    let h = &info.host;
    let _ = writeln!(
        s,
        "<p class=\"note\">Host {}: {}, {} logical cores, {:.1} GiB; started {}. Host details, environments, warnings and the method are at the end.</p>",
        esc(&h.hostname),
        esc(&h.cpu_model),
        h.cores_logical,
        h.memory_bytes as f64 / (1u64 << 30) as f64,
        esc(&info.started_at)
    );
    claims_overview(&mut s, cx);
    if let Some(b) = emulation_banner(cx) {
        let _ = writeln!(
            s,
            "<div class=\"banner\" id=\"emulation\"><b>Emulated VMs.</b> {}</div>",
            esc(&b)
        );
    }
    contents(&mut s, cx);
    headline(&mut s, cx);
    claims_summary(&mut s, cx);
    per_workload(&mut s, cx);
    experiment_tables(&mut s, cx);
    plots(&mut s, cx);
    claims_detail(&mut s, cx);
    host_and_envs(&mut s, cx);
    warnings(&mut s, cx);
    method(&mut s, cx);
    every_figure(&mut s, cx);
    let _ = writeln!(s, "</body></html>");
    s
}

/// The tables of the ISA paths and of the experiments, each when the run
/// has them.
fn experiment_tables(s: &mut String, cx: &ReportContext) {
    if let Some(t) = super::isa_table(cx) {
        table(s, "isa", "ISA", super::ISA_NOTE, t, usize::MAX);
    }
    if let Some(t) = super::density_table(cx) {
        table(s, "density", "Density", super::DENSITY_NOTE, t, 1);
    }
    if let Some(t) = super::permission_table(cx) {
        table(
            s,
            "permissions",
            "Who may act on whose containers",
            crate::permissions::NOTE,
            t,
            usize::MAX,
        );
    }
    if let Some(t) = super::neighbour_table(cx) {
        table(
            s,
            "neighbours",
            "Noisy neighbours",
            super::NEIGHBOUR_NOTE,
            t,
            2,
        );
    }
}

/// A section of one table under its note; cells from column `numeric_from`
/// on are numbers (right-aligned).
fn table(
    s: &mut String,
    id: &str,
    title: &str,
    note: &str,
    (head, rows): (Vec<String>, Vec<Vec<String>>),
    numeric_from: usize,
) {
    let _ = writeln!(
        s,
        "<h2 id=\"{id}\">{title}</h2><p class=\"note\">{}</p><table><tr>{}</tr>",
        esc(note),
        head.iter()
            .map(|h| format!("<th>{}</th>", esc(h)))
            .collect::<String>()
    );
    for r in rows {
        let _ = writeln!(
            s,
            "<tr>{}</tr>",
            r.iter()
                .enumerate()
                .map(|(i, c)| if i < numeric_from {
                    format!("<td>{}</td>", esc(c))
                } else {
                    format!("<td class=\"n\">{}</td>", esc(c))
                })
                .collect::<String>()
        );
    }
    let _ = writeln!(s, "</table>");
}

/// Every plot, inline SVG with its caption.
fn plots(s: &mut String, cx: &ReportContext) {
    if !cx.plots.is_empty() {
        let _ = writeln!(s, "<h2 id=\"plots\">Plots</h2>");
    }
    for p in cx.plots {
        let _ = writeln!(
            s,
            "<figure id=\"plot-{}\">{}<figcaption>{}</figcaption></figure>",
            esc(&p.stem),
            svg_body(&p.image.svg),
            esc(&p.title)
        );
    }
}

fn warnings(s: &mut String, cx: &ReportContext) {
    if cx.warnings.is_empty() {
        return;
    }
    let _ = writeln!(s, "<h2 id=\"warnings\">Warnings</h2><ul>");
    for w in &cx.warnings {
        let _ = writeln!(s, "<li class=\"warn\">{}</li>", esc(w));
    }
    let _ = writeln!(s, "</ul>");
}

fn env_head(cx: &ReportContext, env_id: &str) -> String {
    let a = cx.analysis;
    let accel = a
        .env(env_id)
        .and_then(|x| x.accel())
        .map(|x| format!(" ({x})"))
        .unwrap_or_default();
    let emu = if env_emulated(a, env_id) {
        " <small>emulated</small>"
    } else {
        ""
    };
    format!("{}{}{emu}", esc(env_id), esc(&accel))
}

fn headline(s: &mut String, cx: &ReportContext) {
    let a = cx.analysis;
    let cols = headline_columns(cx);
    if cols.is_empty() {
        return;
    }
    let _ = writeln!(s, "<h2 id=\"speed\">Speed relative to native</h2>");
    // Workloads down, environments across: a run has few environments, so
    // the table stays narrow.
    let _ = write!(s, "<table id=\"headline\"><tr><th>headline metric</th>");
    for e in &a.envs {
        let class = if env_emulated(a, &e.env_id) {
            " class=\"emu\""
        } else {
            ""
        };
        let _ = write!(s, "<th{class}>{}</th>", env_head(cx, &e.env_id));
    }
    let _ = writeln!(s, "</tr>");
    for c in &cols {
        let _ = write!(s, "<tr><td>{}</td>", esc(&c.title));
        for e in &a.envs {
            let class = if env_emulated(a, &e.env_id) {
                "h emu"
            } else {
                "h"
            };
            let _ = write!(
                s,
                "<td class=\"{class}\">{}</td>",
                esc(&headline_cell(cx, &e.env_id, c))
            );
        }
        let _ = writeln!(s, "</tr>");
    }
    let _ = writeln!(
        s,
        "</table><p class=\"note\">Speed relative to native: 1.00× = native, higher is better; latency and startup ratios read \"× slower\" (2.0× slower = twice native's time), or \"× faster\" when they beat native. Ratio of geometric means with its 95% interval ({}) and the number of valid repetitions n; \"no interval\" when n=1. Startup and footprint are absolute geometric means. \"not comparable\": the environment ran the workload with other parameters, so no ratio is computed.</p>",
        esc(&interval_methods(a))
    );
}

/// The first screen: one line per claim with its verdict and the number
/// that decided it.
fn claims_overview(s: &mut String, cx: &ReportContext) {
    if cx.claims.is_empty() {
        return;
    }
    if !super::any_claim_measured(cx) {
        let _ = writeln!(
            s,
            "<h2 id=\"claims\">Claims</h2><p class=\"note\">{}</p>",
            code_spans(&esc(super::NO_CLAIM))
        );
        return;
    }
    let _ = writeln!(s, "<h2 id=\"claims\">Claims</h2><ul class=\"claims\">");
    for c in cx.claims {
        let _ = writeln!(
            s,
            "<li><a href=\"#claim-{id}\"><b>{id}</b></a> {} — <b class=\"{}\">{}</b><span class=\"deciding\">{}</span></li>",
            esc(short(c.id)),
            c.verdict.key(),
            esc(&c.verdict_text()),
            esc(&claim_line(c)),
            id = c.id
        );
    }
    let _ = writeln!(s, "</ul><p class=\"note\">Every part of each claim, its limits and the figures behind it: <a href=\"#claims-summary\">claims by part</a> and <a href=\"#claims-detail\">claims in detail</a>.</p>");
}

/// The sections of the page, in order, for the table of contents: (id, title).
fn sections(cx: &ReportContext) -> Vec<(String, String)> {
    let a = cx.analysis;
    let mut v: Vec<(String, String)> = Vec::new();
    let mut add = |id: &str, title: &str| v.push((id.to_string(), title.to_string()));
    if !headline_columns(cx).is_empty() {
        add("speed", "Speed relative to native");
    }
    if super::any_claim_measured(cx) {
        add("claims-summary", "Claims by part");
    }
    if !a.figures.is_empty() {
        add("workloads", "Per workload");
        for w in a.workloads() {
            v.push((
                format!("w-{w}"),
                format!("— {}", cx.facts.workload_title(a, &w)),
            ));
        }
    }
    if super::isa_table(cx).is_some() {
        v.push(("isa".into(), "ISA".into()));
    }
    if super::density_table(cx).is_some() {
        v.push(("density".into(), "Density".into()));
    }
    if super::permission_table(cx).is_some() {
        v.push((
            "permissions".into(),
            "Who may act on whose containers".into(),
        ));
    }
    if super::neighbour_table(cx).is_some() {
        v.push(("neighbours".into(), "Noisy neighbours".into()));
    }
    if !cx.plots.is_empty() {
        v.push(("plots".into(), "Plots".into()));
        for p in cx.plots {
            v.push((format!("plot-{}", p.stem), format!("— {}", p.title)));
        }
    }
    if super::any_claim_measured(cx) {
        v.push(("claims-detail".into(), "Claims in detail".into()));
    }
    v.push(("host".into(), "Host".into()));
    v.push(("environments".into(), "Environments".into()));
    if !cx.warnings.is_empty() {
        v.push(("warnings".into(), "Warnings".into()));
    }
    v.push(("method".into(), "How it was measured".into()));
    if !a.figures.is_empty() {
        v.push(("figures".into(), "Every figure".into()));
    }
    v
}

fn contents(s: &mut String, cx: &ReportContext) {
    let _ = write!(s, "<nav id=\"contents\"><b>Contents</b><ul>");
    let mut sub = false;
    for (id, title) in sections(cx) {
        match title.strip_prefix("— ") {
            Some(t) => {
                if !sub {
                    let _ = write!(s, "<ul>");
                    sub = true;
                }
                let _ = write!(s, "<li><a href=\"#{}\">{}</a></li>", esc(&id), esc(t));
            }
            None => {
                if sub {
                    let _ = write!(s, "</ul>");
                    sub = false;
                }
                let _ = write!(s, "<li><a href=\"#{}\">{}</a></li>", esc(&id), esc(&title));
            }
        }
    }
    if sub {
        let _ = write!(s, "</ul>");
    }
    let _ = writeln!(s, "</ul></nav>");
}

/// Markdown's `code` spans of an escaped text as `<code>` elements.
fn code_spans(escaped: &str) -> String {
    let mut out = String::new();
    for (i, piece) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(piece);
            out.push_str("</code>");
        } else {
            out.push_str(piece);
        }
    }
    out
}

fn claims_summary(s: &mut String, cx: &ReportContext) {
    if !super::any_claim_measured(cx) {
        return;
    }
    let _ = writeln!(
        s,
        "<h2 id=\"claims-summary\">Claims by part</h2><table id=\"claims-parts\"><tr><th>claim</th><th>verdict</th><th>parts</th></tr>"
    );
    for c in cx.claims {
        let parts: Vec<String> = c
            .parts
            .iter()
            .map(|p| {
                format!(
                    "<span class=\"{}\">{}</span>",
                    p.verdict.key(),
                    esc(&p.cell_text())
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "<tr><td><a id=\"sum-{id}\"></a><b>{id}</b> {}</td><td class=\"{}\"><b>{}</b></td><td class=\"note\">{}</td></tr>",
            esc(short(c.id)),
            c.verdict.key(),
            esc(&c.verdict_text()),
            parts.join("<br>"),
            id = c.id
        );
    }
    let _ = writeln!(s, "</table><p class=\"note\">The numbers behind each verdict and the figures that decided it: see <i>Claims in detail</i> below.</p>");
}

fn per_workload(s: &mut String, cx: &ReportContext) {
    let a = cx.analysis;
    if a.figures.is_empty() {
        // An experiment-only run (density, neighbours) has no such figures.
        return;
    }
    let _ = writeln!(s, "<h2 id=\"workloads\">Per workload</h2><p class=\"note\">Geometric mean of the valid repetitions with its 95% interval and n; below it, speed relative to native (higher is better; latency and startup as × slower) with its interval. Environments that ran with other parameters than native are listed apart, without ratios.</p>");
    for w in a.workloads() {
        let WorkloadEnvs {
            all: envs,
            same,
            apart,
        } = envs_of_workload(cx, &w);
        let _ = write!(
            s,
            "<h3 id=\"w-{}\">{}</h3><table class=\"workload\"><tr><th>metric</th>",
            esc(&w),
            esc(&cx.facts.workload_title(a, &w))
        );
        for e in &same {
            let _ = write!(s, "<th>{}</th>", env_head(cx, e));
        }
        let _ = writeln!(s, "</tr>");
        for m in a.metrics(&w) {
            let unit = envs
                .iter()
                .find_map(|e| a.figure(e, &w, &m))
                .map(|f| f.unit.clone())
                .unwrap_or_default();
            let _ = write!(s, "<tr><td>{} ({})</td>", esc(&m), esc(&unit));
            for e in &same {
                match a.figure(e, &w, &m) {
                    Some(f) => {
                        let rel = ratio(cx, f)
                            .map(|v| format!("<br><small>{}</small>", esc(&ratio_text(f, &v))))
                            .unwrap_or_default();
                        let _ = write!(s, "<td class=\"n\">{}{rel}</td>", esc(&median_ci(f)));
                    }
                    None => {
                        let _ = write!(s, "<td class=\"n\">–</td>");
                    }
                }
            }
            let _ = writeln!(s, "</tr>");
        }
        let _ = writeln!(s, "</table>");
        let _ = writeln!(
            s,
            "<table class=\"params\"><tr><th colspan=\"2\">Parameters</th></tr>"
        );
        for e in &envs {
            let p = figure_params(cx, e, &w);
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td></tr>",
                env_head(cx, e),
                esc(&p)
            );
        }
        let _ = writeln!(s, "</table>");
        if !apart.is_empty() {
            let _ = writeln!(s, "<h4>Not comparable with native (different parameters)</h4><table class=\"apart\"><tr><th>environment</th><th>how it differs</th><th>metric</th><th>geo. mean [95% CI] (n)</th></tr>");
            for e in &apart {
                let why = env_not_comparable(cx, e, &w).unwrap_or_default();
                for m in a.metrics(&w) {
                    if let Some(f) = a.figure(e, &w, &m) {
                        let _ = writeln!(
                            s,
                            "<tr><td>{}</td><td>{}</td><td>{} ({})</td><td class=\"n\">{}</td></tr>",
                            env_head(cx, e),
                            esc(&why),
                            esc(&m),
                            esc(&f.unit),
                            esc(&median_ci(f))
                        );
                    }
                }
            }
            let _ = writeln!(s, "</table>");
        }
    }
}

fn claims_detail(s: &mut String, cx: &ReportContext) {
    if !super::any_claim_measured(cx) {
        return;
    }
    let _ = writeln!(s, "<h2 id=\"claims-detail\">Claims in detail</h2>");
    for c in cx.claims {
        let _ = writeln!(
            s,
            "<h3 id=\"claim-{id}\">{id}: <span class=\"{}\">{}</span></h3><p><i>{}</i></p><ul>",
            c.verdict.key(),
            esc(&c.verdict_text()),
            esc(c.claim),
            id = c.id
        );
        for p in &c.parts {
            let _ = write!(
                s,
                "<li><b>{}</b> — <span class=\"{}\">{}</span>",
                esc(&p.label),
                p.verdict.key(),
                esc(&p.verdict_text())
            );
            if !p.text.is_empty() {
                let _ = write!(s, "<br>{}", esc(&p.text));
            }
            if let Some(m) = &p.missing {
                let _ = write!(
                    s,
                    "<br><span class=\"not-measured\">Would be measured by: {}.</span>",
                    esc(m)
                );
            }
            if !p.figures.is_empty() {
                let _ = write!(s, "<ul class=\"cites\">");
                for f in &p.figures {
                    let _ = write!(s, "<li>{}</li>", esc(&f.text()));
                }
                let _ = write!(s, "</ul>");
            }
            let _ = writeln!(s, "</li>");
        }
        let _ = writeln!(s, "</ul>");
    }
}

fn host_and_envs(s: &mut String, cx: &ReportContext) {
    let info = cx.info;
    let h = &info.host;
    let _ = writeln!(s, "<h2 id=\"host\">Host</h2><table>");
    let caches: Vec<String> = h
        .caches
        .iter()
        .map(|c| {
            format!(
                "L{} {} {}",
                c.level,
                c.kind,
                crate::metric::format_size(c.size_bytes)
            )
        })
        .collect();
    let kvm = format!(
        "{}{}",
        if h.kvm.device {
            "/dev/kvm present"
        } else {
            "no /dev/kvm"
        },
        h.kvm
            .module
            .as_ref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default()
    );
    let rows: [(&str, String); 12] = [
        ("hostname", h.hostname.clone()),
        ("CPU", h.cpu_model.clone()),
        ("MHz", format!("{:.0}", h.cpu_mhz)),
        (
            "cores",
            format!(
                "{} logical{}",
                h.cores_logical,
                h.cores_physical
                    .map(|p| format!(", {p} physical"))
                    .unwrap_or_default()
            ),
        ),
        ("caches", caches.join(", ")),
        (
            "memory",
            format!("{:.1} GiB", h.memory_bytes as f64 / (1u64 << 30) as f64),
        ),
        ("kernel", h.kernel.clone()),
        ("OS", h.os.clone()),
        ("cgroup", h.cgroup.clone()),
        ("KVM", kvm),
        (
            "isobench",
            format!(
                "{}{}",
                info.tool.isobench_version,
                info.tool
                    .git_commit
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
        ),
        (
            "run",
            format!(
                "started {}{}",
                info.started_at,
                info.finished_at
                    .as_ref()
                    .map(|f| format!(", finished {f}"))
                    .unwrap_or_default()
            ),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(s, "<tr><th>{}</th><td>{}</td></tr>", k, esc(&v));
    }
    let _ = writeln!(s, "</table>");
    let _ = writeln!(s, "<h2 id=\"environments\">Environments</h2><table><tr><th>environment</th><th>class</th><th>detail</th><th>valid</th><th>invalid</th><th>first errors</th></tr>");
    for e in &cx.analysis.envs {
        let detail: String = e
            .detail
            .iter()
            .map(|(k, v)| format!("<b>{}</b>: {}", esc(k), esc(v)))
            .collect::<Vec<_>>()
            .join("<br>");
        let errs: String = e
            .errors
            .iter()
            .map(|x| format!("<p class=\"warn\">{}</p>", esc(x)))
            .collect();
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"note\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            env_head(cx, &e.env_id),
            esc(&e.env),
            detail,
            e.valid,
            e.invalid,
            errs
        );
    }
    let _ = writeln!(s, "</table>");
}

fn method(s: &mut String, cx: &ReportContext) {
    let info = cx.info;
    let _ = writeln!(s, "<h2 id=\"method\">How it was measured</h2><ul>");
    let _ = writeln!(s, "<li>Every (environment, workload) pair ran once per repetition, in an order shuffled per repetition; warm-up runs are not counted. Invalid results (the kernel's self-check failed) are excluded from every figure and counted.</li>");
    let _ = writeln!(
        s,
        "<li>Intervals: {}. A figure of one repetition has no interval (n=1).</li>",
        esc(&interval_methods(cx.analysis))
    );
    let _ = writeln!(s, "<li>membw is STREAM (Copy, Scale, Add, Triad; best of N passes). A run labelled <i>STREAM (tuned: non-temporal stores)</i> used non-temporal stores, which STREAM's rules call a tuned (modified) kernel; only figures of the same variant are divided.</li>");
    let _ = writeln!(s, "<li>Footprint (C4): PSS (proportional set size, /proc/PID/smaps_rollup) of all the processes of one idle instance at READY, runtime processes included, in MiB.</li>");
    let _ = writeln!(s, "<li>Startup: from spawning the environment to the workload's ISOBENCH-READY line (time to first instruction) and to its exit (lifecycle).</li></ul>");
    let _ = writeln!(
        s,
        "<h3>Configuration</h3><pre>{}</pre>",
        esc(&serde_json::to_string_pretty(&info.config).unwrap_or_default())
    );
    let _ = writeln!(
        s,
        "<p>Workload binary: <code>{}</code>{}</p>",
        esc(&info.tool.workload_binary),
        info.tool
            .workload_sha256
            .as_ref()
            .map(|h| format!(" sha256 <code>{}</code>", esc(h)))
            .unwrap_or_default()
    );
}

fn every_figure(s: &mut String, cx: &ReportContext) {
    let _ = writeln!(s, "<h2 id=\"figures\">Every figure</h2><p class=\"note\">Geometric mean of the valid repetitions with its 95% interval and n, the median, coefficient of variation, and speed relative to native (higher is better; latency and startup as × slower; with interval) where the parameters agree with native's.</p>");
    let _ = writeln!(s, "<table><tr><th>workload</th><th>metric</th><th>unit</th><th>environment</th><th>accelerator</th><th>geo. mean [95% CI] (n)</th><th>median</th><th>min</th><th>max</th><th>CV</th><th>invalid</th><th>speed (× native)</th></tr>");
    for f in &cx.analysis.figures {
        let rel = match (not_comparable(cx, f), ratio(cx, f)) {
            (Some(_), _) => "not comparable (parameters differ)".to_string(),
            (None, Some(v)) => ratio_text(f, &v),
            (None, None) => vs_native(f),
        };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&cx.facts.workload_label(&f.env_id, &f.workload)),
            esc(&f.metric),
            esc(&f.unit),
            f.direction.label(),
            esc(&f.env_id),
            esc(f.accel.as_deref().unwrap_or(if f.env == "vm" { "unknown" } else { "" })),
            esc(&median_ci(f)),
            num(f.summary.median),
            num(f.summary.min),
            num(f.summary.max),
            cv_pct(f),
            f.invalid,
            esc(&rel)
        );
    }
    let _ = writeln!(s, "</table>");
}
