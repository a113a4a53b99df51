//! The one place that writes report files; every error names the path.

use std::path::{Path, PathBuf};

/// A file to write: a name relative to the output directory and its bytes.
#[derive(Debug, Clone)]
pub struct OutputFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot create output directory {path}: {source} (pass another --out DIR)")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Write every file into `dir` (created), each through a temporary file and a
/// rename so a reader never sees half a report. Returns the paths written.
pub fn write_files(dir: &Path, files: &[OutputFile]) -> Result<Vec<PathBuf>, WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for f in files {
        let path = dir.join(&f.name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| WriteError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let tmp = path.with_extension("tmp~");
        std::fs::write(&tmp, &f.bytes)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|source| WriteError::Write {
                path: path.clone(),
                source,
            })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        let out = blocker.join("report");
        let e = write_files(&out, &[]).unwrap_err();
        assert!(e.to_string().contains(&out.display().to_string()), "{e}");
        let ok = write_files(
            tmp.path(),
            &[OutputFile {
                name: "plots/a.txt".into(),
                bytes: b"hi".to_vec(),
            }],
        )
        .unwrap();
        assert_eq!(std::fs::read(&ok[0]).unwrap(), b"hi");
    }
}
