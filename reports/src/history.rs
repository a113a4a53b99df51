//! The history store: every run recorded in an embedded SQLite database
//! (rusqlite, bundled SQLite; no server), so a metric can be followed over
//! time per environment (shared/DESIGN.md, "Results").
//!
//! Tables: `runs` (run id, host fingerprint, host name, isobench version and
//! commit, start time, run directory) and `results` (one row per metric value
//! of a result: environment class, id and detail, workload, parameters,
//! repetition, validity, metric, value, unit). Recording a run is idempotent
//! per run id: its rows are replaced.

use crate::load::{load_run, LoadError, Run};
use crate::plot::draw::{self, LabelledValue, SeriesPlot};
use crate::plot::{Image, PlotError};
use crate::schema::HostInfo;
use crate::stats;
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot open history database {path}: {source} (pass another --db FILE)")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create directory {path} for the history database: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("history database {path}: {source}")]
    Sql {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Where the history lives unless `--db` says otherwise:
/// `$XDG_DATA_HOME/isobench/history.sqlite`, else
/// `~/.local/share/isobench/history.sqlite`, else `./isobench-history.sqlite`.
pub fn default_db_path() -> PathBuf {
    db_path_from(
        std::env::var_os("XDG_DATA_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

/// [`default_db_path`] from explicit values (testable).
pub fn db_path_from(xdg_data_home: Option<PathBuf>, home: Option<PathBuf>) -> PathBuf {
    let base = match (xdg_data_home, home) {
        (Some(x), _) if x.is_absolute() => x,
        (_, Some(h)) if !h.as_os_str().is_empty() => h.join(".local/share"),
        _ => return PathBuf::from("isobench-history.sqlite"),
    };
    base.join("isobench").join("history.sqlite")
}

/// Fingerprint of a host: FNV-1a of hostname, CPU model, logical cores and
/// memory, in hex. Runs with equal fingerprints are comparable.
pub fn host_fingerprint(h: &HostInfo) -> String {
    format!(
        "{:016x}",
        stats::seed_for(&format!(
            "{}\n{}\n{}\n{}",
            h.hostname, h.cpu_model, h.cores_logical, h.memory_bytes
        ))
    )
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    host_fingerprint TEXT NOT NULL,
    hostname TEXT NOT NULL,
    isobench_version TEXT NOT NULL,
    git_commit TEXT,
    started_at TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    recorded_at_unix INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    env TEXT NOT NULL,
    env_id TEXT NOT NULL,
    env_detail TEXT NOT NULL,
    workload TEXT NOT NULL,
    params TEXT NOT NULL,
    rep INTEGER NOT NULL,
    valid INTEGER NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    unit TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_series ON results(workload, metric, env_id);
";

/// An open history database.
pub struct History {
    conn: Connection,
    path: PathBuf,
}

impl History {
    /// Open (creating the file, its directory and the tables if needed).
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| HistoryError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| HistoryError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let h = History {
            conn,
            path: path.to_path_buf(),
        };
        h.conn
            .execute_batch(SCHEMA)
            .map_err(|source| HistoryError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(h)
    }

    fn sql(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// Record a loaded run, replacing an earlier recording of the same run id.
    /// Returns the number of metric values stored.
    pub fn record(&mut self, run: &Run) -> Result<usize, HistoryError> {
        let path = self.path.clone();
        let sql = |source| HistoryError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let info = &run.info;
        tx.execute("DELETE FROM results WHERE run_id = ?1", [&info.run_id])
            .map_err(sql)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        tx.execute(
            "INSERT OR REPLACE INTO runs VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                info.run_id,
                host_fingerprint(&info.host),
                info.host.hostname,
                info.tool.isobench_version,
                info.tool.git_commit,
                info.started_at,
                run.dir.display().to_string(),
                now
            ],
        )
        .map_err(sql)?;
        let mut n = 0;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT INTO results VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(sql)?;
            for r in &run.records {
                let detail = serde_json::to_string(&r.env_detail).unwrap_or_default();
                let p = serde_json::to_string(&r.params).unwrap_or_default();
                for (metric, value) in &r.metrics {
                    if !value.is_finite() {
                        continue;
                    }
                    stmt.execute(params![
                        info.run_id,
                        r.env,
                        r.env_id,
                        detail,
                        r.workload,
                        p,
                        r.rep,
                        r.valid,
                        metric,
                        value,
                        r.units.get(metric).cloned().unwrap_or_default()
                    ])
                    .map_err(sql)?;
                    n += 1;
                }
            }
        }
        tx.commit().map_err(sql)?;
        Ok(n)
    }

    /// Number of recorded runs.
    pub fn run_count(&self) -> Result<usize, HistoryError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM runs", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(|e| self.sql(e))
    }

    /// The series of a workload's metric, optionally for one environment:
    /// one point per (run, environment), oldest run first, valid values only.
    pub fn series(
        &self,
        workload: &str,
        metric: &str,
        env_id: Option<&str>,
    ) -> Result<Vec<SeriesPoint>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.run_id, r.started_at, r.host_fingerprint, r.isobench_version, r.git_commit,
                        x.env_id, x.env_detail, x.value, x.unit
                 FROM results x JOIN runs r ON r.run_id = x.run_id
                 WHERE x.workload = ?1 AND x.metric = ?2 AND x.valid = 1
                       AND (?3 IS NULL OR x.env_id = ?3)
                 ORDER BY r.started_at, r.run_id, x.env_id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![workload, metric, env_id], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, f64>(7)?,
                    row.get::<_, String>(8)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out: Vec<SeriesPoint> = Vec::new();
        let mut values: Vec<Vec<f64>> = Vec::new();
        for row in rows {
            let (run_id, started_at, fp, version, commit, env, detail, value, unit) =
                row.map_err(|e| self.sql(e))?;
            match out.last() {
                Some(p) if p.run_id == run_id && p.env_id == env => {
                    values.last_mut().expect("parallel to out").push(value)
                }
                _ => {
                    out.push(SeriesPoint {
                        run_id,
                        started_at,
                        host_fingerprint: fp,
                        isobench_version: version,
                        git_commit: commit,
                        env_id: env,
                        env_detail: detail,
                        unit,
                        n: 0,
                        median: 0.0,
                        lo: 0.0,
                        hi: 0.0,
                    });
                    values.push(vec![value]);
                }
            }
        }
        for (p, xs) in out.iter_mut().zip(&values) {
            let seed = stats::seed_for(&format!("{}/{}", p.run_id, p.env_id));
            if let Some(e) = stats::bootstrap_median_ci(xs, 1000, seed) {
                (p.median, p.lo, p.hi, p.n) = (e.point, e.lo, e.hi, xs.len());
            }
        }
        Ok(out)
    }

    /// (workload, metric) pairs recorded, for listing.
    pub fn metrics(&self) -> Result<Vec<(String, String)>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT workload, metric FROM results ORDER BY workload, metric")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }
}

/// One run's figure in a series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoint {
    pub run_id: String,
    pub started_at: String,
    pub host_fingerprint: String,
    pub isobench_version: String,
    pub git_commit: Option<String>,
    pub env_id: String,
    /// JSON of the environment detail.
    pub env_detail: String,
    pub unit: String,
    pub n: usize,
    pub median: f64,
    pub lo: f64,
    pub hi: f64,
}

/// Record the run in `run_dir` into the database at `db` (created if needed).
/// Idempotent per run id. Returns the number of metric values stored.
pub fn record_run_dir(db: &Path, run_dir: &Path) -> Result<usize, HistoryError> {
    let run = load_run(run_dir)?;
    History::open(db)?.record(&run)
}

/// Plot one environment's series (points must be of one environment).
pub fn plot_series(
    workload: &str,
    metric: &str,
    points: &[SeriesPoint],
) -> Result<Image, PlotError> {
    let env = points.first().map(|p| p.env_id.clone()).unwrap_or_default();
    let unit = points.first().map(|p| p.unit.clone()).unwrap_or_default();
    let values: Vec<LabelledValue> = points
        .iter()
        .map(|p| LabelledValue {
            // 2026-11-27T18:15:00Z → 11-27 18:15
            label: p
                .started_at
                .get(5..16)
                .map(|s| s.replace('T', " "))
                .unwrap_or_else(|| p.run_id.clone()),
            value: p.median,
            lo: p.lo,
            hi: p.hi,
        })
        .collect();
    let hosts: std::collections::BTreeSet<&str> =
        points.iter().map(|p| p.host_fingerprint.as_str()).collect();
    draw::render(&SeriesPlot {
        file: format!("history-{workload}-{metric}-{env}.svg"),
        title: format!("{workload} {metric} in {env}: median per run"),
        subtitle: format!(
            "{} runs, {} host fingerprint(s); bars are 95% intervals",
            points.len(),
            hosts.len()
        ),
        y_desc: format!("{metric} ({unit})"),
        points: &values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;

    #[test]
    fn default_path_follows_xdg() {
        assert_eq!(
            db_path_from(Some("/x/data".into()), Some("/home/u".into())),
            PathBuf::from("/x/data/isobench/history.sqlite")
        );
        assert_eq!(
            db_path_from(None, Some("/home/u".into())),
            PathBuf::from("/home/u/.local/share/isobench/history.sqlite")
        );
        // A relative XDG_DATA_HOME is invalid per the spec and ignored.
        assert_eq!(
            db_path_from(Some("rel".into()), Some("/h".into())),
            PathBuf::from("/h/.local/share/isobench/history.sqlite")
        );
        assert_eq!(
            db_path_from(None, None),
            PathBuf::from("isobench-history.sqlite")
        );
    }

    #[test]
    fn recording_is_idempotent_and_series_are_ordered() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("sub/history.sqlite");
        let dir1 = tmp.path().join("run1");
        let mut run1 = testdata::fixture_run(3, 1.0);
        testdata::write_run_dir(&dir1, &run1);
        let n = record_run_dir(&db, &dir1).unwrap();
        // 4 envs × (2 + 4 + 1 + 6 + 2) metrics × 3 reps.
        assert_eq!(n, 4 * 15 * 3);
        assert_eq!(record_run_dir(&db, &dir1).unwrap(), n);
        let h = History::open(&db).unwrap();
        assert_eq!(h.run_count().unwrap(), 1);

        // A second, later run with a slower triad.
        let dir2 = tmp.path().join("run2");
        run1 = testdata::fixture_run(3, 0.8);
        run1.info.run_id = "later".into();
        run1.info.started_at = "2026-11-28T09:00:00Z".into();
        for r in run1.records.iter_mut() {
            r.run_id = "later".into();
        }
        testdata::write_run_dir(&dir2, &run1);
        record_run_dir(&db, &dir2).unwrap();
        let h = History::open(&db).unwrap();
        assert_eq!(h.run_count().unwrap(), 2);
        let s = h.series("membw", "triad_mbs", Some("native")).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].run_id, "later");
        assert!((s[1].median / s[0].median - 0.8).abs() < 1e-9);
        assert_eq!(s[0].n, 3);
        assert_eq!(s[0].unit, "MB/s");
        let all = h.series("membw", "triad_mbs", None).unwrap();
        assert_eq!(all.len(), 8);
        assert!(h
            .metrics()
            .unwrap()
            .contains(&("randacc".into(), "gups".into())));
        let img = plot_series("membw", "triad_mbs", &s).unwrap();
        assert!(img.svg.contains("triad_mbs"));
    }

    #[test]
    fn an_unopenable_database_names_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let e = History::open(&file.join("h.sqlite")).err().unwrap();
        assert!(e.to_string().contains(&file.display().to_string()), "{e}");
    }
}
