//! The run directory (docs/design.md, "Results"): `run.json` and
//! `results.jsonl`. All file I/O of a run goes through here, with the path in
//! every error.
//!
//! Each result line is written with one `write` on an `O_APPEND` file and
//! synced before the next run starts, so a crash (even `kill -9`) loses
//! nothing that had finished; a line cut short by a crash is dropped when the
//! run is resumed.

use anyhow::{Context, Result};
use isobench_reports::schema::{ResultRecord, RunInfo, RESULTS_FILE, RUN_FILE};
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Key of a measured run, for `--resume`.
pub type DoneKey = (String, String, u32);

pub struct RunDir {
    path: PathBuf,
    results: File,
}

impl RunDir {
    /// Create a new run directory; it must not hold a run already.
    pub fn create(path: &Path) -> Result<RunDir> {
        fs::create_dir_all(path)
            .with_context(|| format!("cannot create output directory {}", path.display()))?;
        if path.join(RUN_FILE).exists() || path.join(RESULTS_FILE).exists() {
            anyhow::bail!(
                "{} already holds a run; continue it with --resume {} or choose another --out",
                path.display(),
                path.display()
            );
        }
        let results = open_append(&path.join(RESULTS_FILE))?;
        Ok(RunDir {
            path: path.to_path_buf(),
            results,
        })
    }

    /// Open an existing run for `--resume`: returns the directory, its
    /// `run.json`, and the keys of the runs already measured. A last line cut
    /// short by a crash is removed from the file.
    pub fn resume(path: &Path) -> Result<(RunDir, RunInfo, HashSet<DoneKey>, Vec<String>)> {
        let info = read_run_info(path)?;
        let rpath = path.join(RESULTS_FILE);
        let text = fs::read_to_string(&rpath).unwrap_or_default();
        let (keep_len, done, warnings) = scan_results(&text);
        if keep_len < text.len() {
            let f = OpenOptions::new()
                .write(true)
                .open(&rpath)
                .with_context(|| format!("cannot open {}", rpath.display()))?;
            f.set_len(keep_len as u64)
                .with_context(|| format!("cannot truncate {}", rpath.display()))?;
        }
        let results = open_append(&rpath)?;
        Ok((
            RunDir {
                path: path.to_path_buf(),
                results,
            },
            info,
            done,
            warnings,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write_run_info(&self, info: &RunInfo) -> Result<()> {
        let p = self.path.join(RUN_FILE);
        let tmp = self.path.join(".run.json.tmp");
        let json = serde_json::to_vec_pretty(info).context("serialising run.json")?;
        fs::write(&tmp, json).with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, &p).with_context(|| format!("cannot write {}", p.display()))?;
        Ok(())
    }

    /// Append one result line and make it durable before returning.
    pub fn append(&mut self, rec: &ResultRecord) -> Result<()> {
        // Every stored metric carries its direction (from its definition).
        let mut rec = rec.clone();
        rec.fill_directions();
        let mut line = serde_json::to_vec(&rec).context("serialising a result")?;
        line.push(b'\n');
        let p = self.path.join(RESULTS_FILE);
        self.results
            .write_all(&line)
            .and_then(|_| self.results.sync_data())
            .with_context(|| format!("cannot append to {}", p.display()))
    }
}

fn open_append(p: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .with_context(|| format!("cannot open {}", p.display()))
}

/// Every whole result line of a run directory (after [`RunDir::resume`]
/// dropped a cut-short last line), for a resumed experiment to see which
/// of its measurements are done.
pub fn read_results(dir: &Path) -> Result<Vec<ResultRecord>> {
    let p = dir.join(RESULTS_FILE);
    let text = match fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", p.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{} line {} is not a result", p.display(), i + 1))
        })
        .collect()
}

/// Which experiment a run directory holds (`density`, `neighbours`), from
/// its run.json; `None` for a suite run.
pub fn experiment_of(info: &RunInfo) -> Option<String> {
    if let Some(e) = info.config.get("experiment").and_then(|v| v.as_str()) {
        return Some(e.to_string());
    }
    info.environments
        .iter()
        .find_map(|e| e.detail.get("experiment").cloned())
}

pub fn read_run_info(dir: &Path) -> Result<RunInfo> {
    let p = dir.join(RUN_FILE);
    let text = fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a valid run.json", p.display()))
}

/// Scan the text of results.jsonl: how many leading bytes are whole, valid
/// lines, which runs they hold, and warnings about what was dropped.
pub fn scan_results(text: &str) -> (usize, HashSet<DoneKey>, Vec<String>) {
    let mut done = HashSet::new();
    let mut warnings = Vec::new();
    let mut keep = 0;
    let mut offset = 0;
    for (i, chunk) in text.split_inclusive('\n').enumerate() {
        offset += chunk.len();
        let complete = chunk.ends_with('\n');
        match serde_json::from_str::<ResultRecord>(chunk.trim_end()) {
            Ok(r) if complete => {
                done.insert((r.env_id, r.workload, r.rep));
                keep = offset;
            }
            _ if chunk.trim().is_empty() && complete => keep = offset,
            _ => {
                warnings.push(format!(
                    "results line {} is incomplete or malformed (a crash mid-write?); dropped",
                    i + 1
                ));
                break;
            }
        }
    }
    (keep, done, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use isobench_reports::schema::{Timings, SCHEMA_VERSION};
    use std::collections::BTreeMap;

    fn rec(rep: u32) -> ResultRecord {
        ResultRecord {
            schema: SCHEMA_VERSION,
            run_id: "r".into(),
            env: "native".into(),
            env_id: "native".into(),
            env_detail: BTreeMap::new(),
            workload: "cpu".into(),
            params: BTreeMap::new(),
            rep,
            valid: true,
            metrics: BTreeMap::from([("gflops".into(), 1.0)]),
            units: BTreeMap::from([("gflops".into(), "GFLOP/s".into())]),
            directions: Default::default(),
            aliases: Default::default(),
            info: BTreeMap::new(),
            timings: Timings::default(),
            error: None,
        }
    }

    #[test]
    fn truncated_last_line_is_dropped_and_rest_kept() {
        let a = serde_json::to_string(&rec(0)).unwrap();
        let b = serde_json::to_string(&rec(1)).unwrap();
        let text = format!("{a}\n{b}\n{}", &a[..a.len() / 2]);
        let (keep, done, warn) = scan_results(&text);
        assert_eq!(keep, a.len() + b.len() + 2);
        assert_eq!(done.len(), 2);
        assert!(done.contains(&("native".into(), "cpu".into(), 1)));
        assert_eq!(warn.len(), 1);
    }

    #[test]
    fn create_refuses_an_existing_run_and_resume_truncates() {
        let t = tempfile::tempdir().unwrap();
        let mut d = RunDir::create(t.path()).unwrap();
        d.append(&rec(0)).unwrap();
        drop(d);
        let err = RunDir::create(t.path()).err().unwrap();
        assert!(format!("{err}").contains("--resume"));
        // Simulate a crash mid-write.
        let mut f = OpenOptions::new()
            .append(true)
            .open(t.path().join(RESULTS_FILE))
            .unwrap();
        f.write_all(b"{\"schema\":1,\"run_").unwrap();
        drop(f);
        assert!(RunDir::resume(t.path()).is_err(), "no run.json yet");
    }
}
