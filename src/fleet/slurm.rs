//! Talking to Slurm through its own commands: `sbatch --parsable` (a held job
//! array), `scontrol update` (per-task host, constraint or partition, as
//! Slurm's job-array documentation allows for pending tasks), `scontrol
//! release`, `squeue`, `sacct` and `scancel`. Slurm schedules; isobench only
//! builds command lines and reads their output. The commands find the
//! cluster as usual (slurm.conf, or $SLURM_CONF).

use super::campaign::Target;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// A job's state as Slurm reports it, folded into what a campaign needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum JobState {
    Pending,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn label(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Finished without a result: resubmitted by `fleet resubmit`.
    pub fn needs_resubmit(self) -> bool {
        matches!(self, JobState::Failed | JobState::Cancelled)
    }

    pub fn is_active(self) -> bool {
        matches!(self, JobState::Pending | JobState::Running)
    }

    /// Slurm's job state names (squeue %T, sacct State; `CANCELLED by 0`
    /// is cut at the blank).
    pub fn from_slurm(s: &str) -> Option<JobState> {
        let s = s
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_end_matches('+');
        Some(match s {
            "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED"
            | "RESIZING" | "SUSPENDED" | "STOPPED" | "SPECIAL_EXIT" | "RESV_DEL_HOLD" => {
                JobState::Pending
            }
            "RUNNING" | "COMPLETING" | "SIGNALING" | "STAGE_OUT" => JobState::Running,
            "COMPLETED" => JobState::Done,
            "CANCELLED" | "REVOKED" => JobState::Cancelled,
            "FAILED" | "NODE_FAIL" | "TIMEOUT" | "OUT_OF_MEMORY" | "BOOT_FAIL" | "DEADLINE"
            | "PREEMPTED" => JobState::Failed,
            _ => return None,
        })
    }
}

/// What Slurm says about one task of a job array.
#[derive(Debug, Clone, PartialEq)]
pub struct SlurmJob {
    /// `ARRAY_INDEX`.
    pub task_id: String,
    pub state: JobState,
    /// Slurm's own state name (e.g. `NODE_FAIL`, `TIMEOUT`).
    pub slurm_state: String,
    pub node: Option<String>,
    pub reason: Option<String>,
}

/// The sbatch command line of a held job array of `n` tasks.
pub fn sbatch_args(
    job_name: &str,
    n: usize,
    jobs_dir: &Path,
    extra: &[String],
    script: &Path,
) -> Vec<String> {
    let mut a = vec![
        "--parsable".to_string(),
        "--hold".into(),
        format!("--array=0-{}", n.saturating_sub(1)),
        // One whole node per job: nothing else runs beside a measurement.
        "--exclusive".into(),
        "--nodes=1".into(),
        "--ntasks=1".into(),
        format!("--job-name={job_name}"),
        format!("--output={}/%A_%a.out", jobs_dir.display()),
    ];
    a.extend(extra.iter().cloned());
    a.push(script.display().to_string());
    a
}

/// The `scontrol update` of one pending task that sends it to its target;
/// None for an unconstrained target.
pub fn update_args(task_id: &str, t: &Target) -> Option<Vec<String>> {
    let mut a = vec!["update".to_string(), format!("JobId={task_id}")];
    if let Some(h) = &t.host {
        a.push(format!("ReqNodeList={h}"));
    }
    if let Some(c) = &t.constraint {
        a.push(format!("Features={c}"));
    }
    if let Some(p) = &t.partition {
        a.push(format!("Partition={p}"));
    }
    (a.len() > 2).then_some(a)
}

/// `sbatch --parsable` prints `JOBID` or `JOBID;CLUSTER`.
pub fn parse_sbatch(stdout: &str) -> Option<String> {
    let id = stdout.trim().split(';').next()?.trim();
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_string())
}

/// `squeue --noheader --array --format=%i|%T|%N|%r` lines.
pub fn parse_squeue(stdout: &str) -> Vec<SlurmJob> {
    stdout
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().split('|').collect();
            if f.len() < 4 {
                return None;
            }
            let state = JobState::from_slurm(f[1])?;
            Some(SlurmJob {
                task_id: f[0].to_string(),
                state,
                slurm_state: f[1].to_string(),
                node: non_empty(f[2]),
                reason: non_empty(f[3]).filter(|r| r != "None"),
            })
        })
        .collect()
}

/// `sacct --noheader --parsable2 --format=JobID,State,NodeList` lines; job
/// steps (`ID.batch`) are left out.
pub fn parse_sacct(stdout: &str) -> Vec<SlurmJob> {
    stdout
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().split('|').collect();
            if f.len() < 3 || f[0].contains('.') {
                return None;
            }
            let state = JobState::from_slurm(f[1])?;
            Some(SlurmJob {
                task_id: f[0].to_string(),
                state,
                slurm_state: f[1].to_string(),
                node: non_empty(f[2]).filter(|n| n != "None assigned"),
                reason: None,
            })
        })
        .collect()
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && s != "(null)").then(|| s.to_string())
}

/// Run one Slurm command; its stderr names the problem when it fails.
fn slurm(cmd: &str, args: &[String]) -> Result<String> {
    // Slurm's commands retry a missing configuration file for 60 s.
    if let Some(conf) = std::env::var_os("SLURM_CONF") {
        if !Path::new(&conf).is_file() {
            return Err(crate::usage::usage(format!(
                "SLURM_CONF={}: no such file (scripts/slurm-local.sh start prints the SLURM_CONF of a local cluster)",
                Path::new(&conf).display()
            )));
        }
    }
    let out = Command::new(cmd).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            crate::usage::usage(format!(
                "{cmd} not found: install Slurm's client commands (Debian: slurm-client) or run where they are; scripts/slurm-local.sh starts a one-node cluster"
            ))
        } else {
            anyhow::Error::new(e).context(format!("running {cmd}"))
        }
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let err: Vec<&str> = err
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let msg = format!(
            "{cmd} {} failed ({}): {}",
            args.join(" "),
            out.status,
            err.join("; ")
        );
        // Slurm refused what it was asked (an unknown node, feature or
        // partition): the user's input, not a failing cluster.
        if err.iter().any(|l| l.contains("Invalid")) {
            return Err(crate::usage::usage(msg));
        }
        bail!(msg);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Submit a held array; returns its job id.
pub fn submit_held(args: &[String]) -> Result<String> {
    let out = slurm("sbatch", args)?;
    parse_sbatch(&out).with_context(|| format!("sbatch printed no job id: '{}'", out.trim()))
}

pub fn scontrol(args: &[String]) -> Result<()> {
    slurm("scontrol", args).map(|_| ())
}

/// Cancel jobs (ids or `ARRAY_INDEX`).
pub fn scancel(ids: &[String]) -> Result<()> {
    slurm("scancel", ids).map(|_| ())
}

/// Every job named `job_name` that slurmctld still holds (pending, running,
/// and finished ones for MinJobAge seconds).
pub fn squeue(job_name: &str) -> Result<Vec<SlurmJob>> {
    let out = slurm(
        "squeue",
        &[
            "--noheader".into(),
            "--array".into(),
            "--states=all".into(),
            format!("--name={job_name}"),
            "--format=%i|%T|%N|%r".into(),
        ],
    )?;
    Ok(parse_squeue(&out))
}

/// The accounting records of the jobs named `job_name` since `start`
/// (YYYY-MM-DD), or None when accounting storage is not configured
/// (`sacct` fails or says it is disabled).
pub fn sacct(job_name: &str, start: &str) -> Option<Vec<SlurmJob>> {
    let out = Command::new("sacct")
        .args([
            "--noheader",
            "--parsable2",
            "--array",
            &format!("--name={job_name}"),
            &format!("--starttime={start}"),
            "--format=JobID,State,NodeList",
        ])
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || stdout.contains("accounting storage is disabled") {
        return None;
    }
    Some(parse_sacct(&stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_states_fold_into_campaign_states() {
        assert_eq!(JobState::from_slurm("PENDING"), Some(JobState::Pending));
        assert_eq!(JobState::from_slurm("COMPLETING"), Some(JobState::Running));
        assert_eq!(JobState::from_slurm("COMPLETED"), Some(JobState::Done));
        assert_eq!(
            JobState::from_slurm("CANCELLED by 0"),
            Some(JobState::Cancelled)
        );
        assert_eq!(JobState::from_slurm("NODE_FAIL"), Some(JobState::Failed));
        assert_eq!(JobState::from_slurm("TIMEOUT"), Some(JobState::Failed));
        assert_eq!(JobState::from_slurm("bogus"), None);
    }

    #[test]
    fn command_lines_and_outputs() {
        let a = sbatch_args(
            "isobench-c1",
            2,
            Path::new("/c/jobs"),
            &["--time=30".into()],
            Path::new("/c/job.sh"),
        );
        assert!(a.contains(&"--array=0-1".to_string()));
        assert!(a.contains(&"--exclusive".to_string()));
        assert!(a.contains(&"--hold".to_string()));
        assert_eq!(a.last().unwrap(), "/c/job.sh");
        assert!(a.contains(&"--time=30".to_string()));
        let t = Target {
            label: "kvm".into(),
            host: None,
            constraint: Some("kvm".into()),
            partition: None,
        };
        assert_eq!(
            update_args("7_1", &t).unwrap(),
            ["update", "JobId=7_1", "Features=kvm"]
        );
        let any = Target {
            label: "any".into(),
            host: None,
            constraint: None,
            partition: None,
        };
        assert_eq!(update_args("7_0", &any), None);
        assert_eq!(parse_sbatch("42\n").as_deref(), Some("42"));
        assert_eq!(parse_sbatch("42;lab\n").as_deref(), Some("42"));
        assert_eq!(parse_sbatch("error"), None);
        let q = parse_squeue("5_1|RUNNING|vm|None\n5_0|PENDING||JobHeldUser\n");
        assert_eq!(q[0].state, JobState::Running);
        assert_eq!(q[0].node.as_deref(), Some("vm"));
        assert_eq!(q[1].reason.as_deref(), Some("JobHeldUser"));
        let s = parse_sacct("5_0|COMPLETED|vm\n5_0.batch|COMPLETED|vm\n5_1|CANCELLED by 0|vm\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].state, JobState::Cancelled);
    }
}
