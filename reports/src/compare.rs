//! Comparing two runs (`isobench compare BASE NEW`): for every (environment,
//! workload, metric) present in both, the change of the median with a
//! bootstrap interval of the ratio new/base, and a two-sided Mann–Whitney U
//! test of the repetitions. A metric regressed when its performance got worse
//! by more than the threshold and the test is significant (p < 0.05).
//!
//! As in firecracker's A/B tool, the comparison is non-parametric and only
//! meaningful between runs of the same host: [`host_differences`] names what
//! differs so the caller can refuse.

use crate::analysis::{analyse, Analysis, Figure, StatsOptions};
use crate::export::num;
use crate::load::Run;
use crate::metric::Direction;
use crate::plot::draw::{self, ChangesPlot, LabelledValue};
use crate::plot::{Image, PlotError};
use crate::schema::HostInfo;
use crate::stats::{self, Estimate};
use std::fmt::Write;

/// Significance level of the test.
pub const ALPHA: f64 = 0.05;

/// How one metric changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub env_id: String,
    pub workload: String,
    pub metric: String,
    pub unit: String,
    pub direction: Direction,
    pub base_median: f64,
    pub new_median: f64,
    pub base_n: usize,
    pub new_n: usize,
    /// Change of the metric's median, percent, with interval.
    pub change_pct: Estimate,
    /// Change of performance, percent (positive = better), with interval.
    pub perf_change_pct: Estimate,
    /// Two-sided Mann–Whitney U p-value.
    pub p_value: f64,
    pub significant: bool,
    /// Worse by more than the threshold, significantly.
    pub regression: bool,
    /// Better by more than the threshold, significantly.
    pub improvement: bool,
}

impl Change {
    pub fn name(&self) -> String {
        format!("{} {}/{}", self.env_id, self.workload, self.metric)
    }

    pub fn verdict(&self) -> &'static str {
        if self.regression {
            "WORSE"
        } else if self.improvement {
            "better"
        } else if self.significant {
            "changed (within threshold)"
        } else {
            "no significant change"
        }
    }
}

/// The comparison of two runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub base_run: String,
    pub new_run: String,
    pub threshold_pct: f64,
    pub changes: Vec<Change>,
    /// Figures present in one run only (`env workload/metric`).
    pub only_base: Vec<String>,
    pub only_new: Vec<String>,
}

impl Comparison {
    pub fn regressions(&self) -> Vec<&Change> {
        self.changes.iter().filter(|c| c.regression).collect()
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

fn key(f: &Figure) -> String {
    format!("{} {}/{}", f.env_id, f.workload, f.metric)
}

/// Compare two runs.
pub fn compare(base: &Run, new: &Run, threshold_pct: f64, opts: StatsOptions) -> Comparison {
    compare_analyses(
        &analyse(&base.records, opts),
        &analyse(&new.records, opts),
        &base.info.run_id,
        &new.info.run_id,
        threshold_pct,
        opts,
    )
}

/// Compare two analysed runs.
pub fn compare_analyses(
    base: &Analysis,
    new: &Analysis,
    base_run: &str,
    new_run: &str,
    threshold_pct: f64,
    opts: StatsOptions,
) -> Comparison {
    let mut changes = Vec::new();
    let mut only_base = Vec::new();
    for b in &base.figures {
        let Some(n) = new.figure(&b.env_id, &b.workload, &b.metric) else {
            only_base.push(key(b));
            continue;
        };
        let seed = stats::seed_for(&key(b));
        let Some(ratio) = stats::bootstrap_ratio_ci(&n.samples, &b.samples, opts.resamples, seed)
        else {
            continue;
        };
        let change_pct = ratio.map(|r| (r - 1.0) * 100.0);
        let perf_change_pct = match b.direction {
            Direction::HigherIsBetter => change_pct,
            Direction::LowerIsBetter => ratio.map(|r| (1.0 / r - 1.0) * 100.0),
        };
        let p_value = stats::mann_whitney_u(&n.samples, &b.samples)
            .map(|m| m.p_value)
            .unwrap_or(1.0);
        let significant = p_value < ALPHA;
        changes.push(Change {
            env_id: b.env_id.clone(),
            workload: b.workload.clone(),
            metric: b.metric.clone(),
            unit: b.unit.clone(),
            direction: b.direction,
            base_median: b.summary.median,
            new_median: n.summary.median,
            base_n: b.summary.n,
            new_n: n.summary.n,
            change_pct,
            perf_change_pct,
            p_value,
            significant,
            regression: significant && perf_change_pct.point < -threshold_pct,
            improvement: significant && perf_change_pct.point > threshold_pct,
        });
    }
    let only_new = new
        .figures
        .iter()
        .filter(|n| base.figure(&n.env_id, &n.workload, &n.metric).is_none())
        .map(key)
        .collect();
    Comparison {
        base_run: base_run.to_string(),
        new_run: new_run.to_string(),
        threshold_pct,
        changes,
        only_base,
        only_new,
    }
}

/// A plain-text table for the terminal.
pub fn to_text(c: &Comparison) -> String {
    let mut rows = vec![[
        "environment".to_string(),
        "workload/metric".to_string(),
        "base".to_string(),
        "new".to_string(),
        "change [95% CI]".to_string(),
        "p".to_string(),
        "verdict".to_string(),
    ]];
    for ch in &c.changes {
        rows.push([
            ch.env_id.clone(),
            format!("{}/{} ({})", ch.workload, ch.metric, ch.unit),
            format!("{} (n={})", num(ch.base_median), ch.base_n),
            format!("{} (n={})", num(ch.new_median), ch.new_n),
            format!(
                "{:+.1}% [{:+.1}, {:+.1}]",
                ch.change_pct.point, ch.change_pct.lo, ch.change_pct.hi
            ),
            format!("{:.3}", ch.p_value),
            ch.verdict().to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut s = format!(
        "compare {} (base) → {} (new); threshold {}%, Mann–Whitney U p < {ALPHA}\n",
        c.base_run, c.new_run, c.threshold_pct
    );
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(s, "{}", cells.join("  ").trim_end());
    }
    if !c.only_base.is_empty() {
        let _ = writeln!(s, "only in base: {}", c.only_base.join(", "));
    }
    if !c.only_new.is_empty() {
        let _ = writeln!(s, "only in new: {}", c.only_new.join(", "));
    }
    let reg = c.regressions();
    if reg.is_empty() {
        let _ = writeln!(
            s,
            "no metric got significantly worse by more than {}%",
            c.threshold_pct
        );
    } else {
        let names: Vec<String> = reg
            .iter()
            .map(|r| format!("{} ({:+.1}%)", r.name(), r.change_pct.point))
            .collect();
        let _ = writeln!(s, "REGRESSION: {}", names.join(", "));
    }
    let small = c.changes.iter().any(|ch| ch.base_n < 4 || ch.new_n < 4);
    if small {
        let _ = writeln!(
            s,
            "note: with fewer than 4 repetitions per side the test cannot reach p < {ALPHA}; run with --reps 5 or more"
        );
    }
    s
}

/// The comparison as JSON for scripts: every change with its interval, p-value
/// and verdict, and the regressions by name.
pub fn to_json(c: &Comparison) -> serde_json::Value {
    let est = |e: Estimate| serde_json::json!({"point": e.point, "lo": e.lo, "hi": e.hi});
    serde_json::json!({
        "base_run": c.base_run,
        "new_run": c.new_run,
        "threshold_pct": c.threshold_pct,
        "alpha": ALPHA,
        "regressions": c.regressions().iter().map(|r| r.name()).collect::<Vec<_>>(),
        "only_base": c.only_base,
        "only_new": c.only_new,
        "changes": c.changes.iter().map(|ch| serde_json::json!({
            "env_id": ch.env_id,
            "workload": ch.workload,
            "metric": ch.metric,
            "unit": ch.unit,
            "direction": ch.direction.label(),
            "base_median": ch.base_median,
            "new_median": ch.new_median,
            "base_n": ch.base_n,
            "new_n": ch.new_n,
            "change_pct": est(ch.change_pct),
            "perf_change_pct": est(ch.perf_change_pct),
            "p_value": ch.p_value,
            "verdict": ch.verdict(),
        })).collect::<Vec<_>>(),
    })
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
        .map(|ch| {
            if ch.regression {
                -1
            } else if ch.improvement {
                1
            } else {
                0
            }
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
    use crate::testdata;

    const OPTS: StatsOptions = StatsOptions { resamples: 500 };

    #[test]
    fn a_run_against_itself_has_no_regression() {
        let run = testdata::fixture_run(5, 1.0);
        let c = compare(&run, &run, 5.0, OPTS);
        assert!(!c.changes.is_empty());
        assert!(c.regressions().is_empty());
        assert!(c.changes.iter().all(|ch| ch.change_pct.point == 0.0));
        assert!(to_text(&c).contains("no metric got significantly worse"));
    }

    #[test]
    fn a_slower_triad_is_a_named_regression() {
        let base = testdata::fixture_run(5, 1.0);
        let new = testdata::fixture_run(5, 0.8);
        let c = compare(&base, &new, 5.0, OPTS);
        let reg = c.regressions();
        assert_eq!(reg.len(), 4, "{reg:?}");
        assert!(reg.iter().all(|r| r.metric == "triad_mbs"));
        assert!((reg[0].change_pct.point + 20.0).abs() < 0.5);
        let json = to_json(&c);
        assert_eq!(json["regressions"][0], "native membw/triad_mbs");
        assert_eq!(json["changes"].as_array().unwrap().len(), c.changes.len());
        let text = to_text(&c);
        assert!(
            text.contains("REGRESSION: native membw/triad_mbs (-20.0%)"),
            "{text}"
        );
        // A 20% loss is not a regression at a 25% threshold.
        assert!(compare(&base, &new, 25.0, OPTS).regressions().is_empty());
    }

    #[test]
    fn lower_is_better_metrics_regress_when_they_grow() {
        let base = testdata::fixture_run(6, 1.0);
        let mut new = base.clone();
        for r in new.records.iter_mut().filter(|r| r.workload == "startup") {
            for v in r.metrics.values_mut() {
                *v *= 1.5;
            }
        }
        let c = compare(&base, &new, 10.0, OPTS);
        let reg = c.regressions();
        assert_eq!(reg.len(), 8);
        assert!(reg.iter().all(|r| r.workload == "startup"));
        assert!((reg[0].perf_change_pct.point + 33.33).abs() < 0.1);
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
    fn the_plot_renders() {
        let base = testdata::fixture_run(4, 1.0);
        let new = testdata::fixture_run(4, 0.8);
        let c = compare(&base, &new, 5.0, OPTS);
        let img = plot(&c, "host bench-host").unwrap();
        assert!(img.svg.contains("native membw/triad_mbs"));
        assert!(img.png.starts_with(b"\x89PNG"));
    }
}
