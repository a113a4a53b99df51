//! The typed, validated plan of a run (STYLE.md: configure, validate, act).
//!
//! `isobench run`'s flags are turned into a [`Plan`] without side effects; the
//! runner executes it and `run.json` records it, so `--resume` can continue
//! exactly the same plan.

use crate::env::EnvKind;
use isobench_workloads::{Preset, Workload};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Seed of the shuffle when `--seed` is not given: fixed, so that two runs of
/// one plan measure in the same order.
pub const DEFAULT_SEED: u64 = 0x150b_e4c4;

/// Bad input from the user: reported as one line, exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// One column of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "env", rename_all = "lowercase")]
pub enum EnvPlan {
    Native,
    Container {
        /// `isorun`, `runc`, `crun` or a path to a runtime CLI.
        runtime: String,
    },
    Vm(VmPlan),
}

impl EnvPlan {
    pub fn kind(&self) -> EnvKind {
        match self {
            EnvPlan::Native => EnvKind::Native,
            EnvPlan::Container { .. } => EnvKind::Container,
            EnvPlan::Vm(_) => EnvKind::Vm,
        }
    }
}

/// What the user asked of the VM environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmPlan {
    /// `auto`, `kvm` or `tcg`.
    pub accel: String,
    /// `microvm` or `q35`.
    pub machine: String,
    pub kernel: Option<PathBuf>,
    pub vcpus: usize,
    pub memory_mib: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub run_id: String,
    pub envs: Vec<EnvPlan>,
    pub workloads: Vec<Workload>,
    pub preset: Preset,
    pub threads: usize,
    pub reps: u32,
    pub warmup: u32,
    /// Seed of the per-repetition shuffle of (environment, workload) pairs.
    pub seed: u64,
    /// Longest a single run may take before it is killed, seconds.
    pub timeout_s: u64,
    pub out: PathBuf,
    pub workload_bin: PathBuf,
    /// Bytes per STREAM array, the same in every environment: 4x the host's
    /// last-level cache (a guest sees QEMU's virtual cache sizes, so the
    /// workload's own default would differ between columns).
    #[serde(default)]
    pub membw_array_bytes: Option<u64>,
}

/// Raw choices from the command line, before validation.
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    pub envs: Vec<String>,
    pub workloads: Vec<String>,
    pub preset: String,
    pub threads: Option<usize>,
    pub reps: Option<u32>,
    pub warmup: Option<u32>,
    pub runtimes: Vec<String>,
    pub accel: String,
    pub machine: String,
    pub kernel: Option<PathBuf>,
    pub vm_memory_mib: Option<u64>,
    pub seed: Option<u64>,
    pub timeout_s: Option<u64>,
    pub out: Option<PathBuf>,
    pub workload_bin: PathBuf,
    pub host_cores: usize,
    /// Size of the host's last-level cache, when known.
    pub host_llc_bytes: Option<u64>,
    pub run_id: String,
}

fn dedup<T: PartialEq + Clone>(v: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for x in v {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

/// Validate the input and produce a plan. Pure: touches nothing.
pub fn build(input: &PlanInput) -> Result<Plan, UsageError> {
    let err = |m: String| UsageError(m);
    let preset: Preset = input.preset.parse().map_err(err)?;
    let mut workloads = Vec::new();
    for w in dedup(&input.workloads) {
        workloads.push(w.trim().parse::<Workload>().map_err(err)?);
    }
    if workloads.is_empty() {
        return Err(err("no workload given (--workload cpu,membw,...)".into()));
    }
    let threads = input.threads.unwrap_or(input.host_cores.max(1));
    if threads == 0 {
        return Err(err("--threads must be at least 1".into()));
    }
    if threads > 1024 {
        return Err(err(format!("--threads {threads} is more than 1024")));
    }
    let reps = input.reps.unwrap_or(match preset {
        Preset::Quick => 3,
        Preset::Standard => 5,
        Preset::Full => 10,
    });
    if reps == 0 {
        return Err(err("--reps must be at least 1".into()));
    }
    let warmup = input.warmup.unwrap_or(1);
    let timeout_s = input.timeout_s.unwrap_or(600);
    if timeout_s == 0 {
        return Err(err("--timeout must be at least 1 second".into()));
    }
    if !["auto", "kvm", "tcg"].contains(&input.accel.as_str()) {
        return Err(err(format!(
            "unknown accelerator '{}' (known: auto, kvm, tcg)",
            input.accel
        )));
    }
    if !["microvm", "q35"].contains(&input.machine.as_str()) {
        return Err(err(format!(
            "unknown machine type '{}' (known: microvm, q35)",
            input.machine
        )));
    }
    let memory_mib = input.vm_memory_mib.unwrap_or(match preset {
        Preset::Quick => 1024,
        Preset::Standard => 2048,
        Preset::Full => 4096,
    });
    if memory_mib < 128 {
        return Err(err(format!(
            "--vm-memory {memory_mib} MiB is too small (at least 128)"
        )));
    }
    let membw_array_bytes = input.host_llc_bytes.map(|llc| 4 * llc);
    let mut envs = Vec::new();
    for e in dedup(&input.envs) {
        match e.trim().parse::<EnvKind>().map_err(err)? {
            EnvKind::Native => envs.push(EnvPlan::Native),
            EnvKind::Container => {
                let runtimes = if input.runtimes.is_empty() {
                    vec!["isorun".to_string()]
                } else {
                    dedup(&input.runtimes)
                };
                for r in runtimes {
                    if r.trim().is_empty() {
                        return Err(err("empty --runtime".into()));
                    }
                    envs.push(EnvPlan::Container { runtime: r });
                }
            }
            EnvKind::Vm => envs.push(EnvPlan::Vm(VmPlan {
                accel: input.accel.clone(),
                machine: input.machine.clone(),
                kernel: input.kernel.clone(),
                vcpus: threads,
                memory_mib,
            })),
        }
    }
    if envs.is_empty() {
        return Err(err(
            "no environment given (--env native,container,vm)".into()
        ));
    }
    // STREAM's three arrays plus the guest kernel must fit in the guest.
    let has_vm = envs.iter().any(|e| matches!(e, EnvPlan::Vm(_)));
    if let (Some(a), true) = (
        membw_array_bytes,
        has_vm && workloads.contains(&Workload::Membw),
    ) {
        let need_mib = (3 * a).div_ceil(1 << 20) + 192;
        if memory_mib < need_mib {
            return Err(err(format!(
                "--vm-memory {memory_mib} MiB cannot hold membw's three {} MiB arrays and the guest kernel; use --vm-memory {need_mib} or more",
                a >> 20
            )));
        }
    }
    let out = input
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&input.run_id));
    Ok(Plan {
        run_id: input.run_id.clone(),
        envs,
        workloads,
        preset,
        threads,
        reps,
        warmup,
        seed: input.seed.unwrap_or(DEFAULT_SEED),
        timeout_s,
        out,
        workload_bin: input.workload_bin.clone(),
        membw_array_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PlanInput {
        PlanInput {
            envs: vec!["native".into()],
            workloads: vec!["cpu".into(), "membw".into()],
            preset: "quick".into(),
            accel: "auto".into(),
            machine: "microvm".into(),
            host_cores: 2,
            host_llc_bytes: Some(32 << 20),
            run_id: "r1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_follow_preset_and_host() {
        let p = build(&input()).unwrap();
        assert_eq!(p.threads, 2);
        assert_eq!(p.reps, 3);
        assert_eq!(p.warmup, 1);
        assert_eq!(p.workloads, vec![Workload::Cpu, Workload::Membw]);
        assert_eq!(p.out, PathBuf::from("runs/r1"));
    }

    #[test]
    fn rejects_bad_input_with_a_message_naming_it() {
        let mut i = input();
        i.workloads = vec!["gpu".into()];
        assert!(build(&i).unwrap_err().0.contains("unknown workload 'gpu'"));
        let mut i = input();
        i.threads = Some(0);
        assert!(build(&i).unwrap_err().0.contains("--threads"));
        let mut i = input();
        i.reps = Some(0);
        assert!(build(&i).unwrap_err().0.contains("--reps"));
        let mut i = input();
        i.envs = vec!["jail".into()];
        assert!(build(&i)
            .unwrap_err()
            .0
            .contains("unknown environment 'jail'"));
        let mut i = input();
        i.accel = "hvf".into();
        assert!(build(&i).unwrap_err().0.contains("accelerator"));
        let mut i = input();
        i.preset = "huge".into();
        assert!(build(&i).unwrap_err().0.contains("preset"));
    }

    #[test]
    fn membw_arrays_follow_the_host_cache_and_must_fit_the_guest() {
        let mut i = input();
        i.envs = vec!["native".into(), "vm".into()];
        assert_eq!(build(&i).unwrap().membw_array_bytes, Some(128 << 20));
        i.vm_memory_mib = Some(256);
        let e = build(&i).unwrap_err().0;
        assert!(e.contains("--vm-memory 576"), "{e}");
        i.workloads = vec!["cpu".into()];
        assert!(build(&i).is_ok(), "no membw, no constraint");
    }

    #[test]
    fn one_container_column_per_runtime() {
        let mut i = input();
        i.envs = vec!["native".into(), "container".into(), "native".into()];
        i.runtimes = vec!["isorun".into(), "runc".into(), "crun".into()];
        let p = build(&i).unwrap();
        assert_eq!(p.envs.len(), 4);
        assert_eq!(
            p.envs[3],
            EnvPlan::Container {
                runtime: "crun".into()
            }
        );
    }

    #[test]
    fn plan_round_trips_through_json() {
        let mut i = input();
        i.envs = vec!["vm".into(), "container".into()];
        let p = build(&i).unwrap();
        let j = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Plan>(&j).unwrap(), p);
    }
}
