//! Where `report` and `compare` read a run from: a run directory, or a run
//! stored in a history store (SQLite file or PostgreSQL URL, `--db` or
//! `ISOBENCH_DB`). A command-line argument that names an existing directory
//! (or looks like a path: it holds a `/`) is a run directory; anything else
//! is a run id, or a unique prefix of one, in the store.

use anyhow::Result;
use isobench_reports::digest::{digest_run_dir, Digest};
use isobench_reports::history::{default_db_path, History, HistoryError};
use isobench_reports::load::LoadError;
use std::path::{Path, PathBuf};

/// One run named on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum RunRef {
    Dir(PathBuf),
    Stored(String),
}

impl RunRef {
    /// Classify a positional argument (see the module documentation).
    pub fn of_arg(arg: &Path) -> RunRef {
        let text = arg.to_string_lossy();
        if arg.is_dir() || text.contains('/') || text.starts_with('.') {
            RunRef::Dir(arg.to_path_buf())
        } else {
            RunRef::Stored(text.into_owned())
        }
    }
}

/// Reads runs, opening the store at most once (and only if a stored run is
/// asked for).
pub struct Reader {
    db: PathBuf,
    store: Option<History>,
}

impl Reader {
    pub fn new(db: Option<&Path>) -> Reader {
        Reader {
            db: db.map(Path::to_path_buf).unwrap_or_else(default_db_path),
            store: None,
        }
    }

    /// The run digested, or one error line: bad input (exit 2) for what the
    /// user named wrongly, a failure (exit 1) for an unreadable file or a
    /// failing server.
    pub fn digest(&mut self, r: &RunRef) -> Result<Digest> {
        match r {
            RunRef::Dir(dir) => digest_run_dir(dir).map_err(load_error),
            RunRef::Stored(id) => {
                if self.store.is_none() {
                    let h = History::open_existing(&self.db).map_err(|e| match e {
                        HistoryError::NoStore { .. } => crate::plan::usage(format!(
                            "{id} is neither a run directory nor a run id in a history store: {e}"
                        )),
                        other => crate::cmd::push::store_error(other),
                    })?;
                    self.store = Some(h);
                }
                let h = self.store.as_mut().expect("opened above");
                h.digest(id).map_err(|e| match e {
                    HistoryError::NoRun { .. } => crate::plan::usage(format!(
                        "{id} is neither a run directory nor a run id in the store: {e}"
                    )),
                    other => crate::cmd::push::store_error(other),
                })
            }
        }
    }
}

/// A run directory that cannot be read: bad input, except an I/O failure.
pub fn load_error(e: LoadError) -> anyhow::Error {
    match e {
        LoadError::Io { .. } => anyhow::Error::new(e),
        other => crate::plan::usage(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_directories_and_words_are_run_ids() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(RunRef::of_arg(tmp.path()), RunRef::Dir(tmp.path().into()));
        assert_eq!(
            RunRef::of_arg(Path::new("runs/missing")),
            RunRef::Dir("runs/missing".into())
        );
        assert_eq!(
            RunRef::of_arg(Path::new("20261127T181500Z-ab12")),
            RunRef::Stored("20261127T181500Z-ab12".into())
        );
    }
}
