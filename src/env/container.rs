//! The `container` environment: the workload binary in an image of two
//! layers (a base with the directories a process expects, and the binary),
//! run as an OCI bundle by isorun, runc, crun or any runc-compatible CLI
//! (OCI runtime spec, "Operations": create, start, delete).
//!
//! Each run is a fresh container (fresh id) timed from the host: `create`,
//! `start`, the arrival of `ISOBENCH-READY` on the container's stdout (the
//! runtime passes its stdio through), exit (EOF on that pipe) and `delete`.
//! isorun mounts the image overlay itself inside the container's mount
//! namespace (bundle annotations); for peers, which need a plain root.path,
//! isobench mounts the overlay on the bundle's rootfs per run. Peer quirks
//! (crun on hybrid cgroup hosts) live in `isorun::peer`, recorded in detail().

use super::process::{kill_group, read_stdout, tail_lines, Event};
use super::{EnvContext, EnvKind, Environment, RunOutcome};
use anyhow::{anyhow, bail, Context, Result};
use isobench_workloads::protocol::find_result;
use isobench_workloads::WorkloadSpec;
use isorun::config::{ANNOTATION_IMAGE, ANNOTATION_STORE};
use isorun::image::{self, ImageConfig, Store};
use isorun::peer::Peer;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Name of the image isobench builds.
const IMAGE: &str = "isobench-workload";
/// Where the workload binary sits in the image.
const WORKLOAD_PATH: &str = "/isobench-workload";

/// An OCI runtime driving containers of the workload image.
pub struct ContainerEnv {
    peer: Peer,
    prepared: Option<Prepared>,
}

struct Prepared {
    dir: PathBuf,
    store: Store,
    bundle: PathBuf,
    state_root: PathBuf,
}

impl ContainerEnv {
    /// `runtime` is `isorun`, `runc`, `crun` or a path to a runc-compatible
    /// CLI; `isorun_bin` is the isorun binary to use for `isorun`.
    pub fn new(runtime: &str, isorun_bin: PathBuf) -> Result<ContainerEnv> {
        let bin = match runtime {
            "isorun" => isorun_bin,
            "runc" | "crun" => crate::locate::which(runtime).ok_or_else(|| {
                anyhow!("{runtime} not found on PATH (apt-get install {runtime})")
            })?,
            p => PathBuf::from(p),
        };
        if !bin.is_file() {
            bail!(
                "container runtime {} not found (--runtime isorun|runc|crun|PATH)",
                bin.display()
            );
        }
        let peer =
            Peer::probe(&bin).with_context(|| format!("cannot run {} --version", bin.display()))?;
        Ok(ContainerEnv {
            peer,
            prepared: None,
        })
    }

    fn is_isorun(&self) -> bool {
        self.peer.name == "isorun"
    }

    /// The runtime's command with the state root set.
    fn rt(&self, p: &Prepared) -> Command {
        let mut c = self
            .peer
            .command(["--root".as_ref(), p.state_root.as_os_str()]);
        c.stdin(Stdio::null());
        c
    }
}

/// The base layer: what a process expects to find in a root file system.
fn write_base_layer(dir: &Path) -> Result<()> {
    for d in ["proc", "dev", "sys", "tmp", "etc", "root"] {
        std::fs::create_dir_all(dir.join(d))?;
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    std::fs::write(dir.join("etc/group"), "root:x:0:\n")?;
    std::fs::write(dir.join("etc/hostname"), "isobench\n")?;
    std::fs::write(dir.join("etc/hosts"), "127.0.0.1 localhost isobench\n")?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    Ok(())
}

/// Spawn `cmd` in its own process group and wait for it, killing the
/// group when `deadline` passes (a watchdog thread; no polling).
fn run_until(mut cmd: Command, deadline: Instant) -> Result<(ExitStatus, Instant)> {
    cmd.process_group(0);
    let program = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    let pgid = child.id() as i32;
    let (tx, rx) = mpsc::channel::<()>();
    let dog = std::thread::spawn(move || {
        let left = deadline.saturating_duration_since(Instant::now());
        if rx.recv_timeout(left) == Err(mpsc::RecvTimeoutError::Timeout) {
            kill_group(pgid);
        }
    });
    let st = child.wait().context("waiting for the runtime")?;
    let done = Instant::now();
    let _ = tx.send(());
    let _ = dog.join();
    if done >= deadline {
        bail!("{program} did not finish in time; killed it");
    }
    Ok((st, done))
}

/// Wait for a process that is not our child to exit: pidfd_open(2) and
/// poll(2), no polling loop.
fn wait_exit(pid: i32, deadline: Instant) {
    if pid <= 0 {
        return;
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return; // already gone
    }
    let ms = deadline
        .saturating_duration_since(Instant::now())
        .as_millis();
    let mut pfd = libc::pollfd {
        fd: fd as i32,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd we own; then we close the fd we opened.
    unsafe {
        libc::poll(&mut pfd, 1, ms.min(i32::MAX as u128) as i32);
        libc::close(fd as i32);
    }
}

/// Everything a run made, removed on drop (also on error and timeout).
struct RunGuard<'a> {
    env: &'a ContainerEnv,
    p: &'a Prepared,
    id: String,
    pgid: Option<i32>,
    overlay: Option<PathBuf>,
    run_dir: PathBuf,
    deleted: bool,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if let Some(pg) = self.pgid {
            kill_group(pg);
        }
        if !self.deleted {
            let mut c = self.env.rt(self.p);
            c.args(["delete", "--force", &self.id])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let _ = run_until(c, Instant::now() + Duration::from_secs(20));
        }
        if let Some(t) = &self.overlay {
            let _ = image::unmount(t);
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

impl Environment for ContainerEnv {
    fn kind(&self) -> EnvKind {
        EnvKind::Container
    }

    fn id(&self) -> String {
        format!("container-{}", self.peer.name)
    }

    fn detail(&self) -> BTreeMap<String, String> {
        let mut d = BTreeMap::from([
            ("runtime".to_string(), self.peer.name.clone()),
            ("runtime_version".to_string(), self.peer.version.clone()),
            (
                "runtime_path".to_string(),
                self.peer.bin.display().to_string(),
            ),
            (
                "image".to_string(),
                "2 layers (base, workload binary) on overlayfs, upper layer on tmpfs".to_string(),
            ),
        ]);
        let mut quirks = self.peer.quirks();
        if !self.is_isorun() {
            quirks.push(
                "image overlay (upper layer on tmpfs) mounted on the bundle rootfs by isobench before create (not timed)"
                    .into(),
            );
        }
        d.insert(
            "quirks".to_string(),
            if quirks.is_empty() {
                "none".into()
            } else {
                quirks.join("; ")
            },
        );
        d
    }

    fn prepare(&mut self, ctx: &EnvContext) -> Result<()> {
        if !ctx.workload_bin.is_file() {
            bail!("workload binary {} not found", ctx.workload_bin.display());
        }
        let dir = ctx.scratch.join(self.id());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = std::path::absolute(&dir)?;
        let base = dir.join("layer-base");
        write_base_layer(&base).context("writing the base layer")?;
        let wl = dir.join("layer-workload");
        std::fs::create_dir_all(&wl)?;
        std::fs::copy(
            &ctx.workload_bin,
            wl.join(WORKLOAD_PATH.trim_start_matches('/')),
        )
        .with_context(|| format!("copying {}", ctx.workload_bin.display()))?;
        let store = Store::open(dir.join("layers"))?;
        store.build(
            IMAGE,
            &[base, wl],
            ImageConfig {
                entrypoint: vec![WORKLOAD_PATH.into()],
                ..Default::default()
            },
        )?;
        let bundle = dir.join("bundle");
        std::fs::create_dir_all(bundle.join("rootfs"))?;
        let state_root = dir.join("state");
        std::fs::create_dir_all(&state_root)?;
        let runs = dir.join("runs");
        std::fs::create_dir_all(&runs)?;
        if !self.is_isorun() {
            // Why: the containers' upper layers on a tmpfs, as isorun keeps
            // them, so no runtime pays for syncing a disk file system.
            nix::mount::mount(
                Some("tmpfs"),
                &runs,
                Some("tmpfs"),
                nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
                Some("mode=700"),
            )
            .with_context(|| format!("mounting a tmpfs on {}", runs.display()))?;
        }
        self.prepared = Some(Prepared {
            dir,
            store,
            bundle,
            state_root,
        });
        Ok(())
    }

    fn run(&mut self, spec: &WorkloadSpec, timeout: Duration) -> Result<RunOutcome> {
        let p = self
            .prepared
            .as_ref()
            .ok_or_else(|| anyhow!("container environment not prepared"))?;
        // Unique on the host: container ids and the cgroup path derived from
        // them are shared by every environment (and runtime) of a process.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!(
            "{}{n}",
            crate::sweep::naming::container_prefix(std::process::id())
        );
        let deadline = Instant::now() + timeout;

        // The bundle: same config for every runtime; isorun reads the image
        // annotations, peers find the overlay mounted on rootfs.
        let mut args = vec![WORKLOAD_PATH.to_string()];
        args.extend(spec.args.iter().cloned());
        let mut config = isorun::spec::default_json(&args);
        // One cgroup path for every runtime, so the container's processes
        // can be found the same way under each (its footprint, claim C4).
        let cgroup = format!("/{CGROUP_PARENT}/{id}");
        config["linux"]["cgroupsPath"] = serde_json::json!(cgroup);
        config["annotations"] = serde_json::json!({
            ANNOTATION_IMAGE: IMAGE,
            ANNOTATION_STORE: p.store.root,
        });
        isorun::spec::write_config(&p.bundle, &config)?;
        let run_dir = p.dir.join("runs").join(&id);
        std::fs::create_dir_all(&run_dir)?;
        let mut guard = RunGuard {
            env: self,
            p,
            id: id.clone(),
            pgid: None,
            overlay: None,
            run_dir: run_dir.clone(),
            deleted: false,
        };
        if !self.is_isorun() {
            let target = p.bundle.join("rootfs");
            image::mount_overlay(
                &p.store,
                IMAGE,
                &run_dir.join("upper"),
                &run_dir.join("work"),
                &target,
            )?;
            guard.overlay = Some(target);
        }
        let errlog = run_dir.join("stderr");
        let stderr_of = |what: &str| -> String {
            let t = std::fs::read_to_string(&errlog).unwrap_or_default();
            format!("{what}:\n{}", tail_lines(&t, 10))
        };

        // create: its stdout pipe is inherited by the container process.
        let mut create = self.rt(p);
        create
            .args(["create", "--bundle"])
            .arg(&p.bundle)
            .arg("--pid-file")
            .arg(run_dir.join("pid"))
            .arg(&id)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&errlog)?)
            .process_group(0);
        let t0 = Instant::now();
        let mut child = create
            .spawn()
            .with_context(|| format!("cannot start {}", self.peer.bin.display()))?;
        guard.pgid = Some(child.id() as i32);
        let stdout = child.stdout.take().expect("stdout is piped");
        let (rx, _reader) = read_stdout(stdout);
        let (tx_dog, rx_dog) = mpsc::channel::<()>();
        let pg = child.id() as i32;
        let dog = std::thread::spawn(move || {
            if rx_dog.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                == Err(mpsc::RecvTimeoutError::Timeout)
            {
                kill_group(pg);
            }
        });
        let st = child.wait().context("waiting for create")?;
        let t_created = Instant::now();
        let _ = tx_dog.send(());
        let _ = dog.join();
        if !st.success() {
            bail!(stderr_of(&format!(
                "{} create failed ({st})",
                self.peer.name
            )));
        }

        let mut start = self.rt(p);
        start
            .args(["start", &id])
            .stdout(Stdio::null())
            .stderr(std::fs::File::options().append(true).open(&errlog)?);
        let (st, t_started) = run_until(start, deadline)?;
        if !st.success() {
            bail!(stderr_of(&format!(
                "{} start failed ({st})",
                self.peer.name
            )));
        }

        // Wait for the container to end: EOF on its stdout.
        let pid_file = run_dir.join("pid");
        let read_pid = || -> i32 {
            std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0)
        };
        let measure = spec.workload == isobench_workloads::Workload::Startup;
        let mut footprint = None;
        let mut ready = None;
        let mut stdout = String::new();
        let exited = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Event::Ready(t)) => {
                    if ready.is_none() && measure {
                        footprint = container_footprint(read_pid(), &cgroup, pg, &id);
                    }
                    ready.get_or_insert(t);
                }
                Ok(Event::Line(l)) => stdout.push_str(&l),
                Ok(Event::Eof(t)) => break t,
                Err(_) => bail!(
                    "container {id} did not finish within {:.0} s; killed it",
                    timeout.as_secs_f64()
                ),
            }
        };

        // EOF comes when the process closes its files, a moment before it
        // has exited: wait for the exit itself, or `delete` finds it running.
        wait_exit(read_pid(), deadline);

        let mut delete = self.rt(p);
        delete
            .args(["delete", &id])
            .stdout(Stdio::null())
            .stderr(std::fs::File::options().append(true).open(&errlog)?);
        let (st, t_deleted) = run_until(delete, deadline)?;
        if !st.success() {
            bail!(stderr_of(&format!(
                "{} delete failed ({st})",
                self.peer.name
            )));
        }
        guard.deleted = true;
        let errors = std::fs::read_to_string(&errlog).unwrap_or_default();
        drop(guard);

        let result = find_result(&stdout).map_err(|e| {
            anyhow!(
                "{e} (container {id} under {}):\n{}",
                self.peer.name,
                tail_lines(&format!("{stdout}\n{errors}"), 10)
            )
        })?;
        let ms = |a: Instant, b: Instant| b.duration_since(a).as_secs_f64() * 1000.0;
        Ok(RunOutcome {
            result,
            first_instruction: ready.map(|t| t.duration_since(t0)),
            lifecycle: t_deleted.duration_since(t0),
            extra_ms: BTreeMap::from([
                ("create_ms".to_string(), ms(t0, t_created)),
                ("start_ms".to_string(), ms(t_created, t_started)),
                ("run_ms".to_string(), ms(t_started, exited)),
                ("delete_ms".to_string(), ms(exited, t_deleted)),
            ]),
            footprint,
        })
    }

    fn cleanup(&mut self) -> Result<()> {
        if let Some(p) = self.prepared.take() {
            // Anything a crashed run left: delete --force every container.
            if let Ok(rd) = std::fs::read_dir(&p.state_root) {
                for e in rd.flatten() {
                    let mut c = self.rt(&p);
                    c.arg("delete")
                        .arg("--force")
                        .arg(e.file_name())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null());
                    let _ = run_until(c, Instant::now() + Duration::from_secs(20));
                }
            }
            let _ = image::unmount(&p.bundle.join("rootfs"));
            if !self.is_isorun() {
                let _ = image::unmount(&p.dir.join("runs"));
            }
            remove_cgroup_parent(Path::new(CGROUP_ROOT));
            std::fs::remove_dir_all(&p.dir)
                .with_context(|| format!("removing {}", p.dir.display()))?;
        }
        Ok(())
    }
}

/// Parent of every container cgroup isobench asks a runtime for.
const CGROUP_PARENT: &str = crate::sweep::naming::CGROUP_PARENT;
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The footprint of a running container: its init (`init`, from the pid
/// file) and descendants, every member of its cgroup (`cgroup`, the
/// cgroupsPath), and whatever of the runtime lingers: members of the process
/// group `create` was spawned in (`pgid`) and processes naming the container
/// `id` on their command line (a shim or monitor; runc, crun and isorun
/// leave none after `start`). `None` when the init could not be measured.
fn container_footprint(
    init: i32,
    cgroup: &str,
    pgid: i32,
    id: &str,
) -> Option<super::footprint::Footprint> {
    use super::footprint as fp;
    if init <= 1 {
        return None;
    }
    let proc_root = Path::new(fp::PROC);
    let mut roots: Vec<i32> = vec![init];
    roots.extend(fp::cgroup_procs(Path::new(CGROUP_ROOT), cgroup));
    roots.extend(fp::group_members(proc_root, pgid));
    roots.extend(fp::cmdline_mentions(
        proc_root,
        id,
        std::process::id() as i32,
    ));
    let f = fp::measure(proc_root, &fp::descendants(proc_root, &roots));
    f.pids.contains(&init).then_some(f)
}

/// Remove the (empty) parent cgroup the runtimes created, in every
/// hierarchy; a parent still holding a container stays.
fn remove_cgroup_parent(root: &Path) {
    let Ok(hierarchies) = std::fs::read_dir(root) else {
        return;
    };
    let _ = std::fs::remove_dir(root.join(CGROUP_PARENT));
    for h in hierarchies.flatten() {
        let _ = std::fs::remove_dir(h.path().join(CGROUP_PARENT));
    }
}

impl Drop for ContainerEnv {
    fn drop(&mut self) {
        let _ = self.cleanup();
    }
}
