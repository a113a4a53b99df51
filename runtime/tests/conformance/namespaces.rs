//! Runtime spec config "Linux: Namespaces" and "User namespace mappings"
//! (runtime-tools: linux_ns_nopath, linux_ns_itype, linux_ns_path,
//! linux_ns_path_type, linux_uid_mappings, linux_gid_mappings).

use crate::conformance;
use crate::harness::{ns_of, Ct, Runtime, Unshared};
use anyhow::{ensure, Result};

const ALL: &[(&str, &str)] = &[
    ("pid", "pid"),
    ("network", "net"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("mount", "mnt"),
    ("cgroup", "cgroup"),
];

conformance!(listed_namespaces_are_new, |rt| {
    let ct = Ct::new(rt, "nsnew", "sleep 30");
    ct.create()?;
    let pid = ct.pid()?;
    let me = std::process::id() as i32;
    for (_, ns) in ALL {
        ensure!(
            ns_of(pid, ns)? != ns_of(me, ns)?,
            "{ns} namespace is the host's"
        );
    }
    Ok(())
});

conformance!(unlisted_namespaces_are_the_runtimes, |rt| {
    let mut ct = Ct::new(rt, "nsshared", "sleep 30");
    ct.edit(|v| {
        v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "mount"}]);
        v.as_object_mut().unwrap().remove("hostname");
    });
    ct.create()?;
    let pid = ct.pid()?;
    let me = std::process::id() as i32;
    for ns in ["net", "ipc", "uts"] {
        ensure!(
            ns_of(pid, ns)? == ns_of(me, ns)?,
            "{ns} namespace is not the host's"
        );
    }
    Ok(())
});

/// Create a container joining the namespace of type `typ` that a fresh
/// `unshare <flag>` made, and check it is in it.
fn joins(rt: &Runtime, typ: &str, ns: &str, flag: &str) -> Result<()> {
    let u = Unshared::new(&[flag])?;
    let path = u.ns_path(ns)?;
    let want = std::fs::read_link(&path)?.display().to_string();
    let mut ct = Ct::new(rt, &format!("nspath-{ns}"), "sleep 30");
    let p = path.display().to_string();
    ct.edit(|v| {
        for n in v["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == typ {
                n["path"] = p.clone().into();
            }
        }
    });
    ct.create()?;
    let got = ns_of(ct.pid()?, ns)?;
    ensure!(got == want, "{ns} namespace {got}, expected {want}");
    // And the container runs there.
    ct.start()?;
    ct.wait_status("running")?;
    Ok(())
}

conformance!(namespace_path_network, |rt| joins(
    rt, "network", "net", "--net"
));
conformance!(namespace_path_ipc, |rt| joins(rt, "ipc", "ipc", "--ipc"));
conformance!(namespace_path_uts, |rt| joins(rt, "uts", "uts", "--uts"));
conformance!(namespace_path_mount, |rt| joins(
    rt, "mount", "mnt", "--mount"
));
conformance!(namespace_path_pid, |rt| joins(rt, "pid", "pid", "--pid"));
conformance!(namespace_path_cgroup, |rt| joins(
    rt, "cgroup", "cgroup", "--cgroup"
));

conformance!(namespace_path_of_the_wrong_type_fails, |rt| {
    let u = Unshared::new(&["--net"])?;
    let path = u.ns_path("net")?.display().to_string();
    let mut ct = Ct::new(rt, "nswrong", "true");
    ct.edit(|v| {
        for n in v["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "ipc" {
                n["path"] = path.clone().into();
            }
        }
    });
    ensure!(
        !ct.run().status.success(),
        "a net namespace was joined as ipc"
    );
    Ok(())
});

conformance!(user_namespace_mappings_are_written, |rt| {
    let mut ct = Ct::new(rt, "userns", "cat /proc/self/uid_map /proc/self/gid_map");
    ct.edit(|v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        let map = serde_json::json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        v["linux"]["uidMappings"] = map.clone();
        v["linux"]["gidMappings"] = map;
    });
    let out = ct.run_ok()?;
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    ensure!(
        lines.len() == 2 && lines.iter().all(|l| l == &["0", "200000", "65536"]),
        "{out:?}"
    );
    Ok(())
});
