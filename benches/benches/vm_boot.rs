//! VM boot to first instruction under QEMU (issue 4, "What it must show").
//!
//! 1. isobench's initramfs (the static workload binary as `/init`) against a
//!    busybox-only initramfs, same kernel, machine (microvm), memory and vCPUs,
//!    booted interleaved (ABBA order) so that drift of a noisy host hits both
//!    alike. Boot to first instruction = spawn of QEMU to `ISOBENCH-READY`,
//!    which both inits print as their first action. Target: isobench ≤ 1.2x.
//! 2. The same isobench initramfs on q35 (SeaBIOS, PCI, ACPI).
//! 3. Every microvm boot of (1) passes `tsc_early_khz`: a boot that does not
//!    reach a result within the timeout counts as a hang (docs/design.md:
//!    4 in 10 hung without it). `--no-tsc N` adds N boots without it for
//!    comparison.
//!
//! A bench binary (harness = false), not criterion: each sample is a whole
//! TCG boot of several seconds, and the figures wanted are medians, ratios
//! and a hang count, interleaved across initramfs images.
//!
//! `cargo bench -p isobench-benches --bench vm_boot -- [--pairs N] [--q35 N]
//! [--no-tsc N] [--accel tcg|kvm] [--memory MIB] [--json FILE]`. It needs QEMU,
//! a guest kernel (scripts/fetch-kernel.sh), busybox-static and the static
//! workload binary (scripts/build-workload.sh).

use anyhow::{bail, Context, Result};
use isobench::env::vm::initramfs::{busybox_initramfs, busybox_startup_script, workload_initramfs};
use isobench::env::vm::kernel::{kernel_version, KernelSearch};
use isobench::env::vm::qemu::{Accel, Machine};
use isobench::env::vm::{boot_guest, host_config, VmOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Far beyond a healthy TCG boot (~4 s here); reaching it means a hang.
const BOOT_TIMEOUT: Duration = Duration::from_secs(45);

struct Args {
    pairs: usize,
    q35: usize,
    no_tsc: usize,
    accel: Accel,
    memory_mib: u64,
    json: Option<PathBuf>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        pairs: 10,
        q35: 3,
        no_tsc: 0,
        accel: Accel::Tcg,
        memory_mib: 256,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--pairs" => a.pairs = val("--pairs")?.parse()?,
            "--q35" => a.q35 = val("--q35")?.parse()?,
            "--no-tsc" => a.no_tsc = val("--no-tsc")?.parse()?,
            "--memory" => a.memory_mib = val("--memory")?.parse()?,
            "--json" => a.json = Some(val("--json")?.into()),
            "--accel" => {
                a.accel = match val("--accel")?.as_str() {
                    "tcg" => Accel::Tcg,
                    "kvm" => Accel::Kvm,
                    other => bail!("--accel {other}: tcg or kvm"),
                }
            }
            // cargo bench passes --bench (and possibly a filter): ignore.
            _ => {}
        }
    }
    Ok(a)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// One image's samples: spawn → READY (ms), guest uptime at init (ms), hangs.
#[derive(Default)]
struct Series {
    ready_ms: Vec<f64>,
    exit_ms: Vec<f64>,
    uptime_ms: Vec<f64>,
    hangs: usize,
    failures: Vec<String>,
}

impl Series {
    fn boot(&mut self, opts: &VmOptions, kernel: &Path, initrd: &Path, accel: Accel) -> Result<()> {
        let config = host_config(opts, kernel, initrd, accel, 1)?;
        match boot_guest(&config, &["startup".to_string()], BOOT_TIMEOUT) {
            Ok(b) => {
                let ready = b.ready_after.context("result without ISOBENCH-READY")?;
                self.ready_ms.push(ready.as_secs_f64() * 1e3);
                self.exit_ms.push(b.exited_after.as_secs_f64() * 1e3);
                if let Some(u) = b.console.guest_uptime_ms {
                    self.uptime_ms.push(u);
                }
            }
            Err(e) => {
                let msg = format!("{e:#}");
                if msg.contains("did not finish within") {
                    self.hangs += 1;
                }
                eprintln!("  boot failed: {}", msg.lines().next().unwrap_or(""));
                self.failures.push(msg);
            }
        }
        Ok(())
    }

    fn line(&self, name: &str) -> String {
        format!(
            "{name:<28} n={:<3} ready median {:>7.0} ms  [min {:>6.0}, max {:>6.0}]  exit median {:>7.0} ms  guest uptime at init {:>6.0} ms  hangs {}  failures {}",
            self.ready_ms.len(),
            median(&self.ready_ms),
            self.ready_ms.iter().cloned().fold(f64::INFINITY, f64::min),
            self.ready_ms.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            median(&self.exit_ms),
            median(&self.uptime_ms),
            self.hangs,
            self.failures.len()
        )
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "ready_ms": self.ready_ms, "exit_ms": self.exit_ms, "guest_uptime_ms": self.uptime_ms,
            "median_ready_ms": median(&self.ready_ms), "hangs": self.hangs, "failures": self.failures,
        })
    }
}

fn main() -> Result<()> {
    let args = parse_args()?;
    isobench::env::process::install_signal_handlers()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workload = std::env::var_os("ISOBENCH_WORKLOAD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/x86_64-unknown-linux-gnu/release/isobench-workload"));
    let kernel = KernelSearch::from_host(None).find()?;
    let tmp = tempfile::tempdir()?;
    let iso = tmp.path().join("isobench.cpio");
    let bb = tmp.path().join("busybox.cpio");
    let init = std::fs::read(&workload).with_context(|| {
        format!(
            "{} (build it with scripts/build-workload.sh)",
            workload.display()
        )
    })?;
    std::fs::write(&iso, workload_initramfs(init)?.to_bytes())?;
    let busybox =
        std::fs::read("/bin/busybox").context("/bin/busybox (apt-get install busybox-static)")?;
    std::fs::write(
        &bb,
        busybox_initramfs(busybox, &busybox_startup_script())?.to_bytes(),
    )?;

    let micro = VmOptions {
        memory_mib: args.memory_mib,
        machine: Machine::Microvm,
        ..VmOptions::default()
    };
    let q35 = VmOptions {
        machine: Machine::Q35,
        ..micro.clone()
    };
    let no_tsc = VmOptions {
        tsc_early_khz: false,
        ..micro.clone()
    };
    let cfg = host_config(&micro, &kernel.path, &iso, args.accel, 1)?;
    println!(
        "vm_boot: accel {}, kernel {} ({}), {} MiB, 1 vCPU, tsc_early_khz={}, qemu {}",
        args.accel,
        kernel.path.display(),
        kernel_version(&kernel.path).unwrap_or_default(),
        args.memory_mib,
        cfg.tsc_khz.map_or("none".into(), |k| k.to_string()),
        cfg.qemu.display()
    );
    println!(
        "isobench initramfs {} KiB, busybox initramfs {} KiB",
        std::fs::metadata(&iso)?.len() / 1024,
        std::fs::metadata(&bb)?.len() / 1024
    );

    let (mut s_iso, mut s_bb, mut s_q35, mut s_notsc) = Default::default();
    for i in 0..args.pairs {
        // ABBA: alternate which image goes first.
        eprintln!("pair {}/{}", i + 1, args.pairs);
        if i % 2 == 0 {
            Series::boot(&mut s_iso, &micro, &kernel.path, &iso, args.accel)?;
            Series::boot(&mut s_bb, &micro, &kernel.path, &bb, args.accel)?;
        } else {
            Series::boot(&mut s_bb, &micro, &kernel.path, &bb, args.accel)?;
            Series::boot(&mut s_iso, &micro, &kernel.path, &iso, args.accel)?;
        }
    }
    for i in 0..args.q35 {
        eprintln!("q35 {}/{}", i + 1, args.q35);
        Series::boot(&mut s_q35, &q35, &kernel.path, &iso, args.accel)?;
    }
    for i in 0..args.no_tsc {
        eprintln!("microvm without tsc_early_khz {}/{}", i + 1, args.no_tsc);
        Series::boot(&mut s_notsc, &no_tsc, &kernel.path, &iso, args.accel)?;
    }

    println!("{}", s_iso.line("microvm isobench initramfs"));
    println!("{}", s_bb.line("microvm busybox initramfs"));
    let ratio = median(&s_iso.ready_ms) / median(&s_bb.ready_ms);
    println!("ratio isobench/busybox (boot to first instruction): {ratio:.3} (target <= 1.2)");
    if args.q35 > 0 {
        println!("{}", s_q35.line("q35 isobench initramfs"));
    }
    let micro_boots = s_iso.ready_ms.len() + s_bb.ready_ms.len() + s_iso.hangs + s_bb.hangs;
    println!(
        "microvm boots with tsc_early_khz: {micro_boots}, hangs: {}",
        s_iso.hangs + s_bb.hangs
    );
    if args.no_tsc > 0 {
        println!("{}", s_notsc.line("microvm without tsc_early"));
    }
    if let Some(path) = args.json {
        let j = serde_json::json!({
            "accel": args.accel.name(), "kernel": kernel.path, "memory_mib": args.memory_mib,
            "microvm_isobench": s_iso.json(), "microvm_busybox": s_bb.json(),
            "ratio": ratio, "q35_isobench": s_q35.json(), "microvm_no_tsc": s_notsc.json(),
        });
        std::fs::write(&path, serde_json::to_string_pretty(&j)?)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
