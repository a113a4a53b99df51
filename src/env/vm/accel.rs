//! Choosing QEMU's accelerator: `--accel auto|kvm|tcg`.
//!
//! `auto` uses KVM only when `/dev/kvm` opens and a test boot under KVM
//! reaches `ISOBENCH-READY` within a few seconds; otherwise TCG. A `/dev/kvm`
//! provided by `kvm_pvm` (a paravirtual nested hypervisor) is detected from
//! `/sys/module/kvm_pvm` or `/proc/modules` and skips the test boot: stock
//! kernels hang under it (docs/design.md, "This machine"). A forced
//! `--accel kvm` there is an error, because QEMU 7.2 aborts with "failed to set
//! MSR 0x10a" under `-cpu host`, and `-cpu host,-arch-capabilities` boots into
//! a silent hang.
//!
//! The decision is pure ([`plan`], [`after_test_boot`]); [`probe_host`] reads
//! the host, with every path a parameter.

use crate::env::vm::qemu::Accel;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// How long the KVM test boot of `auto` may take. A microvm guest boots to
/// init in well under a second under KVM; a guest that has not printed
/// `ISOBENCH-READY` after this is taken as hung.
pub const TEST_BOOT_TIMEOUT: Duration = Duration::from_secs(6);

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccelRequest {
    #[default]
    Auto,
    Kvm,
    Tcg,
}

impl AccelRequest {
    pub fn name(self) -> &'static str {
        match self {
            AccelRequest::Auto => "auto",
            AccelRequest::Kvm => "kvm",
            AccelRequest::Tcg => "tcg",
        }
    }
}

impl fmt::Display for AccelRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AccelRequest {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(AccelRequest::Auto),
            "kvm" => Ok(AccelRequest::Kvm),
            "tcg" => Ok(AccelRequest::Tcg),
            _ => Err(format!("unknown accelerator '{s}' (known: auto, kvm, tcg)")),
        }
    }
}

/// What the host offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvmHost {
    /// `Ok` when `/dev/kvm` opened read-write, else why not.
    pub dev_kvm: Result<(), String>,
    /// How `kvm_pvm` was recognised, when it was.
    pub pvm: Option<String>,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccelPlan {
    /// Decided: use this accelerator, for this reason.
    Use { accel: Accel, reason: String },
    /// `auto` with a usable-looking `/dev/kvm`: boot a test guest under KVM
    /// (at most [`TEST_BOOT_TIMEOUT`]) and pass its outcome to [`after_test_boot`].
    TestBootKvm,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccelError {
    #[error("--accel kvm: /dev/kvm cannot be used ({0}); use --accel tcg, or --accel auto to fall back to TCG")]
    NoKvm(String),
    #[error("--accel kvm: /dev/kvm is provided by kvm_pvm ({0}), a paravirtual nested hypervisor on which stock guest kernels do not boot (QEMU aborts with \"failed to set MSR 0x10a\" under -cpu host; with -cpu host,-arch-capabilities the guest hangs silently); use --accel tcg, or --accel auto to fall back to TCG")]
    Pvm(String),
}

/// Look at the host: can `/dev/kvm` be opened, and is `kvm_pvm` behind it?
/// Normally `probe_host(Path::new("/dev/kvm"), Path::new("/sys/module"),
/// Path::new("/proc/modules"))`.
pub fn probe_host(dev_kvm: &Path, sys_module: &Path, proc_modules: &Path) -> KvmHost {
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev_kvm)
        .map(drop)
        .map_err(|e| format!("{}: {e}", dev_kvm.display()));
    let pvm_dir = sys_module.join("kvm_pvm");
    let pvm = if pvm_dir.exists() {
        Some(format!("{} exists", pvm_dir.display()))
    } else {
        std::fs::read_to_string(proc_modules)
            .ok()
            .filter(|m| modules_list_pvm(m))
            .map(|_| format!("kvm_pvm is listed in {}", proc_modules.display()))
    };
    KvmHost { dev_kvm: dev, pvm }
}

/// Whether `/proc/modules` text lists `kvm_pvm`.
pub fn modules_list_pvm(proc_modules: &str) -> bool {
    proc_modules
        .lines()
        .any(|l| l.split_whitespace().next() == Some("kvm_pvm"))
}

/// Decide, or ask for a test boot.
pub fn plan(req: AccelRequest, host: &KvmHost) -> Result<AccelPlan, AccelError> {
    let use_ = |accel, reason: String| Ok(AccelPlan::Use { accel, reason });
    match req {
        AccelRequest::Tcg => use_(Accel::Tcg, "forced by --accel tcg".into()),
        AccelRequest::Kvm => {
            if let Err(e) = &host.dev_kvm {
                return Err(AccelError::NoKvm(e.clone()));
            }
            if let Some(p) = &host.pvm {
                return Err(AccelError::Pvm(p.clone()));
            }
            use_(Accel::Kvm, "forced by --accel kvm".into())
        }
        AccelRequest::Auto => match (&host.dev_kvm, &host.pvm) {
            (Err(e), _) => use_(Accel::Tcg, format!("auto: /dev/kvm unusable ({e})")),
            (Ok(()), Some(p)) => use_(
                Accel::Tcg,
                format!("auto: /dev/kvm is kvm_pvm ({p}), on which stock guest kernels hang; KVM test boot skipped"),
            ),
            (Ok(()), None) => Ok(AccelPlan::TestBootKvm),
        },
    }
}

/// `auto` after the KVM test boot: `Ok(time to ISOBENCH-READY)` or why it failed.
pub fn after_test_boot(outcome: Result<Duration, String>) -> (Accel, String) {
    match outcome {
        Ok(t) => (
            Accel::Kvm,
            format!(
                "auto: /dev/kvm opens and a KVM test boot reached ISOBENCH-READY in {:.2} s",
                t.as_secs_f64()
            ),
        ),
        Err(e) => (
            Accel::Tcg,
            format!("auto: the KVM test boot failed ({e}); fell back to TCG"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(dev: bool, pvm: bool) -> KvmHost {
        KvmHost {
            dev_kvm: if dev {
                Ok(())
            } else {
                Err("/dev/kvm: No such file or directory".into())
            },
            pvm: pvm.then(|| "/sys/module/kvm_pvm exists".to_string()),
        }
    }

    #[test]
    fn auto_falls_back_to_tcg_without_kvm() {
        let AccelPlan::Use { accel, reason } =
            plan(AccelRequest::Auto, &host(false, false)).unwrap()
        else {
            panic!()
        };
        assert_eq!(accel, Accel::Tcg);
        assert!(reason.contains("No such file"), "{reason}");
    }

    #[test]
    fn auto_skips_the_test_boot_on_kvm_pvm() {
        let AccelPlan::Use { accel, reason } = plan(AccelRequest::Auto, &host(true, true)).unwrap()
        else {
            panic!()
        };
        assert_eq!(accel, Accel::Tcg);
        assert!(
            reason.contains("kvm_pvm") && reason.contains("skipped"),
            "{reason}"
        );
    }

    #[test]
    fn auto_test_boots_a_plain_kvm() {
        assert_eq!(
            plan(AccelRequest::Auto, &host(true, false)).unwrap(),
            AccelPlan::TestBootKvm
        );
        let (a, r) = after_test_boot(Ok(Duration::from_millis(420)));
        assert_eq!(a, Accel::Kvm);
        assert!(r.contains("0.42 s"), "{r}");
        let (a, r) = after_test_boot(Err("no ISOBENCH-READY within 6 s".into()));
        assert_eq!(a, Accel::Tcg);
        assert!(
            r.contains("fell back to TCG") && r.contains("within 6 s"),
            "{r}"
        );
    }

    #[test]
    fn forced_kvm_on_pvm_or_without_kvm_is_a_clear_error() {
        let msg = plan(AccelRequest::Kvm, &host(true, true))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("kvm_pvm") && msg.contains("MSR 0x10a") && msg.contains("--accel tcg"),
            "{msg}"
        );
        let msg = plan(AccelRequest::Kvm, &host(false, false))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("No such file") && msg.contains("--accel tcg"),
            "{msg}"
        );
        assert!(matches!(
            plan(AccelRequest::Kvm, &host(true, false)).unwrap(),
            AccelPlan::Use {
                accel: Accel::Kvm,
                ..
            }
        ));
    }

    #[test]
    fn forced_tcg_is_always_tcg() {
        for h in [host(true, false), host(true, true), host(false, false)] {
            assert!(matches!(
                plan(AccelRequest::Tcg, &h).unwrap(),
                AccelPlan::Use {
                    accel: Accel::Tcg,
                    ..
                }
            ));
        }
    }

    #[test]
    fn probe_reads_sysfs_and_proc_modules() {
        let tmp = tempfile::tempdir().unwrap();
        let dev = tmp.path().join("kvm");
        std::fs::write(&dev, b"").unwrap();
        let sys = tmp.path().join("module");
        std::fs::create_dir_all(sys.join("kvm")).unwrap();
        let mods = tmp.path().join("modules");
        std::fs::write(&mods, "kvm 1000 1 kvm_intel, Live 0x0\n").unwrap();
        let h = probe_host(&dev, &sys, &mods);
        assert_eq!(
            h,
            KvmHost {
                dev_kvm: Ok(()),
                pvm: None
            }
        );

        std::fs::write(
            &mods,
            "kvm_pvm 40960 0 - Live 0x0\nkvm 1000 1 kvm_pvm, Live 0x0\n",
        )
        .unwrap();
        assert!(probe_host(&dev, &sys, &mods)
            .pvm
            .unwrap()
            .contains("listed in"));
        std::fs::create_dir_all(sys.join("kvm_pvm")).unwrap();
        assert!(probe_host(&dev, &sys, &mods)
            .pvm
            .unwrap()
            .contains("kvm_pvm exists"));

        let h = probe_host(&tmp.path().join("nokvm"), &sys, &mods);
        assert!(h.dev_kvm.unwrap_err().contains("nokvm"));
    }

    #[test]
    fn requests_parse() {
        assert_eq!("auto".parse::<AccelRequest>().unwrap(), AccelRequest::Auto);
        assert_eq!("tcg".parse::<AccelRequest>().unwrap(), AccelRequest::Tcg);
        assert!("hvf"
            .parse::<AccelRequest>()
            .unwrap_err()
            .contains("auto, kvm, tcg"));
        assert!(!modules_list_pvm("kvm_pvmx 1 0\n"));
    }
}
