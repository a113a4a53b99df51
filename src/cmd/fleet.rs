//! `isobench fleet submit|status|report|resubmit|cancel`: one plan run by
//! Slurm on many hosts (a job array, one exclusive node per job), every run
//! pushed to one shared PostgreSQL store. See `crate::fleet` for how states
//! are read.

pub use crate::cli::fleet::{
    CampaignArg, FleetArgs, FleetCommand, FleetReportArgs, StatusArgs, SubmitArgs,
};
use crate::cli::{Cli, Command as CliCommand};
use crate::fleet::campaign::{self, Campaign, Submission, Target, CAMPAIGN_SCHEMA};
use crate::fleet::report::Shown;
use crate::fleet::slurm::{self, JobState, SlurmJob};
use crate::fleet::{self as fleet, Source, Verdict};
use crate::plan::usage;
use anyhow::{Context, Result};
use clap::Parser;
use isobench_reports::history::{is_postgres_url, redact, History, HistoryError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn run(args: &FleetArgs) -> Result<i32> {
    match &args.command {
        FleetCommand::Submit(a) => submit(a),
        FleetCommand::Status(a) => status(a),
        FleetCommand::Report(a) => report(a),
        FleetCommand::Resubmit(a) => resubmit(&a.campaign),
        FleetCommand::Cancel(a) => cancel(&a.campaign),
    }
}

/// Check the plan as `isobench run` would, without the host facts of the
/// submit host (the nodes measure their own).
fn check_plan(run_args: &[String]) -> Result<()> {
    let argv = ["isobench", "run"]
        .into_iter()
        .map(String::from)
        .chain(run_args.iter().cloned());
    let cli = Cli::try_parse_from(argv).map_err(|e| {
        let text = e.to_string();
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ");
        usage(format!("the plan after `--`: {first}"))
    })?;
    let CliCommand::Run(a) = cli.command else {
        unreachable!("parsed as run")
    };
    for (given, flag) in [
        (a.out.is_some(), "--out"),
        (a.resume.is_some(), "--resume"),
        (
            a.db.is_some() && run_args.iter().any(|x| x.starts_with("--db")),
            "--db",
        ),
        (a.no_history, "--no-history"),
    ] {
        if given {
            return Err(usage(format!(
                "the plan after `--` gives {flag}: the fleet sets it (runs go to CAMPAIGN/runs, results to the --db of fleet submit)"
            )));
        }
    }
    super::run::check_flags(&a).map_err(|e| usage(format!("the plan after `--`: {e}")))?;
    if a.experiment.is_none() {
        // Checked as `run` checks it, but for hosts not known here: no
        // host facts, the plan's own thread count as the cores.
        let input = crate::plan::PlanInput {
            out: None,
            host_cores: a.threads.unwrap_or(1),
            host_llc_bytes: None,
            host_mem_available_bytes: None,
            run_id: "check".into(),
            ..super::run::plan_input(&a, PathBuf::from("isobench-workload"))
        };
        crate::plan::build(&input).map_err(|e| usage(format!("the plan after `--`: {e}")))?;
    }
    Ok(())
}

/// Removes a new campaign directory unless the submission went through.
struct NewDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for NewDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn submit(a: &SubmitArgs) -> Result<i32> {
    let db = a.db.clone().ok_or_else(|| {
        usage("no shared store: give --db postgres://USER@HOST:PORT/DB (or set ISOBENCH_DB)")
    })?;
    if !is_postgres_url(&db) {
        return Err(usage(format!(
            "--db {db}: a fleet needs a store every node reaches: give a postgres:// URL (SQLite files are for one machine)"
        )));
    }
    check_plan(&a.run_args)?;
    let targets =
        campaign::targets(&a.hosts, &a.constraints, &a.partitions, a.count).map_err(usage)?;
    let isobench = match &a.isobench {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("finding this isobench binary")?,
    };
    let isobench = std::path::absolute(&isobench)
        .with_context(|| format!("resolving {}", isobench.display()))?;
    if !isobench.is_file() {
        return Err(usage(format!(
            "--isobench {}: no such file",
            isobench.display()
        )));
    }
    let id = campaign::new_id();
    let dir = a
        .campaign_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("campaigns").join(&id));
    let dir = std::path::absolute(&dir).with_context(|| format!("resolving {}", dir.display()))?;
    if dir.join(campaign::CAMPAIGN_FILE).exists() {
        return Err(usage(format!(
            "{} already holds a campaign: give another --campaign-dir, or `isobench fleet resubmit {}`",
            dir.display(),
            dir.display()
        )));
    }
    let existed = dir.exists();
    std::fs::create_dir_all(dir.join("jobs"))
        .and_then(|_| std::fs::create_dir_all(dir.join("runs")))
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut guard = NewDir {
        path: dir.clone(),
        keep: existed,
    };
    let script = dir.join(campaign::SCRIPT_FILE);
    std::fs::write(
        &script,
        fleet::job_script(&id, &dir, &isobench, &a.run_args, &db),
    )
    .with_context(|| format!("writing {}", script.display()))?;
    // The script holds the store's URL (maybe with a password): owner only.
    crate::sys::set_mode(&script, 0o700)?;
    let mut c = Campaign {
        schema: CAMPAIGN_SCHEMA,
        id: id.clone(),
        created_at: crate::session::now_rfc3339(),
        db: db.clone(),
        isobench,
        run_args: a.run_args.clone(),
        sbatch_args: a.sbatch_args.clone(),
        targets: targets.clone(),
        submissions: vec![],
    };
    campaign::save(&dir, &c)?;
    let labels: Vec<String> = targets.iter().map(|t| t.label.clone()).collect();
    let sub = submit_array(&dir, &mut c, &labels)?;
    guard.keep = true;
    println!(
        "campaign {id}: {} job(s) in array {} (store {})",
        labels.len(),
        sub.array_job_id,
        redact(&db)
    );
    print_tasks(&c, &sub);
    println!("directory {}", dir.display());
    println!(
        "follow it: isobench fleet status {} [--wait]; then isobench fleet report {}",
        dir.display(),
        dir.display()
    );
    Ok(0)
}

fn print_tasks(c: &Campaign, sub: &Submission) {
    for (i, l) in sub.targets.iter().enumerate() {
        let t = c.target(l).expect("submitted targets are the campaign's");
        println!("  {}  {}", sub.task_id(i), describe(t));
    }
}

fn describe(t: &Target) -> String {
    match (&t.host, &t.constraint, &t.partition) {
        (Some(h), _, _) => format!("{} (node {h})", t.label),
        (_, Some(c), _) => format!("{} (constraint {c})", t.label),
        (_, _, Some(p)) => format!("{} (partition {p})", t.label),
        _ => format!("{} (any node)", t.label),
    }
}

/// Submit `labels` as one held job array, send each task to its target,
/// record the submission in campaign.json, then release the array. On a
/// failure the array is cancelled and nothing is recorded.
fn submit_array(dir: &Path, c: &mut Campaign, labels: &[String]) -> Result<Submission> {
    let args = slurm::sbatch_args(
        &c.job_name(),
        labels.len(),
        &dir.join("jobs"),
        &c.sbatch_args,
        &dir.join(campaign::SCRIPT_FILE),
    );
    let array = slurm::submit_held(&args)?;
    let sub = Submission {
        array_job_id: array.clone(),
        submitted_at: crate::session::now_rfc3339(),
        targets: labels.to_vec(),
    };
    let placed = (|| -> Result<()> {
        for (i, l) in labels.iter().enumerate() {
            let t = c.target(l).expect("labels are the campaign's");
            if let Some(u) = slurm::update_args(&sub.task_id(i), t) {
                slurm::scontrol(&u).with_context(|| {
                    format!("sending job {} to {}", sub.task_id(i), describe(t))
                })?;
            }
        }
        c.submissions.push(sub.clone());
        campaign::save(dir, c)?;
        slurm::scontrol(&["release".into(), array.clone()])
    })();
    if let Err(e) = placed {
        let _ = slurm::scancel(std::slice::from_ref(&array));
        if c.submissions.last() == Some(&sub) {
            c.submissions.pop();
            let _ = campaign::save(dir, c);
        }
        let usage = e.downcast_ref::<crate::plan::UsageError>().is_some();
        let msg = format!("{e:#} (job array {array} cancelled: nothing of it runs)");
        return Err(if usage {
            crate::plan::usage(msg)
        } else {
            anyhow::anyhow!(msg)
        });
    }
    Ok(sub)
}

/// One target's status line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetStatus {
    pub target: String,
    pub job: Option<String>,
    pub attempts: usize,
    pub state: &'static str,
    pub source: &'static str,
    pub node: Option<String>,
    pub detail: String,
    pub run_dir: Option<PathBuf>,
    #[serde(skip)]
    pub job_state: JobState,
}

/// Every target's latest job, with its state, and which Slurm view was used.
fn statuses(dir: &Path, c: &Campaign) -> Result<(Vec<TargetStatus>, &'static str)> {
    let start = c.created_at.get(..10).unwrap_or("now").to_string();
    // slurmctld's live view first; accounting (when the cluster keeps it)
    // for jobs slurmctld has forgotten; the jobs' markers after that.
    let live = slurm::squeue(&c.job_name())?;
    let accounted = slurm::sacct(&c.job_name(), &start);
    let via = if accounted.is_some() {
        "squeue, then sacct"
    } else {
        "squeue (no Slurm accounting: finished jobs while slurmctld keeps them, then the jobs' markers)"
    };
    let mut by_id: BTreeMap<&str, (&SlurmJob, Source)> = BTreeMap::new();
    for j in accounted.iter().flatten() {
        by_id.insert(j.task_id.as_str(), (j, Source::Sacct));
    }
    for j in &live {
        by_id.insert(j.task_id.as_str(), (j, Source::Squeue));
    }
    let mut out = Vec::new();
    for a in c.attempts() {
        let v: Verdict = match &a.task_id {
            Some(id) => fleet::verdict(
                by_id.get(id.as_str()).copied(),
                campaign::read_marker(dir, id).as_ref(),
            ),
            None => Verdict {
                state: JobState::Failed,
                source: Source::Nothing,
                node: None,
                detail: "never submitted".into(),
            },
        };
        let run_dir = a
            .task_id
            .as_ref()
            .map(|id| campaign::run_dir(dir, id))
            .filter(|p| p.join("run.json").is_file());
        out.push(TargetStatus {
            target: a.target.label.clone(),
            job: a.task_id.clone(),
            attempts: a.attempts,
            state: v.state.label(),
            source: v.source.label(),
            node: v.node,
            detail: v.detail,
            run_dir,
            job_state: v.state,
        });
    }
    Ok((out, via))
}

fn status(a: &StatusArgs) -> Result<i32> {
    let dir = &a.campaign;
    let c = campaign::load(dir)?;
    let began = Instant::now();
    let (st, via) = loop {
        let (st, via) = statuses(dir, &c)?;
        let active = st.iter().any(|s| s.job_state.is_active());
        if !a.wait || !active {
            break (st, via);
        }
        if a.timeout
            .is_some_and(|t| began.elapsed() >= Duration::from_secs(t))
        {
            print_status(dir, &c, &st, via, a.json)?;
            eprintln!(
                "isobench: error: campaign {} still has pending or running jobs after {} s",
                c.id,
                a.timeout.unwrap_or(0)
            );
            return Ok(1);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    print_status(dir, &c, &st, via, a.json)?;
    Ok(if st.iter().any(|s| s.job_state.needs_resubmit()) {
        1
    } else {
        0
    })
}

fn print_status(
    dir: &Path,
    c: &Campaign,
    st: &[TargetStatus],
    via: &str,
    json: bool,
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(st)?);
        return Ok(());
    }
    let mut counts: BTreeMap<JobState, usize> = BTreeMap::new();
    for s in st {
        *counts.entry(s.job_state).or_default() += 1;
    }
    let summary: Vec<String> = counts
        .iter()
        .map(|(k, n)| format!("{n} {}", k.label()))
        .collect();
    println!(
        "campaign {}: {} target(s): {}; states from {via}",
        c.id,
        st.len(),
        summary.join(", ")
    );
    println!(
        "{:<16} {:<10} {:<10} {:<10} {:<7} detail",
        "target", "job", "node", "state", "source"
    );
    for s in st {
        println!(
            "{:<16} {:<10} {:<10} {:<10} {:<7} {}{}",
            s.target,
            s.job.as_deref().unwrap_or("-"),
            s.node.as_deref().unwrap_or("-"),
            s.state,
            s.source,
            s.detail,
            if s.attempts > 1 {
                format!(" (attempt {})", s.attempts)
            } else {
                String::new()
            }
        );
    }
    let again: Vec<&str> = st
        .iter()
        .filter(|s| s.job_state.needs_resubmit())
        .map(|s| s.target.as_str())
        .collect();
    if !again.is_empty() {
        println!(
            "{} to run again: isobench fleet resubmit {}",
            again.join(", "),
            dir.display()
        );
    }
    Ok(())
}

fn resubmit(dir: &Path) -> Result<i32> {
    let mut c = campaign::load(dir)?;
    let (st, _) = statuses(dir, &c)?;
    let labels: Vec<String> = st
        .iter()
        .filter(|s| s.job_state.needs_resubmit())
        .map(|s| s.target.clone())
        .collect();
    if labels.is_empty() {
        println!(
            "campaign {}: no target failed or was cancelled; nothing resubmitted",
            c.id
        );
        return Ok(0);
    }
    let sub = submit_array(dir, &mut c, &labels)?;
    println!(
        "campaign {}: resubmitted {} target(s) as array {}",
        c.id,
        labels.len(),
        sub.array_job_id
    );
    print_tasks(&c, &sub);
    Ok(0)
}

fn cancel(dir: &Path) -> Result<i32> {
    let c = campaign::load(dir)?;
    let (st, _) = statuses(dir, &c)?;
    let ids: Vec<String> = st
        .iter()
        .filter(|s| s.job_state.is_active())
        .filter_map(|s| s.job.clone())
        .collect();
    if ids.is_empty() {
        println!("campaign {}: no pending or running job", c.id);
        return Ok(0);
    }
    slurm::scancel(&ids)?;
    println!("campaign {}: cancelled {}", c.id, ids.join(" "));
    Ok(0)
}

/// The run id a job wrote, from its run.json.
fn run_id_of(run_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(run_dir.join("run.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("run_id")?.as_str().map(str::to_string)
}

/// Results a run directory holds (lines of results.jsonl).
fn measured(run_dir: &Path) -> usize {
    std::fs::read_to_string(run_dir.join("results.jsonl"))
        .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0)
}

/// Every target's status, then the runs the store holds side by side: the
/// report `isobench report --db URL ID ID...` writes, with the campaign's
/// status table under its title.
fn report(a: &FleetReportArgs) -> Result<i32> {
    let dir = &a.campaign;
    let c = campaign::load(dir)?;
    let db = a.db.clone().unwrap_or_else(|| c.db.clone());
    let (st, via) = statuses(dir, &c)?;
    let mut store =
        History::open_existing(Path::new(&db)).map_err(crate::cmd::push::store_error)?;
    let mut digests = Vec::new();
    // Per target: its run id and the index of its digest, if stored.
    let mut found: Vec<(Option<String>, Option<usize>)> = Vec::new();
    for s in &st {
        let run_id = s.run_dir.as_deref().and_then(run_id_of);
        let mut at = None;
        if let Some(id) = &run_id {
            match store.digest(id) {
                Ok(d) => {
                    at = Some(digests.len());
                    digests.push(d);
                }
                Err(HistoryError::NoRun { .. }) => {}
                Err(e) => return Err(crate::cmd::push::store_error(e)),
            }
        }
        found.push((run_id, at));
    }
    let labels = isobench_reports::multi::column_labels(&digests);
    let rows: Vec<fleet::report::Row> = st
        .into_iter()
        .zip(found)
        .map(|(s, (run_id, at))| {
            let shown = match (at, &s.run_dir) {
                (Some(i), _) => Shown::Column {
                    label: labels[i].clone(),
                    repetitions: digests[i].lines,
                },
                (None, Some(rd)) => Shown::NotInStore {
                    measured: measured(rd),
                },
                (None, None) => Shown::NoRun,
            };
            fleet::report::Row {
                target: s.target,
                job: s.job,
                node: s.node,
                state: format!("{} ({})", s.state, s.detail),
                run_id,
                shown,
            }
        })
        .collect();
    let preface = fleet::report::preface(
        &fleet::report::Header {
            id: c.id.clone(),
            created_at: c.created_at.clone(),
            plan: c.run_args.join(" "),
            store: redact(&db),
            via: via.to_string(),
        },
        &rows,
    );
    let shown = digests.len();
    println!(
        "campaign {}: {shown} of {} target(s) have a run in the store",
        c.id,
        rows.len()
    );
    for r in &rows {
        if !matches!(r.shown, Shown::Column { .. }) {
            println!("  not shown: {} ({})", r.target, r.state);
        }
    }
    let out = a.out.clone().unwrap_or_else(|| dir.join("report"));
    crate::cmd::report::write_multi(&out, &digests, &preface)?;
    Ok(0)
}
