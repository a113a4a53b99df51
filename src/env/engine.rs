//! Container environments driven through an engine: `--runtime
//! podman:isorun|podman:runc|podman:crun|podman:PATH` runs the workload
//! image with `podman --runtime <runtime> run --rm`, so startup, footprint
//! and workload figures include the engine's share (the podman client,
//! conmon, podman's bundle preparation, network namespace and seccomp
//! profile) beside the bare runtimes of `env::container`.
//!
//! The image is the workload binary and the base directories in one layer,
//! imported from a tar with `podman import` (no registry is needed); it is
//! removed at cleanup. Each run is a fresh container, timed from spawning
//! `podman run` to `ISOBENCH-READY` arriving on its stdout (through conmon
//! and podman's attach) and to podman's exit after removing the container.
//! Podman's default resource limits exceed this host's hard limits, so the
//! ulimits in [`ULIMITS`] are passed on every run and recorded in detail().

use super::footprint as fp;
use super::process::{output_of, tail_lines, Supervised};
use super::{EnvContext, EnvKind, Environment, Instance, Limits, RunOutcome};
use anyhow::{anyhow, bail, Context, Result};
use isobench_workloads::protocol::find_result;
use isobench_workloads::{Workload, WorkloadSpec};
use isorun::peer::Peer;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Ulimits passed to every `podman run`: podman asks for nofile
/// 1048576 by default, above this kind of host's hard limit (20000 here),
/// and the runtime's setrlimit fails. 1024:1024 is what the bare bundles
/// (`isorun spec`, `runc spec`) set for nofile.
pub const ULIMITS: [&str; 2] = ["nofile=1024:1024", "nproc=1024:1024"];

/// Where the workload binary sits in the image (as in `env::container`).
const WORKLOAD_PATH: &str = "/isobench-workload";
/// Label on every container: the isobench process that ran it and the
/// column (`<pid>/<column id>`), so each environment removes its own.
pub const LABEL: &str = "org.isobench.instance";
/// Cgroup parent podman uses with the cgroupfs manager (`libpod_parent`).
const PODMAN_CGROUP_PARENT: &str = "/libpod_parent";
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// podman driving one OCI runtime.
pub struct PodmanEnv {
    podman: PathBuf,
    podman_version: String,
    /// The runtime podman is told to use (absolute path, name, version,
    /// host quirks: crun's hybrid-cgroup quirk applies to podman and all
    /// it starts).
    peer: Peer,
    prepared: Option<Prepared>,
}

struct Prepared {
    dir: PathBuf,
    image: String,
}

impl PodmanEnv {
    /// `runtime` is the runtime podman is told to use.
    pub fn new(runtime: &super::column::Runtime, isorun_bin: PathBuf) -> Result<PodmanEnv> {
        let podman = super::column::Engine::Podman
            .bin()
            .map_err(|e| anyhow!(e))?;
        // podman needs an absolute path to take it as a path.
        let bin = std::path::absolute(runtime.bin(&isorun_bin).map_err(|e| anyhow!(e))?)?;
        let peer =
            Peer::probe(&bin).with_context(|| format!("cannot run {} --version", bin.display()))?;
        let mut v = Command::new(&podman);
        v.arg("--version");
        let podman_version = output_of(v)
            .context("podman --version")?
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        Ok(PodmanEnv {
            podman,
            podman_version,
            peer,
            prepared: None,
        })
    }

    /// podman with the runtime's host quirks applied (crun on a hybrid
    /// cgroup host: a private mount namespace without the cgroup2 mount,
    /// inherited by conmon and crun).
    fn podman_cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let as_podman = Peer {
            bin: self.podman.clone(),
            ..self.peer.clone()
        };
        let mut c = as_podman.command(args);
        c.stdin(Stdio::null());
        c
    }

    /// This column's containers: `<isobench pid>/<column id>`.
    pub fn label_value(&self) -> String {
        format!("{}/{}", std::process::id(), self.id())
    }

    fn remove_labelled(&self) {
        let label = format!("label={LABEL}={}", self.label_value());
        let mut ps = Command::new(&self.podman);
        ps.args(["ps", "-aq", "--filter", &label]);
        if let Ok(ids) = output_of(ps) {
            for id in ids.split_whitespace() {
                let mut rm = self.podman_cmd(["rm", "-f", "--time", "0", id]);
                let _ = rm.stdout(Stdio::null()).stderr(Stdio::null()).status();
            }
        }
    }
}

/// `podman run` options for a placement (cgroup limits through podman).
pub fn limit_args(l: &Limits) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(c) = l.cpu_list() {
        a.push(format!("--cpuset-cpus={c}"));
    }
    if let Some(q) = l.cpu_quota_pct {
        a.push(format!("--cpus={}", q as f64 / 100.0));
    }
    if let Some(m) = l.memory_mib {
        a.push(format!("--memory={m}m"));
    }
    if let Some(p) = l.pids {
        a.push(format!("--pids-limit={p}"));
    }
    a
}

impl Environment for PodmanEnv {
    fn kind(&self) -> EnvKind {
        EnvKind::Container
    }

    fn id(&self) -> String {
        format!("container-podman-{}", self.peer.name)
    }

    fn detail(&self) -> BTreeMap<String, String> {
        let mut quirks = self.peer.quirks();
        if !quirks.is_empty() {
            quirks = quirks
                .into_iter()
                .map(|q| format!("podman {q} (and so do conmon and the runtime)"))
                .collect();
        }
        BTreeMap::from([
            ("engine".to_string(), "podman".to_string()),
            ("engine_version".to_string(), self.podman_version.clone()),
            ("engine_path".to_string(), self.podman.display().to_string()),
            ("runtime".to_string(), self.peer.name.clone()),
            ("runtime_version".to_string(), self.peer.version.clone()),
            ("runtime_path".to_string(), self.peer.bin.display().to_string()),
            (
                "ulimits".to_string(),
                format!(
                    "--ulimit {} --ulimit {} (set by isobench: podman's defaults exceed this host's hard limits)",
                    ULIMITS[0], ULIMITS[1]
                ),
            ),
            (
                "image".to_string(),
                "1 layer (base directories, workload binary and the copy-up data files) imported with podman import, podman's storage driver".to_string(),
            ),
            (
                "engine_defaults".to_string(),
                "podman run --rm with podman's defaults: its seccomp profile, sysctls, network namespace, cgroupfs manager".to_string(),
            ),
            (
                "footprint".to_string(),
                "conmon and the container's processes (what a detached container keeps); the attached podman client's PSS is recorded apart (info engine_client_pss_mib)".to_string(),
            ),
            (
                "quirks".to_string(),
                if quirks.is_empty() {
                    "none".into()
                } else {
                    quirks.join("; ")
                },
            ),
        ])
    }

    fn cannot_run(&self, workload: isobench_workloads::Workload) -> Option<String> {
        if workload == isobench_workloads::Workload::Fileio {
            return Some("fileio's places (a bind mount and a tmpfs beside the root file system) are set up for the OCI runtime columns; engines are not wired yet".into());
        }
        super::container::container_cannot_run(workload)
    }

    fn prepare(&mut self, ctx: &EnvContext) -> Result<()> {
        if !ctx.workload_bin.is_file() {
            bail!("workload binary {} not found", ctx.workload_bin.display());
        }
        let dir = std::path::absolute(ctx.scratch.join(self.id()))?;
        let tar = image_tar(&dir, ctx)?;
        let image = format!(
            "localhost/isobench-{}-{}:latest",
            self.peer.name,
            std::process::id()
        );
        let mut imp = Command::new(&self.podman);
        imp.arg("import").arg(&tar).arg(&image);
        output_of(imp).context("podman import of the workload image")?;
        self.prepared = Some(Prepared { dir, image });
        Ok(())
    }

    fn launch_with(
        &self,
        spec: &WorkloadSpec,
        _timeout: Duration,
        limits: &Limits,
    ) -> Result<Box<dyn Instance>> {
        let p = self
            .prepared
            .as_ref()
            .ok_or_else(|| anyhow!("podman environment not prepared"))?;
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!(
            "{}p{n}",
            crate::env::naming::container_prefix(std::process::id())
        );
        let run_dir = p.dir.join("runs").join(&name);
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("creating {}", run_dir.display()))?;
        let cidfile = run_dir.join("cid");
        let errlog = run_dir.join("stderr");
        let mut args: Vec<String> = vec![
            "--runtime".into(),
            self.peer.bin.display().to_string(),
            "run".into(),
            "--rm".into(),
            "--name".into(),
            name.clone(),
            "--label".into(),
            format!("{LABEL}={}", self.label_value()),
            "--cidfile".into(),
            cidfile.display().to_string(),
        ];
        for u in ULIMITS {
            args.push("--ulimit".into());
            args.push(u.into());
        }
        args.extend(limit_args(limits));
        args.push(p.image.clone());
        args.push(WORKLOAD_PATH.into());
        args.extend(spec.args.iter().cloned());
        let cmd = self.podman_cmd(&args);
        let log = std::fs::File::create(&errlog)
            .with_context(|| format!("creating {}", errlog.display()))?;
        let sup = Supervised::spawn_logged(cmd, Some(log))
            .with_context(|| format!("cannot start {}", self.podman.display()))?;
        Ok(Box::new(PodmanInstance {
            sup: Some(sup),
            podman: self.podman.clone(),
            peer: self.peer.clone(),
            name,
            run_dir,
            errlog,
            workload: spec.workload,
            removed: false,
        }))
    }

    fn cleanup(&mut self) -> Result<()> {
        if let Some(p) = self.prepared.take() {
            self.remove_labelled();
            let mut rmi = Command::new(&self.podman);
            rmi.args(["rmi", "-f", &p.image]);
            let r = output_of(rmi);
            std::fs::remove_dir_all(&p.dir)
                .with_context(|| format!("removing {}", p.dir.display()))?;
            r.with_context(|| format!("podman rmi {}", p.image))?;
        }
        Ok(())
    }
}

impl Drop for PodmanEnv {
    fn drop(&mut self) {
        let _ = self.cleanup();
    }
}

/// One `podman run --rm`: the attached podman client under supervision.
pub struct PodmanInstance {
    sup: Option<Supervised>,
    podman: PathBuf,
    peer: Peer,
    name: String,
    run_dir: PathBuf,
    errlog: PathBuf,
    workload: Workload,
    /// podman removed the container itself (`--rm`) or `rm -f` did.
    removed: bool,
}

/// The instance's processes, in two sets: what stays for as long as the
/// container lives (conmon, found by the container's name on its command
/// line, and the members of the container's cgroup
/// `libpod_parent/libpod-<id>`, with descendants) and the attached podman
/// client with its children (a per-session cost: a detached run has none).
fn instance_pids(
    client: Option<i32>,
    name: &str,
    cidfile: &Path,
) -> (BTreeSet<i32>, BTreeSet<i32>) {
    let proc_root = Path::new(fp::PROC);
    let client_tree = match client {
        Some(c) => fp::descendants(proc_root, &[c]),
        None => BTreeSet::new(),
    };
    let mut roots: Vec<i32> = fp::cmdline_mentions(proc_root, name, std::process::id() as i32)
        .into_iter()
        .filter(|p| !client_tree.contains(p))
        .collect();
    if let Ok(cid) = std::fs::read_to_string(cidfile) {
        let cid = cid.trim();
        if !cid.is_empty() {
            let cg = format!("{PODMAN_CGROUP_PARENT}/libpod-{cid}");
            roots.extend(fp::cgroup_procs(Path::new(CGROUP_ROOT), &cg));
        }
    }
    let persistent: BTreeSet<i32> = fp::descendants(proc_root, &roots)
        .difference(&client_tree)
        .copied()
        .collect();
    (persistent, client_tree)
}

/// The one-layer image both engines import (`podman import`, `docker
/// import`): the base layer, the workload binary, the data the workloads
/// expect below them (copy-up files) and the user's command's files (rootfs
/// or program), merged into one tree under `dir/rootfs` and packed into
/// `dir/image.tar`, which is returned. One tree, one `-C DIR .`: a second
/// would put `./` twice into the tar, which podman refuses ("duplicates of
/// file paths not supported").
pub(super) fn image_tar(dir: &Path, ctx: &EnvContext) -> Result<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).with_context(|| format!("creating {}", rootfs.display()))?;
    super::container::write_base_layer(&rootfs).context("writing the base layer")?;
    std::fs::copy(
        &ctx.workload_bin,
        rootfs.join(WORKLOAD_PATH.trim_start_matches('/')),
    )
    .with_context(|| format!("copying {}", ctx.workload_bin.display()))?;
    for d in [&ctx.data_dir, &ctx.command_root].into_iter().flatten() {
        let mut cp = Command::new("cp");
        cp.arg("-a").arg(d.join(".")).arg(&rootfs);
        output_of(cp).context("copying files into the image tree")?;
    }
    let tar = dir.join("image.tar");
    let mut t = Command::new("tar");
    t.arg("-cf").arg(&tar).arg("-C").arg(&rootfs).arg(".");
    output_of(t).context("packing the image tar")?;
    Ok(tar)
}

impl PodmanInstance {
    fn stderr_of(&self, what: &str) -> String {
        let t = std::fs::read_to_string(&self.errlog).unwrap_or_default();
        format!("{what}:\n{}", tail_lines(&t, 10))
    }
}

impl Instance for PodmanInstance {
    fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let name = self.name.clone();
        let sup = self
            .sup
            .as_mut()
            .ok_or_else(|| anyhow!("podman container {name} was not started"))?;
        match sup.wait_ready(timeout) {
            Ok(d) => Ok(d),
            Err(e) => {
                let _ = self.stop();
                Err(e.context(self.stderr_of(&format!("podman container {name}"))))
            }
        }
    }

    fn pids(&self) -> BTreeSet<i32> {
        if self.removed {
            return BTreeSet::new();
        }
        let client = self.sup.as_ref().filter(|s| !s.exited()).map(|s| s.pid());
        let (persistent, client) = instance_pids(client, &self.name, &self.run_dir.join("cid"));
        persistent.union(&client).copied().collect()
    }

    /// The persistent share only (conmon and the container): what each
    /// extra container costs a host that runs them detached. The attached
    /// client is left out (recorded apart by `wait` for startup runs).
    fn memory(&self) -> Option<fp::Footprint> {
        if self.removed {
            return None;
        }
        let (persistent, _) = instance_pids(None, &self.name, &self.run_dir.join("cid"));
        let f = fp::measure(Path::new(fp::PROC), &persistent);
        (!f.pids.is_empty()).then_some(f)
    }

    fn stop(&mut self) -> Result<()> {
        if let Some(s) = self.sup.as_mut() {
            s.kill();
        }
        let mut result = Ok(());
        if !self.removed {
            // Why: killing the attached client leaves conmon and the
            // container running; the engine removes them.
            let as_podman = Peer {
                bin: self.podman.clone(),
                ..self.peer.clone()
            };
            let mut rm = as_podman.command(["rm", "-f", "--time", "0", "--ignore", &self.name]);
            rm.stdin(Stdio::null()).stdout(Stdio::null());
            match rm.output() {
                Ok(o) if o.status.success() => self.removed = true,
                Ok(o) => {
                    result = Err(anyhow!(
                        "podman rm -f {} failed ({}): {}",
                        self.name,
                        o.status,
                        String::from_utf8_lossy(&o.stderr).trim()
                    ))
                }
                Err(e) => result = Err(anyhow!("cannot run podman rm: {e}")),
            }
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
        result
    }

    fn wait(mut self: Box<Self>, timeout: Duration) -> Result<RunOutcome> {
        let sup = self
            .sup
            .take()
            .ok_or_else(|| anyhow!("podman container {} was not started", self.name))?;
        let measure = self.workload == Workload::Startup;
        let mut footprint = None;
        let mut client_mem = None;
        let (name, cidfile) = (self.name.clone(), self.run_dir.join("cid"));
        let w = sup
            .finish(timeout, |pid| {
                if measure && pid.is_some() {
                    let (persistent, client) = instance_pids(pid, &name, &cidfile);
                    let f = fp::measure(Path::new(fp::PROC), &persistent);
                    footprint = (!f.pids.is_empty()).then_some(f);
                    client_mem = Some(fp::measure(Path::new(fp::PROC), &client));
                }
            })
            .map_err(|e| {
                let _ = self.stop();
                e.context(format!("podman container {}", self.name))
            })?;
        // podman run --rm returns once the container is removed.
        self.removed = w.status.code().is_some();
        let errors = std::fs::read_to_string(&self.errlog).unwrap_or_default();
        self.stop()?;
        let mut result = find_result(&w.stdout).map_err(|e| {
            anyhow!(
                "{e} (podman run of {} under {}, {}):\n{}",
                self.name,
                self.peer.name,
                w.status,
                tail_lines(&format!("{}\n{errors}", w.stdout), 10)
            )
        })?;
        if let Some(c) = client_mem {
            // The attached client, apart from the footprint (see memory()).
            result.info.insert(
                "engine_client_pss_mib".into(),
                format!("{:.2}", c.pss_mib()),
            );
            result
                .info
                .insert("engine_client_pids".into(), c.pids.len().to_string());
        }
        Ok(RunOutcome {
            result,
            first_instruction: w.ready_after,
            lifecycle: w.exited_after,
            extra_ms: BTreeMap::new(),
            footprint,
        })
    }
}

impl Drop for PodmanInstance {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_become_podman_options() {
        let a = limit_args(&Limits {
            cpus: Some(vec![0, 1]),
            cpu_quota_pct: Some(150),
            memory_mib: Some(256),
            pids: Some(64),
        });
        assert_eq!(
            a,
            [
                "--cpuset-cpus=0,1",
                "--cpus=1.5",
                "--memory=256m",
                "--pids-limit=64"
            ]
        );
        assert!(limit_args(&Limits::default()).is_empty());
    }
}
