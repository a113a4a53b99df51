//! From result records to figures: one [`Figure`] per (environment, workload,
//! metric) with its summary statistics and its cost relative to native.
//!
//! Invalid results (`valid: false`) and non-finite values are excluded and
//! counted. The overhead of an environment is the ratio of its geometric mean
//! to the native geometric mean with a t interval on the logs, paired by
//! repetition when both figures hold the same repetitions
//! ([`stats::ratio_interval`]); [`Relative::speed`] turns it into
//! "performance relative to native" (1 = native, below 1 = slower) whatever the
//! direction of the metric.
//!
//! Like with like: a figure carries the workload parameters of its records
//! ([`Figure::params`]). When the records of one (environment, workload) ran
//! with several parameter sets, only the most common set is kept (ties: the
//! set seen first) and [`Figure::params_note`] says how many were left out.
//! An environment is compared with native only when its parameters equal
//! native's for that workload; otherwise `vs_native` is `None` and
//! [`Figure::incomparable`] names the difference. Every parameter key counts:
//! the workloads record only what shapes the measurement (threads, sizes,
//! passes, table size), nothing that names the environment, so no key is
//! exempt ([`ENV_SPECIFIC_PARAMS`] is the place to exempt one).

use crate::metric::{env_order, metric_order, workload_order, Direction};
use crate::schema::ResultRecord;
use crate::stats::{self, Estimate, Method, Summary};
use std::collections::BTreeMap;

/// Environment id used as the baseline of every overhead.
pub const BASELINE: &str = "native";

/// Parameter keys that may differ between environments without making their
/// figures incomparable (none today: see the module documentation).
pub const ENV_SPECIFIC_PARAMS: &[&str] = &[];

/// Workload parameters of a figure's records.
pub type Params = BTreeMap<String, serde_json::Value>;

/// One environment as seen in the results.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvSummary {
    pub env_id: String,
    pub env: String,
    pub detail: BTreeMap<String, String>,
    pub valid: usize,
    pub invalid: usize,
    /// Errors of the invalid results, first few.
    pub errors: Vec<String>,
}

impl EnvSummary {
    /// Accelerator of a VM (`kvm`, `tcg`), if recorded.
    pub fn accel(&self) -> Option<&str> {
        self.detail.get("accel").map(String::as_str)
    }
}

/// An environment's figure relative to the native one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relative {
    /// geomean(env) / geomean(native), with interval.
    pub ratio: Estimate,
    /// Performance relative to native: `ratio` for higher-is-better metrics,
    /// `1 / ratio` otherwise. 0.5 means half as fast.
    pub speed: Estimate,
    /// Extra cost in percent: (1 / speed − 1) × 100. 100% means twice the time.
    pub overhead_pct: Estimate,
    /// How the interval was made (paired by repetition or Welch).
    pub method: Method,
}

/// Statistics of one metric of one workload in one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub env_id: String,
    pub env: String,
    pub workload: String,
    pub metric: String,
    pub unit: String,
    pub direction: Direction,
    /// Valid values, in record order.
    pub samples: Vec<f64>,
    /// Repetition number of each value of `samples`.
    pub reps: Vec<u32>,
    /// Workload parameters of the records (the most common set).
    pub params: Params,
    /// Set when records with other parameters were left out.
    pub params_note: Option<String>,
    /// Results of this workload in this environment that were invalid.
    pub invalid: usize,
    pub summary: Summary,
    /// `None` for native itself, when either figure has fewer than two
    /// values (no interval), or when the figures are incomparable.
    pub vs_native: Option<Relative>,
    /// Why this figure is not compared with native, e.g.
    /// `parameters differ from native: log2_table 20 vs 24`.
    pub incomparable: Option<String>,
    /// Accelerator (VMs).
    pub accel: Option<String>,
}

/// All figures of a run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Analysis {
    pub envs: Vec<EnvSummary>,
    /// Ordered by workload, metric, environment.
    pub figures: Vec<Figure>,
}

impl Analysis {
    pub fn workloads(&self) -> Vec<String> {
        let mut w: Vec<String> = self.figures.iter().map(|f| f.workload.clone()).collect();
        w.dedup();
        w
    }

    /// Metrics of one workload, in order.
    pub fn metrics(&self, workload: &str) -> Vec<String> {
        let mut m: Vec<String> = self
            .figures
            .iter()
            .filter(|f| f.workload == workload)
            .map(|f| f.metric.clone())
            .collect();
        m.dedup();
        m
    }

    pub fn figure(&self, env_id: &str, workload: &str, metric: &str) -> Option<&Figure> {
        self.figures
            .iter()
            .find(|f| f.env_id == env_id && f.workload == workload && f.metric == metric)
    }

    pub fn env(&self, env_id: &str) -> Option<&EnvSummary> {
        self.envs.iter().find(|e| e.env_id == env_id)
    }

    /// Environment ids of a class (`container`, `vm`).
    pub fn env_ids_of(&self, class: &str) -> Vec<&str> {
        self.envs
            .iter()
            .filter(|e| e.env == class)
            .map(|e| e.env_id.as_str())
            .collect()
    }

    pub fn invalid_total(&self) -> usize {
        self.envs.iter().map(|e| e.invalid).sum()
    }
}

/// Workloads whose records come from multi-instance experiments (density,
/// noisy neighbours) and are analysed by their own modules.
pub const EXPERIMENT_WORKLOADS: [&str; 3] = [
    crate::density::WORKLOAD,
    crate::neighbours::WORKLOAD,
    crate::permissions::WORKLOAD,
];

/// Options of the statistics (the defaults are what reports use).
#[derive(Debug, Clone, Copy)]
pub struct StatsOptions {
    pub resamples: usize,
}

impl Default for StatsOptions {
    fn default() -> Self {
        Self {
            resamples: stats::DEFAULT_RESAMPLES,
        }
    }
}

type Key = (String, String, String); // workload, metric, env_id

/// The parameter differences of two sets, e.g. `log2_table 20 vs 24`, keys in
/// order, [`ENV_SPECIFIC_PARAMS`] ignored; a key missing on one side shows
/// as `–`. Empty when they match.
pub fn param_differences(a: &Params, b: &Params) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let show = |v: Option<&serde_json::Value>| match v {
        None => "–".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    keys.into_iter()
        .filter(|k| !ENV_SPECIFIC_PARAMS.contains(&k.as_str()))
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k} {} vs {}", show(a.get(k)), show(b.get(k))))
        .collect()
}

/// Compute every figure of a set of records. `opts` is kept for callers;
/// the intervals no longer resample.
pub fn analyse(records: &[ResultRecord], _opts: StatsOptions) -> Analysis {
    // Experiments over several instances have analyses of their own
    // (`neighbours`): their records are not single-instance figures.
    let kept: Vec<ResultRecord> = records
        .iter()
        .filter(|r| !EXPERIMENT_WORKLOADS.contains(&r.workload.as_str()))
        .cloned()
        .collect();
    let records = &kept[..];
    let mut envs: BTreeMap<String, EnvSummary> = BTreeMap::new();
    let mut invalid: BTreeMap<(String, String), usize> = BTreeMap::new();
    // The parameter set kept per (env_id, workload): the most common one.
    let mut param_sets: BTreeMap<(String, String), Vec<(&Params, usize)>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.valid) {
        let sets = param_sets
            .entry((r.env_id.clone(), r.workload.clone()))
            .or_default();
        match sets.iter_mut().find(|(p, _)| **p == r.params) {
            Some(e) => e.1 += 1,
            None => sets.push((&r.params, 1)),
        }
    }
    let mut kept: BTreeMap<(String, String), (&Params, Option<String>)> = BTreeMap::new();
    for (k, sets) in &param_sets {
        // max_by_key keeps the last maximum; scan in reverse so ties go to the first seen.
        let Some(&(best, count)) = sets.iter().rev().max_by_key(|(_, c)| *c) else {
            continue;
        };
        let total: usize = sets.iter().map(|(_, c)| c).sum();
        let note = (total > count).then(|| {
            format!(
                "{} of {total} results ran with other parameters and are left out",
                total - count
            )
        });
        kept.insert(k.clone(), (best, note));
    }
    type Acc<'a> = (Vec<f64>, Vec<u32>, String, &'a ResultRecord);
    let mut samples: BTreeMap<Key, Acc> = BTreeMap::new();
    for r in records {
        let e = envs.entry(r.env_id.clone()).or_insert_with(|| EnvSummary {
            env_id: r.env_id.clone(),
            env: r.env.clone(),
            detail: r.env_detail.clone(),
            valid: 0,
            invalid: 0,
            errors: vec![],
        });
        if !r.valid {
            e.invalid += 1;
            if let Some(err) = &r.error {
                if e.errors.len() < 3 && !e.errors.contains(err) {
                    e.errors.push(err.clone());
                }
            }
            *invalid
                .entry((r.env_id.clone(), r.workload.clone()))
                .or_default() += 1;
            continue;
        }
        e.valid += 1;
        let wanted = kept.get(&(r.env_id.clone(), r.workload.clone()));
        if wanted.is_some_and(|(p, _)| **p != r.params) {
            continue;
        }
        for (metric, &v) in &r.metrics {
            if !v.is_finite() {
                continue;
            }
            let unit = r.units.get(metric).cloned().unwrap_or_default();
            let acc = samples
                .entry((r.workload.clone(), metric.clone(), r.env_id.clone()))
                .or_insert_with(|| (Vec::new(), Vec::new(), unit, r));
            acc.0.push(v);
            acc.1.push(r.rep);
        }
    }
    let mut figures = Vec::new();
    for ((workload, metric, env_id), (xs, reps, unit, first)) in &samples {
        let Some(summary) = stats::summarize(xs) else {
            continue;
        };
        let direction = Direction::of(metric, unit);
        let mut incomparable = None;
        let vs_native = if env_id == BASELINE {
            None
        } else {
            samples
                .get(&(workload.clone(), metric.clone(), BASELINE.to_string()))
                .and_then(|(base, base_reps, _, base_first)| {
                    let diff = param_differences(&first.params, &base_first.params);
                    if diff.is_empty() {
                        relative_paired(xs, reps, base, base_reps, direction)
                    } else {
                        incomparable = Some(format!(
                            "parameters differ from native: {}",
                            diff.join(", ")
                        ));
                        None
                    }
                })
        };
        let key = (env_id.clone(), workload.clone());
        figures.push(Figure {
            env_id: env_id.clone(),
            env: first.env.clone(),
            workload: workload.clone(),
            metric: metric.clone(),
            unit: unit.clone(),
            direction,
            samples: xs.clone(),
            reps: reps.clone(),
            params: first.params.clone(),
            params_note: kept.get(&key).and_then(|(_, n)| n.clone()),
            invalid: invalid.get(&key).copied().unwrap_or(0),
            summary,
            vs_native,
            incomparable,
            accel: first.env_detail.get("accel").cloned(),
        });
    }
    figures.sort_by(|a, b| {
        workload_order(&a.workload, &b.workload)
            .then(metric_order(&a.metric, &b.metric))
            .then(env_order(&a.env_id, &b.env_id))
    });
    let mut envs: Vec<EnvSummary> = envs.into_values().collect();
    envs.sort_by(|a, b| env_order(&a.env_id, &b.env_id));
    Analysis { envs, figures }
}

/// `xs` relative to `base` for a metric of the given direction, the samples
/// taken as unpaired (Welch t on logs). `resamples` and `seed` are ignored
/// (kept for callers); prefer [`relative_paired`].
pub fn relative(
    xs: &[f64],
    base: &[f64],
    direction: Direction,
    _resamples: usize,
    _seed: u64,
) -> Option<Relative> {
    relative_paired(xs, &[], base, &[], direction)
}

/// `xs` (repetitions `reps`) relative to `base` (repetitions `base_reps`):
/// paired by repetition when both hold the same repetitions, Welch otherwise.
/// `None` when a side has fewer than two values or a value is ≤ 0.
pub fn relative_paired(
    xs: &[f64],
    reps: &[u32],
    base: &[f64],
    base_reps: &[u32],
    direction: Direction,
) -> Option<Relative> {
    let (ratio, method) = stats::ratio_interval_with_method(xs, reps, base, base_reps)?;
    let speed = match direction {
        Direction::HigherIsBetter => ratio,
        Direction::LowerIsBetter => ratio.map(|r| 1.0 / r),
    };
    Some(Relative {
        ratio,
        speed,
        overhead_pct: speed.map(|s| (1.0 / s - 1.0) * 100.0),
        method,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;

    #[test]
    fn figures_cover_every_env_and_metric() {
        let run = testdata::fixture_run(5, 1.0);
        let a = analyse(&run.records, StatsOptions::default());
        let ids: Vec<_> = a.envs.iter().map(|e| e.env_id.as_str()).collect();
        assert_eq!(ids, testdata::ENVS);
        assert_eq!(
            a.workloads(),
            ["cpu", "membw", "randacc", "latency", "startup"]
        );
        let triad = a.figure("vm-tcg", "membw", "triad_mbs").unwrap();
        assert_eq!(triad.summary.n, 5);
        assert_eq!(triad.accel.as_deref(), Some("tcg"));
        let rel = triad.vs_native.unwrap();
        assert!(rel.speed.point < 0.1 && rel.speed.hi < 0.2, "{rel:?}");
        assert!(rel.overhead_pct.point > 900.0);
        // Lower-is-better: the VM's latency is ~6x native → speed ~1/6.
        let lat = a.figure("vm-tcg", "latency", "ns_per_load_1GiB").unwrap();
        let rel = lat.vs_native.unwrap();
        assert!((rel.ratio.point - 6.0).abs() < 1.0, "{rel:?}");
        assert!((rel.speed.point - 1.0 / rel.ratio.point).abs() < 1e-12);
        assert!(a
            .figure("native", "cpu", "gflops")
            .unwrap()
            .vs_native
            .is_none());
    }

    #[test]
    fn experiment_records_are_not_single_instance_figures() {
        let mut run = testdata::fixture_run(3, 1.0);
        let mut r = run.records[0].clone();
        r.workload = crate::neighbours::WORKLOAD.into();
        run.records.push(r);
        let a = analyse(&run.records, StatsOptions::default());
        assert!(a
            .figures
            .iter()
            .all(|f| f.workload != crate::neighbours::WORKLOAD));
        assert!(!a.figures.is_empty());
    }

    #[test]
    fn invalid_results_are_excluded_and_counted() {
        let mut run = testdata::fixture_run(4, 1.0);
        let mut n = 0;
        for r in run.records.iter_mut() {
            if r.env_id == "container-runc" && r.workload == "randacc" && r.rep < 2 {
                r.valid = false;
                r.metrics.insert("gups".into(), 1e9);
                r.error = Some("verification error 3.1% > 1%".into());
                n += 1;
            }
        }
        assert_eq!(n, 2);
        let a = analyse(&run.records, StatsOptions::default());
        let f = a.figure("container-runc", "randacc", "gups").unwrap();
        assert_eq!(f.summary.n, 2);
        assert_eq!(f.invalid, 2);
        assert!(f.summary.max < 1.0);
        assert_eq!(a.invalid_total(), 2);
        assert_eq!(a.env("container-runc").unwrap().errors.len(), 1);
    }
}
