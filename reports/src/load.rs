//! Reading a run directory (`run.json` + `results.jsonl`, see [`crate::schema`]).
//!
//! Reading the files is kept apart from parsing their text
//! ([`parse_results`] is pure). A missing or empty directory, an unknown schema
//! version or a malformed line in the middle of `results.jsonl` is an error
//! naming the path; a cut last line (the run was killed while writing it) is a
//! [`LoadWarning`] and the line is skipped.

use crate::schema::{ResultRecord, RunInfo, RESULTS_FILE, RUN_FILE, SCHEMA_VERSION};
use std::fmt;
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

/// Read and check a run directory.
pub fn load_run(dir: &Path) -> Result<Run, LoadError> {
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
    let results_text = read(&results_path)?;
    let (records, mut warnings) = parse_results(&results_text, &results_path)?;
    for (i, r) in records.iter().enumerate() {
        if r.run_id != info.run_id && warnings.len() < 20 {
            warnings.push(LoadWarning::ForeignRecord {
                path: results_path.clone(),
                line: i + 1,
                run_id: r.run_id.clone(),
            });
        }
    }
    Ok(Run {
        dir: dir.to_path_buf(),
        info,
        records,
        warnings,
    })
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
    let mut warnings = Vec::new();
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l))
        .collect();
    let last = lines.len();
    for (k, (line, l)) in lines.into_iter().enumerate() {
        let is_last = k + 1 == last;
        let value: serde_json::Value = match serde_json::from_str(l) {
            Ok(v) => v,
            // The runner ends every line with a newline: a last line without
            // one, or one cut inside a value, was being written when the run
            // stopped.
            Err(source) if is_last && (source.is_eof() || !text.ends_with('\n')) => {
                warnings.push(LoadWarning::TruncatedLastLine {
                    path: path.to_path_buf(),
                    line,
                });
                continue;
            }
            Err(source) => {
                return Err(LoadError::BadLine {
                    path: path.to_path_buf(),
                    line,
                    source,
                })
            }
        };
        match schema_of(&value) {
            Some(v) if v == SCHEMA_VERSION as u64 => {}
            Some(found) => {
                return Err(LoadError::Schema {
                    path: path.to_path_buf(),
                    line: Some(line),
                    found,
                    supported: SCHEMA_VERSION,
                })
            }
            None => {}
        }
        let rec = serde_json::from_value(value).map_err(|source| LoadError::BadLine {
            path: path.to_path_buf(),
            line,
            source,
        })?;
        records.push(rec);
    }
    if records.is_empty() {
        warnings.push(LoadWarning::NoResults {
            path: path.to_path_buf(),
        });
    }
    Ok((records, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;

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
        let run = testdata::fixture_run(3, 1.0);
        testdata::write_run_dir(tmp.path(), &run);
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
        let run = testdata::fixture_run(1, 1.0);
        let line = serde_json::to_string(&run.records[0]).unwrap();
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
    fn a_bad_line_in_the_middle_is_an_error_with_its_line() {
        let text = "{\"schema\": 1, \"run_id\"\n{}\n";
        let e = parse_results(text, Path::new("r.jsonl")).unwrap_err();
        assert!(e.to_string().starts_with("r.jsonl:1:"), "{e}");
    }

    #[test]
    fn unknown_schema_is_refused() {
        let run = testdata::fixture_run(2, 1.0);
        let mut rec = serde_json::to_value(&run.records[0]).unwrap();
        rec["schema"] = 99.into();
        let text = format!("{}\n", rec);
        let e = parse_results(&text, Path::new("x/results.jsonl")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("x/results.jsonl:1"), "{msg}");
        assert!(msg.contains("schema version 99"), "{msg}");

        let mut info = serde_json::to_value(&run.info).unwrap();
        info["schema"] = 2.into();
        let e = parse_run_info(&info.to_string(), Path::new("x/run.json")).unwrap_err();
        assert!(
            e.to_string().contains("x/run.json: schema version 2"),
            "{e}"
        );
    }

    #[test]
    fn a_fixture_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let run = testdata::fixture_run(3, 1.0);
        testdata::write_run_dir(tmp.path(), &run);
        let loaded = load_run(tmp.path()).unwrap();
        assert_eq!(loaded.records, run.records);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }
}
