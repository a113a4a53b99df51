//! Claim C7 end to end, as root: layer reuse of isorun's store (its own
//! builder and umoci's OCI layouts), and the copy-on-write workloads in the
//! native column and under isorun, with nothing left behind. A missing
//! prerequisite is a recorded skip (`isobench_testkit`), a failure under
//! `CI=true`.

use isobench::env::column::{Oci, Runtime};
use isobench::env::container::ContainerEnv;
use isobench::env::native::Native;
use isobench::env::{EnvContext, Environment};
use isobench_workloads::cow;
use isobench_workloads::spec::{Workload, WorkloadSpec};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// The static workload binary and the newest isorun.
fn prerequisites() -> Option<(PathBuf, PathBuf)> {
    if !isobench_testkit::require_root("overlay mounts, containers") {
        return None;
    }
    let t = target_dir();
    let workload = t.join("x86_64-unknown-linux-gnu/release/isobench-workload");
    let isorun = ["debug", "release"]
        .iter()
        .map(|p| t.join(p).join("isorun"))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    match (workload.is_file(), isorun) {
        (true, Some(i)) => Some((workload, i)),
        (false, _) => {
            isobench_testkit::missing(format!(
                "{} missing (scripts/build-workload.sh)",
                workload.display()
            ));
            None
        }
        (_, None) => {
            isobench_testkit::missing("isorun binary missing (cargo build -p isorun)");
            None
        }
    }
}

fn spec(args: &[&str]) -> WorkloadSpec {
    WorkloadSpec {
        workload: args[0].parse().unwrap(),
        args: args.iter().map(|s| s.to_string()).collect(),
    }
}

fn mounts_under(p: &Path) -> usize {
    let m = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let p = p.display().to_string();
    m.lines().filter(|l| l.contains(&p)).count()
}

#[test]
fn a_one_file_change_adds_one_layer_in_isorun_and_from_umoci() {
    if prerequisites().is_none() {
        return;
    }
    if isobench::locate::which("umoci").is_none() {
        isobench_testkit::missing("umoci not installed (apt-get install umoci)");
        return;
    }
    let before = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("isobench-layers-")
        })
        .count();
    let o = isobench::experiment::layers::measure(&spec(&[
        "layers",
        "--layers",
        "3",
        "--layer-size",
        "64KiB",
    ]))
    .unwrap();
    let r = &o.result;
    assert!(r.valid, "{r:?}");
    for pre in ["", "oci_"] {
        let m = |k: &str| r.metrics[&format!("{pre}{k}")];
        assert_eq!(m("layers_total"), 3.0, "{pre}");
        assert_eq!(m("layers_reused"), 2.0, "{pre}: reused by digest");
        assert_eq!(m("layers_added"), 1.0, "{pre}");
        // The added layer is the top one: 64 KiB of blobs plus the file.
        assert_eq!(m("layer_added_bytes"), (64 << 10) as f64 + 12.0, "{pre}");
        assert_eq!(m("image_bytes"), 3.0 * (64 << 10) as f64 + 12.0, "{pre}");
    }
    assert!(r.info["umoci"].contains("umoci"));
    // umoci's own one-file change: every layer of v1 reused, 12 bytes added.
    assert_eq!(r.metrics["oci_patch_layers_reused"], 3.0);
    assert_eq!(r.metrics["oci_patch_layers_added"], 1.0);
    assert_eq!(r.metrics["oci_patch_layer_added_bytes"], 12.0);
    let after = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("isobench-layers-")
        })
        .count();
    assert_eq!(before, after, "scratch directory removed");
    assert_eq!(
        mounts_under(&std::env::temp_dir().join("isobench-layers-")),
        0
    );
}

#[test]
fn copy_up_writes_the_upper_layer_and_leaves_the_image_alone() {
    let Some((workload, isorun)) = prerequisites() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let sizes = [4u64 << 10, 1 << 20];
    cow::write_data(&data, &sizes).unwrap();
    let ctx = EnvContext {
        workload_bin: workload,
        scratch: scratch.path().to_path_buf(),
        threads: 1,
        data_dir: Some(data.clone()),
        command_root: None,
        fileio: false,
    };
    let copyup = spec(&["copyup", "--sizes", "4KiB,1MiB"]);
    let fsmeta = spec(&["fsmeta", "--files", "200"]);
    let t = Duration::from_secs(60);

    let mut c = ContainerEnv::new(&Oci::bare(Runtime::Isorun), isorun).unwrap();
    c.prepare(&ctx).unwrap();
    assert!(c.cannot_run(Workload::Ovlmount).is_some());
    assert!(c.cannot_run(Workload::Copyup).is_none());
    let o = c.run(&copyup, t).unwrap().result;
    assert!(o.valid, "{o:?}");
    assert_eq!(o.info["fs"], "overlay");
    assert!(o.metrics.contains_key("first_write_ms_1MiB"), "{o:?}");
    let m = c.run(&fsmeta, t).unwrap().result;
    assert!(m.valid, "{m:?}");
    assert_eq!(m.info["fs"], "overlay");
    // Copy-on-write: the container wrote its upper layer; the image's
    // layer in the store still holds what the host wrote.
    let one = data.join(cow::DATA_DIR).join(cow::data_name(1 << 20));
    let before = std::fs::read(&one).unwrap();
    let layers = scratch.path().join("container-isorun/layers/layers");
    let in_store: Vec<PathBuf> = std::fs::read_dir(&layers)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .join(cow::DATA_DIR)
                .join(cow::data_name(1 << 20))
        })
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(in_store.len(), 1, "one data layer in {}", layers.display());
    assert_eq!(
        std::fs::read(&in_store[0]).unwrap(),
        before,
        "lower layer unchanged"
    );
    c.cleanup().unwrap();

    let mut n = Native::new();
    n.prepare(&ctx).unwrap();
    let o = n.run(&copyup, t).unwrap().result;
    assert!(o.valid, "{o:?}");
    assert_ne!(o.info["fs"], "overlay");
    let after = std::fs::read(&one).unwrap();
    assert_ne!(
        before[..4096],
        after[..4096],
        "native wrote the file itself"
    );
    assert_eq!(before[4096..], after[4096..]);
    let m = n.run(&fsmeta, t).unwrap().result;
    assert!(m.valid, "{m:?}");
    // The run's scratch is the working directory: nothing left there.
    assert!(std::fs::read_dir(&data)
        .unwrap()
        .all(|e| e.unwrap().file_name() == cow::DATA_DIR));
    n.cleanup().unwrap();
    assert_eq!(mounts_under(scratch.path()), 0);
}

#[test]
fn overlay_mounts_up_to_the_kernel_limit_natively() {
    let Some((workload, _)) = prerequisites() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let mut n = Native::new();
    n.prepare(&EnvContext {
        workload_bin: workload,
        scratch: scratch.path().to_path_buf(),
        threads: 1,
        data_dir: None,
        command_root: None,
        fileio: false,
    })
    .unwrap();
    let max = cow::OVL_MAX_STACK.to_string();
    let o = n
        .run(
            &spec(&[
                "ovlmount",
                "--layers",
                &format!("1,3,{max}"),
                "--tries",
                "2",
            ]),
            Duration::from_secs(60),
        )
        .unwrap()
        .result;
    assert!(o.valid, "{o:?}");
    for k in ["mount_ms_1layers", "mount_ms_3layers", "mount_ms_500layers"] {
        assert!(o.metrics[k] > 0.0, "{k}: {o:?}");
    }
    assert_eq!(o.info["lower_fs"], "tmpfs");
    // The mounts lived in the workload's own mount namespace.
    let m = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!m.lines().any(|l| l.contains(" /tmp/m ")));
    n.cleanup().unwrap();
}
