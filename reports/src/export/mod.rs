//! Exporters: each turns an analysed run into text or bytes and never
//! touches the disk ([`crate::output`] writes files).

pub mod bencher;
pub mod csv;
pub mod html;
pub mod markdown;
pub mod terminal;

use crate::analysis::{Analysis, Figure, BASELINE};
use crate::claims::{env_emulated, ClaimResult};
use crate::facts::Facts;
use crate::metric::{format_size, latency_size_bytes};
use crate::plot::NamedImage;
use crate::schema::RunInfo;
use crate::text::num;
use crate::value::{interval_method, median_ci, ratio_text, speed_of, Val};

/// Everything the exporters need.
pub struct ReportContext<'a> {
    pub info: &'a RunInfo,
    pub analysis: &'a Analysis,
    pub claims: &'a [ClaimResult],
    /// Load warnings and the run's own measurement warnings.
    pub warnings: Vec<String>,
    pub plots: &'a [NamedImage],
    pub facts: &'a Facts,
}

/// Why a figure must not be divided by native's: it ran with other
/// parameters (or another STREAM variant). `None` for native and for
/// figures whose parameters agree.
/// Whether the run measured any claim. A run of a user's command, or of
/// workloads no claim uses, gets one line instead of eight claims "not
/// measured" with every part.
pub fn any_claim_measured(cx: &ReportContext) -> bool {
    cx.claims
        .iter()
        .any(|c| c.verdict != crate::claims::Verdict::NotMeasured)
}

/// What the report says in place of the claims when none was measured.
pub const NO_CLAIM: &str = "This run measures none of the claims C1–C8: each needs its workload or experiment (docs/claims.md). `isobench run --experiment all` measures every claim; claims.json says what would measure each part.";

pub fn not_comparable(cx: &ReportContext, f: &Figure) -> Option<String> {
    f.incomparable
        .clone()
        .or_else(|| cx.facts.params_differ(&f.env_id, &f.workload))
}

/// The parameters an environment ran a workload with, as text (the
/// figure's own, else the records'; the STREAM variant included).
pub fn figure_params(cx: &ReportContext, env_id: &str, workload: &str) -> String {
    let fig = cx
        .analysis
        .figures
        .iter()
        .find(|f| f.env_id == env_id && f.workload == workload);
    let mut p = match (fig, cx.facts.params(env_id, workload)) {
        (Some(f), _) if !f.params.is_empty() => f.params.clone(),
        (_, Some(p)) => p.clone(),
        (Some(f), None) => f.params.clone(),
        (None, None) => return "not recorded".into(),
    };
    if let (Some(v), "membw") = (cx.facts.stream_variant(env_id), workload) {
        p.entry("stream_variant".into())
            .or_insert_with(|| serde_json::Value::String(v.into()));
    }
    let note = fig
        .and_then(|f| f.params_note.clone())
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    format!("{}{note}", crate::text::params_text(&p))
}

/// The ISA table (claim C1's ISA reason): per environment the CPU model a
/// VM was given, the matrix-multiply path(s) the cpu workload took, and the
/// tuned path over the baseline path where a record measured both. `None`
/// without cpu records that carry a path.
pub fn isa_table(cx: &ReportContext) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let rows = &cx.facts.isa;
    if rows.is_empty() {
        return None;
    }
    let head = [
        "environment",
        "CPU model",
        "CPU reports",
        "dgemm path",
        "tuned ÷ baseline GFLOP/s",
    ]
    .map(String::from)
    .to_vec();
    let rows = rows
        .iter()
        .map(|r| {
            let ratio = match (r.ratio(), r.single_ratio()) {
                (Some((e, n)), _) if !r.emulated() => {
                    format!("{}× [{}, {}] (n={n})", num(e.point), num(e.lo), num(e.hi))
                }
                (Some((e, n)), _) => format!("{}× (n={n}; emulated: mechanism only)", num(e.point)),
                (None, Some(x)) => format!("{}× (n=1, no interval)", num(x)),
                (None, None) => "– (baseline path only)".into(),
            };
            vec![
                format!(
                    "{}{}",
                    r.env_id,
                    if r.emulated() { " (emulated)" } else { "" }
                ),
                r.cpu_model.clone().unwrap_or_else(|| "host CPU".into()),
                r.cpu_simd.clone().unwrap_or_else(|| "–".into()),
                r.paths
                    .iter()
                    .map(|p| {
                        if p == "sse2" {
                            "sse2 (baseline)".to_string()
                        } else {
                            format!("{p} (tuned)")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                ratio,
            ]
        })
        .collect();
    Some((head, rows))
}

pub use crate::isa::ISA_NOTE;

/// The density table (claim C4): per environment, the instances actually
/// run, memory per instance (mean PSS and USS), host memory per extra
/// instance (slope with its interval), and launch time of the first and
/// last tenth of the launches. `None` without density records.
pub fn density_table(cx: &ReportContext) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let d = &cx.facts.density;
    if d.is_empty() {
        return None;
    }
    let est = |e: Option<crate::stats::Estimate>| {
        e.map(|e| format!("{} [{}, {}]", num(e.point), num(e.lo), num(e.hi)))
            .unwrap_or_else(|| "–".into())
    };
    let head = [
        "environment",
        "instances run",
        "PSS per instance (MiB)",
        "host memory per extra instance (MiB)",
        "launch, first → last tenth (ms)",
    ]
    .map(String::from)
    .to_vec();
    let rows = d
        .iter()
        .map(|s| {
            vec![
                format!(
                    "{}{}",
                    s.env_id,
                    if s.emulated() { " (emulated)" } else { "" }
                ),
                s.instances.to_string(),
                est(s.pss_mib),
                s.marginal_text(),
                match (s.launch_first_ms, s.launch_last_ms) {
                    (Some(a), Some(b)) => format!("{} → {}", num(a), num(b)),
                    _ => "–".into(),
                },
            ]
        })
        .collect();
    Some((head, rows))
}

/// What the density table's columns mean.
pub const DENSITY_NOTE: &str = "Idle instances launched one at a time and kept alive. PSS: proportional set size of all of an instance's processes (mean with its 95% t interval). Host memory per extra instance: b of the least-squares fit used = a + b·instances + c·time over the launches and the one-at-a-time teardown (c: the host's own drift, MiB/s), with its 95% interval, beside the launch-only slope (older runs: that slope only); it includes kernel memory (cgroups, namespaces, page tables) that PSS does not see. C4 trusts it only with R² ≥ 0.5 and an interval reaching 0.5× to 2× + 1 MiB of the PSS; else the PSS decides.";

/// The noisy-neighbour table (claim C5): one row per (environment,
/// placement), one column per (victim metric, antagonist); each cell the
/// victim's speed beside the antagonist relative to alone, with interval, n
/// and the pressure the antagonist reported. `None` without such records.
pub fn neighbour_table(cx: &ReportContext) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let s = crate::neighbours::headline(&cx.facts.slowdowns);
    if s.is_empty() {
        return None;
    }
    let mut cols: Vec<(String, String, String)> = Vec::new();
    let mut rows: Vec<(String, String)> = Vec::new();
    for x in &s {
        let c = (x.victim.clone(), x.metric.clone(), x.antagonist.clone());
        if !cols.contains(&c) {
            cols.push(c);
        }
        let r = (x.env_id.clone(), x.placement.clone());
        if !rows.contains(&r) {
            rows.push(r);
        }
    }
    let mut head = vec!["environment".to_string(), "placement".to_string()];
    head.extend(cols.iter().map(|(v, m, a)| format!("{v}/{m} beside {a}")));
    let cell = |e: &str, p: &str, (v, m, a): &(String, String, String)| {
        s.iter()
            .find(|x| {
                x.env_id == e
                    && x.placement == p
                    && &x.victim == v
                    && &x.metric == m
                    && &x.antagonist == a
            })
            .map(|x| {
                format!(
                    "{}{}",
                    x.speed_text(),
                    x.rate_text()
                        .map(|t| format!("; antagonist {t}"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_else(|| "–".into())
    };
    let body = rows
        .iter()
        .map(|(e, p)| {
            let emulated = s.iter().any(|x| &x.env_id == e && x.emulated());
            let mut row = vec![
                format!("{e}{}", if emulated { " (emulated)" } else { "" }),
                p.clone(),
            ];
            row.extend(cols.iter().map(|c| cell(e, p, c)));
            row
        })
        .collect();
    Some((head, body))
}

/// The permission table (claim C6): setup × verb → allowed / denied.
/// `None` without permission records.
pub fn permission_table(cx: &ReportContext) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let r = &cx.facts.permissions;
    (!r.is_empty()).then(|| crate::permissions::table(r))
}

/// What the neighbour table's cells mean.
pub const NEIGHBOUR_NOTE: &str = "One headline metric per victim (every metric is in results.csv). Victim speed beside the antagonist relative to the victim alone in the same placement (1.00× = undisturbed), paired by repetition, with its 95% interval and n; the antagonist's achieved rate shows the pressure it applied, and its share of the rate the same antagonist reached alone in the same placement (a trial below half of what it could keep there is invalid). Partitioned: containers with their own cpuset, CPU quota, memory and pids limits; VMs with pinned vCPU threads; native with CPU affinity.";

/// The environments with figures of `workload`, in report order: all of
/// them, those comparable with native, and those that ran other parameters
/// (listed apart, without ratios).
pub struct WorkloadEnvs<'a> {
    pub all: Vec<&'a str>,
    pub same: Vec<&'a str>,
    pub apart: Vec<&'a str>,
}

pub fn envs_of_workload<'a>(cx: &'a ReportContext, workload: &str) -> WorkloadEnvs<'a> {
    let a = cx.analysis;
    let all: Vec<&str> = a
        .envs
        .iter()
        .map(|e| e.env_id.as_str())
        .filter(|e| {
            a.figures
                .iter()
                .any(|f| f.env_id == *e && f.workload == workload)
        })
        .collect();
    let (apart, same) = all
        .iter()
        .partition(|e| env_not_comparable(cx, e, workload).is_some());
    WorkloadEnvs { all, same, apart }
}

/// Why an environment's figures of a workload must not be divided by
/// native's, if so.
pub fn env_not_comparable(cx: &ReportContext, env_id: &str, workload: &str) -> Option<String> {
    cx.analysis
        .figures
        .iter()
        .filter(|f| f.env_id == env_id && f.workload == workload)
        .find_map(|f| not_comparable(cx, f))
}

/// The ratio to native of a figure that may be divided, else `None`.
pub fn ratio(cx: &ReportContext, f: &Figure) -> Option<Val> {
    speed_of(f).filter(|_| not_comparable(cx, f).is_none())
}

/// The banner of a run with emulated VMs, else `None`.
pub fn emulation_banner(cx: &ReportContext) -> Option<String> {
    let emu: Vec<&str> = cx
        .analysis
        .envs
        .iter()
        .filter(|e| env_emulated(cx.analysis, &e.env_id))
        .map(|e| e.env_id.as_str())
        .collect();
    if emu.is_empty() {
        return None;
    }
    Some(format!(
        "VMs in this run ({}) ran under QEMU TCG, an emulated CPU: their figures measure the emulator, not the overhead of virtualisation. Claims that depend on them are marked “not testable on this host”; container figures are unaffected.",
        emu.join(", ")
    ))
}

/// One column of the headline table.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadlineColumn {
    pub workload: String,
    pub metric: String,
    /// e.g. `membw — STREAM: triad_mbs (× native)`.
    pub title: String,
    /// Absolute value (startup, footprint) instead of a ratio to native.
    pub absolute: bool,
}

/// The headline metric of each workload present: cpu primes/s, STREAM
/// triad, GUPS, latency at the largest working set, time to first
/// instruction and the idle footprint (absolute).
pub fn headline_columns(cx: &ReportContext) -> Vec<HeadlineColumn> {
    let a = cx.analysis;
    let mut cols = Vec::new();
    let has = |w: &str, m: &str| a.figures.iter().any(|f| f.workload == w && f.metric == m);
    let mut push = |w: &str, m: &str, title: String, absolute: bool| {
        cols.push(HeadlineColumn {
            workload: w.into(),
            metric: m.into(),
            title,
            absolute,
        })
    };
    for (w, m) in [
        ("cpu", "primes_per_s"),
        ("cpu", "gflops"),
        ("membw", "triad_mbs"),
        ("randacc", "gups"),
    ] {
        if has(w, m) {
            push(
                w,
                m,
                format!("{}: {m} (× native)", cx.facts.workload_title(a, w)),
                false,
            );
        }
    }
    if let Some(m) = largest_latency(a, BASELINE) {
        push("latency", &m, format!("latency: {m} (× native)"), false);
    }
    if has("startup", "first_instruction_ms") {
        push(
            "startup",
            "first_instruction_ms",
            "startup: time to first instruction (ms)".into(),
            true,
        );
    }
    if has("startup", crate::claims::FOOTPRINT) || has("startup", crate::claims::OLD_FOOTPRINT) {
        push(
            "startup",
            crate::claims::FOOTPRINT,
            "idle footprint, PSS (MiB)".into(),
            true,
        );
    }
    // A user's command (`isobench run -- PROG`, labelled by its name): its
    // wall time, then the metrics its --metric patterns took from its output.
    let mut commands: Vec<&str> = Vec::new();
    for f in &a.figures {
        if f.metric == "wall_s" && !commands.contains(&f.workload.as_str()) {
            commands.push(&f.workload);
        }
    }
    for w in commands {
        push(w, "wall_s", format!("{w}: wall time (× native)"), false);
        let mut own: Vec<&str> = Vec::new();
        for f in a.figures.iter().filter(|f| f.workload == w) {
            let standard =
                ["wall_s", "user_s", "sys_s", "max_rss_mib"].contains(&f.metric.as_str());
            if !standard && !own.contains(&f.metric.as_str()) {
                own.push(&f.metric);
            }
        }
        for m in own {
            push(w, m, format!("{w}: {m} (× native)"), false);
        }
    }
    cols
}

/// The latency metric of the largest working set an environment measured.
pub fn largest_latency(a: &Analysis, env_id: &str) -> Option<String> {
    a.figures
        .iter()
        .filter(|f| f.env_id == env_id && f.workload == "latency")
        .filter_map(|f| latency_size_bytes(&f.metric).map(|s| (s, f.metric.clone())))
        .max_by_key(|x| x.0)
        .map(|x| x.1)
}

/// A headline cell: the ratio to native with its interval, or the absolute
/// value for startup and footprint, or why there is none.
pub fn headline_cell(cx: &ReportContext, env_id: &str, c: &HeadlineColumn) -> String {
    let a = cx.analysis;
    let mut metric = c.metric.clone();
    // Latency: the largest size measured both natively and here.
    if c.workload == "latency" {
        let common = a
            .figures
            .iter()
            .filter(|f| f.env_id == env_id && f.workload == "latency")
            .filter(|f| a.figure(BASELINE, "latency", &f.metric).is_some())
            .filter_map(|f| latency_size_bytes(&f.metric).map(|s| (s, f.metric.clone())))
            .max_by_key(|x| x.0);
        match common {
            Some((_, m)) => metric = m,
            None => return "–".into(),
        }
    }
    let Some(f) = a.figure(env_id, &c.workload, &metric) else {
        if a.figure(env_id, &c.workload, crate::claims::OLD_FOOTPRINT)
            .is_some()
        {
            return "old measure only: not shown".into();
        }
        return "not measured".into();
    };
    let size = if c.workload == "latency" && metric != c.metric {
        latency_size_bytes(&metric)
            .map(|s| format!(" at {}", format_size(s)))
            .unwrap_or_default()
    } else {
        String::new()
    };
    if c.absolute {
        return median_ci(f);
    }
    if env_id == BASELINE {
        return "1× (baseline)".into();
    }
    let emu = if env_emulated(a, env_id) { "TCG: " } else { "" };
    if not_comparable(cx, f).is_some() {
        return format!("{emu}not comparable (other parameters, see {})", c.workload);
    }
    match ratio(cx, f) {
        Some(v) => format!("{emu}{}{size}", ratio_text(f, &v)),
        None if f.summary.n < 2 => "no interval (n=1), no ratio".into(),
        None => "no native figure".into(),
    }
}

/// The interval methods used in a report, for a footnote.
pub fn interval_methods(a: &Analysis) -> String {
    let mut m: Vec<String> = a
        .figures
        .iter()
        .flat_map(|f| {
            interval_method(f)
                .split("; ")
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|x| !x.is_empty())
        .collect();
    m.sort();
    m.dedup();
    if m.is_empty() {
        // An experiment-only run has no workload figures; never "Intervals: .".
        return "none of the workload kind in this run (each experiment's section says how its intervals are made)".to_string();
    }
    m.join("; ")
}
