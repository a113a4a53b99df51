//! How a test skips when the host lacks what it needs, so that a skip is
//! never mistaken for a pass.
//!
//! `cargo test` has no "skipped" outcome: a test that returns early passes.
//! Every test that can skip therefore calls one of the two functions here
//! (and then returns). Each one
//! - prints `skipped: <reason>` on stderr (shown with `--nocapture` or on a
//!   failure),
//! - appends `<binary>::<test>: <reason>` to the file named by
//!   [`SKIP_LOG_ENV`] when it is set (scripts/test.sh sets it and counts the
//!   lines), and
//! - for [`missing`] only: panics instead when [`CI_ENV`] is `true`. CI runs
//!   as root with QEMU, a guest kernel, busybox, runc and crun installed, so
//!   a test there that would skip for lack of one of them is a failure of the
//!   CI machine, not a skip.
//!
//! [`not_on_this_host`] is for tests of a host property that a correct CI
//! machine may lack (a kvm_pvm `/dev/kvm`, a cgroup2 mount): they skip
//! everywhere, recorded all the same.

pub mod fake_env;
pub mod fake_spawner;
pub mod testuser;

use std::io::Write;

/// Names the file skips are appended to.
pub const SKIP_LOG_ENV: &str = "ISOBENCH_SKIP_LOG";
/// `CI=true` turns a [`missing`] prerequisite into a failure.
pub const CI_ENV: &str = "CI";

/// Whether the tests run under CI (`CI=true` or `CI=1`).
pub fn under_ci() -> bool {
    ci_value_means_ci(std::env::var(CI_ENV).ok().as_deref())
}

/// The decision behind [`under_ci`], on the variable's value.
pub fn ci_value_means_ci(v: Option<&str>) -> bool {
    matches!(v.map(str::trim), Some(s) if s.eq_ignore_ascii_case("true") || s == "1")
}

/// A prerequisite the test needs is absent here (root, QEMU, a guest kernel,
/// busybox, runc, crun, a built binary): the caller skips (returns) after
/// this. Under CI it panics with the reason instead.
#[track_caller]
pub fn missing(reason: impl std::fmt::Display) {
    let reason = reason.to_string();
    if under_ci() {
        panic!(
            "{CI_ENV}=true: this test must run here but would skip: {reason} \
             (CI runs as root with every prerequisite installed; scripts/setup.sh installs them)"
        );
    }
    record(&reason);
}

/// The host lacks the property the test is about (e.g. its /dev/kvm is not
/// kvm_pvm): the caller skips after this, under CI too.
pub fn not_on_this_host(reason: impl std::fmt::Display) {
    record(&reason.to_string());
}

/// True when running as root; otherwise records a [`missing`] skip (which
/// fails under CI) for `what` and returns false.
#[track_caller]
pub fn require_root(what: &str) -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let euid = unsafe { geteuid() };
    if euid == 0 {
        return true;
    }
    missing(format!("needs root ({what})"));
    false
}

extern "C" {
    fn geteuid() -> u32;
}

/// `<binary>::<test>` for the running test: libtest runs each test on a
/// thread named after it; the binary's name is stripped of cargo's hash.
pub fn current_test_name() -> String {
    let test = std::thread::current()
        .name()
        .unwrap_or("unknown-test")
        .to_string();
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let binary = strip_hash(&exe);
    if binary.is_empty() {
        test
    } else {
        format!("{binary}::{test}")
    }
}

/// `vm_boot-0123456789abcdef` → `vm_boot`.
fn strip_hash(stem: &str) -> &str {
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name
        }
        _ => stem,
    }
}

/// The line appended to the skip log (no newline inside it).
pub fn log_line(test: &str, reason: &str) -> String {
    let one_line: String = reason
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    format!("{test}: {one_line}\n")
}

fn record(reason: &str) {
    let test = current_test_name();
    eprintln!("skipped: {reason}");
    let Some(path) = std::env::var_os(SKIP_LOG_ENV).filter(|p| !p.is_empty()) else {
        return;
    };
    // One write of a short line with O_APPEND: lines of tests running in
    // parallel (threads or processes) do not interleave.
    let line = log_line(&test, reason);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        // A skip that cannot be recorded must not pass as a plain pass.
        panic!(
            "cannot record the skip in {} ({SKIP_LOG_ENV}): {e}; the skip was: {reason}",
            std::path::Path::new(&path).display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_values() {
        assert!(ci_value_means_ci(Some("true")));
        assert!(ci_value_means_ci(Some("TRUE")));
        assert!(ci_value_means_ci(Some("1")));
        assert!(!ci_value_means_ci(Some("false")));
        assert!(!ci_value_means_ci(Some("")));
        assert!(!ci_value_means_ci(None));
    }

    #[test]
    fn binary_names_lose_cargo_hash() {
        assert_eq!(strip_hash("vm_boot-0123456789abcdef"), "vm_boot");
        assert_eq!(
            strip_hash("isobench_testkit-fedcba9876543210"),
            "isobench_testkit"
        );
        assert_eq!(strip_hash("cli-run"), "cli-run");
        assert_eq!(strip_hash("x"), "x");
    }

    #[test]
    fn log_lines_are_single_lines() {
        assert_eq!(
            log_line("vm_boot::t", "no qemu\n(apt-get install x)"),
            "vm_boot::t: no qemu (apt-get install x)\n"
        );
    }

    #[test]
    fn test_name_is_the_thread_name() {
        let n = current_test_name();
        assert!(n.ends_with("::tests::test_name_is_the_thread_name"), "{n}");
    }
}
