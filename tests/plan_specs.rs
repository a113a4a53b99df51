//! The plan as the runner sizes it: figures the plan decides (a capped
//! fileio file, the user's command, capped STREAM arrays) reach the
//! workloads' arguments and fit the host. Across `plan`, `runner`, `host` and
//! the VM's memory sizing, so kept out of each module's own unit tests
//! (which would tie the modules into an import cycle).

use isobench::plan::{build, PlanInput};
use isobench_workloads::Workload;
use std::fs;

fn input() -> PlanInput {
    PlanInput {
        envs: vec!["native".into()],
        workloads: vec!["cpu".into(), "membw".into()],
        preset: "quick".into(),
        accel: "auto".into(),
        machine: "microvm".into(),
        host_cores: 2,
        host_llc_bytes: Some(32 << 20),
        run_id: "r1".into(),
        ..Default::default()
    }
}

/// A capped fileio file reaches the workload's `--file-size`.
#[test]
fn a_capped_fileio_file_reaches_the_workload_s_arguments() {
    let mut i = input();
    i.workloads = vec!["fileio".into()];
    i.preset = "standard".into();
    i.host_mem_available_bytes = Some(1 << 30);
    let p = build(&i).unwrap();
    assert_eq!(p.fileio_file_bytes, Some(128 << 20));
    let spec = isobench::runner::specs(&p, false)
        .remove(&Workload::Fileio)
        .unwrap();
    assert!(matches!(spec.command,
        isobench_workloads::args::Command::Fileio(c) if c.file_size == 128 << 20));
}

/// The user's command runs under the workload binary's `command` kind.
#[test]
fn a_command_runs_under_the_command_kind() {
    let mut i = input();
    i.workloads.clear();
    i.envs = vec!["native".into(), "container".into()];
    i.command.argv = vec!["/bin/busybox".into(), "true".into()];
    let p = build(&i).unwrap();
    let spec = isobench::runner::specs(&p, false)
        .remove(&Workload::Command)
        .unwrap();
    assert_eq!(spec.to_args()[0], "command");
    assert!(spec
        .to_args()
        .ends_with(&["--".into(), "/bin/busybox".into(), "true".into()]));
}

/// The host an issue was seen on: an Intel Xeon guest whose CPU reports a
/// 260 MiB L3. The probe feeds the plan, and the quick plan of every
/// environment must fit it (arrays capped, said in the notes) while the
/// standard plan follows STREAM's rule.
#[test]
fn a_260_mib_l3_host_gets_a_plan_that_fits() {
    let t = tempfile::tempdir().unwrap();
    for (idx, level, kind, size) in [
        ("index0", "1", "Data", "48K"),
        ("index1", "1", "Instruction", "32K"),
        ("index2", "2", "Unified", "2048K"),
        ("index3", "3", "Unified", "266240K"),
    ] {
        let d = t.path().join("sys/devices/system/cpu/cpu0/cache").join(idx);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("level"), format!("{level}\n")).unwrap();
        fs::write(d.join("type"), format!("{kind}\n")).unwrap();
        fs::write(d.join("size"), format!("{size}\n")).unwrap();
    }
    fs::create_dir_all(t.path().join("proc")).unwrap();
    fs::write(
        t.path().join("proc/meminfo"),
        "MemTotal:       24576000 kB\nMemFree:        23000000 kB\nMemAvailable:   23500000 kB\n",
    )
    .unwrap();
    assert_eq!(isobench::host::llc_bytes(t.path()), Some(260 << 20));
    let input = isobench::plan::PlanInput {
        envs: vec!["native".into(), "container".into(), "vm".into()],
        workloads: ["cpu", "membw", "randacc", "latency", "startup"]
            .map(String::from)
            .to_vec(),
        preset: "quick".into(),
        accel: "auto".into(),
        machine: "microvm".into(),
        host_cores: 2,
        host_llc_bytes: isobench::host::llc_bytes(t.path()),
        host_mem_available_bytes: isobench::host::mem_available_bytes(t.path()),
        run_id: "r".into(),
        ..Default::default()
    };
    let plan = isobench::plan::build(&input).unwrap();
    assert_eq!(
        plan.membw_array_bytes,
        Some(isobench::plan::SHORT_PRESET_ARRAY_CAP)
    );
    assert!(plan.notes[0].contains("1040 MiB"));
    // What the guest must hold, at both sizings, is found by test boots
    // (here a guest keeping 45 MiB + 6.7% of its memory, as measured on
    // Debian's cloud kernel) and fits the host.
    for emulated in [false, true] {
        let need = isobench::runner::memory_need_bytes(&isobench::runner::specs(&plan, emulated));
        assert_eq!(need, 3 * isobench::plan::SHORT_PRESET_ARRAY_CAP);
        let guest = |m: u64| Ok::<f64, ()>(m as f64 * 0.933 - 45.0);
        let start = isobench::env::vm::memory::initial_guess(need);
        let (m, avail) = isobench::env::vm::memory::find_size(need, start, guest)
            .unwrap()
            .unwrap();
        assert!(avail >= (need >> 20) as f64);
        assert!(m << 20 < isobench::host::mem_available_bytes(t.path()).unwrap());
    }
}
