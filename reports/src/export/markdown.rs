//! `summary.md`: a compact summary for a pull request — host, environments,
//! one table per workload, the claim verdicts and any warnings.

use super::{cv_pct, median_ci, vs_native};
use crate::report::ReportContext;
use std::fmt::Write;

pub fn to_markdown(cx: &ReportContext) -> String {
    let mut s = String::new();
    let h = &cx.info.host;
    let _ = writeln!(s, "# isobench run `{}`\n", cx.info.run_id);
    let _ = writeln!(
        s,
        "Host **{}**: {}, {} logical cores, {:.1} GiB, kernel {}, cgroup {}, KVM {}. isobench {}{}. Started {}.\n",
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
    for e in &cx.analysis.envs {
        let detail: Vec<String> = e.detail.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            e.env_id,
            e.env,
            detail.join(", "),
            e.valid,
            e.invalid
        );
    }
    for w in cx.analysis.workloads() {
        let _ = writeln!(s, "\n## {w}\n");
        let _ = writeln!(
            s,
            "| metric | environment | median [95% CI] | CV | n | vs native |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---|");
        for f in cx.analysis.figures.iter().filter(|f| f.workload == w) {
            let _ = writeln!(
                s,
                "| {} ({}, {}) | {}{} | {} | {} | {} | {} |",
                f.metric,
                f.unit,
                f.direction.label(),
                f.env_id,
                f.accel
                    .as_ref()
                    .map(|a| format!(" [{a}]"))
                    .unwrap_or_default(),
                median_ci(f),
                cv_pct(f),
                f.summary.n,
                vs_native(f)
            );
        }
    }
    let _ = writeln!(s, "\n## Claims\n");
    for c in cx.claims {
        let _ = writeln!(s, "- **{} — {}**: {}", c.id, c.verdict.label(), c.claim);
        for f in &c.findings {
            let _ = writeln!(s, "  - {f}");
        }
        for m in &c.missing {
            let _ = writeln!(s, "  - Not measured: {m}.");
        }
    }
    if !cx.warnings.is_empty() {
        let _ = writeln!(s, "\n## Warnings\n");
        for w in &cx.warnings {
            let _ = writeln!(s, "- {w}");
        }
    }
    s
}
