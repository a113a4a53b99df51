//! `summary.csv`: one row per figure (environment × workload × metric)
//! with its statistics ([`to_csv`]), RFC 4180 quoting. The tidy
//! `results.csv` (one row per repetition and metric) is made as records
//! stream in, by [`crate::tidy`].

use crate::analysis::Analysis;
use crate::tidy::field;

pub const HEADER: [&str; 22] = [
    "env_id",
    "env",
    "workload",
    "metric",
    "unit",
    "direction",
    "n",
    "invalid",
    "median",
    "geomean",
    "ci95_lo",
    "ci95_hi",
    "min",
    "max",
    "mean",
    "cv",
    "speed_vs_native",
    "speed_ci95_lo",
    "speed_ci95_hi",
    "overhead_pct",
    "accel",
    "samples",
];

fn opt(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// `summary.csv`: one row per figure with its statistics.
pub fn to_csv(a: &Analysis) -> String {
    let mut out = HEADER.join(",");
    out.push('\n');
    for f in &a.figures {
        let s = &f.summary;
        let r = f.vs_native;
        let samples: Vec<String> = f.samples.iter().map(|x| x.to_string()).collect();
        let row = [
            f.env_id.clone(),
            f.env.clone(),
            f.workload.clone(),
            f.metric.clone(),
            f.unit.clone(),
            f.direction.label().to_string(),
            s.n.to_string(),
            f.invalid.to_string(),
            s.median.to_string(),
            // The interval belongs to the geometric mean (empty for n = 1).
            s.centre.to_string(),
            opt(s.ci.map(|c| c.lo)),
            opt(s.ci.map(|c| c.hi)),
            s.min.to_string(),
            s.max.to_string(),
            s.mean.to_string(),
            opt(s.cv),
            opt(r.map(|r| r.speed.point)),
            opt(r.map(|r| r.speed.lo)),
            opt(r.map(|r| r.speed.hi)),
            opt(r.map(|r| r.overhead_pct.point)),
            f.accel.clone().unwrap_or_default(),
            samples.join(" "),
        ];
        let row: Vec<String> = row.iter().map(|x| field(x)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyse, StatsOptions};
    use crate::testdata;

    #[test]
    fn one_row_per_figure_with_every_column() {
        let a = analyse(
            &testdata::fixture_run(3, 1.0).records,
            StatsOptions { resamples: 100 },
        );
        let csv = to_csv(&a);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), a.figures.len() + 1);
        assert!(lines.iter().all(|l| l.split(',').count() == HEADER.len()));
        let triad = lines
            .iter()
            .find(|l| l.starts_with("vm-tcg,vm,membw,triad_mbs,MB/s,higher is better,3,0,"))
            .unwrap();
        assert!(triad.contains(",tcg,"));
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
