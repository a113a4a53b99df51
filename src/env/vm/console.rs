//! Reading a guest's serial console: the workload's `ISOBENCH-READY` and
//! `ISOBENCH-RESULT` lines among kernel messages, kernel panics, and what to
//! quote when something went wrong.
//!
//! The console is QEMU's standard output (`-serial stdio`); QEMU's own
//! complaints (bad options, a failed KVM ioctl) arrive on its standard error.
//! A panic is recognised by the kernel's `Kernel panic - not syncing` banner
//! (kernel/panic.c), which is printed at KERN_EMERG and so survives `quiet`.

use isobench_workloads::protocol::{find_result, is_ready_line, ParseError};
use isobench_workloads::WorkloadResult;

/// How many console lines an error quotes.
pub const TAIL_LINES: usize = 15;
/// The result `info` key the workload's PID-1 mode fills from /proc/uptime.
pub use isobench_workloads::pid1::UPTIME_KEY;

const PANIC_MARKER: &str = "Kernel panic - not syncing";

/// The result `info` key where the workload's PID-1 mode records the guest's
/// clocksource (`/sys/devices/system/clocksource/clocksource0/current_clocksource`);
/// one constant for the writer (workloads/src/pid1.rs) and this checker.
pub use isobench_workloads::pid1::{CLOCKSOURCE_ERROR_KEY, CLOCKSOURCE_KEY};

/// The guest clocksources whose timings isobench trusts:
/// - `tsc`, `tsc-early`: the TSC. `tsc-early` is the same counter, used until
///   the kernel's refined calibration switches it to `tsc`; that switch comes
///   later in guest time (about a second after boot, or never within a short
///   run under TCG), so a guest may well report either.
/// - `kvm-clock`: KVM's paravirtual clock (pvclock): TSC-based, nanosecond
///   resolution, read in the vDSO without a VM exit; a KVM guest prefers it.
///
/// Everything else marks a VM run invalid:
/// - `jiffies`, `refined-jiffies`: advance once per timer tick (1-10 ms):
///   any timed section of a few milliseconds is noise. The kernel falls back
///   to them when it marks the TSC unstable (two vCPUs under TCG without
///   `tsc=reliable`, which isobench passes for this reason).
/// - `hpet`, `acpi_pm`: fine enough (70 ns, 280 ns), but the vDSO cannot read
///   them, so every clock read is a system call plus an emulated device access
///   (a VM exit, or slow device emulation under TCG): microseconds per
///   timestamp that native and container runs do not pay. The kernel only
///   picks them when it distrusts the TSC, itself a sign of a sick setup.
/// - any other name: not vetted; look at it before trusting it here.
pub const TRUSTED_CLOCKSOURCES: &[&str] = &["tsc", "tsc-early", "kvm-clock"];

/// Whether the timings of a guest `result` (from the workload's PID-1 mode)
/// can be trusted, judged by the clocksource it reported; `Err` says why not.
/// A result that does not name its clocksource is refused too: a guest that
/// did not report it must not pass silently.
pub fn check_clocksource(result: &WorkloadResult) -> Result<(), String> {
    let Some(c) = result.info.get(CLOCKSOURCE_KEY).map(|c| c.trim()) else {
        let why = result
            .info
            .get(CLOCKSOURCE_ERROR_KEY)
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(format!(
            "the guest did not report its clocksource (result info key `{CLOCKSOURCE_KEY}`{why}), \
             so its timings cannot be vouched for"
        ));
    };
    if TRUSTED_CLOCKSOURCES.contains(&c) {
        return Ok(());
    }
    if c.contains("jiffies") {
        return Err(format!(
            "the guest's clocksource is {c}: its timings move in jiffy steps and are meaningless \
             (the TSC was marked unstable; isobench passes tsc=reliable under TCG for this)"
        ));
    }
    Err(format!(
        "the guest's clocksource is {c:?}, not one of {}: its timings are not trusted \
         (see TRUSTED_CLOCKSOURCES in src/vm/console.rs)",
        TRUSTED_CLOCKSOURCES.join(", ")
    ))
}

/// What a finished guest produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Console {
    pub result: WorkloadResult,
    /// The guest's uptime when the workload started, from the result.
    pub guest_uptime_ms: Option<f64>,
}

/// Why a guest's console holds no usable result. Each variant quotes the last
/// lines (console, then QEMU's standard error).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConsoleError {
    /// `tail` holds the lines before the panic banner (the cause), not the
    /// stack dump after it.
    #[error("the guest kernel panicked: {line}\nconsole before the panic:\n{tail}")]
    Panic { line: String, tail: String },
    #[error("QEMU failed ({status}) before the guest printed a result:\n{tail}")]
    Qemu { status: String, tail: String },
    #[error("the guest ended without an ISOBENCH-RESULT line ({}):\n{tail}",
        if *.ready { "the workload started: ISOBENCH-READY was printed" } else { "the workload never started: no ISOBENCH-READY" })]
    NoResult { ready: bool, tail: String },
    #[error("{err}:\n{tail}")]
    BadResult { err: String, tail: String },
}

/// The last `n` non-empty lines of the console and of QEMU's stderr,
/// indented for an error message.
pub fn tail(stdout: &str, stderr: &str, n: usize) -> String {
    let lines: Vec<&str> = stdout
        .lines()
        .chain(stderr.lines())
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The panic banner line, if the kernel panicked.
pub fn panic_line(stdout: &str) -> Option<&str> {
    stdout
        .lines()
        .find(|l| l.contains(PANIC_MARKER))
        .map(|l| l.trim_end_matches('\r').trim())
}

/// Whether the workload's ready marker is on the console.
pub fn ready_seen(stdout: &str) -> bool {
    stdout.lines().any(is_ready_line)
}

/// Judge a finished QEMU: `stdout` is the console, `stderr` QEMU's errors,
/// `exited_ok` whether QEMU exited with status 0 (it does when the guest
/// reboots under `-no-reboot`). A panic is an error even after a result: the
/// workload must power the guest off itself, and a guest that dies is not a
/// run to keep.
pub fn judge(
    stdout: &str,
    stderr: &str,
    exited_ok: bool,
    status: &str,
) -> Result<Console, ConsoleError> {
    let quote = || tail(stdout, stderr, TAIL_LINES);
    if let Some(line) = panic_line(stdout) {
        // Quote what led to the panic, not the register dump after it.
        let at = stdout.find(PANIC_MARKER).unwrap_or(stdout.len());
        let upto = &stdout[..stdout[..at].rfind('\n').unwrap_or(0)];
        let tail = tail(upto, "", TAIL_LINES);
        return Err(ConsoleError::Panic {
            line: line.to_string(),
            tail,
        });
    }
    let result = match find_result(stdout) {
        Ok(r) => r,
        Err(ParseError::Missing) if !exited_ok => {
            return Err(ConsoleError::Qemu {
                status: status.to_string(),
                tail: quote(),
            })
        }
        Err(ParseError::Missing) => {
            return Err(ConsoleError::NoResult {
                ready: ready_seen(stdout),
                tail: quote(),
            })
        }
        Err(e) => {
            return Err(ConsoleError::BadResult {
                err: e.to_string(),
                tail: quote(),
            })
        }
    };
    let guest_uptime_ms = result
        .info
        .get(UPTIME_KEY)
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite());
    Ok(Console {
        result,
        guest_uptime_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOT: &str = "[    0.474217] PCI: Fatal: No config space access function found\r\n";

    fn result_line(valid: bool) -> String {
        format!(
            "ISOBENCH-RESULT {{\"workload\":\"startup\",\"valid\":{valid},\"info\":{{\"{UPTIME_KEY}\":\"2301.5\"}}}}\r\n"
        )
    }

    #[test]
    fn result_among_kernel_messages() {
        let out = format!(
            "{BOOT}ISOBENCH-READY\r\n{}[    2.0] reboot: Restarting system\r\n",
            result_line(true)
        );
        let c = judge(&out, "", true, "exit status: 0").unwrap();
        assert_eq!(c.result.workload, "startup");
        assert!(c.result.valid);
        assert_eq!(c.guest_uptime_ms, Some(2301.5));
        assert!(ready_seen(&out));
    }

    #[test]
    fn panic_is_reported_with_its_lines() {
        let out = format!(
            "{BOOT}[    1.2] Run /init as init process\r\n[    1.3] Kernel panic - not syncing: No working init found.  Try passing init= option to kernel.\r\n[    1.3] CPU: 0 PID: 1 Comm: swapper/0\r\n"
        );
        let err = judge(&out, "", true, "exit status: 0").unwrap_err();
        let ConsoleError::Panic { line, tail } = &err else {
            panic!("{err:?}")
        };
        assert!(line.contains("No working init found"), "{line}");
        assert!(tail.contains("Run /init as init process"), "{tail}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("the guest kernel panicked: [    1.3] Kernel panic"),
            "{msg}"
        );
        assert!(
            msg.contains("console before the panic:\n    | [    0.474217] PCI"),
            "{msg}"
        );
        assert!(
            !msg.contains("CPU: 0 PID: 1"),
            "the dump after the banner is left out: {msg}"
        );
    }

    #[test]
    fn panic_after_a_result_is_still_an_error() {
        let out = format!(
            "ISOBENCH-READY\n{}Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000\n",
            result_line(true)
        );
        assert!(matches!(
            judge(&out, "", true, "0"),
            Err(ConsoleError::Panic { .. })
        ));
    }

    #[test]
    fn missing_result_says_whether_the_workload_started() {
        let err = judge(
            &format!("{BOOT}ISOBENCH-READY\n"),
            "",
            true,
            "exit status: 0",
        )
        .unwrap_err();
        assert!(matches!(err, ConsoleError::NoResult { ready: true, .. }));
        assert!(
            err.to_string().contains("ISOBENCH-READY was printed"),
            "{err}"
        );
        let err = judge(BOOT, "", true, "exit status: 0").unwrap_err();
        assert!(err.to_string().contains("never started"), "{err}");
        assert!(err.to_string().contains("PCI: Fatal"), "{err}");
    }

    #[test]
    fn qemu_failure_quotes_its_stderr() {
        let stderr = "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0\nqemu-system-x86_64: ../../target/i386/kvm/kvm.c:3218: kvm_buf_set_msrs: Assertion failed.\n";
        let err = judge("", stderr, false, "signal: 6 (SIGABRT)").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("QEMU failed (signal: 6 (SIGABRT))"), "{msg}");
        assert!(msg.contains("failed to set MSR 0x10a"), "{msg}");
    }

    #[test]
    fn malformed_or_duplicate_results_are_errors() {
        let err = judge(
            "ISOBENCH-RESULT {\"workload\": \"cpu\", \"val\n",
            "",
            true,
            "0",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("malformed ISOBENCH-RESULT line"),
            "{err}"
        );
        let two = format!("{}{}", result_line(true), result_line(false));
        assert!(matches!(
            judge(&two, "", true, "0"),
            Err(ConsoleError::BadResult { .. })
        ));
    }

    #[test]
    fn clocksource_check_fires() {
        let mut r = judge(&result_line(true), "", true, "0").unwrap().result;
        let err = check_clocksource(&r).unwrap_err();
        assert!(err.contains("did not report its clocksource"), "{err}");
        r.info.insert(
            CLOCKSOURCE_ERROR_KEY.into(),
            "current_clocksource: No such file or directory".into(),
        );
        let err = check_clocksource(&r).unwrap_err();
        assert!(err.contains("No such file"), "the reason is quoted: {err}");

        for ok in ["tsc", "tsc-early", "tsc\n", "kvm-clock"] {
            r.info.insert(CLOCKSOURCE_KEY.into(), ok.into());
            assert_eq!(check_clocksource(&r), Ok(()), "{ok:?}");
        }
        for bad in ["jiffies", "refined-jiffies"] {
            r.info.insert(CLOCKSOURCE_KEY.into(), bad.into());
            let err = check_clocksource(&r).unwrap_err();
            assert!(err.contains(bad) && err.contains("jiffy steps"), "{err}");
        }
        for bad in ["hpet", "acpi_pm", "", "tsc2"] {
            r.info.insert(CLOCKSOURCE_KEY.into(), bad.into());
            assert!(check_clocksource(&r).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn a_guest_result_line_carrying_its_clocksource_passes_the_check() {
        // As the workload's PID-1 mode writes it (the key is the shared constant).
        let line = format!(
            "ISOBENCH-RESULT {{\"workload\":\"cpu\",\"valid\":true,\"info\":{{\"{CLOCKSOURCE_KEY}\":\"jiffies\"}}}}\n"
        );
        let c = judge(&line, "", true, "0").unwrap();
        assert!(check_clocksource(&c.result).is_err());
        let c = judge(&line.replace("jiffies", "tsc-early"), "", true, "0").unwrap();
        assert_eq!(check_clocksource(&c.result), Ok(()));
    }

    #[test]
    fn tail_keeps_the_last_lines_of_both_streams() {
        let t = tail("a\r\nb\n\nc\n", "qemu: oops\n", 3);
        assert_eq!(t, "    | b\n    | c\n    | qemu: oops");
    }
}
