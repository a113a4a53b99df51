//! Comparing runs (`isobench compare`) and the regression gate.
//!
//! Inputs: one or more baseline runs (run directories, stored runs, or the
//! last K runs of the same host and plan in the history store) and one or
//! more new runs. Per quantity (environment, workload, metric) the gate
//! estimates the change of the geometric mean with run means as the unit
//! ([`crate::shift`]): runs differ from each other by more than their
//! repetitions suggest, and an interval made of repetitions alone calls
//! every run-to-run offset a change.
//!
//! Exit order, failing closed (what [`Comparison::exit_code`] returns):
//!
//! 1. **Failures** (exit 1, named first): a quantity valid in the baseline
//!    (values present, all > 0) that in a new run is missing, lost
//!    repetitions (invalid records, values that are not finite, or records
//!    gone altogether, when the baseline lost none; see `expected_values`),
//!    or has a value ≤ 0. A crashed or broken run is never a pass.
//! 2. **Regressions** (exit 1): quantities whose verdict is *regressed*, or
//!    *possibly regressed* too with [`GateOptions::fail_on_possible`].
//! 3. **Cannot decide** (exit 2), only when nothing failed or regressed: a
//!    quantity whose baseline is invalid, or that cannot be estimated, or
//!    whose verdict is *inconclusive* with an interval that reaches a
//!    slowdown of the threshold (a regression of the size the user cares
//!    about is neither shown nor ruled out).
//! 4. Otherwise exit 0.
//!
//! Verdicts, with the 95% interval of the change of performance and the
//! threshold T as a minimum effect:
//!
//! - *regressed*: the whole interval is worse than −T;
//! - *possibly regressed*: significantly worse (one-sided t, Holm-corrected
//!   over every quantity, family-wise α = 0.05) and the interval reaches −T;
//! - *no change*: the interval lies within ±T (an equivalence test, TOST at
//!   2.5% a side);
//! - *improved*: the interval lies above no change (and reaches beyond +T);
//! - *inconclusive*: none of these.
//!
//! Why "the whole interval beyond T" for *regressed*: the help promises
//! "worse by more than this many percent", and only this rule keeps a true
//! 3% slowdown from failing a 5% gate (it fails at most 2.5% of the time
//! when the slowdown is exactly T). A clear but smaller-than-proven
//! slowdown is *possibly regressed*, reported and optionally failing.
//!
//! Why Holm for *possibly regressed*: the gate's outcome is one bit and a
//! single false alarm fails it, so the error to control is the probability
//! of *any* false alarm across the quantities (family-wise). Holm controls
//! it under any dependence between the metrics and is uniformly more
//! powerful than Bonferroni.
//!
//! A rise in noise is its own finding ([`Change::noise_rise`]): the spread
//! of the repetitions, new against baseline, by Brown–Forsythe on the logs,
//! Holm-corrected; it does not change the exit status.
//!
//! Aliases are tested once: metrics of one (environment, workload) whose
//! values are identical in every run (e.g. cpu's `gflops` and `gflops_2t`
//! with two threads) are one quantity, named after the more specific
//! (longer) name.
//!
//! "caught at 90%": from the noise the interval assumes (the spread of run
//! means of the baseline or of the history; for one run a side without
//! history, the repetitions), the slowdown the gate calls *regressed* with
//! probability [`POWER`]. It says what the gate can see, from the history's
//! noise rather than from the run under test.
//!
//! Relative gate ([`GateOptions::relative_to`], `--relative-to native`):
//! every other environment's quantity is, per run, its run summary minus
//! the reference's of the same workload/metric in that run (logs: the log
//! of their ratio), and those per-run numbers go through everything above
//! unchanged. A drift of the host that moves both cancels. The reference's
//! own quantities are not gated ([`Comparison::not_gated`]); a reference
//! figure missing, lost or ≤ 0 in a new run fails the quantity (failing
//! closed); with one run a side the spread must come from a history of
//! ratios ([`history_noise_for`]), the repetitions being no estimate of it.
//!
//! Comparisons are only meaningful between runs of one host with one plan:
//! [`host_differences`], [`plan_differences`] and [`param_differences`] name
//! what differs so the caller can refuse.

use crate::analysis::{self, analyse, Analysis, Figure, StatsOptions};
use crate::load::Run;
use crate::metric::Direction;
use crate::plot::draw::{self, ChangesPlot, LabelledValue};
use crate::plot::{Image, PlotError};
use crate::schema::{HostInfo, RunInfo};
use crate::shift::{self, NoiseChange, RunNoise, RunSummary, Unit};
use crate::stats::{self, Estimate};
use crate::text::num;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

pub const ALPHA: f64 = 0.05;
/// Probability with which the gate should catch a change of the threshold size.
pub const POWER: f64 = 0.9;

/// Which figures to gate; an empty list keeps everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub envs: Vec<String>,
    pub workloads: Vec<String>,
    /// Metric names (`triad_mbs`) or `workload/metric`.
    pub metrics: Vec<String>,
}

impl Filter {
    pub fn keeps(&self, env_id: &str, workload: &str, metric: &str) -> bool {
        let any = |list: &[String], f: &dyn Fn(&str) -> bool| {
            list.is_empty() || list.iter().any(|x| f(x))
        };
        any(&self.envs, &|e| e == env_id)
            && any(&self.workloads, &|w| w == workload)
            && any(&self.metrics, &|m| {
                m == metric || m == format!("{workload}/{metric}")
            })
    }
}

/// Settings of the gate.
#[derive(Debug, Clone, PartialEq)]
pub struct GateOptions {
    /// A regression is worse than this many percent of performance.
    pub threshold_pct: f64,
    /// Family-wise level (Holm).
    pub alpha: f64,
    /// Power wanted against a change of the threshold size.
    pub power: f64,
    pub filter: Filter,
    /// Exit 1 on *possibly regressed* too, not only on *regressed*.
    pub fail_on_possible: bool,
    /// Spread of run means (logs) per quantity (`env workload/metric`) from
    /// the history, used when each side has one run; of the same
    /// [`GateOptions::run_summary`] (see [`history_noise`]).
    pub history_noise: BTreeMap<String, RunNoise>,
    /// How each run is reduced to one number on both sides (default: the
    /// mean of its logs).
    pub run_summary: RunSummary,
    /// Gate every environment relative to this one (`--relative-to
    /// native`): the value of environment E, workload W, metric M in a run
    /// is E's run summary divided by the reference's of the same W/M in the
    /// same run (on logs: their difference), so a drift of the host that
    /// moves both cancels. The reference's own quantities are not gated.
    pub relative_to: Option<String>,
}

impl GateOptions {
    pub fn new(threshold_pct: f64) -> Self {
        Self {
            threshold_pct,
            alpha: ALPHA,
            power: POWER,
            filter: Filter::default(),
            fail_on_possible: false,
            history_noise: BTreeMap::new(),
            run_summary: RunSummary::Mean,
            relative_to: None,
        }
    }
}

/// What the gate says of one quantity (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Regressed,
    PossiblyRegressed,
    NoChange,
    Improved,
    Inconclusive,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Regressed => "REGRESSED",
            Verdict::PossiblyRegressed => "possibly regressed",
            Verdict::NoChange => "no change",
            Verdict::Improved => "improved",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// How one quantity changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub env_id: String,
    pub workload: String,
    pub metric: String,
    /// Other metric names with the same values (tested once, under `metric`).
    pub aliases: Vec<String>,
    pub unit: String,
    pub direction: Direction,
    /// Geometric means over the runs (the exponential of the average run
    /// mean of the logs): the change is their ratio.
    pub base_geomean: f64,
    pub new_geomean: f64,
    /// Values and runs on each side.
    pub base_n: usize,
    pub new_n: usize,
    pub base_runs: usize,
    pub new_runs: usize,
    /// Change of the metric's geometric mean, percent, with its 95% interval.
    pub change_pct: Estimate,
    /// Change of performance, percent (positive = better), with interval.
    pub perf_change_pct: Estimate,
    /// One-sided p-value for "performance got worse".
    pub p_value: f64,
    /// `p_value` after Holm's correction over every quantity tested.
    pub p_adjusted: f64,
    /// Significantly worse after correction (`p_adjusted < alpha`).
    pub significant: bool,
    pub verdict: Verdict,
    /// The interval stays above a slowdown of the threshold (for
    /// *inconclusive*: a threshold-sized regression is ruled out).
    pub rules_out_regression: bool,
    /// What the interval is made of.
    pub basis: Unit,
    /// Standard deviation (logs) of the unit the interval assumes.
    pub log_sd: f64,
    /// Slowdown of performance, percent, that the gate calls *regressed*
    /// with probability [`POWER`] at this noise.
    pub detectable_pct: f64,
    /// Spread of the repetitions, new against baseline (Brown–Forsythe).
    pub noise: Option<NoiseChange>,
    /// Holm-corrected p of the noise test.
    pub noise_p_adjusted: f64,
    /// The spread rose significantly (a finding of its own).
    pub noise_rise: bool,
}

impl Change {
    pub fn name(&self) -> String {
        format!("{} {}/{}", self.env_id, self.workload, self.metric)
    }

    pub fn verdict(&self) -> &'static str {
        self.verdict.label()
    }

    /// Inconclusive in a way that blocks a pass: a threshold-sized
    /// regression is not ruled out.
    pub fn undecided(&self) -> bool {
        self.verdict == Verdict::Inconclusive && !self.rules_out_regression
    }
}

/// A quantity that failed closed, or that could not be decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// `env workload/metric`, with ` (run ID)` when several new runs.
    pub name: String,
    pub reason: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.reason)
    }
}

/// The comparison of a baseline with new runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The baseline: a run id, or `ID … ID (K runs)`.
    pub base_run: String,
    pub new_run: String,
    pub base_runs: Vec<String>,
    pub new_runs: Vec<String>,
    pub threshold_pct: f64,
    pub alpha: f64,
    pub power: f64,
    pub fail_on_possible: bool,
    /// How each run was reduced to one number.
    pub run_summary: RunSummary,
    /// The reference environment of a relative gate ([`GateOptions::relative_to`]).
    pub relative_to: Option<String>,
    /// Relative gate: quantities the filter keeps that are not gated, the
    /// reference's own and those without a valid reference figure in any
    /// baseline run (`env workload/metric`).
    pub not_gated: Vec<String>,
    /// One per quantity tested (aliases folded in).
    pub changes: Vec<Change>,
    /// Quantities valid in the baseline and missing, lost or ≤ 0 in a new
    /// run: exit 1 whatever else happened.
    pub failures: Vec<Finding>,
    /// Quantities that could not be tested (invalid baseline, too few
    /// values and no run-to-run spread).
    pub undecided: Vec<Finding>,
    /// Figures present in the new runs only (`env workload/metric`).
    pub only_new: Vec<String>,
    /// (environment, workload) whose parameters differ between the runs;
    /// they are compared anyway (the caller decides whether to refuse).
    pub param_mismatches: Vec<String>,
}

impl Comparison {
    /// The quantities that fail the gate as regressions.
    pub fn regressions(&self) -> Vec<&Change> {
        self.changes
            .iter()
            .filter(|c| {
                c.verdict == Verdict::Regressed
                    || (self.fail_on_possible && c.verdict == Verdict::PossiblyRegressed)
            })
            .collect()
    }

    pub fn with_verdict(&self, v: Verdict) -> Vec<&Change> {
        self.changes.iter().filter(|c| c.verdict == v).collect()
    }

    /// Number of quantities tested (the `m` of Holm's correction).
    pub fn tested(&self) -> usize {
        self.changes.len()
    }

    /// 1: a failure or a regression; 2: nothing failed and something could
    /// not be decided (or nothing was compared); 0: every quantity decided
    /// and none regressed.
    pub fn exit_code(&self) -> i32 {
        if !self.failures.is_empty() || !self.regressions().is_empty() {
            1
        } else if self.changes.is_empty()
            || !self.undecided.is_empty()
            || self.changes.iter().any(Change::undecided)
        {
            2
        } else {
            0
        }
    }

    /// The outcome in lines, failures first (what the gate prints last).
    pub fn outcome(&self) -> Vec<String> {
        let mut out = Vec::new();
        let t = self.threshold_pct;
        if !self.failures.is_empty() {
            let f: Vec<String> = self.failures.iter().map(Finding::to_string).collect();
            out.push(format!("FAILED (broken or lost results): {}", f.join("; ")));
        }
        let reg = self.regressions();
        if !reg.is_empty() {
            let names: Vec<String> = reg
                .iter()
                .map(|r| {
                    format!(
                        "{} ({:+.1}% [{:+.1}, {:+.1}], {})",
                        r.name(),
                        r.perf_change_pct.point,
                        r.perf_change_pct.lo,
                        r.perf_change_pct.hi,
                        r.verdict()
                    )
                })
                .collect();
            out.push(format!("REGRESSION: {}", names.join(", ")));
        }
        if !self.fail_on_possible {
            let p = self.with_verdict(Verdict::PossiblyRegressed);
            if !p.is_empty() {
                let names: Vec<String> = p
                    .iter()
                    .map(|r| format!("{} ({:+.1}%)", r.name(), r.perf_change_pct.point))
                    .collect();
                out.push(format!(
                    "possibly regressed (significantly worse, not shown beyond {t}%; fails with --fail-on-possible): {}",
                    names.join(", ")
                ));
            }
        }
        let noisy: Vec<String> = self
            .changes
            .iter()
            .filter(|c| c.noise_rise)
            .map(|c| {
                let n = c.noise.expect("noise_rise implies a test");
                format!(
                    "{} (spread ×{:.1}, Holm p {:.3})",
                    c.name(),
                    n.ratio,
                    c.noise_p_adjusted
                )
            })
            .collect();
        if !noisy.is_empty() {
            out.push(format!(
                "NOISE ROSE (a change of its own, not of level): {}",
                noisy.join(", ")
            ));
        }
        if self.exit_code() == 2 {
            out.push(format!("CANNOT DECIDE: {}", self.cannot_decide()));
        } else if self.exit_code() == 0 {
            out.push(format!(
                "PASS: {} quantities, none worse by more than {t}%",
                self.tested()
            ));
        }
        out
    }

    /// Why the gate cannot decide (exit 2), naming what would help.
    pub fn cannot_decide(&self) -> String {
        if self.changes.is_empty() && self.undecided.is_empty() {
            return "no quantity to compare".into();
        }
        let mut parts: Vec<String> = self.undecided.iter().map(Finding::to_string).collect();
        let inc: Vec<&Change> = self.changes.iter().filter(|c| c.undecided()).collect();
        if !inc.is_empty() {
            let worst = inc
                .iter()
                .max_by(|a, b| a.detectable_pct.total_cmp(&b.detectable_pct))
                .expect("non-empty");
            let names: Vec<String> = inc
                .iter()
                .take(5)
                .map(|c| {
                    format!(
                        "{} {:+.1}% [{:+.1}, {:+.1}]",
                        c.name(),
                        c.perf_change_pct.point,
                        c.perf_change_pct.lo,
                        c.perf_change_pct.hi
                    )
                })
                .collect();
            let more = if inc.len() > 5 {
                format!(" and {} more", inc.len() - 5)
            } else {
                String::new()
            };
            parts.push(format!(
                "{} quantities neither show nor rule out a {}% slowdown ({}{more}); at this noise ({}) the gate catches a slowdown of {:.1}% ({}) with power {}: add baseline runs (--last K) or new runs, or raise --threshold",
                inc.len(),
                self.threshold_pct,
                names.join(", "),
                basis_label(worst.basis, self.run_summary),
                worst.detectable_pct,
                worst.name(),
                self.power
            ));
        }
        parts.join("; ")
    }
}

/// Differences that make two runs come from different hosts (hostname, CPU,
/// core count, memory). Kernel and OS changes are not in this list: comparing
/// across a kernel upgrade on one host is a legitimate use.
pub fn host_differences(a: &HostInfo, b: &HostInfo) -> Vec<String> {
    let mut d = Vec::new();
    let mut cmp = |what: &str, x: String, y: String| {
        if x != y {
            d.push(format!("{what}: {x} vs {y}"));
        }
    };
    cmp("hostname", a.hostname.clone(), b.hostname.clone());
    cmp("CPU", a.cpu_model.clone(), b.cpu_model.clone());
    cmp(
        "logical cores",
        a.cores_logical.to_string(),
        b.cores_logical.to_string(),
    );
    cmp(
        "memory",
        format!("{} bytes", a.memory_bytes),
        format!("{} bytes", b.memory_bytes),
    );
    d
}

/// Keys of `run.json`'s `config` that may differ between comparable runs:
/// identity and bookkeeping (`run_id`, `out`, `seed`, `timeout_s`,
/// `workload_bin`), how much was measured (`reps`), and what was measured
/// (`workloads`, `envs`: figures present in one run only are listed apart).
/// Everything else (`preset`, `threads`, `warmup`, `membw_array_bytes`, and
/// any key added later) shapes the measurement and must match.
pub const PLAN_KEYS_ALLOWED_TO_DIFFER: &[&str] = &[
    "run_id",
    "out",
    "seed",
    "timeout_s",
    "workload_bin",
    "reps",
    "workloads",
    "envs",
];

/// How the plans of two runs differ, e.g. `config.preset: "quick" vs "gate"`.
/// The preset is compared as the string run.json holds.
pub fn plan_differences(a: &RunInfo, b: &RunInfo) -> Vec<String> {
    let empty = serde_json::Map::new();
    let ca = a.config.as_object().unwrap_or(&empty);
    let cb = b.config.as_object().unwrap_or(&empty);
    let keys: std::collections::BTreeSet<&String> = ca.keys().chain(cb.keys()).collect();
    let show = |v: Option<&serde_json::Value>| v.map_or("–".to_string(), |v| v.to_string());
    keys.into_iter()
        .filter(|k| !PLAN_KEYS_ALLOWED_TO_DIFFER.contains(&k.as_str()))
        .filter(|k| ca.get(*k) != cb.get(*k))
        .map(|k| format!("config.{k}: {} vs {}", show(ca.get(k)), show(cb.get(k))))
        .collect()
}

/// (environment, workload) pairs kept by `filter` whose figures' parameters
/// differ between the runs, e.g. `vm-tcg randacc: log2_table 20 vs 24`.
pub fn param_differences(base: &Analysis, new: &Analysis, filter: &Filter) -> Vec<String> {
    let mut seen = BTreeMap::new();
    for b in &base.figures {
        if !filter.keeps(&b.env_id, &b.workload, &b.metric) {
            continue;
        }
        let Some(n) = new.figure(&b.env_id, &b.workload, &b.metric) else {
            continue;
        };
        let d = analysis::param_differences(&b.params, &n.params);
        if !d.is_empty() {
            seen.entry((b.env_id.clone(), b.workload.clone()))
                .or_insert_with(|| d.join(", "));
        }
    }
    seen.into_iter()
        .map(|((e, w), d)| format!("{e} {w}: {d}"))
        .collect()
}

/// Everything that makes two runs incomparable apart from the host: plan
/// differences and parameter differences of the gated figures.
pub fn run_differences(base: &Run, new: &Run, filter: &Filter) -> Vec<String> {
    let mut d = plan_differences(&base.info, &new.info);
    let opts = StatsOptions::default();
    d.extend(param_differences(
        &analyse(&base.records, opts),
        &analyse(&new.records, opts),
        filter,
    ));
    d
}

/// [`run_differences`] of two digested runs.
pub fn digest_differences(
    base: &crate::digest::Digest,
    new: &crate::digest::Digest,
    filter: &Filter,
) -> Vec<String> {
    let mut d = plan_differences(&base.info, &new.info);
    d.extend(param_differences(&base.analysis, &new.analysis, filter));
    d
}

fn fig<'a>(a: &'a Analysis, k: &Key) -> Option<&'a Figure> {
    a.figure(&k.0, &k.1, &k.2)
}

fn key(f: &Figure) -> String {
    format!("{} {}/{}", f.env_id, f.workload, f.metric)
}

/// Compare two runs with the default gate settings at `threshold_pct`.
pub fn compare(base: &Run, new: &Run, threshold_pct: f64, opts: StatsOptions) -> Comparison {
    compare_runs(base, new, &GateOptions::new(threshold_pct), opts)
}

/// Compare two runs: what `isobench compare BASE NEW` does.
pub fn compare_runs(base: &Run, new: &Run, gate: &GateOptions, opts: StatsOptions) -> Comparison {
    compare_analyses_with(
        &analyse(&base.records, opts),
        &analyse(&new.records, opts),
        &base.info.run_id,
        &new.info.run_id,
        gate,
    )
}

/// The gate on one analysed run a side.
pub fn compare_analyses_with(
    base: &Analysis,
    new: &Analysis,
    base_run: &str,
    new_run: &str,
    gate: &GateOptions,
) -> Comparison {
    compare_sets(&[(base_run, base)], &[(new_run, new)], gate)
}

/// The more specific of two names of one quantity: the longer, then the
/// alphabetically first.
fn more_specific<'a>(a: &'a str, b: &'a str) -> &'a str {
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Greater => a,
        std::cmp::Ordering::Less => b,
        std::cmp::Ordering::Equal => a.min(b),
    }
}

/// Values one (environment, workload) of a run should have per metric: its
/// records, valid or not (the most values any metric has plus the invalid
/// records), and at least one a repetition the run made anywhere (the
/// distinct repetition numbers of all its valid values): records that are
/// gone altogether (a truncated results file, a column that stopped
/// writing) are lost too, not only invalid ones. A metric with fewer lost
/// repetitions. A workload that by design has fewer values than the run
/// has repetitions has as few in the baseline, which then "lost" as many
/// and the new run is not failed for it (see `broken`).
fn expected_values(a: &Analysis) -> HashMap<(&str, &str), usize> {
    let reps: std::collections::HashSet<u32> = a
        .figures
        .iter()
        .flat_map(|f| f.reps.iter().copied())
        .collect();
    let mut m: HashMap<(&str, &str), usize> = HashMap::new();
    for f in &a.figures {
        let e = m.entry((&f.env_id, &f.workload)).or_insert(reps.len());
        *e = (*e).max(f.samples.len() + f.invalid);
    }
    m
}

/// A label for a list of run ids.
pub fn runs_label(ids: &[&str]) -> String {
    match ids {
        [] => String::new(),
        [one] => one.to_string(),
        [first, .., last] => format!("{first} … {last} ({} runs)", ids.len()),
    }
}

/// The values of a figure, when they make a valid baseline: present, and
/// every one > 0 (non-finite values never reach a figure).
fn valid(f: Option<&Figure>) -> Option<&Figure> {
    f.filter(|f| !f.samples.is_empty() && f.samples.iter().all(|&x| x > 0.0))
}

/// What is wrong with a quantity of a new run, if anything (see the module
/// documentation: failing closed).
fn broken(f: Option<&Figure>, expected: usize, base_lost: bool) -> Option<String> {
    let Some(f) = f else {
        return Some("no valid value in the new run (missing, or every result invalid)".into());
    };
    let nonpos = f.samples.iter().filter(|&&x| x <= 0.0).count();
    if nonpos > 0 {
        return Some(format!("{nonpos} of {} values ≤ 0", f.samples.len()));
    }
    let lost = expected.saturating_sub(f.samples.len());
    if lost > 0 && !base_lost {
        return Some(format!(
            "{lost} of {expected} repetitions lost (invalid, not finite or missing)"
        ));
    }
    None
}

/// The gate: compare baseline runs with new runs (each `(run id, analysis)`).
pub fn compare_sets(
    base: &[(&str, &Analysis)],
    new: &[(&str, &Analysis)],
    gate: &GateOptions,
) -> Comparison {
    let (mut keys, only_new) = quantities(base, new, &gate.filter);
    let mut not_gated = Vec::new();
    if let Some(r) = gate.relative_to.as_deref() {
        keys.retain(|k| {
            let has_ref = base.iter().any(|(_, a)| {
                valid(a.figure(r, &k.1, &k.2)).is_some() && valid(fig(a, k)).is_some()
            });
            let keep = k.0 != r && has_ref;
            if !keep {
                not_gated.push(format!("{} {}/{}", k.0, k.1, k.2));
            }
            keep
        });
    }
    let mut param_mismatches = Vec::new();
    for (_, b) in base.iter().take(1) {
        for (_, n) in new {
            for d in param_differences(b, n, &gate.filter) {
                if !param_mismatches.contains(&d) {
                    param_mismatches.push(d);
                }
            }
        }
    }
    let all: Vec<&Analysis> = base.iter().chain(new).map(|(_, a)| *a).collect();
    let groups = alias_groups(&keys, &all);
    let sides = Sides {
        base,
        new,
        expected_base: base.iter().map(|(_, a)| expected_values(a)).collect(),
        expected_new: new.iter().map(|(_, a)| expected_values(a)).collect(),
        gate,
        delta: -(1.0 - gate.threshold_pct.min(99.999) / 100.0).ln(),
    };
    let mut failures = Vec::new();
    let mut undecided = Vec::new();
    let mut changes = Vec::new();
    for members in groups.values() {
        match sides.quantity(&keys, members) {
            Outcome::Undecided(f) => undecided.push(f),
            Outcome::Failed(f) => failures.extend(f),
            Outcome::Change(c) => changes.push(*c),
        }
    }
    // Keep the analysis order (workload, metric, environment) of the first
    // baseline run.
    let order = |c: &Change| {
        base.first().and_then(|(_, a)| {
            a.figures.iter().position(|f| {
                f.env_id == c.env_id && f.workload == c.workload && f.metric == c.metric
            })
        })
    };
    changes.sort_by_key(|c| order(c));
    decide(&mut changes, gate);
    let base_ids: Vec<&str> = base.iter().map(|(id, _)| *id).collect();
    let new_ids: Vec<&str> = new.iter().map(|(id, _)| *id).collect();
    Comparison {
        base_run: runs_label(&base_ids),
        new_run: runs_label(&new_ids),
        base_runs: base_ids.iter().map(|s| s.to_string()).collect(),
        new_runs: new_ids.iter().map(|s| s.to_string()).collect(),
        threshold_pct: gate.threshold_pct,
        alpha: gate.alpha,
        power: gate.power,
        fail_on_possible: gate.fail_on_possible,
        run_summary: gate.run_summary,
        relative_to: gate.relative_to.clone(),
        not_gated,
        changes,
        failures,
        undecided,
        only_new,
        param_mismatches,
    }
}

/// An (environment, workload, metric) quantity.
type Key = (String, String, String);

/// The quantities the filter keeps: those of the baseline, in analysis
/// order of their first run, and the names of those only the new runs have.
fn quantities(
    base: &[(&str, &Analysis)],
    new: &[(&str, &Analysis)],
    filter: &Filter,
) -> (Vec<Key>, Vec<String>) {
    let keep = |f: &Figure| filter.keeps(&f.env_id, &f.workload, &f.metric);
    let mut keys: Vec<Key> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (_, a) in base {
        for f in a.figures.iter().filter(|f| keep(f)) {
            let k = (f.env_id.clone(), f.workload.clone(), f.metric.clone());
            if seen.insert(k.clone()) {
                keys.push(k);
            }
        }
    }
    let mut only_new = Vec::new();
    for (_, a) in new {
        for f in a.figures.iter().filter(|f| keep(f)) {
            let k = (f.env_id.clone(), f.workload.clone(), f.metric.clone());
            if !seen.contains(&k) && !only_new.contains(&key(f)) {
                only_new.push(key(f));
            }
        }
    }
    (keys, only_new)
}

/// Aliases: same (env, workload), identical values and reps in every run.
/// Each group of `keys` indices is keyed by its first member.
fn alias_groups(keys: &[Key], all: &[&Analysis]) -> BTreeMap<usize, Vec<usize>> {
    let same = |x: Option<&Figure>, y: Option<&Figure>| match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => x.samples == y.samples && x.reps == y.reps,
        _ => false,
    };
    let mut canonical: Vec<usize> = (0..keys.len()).collect();
    for i in 0..keys.len() {
        for j in 0..i {
            let (ki, kj) = (&keys[i], &keys[j]);
            if canonical[j] == j
                && ki.0 == kj.0
                && ki.1 == kj.1
                && all.iter().all(|a| same(fig(a, ki), fig(a, kj)))
            {
                canonical[i] = j;
                break;
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &c) in canonical.iter().enumerate() {
        groups.entry(c).or_default().push(i);
    }
    groups
}

/// The runs of both sides with what the gate needs to test one quantity.
struct Sides<'a> {
    base: &'a [(&'a str, &'a Analysis)],
    new: &'a [(&'a str, &'a Analysis)],
    expected_base: Vec<HashMap<(&'a str, &'a str), usize>>,
    expected_new: Vec<HashMap<(&'a str, &'a str), usize>>,
    gate: &'a GateOptions,
    /// The threshold as a change of logs.
    delta: f64,
}

/// What the gate made of one quantity.
enum Outcome {
    Undecided(Finding),
    /// Broken in a new run (one finding per such run).
    Failed(Vec<Finding>),
    Change(Box<Change>),
}

impl Sides<'_> {
    /// Test one group of aliases, under its most specific name.
    fn quantity(&self, keys: &[Key], members: &[usize]) -> Outcome {
        let name_of = |i: usize| keys[i].2.as_str();
        let best = members
            .iter()
            .copied()
            .reduce(|a, b| {
                if more_specific(name_of(a), name_of(b)) == name_of(a) {
                    a
                } else {
                    b
                }
            })
            .expect("non-empty group");
        let k = &keys[best];
        let name = format!("{} {}/{}", k.0, k.1, k.2);
        let aliases: Vec<String> = members
            .iter()
            .filter(|&&i| i != best)
            .map(|&i| name_of(i).to_string())
            .collect();
        let reference = self.gate.relative_to.as_deref();
        let summary = self.gate.run_summary;
        let mut base_vals = Vec::new();
        let (mut base_lost, mut ref_base_lost) = (false, false);
        let mut proto: Option<&Figure> = None;
        for (i, (_, a)) in self.base.iter().enumerate() {
            let lost = |f: &Figure, env: &str| {
                self.expected_base[i]
                    .get(&(env, k.1.as_str()))
                    .is_some_and(|&e| e > f.samples.len())
            };
            if let Some(f) = valid(fig(a, k)) {
                let samples = match reference {
                    None => f.samples.clone(),
                    Some(r) => {
                        // A baseline run without a valid reference figure
                        // has no ratio (as one without a valid figure).
                        let Some(rf) = valid(a.figure(r, &k.1, &k.2)) else {
                            continue;
                        };
                        ref_base_lost |= lost(rf, r);
                        relative_samples(f, rf, summary)
                    }
                };
                base_lost |= lost(f, &k.0);
                base_vals.push(samples);
                proto.get_or_insert(f);
            }
        }
        let Some(proto) = proto else {
            return Outcome::Undecided(Finding {
                name,
                reason: "no valid baseline (missing, or a value ≤ 0)".into(),
            });
        };
        let mut new_vals = Vec::new();
        let mut failures = Vec::new();
        for (i, (id, a)) in self.new.iter().enumerate() {
            let exp = self.expected_new[i]
                .get(&(k.0.as_str(), k.1.as_str()))
                .copied()
                .unwrap_or(0);
            // The figure and its reference figure (relative gate), each
            // looked up once: checked here, divided below.
            let f = fig(a, k);
            let rf = reference.map(|r| (r, a.figure(r, &k.1, &k.2)));
            let mut reason = broken(f, exp, base_lost);
            if let (None, Some((r, rf))) = (&reason, rf) {
                let exp = self.expected_new[i]
                    .get(&(r, k.1.as_str()))
                    .copied()
                    .unwrap_or(0);
                reason = broken(rf, exp, ref_base_lost)
                    .map(|why| format!("its reference {r} {}/{}: {why}", k.1, k.2));
            }
            match (reason, f) {
                (Some(reason), _) => failures.push(Finding {
                    name: if self.new.len() > 1 {
                        format!("{name} ({id})")
                    } else {
                        name.clone()
                    },
                    reason,
                }),
                (None, Some(f)) => new_vals.push(match rf {
                    None => f.samples.clone(),
                    Some((_, Some(rf))) => relative_samples(f, rf, summary),
                    Some((_, None)) => unreachable!("a missing reference is broken"),
                }),
                (None, None) => unreachable!("a missing figure is broken"),
            }
        }
        if !failures.is_empty() {
            return Outcome::Failed(failures);
        }
        let Some(level) = shift::level_of(
            &base_vals,
            &new_vals,
            self.gate.history_noise.get(&name).copied(),
            self.gate.run_summary,
            proto.direction == Direction::HigherIsBetter,
        ) else {
            return Outcome::Undecided(Finding {
                name,
                reason: "fewer than 2 values a side and no run-to-run spread from a history".into(),
            });
        };
        if let (Some(r), Unit::Repetitions) = (reference, level.unit) {
            // The repetitions of one run hold neither the run-to-run
            // spread of the ratio nor the reference's own noise.
            return Outcome::Undecided(Finding {
                name,
                reason: format!("relative to {r} with one run a side and no history: the run-to-run spread of the ratio is unknown (give several runs a side, or a history store)"),
            });
        }
        let mut c = self.change(k, proto, level, &base_vals, &new_vals);
        c.aliases = aliases;
        if let Some(r) = reference {
            c.unit = format!("× {r}");
        }
        Outcome::Change(Box::new(c))
    }

    /// The change of quantity `k` (`proto` its first baseline figure),
    /// before the multiple-testing adjustment and the verdict ([`decide`]).
    fn change(
        &self,
        k: &Key,
        proto: &Figure,
        level: shift::Level,
        base_vals: &[Vec<f64>],
        new_vals: &[Vec<f64>],
    ) -> Change {
        let sign = match proto.direction {
            Direction::HigherIsBetter => 1.0,
            Direction::LowerIsBetter => -1.0,
        };
        let (lo, hi) = level.interval(stats::CONFIDENCE);
        let ratio = Estimate {
            point: level.diff.exp(),
            lo: lo.exp(),
            hi: hi.exp(),
        };
        let perf = shift::Level {
            diff: sign * level.diff,
            ..level
        };
        let (plo, phi) = perf.interval(stats::CONFIDENCE);
        let pct = |x: f64| (x.exp() - 1.0) * 100.0;
        let summary = self.gate.run_summary;
        let higher = proto.direction == Direction::HigherIsBetter;
        let mean_of = |runs: &[Vec<f64>]| {
            (runs.iter().map(|r| summary.of(r, higher)).sum::<f64>() / runs.len() as f64).exp()
        };
        let detectable = perf.detectable(self.delta, stats::CONFIDENCE, self.gate.power);
        Change {
            env_id: k.0.clone(),
            workload: k.1.clone(),
            metric: k.2.clone(),
            aliases: Vec::new(),
            unit: proto.unit.clone(),
            direction: proto.direction,
            base_geomean: mean_of(base_vals),
            new_geomean: mean_of(new_vals),
            base_n: base_vals.iter().map(Vec::len).sum(),
            new_n: new_vals.iter().map(Vec::len).sum(),
            base_runs: base_vals.len(),
            new_runs: new_vals.len(),
            change_pct: ratio.map(|r| (r - 1.0) * 100.0),
            perf_change_pct: Estimate {
                point: pct(perf.diff),
                lo: pct(plo),
                hi: pct(phi),
            },
            p_value: perf.p_below(),
            p_adjusted: 1.0,
            significant: false,
            verdict: Verdict::Inconclusive,
            rules_out_regression: plo > -self.delta,
            basis: level.unit,
            log_sd: level.sd,
            detectable_pct: (1.0 - (-detectable).exp()) * 100.0,
            noise: shift::noise_change(base_vals, new_vals),
            noise_p_adjusted: 1.0,
            noise_rise: false,
        }
    }
}

/// Adjust the p-values of all changes together (Holm) and give each its
/// verdict and whether its noise rose.
fn decide(changes: &mut [Change], gate: &GateOptions) {
    let adjusted = stats::holm(&changes.iter().map(|c| c.p_value).collect::<Vec<_>>());
    let noise_adjusted = stats::holm(
        &changes
            .iter()
            .map(|c| c.noise.map_or(1.0, |n| n.p_rise))
            .collect::<Vec<_>>(),
    );
    let up = 1.0 / (1.0 - gate.threshold_pct.min(99.999) / 100.0) - 1.0;
    let down = -gate.threshold_pct;
    for ((c, p), np) in changes.iter_mut().zip(adjusted).zip(noise_adjusted) {
        c.p_adjusted = p;
        c.significant = p < gate.alpha;
        let e = c.perf_change_pct;
        c.verdict = if e.hi < down {
            Verdict::Regressed
        } else if c.significant && e.lo <= down {
            Verdict::PossiblyRegressed
        } else if e.lo > down && e.hi < up * 100.0 {
            Verdict::NoChange
        } else if e.lo > 0.0 {
            Verdict::Improved
        } else {
            Verdict::Inconclusive
        };
        c.noise_p_adjusted = np;
        c.noise_rise = np < gate.alpha && c.noise.is_some_and(|n| n.ratio > 1.0);
    }
}

/// A figure's values divided by its reference figure's run summary (the
/// exponential of `summary` of the reference's logs): every run summary
/// (mean, best, best half, q75: each moves with a constant shift of the
/// logs) of the result is the figure's summary minus the reference's, the
/// log of their ratio in this run. Both valid (values present, > 0).
pub fn relative_samples(f: &Figure, reference: &Figure, summary: RunSummary) -> Vec<f64> {
    let r = summary.of(
        &reference.samples,
        reference.direction == Direction::HigherIsBetter,
    );
    let r = r.exp();
    f.samples.iter().map(|x| x / r).collect()
}

/// An analysis of ratios to `reference`: every figure of another
/// environment with a valid reference figure of the same workload/metric,
/// its values made [`relative_samples`]; the reference's own figures and
/// figures without a valid reference (or invalid themselves) dropped.
pub fn relative_analysis(a: &Analysis, reference: &str, summary: RunSummary) -> Analysis {
    let mut rel = a.clone();
    rel.figures.retain_mut(|f| {
        let samples = match (
            valid(Some(&*f)),
            valid(a.figure(reference, &f.workload, &f.metric)),
        ) {
            (Some(v), Some(rf)) if f.env_id != reference => relative_samples(v, rf, summary),
            _ => return false,
        };
        f.samples = samples;
        true
    });
    rel
}

/// The run-to-run spread the gate `gate` needs from history runs: of its
/// run summary, and of the ratios to [`GateOptions::relative_to`] when set.
pub fn history_noise_for(runs: &[&Analysis], gate: &GateOptions) -> BTreeMap<String, RunNoise> {
    let Some(r) = gate.relative_to.as_deref() else {
        return history_noise_of(runs, gate.run_summary);
    };
    let rel: Vec<Analysis> = runs
        .iter()
        .map(|a| relative_analysis(a, r, gate.run_summary))
        .collect();
    history_noise_of(&rel.iter().collect::<Vec<_>>(), gate.run_summary)
}

/// Run-to-run spread (logs) per quantity (`env workload/metric`) of history
/// runs: the variance of their run means, for [`GateOptions::history_noise`].
pub fn history_noise(runs: &[&Analysis]) -> BTreeMap<String, RunNoise> {
    history_noise_of(runs, RunSummary::Mean)
}

/// [`history_noise`] of another run summary (the gate's
/// [`GateOptions::run_summary`]).
pub fn history_noise_of(runs: &[&Analysis], summary: RunSummary) -> BTreeMap<String, RunNoise> {
    let mut means: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for a in runs {
        for f in &a.figures {
            if valid(Some(f)).is_some() {
                means
                    .entry(key(f))
                    .or_default()
                    .push(summary.of(&f.samples, f.direction == Direction::HigherIsBetter));
            }
        }
    }
    means
        .into_iter()
        .filter_map(|(k, m)| RunNoise::of_run_means(&m).map(|n| (k, n)))
        .collect()
}

/// A plain-text table for the terminal; the outcome last, failures first.
pub fn to_text(c: &Comparison) -> String {
    const COLS: usize = 8;
    let mut rows = vec![[
        "environment".to_string(),
        "workload/metric".to_string(),
        "base".to_string(),
        "new".to_string(),
        "perf. change [95% CI]".to_string(),
        "p worse (Holm)".to_string(),
        "caught at 90%".to_string(),
        "verdict".to_string(),
    ]];
    for ch in &c.changes {
        let alias = if ch.aliases.is_empty() {
            String::new()
        } else {
            format!(" = {}", ch.aliases.join(" = "))
        };
        let runs = |n: usize, r: usize| {
            if r > 1 {
                format!("n={n}, {r} runs")
            } else {
                format!("n={n}")
            }
        };
        let mut verdict = ch.verdict().to_string();
        if ch.noise_rise {
            verdict.push_str("; noise rose");
        }
        rows.push([
            ch.env_id.clone(),
            format!("{}/{}{alias} ({})", ch.workload, ch.metric, ch.unit),
            format!(
                "{} ({})",
                num(ch.base_geomean),
                runs(ch.base_n, ch.base_runs)
            ),
            format!("{} ({})", num(ch.new_geomean), runs(ch.new_n, ch.new_runs)),
            format!(
                "{:+.1}% [{:+.1}, {:+.1}]",
                ch.perf_change_pct.point, ch.perf_change_pct.lo, ch.perf_change_pct.hi
            ),
            format!("{:.3} ({:.3})", ch.p_value, ch.p_adjusted),
            format!("−{:.1}%", ch.detectable_pct),
            verdict,
        ]);
    }
    let widths: Vec<usize> = (0..COLS)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let unit = match c.run_summary {
        RunSummary::Mean => "geometric means, run means as the unit".to_string(),
        s => format!(
            "--run-summary {}: {} as the unit (base/new: its geometric mean over the runs)",
            s.name(),
            s.describe()
        ),
    };
    let mut s = format!(
        "compare {} (base) → {} (new); threshold {}%: {unit}; regressed = whole 95% interval worse than −{}%; possibly regressed = one-sided t, Holm over {} quantities, family-wise α = {}\n",
        c.base_run, c.new_run, c.threshold_pct, c.threshold_pct, c.tested(), c.alpha
    );
    if let Some(r) = &c.relative_to {
        let _ = writeln!(
            s,
            "relative to {r} (--relative-to): each quantity is the environment's run summary divided by {r}'s of the same workload/metric in the same run (base/new: geometric means of these ratios); a drift of the host that moves both cancels; {r}'s own quantities are not gated"
        );
    }
    let mut bases: Vec<String> = c
        .changes
        .iter()
        .map(|ch| basis_label(ch.basis, c.run_summary))
        .collect();
    bases.dedup();
    bases.sort();
    bases.dedup();
    if !bases.is_empty() {
        let _ = writeln!(s, "intervals from: {}", bases.join("; "));
    }
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(s, "{}", cells.join("  ").trim_end());
    }
    if !c.only_new.is_empty() {
        let _ = writeln!(s, "only in new (not gated): {}", c.only_new.join(", "));
    }
    if let (Some(r), false) = (&c.relative_to, c.not_gated.is_empty()) {
        let _ = writeln!(
            s,
            "not gated relative to {r} (the reference itself, or no {r} figure in the baseline): {}",
            c.not_gated.join(", ")
        );
    }
    if !c.param_mismatches.is_empty() {
        let _ = writeln!(
            s,
            "parameters differ (compared anyway): {}",
            c.param_mismatches.join("; ")
        );
    }
    let _ = writeln!(
        s,
        "caught at 90%: the slowdown of performance this gate calls regressed with probability {} at the noise its interval assumes",
        c.power
    );
    for line in c.outcome() {
        let _ = writeln!(s, "{line}");
    }
    s
}

/// The comparison as JSON for scripts: the exit status and outcome, every
/// failure and undecided quantity, every change with its interval,
/// p-values, verdict and noise test.
pub fn to_json(c: &Comparison) -> serde_json::Value {
    let finding = |f: &Finding| serde_json::json!({"name": f.name, "reason": f.reason});
    serde_json::json!({
        "base_run": c.base_run,
        "new_run": c.new_run,
        "base_runs": c.base_runs,
        "new_runs": c.new_runs,
        "threshold_pct": c.threshold_pct,
        "alpha": c.alpha,
        "power": c.power,
        "fail_on_possible": c.fail_on_possible,
        "run_summary": c.run_summary.name(),
        "relative_to": c.relative_to,
        "not_gated": c.not_gated,
        "exit_code": c.exit_code(),
        "outcome": c.outcome(),
        "test": format!("{} as the unit (t on logs); regressed: whole 95% interval beyond the threshold; possibly regressed: one-sided t, Holm-corrected; noise: Brown-Forsythe on logs, Holm-corrected", c.run_summary.describe()),
        "tested": c.tested(),
        "failures": c.failures.iter().map(finding).collect::<Vec<_>>(),
        "regressions": c.regressions().iter().map(|r| r.name()).collect::<Vec<_>>(),
        "undecided": c.undecided.iter().map(finding).collect::<Vec<_>>(),
        "only_new": c.only_new,
        "param_mismatches": c.param_mismatches,
        "changes": c
            .changes
            .iter()
            .map(|ch| change_json(ch, c.run_summary))
            .collect::<Vec<_>>(),
    })
}

/// What an interval is made of, naming a run summary other than the mean.
fn basis_label(unit: Unit, summary: RunSummary) -> String {
    let l = unit.label();
    match (summary, unit) {
        (RunSummary::Mean, _) | (_, Unit::Repetitions) => l,
        (s, _) => l.replacen("run means", &format!("run summaries ({})", s.name()), 1),
    }
}

fn change_json(ch: &Change, summary: RunSummary) -> serde_json::Value {
    let est = |e: Estimate| serde_json::json!({"point": e.point, "lo": e.lo, "hi": e.hi});
    let mut v = serde_json::json!({
    "env_id": ch.env_id,
    "workload": ch.workload,
    "metric": ch.metric,
    "aliases": ch.aliases,
    "unit": ch.unit,
    "direction": ch.direction.label(),
    "base_geomean": ch.base_geomean,
    "new_geomean": ch.new_geomean,
    "base_n": ch.base_n,
    "new_n": ch.new_n,
    "base_runs": ch.base_runs,
    "new_runs": ch.new_runs,
    "basis": basis_label(ch.basis, summary),
    });
    let rest = serde_json::json!({
        "change_pct": est(ch.change_pct),
        "perf_change_pct": est(ch.perf_change_pct),
        "p_value": ch.p_value,
        "p_adjusted": ch.p_adjusted,
        "log_sd": ch.log_sd,
        "detectable_pct": ch.detectable_pct,
        "verdict": ch.verdict(),
        "rules_out_regression": ch.rules_out_regression,
        "noise_ratio": ch.noise.map(|n| n.ratio),
        "noise_p_adjusted": ch.noise_p_adjusted,
        "noise_rise": ch.noise_rise,
    });
    if let (Some(a), serde_json::Value::Object(b)) = (v.as_object_mut(), rest) {
        a.extend(b);
    }
    v
}

/// A plot of every change in performance with its interval.
pub fn plot(c: &Comparison, subtitle: &str) -> Result<Image, PlotError> {
    let rows: Vec<LabelledValue> = c
        .changes
        .iter()
        .map(|ch| LabelledValue {
            label: ch.name(),
            value: ch.perf_change_pct.point,
            lo: ch.perf_change_pct.lo,
            hi: ch.perf_change_pct.hi,
        })
        .collect();
    let class = c
        .changes
        .iter()
        .map(|ch| match ch.verdict {
            Verdict::Regressed | Verdict::PossiblyRegressed => -1,
            Verdict::Improved => 1,
            _ => 0,
        })
        .collect();
    draw::render(&ChangesPlot {
        title: format!("{} → {}", c.base_run, c.new_run),
        subtitle: subtitle.to_string(),
        rows: &rows,
        class,
        threshold_pct: c.threshold_pct,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{self, fixture_run, fixture_run_seeded, scale_metrics};

    const OPTS: StatsOptions = StatsOptions { resamples: 500 };

    fn throughput_down(run: &mut Run, factor: f64) {
        scale_metrics(
            run,
            |r, m| {
                let unit = r.units.get(m).map(String::as_str).unwrap_or("");
                Direction::of(m, unit) == Direction::HigherIsBetter
            },
            factor,
        );
    }

    /// Native cpu only (primes_per_s, gflops; ±2% uniform noise), `n` reps.
    fn cpu_run(n: u32, seed: u64) -> Run {
        let mut r = fixture_run_seeded(n, 1.0, seed);
        r.records
            .retain(|r| r.env_id == "native" && r.workload == "cpu");
        r.info.run_id = format!("run-{seed}");
        r
    }

    fn set_gflops(run: &mut Run, f: impl Fn(u32, f64) -> f64) {
        for r in &mut run.records {
            let v = r.metrics["gflops"];
            r.metrics.insert("gflops".into(), f(r.rep, v));
        }
    }

    fn gate(t: f64) -> GateOptions {
        GateOptions::new(t)
    }

    fn cmp(base: &Run, new: &Run, t: f64) -> Comparison {
        compare_runs(base, new, &gate(t), OPTS)
    }

    fn failure_names(c: &Comparison) -> Vec<&str> {
        c.failures.iter().map(|f| f.name.as_str()).collect()
    }

    // --- The broken runs of issue 18: every one exits 1, named first. ---

    #[test]
    fn every_gflops_zero_fails() {
        let base = cpu_run(12, 1);
        let mut new = cpu_run(12, 2);
        set_gflops(&mut new, |_, _| 0.0);
        let c = cmp(&base, &new, 5.0);
        assert_eq!(c.exit_code(), 1, "{}", to_text(&c));
        assert_eq!(failure_names(&c), ["native cpu/gflops"]);
        assert!(
            c.failures[0].reason.contains("12 of 12 values ≤ 0"),
            "{:?}",
            c.failures
        );
        assert!(c.outcome()[0].starts_with("FAILED"), "{:?}", c.outcome());
    }

    #[test]
    fn one_repetition_zero_fails() {
        let base = cpu_run(12, 1);
        let mut new = cpu_run(12, 2);
        set_gflops(&mut new, |rep, v| if rep == 7 { 0.0 } else { v });
        let c = cmp(&base, &new, 5.0);
        assert_eq!(c.exit_code(), 1);
        assert!(c.failures[0].reason.contains("1 of 12 values ≤ 0"));
    }

    #[test]
    fn negative_values_fail() {
        let base = cpu_run(12, 1);
        let mut new = cpu_run(12, 2);
        set_gflops(&mut new, |_, v| -v);
        let c = cmp(&base, &new, 5.0);
        assert_eq!(c.exit_code(), 1);
        assert_eq!(failure_names(&c), ["native cpu/gflops"]);
    }

    #[test]
    fn every_cpu_record_invalid_fails() {
        let base = cpu_run(12, 1);
        let mut new = cpu_run(12, 2);
        for r in &mut new.records {
            r.valid = false;
            r.error = Some("workload crashed".into());
        }
        let c = cmp(&base, &new, 5.0);
        assert_eq!(c.exit_code(), 1);
        let mut names = failure_names(&c);
        names.sort();
        assert_eq!(names, ["native cpu/gflops", "native cpu/primes_per_s"]);
        assert!(c
            .failures
            .iter()
            .all(|f| f.reason.contains("no valid value")));
        assert!(c.changes.is_empty());
    }

    #[test]
    fn eleven_of_twelve_lost_while_halved_fails() {
        let base = cpu_run(12, 1);
        let mut new = cpu_run(12, 2);
        set_gflops(&mut new, |_, v| v / 2.0);
        for r in new.records.iter_mut().filter(|r| r.rep > 0) {
            r.valid = false;
        }
        let c = cmp(&base, &new, 5.0);
        assert_eq!(c.exit_code(), 1);
        assert!(
            c.failures
                .iter()
                .any(|f| f.name == "native cpu/gflops"
                    && f.reason.contains("11 of 12 repetitions lost")),
            "{:?}",
            c.failures
        );
    }

    /// Records gone altogether (not written as invalid) are lost too: the
    /// run's other columns show how many repetitions it made.
    #[test]
    fn eleven_of_twelve_records_missing_while_halved_fails() {
        // Native and a container column, so the run's repetitions show.
        let two = |seed: u64| {
            let mut r = fixture_run_seeded(12, 1.0, seed);
            r.records.retain(|r| {
                r.workload == "cpu" && (r.env_id == "native" || r.env_id == "container-isorun")
            });
            r.info.run_id = format!("run-{seed}");
            r
        };
        let base = two(1);
        let mut new = two(2);
        set_gflops(&mut new, |_, v| v / 2.0);
        new.records.retain(|r| r.env_id != "native" || r.rep == 0);
        let c = cmp(&base, &new, 5.0);
        assert_eq!(c.exit_code(), 1);
        assert!(
            c.failures.iter().any(|f| f.name == "native cpu/gflops"
                && f.reason
                    .contains("11 of 12 repetitions lost (invalid, not finite or missing)")),
            "{:?}",
            c.failures
        );
        // A baseline with the same gap (a workload that by design has
        // fewer values) does not fail the new run for it.
        let mut base = two(1);
        base.records.retain(|r| r.env_id != "native" || r.rep == 0);
        let mut new = two(2);
        new.records.retain(|r| r.env_id != "native" || r.rep == 0);
        let c = cmp(&base, &new, 5.0);
        assert!(c.failures.is_empty(), "{:?}", c.failures);
    }

    #[test]
    fn a_value_that_is_not_finite_is_a_lost_repetition() {
        let base = cpu_run(12, 1);
        let mut new = cpu_run(12, 2);
        set_gflops(&mut new, |rep, v| if rep == 3 { f64::NAN } else { v });
        let c = cmp(&base, &new, 5.0);
        assert_eq!(c.exit_code(), 1);
        assert!(c.failures[0].reason.contains("1 of 12 repetitions lost"));
    }

    #[test]
    fn an_invalid_baseline_cannot_decide_but_a_failure_still_wins() {
        let mut base = cpu_run(12, 1);
        set_gflops(&mut base, |_, _| 0.0);
        let new = cpu_run(12, 2);
        let c = cmp(&base, &new, 5.0);
        assert_eq!(c.exit_code(), 2, "{}", to_text(&c));
        assert_eq!(c.undecided[0].name, "native cpu/gflops");
        let mut broken = new.clone();
        for r in broken.records.iter_mut().filter(|r| r.rep == 0) {
            r.valid = false;
        }
        let c = cmp(&base, &broken, 5.0);
        assert_eq!(c.exit_code(), 1);
        assert_eq!(failure_names(&c), ["native cpu/primes_per_s"]);
    }

    // --- Found regressions are never hidden. ---

    /// −20% gflops beside a quantity with 10% noise: exit 1 (it used to
    /// exit 2, "lifecycle_ms needs 67 repetitions"), the table written.
    #[test]
    fn a_regression_beside_a_noisy_quantity_exits_1() {
        let base = fixture_run_seeded(12, 1.0, 1);
        let mut new = fixture_run_seeded(12, 1.0, 2);
        scale_metrics(&mut new, |r, m| r.env_id == "native" && m == "gflops", 0.8);
        let mut g = gate(5.0);
        g.filter.envs = vec!["native".into()];
        g.filter.workloads = vec!["cpu".into(), "startup".into()];
        let c = compare_runs(&base, &new, &g, OPTS);
        assert_eq!(c.exit_code(), 1, "{}", to_text(&c));
        let reg: Vec<String> = c.regressions().iter().map(|r| r.name()).collect();
        assert_eq!(reg, ["native cpu/gflops"]);
        assert!(to_text(&c).contains("REGRESSION: native cpu/gflops"));
    }

    // --- The threshold is a minimum effect. ---

    #[test]
    fn a_three_percent_slowdown_is_not_a_five_percent_regression() {
        let base = cpu_run(12, 1);
        let mut new = cpu_run(12, 2);
        set_gflops(&mut new, |_, v| v * 0.97);
        let c = cmp(&base, &new, 5.0);
        let g = c.changes.iter().find(|c| c.metric == "gflops").unwrap();
        assert_ne!(g.verdict, Verdict::Regressed, "{}", to_text(&c));
        assert_ne!(c.exit_code(), 1, "{}", to_text(&c));
        // With --fail-on-possible a significant 3% slowdown whose interval
        // reaches 5% fails; here the interval stays within 5%: no change.
        assert!(g.perf_change_pct.hi < 0.0);
    }

    #[test]
    fn verdicts_follow_the_interval() {
        let base = cpu_run(12, 1);
        let cases = [
            (0.80, Verdict::Regressed),
            (1.0, Verdict::NoChange),
            (1.25, Verdict::Improved),
        ];
        for (f, want) in cases {
            let mut new = cpu_run(12, 2);
            set_gflops(&mut new, |_, v| v * f);
            let c = cmp(&base, &new, 5.0);
            let g = c.changes.iter().find(|c| c.metric == "gflops").unwrap();
            assert_eq!(g.verdict, want, "factor {f}\n{}", to_text(&c));
        }
        // Possibly regressed: significantly worse, the interval straddling
        // −5%: a 5.5% slowdown with ±2% noise.
        let mut new = cpu_run(12, 2);
        set_gflops(&mut new, |_, v| v * 0.945);
        let mut c = cmp(&base, &new, 5.0);
        let g = c.changes.iter().find(|c| c.metric == "gflops").unwrap();
        assert_eq!(g.verdict, Verdict::PossiblyRegressed, "{}", to_text(&c));
        assert!(g.perf_change_pct.lo < -5.0 && g.perf_change_pct.hi > -5.0);
        assert_eq!(c.exit_code(), 0, "{}", to_text(&c));
        c.fail_on_possible = true;
        assert_eq!(c.exit_code(), 1);
        // Inconclusive: one noisy repetition per side at n = 3 leaves
        // −5% neither shown nor excluded: exit 2.
        let mut base3 = cpu_run(3, 1);
        let mut new3 = cpu_run(3, 2);
        set_gflops(&mut base3, |rep, v| if rep == 0 { v * 1.15 } else { v });
        set_gflops(&mut new3, |rep, v| if rep == 0 { v * 0.85 } else { v });
        let c = cmp(&base3, &new3, 5.0);
        let g = c.changes.iter().find(|c| c.metric == "gflops").unwrap();
        assert_eq!(g.verdict, Verdict::Inconclusive, "{}", to_text(&c));
        assert!(g.undecided());
        assert_eq!(c.exit_code(), 2);
        assert!(
            c.cannot_decide().contains("neither show nor rule out"),
            "{}",
            c.cannot_decide()
        );
    }

    // --- Noise is a finding of its own. ---

    #[test]
    fn a_rise_in_noise_is_reported_as_such() {
        let base = cpu_run(12, 1);
        let mut new = cpu_run(12, 2);
        // ±2% → about ±12%, same level.
        set_gflops(&mut new, |rep, v| {
            v * (1.0 + 0.12 * (if rep % 2 == 0 { 1.0 } else { -1.0 }))
        });
        let c = cmp(&base, &new, 5.0);
        let g = c.changes.iter().find(|c| c.metric == "gflops").unwrap();
        assert!(g.noise_rise, "{}", to_text(&c));
        assert!(to_text(&c).contains("NOISE ROSE"), "{}", to_text(&c));
        assert!(!to_text(&c).contains("--reps"));
    }

    // --- Run-to-run variance. ---

    /// Ten baseline runs offset from each other by ±3% and a new run at
    /// +3%: repetitions alone would call it a change; run means do not.
    /// Native and container-isorun cpu (±2% noise, 12 repetitions), every
    /// value of the run scaled by `drift` (the host's speed that run) and
    /// the container's by `container` too.
    fn drifting_pair(seed: u64, drift: f64, container: f64) -> Analysis {
        let mut r = fixture_run_seeded(12, 1.0, seed);
        r.records.retain(|r| {
            r.workload == "cpu" && (r.env_id == "native" || r.env_id == "container-isorun")
        });
        scale_metrics(&mut r, |_, _| true, drift);
        scale_metrics(&mut r, |r, _| r.env_id == "container-isorun", container);
        analyse(&r.records, OPTS)
    }

    fn relative(t: f64) -> GateOptions {
        GateOptions {
            relative_to: Some("native".into()),
            ..gate(t)
        }
    }

    /// The host drifts and both environments move together: the new runs
    /// are all 12% slower. Gated absolutely every quantity regressed;
    /// relative to native the ratios did not move and the gate passes,
    /// native's own quantities left ungated.
    #[test]
    fn a_drift_of_both_environments_passes_relative_and_fails_absolute() {
        let drifts = [1.02, 0.98, 1.0, 1.03, 0.97, 1.01, 0.99, 1.0];
        let runs: Vec<Analysis> = drifts
            .iter()
            .enumerate()
            .map(|(i, &d)| drifting_pair(200 + i as u64, d * if i >= 5 { 0.88 } else { 1.0 }, 1.0))
            .collect();
        let base: Vec<(&str, &Analysis)> = runs[..5].iter().map(|a| ("b", a)).collect();
        let new: Vec<(&str, &Analysis)> = runs[5..].iter().map(|a| ("n", a)).collect();
        let abs = compare_sets(&base, &new, &gate(5.0));
        assert_eq!(abs.exit_code(), 1, "{}", to_text(&abs));
        assert_eq!(abs.regressions().len(), 4, "{}", to_text(&abs));
        let rel = compare_sets(&base, &new, &relative(5.0));
        assert_eq!(rel.exit_code(), 0, "{}", to_text(&rel));
        let names: Vec<String> = rel.changes.iter().map(Change::name).collect();
        assert_eq!(
            names,
            [
                "container-isorun cpu/primes_per_s",
                "container-isorun cpu/gflops"
            ],
            "{}",
            to_text(&rel)
        );
        assert!(rel
            .changes
            .iter()
            .all(|c| c.unit == "× native" && (c.new_geomean / c.base_geomean - 1.0).abs() < 0.03));
        assert_eq!(
            rel.not_gated,
            ["native cpu/primes_per_s", "native cpu/gflops"]
        );
        let text = to_text(&rel);
        assert!(
            text.contains("native's own quantities are not gated"),
            "{text}"
        );
        let json = to_json(&rel);
        assert_eq!(json["relative_to"], "native");
        assert_eq!(json["exit_code"], 0);
    }

    /// A slowdown of the container alone, while the host drifts, is caught
    /// relative to native and named.
    #[test]
    fn a_container_only_slowdown_is_caught_relative_to_native() {
        let drifts = [1.02, 0.98, 1.0, 1.03, 0.97, 1.04, 0.96, 1.0];
        let runs: Vec<Analysis> = drifts
            .iter()
            .enumerate()
            .map(|(i, &d)| drifting_pair(300 + i as u64, d, if i >= 5 { 0.85 } else { 1.0 }))
            .collect();
        let base: Vec<(&str, &Analysis)> = runs[..5].iter().map(|a| ("b", a)).collect();
        let new: Vec<(&str, &Analysis)> = runs[5..].iter().map(|a| ("n", a)).collect();
        let rel = compare_sets(&base, &new, &relative(5.0));
        let reg: Vec<String> = rel.regressions().iter().map(|r| r.name()).collect();
        assert_eq!(
            reg,
            [
                "container-isorun cpu/primes_per_s",
                "container-isorun cpu/gflops"
            ],
            "{}",
            to_text(&rel)
        );
        for c in &rel.changes {
            assert!(
                (c.perf_change_pct.point + 15.0).abs() < 3.0,
                "{}",
                to_text(&rel)
            );
        }
    }

    /// Failing closed on the reference: a new run whose native gflops is
    /// missing, or ≤ 0, fails the container's relative gflops (valid in the
    /// baseline), named with the run; a baseline without native figures
    /// leaves nothing to gate.
    #[test]
    fn a_broken_reference_figure_in_a_new_run_fails_closed() {
        let runs: Vec<Analysis> = (0..7).map(|i| drifting_pair(400 + i, 1.0, 1.0)).collect();
        let base: Vec<(&str, &Analysis)> = runs[..5].iter().map(|a| ("b", a)).collect();
        let mut missing = runs[5].clone();
        missing
            .figures
            .retain(|f| !(f.env_id == "native" && f.metric == "gflops"));
        let mut zero = runs[6].clone();
        for f in zero
            .figures
            .iter_mut()
            .filter(|f| f.env_id == "native" && f.metric == "gflops")
        {
            f.samples[3] = 0.0;
        }
        let new = [("m", &missing), ("z", &zero)];
        let c = compare_sets(&base, &new, &relative(5.0));
        assert_eq!(c.exit_code(), 1, "{}", to_text(&c));
        assert_eq!(
            failure_names(&c),
            [
                "container-isorun cpu/gflops (m)",
                "container-isorun cpu/gflops (z)"
            ]
        );
        assert!(c.failures[0]
            .reason
            .starts_with("its reference native cpu/gflops: no valid value"));
        assert!(
            c.failures[1].reason.contains("1 of 12 values ≤ 0"),
            "{:?}",
            c.failures
        );
        // Absolute, the container's figures are intact: only native fails.
        let abs = compare_sets(&base, &new, &gate(5.0));
        assert!(failure_names(&abs).iter().all(|n| n.starts_with("native ")));
    }

    /// One run a side: the ratio's run-to-run spread comes from a history
    /// of ratios; without one the gate cannot decide (the repetitions hold
    /// neither that spread nor the reference's noise).
    #[test]
    fn one_run_a_side_relative_needs_a_history() {
        let runs: Vec<Analysis> = (0..8)
            .map(|i| drifting_pair(500 + i, 1.0 + 0.02 * (i % 3) as f64, 1.0))
            .collect();
        let (b, n) = (&runs[0], &runs[1]);
        let c = compare_sets(&[("b", b)], &[("n", n)], &relative(5.0));
        assert_eq!(c.exit_code(), 2, "{}", to_text(&c));
        assert_eq!(c.undecided.len(), 2);
        assert!(c.undecided[0].reason.contains("no history"));
        let mut g = relative(5.0);
        g.history_noise = history_noise_for(&runs[2..].iter().collect::<Vec<_>>(), &g);
        assert_eq!(g.history_noise.len(), 2, "{:?}", g.history_noise);
        let c = compare_sets(&[("b", b)], &[("n", n)], &g);
        assert!(
            c.changes
                .iter()
                .all(|ch| matches!(ch.basis, Unit::History { runs: 6 })),
            "{}",
            to_text(&c)
        );
        assert_eq!(c.exit_code(), 0, "{}", to_text(&c));
    }

    #[test]
    fn run_offsets_raise_no_false_alarm_with_a_history_baseline() {
        let offsets = [1.03, 0.97, 1.0, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97, 1.0];
        let runs: Vec<Run> = offsets
            .iter()
            .enumerate()
            .map(|(i, &o)| {
                let mut r = cpu_run(12, 10 + i as u64);
                scale_metrics(&mut r, |_, _| true, o);
                r
            })
            .collect();
        let analyses: Vec<Analysis> = runs.iter().map(|r| analyse(&r.records, OPTS)).collect();
        let mut new = cpu_run(12, 99);
        scale_metrics(&mut new, |_, _| true, 0.97);
        let na = analyse(&new.records, OPTS);
        let base: Vec<(&str, &Analysis)> = analyses.iter().map(|a| ("b", a)).collect();
        let c = compare_sets(&base, &[("new", &na)], &gate(5.0));
        assert!(c.regressions().is_empty(), "{}", to_text(&c));
        assert!(c
            .changes
            .iter()
            .all(|ch| ch.basis == Unit::RunMeans { base: 10, new: 1 } && ch.base_runs == 10));
        // Within-run repetitions alone (one base run at +3%) make it a
        // significant change.
        let one = compare_sets(&base[..1], &[("new", &na)], &gate(5.0));
        assert!(
            one.changes.iter().all(|ch| ch.significant),
            "{}",
            to_text(&one)
        );
        // The same history's spread, given as history noise to a two-run
        // comparison, widens the interval the same way.
        let mut g = gate(5.0);
        g.history_noise = history_noise(&analyses.iter().collect::<Vec<_>>());
        let two = compare_sets(&base[..1], &[("new", &na)], &g);
        assert!(
            two.changes
                .iter()
                .all(|ch| !ch.significant && matches!(ch.basis, Unit::History { runs: 10 })),
            "{}",
            to_text(&two)
        );
        // A real 20% loss still regresses against the history.
        let mut slow = cpu_run(12, 98);
        scale_metrics(&mut slow, |_, m| m == "gflops", 0.8);
        let sa = analyse(&slow.records, OPTS);
        let c = compare_sets(&base, &[("slow", &sa)], &gate(5.0));
        let reg: Vec<String> = c.regressions().iter().map(|r| r.name()).collect();
        assert_eq!(reg, ["native cpu/gflops"], "{}", to_text(&c));
    }

    #[test]
    fn a_run_against_itself_has_no_regression() {
        let run = fixture_run(5, 1.0);
        let c = compare(&run, &run, 5.0, OPTS);
        assert!(!c.changes.is_empty());
        assert!(c.regressions().is_empty());
        assert!(c.changes.iter().all(|ch| ch.change_pct.point.abs() < 1e-9));
    }

    /// 20% less throughput everywhere: every throughput quantity regressed
    /// at n = 12 with a 15% threshold.
    #[test]
    fn twenty_percent_less_throughput_is_caught() {
        let base = fixture_run_seeded(12, 1.0, 1);
        let mut new = fixture_run_seeded(12, 1.0, 2);
        throughput_down(&mut new, 0.8);
        let c = compare(&base, &new, 10.0, OPTS);
        assert_eq!(c.exit_code(), 1);
        let reg = c.regressions();
        assert!(reg.iter().all(|r| r.direction == Direction::HigherIsBetter));
        // The quiet ones (cpu ±2%, triad ±3%) are caught everywhere.
        for m in ["gflops", "primes_per_s", "triad_mbs"] {
            assert_eq!(
                reg.iter().filter(|r| r.metric == m).count(),
                testdata::ENVS.len(),
                "{m}\n{}",
                to_text(&c)
            );
        }
    }

    /// Two independent runs of the same host: no regression.
    #[test]
    fn a_and_a_has_no_regression() {
        for seed in 0..5 {
            let base = fixture_run_seeded(10, 1.0, 100 + seed);
            let new = fixture_run_seeded(10, 1.0, 200 + seed);
            let c = compare(&base, &new, 15.0, OPTS);
            assert!(c.regressions().is_empty(), "{}", to_text(&c));
            assert_ne!(c.exit_code(), 1);
            assert!(c.changes.iter().all(|ch| ch.p_adjusted >= ch.p_value));
        }
    }

    /// (c) `gflops` and `gflops_2t` hold the same values: one test (the
    /// analysis shows the alias once); `gflops_1t` is its own quantity.
    #[test]
    fn aliases_are_tested_once() {
        let mut base = fixture_run_seeded(6, 1.0, 1);
        let mut new = fixture_run_seeded(6, 1.0, 2);
        testdata::with_two_thread_cpu(&mut base);
        testdata::with_two_thread_cpu(&mut new);
        let c = compare(&base, &new, 15.0, OPTS);
        let cpu: Vec<&Change> = c
            .changes
            .iter()
            .filter(|ch| ch.workload == "cpu" && ch.env_id == "native")
            .collect();
        let names: Vec<&str> = cpu.iter().map(|ch| ch.metric.as_str()).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        // The analysis drops the alias (`gflops_2t` repeats `gflops`).
        for (name, alias) in [("gflops", "gflops_2t"), ("primes_per_s", "primes_per_s_2t")] {
            assert!(names.contains(&name) && !names.contains(&alias));
        }
        assert!(cpu
            .iter()
            .any(|ch| ch.metric == "gflops_1t" && ch.aliases.is_empty()));
    }

    /// Different parameters and plans are named.
    #[test]
    fn different_params_and_plans_are_listed() {
        let base = fixture_run(4, 1.0);
        let mut new = fixture_run(4, 1.0);
        assert!(run_differences(&base, &new, &Filter::default()).is_empty());
        for r in new.records.iter_mut().filter(|r| r.workload == "randacc") {
            r.params.insert("log2_table".into(), serde_json::json!(24));
        }
        new.info.config["preset"] = serde_json::json!("gate");
        new.info.config["reps"] = serde_json::json!(12);
        let d = run_differences(&base, &new, &Filter::default());
        assert!(
            d.contains(&r#"config.preset: "quick" vs "gate""#.to_string()),
            "{d:?}"
        );
        assert!(
            d.contains(&"native randacc: log2_table – vs 24".to_string()),
            "{d:?}"
        );
        assert_eq!(d.len(), 1 + testdata::ENVS.len(), "{d:?}");
        let f = Filter {
            workloads: vec!["membw".into()],
            ..Filter::default()
        };
        assert_eq!(run_differences(&base, &new, &f).len(), 1);
        let c = compare(&base, &new, 15.0, OPTS);
        assert_eq!(c.param_mismatches.len(), testdata::ENVS.len());
    }

    #[test]
    fn filters_select_quantities() {
        let run = fixture_run(5, 1.0);
        let mut gate = GateOptions::new(5.0);
        gate.filter = Filter {
            envs: vec!["native".into()],
            workloads: vec![],
            metrics: vec!["membw/triad_mbs".into(), "gflops".into()],
        };
        let c = compare_runs(&run, &run, &gate, OPTS);
        let names: Vec<String> = c.changes.iter().map(Change::name).collect();
        assert_eq!(names, ["native cpu/gflops", "native membw/triad_mbs"]);
    }

    #[test]
    fn lower_is_better_metrics_regress_when_they_grow() {
        let base = fixture_run_seeded(12, 1.0, 1);
        let mut new = fixture_run_seeded(12, 1.0, 2);
        for r in new.records.iter_mut().filter(|r| r.workload == "startup") {
            for v in r.metrics.values_mut() {
                *v *= 1.5;
            }
        }
        let c = compare(&base, &new, 10.0, OPTS);
        let reg = c.regressions();
        assert_eq!(reg.len(), 8, "{}", to_text(&c));
        assert!(reg.iter().all(|r| r.workload == "startup"));
        assert!(reg
            .iter()
            .all(|r| (r.perf_change_pct.point + 33.3).abs() < 5.0));
    }

    #[test]
    fn hosts_are_compared() {
        let a = testdata::fixture_info().host;
        let mut b = a.clone();
        assert!(host_differences(&a, &b).is_empty());
        b.kernel = "7.0".into();
        assert!(host_differences(&a, &b).is_empty());
        b.cpu_model = "AMD EPYC".into();
        let d = host_differences(&a, &b);
        assert_eq!(d.len(), 1);
        assert!(d[0].starts_with("CPU: Intel"), "{d:?}");
    }

    #[test]
    fn the_plot_and_json_render_on_every_outcome() {
        let base = fixture_run(4, 1.0);
        let new = fixture_run(4, 0.8);
        let c = compare(&base, &new, 5.0, OPTS);
        let img = plot(&c, "host bench-host").unwrap();
        assert!(img.svg.contains("native membw/triad_mbs"));
        assert!(img.png.starts_with(b"\x89PNG"));
        let j = to_json(&c);
        assert_eq!(j["exit_code"], c.exit_code());
        let mut broken = cpu_run(4, 2);
        set_gflops(&mut broken, |_, _| 0.0);
        let c = cmp(&cpu_run(4, 1), &broken, 5.0);
        let j = to_json(&c);
        assert_eq!(j["exit_code"], 1);
        assert_eq!(j["failures"][0]["name"], "native cpu/gflops");
    }
}
