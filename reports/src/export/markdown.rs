//! `summary.md`: a compact summary for a pull request — host, environments,
//! one table per workload, the claim verdicts and any warnings.

use super::num;
use crate::report::ReportContext;
use std::fmt::Write;

/// Environment detail keys shown in the summary.
const BRIEF_KEYS: [&str; 8] = [
    "runtime_version",
    "version",
    "accel",
    "machine",
    "kernel_version",
    "vcpus",
    "memory_mib",
    "qemu_version",
];

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
            detail.join(", "),
            e.valid,
            e.invalid
        );
    }
    let _ = writeln!(
        s,
        "\nMedian of the valid repetitions; in brackets, performance relative to native (× native, higher is better). Intervals, CV and every repetition: index.html and results.csv.",
    );
    let envs: Vec<&str> = cx.analysis.envs.iter().map(|e| e.env_id.as_str()).collect();
    for w in cx.analysis.workloads() {
        let _ = writeln!(s, "\n## {w}\n");
        let head: Vec<String> = envs
            .iter()
            .map(|e| match cx.analysis.env(e).and_then(|x| x.accel()) {
                Some(a) => format!("{e} ({a})"),
                None => e.to_string(),
            })
            .collect();
        let _ = writeln!(s, "| metric | {} |", head.join(" | "));
        let _ = writeln!(s, "|---|{}", "---:|".repeat(envs.len()));
        for m in cx.analysis.metrics(&w) {
            let mut unit = String::new();
            let cells: Vec<String> = envs
                .iter()
                .map(|e| match cx.analysis.figure(e, &w, &m) {
                    Some(f) => {
                        unit = f.unit.clone();
                        let rel = f
                            .vs_native
                            .map(|r| format!(" ({:.2}×)", r.speed.point))
                            .unwrap_or_default();
                        format!("{}{rel}", num(f.summary.median))
                    }
                    None => "–".into(),
                })
                .collect();
            let _ = writeln!(s, "| {m} ({unit}) | {} |", cells.join(" | "));
        }
    }
    let _ = writeln!(s, "\n## Claims\n");
    for c in cx.claims {
        let _ = writeln!(s, "- **{} — {}**: {}", c.id, c.verdict.label(), c.claim);
        for f in &c.findings() {
            let _ = writeln!(s, "  - {f}");
        }
        for m in &c.missing() {
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
