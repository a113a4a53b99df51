//! `isobench clean`: the crash sweep ([`crate::sweep`]) on demand. Removes
//! what runs whose isobench is dead left behind, never what a live run
//! owns. Exit status 0 when nothing was left or all of it was removed, 1
//! when something could not be removed (each named on stderr).

pub use crate::cli::clean::CleanArgs;
use crate::sweep;
use anyhow::Result;

pub fn run(a: &CleanArgs) -> Result<i32> {
    let roots = sweep::host_roots();
    let (plan, outcome) = sweep::sweep(&roots, a.dry_run);
    for k in &plan.kept {
        eprintln!("left alone: {k}");
    }
    let Some(outcome) = outcome else {
        if plan.is_empty() {
            println!("nothing to remove");
        }
        for i in &plan.items {
            println!("would {}", i.action);
        }
        return Ok(0);
    };
    for d in &outcome.done {
        println!("{d}");
    }
    // Test users, groups, sudo rules and work directories of a permission
    // check (claim C6) whose isobench is dead.
    let perm = if crate::sys::is_root() {
        crate::experiment::permissions::sweep::sweep_dead()
    } else {
        Vec::new()
    };
    for d in &perm {
        println!("removed {d}");
    }
    for f in &outcome.failed {
        eprintln!("isobench: could not {f}");
    }
    if outcome.done.is_empty() && outcome.failed.is_empty() && perm.is_empty() {
        println!("nothing to remove");
    }
    Ok(if outcome.ok() { 0 } else { 1 })
}
