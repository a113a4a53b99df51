//! A run reduced to what reports and comparisons read: its `run.json`, the
//! figures of its records ([`Analysis`]) and the facts beside them
//! ([`Facts`]). Records stream through a [`Digester`] one at a time, from a
//! run directory ([`digest_run_dir`]) or from a history store
//! (`History::digest`), so that a run of 100,000 lines is never held in
//! memory: what stays is one value per metric per record (12 bytes) and the
//! few experiment records (density, neighbours), not the records.

use crate::analysis::{Analyser, Analysis};
use crate::facts::{Facts, FactsBuilder};
use crate::load::{read_run, LoadError, Run};
use crate::schema::{ResultRecord, RunInfo};
use crate::tidy::TidyCsv;
use std::path::{Path, PathBuf};

/// One run, digested.
#[derive(Debug, Clone)]
pub struct Digest {
    /// Where the run was read from, for messages: a run directory, or
    /// `run ID in STORE`.
    pub source: String,
    /// The run directory, when the run was read from one.
    pub dir: Option<PathBuf>,
    pub info: RunInfo,
    pub analysis: Analysis,
    pub facts: Facts,
    /// Problems met while reading (a cut last line, foreign records), as text.
    pub load_warnings: Vec<String>,
    /// Records read.
    pub lines: usize,
    /// The tidy `results.csv`: every repetition and metric (see
    /// [`TidyCsv`]); text, not records, is kept.
    pub tidy_csv: String,
}

/// Builds a [`Digest`] from records pushed one at a time.
#[derive(Debug, Default)]
pub struct Digester {
    analyser: Analyser,
    facts: FactsBuilder,
    lines: usize,
    tidy: TidyCsv,
}

impl Digester {
    pub fn push(&mut self, r: &ResultRecord) {
        self.tidy.push(r);
        self.analyser.push(r);
        self.facts.push(r);
        self.lines += 1;
    }

    pub fn finish(self, info: RunInfo, source: String, dir: Option<PathBuf>) -> Digest {
        let tidy_csv = self.tidy.finish(&info.host.hostname);
        Digest {
            source,
            dir,
            info,
            analysis: self.analyser.finish(),
            facts: self.facts.finish(),
            load_warnings: Vec::new(),
            lines: self.lines,
            tidy_csv,
        }
    }
}

impl Digest {
    /// The digest of a run held in memory.
    pub fn of_run(run: &Run) -> Digest {
        let mut d = Digester::default();
        for r in &run.records {
            d.push(r);
        }
        let mut out = d.finish(
            run.info.clone(),
            run.dir.display().to_string(),
            Some(run.dir.clone()),
        );
        out.load_warnings = run.warnings.iter().map(|w| w.to_string()).collect();
        out
    }
}

/// Read a run directory into its digest, streaming results.jsonl.
pub fn digest_run_dir(dir: &Path) -> Result<Digest, LoadError> {
    let mut d = Digester::default();
    let header = read_run(dir, |r| d.push(&r))?;
    let mut out = d.finish(
        header.info,
        dir.display().to_string(),
        Some(dir.to_path_buf()),
    );
    out.load_warnings = header.warnings.iter().map(|w| w.to_string()).collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyse, StatsOptions};
    use crate::testdata;

    #[test]
    fn a_streamed_digest_equals_the_analysis_of_the_loaded_run() {
        let tmp = tempfile::tempdir().unwrap();
        let mut run = testdata::fixture_run(4, 1.0);
        run.records[3].valid = false;
        run.records[3].error = Some("self-check failed".into());
        run.records
            .extend(testdata::density_records("native", "", 5, 0.2, 0.4));
        testdata::write_run_dir(tmp.path(), &run);
        let d = digest_run_dir(tmp.path()).unwrap();
        assert_eq!(d.lines, run.records.len());
        assert_eq!(d.analysis, analyse(&run.records, StatsOptions::default()));
        assert_eq!(d.facts, Facts::from_records(&run.records));
        assert_eq!(d.facts.density_series.len(), 1);
        assert_eq!(d.info, run.info);
        assert!(d.load_warnings.is_empty());
    }
}
