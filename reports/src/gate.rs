//! How good is the regression gate on a given host? Resampling study behind
//! `examples/gate_power.rs`: from runs with many repetitions, draw pairs of
//! pseudo-runs of `n` repetitions each and run the very gate `isobench
//! compare` runs ([`compare::compare_runs`]) on them:
//!
//! - A/A: both pseudo-runs from the same data. Any regression is a false
//!   alarm; the share of trials with one estimates the family-wise
//!   false-alarm rate over every quantity the gate tests.
//! - A/B: the same, with every value of one target metric (and of its
//!   aliases) in the second pseudo-run made `slowdown_pct` worse. The share
//!   of trials that flag it estimates the power.
//!
//! Read the power with the gate's rule in mind: a regression needs the
//! corrected test to be significant *and* the point estimate to be worse
//! than the threshold. Against an injected change exactly the size of the
//! threshold the estimate falls beyond it only about half the time, so the
//! power there is near 50% even when the test itself has the 0.9 the power
//! check asks for; inject more than the threshold to see the test's power.
//!
//! A repetition is resampled as a block (every record of that repetition of
//! that run), so the correlation between metrics and the aliases survive.
//! The two pseudo-runs of a trial use disjoint blocks when the pool holds at
//! least 2n, otherwise blocks drawn with replacement (which understates the
//! noise: say so when reporting).

use crate::analysis::StatsOptions;
use crate::compare::{self, GateOptions};
use crate::load::Run;
use crate::metric::Direction;
use crate::schema::ResultRecord;
use crate::stats::SplitMix64;

/// The metric made worse in the A/B trials.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub env_id: String,
    pub workload: String,
    pub metric: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.env_id, self.workload, self.metric)
    }
}

/// The default target: native `cpu/gflops_1t` (single-threaded, CPU-bound:
/// the most stable kind of figure), else native `cpu/gflops`.
pub fn default_target(runs: &[Run]) -> Option<Target> {
    ["gflops_1t", "gflops"].iter().find_map(|m| {
        runs.iter()
            .flat_map(|r| &r.records)
            .any(|r| r.env_id == "native" && r.workload == "cpu" && r.metrics.contains_key(*m))
            .then(|| Target {
                env_id: "native".into(),
                workload: "cpu".into(),
                metric: m.to_string(),
            })
    })
}

/// What the study found at one `n`.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyRow {
    pub n: usize,
    pub trials: usize,
    /// Quantities the gate tested (median over the A/A trials).
    pub quantities: usize,
    /// True when the pseudo-runs were drawn with replacement.
    pub with_replacement: bool,
    /// A/A: share of trials with at least one regression, whatever the
    /// power check said (the test alone).
    pub false_alarm: f64,
    /// A/A: share of trials where `isobench compare` would exit 1
    /// (a regression, and the power check passed).
    pub false_alarm_exit1: f64,
    /// A/A: share of trials where the power check refuses (exit 2).
    pub refused: f64,
    /// A/B: share of trials flagging the target, whatever the power check said.
    pub power: f64,
    /// A/B: share of trials where `compare` exits 1 and names the target.
    pub power_exit1: f64,
    /// Median over A/A trials of the reps the most demanding quantity needs.
    pub reps_needed_median: Option<usize>,
}

/// Blocks of records: one per (run, repetition).
fn blocks(runs: &[Run]) -> Vec<Vec<&ResultRecord>> {
    let mut out: std::collections::BTreeMap<(usize, u32), Vec<&ResultRecord>> =
        std::collections::BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        for r in &run.records {
            out.entry((i, r.rep)).or_default().push(r);
        }
    }
    out.into_values().collect()
}

fn pseudo_run(template: &Run, chosen: &[&Vec<&ResultRecord>], id: &str) -> Run {
    let mut records = Vec::new();
    for (rep, block) in chosen.iter().enumerate() {
        for r in block.iter() {
            let mut r = (*r).clone();
            r.rep = rep as u32;
            r.run_id = id.to_string();
            records.push(r);
        }
    }
    let mut info = template.info.clone();
    info.run_id = id.to_string();
    Run {
        dir: template.dir.clone(),
        info,
        records,
        warnings: vec![],
    }
}

/// Make the target (and every metric of the same record with the same value:
/// its aliases) `slowdown_pct` worse.
pub fn inject(run: &mut Run, target: &Target, slowdown_pct: f64) {
    for r in run
        .records
        .iter_mut()
        .filter(|r| r.env_id == target.env_id && r.workload == target.workload)
    {
        let Some(&v) = r.metrics.get(&target.metric) else {
            continue;
        };
        let unit = r.units.get(&target.metric).cloned().unwrap_or_default();
        let factor = match Direction::of(&target.metric, &unit) {
            Direction::HigherIsBetter => 1.0 - slowdown_pct / 100.0,
            Direction::LowerIsBetter => 1.0 / (1.0 - slowdown_pct / 100.0),
        };
        for x in r.metrics.values_mut().filter(|x| **x == v) {
            *x *= factor;
        }
    }
}

/// Run the study at `n` repetitions per pseudo-run.
pub fn study(
    runs: &[Run],
    n: usize,
    trials: usize,
    gate: &GateOptions,
    target: &Target,
    slowdown_pct: f64,
    seed: u64,
) -> Option<StudyRow> {
    let template = runs.first()?;
    let pool = blocks(runs);
    if pool.is_empty() || n == 0 {
        return None;
    }
    let with_replacement = pool.len() < 2 * n;
    let mut rng = SplitMix64::new(seed);
    let opts = StatsOptions::default();
    let (mut fa, mut fa1, mut refused, mut pw, mut pw1) = (0, 0, 0, 0, 0);
    let mut quantities = Vec::new();
    let mut needed = Vec::new();
    for t in 0..trials {
        let (a, b): (Vec<&Vec<&ResultRecord>>, Vec<&Vec<&ResultRecord>>) = if with_replacement {
            let draw = |rng: &mut SplitMix64| -> Vec<_> {
                (0..n).map(|_| &pool[rng.below(pool.len())]).collect()
            };
            (draw(&mut rng), draw(&mut rng))
        } else {
            // Partial Fisher–Yates: the first 2n of a random permutation.
            let mut idx: Vec<usize> = (0..pool.len()).collect();
            for i in 0..2 * n {
                let j = i + rng.below(idx.len() - i);
                idx.swap(i, j);
            }
            (
                idx[..n].iter().map(|&i| &pool[i]).collect(),
                idx[n..2 * n].iter().map(|&i| &pool[i]).collect(),
            )
        };
        let ra = pseudo_run(template, &a, &format!("A{t}"));
        let rb = pseudo_run(template, &b, &format!("B{t}"));
        let c = compare::compare_runs(&ra, &rb, gate, opts);
        quantities.push(c.tested());
        let powered = c.underpowered.is_none();
        if let Some(u) = &c.underpowered {
            needed.push(u.reps_needed.unwrap_or(usize::MAX));
        }
        if !powered {
            refused += 1;
        }
        if !c.regressions().is_empty() {
            fa += 1;
            if powered {
                fa1 += 1;
            }
        }
        let mut rb = rb;
        inject(&mut rb, target, slowdown_pct);
        let c = compare::compare_runs(&ra, &rb, gate, opts);
        let flagged = c.regressions().iter().any(|ch| {
            ch.env_id == target.env_id
                && ch.workload == target.workload
                && (ch.metric == target.metric || ch.aliases.contains(&target.metric))
        });
        if flagged {
            pw += 1;
            if c.underpowered.is_none() {
                pw1 += 1;
            }
        }
    }
    quantities.sort_unstable();
    needed.sort_unstable();
    let share = |k: usize| k as f64 / trials.max(1) as f64;
    Some(StudyRow {
        n,
        trials,
        quantities: quantities.get(quantities.len() / 2).copied().unwrap_or(0),
        with_replacement,
        false_alarm: share(fa),
        false_alarm_exit1: share(fa1),
        refused: share(refused),
        power: share(pw),
        power_exit1: share(pw1),
        reps_needed_median: needed
            .get(needed.len() / 2)
            .copied()
            .filter(|&k| k != usize::MAX),
    })
}

/// The study as a table, one row per `n`.
pub fn table(rows: &[StudyRow], target: &Target, gate: &GateOptions, slowdown_pct: f64) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "gate: threshold {}%, family-wise α {}, power check {}; target {target} made {slowdown_pct}% worse\n",
        gate.threshold_pct, gate.alpha, gate.power
    );
    let _ = writeln!(
        s,
        "{:>4} {:>6} {:>5} {:>12} {:>12} {:>8} {:>8} {:>10} {:>12}  draw",
        "n",
        "trials",
        "m",
        "A/A alarm",
        "A/A exit 1",
        "exit 2",
        "power",
        "power ex1",
        "reps needed"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:>4} {:>6} {:>5} {:>11.1}% {:>11.1}% {:>7.1}% {:>7.1}% {:>9.1}% {:>12}  {}",
            r.n,
            r.trials,
            r.quantities,
            r.false_alarm * 100.0,
            r.false_alarm_exit1 * 100.0,
            r.refused * 100.0,
            r.power * 100.0,
            r.power_exit1 * 100.0,
            r.reps_needed_median
                .map_or_else(|| "–".to_string(), |k| k.to_string()),
            if r.with_replacement {
                "with replacement"
            } else {
                "disjoint"
            }
        );
    }
    s.push_str(
        "A/A alarm: trials with any regression (test alone); exit 1: the same where the power check passed; \
exit 2: power check refused; power: trials flagging the target; reps needed: median, when refused\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{fixture_run_seeded, with_two_thread_cpu};

    #[test]
    fn study_on_synthetic_runs() {
        let mut run = fixture_run_seeded(40, 1.0, 9);
        with_two_thread_cpu(&mut run);
        let runs = [run];
        let target = default_target(&runs).unwrap();
        assert_eq!(target.metric, "gflops_1t");
        // Gate the CPU-bound figures only, at a 5% threshold.
        let mut gate = GateOptions::new(5.0);
        gate.filter.workloads = vec!["cpu".into()];
        let row = study(&runs, 10, 12, &gate, &target, 10.0, 1).unwrap();
        assert!(!row.with_replacement);
        // cpu: 4 envs × (primes, gflops, _1t × 2; the _2t aliases folded in).
        assert_eq!(row.quantities, 16, "{row:?}");
        assert!(row.false_alarm <= 0.25, "{row:?}");
        // gflops_1t of the fixture wobbles ±1%: a 10% loss is always caught.
        assert_eq!(row.power, 1.0, "{row:?}");
        let text = table(&[row], &target, &gate, 10.0);
        assert!(text.contains("disjoint"), "{text}");
        // 40 blocks cannot give two disjoint runs of 25.
        assert!(
            study(&runs, 25, 2, &gate, &target, 5.0, 1)
                .unwrap()
                .with_replacement
        );
    }

    #[test]
    fn inject_scales_the_target_and_its_aliases() {
        let mut run = fixture_run_seeded(2, 1.0, 1);
        with_two_thread_cpu(&mut run);
        let before = run.clone();
        let t = Target {
            env_id: "native".into(),
            workload: "cpu".into(),
            metric: "gflops".into(),
        };
        inject(&mut run, &t, 5.0);
        for (a, b) in before.records.iter().zip(&run.records) {
            let hit = a.env_id == "native" && a.workload == "cpu";
            for (m, v) in &a.metrics {
                let f = if hit && (m == "gflops" || m == "gflops_2t") {
                    0.95
                } else {
                    1.0
                };
                assert!((b.metrics[m] - v * f).abs() < 1e-12, "{m}");
            }
        }
    }
}
