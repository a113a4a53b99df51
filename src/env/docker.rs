//! Container environments driven through the Docker Engine: `--runtime
//! docker:runc` runs the workload image with `docker run --rm --runtime
//! runc`, `--runtime docker:isorun` with isorun registered as a daemon
//! runtime (`isobench-isorun`), so figures include the engine's share (the
//! docker client, dockerd, containerd and its shim) beside the bare
//! runtimes of `env::container` and podman's of `env::engine`.
//!
//! - The image is imported from a tar with `docker import` (no registry):
//!   the same single layer the podman column imports (base directories,
//!   workload binary, copy-up data). It and every container carry the
//!   labels [`OWNER_LABEL`] (the isobench pid, for the crash sweep) and
//!   `org.isobench.instance` (pid/column); both go at cleanup.
//! - Containers run with the podman column's flags: `--rm`,
//!   `--network none`, the ulimits of [`super::engine::ULIMITS`] and the
//!   plan's cgroup limits.
//! - isorun becomes a daemon runtime through `/etc/docker/daemon.json`'s
//!   `runtimes` and a reload (SIGHUP to dockerd; `runtimes` is reloadable).
//!   The previous file is saved under [`BACKUP_DIR`]`/<pid>/` first and put
//!   back byte for byte (or removed when there was none), with another
//!   reload, when the environment is dropped: after a normal end, an error
//!   or Ctrl-C. After kill -9 the crash sweep restores it from the saved
//!   copy ([`restore_backup`]).

use super::engine_instance::{instance_name, os_args, EngineCli, Launch};
use super::footprint as fp;
use super::process::Spawner;
use super::{EnvContext, EnvKind, Environment, Instance, Limits};
use anyhow::{anyhow, bail, Context, Result};
use isobench_workloads::{Workload, WorkloadSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Label on isobench's Docker images and containers: the pid of the
/// isobench that made them (the sweep removes them once it is dead).
pub const OWNER_LABEL: &str = "org.isobench.owner";
/// The name isorun is registered under in daemon.json's `runtimes`.
pub const ISORUN_RUNTIME: &str = "isobench-isorun";
/// The daemon's configuration file.
pub const DAEMON_JSON: &str = "/etc/docker/daemon.json";
/// Where a run saves the daemon.json it changed: `<dir>/<pid>/target`
/// (the path changed) and `<dir>/<pid>/original` (its bytes; absent when
/// the file did not exist).
pub const BACKUP_DIR: &str = "/run/isobench/docker";
/// Where the workload binary sits in the image (as in `env::container`).
/// Cgroup parent dockerd uses with the cgroupfs driver.
const DOCKER_CGROUP_PARENT: &str = "/docker";
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// How long a `docker info` may take before the daemon counts as absent.
const INFO_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a reload may take to show (or drop) a runtime in `docker info`.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(20);

/// The runtimes a docker column can drive.
pub fn supported(r: &super::column::Runtime) -> bool {
    use super::column::Runtime;
    matches!(r, Runtime::Runc | Runtime::Isorun)
}

/// The daemon's facts recorded with every docker column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonInfo {
    pub server_version: String,
    pub client_version: String,
    pub storage_driver: String,
    pub cgroup_driver: String,
    pub cgroup_version: String,
    pub runtimes: Vec<String>,
    pub default_runtime: String,
    pub runc_commit: String,
    pub security_options: Vec<String>,
}

impl DaemonInfo {
    /// Parse `docker info --format '{{json .}}'`. A client that reached no
    /// daemon prints the same shape with an empty `ServerVersion`: refused.
    pub fn parse(json: &str) -> Result<DaemonInfo, String> {
        let v: serde_json::Value =
            serde_json::from_str(json.trim()).map_err(|e| format!("docker info: {e}"))?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        let server_version = s("ServerVersion");
        if server_version.is_empty() {
            let why = v
                .get("ServerErrors")
                .and_then(|e| e.as_array())
                .and_then(|a| a.first())
                .and_then(|e| e.as_str())
                .unwrap_or("no server version");
            return Err(format!("no Docker daemon answers ({why})"));
        }
        let mut runtimes: Vec<String> = v
            .get("Runtimes")
            .and_then(|r| r.as_object())
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        runtimes.sort();
        Ok(DaemonInfo {
            server_version,
            client_version: v
                .pointer("/ClientInfo/Version")
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .to_string(),
            storage_driver: s("Driver"),
            cgroup_driver: s("CgroupDriver"),
            cgroup_version: s("CgroupVersion"),
            runtimes,
            default_runtime: s("DefaultRuntime"),
            runc_commit: v
                .pointer("/RuncCommit/ID")
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .to_string(),
            security_options: v
                .get("SecurityOptions")
                .and_then(|x| x.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// `docker info` of the daemon the client reaches (honours DOCKER_HOST),
/// bounded by `INFO_TIMEOUT`.
pub fn daemon_info(docker: &Path) -> Result<DaemonInfo, String> {
    let mut c = Command::new(docker);
    c.args(["info", "--format", "{{json .}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", docker.display()))?;
    let t0 = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if t0.elapsed() > INFO_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "no Docker daemon answers (docker info took over {}s)",
                    INFO_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("docker info: {e}")),
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("docker info: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("docker info failed");
        return Err(format!("no Docker daemon answers ({})", line.trim()));
    }
    DaemonInfo::parse(&stdout)
}

/// Why docker columns cannot run here (`None`: the CLI is installed and a
/// daemon answers). Cheap enough to ask before anything else is probed.
pub fn daemon_unavailable() -> Option<String> {
    let Some(docker) = super::column::Engine::Docker.locate() else {
        return Some("docker not found on PATH (apt-get install docker.io)".into());
    };
    daemon_info(&docker).err()
}

/// daemon.json with `runtimes.<name> = {"path": <path>}` added, every other
/// key kept. `original`: the file's bytes, `None` when it does not exist.
pub fn merged_daemon_json(original: Option<&[u8]>, name: &str, path: &Path) -> Result<Vec<u8>> {
    let mut v: serde_json::Value = match original {
        Some(b) if !b.iter().all(u8::is_ascii_whitespace) => {
            serde_json::from_slice(b).with_context(|| format!("{DAEMON_JSON} is not valid JSON"))?
        }
        _ => serde_json::json!({}),
    };
    let obj = v
        .as_object_mut()
        .ok_or_else(|| anyhow!("{DAEMON_JSON} is not a JSON object"))?;
    let runtimes = obj
        .entry("runtimes")
        .or_insert_with(|| serde_json::json!({}));
    let runtimes = runtimes
        .as_object_mut()
        .ok_or_else(|| anyhow!("{DAEMON_JSON}: \"runtimes\" is not an object"))?;
    runtimes.insert(
        name.to_string(),
        serde_json::json!({ "path": path.display().to_string() }),
    );
    let mut out = serde_json::to_vec_pretty(&v)?;
    out.push(b'\n');
    Ok(out)
}

/// dockerd's pid, from its pid file.
fn dockerd_pid() -> Result<i32> {
    for f in ["/run/docker.pid", "/var/run/docker.pid"] {
        if let Ok(t) = std::fs::read_to_string(f) {
            if let Ok(p) = t.trim().parse::<i32>() {
                if Path::new(&format!("/proc/{p}")).exists() {
                    return Ok(p);
                }
            }
        }
    }
    bail!("dockerd's pid file (/run/docker.pid) names no live process: cannot reload the daemon")
}

/// SIGHUP to dockerd: it rereads daemon.json's reloadable options.
fn reload_daemon() -> Result<()> {
    let pid = dockerd_pid()?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .with_context(|| format!("SIGHUP to dockerd (pid {pid})"))
}

/// Wait until `docker info` lists (`present`) or no longer lists `name`.
fn await_runtime(docker: &Path, name: &str, present: bool) -> Result<()> {
    let t0 = Instant::now();
    loop {
        let info = daemon_info(docker).map_err(|e| anyhow!(e))?;
        if info.runtimes.iter().any(|r| r == name) == present {
            return Ok(());
        }
        if t0.elapsed() > RELOAD_TIMEOUT {
            bail!(
                "after a reload, docker info still {} runtime {name} (runtimes: {})",
                if present { "lacks" } else { "lists" },
                info.runtimes.join(", ")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Write `bytes` to `path` by a rename (mode 0644), so dockerd never reads
/// half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.isobench-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// The file to load before the original goes back: the original with
/// `runtimes` set explicitly (to its own, or none). Why: dockerd 20.10
/// keeps the runtimes it has when a reloaded file has no `runtimes` key,
/// so putting back an original without one would leave isorun registered.
/// Returns the bytes and whether the original itself registers `name`.
pub fn unregistering_daemon_json(original: Option<&[u8]>, name: &str) -> (Vec<u8>, bool) {
    let mut v = original
        .filter(|b| !b.iter().all(u8::is_ascii_whitespace))
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .filter(|v| v.is_object())
        .unwrap_or_else(|| serde_json::json!({}));
    let obj = v.as_object_mut().expect("an object, checked above");
    let runtimes = obj
        .entry("runtimes")
        .or_insert_with(|| serde_json::json!({}));
    if !runtimes.is_object() {
        *runtimes = serde_json::json!({});
    }
    let keeps = runtimes.get(name).is_some();
    (serde_json::to_vec_pretty(&v).unwrap_or_default(), keeps)
}

/// Put a saved daemon.json back (`entry` is `<BACKUP_DIR>/<pid>`) and
/// remove the saved copy; for the daemon's own file, first load the
/// original with its runtimes made explicit (see
/// [`unregistering_daemon_json`]), wait for `docker info` to drop the
/// runtime, then put the original bytes back and reload. Returns what it
/// did. Used by the registration's guard and by the crash sweep.
pub fn restore_backup(entry: &Path) -> Result<String> {
    let target = std::fs::read_to_string(entry.join("target"))
        .with_context(|| format!("reading {}/target", entry.display()))?;
    let target = PathBuf::from(target.trim());
    let name = std::fs::read_to_string(entry.join("runtime"))
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|_| ISORUN_RUNTIME.to_string());
    let original_path = entry.join("original");
    let original = match std::fs::read(&original_path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", original_path.display())),
    };
    let daemon = target == Path::new(DAEMON_JSON);
    if daemon {
        let (unreg, keeps) = unregistering_daemon_json(original.as_deref(), &name);
        write_atomically(&target, &unreg)?;
        reload_daemon()?;
        if let (Some(docker), false) = (super::column::Engine::Docker.locate(), keeps) {
            await_runtime(&docker, &name, false)?;
        }
    }
    let what = match &original {
        Some(bytes) => {
            write_atomically(&target, bytes)?;
            format!(
                "restored {} from {}",
                target.display(),
                original_path.display()
            )
        }
        None => {
            match std::fs::remove_file(&target) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", target.display())),
            }
            format!("removed {} (it did not exist before)", target.display())
        }
    };
    if daemon {
        reload_daemon()?;
    }
    std::fs::remove_dir_all(entry).with_context(|| format!("removing {}", entry.display()))?;
    // The backup directory too, once no run has an entry there.
    if let Some(dir) = entry.parent() {
        let _ = std::fs::remove_dir(dir);
    }
    Ok(what)
}

/// isorun registered as a daemon runtime for as long as this lives.
pub struct Registration {
    entry: PathBuf,
    done: bool,
}

impl Registration {
    /// Save daemon.json under `backup_dir/<pid>`, add the runtime, reload
    /// and wait for `docker info` to list it. Refused while another live
    /// run has its own change in place (restores would interleave).
    pub fn register(docker: &Path, name: &str, runtime_bin: &Path) -> Result<Registration> {
        let backup_dir = Path::new(BACKUP_DIR);
        let target = Path::new(DAEMON_JSON);
        std::fs::create_dir_all(backup_dir)
            .with_context(|| format!("creating {}", backup_dir.display()))?;
        let me = std::process::id();
        for e in std::fs::read_dir(backup_dir)?.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if pid != me && Path::new(&format!("/proc/{pid}")).exists() {
                bail!(
                    "isobench pid {pid} has its own change of {DAEMON_JSON} in place; wait for it to end (or run isobench clean)"
                );
            }
            if pid != me {
                // A dead run's change: put its original back first.
                restore_backup(&e.path())?;
            }
        }
        let original = match std::fs::read(target) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {}", target.display())),
        };
        let merged = merged_daemon_json(original.as_deref(), name, runtime_bin)?;
        let entry = backup_dir.join(me.to_string());
        std::fs::create_dir_all(&entry)?;
        if let Some(b) = &original {
            write_atomically(&entry.join("original"), b)?;
        }
        write_atomically(&entry.join("runtime"), name.as_bytes())?;
        // `target` last: an entry with it is complete.
        write_atomically(
            &entry.join("target"),
            target.display().to_string().as_bytes(),
        )?;
        let reg = Registration { entry, done: false };
        write_atomically(target, &merged)?;
        reload_daemon()?;
        await_runtime(docker, name, true)?;
        Ok(reg)
    }

    /// Restore daemon.json and reload. Idempotent.
    pub fn restore(&mut self) -> Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        restore_backup(&self.entry).map(|_| ())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Err(e) = self.restore() {
            eprintln!(
                "warning: {DAEMON_JSON} not restored ({e:#}); isobench clean restores it from {}",
                self.entry.display()
            );
        }
    }
}

/// Docker driving one OCI runtime.
pub struct DockerEnv {
    cli: Arc<DockerCli>,
    info: DaemonInfo,
    runtime: super::column::Runtime,
    /// isorun's binary and version (for docker:isorun).
    runtime_bin: Option<PathBuf>,
    runtime_version: String,
    registration: Option<Registration>,
    prepared: Option<Prepared>,
    /// Starts the engine's commands ([`super::process::host`] unless
    /// [`DockerEnv::with_spawner`]).
    spawner: Arc<dyn Spawner>,
}

struct Prepared {
    dir: PathBuf,
    image: String,
}

/// The docker client: every docker command of this column goes through
/// [`EngineCli::command`].
struct DockerCli {
    docker: PathBuf,
}

impl EngineCli for DockerCli {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn bin(&self) -> &Path {
        &self.docker
    }

    fn command(&self, args: &[&OsStr]) -> Command {
        let mut c = Command::new(&self.docker);
        c.args(args).stdin(Stdio::null());
        c
    }

    fn rm_args<'a>(&self, name: &'a str) -> Vec<&'a str> {
        vec!["rm", "-f", name]
    }

    fn gone(&self, rm_stderr: &str) -> bool {
        rm_stderr.contains("No such container")
    }

    fn run_removes(&self) -> bool {
        false
    }

    /// The containerd shim, which names the container id on its command
    /// line, and the members of the cgroup `docker/<id>`.
    fn persistent_roots(&self, _name: &str, cid: Option<&str>, client: &BTreeSet<i32>) -> Vec<i32> {
        let Some(cid) = cid else {
            return Vec::new();
        };
        let mut roots: Vec<i32> =
            fp::cmdline_mentions(Path::new(fp::PROC), cid, std::process::id() as i32)
                .into_iter()
                .filter(|p| !client.contains(p))
                .collect();
        let cg = format!("{DOCKER_CGROUP_PARENT}/{cid}");
        roots.extend(fp::cgroup_procs(Path::new(CGROUP_ROOT), &cg));
        roots
    }
}

impl DockerEnv {
    pub fn new(runtime: &super::column::Runtime, isorun_bin: PathBuf) -> Result<DockerEnv> {
        use super::column::Runtime;
        if !supported(runtime) {
            bail!(
                "docker:{} is not supported (docker:runc, docker:isorun)",
                runtime.name()
            );
        }
        let docker = super::column::Engine::Docker
            .bin()
            .map_err(|e| anyhow!(e))?;
        let info = daemon_info(&docker).map_err(|e| anyhow!(e))?;
        let (runtime_bin, runtime_version) = match runtime {
            Runtime::Isorun => {
                let bin = std::path::absolute(runtime.bin(&isorun_bin).map_err(|e| anyhow!(e))?)?;
                let peer = isorun::peer::Peer::probe(&bin)
                    .with_context(|| format!("cannot run {} --version", bin.display()))?;
                (Some(bin), peer.version)
            }
            _ => (None, format!("runc {} (dockerd's)", info.runc_commit)),
        };
        Ok(DockerEnv {
            cli: Arc::new(DockerCli { docker }),
            info,
            runtime: runtime.clone(),
            runtime_bin,
            runtime_version,
            registration: None,
            prepared: None,
            spawner: super::process::host(),
        })
    }

    /// The same column, its processes started through `spawner`.
    pub fn with_spawner(mut self, spawner: Arc<dyn Spawner>) -> DockerEnv {
        self.spawner = spawner;
        self
    }

    /// The name `docker run --runtime` takes.
    fn runtime_arg(&self) -> &str {
        match self.runtime {
            super::column::Runtime::Isorun => ISORUN_RUNTIME,
            _ => "runc",
        }
    }

    /// This column's containers: `<isobench pid>/<column id>`.
    pub fn label_value(&self) -> String {
        format!("{}/{}", std::process::id(), self.id())
    }

    fn docker_cmd<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        self.cli.command(&os_args(args))
    }

    fn remove_labelled(&self) {
        let label = format!("label={}={}", super::engine::LABEL, self.label_value());
        if let Ok(ids) = self
            .spawner
            .output_of(self.docker_cmd(&["ps", "-aq", "--filter", &label]))
        {
            for id in ids.split_whitespace() {
                let _ = self
                    .docker_cmd(&["rm", "-f", id])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

impl Environment for DockerEnv {
    fn kind(&self) -> EnvKind {
        EnvKind::Container
    }

    fn id(&self) -> String {
        format!("container-docker-{}", self.runtime.name())
    }

    fn detail(&self) -> BTreeMap<String, String> {
        let i = &self.info;
        let mut d = BTreeMap::from([
            ("engine".to_string(), "docker".to_string()),
            (
                "engine_version".to_string(),
                format!(
                    "Docker Engine {} (client {})",
                    i.server_version, i.client_version
                ),
            ),
            ("engine_path".to_string(), self.cli.docker.display().to_string()),
            ("runtime".to_string(), self.runtime.name()),
            ("runtime_version".to_string(), self.runtime_version.clone()),
            ("storage_driver".to_string(), i.storage_driver.clone()),
            (
                "cgroup".to_string(),
                format!("driver {}, version {}", i.cgroup_driver, i.cgroup_version),
            ),
            ("daemon_runtimes".to_string(), i.runtimes.join(", ")),
            ("default_runtime".to_string(), i.default_runtime.clone()),
            ("security_options".to_string(), i.security_options.join(", ")),
            (
                "ulimits".to_string(),
                format!(
                    "--ulimit {} --ulimit {} (set by isobench, as for podman)",
                    super::engine::ULIMITS[0],
                    super::engine::ULIMITS[1]
                ),
            ),
            (
                "image".to_string(),
                format!("1 layer (base directories, workload binary and the copy-up data files) imported with docker import, storage driver {}", i.storage_driver),
            ),
            (
                "engine_defaults".to_string(),
                "docker run --rm --network none with dockerd's defaults: its seccomp profile, cgroupfs parent /docker, containerd shim".to_string(),
            ),
            (
                "footprint".to_string(),
                "the containerd shim and the container's processes (what a detached container keeps); the attached docker client's PSS is recorded apart (info engine_client_pss_mib); dockerd and containerd are shared and not counted".to_string(),
            ),
        ]);
        if let Some(b) = &self.runtime_bin {
            d.insert("runtime_path".into(), b.display().to_string());
            d.insert(
                "daemon_json".into(),
                format!("{ISORUN_RUNTIME} added to {DAEMON_JSON} runtimes for the run (reloaded with SIGHUP), restored byte for byte afterwards"),
            );
        }
        d
    }

    fn cannot_run(&self, workload: Workload) -> Option<String> {
        super::container::container_cannot_run(workload)
    }

    fn prepare(&mut self, ctx: &EnvContext) -> Result<()> {
        if !ctx.workload_bin.is_file() {
            bail!("workload binary {} not found", ctx.workload_bin.display());
        }
        if let (Some(bin), None) = (&self.runtime_bin, &self.registration) {
            self.registration = Some(
                Registration::register(&self.cli.docker, ISORUN_RUNTIME, bin)
                    .context("registering isorun as a Docker runtime")?,
            );
        }
        let dir = std::path::absolute(ctx.scratch.join(self.id()))?;
        let tar = super::engine::image_tar(&*self.spawner, &dir, ctx)?;
        let image = format!(
            "isobench-{}-{}:latest",
            self.runtime.name(),
            std::process::id()
        );
        let imp = self.docker_cmd(&[
            "import".to_string(),
            "--change".into(),
            format!("LABEL {OWNER_LABEL}={}", std::process::id()),
            "--change".into(),
            format!("LABEL {}={}", super::engine::LABEL, self.label_value()),
            tar.display().to_string(),
            image.clone(),
        ]);
        self.spawner
            .output_of(imp)
            .context("docker import of the workload image")?;
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
            .ok_or_else(|| anyhow!("docker environment not prepared"))?;
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let launch = Launch {
            cli: self.cli.clone(),
            spawner: Arc::clone(&self.spawner),
            dir: &p.dir,
            image: &p.image,
            runtime: self.runtime.name(),
        };
        let head = vec![
            "run".into(),
            "--rm".into(),
            "--runtime".into(),
            self.runtime_arg().into(),
            "--network".into(),
            "none".into(),
        ];
        let labels = [
            format!("{OWNER_LABEL}={}", std::process::id()),
            format!("{}={}", super::engine::LABEL, self.label_value()),
        ];
        let inst = launch.start(instance_name('d', &NEXT), head, &labels, limits, spec)?;
        Ok(Box::new(inst))
    }

    fn cleanup(&mut self) -> Result<()> {
        let mut result = Ok(());
        if let Some(p) = self.prepared.take() {
            self.remove_labelled();
            let r = self
                .spawner
                .output_of(self.docker_cmd(&["rmi", "-f", &p.image]));
            let d = std::fs::remove_dir_all(&p.dir)
                .with_context(|| format!("removing {}", p.dir.display()));
            result = r
                .map(|_| ())
                .with_context(|| format!("docker rmi {}", p.image))
                .and(d);
        }
        // After the containers: they may use the runtime.
        if let Some(mut reg) = self.registration.take() {
            result = result.and(reg.restore());
        }
        result
    }
}

impl Drop for DockerEnv {
    fn drop(&mut self) {
        let _ = self.cleanup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_info_is_read_and_an_absent_daemon_refused() {
        let j = r#"{"ServerVersion":"20.10.24","Driver":"fuse-overlayfs","CgroupDriver":"cgroupfs","CgroupVersion":"1","Runtimes":{"runc":{"path":"runc"},"io.containerd.runc.v2":{"path":"runc"}},"DefaultRuntime":"runc","RuncCommit":{"ID":"1.1.5"},"SecurityOptions":["name=seccomp,profile=default"],"ClientInfo":{"Version":"28.2.2"}}"#;
        let i = DaemonInfo::parse(j).unwrap();
        assert_eq!(i.server_version, "20.10.24");
        assert_eq!(i.client_version, "28.2.2");
        assert_eq!(i.storage_driver, "fuse-overlayfs");
        assert_eq!(
            (i.cgroup_driver.as_str(), i.cgroup_version.as_str()),
            ("cgroupfs", "1")
        );
        assert_eq!(i.runtimes, ["io.containerd.runc.v2", "runc"]);
        assert_eq!(i.runc_commit, "1.1.5");
        let e = DaemonInfo::parse(r#"{"ServerVersion":"","ServerErrors":["Cannot connect"]}"#)
            .unwrap_err();
        assert!(
            e.contains("no Docker daemon") && e.contains("Cannot connect"),
            "{e}"
        );
        assert!(DaemonInfo::parse("not json").is_err());
    }

    #[test]
    fn merging_a_runtime_keeps_every_other_key() {
        let orig = br#"{"storage-driver": "fuse-overlayfs", "mtu": 1400, "runtimes": {"kata": {"path": "/k"}}}"#;
        let m = merged_daemon_json(Some(orig), "isobench-isorun", Path::new("/x/isorun")).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(v["storage-driver"], "fuse-overlayfs");
        assert_eq!(v["mtu"], 1400);
        assert_eq!(v["runtimes"]["kata"]["path"], "/k");
        assert_eq!(v["runtimes"]["isobench-isorun"]["path"], "/x/isorun");
        let m = merged_daemon_json(None, "r", Path::new("/r")).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(v, serde_json::json!({"runtimes": {"r": {"path": "/r"}}}));
        assert!(merged_daemon_json(Some(b"[1]"), "r", Path::new("/r")).is_err());
        assert!(merged_daemon_json(Some(b"{"), "r", Path::new("/r")).is_err());
        assert!(merged_daemon_json(Some(br#"{"runtimes": 3}"#), "r", Path::new("/r")).is_err());
    }

    #[test]
    fn unregistering_makes_the_runtimes_explicit() {
        let (b, keeps) = unregistering_daemon_json(Some(br#"{"mtu": 1400}"#), "x");
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v, serde_json::json!({"mtu": 1400, "runtimes": {}}));
        assert!(!keeps);
        let (b, keeps) =
            unregistering_daemon_json(Some(br#"{"runtimes": {"x": {"path": "/x"}}}"#), "x");
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["runtimes"]["x"]["path"], "/x");
        assert!(keeps);
        let (b, _) = unregistering_daemon_json(None, "x");
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v, serde_json::json!({"runtimes": {}}));
    }

    #[test]
    fn a_backup_restores_bytes_or_removes_the_file() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("daemon.json");
        let entry = t.path().join("backup/123");
        std::fs::create_dir_all(&entry).unwrap();
        std::fs::write(entry.join("target"), target.display().to_string()).unwrap();
        std::fs::write(entry.join("original"), b"{ \"a\":1 }\n\n").unwrap();
        std::fs::write(&target, b"changed").unwrap();
        restore_backup(&entry).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"{ \"a\":1 }\n\n");
        assert!(!entry.exists());
        std::fs::create_dir_all(&entry).unwrap();
        std::fs::write(entry.join("target"), target.display().to_string()).unwrap();
        restore_backup(&entry).unwrap();
        assert!(!target.exists() && !entry.exists());
        assert!(
            !t.path().join("backup").exists(),
            "the empty backup dir stays"
        );
    }
}
