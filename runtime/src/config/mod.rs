//! Reading and validating an OCI bundle's `config.json` (OCI runtime spec,
//! "Configuration" and "Linux Container Configuration"), with the oci-spec
//! crate, into a typed [`Plan`] that the rest of isorun executes.
//!
//! This module makes no system calls beyond reading the file: every field
//! isorun does not implement is an [`Error::Unsupported`] naming the field
//! (also fields unknown to oci-spec), never silently ignored.

use crate::caps::{self, CapSets};
use crate::error::{Error, Result};
use oci_spec::runtime::{
    LinuxDeviceType, LinuxNamespaceType, Mount, PosixRlimitType, Process, Spec,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub mod hooks;

/// Parent of the cgroups of containers whose config names no cgroupsPath.
pub const DEFAULT_PARENT: &str = "isorun";

/// Annotation naming the image whose layers form the container's root
/// (isorun mounts the overlay at create, inside the container's mount
/// namespace). Peers ignore it and need the overlay mounted on root.path.
pub const ANNOTATION_IMAGE: &str = "org.isobench.isorun.image";
/// Annotation naming the layer store of [`ANNOTATION_IMAGE`].
pub const ANNOTATION_STORE: &str = "org.isobench.isorun.store";

/// Smallest memory limit isorun accepts: below it not even the runtime's
/// init can start (Docker applies the same floor).
pub const MIN_MEMORY_LIMIT: i64 = 6 * 1024 * 1024;

/// Namespace clone flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    pub pid: bool,
    pub mount: bool,
    pub uts: bool,
    pub ipc: bool,
    pub net: bool,
    pub cgroup: bool,
    pub user: bool,
}

impl Namespaces {
    /// Flags for clone(2): all but cgroup, which is unshared after the
    /// process joined its cgroup (so the namespace root is that cgroup).
    pub fn clone_flags(&self) -> libc::c_int {
        let mut f = 0;
        if self.pid {
            f |= libc::CLONE_NEWPID;
        }
        if self.mount {
            f |= libc::CLONE_NEWNS;
        }
        if self.uts {
            f |= libc::CLONE_NEWUTS;
        }
        if self.ipc {
            f |= libc::CLONE_NEWIPC;
        }
        if self.net {
            f |= libc::CLONE_NEWNET;
        }
        if self.user {
            // Created first by the kernel, so it owns the others.
            f |= libc::CLONE_NEWUSER;
        }
        f
    }
}

/// One mount, with options parsed into flags and data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPlan {
    pub destination: PathBuf,
    pub fstype: String,
    pub source: Option<PathBuf>,
    /// MS_* flags for the mount itself.
    pub flags: u64,
    /// Propagation flags applied after mounting (MS_PRIVATE, MS_SLAVE ...).
    pub propagation: u64,
    /// Filesystem-specific options (mode=755,size=...).
    pub data: String,
    pub bind: bool,
}

/// A device node to create under /dev.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceNode {
    pub path: PathBuf,
    /// 'c', 'b' or 'p'.
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// A rule of the devices cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    pub allow: bool,
    /// 'a', 'c' or 'b'.
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

impl DeviceRule {
    /// The v1 `devices.allow`/`devices.deny` line: `c 1:3 rwm`.
    pub fn line(&self) -> String {
        let n = |v: Option<i64>| v.map_or("*".to_string(), |v| v.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }
}

/// The resource limits isorun enforces (`linux.resources`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub memory_limit: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_swappiness: Option<u64>,
    pub disable_oom_killer: Option<bool>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub devices: Vec<DeviceRule>,
    /// `linux.resources.blockIO` (blkio controller on v1, io on v2).
    #[serde(default)]
    pub block_io: Option<BlockIo>,
}

/// A device's `major:minor` in a blockIO rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevNum {
    pub major: u64,
    pub minor: u64,
}

impl std::fmt::Display for DevNum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// One `blockIO.weightDevice` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightDevice {
    pub dev: DevNum,
    pub weight: Option<u16>,
    pub leaf_weight: Option<u16>,
}

/// Which of the four throttle lists a [`Throttle`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThrottleKind {
    ReadBps,
    WriteBps,
    ReadIops,
    WriteIops,
}

impl ThrottleKind {
    pub const ALL: [ThrottleKind; 4] = [
        ThrottleKind::ReadBps,
        ThrottleKind::WriteBps,
        ThrottleKind::ReadIops,
        ThrottleKind::WriteIops,
    ];

    /// The config's field name.
    pub fn field(self) -> &'static str {
        match self {
            ThrottleKind::ReadBps => "throttleReadBpsDevice",
            ThrottleKind::WriteBps => "throttleWriteBpsDevice",
            ThrottleKind::ReadIops => "throttleReadIOPSDevice",
            ThrottleKind::WriteIops => "throttleWriteIOPSDevice",
        }
    }
}

/// One throttle rule: at most `rate` bytes or I/Os per second on `dev`
/// (0: no limit, as the v1 files read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    pub kind: ThrottleKind,
    pub dev: DevNum,
    pub rate: u64,
}

/// `linux.resources.blockIO`, validated: weights in the spec's 10..=1000.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockIo {
    pub weight: Option<u16>,
    pub leaf_weight: Option<u16>,
    pub weight_device: Vec<WeightDevice>,
    pub throttle: Vec<Throttle>,
}

impl BlockIo {
    /// `name=value` items for a message that lists limits.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(w) = self.weight {
            out.push(format!("blockIO.weight={w}"));
        }
        if let Some(w) = self.leaf_weight {
            out.push(format!("blockIO.leafWeight={w}"));
        }
        for d in &self.weight_device {
            out.push(format!("blockIO.weightDevice[{}]", d.dev));
        }
        for t in &self.throttle {
            out.push(format!("blockIO.{}[{}]={}", t.kind.field(), t.dev, t.rate));
        }
        out
    }
}

/// One rlimit: kernel resource number, spec name, soft and hard values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    pub resource: u32,
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// The container process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessPlan {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    pub caps: Option<CapSets>,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privs: bool,
    pub oom_score_adj: Option<i32>,
    /// `process.terminal`: a pty whose master goes to `--console-socket`.
    #[serde(default)]
    pub terminal: bool,
    /// `process.consoleSize` as (height, width).
    #[serde(default)]
    pub console_size: Option<(u32, u32)>,
}

/// An image named by the bundle's annotations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    pub store: PathBuf,
    pub name: String,
}

/// Everything isorun will do for one container, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub root_readonly: bool,
    pub namespaces: Namespaces,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub mounts: Vec<MountPlan>,
    pub devices: Vec<DeviceNode>,
    pub rootfs_propagation: u64,
    pub masked_paths: Vec<PathBuf>,
    pub readonly_paths: Vec<PathBuf>,
    pub process: ProcessPlan,
    pub resources: Resources,
    /// Cgroup path relative to each hierarchy root (`/isorun/<id>` by default).
    pub cgroups_path: String,
    pub image: Option<ImageRef>,
    pub annotations: std::collections::BTreeMap<String, String>,
    /// The user namespace's id maps (with `namespaces.user`); filled in for
    /// a rootless caller at create when the config has none.
    pub userns: Option<crate::userns::Mappings>,
    /// Existing namespaces to join (`linux.namespaces[].path`).
    #[serde(default)]
    pub join: Vec<crate::nsjoin::Join>,
    /// Namespaced sysctls to set (`linux.sysctl`), checked by [`crate::sysctl::check`].
    #[serde(default)]
    pub sysctl: std::collections::BTreeMap<String, String>,
    /// The seccomp profile (`linux.seccomp`), checked by [`crate::seccomp::check`].
    #[serde(default)]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// The OCI hooks (`hooks`), run by the hooks module.
    #[serde(default)]
    pub hooks: hooks::Hooks,
}

/// The largest config.json isorun reads: 4 MiB. The configs runc, crun,
/// podman and isobench write are a few KiB, tens of KiB with a full seccomp
/// profile and hundreds of mounts or env entries; 4 MiB is 50 times
/// that. Parsing keeps the text, a JSON tree and the typed spec (about ten
/// times the text), so the cap bounds that memory to tens of MiB, and a
/// config.json that is a huge or endless file (a FIFO, /dev/zero) is
/// refused after reading at most cap + 1 bytes.
pub const CONFIG_MAX_BYTES: u64 = 4 << 20;

/// Parse and validate config.json text (no file system access); text over
/// [`CONFIG_MAX_BYTES`] is refused before parsing.
pub fn parse(text: &[u8], path: &Path, bundle: &Path, id: &str) -> Result<Plan> {
    if text.len() as u64 > CONFIG_MAX_BYTES {
        return Err(Error::MalformedConfig {
            path: path.to_path_buf(),
            msg: format!(
                "larger than isorun's cap of {} MiB; refused unparsed",
                CONFIG_MAX_BYTES >> 20
            ),
        });
    }
    let malformed = |e: serde_json::Error| Error::MalformedConfig {
        path: path.to_path_buf(),
        msg: e.to_string(),
    };
    let raw: serde_json::Value = serde_json::from_slice(text).map_err(malformed)?;
    let spec: Spec = serde_json::from_value(raw.clone()).map_err(malformed)?;
    let known = serde_json::to_value(&spec).map_err(malformed)?;
    let mut unknown = Vec::new();
    unknown_fields(&raw, &known, "", &mut unknown);
    if let Some(field) = unknown.into_iter().next() {
        return Err(Error::Unsupported {
            field,
            why: "not a field of the OCI runtime spec known to isorun".into(),
        });
    }
    validate(spec, bundle, id)
}

/// Paths of keys in `raw` that did not survive a round trip through the
/// typed spec (so oci-spec does not know them). Null values are ignored.
pub fn unknown_fields(
    raw: &serde_json::Value,
    known: &serde_json::Value,
    at: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (raw, known) {
        (Value::Object(r), Value::Object(k)) => {
            for (key, v) in r {
                let here = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                match k.get(key) {
                    None if !v.is_null() => out.push(here),
                    None => {}
                    Some(kv) => unknown_fields(v, kv, &here, out),
                }
            }
        }
        (Value::Array(r), Value::Array(k)) => {
            for (i, (rv, kv)) in r.iter().zip(k).enumerate() {
                unknown_fields(rv, kv, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn unsupported<T>(field: &str, why: &str) -> Result<T> {
    Err(Error::Unsupported {
        field: field.into(),
        why: why.into(),
    })
}

fn invalid<T>(field: &str, why: impl Into<String>) -> Result<T> {
    Err(Error::Invalid {
        field: field.into(),
        why: why.into(),
    })
}

fn some_nonempty<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

/// Validate a parsed spec into a plan.
#[allow(deprecated)] // memory.kernel is deprecated in the spec; we reject it
pub fn validate(spec: Spec, bundle: &Path, id: &str) -> Result<Plan> {
    validate_id(id)?;
    let hooks = hooks::from_spec(spec.hooks().as_ref())?;
    refuse_non_linux(&spec)?;
    let root = spec.root().as_ref().ok_or(Error::Invalid {
        field: "root".into(),
        why: "missing".into(),
    })?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let process = process_plan(spec.process().as_ref())?;
    let linux = spec.linux().clone().unwrap_or_default();
    let id_maps = crate::userns::from_linux(&linux)?;
    if let Some(s) = linux.seccomp() {
        crate::seccomp::check(s)?;
    }
    refuse_unsupported_linux(&linux)?;
    let (ns, join) = namespaces(&linux)?;
    if id_maps.is_some() && !ns.user {
        return invalid(
            "linux.uidMappings",
            "mappings need a user namespace in linux.namespaces",
        );
    }
    let joined = |k: &str| join.iter().any(|j| j.kind == k);
    let sysctl: std::collections::BTreeMap<String, String> = linux
        .sysctl()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    crate::sysctl::check(
        &sysctl,
        crate::sysctl::Owned {
            ipc: ns.ipc || joined("ipc"),
            net: ns.net || joined("net"),
            uts: ns.uts || joined("uts"),
        },
    )?;
    if spec.hostname().is_some() && !(ns.uts || joined("uts")) {
        return invalid("hostname", "needs a uts namespace");
    }
    if !(ns.mount || joined("mnt")) {
        return unsupported(
            "linux.namespaces",
            "isorun needs a mount namespace (pivot_root)",
        );
    }
    let rootfs_propagation = match linux.rootfs_propagation().as_deref() {
        None | Some("") => libc::MS_PRIVATE | libc::MS_REC,
        Some(p) => match propagation_flag(p) {
            Some(f) => f,
            None => return invalid("linux.rootfsPropagation", format!("unknown value {p:?}")),
        },
    };
    let mut mounts = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        mounts.push(mount_plan(i, m)?);
    }
    let devices = device_nodes(&linux)?;
    let mut resources = resources(&linux)?;
    allow_own_devices(&mut resources, &devices);
    let cgroups_path = cgroups_path(&linux, id)?;
    let annotations: std::collections::BTreeMap<String, String> = spec
        .annotations()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let image = image_ref(&annotations)?;
    Ok(Plan {
        bundle: bundle.to_path_buf(),
        rootfs,
        root_readonly: root.readonly().unwrap_or(false),
        namespaces: ns,
        hostname: spec.hostname().clone(),
        domainname: spec.domainname().clone(),
        mounts,
        devices,
        rootfs_propagation,
        masked_paths: linux
            .masked_paths()
            .iter()
            .flatten()
            .map(PathBuf::from)
            .collect(),
        readonly_paths: linux
            .readonly_paths()
            .iter()
            .flatten()
            .map(PathBuf::from)
            .collect(),
        process,
        resources,
        cgroups_path,
        image,
        annotations,
        userns: id_maps,
        join,
        sysctl,
        seccomp: linux.seccomp().clone(),
        hooks,
    })
}

/// The Linux config fields isorun does not implement, refused.
fn refuse_unsupported_linux(linux: &oci_spec::runtime::Linux) -> Result<()> {
    if linux.intel_rdt().is_some() {
        return unsupported("linux.intelRdt", "not supported");
    }
    if linux.memory_policy().is_some() {
        return unsupported("linux.memoryPolicy", "not supported");
    }
    if linux.personality().is_some() {
        return unsupported("linux.personality", "not supported");
    }
    if linux.time_offsets().is_some() {
        return unsupported("linux.timeOffsets", "time namespaces are not supported");
    }
    if linux.net_devices().is_some() {
        return unsupported("linux.netDevices", "not supported");
    }
    if linux.mount_label().as_ref().is_some_and(|l| !l.is_empty()) {
        return unsupported("linux.mountLabel", "SELinux labels are not supported");
    }
    Ok(())
}

/// The namespaces to make and those to join (`linux.namespaces`).
fn namespaces(linux: &oci_spec::runtime::Linux) -> Result<(Namespaces, Vec<crate::nsjoin::Join>)> {
    let mut ns = Namespaces::default();
    let mut join = Vec::new();
    for (i, n) in linux.namespaces().iter().flatten().enumerate() {
        if let Some(path) = n.path() {
            join.push(crate::nsjoin::plan(i, n.typ(), path.clone())?);
            continue;
        }
        match n.typ() {
            LinuxNamespaceType::Pid => ns.pid = true,
            LinuxNamespaceType::Mount => ns.mount = true,
            LinuxNamespaceType::Uts => ns.uts = true,
            LinuxNamespaceType::Ipc => ns.ipc = true,
            LinuxNamespaceType::Network => ns.net = true,
            LinuxNamespaceType::Cgroup => ns.cgroup = true,
            LinuxNamespaceType::User => ns.user = true,
            LinuxNamespaceType::Time => {
                return unsupported(
                    &format!("linux.namespaces[{i}].type"),
                    &format!("{} namespaces are not supported", n.typ()),
                )
            }
        }
    }
    Ok((ns, join))
}

/// The device nodes to make: the defaults, replaced or added to by
/// `linux.devices`.
fn device_nodes(linux: &oci_spec::runtime::Linux) -> Result<Vec<DeviceNode>> {
    let mut devices = default_devices();
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => 'c',
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::P => 'p',
            LinuxDeviceType::A => {
                return invalid(&format!("linux.devices[{i}].type"), "must be c, b, u or p")
            }
        };
        if !d.path().starts_with("/dev/") {
            return invalid(&format!("linux.devices[{i}].path"), "must be under /dev");
        }
        devices.retain(|x| x.path != *d.path());
        devices.push(DeviceNode {
            path: d.path().clone(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    Ok(devices)
}

/// With device rules or extra nodes, the container's own nodes and its
/// pty stay allowed.
fn allow_own_devices(resources: &mut Resources, devices: &[DeviceNode]) {
    let extra_nodes = devices.iter().any(|d| !default_devices().contains(d));
    if !resources.devices.is_empty() || extra_nodes {
        // Why: the container's own device nodes (defaults and
        // linux.devices) and its pty stay usable whatever the rules deny,
        // as runc appends its AllowedDevices; mknod of them needs this.
        let allow = |kind, major, minor: Option<i64>| DeviceRule {
            allow: true,
            kind,
            major: Some(major),
            minor,
            access: "rwm".into(),
        };
        for d in devices {
            if d.kind != 'p' {
                let r = allow(d.kind, d.major as i64, Some(d.minor as i64));
                resources.devices.push(r);
            }
        }
        resources.devices.push(allow('c', 5, Some(2))); // /dev/ptmx
        resources.devices.push(allow('c', 136, None)); // /dev/pts/*
    }
}

/// The cgroup path relative to each hierarchy root.
fn cgroups_path(linux: &oci_spec::runtime::Linux, id: &str) -> Result<String> {
    Ok(match linux.cgroups_path() {
        None => format!("/{}/{id}", DEFAULT_PARENT),
        Some(p) => {
            let s = p.to_string_lossy().into_owned();
            if s.contains(':') {
                return unsupported(
                    "linux.cgroupsPath",
                    "systemd slice:prefix:name paths are not supported",
                );
            }
            if s.split('/').any(|c| c == "..") {
                return invalid("linux.cgroupsPath", "must not contain '..'");
            }
            format!("/{}", s.trim_start_matches('/'))
        }
    })
}

/// The image an image-based bundle names in its annotations.
fn image_ref(annotations: &std::collections::BTreeMap<String, String>) -> Result<Option<ImageRef>> {
    Ok(
        match (
            annotations.get(ANNOTATION_IMAGE),
            annotations.get(ANNOTATION_STORE),
        ) {
            (Some(name), Some(store)) => Some(ImageRef {
                store: PathBuf::from(store),
                name: name.clone(),
            }),
            (None, None) => None,
            _ => {
                return invalid(
                    "annotations",
                    format!("{ANNOTATION_IMAGE} and {ANNOTATION_STORE} go together"),
                )
            }
        },
    )
}

/// Other platforms' sections, and the top-level id mappings.
fn refuse_non_linux(spec: &Spec) -> Result<()> {
    if spec.solaris().is_some()
        || spec.windows().is_some()
        || spec.vm().is_some()
        || spec.zos().is_some()
    {
        return unsupported(
            "solaris/windows/vm/zos",
            "isorun runs Linux containers only",
        );
    }
    if spec.uid_mappings().is_some() || spec.gid_mappings().is_some() {
        return unsupported(
            "uidMappings/gidMappings",
            "user namespaces are not supported",
        );
    }
    Ok(())
}

/// Container ids: letters, digits, `_ + - .`, as runc accepts.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        invalid("id", format!("{id:?}: use letters, digits and _+-."))
    }
}

/// Validate an OCI process object into a plan (config.json's, or exec's `--process`).
pub fn process_plan(p: Option<&Process>) -> Result<ProcessPlan> {
    let p = p.ok_or(Error::Invalid {
        field: "process".into(),
        why: "missing (create needs a process to run)".into(),
    })?;
    if p.command_line().is_some() {
        return unsupported("process.commandLine", "Windows only");
    }
    if p.apparmor_profile().as_ref().is_some_and(|s| !s.is_empty()) {
        return unsupported("process.apparmorProfile", "AppArmor is not supported");
    }
    if p.selinux_label().as_ref().is_some_and(|s| !s.is_empty()) {
        return unsupported("process.selinuxLabel", "SELinux is not supported");
    }
    if p.io_priority().is_some() {
        return unsupported("process.ioPriority", "not supported");
    }
    if p.scheduler().is_some() {
        return unsupported("process.scheduler", "not supported");
    }
    if p.exec_cpu_affinity().is_some() {
        return unsupported("process.execCPUAffinity", "not supported");
    }
    if p.user().username().is_some() {
        return unsupported("process.user.username", "Windows only");
    }
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() || args[0].is_empty() {
        return invalid("process.args", "must name a program");
    }
    if !p.cwd().is_absolute() {
        return invalid(
            "process.cwd",
            format!("{} is not absolute", p.cwd().display()),
        );
    }
    // Why: (uid_t)-1 and (gid_t)-1 mean "leave unchanged" to setresuid(2),
    // setresgid(2) and chown(2): such a process would go on as root.
    const UNCHANGED: u32 = u32::MAX;
    if p.user().uid() == UNCHANGED {
        return invalid(
            "process.user.uid",
            format!("{UNCHANGED} is (uid_t)-1, which setresuid reads as \"unchanged\" (the process would stay root)"),
        );
    }
    if p.user().gid() == UNCHANGED {
        return invalid(
            "process.user.gid",
            format!("{UNCHANGED} is (gid_t)-1, which setresgid reads as \"unchanged\" (the process would keep gid 0)"),
        );
    }
    if let Some(i) = p
        .user()
        .additional_gids()
        .iter()
        .flatten()
        .position(|g| *g == UNCHANGED)
    {
        return invalid(
            &format!("process.user.additionalGids[{i}]"),
            format!("{UNCHANGED} is (gid_t)-1, not a group"),
        );
    }
    let caps = match p.capabilities() {
        None => None,
        Some(c) => Some(CapSets {
            bounding: caps::mask(c.bounding().as_ref(), "process.capabilities.bounding")?,
            effective: caps::mask(c.effective().as_ref(), "process.capabilities.effective")?,
            permitted: caps::mask(c.permitted().as_ref(), "process.capabilities.permitted")?,
            inheritable: caps::mask(c.inheritable().as_ref(), "process.capabilities.inheritable")?,
            ambient: caps::mask(c.ambient().as_ref(), "process.capabilities.ambient")?,
        }),
    };
    let mut rlimits = Vec::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        let name = r.typ().to_string();
        if r.soft() > r.hard() {
            return invalid(
                &format!("process.rlimits[{i}] ({name})"),
                format!("soft limit {} is above hard limit {}", r.soft(), r.hard()),
            );
        }
        rlimits.push(Rlimit {
            resource: rlimit_number(r.typ()),
            name,
            soft: r.soft(),
            hard: r.hard(),
        });
    }
    Ok(ProcessPlan {
        args,
        env: p.env().clone().unwrap_or_default(),
        cwd: p.cwd().clone(),
        uid: p.user().uid(),
        gid: p.user().gid(),
        additional_gids: p.user().additional_gids().clone().unwrap_or_default(),
        umask: p.user().umask(),
        caps,
        rlimits,
        no_new_privs: p.no_new_privileges().unwrap_or(false),
        oom_score_adj: p.oom_score_adj(),
        terminal: p.terminal().unwrap_or(false),
        console_size: p
            .console_size()
            .map(|b| (b.height() as u32, b.width() as u32)),
    })
}

fn rlimit_number(t: PosixRlimitType) -> u32 {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

fn propagation_flag(p: &str) -> Option<u64> {
    Some(match p {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

/// Parse one mount's options into flags, propagation and data
/// (mount(8) option names, as runc accepts them).
pub fn mount_plan(i: usize, m: &Mount) -> Result<MountPlan> {
    let field = format!("mounts[{i}] ({})", m.destination().display());
    if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
        return unsupported(
            &format!("{field}.uidMappings"),
            "idmapped mounts are not supported",
        );
    }
    if !m.destination().is_absolute() {
        return invalid(&field, "destination must be absolute");
    }
    let mut fstype = m.typ().clone().unwrap_or_default();
    let mut flags = 0u64;
    let mut propagation = 0u64;
    let mut data = Vec::new();
    let mut bind = fstype == "bind";
    for opt in m.options().iter().flatten() {
        let o = opt.as_str();
        let (set, clear): (u64, u64) = match o {
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "nosuid" => (libc::MS_NOSUID, 0),
            "suid" => (0, libc::MS_NOSUID),
            "nodev" => (libc::MS_NODEV, 0),
            "dev" => (0, libc::MS_NODEV),
            "noexec" => (libc::MS_NOEXEC, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "dirsync" => (libc::MS_DIRSYNC, 0),
            "remount" => (libc::MS_REMOUNT, 0),
            "mand" => (libc::MS_MANDLOCK, 0),
            "nomand" => (0, libc::MS_MANDLOCK),
            "atime" => (0, libc::MS_NOATIME),
            "noatime" => (libc::MS_NOATIME, 0),
            "diratime" => (0, libc::MS_NODIRATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "norelatime" => (0, libc::MS_RELATIME),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "nostrictatime" => (0, libc::MS_STRICTATIME),
            "bind" => {
                bind = true;
                (libc::MS_BIND, 0)
            }
            "rbind" => {
                bind = true;
                (libc::MS_BIND | libc::MS_REC, 0)
            }
            "defaults" => (0, 0),
            _ => {
                if let Some(p) = propagation_flag(o) {
                    propagation |= p;
                    continue;
                }
                if o.contains('=') || ["newinstance", "nr_inodes", "size"].contains(&o) {
                    data.push(o.to_string());
                    continue;
                }
                return unsupported(
                    &format!("{field}.options"),
                    &format!("unknown mount option {o:?}"),
                );
            }
        };
        flags = (flags | set) & !clear;
    }
    if bind {
        flags |= libc::MS_BIND;
        fstype = "bind".into();
        if m.source().is_none() {
            return invalid(&field, "a bind mount needs a source");
        }
    }
    match fstype.as_str() {
        "bind" | "proc" | "tmpfs" | "devpts" | "mqueue" | "sysfs" | "overlay" | "ramfs" => {}
        // The container's own cgroups, bound in by the cgroupfs module.
        "cgroup" | "cgroup2" if !bind => {}
        "" => return invalid(&field, "mount type missing"),
        t => return unsupported(&format!("{field}.type"), &format!("mount type {t:?}")),
    }
    Ok(MountPlan {
        destination: m.destination().clone(),
        fstype,
        source: m.source().clone(),
        flags,
        propagation,
        data: data.join(","),
        bind,
    })
}

#[allow(deprecated)]
fn resources(linux: &oci_spec::runtime::Linux) -> Result<Resources> {
    let mut out = Resources::default();
    let Some(r) = linux.resources() else {
        return Ok(out);
    };
    if let Some(b) = r.block_io() {
        out.block_io = Some(block_io(b)?);
    }
    if some_nonempty(r.hugepage_limits()) {
        return unsupported("linux.resources.hugepageLimits", "not supported");
    }
    if r.network().is_some() {
        return unsupported("linux.resources.network", "not supported");
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        return unsupported("linux.resources.rdma", "not supported");
    }
    if r.unified().as_ref().is_some_and(|m| !m.is_empty()) {
        return unsupported("linux.resources.unified", "not supported");
    }
    if let Some(m) = r.memory() {
        memory(m, &mut out)?;
    }
    if let Some(c) = r.cpu() {
        cpu(c, &mut out)?;
    }
    if let Some(p) = r.pids() {
        if p.limit() == 0 || p.limit() < -1 {
            return invalid(
                "linux.resources.pids.limit",
                format!("{} (use -1 for no limit)", p.limit()),
            );
        }
        out.pids_limit = Some(p.limit());
    }
    out.devices = device_rules(r)?;
    Ok(out)
}

/// `linux.resources.memory`, checked, into `out`.
#[allow(deprecated)] // memory.kernel is deprecated in the spec; we reject it
fn memory(m: &oci_spec::runtime::LinuxMemory, out: &mut Resources) -> Result<()> {
    if m.kernel().is_some() {
        return unsupported("linux.resources.memory.kernel", "obsolete since Linux 5.4");
    }
    if m.kernel_tcp().is_some() {
        return unsupported("linux.resources.memory.kernelTCP", "not supported");
    }
    if m.use_hierarchy().is_some() {
        return unsupported("linux.resources.memory.useHierarchy", "not supported");
    }
    if m.check_before_update().is_some() {
        return unsupported("linux.resources.memory.checkBeforeUpdate", "not supported");
    }
    if let Some(l) = m.limit() {
        if l != -1 && l < MIN_MEMORY_LIMIT {
            return invalid(
                "linux.resources.memory.limit",
                format!("{l} bytes is below the minimum of {MIN_MEMORY_LIMIT} bytes (6 MiB)"),
            );
        }
    }
    if let (Some(l), Some(s)) = (m.limit(), m.swap()) {
        if s != -1 && l != -1 && s < l {
            return invalid(
                "linux.resources.memory.swap",
                format!("{s} is below memory.limit {l} (swap counts memory plus swap)"),
            );
        }
    }
    if let Some(sw) = m.swappiness() {
        if sw > 100 {
            return invalid(
                "linux.resources.memory.swappiness",
                format!("{sw} is above 100"),
            );
        }
    }
    out.memory_limit = m.limit();
    out.memory_reservation = m.reservation();
    out.memory_swap = m.swap();
    out.memory_swappiness = m.swappiness();
    out.disable_oom_killer = m.disable_oom_killer();
    Ok(())
}

/// `linux.resources.cpu`, checked, into `out`.
fn cpu(c: &oci_spec::runtime::LinuxCpu, out: &mut Resources) -> Result<()> {
    if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
        return unsupported("linux.resources.cpu.realtimeRuntime", "not supported");
    }
    if c.idle().is_some() {
        return unsupported("linux.resources.cpu.idle", "not supported");
    }
    if c.burst().is_some() {
        return unsupported("linux.resources.cpu.burst", "not supported");
    }
    // Zero means unset, as runc reads it (Docker sends shares, quota
    // and period 0 when no limit is asked for).
    let shares = c.shares().filter(|&s| s != 0);
    let quota = c.quota().filter(|&q| q != 0);
    let period = c.period().filter(|&p| p != 0);
    if let Some(s) = shares {
        if s < 2 {
            return invalid("linux.resources.cpu.shares", format!("{s} is below 2"));
        }
    }
    if let Some(p) = period {
        if !(1000..=1_000_000).contains(&p) {
            return invalid(
                "linux.resources.cpu.period",
                format!("{p} µs is outside 1000..1000000"),
            );
        }
    }
    if let Some(q) = quota {
        if q != -1 && q < 1000 {
            return invalid("linux.resources.cpu.quota", format!("{q} µs is below 1000"));
        }
    }
    out.cpu_shares = shares;
    out.cpu_quota = quota;
    out.cpu_period = period;
    out.cpuset_cpus = c.cpus().clone().filter(|s| !s.is_empty());
    out.cpuset_mems = c.mems().clone().filter(|s| !s.is_empty());
    Ok(())
}

/// `linux.resources.devices`: the device cgroup rules, checked.
fn device_rules(r: &oci_spec::runtime::LinuxResources) -> Result<Vec<DeviceRule>> {
    let mut rules = Vec::new();
    for (i, d) in r.devices().iter().flatten().enumerate() {
        let kind = match d.typ() {
            None | Some(LinuxDeviceType::A) => 'a',
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
            Some(LinuxDeviceType::B) => 'b',
            Some(LinuxDeviceType::P) => {
                return invalid(
                    &format!("linux.resources.devices[{i}].type"),
                    "p is not a cgroup device type",
                )
            }
        };
        let access = d.access().clone().unwrap_or_else(|| "rwm".into());
        if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
            return invalid(
                &format!("linux.resources.devices[{i}].access"),
                format!("{access:?}"),
            );
        }
        rules.push(DeviceRule {
            allow: d.allow(),
            kind,
            major: d.major(),
            minor: d.minor(),
            access,
        });
    }
    Ok(rules)
}

/// The OCI runtime spec's range of blkio weights.
const WEIGHT_RANGE: std::ops::RangeInclusive<u16> = 10..=1000;

fn weight(field: &str, w: Option<u16>) -> Result<Option<u16>> {
    match w {
        // 0 means "not set", as runc reads it: Docker always sends
        // `"blockIO": {"weight": 0}`.
        Some(0) => Ok(None),
        Some(v) if !WEIGHT_RANGE.contains(&v) => {
            invalid(field, format!("{v} is outside the spec's range 10..1000"))
        }
        w => Ok(w),
    }
}

fn dev_num(field: &str, major: i64, minor: i64) -> Result<DevNum> {
    match (u64::try_from(major), u64::try_from(minor)) {
        (Ok(major), Ok(minor)) if major < 1 << 12 && minor < 1 << 20 => Ok(DevNum { major, minor }),
        _ => invalid(
            field,
            format!("{major}:{minor} is not a device number (major < 4096, minor < 1048576)"),
        ),
    }
}

/// `linux.resources.blockIO`: weights checked against the spec's range,
/// device numbers against the kernel's (dev_t: 12-bit major, 20-bit minor).
fn block_io(b: &oci_spec::runtime::LinuxBlockIo) -> Result<BlockIo> {
    const F: &str = "linux.resources.blockIO";
    let mut out = BlockIo {
        weight: weight(&format!("{F}.weight"), b.weight())?,
        leaf_weight: weight(&format!("{F}.leafWeight"), b.leaf_weight())?,
        ..Default::default()
    };
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("{F}.weightDevice[{i}]");
        if d.weight().is_none() && d.leaf_weight().is_none() {
            return invalid(&field, "names neither weight nor leafWeight");
        }
        out.weight_device.push(WeightDevice {
            dev: dev_num(&field, d.major(), d.minor())?,
            weight: weight(&format!("{field}.weight"), d.weight())?,
            leaf_weight: weight(&format!("{field}.leafWeight"), d.leaf_weight())?,
        });
    }
    for kind in ThrottleKind::ALL {
        let list = match kind {
            ThrottleKind::ReadBps => b.throttle_read_bps_device(),
            ThrottleKind::WriteBps => b.throttle_write_bps_device(),
            ThrottleKind::ReadIops => b.throttle_read_iops_device(),
            ThrottleKind::WriteIops => b.throttle_write_iops_device(),
        };
        for (i, t) in list.iter().flatten().enumerate() {
            let field = format!("{F}.{}[{i}]", kind.field());
            out.throttle.push(Throttle {
                kind,
                dev: dev_num(&field, t.major(), t.minor())?,
                rate: t.rate(),
            });
        }
    }
    Ok(out)
}

/// The device nodes every container gets (OCI runtime spec, "Default
/// Devices"): null, zero, full, random, urandom, tty.
pub fn default_devices() -> Vec<DeviceNode> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(n, major, minor)| DeviceNode {
        path: PathBuf::from(format!("/dev/{n}")),
        kind: 'c',
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn minimal() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {"args": ["/bin/sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "hostname": "box",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
            ],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
        })
    }

    fn parse_json(v: &serde_json::Value) -> Result<Plan> {
        parse(
            serde_json::to_string(v).unwrap().as_bytes(),
            Path::new("/b/config.json"),
            Path::new("/b"),
            "c1",
        )
    }

    #[test]
    fn minimal_config_gives_a_plan() {
        let p = parse_json(&minimal()).unwrap();
        assert_eq!(p.rootfs, Path::new("/b/rootfs"));
        assert_eq!(p.hostname.as_deref(), Some("box"));
        assert!(p.namespaces.pid && p.namespaces.mount && !p.namespaces.net);
        assert_eq!(p.cgroups_path, "/isorun/c1");
        assert_eq!(p.mounts[1].data, "mode=755,size=65536k");
        assert_eq!(p.mounts[2].flags & libc::MS_RDONLY, libc::MS_RDONLY);
        assert_eq!(p.devices.len(), 6);
    }

    #[test]
    fn malformed_json_names_the_file() {
        let e = parse(b"{ nope", Path::new("/b/config.json"), Path::new("/b"), "c").unwrap_err();
        assert!(e.to_string().starts_with("malformed /b/config.json"), "{e}");
    }

    #[test]
    fn unknown_field_is_named() {
        let mut v = minimal();
        v["process"]["frobnicate"] = serde_json::json!(true);
        let e = parse_json(&v).unwrap_err();
        assert!(e.to_string().contains("process.frobnicate"), "{e}");
    }

    /// Docker's `blockIO` (empty, or a weight of 0) asks for nothing: it
    /// passes and sets no weight, as runc reads it.
    #[test]
    fn docker_s_empty_block_io_sets_nothing() {
        let mut v = minimal();
        for b in [
            serde_json::json!({}),
            serde_json::json!({"weight": 0, "leafWeight": 0}),
        ] {
            v["linux"]["resources"] = serde_json::json!({ "blockIO": b });
            let c = parse_json(&v).unwrap();
            let bio = c.resources.block_io.expect("blockIO read");
            assert_eq!((bio.weight, bio.leaf_weight), (None, None));
            assert!(bio.weight_device.is_empty() && bio.throttle.is_empty());
        }
    }

    #[test]
    fn unsupported_known_fields_are_named() {
        let cases = [
            (
                "/linux/seccomp",
                serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"}),
                "linux.seccomp.defaultAction",
            ),
            (
                "/process/scheduler",
                serde_json::json!({"policy": "SCHED_OTHER"}),
                "process.scheduler",
            ),
            (
                "/linux/sysctl",
                serde_json::json!({"net.ipv4.ip_forward": "1"}),
                "linux.sysctl",
            ),
            (
                "/hooks",
                serde_json::json!({"prestart": [{"path": "bin/true"}]}),
                "hooks.prestart[0].path",
            ),
        ];
        for (ptr, val, field) in cases {
            let mut v = minimal();
            let (parent, key) = ptr.rsplit_once('/').unwrap();
            let p = if parent.is_empty() {
                &mut v
            } else {
                v.pointer_mut(parent).unwrap()
            };
            p[key] = val;
            let e = parse_json(&v).unwrap_err();
            assert!(e.to_string().contains(field), "{field}: {e}");
        }
    }

    #[test]
    fn user_namespaces_are_read_and_cgroup_mount_is_accepted() {
        let mut v = minimal();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}, {"type": "user"}]);
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        v["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        v.as_object_mut().unwrap().remove("hostname");
        let p = parse_json(&v).unwrap();
        assert!(p.namespaces.user);
        assert_eq!(p.userns.unwrap().uid[0].host, 1000);
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
        assert!(parse_json(&v)
            .unwrap_err()
            .to_string()
            .contains("linux.uidMappings"));
        let mut v = minimal();
        v["mounts"] = serde_json::json!([{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid"]}]);
        let p = parse_json(&v).unwrap();
        assert_eq!(p.mounts[0].fstype, "cgroup");
    }

    #[test]
    fn podman_sysctl_and_netns_path_are_planned() {
        let mut v = minimal();
        v["linux"]["namespaces"] = serde_json::json!([
            {"type": "mount"}, {"type": "pid"}, {"type": "uts"},
            {"type": "network", "path": "/run/netns/x"}
        ]);
        v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ping_group_range": "0 0"});
        let p = parse_json(&v).unwrap();
        assert!(!p.namespaces.net);
        assert_eq!(p.join[0].kind, "net");
        assert_eq!(p.sysctl["net.ipv4.ping_group_range"], "0 0");
        v["linux"]["sysctl"] = serde_json::json!({"kernel.shmmax": "1"});
        let e = parse_json(&v).unwrap_err().to_string();
        assert!(
            e.contains("linux.sysctl.kernel.shmmax") && e.contains("ipc"),
            "{e}"
        );
    }

    #[test]
    fn impossible_memory_limit_is_rejected() {
        let mut v = minimal();
        v["linux"]["resources"] = serde_json::json!({"memory": {"limit": 4096}});
        let e = parse_json(&v).unwrap_err();
        assert!(
            e.to_string().contains("linux.resources.memory.limit"),
            "{e}"
        );
    }

    #[test]
    fn rlimit_soft_above_hard_is_rejected() {
        let mut v = minimal();
        v["process"]["rlimits"] =
            serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]);
        let e = parse_json(&v).unwrap_err();
        assert!(e.to_string().contains("RLIMIT_NOFILE"), "{e}");
    }

    #[test]
    fn resources_and_caps_are_read() {
        let mut v = minimal();
        v["linux"]["resources"] = serde_json::json!({
            "memory": {"limit": 67108864},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
            "pids": {"limit": 20},
            "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
        });
        v["process"]["capabilities"] =
            serde_json::json!({"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]});
        let p = parse_json(&v).unwrap();
        assert_eq!(p.resources.memory_limit, Some(64 << 20));
        assert_eq!(p.resources.pids_limit, Some(20));
        assert_eq!(p.resources.cpuset_cpus.as_deref(), Some("0"));
        assert_eq!(p.resources.devices[0].line(), "a *:* rwm");
        assert_eq!(p.resources.devices[1].line(), "c 1:3 rwm");
        assert_eq!(p.process.caps.unwrap().bounding, 1 << 5);
    }

    #[test]
    fn block_io_is_read_and_checked() {
        let mut v = minimal();
        v["linux"]["resources"] = serde_json::json!({"blockIO": {
            "weight": 500,
            "leafWeight": 300,
            "weightDevice": [{"major": 8, "minor": 0, "weight": 200}],
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
            "throttleWriteIOPSDevice": [{"major": 254, "minor": 16, "rate": 0}]
        }});
        let b = parse_json(&v).unwrap().resources.block_io.unwrap();
        assert_eq!((b.weight, b.leaf_weight), (Some(500), Some(300)));
        let d8 = DevNum { major: 8, minor: 0 };
        assert_eq!(
            b.weight_device,
            [WeightDevice {
                dev: d8,
                weight: Some(200),
                leaf_weight: None
            }]
        );
        assert_eq!(
            b.throttle,
            [
                Throttle {
                    kind: ThrottleKind::ReadBps,
                    dev: d8,
                    rate: 1048576
                },
                Throttle {
                    kind: ThrottleKind::WriteIops,
                    dev: DevNum {
                        major: 254,
                        minor: 16
                    },
                    rate: 0
                }
            ]
        );
        for (bad, field) in [
            (serde_json::json!({"weight": 5}), "blockIO.weight"),
            (
                serde_json::json!({"leafWeight": 1001}),
                "blockIO.leafWeight",
            ),
            (
                serde_json::json!({"weightDevice": [{"major": 8, "minor": 0}]}),
                "blockIO.weightDevice[0]",
            ),
            (
                serde_json::json!({"weightDevice": [{"major": 8, "minor": 0, "weight": 9}]}),
                "blockIO.weightDevice[0].weight",
            ),
            (
                serde_json::json!({"throttleReadIOPSDevice": [{"major": -1, "minor": 0, "rate": 1}]}),
                "blockIO.throttleReadIOPSDevice[0]",
            ),
            (
                serde_json::json!({"throttleWriteBpsDevice": [{"major": 4096, "minor": 0, "rate": 1}]}),
                "blockIO.throttleWriteBpsDevice[0]",
            ),
        ] {
            let mut v = minimal();
            v["linux"]["resources"] = serde_json::json!({ "blockIO": bad });
            let e = parse_json(&v).unwrap_err().to_string();
            assert!(e.contains(field), "{field}: {e}");
        }
    }

    #[test]
    fn the_unchanged_id_is_refused_for_uid_gid_and_groups() {
        for (ptr, val, field) in [
            (
                "/process/user/uid",
                serde_json::json!(4294967295u32),
                "process.user.uid",
            ),
            (
                "/process/user/gid",
                serde_json::json!(4294967295u32),
                "process.user.gid",
            ),
            (
                "/process/user/additionalGids",
                serde_json::json!([5, 4294967295u32]),
                "process.user.additionalGids[1]",
            ),
        ] {
            let mut v = minimal();
            let (parent, key) = ptr.rsplit_once('/').unwrap();
            v.pointer_mut(parent).unwrap()[key] = val;
            let e = parse_json(&v).unwrap_err().to_string();
            assert!(
                e.contains(field) && e.contains("4294967295"),
                "{field}: {e}"
            );
        }
        let mut v = minimal();
        v["process"]["user"] = serde_json::json!({"uid": 4294967294u32, "gid": 4294967294u32});
        let p = parse_json(&v).unwrap();
        assert_eq!((p.process.uid, p.process.gid), (u32::MAX - 1, u32::MAX - 1));
    }

    #[test]
    fn ids_are_checked() {
        assert!(validate_id("ok-1.2_x").is_ok());
        assert!(validate_id("../x").is_err());
        assert!(validate_id("").is_err());
    }
}
