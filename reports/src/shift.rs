//! The change of one quantity between baseline runs and new runs, for the
//! regression gate (the `compare` module).
//!
//! Level: the unit is the run. Runs of one host and plan differ from each
//! other by more than their repetitions suggest (on the development machine
//! run means vary by about 2.5% CV against a 1.5% standard error within one
//! run), so treating the repetitions of two runs as independent samples
//! makes every run-to-run offset look like a change. Each run is reduced to
//! the mean of the logs of its values (the log of its geometric mean); the
//! change is the difference of the averages of those run means, with a
//! Student t interval whose variance is the spread of run means around
//! their own side's average (pooled over both sides, `K − 1 + M − 1`
//! degrees of freedom). The spread of run means already holds both the
//! between-run variance and the within-run noise of a run's mean, so no
//! variance component has to be estimated (a one-way random-effects model
//! with balanced runs reduces to this).
//!
//! With one run on each side the spread of run means cannot be estimated
//! from the two runs. It then comes from the history (the run means of
//! earlier runs of the same host and plan, passed as [`RunNoise`]); with no
//! history, from the repetitions (Welch t on the logs), which ignores
//! between-run variance: [`Unit::Repetitions`] says so and the gate
//! prints it.
//!
//! Noise: a rise in the spread of the repetitions is a finding of its own,
//! tested with Brown–Forsythe (Levene's test on absolute deviations from
//! the median; robust to the skewed, outlier-prone distributions of timings)
//! on the logs. Deviations are taken from each run's own median, so a run
//! offset is not read as noise.

use crate::stats;

/// What the interval of a [`Level`] is made of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    /// Run means, `base` and `new` runs; the spread from the runs compared.
    RunMeans { base: usize, new: usize },
    /// Run means, one run each side; the spread of run means from `runs`
    /// earlier runs of the history.
    History { runs: usize },
    /// Repetitions of one run each side (Welch t on logs): between-run
    /// variance is not in the interval.
    Repetitions,
}

impl Unit {
    pub fn label(&self) -> String {
        match self {
            Unit::RunMeans { base, new } => {
                format!("run means ({base} base run(s), {new} new)")
            }
            Unit::History { runs } => {
                format!("run means, run-to-run spread from {runs} history run(s)")
            }
            Unit::Repetitions => {
                "repetitions of one run each (between-run variance unknown)".into()
            }
        }
    }
}

/// Spread of run means (logs) of a history: variance and its degrees of
/// freedom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunNoise {
    pub var: f64,
    pub df: f64,
    pub runs: usize,
}

impl RunNoise {
    /// From run means (logs) of at least two runs.
    pub fn of_run_means(means: &[f64]) -> Option<RunNoise> {
        if means.len() < 2 {
            return None;
        }
        let (_, sd) = mean_sd(means);
        Some(RunNoise {
            var: sd * sd,
            df: (means.len() - 1) as f64,
            runs: means.len(),
        })
    }
}

/// A change of level: `diff` = average run mean (logs) of new − of base.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub diff: f64,
    pub se: f64,
    pub df: f64,
    pub unit: Unit,
    /// Standard deviation of one run's mean (logs) the interval assumes;
    /// for [`Unit::Repetitions`], the pooled standard deviation of the
    /// repetitions.
    pub sd: f64,
}

impl Level {
    /// Two-sided interval of `diff` at `confidence`.
    pub fn interval(&self, confidence: f64) -> (f64, f64) {
        let h = self.half_width(confidence);
        (self.diff - h, self.diff + h)
    }

    fn half_width(&self, confidence: f64) -> f64 {
        if self.se == 0.0 {
            return 0.0;
        }
        stats::t_quantile(1.0 - (1.0 - confidence) / 2.0, self.df) * self.se
    }

    /// One-sided p-value for "the log level fell" (`diff < 0`).
    pub fn p_below(&self) -> f64 {
        if self.se == 0.0 || !self.se.is_finite() {
            return if self.diff < 0.0 { 0.0 } else { 1.0 };
        }
        stats::t_cdf(self.diff / self.se, self.df)
    }

    /// The smallest shift (logs) whose interval at `confidence` lies wholly
    /// beyond `delta` with probability `power`: what the gate can call
    /// "regressed" reliably with this noise.
    pub fn detectable(&self, delta: f64, confidence: f64, power: f64) -> f64 {
        if self.se == 0.0 {
            return delta;
        }
        delta + self.half_width(confidence) + stats::t_quantile(power, self.df) * self.se
    }
}

pub(crate) fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (m, 0.0);
    }
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

/// Mean of the logs of one run's values (every value must be > 0).
pub fn run_mean(values: &[f64]) -> f64 {
    values.iter().map(|x| x.ln()).sum::<f64>() / values.len() as f64
}

/// How each run is reduced to one number (a log) before the runs are
/// compared. The same summary is taken of every run on both sides and of
/// the history, so the t interval on run summaries stays what it is for
/// run means: the spread comes from the runs' own summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunSummary {
    /// The mean of the logs (the log of the geometric mean): every
    /// repetition counts.
    #[default]
    Mean,
    /// The best repetition (STREAM / hyperfine-min style): the largest log
    /// of a higher-is-better quantity, the smallest of a lower-is-better
    /// one. Blind to a regression that hits only some repetitions.
    Best,
    /// The mean of the logs of the best half of the repetitions (the
    /// better ⌈n/2⌉).
    BestHalf,
    /// The 75th percentile of the logs on the better side (linear
    /// interpolation between order statistics).
    Q75,
}

impl RunSummary {
    /// The names `--run-summary` and `gate_power --summary` take.
    pub const NAMES: [&'static str; 4] = ["mean", "best", "best-half", "q75"];

    pub fn parse(s: &str) -> Option<RunSummary> {
        match s {
            "mean" => Some(RunSummary::Mean),
            "best" => Some(RunSummary::Best),
            "best-half" => Some(RunSummary::BestHalf),
            "q75" => Some(RunSummary::Q75),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RunSummary::Mean => "mean",
            RunSummary::Best => "best",
            RunSummary::BestHalf => "best-half",
            RunSummary::Q75 => "q75",
        }
    }

    /// What a run's number is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            RunSummary::Mean => "run means",
            RunSummary::Best => "the best repetition of each run",
            RunSummary::BestHalf => "the mean of the best half of each run's repetitions",
            RunSummary::Q75 => "the 75th percentile (better side) of each run's repetitions",
        }
    }

    /// One run's summary on the log scale (every value > 0, at least one).
    /// `higher_is_better` says which side is better.
    pub fn of(self, values: &[f64], higher_is_better: bool) -> f64 {
        if self == RunSummary::Mean {
            return run_mean(values);
        }
        // Logs sorted best first.
        let mut logs: Vec<f64> = values.iter().map(|x| x.ln()).collect();
        logs.sort_by(f64::total_cmp);
        if higher_is_better {
            logs.reverse();
        }
        let n = logs.len();
        match self {
            RunSummary::Mean => unreachable!(),
            RunSummary::Best => logs[0],
            RunSummary::BestHalf => {
                let h = n.div_ceil(2);
                logs[..h].iter().sum::<f64>() / h as f64
            }
            RunSummary::Q75 => {
                // The 25th percentile of the best-first order = the 75th
                // of the worst-first one.
                let pos = 0.25 * (n - 1) as f64;
                let (i, f) = (pos.floor() as usize, pos.fract());
                if i + 1 < n {
                    logs[i] * (1.0 - f) + logs[i + 1] * f
                } else {
                    logs[i]
                }
            }
        }
    }
}

/// The change of level between `base` and `new` runs (values per run, every
/// value > 0, every run non-empty). `history`: spread of run means from
/// earlier runs, used when each side has one run. `None` when nothing can
/// be estimated (one run each, no history, and fewer than 2 values a side).
pub fn level(base: &[Vec<f64>], new: &[Vec<f64>], history: Option<RunNoise>) -> Option<Level> {
    level_of(base, new, history, RunSummary::Mean, true)
}

/// [`level`] with each run reduced by `summary` (`higher_is_better`: the
/// quantity's direction, for the best-side summaries). `history` must hold
/// the spread of the same summary. With one run a side and no history the
/// interval comes from the repetitions (Welch t on the logs of every
/// value), whatever the summary.
pub fn level_of(
    base: &[Vec<f64>],
    new: &[Vec<f64>],
    history: Option<RunNoise>,
    summary: RunSummary,
    higher_is_better: bool,
) -> Option<Level> {
    let (k, m) = (base.len(), new.len());
    if k == 0 || m == 0 {
        return None;
    }
    let bm: Vec<f64> = base
        .iter()
        .map(|r| summary.of(r, higher_is_better))
        .collect();
    let nm: Vec<f64> = new
        .iter()
        .map(|r| summary.of(r, higher_is_better))
        .collect();
    let (mb, _) = mean_sd(&bm);
    let (mn, _) = mean_sd(&nm);
    let diff = mn - mb;
    if k + m >= 3 {
        let ss: f64 = bm.iter().map(|x| (x - mb).powi(2)).sum::<f64>()
            + nm.iter().map(|x| (x - mn).powi(2)).sum::<f64>();
        let df = (k + m - 2) as f64;
        let var = ss / df;
        return Some(Level {
            diff,
            se: (var * (1.0 / k as f64 + 1.0 / m as f64)).sqrt(),
            df,
            unit: Unit::RunMeans { base: k, new: m },
            sd: var.sqrt(),
        });
    }
    if let Some(h) = history.filter(|h| h.df >= 1.0 && h.var.is_finite()) {
        return Some(Level {
            diff,
            se: (2.0 * h.var).sqrt(),
            df: h.df,
            unit: Unit::History { runs: h.runs },
            sd: h.var.sqrt(),
        });
    }
    let w = stats::welch_logs(&new[0], &base[0])?;
    Some(Level {
        diff: w.diff,
        se: w.se,
        df: w.df,
        unit: Unit::Repetitions,
        sd: w.pooled_sd,
    })
}

/// A change in the spread of the repetitions (Brown–Forsythe on logs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseChange {
    /// Mean absolute deviation from the run median (logs), new / base.
    pub ratio: f64,
    /// One-sided p-value for "the spread rose".
    pub p_rise: f64,
}

/// Brown–Forsythe for a rise in spread: absolute deviations of the logs from
/// their own run's median, pooled per side, compared with a one-sided
/// pooled-variance t test (two groups: the ANOVA F of Brown–Forsythe is t²).
/// `None` with fewer than 3 deviations a side or no spread at all.
pub fn noise_change(base: &[Vec<f64>], new: &[Vec<f64>]) -> Option<NoiseChange> {
    let devs = |runs: &[Vec<f64>]| -> Vec<f64> {
        let mut out = Vec::new();
        for r in runs.iter().filter(|r| r.len() >= 2) {
            let logs: Vec<f64> = r.iter().map(|x| x.ln()).collect();
            let med = stats::median(&logs).unwrap_or(0.0);
            out.extend(logs.iter().map(|x| (x - med).abs()));
        }
        out
    };
    let (zb, zn) = (devs(base), devs(new));
    if zb.len() < 3 || zn.len() < 3 {
        return None;
    }
    let (mb, sb) = mean_sd(&zb);
    let (mn, sn) = mean_sd(&zn);
    let (nb, nn) = (zb.len() as f64, zn.len() as f64);
    let sp2 = ((nb - 1.0) * sb * sb + (nn - 1.0) * sn * sn) / (nb + nn - 2.0);
    if mb <= 0.0 && mn <= 0.0 {
        return None;
    }
    let se = (sp2 * (1.0 / nb + 1.0 / nn)).sqrt();
    let p_rise = if se == 0.0 {
        if mn > mb {
            0.0
        } else {
            1.0
        }
    } else {
        1.0 - stats::t_cdf((mn - mb) / se, nb + nn - 2.0)
    };
    Some(NoiseChange {
        ratio: if mb > 0.0 { mn / mb } else { f64::INFINITY },
        p_rise,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_means_are_the_unit() {
        // Three base runs offset by ±2%, tight inside; one new run 1% up.
        let base = vec![
            vec![98.0, 98.1, 97.9],
            vec![100.0, 100.1, 99.9],
            vec![102.0; 3],
        ];
        let new = vec![vec![101.0, 101.1, 100.9]];
        let l = level(&base, &new, None).unwrap();
        assert_eq!(l.unit, Unit::RunMeans { base: 3, new: 1 });
        assert_eq!(l.df, 2.0);
        assert!(
            (l.diff - (101.0f64.ln() - (98.0f64.ln() + 100.0f64.ln() + 102.0f64.ln()) / 3.0)).abs()
                < 1e-3
        );
        // The interval holds the ±2% run offsets, not the ±0.1% repetitions.
        let (lo, hi) = l.interval(0.95);
        assert!(lo < 0.0 && hi > 0.02, "{lo} {hi}");
    }

    #[test]
    fn run_summaries_take_the_better_side() {
        let v = [1.0, 2.0, 4.0, 8.0, 16.0];
        let l = |x: f64| x.ln();
        let near = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(near(RunSummary::Mean.of(&v, true), l(4.0)));
        assert!(near(RunSummary::Best.of(&v, true), l(16.0)));
        assert!(near(RunSummary::Best.of(&v, false), l(1.0)));
        // Best 3 of 5: 16, 8, 4 (higher is better); 1, 2, 4 (lower).
        assert!(near(
            RunSummary::BestHalf.of(&v, true),
            (l(16.0) + l(8.0) + l(4.0)) / 3.0
        ));
        assert!(near(
            RunSummary::BestHalf.of(&v, false),
            (l(1.0) + l(2.0) + l(4.0)) / 3.0
        ));
        // 75th percentile: position 1 of 4 from the best side.
        assert!(near(RunSummary::Q75.of(&v, true), l(8.0)));
        assert!(near(RunSummary::Q75.of(&v, false), l(2.0)));
        assert!(near(RunSummary::Q75.of(&[3.0], true), l(3.0)));
        for n in RunSummary::NAMES {
            assert_eq!(RunSummary::parse(n).unwrap().name(), n);
        }
        assert_eq!(RunSummary::parse("max"), None);
        // The interval is on the summaries: one slow repetition per run
        // moves the mean, not the best.
        let base = vec![vec![100.0, 101.0, 80.0], vec![100.5, 99.5, 100.0]];
        let new = vec![vec![100.0, 101.0, 100.0], vec![100.5, 99.5, 70.0]];
        let b = level_of(&base, &new, None, RunSummary::Best, true).unwrap();
        assert!(b.diff.abs() < 1e-12, "{b:?}");
        let m = level_of(&base, &new, None, RunSummary::Mean, true).unwrap();
        assert!(m.diff < -0.01, "{m:?}");
    }

    #[test]
    fn one_run_each_takes_the_history_spread_else_the_repetitions() {
        let base = vec![vec![100.0, 100.2, 99.8]];
        let new = vec![vec![99.0, 99.2, 98.8]];
        let h = RunNoise::of_run_means(&[0.0, 0.02, -0.02, 0.01]).unwrap();
        let l = level(&base, &new, Some(h)).unwrap();
        assert_eq!(l.unit, Unit::History { runs: 4 });
        assert_eq!(l.df, 3.0);
        assert!((l.se - (2.0 * h.var).sqrt()).abs() < 1e-12);
        let l = level(&base, &new, None).unwrap();
        assert_eq!(l.unit, Unit::Repetitions);
        assert!(l.p_below() < 0.01);
        assert!(level(&[vec![1.0]], &[vec![1.0]], None).is_none());
    }

    #[test]
    fn brown_forsythe_sees_a_rise_in_noise_not_an_offset() {
        let quiet: Vec<f64> = (0..12)
            .map(|i| 100.0 * (1.0 + 0.01 * ((i % 3) as f64 - 1.0)))
            .collect();
        let noisy: Vec<f64> = (0..12)
            .map(|i| 100.0 * (1.0 + 0.08 * ((i % 3) as f64 - 1.0)))
            .collect();
        let shifted: Vec<f64> = quiet.iter().map(|x| x * 1.3).collect();
        let n = noise_change(std::slice::from_ref(&quiet), &[noisy]).unwrap();
        assert!(n.p_rise < 0.001 && n.ratio > 5.0, "{n:?}");
        let n = noise_change(std::slice::from_ref(&quiet), &[shifted]).unwrap();
        assert!(n.p_rise > 0.4 && (n.ratio - 1.0).abs() < 1e-6, "{n:?}");
    }

    #[test]
    fn detectable_grows_with_the_noise() {
        let l = |se: f64| Level {
            diff: 0.0,
            se,
            df: 10.0,
            unit: Unit::RunMeans { base: 10, new: 2 },
            sd: se,
        };
        let d = 0.05;
        assert!(l(0.01).detectable(d, 0.95, 0.9) < l(0.02).detectable(d, 0.95, 0.9));
        assert!(l(0.01).detectable(d, 0.95, 0.9) > d);
    }
}
