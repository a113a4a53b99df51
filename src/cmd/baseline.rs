//! `isobench baseline save NAME [RUN]... [--last K]`, `baseline list`,
//! `baseline delete NAME`: named baselines in the history store (SQLite or
//! PostgreSQL, `--db`/`ISOBENCH_DB`), as criterion saves one and compares
//! with one; `isobench compare NEW --baseline NAME` gates against it.
//!
//! A baseline is one or several finished runs of one host and one plan.
//! RUN is a run directory (pushed to the store if it is not there) or a
//! stored run id (or unique prefix); `--last K` takes the newest finished run
//! of the store (or RUN) and the K − 1 before it of its host and plan.
//! Everything is checked before the store is written: an unfinished run, a
//! run given twice, runs of several hosts or plans, or a bad name is one
//! line and exit 2, and nothing is saved. Saving a name again replaces it.

pub use crate::cli::baseline::{Action, BaselineArgs, SaveArgs};
use crate::cmd::push::store_error;
use crate::cmd::source::{load_error, RunRef};
use anyhow::Result;
use isobench_reports::compare::{digest_differences, host_differences, Filter};
use isobench_reports::digest::{digest_run_dir, Digest};
use isobench_reports::history::{
    default_db_path, host_fingerprint, valid_baseline_name, Baseline, History,
};
use std::path::PathBuf;

pub fn run(args: &BaselineArgs) -> Result<i32> {
    let db = args.db.clone().unwrap_or_else(default_db_path);
    match &args.action {
        Action::Save(s) => save(&db, s),
        Action::List => list(&db),
        Action::Delete { name } => delete(&db, name),
    }
}

/// Open the store to read or change what it holds: a store that does not
/// exist is bad input, never created empty.
fn open_existing(db: &std::path::Path) -> Result<History> {
    History::open_existing(db).map_err(store_error)
}

/// "no baseline NAME in STORE (known: ...)" as a usage error (exit 2).
pub fn unknown(h: &mut History, name: &str) -> anyhow::Error {
    let known = match h.baselines() {
        Ok(b) => b.into_iter().map(|b| b.name).collect::<Vec<_>>(),
        Err(e) => return store_error(e),
    };
    crate::plan::usage(if known.is_empty() {
        format!(
            "no baseline '{name}' in {}: it holds none yet (save one with `isobench baseline save NAME RUN...`)",
            h.location()
        )
    } else {
        format!(
            "no baseline '{name}' in {} (known: {}){}",
            h.location(),
            known.join(", "),
            crate::cmd::select::did_you_mean(name, known.iter().map(String::as_str))
        )
    })
}

fn save(db: &std::path::Path, args: &SaveArgs) -> Result<i32> {
    valid_baseline_name(&args.name).map_err(crate::plan::usage)?;
    check_shape(args)?;
    let refs: Vec<RunRef> = args.runs.iter().map(|p| RunRef::of_arg(p)).collect();
    // The store is read first only when runs come from it; it is created
    // (to receive run directories) only once every check has passed.
    let from_store = args.last.is_some() || refs.iter().any(|r| matches!(r, RunRef::Stored(_)));
    let mut opened = if from_store {
        Some(open_existing(db)?)
    } else {
        None
    };
    // Every run read (and checked) before anything is written.
    let mut runs: Vec<Run> = Vec::new();
    for r in &refs {
        runs.push(match (r, opened.as_mut()) {
            (RunRef::Dir(d), _) => (Some(d.clone()), digest_run_dir(d).map_err(load_error)?),
            (RunRef::Stored(id), Some(h)) => (None, h.digest(id).map_err(store_error)?),
            (RunRef::Stored(_), None) => unreachable!("opened for stored runs"),
        });
    }
    if let (Some(k), Some(h)) = (args.last, opened.as_mut()) {
        runs = last_runs(h, runs.pop(), k)?;
    }
    check_runs(&runs)?;
    let first = &runs[0].1;
    let mut h = match opened {
        Some(h) => h,
        None => History::open(db).map_err(store_error)?,
    };
    for dir in runs.iter().filter_map(|(d, _)| d.as_ref()) {
        crate::cmd::push::push_one(&mut h, dir, false)?;
    }
    let b = Baseline {
        name: args.name.clone(),
        host: first.info.host.clone(),
        plan: first.info.config.clone(),
        saved_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        run_ids: runs.iter().map(|(_, d)| d.info.run_id.clone()).collect(),
    };
    let replaced = h.save_baseline(&b).map_err(store_error)?;
    println!(
        "{} baseline '{}' in {}: {} run(s) of host {} ({}), {}: {}",
        if replaced { "replaced" } else { "saved" },
        b.name,
        h.location(),
        b.run_ids.len(),
        b.host.hostname,
        short(&b.host_fingerprint()),
        describe_plan(&b),
        b.run_ids.join(", ")
    );
    println!(
        "compare with it: isobench compare NEW --baseline {}",
        b.name
    );
    Ok(0)
}

/// A run of a baseline: its directory (when given as one) and its digest.
type Run = (Option<PathBuf>, Digest);

/// The flags' shape: `--last K` (at least 1, with at most one RUN) or RUNs.
fn check_shape(args: &SaveArgs) -> Result<()> {
    match (args.last, args.runs.len()) {
        (Some(0), _) => return Err(crate::plan::usage("--last must be at least 1")),
        (Some(_), n) if n > 1 => {
            return Err(crate::plan::usage(
                "--last K takes at most one RUN: the newest run of the baseline",
            ))
        }
        (None, 0) => {
            return Err(crate::plan::usage(
                "give the baseline's runs: RUN... (run directories or stored run ids), or --last K",
            ))
        }
        _ => {}
    }
    Ok(())
}

/// `--last K`: the K runs of the store of `anchor`'s host and plan that
/// end with `anchor` (the newest finished run when none is given).
fn last_runs(h: &mut History, anchor: Option<Run>, k: usize) -> Result<Vec<Run>> {
    let anchor = match anchor {
        Some(a) => a,
        None => {
            let listing = h.runs().map_err(store_error)?;
            let Some(newest) = listing.iter().rev().find(|r| r.finished) else {
                return Err(crate::plan::usage(format!(
                    "--last {k}: {} holds no finished run",
                    h.location()
                )));
            };
            (None, h.digest(&newest.run_id).map_err(store_error)?)
        }
    };
    let mut before = crate::cmd::compare::same_host_and_plan(
        h,
        &anchor.1,
        &[anchor.1.info.run_id.as_str()],
        k - 1,
    )?;
    if before.len() + 1 < k {
        eprintln!(
            "isobench: note: --last {k}: {} holds {} run(s) of this host and plan; the baseline has them",
            h.location(),
            before.len() + 1
        );
    }
    before.reverse();
    let mut runs: Vec<Run> = before.into_iter().map(|d| (None, d)).collect();
    runs.push(anchor);
    Ok(runs)
}

/// Every run finished, none twice, all of one host and plan.
fn check_runs(runs: &[Run]) -> Result<()> {
    for (i, (dir, d)) in runs.iter().enumerate() {
        let id = &d.info.run_id;
        if d.info.finished_at.is_none() {
            return Err(crate::plan::usage(format!(
                "run {id} did not finish; a baseline holds finished runs only{}",
                dir.as_ref()
                    .map(|d| format!(" (finish it with `isobench run --resume {}`)", d.display()))
                    .unwrap_or_default()
            )));
        }
        if runs[..i].iter().any(|(_, e)| &e.info.run_id == id) {
            return Err(crate::plan::usage(format!(
                "run {id} is given twice; a baseline names each run once"
            )));
        }
    }
    let first = &runs[0].1;
    for (_, d) in &runs[1..] {
        let mut diff = host_differences(&first.info.host, &d.info.host);
        diff.extend(digest_differences(first, d, &Filter::default()));
        if !diff.is_empty() {
            return Err(crate::plan::usage(format!(
                "the runs mix hosts or plans ({} vs {}: {}); a baseline is of one host and one plan",
                first.info.run_id,
                d.info.run_id,
                diff.join("; ")
            )));
        }
    }
    Ok(())
}

fn short(fp: &str) -> &str {
    &fp[..8.min(fp.len())]
}

/// "preset gate" from the plan, for listing (the repetitions may differ
/// between the runs of one plan).
fn describe_plan(b: &Baseline) -> String {
    format!("preset {}", b.preset().unwrap_or("–"))
}

fn list(db: &std::path::Path) -> Result<i32> {
    let mut h = open_existing(db)?;
    let all = h.baselines().map_err(store_error)?;
    if all.is_empty() {
        println!(
            "no baselines in {}; save one with `isobench baseline save NAME RUN...`",
            h.location()
        );
        return Ok(0);
    }
    println!("{} baseline(s) in {}", all.len(), h.location());
    println!(
        "{:<20} {:>4}  {:<30} {:<20} {:<20}  runs",
        "name", "runs", "host", "plan", "saved"
    );
    for b in &all {
        println!(
            "{:<20} {:>4}  {:<30} {:<20} {:<20}  {}",
            b.name,
            b.run_ids.len(),
            format!(
                "{} ({})",
                b.host.hostname,
                short(&host_fingerprint(&b.host))
            ),
            describe_plan(b),
            b.saved_at,
            b.run_ids.join(", ")
        );
    }
    Ok(0)
}

fn delete(db: &std::path::Path, name: &str) -> Result<i32> {
    let mut h = open_existing(db)?;
    let Some(b) = h.baseline(name).map_err(store_error)? else {
        return Err(unknown(&mut h, name));
    };
    if !h.delete_baseline(name).map_err(store_error)? {
        // Deleted by someone else meanwhile.
        return Err(unknown(&mut h, name));
    }
    println!(
        "deleted baseline '{name}' from {} ({} run(s); the runs stay in the store)",
        h.location(),
        b.run_ids.len()
    );
    Ok(0)
}
