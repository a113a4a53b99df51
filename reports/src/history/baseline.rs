//! Named baselines, as criterion keeps them (`--save-baseline NAME`, then
//! `--baseline NAME`): a name for a list of stored runs of one host and one
//! plan, kept in the history store (SQLite or PostgreSQL, since schema version 3)
//! so that CI can keep one in a shared store and gate every change against
//! it (`isobench compare NEW --baseline NAME`).
//!
//! A baseline records the host and the plan (run.json's `config`) its runs
//! were measured with, so a new run of another host or plan is refused
//! before anything is read. It only names runs: they stay in `runs`, and
//! saving a name again replaces its list. Writes serialise (SQLite: an
//! immediate transaction; PostgreSQL: an advisory lock), reads see one
//! snapshot.

use super::{pg_err, Backend, History, HistoryError};
use crate::schema::HostInfo;

/// Longest baseline name.
pub const MAX_NAME: usize = 64;

/// Key of the PostgreSQL advisory lock held while a baseline is written.
const PG_BASELINE_LOCK: i64 = 0x1505_BE4C_0000_0003;

/// One named baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub name: String,
    /// Host facts of its runs (they are of one host).
    pub host: HostInfo,
    /// The plan its runs executed: run.json's `config`.
    pub plan: serde_json::Value,
    /// When it was saved, RFC 3339 UTC.
    pub saved_at: String,
    /// Its runs, in the order saved (oldest first for `--last`).
    pub run_ids: Vec<String>,
}

impl Baseline {
    /// The host fingerprint of its runs (see [`super::host_fingerprint`]).
    pub fn host_fingerprint(&self) -> String {
        super::host_fingerprint(&self.host)
    }

    /// The plan's preset, when it names one.
    pub fn preset(&self) -> Option<&str> {
        self.plan.get("preset").and_then(|p| p.as_str())
    }
}

/// Whether `name` can name a baseline: 1 to `MAX_NAME` characters of
/// letters, digits, `.`, `_` and `-`, not starting with `-` or `.` (it is
/// typed on command lines and in CI files). The error says why not.
pub fn valid_baseline_name(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() {
        return Err("a baseline name cannot be empty".to_string());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!(
            "baseline name '{name}' is longer than {MAX_NAME} characters"
        ));
    }
    if let Some(c) = name.chars().find(|c| !ok_char(*c)) {
        return Err(format!(
            "baseline name '{name}' holds '{c}': use letters, digits, '.', '_' and '-'"
        ));
    }
    if name.starts_with(['-', '.']) {
        return Err(format!(
            "baseline name '{name}' must start with a letter, a digit or '_'"
        ));
    }
    Ok(())
}

const RUN_EXISTS_SQL: &str = "SELECT COUNT(*) FROM runs WHERE run_id = ?1";
const EXISTS_SQL: &str = "SELECT COUNT(*) FROM baselines WHERE name = ?1";
const DELETE_RUNS_SQL: &str = "DELETE FROM baseline_runs WHERE name = ?1";
const DELETE_SQL: &str = "DELETE FROM baselines WHERE name = ?1";
const INSERT_SQL: &str =
    "INSERT INTO baselines (name, host_fingerprint, hostname, host_json, plan_json, saved_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const INSERT_RUN_SQL: &str =
    "INSERT INTO baseline_runs (name, position, run_id) VALUES (?1, ?2, ?3)";
/// Every baseline, or the one named by ?1 (NULL: all).
const HEADS_SQL: &str = "SELECT name, host_json, plan_json, saved_at FROM baselines
     WHERE (CAST(?1 AS TEXT) IS NULL OR name = CAST(?1 AS TEXT)) ORDER BY name";
const MEMBERS_SQL: &str = "SELECT name, run_id FROM baseline_runs
     WHERE (CAST(?1 AS TEXT) IS NULL OR name = CAST(?1 AS TEXT)) ORDER BY name, position";

type Head = (String, String, String, String);

impl History {
    /// Save `b`, replacing a baseline of the same name (returns whether one
    /// was replaced). Every run it names must be in the store; otherwise
    /// nothing is changed.
    pub fn save_baseline(&mut self, b: &Baseline) -> Result<bool, HistoryError> {
        let location = self.location.clone();
        let missing = |id: &str| HistoryError::NoRun {
            store: location.clone(),
            id: id.to_string(),
            hint: " (a baseline names runs of the store: push them first)".to_string(),
        };
        let host_json = serde_json::to_string(&b.host).unwrap_or_default();
        let plan_json = b.plan.to_string();
        let fingerprint = b.host_fingerprint();
        match &mut self.backend {
            Backend::Sqlite(c) => {
                let path = self.path.clone();
                let sql = |source| HistoryError::Sql {
                    path: path.clone(),
                    source,
                };
                let tx = c
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(sql)?;
                for id in &b.run_ids {
                    let n: i64 = tx
                        .query_row(RUN_EXISTS_SQL, [id], |r| r.get(0))
                        .map_err(sql)?;
                    if n == 0 {
                        return Err(missing(id));
                    }
                }
                let had: i64 = tx
                    .query_row(EXISTS_SQL, [&b.name], |r| r.get(0))
                    .map_err(sql)?;
                tx.execute(DELETE_RUNS_SQL, [&b.name]).map_err(sql)?;
                tx.execute(DELETE_SQL, [&b.name]).map_err(sql)?;
                tx.execute(
                    INSERT_SQL,
                    rusqlite::params![
                        b.name,
                        fingerprint,
                        b.host.hostname,
                        host_json,
                        plan_json,
                        b.saved_at
                    ],
                )
                .map_err(sql)?;
                for (i, id) in b.run_ids.iter().enumerate() {
                    tx.execute(INSERT_RUN_SQL, rusqlite::params![b.name, i as i64, id])
                        .map_err(sql)?;
                }
                tx.commit().map_err(sql)?;
                Ok(had > 0)
            }
            Backend::Pg(c) => {
                let pg = |e| pg_err(&location, e);
                let mut tx = c.transaction().map_err(pg)?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_BASELINE_LOCK])
                    .map_err(pg)?;
                for id in &b.run_ids {
                    let n: i64 = tx
                        .query_one(&super::pg_sql(RUN_EXISTS_SQL), &[id])
                        .and_then(|r| r.try_get(0))
                        .map_err(pg)?;
                    if n == 0 {
                        return Err(missing(id));
                    }
                }
                let had: i64 = tx
                    .query_one(&super::pg_sql(EXISTS_SQL), &[&b.name])
                    .and_then(|r| r.try_get(0))
                    .map_err(pg)?;
                tx.execute(&super::pg_sql(DELETE_RUNS_SQL), &[&b.name])
                    .map_err(pg)?;
                tx.execute(&super::pg_sql(DELETE_SQL), &[&b.name])
                    .map_err(pg)?;
                tx.execute(
                    &super::pg_sql(INSERT_SQL),
                    &[
                        &b.name,
                        &fingerprint,
                        &b.host.hostname,
                        &host_json,
                        &plan_json,
                        &b.saved_at,
                    ],
                )
                .map_err(pg)?;
                for (i, id) in b.run_ids.iter().enumerate() {
                    tx.execute(&super::pg_sql(INSERT_RUN_SQL), &[&b.name, &(i as i64), id])
                        .map_err(pg)?;
                }
                tx.commit().map_err(pg)?;
                Ok(had > 0)
            }
        }
    }

    /// Every baseline of the store, by name.
    pub fn baselines(&mut self) -> Result<Vec<Baseline>, HistoryError> {
        self.fetch_baselines(None)
    }

    /// The baseline `name`, if the store holds one.
    pub fn baseline(&mut self, name: &str) -> Result<Option<Baseline>, HistoryError> {
        Ok(self.fetch_baselines(Some(name))?.into_iter().next())
    }

    /// Delete the baseline `name` (its runs stay); returns whether it
    /// existed.
    pub fn delete_baseline(&mut self, name: &str) -> Result<bool, HistoryError> {
        let n = match &mut self.backend {
            Backend::Sqlite(c) => (|| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                tx.execute(DELETE_RUNS_SQL, [name])?;
                let n = tx.execute(DELETE_SQL, [name])?;
                tx.commit()?;
                Ok(n as u64)
            })()
            .map_err(|source| HistoryError::Sql {
                path: self.path.clone(),
                source,
            })?,
            Backend::Pg(c) => (|| {
                let mut tx = c.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_BASELINE_LOCK])?;
                tx.execute(&super::pg_sql(DELETE_RUNS_SQL), &[&name])?;
                let n = tx.execute(&super::pg_sql(DELETE_SQL), &[&name])?;
                tx.commit()?;
                Ok(n)
            })()
            .map_err(|e| pg_err(&self.location, e))?,
        };
        Ok(n > 0)
    }

    fn fetch_baselines(&mut self, name: Option<&str>) -> Result<Vec<Baseline>, HistoryError> {
        let (heads, members): (Vec<Head>, Vec<(String, String)>) = match &mut self.backend {
            Backend::Sqlite(c) => (|| {
                // One snapshot for both tables.
                let tx = c.transaction()?;
                let heads = tx
                    .prepare(HEADS_SQL)?
                    .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect::<Result<Vec<Head>, _>>()?;
                let members = tx
                    .prepare(MEMBERS_SQL)?
                    .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<(String, String)>, _>>()?;
                tx.commit()?;
                Ok((heads, members))
            })()
            .map_err(|source| HistoryError::Sql {
                path: self.path.clone(),
                source,
            })?,
            Backend::Pg(c) => (|| {
                let mut tx = c
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()?;
                let heads = tx
                    .query(&super::pg_sql(HEADS_SQL), &[&name])?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                    .collect::<Result<Vec<Head>, postgres::Error>>()?;
                let members = tx
                    .query(&super::pg_sql(MEMBERS_SQL), &[&name])?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect::<Result<Vec<(String, String)>, postgres::Error>>()?;
                tx.commit()?;
                Ok((heads, members))
            })()
            .map_err(|e| pg_err(&self.location, e))?,
        };
        Ok(heads
            .into_iter()
            .map(|(name, host, plan, saved_at)| Baseline {
                run_ids: members
                    .iter()
                    .filter(|(n, _)| *n == name)
                    .map(|(_, id)| id.clone())
                    .collect(),
                // Written by save_baseline from these types; a row edited
                // outside isobench reads as an unknown host and plan, which
                // every comparison then refuses as different.
                host: serde_json::from_str(&host).unwrap_or_default(),
                plan: serde_json::from_str(&plan).unwrap_or(serde_json::Value::Null),
                name,
                saved_at,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;

    fn baseline(name: &str, runs: &[&str]) -> Baseline {
        let run = testdata::fixture_run(2, 1.0);
        Baseline {
            name: name.into(),
            host: run.info.host.clone(),
            plan: run.info.config.clone(),
            saved_at: "2026-12-02T16:00:00Z".into(),
            run_ids: runs.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn store_with_runs(db: &std::path::Path, ids: &[&str]) -> History {
        let mut h = History::open(db).unwrap();
        for id in ids {
            let mut run = testdata::fixture_run(2, 1.0);
            run.info.run_id = id.to_string();
            for r in run.records.iter_mut() {
                r.run_id = id.to_string();
            }
            h.push(&run).unwrap();
        }
        h
    }

    #[test]
    fn names_are_checked() {
        for ok in ["main", "v1.2", "pr-42_base", "_x", "A9"] {
            assert_eq!(valid_baseline_name(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("-x", "must start"),
            (".hidden", "must start"),
            ("a b", "holds ' '"),
            ("a/b", "holds '/'"),
            ("é", "holds 'é'"),
        ] {
            let e = valid_baseline_name(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(valid_baseline_name(&"a".repeat(MAX_NAME)).is_ok());
        assert!(valid_baseline_name(&"a".repeat(MAX_NAME + 1))
            .unwrap_err()
            .contains("longer than"));
    }

    #[test]
    fn save_list_replace_and_delete() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("h.sqlite");
        let mut h = store_with_runs(&db, &["r1", "r2", "r3"]);
        assert_eq!(h.baselines().unwrap(), vec![]);
        assert_eq!(h.baseline("main").unwrap(), None);

        let main = baseline("main", &["r2", "r1"]);
        assert!(!h.save_baseline(&main).unwrap(), "new, not replaced");
        let other = baseline("nightly", &["r3"]);
        assert!(!h.save_baseline(&other).unwrap());
        assert_eq!(h.baseline("main").unwrap().as_ref(), Some(&main));
        // Runs keep the order they were saved in; baselines list by name.
        assert_eq!(h.baselines().unwrap(), vec![main.clone(), other.clone()]);
        assert_eq!(main.preset(), Some("quick"));
        assert_eq!(
            h.baseline("main").unwrap().unwrap().host_fingerprint(),
            super::super::host_fingerprint(&main.host)
        );

        // Saving the name again replaces its list.
        let moved = baseline("main", &["r3"]);
        assert!(h.save_baseline(&moved).unwrap(), "replaced");
        assert_eq!(h.baseline("main").unwrap(), Some(moved));

        // A run that is not in the store: refused, nothing changed.
        let e = h
            .save_baseline(&baseline("main", &["r1", "ghost"]))
            .unwrap_err();
        assert!(
            matches!(e, HistoryError::NoRun { ref id, .. } if id == "ghost"),
            "{e}"
        );
        assert!(e.is_bad_input());
        assert_eq!(h.baseline("main").unwrap().unwrap().run_ids, vec!["r3"]);

        // Deleting keeps the runs.
        assert!(h.delete_baseline("main").unwrap());
        assert!(!h.delete_baseline("main").unwrap());
        assert_eq!(h.baselines().unwrap(), vec![other]);
        assert_eq!(h.run_count().unwrap(), 3);
        // And survives reopening.
        drop(h);
        let mut h = History::open(&db).unwrap();
        assert_eq!(h.baselines().unwrap().len(), 1);
    }

    #[test]
    fn a_version_2_store_gains_baselines_and_keeps_its_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("v2.sqlite");
        {
            // A store as schema version 2 left it, holding one run.
            let mut c = rusqlite::Connection::open(&db).unwrap();
            let tx = c.transaction().unwrap();
            for m in &super::super::MIGRATIONS[..2] {
                tx.execute_batch(m).unwrap();
            }
            tx.execute("INSERT INTO schema_version (version) VALUES (2)", [])
                .unwrap();
            tx.execute(
                "INSERT INTO runs (run_id, host_fingerprint, hostname, isobench_version, started_at, run_dir, recorded_at_unix)
                 VALUES ('old', 'fp', 'h', '0.1.0', '2026-01-01T00:00:00Z', '/r', 0)",
                [],
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let mut h = History::open(&db).unwrap();
        assert_eq!(
            h.schema_version().unwrap(),
            super::super::STORE_SCHEMA_VERSION
        );
        assert_eq!(h.run_count().unwrap(), 1);
        let mut run = testdata::fixture_run(2, 1.0);
        run.info.run_id = "r1".into();
        h.push(&run).unwrap();
        assert!(!h.save_baseline(&baseline("main", &["old", "r1"])).unwrap());
        assert_eq!(h.baselines().unwrap()[0].run_ids, vec!["old", "r1"]);
    }
}
