//! The runc-compatible command line engines rely on, without root: the
//! `features` document, `delete --force` of a container already gone,
//! refused flags named with exit status 2, `--log` in JSON.

mod common;

use std::process::Command;

fn isorun(root: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(common::isorun_bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn features_is_an_oci_features_document() {
    let d = tempfile::tempdir().unwrap();
    let o = isorun(d.path(), &["features"]);
    assert!(o.status.success());
    let f: oci_spec::runtime::Features = serde_json::from_slice(&o.stdout).unwrap();
    let linux = f.linux().as_ref().unwrap();
    assert_eq!(linux.seccomp().as_ref().unwrap().enabled(), &Some(true));
}

#[test]
fn delete_force_of_a_gone_container_succeeds_plain_delete_fails() {
    let d = tempfile::tempdir().unwrap();
    let o = isorun(d.path(), &["delete", "--force", "gone"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = isorun(d.path(), &["delete", "gone"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
}

#[test]
fn refused_flags_exit_2_naming_the_flag_and_log_as_json() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("log.json");
    let o = isorun(
        d.path(),
        &[
            "--systemd-cgroup",
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "state",
            "x",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--systemd-cgroup") && err.lines().count() == 1,
        "{err}"
    );
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&log).unwrap().trim()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("--systemd-cgroup"));
    let o = isorun(
        d.path(),
        &["create", "--no-pivot", "--bundle", "/nonexistent", "x"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--no-pivot"));
}
