//! The typed, validated plan of a run (STYLE.md: configure, validate, act).
//!
//! `isobench run`'s flags are turned into a [`Plan`] without side effects; the
//! runner executes it and `run.json` records it, so `--resume` can continue
//! exactly the same plan.

use crate::env::column::{Column, Oci, Qemu, Vmm};
use crate::env::vm::accel::AccelRequest;
use crate::env::vm::qemu::Machine;
use crate::env::EnvKind;
pub use crate::usage::{usage, UsageError};
use isobench_workloads::{Preset, Workload};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Seed of the shuffle when `--seed` is not given: fixed, so that two runs of
/// one plan measure in the same order.
pub const DEFAULT_SEED: u64 = 0x150b_e4c4;

/// Repetitions of the gating preset: enough for `compare` to detect a 5%
/// change of a single-threaded CPU-bound figure on a noisy 2-core host
/// (docs/gating.md has the measured false-alarm rate and power).
pub const GATE_REPS: u32 = 12;

/// STREAM variant of the membw workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// STREAM as written.
    #[default]
    Plain,
    /// Non-temporal stores; labelled "tuned" wherever it appears.
    Tuned,
}

impl Stream {
    /// The workload's `--stores` value.
    pub fn stores(self) -> &'static str {
        match self {
            Stream::Plain => "normal",
            Stream::Tuned => "nt",
        }
    }
}

impl std::str::FromStr for Stream {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" | "plain" => Ok(Stream::Plain),
            "tuned" => Ok(Stream::Tuned),
            s => Err(format!(
                "unknown STREAM variant '{s}' (known: plain, tuned)"
            )),
        }
    }
}

/// Page policy of the memory workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pages {
    /// 4 KiB pages in every environment.
    #[default]
    Base,
    /// Transparent huge pages where allowed.
    Huge,
}

impl Pages {
    /// The workload's `--pages` value.
    pub fn name(self) -> &'static str {
        match self {
            Pages::Base => "base",
            Pages::Huge => "huge",
        }
    }
}

impl std::str::FromStr for Pages {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" | "base" => Ok(Pages::Base),
            "huge" => Ok(Pages::Huge),
            s => Err(format!("unknown page policy '{s}' (known: base, huge)")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub run_id: String,
    pub envs: Vec<Column>,
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
    #[serde(default)]
    pub stream: Stream,
    #[serde(default)]
    pub pages: Pages,
    /// Facts about how the plan was sized that a reader of the report must
    /// know (e.g. STREAM arrays capped below 4x the LLC by a short preset).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Bytes of the `fileio` file when the host's memory caps it below the
    /// preset's size (a tmpfs place holds the whole file in memory): at
    /// most [`FILEIO_MEMORY_SHARE`] of MemAvailable. `None`: the preset's.
    #[serde(default)]
    pub fileio_file_bytes: Option<u64>,
    /// The user's own program (`isobench run -- PROG ARGS...`), the plan's
    /// only workload when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<crate::user_command::UserCommand>,
}

impl Plan {
    /// The plan of an experiment that brings its own subjects instead of
    /// workloads in environments (the permission check): run `run_id`
    /// into `out`, with no environment to prepare and no workload binary.
    /// `run.json` holds the experiment's configuration alone.
    pub fn without_workloads(run_id: String, out: PathBuf) -> Plan {
        Plan {
            run_id,
            envs: Vec::new(),
            workloads: Vec::new(),
            preset: Preset::default(),
            threads: 1,
            reps: 0,
            warmup: 0,
            seed: 0,
            timeout_s: 0,
            out,
            workload_bin: PathBuf::new(),
            membw_array_bytes: None,
            stream: Stream::default(),
            pages: Pages::default(),
            notes: Vec::new(),
            fileio_file_bytes: None,
            command: None,
        }
    }

    /// Whether the plan runs workloads in environments (see
    /// [`Plan::without_workloads`]).
    pub fn runs_workloads(&self) -> bool {
        !self.envs.is_empty() || !self.workloads.is_empty() || self.command.is_some()
    }

    /// The name results carry for `w`: the command's label for the user's
    /// command, else the workload's name.
    pub fn workload_name(&self, w: Workload) -> String {
        match (w, &self.command) {
            (Workload::Command, Some(c)) => c.label.clone(),
            _ => w.name().to_string(),
        }
    }
}

/// The `fileio` file may take at most 1/this of the host's available
/// memory (a tmpfs place keeps it in memory, beside the page cache of the
/// disk place's file).
pub const FILEIO_MEMORY_SHARE: u64 = 8;

/// STREAM arrays of the short presets (`quick`, `gate`) are capped at this
/// size, so that a host reporting a very large last-level cache (an Intel
/// guest has been seen reporting 260 MiB of L3) still finishes the quick
/// suite in minutes. Such a run is not a conforming STREAM run, and the plan
/// says so in its notes; `standard` and `full` never cap.
pub const SHORT_PRESET_ARRAY_CAP: u64 = 256 << 20;

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
    /// `--vm-cpu`: QEMU's `-cpu` model (checked against `-cpu help` before).
    pub vm_cpu: Option<String>,
    pub seed: Option<u64>,
    pub timeout_s: Option<u64>,
    pub out: Option<PathBuf>,
    pub workload_bin: PathBuf,
    pub host_cores: usize,
    /// Size of the host's last-level cache, when known.
    pub host_llc_bytes: Option<u64>,
    /// The host's MemAvailable, when known: a plan that cannot fit is
    /// refused before anything runs.
    pub host_mem_available_bytes: Option<u64>,
    /// `--stream plain|tuned` (empty = plain).
    pub stream: String,
    /// `--pages base|huge` (empty = base).
    pub pages: String,
    pub run_id: String,
    /// The effective uid isobench runs as (`X-rootless` is `X` without
    /// root): an input, so that [`build`] stays pure.
    pub euid: u32,
    /// `PATH`, in which a user's command named without a `/` is looked up
    /// (an input, so that [`build`] stays pure).
    pub path: Option<std::ffi::OsString>,
    /// The user's command and its flags (empty: none).
    pub command: crate::user_command::CommandInput,
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

/// The container columns of `--runtime` (default: isorun), each parsed
/// once. Without root every container runs rootless already:
/// `isorun-rootless` is the `isorun` column.
fn oci_columns(runtimes: &[String], euid: u32) -> Result<Vec<Oci>, UsageError> {
    if runtimes.is_empty() {
        return Ok(vec![Oci::bare(crate::env::column::Runtime::Isorun)]);
    }
    let mut out = Vec::new();
    for r in runtimes {
        let mut o = Oci::parse(r).map_err(UsageError)?;
        if let Some(why) = o.unsupported() {
            return Err(UsageError(why));
        }
        if euid != 0 {
            o.rootless = false;
        }
        out.push(o);
    }
    Ok(dedup(&out))
}

/// Validate the input and produce a plan. Pure: touches nothing (but for
/// telling a runtime path ending in `-rootless` that exists as a file, and
/// looking at the user's command's program and rootfs); the host's facts
/// (cores, caches, memory, euid, `PATH`) come in with `input`.
pub fn build(input: &PlanInput) -> Result<Plan, UsageError> {
    let err = |m: String| UsageError(m);
    let preset: Preset = input.preset.parse().map_err(|e| err(format!("{e}")))?;
    let workloads = workloads_of(input, preset)?;
    // The gate measures one thread by default: on a small host, figures that
    // use every core share them with the orchestrator and are far noisier
    // (2-thread primes/s: CV 11-16% here, 1-thread GFLOP/s: 1-4%).
    let threads = input.threads.unwrap_or(if preset == Preset::Gate {
        1
    } else {
        input.host_cores.max(1)
    });
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
        Preset::Gate => GATE_REPS,
    });
    if reps == 0 {
        return Err(err("--reps must be at least 1".into()));
    }
    let warmup = input.warmup.unwrap_or(1);
    let timeout_s = input.timeout_s.unwrap_or(600);
    if timeout_s == 0 {
        return Err(err("--timeout must be at least 1 second".into()));
    }
    let accel: AccelRequest = input.accel.parse().map_err(err)?;
    let machine: Machine = input.machine.parse().map_err(err)?;
    check_vm_memory(input)?;
    let stream: Stream = input.stream.parse().map_err(err)?;
    let pages: Pages = input.pages.parse().map_err(err)?;
    let mut notes = Vec::new();
    let membw_array_bytes = input
        .host_llc_bytes
        .map(|llc| membw_array_bytes(llc, preset, &mut notes));
    let envs = columns(input, threads, accel, machine)?;
    // What the workloads allocate must fit the host (a VM's guest memory is
    // checked against its measured overhead when it is prepared).
    if let (Some(avail), Some(a)) = (input.host_mem_available_bytes, membw_array_bytes) {
        if workloads.contains(&Workload::Membw) && 3 * a > avail {
            return Err(err(format!(
                "membw's three {} MiB arrays do not fit the host's available memory ({} MiB); use --preset quick or free memory",
                a >> 20,
                avail >> 20
            )));
        }
    }
    let fileio_file_bytes = if workloads.contains(&Workload::Fileio) {
        fileio_cap(preset, input.host_mem_available_bytes, &mut notes)
    } else {
        None
    };
    let command = if input.command.any() {
        Some(command_of(input, timeout_s, &envs)?)
    } else {
        None
    };
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
        stream,
        pages,
        notes,
        fileio_file_bytes,
        command,
    })
}

/// The workloads asked for (the preset's default when none), checked; the
/// user's command is the only one when given.
fn workloads_of(input: &PlanInput, preset: Preset) -> Result<Vec<Workload>, UsageError> {
    let err = |m: String| UsageError(m);
    let with_command = input.command.any();
    if with_command && !input.workloads.is_empty() {
        return Err(err(
            "--workload and a command after -- do not go together: a run measures either the built-in workloads or one command".into(),
        ));
    }
    let given = if with_command {
        vec![Workload::Command.name().to_string()]
    } else if input.workloads.is_empty() {
        // The gate's default is the CPU-bound work whose noise lets it
        // detect a 5% change at GATE_REPS (docs/gating.md).
        match preset {
            Preset::Gate => vec!["cpu".to_string()],
            _ => Workload::ALL.map(|w| w.name().to_string()).to_vec(),
        }
    } else {
        input.workloads.clone()
    };
    let mut workloads = Vec::new();
    for w in dedup(&given) {
        let w = w
            .trim()
            .parse::<Workload>()
            .map_err(|e| err(format!("{e}")))?;
        if w == Workload::Idle {
            return Err(err(
                "idle measures nothing itself; it is what --experiment density launches".into(),
            ));
        }
        if w == Workload::Command && !with_command {
            return Err(err(
                "'command' is not a workload to name: give the program after -- (isobench run [FLAGS] -- PROG ARGS...)".into(),
            ));
        }
        workloads.push(w);
    }
    if workloads.is_empty() {
        return Err(err("no workload given (--workload cpu,membw,...)".into()));
    }
    Ok(workloads)
}

/// `--vm-memory`, when given: at least 128 MiB and within the host's
/// available memory.
fn check_vm_memory(input: &PlanInput) -> Result<(), UsageError> {
    let Some(m) = input.vm_memory_mib else {
        return Ok(());
    };
    if m < 128 {
        return Err(UsageError(format!(
            "--vm-memory {m} MiB is too small (at least 128)"
        )));
    }
    if let Some(avail) = input.host_mem_available_bytes {
        if m << 20 > avail {
            return Err(UsageError(format!(
                "--vm-memory {m} MiB is more than the host's available memory ({} MiB); use a smaller --vm-memory or leave it out to size the VM from the workloads",
                avail >> 20
            )));
        }
    }
    Ok(())
}

/// Bytes per STREAM array for a host last-level cache of `llc` bytes: 4x
/// the cache, capped (with a note) by the short presets.
fn membw_array_bytes(llc: u64, preset: Preset, notes: &mut Vec<String>) -> u64 {
    let rule = 4 * llc;
    if matches!(preset, Preset::Quick | Preset::Gate) && rule > SHORT_PRESET_ARRAY_CAP {
        notes.push(format!(
            "STREAM arrays are {} MiB, below STREAM's rule of 4x the last-level cache ({} MiB): the {} preset caps them to stay short; membw figures may include cache hits (use --preset standard for a conforming run)",
            SHORT_PRESET_ARRAY_CAP >> 20,
            rule >> 20,
            preset.name()
        ));
        SHORT_PRESET_ARRAY_CAP
    } else {
        rule
    }
}

/// The columns of `--env` (each container column once per `--runtime`).
fn columns(
    input: &PlanInput,
    threads: usize,
    accel: AccelRequest,
    machine: Machine,
) -> Result<Vec<Column>, UsageError> {
    let mut envs = Vec::new();
    for e in dedup(&input.envs) {
        match e.trim().parse::<EnvKind>().map_err(UsageError)? {
            EnvKind::Native => envs.push(Column::Native),
            EnvKind::Container => {
                for o in oci_columns(&input.runtimes, input.euid)? {
                    envs.push(Column::Oci(o));
                }
            }
            EnvKind::Vm => envs.push(Column::Vm {
                vmm: Vmm::Qemu(Qemu {
                    accel,
                    machine,
                    kernel: input.kernel.clone(),
                    vcpus: threads,
                    memory_mib: input.vm_memory_mib,
                    cpu_model: input.vm_cpu.clone(),
                }),
            }),
        }
    }
    if envs.is_empty() {
        return Err(UsageError(
            "no environment given (--env native,container,vm)".into(),
        ));
    }
    Ok(envs)
}

/// The user's command, checked against the columns it runs in.
fn command_of(
    input: &PlanInput,
    timeout_s: u64,
    envs: &[Column],
) -> Result<crate::user_command::UserCommand, UsageError> {
    let columns = crate::user_command::Columns {
        isolated: envs.iter().any(|c| c != &Column::Native),
        vm: envs.iter().any(|c| matches!(c, Column::Vm { .. })),
    };
    let c = crate::user_command::plan(&input.command, timeout_s, columns, input.path.as_deref())?;
    if c.rootfs.is_some() && input.euid != 0 && envs.contains(&Column::Native) {
        return Err(UsageError(
            "natively a command with --rootfs runs chrooted into it, which needs root: run as root or leave out the native column (--env container)".into(),
        ));
    }
    Ok(c)
}

/// The `fileio` file size when the host's memory caps the preset's (the
/// larger of the two sizings, native and emulated), with a note saying so.
fn fileio_cap(preset: Preset, avail: Option<u64>, notes: &mut Vec<String>) -> Option<u64> {
    use isobench_workloads::args::Command;
    use isobench_workloads::{Sizing, WorkloadSpec};
    let avail = avail?;
    let preset_size = [false, true]
        .into_iter()
        .filter_map(|emulated| {
            let spec = WorkloadSpec::for_sizing(
                Workload::Fileio,
                &Sizing {
                    preset,
                    threads: 1,
                    emulated,
                },
            );
            match spec.command {
                Command::Fileio(c) => Some((c.file_size, c.block)),
                _ => None,
            }
        })
        .max()?;
    let (size, block) = preset_size;
    let cap = avail / FILEIO_MEMORY_SHARE / block * block;
    if size <= cap {
        return None;
    }
    let cap = cap.max(block);
    notes.push(format!(
        "fileio files are {} MiB, below the {} preset's {} MiB: at most 1/{FILEIO_MEMORY_SHARE} of the host's available memory ({} MiB), since a tmpfs place holds the whole file in memory",
        cap >> 20,
        preset.name(),
        size >> 20,
        avail >> 20
    ));
    Some(cap)
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
        let mut i = input();
        i.stream = "fast".into();
        assert!(build(&i).unwrap_err().0.contains("STREAM variant 'fast'"));
        let mut i = input();
        i.pages = "1g".into();
        assert!(build(&i).unwrap_err().0.contains("page policy '1g'"));
    }

    #[test]
    fn membw_arrays_follow_the_host_cache() {
        let mut i = input();
        i.envs = vec!["native".into(), "vm".into()];
        let p = build(&i).unwrap();
        assert_eq!(p.membw_array_bytes, Some(128 << 20));
        assert!(p.notes.is_empty());
        match &p.envs[1] {
            Column::Vm { vmm: Vmm::Qemu(v) } => {
                assert_eq!(v.memory_mib, None, "sized from the plan")
            }
            e => panic!("{e:?}"),
        }
    }

    /// A tmpfs place holds the fileio file in memory: a small host gets a
    /// smaller file (a whole number of blocks) and a note; a large one the
    /// preset's, every column the same.
    #[test]
    fn the_fileio_file_is_capped_by_the_host_s_memory() {
        let mut i = input();
        i.workloads = vec!["fileio".into()];
        i.preset = "standard".into();
        i.host_mem_available_bytes = Some(22 << 30);
        let p = build(&i).unwrap();
        assert_eq!(p.fileio_file_bytes, None);
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        i.host_mem_available_bytes = Some(1 << 30);
        let p = build(&i).unwrap();
        assert_eq!(p.fileio_file_bytes, Some(128 << 20));
        assert!(
            p.notes[0].contains("fileio files are 128 MiB"),
            "{:?}",
            p.notes
        );
        // Without fileio in the plan, no cap and no note.
        i.workloads = vec!["cpu".into()];
        let p = build(&i).unwrap();
        assert_eq!(p.fileio_file_bytes, None);
        assert!(p.notes.is_empty());
    }

    /// An Intel Xeon guest has been seen reporting a 260 MiB L3: the quick
    /// suite must still plan a run that fits and stays short, and say what
    /// it gave up.
    #[test]
    fn a_host_with_a_260_mib_l3_gets_a_short_quick_plan_that_says_so() {
        let mut i = input();
        i.envs = vec!["native".into(), "container".into(), "vm".into()];
        i.workloads = ["cpu", "membw", "randacc", "latency", "startup"]
            .map(String::from)
            .to_vec();
        i.host_llc_bytes = Some(260 << 20);
        i.host_mem_available_bytes = Some(22 << 30);
        let p = build(&i).unwrap();
        assert_eq!(p.membw_array_bytes, Some(SHORT_PRESET_ARRAY_CAP));
        assert_eq!(p.notes.len(), 1);
        assert!(p.notes[0].contains("1040 MiB"), "{}", p.notes[0]);
        // standard and full follow STREAM's rule.
        i.preset = "standard".into();
        let p = build(&i).unwrap();
        assert_eq!(p.membw_array_bytes, Some(1040 << 20));
        assert!(p.notes.is_empty());
        // A host that cannot hold the arrays is refused up front.
        i.host_mem_available_bytes = Some(2 << 30);
        let e = build(&i).unwrap_err().0;
        assert!(
            e.contains("do not fit") && e.contains("--preset quick"),
            "{e}"
        );
    }

    #[test]
    fn vm_memory_given_must_fit_the_host() {
        let mut i = input();
        i.envs = vec!["vm".into()];
        i.host_mem_available_bytes = Some(4 << 30);
        i.vm_memory_mib = Some(8192);
        let e = build(&i).unwrap_err().0;
        assert!(e.contains("more than the host's available memory"), "{e}");
        i.vm_memory_mib = Some(64);
        assert!(build(&i).unwrap_err().0.contains("too small"));
        i.vm_memory_mib = Some(2048);
        match &build(&i).unwrap().envs[0] {
            Column::Vm { vmm: Vmm::Qemu(v) } => {
                assert_eq!(v.memory_mib, Some(2048));
                assert_eq!(v.cpu_model, None, "QEMU's default unless --vm-cpu");
            }
            e => panic!("{e:?}"),
        }
        i.vm_cpu = Some("qemu64".into());
        match &build(&i).unwrap().envs[0] {
            Column::Vm { vmm: Vmm::Qemu(v) } => assert_eq!(v.cpu_model.as_deref(), Some("qemu64")),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn the_gate_preset_measures_one_thread_many_times() {
        let mut i = input();
        i.preset = "gate".into();
        let p = build(&i).unwrap();
        assert_eq!((p.reps, p.threads), (GATE_REPS, 1));
        i.workloads.clear();
        assert_eq!(build(&i).unwrap().workloads, vec![Workload::Cpu]);
        i.preset = "quick".into();
        assert_eq!(build(&i).unwrap().workloads.len(), Workload::ALL.len());
        i.preset = "gate".into();
        i.threads = Some(2);
        assert_eq!(build(&i).unwrap().threads, 2, "--threads still wins");
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
            Column::Oci(Oci::bare(crate::env::column::Runtime::Crun))
        );
    }

    #[test]
    fn rootless_columns_fold_without_root_and_unknown_ones_are_refused() {
        let mut i = input();
        i.envs = vec!["container".into()];
        i.runtimes = vec![
            "isorun-rootless".into(),
            "isorun".into(),
            "podman:runc".into(),
        ];
        let p = build(&i).unwrap();
        let names: Vec<String> = p
            .envs
            .iter()
            .map(|c| c.oci().unwrap().to_string())
            .collect();
        assert_eq!(names, ["isorun-rootless", "isorun", "podman:runc"]);
        i.euid = 1000;
        let p = build(&i).unwrap();
        let names: Vec<String> = p
            .envs
            .iter()
            .map(|c| c.oci().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            ["isorun", "podman:runc"],
            "one isorun column without root"
        );
        i.runtimes = vec!["runsc-rootless".into()];
        assert!(build(&i).unwrap_err().0.contains("not yet supported"));
        i.runtimes = vec!["docker:runc".into()];
        build(&i).unwrap();
        i.runtimes = vec!["docker:crun".into()];
        assert!(build(&i)
            .unwrap_err()
            .0
            .contains("docker drives runc or isorun only"));
        i.runtimes = vec!["podman:".into()];
        assert!(build(&i).unwrap_err().0.contains("names no runtime"));
    }

    #[test]
    fn a_command_is_the_only_workload_and_labels_its_results() {
        let mut i = input();
        i.workloads.clear();
        i.envs = vec!["native".into(), "container".into()];
        i.command.argv = vec!["/bin/busybox".into(), "true".into()];
        let p = build(&i).unwrap();
        assert_eq!(p.workloads, vec![Workload::Command]);
        assert_eq!(p.workload_name(Workload::Command), "busybox");
        assert_eq!(p.workload_name(Workload::Cpu), "cpu");
        // JSON round trip keeps it; a plan without one has no key.
        let j = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Plan>(&j).unwrap(), p);
        assert!(!serde_json::to_string(&build(&input()).unwrap())
            .unwrap()
            .contains("\"command\""));

        i.workloads = vec!["cpu".into()];
        assert!(build(&i).unwrap_err().0.contains("do not go together"));
        let mut j = input();
        j.workloads = vec!["command".into()];
        assert!(build(&j).unwrap_err().0.contains("after --"));
        i.workloads.clear();
        i.command.rootfs = Some(std::env::temp_dir());
        i.euid = 1000;
        assert!(build(&i).unwrap_err().0.contains("needs root"));
        i.envs = vec!["container".into()];
        assert!(build(&i).is_ok(), "rootless containers are fine");
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
