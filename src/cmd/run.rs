//! `isobench run`: validate the plan, create the run directory, prepare the
//! environments, measure, record history.

use crate::cli::RunArgs;
use crate::env::process::{install_signal_handlers, interrupted};
use crate::env::{self, EnvContext, Environment};
use crate::plan::{self, usage, Plan, PlanInput};
use crate::progress::Progress;
use crate::store::{DoneKey, RunDir};
use crate::{host, locate, runner};
use anyhow::{Context, Result};
use isobench_reports::schema::{EnvInfo, RunInfo, ToolInfo, SCHEMA_VERSION};
use std::collections::HashSet;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Exit status when the user interrupted the run (as a shell reports SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

pub(crate) fn new_run_id() -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace([':', '-'], "")
        .trim_end_matches('Z')
        .to_string();
    format!(
        "{stamp}-{:04x}",
        (t.subsec_nanos() ^ std::process::id()) & 0xffff
    )
}

/// Removes a directory on drop unless disarmed: a fresh run directory when
/// the run fails before measuring anything, and the scratch directory on
/// every path out of the run.
pub(crate) struct RemoveDirGuard<'a> {
    pub(crate) path: &'a Path,
    pub(crate) armed: bool,
}

impl Drop for RemoveDirGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_dir_all(self.path);
        }
    }
}

/// What a measuring run (suite, density, neighbours) holds while it lives:
/// its record for the crash sweep, its run directory (removed if the run
/// fails before [`RunGuards::keep`], unless it was resumed) and its scratch
/// directory (removed on every path). Fields drop in declaration order:
/// scratch, then the run directory, then the record, after everything
/// declared later (the environments) is cleaned up.
pub(crate) struct RunGuards<'a> {
    scratch: Option<RemoveDirGuard<'a>>,
    run_dir: RemoveDirGuard<'a>,
    _registration: Option<crate::sweep::registry::Registration>,
}

impl<'a> RunGuards<'a> {
    /// `out` and `scratch`: the run directory and its scratch directory
    /// (not created yet); `fresh`: the run directory is new (not resumed).
    pub(crate) fn new(
        plan: &crate::plan::Plan,
        out: &'a Path,
        scratch: &'a Path,
        private_mounts: bool,
        fresh: bool,
    ) -> Self {
        let registration = crate::sweep::register_run(plan, out, scratch, private_mounts);
        RunGuards {
            scratch: None,
            run_dir: RemoveDirGuard {
                path: out,
                armed: fresh,
            },
            _registration: registration,
        }
    }

    /// Create the scratch directory, removed when the guards drop.
    pub(crate) fn make_scratch(&mut self, scratch: &'a Path) -> Result<()> {
        std::fs::create_dir_all(scratch)
            .with_context(|| format!("cannot create {}", scratch.display()))?;
        self.scratch = Some(RemoveDirGuard {
            path: scratch,
            armed: true,
        });
        Ok(())
    }

    /// Something was measured: the run directory stays, whatever follows.
    pub(crate) fn keep(&mut self) {
        self.run_dir.armed = false;
    }
}

/// Prepared environments, cleaned up on every path out of the run.
pub(crate) struct Prepared(pub(crate) Vec<Box<dyn Environment>>);

impl Drop for Prepared {
    fn drop(&mut self) {
        for e in self.0.iter_mut() {
            if let Err(err) = e.cleanup() {
                eprintln!("warning: cleaning up {}: {err:#}", e.id());
            }
        }
    }
}

pub(crate) fn host_mem_available() -> Option<u64> {
    host::mem_available_bytes(Path::new("/"))
}

pub(crate) fn plan_from_args(a: &RunArgs, workload_bin: std::path::PathBuf) -> Result<Plan> {
    Ok(plan::build(&plan_input(a, workload_bin))?)
}

/// The plan input of `isobench run` flags, with this host's facts.
pub(crate) fn plan_input(a: &RunArgs, workload_bin: std::path::PathBuf) -> PlanInput {
    PlanInput {
        envs: a.env.clone(),
        workloads: a.workload.clone(),
        preset: a.preset.clone(),
        threads: a.threads,
        reps: a.reps,
        warmup: a.warmup,
        runtimes: a.runtime.clone(),
        accel: a.accel.clone(),
        machine: a.machine.clone(),
        kernel: a.kernel.clone(),
        vm_memory_mib: a.vm_memory,
        seed: a.seed,
        timeout_s: a.timeout,
        out: a.out.clone(),
        workload_bin,
        host_cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        host_llc_bytes: host::llc_bytes(Path::new("/")),
        host_mem_available_bytes: host_mem_available(),
        stream: a.stream.clone(),
        pages: a.pages.clone(),
        run_id: new_run_id(),
        euid: nix::unistd::geteuid().as_raw(),
    }
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

/// Build and prepare every environment of the plan in `scratch` (images,
/// initramfs, accelerator probe). `None` when the user interrupted; what was
/// prepared is cleaned up by the returned guard or, on error, by its drop.
pub(crate) fn prepare_envs(plan: &Plan, scratch: &Path) -> Result<Option<Prepared>> {
    let ctx = EnvContext {
        workload_bin: plan.workload_bin.clone(),
        scratch: scratch.to_path_buf(),
        threads: plan.threads,
        data_dir: crate::runner::write_workload_data(plan, scratch)?,
    };
    if let Some(n) = crate::env::rootless::notice_for(plan) {
        eprintln!("{n}");
    }
    let mut envs = Prepared(Vec::new());
    for p in &plan.envs {
        let mut e = env::make(p)?;
        eprintln!("preparing {} ...", e.id());
        let prepared = e.prepare(&ctx);
        // Kept before anything can return: the guard cleans up what a
        // failed or interrupted preparation left.
        let id = e.id();
        envs.0.push(e);
        prepared.with_context(|| format!("preparing the {id} environment"))?;
        if interrupted() {
            return Ok(None);
        }
    }
    Ok(Some(envs))
}

/// Make every environment hold `need` bytes of workload memory (a VM sizes
/// its guest by test boots), after checking the host can hold it at all.
/// `what` names the allocation in the error. `Ok(false)` when interrupted.
pub(crate) fn fit_envs(envs: &mut Prepared, need: u64, what: &str) -> Result<bool> {
    let host_avail = host_mem_available();
    if let Some(avail) = host_avail {
        if need > avail {
            return Err(usage(format!(
                "{what} allocate up to {} MiB but the host has only {} MiB available; free memory or use --preset quick",
                need >> 20,
                avail >> 20
            )));
        }
    }
    for e in envs.0.iter_mut() {
        e.fit_memory(need, host_avail)
            .map_err(|err| match err.downcast::<plan::UsageError>() {
                Ok(u) => u.into(),
                Err(other) => other.context(format!("sizing the {} environment", e.id())),
            })?;
        if interrupted() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The tool facts of run.json: version, commit, and the workload binary with
/// its sha256 (from `bin_bytes`, its content).
pub(crate) fn tool_info(plan: &Plan, bin_bytes: &[u8]) -> ToolInfo {
    ToolInfo {
        isobench_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: option_env!("ISOBENCH_GIT_COMMIT").map(str::to_string),
        workload_binary: plan.workload_bin.display().to_string(),
        workload_sha256: (!bin_bytes.is_empty())
            .then(|| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bin_bytes))),
    }
}

pub fn run(a: &RunArgs) -> Result<i32> {
    // First, while single-threaded: sweep dead runs' leftovers, then enter
    // a private mount namespace (crash safety, crate::sweep).
    let private_mounts = crate::sweep::at_run_start();
    install_signal_handlers()?;
    // `--resume DIR` continues whatever DIR holds: an experiment resumes
    // as one (its run.json says which).
    let experiment = match (&a.resume, a.experiment) {
        (Some(path), None) => crate::store::read_run_info(path)
            .ok()
            .and_then(|i| crate::store::experiment_of(&i)),
        (_, Some(e)) => Some(e.name().to_string()),
        (None, None) => None,
    };
    match experiment.as_deref() {
        Some(super::density::EXPERIMENT) => return super::density::run(a, private_mounts),
        Some(super::neighbours::EXPERIMENT) => return super::neighbours::run(a, private_mounts),
        Some("permissions") => return super::permissions::run(a),
        _ => {}
    }
    let (plan, mut dir, done, old_info, warnings) = match &a.resume {
        Some(path) => {
            let (dir, info, done, warnings) = crate::store::RunDir::resume(path)
                .map_err(|e| usage(format!("cannot resume {}: {e:#}", path.display())))?;
            let plan: Plan = serde_json::from_value(info.config.clone()).map_err(|e| {
                usage(format!(
                    "cannot resume {}: its run.json holds no plan this version understands: {e}",
                    path.display()
                ))
            })?;
            (plan, dir, done, Some(info), warnings)
        }
        None => {
            let bin = locate::workload_bin(a.workload_bin.as_deref())
                .map_err(|e| usage(format!("{e:#}")))?;
            let plan = plan_from_args(a, bin)?;
            let dir = RunDir::create(&plan.out).map_err(|e| usage(format!("{e:#}")))?;
            (plan, dir, HashSet::<DoneKey>::new(), None, Vec::new())
        }
    };
    let out_path = dir.path().to_path_buf();
    let scratch = out_path.join(crate::sweep::naming::SCRATCH_DIR);
    // Declared before the environments, so dropped after their cleanup.
    let mut guards = RunGuards::new(
        &plan,
        &out_path,
        &scratch,
        private_mounts,
        old_info.is_none(),
    );
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if !plan.workload_bin.is_file() {
        return Err(usage(format!(
            "workload binary {} not found; build it with scripts/build-workload.sh",
            plan.workload_bin.display()
        )));
    }

    let host = host::probe();
    eprintln!("host: {}", host::one_line(&host));
    guards.make_scratch(&scratch)?;
    let Some(mut envs) = prepare_envs(&plan, &scratch)? else {
        return Ok(EXIT_INTERRUPTED);
    };
    // Every environment runs the same work; size what must hold it.
    let specs = runner::specs(&plan, envs.0.iter().any(|e| e.emulated()));
    let need = runner::memory_need_bytes(&specs, plan.threads);
    if !fit_envs(&mut envs, need, "the workloads")? {
        return Ok(EXIT_INTERRUPTED);
    }
    let bin_bytes = std::fs::read(&plan.workload_bin).unwrap_or_default();
    if locate::is_static_elf(&bin_bytes) == Some(false)
        && plan.envs.iter().any(|e| e != &env::column::Column::Native)
    {
        eprintln!("warning: {} is not statically linked; containers and VMs need the static build of scripts/build-workload.sh", plan.workload_bin.display());
    }
    let mut run_warnings = hazards(host.cores_logical);
    run_warnings.extend(plan.notes.iter().cloned());
    if envs.0.iter().any(|e| e.emulated()) {
        run_warnings.push(
            "a VM runs under emulation (QEMU TCG): every environment runs the emulated (smaller) sizes so that ratios compare the same work, and VM figures measure the emulator, not virtualisation"
                .to_string(),
        );
    }
    for w in &run_warnings {
        eprintln!("warning: {w}");
    }
    let started_at = match old_info {
        Some(old) => {
            let mut merged = old.warnings;
            merged.append(&mut run_warnings);
            run_warnings = merged;
            old.started_at
        }
        None => now_rfc3339(),
    };
    let mut info = RunInfo {
        schema: SCHEMA_VERSION,
        run_id: plan.run_id.clone(),
        started_at,
        finished_at: None,
        host,
        tool: tool_info(&plan, &bin_bytes),
        config: serde_json::to_value(&plan).context("serialising the plan")?,
        environments: envs
            .0
            .iter()
            .map(|e| EnvInfo {
                env: e.kind().name().to_string(),
                env_id: e.id(),
                detail: {
                    // What this environment skips, and why (claim C7's
                    // workloads: no lower layer in a VM, no mount in a
                    // container).
                    let mut d = e.detail();
                    for w in &plan.workloads {
                        if let Some(why) = e.cannot_run(*w) {
                            d.insert(format!("not_run_{w}"), why);
                        }
                    }
                    d
                },
            })
            .collect(),
        warnings: run_warnings,
    };
    dir.write_run_info(&info)?;
    guards.keep();

    let runnable = envs
        .0
        .iter()
        .map(|e| {
            plan.workloads
                .iter()
                .filter(|w| e.cannot_run(**w).is_none())
                .count()
        })
        .sum::<usize>();
    let total = runnable as u64 * plan.reps as u64;
    let mut progress = Progress::new(total.saturating_sub(done.len() as u64));
    let summary = runner::execute(&plan, &mut envs.0, &mut dir, &done, &mut progress);
    progress.finish();
    drop(envs);
    let summary = summary?;
    if summary.interrupted {
        eprintln!(
            "interrupted after {} measured runs; continue with: isobench run --resume {}",
            summary.measured,
            out_path.display()
        );
        return Ok(EXIT_INTERRUPTED);
    }
    info.finished_at = Some(now_rfc3339());
    dir.write_run_info(&info)?;
    if !a.no_history {
        record_history(a.db.as_deref(), &out_path);
    }
    println!("{}", out_path.display());
    if summary.invalid > 0 {
        eprintln!(
            "{} of {} runs were invalid or failed; see the error fields in {}",
            summary.invalid,
            summary.measured,
            out_path.join("results.jsonl").display()
        );
        return Ok(1);
    }
    eprintln!(
        "done: {} runs measured in {}",
        summary.measured,
        out_path.display()
    );
    Ok(0)
}

/// Record the finished run in the history database. A failure here is a
/// warning: the run directory already holds every result.
fn record_history(db: Option<&Path>, run_dir: &Path) {
    let db = db
        .map(Path::to_path_buf)
        .unwrap_or_else(isobench_reports::history::default_db_path);
    match isobench_reports::history::record_run_dir(&db, run_dir) {
        Ok(n) => eprintln!("history: {n} results recorded in {}", db.display()),
        Err(e) => eprintln!(
            "warning: could not record the run in {}: {e} (import it later with: isobench history --import {})",
            db.display(),
            run_dir.display()
        ),
    }
}
