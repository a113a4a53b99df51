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

use super::process::{tail_lines, Spawner, Supervised};
use super::{EnvContext, EnvKind, Environment, Instance, Limits, RunOutcome};
use anyhow::{anyhow, bail, Context, Result};
use isobench_workloads::protocol::find_result;
use isobench_workloads::WorkloadSpec;
use isorun::config::{ANNOTATION_IMAGE, ANNOTATION_STORE};
use isorun::image::{self, ImageConfig, Store};
use isorun::peer::Peer;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Name of the image isobench builds.
const IMAGE: &str = "isobench-workload";
/// Where the workload binary sits in the image.
const WORKLOAD_PATH: &str = "/isobench-workload";

/// An OCI runtime driving containers of the workload image.
pub struct ContainerEnv {
    peer: Peer,
    /// The column's class of isolation (`Runtime::class`).
    class: &'static str,
    /// isobench runs without root: the runtime runs rootless (a user
    /// namespace), a column of its own (`<runtime>-rootless`).
    rootless: bool,
    /// Rootless and the cgroup hierarchy is not delegated to the user: the
    /// containers run without cgroups (and without cgroupsPath, which runc
    /// would insist on creating).
    no_cgroups: Option<PathBuf>,
    /// isobench runs as root and the column asks for `<runtime>-rootless`:
    /// the runtime runs as the dedicated user ([`super::rootless::user`]).
    as_user: bool,
    prepared: Option<Prepared>,
    /// Starts every runtime verb ([`super::process::host`] unless
    /// [`ContainerEnv::with_spawner`]).
    spawner: Arc<dyn Spawner>,
}

struct Prepared {
    dir: PathBuf,
    store: Store,
    bundle: PathBuf,
    state_root: PathBuf,
    /// The dedicated user (held while prepared) and its HOME.
    user: Option<(super::rootless::user::RunAs, PathBuf)>,
    /// The image's layers, bottom first, for `detail`.
    layer_names: Vec<&'static str>,
}

impl ContainerEnv {
    /// `oci` is the column (its engine is not looked at); `isorun_bin` is
    /// the isorun binary to use for `isorun`.
    pub fn new(oci: &super::column::Oci, isorun_bin: PathBuf) -> Result<ContainerEnv> {
        let as_user = oci.rootless && !super::rootless::is_rootless();
        let bin = oci.runtime.bin(&isorun_bin).map_err(|e| anyhow!(e))?;
        let peer =
            Peer::probe(&bin).with_context(|| format!("cannot run {} --version", bin.display()))?;
        let rootless = super::rootless::is_rootless() || as_user;
        if rootless && peer.name == "runsc" {
            bail!("runsc is not yet supported rootless (run isobench as root)");
        }
        if rootless && !as_user {
            if let Some(why) = super::rootless::peer_cannot(&peer) {
                bail!("{} cannot run rootless on this host: {why}", peer.name);
            }
        }
        Ok(ContainerEnv {
            peer,
            class: oci.runtime.class(),
            rootless,
            no_cgroups: if rootless && !as_user {
                super::rootless::cgroups_blocked()
            } else {
                None
            },
            as_user,
            prepared: None,
            spawner: super::process::host(),
        })
    }

    /// The same column, its processes started through `spawner`.
    pub fn with_spawner(mut self, spawner: Arc<dyn Spawner>) -> ContainerEnv {
        self.spawner = spawner;
        self
    }

    fn is_isorun(&self) -> bool {
        self.peer.name == "isorun"
    }

    /// The runtime's column label: its name, `-rootless` without root.
    fn label(&self) -> String {
        super::rootless::label(&self.peer.name, self.rootless)
    }

    /// The runtime with the state root (and user) of `p`.
    fn rt(&self, p: &Prepared) -> Runtime {
        Runtime {
            peer: self.peer.clone(),
            state_root: p.state_root.clone(),
            user: p.user.as_ref().map(|(u, h)| (u.account.clone(), h.clone())),
        }
    }

    /// The bundle's config.json for one instance: the workload's arguments,
    /// rootless maps when rootless, the cgroup, limits, fileio's places and
    /// the image annotations isorun reads.
    fn config_json(
        &self,
        p: &Prepared,
        spec: &WorkloadSpec,
        limits: &Limits,
        cgroup: &str,
    ) -> Result<serde_json::Value> {
        // A bundle per instance (many may live at once): the same config
        // for every runtime; isorun reads the image annotations, peers find
        // the overlay mounted on this instance's rootfs.
        let mut args = vec![WORKLOAD_PATH.to_string()];
        args.extend(spec.to_args());
        let fileio = spec.workload == isobench_workloads::Workload::Fileio;
        if fileio {
            isobench_workloads::fileio::add_places(&mut args, &container_fileio_places());
        }
        // Rootless: every runtime gets the same rootless config (a user
        // namespace with the caller's maps), as `runc spec --rootless`.
        let mut config = if let Some((u, _)) = &p.user {
            isorun::spec::rootless_json(&args, &u.maps())
        } else if self.rootless {
            isorun::spec::rootless_json(&args, &isorun::userns::caller_default())
        } else {
            isorun::spec::default_json(&args)
        };
        if let Some(blocked) = &self.no_cgroups {
            if !limits.is_empty() {
                bail!(
                    "container limits need cgroups, which are not delegated to uid {} here ({} is not writable); run as root",
                    p.user.as_ref().map_or(nix::unistd::geteuid().as_raw(), |(u, _)| u.account.uid),
                    blocked.display()
                );
            }
        } else {
            config["linux"]["cgroupsPath"] = serde_json::json!(cgroup);
        }
        if !limits.is_empty() {
            config["linux"]["resources"] = resources_json(limits);
        }
        if fileio {
            add_fileio_mounts(&mut config, &p.dir.join(FILEIO_DISK_DIR))?;
        }
        config["annotations"] = serde_json::json!({
            ANNOTATION_IMAGE: IMAGE,
            ANNOTATION_STORE: p.store.root,
        });
        Ok(config)
    }

    /// `create` then `start` the instance's container, timing both.
    fn create_and_start(
        &self,
        inst: &mut ContainerInstance,
        bundle: &Path,
        timeout: Duration,
    ) -> Result<()> {
        // create: its stdout pipe is inherited by the container process.
        let mut create = inst.rt.cmd();
        create
            .args(["create", "--bundle"])
            .arg(bundle)
            .arg("--pid-file")
            .arg(inst.run_dir.join("pid"))
            .arg(&inst.id);
        let log = std::fs::File::create(&inst.errlog)
            .with_context(|| format!("creating {}", inst.errlog.display()))?;
        let sup = inst.sup.insert(
            self.spawner
                .spawn_logged(create, Some(log))
                .with_context(|| format!("cannot start {}", self.peer.bin.display()))?,
        );
        let st = sup.wait_child(timeout)?;
        let t0 = sup.started();
        inst.create_pgid = sup.pid();
        inst.created_ms = ms(t0, Instant::now());
        if !st.success() {
            bail!(inst.stderr_of(&format!("{} create failed ({st})", self.peer.name)));
        }
        let mut start = inst.rt.cmd();
        start
            .args(["start", &inst.id])
            .stdout(Stdio::null())
            .stderr(std::fs::File::options().append(true).open(&inst.errlog)?);
        let (st, t_started) = self.spawner.run_until(start, t0 + timeout)?;
        inst.started_ms = ms(t0, t_started);
        if !st.success() {
            bail!(inst.stderr_of(&format!("{} start failed ({st})", self.peer.name)));
        }
        Ok(())
    }
}

/// The base layer: what a process expects to find in a root file system.
pub(super) fn write_base_layer(dir: &Path) -> Result<()> {
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

impl Environment for ContainerEnv {
    fn kind(&self) -> EnvKind {
        EnvKind::Container
    }

    fn id(&self) -> String {
        format!("container-{}", self.label())
    }

    fn detail(&self) -> BTreeMap<String, String> {
        let mut d = BTreeMap::from([
            ("runtime".to_string(), self.label()),
            ("runtime_version".to_string(), self.peer.version.clone()),
            (
                "runtime_path".to_string(),
                self.peer.bin.display().to_string(),
            ),
            ("image".to_string(), {
                let names = self
                    .prepared
                    .as_ref()
                    .map_or(vec!["base", "workload binary"], |p| p.layer_names.clone());
                format!(
                    "{} layers ({}) on overlayfs, upper layer on tmpfs",
                    names.len(),
                    names.join(", ")
                )
            }),
        ]);
        if let Some((u, _)) = self.prepared.as_ref().and_then(|p| p.user.as_ref()) {
            let a = &u.account;
            d.insert(
                "rootless".to_string(),
                format!(
                    "run by root as user {} (uid {}, gid {}, {}); {}",
                    a.name,
                    a.uid,
                    a.gid,
                    if a.ours() {
                        "made by isobench, removed when no run uses it"
                    } else {
                        "not made by isobench"
                    },
                    super::rootless::detail_for(a.uid, &u.maps(), self.no_cgroups.clone())
                ),
            );
        } else if self.rootless {
            d.insert("rootless".to_string(), super::rootless::detail());
        }
        if self.class != "container" {
            d.insert("class".to_string(), self.class.to_string());
        }
        if let Some(platform) = self.peer.platform() {
            d.insert("platform".to_string(), platform.to_string());
        }
        let mut quirks = self.peer.quirks();
        if !self.is_isorun() && self.rootless {
            quirks.push(
                "rootless: the image layers copied into a plain bundle rootfs by isobench before create (not timed; no overlay mount without root)"
                    .into(),
            );
        } else if !self.is_isorun() {
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

    /// `ovlmount` needs CAP_SYS_ADMIN (or a user namespace whose root maps
    /// to the host's, which needs CAP_SETFCAP): a container has neither;
    /// its runtime makes the same mount on the host before it starts.
    fn cannot_run(&self, workload: isobench_workloads::Workload) -> Option<String> {
        container_cannot_run(workload)
    }

    fn prepare(&mut self, ctx: &EnvContext) -> Result<()> {
        if !ctx.workload_bin.is_file() {
            bail!("workload binary {} not found", ctx.workload_bin.display());
        }
        // Rootless as root: outside the run directory, which the user may
        // not be able to reach, in one root's 0711 directory it can pass.
        let dir = if self.as_user {
            super::rootless::user::run_dir(std::process::id()).join(self.id())
        } else {
            ctx.scratch.join(self.id())
        };
        let _ = std::fs::remove_dir_all(&dir);
        if self.as_user {
            super::rootless::user::make_passable(dir.parent().unwrap_or(&dir))?;
        }
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
        // The data the workloads expect below them (copy-up files), as a
        // layer between the base and the binary.
        let mut layers = vec![base];
        layers.extend(ctx.data_dir.iter().cloned());
        // The user's command's files (its rootfs, or the program alone)
        // above the base layer, whose /etc files they may replace.
        layers.extend(ctx.command_root.iter().cloned());
        layers.push(wl);
        store.build(
            IMAGE,
            &layers,
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
        // The host side of fileio's `disk` place: on the run directory's
        // file system (not under runs/, which is a tmpfs for peers).
        std::fs::create_dir_all(dir.join(FILEIO_DISK_DIR))?;
        if !self.is_isorun() && !self.rootless {
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
        let mut layer_names = vec!["base"];
        if ctx.data_dir.is_some() {
            layer_names.push("workload data");
        }
        if ctx.command_root.is_some() {
            layer_names.push("the command's files");
        }
        layer_names.push("workload binary");
        let mut prepared = Prepared {
            dir,
            store,
            bundle,
            state_root,
            user: None,
            layer_names,
        };
        if self.as_user {
            let u = super::rootless::user::RunAs::ensure()?;
            let home = prepared.dir.join("home");
            std::fs::create_dir_all(&home)?;
            std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
            // A runtime the user cannot reach (a checkout under /root):
            // a copy in the user's directory.
            if !super::rootless::user::reachable_by(&self.peer.bin, u.account.uid, u.account.gid) {
                let copy = prepared.dir.join("bin").join(&self.peer.name);
                std::fs::create_dir_all(copy.parent().unwrap_or(&prepared.dir))?;
                std::fs::copy(&self.peer.bin, &copy)
                    .with_context(|| format!("copying {}", self.peer.bin.display()))?;
                self.peer.bin = copy;
            }
            u.give(&prepared.dir)?;
            let a = &u.account;
            let planned = isorun::cgroup::detect().ok().map(|h| {
                isorun::cgroup::Cgroup::planned(
                    &h,
                    &format!("/{CGROUP_PARENT}/probe"),
                    &isorun::config::Resources::default(),
                )
            });
            self.no_cgroups =
                planned.and_then(|p| super::rootless::user::undelegated_for(&p.dirs, a.uid, a.gid));
            prepared.user = Some((u, home));
        }
        self.prepared = Some(prepared);
        Ok(())
    }

    /// Limits go to `linux.resources` of config.json; isorun, runc and crun
    /// all apply them (cpuset, CFS quota, memory and pids limits).
    fn launch_with(
        &self,
        spec: &WorkloadSpec,
        timeout: Duration,
        limits: &Limits,
    ) -> Result<Box<dyn Instance>> {
        let p = self
            .prepared
            .as_ref()
            .ok_or_else(|| anyhow!("container environment not prepared"))?;
        // Unique on the host: container ids and the cgroup path derived from
        // them are shared by every environment (and runtime) of a process.
        let id = crate::env::naming::next_instance_id();

        // One cgroup path for every runtime, so the container's processes
        // can be found the same way under each (its footprint, claim C4).
        let cgroup = format!("/{CGROUP_PARENT}/{id}");
        let config = self.config_json(p, spec, limits, &cgroup)?;
        let run_dir = p.dir.join("runs").join(&id);
        let bundle = run_dir.join("bundle");
        std::fs::create_dir_all(bundle.join("rootfs"))
            .with_context(|| format!("creating {}", bundle.display()))?;
        isorun::spec::write_config(&bundle, &config)?;
        let errlog = run_dir.join("stderr");
        let rt = self.rt(p);
        let mut inst = ContainerInstance {
            rt,
            id: id.clone(),
            cgroup,
            run_dir: run_dir.clone(),
            errlog: errlog.clone(),
            overlay: None,
            sup: None,
            create_pgid: 0,
            created_ms: 0.0,
            started_ms: 0.0,
            workload: spec.workload,
            deleted: false,
            spawner: Arc::clone(&self.spawner),
        };
        if !self.is_isorun() && self.rootless {
            super::rootless::copy_layers(&p.store.lowerdirs(IMAGE)?, &bundle.join("rootfs"))?;
        } else if !self.is_isorun() {
            let target = bundle.join("rootfs");
            image::mount_overlay(
                &p.store,
                IMAGE,
                &run_dir.join("upper"),
                &run_dir.join("work"),
                &target,
            )?;
            inst.overlay = Some(target);
        }
        if let Some((u, _)) = &p.user {
            // The runtime, as the user, writes its pid file here.
            u.give(&run_dir)?;
        }

        self.create_and_start(&mut inst, &bundle, timeout)?;
        Ok(Box::new(inst))
    }

    fn cleanup(&mut self) -> Result<()> {
        if let Some(p) = self.prepared.take() {
            // Anything a crashed run left: delete --force every container.
            if let Ok(rd) = std::fs::read_dir(&p.state_root) {
                for e in rd.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let Some(id) = isorun::peer::state_entry_id(&name) else {
                        continue;
                    };
                    let mut c = self.rt(&p).cmd();
                    c.arg("delete")
                        .arg("--force")
                        .arg(id)
                        .stdout(Stdio::null())
                        .stderr(Stdio::null());
                    let _ = self
                        .spawner
                        .run_until(c, Instant::now() + Duration::from_secs(20));
                }
            }
            if !self.rootless {
                let _ = image::unmount(&p.bundle.join("rootfs"));
                if !self.is_isorun() {
                    let _ = image::unmount(&p.dir.join("runs"));
                }
            }
            remove_cgroup_parent(Path::new(CGROUP_ROOT));
            std::fs::remove_dir_all(&p.dir)
                .with_context(|| format!("removing {}", p.dir.display()))?;
            if let Some((u, _)) = p.user {
                let _ = p.dir.parent().map(std::fs::remove_dir);
                drop(u);
                if let Err(e) = super::rootless::user::remove_if_idle(false) {
                    eprintln!("warning: {e:#}");
                }
            }
        }
        Ok(())
    }
}

/// Parent of every container cgroup isobench asks a runtime for.
const CGROUP_PARENT: &str = crate::env::naming::CGROUP_PARENT;
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// CFS period used with `Limits::cpu_quota_pct` (µs).
const CPU_PERIOD_US: u64 = 100_000;

/// `linux.resources` of the OCI config for `limits`.
pub fn resources_json(limits: &Limits) -> serde_json::Value {
    let mut r = serde_json::json!({});
    if let Some(c) = limits.cpu_list() {
        r["cpu"]["cpus"] = serde_json::json!(c);
    }
    if let Some(q) = limits.cpu_quota_pct {
        r["cpu"]["quota"] = serde_json::json!(CPU_PERIOD_US * q as u64 / 100);
        r["cpu"]["period"] = serde_json::json!(CPU_PERIOD_US);
    }
    if let Some(m) = limits.memory_mib {
        r["memory"]["limit"] = serde_json::json!(m << 20);
    }
    if let Some(p) = limits.pids {
        r["pids"]["limit"] = serde_json::json!(p);
    }
    r
}

fn ms(a: Instant, b: Instant) -> f64 {
    b.duration_since(a).as_secs_f64() * 1000.0
}

/// An OCI runtime CLI with its state root: what an instance needs to act
/// on its container after the environment handed it out.
#[derive(Clone)]
struct Runtime {
    peer: Peer,
    state_root: PathBuf,
    /// Run as this user with this HOME (rootless columns of a root run).
    user: Option<(super::rootless::user::Account, PathBuf)>,
}

impl Runtime {
    fn cmd(&self) -> Command {
        let mut c = self
            .peer
            .command(["--root".as_ref(), self.state_root.as_os_str()]);
        c.stdin(Stdio::null());
        if let Some((a, home)) = &self.user {
            a.apply(&mut c, home);
        }
        c
    }
}

/// One container: its id, bundle and run directory, the overlay isobench
/// mounted for a peer runtime, and the supervised `create` whose stdout the
/// container inherited. Stopping deletes it (`delete --force`: SIGKILL to
/// every process, then the runtime's state and cgroups), unmounts and
/// removes the run directory; also on drop.
pub struct ContainerInstance {
    rt: Runtime,
    id: String,
    cgroup: String,
    run_dir: PathBuf,
    errlog: PathBuf,
    overlay: Option<PathBuf>,
    sup: Option<Supervised>,
    /// The process group `create` was spawned in (a lingering runtime
    /// process would be in it).
    create_pgid: i32,
    created_ms: f64,
    started_ms: f64,
    workload: isobench_workloads::Workload,
    deleted: bool,
    /// Its environment's door for runtime verbs.
    spawner: Arc<dyn Spawner>,
}

impl ContainerInstance {
    /// The container's init, from the pid file `create` wrote (0 if none).
    fn init_pid(&self) -> i32 {
        std::fs::read_to_string(self.run_dir.join("pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    fn stderr_of(&self, what: &str) -> String {
        let t = std::fs::read_to_string(&self.errlog).unwrap_or_default();
        format!("{what}:\n{}", tail_lines(&t, 10))
    }
}

impl Instance for ContainerInstance {
    fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let id = self.id.clone();
        let sup = self
            .sup
            .as_mut()
            .ok_or_else(|| anyhow!("container {id} was not created"))?;
        match sup.wait_ready(timeout) {
            Ok(d) => Ok(d),
            Err(e) => {
                let _ = self.stop();
                Err(e.context(format!("container {id}")))
            }
        }
    }

    fn pids(&self) -> BTreeSet<i32> {
        use super::footprint as fp;
        if self.deleted {
            return BTreeSet::new();
        }
        // The init and its descendants, and every member of the cgroup:
        // both proportional to the container, not to the host (runc, crun
        // and isorun leave no runtime process behind after `start`; the
        // startup footprint also looks for one).
        let mut roots: Vec<i32> = fp::cgroup_procs(Path::new(CGROUP_ROOT), &self.cgroup)
            .into_iter()
            .collect();
        let init = self.init_pid();
        if init > 1 {
            roots.push(init);
        }
        fp::tree(Path::new(fp::PROC), &roots)
    }

    fn stop(&mut self) -> Result<()> {
        // A create still running (stopped mid-launch) dies with its group.
        if let Some(s) = self.sup.as_mut() {
            s.kill();
        }
        let mut result = Ok(());
        if !self.deleted {
            let mut c = self.rt.cmd();
            c.args(["delete", "--force", &self.id])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            match self
                .spawner
                .run_until(c, Instant::now() + Duration::from_secs(20))
            {
                Ok((st, _)) if st.success() => self.deleted = true,
                Ok((st, _)) => {
                    result = Err(anyhow!(
                        "{} delete --force {} failed ({st})",
                        self.rt.peer.name,
                        self.id
                    ))
                }
                Err(e) => result = Err(e),
            }
        }
        if let Some(t) = self.overlay.take() {
            let _ = image::unmount(&t);
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
        result
    }

    fn wait_line(&mut self, marker: &str, timeout: Duration) -> Result<()> {
        let id = self.id.clone();
        let sup = self
            .sup
            .as_mut()
            .ok_or_else(|| anyhow!("container {id} was not created"))?;
        if let Err(e) = sup.wait_line(marker, timeout) {
            let _ = self.stop();
            return Err(e.context(format!("container {id}")));
        }
        Ok(())
    }

    fn stop_output(mut self: Box<Self>) -> Result<String> {
        // Deleted first: the container's init holds the stdout pipe.
        let stopped = self.stop();
        let out = self
            .sup
            .as_mut()
            .map(|s| s.kill_output(Duration::from_secs(2)))
            .unwrap_or_default();
        stopped.map(|_| out)
    }

    fn wait(mut self: Box<Self>, timeout: Duration) -> Result<RunOutcome> {
        let sup = self
            .sup
            .take()
            .ok_or_else(|| anyhow!("container {} was not created", self.id))?;
        let t0 = sup.started();
        let deadline = t0 + timeout;
        let measure = self.workload == isobench_workloads::Workload::Startup;
        let mut footprint = None;
        // Wait for the container to end: EOF on its stdout.
        let w = sup
            .finish(timeout, |_| {
                if measure {
                    footprint = container_footprint(&self);
                }
            })
            .map_err(|e| {
                let _ = self.stop();
                e.context(format!("container {}", self.id))
            })?;
        let exited = t0 + w.exited_after;

        // EOF comes when the process closes its files, a moment before it
        // has exited: wait for the exit itself, or `delete` finds it running.
        wait_exit(self.init_pid(), deadline);

        let mut delete = self.rt.cmd();
        delete
            .args(["delete", &self.id])
            .stdout(Stdio::null())
            .stderr(std::fs::File::options().append(true).open(&self.errlog)?);
        let (st, t_deleted) = self.spawner.run_until(delete, deadline)?;
        if !st.success() {
            bail!(self.stderr_of(&format!("{} delete failed ({st})", self.rt.peer.name)));
        }
        self.deleted = true;
        let errors = std::fs::read_to_string(&self.errlog).unwrap_or_default();
        self.stop()?;

        let result = find_result(&w.stdout).map_err(|e| {
            anyhow!(
                "{e} (container {} under {}):\n{}",
                self.id,
                self.rt.peer.name,
                tail_lines(&format!("{}\n{errors}", w.stdout), 10)
            )
        })?;
        Ok(RunOutcome {
            result,
            first_instruction: w.ready_after,
            lifecycle: t_deleted.duration_since(t0),
            extra_ms: BTreeMap::from([
                ("create_ms".to_string(), self.created_ms),
                ("start_ms".to_string(), self.started_ms - self.created_ms),
                ("run_ms".to_string(), ms(t0, exited) - self.started_ms),
                ("delete_ms".to_string(), ms(exited, t_deleted)),
            ]),
            footprint,
        })
    }
}

impl Drop for ContainerInstance {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The footprint of a running container: its init (`init`, from the pid
/// file) and descendants, every member of its cgroup (`cgroup`, the
/// cgroupsPath), and whatever of the runtime lingers: members of the process
/// group `create` was spawned in (`pgid`) and processes naming the container
/// `id` on their command line (a shim or monitor; runc, crun and isorun
/// leave none after `start`). `None` when the init could not be measured.
fn container_footprint(c: &ContainerInstance) -> Option<super::footprint::Footprint> {
    use super::footprint as fp;
    let init = c.init_pid();
    if init <= 1 {
        return None;
    }
    let proc_root = Path::new(fp::PROC);
    let mut roots: Vec<i32> = vec![init];
    roots.extend(fp::cgroup_procs(Path::new(CGROUP_ROOT), &c.cgroup));
    roots.extend(fp::group_members(proc_root, c.create_pgid));
    roots.extend(fp::cmdline_mentions(
        proc_root,
        &c.id,
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

/// Directory (in the environment's scratch directory) bind-mounted as
/// fileio's `disk` place.
pub(super) const FILEIO_DISK_DIR: &str = "fileio-disk";
/// Where fileio's places are inside a container.
const FILEIO_ROOTFS: &str = "/isobench-fileio";
pub(super) const FILEIO_DISK: &str = "/isobench-disk";
pub(super) const FILEIO_TMPFS: &str = "/isobench-tmpfs";

/// fileio's places in a container: its root file system (the overlay's
/// upper layer), a bind mount of a host directory on the run directory's
/// file system, and a tmpfs mount.
pub fn container_fileio_places() -> Vec<isobench_workloads::fileio::Place> {
    use isobench_workloads::fileio::{Place, PLACE_DISK, PLACE_ROOTFS, PLACE_TMPFS};
    [
        (PLACE_ROOTFS, FILEIO_ROOTFS),
        (PLACE_DISK, FILEIO_DISK),
        (PLACE_TMPFS, FILEIO_TMPFS),
    ]
    .map(|(name, dir)| Place {
        name: name.into(),
        dir: dir.into(),
    })
    .to_vec()
}

/// The bind mount and the tmpfs of fileio's places, added to the OCI
/// config's `mounts` (runtime spec, "Mounts").
pub fn add_fileio_mounts(config: &mut serde_json::Value, disk_source: &Path) -> Result<()> {
    let mounts = config["mounts"]
        .as_array_mut()
        .ok_or_else(|| anyhow!("the OCI config has no mounts array"))?;
    mounts.push(serde_json::json!({
        "destination": FILEIO_DISK,
        "type": "bind",
        "source": disk_source,
        "options": ["rbind", "rw", "nosuid", "nodev"],
    }));
    mounts.push(serde_json::json!({
        "destination": FILEIO_TMPFS,
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=1777"],
    }));
    Ok(())
}

/// What no container (bare runtime or engine) can run, and why.
pub(super) fn container_cannot_run(workload: isobench_workloads::Workload) -> Option<String> {
    use isobench_workloads::Workload as W;
    match workload {
        W::Ovlmount => Some("a container holds neither CAP_SYS_ADMIN nor CAP_SETFCAP (for a user namespace) to mount an overlay; its runtime makes that mount on the host, which the native column measures".into()),
        W::Layers => Some("layers is a host measurement of isorun's layer store, recorded in the native column".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// fileio's bind mount and tmpfs join the spec's mounts, at the
    /// directories its places name; the places cover disk, tmpfs, rootfs.
    #[test]
    fn fileio_places_get_their_mounts() {
        let mut config = isorun::spec::default_json(&["/isobench-workload".to_string()]);
        let before = config["mounts"].as_array().unwrap().len();
        add_fileio_mounts(&mut config, Path::new("/run/x/fileio-disk")).unwrap();
        let mounts = config["mounts"].as_array().unwrap();
        assert_eq!(mounts.len(), before + 2);
        let places = container_fileio_places();
        let names: Vec<&str> = places.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["rootfs", "disk", "tmpfs"]);
        let dest = |p: &str| {
            let dir = &places.iter().find(|q| q.name == p).unwrap().dir;
            mounts
                .iter()
                .find(|m| m["destination"] == dir.as_str())
                .cloned()
        };
        let disk = dest("disk").expect("a mount at the disk place");
        assert_eq!(disk["type"], "bind");
        assert_eq!(disk["source"], "/run/x/fileio-disk");
        assert_eq!(dest("tmpfs").expect("a tmpfs mount")["type"], "tmpfs");
        assert!(dest("rootfs").is_none(), "the root is the image's overlay");
        assert!(add_fileio_mounts(&mut serde_json::json!({}), Path::new("/x")).is_err());
    }

    #[test]
    fn limits_become_linux_resources() {
        let r = resources_json(&Limits {
            cpus: Some(vec![1]),
            cpu_quota_pct: Some(100),
            memory_mib: Some(512),
            pids: Some(128),
        });
        assert_eq!(
            r,
            serde_json::json!({
                "cpu": {"cpus": "1", "quota": 100000, "period": 100000},
                "memory": {"limit": 512u64 << 20},
                "pids": {"limit": 128},
            })
        );
        let p = resources_json(&Limits {
            pids: Some(64),
            ..Limits::default()
        });
        assert_eq!(p, serde_json::json!({"pids": {"limit": 64}}));
    }
}
