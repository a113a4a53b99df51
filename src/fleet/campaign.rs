//! A campaign: one plan dispatched to several Slurm targets, recorded in a
//! directory shared by the submit host and the nodes (campaign.json, the
//! batch script, per-job markers and Slurm output under `jobs/`, run
//! directories under `runs/`). Pure data and file I/O; no Slurm command here.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of campaign.json.
pub const CAMPAIGN_SCHEMA: u32 = 1;
pub const CAMPAIGN_FILE: &str = "campaign.json";
pub const SCRIPT_FILE: &str = "job.sh";

/// Where one job of the campaign may run: a named host, a node constraint
/// (Slurm features, e.g. `kvm`), a partition, or anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Unique within the campaign: the host, constraint or partition, with
    /// `#i` appended when `--count` repeats it.
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

/// One `sbatch` of the campaign: a job array whose task `i` runs `targets[i]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub array_job_id: String,
    pub submitted_at: String,
    /// Target labels, by array index.
    pub targets: Vec<String>,
}

impl Submission {
    /// The Slurm id of task `index`: `ARRAY_INDEX`.
    pub fn task_id(&self, index: usize) -> String {
        format!("{}_{index}", self.array_job_id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub schema: u32,
    pub id: String,
    pub created_at: String,
    /// The shared store every job pushes its run to.
    pub db: String,
    /// The isobench binary the jobs run (same path on every node).
    pub isobench: PathBuf,
    /// The `isobench run` flags of the plan (without --out, --db, --resume).
    pub run_args: Vec<String>,
    /// Extra sbatch options given at submission, kept for resubmission.
    #[serde(default)]
    pub sbatch_args: Vec<String>,
    pub targets: Vec<Target>,
    pub submissions: Vec<Submission>,
}

/// The latest job of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt<'a> {
    pub target: &'a Target,
    /// `ARRAY_INDEX`, or None when the target was never submitted.
    pub task_id: Option<String>,
    /// How many times the target was submitted.
    pub attempts: usize,
}

impl Campaign {
    /// The Slurm job name shared by every job of the campaign.
    pub fn job_name(&self) -> String {
        format!("isobench-{}", self.id)
    }

    /// Each target with its latest job.
    pub fn attempts(&self) -> Vec<Attempt<'_>> {
        self.targets
            .iter()
            .map(|t| {
                let mut task_id = None;
                let mut attempts = 0;
                for s in &self.submissions {
                    if let Some(i) = s.targets.iter().position(|l| *l == t.label) {
                        task_id = Some(s.task_id(i));
                        attempts += 1;
                    }
                }
                Attempt {
                    target: t,
                    task_id,
                    attempts,
                }
            })
            .collect()
    }

    pub fn target(&self, label: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.label == label)
    }
}

/// The targets of `--hosts`, `--constraints` and `--partitions`, each
/// repeated `count` times; one unconstrained target when none is given.
pub fn targets(
    hosts: &[String],
    constraints: &[String],
    partitions: &[String],
    count: usize,
) -> Result<Vec<Target>, String> {
    let mut base = Vec::new();
    for h in hosts {
        base.push(Target {
            label: h.clone(),
            host: Some(h.clone()),
            constraint: None,
            partition: None,
        });
    }
    for c in constraints {
        base.push(Target {
            label: c.clone(),
            host: None,
            constraint: Some(c.clone()),
            partition: None,
        });
    }
    for p in partitions {
        base.push(Target {
            label: p.clone(),
            host: None,
            constraint: None,
            partition: Some(p.clone()),
        });
    }
    if base.is_empty() {
        base.push(Target {
            label: "any".into(),
            host: None,
            constraint: None,
            partition: None,
        });
    }
    for t in &base {
        if t.label.trim().is_empty() || t.label.chars().any(|c| c.is_whitespace()) {
            return Err(format!(
                "target '{}' is empty or has blanks: name hosts, constraints and partitions as Slurm does",
                t.label
            ));
        }
    }
    if count == 0 {
        return Err("--count 0: give at least 1 job per target".into());
    }
    let mut out = Vec::new();
    for t in base {
        for i in 0..count {
            let mut t = t.clone();
            if count > 1 {
                t.label = format!("{}#{i}", t.label);
            }
            out.push(t);
        }
    }
    let mut seen = std::collections::HashSet::new();
    for t in &out {
        if !seen.insert(t.label.clone()) {
            return Err(format!(
                "target '{}' is given twice: use --count to run one target several times",
                t.label
            ));
        }
    }
    Ok(out)
}

/// A new campaign id: UTC time and a random suffix.
pub fn new_id() -> String {
    let stamp = crate::session::now_rfc3339()
        .replace([':', '-'], "")
        .trim_end_matches('Z')
        .to_string();
    format!("c{stamp}-{:04x}", rand::random::<u16>())
}

pub fn load(dir: &Path) -> Result<Campaign> {
    let path = dir.join(CAMPAIGN_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        crate::usage::usage(format!(
            "{}: {e}: not a campaign directory (give the directory `isobench fleet submit` printed)",
            path.display()
        ))
    })?;
    let c: Campaign = serde_json::from_str(&text)
        .map_err(|e| crate::usage::usage(format!("{}: {e}", path.display())))?;
    if c.schema != CAMPAIGN_SCHEMA {
        return Err(crate::usage::usage(format!(
            "{}: campaign schema {} is not {CAMPAIGN_SCHEMA}, which this isobench reads",
            path.display(),
            c.schema
        )));
    }
    Ok(c)
}

/// Write campaign.json atomically (a temporary file renamed over it).
pub fn save(dir: &Path, c: &Campaign) -> Result<()> {
    let path = dir.join(CAMPAIGN_FILE);
    let tmp = dir.join(format!(".{CAMPAIGN_FILE}.tmp"));
    let text = serde_json::to_string_pretty(c)? + "\n";
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The markers a job writes into `jobs/TASK.state`, one line each:
/// `start NODE TIME JOBID`, then `end CODE TIME` when isobench run (and the
/// push) returned, or `signal TERM TIME` when Slurm stopped the job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Marker {
    pub node: Option<String>,
    pub started: bool,
    pub exit_code: Option<i32>,
    pub signalled: bool,
}

pub fn parse_marker(text: &str) -> Marker {
    let mut m = Marker::default();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("start") => {
                m.started = true;
                m.node = w.next().map(str::to_string);
                // A requeued job starts again: forget the earlier ending.
                m.exit_code = None;
                m.signalled = false;
            }
            Some("end") => m.exit_code = w.next().and_then(|c| c.parse().ok()),
            Some("signal") => m.signalled = true,
            _ => {}
        }
    }
    m
}

pub fn marker_path(dir: &Path, task_id: &str) -> PathBuf {
    dir.join("jobs").join(format!("{task_id}.state"))
}

pub fn run_dir(dir: &Path, task_id: &str) -> PathBuf {
    dir.join("runs").join(task_id)
}

pub fn read_marker(dir: &Path, task_id: &str) -> Option<Marker> {
    std::fs::read_to_string(marker_path(dir, task_id))
        .ok()
        .map(|t| parse_marker(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_repeat_with_count_and_refuse_duplicates() {
        let t = targets(&["a".into(), "b".into()], &["kvm".into()], &[], 1).unwrap();
        let labels: Vec<_> = t.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["a", "b", "kvm"]);
        assert_eq!(t[2].constraint.as_deref(), Some("kvm"));
        let t = targets(&["a".into()], &[], &[], 2).unwrap();
        let labels: Vec<_> = t.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["a#0", "a#1"]);
        assert_eq!(targets(&[], &[], &[], 1).unwrap()[0].label, "any");
        assert!(targets(&["a".into(), "a".into()], &[], &[], 1)
            .unwrap_err()
            .contains("twice"));
        assert!(targets(&[], &[], &[], 0).is_err());
        assert!(targets(&["a b".into()], &[], &[], 1).is_err());
    }

    #[test]
    fn markers_say_how_a_job_ended() {
        let m = parse_marker("start vm 2026-11-29T22:00:00Z 12\nend 0 2026-11-29T22:01:00Z\n");
        assert_eq!(m.node.as_deref(), Some("vm"));
        assert_eq!(m.exit_code, Some(0));
        let m = parse_marker("start vm t 12\nsignal TERM t\nend 143 t\n");
        assert!(m.signalled);
        let m = parse_marker("start vm t 12\n");
        assert!(m.started && m.exit_code.is_none());
    }

    #[test]
    fn the_latest_submission_of_a_target_is_its_attempt() {
        let t = targets(&["a".into(), "b".into()], &[], &[], 1).unwrap();
        let c = Campaign {
            schema: CAMPAIGN_SCHEMA,
            id: "c1".into(),
            created_at: "t".into(),
            db: "postgres://x/y".into(),
            isobench: "/bin/isobench".into(),
            run_args: vec![],
            sbatch_args: vec![],
            targets: t,
            submissions: vec![
                Submission {
                    array_job_id: "10".into(),
                    submitted_at: "t".into(),
                    targets: vec!["a".into(), "b".into()],
                },
                Submission {
                    array_job_id: "12".into(),
                    submitted_at: "t".into(),
                    targets: vec!["b".into()],
                },
            ],
        };
        let a = c.attempts();
        assert_eq!(a[0].task_id.as_deref(), Some("10_0"));
        assert_eq!(a[1].task_id.as_deref(), Some("12_0"));
        assert_eq!(a[1].attempts, 2);
    }
}
