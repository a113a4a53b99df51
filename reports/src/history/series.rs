//! Grouping the value rows of the store into series points
//! ([`super::History::all_series`]).
//!
//! The store returns one row per metric value, unordered. Each row is read
//! borrowed from the database's buffer; only the first row of a point (one
//! run × workload × metric × parameters × environment) allocates that
//! point's text, the others add a value. The points are then sorted by
//! series and run start here: sorting tens of thousands of points in memory
//! costs less than having the database sort every value row by seven text
//! columns (a page of 1,000 runs has 180,000 of them).

use super::SeriesPoint;
use crate::stats;
use std::collections::HashMap;

/// One value row of the series query, borrowed from the database row.
pub(super) struct Row<'r> {
    run_id: &'r str,
    started_at: &'r str,
    fingerprint: &'r str,
    version: &'r str,
    commit: Option<&'r str>,
    env_id: &'r str,
    env_detail: &'r str,
    value: f64,
    unit: &'r str,
    workload: &'r str,
    metric: &'r str,
    params: &'r str,
    run_dir: &'r str,
}

impl<'r> Row<'r> {
    /// The columns of a SQLite row of the series query, in its order.
    pub(super) fn sqlite(row: &'r rusqlite::Row<'_>) -> rusqlite::Result<Row<'r>> {
        let text = |i: usize| -> rusqlite::Result<&'r str> { Ok(row.get_ref(i)?.as_str()?) };
        Ok(Row {
            run_id: text(0)?,
            started_at: text(1)?,
            fingerprint: text(2)?,
            version: text(3)?,
            commit: row.get_ref(4)?.as_str_or_null()?,
            env_id: text(5)?,
            env_detail: text(6)?,
            value: row.get(7)?,
            unit: text(8)?,
            workload: text(9)?,
            metric: text(10)?,
            params: text(11)?,
            run_dir: text(12)?,
        })
    }

    /// The columns of a PostgreSQL row of the series query, in its order.
    pub(super) fn pg(row: &'r postgres::Row) -> Result<Row<'r>, postgres::Error> {
        Ok(Row {
            run_id: row.try_get(0)?,
            started_at: row.try_get(1)?,
            fingerprint: row.try_get(2)?,
            version: row.try_get(3)?,
            commit: row.try_get(4)?,
            env_id: row.try_get(5)?,
            env_detail: row.try_get(6)?,
            value: row.try_get(7)?,
            unit: row.try_get(8)?,
            workload: row.try_get(9)?,
            metric: row.try_get(10)?,
            params: row.try_get(11)?,
            run_dir: row.try_get(12)?,
        })
    }
}

/// Points being gathered from value rows.
#[derive(Default)]
pub(super) struct Points {
    points: Vec<SeriesPoint>,
    values: Vec<Vec<f64>>,
    /// Point key (see [`Points::add`]) → index in `points`.
    index: HashMap<String, usize>,
    key: String,
}

impl Points {
    /// Add a value row to its point (made on its first row).
    pub(super) fn add(&mut self, r: &Row<'_>) {
        // The key: run, workload, metric, parameters and environment, each
        // prefixed with its length, so no two keys run together.
        self.key.clear();
        for part in [r.run_id, r.workload, r.metric, r.params, r.env_id] {
            self.key.push_str(&part.len().to_string());
            self.key.push(':');
            self.key.push_str(part);
        }
        if let Some(&i) = self.index.get(self.key.as_str()) {
            self.values[i].push(r.value);
            return;
        }
        self.index.insert(self.key.clone(), self.points.len());
        self.points.push(SeriesPoint {
            run_id: r.run_id.to_string(),
            started_at: r.started_at.to_string(),
            host_fingerprint: r.fingerprint.to_string(),
            isobench_version: r.version.to_string(),
            git_commit: r.commit.map(str::to_string),
            run_dir: r.run_dir.to_string(),
            workload: r.workload.to_string(),
            metric: r.metric.to_string(),
            params: r.params.to_string(),
            env_id: r.env_id.to_string(),
            env_detail: r.env_detail.to_string(),
            unit: r.unit.to_string(),
            n: 0,
            centre: f64::NAN,
            centre_kind: stats::CentreKind::GeometricMean,
            ci: None,
        });
        self.values.push(vec![r.value]);
    }

    /// The points with their figures, ordered by workload, metric,
    /// parameters, environment and host fingerprint (byte order), then by
    /// run start and id.
    pub(super) fn finish(self) -> Vec<SeriesPoint> {
        let Points {
            mut points, values, ..
        } = self;
        for (p, mut xs) in points.iter_mut().zip(values) {
            // The store's row order is not defined; sorted, the sums are
            // the same whatever order it gave.
            xs.sort_by(f64::total_cmp);
            p.n = xs.len();
            if let Some(s) = stats::summarize(&xs) {
                (p.centre, p.centre_kind) = (s.centre, s.centre_kind);
                p.ci = s.ci.map(|c| (c.lo, c.hi));
            }
        }
        points.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
        points
    }
}

/// The order of points: series (workload, metric, parameters, environment,
/// host), then run start and id.
fn order_key(p: &SeriesPoint) -> (&str, &str, &str, &str, &str, &str, &str) {
    (
        &p.workload,
        &p.metric,
        &p.params,
        &p.env_id,
        &p.host_fingerprint,
        &p.started_at,
        &p.run_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(run: &'a str, started: &'a str, env: &'a str, metric: &'a str, v: f64) -> Row<'a> {
        Row {
            run_id: run,
            started_at: started,
            fingerprint: "fp",
            version: "0.1.0",
            commit: None,
            env_id: env,
            env_detail: "{}",
            value: v,
            unit: "MB/s",
            workload: "membw",
            metric,
            params: "{}",
            run_dir: "/r",
        }
    }

    #[test]
    fn rows_in_any_order_give_the_same_sorted_points() {
        let rows = [
            row("b", "2026-01-02", "native", "triad_mbs", 8.0),
            row("a", "2026-01-01", "native", "triad_mbs", 4.0),
            row("b", "2026-01-02", "native", "triad_mbs", 2.0),
            row("a", "2026-01-01", "vm-tcg", "triad_mbs", 1.0),
            row("a", "2026-01-01", "native", "copy_mbs", 3.0),
            row("a", "2026-01-01", "native", "triad_mbs", 4.0),
        ];
        let gather = |order: &[usize]| {
            let mut p = Points::default();
            for &i in order {
                p.add(&rows[i]);
            }
            p.finish()
        };
        let ps = gather(&[0, 1, 2, 3, 4, 5]);
        assert_eq!(ps, gather(&[5, 4, 3, 2, 1, 0]));
        let seen: Vec<(&str, &str, &str, usize)> = ps
            .iter()
            .map(|p| (p.metric.as_str(), p.env_id.as_str(), p.run_id.as_str(), p.n))
            .collect();
        assert_eq!(
            seen,
            [
                ("copy_mbs", "native", "a", 1),
                ("triad_mbs", "native", "a", 2),
                ("triad_mbs", "native", "b", 2),
                ("triad_mbs", "vm-tcg", "a", 1),
            ]
        );
        // Run b's values 8 and 2: geometric mean 4.
        assert!((ps[2].centre - 4.0).abs() < 1e-12, "{}", ps[2].centre);
        assert_eq!(ps[2].centre_kind, stats::CentreKind::GeometricMean);
    }

    #[test]
    fn keys_do_not_run_together() {
        // Run "ab" of workload "w" and run "a" of workload "bw": their plain
        // concatenations are equal, their points are not.
        let mut p = Points::default();
        let mut r1 = row("ab", "t", "native", "m", 1.0);
        r1.workload = "w";
        let mut r2 = row("a", "t", "native", "m", 2.0);
        r2.workload = "bw";
        p.add(&r1);
        p.add(&r2);
        let ps = p.finish();
        assert_eq!(ps.len(), 2);
        assert!(ps.iter().all(|p| p.n == 1));
    }
}
