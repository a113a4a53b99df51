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

use super::engine_instance::{instance_name, os_args, EngineCli, Launch, WORKLOAD_PATH};
use super::footprint as fp;
use super::process::Spawner;
use super::{EnvContext, EnvKind, Environment, Instance, Limits};
use anyhow::{anyhow, bail, Context, Result};
use isobench_workloads::WorkloadSpec;
use isorun::peer::Peer;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

/// Ulimits passed to every `podman run`: podman asks for nofile
/// 1048576 by default, above this kind of host's hard limit (20000 here),
/// and the runtime's setrlimit fails. 1024:1024 is what the bare bundles
/// (`isorun spec`, `runc spec`) set for nofile.
pub const ULIMITS: [&str; 2] = ["nofile=1024:1024", "nproc=1024:1024"];

/// Where the workload binary sits in the image (as in `env::container`).
/// Label on every container: the isobench process that ran it and the
/// column (`<pid>/<column id>`), so each environment removes its own.
pub const LABEL: &str = "org.isobench.instance";
/// Cgroup parent podman uses with the cgroupfs manager (`libpod_parent`).
const PODMAN_CGROUP_PARENT: &str = "/libpod_parent";
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// podman driving one OCI runtime.
pub struct PodmanEnv {
    cli: Arc<PodmanCli>,
    podman_version: String,
    prepared: Option<Prepared>,
    /// Starts the engine's commands ([`super::process::host`] unless
    /// [`PodmanEnv::with_spawner`]).
    spawner: Arc<dyn Spawner>,
}

/// podman and the runtime it drives: every podman command this column
/// makes that the runtime's host quirks apply to goes through
/// [`EngineCli::command`].
struct PodmanCli {
    podman: PathBuf,
    /// The runtime podman is told to use (absolute path, name, version,
    /// host quirks: crun's hybrid-cgroup quirk applies to podman and all
    /// it starts).
    peer: Peer,
}

impl EngineCli for PodmanCli {
    fn name(&self) -> &'static str {
        "podman"
    }

    fn bin(&self) -> &Path {
        &self.podman
    }

    /// podman with the runtime's host quirks applied (crun on a hybrid
    /// cgroup host: a private mount namespace without the cgroup2 mount,
    /// inherited by conmon and crun).
    fn command(&self, args: &[&OsStr]) -> Command {
        let as_podman = Peer {
            bin: self.podman.clone(),
            ..self.peer.clone()
        };
        let mut c = as_podman.command(args);
        c.stdin(Stdio::null());
        c
    }

    fn rm_args<'a>(&self, name: &'a str) -> Vec<&'a str> {
        vec!["rm", "-f", "--time", "0", "--ignore", name]
    }

    fn run_removes(&self) -> bool {
        true
    }

    /// conmon, found by the container's name on its command line, and the
    /// members of the container's cgroup `libpod_parent/libpod-<id>`.
    fn persistent_roots(&self, name: &str, cid: Option<&str>, client: &BTreeSet<i32>) -> Vec<i32> {
        let mut roots: Vec<i32> =
            fp::cmdline_mentions(Path::new(fp::PROC), name, std::process::id() as i32)
                .into_iter()
                .filter(|p| !client.contains(p))
                .collect();
        if let Some(cid) = cid {
            let cg = format!("{PODMAN_CGROUP_PARENT}/libpod-{cid}");
            roots.extend(fp::cgroup_procs(Path::new(CGROUP_ROOT), &cg));
        }
        roots
    }
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
        let podman_version = super::process::output_of(v)
            .context("podman --version")?
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        Ok(PodmanEnv {
            cli: Arc::new(PodmanCli { podman, peer }),
            podman_version,
            prepared: None,
            spawner: super::process::host(),
        })
    }

    /// The same column, its processes started through `spawner`.
    pub fn with_spawner(mut self, spawner: Arc<dyn Spawner>) -> PodmanEnv {
        self.spawner = spawner;
        self
    }

    /// podman with the runtime's host quirks applied ([`PodmanCli`]).
    fn podman_cmd<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        self.cli.command(&os_args(args))
    }

    /// This column's containers: `<isobench pid>/<column id>`.
    pub fn label_value(&self) -> String {
        format!("{}/{}", std::process::id(), self.id())
    }

    fn remove_labelled(&self) {
        let label = format!("label={LABEL}={}", self.label_value());
        let mut ps = Command::new(&self.cli.podman);
        ps.args(["ps", "-aq", "--filter", &label]);
        if let Ok(ids) = self.spawner.output_of(ps) {
            for id in ids.split_whitespace() {
                let mut rm = self.podman_cmd(&["rm", "-f", "--time", "0", id]);
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
        format!("container-podman-{}", self.cli.peer.name)
    }

    fn detail(&self) -> BTreeMap<String, String> {
        let mut quirks = self.cli.peer.quirks();
        if !quirks.is_empty() {
            quirks = quirks
                .into_iter()
                .map(|q| format!("podman {q} (and so do conmon and the runtime)"))
                .collect();
        }
        BTreeMap::from([
            ("engine".to_string(), "podman".to_string()),
            ("engine_version".to_string(), self.podman_version.clone()),
            ("engine_path".to_string(), self.cli.podman.display().to_string()),
            ("runtime".to_string(), self.cli.peer.name.clone()),
            ("runtime_version".to_string(), self.cli.peer.version.clone()),
            ("runtime_path".to_string(), self.cli.peer.bin.display().to_string()),
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
        super::container::container_cannot_run(workload)
    }

    fn prepare(&mut self, ctx: &EnvContext) -> Result<()> {
        if !ctx.workload_bin.is_file() {
            bail!("workload binary {} not found", ctx.workload_bin.display());
        }
        let dir = std::path::absolute(ctx.scratch.join(self.id()))?;
        let tar = image_tar(&*self.spawner, &dir, ctx)?;
        let image = format!(
            "localhost/isobench-{}-{}:latest",
            self.cli.peer.name,
            std::process::id()
        );
        let mut imp = Command::new(&self.cli.podman);
        imp.arg("import").arg(&tar).arg(&image);
        self.spawner
            .output_of(imp)
            .context("podman import of the workload image")?;
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
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let launch = Launch {
            cli: self.cli.clone(),
            spawner: Arc::clone(&self.spawner),
            dir: &p.dir,
            image: &p.image,
            runtime: self.cli.peer.name.clone(),
        };
        let head = vec![
            "--runtime".into(),
            self.cli.peer.bin.display().to_string(),
            "run".into(),
            "--rm".into(),
        ];
        let labels = [format!("{LABEL}={}", self.label_value())];
        let inst = launch.start(instance_name('p', &NEXT), head, &labels, limits, spec)?;
        Ok(Box::new(inst))
    }

    fn cleanup(&mut self) -> Result<()> {
        if let Some(p) = self.prepared.take() {
            self.remove_labelled();
            let mut rmi = Command::new(&self.cli.podman);
            rmi.args(["rmi", "-f", &p.image]);
            let r = self.spawner.output_of(rmi);
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

/// The one-layer image both engines import (`podman import`, `docker
/// import`): the base layer, the workload binary, the data the workloads
/// expect below them (copy-up files) and the user's command's files (rootfs
/// or program), merged into one tree under `dir/rootfs` and packed into
/// `dir/image.tar`, which is returned. One tree, one `-C DIR .`: a second
/// would put `./` twice into the tar, which podman refuses ("duplicates of
/// file paths not supported").
pub(super) fn image_tar(spawner: &dyn Spawner, dir: &Path, ctx: &EnvContext) -> Result<PathBuf> {
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
        spawner
            .output_of(cp)
            .context("copying files into the image tree")?;
    }
    let tar = dir.join("image.tar");
    let mut t = Command::new("tar");
    t.arg("-cf").arg(&tar).arg("-C").arg(&rootfs).arg(".");
    spawner.output_of(t).context("packing the image tar")?;
    Ok(tar)
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
