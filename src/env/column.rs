//! The columns of a comparison, typed: what `--env` and `--runtime` ask for,
//! parsed once (here) into a [`Column`], and what the sweep, `list`, the
//! permission check and the environments ask instead of decoding strings.
//!
//! The `--runtime` mini-grammar lives only in [`Oci::parse`]:
//! - `isorun`, `runc`, `crun`, `runsc` or a path to a runc-compatible CLI;
//! - `X-rootless`: run X rootless as the dedicated user when isobench runs
//!   as root (an existing file whose name ends so is a path as given);
//! - `podman:X` / `docker:X`: X driven through an engine.
//!
//! [`Runtime::bin`] and [`Engine::bin`] are the one place a runtime or an
//! engine becomes a binary. `run.json` keeps the wire form it always had
//! (`{"env":"container","runtime":"podman:isorun"}`, `{"env":"vm",
//! "accel":"auto",...}`): [`Column`] converts to and from it.

use crate::env::vm::accel::AccelRequest;
use crate::env::vm::qemu::Machine;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Suffix of a `--runtime` asking for the rootless mode of a runtime.
pub const ROOTLESS_SUFFIX: &str = "-rootless";

/// `isorun-rootless` → (`isorun`, true); `runc` → (`runc`, false). An
/// existing file whose name ends in the suffix is a runtime path as given.
/// Also decodes the labels of container columns (`container-<label>`
/// state directories), which use the same suffix.
pub fn split_rootless(runtime: &str) -> (&str, bool) {
    match runtime.strip_suffix(ROOTLESS_SUFFIX) {
        Some(base) if !base.is_empty() && !Path::new(runtime).is_file() => (base, true),
        _ => (runtime, false),
    }
}

/// An OCI runtime CLI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// This workspace's runtime, found beside the isobench binary.
    Isorun,
    Runc,
    Crun,
    /// gVisor's runtime: a sandbox with a user-space kernel, driven
    /// directly (its platform and `--network=none` live in `isorun::peer`).
    Runsc,
    /// Any runc-compatible CLI, by path.
    Path(PathBuf),
}

impl Runtime {
    /// The runtimes known by name, in the order `list` shows them.
    pub const NAMED: [Runtime; 4] = [
        Runtime::Isorun,
        Runtime::Runc,
        Runtime::Crun,
        Runtime::Runsc,
    ];

    /// A name, or a path when it holds a `/`: an unknown name is refused
    /// (with the closest known one) before anything looks for it.
    fn parse(s: &str) -> Result<Runtime, String> {
        if s.contains('/') {
            return Ok(Runtime::Path(PathBuf::from(s)));
        }
        if let Some(r) = Runtime::NAMED.into_iter().find(|r| r.name() == s) {
            return Ok(r);
        }
        let names = Runtime::NAMED.map(|r| r.name());
        let hint = names
            .iter()
            .map(|n| (strsim::levenshtein(n, s), n))
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, n)| format!("; did you mean '{n}'?"))
            .unwrap_or_default();
        Err(format!(
            "unknown runtime '{s}' (known: {}, or a path such as ./{s}){hint}",
            names.join(", ")
        ))
    }

    /// The name as `--runtime` spells it (a path as given).
    pub fn name(&self) -> String {
        match self {
            Runtime::Isorun => "isorun".into(),
            Runtime::Runc => "runc".into(),
            Runtime::Crun => "crun".into(),
            Runtime::Runsc => "runsc".into(),
            Runtime::Path(p) => p.display().to_string(),
        }
    }

    /// The class of isolation the runtime gives, as `list` and reports
    /// name it.
    pub fn class(&self) -> &'static str {
        match self {
            Runtime::Runsc => "sandbox: user-space kernel",
            _ => "container",
        }
    }

    /// Where the runtime keeps its containers' state when run as root
    /// without `--root` (what a crash sweep looks in); `None` for a path.
    pub fn default_state_root(&self) -> Option<&'static Path> {
        match self {
            Runtime::Isorun => Some(Path::new(isorun::lifecycle::DEFAULT_ROOT)),
            Runtime::Runc => Some(Path::new("/run/runc")),
            Runtime::Crun => Some(Path::new("/run/crun")),
            Runtime::Runsc => Some(Path::new("/run/runsc")),
            Runtime::Path(_) => None,
        }
    }

    /// The runtime's binary, `None` when it is not installed.
    /// `isorun_bin` is where isorun is ([`crate::locate::isorun_bin`]).
    pub fn locate(&self, isorun_bin: &Path) -> Option<PathBuf> {
        match self {
            Runtime::Isorun => Some(isorun_bin.to_path_buf()).filter(|p| p.is_file()),
            Runtime::Runc | Runtime::Crun | Runtime::Runsc => crate::locate::which(&self.name()),
            Runtime::Path(p) => p
                .is_file()
                .then(|| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
        }
    }

    /// How to get this runtime where it is missing (`list` and errors say
    /// it): its Debian package, or the build that makes isorun.
    pub fn install_hint(&self) -> String {
        match self {
            Runtime::Runc | Runtime::Crun | Runtime::Runsc => {
                format!("apt-get install {}", self.name())
            }
            Runtime::Isorun => "cargo build --release -p isorun; scripts/setup.sh builds it".into(),
            Runtime::Path(_) => "--runtime isorun|runc|crun|runsc|PATH".into(),
        }
    }

    /// The runtime's binary (absolute for a path), or what to do to get it.
    pub fn bin(&self, isorun_bin: &Path) -> Result<PathBuf, String> {
        self.locate(isorun_bin).ok_or_else(|| match self {
            Runtime::Runc | Runtime::Crun | Runtime::Runsc => {
                format!(
                    "{} not found on PATH ({})",
                    self.name(),
                    self.install_hint()
                )
            }
            Runtime::Isorun => format!(
                "container runtime {} not found ({})",
                isorun_bin.display(),
                self.install_hint()
            ),
            Runtime::Path(p) => format!(
                "container runtime {} not found (--runtime isorun|runc|crun|runsc|PATH)",
                p.display()
            ),
        })
    }
}

/// A container engine in front of the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Engine {
    /// The runtime's CLI driven directly (an OCI bundle per run).
    #[default]
    None,
    /// `podman --runtime <runtime> run --rm`.
    Podman,
    /// `docker run --rm --runtime <runtime>` (runc, or isorun registered
    /// as a daemon runtime): see `env::docker`.
    Docker,
}

impl Engine {
    /// The engine's `--runtime` prefix (`podman:`), empty for none.
    pub fn prefix(self) -> &'static str {
        match self {
            Engine::None => "",
            Engine::Podman => "podman:",
            Engine::Docker => "docker:",
        }
    }

    /// The engine's program, `None` for no engine.
    pub fn program(self) -> Option<&'static str> {
        match self {
            Engine::None => None,
            Engine::Podman => Some("podman"),
            Engine::Docker => Some("docker"),
        }
    }

    /// The engine's binary, `None` when there is no engine or it is not
    /// installed.
    pub fn locate(self) -> Option<PathBuf> {
        crate::locate::which(self.program()?)
    }

    /// The engine's binary, or what to do to get it.
    pub fn bin(self) -> Result<PathBuf, String> {
        self.locate().ok_or_else(|| match self {
            Engine::Podman => "podman not found on PATH (apt-get install podman conmon; scripts/setup.sh installs them)".to_string(),
            Engine::Docker => "docker not found on PATH (apt-get install docker.io)".to_string(),
            Engine::None => "no engine".to_string(),
        })
    }
}

/// A container column: a runtime, maybe behind an engine, maybe rootless.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Oci {
    pub runtime: Runtime,
    pub engine: Engine,
    /// Asked for `<runtime>-rootless`: a root isobench runs the runtime as
    /// its dedicated user. (Without root every container runs rootless
    /// anyway, and the plan folds `X-rootless` into `X`.)
    pub rootless: bool,
}

impl Oci {
    /// A runtime driven directly, as root would.
    pub fn bare(runtime: Runtime) -> Oci {
        Oci {
            runtime,
            engine: Engine::None,
            rootless: false,
        }
    }

    /// Parse one `--runtime` value (the only decoder of its grammar).
    pub fn parse(s: &str) -> Result<Oci, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty --runtime".into());
        }
        let (engine, inner) = [Engine::Podman, Engine::Docker]
            .into_iter()
            .find_map(|e| s.strip_prefix(e.prefix()).map(|i| (e, i)))
            .unwrap_or((Engine::None, s));
        if inner.is_empty() {
            return Err(format!(
                "--runtime {s} names no runtime ({}isorun|runc|crun|PATH)",
                engine.prefix()
            ));
        }
        let (base, rootless) = split_rootless(inner);
        if rootless && engine != Engine::None {
            return Err(format!(
                "--runtime {s}: a rootless runtime behind {} is not supported",
                engine.program().unwrap_or("an engine")
            ));
        }
        Ok(Oci {
            runtime: Runtime::parse(base)?,
            engine,
            rootless,
        })
    }

    /// Why isobench cannot run this column yet, if so.
    pub fn unsupported(&self) -> Option<String> {
        if self.engine == Engine::Docker && !super::docker::supported(&self.runtime) {
            return Some(format!(
                "--runtime {self}: docker drives runc or isorun only (docker:runc, docker:isorun)"
            ));
        }
        if self.runtime == Runtime::Runsc && (self.engine != Engine::None || self.rootless) {
            return Some(format!(
                "--runtime {self}: runsc is not yet supported behind an engine or rootless (use --runtime runsc)"
            ));
        }
        None
    }
}

impl fmt::Display for Oci {
    /// The `--runtime` spelling, also `run.json`'s and the sweep record's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = if self.rootless { ROOTLESS_SUFFIX } else { "" };
        write!(f, "{}{}{suffix}", self.engine.prefix(), self.runtime.name())
    }
}

impl FromStr for Oci {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Oci::parse(s)
    }
}

/// QEMU as the VMM, with what the user asked of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Qemu {
    pub accel: AccelRequest,
    pub machine: Machine,
    pub kernel: Option<PathBuf>,
    pub vcpus: usize,
    /// Guest memory from `--vm-memory`; `None` = sized from the plan's
    /// workloads and the guest's own overhead, measured by a test boot
    /// (`VmEnv::fit_memory`).
    pub memory_mib: Option<u64>,
    /// `-cpu` model instead of QEMU's `host` (KVM) or `max` (TCG).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
}

/// The hypervisor of a VM column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vmm {
    Qemu(Qemu),
}

/// One column of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Wire", try_from = "Wire")]
pub enum Column {
    Native,
    Oci(Oci),
    Vm { vmm: Vmm },
}

impl Column {
    pub fn kind(&self) -> super::EnvKind {
        match self {
            Column::Native => super::EnvKind::Native,
            Column::Oci(_) => super::EnvKind::Container,
            Column::Vm { .. } => super::EnvKind::Vm,
        }
    }

    /// The container column's runtime, if this is one.
    pub fn oci(&self) -> Option<&Oci> {
        match self {
            Column::Oci(o) => Some(o),
            _ => None,
        }
    }
}

/// `run.json`'s form of a column, as it was when columns were strings.
#[derive(Serialize, Deserialize)]
#[serde(tag = "env", rename_all = "lowercase")]
enum Wire {
    Native,
    Container { runtime: String },
    Vm(Qemu),
}

impl From<Column> for Wire {
    fn from(c: Column) -> Wire {
        match c {
            Column::Native => Wire::Native,
            Column::Oci(o) => Wire::Container {
                runtime: o.to_string(),
            },
            Column::Vm { vmm: Vmm::Qemu(q) } => Wire::Vm(q),
        }
    }
}

impl TryFrom<Wire> for Column {
    type Error = String;
    fn try_from(w: Wire) -> Result<Column, String> {
        Ok(match w {
            Wire::Native => Column::Native,
            Wire::Container { runtime } => Column::Oci(Oci::parse(&runtime)?),
            Wire::Vm(q) => Column::Vm { vmm: Vmm::Qemu(q) },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_runtime_says_how_to_get_it() {
        for rt in [Runtime::Runc, Runtime::Crun, Runtime::Runsc] {
            assert_eq!(rt.install_hint(), format!("apt-get install {}", rt.name()));
        }
        let missing = Path::new("/nonexistent/isorun");
        let e = Runtime::Isorun.bin(missing).unwrap_err();
        assert!(e.contains("/nonexistent/isorun"), "{e}");
        assert!(e.contains("cargo build --release -p isorun"), "{e}");
        let e = Runtime::Path(missing.into()).bin(missing).unwrap_err();
        assert!(e.contains("--runtime isorun|runc|crun|runsc|PATH"), "{e}");
    }

    #[test]
    fn the_runtime_grammar_parses_once_and_prints_back() {
        let o = Oci::parse("podman:crun").unwrap();
        assert_eq!(
            (o.engine, &o.runtime, o.rootless),
            (Engine::Podman, &Runtime::Crun, false)
        );
        let o = Oci::parse("isorun-rootless").unwrap();
        assert_eq!(
            (o.engine, &o.runtime, o.rootless),
            (Engine::None, &Runtime::Isorun, true)
        );
        let o = Oci::parse("/opt/rt/my-runc").unwrap();
        assert_eq!(o.runtime, Runtime::Path("/opt/rt/my-runc".into()));
        let e = Oci::parse("runcc").unwrap_err();
        assert!(
            e.contains("unknown runtime 'runcc'") && e.contains("did you mean 'runc'?"),
            "{e}"
        );
        let e = Oci::parse("podman:kata").unwrap_err();
        assert!(
            e.contains("unknown runtime 'kata'") && !e.contains("did you mean"),
            "{e}"
        );
        for s in [
            "isorun",
            "runc-rootless",
            "podman:/x/y",
            "docker:runc",
            "runsc",
        ] {
            assert_eq!(Oci::parse(s).unwrap().to_string(), s);
        }
        assert!(Oci::parse("podman:")
            .unwrap_err()
            .contains("names no runtime"));
        assert!(Oci::parse(" ").unwrap_err().contains("empty"));
        assert!(Oci::parse("podman:runc-rootless")
            .unwrap_err()
            .contains("not supported"));
        assert_eq!(split_rootless("-rootless"), ("-rootless", false));
    }

    #[test]
    fn an_existing_file_ending_in_rootless_is_a_path() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("x-rootless");
        std::fs::write(&f, "").unwrap();
        let o = Oci::parse(f.to_str().unwrap()).unwrap();
        assert_eq!((o.runtime, o.rootless), (Runtime::Path(f), false));
    }

    #[test]
    fn runsc_is_a_sandbox_column_and_docker_drives_runc_or_isorun() {
        assert_eq!(Oci::parse("runsc").unwrap().unsupported(), None);
        assert_eq!(Runtime::Runsc.class(), "sandbox: user-space kernel");
        assert_eq!(Runtime::Runc.class(), "container");
        for s in ["runsc-rootless", "podman:runsc"] {
            assert!(Oci::parse(s)
                .unwrap()
                .unsupported()
                .unwrap()
                .contains("not yet"));
        }
        assert_eq!(Oci::parse("docker:isorun").unwrap().unsupported(), None);
        assert_eq!(Oci::parse("docker:runc").unwrap().unsupported(), None);
        assert!(Oci::parse("docker:crun")
            .unwrap()
            .unsupported()
            .unwrap()
            .contains("runc or isorun only"));
        assert_eq!(Oci::parse("podman:isorun").unwrap().unsupported(), None);
    }

    #[test]
    fn resolving_a_runtime_says_what_is_missing() {
        let t = tempfile::tempdir().unwrap();
        let missing = t.path().join("isorun");
        let e = Runtime::Isorun.bin(&missing).unwrap_err();
        assert!(e.contains(&missing.display().to_string()), "{e}");
        std::fs::write(&missing, "").unwrap();
        assert_eq!(Runtime::Isorun.bin(&missing).unwrap(), missing);
        let p = Runtime::Path(t.path().join("nope"));
        assert!(p.bin(&missing).unwrap_err().contains("nope"));
    }

    /// `run.json` written before columns were typed still reads, and a
    /// typed column writes the same JSON.
    #[test]
    fn the_wire_form_is_unchanged() {
        let old = [
            r#"{"env":"native"}"#,
            r#"{"env":"container","runtime":"podman:isorun"}"#,
            r#"{"env":"container","runtime":"runc-rootless"}"#,
            r#"{"env":"vm","accel":"auto","machine":"microvm","kernel":null,"vcpus":2,"memory_mib":null}"#,
        ];
        for j in old {
            let c: Column = serde_json::from_str(j).unwrap();
            assert_eq!(serde_json::to_string(&c).unwrap(), j);
        }
        let c: Column = serde_json::from_str(old[3]).unwrap();
        match c {
            Column::Vm { vmm: Vmm::Qemu(q) } => assert_eq!(
                (q.accel, q.machine, q.vcpus),
                (AccelRequest::Auto, Machine::Microvm, 2)
            ),
            c => panic!("{c:?}"),
        }
        assert!(
            serde_json::from_str::<Column>(r#"{"env":"container","runtime":"podman:"}"#).is_err()
        );
        assert!(serde_json::from_str::<Column>(r#"{"env":"vm","accel":"hvf","machine":"q35","kernel":null,"vcpus":1,"memory_mib":null}"#).is_err());
    }
}
