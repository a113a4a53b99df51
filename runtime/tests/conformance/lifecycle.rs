//! Runtime spec "Lifecycle" and "Operations": create, start, kill, delete,
//! and what each must refuse (runtime-tools: create, start, kill, killsig,
//! kill_no_effect, delete, delete_only_create_resources,
//! config_updates_without_affect).

use crate::conformance;
use crate::harness::{text, Ct};
use anyhow::ensure;

conformance!(create_does_not_run_the_process_start_does, |rt| {
    let ct = Ct::new(rt, "create", "echo started > /started");
    ct.create()?;
    ensure!(
        ct.status() == "created",
        "status after create: {}",
        ct.status()
    );
    let started = ct.rootfs().join("started");
    ensure!(!started.exists(), "the process ran before start");
    ct.start()?;
    ct.wait_file(&started)?;
    ct.wait_status("stopped")?;
    Ok(())
});

conformance!(create_with_an_existing_id_fails, |rt| {
    let ct = Ct::new(rt, "dupid", "sleep 30");
    ct.create()?;
    let again = ct.create();
    ensure!(again.is_err(), "a second create with the same id succeeded");
    ensure!(
        ct.status() == "created",
        "the first container was disturbed"
    );
    Ok(())
});

conformance!(start_of_a_running_container_fails, |rt| {
    let ct = Ct::new(rt, "start2", "sleep 30");
    ct.create()?;
    ct.start()?;
    ct.wait_status("running")?;
    ensure!(
        ct.start().is_err(),
        "start of a running container succeeded"
    );
    Ok(())
});

conformance!(start_of_an_unknown_container_fails, |rt| {
    let ct = Ct::new(rt, "startnone", "true");
    ensure!(ct.start().is_err(), "start of an unknown id succeeded");
    Ok(())
});

conformance!(kill_signals_a_created_container, |rt| {
    let ct = Ct::new(rt, "killcreated", "sleep 30");
    ct.create()?;
    ct.kill("KILL")?;
    ct.wait_status("stopped")?;
    Ok(())
});

conformance!(kill_delivers_the_named_signal, |rt| {
    // The process reports the signal it got; TERM is trapped, so only
    // the right signal ends it through the trap.
    let ct = Ct::new(
        rt,
        "killsig",
        "trap 'echo got-usr1 > /sig; exit 0' USR1; touch /ready; while true; do sleep 0.1; done",
    );
    ct.create()?;
    ct.start()?;
    ct.wait_file(&ct.rootfs().join("ready"))?;
    ct.kill("SIGUSR1")?;
    ct.wait_status("stopped")?;
    let got = std::fs::read_to_string(ct.rootfs().join("sig")).unwrap_or_default();
    ensure!(got.trim() == "got-usr1", "the process saw {got:?}");
    Ok(())
});

conformance!(kill_of_a_stopped_container_fails, |rt| {
    let ct = Ct::new(rt, "killstopped", "true");
    ct.create()?;
    ct.start()?;
    ct.wait_status("stopped")?;
    ensure!(
        ct.kill("KILL").is_err(),
        "kill of a stopped container succeeded"
    );
    ensure!(
        ct.status() == "stopped",
        "status changed to {}",
        ct.status()
    );
    Ok(())
});

conformance!(delete_of_a_running_container_fails_stopped_succeeds, |rt| {
    let ct = Ct::new(rt, "delete", "sleep 30");
    ct.create()?;
    ct.start()?;
    ct.wait_status("running")?;
    ensure!(
        !ct.delete().status.success(),
        "delete of a running container succeeded"
    );
    ensure!(ct.status() == "running", "delete disturbed the container");
    ct.kill("KILL")?;
    ct.wait_status("stopped")?;
    let d = ct.delete();
    ensure!(d.status.success(), "delete: {}", text(&d.stderr));
    ensure!(ct.state().is_err(), "state still answers after delete");
    Ok(())
});

conformance!(delete_of_an_unknown_container_fails, |rt| {
    let ct = Ct::new(rt, "deletenone", "true");
    ensure!(
        !ct.delete().status.success(),
        "delete of an unknown id succeeded"
    );
    Ok(())
});

conformance!(delete_of_a_created_container_releases_its_resources, |rt| {
    let ct = Ct::new(rt, "delcreated", "sleep 30");
    ct.create()?;
    let pid = ct.pid()?;
    ensure!(pid > 0, "pid {pid}");
    let o = ct.verb(&["delete", "--force", &ct.id]);
    ensure!(o.status.success(), "delete --force: {}", text(&o.stderr));
    ensure!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true),
        "process {pid} survived delete"
    );
    ensure!(ct.state().is_err(), "state still answers after delete");
    Ok(())
});

conformance!(
    config_changes_after_create_do_not_affect_the_container,
    |rt| {
        let mut ct = Ct::new(rt, "cfgupdate", "echo original > /which");
        ct.create()?;
        // The bundle's config.json now asks for something else.
        ct.edit(|v| {
            v["process"]["args"] = serde_json::json!(["/bin/sh", "-c", "echo changed > /which"]);
        });
        ct.write_config();
        ct.start()?;
        let which = ct.rootfs().join("which");
        ct.wait_file(&which)?;
        ct.wait_status("stopped")?;
        let got = std::fs::read_to_string(&which)?;
        ensure!(
            got.trim() == "original",
            "start ran the changed config: {got:?}"
        );
        Ok(())
    }
);

conformance!(run_exits_with_the_process_status, |rt| {
    let ct = Ct::new(rt, "runstatus", "exit 7");
    let o = ct.run();
    ensure!(
        o.status.code() == Some(7),
        "run exited {:?}",
        o.status.code()
    );
    Ok(())
});

// `exec` is runc's verb, not the spec's: engines (podman exec) need it.

/// A running container for exec tests.
fn running(rt: &crate::harness::Runtime, name: &str) -> anyhow::Result<Ct> {
    let mut ct = Ct::new(rt, name, "sleep 60");
    std::fs::create_dir_all(ct.rootfs().join("work"))?;
    ct.edit(|v| v["process"]["env"] = serde_json::json!(["PATH=/bin", "BASE=base"]));
    ct.create()?;
    ct.start()?;
    ct.wait_status("running")?;
    Ok(ct)
}

conformance!(exec_joins_every_namespace_and_the_cgroup, |rt| {
    let ct = running(rt, "execns")?;
    let pidfile = ct.dir.path().join("exec.pid");
    // Detached: its output must not hold a pipe the test waits on.
    let o = ct
        .cmd()
        .args([
            "exec",
            "--detach",
            "--pid-file",
            pidfile.to_str().unwrap(),
            &ct.id,
        ])
        .args(["sleep", "30"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(ct.dir.path().join("exec.err"))?)
        .status()?;
    let err = std::fs::read_to_string(ct.dir.path().join("exec.err")).unwrap_or_default();
    ensure!(o.success(), "exec: {err}");
    let pid: i32 = std::fs::read_to_string(&pidfile)?.trim().parse()?;
    let init = ct.pid()?;
    for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        let (a, b) = (
            crate::harness::ns_of(pid, ns)?,
            crate::harness::ns_of(init, ns)?,
        );
        ensure!(a == b, "{ns}: exec'd {a}, container {b}");
    }
    let cg = |p: i32| std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap_or_default();
    ensure!(
        cg(pid) == cg(init),
        "cgroups differ:\n{}\n{}",
        cg(pid),
        cg(init)
    );
    Ok(())
});

conformance!(exec_runs_a_command_with_overrides, |rt| {
    let ct = running(rt, "execcmd")?;
    let o = ct.verb(&[
        "exec",
        "--env",
        "EXTRA=x",
        "--cwd",
        "/work",
        "--user",
        "1000:1001",
        &ct.id,
        "sh",
        "-c",
        "echo \"$BASE|$EXTRA|$(pwd)|$(id -u):$(id -g)\"; exit 5",
    ]);
    ensure!(
        o.status.code() == Some(5),
        "exit {:?}: {}",
        o.status.code(),
        text(&o.stderr)
    );
    let out = text(&o.stdout);
    ensure!(out.trim() == "base|x|/work|1000:1001", "{out:?}");
    Ok(())
});

conformance!(exec_runs_a_process_json, |rt| {
    let ct = running(rt, "execjson")?;
    let f = ct.dir.path().join("process.json");
    std::fs::write(
        &f,
        serde_json::to_vec(&serde_json::json!({
            "args": ["/bin/sh", "-c", "echo \"$ONLY|$(pwd)|$(id -u)\""],
            "env": ["PATH=/bin", "ONLY=json"],
            "cwd": "/work",
            "user": {"uid": 7, "gid": 7}
        }))?,
    )?;
    let o = ct.verb(&["exec", "--process", f.to_str().unwrap(), &ct.id]);
    ensure!(o.status.success(), "exec: {}", text(&o.stderr));
    let out = text(&o.stdout);
    ensure!(out.trim() == "json|/work|7", "{out:?}");
    Ok(())
});

conformance!(exec_in_a_stopped_container_fails, |rt| {
    let ct = Ct::new(rt, "execstopped", "true");
    ct.create()?;
    ct.start()?;
    ct.wait_status("stopped")?;
    let o = ct.verb(&["exec", &ct.id, "true"]);
    ensure!(
        !o.status.success(),
        "exec into a stopped container succeeded"
    );
    Ok(())
});
