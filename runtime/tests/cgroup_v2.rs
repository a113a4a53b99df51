//! cgroup v2 logic on the host's real cgroup2 mount, where there is one (on
//! a hybrid v1 host it is the empty /sys/fs/cgroup/unified): create a
//! cgroup, move a process in, see it listed, remove the cgroup.

use isorun::cgroup::{v2, Cgroup};
use isorun::config::Resources;
use std::path::PathBuf;

fn cgroup2_mount() -> Option<PathBuf> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mi.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        right
            .starts_with("cgroup2 ")
            .then(|| left.split(' ').nth(4).map(PathBuf::from))
            .flatten()
    })
}

#[test]
fn real_cgroup2_mount_create_join_remove() {
    let Some(root) = cgroup2_mount() else {
        isobench_testkit::not_on_this_host("no cgroup2 mount on this host");
        return;
    };
    if !isobench_testkit::require_root("to create cgroups") {
        return;
    }
    let rel = format!("/isorun-test-{}", std::process::id());
    let cg = v2::create(&root, &rel, &Resources::default()).unwrap();
    assert_eq!(
        cg,
        Cgroup {
            version: 2,
            dirs: vec![root.join(rel.trim_start_matches('/'))]
        }
    );
    // A separate process is moved, never the test runner itself.
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    cg.add(child.id() as i32).unwrap();
    assert_eq!(cg.pids(), vec![child.id() as i32]);
    child.kill().unwrap();
    child.wait().unwrap();
    cg.remove().unwrap();
    assert!(!cg.dirs[0].exists());
}
