//! `isobench push RUN_DIR... [--db URL|FILE]`: add runs measured elsewhere
//! to a history store (PostgreSQL shared by many hosts, or a SQLite file).
//!
//! Idempotent: a run id already in the store adds nothing and says so. Each
//! run is pushed in one transaction, so a failure midway leaves nothing of
//! it, and streamed line by line, so its length does not matter. A run directory of an interrupted run (no `finished_at`, or a cut last
//! line) is refused unless `--unfinished`: pushed early, the rest of the run
//! could never join (the id would already be there).

pub use crate::cli::push::PushArgs;
use anyhow::Result;
use isobench_reports::history::{default_db_path, Begun, History, HistoryError, Pushed};
use isobench_reports::load::{open_run, LoadWarning, RunHeader};
use std::ops::ControlFlow;

/// A store error as the CLI reports it: bad input (exit 2) or a failing
/// server or file (exit 1).
pub fn store_error(e: HistoryError) -> anyhow::Error {
    if e.is_bad_input() {
        crate::plan::usage(e.to_string())
    } else {
        e.into()
    }
}

pub fn run(args: &PushArgs) -> Result<i32> {
    let db = args.db.clone().unwrap_or_else(default_db_path);
    let mut store = History::open(&db).map_err(store_error)?;
    let mut bad_input = 0;
    let mut failed = 0;
    let (mut added, mut present) = (0, 0);
    for dir in &args.run_dirs {
        match push_one(&mut store, dir, args.unfinished) {
            Ok(Pushed::Added {
                repetitions,
                values,
            }) => {
                added += 1;
                let _ = (repetitions, values);
            }
            Ok(Pushed::AlreadyPresent { .. }) => present += 1,
            Err(e) => {
                let usage = e.downcast_ref::<crate::plan::UsageError>().is_some();
                eprintln!("isobench: error: {}: {e:#}", dir.display());
                if usage {
                    bad_input += 1
                } else {
                    failed += 1
                }
            }
        }
    }
    if args.run_dirs.len() > 1 {
        println!(
            "{} run(s) pushed to {}, {} already there{}",
            added,
            store.location(),
            present,
            if bad_input + failed > 0 {
                format!(", {} failed", bad_input + failed)
            } else {
                String::new()
            }
        );
    }
    Ok(if failed > 0 {
        1
    } else if bad_input > 0 {
        2
    } else {
        0
    })
}

/// Push one run directory, printing what happened. The run is streamed
/// (`RunWriter::add_run`): each line of results.jsonl is written as it is
/// read, inside the store's transaction, so a run of any length is pushed
/// in the memory of a few hundred records; a run refused or failing midway
/// is rolled back whole.
pub fn push_one(store: &mut History, dir: &std::path::Path, unfinished: bool) -> Result<Pushed> {
    let run = open_run(dir).map_err(|e| crate::plan::usage(e.to_string()))?;
    let run_id = run.info.run_id.clone();
    let did_not_finish = |why: &str| {
        crate::plan::usage(format!(
            "run {run_id} did not finish ({why}); nothing was pushed: finish it with `isobench run --resume {}`, or pass --unfinished to push what it has",
            dir.display()
        ))
    };
    if !unfinished && run.info.finished_at.is_none() {
        return Err(did_not_finish("run.json has no finished_at"));
    }
    const CUT: &str = "the last line of results.jsonl is cut off";
    let is_cut = |h: &RunHeader| {
        h.warnings
            .iter()
            .any(|w| matches!(w, LoadWarning::TruncatedLastLine { .. }))
    };
    let location = store.location().to_string();
    let outcome = match store.begin_push(&run.info, dir).map_err(store_error)? {
        Begun::AlreadyPresent { stored_repetitions } => {
            // Read through only to check the run and count its lines.
            let header = run
                .read_while(|_| ControlFlow::Continue(()))
                .map_err(|e| crate::plan::usage(e.to_string()))?;
            if !unfinished && is_cut(&header) {
                return Err(did_not_finish(CUT));
            }
            for w in &header.warnings {
                eprintln!("isobench: warning: {w}");
            }
            let differs = stored_repetitions.is_some_and(|n| n != header.lines as i64);
            println!(
                "run {run_id} is already in {location}: nothing added{}",
                if differs {
                    format!(
                        " (the store holds {} repetitions of it, {} holds {}; `isobench history --import {} --db ...` replaces it)",
                        stored_repetitions.unwrap_or(0),
                        dir.display(),
                        header.lines,
                        dir.display()
                    )
                } else {
                    String::new()
                }
            );
            Pushed::AlreadyPresent { stored_repetitions }
        }
        Begun::Writing(mut writer) => {
            // On every early return the writer is dropped: its transaction
            // is rolled back and nothing of the run stays.
            let header = writer.add_run(run).map_err(store_error)?;
            if !unfinished && is_cut(&header) {
                return Err(did_not_finish(CUT));
            }
            for w in &header.warnings {
                eprintln!("isobench: warning: {w}");
            }
            let outcome = writer.commit().map_err(store_error)?;
            if let Pushed::Added {
                repetitions,
                values,
            } = &outcome
            {
                println!(
                    "pushed run {run_id} from {}: {repetitions} repetitions, {values} values, to {location}",
                    dir.display(),
                );
            }
            outcome
        }
    };
    Ok(outcome)
}
