//! `summary.md`: a compact summary for a pull request — host, environments,
//! one table per workload, the claim verdicts and any warnings.

use super::{
    emulation_banner, env_not_comparable, envs_of_workload, figure_params, headline_cell,
    headline_columns, interval_methods, ratio, ReportContext, WorkloadEnvs,
};
use crate::claims::{claim_line, env_emulated, short};
use crate::value::{median_ci, ratio_text};
use std::fmt::Write;

/// Environment detail keys shown in the summary.
const BRIEF_KEYS: [&str; 11] = [
    "runtime_version",
    "platform",
    "engine_version",
    "storage_driver",
    "version",
    "accel",
    "machine",
    "kernel_version",
    "vcpus",
    "memory_mib",
    "qemu_version",
];

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn env_head(cx: &ReportContext, e: &str) -> String {
    match cx.analysis.env(e).and_then(|x| x.accel()) {
        Some(a) if env_emulated(cx.analysis, e) => format!("{e} ({a}, emulated)"),
        Some(a) => format!("{e} ({a})"),
        None => e.to_string(),
    }
}

pub fn to_markdown(cx: &ReportContext) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# isobench run `{}`\n", cx.info.run_id);
    claims_overview(&mut s, cx);
    if let Some(b) = emulation_banner(cx) {
        let _ = writeln!(s, "> **Emulated VMs.** {b}\n");
    }
    speed_table(&mut s, cx);
    claims_by_part(&mut s, cx);
    per_workload(&mut s, cx);
    experiment_tables(&mut s, cx);
    host_and_environments(&mut s, cx);
    let _ = writeln!(
        s,
        "\n## How it was measured\n\n- Intervals: {}; a figure of one repetition has none (n=1).\n- membw is STREAM; *STREAM (tuned: non-temporal stores)* marks a run with non-temporal stores (a tuned kernel in STREAM's terms); only figures of the same variant are divided.\n- Footprint (C4): PSS of all the processes of one idle instance at READY, runtime processes included (MiB).\n- Startup: spawn to ISOBENCH-READY (time to first instruction) and to exit (lifecycle).",
        interval_methods(cx.analysis)
    );
    s
}

/// The claims first: one line each, verdict and deciding number.
fn claims_overview(s: &mut String, cx: &ReportContext) {
    if cx.claims.is_empty() {
        return;
    }
    let _ = writeln!(s, "## Claims\n");
    if !super::any_claim_measured(cx) {
        let _ = writeln!(s, "{}\n", super::NO_CLAIM);
        return;
    }
    for c in cx.claims {
        let _ = writeln!(
            s,
            "- **{}** {} — **{}**: {}",
            c.id,
            short(c.id),
            c.verdict_text(),
            claim_line(c)
        );
    }
    let _ = writeln!(s);
}

/// What a reader came for: speed against native, one column per headline
/// metric.
fn speed_table(s: &mut String, cx: &ReportContext) {
    let a = cx.analysis;
    let cols = headline_columns(cx);
    if cols.is_empty() {
        return;
    }
    let _ = writeln!(s, "## Speed relative to native\n");
    let titles: Vec<String> = cols.iter().map(|c| cell(&c.title)).collect();
    let _ = writeln!(s, "| environment | {} |", titles.join(" | "));
    let _ = writeln!(s, "|---|{}", "---:|".repeat(cols.len()));
    for e in &a.envs {
        let cells: Vec<String> = cols
            .iter()
            .map(|c| cell(&headline_cell(cx, &e.env_id, c)))
            .collect();
        let _ = writeln!(s, "| {} | {} |", env_head(cx, &e.env_id), cells.join(" | "));
    }
    let _ = writeln!(
        s,
        "\nSpeed relative to native (1.00× = native, higher is better; latency and startup ratios read \"× slower\", or \"× faster\" when they beat native) with its 95% interval ({}) and n; \"no interval\" when n=1. Startup and footprint are absolute. \"not comparable\": other parameters than native, no ratio.\n",
        interval_methods(a)
    );
}

/// Every claim's parts: a table of verdicts, then each part's finding, what
/// would measure it and the figures it cites.
fn claims_by_part(s: &mut String, cx: &ReportContext) {
    if !super::any_claim_measured(cx) {
        return;
    }
    let _ = writeln!(s, "## Claims by part\n");
    let _ = writeln!(s, "| claim | verdict | parts |");
    let _ = writeln!(s, "|---|---|---|");
    for c in cx.claims {
        let parts: Vec<String> = c.parts.iter().map(|p| p.cell_text()).collect();
        let _ = writeln!(
            s,
            "| **{}** {} | **{}** | {} |",
            c.id,
            short(c.id),
            c.verdict_text(),
            cell(&parts.join("; "))
        );
    }
    let _ = writeln!(s);
    for c in cx.claims {
        let _ = writeln!(s, "- **{} — {}**: {}", c.id, c.verdict_text(), c.claim);
        for p in &c.parts {
            let _ = write!(s, "  - *{}* — {}", p.label, p.verdict_text());
            if !p.text.is_empty() {
                let _ = write!(s, ": {}", p.text);
            }
            if let Some(m) = &p.missing {
                let _ = write!(s, " Would be measured by: {m}.");
            }
            let _ = writeln!(s);
            for f in &p.figures {
                let _ = writeln!(s, "    - {}", f.text());
            }
        }
    }
}

/// One section per workload: its figures, the parameters each environment
/// ran, and the environments that ran other parameters than native.
fn per_workload(s: &mut String, cx: &ReportContext) {
    let a = cx.analysis;
    if !a.figures.is_empty() {
        let _ = writeln!(
            s,
            "\n## Per workload\n\nCentre ({}) of the valid repetitions with its 95% interval and n; in brackets, speed relative to native (higher is better; latency and startup as × slower). Every repetition: results.csv.",
            a.figures
                .first()
                .map(|f| f.summary.centre_kind.label())
                .unwrap_or("geometric mean")
        );
    }
    for w in a.workloads() {
        workload_section(s, cx, &w);
    }
}

fn workload_section(s: &mut String, cx: &ReportContext, w: &str) {
    let a = cx.analysis;
    let WorkloadEnvs {
        all: envs,
        same,
        apart,
    } = envs_of_workload(cx, w);
    let _ = writeln!(s, "\n### {}\n", cx.facts.workload_title(a, w));
    let head: Vec<String> = same.iter().map(|e| env_head(cx, e)).collect();
    let _ = writeln!(s, "| metric | {} |", head.join(" | "));
    let _ = writeln!(s, "|---|{}", "---:|".repeat(same.len()));
    for m in a.metrics(w) {
        let mut unit = String::new();
        let cells: Vec<String> = same
            .iter()
            .map(|e| match a.figure(e, w, &m) {
                Some(f) => {
                    unit = f.unit.clone();
                    let rel = ratio(cx, f)
                        .map(|v| format!(" ({})", ratio_text(f, &v)))
                        .unwrap_or_default();
                    format!("{}{rel}", median_ci(f))
                }
                None => "–".into(),
            })
            .collect();
        let _ = writeln!(s, "| {m} ({unit}) | {} |", cells.join(" | "));
    }
    let _ = writeln!(s, "\nParameters:\n");
    let _ = writeln!(s, "| environment | parameters |\n|---|---|");
    for e in &envs {
        let _ = writeln!(
            s,
            "| {} | {} |",
            env_head(cx, e),
            cell(&figure_params(cx, e, w))
        );
    }
    if apart.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nNot comparable with native (different parameters):\n");
    let _ = writeln!(
        s,
        "| environment | how it differs | metric | centre [95% CI] (n) |\n|---|---|---|---:|"
    );
    for e in &apart {
        let why = env_not_comparable(cx, e, w).unwrap_or_default();
        for m in a.metrics(w) {
            if let Some(f) = a.figure(e, w, &m) {
                let _ = writeln!(
                    s,
                    "| {} | {} | {m} ({}) | {} |",
                    env_head(cx, e),
                    cell(&why),
                    f.unit,
                    median_ci(f)
                );
            }
        }
    }
}

/// The tables of the ISA paths and of the experiments, each when the run
/// has them.
fn experiment_tables(s: &mut String, cx: &ReportContext) {
    if let Some(t) = super::isa_table(cx) {
        table(s, "ISA", super::ISA_NOTE, t);
    }
    if let Some(t) = super::density_table(cx) {
        table(s, "Density", super::DENSITY_NOTE, t);
    }
    if let Some(t) = super::permission_table(cx) {
        table(
            s,
            "Who may act on whose containers",
            crate::permissions::NOTE,
            t,
        );
    }
    if let Some(t) = super::neighbour_table(cx) {
        table(s, "Noisy neighbours", super::NEIGHBOUR_NOTE, t);
    }
}

/// A section of one table under its note.
fn table(s: &mut String, title: &str, note: &str, (head, rows): (Vec<String>, Vec<Vec<String>>)) {
    let _ = writeln!(
        s,
        "\n## {title}\n\n{}\n\n| {} |\n|{}",
        note,
        head.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "),
        "---|".repeat(head.len())
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} |",
            r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        );
    }
}

/// The host, the environments with their brief detail, the first errors of
/// invalid results, and the warnings.
fn host_and_environments(s: &mut String, cx: &ReportContext) {
    let a = cx.analysis;
    let h = &cx.info.host;
    let _ = writeln!(
        s,
        "\n## Host and environments\n\nHost **{}**: {}, {} logical cores, {:.1} GiB, kernel {}, cgroup {}, KVM {}. isobench {}{}. Started {}.\n",
        h.hostname,
        h.cpu_model,
        h.cores_logical,
        h.memory_bytes as f64 / (1u64 << 30) as f64,
        h.kernel,
        h.cgroup,
        match (&h.kvm.device, &h.kvm.module) {
            (true, Some(m)) => format!("device present ({m})"),
            (true, None) => "device present".into(),
            (false, _) => "absent".into(),
        },
        cx.info.tool.isobench_version,
        cx.info
            .tool
            .git_commit
            .as_ref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default(),
        cx.info.started_at
    );
    let _ = writeln!(s, "| environment | class | detail | valid | invalid |");
    let _ = writeln!(s, "|---|---|---|---:|---:|");
    for e in &a.envs {
        // The headline keys when present (the full detail is in index.html).
        let brief: Vec<String> = e
            .detail
            .iter()
            .filter(|(k, _)| BRIEF_KEYS.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let detail = if brief.is_empty() {
            e.detail.iter().map(|(k, v)| format!("{k}={v}")).collect()
        } else {
            brief
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            e.env_id,
            e.env,
            cell(&detail.join(", ")),
            e.valid,
            e.invalid
        );
    }
    // Why results were invalid: the first distinct errors of each column
    // (a failing user command's exit status, timeout or missing program).
    let errors: Vec<String> = a
        .envs
        .iter()
        .flat_map(|e| {
            e.errors
                .iter()
                .map(move |x| format!("- {}: {}", e.env_id, cell(x)))
        })
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(s, "\nInvalid results, first errors:\n");
        for l in errors {
            let _ = writeln!(s, "{l}");
        }
    }
    if !cx.warnings.is_empty() {
        let _ = writeln!(s, "\n## Warnings\n");
        for w in &cx.warnings {
            let _ = writeln!(s, "- {w}");
        }
    }
}
