//! The tidy `results.csv`: one row per repetition and metric of every
//! record, experiments included ([`TIDY_HEADER`], [`TidyCsv`]), built as
//! records stream in (a digest keeps its text), and RFC 4180 quoting
//! ([`field`]) for every CSV the reports write.

use crate::schema::ResultRecord;

/// Columns of the tidy `results.csv`.
pub const TIDY_HEADER: [&str; 14] = [
    "run_id",
    "host",
    "environment",
    "env_class",
    "accel",
    "workload",
    "parameters",
    "rep",
    "metric",
    "unit",
    "direction",
    "value",
    "valid",
    "error",
];

/// `key=value;key=value` of a record's parameters, keys in order.
fn params_field(r: &ResultRecord) -> String {
    r.params
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            v => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The tidy `results.csv`, built one record at a time (the records are not
/// held; the text is). Aliases (a metric that repeats another) are left
/// out; a record with no metric (a failed run) keeps one row with an empty
/// metric, so that failures are visible too.
#[derive(Debug, Clone, Default)]
pub struct TidyCsv {
    /// Each row's sort key, run id and the columns after the host (the host
    /// is known only when the run's header has been read:
    /// [`TidyCsv::finish`]).
    rows: Vec<(RowKey, String, String)>,
}

/// Rows sort by run, environment, workload, repetition and metric, so that
/// the text does not depend on the order records were read in (a run
/// directory and the history store give the same file).
type RowKey = (String, String, String, u32, String);

impl TidyCsv {
    pub fn push(&mut self, r: &ResultRecord) {
        let fixed = [
            r.env_id.as_str(),
            r.env.as_str(),
            r.env_detail.get("accel").map_or("", String::as_str),
            r.workload.as_str(),
        ];
        let mut prefix: Vec<String> = fixed.iter().map(|x| field(x)).collect();
        prefix.push(field(&params_field(r)));
        prefix.push(r.rep.to_string());
        let prefix = prefix.join(",");
        let valid = if r.valid { "true" } else { "false" };
        let error = field(r.error.as_deref().unwrap_or(""));
        let run_id = field(&r.run_id);
        let mut any = false;
        for (m, v) in &r.metrics {
            if r.alias_of(m).is_some() {
                continue;
            }
            any = true;
            let unit = r.units.get(m).map_or("", String::as_str);
            let rest = format!(
                "{prefix},{},{},{},{v},{valid},{error}",
                field(m),
                field(unit),
                r.direction(m).name(),
            );
            let key = (
                r.run_id.clone(),
                r.env_id.clone(),
                r.workload.clone(),
                r.rep,
                m.clone(),
            );
            self.rows.push((key, run_id.clone(), rest));
        }
        if !any {
            let key = (
                r.run_id.clone(),
                r.env_id.clone(),
                r.workload.clone(),
                r.rep,
                String::new(),
            );
            self.rows
                .push((key, run_id, format!("{prefix},,,,,{valid},{error}")));
        }
    }

    /// The CSV text, header first, every row naming `host`.
    pub fn finish(mut self, host: &str) -> String {
        use crate::metric::{env_order, metric_order, workload_order};
        self.rows.sort_by(|(a, ..), (b, ..)| {
            a.0.cmp(&b.0)
                .then(env_order(&a.1, &b.1))
                .then(workload_order(&a.2, &b.2))
                .then(a.3.cmp(&b.3))
                .then(metric_order(&a.4, &b.4))
        });
        let host = field(host);
        let mut out = TIDY_HEADER.join(",");
        out.push('\n');
        for (_, run_id, rest) in &self.rows {
            out.push_str(&format!("{run_id},{host},{rest}\n"));
        }
        out
    }
}

/// One CSV field, quoted (RFC 4180) when it holds a comma, a quote or a
/// line break.
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;

    /// The tidy CSV of records held in memory.
    fn to_tidy_csv<'a>(host: &str, records: impl IntoIterator<Item = &'a ResultRecord>) -> String {
        let mut t = TidyCsv::default();
        for r in records {
            t.push(r);
        }
        t.finish(host)
    }

    #[test]
    fn tidy_rows_are_one_per_repetition_and_metric_aliases_once() {
        let mut run = testdata::fixture_run(3, 1.0);
        testdata::with_two_thread_cpu(&mut run);
        let mut recs = run.records.clone();
        recs.extend(testdata::density_records(
            "container-isorun",
            "",
            4,
            2.0,
            1.5,
        ));
        let csv = to_tidy_csv("host-a", &recs);
        // The fixture has no field that needs quoting: a plain split reads it.
        assert!(!csv.contains('"'));
        let mut lines = csv.lines().map(|l| l.split(',').collect::<Vec<&str>>());
        assert_eq!(lines.next().unwrap(), TIDY_HEADER);
        let rows: Vec<Vec<&str>> = lines.collect();
        assert!(rows.iter().all(|r| r.len() == TIDY_HEADER.len()));
        let expected: usize = recs
            .iter()
            .map(|r| {
                r.metrics
                    .keys()
                    .filter(|m| r.alias_of(m).is_none())
                    .count()
                    .max(1)
            })
            .sum();
        assert_eq!(rows.len(), expected);
        assert!(rows.iter().all(|r| r[1] == "host-a"));
        assert!(
            !rows.iter().any(|r| r[8].ends_with("_2t")),
            "aliases left out"
        );
        let triad = rows
            .iter()
            .find(|r| r[2] == "native" && r[8] == "triad_mbs" && r[7] == "2")
            .unwrap();
        assert_eq!((triad[9], triad[10]), ("MB/s", "higher"));
        assert!(triad[11].parse::<f64>().unwrap() > 0.0);
        // The density experiment's records are exported too.
        assert!(rows
            .iter()
            .any(|r| r[5] == "density" && r[8] == "instance_pss_mib"));
    }
}
