//! isorun run by an ordinary user (a throwaway test user made with
//! useradd): a user namespace with the caller as root, subordinate ranges
//! through newuidmap, maps from config.json, the per-user state root,
//! `spec --rootless`, the one line about cgroups, and the workload binary
//! giving a valid result.

mod common;
use common::{text, Rig};
use std::path::{Path, PathBuf};

/// The one stderr line about skipped cgroups (at most one, never silent).
fn cgroup_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("rootless: cgroups"))
        .collect()
}

#[test]
fn an_ordinary_user_is_root_only_inside_its_user_namespace() {
    let Some(rig) = Rig::rootless(
        "rl-basic",
        "id -u; id -g; cat /proc/self/uid_map; echo pid=$$; echo x > /dev/null && echo devnull-ok; echo f > /tmp/f && cat /tmp/f",
    ) else {
        return;
    };
    let u = rig.user.as_ref().unwrap();
    let out = rig.run();
    let (so, se) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{so}\n{se}");
    let lines: Vec<&str> = so.lines().collect();
    assert_eq!(&lines[..2], ["0", "0"], "{so}");
    let first: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(first, ["0", &u.uid.to_string(), "1"], "{so}");
    // useradd granted a subordinate range: newuidmap mapped it from 1.
    let sub = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    if isorun::userns::subordinate(&sub, Some(&u.name), u.uid).is_some() {
        assert!(lines[3].split_whitespace().next() == Some("1"), "{so}");
    }
    assert!(
        so.contains("pid=1\n") && so.contains("devnull-ok") && so.contains("\nf\n"),
        "{so}"
    );
    let cg = cgroup_lines(&se);
    assert!(cg.len() <= 1, "{se}");
    assert!(cg.iter().all(|l| l.contains("not writable")), "{se}");
    rig.assert_clean();
}

#[test]
fn maps_from_the_config_are_honoured() {
    let Some(rig) = Rig::rootless("rl-maps", "") else {
        return;
    };
    let u = rig.user.as_ref().unwrap();
    let (uid, gid) = (u.uid, u.gid);
    rig.config(
        |v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "user"}));
            v["linux"]["uidMappings"] =
                serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]);
            v["linux"]["gidMappings"] =
                serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        },
        "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups",
    );
    let out = rig.run();
    let so = text(&out.stdout);
    assert!(out.status.success(), "{so}\n{}", text(&out.stderr));
    let rows: Vec<Vec<&str>> = so.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["0", &uid.to_string(), "1"], "{so}");
    assert_eq!(rows[1], ["0", &gid.to_string(), "1"], "{so}");
    // Only the own ids, written directly: setgroups had to be denied.
    assert_eq!(rows[2], ["deny"], "{so}");
    // A map the user was not granted is refused with one clear line.
    rig.config(
        |v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "user"}));
            v["linux"]["uidMappings"] =
                serde_json::json!([{"containerID": 0, "hostID": 0, "size": 1}]);
            v["linux"]["gidMappings"] =
                serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        },
        "true",
    );
    let out = rig.run();
    assert!(!out.status.success());
    let se = text(&out.stderr);
    assert!(se.contains("newuidmap"), "{se}");
    rig.assert_clean();
}

#[test]
fn spec_rootless_and_the_per_user_state_root_work() {
    let Some(rig) = Rig::rootless("rl-spec", "") else {
        return;
    };
    let u = rig.user.as_ref().unwrap();
    let spec = u
        .command(rig.dir.path().join("isorun"))
        .args(["spec", "--rootless", "--bundle"])
        .arg(&rig.bundle)
        .args([
            "--",
            "/bin/sh",
            "-c",
            "cat /proc/self/uid_map; ls /sys/kernel >/dev/null && echo sys-ok",
        ])
        .output()
        .unwrap();
    assert!(spec.status.success(), "{}", text(&spec.stderr));
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rig.bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["linux"]["uidMappings"][0]["hostID"], u.uid);
    // No --root: the state goes to /tmp/isorun-UID (no XDG_RUNTIME_DIR).
    let out = u
        .command(rig.dir.path().join("isorun"))
        .args(["run", "--bundle"])
        .arg(&rig.bundle)
        .arg(&rig.id)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let so = text(&out.stdout);
    assert!(out.status.success(), "{so}\n{}", text(&out.stderr));
    assert!(so.contains("sys-ok"), "{so}");
    let root = PathBuf::from(format!("/tmp/isorun-{}", u.uid));
    let md = std::fs::metadata(&root).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((md.uid(), md.mode() & 0o777), (u.uid, 0o700));
    assert!(!root.join(&rig.id).exists());
}

#[test]
fn unapplied_limits_are_named_once_and_the_lifecycle_verbs_work() {
    let Some(rig) = Rig::rootless("rl-life", "") else {
        return;
    };
    rig.config(
        |v| {
            v["linux"]["resources"] =
                serde_json::json!({"memory": {"limit": 67108864}, "pids": {"limit": 32}});
        },
        "sleep 30",
    );
    // create's stdio goes to files: the created process keeps it open.
    let err = rig.dir.path().join("create.err");
    let create = rig
        .cmd()
        .args(["create", "--bundle", rig.bundle.to_str().unwrap(), &rig.id])
        .stdout(std::fs::File::create(rig.dir.path().join("create.out")).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    let se = std::fs::read_to_string(&err).unwrap();
    assert!(create.success(), "{se}");
    let cg = cgroup_lines(&se);
    if !cg.is_empty() {
        assert_eq!(cg.len(), 1, "{se}");
        assert!(
            cg[0].contains("memory.limit=67108864") && cg[0].contains("pids.limit=32"),
            "{se}"
        );
    }
    let state = |want: &str| {
        let o = rig.isorun(&["state", &rig.id]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["status"], want, "{}", text(&o.stderr));
    };
    state("created");
    assert!(rig.isorun(&["start", &rig.id]).status.success());
    state("running");
    assert!(rig.isorun(&["kill", &rig.id, "KILL"]).status.success());
    let del = rig.isorun(&["delete", "--force", &rig.id]);
    assert!(del.status.success(), "{}", text(&del.stderr));
    rig.assert_clean();
}

fn workload_bin() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/x86_64-unknown-linux-gnu/release/isobench-workload");
    if p.is_file() {
        Some(p)
    } else {
        isobench_testkit::missing(format!(
            "{} missing (scripts/build-workload.sh)",
            p.display()
        ));
        None
    }
}

#[test]
fn the_workload_gives_a_valid_result_in_a_rootless_container() {
    let Some(rig) = Rig::rootless("rl-work", "") else {
        return;
    };
    let Some(w) = workload_bin() else {
        return;
    };
    std::fs::copy(w, rig.bundle.join("rootfs/bin/isobench-workload")).unwrap();
    rig.config(
        |v| {
            v["process"]["args"] = serde_json::json!([
                "/bin/isobench-workload",
                "cpu",
                "--primes-max",
                "20000",
                "--matrix-n",
                "64",
                "--threads",
                "1"
            ]);
        },
        "",
    );
    let out = rig.run();
    let so = text(&out.stdout);
    assert!(out.status.success(), "{so}\n{}", text(&out.stderr));
    let line = so
        .lines()
        .find_map(|l| l.strip_prefix("ISOBENCH-RESULT "))
        .unwrap_or_else(|| panic!("no result: {so}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["valid"], true, "{line}");
    rig.assert_clean();
}

#[test]
fn root_writes_any_maps_of_the_config_itself() {
    if !common::can_run() {
        return;
    }
    let rig = Rig::new("maps-root", "");
    // The mapped root (host uid 200000) must reach the bundle.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(rig.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    rig.config(
        |v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "user"}));
            v["linux"]["uidMappings"] =
                serde_json::json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
            v["linux"]["gidMappings"] =
                serde_json::json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        },
        "id -u; cat /proc/self/uid_map; echo x > /dev/null && echo devnull-ok",
    );
    let out = rig.run();
    let so = text(&out.stdout);
    assert!(out.status.success(), "{so}\n{}", text(&out.stderr));
    let rows: Vec<Vec<&str>> = so.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["0"], "{so}");
    assert_eq!(rows[1], ["0", "200000", "65536"], "{so}");
    assert!(so.contains("devnull-ok"), "{so}");
    rig.assert_clean();
}
