//! Runtime spec "State" and the `state` operation, and runc's `--pid-file`
//! (runtime-tools: state, pidfile, misc_props).

use crate::conformance;
use crate::harness::Ct;
use anyhow::{ensure, Context};

conformance!(state_has_the_required_fields, |rt| {
    let mut ct = Ct::new(rt, "state", "sleep 30");
    ct.edit(|v| v["annotations"] = serde_json::json!({"org.isobench.test": "value"}));
    ct.create()?;
    let s = ct.state()?;
    ensure!(
        s["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "ociVersion: {s}"
    );
    ensure!(s["id"] == ct.id.as_str(), "id: {s}");
    ensure!(s["status"] == "created", "status: {s}");
    let pid = s["pid"].as_i64().context("pid")?;
    ensure!(pid > 0, "pid: {s}");
    ensure!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} is no process of this host"
    );
    let bundle = s["bundle"].as_str().context("bundle")?;
    ensure!(
        std::path::Path::new(bundle) == ct.bundle,
        "bundle {bundle} (expected the absolute {})",
        ct.bundle.display()
    );
    ensure!(
        s["annotations"]["org.isobench.test"] == "value",
        "annotations: {s}"
    );
    Ok(())
});

conformance!(state_follows_the_lifecycle, |rt| {
    let ct = Ct::new(rt, "states", "sleep 30");
    ct.create()?;
    ensure!(ct.status() == "created", "after create: {}", ct.status());
    ct.start()?;
    ensure!(ct.status() == "running", "after start: {}", ct.status());
    ct.kill("KILL")?;
    ct.wait_status("stopped")?;
    Ok(())
});

conformance!(state_of_an_unknown_container_fails, |rt| {
    let ct = Ct::new(rt, "statenone", "true");
    ensure!(ct.state().is_err(), "state of an unknown id succeeded");
    Ok(())
});

conformance!(pid_file_holds_the_container_pid, |rt| {
    let ct = Ct::new(rt, "pidfile", "sleep 30");
    let pidfile = ct.dir.path().join("pid");
    ct.create_with(&["--pid-file", pidfile.to_str().unwrap()])?;
    let text = std::fs::read_to_string(&pidfile)?;
    // runc writes the number alone, no newline.
    let pid: i32 = text.parse().with_context(|| format!("pid file {text:?}"))?;
    ensure!(pid == ct.pid()?, "pid file {pid}, state {}", ct.pid()?);
    Ok(())
});

conformance!(pid_file_may_be_relative_to_the_caller, |rt| {
    let ct = Ct::new(rt, "pidrel", "sleep 30");
    ct.write_config();
    let st = ct
        .cmd()
        .current_dir(ct.dir.path())
        .args(["create", "--pid-file", "rel.pid", "--bundle"])
        .arg(&ct.bundle)
        .arg(&ct.id)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()?;
    ensure!(st.success(), "create with a relative --pid-file failed");
    let text = std::fs::read_to_string(ct.dir.path().join("rel.pid"))?;
    ensure!(text.parse::<i32>()? == ct.pid()?, "pid file {text:?}");
    Ok(())
});
