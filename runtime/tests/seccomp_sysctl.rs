//! Seccomp profiles and namespaced sysctls, for real under `isorun run`:
//! a profile that denies mkdir makes mkdir fail with the profile's errno
//! (and nothing else), a sysctl lands in the container's own network
//! namespace and not on the host, a netns is joined by path.

mod common;

use common::{can_run, text, Rig};

#[test]
fn seccomp_profile_denies_what_it_names_only() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("seccomp", "true");
    rig.config(
        |v| {
            v["linux"]["seccomp"] = serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
            })
        },
        "grep '^Seccomp:' /proc/self/status; /bin/busybox mkdir /tmp/x 2>&1; echo after",
    );
    let out = rig.run();
    let so = text(&out.stdout);
    assert!(so.contains("Seccomp:\t2"), "{so} {}", text(&out.stderr));
    assert!(so.contains("Operation not permitted"), "{so}");
    assert!(so.contains("after"), "{so}");
    rig.assert_clean();
}

#[test]
fn sysctl_is_set_in_the_containers_network_namespace_only() {
    if !can_run() {
        return;
    }
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap();
    let rig = Rig::new("sysctl", "true");
    rig.config(
        |v| {
            v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ping_group_range": "0 0"});
            let ns = v["linux"]["namespaces"].as_array_mut().unwrap();
            if !ns.iter().any(|n| n["type"] == "network") {
                ns.push(serde_json::json!({"type": "network"}));
            }
        },
        "cat /proc/sys/net/ipv4/ping_group_range",
    );
    let out = rig.run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "0\t0");
    let after = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap();
    assert_eq!(host, after, "the host's value changed");
    rig.assert_clean();
}

#[test]
fn host_wide_sysctl_is_refused_by_name() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("sysctl-host", "true");
    rig.config(
        |v| v["linux"]["sysctl"] = serde_json::json!({"vm.swappiness": "1"}),
        "true",
    );
    let out = rig.run();
    assert!(!out.status.success());
    let se = text(&out.stderr);
    assert!(se.contains("linux.sysctl.vm.swappiness"), "{se}");
    rig.assert_clean();
}
