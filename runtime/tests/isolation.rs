//! Inside a container run by the real isorun binary (as root): pid
//! namespace, hostname, unreachable host files, masked paths, capability
//! bounding set, no_new_privs, memory and pids limits.

mod common;
use common::{can_run, text, Rig};

#[test]
fn pid1_is_the_container_process_and_no_host_process_is_visible() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("pid1", "echo pid=$$; echo /proc/[0-9]*");
    let out = rig.run();
    let so = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(so.contains("pid=1\n"), "{so}");
    // Only the shell itself (pid 1): echo is a builtin.
    assert_eq!(so.lines().nth(1).unwrap().trim(), "/proc/1", "{so}");
    rig.assert_clean();
}

#[test]
fn hostname_is_the_configs_and_loopback_is_up() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("host", "");
    rig.config(
        |v| v["hostname"] = "itest-box".into(),
        "hostname; cat /sys/class/net/lo/flags",
    );
    let out = rig.run();
    let so = text(&out.stdout);
    assert!(so.starts_with("itest-box\n"), "{so} {}", text(&out.stderr));
    // The new network namespace's loopback is up (IFF_UP | IFF_LOOPBACK).
    assert!(so.contains("0x9"), "{so}");
    rig.assert_clean();
}

#[test]
fn host_files_outside_the_rootfs_are_unreachable() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("escape", "");
    let secret = rig.dir.path().join("secret");
    std::fs::write(&secret, "host-secret").unwrap();
    let script = format!(
        "cat {} ; cat /../../secret ; ls /work /etc/hostname ; echo done",
        secret.display()
    );
    rig.config(|_| {}, &script);
    let out = rig.run();
    let so = text(&out.stdout);
    assert!(so.contains("done"), "{so}");
    assert!(!so.contains("host-secret"), "{so}");
    assert!(
        text(&out.stderr).contains("No such file"),
        "{}",
        text(&out.stderr)
    );
    rig.assert_clean();
}

#[test]
fn masked_paths_read_empty() {
    if !can_run() {
        return;
    }
    let rig = Rig::new(
        "mask",
        "cat /proc/keys | wc -c; cat /proc/timer_list | wc -c; ls /sys/firmware | wc -l; echo x > /proc/sys/kernel/domainname && echo writable",
    );
    let out = rig.run();
    let so = text(&out.stdout);
    let counts: Vec<&str> = so.lines().map(str::trim).collect();
    assert_eq!(&counts[..3], ["0", "0", "0"], "{so}");
    assert!(!so.contains("writable"), "/proc/sys is read-only: {so}");
    rig.assert_clean();
}

#[test]
fn capability_bounding_set_equals_the_configs_and_no_new_privs_is_set() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("caps", "");
    rig.config(
        |v| {
            let caps = serde_json::json!(["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
            v["process"]["capabilities"] =
                serde_json::json!({"bounding": caps, "effective": caps, "permitted": caps});
        },
        "grep -E 'CapBnd|CapEff|NoNewPrivs' /proc/self/status",
    );
    let out = rig.run();
    let so = text(&out.stdout);
    assert!(so.contains("CapBnd:\t0000000000000420"), "{so}");
    assert!(so.contains("CapEff:\t0000000000000420"), "{so}");
    assert!(so.contains("NoNewPrivs:\t1"), "{so}");
    rig.assert_clean();
}

#[test]
fn memory_limit_stops_an_allocating_process_and_the_oom_kill_is_reported() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("oom", "");
    rig.config(
        |v| v["linux"]["resources"] = serde_json::json!({"memory": {"limit": 32 << 20}}),
        // Doubling a shell string: 2^30 bytes after 30 rounds if nothing stops it.
        "a=0123456789abcdef; i=0; while [ $i -lt 30 ]; do a=$a$a; i=$((i+1)); done; echo survived",
    );
    let out = rig.run();
    let (so, se) = (text(&out.stdout), text(&out.stderr));
    assert!(!so.contains("survived"), "{so}");
    assert_eq!(out.status.code(), Some(137), "{se}");
    assert!(se.contains("OOM-killed"), "{se}");
    assert!(se.contains(&(32u64 << 20).to_string()), "{se}");
    rig.assert_clean();
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("pids", "");
    rig.config(
        |v| v["linux"]["resources"] = serde_json::json!({"pids": {"limit": 8}}),
        // A failed fork ends the subshell; the outer shell then counts.
        "(i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done); echo /proc/[0-9]*",
    );
    let out = rig.run();
    let (so, se) = (text(&out.stdout), text(&out.stderr));
    let n = so
        .split_whitespace()
        .filter(|w| w.starts_with("/proc/"))
        .count();
    assert!(n > 1 && n <= 8, "{n} processes: {so}");
    assert!(se.contains("fork"), "{se}");
    rig.assert_clean();
}
