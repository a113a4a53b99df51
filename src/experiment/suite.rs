//! The suite (docs/design.md, "Data flow" step 2–3): every workload of the
//! plan in every column, into a run directory; the first phase of the main
//! job (`--experiment all`).
//!
//! For every repetition it runs every (environment, workload) pair in an
//! order shuffled per repetition with a seeded RNG ([`runner::order`]), so a
//! drifting machine does not favour one environment and a resumed run sees
//! the same order. Warm-up runs come first and are not recorded. Each
//! finished run is appended to the sink (`results.jsonl`) before the next
//! starts.

use super::{env_info, Experiment, ExperimentConfig, Interrupt, Need, Outcome, Run, Sink, Start};
use crate::env::process::Interrupted;
use crate::env::{Environment, RunOutcome};
use crate::plan::Plan;
use crate::progress::Progress;
use crate::runner::{self, describe, order, to_record};
use crate::store::DoneKey;
use anyhow::Result;
use isobench_reports::schema::HostInfo;
use isobench_workloads::{Workload, WorkloadSpec};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What a finished (or interrupted) suite did.
#[derive(Debug, Default)]
pub struct Summary {
    pub measured: usize,
    pub invalid: usize,
    pub skipped_done: usize,
    pub interrupted: bool,
}

/// One run of `spec` in `env`; the host-measured `layers` workload runs on
/// the host instead (it measures isorun's layer store, not an environment).
fn run_one(
    env: &mut dyn Environment,
    spec: &WorkloadSpec,
    timeout: Duration,
    scratch: &Path,
) -> Result<RunOutcome> {
    if spec.workload == Workload::Layers {
        return super::layers::measure_in(spec, scratch);
    }
    env.run(spec, timeout)
}

/// The suite's loop over prepared environments: what every phase shares.
struct Loop<'a> {
    plan: &'a Plan,
    specs: BTreeMap<Workload, WorkloadSpec>,
    done: &'a HashSet<DoneKey>,
    timeout: Duration,
    scratch: &'a Path,
    stop: &'a dyn Interrupt,
}

impl Loop<'_> {
    fn is_done(&self, envs: &[Box<dyn Environment>], e: usize, w: Workload, rep: u32) -> bool {
        self.done
            .contains(&(envs[e].id(), self.plan.workload_name(w), rep))
    }

    /// Warm-up rounds: only pairs that still have something to measure.
    /// `false` when interrupted.
    fn warm_up(&self, envs: &mut [Box<dyn Environment>], progress: &mut Progress) -> bool {
        let plan = self.plan;
        for round in 0..plan.warmup {
            for (e, w) in order(envs.len(), &plan.workloads, plan.seed, -1 - round as i64) {
                if (0..plan.reps).all(|r| self.is_done(envs, e, w, r))
                    || envs[e].cannot_run(w).is_some()
                {
                    continue;
                }
                if self.stop.interrupted() {
                    return false;
                }
                progress.start(&format!(
                    "warm-up {} {}",
                    envs[e].id(),
                    plan.workload_name(w)
                ));
                match run_one(
                    envs[e].as_mut(),
                    &self.specs[&w],
                    self.timeout,
                    self.scratch,
                ) {
                    Ok(_) => {}
                    Err(err) if err.is::<Interrupted>() || self.stop.interrupted() => {
                        return false;
                    }
                    Err(err) => progress.note(&format!(
                        "warning: warm-up of {} {w} failed: {}",
                        envs[e].id(),
                        format!("{err:#}").lines().next().unwrap_or("")
                    )),
                }
            }
        }
        true
    }

    /// The measured repetitions, each record handed to `sink` at once.
    fn measure(
        &self,
        envs: &mut [Box<dyn Environment>],
        sink: &mut dyn Sink,
        progress: &mut Progress,
        summary: &mut Summary,
    ) -> Result<()> {
        let plan = self.plan;
        for rep in 0..plan.reps {
            for (e, w) in order(envs.len(), &plan.workloads, plan.seed, rep as i64) {
                if self.is_done(envs, e, w, rep) {
                    summary.skipped_done += 1;
                    continue;
                }
                if envs[e].cannot_run(w).is_some() {
                    continue;
                }
                if self.stop.interrupted() {
                    summary.interrupted = true;
                    return Ok(());
                }
                progress.start(&format!(
                    "{} {} rep {rep}",
                    envs[e].id(),
                    plan.workload_name(w)
                ));
                let started = SystemTime::now();
                let outcome = run_one(
                    envs[e].as_mut(),
                    &self.specs[&w],
                    self.timeout,
                    self.scratch,
                );
                if let Err(err) = &outcome {
                    if err.is::<Interrupted>() || self.stop.interrupted() {
                        summary.interrupted = true;
                        return Ok(());
                    }
                }
                let rec = to_record(plan, envs[e].as_ref(), w, rep, started, &outcome);
                sink.append(&rec)?;
                summary.measured += 1;
                if !rec.valid {
                    summary.invalid += 1;
                }
                progress.finish_one(&describe(&rec));
            }
        }
        Ok(())
    }
}

/// Execute the plan's measurements over prepared environments, repetitions
/// in `done` excepted; `scratch` is the run's scratch directory (swept
/// after a crash like the rest).
pub fn execute(
    plan: &Plan,
    envs: &mut [Box<dyn Environment>],
    sink: &mut dyn Sink,
    done: &HashSet<DoneKey>,
    scratch: &Path,
    progress: &mut Progress,
    stop: &dyn Interrupt,
) -> Result<Summary> {
    let mut summary = Summary::default();
    let l = Loop {
        plan,
        specs: runner::specs(plan, envs.iter().any(|e| e.emulated())),
        done,
        timeout: Duration::from_secs(plan.timeout_s),
        scratch,
        stop,
    };
    if !l.warm_up(envs, progress) {
        summary.interrupted = true;
        return Ok(summary);
    }
    for env in envs.iter() {
        for w in &plan.workloads {
            if let Some(why) = env.cannot_run(*w) {
                progress.note(&format!("skipping {} {w}: {why}", env.id()));
            }
        }
    }
    l.measure(envs, sink, progress, &mut summary)?;
    Ok(summary)
}

/// Measurement hazards worth a warning in run.json, each with advice.
fn hazards(cores: usize) -> Vec<String> {
    let mut w = Vec::new();
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        if let Some(load) = l
            .split_whitespace()
            .next()
            .and_then(|x| x.parse::<f64>().ok())
        {
            if load > 0.5 * cores as f64 {
                w.push(format!(
                    "busy host: 1-minute load average {load:.2} on {cores} cores; stop other work or add --reps, results will be noisier"
                ));
            }
        }
    }
    if let Ok(g) = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    {
        if g.trim() != "performance" {
            w.push(format!(
                "CPU frequency governor is '{}': frequency scaling adds noise; set 'performance' for stable figures",
                g.trim()
            ));
        }
    }
    w
}

/// The suite's warnings: host hazards, the plan's notes, emulation.
pub fn suite_warnings(host: &HostInfo, plan: &Plan, envs: &[Box<dyn Environment>]) -> Vec<String> {
    let mut w = hazards(host.cores_logical);
    w.extend(plan.notes.iter().cloned());
    if envs.iter().any(|e| e.emulated()) {
        w.push(
            "a VM runs under emulation (QEMU TCG): every environment runs the emulated (smaller) sizes so that ratios compare the same work, and VM figures measure the emulator, not virtualisation"
                .to_string(),
        );
    }
    w
}

/// What an environment skips of the plan's workloads, and why (claim C7's
/// workloads: no lower layer in a VM, no mount in a container), for its
/// run.json detail.
pub fn not_run(plan: &Plan, e: &dyn Environment) -> BTreeMap<String, String> {
    plan.workloads
        .iter()
        .filter_map(|w| Some((format!("not_run_{w}"), e.cannot_run(*w)?)))
        .collect()
}

/// Memory every environment must hold for the plan's workloads (all run
/// the same work).
pub fn need(plan: &Plan, envs: &[Box<dyn Environment>]) -> Need {
    let specs = runner::specs(plan, envs.iter().any(|e| e.emulated()));
    Need {
        bytes: runner::memory_need_bytes(&specs),
        what: "the workloads",
    }
}

/// Run the plan's workloads in `envs` (after the run started), repetitions
/// a resumed run measured excepted. `None` when interrupted.
pub fn suite(
    plan: &Plan,
    envs: &mut [Box<dyn Environment>],
    sink: &mut dyn Sink,
    scratch: &Path,
    stop: &dyn Interrupt,
) -> Result<Option<Summary>> {
    let runnable = envs
        .iter()
        .map(|e| {
            plan.workloads
                .iter()
                .filter(|w| e.cannot_run(**w).is_none())
                .count()
        })
        .sum::<usize>();
    let total = runnable as u64 * plan.reps as u64;
    let done = sink.before().map(|b| b.done.clone()).unwrap_or_default();
    // Only the suite's own repetitions count (a main job's directory also
    // holds the records of its experiments).
    let done_here = done
        .iter()
        .filter(|(_, w, _)| plan.workloads.iter().any(|p| plan.workload_name(*p) == *w))
        .count();
    let mut progress = Progress::new(total.saturating_sub(done_here as u64));
    let summary = execute(plan, envs, sink, &done, scratch, &mut progress, stop);
    progress.finish();
    let summary = summary?;
    if summary.interrupted {
        eprintln!(
            "interrupted after {} measured runs; {}",
            summary.measured,
            sink.interrupted_note()
        );
        return Ok(None);
    }
    Ok(Some(summary))
}

/// `isobench run` without `--experiment`: [`suite`], untagged in run.json.
pub struct Suite {
    /// The run's scratch directory (the layers workload works below it).
    pub scratch: std::path::PathBuf,
}

impl Experiment for Suite {
    type Config = ();
    const NAME: Option<&'static str> = None;
    const TITLE: &'static str = "the suite";

    fn tag(_: &()) -> Option<ExperimentConfig> {
        None
    }

    fn untag(_: ExperimentConfig) -> Option<()> {
        None
    }

    fn memory_need(
        &mut self,
        run: &Run,
        envs: &[Box<dyn Environment>],
        _before: Option<&()>,
    ) -> Result<Option<Need>> {
        Ok(Some(need(run.plan, envs)))
    }

    fn start(
        &mut self,
        run: &Run,
        envs: &[Box<dyn Environment>],
        _before: Option<()>,
    ) -> Result<Start<()>> {
        let plan = run.plan;
        let bin_bytes = std::fs::read(&plan.workload_bin).unwrap_or_default();
        if crate::locate::is_static_elf(&bin_bytes) == Some(false)
            && plan
                .envs
                .iter()
                .any(|e| e != &crate::env::column::Column::Native)
        {
            eprintln!("warning: {} is not statically linked; containers and VMs need the static build of scripts/build-workload.sh", plan.workload_bin.display());
        }
        let warnings = suite_warnings(run.host, plan, envs);
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        let environments = envs
            .iter()
            .map(|e| env_info(e.as_ref(), not_run(plan, e.as_ref())))
            .collect();
        Ok(Start {
            config: (),
            warnings,
            environments,
        })
    }

    fn run(
        &mut self,
        plan: &Plan,
        envs: &mut [Box<dyn Environment>],
        sink: &mut dyn Sink,
        stop: &dyn Interrupt,
    ) -> Result<Outcome> {
        Ok(match suite(plan, envs, sink, &self.scratch, stop)? {
            Some(s) => Outcome::Done {
                measured: s.measured,
                invalid: s.invalid,
            },
            None => Outcome::Interrupted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::fake::FakeEnv;
    use crate::experiment::{MemorySink, Never};
    use std::cell::Cell;

    /// A plan of `workloads` (quick sizes), `reps` repetitions after
    /// `warmup` rounds.
    pub(crate) fn plan(workloads: &[&str], reps: u32, warmup: u32) -> Plan {
        crate::plan::build(&crate::plan::PlanInput {
            envs: vec!["native".into()],
            workloads: workloads.iter().map(|w| w.to_string()).collect(),
            preset: "quick".into(),
            accel: "auto".into(),
            machine: "microvm".into(),
            host_cores: 2,
            reps: Some(reps),
            warmup: Some(warmup),
            run_id: "suite-test".into(),
            ..Default::default()
        })
        .unwrap()
    }

    fn fakes(ids: &[&str]) -> Vec<Box<dyn Environment>> {
        ids.iter()
            .map(|id| {
                Box::new(FakeEnv {
                    id: id.to_string(),
                    ..FakeEnv::default()
                }) as Box<dyn Environment>
            })
            .collect()
    }

    /// Interrupted from the `n`-th question on.
    struct After(Cell<usize>);

    impl Interrupt for After {
        fn interrupted(&self) -> bool {
            let left = self.0.get();
            self.0.set(left.saturating_sub(1));
            left == 0
        }
    }

    fn run(
        plan: &Plan,
        envs: &mut [Box<dyn Environment>],
        done: &HashSet<DoneKey>,
        stop: &dyn Interrupt,
    ) -> (Summary, MemorySink) {
        let mut sink = MemorySink::default();
        let t = tempfile::tempdir().unwrap();
        let mut progress = Progress::new(0);
        let s = execute(plan, envs, &mut sink, done, t.path(), &mut progress, stop).unwrap();
        (s, sink)
    }

    /// Every (environment, workload, repetition) is measured once, in the
    /// seeded order of its repetition; warm-up runs are not recorded.
    #[test]
    fn the_suite_measures_every_pair_of_every_rep_once() {
        let plan = plan(&["cpu", "membw"], 2, 1);
        let mut envs = fakes(&["a", "b"]);
        let (s, sink) = run(&plan, &mut envs, &HashSet::new(), &Never);
        assert_eq!((s.measured, s.invalid, s.skipped_done), (8, 0, 0));
        assert!(!s.interrupted);
        let got: Vec<(String, String, u32)> = sink
            .records
            .iter()
            .map(|r| (r.env_id.clone(), r.workload.clone(), r.rep))
            .collect();
        let ids = ["a", "b"];
        let plan = &plan;
        let want: Vec<(String, String, u32)> = (0..2)
            .flat_map(|rep| {
                order(2, &plan.workloads, plan.seed, rep as i64)
                    .into_iter()
                    .map(move |(e, w)| (ids[e].to_string(), plan.workload_name(w), rep))
            })
            .collect();
        assert_eq!(got, want);
        assert!(sink
            .records
            .iter()
            .all(|r| r.valid && r.run_id == "suite-test"));
    }

    /// A resumed run skips what it measured; a workload an environment
    /// cannot run is neither warmed up nor measured.
    #[test]
    fn the_suite_skips_done_runs_and_what_an_environment_cannot_run() {
        let plan = plan(&["cpu", "membw"], 2, 1);
        let mut envs: Vec<Box<dyn Environment>> = vec![
            Box::new(FakeEnv {
                id: "a".into(),
                ..FakeEnv::default()
            }),
            Box::new(FakeEnv {
                id: "b".into(),
                cannot: BTreeMap::from([(Workload::Membw, "no".to_string())]),
                ..FakeEnv::default()
            }),
        ];
        let done = HashSet::from([("a".to_string(), "cpu".to_string(), 0)]);
        let (s, sink) = run(&plan, &mut envs, &done, &Never);
        assert_eq!((s.measured, s.skipped_done), (5, 1));
        assert!(!sink
            .records
            .iter()
            .any(|r| r.env_id == "b" && r.workload == "membw"));
        assert!(!sink
            .records
            .iter()
            .any(|r| r.env_id == "a" && r.workload == "cpu" && r.rep == 0));
    }

    /// A failed run is recorded invalid and the suite goes on.
    #[test]
    fn a_failed_run_is_an_invalid_record() {
        let plan = plan(&["cpu"], 3, 0);
        let mut envs: Vec<Box<dyn Environment>> = vec![Box::new(FakeEnv {
            fail_wait_at: Some(2),
            ..FakeEnv::default()
        })];
        let (s, sink) = run(&plan, &mut envs, &HashSet::new(), &Never);
        assert_eq!((s.measured, s.invalid), (3, 1));
        let bad = &sink.records[1];
        assert!(!bad.valid);
        assert!(bad.error.as_deref().unwrap().contains("crashed"), "{bad:?}");
    }

    /// An interrupt ends the suite between runs, keeping what it measured.
    #[test]
    fn an_interrupt_ends_the_suite_between_runs() {
        let plan = plan(&["cpu", "membw"], 2, 0);
        let mut envs = fakes(&["a"]);
        let (s, sink) = run(&plan, &mut envs, &HashSet::new(), &After(Cell::new(3)));
        assert!(s.interrupted);
        assert_eq!(s.measured, 3);
        assert_eq!(sink.records.len(), 3);
        let (s, _) = run(&plan, &mut envs, &HashSet::new(), &After(Cell::new(0)));
        assert!(s.interrupted && s.measured == 0);
    }

    /// The suite's experiment: untagged, sized by its workloads, each
    /// environment's entry saying what it skips.
    #[test]
    fn the_suite_experiment_starts_untagged_with_what_each_column_skips() {
        let plan = plan(&["cpu", "membw"], 1, 0);
        let host: HostInfo = serde_json::from_value(serde_json::json!({
            "hostname": "h", "kernel": "k", "os": "o", "cpu_model": "c",
            "cores_logical": 64, "mem_total_mib": 1
        }))
        .unwrap_or_else(|_| crate::host::probe());
        let envs: Vec<Box<dyn Environment>> = vec![Box::new(FakeEnv {
            cannot: BTreeMap::from([(Workload::Membw, "no room".to_string())]),
            ..FakeEnv::default()
        })];
        let run = Run {
            plan: &plan,
            host: &host,
            before: None,
        };
        let mut x = Suite {
            scratch: std::env::temp_dir(),
        };
        let need = x.memory_need(&run, &envs, None).unwrap().unwrap();
        assert_eq!(need.what, "the workloads");
        assert!(need.bytes > 0);
        let start = x.start(&run, &envs, None).unwrap();
        assert!(Suite::tag(&start.config).is_none());
        assert_eq!(
            start.environments[0]
                .detail
                .get("not_run_membw")
                .map(String::as_str),
            Some("no room")
        );
    }
}
