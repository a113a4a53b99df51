//! The campaign report: one row per target (its latest job, state, run id
//! and the repetitions the store holds), then the hosts side by side, per
//! (environment, workload, metric): each run's geometric mean over its valid
//! repetitions, with their range and number. Pure: rows in, Markdown out.

use isobench_reports::schema::ResultRecord;
use std::collections::BTreeMap;

pub struct Header {
    pub id: String,
    pub created_at: String,
    /// The `isobench run` flags of the plan.
    pub plan: String,
    /// The store, without a password.
    pub store: String,
    /// Where the job states came from.
    pub via: String,
}

pub struct Row {
    pub target: String,
    pub job: Option<String>,
    pub node: Option<String>,
    /// State and detail, e.g. `done (COMPLETED, exit 0)`.
    pub state: String,
    pub run_id: Option<String>,
    /// The run's repetitions as the store holds them.
    pub records: Vec<ResultRecord>,
}

impl Row {
    fn column(&self) -> String {
        format!("{} ({})", self.target, self.node.as_deref().unwrap_or("?"))
    }
}

pub fn markdown(h: &Header, rows: &[Row]) -> String {
    let mut md = format!(
        "# Campaign {}\n\nSubmitted {}; plan `isobench run {}`; store {}; job states from {}.\n\n",
        h.id, h.created_at, h.plan, h.store, h.via
    );
    md.push_str("| target | job | node | state | run id | repetitions in store |\n|---|---|---|---|---|---|\n");
    // (env_id, workload, metric) -> column -> valid values; units per metric.
    let mut table: BTreeMap<(String, String, String), BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    let mut units: BTreeMap<String, String> = BTreeMap::new();
    for row in rows {
        for r in row.records.iter().filter(|r| r.valid) {
            for (m, v) in &r.metrics {
                table
                    .entry((r.env_id.clone(), r.workload.clone(), m.clone()))
                    .or_default()
                    .entry(row.column())
                    .or_default()
                    .push(*v);
                if let Some(u) = r.units.get(m) {
                    units.insert(m.clone(), u.clone());
                }
            }
        }
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            row.target,
            row.job.as_deref().unwrap_or("-"),
            row.node.as_deref().unwrap_or("-"),
            row.state,
            row.run_id.as_deref().unwrap_or("-"),
            row.records.len()
        ));
    }
    let with_results = rows.iter().filter(|r| !r.records.is_empty()).count();
    md.push_str(&format!(
        "\n{with_results} of {} target(s) have results in the store.\n",
        rows.len()
    ));
    if table.is_empty() {
        return md;
    }
    let columns: Vec<String> = rows.iter().map(Row::column).collect();
    md.push_str("\n## Hosts side by side\n\nPer run: the geometric mean of its valid repetitions (their range and number in brackets); no interval here: for 95% intervals and plots, `isobench report` a run directory. Runs on different hosts differ by host as well as by anything else.\n\n");
    md.push_str(&format!(
        "| environment | workload | metric | {} |\n|---|---|---|{}\n",
        columns.join(" | "),
        "---|".repeat(columns.len())
    ));
    for ((env, w, m), by) in &table {
        let cells: Vec<String> = columns
            .iter()
            .map(|col| cell(by.get(col).map(Vec::as_slice).unwrap_or(&[])))
            .collect();
        let unit = units.get(m).map(|u| format!(" ({u})")).unwrap_or_default();
        md.push_str(&format!(
            "| {env} | {w} | {m}{unit} | {} |\n",
            cells.join(" | ")
        ));
    }
    md
}

/// `geomean (min–max, n=N)` of one run's values.
fn cell(v: &[f64]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    if !v.iter().all(|x| *x > 0.0) {
        return format!("n={}, not all positive", v.len());
    }
    let g = (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{} ({}–{}, n={})",
        fmt_value(g),
        fmt_value(lo),
        fmt_value(hi),
        v.len()
    )
}

fn fmt_value(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isobench_reports::testdata;

    #[test]
    fn hosts_side_by_side_with_a_missing_run() {
        let run = testdata::fixture_run(3, 1.0);
        let rows = vec![
            Row {
                target: "a".into(),
                job: Some("5_0".into()),
                node: Some("n1".into()),
                state: "done (COMPLETED, exit 0)".into(),
                run_id: Some(run.info.run_id.clone()),
                records: run.records.clone(),
            },
            Row {
                target: "b".into(),
                job: Some("5_1".into()),
                node: None,
                state: "cancelled (CANCELLED)".into(),
                run_id: None,
                records: vec![],
            },
        ];
        let h = Header {
            id: "c1".into(),
            created_at: "t".into(),
            plan: "--env native".into(),
            store: "postgres://u@h/db".into(),
            via: "squeue".into(),
        };
        let md = markdown(&h, &rows);
        assert!(md.contains("1 of 2 target(s) have results"), "{md}");
        assert!(md.contains("| a (n1) | b (?) |"), "{md}");
        assert!(md.contains("n=3) | - |"), "{md}");
        assert_eq!(cell(&[2.0, 8.0]), "4.00 (2.00–8.00, n=2)");
        assert_eq!(cell(&[]), "-");
    }
}
