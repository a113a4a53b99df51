//! `index.html`: one self-contained page (no external `src` or `href`; plots
//! are inline SVG) with the host facts, the configuration, every figure, the
//! plots and the claims section.

use super::{cv_pct, median_ci, num, vs_native};
use crate::report::ReportContext;
use std::fmt::Write;

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px}\
th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}\
figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}\
.supported{color:#1a7f37}.not-supported{color:#c62828}.not-measured{color:#777}\
pre{background:#f6f6f6;padding:1em;overflow:auto}.warn{color:#9a6700}";

fn svg_body(svg: &str) -> &str {
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
    let h = &info.host;
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
    let _ = writeln!(s, "<h2>Host</h2><table>");
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

    let _ = writeln!(s, "<h2>Environments</h2><table><tr><th>environment</th><th>class</th><th>detail</th><th>valid</th><th>invalid</th><th>first errors</th></tr>");
    for e in &cx.analysis.envs {
        let detail: Vec<String> = e.detail.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let errs: String = e
            .errors
            .iter()
            .map(|x| format!("<p class=\"warn\">{}</p>", esc(x)))
            .collect();
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&e.env_id),
            esc(&e.env),
            esc(&detail.join(", ")),
            e.valid,
            e.invalid,
            errs
        );
    }
    let _ = writeln!(s, "</table>");

    if !cx.warnings.is_empty() {
        let _ = writeln!(s, "<h2>Warnings</h2><ul>");
        for w in &cx.warnings {
            let _ = writeln!(s, "<li class=\"warn\">{}</li>", esc(w));
        }
        let _ = writeln!(s, "</ul>");
    }

    let _ = writeln!(
        s,
        "<h2>Claims</h2><table><tr><th>claim</th><th>verdict</th><th>the numbers</th></tr>"
    );
    for c in cx.claims {
        let class = c.verdict.label().replace(' ', "-");
        let mut body = String::new();
        for f in &c.findings() {
            let _ = write!(body, "<p>{}</p>", esc(f));
        }
        for m in &c.missing() {
            let _ = write!(
                body,
                "<p class=\"not-measured\">Would be measured by: {}.</p>",
                esc(m)
            );
        }
        let _ = writeln!(
            s,
            "<tr><td><b>{}</b> {}</td><td class=\"{class}\"><b>{}</b></td><td>{body}</td></tr>",
            c.id,
            esc(c.claim),
            c.verdict.label()
        );
    }
    let _ = writeln!(s, "</table>");

    at_a_glance(&mut s, cx);

    let _ = writeln!(s, "<h2>Plots</h2>");
    for p in cx.plots {
        let _ = writeln!(
            s,
            "<figure id=\"plot-{}\">{}<figcaption>{}</figcaption></figure>",
            esc(&p.stem),
            svg_body(&p.image.svg),
            esc(&p.title)
        );
    }

    let _ = writeln!(s, "<h2>Every figure</h2><p>Median of the valid repetitions with its 95% bootstrap confidence interval, coefficient of variation, number of valid repetitions, and performance relative to native (× native, higher is better, with interval; cost = extra time).</p>");
    let _ = writeln!(s, "<table><tr><th>workload</th><th>metric</th><th>unit</th><th>environment</th><th>accelerator</th><th>median [95% CI]</th><th>min</th><th>max</th><th>CV</th><th>n</th><th>invalid</th><th>vs native</th></tr>");
    for f in &cx.analysis.figures {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&f.workload),
            esc(&f.metric),
            esc(&f.unit),
            f.direction.label(),
            esc(&f.env_id),
            esc(f.accel.as_deref().unwrap_or(if f.env == "vm" { "unknown" } else { "" })),
            median_ci(f),
            num(f.summary.min),
            num(f.summary.max),
            cv_pct(f),
            f.summary.n,
            f.invalid,
            esc(&vs_native(f))
        );
    }
    let _ = writeln!(s, "</table>");

    let _ = writeln!(
        s,
        "<h2>Configuration</h2><pre>{}</pre>",
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
    let _ = writeln!(s, "</body></html>");
    s
}

/// Per workload, metrics by environment: median and × native.
fn at_a_glance(s: &mut String, cx: &ReportContext) {
    let a = cx.analysis;
    let envs: Vec<&str> = a.envs.iter().map(|e| e.env_id.as_str()).collect();
    let _ = writeln!(s, "<h2>At a glance</h2><p>Median of the valid repetitions; below it, performance relative to native (× native, higher is better).</p>");
    for w in a.workloads() {
        let _ = write!(s, "<h3>{}</h3><table><tr><th>metric</th>", esc(&w));
        for e in &envs {
            let accel = a
                .env(e)
                .and_then(|x| x.accel())
                .map(|x| format!(" ({x})"))
                .unwrap_or_default();
            let _ = write!(s, "<th>{}{}</th>", esc(e), esc(&accel));
        }
        let _ = writeln!(s, "</tr>");
        for m in a.metrics(&w) {
            let unit = envs
                .iter()
                .find_map(|e| a.figure(e, &w, &m))
                .map(|f| f.unit.clone())
                .unwrap_or_default();
            let _ = write!(s, "<tr><td>{} ({})</td>", esc(&m), esc(&unit));
            for e in &envs {
                match a.figure(e, &w, &m) {
                    Some(f) => {
                        let rel = f
                            .vs_native
                            .map(|r| format!("<br><small>{:.2}×</small>", r.speed.point))
                            .unwrap_or_default();
                        let _ = write!(
                            s,
                            "<td class=\"n\">{}{rel}</td>",
                            num(f.summary.median.point)
                        );
                    }
                    None => {
                        let _ = write!(s, "<td class=\"n\">–</td>");
                    }
                }
            }
            let _ = writeln!(s, "</tr>");
        }
        let _ = writeln!(s, "</table>");
    }
}
