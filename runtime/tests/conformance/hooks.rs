//! Runtime spec config "POSIX-platform Hooks" and runtime "Lifecycle":
//! every hook kind, called in order with the state on stdin, args, env,
//! timeouts and each kind's failure semantics (runtime-tools: hooks,
//! hooks_stdin, prestart, prestart_fail, poststart, poststart_fail,
//! poststop, poststop_fail).

use crate::conformance;
use crate::harness::{Ct, Runtime, BUSYBOX};
use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::path::Path;

/// A hook running `script` with busybox sh (a host path; busybox is also
/// at the same path in the container's root).
fn hook(script: &str) -> Value {
    json!({"path": BUSYBOX, "args": ["sh", "-c", script]})
}

/// A hook that reads its stdin and fails (reading first: a runtime that
/// writes the state after the hook exited would race with SIGPIPE).
fn failing() -> Value {
    hook(&format!("{BUSYBOX} cat > /dev/null; exit 3"))
}

/// A hook that appends `kind` to `log` and saves its stdin as `<dir>/<kind>.json`.
fn recorder(kind: &str, log: &Path, dir: &Path) -> Value {
    hook(&format!(
        "echo {kind} >> {log}; {BUSYBOX} cat > {dir}/{kind}.json",
        log = log.display(),
        dir = dir.display()
    ))
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn state_file(p: &Path) -> Result<Value> {
    let t = std::fs::read(p).with_context(|| format!("{} not written", p.display()))?;
    serde_json::from_slice(&t).with_context(|| format!("{} is no JSON", p.display()))
}

conformance!(
    every_hook_kind_runs_in_order_with_the_state_on_stdin,
    |rt| {
        let mut ct = Ct::new(
            rt,
            "hooks",
            "test -e /startContainer.json && echo after-start",
        );
        let dir = ct.dir.path().join("hooks");
        std::fs::create_dir_all(&dir)?;
        let log = dir.join("log");
        let (l, d) = (log.clone(), dir.clone());
        ct.edit(|v| {
            v["annotations"] = json!({"org.isobench.hook": "yes"});
            v["hooks"] = json!({
                "prestart": [recorder("prestart", &l, &d)],
                "createRuntime": [recorder("createRuntime", &l, &d)],
                "createContainer": [recorder("createContainer", &l, &d)],
                // Runs in the container after pivot_root: writes into its root.
                "startContainer": [hook(&format!("{BUSYBOX} cat > /startContainer.json"))],
                "poststart": [recorder("poststart", &l, &d)],
                "poststop": [recorder("poststop", &l, &d)],
            });
        });
        ct.create()?;
        let pid = ct.pid()?;
        ensure!(
            lines(&log) == ["prestart", "createRuntime", "createContainer"],
            "after create: {:?}",
            lines(&log)
        );
        ensure!(
            !ct.rootfs().join("startContainer.json").exists(),
            "startContainer ran at create"
        );
        ct.start()?;
        ct.wait_status("stopped")?;
        ensure!(
            ct.out().contains("after-start"),
            "the process ran before startContainer"
        );
        ensure!(
            lines(&log) == ["prestart", "createRuntime", "createContainer", "poststart"],
            "after start: {:?}",
            lines(&log)
        );
        let d = ct.delete();
        ensure!(
            d.status.success(),
            "delete: {}",
            String::from_utf8_lossy(&d.stderr)
        );
        ensure!(
            lines(&log).last().map(String::as_str) == Some("poststop"),
            "{:?}",
            lines(&log)
        );
        for (kind, statuses) in [
            ("prestart", &["creating", "created"][..]),
            ("createRuntime", &["creating", "created"][..]),
            ("createContainer", &["creating", "created"][..]),
            ("poststart", &["running"][..]),
            ("poststop", &["stopped"][..]),
        ] {
            let s = state_file(&dir.join(format!("{kind}.json")))?;
            ensure!(s["id"] == ct.id.as_str(), "{kind}: id {s}");
            ensure!(
                s["bundle"] == ct.bundle.to_str().unwrap(),
                "{kind}: bundle {s}"
            );
            ensure!(
                s["annotations"]["org.isobench.hook"] == "yes",
                "{kind}: annotations {s}"
            );
            ensure!(
                statuses.iter().any(|x| s["status"] == *x),
                "{kind}: status {} (expected one of {statuses:?})",
                s["status"]
            );
            if kind != "poststop" {
                ensure!(
                    s["pid"] == pid,
                    "{kind}: pid {} (container {pid})",
                    s["pid"]
                );
            }
        }
        let s = state_file(&ct.rootfs().join("startContainer.json"))?;
        ensure!(s["id"] == ct.id.as_str(), "startContainer: id {s}");
        Ok(())
    }
);

conformance!(hooks_get_their_args_and_only_their_env, |rt| {
    let mut ct = Ct::new(rt, "hookenv", "true");
    let out = ct.dir.path().join("hookenv");
    let o = out.display().to_string();
    ct.edit(|v| {
        v["hooks"] = json!({"createRuntime": [{
            "path": BUSYBOX,
            "args": ["sh", "-c", format!("echo \"$0|$1|$HOOKVAR|${{CONFORMANCE_LEAK:-none}}\" > {o}"), "zero", "one"],
            "env": ["HOOKVAR=hook value"]
        }]});
    });
    ct.write_config();
    let st = ct
        .cmd()
        .env("CONFORMANCE_LEAK", "leaked")
        .arg("run")
        .arg("--bundle")
        .arg(&ct.bundle)
        .arg(&ct.id)
        .output()?;
    ensure!(
        st.status.success(),
        "run: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let got = std::fs::read_to_string(&out)?;
    ensure!(got.trim() == "zero|one|hook value|none", "{got:?}");
    Ok(())
});

/// A failing hook of `kind` at create: create fails, the process never
/// runs, the container is gone.
fn create_hook_failure(rt: &Runtime, kind: &str) -> Result<()> {
    // The same hook succeeding must not fail create (a runtime refusing
    // hooks altogether passes nothing here).
    let mut ok = Ct::new(rt, &format!("ok-{kind}"), "true");
    ok.edit(|v| v["hooks"] = json!({ kind: [hook("exit 0")] }));
    ok.create()?;
    drop(ok);
    let mut ct = Ct::new(rt, &format!("fail-{kind}"), "touch /output");
    ct.edit(|v| v["hooks"] = json!({ kind: [failing()] }));
    ensure!(
        ct.create().is_err(),
        "create succeeded with a failing {kind} hook"
    );
    let _ = ct.start();
    ensure!(!ct.rootfs().join("output").exists(), "the process ran");
    ensure!(ct.state().is_err(), "the container still exists");
    Ok(())
}

conformance!(failing_prestart_fails_create, |rt| create_hook_failure(
    rt, "prestart"
));
conformance!(failing_create_runtime_fails_create, |rt| {
    create_hook_failure(rt, "createRuntime")
});
conformance!(failing_create_container_fails_create, |rt| {
    create_hook_failure(rt, "createContainer")
});

conformance!(failing_start_container_fails_start, |rt| {
    let mut ct = Ct::new(rt, "fail-startContainer", "touch /output");
    ct.edit(|v| v["hooks"] = json!({"startContainer": [failing()]}));
    ct.create()?;
    ensure!(
        ct.start().is_err(),
        "start succeeded with a failing startContainer hook"
    );
    ensure!(!ct.rootfs().join("output").exists(), "the process ran");
    Ok(())
});

conformance!(failing_poststart_is_a_warning, |rt| {
    let mut ct = Ct::new(rt, "fail-poststart", "touch /output");
    let second = ct.dir.path().join("second");
    let s = second.display().to_string();
    ct.edit(|v| v["hooks"] = json!({"poststart": [failing(), hook(&format!("touch {s}"))]}));
    ct.create()?;
    ct.start()?;
    ct.wait_status("stopped")?;
    ensure!(
        ct.rootfs().join("output").exists(),
        "the process did not run"
    );
    ensure!(
        second.exists(),
        "the hooks after the failing one did not run"
    );
    Ok(())
});

conformance!(failing_poststop_is_a_warning, |rt| {
    let mut ct = Ct::new(rt, "fail-poststop", "true");
    let second = ct.dir.path().join("second");
    let s = second.display().to_string();
    ct.edit(|v| v["hooks"] = json!({"poststop": [failing(), hook(&format!("touch {s}"))]}));
    ct.create()?;
    ct.start()?;
    ct.wait_status("stopped")?;
    let d = ct.delete();
    ensure!(
        d.status.success(),
        "delete failed: {}",
        String::from_utf8_lossy(&d.stderr)
    );
    ensure!(ct.state().is_err(), "the container still exists");
    ensure!(
        second.exists(),
        "the hooks after the failing one did not run"
    );
    Ok(())
});

conformance!(hook_over_its_timeout_fails, |rt| {
    let mut ok = Ct::new(rt, "hookintime", "true");
    ok.edit(|v| {
        let mut h = hook("exit 0");
        h["timeout"] = 5.into();
        v["hooks"] = json!({ "createRuntime": [h] });
    });
    ok.create()?;
    drop(ok);
    let mut ct = Ct::new(rt, "hooktimeout", "touch /output");
    ct.edit(|v| {
        let mut h = hook(&format!(
            "{BUSYBOX} sleep {}",
            crate::harness::PATIENCE.as_secs()
        ));
        h["timeout"] = 1.into();
        v["hooks"] = json!({ "createRuntime": [h] });
    });
    ensure!(ct.create().is_err(), "create outlived a hook's timeout");
    ensure!(!ct.rootfs().join("output").exists(), "the process ran");
    Ok(())
});

conformance!(hooks_are_the_ones_of_create, |rt| {
    let mut ct = Ct::new(rt, "hookcfg", "true");
    let mark = ct.dir.path().join("mark");
    let m = mark.display().to_string();
    ct.edit(|v| v["hooks"] = json!({"poststart": [hook(&format!("echo original > {m}"))]}));
    ct.create()?;
    ct.edit(|v| v["hooks"] = json!({"poststart": [hook(&format!("echo changed > {m}"))]}));
    ct.write_config();
    ct.start()?;
    let got = std::fs::read_to_string(&mark).unwrap_or_default();
    ensure!(
        got.trim() == "original",
        "poststart of the changed config: {got:?}"
    );
    Ok(())
});
