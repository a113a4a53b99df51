//! What the two engine columns share: one `podman run --rm` or `docker run
//! --rm`, the attached client under supervision ([`EngineInstance`]), and
//! the engine's CLI behind [`EngineCli`], the one door through which the
//! columns build every engine command (podman with its runtime's host
//! quirks, docker as is) and through which an instance finds the processes
//! its engine keeps for a container.

use super::footprint as fp;
use super::process::{tail_lines, Spawner, Supervised};
use super::{Instance, Limits, RunOutcome};
use anyhow::{anyhow, Context, Result};
use isobench_workloads::protocol::find_result;
use isobench_workloads::{Workload, WorkloadSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where the workload binary sits in an engine column's image.
pub const WORKLOAD_PATH: &str = "/isobench-workload";

/// An engine's command-line client, as the engine columns run it.
pub trait EngineCli: Send + Sync {
    /// The engine's name in messages (`podman`, `docker`).
    fn name(&self) -> &'static str;
    /// The client's binary.
    fn bin(&self) -> &Path;
    /// The client with `args`, stdin closed.
    fn command(&self, args: &[&OsStr]) -> Command;
    /// The arguments that remove container `name` at once.
    fn rm_args<'a>(&self, name: &'a str) -> Vec<&'a str>;
    /// Whether a failed `rm` said the container is gone already.
    fn gone(&self, _rm_stderr: &str) -> bool {
        false
    }
    /// Whether `run --rm` returns only once the container is removed.
    fn run_removes(&self) -> bool;
    /// The processes (outside the attached client's tree `client`) that
    /// live as long as container `name` (id `cid`, once its cidfile holds
    /// it): the engine's per-container monitor and the cgroup's members.
    fn persistent_roots(&self, name: &str, cid: Option<&str>, client: &BTreeSet<i32>) -> Vec<i32>;
}

/// `args` as the `&OsStr`s [`EngineCli::command`] takes.
pub fn os_args<S: AsRef<OsStr>>(args: &[S]) -> Vec<&OsStr> {
    args.iter().map(AsRef::as_ref).collect()
}

/// One `ENGINE run --rm`: the attached client under supervision.
pub struct EngineInstance {
    sup: Option<Supervised>,
    cli: Arc<dyn EngineCli>,
    /// The runtime the engine drives, as error messages name it.
    runtime: String,
    name: String,
    run_dir: PathBuf,
    errlog: PathBuf,
    workload: Workload,
    /// The engine removed the container itself (`--rm`) or `rm -f` did.
    removed: bool,
    /// Its environment's door for the engine's commands.
    spawner: Arc<dyn Spawner>,
}

/// Where an instance keeps its files: `run_dir` (the cidfile `cid` and the
/// client's stderr), made before the client starts.
pub struct RunFiles {
    pub run_dir: PathBuf,
    pub cidfile: PathBuf,
    pub errlog: PathBuf,
}

impl RunFiles {
    /// `<dir>/runs/<name>`, created.
    pub fn create(dir: &Path, name: &str) -> Result<RunFiles> {
        let run_dir = dir.join("runs").join(name);
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("creating {}", run_dir.display()))?;
        Ok(RunFiles {
            cidfile: run_dir.join("cid"),
            errlog: run_dir.join("stderr"),
            run_dir,
        })
    }
}

/// An engine column's side of one launch.
pub struct Launch<'a> {
    pub cli: Arc<dyn EngineCli>,
    pub spawner: Arc<dyn Spawner>,
    /// The column's directory (instances below `runs/`).
    pub dir: &'a Path,
    /// The image imported at prepare.
    pub image: &'a str,
    /// The runtime the engine drives, as error messages name it.
    pub runtime: String,
}

impl Launch<'_> {
    /// Start one `ENGINE run --rm` of `spec` as container `name`: `head`
    /// (the engine's own arguments up to `run --rm`, and where `--runtime`
    /// goes differs), then `--name`, a `--label` for each of `labels`,
    /// `--cidfile`, the ulimits, the limits' options, the image and the
    /// workload's command line.
    pub fn start(
        self,
        name: String,
        head: Vec<String>,
        labels: &[String],
        limits: &Limits,
        spec: &WorkloadSpec,
    ) -> Result<EngineInstance> {
        let files = RunFiles::create(self.dir, &name)?;
        let mut args = head;
        args.extend(["--name".into(), name.clone()]);
        for l in labels {
            args.extend(["--label".into(), l.clone()]);
        }
        args.extend(["--cidfile".into(), files.cidfile.display().to_string()]);
        for u in super::engine::ULIMITS {
            args.push("--ulimit".into());
            args.push(u.into());
        }
        args.extend(super::engine::limit_args(limits));
        let fileio = spec.workload == Workload::Fileio;
        if fileio {
            args.extend(fileio_mount_args(self.dir)?);
        }
        args.push(self.image.to_string());
        args.push(WORKLOAD_PATH.into());
        args.extend(spec.to_args());
        if fileio {
            isobench_workloads::fileio::add_places(
                &mut args,
                &super::container::container_fileio_places(),
            );
        }
        EngineInstance::start(
            self.cli,
            &args,
            name,
            files,
            self.runtime,
            spec.workload,
            self.spawner,
        )
    }
}

/// fileio's bind mount and tmpfs for an engine's `run`, at the places
/// every container column uses (`container_fileio_places`): the bind mount's
/// host side is `fileio-disk` in the column's directory, on the run
/// directory's file system, as for the OCI runtime columns. The root file
/// system place is the engine's own storage (its storage driver).
fn fileio_mount_args(column_dir: &Path) -> Result<Vec<String>> {
    use super::container::{FILEIO_DISK, FILEIO_DISK_DIR, FILEIO_TMPFS};
    let host = std::path::absolute(column_dir.join(FILEIO_DISK_DIR))?;
    std::fs::create_dir_all(&host).with_context(|| format!("creating {}", host.display()))?;
    Ok(vec![
        "--mount".into(),
        format!("type=bind,source={},target={FILEIO_DISK}", host.display()),
        "--tmpfs".into(),
        format!("{FILEIO_TMPFS}:rw,nosuid,nodev,mode=1777"),
    ])
}

/// `isobench-<pid>-<tag><n>`: the name of an engine column's next
/// container (`tag` tells the engines apart, `next` counts per engine).
pub fn instance_name(tag: char, next: &AtomicU64) -> String {
    let n = next.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}{tag}{n}",
        super::naming::container_prefix(std::process::id())
    )
}

impl EngineInstance {
    /// Start `ENGINE args` (a `run --rm` of container `name`) with its
    /// stderr in `files.errlog`.
    pub fn start(
        cli: Arc<dyn EngineCli>,
        args: &[String],
        name: String,
        files: RunFiles,
        runtime: String,
        workload: Workload,
        spawner: Arc<dyn Spawner>,
    ) -> Result<EngineInstance> {
        let cmd = cli.command(&os_args(args));
        let log = std::fs::File::create(&files.errlog)
            .with_context(|| format!("creating {}", files.errlog.display()))?;
        let sup = spawner
            .spawn_logged(cmd, Some(log))
            .with_context(|| format!("cannot start {}", cli.bin().display()))?;
        Ok(EngineInstance {
            sup: Some(sup),
            cli,
            runtime,
            name,
            run_dir: files.run_dir,
            errlog: files.errlog,
            workload,
            removed: false,
            spawner,
        })
    }

    fn stderr_of(&self, what: &str) -> String {
        let t = std::fs::read_to_string(&self.errlog).unwrap_or_default();
        format!("{what}:\n{}", tail_lines(&t, 10))
    }

    fn what(&self) -> String {
        format!("{} container {}", self.cli.name(), self.name)
    }
}

/// The instance's processes, in two sets: what stays for as long as the
/// container lives ([`EngineCli::persistent_roots`], with descendants) and
/// the attached client with its children (a per-session cost: a detached
/// run has none).
fn instance_pids(
    cli: &dyn EngineCli,
    client: Option<i32>,
    name: &str,
    cidfile: &Path,
) -> (BTreeSet<i32>, BTreeSet<i32>) {
    let proc_root = Path::new(fp::PROC);
    let client_tree = match client {
        Some(c) => fp::descendants(proc_root, &[c]),
        None => BTreeSet::new(),
    };
    let cid = std::fs::read_to_string(cidfile).ok();
    let cid = cid.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let roots = cli.persistent_roots(name, cid, &client_tree);
    let persistent: BTreeSet<i32> = fp::descendants(proc_root, &roots)
        .difference(&client_tree)
        .copied()
        .collect();
    (persistent, client_tree)
}

impl Instance for EngineInstance {
    fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let what = self.what();
        let sup = self
            .sup
            .as_mut()
            .ok_or_else(|| anyhow!("{what} was not started"))?;
        match sup.wait_ready(timeout) {
            Ok(d) => Ok(d),
            Err(e) => {
                let _ = self.stop();
                Err(e.context(self.stderr_of(&what)))
            }
        }
    }

    fn pids(&self) -> BTreeSet<i32> {
        if self.removed {
            return BTreeSet::new();
        }
        let client = self.sup.as_ref().filter(|s| !s.exited()).map(|s| s.pid());
        let (persistent, client) =
            instance_pids(&*self.cli, client, &self.name, &self.run_dir.join("cid"));
        persistent.union(&client).copied().collect()
    }

    /// The persistent share only (the engine's monitor and the container):
    /// what each extra container costs a host that runs them detached. The
    /// attached client is left out (recorded apart by `wait` for startup
    /// runs).
    fn memory(&self) -> Option<fp::Footprint> {
        if self.removed {
            return None;
        }
        let (persistent, _) =
            instance_pids(&*self.cli, None, &self.name, &self.run_dir.join("cid"));
        let f = fp::measure(Path::new(fp::PROC), &persistent);
        (!f.pids.is_empty()).then_some(f)
    }

    fn stop(&mut self) -> Result<()> {
        if let Some(s) = self.sup.as_mut() {
            s.kill();
        }
        let mut result = Ok(());
        if !self.removed {
            // Why: killing the attached client leaves the container (and
            // podman's conmon) running; the engine removes them.
            let engine = self.cli.name();
            let mut rm = self.cli.command(&os_args(&self.cli.rm_args(&self.name)));
            rm.stdin(Stdio::null()).stdout(Stdio::null());
            match self.spawner.output(rm) {
                Ok(o) if o.status.success() => self.removed = true,
                Ok(o) if self.cli.gone(&String::from_utf8_lossy(&o.stderr)) => self.removed = true,
                Ok(o) => {
                    result = Err(anyhow!(
                        "{engine} rm -f {} failed ({}): {}",
                        self.name,
                        o.status,
                        String::from_utf8_lossy(&o.stderr).trim()
                    ))
                }
                Err(e) => result = Err(anyhow!("cannot run {engine} rm: {e}")),
            }
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
        result
    }

    fn wait(mut self: Box<Self>, timeout: Duration) -> Result<RunOutcome> {
        let sup = self
            .sup
            .take()
            .ok_or_else(|| anyhow!("{} was not started", self.what()))?;
        let measure = self.workload == Workload::Startup;
        let mut footprint = None;
        let mut client_mem = None;
        let (name, cidfile) = (self.name.clone(), self.run_dir.join("cid"));
        let cli = Arc::clone(&self.cli);
        let w = sup
            .finish(timeout, |pid| {
                if measure && pid.is_some() {
                    let (persistent, client) = instance_pids(&*cli, pid, &name, &cidfile);
                    let f = fp::measure(Path::new(fp::PROC), &persistent);
                    footprint = (!f.pids.is_empty()).then_some(f);
                    client_mem = Some(fp::measure(Path::new(fp::PROC), &client));
                }
            })
            .map_err(|e| {
                let _ = self.stop();
                e.context(self.what())
            })?;
        // podman run --rm returns once the container is removed; docker run
        // --rm may return before the daemon has removed it: stop() removes
        // it (or finds it gone).
        if self.cli.run_removes() {
            self.removed = w.status.code().is_some();
        }
        let errors = std::fs::read_to_string(&self.errlog).unwrap_or_default();
        self.stop()?;
        let mut result = find_result(&w.stdout).map_err(|e| {
            anyhow!(
                "{e} ({} run of {} under {}, {}):\n{}",
                self.cli.name(),
                self.name,
                self.runtime,
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

impl Drop for EngineInstance {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::fake::FakeSpawner;
    use isobench_workloads::protocol::WorkloadResult;
    use std::sync::Mutex;

    /// An engine whose `run` is a shell printing a workload's output, and
    /// whose every command is recorded.
    struct FakeCli {
        line: String,
        seen: Mutex<Vec<Vec<String>>>,
    }

    impl EngineCli for FakeCli {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn bin(&self) -> &Path {
            Path::new("/bin/sh")
        }
        fn command(&self, args: &[&OsStr]) -> Command {
            let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
            let script = if args.first().map(String::as_str) == Some("run") {
                format!("echo ISOBENCH-READY; echo '{}'", self.line)
            } else {
                "true".to_string()
            };
            self.seen.lock().unwrap().push(args);
            let mut c = Command::new("/bin/sh");
            c.args(["-c", &script]).stdin(Stdio::null());
            c
        }
        fn rm_args<'a>(&self, name: &'a str) -> Vec<&'a str> {
            vec!["rm", "-f", name]
        }
        fn run_removes(&self) -> bool {
            false
        }
        fn persistent_roots(
            &self,
            _name: &str,
            _cid: Option<&str>,
            _client: &BTreeSet<i32>,
        ) -> Vec<i32> {
            Vec::new()
        }
    }

    /// Without root or an engine: the shared instance starts the client
    /// through the door, reads the result off its stdout and removes the
    /// container with the engine's `rm` when `run --rm` does not.
    #[test]
    fn an_engine_run_goes_through_the_door_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cli = Arc::new(FakeCli {
            line: WorkloadResult::empty("cpu").to_line(),
            seen: Mutex::new(Vec::new()),
        });
        let spawner = Arc::new(FakeSpawner::default());
        let files = RunFiles::create(dir.path(), "isobench-1-f1").unwrap();
        let inst = EngineInstance::start(
            cli.clone(),
            &["run".into(), "--rm".into()],
            "isobench-1-f1".into(),
            files,
            "runc".into(),
            Workload::Cpu,
            spawner.clone(),
        )
        .unwrap();
        let out = Box::new(inst).wait(Duration::from_secs(10)).unwrap();
        assert_eq!(out.result.workload, "cpu");
        assert_eq!(
            *cli.seen.lock().unwrap(),
            vec![vec!["run", "--rm"], vec!["rm", "-f", "isobench-1-f1"]]
        );
        assert_eq!(spawner.methods(), ["spawn_logged", "output"]);
        assert!(!dir.path().join("runs/isobench-1-f1").exists());
    }

    /// fileio through an engine: the bind mount (host side in the column's
    /// directory) and the tmpfs go before the image, the three places
    /// after the workload's arguments.
    #[test]
    fn an_engine_s_fileio_gets_the_bind_mount_tmpfs_and_places() {
        let dir = tempfile::tempdir().unwrap();
        let cli = Arc::new(FakeCli {
            line: WorkloadResult::empty("fileio").to_line(),
            seen: Mutex::new(Vec::new()),
        });
        let launch = Launch {
            cli: cli.clone(),
            spawner: Arc::new(FakeSpawner::default()),
            dir: dir.path(),
            image: "isobench-img",
            runtime: "runc".into(),
        };
        let spec = WorkloadSpec::parse(Workload::Fileio, &["fileio".to_string()]).unwrap();
        let inst = launch
            .start(
                "isobench-1-f2".into(),
                vec!["run".into()],
                &[],
                &Limits::default(),
                &spec,
            )
            .unwrap();
        Box::new(inst).wait(Duration::from_secs(10)).unwrap();
        let run = cli.seen.lock().unwrap()[0].clone();
        let image = run.iter().position(|a| a == "isobench-img").unwrap();
        let host = std::path::absolute(dir.path().join("fileio-disk")).unwrap();
        assert!(host.is_dir());
        let before = &run[..image];
        assert!(
            before.contains(&format!(
                "type=bind,source={},target=/isobench-disk",
                host.display()
            )),
            "{run:?}"
        );
        assert!(
            before.iter().any(|a| a.starts_with("/isobench-tmpfs:")),
            "{run:?}"
        );
        let after = run[image..].join(" ");
        for place in ["/isobench-fileio", "/isobench-disk", "/isobench-tmpfs"] {
            assert!(after.contains(place), "{place} not passed: {after}");
        }
    }
}
