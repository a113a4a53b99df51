//! The user's own program on every column (`isobench run [FLAGS] -- PROG
//! ARGS...`): what the plan records about it, how it is checked before
//! anything runs, and the files every environment gets for it.
//!
//! The program runs under the workload binary's `command` kind
//! (`isobench_workloads::command`), which times it inside the environment
//! the way hyperfine does. Its files:
//! - without `--rootfs`: the program is found on the host (`PATH`, as a
//!   shell would) and runs from there natively; containers and guests get a
//!   copy at the same absolute path (so it must be statically linked), so
//!   every column runs the same argument vector;
//! - `--rootfs DIR`: a root file system; containers get it as an image layer
//!   under the workload binary's, a guest's initramfs holds it, and natively
//!   the program runs chrooted into DIR (as root);
//! - `--rootfs LAYOUT[:TAG]`: an OCI image layout (as umoci or skopeo write
//!   it), unpacked with `umoci unpack` into the run's scratch directory and
//!   then used as a DIR.
//!
//! [`plan`] only reads the file system (stat, the program's ELF header);
//! [`materialize`] makes the files, at prepare time.

use crate::usage::UsageError;
use anyhow::{bail, Context, Result};
use isobench_workloads::command::{CommandConfig, MetricSpec};
use isobench_workloads::Workload;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the program's files come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Rootfs {
    /// A directory holding a root file system.
    Dir { path: PathBuf },
    /// An OCI image layout and the tag (`None`: its only image).
    Oci {
        layout: PathBuf,
        tag: Option<String>,
    },
}

/// The user's command as the plan records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCommand {
    /// The results' workload name: `--name`, else the program's file name.
    pub label: String,
    /// The program and its arguments; without a rootfs the program is the
    /// absolute path found on the host (when it was found).
    pub argv: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<Rootfs>,
    /// `--metric` specifications, checked (`NAME:UNIT:higher|lower=REGEX`).
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Longest one run of the program may take inside its environment.
    pub timeout_ms: u64,
}

impl UserCommand {
    /// The workload binary's configuration for it.
    pub fn config(&self) -> CommandConfig {
        CommandConfig {
            argv: self.argv.clone(),
            timeout_ms: self.timeout_ms,
            metrics: self
                .metrics
                .iter()
                .map(|m| MetricSpec::parse(m).expect("checked when planned"))
                .collect(),
            chroot_cwd: self.rootfs.is_some(),
        }
    }
}

/// What the command line said about the command, before any check.
#[derive(Debug, Clone, Default)]
pub struct CommandInput {
    /// Everything after `--`.
    pub argv: Vec<String>,
    /// `--rootfs`.
    pub rootfs: Option<PathBuf>,
    /// `--name`.
    pub name: Option<String>,
    /// `--metric`, each.
    pub metrics: Vec<String>,
    /// `--command-timeout` in seconds.
    pub timeout_s: Option<u64>,
}

impl CommandInput {
    /// Whether any command flag was given (they need a command).
    pub fn any(&self) -> bool {
        !self.argv.is_empty()
            || self.rootfs.is_some()
            || self.name.is_some()
            || !self.metrics.is_empty()
            || self.timeout_s.is_some()
    }
}

/// `--rootfs PATH`: an OCI layout (a directory with `index.json` and
/// `oci-layout`), `LAYOUT:TAG`, or a plain directory.
pub fn parse_rootfs(given: &Path) -> Result<Rootfs, String> {
    let is_layout = |p: &Path| p.join("index.json").is_file() && p.join("oci-layout").is_file();
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    if given.is_dir() {
        return Ok(if is_layout(given) {
            Rootfs::Oci {
                layout: abs(given),
                tag: None,
            }
        } else {
            Rootfs::Dir { path: abs(given) }
        });
    }
    let s = given.to_string_lossy();
    if let Some((layout, tag)) = s.rsplit_once(':') {
        let l = Path::new(layout);
        if !tag.is_empty() && !tag.contains('/') && is_layout(l) {
            return Ok(Rootfs::Oci {
                layout: abs(l),
                tag: Some(tag.to_string()),
            });
        }
    }
    Err(format!(
        "--rootfs {}: no such directory or OCI image layout (give a root file system directory, or LAYOUT[:TAG] of an OCI layout)",
        given.display()
    ))
}

/// The results' label from the program (`/bin/busybox` → `busybox`).
pub fn default_label(prog: &str) -> String {
    let base = prog.rsplit('/').next().unwrap_or(prog);
    let mut l: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if l.is_empty() || l.chars().all(|c| c == '.') {
        l = "command".into();
    }
    l
}

fn check_label(label: &str) -> Result<(), String> {
    let ok = !label.is_empty()
        && label.len() <= 64
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
        && !label.chars().all(|c| c == '.');
    if !ok {
        return Err(format!(
            "--name '{label}': use 1-64 of A-Z, a-z, 0-9, '.', '_', '+' and '-'"
        ));
    }
    let builtin = Workload::ALL
        .iter()
        .chain(&[Workload::Idle])
        .any(|w| w.name() == label);
    if builtin {
        return Err(format!(
            "the command's label '{label}' is the name of a built-in workload; give it another with --name"
        ));
    }
    Ok(())
}

/// Where the columns that run it are, for the checks of [`plan`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Columns {
    /// A container or VM column: the program must travel into an image.
    pub isolated: bool,
    /// A VM column: the arguments go on the kernel command line.
    pub vm: bool,
}

/// Check the command and make the plan's record of it. `run_timeout_s` is
/// the host's limit on one run (`--timeout`); `path` the host's `PATH`.
pub fn plan(
    input: &CommandInput,
    run_timeout_s: u64,
    columns: Columns,
    path: Option<&std::ffi::OsStr>,
) -> Result<UserCommand, UsageError> {
    let err = |m: String| UsageError(m);
    let Some(prog) = input.argv.first() else {
        return Err(err(
            "no command given after -- (isobench run [FLAGS] -- PROG [ARGS...])".into(),
        ));
    };
    if prog.trim().is_empty() {
        return Err(err("the command after -- is empty".into()));
    }
    let rootfs = input
        .rootfs
        .as_deref()
        .map(parse_rootfs)
        .transpose()
        .map_err(err)?;
    let mut argv = input.argv.clone();
    if rootfs.is_none() {
        // Found as a shell would: a name on PATH, a path as given.
        let found = if prog.contains('/') {
            Some(std::path::absolute(prog).unwrap_or_else(|_| PathBuf::from(prog)))
        } else {
            crate::locate::find_in_path(prog, path)
        };
        if let Some(f) = found {
            if columns.isolated {
                if let Ok(bytes) = std::fs::read(&f) {
                    if crate::locate::is_static_elf(&bytes) == Some(false) {
                        return Err(err(format!(
                            "{} is dynamically linked: a container or VM gets only the program, not its libraries; give a static program (e.g. busybox from busybox-static) or its root file system with --rootfs",
                            f.display()
                        )));
                    }
                }
            }
            argv[0] = f.to_string_lossy().into_owned();
        }
    }
    let label = match &input.name {
        Some(n) => n.clone(),
        None => default_label(prog),
    };
    check_label(&label).map_err(err)?;
    let mut metrics = Vec::new();
    let mut names = Vec::new();
    for m in &input.metrics {
        let spec = MetricSpec::parse(m).map_err(|e| err(format!("{e}")))?;
        if names.contains(&spec.name) {
            return Err(err(format!("--metric {} is given twice", spec.name)));
        }
        names.push(spec.name.clone());
        metrics.push(spec.to_arg());
    }
    // The program must be stopped inside its environment before the host
    // gives up on the whole run (which includes starting the environment).
    let timeout_s = match input.timeout_s {
        Some(0) => return Err(err("--command-timeout must be at least 1 second".into())),
        Some(t) if t >= run_timeout_s => {
            return Err(err(format!(
                "--command-timeout {t} must be below --timeout {run_timeout_s} (the host's limit on one run, which includes starting the environment)"
            )))
        }
        Some(t) => t,
        None => (run_timeout_s * 3 / 4).max(1),
    };
    let cmd = UserCommand {
        label,
        argv,
        rootfs,
        metrics,
        timeout_ms: timeout_s * 1000,
    };
    if columns.vm {
        let args = cmd.config().to_args();
        crate::env::vm::qemu::kernel_cmdline(crate::env::vm::qemu::Accel::Tcg, Some(u32::MAX.into()), &args)
            .map_err(|e| {
                err(format!(
                    "the command is too long for a VM column: {e} (its arguments travel on the guest's kernel command line)"
                ))
            })?;
    }
    Ok(cmd)
}

/// Make the directory every environment takes the command's files from
/// (below `scratch`, or the user's rootfs itself): natively the program
/// runs chrooted into it (with a rootfs) or from the host, containers get
/// it as an image layer, a guest's initramfs holds it.
pub fn materialize(cmd: &UserCommand, scratch: &Path) -> Result<PathBuf> {
    match &cmd.rootfs {
        Some(Rootfs::Dir { path }) => {
            if !path.is_dir() {
                bail!("the root file system {} is gone", path.display());
            }
            Ok(path.clone())
        }
        Some(Rootfs::Oci { layout, tag }) => {
            let umoci = crate::locate::which("umoci").ok_or_else(|| {
                crate::usage::usage(format!(
                    "--rootfs {} is an OCI image layout, which isobench unpacks with umoci: install it (apt-get install umoci)",
                    layout.display()
                ))
            })?;
            let dest = scratch.join("command-image");
            let _ = std::fs::remove_dir_all(&dest);
            let image = match tag {
                Some(t) => format!("{}:{t}", layout.display()),
                None => layout.display().to_string(),
            };
            let mut c = std::process::Command::new(umoci);
            c.arg("unpack");
            if !crate::sys::is_root() {
                c.arg("--rootless");
            }
            c.arg("--image").arg(&image).arg(&dest);
            let out = c
                .output()
                .with_context(|| format!("running umoci unpack of {image}"))?;
            if !out.status.success() {
                bail!(
                    "umoci unpack --image {image} failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Ok(dest.join("rootfs"))
        }
        None => {
            // The program at its own absolute path, when the host has it.
            let dir = scratch.join("command-files");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let prog = Path::new(&cmd.argv[0]);
            if prog.is_absolute() && prog.is_file() {
                let rel = prog.strip_prefix("/").expect("absolute");
                let to = dir.join(rel);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                // A copy of the file the path names (a symlink's target).
                std::fs::copy(prog, &to)
                    .with_context(|| format!("copying {} into {}", prog.display(), to.display()))?;
            }
            Ok(dir)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(argv: &[&str]) -> CommandInput {
        CommandInput {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn path() -> Option<std::ffi::OsString> {
        Some("/usr/bin:/bin".into())
    }

    #[test]
    fn labels_come_from_the_program_or_the_name() {
        assert_eq!(default_label("/bin/busybox"), "busybox");
        assert_eq!(default_label("my prog"), "my_prog");
        assert_eq!(default_label("/"), "command");
        let c = plan(
            &input(&["/bin/busybox", "true"]),
            600,
            Columns::default(),
            None,
        )
        .unwrap();
        assert_eq!(c.label, "busybox");
        assert_eq!(c.timeout_ms, 450_000, "3/4 of the run's timeout");
        let mut i = input(&["/bin/busybox", "true"]);
        i.name = Some("cpu".into());
        let e = plan(&i, 600, Columns::default(), None).unwrap_err().0;
        assert!(
            e.contains("built-in workload") && e.contains("--name"),
            "{e}"
        );
        i.name = Some("a/b".into());
        assert!(plan(&i, 600, Columns::default(), None)
            .unwrap_err()
            .0
            .contains("--name 'a/b'"));
    }

    #[test]
    fn bad_input_names_the_problem() {
        let e = |i: &CommandInput| plan(i, 600, Columns::default(), None).unwrap_err().0;
        assert!(e(&input(&[])).contains("no command given after --"));
        assert!(e(&input(&[""])).contains("empty"));
        let mut i = input(&["x"]);
        i.rootfs = Some("/no/such/rootfs-isobench".into());
        assert!(e(&i).contains("--rootfs /no/such/rootfs-isobench"));
        let mut i = input(&["x"]);
        i.timeout_s = Some(600);
        assert!(e(&i).contains("below --timeout 600"));
        let mut i = input(&["x"]);
        i.metrics = vec!["a:s:lower=1".into(), "a:ms:lower=2".into()];
        assert!(e(&i).contains("given twice"));
        i.metrics = vec!["bad".into()];
        assert!(e(&i).contains("no '=REGEX'"));
    }

    #[test]
    fn the_program_is_found_on_the_path_and_must_be_static_to_travel() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("prog");
        // An ELF header with a PT_INTERP program header: dynamic.
        let mut elf = vec![0u8; 64 + 56];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        elf[64..68].copy_from_slice(&3u32.to_le_bytes());
        std::fs::write(&bin, &elf).unwrap();
        crate::sys::set_mode(&bin, 0o755).unwrap();
        let p = Some(t.path().as_os_str());
        let c = plan(&input(&["prog", "a b"]), 60, Columns::default(), p).unwrap();
        assert_eq!(c.argv, [bin.to_str().unwrap(), "a b"]);
        let iso = Columns {
            isolated: true,
            vm: false,
        };
        let e = plan(&input(&["prog"]), 60, iso, p).unwrap_err().0;
        assert!(
            e.contains("dynamically linked") && e.contains("--rootfs"),
            "{e}"
        );
        // Not found: kept as given (each run then says so).
        let c = plan(
            &input(&["no-such-prog-isobench"]),
            60,
            iso,
            path().as_deref(),
        )
        .unwrap();
        assert_eq!(c.argv[0], "no-such-prog-isobench");
    }

    #[test]
    fn a_rootfs_is_a_directory_or_an_oci_layout() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(
            parse_rootfs(t.path()).unwrap(),
            Rootfs::Dir {
                path: t.path().to_path_buf()
            }
        );
        std::fs::write(t.path().join("index.json"), "{}").unwrap();
        std::fs::write(t.path().join("oci-layout"), "{}").unwrap();
        assert!(matches!(
            parse_rootfs(t.path()).unwrap(),
            Rootfs::Oci { tag: None, .. }
        ));
        let tagged = PathBuf::from(format!("{}:v1", t.path().display()));
        assert!(matches!(
            parse_rootfs(&tagged).unwrap(),
            Rootfs::Oci { tag: Some(ref s), .. } if s == "v1"
        ));
        let mut i = input(&["/bin/sh"]);
        i.rootfs = Some(t.path().to_path_buf());
        let c = plan(&i, 60, Columns::default(), None).unwrap();
        assert_eq!(
            c.argv[0], "/bin/sh",
            "found inside the rootfs, not on the host"
        );
        assert!(c.config().chroot_cwd);
    }

    #[test]
    fn a_long_command_is_refused_for_a_vm() {
        let long = "x".repeat(3000);
        let vm = Columns {
            isolated: true,
            vm: true,
        };
        let e = plan(
            &input(&["/bin/busybox", "echo", long.as_str()]),
            60,
            vm,
            None,
        )
        .unwrap_err()
        .0;
        assert!(e.contains("too long for a VM"), "{e}");
        assert!(plan(&input(&["/bin/busybox", "echo", "a, b"]), 60, vm, None).is_ok());
    }

    #[test]
    fn materialize_copies_the_program_to_its_path() {
        let t = tempfile::tempdir().unwrap();
        let prog = t.path().join("bin").join("tool");
        std::fs::create_dir_all(prog.parent().unwrap()).unwrap();
        std::fs::write(&prog, b"#!/bin/sh\n").unwrap();
        let c = plan(
            &input(&[prog.to_str().unwrap()]),
            60,
            Columns::default(),
            None,
        )
        .unwrap();
        let scratch = t.path().join("scratch");
        let root = materialize(&c, &scratch).unwrap();
        let copy = root.join(prog.strip_prefix("/").unwrap());
        assert_eq!(std::fs::read(copy).unwrap(), b"#!/bin/sh\n");
    }
}
