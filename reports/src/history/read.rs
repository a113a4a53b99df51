//! Reading runs back from a history store: listing them, finding one by id
//! (or a unique prefix of its id), and digesting it for `report` and
//! `compare` exactly as a run directory is digested. Repetitions stream from
//! the server or file in batches (a PostgreSQL portal of
//! [`PG_BATCH`] rows; SQLite steps row by row), so a run of 100,000 lines is
//! never held whole. Each read happens in one transaction (PostgreSQL:
//! REPEATABLE READ, READ ONLY), so a run pushed meanwhile by another host is
//! seen whole or not at all.

use super::{pg_err, Backend, History, HistoryError};
use crate::digest::{Digest, Digester};
use crate::schema::{ResultRecord, RunInfo, Timings, SCHEMA_VERSION};
use std::path::Path;

/// Rows fetched per round trip when streaming repetitions from PostgreSQL.
pub const PG_BATCH: i32 = 5000;

/// One stored run, for listing.
#[derive(Debug, Clone, PartialEq)]
pub struct RunListing {
    pub run_id: String,
    pub started_at: String,
    pub hostname: String,
    pub host_fingerprint: String,
    /// Repetitions (results.jsonl lines) stored; None for runs recorded
    /// before schema version 2.
    pub lines: Option<i64>,
    pub finished: bool,
}

const REPETITIONS_SQL: &str =
    "SELECT c.env, c.env_id, c.env_detail, c.workload, c.params, x.rep, x.valid, x.metrics, x.units,
            x.info, x.started_unix_ms, x.wall_ms, x.first_instruction_ms, x.error
     FROM repetitions x JOIN configs c ON c.config_id = x.config_id
     WHERE x.run_id = ?1 ORDER BY x.line";
const RUN_SQL: &str = "SELECT run_json, result_lines FROM runs WHERE run_id = ?1";
const LIST_SQL: &str =
    "SELECT run_id, started_at, hostname, host_fingerprint, result_lines, finished_at
     FROM runs ORDER BY started_at, run_id";
const PREFIX_SQL: &str = "SELECT run_id FROM runs
     WHERE substr(run_id, 1, length(CAST(?1 AS TEXT))) = CAST(?1 AS TEXT)
     ORDER BY run_id LIMIT 6";

fn json<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_str(s).unwrap_or_default()
}

/// A record from the columns of one `repetitions` row.
#[allow(clippy::too_many_arguments)]
fn record(
    run_id: &str,
    env: String,
    env_id: String,
    env_detail: &str,
    workload: String,
    params: &str,
    rep: i64,
    valid: i64,
    metrics: &str,
    units: &str,
    info: &str,
    started_unix_ms: i64,
    wall_ms: f64,
    first_instruction_ms: Option<f64>,
    error: Option<String>,
) -> ResultRecord {
    ResultRecord {
        schema: SCHEMA_VERSION,
        run_id: run_id.to_string(),
        env,
        env_id,
        env_detail: json(env_detail),
        workload,
        params: json(params),
        rep: rep as u32,
        valid: valid != 0,
        metrics: json(metrics),
        units: json(units),
        directions: Default::default(),
        aliases: Default::default(),
        info: json(info),
        timings: Timings {
            started_unix_ms: started_unix_ms as u64,
            wall_ms,
            first_instruction_ms,
        },
        error,
    }
}

impl History {
    /// Open a store to read from it: like [`History::open`], but a SQLite
    /// file that does not exist is an error instead of a new, empty store.
    pub fn open_existing(db: &Path) -> Result<History, HistoryError> {
        let text = db.to_string_lossy();
        if !super::is_postgres_url(&text) && !db.exists() {
            return Err(HistoryError::NoStore {
                path: db.to_path_buf(),
            });
        }
        History::open(db)
    }

    /// Every stored run, oldest first.
    pub fn runs(&mut self) -> Result<Vec<RunListing>, HistoryError> {
        type Raw = (String, String, String, String, Option<i64>, Option<String>);
        let raws: Vec<Raw> = match &mut self.backend {
            Backend::Sqlite(c) => {
                let sql = |e| HistoryError::Sql {
                    path: self.path.clone(),
                    source: e,
                };
                let mut stmt = c.prepare(LIST_SQL).map_err(sql)?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                        ))
                    })
                    .and_then(|rows| rows.collect::<Result<Vec<Raw>, _>>());
                rows.map_err(sql)?
            }
            Backend::Pg(c) => {
                let pg = |e| pg_err(&self.location, e);
                let rows = c.query(LIST_SQL, &[]).map_err(pg)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let get = || -> Result<Raw, postgres::Error> {
                        Ok((
                            r.try_get(0)?,
                            r.try_get(1)?,
                            r.try_get(2)?,
                            r.try_get(3)?,
                            r.try_get(4)?,
                            r.try_get(5)?,
                        ))
                    };
                    out.push(get().map_err(pg)?);
                }
                out
            }
        };
        Ok(raws
            .into_iter()
            .map(
                |(run_id, started_at, hostname, fp, lines, fin)| RunListing {
                    run_id,
                    started_at,
                    hostname,
                    host_fingerprint: fp,
                    lines,
                    finished: fin.is_some(),
                },
            )
            .collect())
    }

    /// The id of the stored run `id` names: the id itself, or the one run
    /// whose id begins with it.
    pub fn resolve_run(&mut self, id: &str) -> Result<String, HistoryError> {
        let found: Vec<String> = match &mut self.backend {
            Backend::Sqlite(c) => {
                let sql = |e| HistoryError::Sql {
                    path: self.path.clone(),
                    source: e,
                };
                let mut stmt = c.prepare(PREFIX_SQL).map_err(sql)?;
                let rows = stmt
                    .query_map([id], |r| r.get(0))
                    .and_then(|rows| rows.collect::<Result<Vec<String>, _>>());
                rows.map_err(sql)?
            }
            Backend::Pg(c) => {
                let pg = |e| pg_err(&self.location, e);
                let rows = c.query(&super::pg_sql(PREFIX_SQL), &[&id]).map_err(pg)?;
                rows.iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()
                    .map_err(pg)?
            }
        };
        if found.iter().any(|f| f == id) {
            return Ok(id.to_string());
        }
        match found.len() {
            1 => Ok(found.into_iter().next().expect("one")),
            0 => {
                let n = self.run_count()?;
                Err(HistoryError::NoRun {
                    store: self.location.clone(),
                    id: id.to_string(),
                    hint: if n == 0 {
                        " (the store holds no run yet)".to_string()
                    } else {
                        format!(" (it holds {n} runs; `isobench history --runs` lists them)")
                    },
                })
            }
            _ => Err(HistoryError::AmbiguousRun {
                store: self.location.clone(),
                id: id.to_string(),
                candidates: found.join(", "),
            }),
        }
    }

    /// Stream the stored repetitions of a run, in results.jsonl order.
    /// Returns how many there were.
    pub fn for_each_repetition(
        &mut self,
        run_id: &str,
        sink: impl FnMut(ResultRecord),
    ) -> Result<usize, HistoryError> {
        match &mut self.backend {
            Backend::Sqlite(c) => sqlite_reps(c, run_id, sink).map_err(|e| HistoryError::Sql {
                path: self.path.clone(),
                source: e,
            }),
            Backend::Pg(c) => (|| {
                let mut tx = c.transaction()?;
                let n = pg_reps(&mut tx, run_id, sink)?;
                tx.commit()?;
                Ok(n)
            })()
            .map_err(|e| pg_err(&self.location, e)),
        }
    }

    /// The stored run.json of a run (exact id), as JSON; `None` for runs
    /// recorded before schema version 2 or unknown ids.
    pub fn run_json(&mut self, run_id: &str) -> Result<Option<serde_json::Value>, HistoryError> {
        let text: Option<String> = match &mut self.backend {
            Backend::Sqlite(c) => {
                let r = c.query_row(RUN_SQL, [run_id], |r| r.get::<_, Option<String>>(0));
                match r {
                    Ok(t) => t,
                    Err(rusqlite::Error::QueryReturnedNoRows) => None,
                    Err(e) => {
                        return Err(HistoryError::Sql {
                            path: self.path.clone(),
                            source: e,
                        })
                    }
                }
            }
            Backend::Pg(c) => c
                .query_opt(&super::pg_sql(RUN_SQL), &[&run_id])
                .and_then(|r| r.map(|r| r.try_get::<_, Option<String>>(0)).transpose())
                .map_err(|e| pg_err(&self.location, e))?
                .flatten(),
        };
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// A stored run digested for `report` and `compare`, as
    /// [`crate::digest::digest_run_dir`] digests a run directory. `id` is a
    /// run id or a unique prefix of one. A run missing repetitions (a store
    /// changed outside isobench) is an error, never a silent partial report.
    pub fn digest(&mut self, id: &str) -> Result<Digest, HistoryError> {
        let run_id = self.resolve_run(id)?;
        let mut d = Digester::default();
        // One snapshot for the run's row and its repetitions.
        let (row, have) = match &mut self.backend {
            Backend::Sqlite(c) => (|| {
                let tx = c.transaction()?;
                let row = tx.query_row(RUN_SQL, [&run_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                let have = sqlite_reps(&tx, &run_id, |r| d.push(&r))?;
                tx.commit()?;
                Ok((row, have))
            })()
            .map_err(|e| HistoryError::Sql {
                path: self.path.clone(),
                source: e,
            })?,
            Backend::Pg(c) => (|| {
                let mut tx = c
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()?;
                let r = tx.query_one(&super::pg_sql(RUN_SQL), &[&run_id])?;
                let row = (r.try_get(0)?, r.try_get(1)?);
                let have = pg_reps(&mut tx, &run_id, |r| d.push(&r))?;
                tx.commit()?;
                Ok((row, have))
            })()
            .map_err(|e| pg_err(&self.location, e))?,
        };
        let (run_json, lines): (Option<String>, Option<i64>) = row;
        let info: RunInfo = run_json
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .ok_or_else(|| HistoryError::NoRunJson {
                store: self.location.clone(),
                id: run_id.clone(),
            })?;
        let want = lines.unwrap_or(0).max(0) as usize;
        if have != want {
            return Err(HistoryError::Incomplete {
                store: self.location.clone(),
                id: run_id,
                have,
                want,
            });
        }
        let mut out = d.finish(info, format!("run {run_id} in {}", self.location), None);
        if out.info.finished_at.is_none() {
            out.load_warnings.push(format!(
                "run {run_id} did not finish (pushed with --unfinished): its figures hold what it measured before it stopped"
            ));
        }
        Ok(out)
    }
}

fn sqlite_reps(
    c: &rusqlite::Connection,
    run_id: &str,
    mut sink: impl FnMut(ResultRecord),
) -> rusqlite::Result<usize> {
    let mut stmt = c.prepare(REPETITIONS_SQL)?;
    let mut rows = stmt.query([run_id])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let text = |i| r.get_ref(i).and_then(|v| Ok(v.as_str()?));
        sink(record(
            run_id,
            r.get(0)?,
            r.get(1)?,
            text(2)?,
            r.get(3)?,
            text(4)?,
            r.get(5)?,
            r.get(6)?,
            text(7)?,
            text(8)?,
            text(9)?,
            r.get(10)?,
            r.get(11)?,
            r.get(12)?,
            r.get(13)?,
        ));
        n += 1;
    }
    Ok(n)
}

/// The repetitions of a run through a portal, [`PG_BATCH`] rows at a time
/// (a portal lives in a transaction: `tx`).
fn pg_reps(
    tx: &mut postgres::Transaction,
    run_id: &str,
    mut sink: impl FnMut(ResultRecord),
) -> Result<usize, postgres::Error> {
    let portal = tx.bind(&super::pg_sql(REPETITIONS_SQL), &[&run_id])?;
    let mut n = 0;
    loop {
        let rows = tx.query_portal(&portal, PG_BATCH)?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            sink(record(
                run_id,
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
                r.try_get(5)?,
                r.try_get(6)?,
                r.try_get(7)?,
                r.try_get(8)?,
                r.try_get(9)?,
                r.try_get(10)?,
                r.try_get(11)?,
                r.try_get(12)?,
                r.try_get(13)?,
            ));
            n += 1;
        }
    }
    Ok(n)
}
