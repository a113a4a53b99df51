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
