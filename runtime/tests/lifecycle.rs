//! The runc-compatible verbs and their faults, on the real isorun binary:
//! create/start/state/kill/delete, one clear error and no leftovers for bad
//! configs, duplicate ids and `kill -9` of isorun during create.

mod common;
use common::{can_run, text, Rig};
use std::process::Stdio;
use std::time::Duration;

fn status_of(rig: &Rig) -> String {
    let out = rig.isorun(&["state", &rig.id]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["status"].as_str().unwrap_or("").to_string()
}

#[test]
fn create_start_state_kill_delete() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("verbs", "echo started; exec sleep 30");
    let bundle = rig.bundle.to_str().unwrap().to_string();
    // stdout of create goes to a file: the container writes there after start.
    let log = rig.dir.path().join("out");
    let out = rig
        .cmd()
        .args(["create", "--bundle", &bundle, &rig.id])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(rig.dir.path().join("err")).unwrap())
        .status()
        .unwrap();
    assert!(out.success(), "create failed");
    assert_eq!(status_of(&rig), "created");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "",
        "nothing runs before start"
    );
    let dup = rig.isorun(&["create", "--bundle", &bundle, &rig.id]);
    assert!(!dup.status.success());
    assert!(
        text(&dup.stderr).contains("already exists"),
        "{}",
        text(&dup.stderr)
    );
    let list = text(&rig.isorun(&["list"]).stdout);
    assert!(list.contains(&rig.id), "{list}");

    assert!(rig.isorun(&["start", &rig.id]).status.success());
    assert_eq!(status_of(&rig), "running");
    let busy = rig.isorun(&["delete", &rig.id]);
    assert!(
        !busy.status.success(),
        "a running container is not deleted without --force"
    );
    assert!(rig.isorun(&["kill", &rig.id, "KILL"]).status.success());
    // A deadline no healthy host comes near, not a 2 s budget that a busy
    // one may exceed: the test is about the state reached, not how fast.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while status_of(&rig) != "stopped" && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(status_of(&rig), "stopped");
    assert!(std::fs::read_to_string(&log).unwrap().contains("started"));
    let del = rig.isorun(&["delete", &rig.id]);
    assert!(del.status.success(), "{}", text(&del.stderr));
    rig.assert_clean();
}

#[test]
fn run_exits_with_the_process_status() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("status", "exit 7");
    assert_eq!(rig.run().status.code(), Some(7));
    rig.assert_clean();
}

/// One clear error line, a non-zero exit and nothing left behind.
fn assert_fails_cleanly(rig: &Rig, expect: &str) {
    let out = rig.run();
    let se = text(&out.stderr);
    assert!(!out.status.success(), "{se}");
    assert!(se.contains(expect), "expected {expect:?} in {se:?}");
    assert_eq!(se.trim().lines().count(), 1, "one error line: {se}");
    rig.assert_clean();
}

#[test]
fn malformed_config_is_one_clear_error() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("malformed", "true");
    std::fs::write(rig.bundle.join("config.json"), "{\"ociVersion\": ").unwrap();
    assert_fails_cleanly(&rig, "malformed");
}

#[test]
fn missing_rootfs_is_one_clear_error() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("norootfs", "true");
    rig.config(|v| v["root"]["path"] = "nope".into(), "true");
    assert_fails_cleanly(&rig, "does not exist");
}

#[test]
fn unsupported_field_is_named() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("unsupported", "true");
    rig.config(
        |v| v["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"}),
        "true",
    );
    assert_fails_cleanly(&rig, "linux.seccomp.defaultAction");
}

#[test]
fn impossible_memory_limit_is_one_clear_error() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("memlimit", "true");
    rig.config(
        |v| v["linux"]["resources"] = serde_json::json!({"memory": {"limit": 4096}}),
        "true",
    );
    assert_fails_cleanly(&rig, "linux.resources.memory.limit");
}

#[test]
fn rlimit_above_the_hard_limit_names_the_rlimit() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("rlimit", "true");
    rig.config(
        |v| {
            v["process"]["rlimits"] =
                serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": 1u64 << 40, "soft": 1024}])
        },
        "true",
    );
    assert_fails_cleanly(&rig, "RLIMIT_NOFILE");
}

#[test]
fn missing_program_is_one_clear_error() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("noprog", "true");
    rig.config(
        |v| v["process"]["args"] = serde_json::json!(["no-such-prog"]),
        "",
    );
    assert_fails_cleanly(&rig, "no-such-prog");
}

#[test]
fn kill_9_during_create_then_delete_force_removes_everything() {
    if !can_run() {
        return;
    }
    // Different delays hit different phases of create.
    for (i, delay_us) in [0u64, 300, 1000, 3000].into_iter().enumerate() {
        let mut rig = Rig::new("kill9", "exec sleep 30");
        rig.id = format!("{}-{i}", rig.id);
        let bundle = rig.bundle.to_str().unwrap().to_string();
        let mut child = rig
            .cmd()
            .args(["create", "--bundle", &bundle, &rig.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(delay_us));
        let _ = child.kill();
        let _ = child.wait();
        if rig.root.join(&rig.id).exists() {
            let out = rig.isorun(&["delete", "--force", &rig.id]);
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        rig.assert_clean();
    }
}
