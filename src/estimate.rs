//! How long a plan will take, before it runs (`isobench run --dry-run`).
//!
//! Pure: the estimate follows from the plan alone (its columns, its
//! workloads' arguments, repetitions and warm-ups, the experiments and
//! their sizes), never from probing the host, so a dry run touches
//! nothing. It is an estimate: every assumption it makes is listed with
//! it ([`Estimate::assumptions`]), and it errs long where the plan leaves
//! something open (a VM under `--accel auto` is taken to be emulated).
//!
//! The per-run times were measured on the development machine (2 vCPUs of
//! an AMD EPYC in a nested VM, at a load average of about 15 from other
//! work; the VM and container times from the sample main job,
//! reports/sample/run), scaled by the plan's sizes where a workload's time
//! follows them (STREAM array bytes and passes, RandomAccess table, latency
//! working sets, file counts, layer sizes).

use crate::env::column::{Column, Engine, Vmm};
use crate::env::vm::accel::AccelRequest;
use crate::experiment::neighbours::{self as nb, Config};
use crate::plan::Plan;
use isobench_workloads::{Workload, WorkloadSpec};
use std::collections::BTreeMap;

/// One phase of a run and its estimated seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub what: String,
    pub seconds: f64,
}

/// The estimate of a whole plan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Estimate {
    pub phases: Vec<Phase>,
    /// What the figures assume, in words, for the reader to judge.
    pub assumptions: Vec<String>,
}

impl Estimate {
    pub fn total_s(&self) -> f64 {
        self.phases.iter().map(|p| p.seconds).sum()
    }
}

/// A VM boot to the workload's first instruction under TCG: 3.9 s on the
/// quiet development machine, 14–19 s in the loaded sample run.
pub const TCG_BOOT_S: f64 = 5.0;
/// A VM boot under KVM (assumed; not measurable on the development machine).
pub const KVM_BOOT_S: f64 = 1.5;
/// What a bare OCI runtime adds to one run (create, start, delete): 0.1–0.3 s
/// in the sample run.
pub const CONTAINER_RUN_S: f64 = 0.3;
/// What podman adds to one run (`podman run --rm`): about 0.27 s more than
/// the bare runtime's lifecycle on the development machine, rounded up.
pub const ENGINE_RUN_S: f64 = 0.6;
/// Preparing a container column (image, bundle).
pub const CONTAINER_PREPARE_S: f64 = 2.0;
/// Test boots a VM column makes before measuring (accelerator probe and
/// guest memory sizing).
pub const VM_PREPARE_BOOTS: f64 = 3.0;
/// The permission check (claim C6): 15 s in the sample, rounded up.
pub const PERMISSIONS_S: f64 = 30.0;
/// Launching, measuring and later stopping one idle instance (density):
/// 23 ms native and 71–113 ms per container launch in the sample, about as
/// long again to stop.
pub const DENSITY_NATIVE_S: f64 = 0.05;
pub const DENSITY_CONTAINER_S: f64 = 0.25;
pub const DENSITY_ENGINE_S: f64 = 1.0;
/// Starting an antagonist and waiting for its first progress line.
pub const ANTAGONIST_START_S: f64 = 0.5;
/// How much longer a victim runs beside its antagonist than alone (the
/// quick sample: 1.6–2.5x for STREAM, 2x for a shared CPU victim, about 1x
/// partitioned).
pub const BESIDE_FACTOR: f64 = 1.5;

/// Seconds one native run of `spec` takes, from the sample's medians
/// scaled by the parameters that set a workload's amount of work.
pub fn native_run_s(spec: &WorkloadSpec) -> f64 {
    use isobench_workloads::args::Command;
    const MIB: f64 = 1024.0 * 1024.0;
    match &spec.command {
        // Time-bound kernels: 2.4–2.6 s at the default 300 ms per kernel.
        Command::Cpu(c) => 0.5 + 2.0 * c.min_time_ms as f64 / 300.0,
        // 2.5 s for 5 passes over 128 MiB arrays.
        Command::Membw(c) => {
            let size = c.size_bytes.map_or(128.0 * MIB, |b| b as f64);
            let passes = c.passes as f64;
            (2.5 * (size / (128.0 * MIB)) * (passes / 5.0)).max(0.5)
        }
        // 0.5 s at 2^20 words, 6.9 s at 2^24: the updates grow with the table.
        Command::Randacc(c) => {
            let log2 = c.log2_table as f64;
            (0.3 + 0.4 * 2f64.powf(log2 - 20.0)).max(0.4)
        }
        // 3.8 s up to 64 MiB working sets, 9.1 s up to 256 MiB.
        Command::Latency(c) => 2.0 + 7.0 * c.max_size as f64 / (256.0 * MIB),
        // An antagonist is an idle instance to the environments.
        Command::Startup { .. } | Command::Idle | Command::Antagonist(_) | Command::Help => 0.4,
        Command::Copyup(c) => {
            let largest = c.sizes.iter().copied().max().unwrap_or(0) as f64;
            0.4 * (largest / (16.0 * MIB)).max(1.0)
        }
        Command::Ovlmount(c) => {
            let layers: f64 = c.layers.iter().map(|&n| n as f64).sum();
            0.2 * (c.tries as f64 / 5.0) * (layers / 127.0).max(1.0)
        }
        Command::Fsmeta(c) => 2.0 * c.files as f64 / 2000.0,
        Command::Layers { layer_size, .. } => 3.8 * *layer_size as f64 / (4.0 * MIB),
        // 1–1.5 s per run at 32 MiB and 300 random operations per place
        // (two or three places): the sequential phases scale with the file,
        // the random ones (an fsync per write) with the operations.
        // Every phase (four per place) lasts at least `min_time_ms`: about
        // 3 s per run with the presets' 200 ms and three places. The places
        // come from the environment at run time (a container has three,
        // native two, a VM one): three, so that the estimate errs long.
        Command::Fileio(c) => {
            let by_size = 0.4 * c.file_size as f64 / (32.0 * MIB) + 0.8 * c.rand_ops as f64 / 300.0;
            let phases = 4.0 * c.places.len().max(3) as f64;
            0.2 + by_size.max(phases * c.min_time_ms as f64 / 1e3)
        }
        // The user's program: unknown before it runs (the estimate says so).
        Command::UserCommand(_) => COMMAND_ASSUMED_S,
    }
}

/// What one run of a user's command is taken to last in an estimate.
pub const COMMAND_ASSUMED_S: f64 = 1.0;

/// How much longer a workload's own work takes under TCG than natively,
/// from the sample (VM run minus its boot, against native).
fn tcg_factor(w: Workload) -> f64 {
    match w {
        Workload::Membw => 6.0,
        Workload::Randacc => 10.0,
        Workload::Latency => 1.5,
        Workload::Startup | Workload::Idle => 0.0,
        _ => 1.0,
    }
}

/// How a column's run differs from a native one.
#[derive(Debug, Clone, Copy)]
struct Cost {
    /// Seconds added to every launch (a VM's boot, a runtime's lifecycle).
    per_launch: f64,
    /// Factor on the workload's own work.
    work: fn(Workload) -> f64,
    /// Preparing the column, once.
    prepare: f64,
}

fn one(_: Workload) -> f64 {
    1.0
}

fn kvm(_: Workload) -> f64 {
    1.1
}

/// Whether the estimate takes a VM column to run under TCG: a forced
/// `--accel kvm` does not; `auto` is taken to fall back (a test boot would
/// tell, and a dry run boots nothing), so the estimate errs long.
pub fn assumed_emulated(c: &Column) -> bool {
    match c {
        Column::Vm {
            vmm: Vmm::Qemu(q), ..
        } => q.accel != AccelRequest::Kvm,
        _ => false,
    }
}

fn cost(c: &Column) -> Cost {
    match c {
        Column::Native => Cost {
            per_launch: 0.0,
            work: one,
            prepare: 0.0,
        },
        Column::Oci(o) => Cost {
            per_launch: if o.engine == Engine::None {
                CONTAINER_RUN_S
            } else {
                ENGINE_RUN_S
            },
            work: one,
            prepare: CONTAINER_PREPARE_S,
        },
        Column::Vm { .. } if assumed_emulated(c) => Cost {
            per_launch: TCG_BOOT_S,
            work: tcg_factor,
            prepare: VM_PREPARE_BOOTS * TCG_BOOT_S,
        },
        Column::Vm { .. } => Cost {
            per_launch: KVM_BOOT_S,
            work: kvm,
            prepare: VM_PREPARE_BOOTS * KVM_BOOT_S,
        },
    }
}

/// One run of `spec` in column `c`.
fn run_s(c: &Column, spec: &WorkloadSpec) -> f64 {
    let k = cost(c);
    k.per_launch + (k.work)(spec.workload) * native_run_s(spec)
}

/// A column as a reader names it: `native`, `container isorun`,
/// `vm qemu (accel auto, microvm, 2 vCPUs)`.
pub fn column_text(c: &Column) -> String {
    match c {
        Column::Native => "native".into(),
        Column::Oci(o) => format!("container {o}"),
        Column::Vm {
            vmm: Vmm::Qemu(q), ..
        } => format!(
            "vm qemu (accel {}, {}, {} vCPUs, guest memory {})",
            q.accel,
            q.machine,
            q.vcpus,
            q.memory_mib
                .map(|m| format!("{m} MiB"))
                .unwrap_or_else(|| "sized by test boots".into())
        ),
    }
}

/// What the main job's or an experiment's phases are, for the estimate.
#[derive(Debug, Clone, Default)]
pub struct Work<'a> {
    /// Run the plan's workloads in every column (the suite).
    pub suite: bool,
    /// Density: the columns with the instances each launches.
    pub density: Vec<(&'a Column, usize)>,
    /// Neighbours: the columns, the experiment and its victims' arguments.
    pub neighbours: Option<(
        Vec<&'a Column>,
        &'a Config,
        &'a BTreeMap<Workload, WorkloadSpec>,
    )>,
    /// The permission check.
    pub permissions: bool,
}

/// The estimate of `work` under `plan`; `specs` are the workloads'
/// arguments the run will use (`crate::runner::specs`).
pub fn estimate(plan: &Plan, specs: &BTreeMap<Workload, WorkloadSpec>, work: &Work) -> Estimate {
    let mut e = Estimate::default();
    let prepare: f64 = plan.envs.iter().map(|c| cost(c).prepare).sum();
    if prepare > 0.0 {
        e.phases.push(Phase {
            what: "preparing the columns (images; a VM's test boots)".into(),
            seconds: prepare,
        });
    }
    if work.suite {
        let runs: Vec<(&Column, &WorkloadSpec)> = plan
            .envs
            .iter()
            .flat_map(|c| specs.values().map(move |s| (c, s)))
            .filter(|(c, s)| crate::env::column_cannot_run(c, s.workload).is_none())
            .collect();
        let per_rep: f64 = runs.iter().map(|(c, s)| run_s(c, s)).sum();
        let pairs = runs.len();
        e.phases.push(Phase {
            what: format!(
                "the suite: {pairs} pairs × ({} measured + {} warm-up) repetitions",
                plan.reps, plan.warmup
            ),
            seconds: per_rep * f64::from(plan.reps + plan.warmup),
        });
    }
    for (c, n) in &work.density {
        let k = cost(c);
        let per = match c {
            Column::Native => DENSITY_NATIVE_S,
            Column::Oci(o) if o.engine == Engine::None => DENSITY_CONTAINER_S,
            Column::Oci(_) => DENSITY_ENGINE_S,
            Column::Vm { .. } => k.per_launch,
        };
        e.phases.push(Phase {
            what: format!("density: {n} idle instances in {}", column_text(c)),
            seconds: per * *n as f64,
        });
    }
    if let Some((cols, cfg, victims)) = &work.neighbours {
        for c in cols {
            let k = cost(c);
            let victim = |w: Workload| victims.get(&w).map(|s| run_s(c, s)).unwrap_or(0.0);
            let trials = nb::order(cfg, 0, 0);
            // Alone: the victim's run; beside: an antagonist started first
            // and the victim slowed.
            let per_rep: f64 = trials
                .iter()
                .map(|t| match t.antagonist {
                    None => victim(t.victim),
                    Some(_) => k.per_launch + ANTAGONIST_START_S + BESIDE_FACTOR * victim(t.victim),
                })
                .sum();
            let warm: f64 = if cfg.warmup {
                trials
                    .iter()
                    .filter(|t| t.antagonist.is_none())
                    .map(|t| victim(t.victim))
                    .sum()
            } else {
                0.0
            };
            let solos = nb::solos(cfg, c.kind());
            let solo_s = solos.len() as f64
                * (k.per_launch + ANTAGONIST_START_S + cfg.solo_ms as f64 / 1000.0);
            e.phases.push(Phase {
                what: format!(
                    "neighbours in {}: {} trials × {} repetitions, {} antagonist solo runs",
                    column_text(c),
                    trials.len(),
                    cfg.reps,
                    solos.len()
                ),
                seconds: per_rep * f64::from(cfg.reps) + warm + solo_s,
            });
        }
    }
    if work.permissions {
        e.phases.push(permissions_phase());
    }
    e.assumptions = vec![
        "per-run times as measured on the development machine (2 vCPUs of a nested AMD EPYC, a loaded host), scaled by this plan's sizes; another host may take half or three times as long".into(),
    ];
    if plan.envs.iter().any(assumed_emulated) {
        e.assumptions.push(format!(
            "a VM column is taken to run under TCG (--accel auto falls back when a test boot under KVM fails; a dry run boots nothing): {TCG_BOOT_S:.0} s per boot, memory-bound work several times slower"
        ));
    }
    if plan.command.is_some() {
        e.assumptions.push(format!(
            "the command after -- is taken to run {COMMAND_ASSUMED_S:.0} s per repetition (its time is unknown until it runs; it is stopped after --command-timeout)"
        ));
    }
    if !work.density.is_empty() {
        e.assumptions.push(
            "density launches every planned instance (the memory floor may stop it earlier)".into(),
        );
    }
    e
}

fn permissions_phase() -> Phase {
    Phase {
        what: "the permission check (two test users, podman, shared state roots)".into(),
        seconds: PERMISSIONS_S,
    }
}

/// The estimate of `--experiment permissions` alone (it has no plan).
pub fn permissions_only() -> Estimate {
    Estimate {
        phases: vec![permissions_phase()],
        assumptions: vec![format!(
            "the check took 15 s in the sample on the development machine; {PERMISSIONS_S:.0} s allowed"
        )],
    }
}

/// `95 s`, `4 min 10 s`, `1 h 05 min`.
pub fn duration_text(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s < 90 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{build, PlanInput};

    fn input(envs: &[&str], workloads: &[&str]) -> PlanInput {
        PlanInput {
            envs: envs.iter().map(|s| s.to_string()).collect(),
            workloads: workloads.iter().map(|s| s.to_string()).collect(),
            preset: "quick".into(),
            accel: "auto".into(),
            machine: "microvm".into(),
            host_cores: 2,
            host_llc_bytes: Some(32 << 20),
            run_id: "r1".into(),
            ..Default::default()
        }
    }

    fn suite(i: &PlanInput) -> Estimate {
        let p = build(i).unwrap();
        let emulated = p.envs.iter().any(assumed_emulated);
        let specs = crate::runner::specs(&p, emulated);
        estimate(
            &p,
            &specs,
            &Work {
                suite: true,
                ..Default::default()
            },
        )
    }

    #[test]
    fn the_estimate_grows_with_repetitions_columns_and_sizes() {
        let i = input(&["native"], &["cpu", "membw"]);
        let base = suite(&i).total_s();
        assert!(base > 0.0);
        let mut more = i.clone();
        more.reps = Some(6);
        // quick: 3 reps + 1 warm-up; 6 + 1 is 7/4 of it.
        let ratio = suite(&more).total_s() / base;
        assert!((ratio - 7.0 / 4.0).abs() < 1e-9, "{ratio}");
        let mut cols = i.clone();
        cols.envs = vec!["native".into(), "container".into()];
        assert!(suite(&cols).total_s() > 2.0 * base);
        let mut big = i.clone();
        big.preset = "standard".into();
        big.host_llc_bytes = Some(256 << 20);
        assert!(suite(&big).total_s() > base);
    }

    #[test]
    fn an_auto_vm_is_assumed_emulated_and_says_so_a_forced_kvm_is_not() {
        let i = input(&["native", "vm"], &["startup"]);
        let e = suite(&i);
        assert!(e.assumptions.iter().any(|a| a.contains("TCG")), "{e:?}");
        // Only what a column can run is counted: layers runs natively only.
        let mut c7 = i.clone();
        c7.workloads = vec!["cpu".into(), "layers".into()];
        let e7 = suite(&c7);
        assert!(
            e7.phases.iter().any(|p| p.what.contains(" 3 pairs ")),
            "{e7:?}"
        );
        let mut k = i.clone();
        k.accel = "kvm".into();
        let ek = suite(&k);
        assert!(!ek.assumptions.iter().any(|a| a.contains("TCG")));
        assert!(ek.total_s() < e.total_s());
    }

    #[test]
    fn membw_time_follows_the_plans_array_size() {
        let spec = |size: u64| {
            let args = ["membw", "--passes", "5", "--size"]
                .map(String::from)
                .into_iter()
                .chain([size.to_string()])
                .collect::<Vec<_>>();
            WorkloadSpec::parse(Workload::Membw, &args).unwrap()
        };
        let small = native_run_s(&spec(128 << 20));
        let large = native_run_s(&spec(1024 << 20));
        assert!((large / small - 8.0).abs() < 1e-9, "{small} {large}");
    }

    /// A fileio run lasts at least its phases' minimum time: four phases
    /// at each of a container's three places.
    #[test]
    fn fileio_time_is_at_least_its_phases_minimum() {
        let spec = |min_ms: u64| {
            let args = [
                "fileio",
                "--file-size",
                "32MiB",
                "--rand-ops",
                "300",
                "--min-time-ms",
            ]
            .map(String::from)
            .into_iter()
            .chain([min_ms.to_string()])
            .collect::<Vec<_>>();
            WorkloadSpec::parse(Workload::Fileio, &args).unwrap()
        };
        let floor = native_run_s(&spec(200));
        assert!(floor >= 12.0 * 0.2, "{floor}");
        let short = native_run_s(&spec(1));
        assert!((short - 1.4).abs() < 1e-9, "{short}");
    }

    #[test]
    fn durations_read_in_units_a_person_uses() {
        assert_eq!(duration_text(42.4), "42 s");
        assert_eq!(duration_text(250.0), "4 min 10 s");
        assert_eq!(duration_text(3900.0), "1 h 05 min");
    }
}
