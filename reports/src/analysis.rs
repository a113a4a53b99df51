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
use std::collections::{BTreeMap, HashMap};

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
    crate::schema::DENSITY_WORKLOAD,
    crate::schema::NEIGHBOUR_WORKLOAD,
    crate::schema::PERMISSIONS_WORKLOAD,
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
    let mut a = Analyser::default();
    for r in records {
        a.push(r);
    }
    a.finish()
}

/// Interned names: a string seen before costs no allocation.
#[derive(Debug, Default)]
struct Names {
    index: HashMap<String, usize>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, s: &str) -> usize {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.names.len();
        self.names.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// The values of one metric of one parameter set in one (environment,
/// workload), in record order, with what the figure needs of its first
/// record.
#[derive(Debug)]
struct SampleAcc {
    xs: Vec<f64>,
    reps: Vec<u32>,
    unit: String,
    /// As the first record says (recorded, else from the definitions).
    direction: Direction,
    env: String,
    accel: Option<String>,
}

/// One (environment, workload): its parameter sets with their valid record
/// counts (first seen first), its invalid results and its samples per
/// (metric, parameter set).
#[derive(Debug, Default)]
struct PairAcc {
    sets: Vec<(Params, usize)>,
    invalid: usize,
    samples: HashMap<(usize, usize), SampleAcc>,
}

/// [`analyse`] one record at a time: memory grows with the figures and
/// their values (12 bytes per value), not with the records, so a run of
/// 100,000 lines streams through it without being held.
#[derive(Debug, Default)]
pub struct Analyser {
    env_ids: Names,
    workloads: Names,
    metrics: Names,
    envs: BTreeMap<String, EnvSummary>,
    pairs: HashMap<(usize, usize), PairAcc>,
}

impl Analyser {
    /// Take one record into account (experiment records are ignored: see
    /// [`EXPERIMENT_WORKLOADS`]).
    pub fn push(&mut self, r: &ResultRecord) {
        if EXPERIMENT_WORKLOADS.contains(&r.workload.as_str()) {
            return;
        }
        let e = match self.envs.get_mut(r.env_id.as_str()) {
            Some(e) => e,
            None => self
                .envs
                .entry(r.env_id.clone())
                .or_insert_with(|| EnvSummary {
                    env_id: r.env_id.clone(),
                    env: r.env.clone(),
                    detail: r.env_detail.clone(),
                    valid: 0,
                    invalid: 0,
                    errors: vec![],
                }),
        };
        let key = (self.env_ids.id(&r.env_id), self.workloads.id(&r.workload));
        let pair = self.pairs.entry(key).or_default();
        if !r.valid {
            e.invalid += 1;
            if let Some(err) = &r.error {
                if e.errors.len() < 3 && !e.errors.contains(err) {
                    e.errors.push(err.clone());
                }
            }
            pair.invalid += 1;
            return;
        }
        e.valid += 1;
        let set = match pair.sets.iter().position(|(p, _)| *p == r.params) {
            Some(i) => {
                pair.sets[i].1 += 1;
                i
            }
            None => {
                pair.sets.push((r.params.clone(), 1));
                pair.sets.len() - 1
            }
        };
        for (metric, &v) in &r.metrics {
            // An alias repeats another metric's values: shown once.
            if !v.is_finite() || r.alias_of(metric).is_some() {
                continue;
            }
            let m = self.metrics.id(metric);
            let acc = pair.samples.entry((m, set)).or_insert_with(|| SampleAcc {
                xs: Vec::new(),
                reps: Vec::new(),
                unit: r.units.get(metric).cloned().unwrap_or_default(),
                direction: r.direction(metric),
                env: r.env.clone(),
                accel: r.env_detail.get("accel").cloned(),
            });
            acc.xs.push(v);
            acc.reps.push(r.rep);
        }
    }

    /// Every figure of the records pushed.
    pub fn finish(self) -> Analysis {
        let Analyser {
            env_ids,
            workloads,
            metrics,
            envs,
            pairs,
        } = self;
        // The parameter set kept per (env_id, workload) is the most common
        // one (ties: the first seen); its samples make the figures.
        type Acc = (SampleAcc, Params, Option<String>, usize);
        let mut samples: BTreeMap<Key, Acc> = BTreeMap::new();
        for ((e, w), mut pair) in pairs {
            let best = pair
                .sets
                .iter()
                .enumerate()
                .rev()
                .max_by_key(|(_, (_, c))| *c)
                .map(|(i, _)| i);
            let note = best.and_then(|b| {
                let count = pair.sets[b].1;
                let total: usize = pair.sets.iter().map(|(_, c)| c).sum();
                (total > count).then(|| {
                    format!(
                        "{} of {total} results ran with other parameters and are left out",
                        total - count
                    )
                })
            });
            let Some(best) = best else { continue };
            let params = std::mem::take(&mut pair.sets[best].0);
            for ((m, set), acc) in pair.samples {
                if set != best {
                    continue;
                }
                samples.insert(
                    (
                        workloads.names[w].clone(),
                        metrics.names[m].clone(),
                        env_ids.names[e].clone(),
                    ),
                    (acc, params.clone(), note.clone(), pair.invalid),
                );
            }
        }
        let mut relatives = Vec::with_capacity(samples.len());
        for ((workload, metric, env_id), (acc, params, _, _)) in &samples {
            let direction = acc.direction;
            let mut incomparable = None;
            let vs_native = if env_id == BASELINE {
                None
            } else {
                samples
                    .get(&(workload.clone(), metric.clone(), BASELINE.to_string()))
                    .and_then(|(base, base_params, _, _)| {
                        let diff = param_differences(params, base_params);
                        if diff.is_empty() {
                            relative_paired(&acc.xs, &acc.reps, &base.xs, &base.reps, direction)
                        } else {
                            incomparable = Some(format!(
                                "parameters differ from native: {}",
                                diff.join(", ")
                            ));
                            None
                        }
                    })
            };
            relatives.push((direction, vs_native, incomparable));
        }
        let mut figures = Vec::new();
        for (((workload, metric, env_id), (acc, params, note, invalid)), rel) in
            samples.into_iter().zip(relatives)
        {
            let Some(summary) = stats::summarize(&acc.xs) else {
                continue;
            };
            let (direction, vs_native, incomparable) = rel;
            figures.push(Figure {
                env_id,
                env: acc.env,
                workload,
                metric,
                unit: acc.unit,
                direction,
                samples: acc.xs,
                reps: acc.reps,
                params,
                params_note: note,
                invalid,
                summary,
                vs_native,
                incomparable,
                accel: acc.accel,
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
    fn the_recorded_direction_decides_and_aliases_show_once() {
        let mut run = testdata::fixture_run(3, 1.0);
        testdata::with_two_thread_cpu(&mut run);
        // A direction no name would suggest: the record's word counts.
        for r in run.records.iter_mut().filter(|r| r.workload == "randacc") {
            r.directions.insert("gups".into(), Direction::LowerIsBetter);
        }
        let a = analyse(&run.records, StatsOptions::default());
        let gups = a.figure("native", "randacc", "gups").unwrap();
        assert_eq!(gups.direction, Direction::LowerIsBetter);
        let trial = a.figure("native", "membw", "triad_mbs").unwrap();
        assert_eq!(trial.direction, Direction::HigherIsBetter);
        // Old records (no aliases recorded): `_2t` equal to the plain metric
        // in a two-thread run is an alias; `_1t` is its own figure.
        let cpu = a.metrics("cpu");
        assert!(cpu.contains(&"gflops".to_string()), "{cpu:?}");
        assert!(cpu.contains(&"gflops_1t".to_string()), "{cpu:?}");
        assert!(!cpu.iter().any(|m| m.ends_with("_2t")), "{cpu:?}");
        // Recorded aliases are followed as recorded.
        for r in run.records.iter_mut().filter(|r| r.workload == "cpu") {
            r.aliases.insert("gflops_1t".into(), "gflops".into());
        }
        let a = analyse(&run.records, StatsOptions::default());
        let cpu = a.metrics("cpu");
        assert!(!cpu.contains(&"gflops_1t".to_string()), "{cpu:?}");
        assert!(cpu.iter().any(|m| m.ends_with("_2t")), "{cpu:?}");
    }

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
        r.workload = crate::schema::NEIGHBOUR_WORKLOAD.into();
        run.records.push(r);
        let a = analyse(&run.records, StatsOptions::default());
        assert!(a
            .figures
            .iter()
            .all(|f| f.workload != crate::schema::NEIGHBOUR_WORKLOAD));
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
