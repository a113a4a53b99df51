//! Real guest boots under QEMU TCG (microvm): the isobench initramfs through
//! `VmEnv`, a busybox baseline written with isobench's own cpio writer, a
//! guest that hangs (killed at the timeout), a guest whose init dies (a kernel
//! panic, reported with its lines), and the clear errors for a missing kernel
//! and a forced KVM on kvm_pvm. After each boot, no QEMU process that used
//! the test's initramfs may be left.
//!
//! They need QEMU and a guest kernel (scripts/setup.sh installs QEMU and runs
//! scripts/fetch-kernel.sh) and skip, saying why, only when one is truly
//! absent: the skip is recorded by `isobench_testkit` and is a failure under
//! `CI=true`. Boots run one at a time (TCG on a shared 2-core host) and take
//! about 50 s in all (30 s of it the hung guest's timeout).

use isobench::env::vm::accel::AccelRequest;
use isobench::env::vm::console::{check_clocksource, CLOCKSOURCE_KEY};
use isobench::env::vm::initramfs::{busybox_initramfs, busybox_startup_script};
use isobench::env::vm::kernel::KernelSearch;
use isobench::env::vm::qemu::{Accel, Machine};
use isobench::env::vm::{boot_guest, find_in_path, host_config, VmEnv, VmOptions, QEMU_BIN};
use isobench::env::{EnvContext, Environment};
use isobench_workloads::pid1::CURRENT_CLOCKSOURCE;
use isobench_workloads::{Workload, WorkloadSpec};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// One boot at a time: TCG guests compete for the same two cores.
static BOOTS: Mutex<()> = Mutex::new(());

/// A timeout no healthy TCG boot comes near (they take ~4 s here).
const GENEROUS: Duration = Duration::from_secs(90);

/// The guest kernel, or why the test cannot run.
fn kernel() -> Option<PathBuf> {
    if find_in_path(QEMU_BIN, std::env::var_os("PATH").as_deref()).is_none() {
        isobench_testkit::missing(format!(
            "{QEMU_BIN} not found (apt-get install qemu-system-x86)"
        ));
        return None;
    }
    match KernelSearch::from_host(None).find() {
        Ok(k) => Some(k.path),
        Err(e) => {
            isobench_testkit::missing(format!("no guest kernel: {e}"));
            None
        }
    }
}

fn busybox() -> Option<Vec<u8>> {
    match std::fs::read("/bin/busybox") {
        Ok(b) => Some(b),
        Err(e) => {
            isobench_testkit::missing(format!(
                "/bin/busybox: {e} (apt-get install busybox-static)"
            ));
            None
        }
    }
}

/// PIDs of live processes whose command line mentions `needle`.
fn processes_mentioning(needle: &Path) -> Vec<u32> {
    let needle = needle.as_os_str().as_encoded_bytes();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

fn assert_no_qemu_left(initrd: &Path) {
    let left = processes_mentioning(initrd);
    assert!(
        left.is_empty(),
        "QEMU processes outlived the boot: {left:?}"
    );
}

fn tcg_opts() -> VmOptions {
    VmOptions {
        accel: AccelRequest::Tcg,
        memory_mib: 256,
        ..VmOptions::default()
    }
}

fn write_busybox_image(dir: &Path, script: &str) -> Option<PathBuf> {
    let image = busybox_initramfs(busybox()?, script).unwrap().to_bytes();
    let path = dir.join("busybox.cpio");
    std::fs::write(&path, image).unwrap();
    Some(path)
}

#[test]
fn busybox_guest_boots_with_isobench_written_initramfs() {
    let Some(k) = kernel() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let Some(initrd) = write_busybox_image(tmp.path(), &busybox_startup_script()) else {
        return;
    };
    let _one = BOOTS.lock().unwrap_or_else(|e| e.into_inner());
    let config = host_config(&tcg_opts(), &k, &initrd, Accel::Tcg, 1).unwrap();
    let b = boot_guest(&config, &["startup".into()], GENEROUS).unwrap();
    assert_no_qemu_left(&initrd);
    assert!(b.console.result.valid);
    assert_eq!(b.console.result.info["init"], "busybox");
    let ready = b.ready_after.expect("ISOBENCH-READY seen");
    assert!(ready < b.exited_after);
    let up = b.console.guest_uptime_ms.expect("guest uptime");
    assert!(
        up > 0.0 && up < b.exited_after.as_secs_f64() * 1000.0,
        "uptime {up} ms"
    );
}

#[test]
fn workload_binary_boots_as_init_through_vm_env() {
    let Some(_k) = kernel() else { return };
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-gnu/release/isobench-workload");
    assert!(
        bin.is_file(),
        "{} is missing: build it with scripts/build-workload.sh (scripts/test.sh does)",
        bin.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let ctx = EnvContext {
        workload_bin: bin,
        scratch: tmp.path().join("scratch"),
        threads: 1,
        data_dir: None,
        command_root: None,
        fileio: false,
    };
    let mut env = VmEnv::new(tcg_opts()).unwrap();
    let _one = BOOTS.lock().unwrap_or_else(|e| e.into_inner());
    env.prepare(&ctx).unwrap();
    assert_eq!(env.id(), "vm-tcg");
    assert!(env.emulated());
    let d = env.detail();
    assert_eq!(d["accel"], "tcg");
    assert_eq!(d["accel_reason"], "forced by --accel tcg");
    assert_eq!(d["machine"], "microvm");
    assert_eq!(d["vcpus"], "1");
    let khz: u64 = d["tsc_early_khz"].parse().unwrap();
    assert!(khz > 100_000, "a TSC of {khz} kHz");
    assert!(
        d["kernel_version"].starts_with(|c: char| c.is_ascii_digit()),
        "{d:?}"
    );
    let initrd = ctx.scratch.join("vm-initramfs.cpio");
    assert!(initrd.is_file());

    let spec = WorkloadSpec::parse(Workload::Startup, &["startup", "--hold-ms", "300"]).unwrap();
    let out = env.run(&spec, GENEROUS).unwrap();
    assert_no_qemu_left(&initrd);
    assert!(out.result.valid, "{:?}", out.result);
    assert_eq!(out.result.workload, "startup");
    // The guest reported its clocksource and VmEnv judged it (a result
    // without it, or on jiffies, would not be valid).
    let cs = &out.result.info[CLOCKSOURCE_KEY];
    assert_eq!(check_clocksource(&out.result), Ok(()), "{cs}");
    let first = out.first_instruction.expect("ISOBENCH-READY seen");
    assert!(first < out.lifecycle);
    assert!(out.extra_ms["guest_uptime_ms"] > 0.0, "{:?}", out.extra_ms);
    // QEMU measured while the guest held at READY.
    let f = out.footprint.expect("footprint measured at READY");
    eprintln!("vm footprint: {f:?}");
    assert!(f.pss_kib > 1024 && f.uss_kib <= f.pss_kib, "{f:?}");
    assert!(out.result.info["held_ms"].parse::<f64>().unwrap() >= 300.0);

    env.cleanup().unwrap();
    assert!(!initrd.exists(), "cleanup removes the initramfs");
}

/// fileio in a guest: the initramfs carries the virtio-blk modules, each
/// repetition gets a fresh ext4 image as `/dev/vda`, the guest's PID 1 mounts
/// it and the workload measures its `disk` place there; the image is gone
/// when the run ends.
#[test]
fn fileio_measures_the_guest_s_virtio_blk_disk() {
    let Some(k) = kernel() else { return };
    if let Err(why) = isobench::env::vm::disk::find_modules(&k) {
        isobench_testkit::missing(why);
        return;
    }
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-gnu/release/isobench-workload");
    assert!(
        bin.is_file(),
        "{} is missing: scripts/build-workload.sh",
        bin.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let ctx = EnvContext {
        workload_bin: bin,
        scratch: tmp.path().join("scratch"),
        threads: 1,
        data_dir: None,
        command_root: None,
        fileio: true,
    };
    let mut env = VmEnv::new(tcg_opts()).unwrap();
    let _one = BOOTS.lock().unwrap_or_else(|e| e.into_inner());
    env.prepare(&ctx).unwrap();
    assert_eq!(env.cannot_run(Workload::Fileio), None);
    let args = [
        "fileio",
        "--file-size",
        "8MiB",
        "--block",
        "1MiB",
        "--rand-ops",
        "50",
    ];
    let spec = WorkloadSpec::parse(Workload::Fileio, &args).unwrap();
    let out = env.run(&spec, GENEROUS).unwrap();
    let initrd = ctx.scratch.join("vm-initramfs.cpio");
    assert_no_qemu_left(&initrd);
    assert!(out.result.valid, "{:?}", out.result);
    assert!(
        out.result.info["guest_disk"].starts_with("/dev/vda (ext4)"),
        "{:?}",
        out.result.info
    );
    assert!(
        out.result.info["vm_disk"].contains("cache=none"),
        "{:?}",
        out.result.info
    );
    for m in [
        "seq_write_mbs_disk",
        "seq_read_mbs_disk",
        "rand_read_iops_disk",
        "rand_write_iops_disk",
    ] {
        let v = out.result.metrics.get(m).copied().unwrap_or(0.0);
        assert!(v > 0.0, "{m} = {v}: {:?}", out.result.metrics);
    }
    assert!(
        !ctx.scratch
            .join(isobench::env::vm::disk::DISK_IMAGE_NAME)
            .exists(),
        "the disk image outlived its run"
    );
    env.cleanup().unwrap();
}

/// With two vCPUs under TCG the kernel would mark the TSC unstable and fall
/// back to the jiffies clocksource (4 ms steps); `tsc=reliable` keeps the TSC.
/// The guest reports `tsc` or `tsc-early` (the same counter before the
/// kernel's refined calibration, which may come later in guest time than this
/// boot lasts, depending on the host): judged by the check every VM run gets.
#[test]
fn two_vcpus_under_tcg_keep_the_tsc_clocksource() {
    let Some(k) = kernel() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let script = format!(
        r#"#!/bin/busybox sh
echo ISOBENCH-READY
/bin/busybox mount -t sysfs sysfs /sys
cs=$(/bin/busybox cat {CURRENT_CLOCKSOURCE})
n=$(/bin/busybox nproc)
echo "ISOBENCH-RESULT {{\"workload\":\"startup\",\"valid\":true,\"info\":{{\"{CLOCKSOURCE_KEY}\":\"$cs\",\"cpus\":\"$n\"}}}}"
/bin/busybox reboot -f
"#
    );
    let Some(initrd) = write_busybox_image(tmp.path(), &script) else {
        return;
    };
    let _one = BOOTS.lock().unwrap_or_else(|e| e.into_inner());
    let config = host_config(&tcg_opts(), &k, &initrd, Accel::Tcg, 2).unwrap();
    assert_eq!(config.accel_arg(), "tcg,thread=multi");
    let b = boot_guest(&config, &["startup".into()], GENEROUS).unwrap();
    assert_no_qemu_left(&initrd);
    let info = &b.console.result.info;
    assert_eq!(info["cpus"], "2");
    assert_eq!(check_clocksource(&b.console.result), Ok(()), "{info:?}");
    assert!(
        matches!(info[CLOCKSOURCE_KEY].as_str(), "tsc" | "tsc-early"),
        "the TSC under TCG: {info:?}"
    );
}

#[test]
fn hung_guest_is_killed_at_the_timeout() {
    let Some(k) = kernel() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let script = "#!/bin/busybox sh\necho ISOBENCH-READY\nexec /bin/busybox sleep 100000\n";
    let Some(initrd) = write_busybox_image(tmp.path(), script) else {
        return;
    };
    let _one = BOOTS.lock().unwrap_or_else(|e| e.into_inner());
    let config = host_config(&tcg_opts(), &k, &initrd, Accel::Tcg, 1).unwrap();
    // Long enough to reach init on a slow or busy host (a TCG boot takes
    // ~4 s on a quiet 2-core one), short enough for a test.
    let timeout = Duration::from_secs(30);
    let err = boot_guest(&config, &["startup".into()], timeout).unwrap_err();
    assert_no_qemu_left(&initrd);
    let msg = format!("{err:#}");
    assert!(
        msg.contains(&format!(
            "did not finish within {} s; killed it",
            timeout.as_secs()
        )),
        "{msg}"
    );
    assert!(
        msg.contains("ISOBENCH-READY"),
        "the last console lines are quoted: {msg}"
    );
}

#[test]
fn dying_init_is_reported_as_a_kernel_panic() {
    let Some(k) = kernel() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let script = "#!/bin/busybox sh\necho init-giving-up\nexit 3\n";
    let Some(initrd) = write_busybox_image(tmp.path(), script) else {
        return;
    };
    let _one = BOOTS.lock().unwrap_or_else(|e| e.into_inner());
    let config = host_config(&tcg_opts(), &k, &initrd, Accel::Tcg, 1).unwrap();
    // panic=-1 reboots at once, and -no-reboot ends QEMU: no timeout needed.
    let err = boot_guest(&config, &["startup".into()], GENEROUS).unwrap_err();
    assert_no_qemu_left(&initrd);
    let msg = format!("{err:#}");
    assert!(msg.contains("the guest kernel panicked"), "{msg}");
    assert!(msg.contains("Attempted to kill init"), "{msg}");
    assert!(
        msg.contains("init-giving-up"),
        "the last console lines are quoted: {msg}"
    );
}

#[test]
fn missing_kernel_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = EnvContext {
        workload_bin: PathBuf::from("/bin/true"),
        scratch: tmp.path().to_path_buf(),
        threads: 1,
        data_dir: None,
        command_root: None,
        fileio: false,
    };
    let opts = VmOptions {
        kernel: Some(tmp.path().join("no-such-vmlinuz")),
        ..tcg_opts()
    };
    let err = VmEnv::new(opts).unwrap().prepare(&ctx).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("no-such-vmlinuz") && msg.contains("scripts/fetch-kernel.sh"),
        "{msg}"
    );
}

#[test]
fn forced_kvm_on_kvm_pvm_is_a_clear_error() {
    if !Path::new("/sys/module/kvm_pvm").exists() {
        isobench_testkit::not_on_this_host("this host's /dev/kvm is not kvm_pvm");
        return;
    }
    let Some(_k) = kernel() else { return };
    let Some(bb) = busybox() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // Any static ELF will do: the error comes before a boot.
    let bin = tmp.path().join("init");
    std::fs::write(&bin, bb).unwrap();
    let ctx = EnvContext {
        workload_bin: bin,
        scratch: tmp.path().join("s"),
        threads: 1,
        data_dir: None,
        command_root: None,
        fileio: false,
    };
    let opts = VmOptions {
        accel: AccelRequest::Kvm,
        ..tcg_opts()
    };
    let err = VmEnv::new(opts).unwrap().prepare(&ctx).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("kvm_pvm") && msg.contains("--accel tcg"),
        "{msg}"
    );

    // auto falls back to TCG without a test boot, and says why.
    let mut env = VmEnv::new(VmOptions {
        accel: AccelRequest::Auto,
        machine: Machine::Microvm,
        ..tcg_opts()
    })
    .unwrap();
    env.prepare(&ctx).unwrap();
    assert_eq!(env.id(), "vm-tcg");
    assert!(
        env.accel_reason().unwrap().contains("kvm_pvm"),
        "{:?}",
        env.accel_reason()
    );
}

/// `--vm-cpu` reaches QEMU and decides the cpu kernel's matrix-multiply path
/// (the ISA reason behind claim C1): under TCG, `qemu64` hides AVX2, so
/// `--isa auto` falls back to the SSE2 baseline; `max` emulates AVX2 and FMA
/// (QEMU 7.2 and later), so the guest takes the tuned AVX2+FMA path. A small
/// matrix: this checks the mechanism, not the speed (emulated).
#[test]
fn vm_cpu_model_decides_the_dgemm_path_under_tcg() {
    let Some(_k) = kernel() else { return };
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-gnu/release/isobench-workload");
    assert!(
        bin.is_file(),
        "{} is missing: build it with scripts/build-workload.sh (scripts/test.sh does)",
        bin.display()
    );
    let spec = WorkloadSpec::parse(
        Workload::Cpu,
        &["cpu", "--threads", "1", "--primes-max", "500"]
            .into_iter()
            .chain(["--matrix-n", "24", "--min-time-ms", "10"])
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let _one = BOOTS.lock().unwrap_or_else(|e| e.into_inner());
    for (model, want_path, has_avx2) in [("qemu64", "sse2", false), ("max", "avx2+fma", true)] {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = EnvContext {
            workload_bin: bin.clone(),
            scratch: tmp.path().join("scratch"),
            threads: 1,
            data_dir: None,
            command_root: None,
            fileio: false,
        };
        let mut env = VmEnv::new(VmOptions {
            cpu_model: Some(model.into()),
            ..tcg_opts()
        })
        .unwrap();
        env.prepare(&ctx).unwrap();
        assert_eq!(env.detail()["cpu"], model);
        let out = env.run(&spec, GENEROUS);
        let initrd = ctx.scratch.join("vm-initramfs.cpio");
        env.cleanup().unwrap();
        assert_no_qemu_left(&initrd);
        let r = out.unwrap().result;
        assert!(r.valid, "-cpu {model}: {r:?}");
        assert_eq!(r.info["dgemm_path"], want_path, "-cpu {model}: {r:?}");
        assert_eq!(
            r.info["cpu_simd"].split('+').any(|f| f == "avx2"),
            has_avx2,
            "-cpu {model}: {}",
            r.info["cpu_simd"]
        );
    }
}
