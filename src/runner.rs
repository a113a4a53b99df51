//! What every kind of run shares about workloads (docs/design.md, "Data
//! flow" step 2–3): the arguments of each workload of a plan, the seeded
//! order of a repetition, and turning one run's outcome into a
//! `results.jsonl` record. The suite's loop is `experiment::suite`.

use crate::env::{Environment, RunOutcome};
use crate::plan::Plan;
use anyhow::Result;
use isobench_reports::schema::{ResultRecord, Timings, SCHEMA_VERSION};
use isobench_workloads::{Sizing, Workload, WorkloadSpec};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The order of (environment index, workload) pairs in repetition `rep`.
pub fn order(n_envs: usize, workloads: &[Workload], seed: u64, rep: i64) -> Vec<(usize, Workload)> {
    let mut pairs: Vec<(usize, Workload)> = (0..n_envs)
        .flat_map(|e| workloads.iter().map(move |w| (e, *w)))
        .collect();
    let mut rng =
        rand::rngs::StdRng::seed_from_u64(seed ^ (rep as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    pairs.shuffle(&mut rng);
    pairs
}

/// The workload's arguments for one environment: the preset's, with the
/// plan's STREAM array size so that every column moves the same bytes.
pub fn spec_for(plan: &Plan, w: Workload, sizing: &Sizing) -> WorkloadSpec {
    if let (Workload::Command, Some(c)) = (w, &plan.command) {
        // The user's program: the same arguments in every column, whatever
        // the sizing (its work is its own).
        return WorkloadSpec::new(isobench_workloads::args::Command::UserCommand(c.config()));
    }
    let mut spec = WorkloadSpec::for_sizing(w, sizing);
    if let Some(bytes) = plan.membw_array_bytes {
        spec.set_array_bytes(bytes);
    }
    spec.set_stores(
        plan.stream
            .stores()
            .parse()
            .expect("the plan's --stores value parses"),
    );
    spec.set_pages(
        plan.pages
            .name()
            .parse()
            .expect("the plan's --pages value parses"),
    );
    if let Some(cap) = plan.fileio_file_bytes {
        spec.cap_file_size(cap);
    }
    spec
}

/// The arguments of every workload of the plan, the same for every
/// environment of the run (issue "Numbers people can trust": ratios compare
/// the same work). When any environment is emulated (a VM under TCG), every
/// environment runs the emulated sizes, so the VM column never divides
/// smaller work by native's larger one.
pub fn specs(plan: &Plan, emulated: bool) -> BTreeMap<Workload, WorkloadSpec> {
    let sizing = Sizing {
        preset: plan.preset,
        threads: plan.threads,
        emulated,
    };
    plan.workloads
        .iter()
        .map(|w| (*w, spec_for(plan, *w, &sizing)))
        .collect()
}

/// Write the files the plan's workloads expect below them (the copy-up
/// files of `copyup`) into `scratch/workload-data`; `None` when no workload
/// needs any.
pub fn write_workload_data(
    plan: &Plan,
    scratch: &std::path::Path,
) -> Result<Option<std::path::PathBuf>> {
    use isobench_workloads::args::Command;
    let Some(spec) = specs(plan, false).remove(&Workload::Copyup) else {
        return Ok(None);
    };
    let Command::Copyup(c) = spec.command else {
        anyhow::bail!("copyup arguments {:?} are not copyup's", spec.to_args());
    };
    let dir = scratch.join("workload-data");
    isobench_workloads::cow::write_data(&dir, &c.sizes)
        .map_err(|e| anyhow::anyhow!("writing the copy-up files into {}: {e}", dir.display()))?;
    Ok(Some(dir))
}

/// Bytes the largest workload of `specs` allocates (0 when unknown; the
/// specs carry their own thread counts).
pub fn memory_need_bytes(specs: &BTreeMap<Workload, WorkloadSpec>) -> u64 {
    specs
        .values()
        .filter_map(|s| s.memory_need_bytes())
        .max()
        .unwrap_or(0)
}

/// A record of `workload` in `env` with no result yet (invalid, no metrics):
/// the part every kind of run fills in the same way.
pub fn blank_record(
    run_id: &str,
    env: &dyn Environment,
    workload: &str,
    rep: u32,
    started: SystemTime,
) -> ResultRecord {
    ResultRecord {
        schema: SCHEMA_VERSION,
        run_id: run_id.to_string(),
        env: env.kind().name().to_string(),
        env_id: env.id(),
        env_detail: env.detail(),
        workload: workload.to_string(),
        params: BTreeMap::new(),
        rep,
        valid: false,
        metrics: BTreeMap::new(),
        units: BTreeMap::new(),
        directions: Default::default(),
        aliases: Default::default(),
        info: BTreeMap::new(),
        timings: Timings {
            started_unix_ms: started
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            ..Default::default()
        },
        error: None,
    }
}

/// Turn the outcome of one run into a `results.jsonl` record.
pub fn to_record(
    plan: &Plan,
    env: &dyn Environment,
    workload: Workload,
    rep: u32,
    started: SystemTime,
    outcome: &Result<RunOutcome>,
) -> ResultRecord {
    let mut rec = blank_record(
        &plan.run_id,
        env,
        &plan.workload_name(workload),
        rep,
        started,
    );
    match outcome {
        Err(e) => rec.error = Some(format!("{e:#}")),
        Ok(o) => {
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            rec.params = o.result.params.clone();
            rec.info = o.result.info.clone();
            if let (Workload::Command, Some(c)) = (workload, &plan.command) {
                rec.info.insert("rootfs".into(), rootfs_note(c));
            }
            rec.valid = o.result.valid;
            rec.error = o.result.error.clone();
            rec.timings.wall_ms = ms(o.lifecycle);
            rec.timings.first_instruction_ms = o.first_instruction.map(ms);
            if workload == Workload::Startup {
                match o.first_instruction {
                    Some(fi) => {
                        rec.metrics.insert("first_instruction_ms".into(), ms(fi));
                    }
                    None => {
                        rec.valid = false;
                        rec.error
                            .get_or_insert_with(|| "ISOBENCH-READY never arrived".into());
                    }
                }
                // The workload idles `held_ms` after READY so that its
                // footprint can be measured; that hold is not startup cost,
                // so it is taken off the lifecycle (and the container's
                // run_ms, which spans most of it: READY can come before
                // `start` returns, so run_ms less the hold is clamped at 0).
                // first_instruction_ms precedes the hold. The host's READY
                // timestamp can lag the write by a few ms, which can push the
                // difference below first_instruction_ms for a process that
                // exits at once (native); a lifecycle cannot end before its
                // first instruction, so that is its floor.
                let held = o
                    .result
                    .info
                    .get("held_ms")
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .unwrap_or(0.0);
                let floor = o.first_instruction.map(ms).unwrap_or(0.0);
                rec.metrics
                    .insert("lifecycle_ms".into(), (ms(o.lifecycle) - held).max(floor));
                for (k, v) in &o.extra_ms {
                    let v = if k == "run_ms" {
                        (v - held).max(0.0)
                    } else {
                        *v
                    };
                    rec.metrics.insert(k.clone(), v);
                }
                for k in rec.metrics.keys() {
                    rec.units.insert(k.clone(), "ms".into());
                }
                if let Some(f) = &o.footprint {
                    for (k, v) in [
                        ("footprint_pss_mib", f.pss_mib()),
                        ("footprint_uss_mib", f.uss_mib()),
                    ] {
                        rec.metrics.insert(k.into(), v);
                        rec.units.insert(k.into(), "MiB".into());
                    }
                    rec.info
                        .insert("footprint_method".into(), footprint_method().into());
                    rec.info
                        .insert("footprint_pids".into(), f.pids.len().to_string());
                }
            } else {
                rec.metrics = o.result.metrics.clone();
                rec.units = o.result.units.clone();
                rec.directions = o.result.directions.clone();
                rec.aliases = o.result.aliases.clone();
                for (k, v) in &o.extra_ms {
                    rec.info.insert(k.clone(), format!("{v:.3}"));
                }
            }
            if rec.metrics.is_empty() && rec.valid {
                rec.valid = false;
                rec.error = Some("the workload reported no metrics".into());
            }
        }
    }
    rec
}

/// Where the user's command's files came from, for its records.
fn rootfs_note(c: &crate::user_command::UserCommand) -> String {
    use crate::user_command::Rootfs;
    match &c.rootfs {
        None => "none: the program alone, copied from the host into images and guests".into(),
        Some(Rootfs::Dir { path }) => format!("directory {}", path.display()),
        Some(Rootfs::Oci { layout, tag }) => format!(
            "OCI layout {}{} (unpacked with umoci)",
            layout.display(),
            tag.as_deref().map(|t| format!(":{t}")).unwrap_or_default()
        ),
    }
}

/// How `footprint_pss_mib` and `footprint_uss_mib` are measured: one
/// sentence, the same for every environment.
pub fn footprint_method() -> &'static str {
    crate::env::footprint::METHOD
}

/// One line for progress output.
pub fn describe(rec: &ResultRecord) -> String {
    let mut s = format!("{} {} rep {}: ", rec.env_id, rec.workload, rec.rep);
    if let Some(e) = &rec.error {
        let first = e.lines().next().unwrap_or("");
        s.push_str(&format!("INVALID ({first})"));
        return s;
    }
    let shown: Vec<String> = rec
        .metrics
        .iter()
        .take(4)
        .map(|(k, v)| format!("{k}={}", fmt_num(*v)))
        .collect();
    s.push_str(&shown.join(" "));
    if rec.metrics.len() > 4 {
        s.push_str(&format!(" (+{} more)", rec.metrics.len() - 4));
    }
    if !rec.valid {
        s.push_str(" INVALID");
    }
    s
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_environment_runs_the_same_arguments() {
        let mut input = crate::plan::PlanInput {
            envs: vec!["native".into(), "vm".into()],
            workloads: vec!["cpu".into(), "membw".into(), "randacc".into()],
            preset: "quick".into(),
            accel: "auto".into(),
            machine: "microvm".into(),
            host_cores: 2,
            host_llc_bytes: Some(32 << 20),
            run_id: "r".into(),
            ..Default::default()
        };
        let plan = crate::plan::build(&input).unwrap();
        let full = specs(&plan, false);
        let small = specs(&plan, true);
        assert!(full[&Workload::Membw]
            .to_args()
            .contains(&(128u64 << 20).to_string()));
        assert_ne!(full[&Workload::Randacc], small[&Workload::Randacc]);
        // The need follows the largest allocation: randacc 2^24 words = 128 MiB
        // against membw's 3 x 128 MiB.
        assert_eq!(memory_need_bytes(&full), 3 * (128 << 20));
        input.workloads = vec!["startup".into()];
        let plan = crate::plan::build(&input).unwrap();
        assert_eq!(memory_need_bytes(&specs(&plan, true)), 0);
    }

    #[test]
    fn order_is_a_seeded_permutation_that_varies_per_rep() {
        let ws = [
            Workload::Cpu,
            Workload::Membw,
            Workload::Randacc,
            Workload::Latency,
        ];
        let a0 = order(3, &ws, 7, 0);
        assert_eq!(a0.len(), 12);
        let mut sorted = a0.clone();
        sorted.sort();
        let mut all: Vec<_> = (0..3)
            .flat_map(|e| ws.iter().map(move |w| (e, *w)))
            .collect();
        all.sort();
        assert_eq!(sorted, all);
        assert_eq!(a0, order(3, &ws, 7, 0), "same seed and rep, same order");
        assert!(
            (1..5).any(|r| order(3, &ws, 7, r) != a0),
            "order changes across reps"
        );
    }
}
