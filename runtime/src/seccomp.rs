//! Seccomp filters from `linux.seccomp` (OCI runtime spec, "Seccomp";
//! seccomp(2)), compiled by libseccomp (the `libseccomp` crate, as youki
//! does) rather than by hand-written BPF.
//!
//! [`check`] validates a profile without system calls (at config time, so a
//! bad profile is refused before anything is made); [`load`] compiles and
//! installs it in the container process. As runc: syscall names libseccomp
//! does not know on this architecture are skipped (profiles list syscalls
//! of newer kernels), rules whose action equals the default action are
//! skipped (libseccomp refuses them), and conditions on the same argument
//! index become separate rules (libseccomp ANDs the conditions of one rule
//! and cannot compare one argument twice).

use crate::error::{Error, Result};
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use std::str::FromStr;

fn unsupported<T>(field: &str, why: impl Into<String>) -> Result<T> {
    Err(Error::Unsupported {
        field: field.into(),
        why: why.into(),
    })
}

/// errno returned by SCMP_ACT_ERRNO when the profile gives none (runc's
/// and crun's default).
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;

/// The libseccomp action for a spec action; `errno` is the rule's
/// errnoRet, else the profile's defaultErrnoRet.
pub fn action(a: LinuxSeccompAction, errno: Option<u32>, field: &str) -> Result<ScmpAction> {
    let ret = errno.unwrap_or(DEFAULT_ERRNO);
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => {
            if ret > u16::MAX as u32 {
                return Err(Error::Invalid {
                    field: field.into(),
                    why: format!("errnoRet {ret} is not an errno"),
                });
            }
            ScmpAction::Errno(ret as i32)
        }
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(ret.min(u16::MAX as u32) as u16),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => return unsupported(
            field,
            "SCMP_ACT_NOTIFY needs a seccomp agent (listenerPath), which isorun does not support",
        ),
    })
}

fn arch(a: &oci_spec::runtime::Arch, field: &str) -> Result<ScmpArch> {
    let name = serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    ScmpArch::from_str(&name).or_else(|_| unsupported(field, format!("architecture {name:?}")))
}

fn compare(a: &LinuxSeccompArg) -> ScmpArgCompare {
    let op = match a.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // Spec: value is the mask, valueTwo the value compared after masking.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            return ScmpArgCompare::new(
                a.index() as u32,
                ScmpCompareOp::MaskedEqual(a.value()),
                a.value_two().unwrap_or(0),
            )
        }
    };
    ScmpArgCompare::new(a.index() as u32, op, a.value())
}

/// Validate a profile without system calls: every action, architecture,
/// flag and argument index must be one isorun can install.
pub fn check(s: &LinuxSeccomp) -> Result<()> {
    action(
        s.default_action(),
        s.default_errno_ret(),
        "linux.seccomp.defaultAction",
    )?;
    if s.listener_path().is_some() {
        return unsupported(
            "linux.seccomp.listenerPath",
            "seccomp agents (SCMP_ACT_NOTIFY) are not supported",
        );
    }
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        arch(a, &format!("linux.seccomp.architectures[{i}]"))?;
    }
    for (i, f) in s.flags().iter().flatten().enumerate() {
        match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog
            | LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow
            | LinuxSeccompFilterFlag::SeccompFilterFlagTsync => {}
            other => {
                return unsupported(
                    &format!("linux.seccomp.flags[{i}]"),
                    format!("filter flag {other:?}"),
                )
            }
        }
    }
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        action(
            sc.action(),
            sc.errno_ret().or(s.default_errno_ret()),
            &format!("{field}.action"),
        )?;
        for (j, a) in sc.args().iter().flatten().enumerate() {
            if a.index() > 5 {
                return Err(Error::Invalid {
                    field: format!("{field}.args[{j}].index"),
                    why: format!("{} (a system call has 6 arguments, 0-5)", a.index()),
                });
            }
        }
    }
    Ok(())
}

/// Compile the profile with libseccomp (no system call beyond memory).
pub fn compile(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    check(s)?;
    let lib = |op: &str| {
        let op = op.to_string();
        move |e: libseccomp::error::SeccompError| Error::Init(format!("libseccomp: {op}: {e}"))
    };
    let default = action(
        s.default_action(),
        s.default_errno_ret(),
        "linux.seccomp.defaultAction",
    )?;
    let mut ctx = ScmpFilterContext::new(default).map_err(lib("new filter"))?;
    // Why: no_new_privs is the config's choice (process.noNewPrivileges),
    // not a side effect of loading a filter (libseccomp sets it by default).
    ctx.set_ctl_nnp(false).map_err(lib("CTL_NNP"))?;
    for a in s.architectures().iter().flatten() {
        let a = arch(a, "linux.seccomp.architectures")?;
        ctx.add_arch(a).map_err(lib("add arch"))?;
    }
    for f in s.flags().iter().flatten() {
        match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => {
                ctx.set_ctl_log(true).map_err(lib("CTL_LOG"))?;
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                ctx.set_ctl_ssb(true).map_err(lib("CTL_SSB"))?;
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => {
                ctx.set_ctl_tsync(true).map_err(lib("CTL_TSYNC"))?;
            }
            _ => {}
        }
    }
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let act = action(
            sc.action(),
            sc.errno_ret().or(s.default_errno_ret()),
            &format!("linux.seccomp.syscalls[{i}].action"),
        )?;
        if act == default {
            continue;
        }
        let conds: Vec<ScmpArgCompare> = sc.args().iter().flatten().map(compare).collect();
        let args: Vec<&LinuxSeccompArg> = sc.args().iter().flatten().collect();
        let repeated = args
            .iter()
            .enumerate()
            .any(|(k, a)| args[..k].iter().any(|b| b.index() == a.index()));
        for name in sc.names() {
            let Ok(nr) = libseccomp::ScmpSyscall::from_name(name) else {
                continue; // unknown here: skipped, as runc does
            };
            let r = if conds.is_empty() {
                ctx.add_rule(act, nr)
            } else if repeated {
                conds
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(act, nr, &[*c]).map(|_| ()))
                    .map(|_| &mut ctx)
            } else {
                ctx.add_rule_conditional(act, nr, &conds)
            };
            r.map_err(lib(&format!("rule for {name}")))?;
        }
    }
    Ok(ctx)
}

/// Install a compiled filter on the calling process (seccomp(2)). Without
/// no_new_privs this needs CAP_SYS_ADMIN, so it runs before capabilities
/// are dropped in that case.
pub fn load(ctx: &ScmpFilterContext) -> Result<()> {
    ctx.load()
        .map_err(|e| Error::Init(format!("loading the seccomp filter: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn podman_style_profile_compiles() {
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["read", "write", "exit_group", "no_such_syscall_xyz"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"},
                          {"index": 0, "value": 16, "op": "SCMP_CMP_NE"}]},
                {"names": ["bpf"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
            ]
        }));
        check(&p).unwrap();
        let ctx = compile(&p).unwrap();
        // The compiled program is real BPF: whole 8-byte instructions.
        let f = tempfile::tempfile().unwrap();
        ctx.export_bpf(&f).unwrap();
        let len = f.metadata().unwrap().len();
        assert!(len > 0 && len.is_multiple_of(8), "{len}");
    }

    #[test]
    fn notify_and_bad_indexes_are_refused_with_the_field() {
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
        }));
        let e = check(&p).unwrap_err().to_string();
        assert!(e.contains("linux.seccomp.syscalls[0].action"), "{e}");
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]
        }));
        let e = check(&p).unwrap_err().to_string();
        assert!(e.contains("args[0].index"), "{e}");
    }

    #[test]
    fn errno_defaults_to_eperm() {
        let a = action(LinuxSeccompAction::ScmpActErrno, None, "x").unwrap();
        assert_eq!(a, ScmpAction::Errno(libc::EPERM));
        let a = action(LinuxSeccompAction::ScmpActErrno, Some(38), "x").unwrap();
        assert_eq!(a, ScmpAction::Errno(38));
    }
}
