//! `isobench-workload WORKLOAD [PARAMS]`: the static binary that carries every
//! kernel (grammar in `args.rs`).
//!
//! It prints `ISOBENCH-READY` as its very first action (the host's "first
//! instruction" signal), runs one kernel and prints exactly one
//! `ISOBENCH-RESULT {json}` line last. Exit status: 0 valid, 1 measured but
//! invalid, 2 bad arguments (one error line on stderr). As PID 1 (a VM's
//! `/init`) it takes its arguments from the kernel command line and reboots
//! instead of exiting (see `pid1.rs`).

use isobench_workloads::{args, pid1, run, READY_MARKER};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Instant;

/// Write a line and flush; errors are ignored (a closed stdout must not panic,
/// least of all in PID 1).
fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() {
    let start = Instant::now();
    say(READY_MARKER);
    if pid1::is_pid1() {
        pid1_main(start)
    }
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let cmd = match args::parse(&argv, run::available_threads()) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(io::stderr(), "isobench-workload: {e} (see --help)");
            std::process::exit(2);
        }
    };
    if cmd == args::Command::Help {
        say(args::USAGE);
        return;
    }
    let result = run::run(&cmd, start, BTreeMap::new());
    if let Some(e) = &result.error {
        let _ = writeln!(io::stderr(), "isobench-workload: {e}");
    }
    say(&result.to_line());
    std::process::exit(if result.valid { 0 } else { 1 });
}

/// PID-1 mode: mount, read the arguments from /proc/cmdline, run, print,
/// reboot. Any failure or panic becomes a result with `valid: false`.
fn pid1_main(start: Instant) -> ! {
    let body = std::panic::AssertUnwindSafe(|| {
        let mut info = BTreeMap::new();
        info.insert("pid1".to_string(), "true".to_string());
        let warnings = pid1::mount_pseudo_filesystems();
        pid1::record_clocksource(&mut info, pid1::CURRENT_CLOCKSOURCE);
        if let Some(ms) = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|s| pid1::parse_uptime_ms(&s))
        {
            info.insert(pid1::UPTIME_KEY.to_string(), format!("{ms:.0}"));
        }
        if !warnings.is_empty() {
            info.insert("pid1_warnings".to_string(), warnings.join("; "));
        }
        let cmdline = std::fs::read_to_string("/proc/cmdline")
            .map_err(|e| format!("cannot read /proc/cmdline: {e}"));
        // The fileio disk, when the host attached one, before the workload.
        let disk = cmdline
            .clone()
            .and_then(|cl| pid1::parse_disk(&cl))
            .and_then(|d| d.map(|d| pid1::attach_disk(&d)).transpose());
        match disk {
            Ok(Some(what)) => {
                info.insert("guest_disk".to_string(), what);
            }
            Ok(None) => {}
            Err(e) => {
                let mut r = run::error_result("unknown", e, start);
                r.info.extend(info);
                return r;
            }
        }
        let argv = cmdline.and_then(|cl| pid1::parse_cmdline(&cl));
        let argv = match argv {
            Ok(a) => a,
            Err(e) => {
                let mut r = run::error_result("unknown", e, start);
                r.info.extend(info);
                return r;
            }
        };
        info.insert("args".to_string(), argv.join(" "));
        let workload = argv.first().cloned().unwrap_or_default();
        match args::parse(&argv, run::available_threads()) {
            Ok(args::Command::Help) => run::error_result("help", "help is not a workload", start),
            Ok(cmd) => run::run(&cmd, start, info),
            Err(e) => {
                let mut r = run::error_result(&workload, e.to_string(), start);
                r.info.extend(info);
                r
            }
        }
    });
    let result = std::panic::catch_unwind(body).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        run::error_result("unknown", format!("panic: {msg}"), start)
    });
    if let Some(e) = &result.error {
        let _ = writeln!(io::stderr(), "isobench-workload: {e}");
    }
    say(&result.to_line());
    pid1::reboot_now()
}
