//! Runtime spec config "Process", "Hostname" and the Linux process
//! properties (runtime-tools: process, process_user, process_capabilities,
//! process_capabilities_fail, process_rlimits, process_rlimits_fail,
//! process_oom_score_adj, hostname, linux_process).

use crate::conformance;
use crate::harness::Ct;
use anyhow::{ensure, Context};

/// The value of `Key:` in /proc/self/status as printed by the container.
fn field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim_start_matches(':').trim())
}

conformance!(args_env_and_cwd_reach_the_process, |rt| {
    let mut ct = Ct::new(rt, "argsenv", "");
    std::fs::create_dir_all(ct.rootfs().join("work/dir"))?;
    ct.edit(|v| {
        v["process"]["args"] =
            serde_json::json!(["/bin/sh", "-c", "echo \"$0|$1|$FOO|$(pwd)\"", "zero", "one"]);
        v["process"]["env"] = serde_json::json!(["PATH=/bin", "FOO=bar baz"]);
        v["process"]["cwd"] = "/work/dir".into();
    });
    let out = ct.run_ok()?;
    ensure!(out.trim() == "zero|one|bar baz|/work/dir", "{out:?}");
    Ok(())
});

conformance!(user_uid_gid_and_additional_gids_are_set, |rt| {
    let mut ct = Ct::new(rt, "user", "id -u; id -g; id -G");
    ct.edit(|v| {
        v["process"]["user"] =
            serde_json::json!({"uid": 1234, "gid": 2345, "additionalGids": [3456, 4567]});
    });
    let out = ct.run_ok()?;
    let l: Vec<&str> = out.lines().collect();
    ensure!(l.len() == 3 && l[0] == "1234" && l[1] == "2345", "{out:?}");
    let groups: Vec<&str> = l[2].split_whitespace().collect();
    ensure!(
        groups.contains(&"3456") && groups.contains(&"4567"),
        "groups {groups:?}"
    );
    Ok(())
});

conformance!(umask_is_applied, |rt| {
    let mut ct = Ct::new(rt, "umask", "umask");
    ct.edit(|v| v["process"]["user"]["umask"] = 0o027.into());
    let out = ct.run_ok()?;
    ensure!(out.trim() == "0027", "{out:?}");
    Ok(())
});

conformance!(capabilities_are_exactly_the_configured_sets, |rt| {
    let mut ct = Ct::new(rt, "caps", "grep Cap /proc/self/status");
    ct.edit(|v| {
        // CAP_CHOWN (0) and CAP_KILL (5): bits 0x21.
        let c = serde_json::json!(["CAP_CHOWN", "CAP_KILL"]);
        v["process"]["capabilities"] = serde_json::json!({
            "bounding": c, "effective": c, "permitted": c, "inheritable": c, "ambient": c
        });
        v["process"]["noNewPrivileges"] = false.into();
    });
    let out = ct.run_ok()?;
    for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        let v = field(&out, k).with_context(|| format!("{k} in {out:?}"))?;
        ensure!(u64::from_str_radix(v, 16)? == 0x21, "{k} {v}");
    }
    Ok(())
});

conformance!(unknown_capability_fails_create, |rt| {
    let mut ct = Ct::new(rt, "capbad", "true");
    ct.edit(|v| v["process"]["capabilities"]["bounding"] = serde_json::json!(["CAP_NO_SUCH"]));
    let o = ct.run();
    ensure!(!o.status.success(), "an unknown capability was accepted");
    Ok(())
});

conformance!(rlimits_are_set, |rt| {
    let mut ct = Ct::new(rt, "rlimit", "ulimit -n; ulimit -Hn");
    ct.edit(|v| {
        v["process"]["rlimits"] =
            serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 500, "hard": 600}]);
    });
    let out = ct.run_ok()?;
    ensure!(
        out.split_whitespace().collect::<Vec<_>>() == ["500", "600"],
        "{out:?}"
    );
    Ok(())
});

conformance!(unknown_rlimit_fails_create, |rt| {
    let mut ct = Ct::new(rt, "rlimitbad", "true");
    ct.edit(|v| {
        v["process"]["rlimits"] =
            serde_json::json!([{"type": "RLIMIT_NO_SUCH", "soft": 1, "hard": 1}]);
    });
    ensure!(!ct.run().status.success(), "an unknown rlimit was accepted");
    Ok(())
});

conformance!(no_new_privileges_is_set, |rt| {
    let ct = Ct::new(rt, "nnp", "grep NoNewPrivs /proc/self/status");
    let out = ct.run_ok()?;
    ensure!(field(&out, "NoNewPrivs") == Some("1"), "{out:?}");
    Ok(())
});

conformance!(oom_score_adj_is_set, |rt| {
    let mut ct = Ct::new(rt, "oomadj", "cat /proc/self/oom_score_adj");
    ct.edit(|v| v["process"]["oomScoreAdj"] = 123.into());
    let out = ct.run_ok()?;
    ensure!(out.trim() == "123", "{out:?}");
    Ok(())
});

conformance!(hostname_is_set, |rt| {
    let mut ct = Ct::new(rt, "hostname", "hostname");
    ct.edit(|v| v["hostname"] = "conformance-host".into());
    let out = ct.run_ok()?;
    ensure!(out.trim() == "conformance-host", "{out:?}");
    Ok(())
});

conformance!(relative_cwd_is_refused, |rt| {
    let mut ct = Ct::new(rt, "cwdrel", "true");
    ct.edit(|v| v["process"]["cwd"] = "relative".into());
    ensure!(!ct.run().status.success(), "a relative cwd was accepted");
    Ok(())
});
