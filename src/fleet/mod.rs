//! Fleets: one plan dispatched by Slurm onto many hosts, every run pushed to
//! one shared store. Slurm does the scheduling (a job array, one exclusive
//! node per job); isobench writes the batch script, records the campaign,
//! and folds what Slurm and the jobs' own markers say into one state per
//! target.
//!
//! Where a job's state comes from: slurmctld's own view through `squeue
//! --states=all` (pending, running, and finished jobs for MinJobAge
//! seconds); then `sacct` when the cluster keeps accounting (slurmdbd);
//! after that, the markers the job wrote into the campaign directory
//! (`start`, `end CODE`, `signal`).

pub mod campaign;
pub mod report;
pub mod slurm;

use campaign::Marker;
use slurm::{JobState, SlurmJob};
use std::path::Path;

/// Where a state was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Sacct,
    Squeue,
    Marker,
    Nothing,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Sacct => "sacct",
            Source::Squeue => "squeue",
            Source::Marker => "marker",
            Source::Nothing => "-",
        }
    }
}

/// One target's latest job, as the campaign sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub state: JobState,
    pub source: Source,
    pub node: Option<String>,
    /// Slurm's state name and reason, or the marker's exit code.
    pub detail: String,
}

/// Fold Slurm's record (from sacct or squeue, when it has one) and the job's
/// marker into one state.
pub fn verdict(slurm: Option<(&SlurmJob, Source)>, marker: Option<&Marker>) -> Verdict {
    let marker_node = marker.and_then(|m| m.node.clone());
    if let Some((j, source)) = slurm {
        let mut detail = j.slurm_state.clone();
        if let Some(r) = &j.reason {
            detail.push_str(&format!(" ({r})"));
        }
        if let Some(code) = marker.and_then(|m| m.exit_code) {
            if j.state != JobState::Pending && j.state != JobState::Running {
                detail.push_str(&format!(", exit {code}"));
            }
        }
        return Verdict {
            state: j.state,
            source,
            node: j.node.clone().or(marker_node),
            detail,
        };
    }
    let Some(m) = marker else {
        return Verdict {
            state: JobState::Failed,
            source: Source::Nothing,
            node: None,
            detail: "unknown to Slurm and never started (purged from the queue, or lost)".into(),
        };
    };
    let (state, detail) = match (m.exit_code, m.signalled) {
        (Some(0), _) => (JobState::Done, "exit 0".to_string()),
        (Some(c), true) => (
            JobState::Cancelled,
            format!("stopped by a signal, exit {c}"),
        ),
        (Some(c), false) => (JobState::Failed, format!("exit {c}")),
        (None, true) => (JobState::Cancelled, "stopped by a signal".into()),
        (None, false) if m.started => (
            JobState::Failed,
            "started but wrote no end marker (killed, or its node was lost)".into(),
        ),
        (None, false) => (JobState::Failed, "never started".into()),
    };
    Verdict {
        state,
        source: Source::Marker,
        node: marker_node,
        detail,
    }
}

/// Quote `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The batch script every task of the campaign runs: the plan on its
/// exclusive node (`isobench run --out runs/TASK`), then `isobench push` to
/// the shared store, with markers in `jobs/TASK.state` so the campaign knows
/// how the job ended after Slurm has forgotten it. A requeued job (same
/// task id) resumes its run directory.
pub fn job_script(id: &str, dir: &Path, isobench: &Path, run_args: &[String], db: &str) -> String {
    let bin = shell_quote(&isobench.display().to_string());
    let args: Vec<String> = run_args.iter().map(|a| shell_quote(a)).collect();
    format!(
        r#"#!/bin/bash
# isobench fleet: a job of campaign {id}, written by `isobench fleet submit`.
# Runs the plan on its exclusive node, then pushes the run to the shared store.
set -u
task="${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}"
campaign={dir}
marker="$campaign/jobs/$task.state"
run="$campaign/runs/$task"
now() {{ date -u +%Y-%m-%dT%H:%M:%SZ; }}
echo "start $(hostname -s) $(now) ${{SLURM_JOB_ID}}" >>"$marker"
child=""
# scancel (or the time limit) sends TERM to every process of the job:
# isobench run cleans up and exits; the marker says the job was stopped.
trap 'echo "signal TERM $(now)" >>"$marker"; [ -n "$child" ] && wait "$child"; echo "end 143 $(now)" >>"$marker"; exit 143' TERM INT
if [ -f "$run/run.json" ]; then
    {bin} run --resume "$run" --no-history &
else
    {bin} run {args} --out "$run" --no-history &
fi
child=$!
wait "$child"
code=$?
if [ "$code" = 0 ]; then
    {bin} push "$run" --db {db}
    code=$?
fi
echo "end $code $(now)" >>"$marker"
exit "$code"
"#,
        dir = shell_quote(&dir.display().to_string()),
        args = args.join(" "),
        db = shell_quote(db),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: JobState, name: &str) -> SlurmJob {
        SlurmJob {
            task_id: "5_0".into(),
            state,
            slurm_state: name.into(),
            node: Some("vm".into()),
            reason: None,
        }
    }

    #[test]
    fn slurm_wins_while_it_knows_the_job_then_the_marker_decides() {
        let m = campaign::parse_marker("start vm t 6\nend 0 t\n");
        let v = verdict(
            Some((&job(JobState::Done, "COMPLETED"), Source::Squeue)),
            Some(&m),
        );
        assert_eq!((v.state, v.source), (JobState::Done, Source::Squeue));
        assert_eq!(v.detail, "COMPLETED, exit 0");
        let v = verdict(None, Some(&m));
        assert_eq!((v.state, v.source), (JobState::Done, Source::Marker));
        let killed = campaign::parse_marker("start vm t 6\n");
        assert_eq!(verdict(None, Some(&killed)).state, JobState::Failed);
        let stopped = campaign::parse_marker("start vm t 6\nsignal TERM t\nend 143 t\n");
        assert_eq!(verdict(None, Some(&stopped)).state, JobState::Cancelled);
        let failed = campaign::parse_marker("start vm t 6\nend 2 t\n");
        assert_eq!(verdict(None, Some(&failed)).detail, "exit 2");
        assert_eq!(verdict(None, None).state, JobState::Failed);
        let c = verdict(
            Some((&job(JobState::Cancelled, "CANCELLED by 0"), Source::Sacct)),
            None,
        );
        assert_eq!(c.state, JobState::Cancelled);
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("--env"), "--env");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        let s = job_script(
            "c1",
            Path::new("/c"),
            Path::new("/bin/isobench"),
            &["--env".into(), "native".into()],
            "postgres://u@h/db",
        );
        assert!(s.contains("/bin/isobench run --env native --out \"$run\" --no-history &"));
        assert!(s.contains("push \"$run\" --db postgres://u@h/db"));
    }
}
