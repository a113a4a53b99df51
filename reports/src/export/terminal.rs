//! What `isobench run` prints on standard output when it ends: a compact
//! results table (one line per environment, workload and headline metric:
//! the value with its unit and 95% interval, and the ratio to native where
//! there is one), the claims this run decided (one line each), and the
//! next command to type. Short enough for one screen for the quick suite;
//! every figure is in the report.

use super::{headline_columns, largest_latency, ratio, HeadlineColumn, ReportContext};
use crate::analysis::{Analysis, Figure, BASELINE};
use crate::claims::{self, claim_line, Verdict};
use crate::digest::Digest;
use crate::metric::latency_size_bytes;
use crate::text::num;
use crate::value::{exact_text, ratio_words};
use std::fmt::Write as _;

/// The figure a headline line shows for `env_id`: latency at the largest
/// working set measured both here and natively (native: its largest).
fn headline_figure<'a>(a: &'a Analysis, env_id: &str, c: &HeadlineColumn) -> Option<&'a Figure> {
    if c.workload == "latency" {
        let metric = if env_id == BASELINE {
            largest_latency(a, BASELINE)?
        } else {
            a.figures
                .iter()
                .filter(|f| f.env_id == env_id && f.workload == "latency")
                .filter(|f| a.figure(BASELINE, "latency", &f.metric).is_some())
                .filter_map(|f| latency_size_bytes(&f.metric).map(|s| (s, f.metric.clone())))
                .max_by_key(|x| x.0)
                .map(|x| x.1)
                .or_else(|| largest_latency(a, env_id))?
        };
        return a.figure(env_id, "latency", &metric);
    }
    a.figure(env_id, &c.workload, &c.metric)
}

/// A figure's value with its interval and unit, without n: `12,345 [12,100,
/// 12,600] primes/s`; counts and sizes as themselves (`3 layers`).
fn value_text(f: &Figure) -> String {
    if let Some(t) = exact_text(f) {
        return t;
    }
    let s = &f.summary;
    let unit = if f.unit.is_empty() {
        String::new()
    } else {
        format!(" {}", f.unit)
    };
    match s.ci {
        Some(ci) => format!("{} [{}, {}]{unit}", num(s.centre), num(ci.lo), num(ci.hi)),
        None => format!("{}{unit} (no interval)", num(s.centre)),
    }
}

/// The ratio cell: `0.98× [0.95, 1.01]`, `2.1× slower [1.9, 2.4]`,
/// `baseline`, or why there is none.
fn ratio_cell(cx: &ReportContext, f: &Figure) -> String {
    if f.env_id == BASELINE {
        return "baseline".into();
    }
    if super::not_comparable(cx, f).is_some() {
        return "not comparable (other parameters)".into();
    }
    match ratio(cx, f) {
        Some(v) => ratio_words(f, &v),
        None if f.summary.n < 2 => "– (n=1)".into(),
        None => "– (no native figure)".into(),
    }
}

/// Lay rows out in columns separated by two spaces, each line indented.
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str("  ");
            line.push_str(c);
            if i + 1 < r.len() {
                line.push_str(&" ".repeat(width[i] - c.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The results table of the suite's headline metrics (empty when the run
/// has no workload figures).
pub fn results_table(cx: &ReportContext) -> String {
    let a = cx.analysis;
    let mut rows = vec![[
        "metric",
        "environment",
        "n",
        "value [95% interval]",
        "× native",
    ]
    .map(String::from)
    .to_vec()];
    for c in headline_columns(cx) {
        for e in &a.envs {
            let Some(f) = headline_figure(a, &e.env_id, &c) else {
                continue;
            };
            rows.push(vec![
                format!("{} {}", c.workload, f.metric),
                e.env_id.clone(),
                f.summary.n.to_string(),
                value_text(f),
                ratio_cell(cx, f),
            ]);
        }
    }
    if rows.len() == 1 {
        return String::new();
    }
    columns(&rows)
}

/// The experiments' lines for a run without workload figures (a density
/// or neighbour run alone): per environment its instances and memory per
/// instance; per headline cell the victim's speed beside its antagonist.
fn experiment_lines(cx: &ReportContext) -> String {
    let mut s = String::new();
    for d in &cx.facts.density {
        let _ = writeln!(
            s,
            "  density {}: {} instances; host memory per extra instance {}",
            d.env_id,
            d.instances,
            d.marginal_text()
        );
    }
    let cells = crate::neighbours::headline(&cx.facts.slowdowns);
    if !cells.is_empty() {
        let rows: Vec<Vec<String>> = cells
            .iter()
            .map(|x| {
                vec![
                    x.env_id.clone(),
                    x.placement.clone(),
                    format!("{}/{} beside {}", x.victim, x.metric, x.antagonist),
                    x.speed_text(),
                    x.rate_text().unwrap_or_default(),
                ]
            })
            .collect();
        let _ = writeln!(
            s,
            "neighbours: victim speed beside the antagonist relative to alone (1.00× = undisturbed), 95% interval, n; the antagonist's rate:"
        );
        s.push_str(&columns(&rows));
    }
    s
}

/// Everything `isobench run` prints at its end for run directory `dir`
/// (as the user named it).
pub fn end_summary(d: &Digest, dir: &str) -> String {
    let claims = claims::evaluate_with(&d.analysis, Some(d.info.host.memory_bytes), &d.facts);
    let cx = ReportContext {
        info: &d.info,
        analysis: &d.analysis,
        claims: &claims,
        warnings: Vec::new(),
        plots: &[],
        facts: &d.facts,
    };
    let mut s = String::new();
    let table = results_table(&cx);
    if !table.is_empty() {
        let intervals = if d.analysis.figures.iter().any(|f| f.summary.ci.is_some()) {
            format!("95% intervals ({})", super::interval_methods(&d.analysis))
        } else {
            "no intervals (one repetition each: add --reps)".to_string()
        };
        let _ = writeln!(
            s,
            "results: geometric mean of n valid repetitions, {intervals}; × native = speed relative to native, higher is better (times: × slower/faster)"
        );
        s.push_str(&table);
    } else {
        s.push_str(&experiment_lines(&cx));
    }
    let decided: Vec<String> = claims
        .iter()
        .filter(|c| c.verdict != Verdict::NotMeasured)
        .map(|c| format!("  {} {}: {}", c.id, c.verdict_text(), claim_line(c)))
        .collect();
    if !decided.is_empty() {
        let _ = writeln!(s, "claims (decided from this run; reasons in the report):");
        for l in decided {
            let _ = writeln!(s, "{l}");
        }
    }
    let missing: Vec<&str> = claims
        .iter()
        .filter(|c| c.verdict == Verdict::NotMeasured)
        .map(|c| c.id)
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            s,
            "not measured in this run: {} (isobench run --experiment all measures every claim)",
            missing.join(", ")
        );
    }
    let invalid = d.analysis.invalid_total();
    if invalid > 0 {
        let _ = writeln!(
            s,
            "{invalid} result(s) invalid and left out (their error fields are in {dir}/results.jsonl)"
        );
    }
    let _ = writeln!(
        s,
        "next: isobench report {dir}    (writes {dir}/report/index.html, summary.md, claims.json)"
    );
    if !table.is_empty() {
        let _ = writeln!(
            s,
            "      isobench compare BASE {dir}    (regression gate against an earlier run BASE)"
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::testdata;

    fn digest(reps: u32) -> Digest {
        Digest::of_run(&testdata::fixture_run(reps, 1.0))
    }

    #[test]
    fn one_line_per_environment_and_headline_metric_with_units_and_ratios() {
        let d = digest(3);
        let s = end_summary(&d, "runs/x");
        let lines: Vec<&str> = s.lines().collect();
        // Every environment has its triad line with a unit and an interval.
        for e in testdata::ENVS {
            let l = lines
                .iter()
                .find(|l| l.contains("membw triad_mbs") && l.contains(&format!(" {e} ")))
                .unwrap_or_else(|| panic!("no triad line for {e}: {s}"));
            assert!(l.contains("MB/s") && l.contains('['), "{l}");
            if e == "native" {
                assert!(l.trim_end().ends_with("baseline"), "{l}");
            } else {
                assert!(l.contains('×'), "{l}");
            }
        }
        // Latency reads as × slower in a VM.
        assert!(
            lines
                .iter()
                .any(|l| l.contains("latency ns_per_load") && l.contains("× slower")),
            "{s}"
        );
        // Claims decided, and the next command names the directory.
        assert!(s.contains("\n  C1 "), "{s}");
        assert!(s.contains("next: isobench report runs/x"), "{s}");
        assert!(s.contains("isobench compare BASE runs/x"), "{s}");
        // One screen: headline lines per environment, no per-size latency.
        let latency_lines = lines
            .iter()
            .filter(|l| l.trim_start().starts_with("latency ns_per_load"))
            .count();
        assert_eq!(latency_lines, testdata::ENVS.len(), "{s}");
        assert!(lines.len() < 60, "{} lines:\n{s}", lines.len());
    }

    #[test]
    fn one_repetition_shows_no_interval_and_no_ratio() {
        let d = digest(1);
        let s = end_summary(&d, "r");
        let l = s
            .lines()
            .find(|l| l.contains("membw triad_mbs") && l.contains(" native "))
            .unwrap_or_else(|| panic!("{s}"));
        assert!(l.contains("(no interval)") && !l.contains('['), "{l}");
        assert!(s.contains("– (n=1)"), "{s}");
        assert!(s.contains("no intervals (one repetition each"), "{s}");
        assert!(!s.contains("95% intervals ("), "{s}");
    }

    #[test]
    fn an_experiment_run_alone_shows_its_own_lines() {
        let mut run = testdata::fixture_run(3, 1.0);
        run.records = testdata::density_records("container-isorun", "container", 20, 0.2, 0.4);
        let d = Digest::of_run(&run);
        let s = end_summary(&d, "r");
        assert!(s.contains("density container-isorun: 20 instances"), "{s}");
        assert!(!s.contains("isobench compare"), "{s}");
        assert!(!s.contains("results:"), "{s}");
    }
}
