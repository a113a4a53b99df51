//! Writing runs into the history store, one record at a time.
//!
//! A run is written in one transaction (the run is stored whole or not at
//! all), but never held whole: [`History::begin_push`] inserts the run's row
//! (and finds out whether the run is already there), [`RunWriter::add`]
//! writes each record as it is read from `results.jsonl`, and
//! [`RunWriter::commit`] ends it; a writer dropped before its commit rolls
//! the run back. Memory stays that of [`SQLITE_ROWS`] rows per table on
//! SQLite (cached multi-row INSERTs in the one transaction) and of one
//! batch of [`PG_WRITE_BATCH`] records on PostgreSQL (one multi-row
//! `INSERT ... SELECT FROM unnest(...)` per table and batch), whatever the
//! run's length.
//!
//! `isobench push` (`src/cmd/push.rs`) streams run directories this way, as
//! does [`super::record_run_dir`]; [`History::push`] and [`History::record`]
//! write a run already in memory through the same path.

use super::{host_fingerprint, pg_err, pg_sql, Backend, History, HistoryError, Pushed};
use crate::load::{open_run, OpenRun, Run, RunHeader};
use crate::schema::{ResultRecord, RunInfo};
use rusqlite::params;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// Records per chunk handed from the reading thread to the writing one
/// ([`RunWriter::add_run`]).
pub const STREAM_CHUNK: usize = 256;
/// Chunks the reading thread may be ahead of the writing one.
pub const STREAM_QUEUE: usize = 4;

/// SQLite page cache of a writing connection, KiB.
const WRITE_CACHE_KIB: i64 = 24 * 1024;

/// Records per round trip when writing to PostgreSQL. A batch holds these
/// records' columns (a few KiB each), so memory stays bounded.
pub const PG_WRITE_BATCH: usize = 2000;

/// Columns of `runs`, in the order [`RunRow`] binds them.
const RUN_COLUMNS: [&str; 23] = [
    "run_id",
    "host_fingerprint",
    "hostname",
    "isobench_version",
    "git_commit",
    "started_at",
    "run_dir",
    "recorded_at_unix",
    "finished_at",
    "cpu_model",
    "cpu_mhz",
    "cores_logical",
    "cores_physical",
    "memory_bytes",
    "kernel",
    "os",
    "cgroup",
    "kvm_device",
    "kvm_module",
    "workload_binary",
    "workload_sha256",
    "run_json",
    "result_lines",
];

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Replace an earlier recording of the run id.
    Replace,
    /// Add nothing when the run id is already there.
    IfAbsent,
}

/// One run's row of `runs`. `result_lines` is set when the writer commits
/// (the number of records is known only then).
struct RunRow {
    run_id: String,
    fingerprint: String,
    hostname: String,
    version: String,
    commit: Option<String>,
    started_at: String,
    run_dir: String,
    recorded_at: i64,
    finished_at: Option<String>,
    cpu_model: String,
    cpu_mhz: f64,
    cores_logical: i64,
    cores_physical: Option<i64>,
    memory_bytes: i64,
    kernel: String,
    os: String,
    cgroup: String,
    kvm_device: i64,
    kvm_module: Option<String>,
    workload_binary: String,
    workload_sha256: Option<String>,
    run_json: String,
    result_lines: i64,
}

/// A run row's values in the order of [`RUN_COLUMNS`], as an array of
/// references that coerces to either store's parameter type: the columns
/// are listed once for SQLite and PostgreSQL.
macro_rules! run_row_values {
    ($row:expr) => {
        [
            &$row.run_id,
            &$row.fingerprint,
            &$row.hostname,
            &$row.version,
            &$row.commit,
            &$row.started_at,
            &$row.run_dir,
            &$row.recorded_at,
            &$row.finished_at,
            &$row.cpu_model,
            &$row.cpu_mhz,
            &$row.cores_logical,
            &$row.cores_physical,
            &$row.memory_bytes,
            &$row.kernel,
            &$row.os,
            &$row.cgroup,
            &$row.kvm_device,
            &$row.kvm_module,
            &$row.workload_binary,
            &$row.workload_sha256,
            &$row.run_json,
            &$row.result_lines,
        ]
    };
}

impl RunRow {
    fn of(info: &RunInfo, run_dir: &Path) -> RunRow {
        let h = &info.host;
        RunRow {
            run_id: info.run_id.clone(),
            fingerprint: host_fingerprint(h),
            hostname: h.hostname.clone(),
            version: info.tool.isobench_version.clone(),
            commit: info.tool.git_commit.clone(),
            started_at: info.started_at.clone(),
            run_dir: run_dir.display().to_string(),
            recorded_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
            finished_at: info.finished_at.clone(),
            cpu_model: h.cpu_model.clone(),
            cpu_mhz: h.cpu_mhz,
            cores_logical: h.cores_logical as i64,
            cores_physical: h.cores_physical.map(|c| c as i64),
            memory_bytes: h.memory_bytes as i64,
            kernel: h.kernel.clone(),
            os: h.os.clone(),
            cgroup: h.cgroup.clone(),
            kvm_device: h.kvm.device as i64,
            kvm_module: h.kvm.module.clone(),
            workload_binary: info.tool.workload_binary.clone(),
            workload_sha256: info.tool.workload_sha256.clone(),
            run_json: serde_json::to_string(info).unwrap_or_default(),
            result_lines: 0,
        }
    }

    /// The row's values for SQLite, in the order of [`RUN_COLUMNS`].
    fn sqlite_params(&self) -> [&dyn rusqlite::ToSql; RUN_COLUMNS.len()] {
        run_row_values!(self)
    }

    /// The same values for PostgreSQL.
    fn pg_params(&self) -> [&(dyn postgres::types::ToSql + Sync); RUN_COLUMNS.len()] {
        run_row_values!(self)
    }
}

/// JSON text of a map of a record, as stored.
fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Known configurations (environment, workload and parameters) of the run
/// being written: their text → `config_id`, so that a record's
/// configuration costs one map lookup, and the store is asked only for the
/// first record of each. Bounded: cleared when it holds [`CONFIGS_CACHED`].
#[derive(Default)]
struct Configs {
    ids: std::collections::HashMap<String, i64>,
    /// The current record's env_detail and params as JSON.
    detail: Vec<u8>,
    params: Vec<u8>,
    /// The current record's configuration: its five columns, each prefixed
    /// with its length.
    text: String,
}

/// A record's configuration columns, with its env_detail and params as
/// JSON.
fn columns<'a>(detail: &'a [u8], params: &'a [u8], r: &'a ResultRecord) -> ConfigColumns<'a> {
    [
        r.env.as_str(),
        r.env_id.as_str(),
        std::str::from_utf8(detail).unwrap_or_default(),
        r.workload.as_str(),
        std::str::from_utf8(params).unwrap_or_default(),
    ]
}

/// Configurations a writer remembers at most.
const CONFIGS_CACHED: usize = 4096;

/// The five columns of a configuration, as stored.
type ConfigColumns<'a> = [&'a str; 5];

impl Configs {
    /// Take `r`'s configuration as the current one: its id when known.
    fn find(&mut self, r: &ResultRecord) -> Option<i64> {
        self.detail.clear();
        self.params.clear();
        // Maps of strings and JSON values always serialise.
        let _ = serde_json::to_writer(&mut self.detail, &r.env_detail);
        let _ = serde_json::to_writer(&mut self.params, &r.params);
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        for part in columns(&self.detail, &self.params, r) {
            text.push_str(&part.len().to_string());
            text.push(':');
            text.push_str(part);
        }
        self.text = text;
        self.ids.get(self.text.as_str()).copied()
    }

    /// The current configuration's columns: env, env_id, env_detail,
    /// workload, params (the order of `configs`).
    fn columns<'a>(&'a self, r: &'a ResultRecord) -> ConfigColumns<'a> {
        columns(&self.detail, &self.params, r)
    }

    /// The key the current configuration is stored under in `configs`.
    fn key(&self) -> String {
        text_key(&self.text)
    }

    /// Remember the current configuration's id.
    fn remember(&mut self, id: i64) {
        if self.ids.len() >= CONFIGS_CACHED {
            self.ids.clear();
        }
        self.ids.insert(self.text.clone(), id);
    }
}

/// 128 bits of a configuration's length-prefixed text, in hex: FNV-1a of
/// the bytes forward and, with another offset, backward. Stable across
/// versions and platforms (it is stored); a collision is detected when the
/// key is looked up ([`check_config`]), not trusted.
fn text_key(text: &str) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01B3;
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for (x, y) in text.bytes().zip(text.bytes().rev()) {
        a = (a ^ x as u64).wrapping_mul(PRIME);
        b = (b ^ y as u64).wrapping_mul(PRIME);
    }
    format!("{a:016x}{b:016x}")
}

/// The key of a configuration given by its columns (as [`Configs::find`]
/// builds it).
fn config_key(cols: ConfigColumns<'_>) -> String {
    let mut text = String::new();
    for part in cols {
        text.push_str(&part.len().to_string());
        text.push(':');
        text.push_str(part);
    }
    text_key(&text)
}

/// Whether the stored configuration under a key is the one looked up: an
/// error names the key otherwise (two configurations with one key).
fn check_config(
    location: &str,
    key: &str,
    want: ConfigColumns<'_>,
    got: [&str; 5],
) -> Result<(), HistoryError> {
    if want == got {
        Ok(())
    } else {
        Err(HistoryError::ConfigKeyCollision {
            store: location.to_string(),
            key: key.to_string(),
        })
    }
}

/// Give every configuration without one its key (after migration 4 filled
/// `configs` from the old tables).
pub(super) fn fill_config_keys_sqlite(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let mut keyed = Vec::new();
    {
        let mut s = tx.prepare(
            "SELECT config_id, env, env_id, env_detail, workload, params
             FROM configs WHERE config_key IS NULL",
        )?;
        let mut rows = s.query([])?;
        while let Some(r) = rows.next()? {
            let cols: [String; 5] = [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?];
            keyed.push((
                r.get::<_, i64>(0)?,
                config_key(cols.each_ref().map(|c| c.as_str())),
            ));
        }
    }
    let mut s = tx.prepare("UPDATE configs SET config_key = ?1 WHERE config_id = ?2")?;
    for (id, key) in keyed {
        s.execute(params![key, id])?;
    }
    Ok(())
}

/// [`fill_config_keys_sqlite`] for PostgreSQL.
pub(super) fn fill_config_keys_pg(
    tx: &mut postgres::Transaction<'_>,
) -> Result<(), postgres::Error> {
    let rows = tx.query(
        "SELECT config_id, env, env_id, env_detail, workload, params
         FROM configs WHERE config_key IS NULL",
        &[],
    )?;
    for r in rows {
        let cols: [&str; 5] = [
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            r.try_get(4)?,
            r.try_get(5)?,
        ];
        let id: i64 = r.try_get(0)?;
        tx.execute(
            "UPDATE configs SET config_key = $1 WHERE config_id = $2",
            &[&config_key(cols), &id],
        )?;
    }
    Ok(())
}

/// The columns of one record that are stored as text.
struct RecordText {
    metrics: String,
    units: String,
    info: String,
}

impl RecordText {
    fn of(r: &ResultRecord) -> RecordText {
        RecordText {
            metrics: json(&r.metrics),
            units: json(&r.units),
            info: json(&r.info),
        }
    }
}

/// A batch of records' rows, column by column (PostgreSQL).
#[derive(Default)]
struct Batch {
    // repetitions
    line: Vec<i64>,
    config_id: Vec<i64>,
    rep: Vec<i64>,
    valid: Vec<i64>,
    metrics: Vec<String>,
    units: Vec<String>,
    info: Vec<String>,
    started_unix_ms: Vec<i64>,
    wall_ms: Vec<f64>,
    first_instruction_ms: Vec<Option<f64>>,
    error: Vec<Option<String>>,
    // results: one per finite metric value; `of` indexes the repetition
    of: Vec<usize>,
    metric: Vec<String>,
    value: Vec<f64>,
    unit: Vec<String>,
}

impl Batch {
    fn add(&mut self, line: i64, config_id: i64, r: &ResultRecord) -> usize {
        let i = self.line.len();
        let t = RecordText::of(r);
        self.line.push(line);
        self.config_id.push(config_id);
        self.rep.push(r.rep as i64);
        self.valid.push(r.valid as i64);
        self.metrics.push(t.metrics);
        self.units.push(t.units);
        self.info.push(t.info);
        self.started_unix_ms.push(r.timings.started_unix_ms as i64);
        self.wall_ms.push(r.timings.wall_ms);
        self.first_instruction_ms
            .push(r.timings.first_instruction_ms);
        self.error.push(r.error.clone());
        let before = self.value.len();
        for (metric, value) in &r.metrics {
            if !value.is_finite() {
                continue;
            }
            self.of.push(i);
            self.metric.push(metric.clone());
            self.value.push(*value);
            self.unit
                .push(r.units.get(metric).cloned().unwrap_or_default());
        }
        self.value.len() - before
    }

    fn clear(&mut self) {
        *self = Batch::default();
    }
}

/// Rows of one SQLite INSERT: a run's values and repetitions are buffered
/// and inserted this many at a time by one multi-row statement (one
/// statement step, and one pass through SQLite's interpreter, instead of
/// 100), the buffers' strings reused; fewer (the run's last rows) one by
/// one.
const SQLITE_ROWS: usize = 100;

/// `INSERT INTO table (run_id, cols...) VALUES ...` of `rows` rows: `?1` is
/// the run id, column `j` of row `i` is `?(2 + i * cols + j)`.
fn multi_insert_sql(table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = format!(
        "INSERT INTO {table} (run_id, {}) VALUES ",
        columns.join(", ")
    );
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?1");
        for j in 0..columns.len() {
            sql.push_str(&format!(", ?{}", 2 + i * columns.len() + j));
        }
        sql.push(')');
    }
    sql
}

const RESULT_COLUMNS: [&str; 6] = ["n", "config_id", "valid", "metric", "value", "unit"];
const REPETITION_COLUMNS: [&str; 11] = [
    "line",
    "config_id",
    "rep",
    "valid",
    "metrics",
    "units",
    "info",
    "started_unix_ms",
    "wall_ms",
    "first_instruction_ms",
    "error",
];
/// One row and [`SQLITE_ROWS`] rows of `results` and of `repetitions`.
static INSERT_RESULT: LazyLock<String> =
    LazyLock::new(|| multi_insert_sql("results", &RESULT_COLUMNS, 1));
static INSERT_RESULTS: LazyLock<String> =
    LazyLock::new(|| multi_insert_sql("results", &RESULT_COLUMNS, SQLITE_ROWS));
static INSERT_REPETITION: LazyLock<String> =
    LazyLock::new(|| multi_insert_sql("repetitions", &REPETITION_COLUMNS, 1));
static INSERT_REPETITIONS: LazyLock<String> =
    LazyLock::new(|| multi_insert_sql("repetitions", &REPETITION_COLUMNS, SQLITE_ROWS));

/// A `results` row waiting in [`SqliteRows`].
#[derive(Default)]
struct ValueRow {
    n: i64,
    config_id: i64,
    valid: i64,
    metric: String,
    value: f64,
    unit: String,
}

/// A `repetitions` row waiting in [`SqliteRows`]; its maps as JSON.
#[derive(Default)]
struct RepetitionRow {
    line: i64,
    config_id: i64,
    rep: i64,
    valid: i64,
    metrics: Vec<u8>,
    units: Vec<u8>,
    info: Vec<u8>,
    started_unix_ms: i64,
    wall_ms: f64,
    first_instruction_ms: Option<f64>,
    error: Option<String>,
}

/// Serialise `v` into `buf` (cleared first), as [`json`] does.
fn json_into(buf: &mut Vec<u8>, v: &impl serde::Serialize) {
    buf.clear();
    if serde_json::to_writer(&mut *buf, v).is_err() {
        buf.clear();
    }
}

/// Text of JSON written by [`json_into`] (always UTF-8).
fn text(buf: &[u8]) -> &str {
    std::str::from_utf8(buf).unwrap_or_default()
}

/// A table's row as bound into a (multi-row) INSERT.
trait Row {
    /// Bind the row's columns from parameter `first` on.
    fn bind(&self, s: &mut rusqlite::Statement<'_>, first: usize) -> rusqlite::Result<()>;
}

impl Row for ValueRow {
    fn bind(&self, s: &mut rusqlite::Statement<'_>, first: usize) -> rusqlite::Result<()> {
        s.raw_bind_parameter(first, self.n)?;
        s.raw_bind_parameter(first + 1, self.config_id)?;
        s.raw_bind_parameter(first + 2, self.valid)?;
        s.raw_bind_parameter(first + 3, self.metric.as_str())?;
        s.raw_bind_parameter(first + 4, self.value)?;
        s.raw_bind_parameter(first + 5, self.unit.as_str())
    }
}

impl Row for RepetitionRow {
    fn bind(&self, s: &mut rusqlite::Statement<'_>, first: usize) -> rusqlite::Result<()> {
        s.raw_bind_parameter(first, self.line)?;
        s.raw_bind_parameter(first + 1, self.config_id)?;
        s.raw_bind_parameter(first + 2, self.rep)?;
        s.raw_bind_parameter(first + 3, self.valid)?;
        s.raw_bind_parameter(first + 4, text(&self.metrics))?;
        s.raw_bind_parameter(first + 5, text(&self.units))?;
        s.raw_bind_parameter(first + 6, text(&self.info))?;
        s.raw_bind_parameter(first + 7, self.started_unix_ms)?;
        s.raw_bind_parameter(first + 8, self.wall_ms)?;
        s.raw_bind_parameter(first + 9, self.first_instruction_ms)?;
        s.raw_bind_parameter(first + 10, self.error.as_deref())
    }
}

/// Rows of one table waiting to be inserted (SQLite): `rows[..len]`, the
/// rest kept for their strings' memory.
struct Pending<R> {
    rows: Vec<R>,
    len: usize,
}

impl<R: Row + Default> Pending<R> {
    fn new() -> Pending<R> {
        Pending {
            rows: (0..SQLITE_ROWS).map(|_| R::default()).collect(),
            len: 0,
        }
    }

    /// The next row to fill in.
    fn next(&mut self) -> &mut R {
        self.len += 1;
        &mut self.rows[self.len - 1]
    }

    fn is_full(&self) -> bool {
        self.len == SQLITE_ROWS
    }

    /// Insert the waiting rows: a full buffer by the multi-row statement
    /// `many`, fewer rows one by one with `one`.
    fn insert(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        run_id: &str,
        one: &str,
        many: &str,
    ) -> rusqlite::Result<()> {
        let rows = &self.rows[..self.len];
        self.len = 0;
        if rows.len() == SQLITE_ROWS {
            let mut s = tx.prepare_cached(many)?;
            let columns = s.parameter_count().saturating_sub(1) / SQLITE_ROWS;
            s.raw_bind_parameter(1, run_id)?;
            for (i, row) in rows.iter().enumerate() {
                row.bind(&mut s, 2 + i * columns)?;
            }
            s.raw_execute()?;
        } else if !rows.is_empty() {
            let mut s = tx.prepare_cached(one)?;
            s.raw_bind_parameter(1, run_id)?;
            for row in rows {
                row.bind(&mut s, 2)?;
                s.raw_execute()?;
            }
        }
        Ok(())
    }
}

/// The rows a SQLite writer has not yet inserted.
struct SqliteRows {
    values: Pending<ValueRow>,
    repetitions: Pending<RepetitionRow>,
}

impl Default for SqliteRows {
    fn default() -> SqliteRows {
        SqliteRows {
            values: Pending::new(),
            repetitions: Pending::new(),
        }
    }
}

impl SqliteRows {
    /// Insert every waiting row (repetitions first, in order).
    fn insert(&mut self, tx: &rusqlite::Transaction<'_>, run_id: &str) -> rusqlite::Result<()> {
        self.repetitions
            .insert(tx, run_id, &INSERT_REPETITION, &INSERT_REPETITIONS)?;
        self.values
            .insert(tx, run_id, &INSERT_RESULT, &INSERT_RESULTS)
    }
}
/// Add a configuration unless its key is there (then the stored one is
/// read back by [`SELECT_CONFIG`]).
const INSERT_CONFIG: &str =
    "INSERT INTO configs (config_key, env, env_id, env_detail, workload, params)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (config_key) DO NOTHING";
const SELECT_CONFIG: &str =
    "SELECT config_id, env, env_id, env_detail, workload, params FROM configs WHERE config_key = ?1";
/// The same rows from arrays, one round trip per table and batch (PostgreSQL).
const PG_INSERT_RESULTS: &str =
    "INSERT INTO results (run_id, n, config_id, valid, metric, value, unit)
     SELECT $1::text, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[],
                                    $6::float8[], $7::text[])";
const PG_INSERT_REPETITIONS: &str =
    "INSERT INTO repetitions (run_id, line, config_id, rep, valid, metrics, units, info,
                              started_unix_ms, wall_ms, first_instruction_ms, error)
     SELECT $1::text, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
                                    $6::text[], $7::text[], $8::text[], $9::bigint[],
                                    $10::float8[], $11::float8[], $12::text[])";
/// Key of the PostgreSQL advisory lock a writer takes (until it commits)
/// before adding a configuration: concurrent pushes then never wait on each
/// other's new configurations in opposite orders (a deadlock).
const PG_CONFIG_LOCK: i64 = 0x1505_BE4C_0000_0004;

fn insert_run_sql(mode: Mode) -> String {
    let cols = RUN_COLUMNS.join(", ");
    let values: Vec<String> = (1..=RUN_COLUMNS.len()).map(|i| format!("?{i}")).collect();
    let conflict = match mode {
        Mode::IfAbsent => "DO NOTHING".to_string(),
        Mode::Replace => format!(
            "DO UPDATE SET {}",
            RUN_COLUMNS[1..]
                .iter()
                .map(|c| format!("{c} = excluded.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        "INSERT INTO runs ({cols}) VALUES ({}) ON CONFLICT (run_id) {conflict}",
        values.join(", ")
    )
}

enum Tx<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Pg(postgres::Transaction<'a>, Box<Batch>),
}

/// A run being written: its row is in the store's open transaction, its
/// records follow with [`RunWriter::add`]. Dropped without
/// [`RunWriter::commit`], the transaction is rolled back and nothing of the
/// run stays.
pub struct RunWriter<'a> {
    tx: Tx<'a>,
    run_id: String,
    lines: usize,
    values: usize,
    configs: Box<Configs>,
    /// Rows not yet inserted (SQLite).
    rows: Box<SqliteRows>,
    /// For messages: the store's location and (SQLite) path.
    location: String,
    path: PathBuf,
}

/// What [`History::begin_push`] found.
pub enum Begun<'a> {
    /// The run is new: write its records, then commit.
    Writing(RunWriter<'a>),
    /// A run of this id is already in the store; nothing was changed.
    /// `stored_repetitions` as in [`Pushed::AlreadyPresent`].
    AlreadyPresent { stored_repetitions: Option<i64> },
}

impl History {
    /// Record a loaded run, replacing an earlier recording of the same run id.
    /// Returns the number of metric values stored.
    pub fn record(&mut self, run: &Run) -> Result<usize, HistoryError> {
        match self.write(run, Mode::Replace)? {
            Pushed::Added { values, .. } => Ok(values),
            Pushed::AlreadyPresent { .. } => unreachable!("replace always writes"),
        }
    }

    /// Add a run unless its id is already in the store (then nothing is
    /// changed). One transaction: the run is stored whole or not at all, and
    /// concurrent pushes of the same run add it once.
    pub fn push(&mut self, run: &Run) -> Result<Pushed, HistoryError> {
        self.write(run, Mode::IfAbsent)
    }

    fn write(&mut self, run: &Run, mode: Mode) -> Result<Pushed, HistoryError> {
        match self.begin(&run.info, &run.dir, mode)? {
            Begun::AlreadyPresent { stored_repetitions } => {
                Ok(Pushed::AlreadyPresent { stored_repetitions })
            }
            Begun::Writing(mut w) => {
                for r in &run.records {
                    w.add(r)?;
                }
                w.commit()
            }
        }
    }

    /// Start adding the run `info` describes (read from `run_dir`) unless its
    /// id is already in the store: the store's transaction begins and the
    /// run's row is inserted. Concurrent pushes of one run id add it once
    /// (the second waits for the first and then finds it there).
    pub fn begin_push(
        &mut self,
        info: &RunInfo,
        run_dir: &Path,
    ) -> Result<Begun<'_>, HistoryError> {
        self.begin(info, run_dir, Mode::IfAbsent)
    }

    fn begin(
        &mut self,
        info: &RunInfo,
        run_dir: &Path,
        mode: Mode,
    ) -> Result<Begun<'_>, HistoryError> {
        let r = RunRow::of(info, run_dir);
        let location = self.location.clone();
        let path = self.path.clone();
        let started = match &mut self.backend {
            Backend::Sqlite(conn) => begin_sqlite(conn, &r, mode, &path)?,
            Backend::Pg(client) => begin_pg(client, &r, mode, &location)?,
        };
        let tx = match started {
            Started::Writing(tx) => tx,
            Started::AlreadyPresent(stored_repetitions) => {
                return Ok(Begun::AlreadyPresent { stored_repetitions })
            }
        };
        Ok(Begun::Writing(RunWriter {
            tx,
            run_id: r.run_id,
            lines: 0,
            values: 0,
            configs: Box::default(),
            rows: Box::default(),
            location,
            path,
        }))
    }
}

/// What the first step of writing a run found: the run's row inserted in
/// an open transaction, or the run already there (with its `result_lines`).
enum Started<'a> {
    Writing(Tx<'a>),
    AlreadyPresent(Option<i64>),
}

/// [`History::begin`] on SQLite: open the write transaction, insert the
/// run's row and (replacing) delete its earlier rows.
fn begin_sqlite<'a>(
    conn: &'a mut rusqlite::Connection,
    r: &RunRow,
    mode: Mode,
    path: &Path,
) -> Result<Started<'a>, HistoryError> {
    let sql = |source| HistoryError::Sql {
        path: path.to_path_buf(),
        source,
    };
    // A run's rows outgrow SQLite's default page cache (2 MiB) within a few
    // thousand lines; the B-tree pages then go out to the file and back in
    // for every row (profiled: most of a 100,000-line push). A larger cache
    // for this connection keeps them in memory, within push's memory budget.
    conn.pragma_update(None, "cache_size", -WRITE_CACHE_KIB)
        .map_err(sql)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sql)?;
    let n = tx
        .execute(
            &insert_run_sql(mode),
            rusqlite::params_from_iter(r.sqlite_params()),
        )
        .map_err(sql)?;
    if n == 0 {
        let stored = tx
            .query_row(
                "SELECT result_lines FROM runs WHERE run_id = ?1",
                [&r.run_id],
                |x| x.get::<_, Option<i64>>(0),
            )
            .map_err(sql)?;
        return Ok(Started::AlreadyPresent(stored));
    }
    if mode == Mode::Replace {
        for t in ["results", "repetitions"] {
            tx.execute(&format!("DELETE FROM {t} WHERE run_id = ?1"), [&r.run_id])
                .map_err(sql)?;
        }
    }
    Ok(Started::Writing(Tx::Sqlite(tx)))
}

/// [`begin_sqlite`] on PostgreSQL.
fn begin_pg<'a>(
    client: &'a mut postgres::Client,
    r: &RunRow,
    mode: Mode,
    location: &str,
) -> Result<Started<'a>, HistoryError> {
    let pg = |e| pg_err(location, e);
    let mut tx = client.transaction().map_err(pg)?;
    let n = tx
        .execute(&pg_sql(&insert_run_sql(mode)), &r.pg_params())
        .map_err(pg)?;
    if n == 0 {
        let stored: Option<i64> = tx
            .query_one(
                "SELECT result_lines FROM runs WHERE run_id = $1",
                &[&r.run_id],
            )
            .and_then(|x| x.try_get(0))
            .map_err(pg)?;
        tx.rollback().map_err(pg)?;
        return Ok(Started::AlreadyPresent(stored));
    }
    if mode == Mode::Replace {
        for t in ["results", "repetitions"] {
            tx.execute(&format!("DELETE FROM {t} WHERE run_id = $1"), &[&r.run_id])
                .map_err(pg)?;
        }
    }
    Ok(Started::Writing(Tx::Pg(tx, Box::default())))
}

impl RunWriter<'_> {
    /// The `config_id` of `r`'s configuration, added to `configs` when new.
    fn config_id(&mut self, r: &ResultRecord) -> Result<i64, HistoryError> {
        if let Some(id) = self.configs.find(r) {
            return Ok(id);
        }
        let key = self.configs.key();
        let want = self.configs.columns(r);
        let id = match &mut self.tx {
            Tx::Sqlite(tx) => {
                let sql = |source| HistoryError::Sql {
                    path: self.path.clone(),
                    source,
                };
                let stored = |tx: &rusqlite::Transaction<'_>| {
                    tx.prepare_cached(SELECT_CONFIG).and_then(|mut s| {
                        s.query_row([&key], |x| {
                            Ok((
                                x.get::<_, i64>(0)?,
                                [
                                    x.get::<_, String>(1)?,
                                    x.get(2)?,
                                    x.get(3)?,
                                    x.get(4)?,
                                    x.get(5)?,
                                ],
                            ))
                        })
                    })
                };
                tx.prepare_cached(INSERT_CONFIG)
                    .and_then(|mut s| {
                        s.execute(params![key, want[0], want[1], want[2], want[3], want[4]])
                    })
                    .map_err(sql)?;
                let (id, got) = stored(tx).map_err(sql)?;
                check_config(
                    &self.location,
                    &key,
                    want,
                    got.each_ref().map(|c| c.as_str()),
                )?;
                id
            }
            Tx::Pg(tx, _) => {
                let pg = |e| pg_err(&self.location, e);
                let select = pg_sql(SELECT_CONFIG);
                let mut row = tx.query_opt(&select, &[&key]).map_err(pg)?;
                if row.is_none() {
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_CONFIG_LOCK])
                        .map_err(pg)?;
                    tx.execute(
                        &pg_sql(INSERT_CONFIG),
                        &[&key, &want[0], &want[1], &want[2], &want[3], &want[4]],
                    )
                    .map_err(pg)?;
                    row = tx.query_opt(&select, &[&key]).map_err(pg)?;
                }
                let Some(row) = row else {
                    return Err(HistoryError::Pg {
                        url: self.location.clone(),
                        msg: format!("configuration {key} was added but is not there"),
                    });
                };
                let got: [&str; 5] = [
                    row.try_get(1).map_err(pg)?,
                    row.try_get(2).map_err(pg)?,
                    row.try_get(3).map_err(pg)?,
                    row.try_get(4).map_err(pg)?,
                    row.try_get(5).map_err(pg)?,
                ];
                check_config(&self.location, &key, want, got)?;
                row.try_get(0).map_err(pg)?
            }
        };
        self.configs.remember(id);
        Ok(id)
    }

    /// Write the run's next record (its results.jsonl line, and one row per
    /// finite metric value).
    pub fn add(&mut self, r: &ResultRecord) -> Result<(), HistoryError> {
        let line = self.lines as i64;
        let config_id = self.config_id(r)?;
        match &mut self.tx {
            Tx::Sqlite(tx) => {
                let sql = |source| HistoryError::Sql {
                    path: self.path.clone(),
                    source,
                };
                let valid = r.valid as i64;
                let rows = &mut self.rows;
                let x = rows.repetitions.next();
                x.line = line;
                x.config_id = config_id;
                x.rep = r.rep as i64;
                x.valid = valid;
                json_into(&mut x.metrics, &r.metrics);
                json_into(&mut x.units, &r.units);
                json_into(&mut x.info, &r.info);
                x.started_unix_ms = r.timings.started_unix_ms as i64;
                x.wall_ms = r.timings.wall_ms;
                x.first_instruction_ms = r.timings.first_instruction_ms;
                x.error.clone_from(&r.error);
                if rows.repetitions.is_full() {
                    rows.repetitions
                        .insert(tx, &self.run_id, &INSERT_REPETITION, &INSERT_REPETITIONS)
                        .map_err(sql)?;
                }
                for (metric, value) in &r.metrics {
                    if !value.is_finite() {
                        continue;
                    }
                    self.values += 1;
                    let v = rows.values.next();
                    v.n = self.values as i64;
                    v.config_id = config_id;
                    v.valid = valid;
                    v.metric.clear();
                    v.metric.push_str(metric);
                    v.value = *value;
                    v.unit.clear();
                    v.unit
                        .push_str(r.units.get(metric).map_or("", |u| u.as_str()));
                    if rows.values.is_full() {
                        rows.values
                            .insert(tx, &self.run_id, &INSERT_RESULT, &INSERT_RESULTS)
                            .map_err(sql)?;
                    }
                }
            }
            Tx::Pg(_, batch) => {
                self.values += batch.add(line, config_id, r);
                if batch.line.len() >= PG_WRITE_BATCH {
                    self.flush()?;
                }
            }
        }
        self.lines += 1;
        Ok(())
    }

    /// Insert the rows not yet inserted (SQLite), send the batch
    /// (PostgreSQL).
    fn flush(&mut self) -> Result<(), HistoryError> {
        let (tx, b) = match &mut self.tx {
            Tx::Sqlite(tx) => {
                return self
                    .rows
                    .insert(tx, &self.run_id)
                    .map_err(|source| HistoryError::Sql {
                        path: self.path.clone(),
                        source,
                    })
            }
            Tx::Pg(tx, b) => (tx, b),
        };
        if b.line.is_empty() {
            return Ok(());
        }
        let pg = |e| pg_err(&self.location, e);
        tx.execute(
            PG_INSERT_REPETITIONS,
            &[
                &self.run_id,
                &b.line,
                &b.config_id,
                &b.rep,
                &b.valid,
                &b.metrics,
                &b.units,
                &b.info,
                &b.started_unix_ms,
                &b.wall_ms,
                &b.first_instruction_ms,
                &b.error,
            ],
        )
        .map_err(pg)?;
        let pick_i = |col: &[i64]| -> Vec<i64> { b.of.iter().map(|&i| col[i]).collect() };
        // The batch's values are the last ones counted in `values`.
        let first = (self.values - b.value.len()) as i64 + 1;
        let n: Vec<i64> = (first..first + b.value.len() as i64).collect();
        tx.execute(
            PG_INSERT_RESULTS,
            &[
                &self.run_id,
                &n,
                &pick_i(&b.config_id),
                &pick_i(&b.valid),
                &b.metric,
                &b.value,
                &b.unit,
            ],
        )
        .map_err(pg)?;
        b.clear();
        Ok(())
    }

    /// Records written so far.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Read the rest of `run`'s results.jsonl and write every record. A
    /// second thread reads and parses while this one writes (the two cost
    /// about the same; on one core they simply take turns), handing over
    /// records in chunks through a bounded queue, so memory stays that of
    /// [`STREAM_QUEUE`] chunks of [`STREAM_CHUNK`] records. A line that is
    /// not a record is a [`HistoryError::Load`]; on any error the caller
    /// drops the writer, and nothing of the run stays.
    pub fn add_run(&mut self, run: OpenRun) -> Result<RunHeader, HistoryError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<ResultRecord>>(STREAM_QUEUE);
        std::thread::scope(|s| {
            let reader = s.spawn(move || {
                let mut chunk = Vec::with_capacity(STREAM_CHUNK);
                let mut open = true;
                let header = run.read_while(|r| {
                    chunk.push(r);
                    if chunk.len() == STREAM_CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(STREAM_CHUNK));
                        open = tx.send(full).is_ok();
                    }
                    if open {
                        ControlFlow::Continue(())
                    } else {
                        ControlFlow::Break(())
                    }
                });
                if open && !chunk.is_empty() {
                    let _ = tx.send(chunk);
                }
                header
            });
            let mut failed = None;
            'chunks: for chunk in rx.iter() {
                for r in &chunk {
                    if let Err(e) = self.add(r) {
                        failed = Some(e);
                        break 'chunks;
                    }
                }
            }
            // The reader stops at its next chunk once nobody receives.
            drop(rx);
            let header = reader.join().expect("the reading thread does not panic");
            match failed {
                Some(e) => Err(e),
                None => Ok(header?),
            }
        })
    }

    /// Write what is left, note the number of records in the run's row and
    /// commit: the run is in the store whole.
    pub fn commit(mut self) -> Result<Pushed, HistoryError> {
        self.flush()?;
        let added = Pushed::Added {
            repetitions: self.lines,
            values: self.values,
        };
        let lines = self.lines as i64;
        match self.tx {
            Tx::Sqlite(tx) => {
                let sql = |source| HistoryError::Sql {
                    path: self.path.clone(),
                    source,
                };
                tx.execute(
                    "UPDATE runs SET result_lines = ?1 WHERE run_id = ?2",
                    params![lines, self.run_id],
                )
                .map_err(sql)?;
                tx.commit().map_err(sql)?;
            }
            Tx::Pg(mut tx, _) => {
                let pg = |e| pg_err(&self.location, e);
                tx.execute(
                    "UPDATE runs SET result_lines = $1 WHERE run_id = $2",
                    &[&lines, &self.run_id],
                )
                .map_err(pg)?;
                tx.commit().map_err(pg)?;
            }
        }
        Ok(added)
    }
}

/// Record the run in `run_dir` into the store `db` names (a SQLite path or a
/// PostgreSQL URL; created if needed), streaming its results. Idempotent
/// per run id: an earlier recording is replaced. Returns the number of
/// metric values stored.
pub fn record_run_dir(db: &Path, run_dir: &Path) -> Result<usize, HistoryError> {
    let run = open_run(run_dir)?;
    let mut store = History::open(db)?;
    let Begun::Writing(mut w) = store.begin(&run.info, run_dir, Mode::Replace)? else {
        unreachable!("replace always writes")
    };
    w.add_run(run)?;
    match w.commit()? {
        Pushed::Added { values, .. } => Ok(values),
        Pushed::AlreadyPresent { .. } => unreachable!("replace always writes"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{History, MIGRATIONS, STORE_SCHEMA_VERSION};
    use super::*;
    use crate::testdata;

    #[test]
    fn keys_are_stable_and_length_prefixed() {
        let k = config_key(["native", "native", "{}", "membw", "{}"]);
        assert_eq!(k.len(), 32);
        assert_eq!(k, config_key(["native", "native", "{}", "membw", "{}"]));
        assert_ne!(k, config_key(["native", "nativ", "e{}", "membw", "{}"]));
        // Stored keys must not change between versions.
        assert_eq!(text_key(""), "cbf29ce4842223256c62272e07bb0142");
    }

    #[test]
    fn rows_inserted_many_at_a_time_read_back_whole() {
        // 260 records and 780 values: full multi-row INSERTs of both tables
        // and a tail of each inserted one by one.
        let tmp = tempfile::tempdir().unwrap();
        let mut h = History::open(&tmp.path().join("h.sqlite")).unwrap();
        let run = testdata::fixture_run(13, 1.0);
        assert_eq!(run.records.len(), 260);
        assert_eq!(
            h.push(&run).unwrap(),
            Pushed::Added {
                repetitions: 260,
                values: 780
            }
        );
        assert_eq!(h.repetitions(&run.info.run_id).unwrap(), run.records);
        assert_eq!(h.value_count().unwrap(), 780);
        let Backend::Sqlite(c) = &h.backend else {
            unreachable!()
        };
        let (lo, hi, n): (i64, i64, i64) = c
            .query_row(
                "SELECT MIN(n), MAX(n), COUNT(DISTINCT n) FROM results",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((lo, hi, n), (1, 780, 780));
    }

    #[test]
    fn a_version_3_store_is_normalised_keeping_every_value() {
        let tmp = tempfile::tempdir().unwrap();
        let old = tmp.path().join("v3.sqlite");
        let fresh = tmp.path().join("v4.sqlite");
        let run = testdata::fixture_run(3, 1.0);
        {
            // The run as schema version 3 stored it: every column per line
            // and per value.
            let mut c = rusqlite::Connection::open(&old).unwrap();
            let tx = c.transaction().unwrap();
            for m in &MIGRATIONS[..3] {
                tx.execute_batch(m).unwrap();
            }
            tx.execute("INSERT INTO schema_version (version) VALUES (3)", [])
                .unwrap();
            tx.execute(
                "INSERT INTO runs (run_id, host_fingerprint, hostname, isobench_version, started_at,
                                   run_dir, recorded_at_unix, run_json, result_lines)
                 VALUES (?1, 'fp', 'h', '0.1.0', ?2, '/r', 0, ?3, ?4)",
                params![
                    run.info.run_id,
                    run.info.started_at,
                    json(&run.info),
                    run.records.len() as i64
                ],
            )
            .unwrap();
            for (line, r) in run.records.iter().enumerate() {
                let (d, p) = (json(&r.env_detail), json(&r.params));
                tx.execute(
                    "INSERT INTO repetitions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                    params![
                        r.run_id, line as i64, r.env, r.env_id, d, r.workload, p, r.rep as i64,
                        r.valid as i64, json(&r.metrics), json(&r.units), json(&r.info),
                        r.timings.started_unix_ms as i64, r.timings.wall_ms,
                        r.timings.first_instruction_ms, r.error
                    ],
                )
                .unwrap();
                for (m, v) in &r.metrics {
                    tx.execute(
                        "INSERT INTO results VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                        params![
                            r.run_id,
                            r.env,
                            r.env_id,
                            d,
                            r.workload,
                            p,
                            r.rep as i64,
                            r.valid as i64,
                            m,
                            v,
                            r.units.get(m).cloned().unwrap_or_default()
                        ],
                    )
                    .unwrap();
                }
            }
            tx.commit().unwrap();
        }
        let mut h = History::open(&old).unwrap();
        assert_eq!(h.schema_version().unwrap(), STORE_SCHEMA_VERSION);
        assert_eq!(h.repetitions(&run.info.run_id).unwrap(), run.records);
        assert_eq!(h.value_count().unwrap(), 180);
        let mut f = History::open(&fresh).unwrap();
        f.push(&run).unwrap();
        let strip = |mut ps: Vec<crate::history::SeriesPoint>| {
            for p in ps.iter_mut() {
                p.host_fingerprint.clear();
                p.isobench_version.clear();
                p.run_dir.clear();
                p.git_commit = None;
            }
            ps
        };
        let migrated = strip(h.all_series(None, None, None).unwrap());
        assert_eq!(migrated.len(), 60);
        assert_eq!(migrated, strip(f.all_series(None, None, None).unwrap()));
        assert_eq!(h.metrics().unwrap(), f.metrics().unwrap());
        // The migrated configurations have keys: pushing a second run reuses
        // them.
        let mut again = run.clone();
        again.info.run_id = "again".into();
        for r in again.records.iter_mut() {
            r.run_id = "again".into();
        }
        h.push(&again).unwrap();
        assert_eq!(h.repetitions("again").unwrap(), again.records);
        let Backend::Sqlite(c) = &h.backend else {
            unreachable!()
        };
        let (n, keyed): (i64, i64) = c
            .query_row("SELECT COUNT(*), COUNT(config_key) FROM configs", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((n, keyed), (20, 20));
    }
}
