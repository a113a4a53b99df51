//! The history store: every run recorded in an embedded SQLite database
//! (rusqlite, bundled SQLite; no server), so a metric can be followed over
//! time per environment (docs/design.md, "Results").
//!
//! Tables: `runs` (run id, host fingerprint, host name, isobench version and
//! commit, start time, run directory) and `results` (one row per metric value
//! of a result: environment class, id and detail, workload, parameters,
//! repetition, validity, metric, value, unit). Recording a run is idempotent
//! per run id: its rows are replaced.

use crate::load::LoadError;
use crate::plot::draw::{self, LabelledValue, SeriesPlot};
use crate::plot::{Image, PlotError};
use crate::schema::{HostInfo, ResultRecord};
use crate::stats;
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

mod baseline;
mod read;
pub use baseline::{valid_baseline_name, Baseline};
mod series;
mod write;
pub use read::RunListing;
pub use write::{record_run_dir, Begun, RunWriter, PG_WRITE_BATCH, STREAM_CHUNK, STREAM_QUEUE};

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
    #[error("{url} is not a valid PostgreSQL URL: {msg} (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)")]
    BadUrl { url: String, msg: String },
    #[error("cannot connect to PostgreSQL at {url}: {msg}")]
    Connect { url: String, msg: String },
    #[error("PostgreSQL {url}: {msg}")]
    Pg { url: String, msg: String },
    #[error("history store {store} has schema version {found}, newer than this isobench knows ({known}); use a newer isobench (the store was not changed)")]
    NewerSchema {
        store: String,
        found: i64,
        known: i64,
    },
    #[error("no history store at {path}: pass --db FILE or --db postgres://... (`isobench push` or `isobench run` creates one)")]
    NoStore { path: PathBuf },
    #[error("no run {id} in {store}{hint}")]
    NoRun {
        store: String,
        id: String,
        hint: String,
    },
    #[error("run id {id} is ambiguous in {store}: it begins {candidates}; give more of it")]
    AmbiguousRun {
        store: String,
        id: String,
        candidates: String,
    },
    #[error("run {id} in {store} was recorded by an isobench older than store schema 2, without its run.json and repetitions; push its run directory again (`isobench history --import DIR --db ...`)")]
    NoRunJson { store: String, id: String },
    #[error("run {id} in {store} is incomplete: {have} of its {want} repetitions are stored (the store was changed outside isobench); push its run directory again with `isobench history --import DIR --db ...`")]
    Incomplete {
        store: String,
        id: String,
        have: usize,
        want: usize,
    },
    #[error("history store {store}: two configurations share the key {key}; this isobench cannot store the run (report this)")]
    ConfigKeyCollision { store: String, key: String },
    #[error(transparent)]
    Load(#[from] LoadError),
}

impl HistoryError {
    /// Whether the error is the caller's input (a bad URL, a store of a newer
    /// schema, an unreadable run directory) rather than a failing server or
    /// file system: the CLI exits 2 for these, 1 otherwise.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            HistoryError::BadUrl { .. }
                | HistoryError::NewerSchema { .. }
                | HistoryError::Load(_)
                | HistoryError::NoStore { .. }
                | HistoryError::NoRun { .. }
                | HistoryError::AmbiguousRun { .. }
                | HistoryError::NoRunJson { .. }
        )
    }
}

/// Whether `db` names a PostgreSQL server (`postgres://` or `postgresql://`)
/// rather than a SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// `db` for messages: a PostgreSQL URL without its password.
pub fn redact(db: &str) -> String {
    if !is_postgres_url(db) {
        return db.to_string();
    }
    let (scheme, rest) = db.split_once("://").unwrap_or(("", db));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => db.to_string(),
        },
        None => db.to_string(),
    }
}

/// A PostgreSQL error with the server's message (postgres::Error alone says
/// only "db error").
fn pg_msg(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        // The server's message alone: DETAIL repeats the whole row.
        return match db.hint() {
            Some(h) => format!("{}: {} ({h})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        };
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s.lines().collect::<Vec<_>>().join(" ")
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

/// The schema version this isobench writes and reads. A store of a newer
/// version is refused; older ones are migrated at open.
pub const STORE_SCHEMA_VERSION: i64 = 4;

/// Migrations, in order: `MIGRATIONS[i]` takes a store from version `i` to
/// `i + 1`. Written in the SQL both engines accept; for PostgreSQL
/// [`pg_ddl`] maps the SQLite type names. Version 1 is the schema of the
/// first (SQLite-only) history, which had no `schema_version` table.
const MIGRATIONS: [&str; 4] = [
    "
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
",
    // 2: host facts and tool of every run, the whole run.json, and every raw
    // repetition (one row per results.jsonl line, all its columns).
    "
CREATE TABLE schema_version (version INTEGER NOT NULL);
ALTER TABLE runs ADD COLUMN finished_at TEXT;
ALTER TABLE runs ADD COLUMN cpu_model TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN cpu_mhz REAL;
ALTER TABLE runs ADD COLUMN cores_logical INTEGER;
ALTER TABLE runs ADD COLUMN cores_physical INTEGER;
ALTER TABLE runs ADD COLUMN memory_bytes INTEGER;
ALTER TABLE runs ADD COLUMN kernel TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN os TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN cgroup TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN kvm_device INTEGER;
ALTER TABLE runs ADD COLUMN kvm_module TEXT;
ALTER TABLE runs ADD COLUMN workload_binary TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN workload_sha256 TEXT;
ALTER TABLE runs ADD COLUMN run_json TEXT;
ALTER TABLE runs ADD COLUMN result_lines INTEGER;
CREATE TABLE repetitions (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    line INTEGER NOT NULL,
    env TEXT NOT NULL,
    env_id TEXT NOT NULL,
    env_detail TEXT NOT NULL,
    workload TEXT NOT NULL,
    params TEXT NOT NULL,
    rep INTEGER NOT NULL,
    valid INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    units TEXT NOT NULL,
    info TEXT NOT NULL,
    started_unix_ms INTEGER NOT NULL,
    wall_ms REAL NOT NULL,
    first_instruction_ms REAL,
    error TEXT,
    PRIMARY KEY (run_id, line)
);
CREATE INDEX results_run ON results(run_id);
",
    // 3: named baselines (`isobench baseline save NAME RUN...`): the host and
    // plan they were measured with, and their runs in order (see
    // history/baseline.rs).
    "
CREATE TABLE baselines (
    name TEXT PRIMARY KEY,
    host_fingerprint TEXT NOT NULL,
    hostname TEXT NOT NULL,
    host_json TEXT NOT NULL,
    plan_json TEXT NOT NULL,
    saved_at TEXT NOT NULL
);
CREATE TABLE baseline_runs (
    name TEXT NOT NULL REFERENCES baselines(name) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    PRIMARY KEY (name, position)
);
",
    // 4: each (environment, workload, parameters) stored once in `configs`
    // and referenced by id from `repetitions` and `results`, which repeated
    // its text per line and per value (see history/write.rs); `results` is
    // keyed by run and value number (`n`, from 1 within the run) and
    // clustered by that key (SQLite: WITHOUT ROWID), with no other index,
    // so a value costs one B-tree insert. Keys of `configs` are filled in by
    // `write::fill_config_keys_*` after this SQL.
    "
CREATE TABLE configs (
    config_id INTEGER PRIMARY KEY,
    config_key TEXT UNIQUE,
    env TEXT NOT NULL,
    env_id TEXT NOT NULL,
    env_detail TEXT NOT NULL,
    workload TEXT NOT NULL,
    params TEXT NOT NULL
);
INSERT INTO configs (env, env_id, env_detail, workload, params)
    SELECT env, env_id, env_detail, workload, params FROM repetitions
    UNION SELECT env, env_id, env_detail, workload, params FROM results;
CREATE TABLE repetitions_v4 (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    line INTEGER NOT NULL,
    config_id INTEGER NOT NULL REFERENCES configs(config_id),
    rep INTEGER NOT NULL,
    valid INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    units TEXT NOT NULL,
    info TEXT NOT NULL,
    started_unix_ms INTEGER NOT NULL,
    wall_ms REAL NOT NULL,
    first_instruction_ms REAL,
    error TEXT,
    PRIMARY KEY (run_id, line)
);
INSERT INTO repetitions_v4
    SELECT x.run_id, x.line, c.config_id, x.rep, x.valid, x.metrics, x.units, x.info,
           x.started_unix_ms, x.wall_ms, x.first_instruction_ms, x.error
    FROM repetitions x JOIN configs c
      ON c.env = x.env AND c.env_id = x.env_id AND c.env_detail = x.env_detail
         AND c.workload = x.workload AND c.params = x.params;
DROP TABLE repetitions;
ALTER TABLE repetitions_v4 RENAME TO repetitions;
CREATE TABLE results_v4 (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    config_id INTEGER NOT NULL REFERENCES configs(config_id),
    valid INTEGER NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    unit TEXT NOT NULL,
    PRIMARY KEY (run_id, n)
) WITHOUT ROWID;
INSERT INTO results_v4
    SELECT x.run_id, ROW_NUMBER() OVER (PARTITION BY x.run_id), c.config_id, x.valid,
           x.metric, x.value, x.unit
    FROM results x JOIN configs c
      ON c.env = x.env AND c.env_id = x.env_id AND c.env_detail = x.env_detail
         AND c.workload = x.workload AND c.params = x.params;
DROP TABLE results;
ALTER TABLE results_v4 RENAME TO results;
",
];

/// The DDL of a migration in PostgreSQL's type names.
fn pg_ddl(sql: &str) -> String {
    sql.replace(
        " INTEGER PRIMARY KEY",
        " BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    )
    .replace(" INTEGER", " BIGINT")
    .replace(") WITHOUT ROWID;", ");")
    .replace(" REAL", " DOUBLE PRECISION")
}

/// `?N` placeholders (SQLite) as `$N` (PostgreSQL).
fn pg_sql(sql: &str) -> String {
    sql.replace('?', "$")
}

/// Key of the PostgreSQL advisory lock held while migrating.
const PG_MIGRATION_LOCK: i64 = 0x1505_BE4C_0000_0002;

enum Backend {
    Sqlite(Connection),
    Pg(Box<postgres::Client>),
}

/// An open history store: a SQLite file or a PostgreSQL database, one schema.
pub struct History {
    backend: Backend,
    /// The path or URL (password hidden), for messages.
    location: String,
    path: PathBuf,
}

/// What [`History::push`] did with a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Pushed {
    /// The run was added: this many repetitions and metric values.
    Added { repetitions: usize, values: usize },
    /// A run of this id was already in the store; nothing was added.
    /// `stored_repetitions` is how many it holds there (None for runs
    /// recorded before schema version 2).
    AlreadyPresent { stored_repetitions: Option<i64> },
}

const SERIES_SQL: &str =
    "SELECT r.run_id, r.started_at, r.host_fingerprint, r.isobench_version, r.git_commit,
            c.env_id, c.env_detail, x.value, x.unit, c.workload, x.metric, c.params, r.run_dir
     FROM results x JOIN configs c ON c.config_id = x.config_id JOIN runs r ON r.run_id = x.run_id
     WHERE (?1 IS NULL OR c.workload = ?1) AND (?2 IS NULL OR x.metric = ?2) AND x.valid = 1
           AND (?3 IS NULL OR c.env_id = ?3)";

impl History {
    /// Open the store `db` names: a `postgres://` or `postgresql://` URL is a
    /// PostgreSQL database, anything else a SQLite file (created, with its
    /// directory, if needed). Migrates an older schema; refuses a newer one.
    pub fn open(db: &Path) -> Result<History, HistoryError> {
        let text = db.to_string_lossy();
        if is_postgres_url(&text) {
            return History::open_pg(&text);
        }
        let path = db;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| HistoryError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let open_err = |source| HistoryError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(60))
            .map_err(open_err)?;
        let location = path.display().to_string();
        migrate_sqlite(&mut conn, &location).map_err(|e| match e {
            Migrate::Sql(source) => open_err(source),
            Migrate::Newer(e) => e,
        })?;
        Ok(History {
            backend: Backend::Sqlite(conn),
            location,
            path: path.to_path_buf(),
        })
    }

    fn open_pg(url: &str) -> Result<History, HistoryError> {
        let location = redact(url);
        let mut config: postgres::Config =
            url.parse()
                .map_err(|e: postgres::Error| HistoryError::BadUrl {
                    url: location.clone(),
                    msg: pg_msg(&e),
                })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        let mut client = config
            .connect(postgres::NoTls)
            .map_err(|e| HistoryError::Connect {
                url: location.clone(),
                msg: pg_msg(&e),
            })?;
        migrate_pg(&mut client, &location)?;
        Ok(History {
            backend: Backend::Pg(Box::new(client)),
            path: PathBuf::from(&location),
            location,
        })
    }

    /// The path or URL (without password) of the store, for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Number of recorded runs.
    pub fn run_count(&mut self) -> Result<usize, HistoryError> {
        self.count("SELECT COUNT(*) FROM runs")
    }

    /// Number of stored repetitions (results.jsonl lines) over all runs.
    pub fn repetition_count(&mut self) -> Result<usize, HistoryError> {
        self.count("SELECT COUNT(*) FROM repetitions")
    }

    /// Number of stored metric values over all runs.
    pub fn value_count(&mut self) -> Result<usize, HistoryError> {
        self.count("SELECT COUNT(*) FROM results")
    }

    fn count(&mut self, sql: &str) -> Result<usize, HistoryError> {
        let n = match &mut self.backend {
            Backend::Sqlite(c) => {
                c.query_row(sql, [], |r| r.get::<_, i64>(0))
                    .map_err(|e| HistoryError::Sql {
                        path: self.path.clone(),
                        source: e,
                    })?
            }
            Backend::Pg(c) => c
                .query_one(sql, &[])
                .and_then(|r| r.try_get::<_, i64>(0))
                .map_err(|e| pg_err(&self.location, e))?,
        };
        Ok(n as usize)
    }

    /// The stored repetitions of a run, in results.jsonl order (the raw
    /// records, rebuilt from their columns).
    pub fn repetitions(&mut self, run_id: &str) -> Result<Vec<ResultRecord>, HistoryError> {
        let mut out = Vec::new();
        self.for_each_repetition(run_id, |r| out.push(r))?;
        Ok(out)
    }

    /// The series of a workload's metric, optionally for one environment:
    /// one point per (run, environment, parameters), oldest run first within
    /// each series, valid values only. See [`History::all_series`].
    pub fn series(
        &mut self,
        workload: &str,
        metric: &str,
        env_id: Option<&str>,
    ) -> Result<Vec<SeriesPoint>, HistoryError> {
        self.all_series(Some(workload), Some(metric), env_id)
    }

    /// Every series the filters select: one point per run of each (workload,
    /// metric, parameters, environment, host fingerprint), ordered by that
    /// key and then by run start. A point's figure is the geometric mean of
    /// the run's valid values with its log-scale t interval, the estimator
    /// `report` and `compare` print.
    pub fn all_series(
        &mut self,
        workload: Option<&str>,
        metric: Option<&str>,
        env_id: Option<&str>,
    ) -> Result<Vec<SeriesPoint>, HistoryError> {
        // Unordered: the rows are grouped into points and the points sorted
        // here (series::Points), far cheaper than the database sorting every
        // value row by seven text columns.
        let mut points = series::Points::default();
        match &mut self.backend {
            Backend::Sqlite(c) => {
                let sql = |e| HistoryError::Sql {
                    path: self.path.clone(),
                    source: e,
                };
                let mut stmt = c.prepare(SERIES_SQL).map_err(sql)?;
                let mut rows = stmt.query(params![workload, metric, env_id]).map_err(sql)?;
                while let Some(row) = rows.next().map_err(sql)? {
                    points.add(&series::Row::sqlite(row).map_err(sql)?);
                }
            }
            Backend::Pg(c) => {
                let q = pg_sql(SERIES_SQL)
                    .replace("($1 IS NULL", "($1::text IS NULL")
                    .replace("($2 IS NULL", "($2::text IS NULL")
                    .replace("($3 IS NULL", "($3::text IS NULL");
                let rows = c
                    .query(&q, &[&workload, &metric, &env_id])
                    .map_err(|e| pg_err(&self.location, e))?;
                for row in &rows {
                    points.add(&series::Row::pg(row).map_err(|e| pg_err(&self.location, e))?);
                }
            }
        }
        Ok(points.finish())
    }

    /// (workload, metric) pairs recorded, for listing.
    pub fn metrics(&mut self) -> Result<Vec<(String, String)>, HistoryError> {
        const SQL: &str = "SELECT DISTINCT c.workload, x.metric FROM results x JOIN configs c ON c.config_id = x.config_id
     ORDER BY c.workload, x.metric";
        match &mut self.backend {
            Backend::Sqlite(c) => {
                let sql = |e| HistoryError::Sql {
                    path: self.path.clone(),
                    source: e,
                };
                let mut stmt = c.prepare(SQL).map_err(sql)?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .and_then(|rows| rows.collect::<Result<_, _>>());
                rows.map_err(sql)
            }
            Backend::Pg(c) => c
                .query(SQL, &[])
                .and_then(|rows| {
                    rows.iter()
                        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                        .collect()
                })
                .map_err(|e| pg_err(&self.location, e)),
        }
    }

    /// The schema version of the open store.
    pub fn schema_version(&mut self) -> Result<i64, HistoryError> {
        let n = match &mut self.backend {
            Backend::Sqlite(c) => c
                .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
                .map_err(|e| HistoryError::Sql {
                    path: self.path.clone(),
                    source: e,
                })?,
            Backend::Pg(c) => c
                .query_one("SELECT MAX(version) FROM schema_version", &[])
                .and_then(|r| r.try_get(0))
                .map_err(|e| pg_err(&self.location, e))?,
        };
        Ok(n)
    }
}

fn pg_err(location: &str, e: postgres::Error) -> HistoryError {
    HistoryError::Pg {
        url: location.to_string(),
        msg: pg_msg(&e),
    }
}

enum Migrate {
    Sql(rusqlite::Error),
    Newer(HistoryError),
}

impl From<rusqlite::Error> for Migrate {
    fn from(e: rusqlite::Error) -> Self {
        Migrate::Sql(e)
    }
}

/// The version a store is at: its `schema_version`, else 1 when the tables
/// of the first history exist, else 0 (empty).
fn detected_version(has_version_table: bool, has_runs: bool, recorded: Option<i64>) -> i64 {
    match (has_version_table, has_runs) {
        (true, _) => recorded.unwrap_or(0),
        (false, true) => 1,
        (false, false) => 0,
    }
}

fn migrate_sqlite(conn: &mut Connection, location: &str) -> Result<(), Migrate> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let has = |name: &str| -> rusqlite::Result<bool> {
        tx.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
    };
    let has_version = has("schema_version")?;
    let recorded = if has_version {
        tx.query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))?
    } else {
        None
    };
    let version = detected_version(has_version, has("runs")?, recorded);
    if version > STORE_SCHEMA_VERSION {
        return Err(Migrate::Newer(HistoryError::NewerSchema {
            store: location.to_string(),
            found: version,
            known: STORE_SCHEMA_VERSION,
        }));
    }
    if version == STORE_SCHEMA_VERSION {
        return Ok(());
    }
    for m in &MIGRATIONS[version as usize..] {
        tx.execute_batch(m)?;
    }
    write::fill_config_keys_sqlite(&tx)?;
    tx.execute("DELETE FROM schema_version", [])?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        [STORE_SCHEMA_VERSION],
    )?;
    tx.commit()?;
    Ok(())
}

fn migrate_pg(client: &mut postgres::Client, location: &str) -> Result<(), HistoryError> {
    let pg = |e| pg_err(location, e);
    let mut tx = client.transaction().map_err(pg)?;
    // Serialise concurrent first opens; DDL is transactional in PostgreSQL.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_MIGRATION_LOCK])
        .map_err(pg)?;
    let has = |tx: &mut postgres::Transaction, name: &str| -> Result<bool, postgres::Error> {
        tx.query_one(
            "SELECT to_regclass(current_schema() || '.' || $1) IS NOT NULL",
            &[&name],
        )?
        .try_get(0)
    };
    let has_version = has(&mut tx, "schema_version").map_err(pg)?;
    let recorded: Option<i64> = if has_version {
        tx.query_one("SELECT MAX(version) FROM schema_version", &[])
            .and_then(|r| r.try_get(0))
            .map_err(pg)?
    } else {
        None
    };
    let has_runs = has(&mut tx, "runs").map_err(pg)?;
    let version = detected_version(has_version, has_runs, recorded);
    if version > STORE_SCHEMA_VERSION {
        return Err(HistoryError::NewerSchema {
            store: location.to_string(),
            found: version,
            known: STORE_SCHEMA_VERSION,
        });
    }
    if version == STORE_SCHEMA_VERSION {
        return tx.commit().map_err(pg);
    }
    for m in &MIGRATIONS[version as usize..] {
        tx.batch_execute(&pg_ddl(m)).map_err(pg)?;
    }
    write::fill_config_keys_pg(&mut tx).map_err(pg)?;
    tx.execute("DELETE FROM schema_version", &[]).map_err(pg)?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES ($1)",
        &[&STORE_SCHEMA_VERSION],
    )
    .map_err(pg)?;
    tx.commit().map_err(pg)
}

/// One run's figure in a series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoint {
    pub run_id: String,
    pub started_at: String,
    pub host_fingerprint: String,
    pub isobench_version: String,
    pub git_commit: Option<String>,
    /// The run directory it was recorded from (its report is under it).
    pub run_dir: String,
    pub workload: String,
    pub metric: String,
    /// JSON of the workload parameters.
    pub params: String,
    pub env_id: String,
    /// JSON of the environment detail.
    pub env_detail: String,
    pub unit: String,
    /// Valid values of the run.
    pub n: usize,
    /// The run's figure: the geometric mean of its values (the arithmetic
    /// mean when some value is ≤ 0, see `centre_kind`), as `report` prints.
    pub centre: f64,
    pub centre_kind: stats::CentreKind,
    /// 95% t interval of `centre` (log scale for the geometric mean); `None`
    /// with one value.
    pub ci: Option<(f64, f64)>,
}

impl SeriesPoint {
    /// Whether two points belong to the same series (workload, metric,
    /// parameters, environment, host).
    pub fn same_series(&self, o: &SeriesPoint) -> bool {
        self.workload == o.workload
            && self.metric == o.metric
            && self.params == o.params
            && self.env_id == o.env_id
            && self.host_fingerprint == o.host_fingerprint
    }
}

/// Split points ordered as [`History::all_series`] returns them into series.
pub fn split_series(points: &[SeriesPoint]) -> Vec<&[SeriesPoint]> {
    points.chunk_by(|a, b| a.same_series(b)).collect()
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
            value: p.centre,
            lo: p.ci.map_or(p.centre, |c| c.0),
            hi: p.ci.map_or(p.centre, |c| c.1),
        })
        .collect();
    let hosts: std::collections::BTreeSet<&str> =
        points.iter().map(|p| p.host_fingerprint.as_str()).collect();
    draw::render(&SeriesPlot {
        file: format!("history-{workload}-{metric}-{env}.svg"),
        title: format!(
            "{workload} {metric} in {env}: {} per run",
            points
                .first()
                .map_or("geometric mean", |p| p.centre_kind.label())
        ),
        subtitle: format!(
            "{} runs, {} host fingerprint(s); bars are 95% t intervals of that {}",
            points.len(),
            hosts.len(),
            points
                .first()
                .map_or("geometric mean", |p| p.centre_kind.label())
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
        let mut h = History::open(&db).unwrap();
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
        let mut h = History::open(&db).unwrap();
        assert_eq!(h.run_count().unwrap(), 2);
        let s = h.series("membw", "triad_mbs", Some("native")).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].run_id, "later");
        assert!((s[1].centre / s[0].centre - 0.8).abs() < 1e-9);
        assert_eq!(s[0].centre_kind, stats::CentreKind::GeometricMean);
        let (lo, hi) = s[0].ci.unwrap();
        assert!(lo < s[0].centre && s[0].centre < hi);
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
        assert!(img.svg.contains("geometric mean per run"));
        // Every series of the store, split by workload, metric, parameters,
        // environment and host: two runs each.
        let every = h.all_series(None, None, None).unwrap();
        let groups = split_series(&every);
        assert!(groups.len() > 4, "{}", groups.len());
        assert!(groups
            .iter()
            .all(|g| g.len() == 2 && g[1].run_id == "later"));
        let info = h.run_json("later").unwrap().expect("run.json stored");
        assert_eq!(info["run_id"], "later");
        assert_eq!(h.run_json("nope").unwrap(), None);
    }

    #[test]
    fn an_unopenable_database_names_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let e = History::open(&file.join("h.sqlite")).err().unwrap();
        assert!(e.to_string().contains(&file.display().to_string()), "{e}");
    }

    #[test]
    fn a_first_schema_database_is_migrated_keeping_its_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("v1.sqlite");
        {
            // The history as the first isobench wrote it: no schema_version.
            let c = Connection::open(&db).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.execute(
                "INSERT INTO runs VALUES ('old', 'fp', 'h', '0.1.0', NULL, '2026-01-01T00:00:00Z', '/r', 0)",
                [],
            )
            .unwrap();
            c.execute(
                "INSERT INTO results VALUES ('old', 'native', 'native', '{}', 'membw', '{}', 0, 1, 'triad_mbs', 5.0, 'MB/s')",
                [],
            )
            .unwrap();
        }
        let mut h = History::open(&db).unwrap();
        assert_eq!(h.schema_version().unwrap(), STORE_SCHEMA_VERSION);
        assert_eq!(h.run_count().unwrap(), 1);
        assert_eq!(h.series("membw", "triad_mbs", None).unwrap().len(), 1);
        // New runs keep every repetition.
        let run = testdata::fixture_run(2, 1.0);
        assert!(matches!(
            h.push(&run).unwrap(),
            Pushed::Added {
                repetitions: 40,
                ..
            }
        ));
        assert_eq!(h.repetitions(&run.info.run_id).unwrap(), run.records);
        drop(h);
        // Opening again migrates nothing more.
        let mut h = History::open(&db).unwrap();
        assert_eq!(h.run_count().unwrap(), 2);
    }

    #[test]
    fn a_newer_schema_is_refused_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("h.sqlite");
        History::open(&db).unwrap();
        Connection::open(&db)
            .unwrap()
            .execute("UPDATE schema_version SET version = 9", [])
            .unwrap();
        let e = History::open(&db).err().unwrap();
        assert!(e.is_bad_input());
        let msg = e.to_string();
        assert!(
            msg.contains("schema version 9") && msg.contains("(4)"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
        let v: i64 = Connection::open(&db)
            .unwrap()
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 9);
    }

    #[test]
    fn pushing_twice_adds_nothing_and_keeps_host_facts() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("h.sqlite");
        let run = testdata::fixture_run(3, 1.0);
        let mut h = History::open(&db).unwrap();
        assert_eq!(
            h.push(&run).unwrap(),
            Pushed::Added {
                repetitions: 60,
                values: 180
            }
        );
        assert_eq!(
            h.push(&run).unwrap(),
            Pushed::AlreadyPresent {
                stored_repetitions: Some(60)
            }
        );
        assert_eq!(h.run_count().unwrap(), 1);
        assert_eq!(h.repetition_count().unwrap(), 60);
        assert_eq!(h.value_count().unwrap(), 180);
        let Backend::Sqlite(c) = &h.backend else {
            unreachable!()
        };
        let (cpu, mem, json): (String, i64, String) = c
            .query_row(
                "SELECT cpu_model, memory_bytes, run_json FROM runs",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(cpu, run.info.host.cpu_model);
        assert_eq!(mem as u64, run.info.host.memory_bytes);
        let back: crate::schema::RunInfo = serde_json::from_str(&json).unwrap();
        assert_eq!(back, run.info);
    }

    #[test]
    fn urls_select_postgres_and_hide_passwords() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://u@h/db"));
        assert!(!is_postgres_url("/tmp/postgres://x"));
        assert_eq!(
            redact("postgres://u:secret@h:5/db"),
            "postgres://u:***@h:5/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("/a/b.sqlite"), "/a/b.sqlite");
        let e = History::open(Path::new("postgres://u@h:notaport/db"))
            .err()
            .unwrap();
        assert!(e.is_bad_input(), "{e}");
    }
}
