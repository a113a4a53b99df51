//! Reading a run directory (`run.json` + `results.jsonl`, see [`crate::schema`]).
//!
//! Reading the files is kept apart from parsing their text
//! ([`parse_results`] is pure). A missing or empty directory, an unknown schema
//! version or a malformed line in the middle of `results.jsonl` is an error
//! naming the path; a cut last line (the run was killed while writing it) is a
//! [`LoadWarning`] and the line is skipped.

use crate::schema::{ResultRecord, RunInfo, RESULTS_FILE, RUN_FILE, SCHEMA_VERSION};
use std::fmt;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Why a run directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "run directory {0} does not exist (pass the directory that `isobench run --out` wrote)"
    )]
    Missing(PathBuf),
    #[error("{0} is not a directory (pass a run directory holding run.json and results.jsonl)")]
    NotADirectory(PathBuf),
    #[error("run directory {0} is empty: no run.json and no results.jsonl (did `isobench run` start there?)")]
    Empty(PathBuf),
    #[error("{0} is missing: not a complete isobench run directory")]
    MissingFile(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid run.json: {source}")]
    RunJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}{}: schema version {found} is not supported (this isobench reads version {supported}; render it with the isobench version that wrote it)", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Schema {
        path: PathBuf,
        line: Option<usize>,
        found: u64,
        supported: u32,
    },
    #[error("{path}:{line}: malformed result line: {source}")]
    BadLine {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
}

/// A problem that does not stop a report, with advice.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadWarning {
    /// The last line of results.jsonl is cut off and was skipped.
    TruncatedLastLine { path: PathBuf, line: usize },
    /// results.jsonl holds no result yet.
    NoResults { path: PathBuf },
    /// A record names another run than run.json.
    ForeignRecord {
        path: PathBuf,
        line: usize,
        run_id: String,
    },
}

impl fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadWarning::TruncatedLastLine { path, line } => write!(
                f,
                "{}:{line}: last line is truncated (the run was interrupted while writing it) and was skipped; `isobench run --resume` repeats that measurement",
                path.display()
            ),
            LoadWarning::NoResults { path } => write!(
                f,
                "{}: no results yet; the report will be empty until `isobench run` measures something",
                path.display()
            ),
            LoadWarning::ForeignRecord { path, line, run_id } => write!(
                f,
                "{}:{line}: result belongs to run {run_id}, not to this run directory's run.json; it was kept",
                path.display()
            ),
        }
    }
}

/// A run directory read into memory.
#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    pub info: RunInfo,
    pub records: Vec<ResultRecord>,
    pub warnings: Vec<LoadWarning>,
}

/// What reading a run directory gives besides its records.
#[derive(Debug, Clone)]
pub struct RunHeader {
    pub dir: PathBuf,
    pub info: RunInfo,
    pub warnings: Vec<LoadWarning>,
    /// Records read (lines of results.jsonl that parsed).
    pub lines: usize,
}

/// Read and check a run directory.
pub fn load_run(dir: &Path) -> Result<Run, LoadError> {
    let mut records = Vec::new();
    let h = read_run(dir, |r| records.push(r))?;
    Ok(Run {
        dir: h.dir,
        info: h.info,
        records,
        warnings: h.warnings,
    })
}

/// Read and check a run directory, handing each record of results.jsonl to
/// `sink` as it is parsed (nothing is held: a run of any length reads in
/// the memory of one line).
pub fn read_run(dir: &Path, sink: impl FnMut(ResultRecord)) -> Result<RunHeader, LoadError> {
    let mut sink = sink;
    open_run(dir)?.read_while(|r| {
        sink(r);
        ControlFlow::Continue(())
    })
}

/// A run directory whose `run.json` is read and checked and whose
/// `results.jsonl` is open but not yet read ([`open_run`]): a writer can act
/// on the run's facts (its id, whether it finished) before the first record.
#[derive(Debug)]
pub struct OpenRun {
    pub dir: PathBuf,
    pub info: RunInfo,
    results_path: PathBuf,
    results: std::fs::File,
}

/// Check a run directory, read its `run.json` and open its `results.jsonl`.
pub fn open_run(dir: &Path) -> Result<OpenRun, LoadError> {
    let meta = std::fs::metadata(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LoadError::Missing(dir.to_path_buf()),
        _ => LoadError::Io {
            path: dir.to_path_buf(),
            source: e,
        },
    })?;
    if !meta.is_dir() {
        return Err(LoadError::NotADirectory(dir.to_path_buf()));
    }
    let run_path = dir.join(RUN_FILE);
    let results_path = dir.join(RESULTS_FILE);
    match (run_path.exists(), results_path.exists()) {
        (false, false) => return Err(LoadError::Empty(dir.to_path_buf())),
        (false, true) => return Err(LoadError::MissingFile(run_path)),
        (true, false) => return Err(LoadError::MissingFile(results_path)),
        (true, true) => {}
    }
    let run_text = read(&run_path)?;
    let info = parse_run_info(&run_text, &run_path)?;
    let results = std::fs::File::open(&results_path).map_err(|source| LoadError::Io {
        path: results_path.clone(),
        source,
    })?;
    Ok(OpenRun {
        dir: dir.to_path_buf(),
        info,
        results_path,
        results,
    })
}

impl OpenRun {
    /// Read `results.jsonl`, handing each record to `sink` as it is parsed,
    /// until the file ends or `sink` breaks (then the header counts the
    /// records read so far, and the caller knows why it stopped).
    pub fn read_while(
        self,
        mut sink: impl FnMut(ResultRecord) -> ControlFlow<()>,
    ) -> Result<RunHeader, LoadError> {
        let OpenRun {
            dir,
            info,
            results_path,
            results,
        } = self;
        let reader = std::io::BufReader::with_capacity(1 << 18, results);
        let mut foreign = Vec::new();
        let (lines, mut warnings) = stream_results_while(reader, &results_path, |line, r| {
            if r.run_id != info.run_id && foreign.len() < 20 {
                foreign.push(LoadWarning::ForeignRecord {
                    path: results_path.clone(),
                    line,
                    run_id: r.run_id.clone(),
                });
            }
            sink(r)
        })?;
        warnings.extend(foreign);
        Ok(RunHeader {
            dir,
            info,
            warnings,
            lines,
        })
    }
}

fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn schema_of(v: &serde_json::Value) -> Option<u64> {
    v.get("schema").and_then(|s| s.as_u64())
}

/// Parse `run.json` text; `path` is only for messages.
pub fn parse_run_info(text: &str, path: &Path) -> Result<RunInfo, LoadError> {
    let json_err = |source| LoadError::RunJson {
        path: path.to_path_buf(),
        source,
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(json_err)?;
    if let Some(found) = schema_of(&value) {
        if found != SCHEMA_VERSION as u64 {
            return Err(LoadError::Schema {
                path: path.to_path_buf(),
                line: None,
                found,
                supported: SCHEMA_VERSION,
            });
        }
    }
    serde_json::from_value(value).map_err(json_err)
}

/// Parse `results.jsonl` text; `path` is only for messages. Blank lines are
/// ignored; a last line that does not parse is skipped with a warning.
pub fn parse_results(
    text: &str,
    path: &Path,
) -> Result<(Vec<ResultRecord>, Vec<LoadWarning>), LoadError> {
    let mut records = Vec::new();
    let (_, warnings) = stream_results(text.as_bytes(), path, |_, r| records.push(r))?;
    Ok((records, warnings))
}

/// One line of results.jsonl: a record, or why it is not one.
fn parse_line(l: &str, path: &Path, line: usize) -> Result<ResultRecord, LineError> {
    // The common case in one pass: straight into the record.
    if let Ok(rec) = serde_json::from_str::<ResultRecord>(l) {
        if rec.schema != SCHEMA_VERSION {
            return Err(LineError::Fatal(LoadError::Schema {
                path: path.to_path_buf(),
                line: Some(line),
                found: rec.schema as u64,
                supported: SCHEMA_VERSION,
            }));
        }
        return Ok(classify(rec));
    }
    // Otherwise find out why, as JSON first.
    let value: serde_json::Value = serde_json::from_str(l).map_err(LineError::Json)?;
    match schema_of(&value) {
        Some(found) if found != SCHEMA_VERSION as u64 => Err(LineError::Fatal(LoadError::Schema {
            path: path.to_path_buf(),
            line: Some(line),
            found,
            supported: SCHEMA_VERSION,
        })),
        // (A line with a repeated key parses as a value only.)
        _ => serde_json::from_value::<ResultRecord>(value)
            .map(classify)
            .map_err(|source| {
                LineError::Fatal(LoadError::BadLine {
                    path: path.to_path_buf(),
                    line,
                    source,
                })
            }),
    }
}

/// A sandbox (gVisor's runsc: a user-space kernel) runs as an OCI runtime,
/// so its records say `container`, but it is a class of its own between
/// containers and VMs: its environment detail says so (`class`), and the
/// claims about containers must not count it. Its records are read as
/// environment class `sandbox`.
fn classify(mut rec: ResultRecord) -> ResultRecord {
    if rec.env == "container"
        && rec
            .env_detail
            .get("class")
            .is_some_and(|c| c.starts_with("sandbox"))
    {
        rec.env = "sandbox".to_string();
    }
    rec
}

enum LineError {
    /// Not JSON: fatal unless it is the last line (cut off by a crash).
    Json(serde_json::Error),
    Fatal(LoadError),
}

/// Parse results.jsonl from `reader`, handing `sink` each record with its
/// line number. Returns the number of records and the warnings. A line that
/// is not JSON is an error, except as the last non-blank line when it is cut
/// off (no newline, or cut inside a value): the runner ends every line with
/// a newline, so that line was being written when the run stopped.
pub fn stream_results(
    reader: impl std::io::BufRead,
    path: &Path,
    mut sink: impl FnMut(usize, ResultRecord),
) -> Result<(usize, Vec<LoadWarning>), LoadError> {
    stream_results_while(reader, path, |line, r| {
        sink(line, r);
        ControlFlow::Continue(())
    })
}

/// [`stream_results`] with a sink that may stop the reading (a store that
/// failed): the count and warnings are those of the lines read until then.
pub fn stream_results_while(
    mut reader: impl std::io::BufRead,
    path: &Path,
    mut sink: impl FnMut(usize, ResultRecord) -> ControlFlow<()>,
) -> Result<(usize, Vec<LoadWarning>), LoadError> {
    let mut warnings = Vec::new();
    let mut buf = String::new();
    let mut line = 0;
    let mut count = 0;
    // A line that was not JSON, decided when the next non-blank line (an
    // error) or the end (a cut last line, perhaps) shows up.
    let mut pending: Option<(usize, serde_json::Error, bool)> = None;
    loop {
        buf.clear();
        let n = reader.read_line(&mut buf).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if n == 0 {
            break;
        }
        line += 1;
        if buf.trim().is_empty() {
            continue;
        }
        if let Some((l, source, _)) = pending.take() {
            return Err(LoadError::BadLine {
                path: path.to_path_buf(),
                line: l,
                source,
            });
        }
        let ended = buf.ends_with('\n');
        match parse_line(buf.trim_end_matches(['\n', '\r']), path, line) {
            Ok(rec) => {
                count += 1;
                if sink(line, rec).is_break() {
                    return Ok((count, warnings));
                }
            }
            Err(LineError::Json(e)) => pending = Some((line, e, ended)),
            Err(LineError::Fatal(e)) => return Err(e),
        }
    }
    if let Some((l, source, ended)) = pending {
        if source.is_eof() || !ended {
            warnings.push(LoadWarning::TruncatedLastLine {
                path: path.to_path_buf(),
                line: l,
            });
        } else {
            return Err(LoadError::BadLine {
                path: path.to_path_buf(),
                line: l,
                source,
            });
        }
    }
    if count == 0 {
        warnings.push(LoadWarning::NoResults {
            path: path.to_path_buf(),
        });
    }
    Ok((count, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{EnvInfo, HostInfo, Timings, ToolInfo};
    use std::collections::BTreeMap;

    const RUN_ID: &str = "20261127T181500Z-load";

    /// A `run.json` of a native and a container column. (The realistic run
    /// of every workload is `testdata`'s, whose round trip through
    /// [`load_run`] is tested there.)
    fn info() -> RunInfo {
        RunInfo {
            schema: SCHEMA_VERSION,
            run_id: RUN_ID.into(),
            started_at: "2026-11-27T18:15:00Z".into(),
            finished_at: None,
            host: HostInfo::default(),
            tool: ToolInfo::default(),
            config: serde_json::json!({"reps": 3}),
            environments: ["native", "container"]
                .map(|e| EnvInfo {
                    env: e.into(),
                    env_id: e.into(),
                    detail: BTreeMap::new(),
                })
                .to_vec(),
            warnings: vec![],
        }
    }

    /// A valid cpu record of environment `env` (also its class).
    fn record(env: &str, rep: u32) -> ResultRecord {
        ResultRecord {
            schema: SCHEMA_VERSION,
            run_id: RUN_ID.into(),
            env: env.into(),
            env_id: env.into(),
            env_detail: BTreeMap::new(),
            workload: "cpu".into(),
            params: BTreeMap::from([("threads".to_string(), serde_json::json!(1))]),
            rep,
            valid: true,
            metrics: BTreeMap::from([("primes_per_s".to_string(), 52020.0 + rep as f64)]),
            units: BTreeMap::from([("primes_per_s".to_string(), "primes/s".to_string())]),
            directions: Default::default(),
            aliases: Default::default(),
            info: BTreeMap::new(),
            timings: Timings {
                started_unix_ms: 1_795_803_300_000 + rep as u64 * 60_000,
                wall_ms: 900.0,
                first_instruction_ms: None,
            },
            error: None,
        }
    }

    /// Records of both columns, `reps` repetitions each.
    fn records(reps: u32) -> Vec<ResultRecord> {
        (0..reps)
            .flat_map(|rep| [record("native", rep), record("container", rep)])
            .collect()
    }

    /// Write `run.json` and `results.jsonl` of [`info`] and `records`.
    fn write_dir(dir: &Path, records: &[ResultRecord]) {
        let info = serde_json::to_string_pretty(&info()).unwrap();
        std::fs::write(dir.join(RUN_FILE), info).unwrap();
        let lines: String = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        std::fs::write(dir.join(RESULTS_FILE), lines).unwrap();
    }

    #[test]
    fn missing_and_empty_directories_are_errors_naming_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        let e = load_run(&missing).unwrap_err();
        assert!(matches!(e, LoadError::Missing(_)));
        assert!(e.to_string().contains(&missing.display().to_string()));
        let e = load_run(tmp.path()).unwrap_err();
        assert!(matches!(e, LoadError::Empty(_)), "{e}");
        assert!(e.to_string().contains("is empty"));
    }

    #[test]
    fn truncated_last_line_is_a_warning() {
        let tmp = tempfile::tempdir().unwrap();
        write_dir(tmp.path(), &records(3));
        let p = tmp.path().join(RESULTS_FILE);
        let mut text = std::fs::read_to_string(&p).unwrap();
        let n_lines = text.lines().count();
        text.truncate(text.len() - 40);
        std::fs::write(&p, &text).unwrap();
        let loaded = load_run(tmp.path()).unwrap();
        assert_eq!(loaded.records.len(), n_lines - 1);
        assert_eq!(
            loaded.warnings,
            vec![LoadWarning::TruncatedLastLine {
                path: p.clone(),
                line: n_lines
            }]
        );
        assert!(loaded.warnings[0].to_string().contains("truncated"));
    }

    #[test]
    fn a_last_line_cut_inside_a_literal_is_truncated_too() {
        let line = serde_json::to_string(&record("native", 0)).unwrap();
        let cut = line.find("true").unwrap() + 2;
        let text = format!("{line}\n{}", &line[..cut]);
        let (records, warnings) = parse_results(&text, Path::new("r.jsonl")).unwrap();
        assert_eq!(records.len(), 1);
        assert!(matches!(
            warnings[0],
            LoadWarning::TruncatedLastLine { line: 2, .. }
        ));
    }

    #[test]
    fn a_sandbox_column_is_its_own_class() {
        let mut rec = record("container", 0);
        let plain = serde_json::to_string(&rec).unwrap();
        rec.env_detail
            .insert("class".into(), "sandbox: user-space kernel (runsc)".into());
        let sandbox = serde_json::to_string(&rec).unwrap();
        let (records, _) =
            parse_results(&format!("{plain}\n{sandbox}\n"), Path::new("r.jsonl")).unwrap();
        assert_eq!(records[0].env, "container");
        assert_eq!(records[1].env, "sandbox");
    }

    #[test]
    fn a_bad_line_in_the_middle_is_an_error_with_its_line() {
        let text = "{\"schema\": 1, \"run_id\"\n{}\n";
        let e = parse_results(text, Path::new("r.jsonl")).unwrap_err();
        assert!(e.to_string().starts_with("r.jsonl:1:"), "{e}");
    }

    #[test]
    fn unknown_schema_is_refused() {
        let mut rec = serde_json::to_value(record("native", 0)).unwrap();
        rec["schema"] = 99.into();
        let text = format!("{}\n", rec);
        let e = parse_results(&text, Path::new("x/results.jsonl")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("x/results.jsonl:1"), "{msg}");
        assert!(msg.contains("schema version 99"), "{msg}");

        let mut info = serde_json::to_value(info()).unwrap();
        info["schema"] = 2.into();
        let e = parse_run_info(&info.to_string(), Path::new("x/run.json")).unwrap_err();
        assert!(
            e.to_string().contains("x/run.json: schema version 2"),
            "{e}"
        );
    }
}
