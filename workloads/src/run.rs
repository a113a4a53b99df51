//! Run one parsed [`Command`] and turn what the kernel measured into the
//! protocol's [`WorkloadResult`]: metric names and units as docs/design.md
//! fixes them, parameters in `params`, how it ran in `info`.

use crate::args::{format_size, Command};
use crate::error::{invalid, ArgError, Error, Invalid, Verdict};
use crate::metricdef::MetricDef;
use crate::protocol::WorkloadResult;
use crate::{cpu, latency, membw, randacc, sysfs};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// The instruction set the kernels were compiled for (the cpu workload's
/// matrix multiply alone dispatches at run time and records the path it took
/// as `dgemm_path`). The baseline x86-64 build reports `x86-64+sse2`.
pub fn isa() -> String {
    let mut parts = vec![std::env::consts::ARCH.replace('_', "-")];
    macro_rules! feat {
        ($($f:tt),*) => {$(
            if cfg!(target_feature = $f) {
                parts.push($f.to_string());
            }
        )*};
    }
    feat!("sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "avx", "avx2", "fma", "avx512f");
    parts.join("+")
}

/// What the CPU offers at run time (the cpu workload's matrix multiply picks
/// its path from it).
pub fn cpu_simd() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let mut s = vec!["sse2"];
        if std::is_x86_feature_detected!("avx") {
            s.push("avx");
        }
        if std::is_x86_feature_detected!("avx2") {
            s.push("avx2");
        }
        if std::is_x86_feature_detected!("fma") {
            s.push("fma");
        }
        if std::is_x86_feature_detected!("avx512f") {
            s.push("avx512f");
        }
        s.join("+")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        "unknown".to_string()
    }
}

/// The number of CPUs this process may run on.
pub fn available_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn empty(workload: &str) -> WorkloadResult {
    WorkloadResult::empty(workload)
}

/// A result saying the run failed before or while measuring.
pub fn error_result(workload: &str, error: impl Into<String>, start: Instant) -> WorkloadResult {
    let mut r = empty(workload);
    r.error = Some(error.into());
    r.info.insert("isa".into(), isa());
    r.elapsed_s = start.elapsed().as_secs_f64();
    r
}

struct Builder(WorkloadResult);

impl Builder {
    /// The metric `def` names exactly.
    fn metric(&mut self, def: &MetricDef, value: f64) {
        self.0.put(def, def.stem(), value, None);
    }
    /// A metric of the family `def` (`name` = its stem and a suffix).
    fn metric_named(&mut self, def: &MetricDef, name: &str, value: f64) {
        self.0.put(def, name, value, None);
    }
    /// `name` repeats `of`: readers show it once.
    fn alias(&mut self, name: &str, of: &str) {
        self.0.aliases.insert(name.to_string(), of.to_string());
    }
    fn param(&mut self, name: &str, value: impl Into<Value>) {
        self.0.params.insert(name.to_string(), value.into());
    }
    fn info(&mut self, name: &str, value: impl ToString) {
        self.0.info.insert(name.to_string(), value.to_string());
    }
    fn verdict(&mut self, check: Verdict) {
        match check {
            Ok(msg) => {
                self.0.valid = true;
                self.info("validation", msg);
            }
            Err(e) => {
                self.0.valid = false;
                self.0.error = Some(format!("validation failed: {e}"));
            }
        }
    }
}

/// The idle workload: nothing more after `ISOBENCH-READY` (already
/// printed), asleep until the host kills the instance. Works as PID 1 in a
/// guest too (a plain sleep; the host ends QEMU).
fn idle_forever() -> ! {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// Run `cmd`. `start` is when the process started (for `elapsed_s`);
/// `info` holds facts gathered before (e.g. the guest's uptime in PID-1 mode).
pub fn run(cmd: &Command, start: Instant, info: BTreeMap<String, String>) -> WorkloadResult {
    let name = match cmd {
        Command::Antagonist(_) => "antagonist",
        _ => cmd.workload().map(|w| w.name()).unwrap_or("help"),
    };
    let mut b = Builder(empty(name));
    b.0.info = info;
    b.info("isa", isa());
    b.info("cpu_simd", cpu_simd());
    b.info("cpus_available", available_threads());
    if let Some(avail) = std::fs::read_to_string(sysfs::MEMINFO)
        .ok()
        .as_deref()
        .and_then(sysfs::parse_mem_available)
    {
        // Before the kernel allocates: what this environment leaves free
        // (the host sizes a VM's memory from a test boot's figure).
        b.info("mem_available_kib", avail / 1024);
    }
    let outcome = match cmd {
        Command::Cpu(c) => run_cpu(&mut b, c),
        Command::Membw(c) => run_membw(&mut b, c),
        Command::Randacc(c) => run_randacc(&mut b, c),
        Command::Latency(c) => run_latency(&mut b, c),
        Command::Startup { hold_ms } => {
            // Idle at READY so the host can measure the live instance's
            // memory (its footprint); the host subtracts `held_ms` from the
            // lifecycle it times. Instant is CLOCK_MONOTONIC; sleep works as
            // PID 1 in a guest too (no signals, no helper threads).
            b.param("hold_ms", *hold_ms);
            let t = Instant::now();
            if *hold_ms > 0 {
                std::thread::sleep(std::time::Duration::from_millis(*hold_ms));
            }
            b.info("held_ms", format!("{:.3}", t.elapsed().as_secs_f64() * 1e3));
            b.verdict(Ok("nothing to check: the host measures startup".into()));
            Ok(())
        }
        Command::Copyup(c) => run_copyup(&mut b, c),
        Command::Ovlmount(c) => run_ovlmount(&mut b, c),
        Command::Fsmeta(c) => run_fsmeta(&mut b, c),
        Command::Fileio(c) => run_fileio(&mut b, c),
        Command::Layers { .. } => Err(ArgError::invalid(
            "layers is measured by the host (isobench run), not inside an environment",
        )
        .into()),
        Command::Antagonist(c) => run_antagonist(&mut b, c),
        Command::Idle => idle_forever(),
        Command::UserCommand(c) => {
            // Fills metrics, validity and the reason itself.
            crate::command::record(&mut b.0, c);
            Ok(())
        }
        Command::Help => Err(ArgError::invalid("help is not a workload").into()),
    };
    if let Err(e) = outcome {
        b.0.valid = false;
        b.0.error = Some(e.to_string());
    }
    // serde_json writes non-finite numbers as null, which no f64 reads back.
    let bad: Vec<String> =
        b.0.metrics
            .iter()
            .filter(|(_, v)| !v.is_finite())
            .map(|(k, _)| k.clone())
            .collect();
    if !bad.is_empty() {
        for k in &bad {
            b.0.remove(k);
        }
        b.0.valid = false;
        b.0.error
            .get_or_insert_with(|| format!("non-finite metrics dropped: {}", bad.join(", ")));
    }
    if matches!(
        cmd,
        Command::Membw(_) | Command::Randacc(_) | Command::Latency(_)
    ) {
        if let Some(kib) = crate::alloc::anon_huge_kib() {
            // Whether the page policy held: huge pages in use at the end.
            b.info("anon_huge_kib", kib);
        }
    }
    if let Some(kib) = vm_hwm_kib() {
        // The process's own peak resident memory, for the record (the host
        // measures footprints itself, the same way in every environment).
        b.info("vm_hwm_kib", kib);
    }
    b.0.elapsed_s = start.elapsed().as_secs_f64();
    b.0
}

/// Metric name of a copy-up point: `first_write_ms_1MiB`.
pub fn copyup_metric(size: u64) -> String {
    crate::cow::COPYUP_METRICS[0].named(&format_size(size))
}

/// Metric name of an overlay mount point: `mount_ms_64layers`.
pub fn ovlmount_metric(layers: u32) -> String {
    crate::cow::OVLMOUNT_METRICS[0].named(&format!("{layers}layers"))
}

fn run_copyup(b: &mut Builder, c: &crate::cow::CopyupConfig) -> Result<(), Error> {
    let sizes: Vec<String> = c.sizes.iter().map(|s| format_size(*s)).collect();
    b.param("sizes", sizes.join(","));
    b.param("write_bytes", crate::cow::WRITE_BYTES);
    b.info("dir", &c.dir);
    b.info("fs", crate::cow::fs_name(Path::new(&c.dir)));
    b.info(
        "timing",
        "open(O_WRONLY) of the file plus a pwrite of its first 4 KiB, once per file per run",
    );
    let pts = crate::cow::copyup(c)?;
    for p in &pts {
        b.metric_named(&crate::cow::COPYUP_METRICS[0], &copyup_metric(p.size), p.ms);
    }
    b.verdict(Ok(format!(
        "{} files: size, written block and the rest of the content read back",
        pts.len()
    )));
    Ok(())
}

fn run_ovlmount(b: &mut Builder, c: &crate::cow::OvlmountConfig) -> Result<(), Error> {
    let l: Vec<String> = c.layers.iter().map(|n| n.to_string()).collect();
    b.param("layers", l.join(","));
    b.param("tries", c.tries);
    let r = crate::cow::ovlmount(c)?;
    for (n, med, tries) in &r.points {
        b.metric_named(&crate::cow::OVLMOUNT_METRICS[0], &ovlmount_metric(*n), *med);
        let t: Vec<String> = tries.iter().map(|t| format!("{t:.3}")).collect();
        b.info(&format!("tries_ms_{n}layers"), t.join(","));
    }
    b.info("user_namespace", r.userns);
    b.info("lower_fs", r.lower_fs);
    b.info(
        "timing",
        "median of the tries of mount(2) of an overlay (lowers, upper and work on one tmpfs, private mount namespace)",
    );
    b.verdict(Ok(format!(
        "{} layer counts: each merged view showed the top layer's file and the bottom layer's",
        r.points.len()
    )));
    Ok(())
}

fn run_fsmeta(b: &mut Builder, c: &crate::cow::FsmetaConfig) -> Result<(), Error> {
    b.param("files", c.files);
    b.param("file_bytes", crate::cow::SMALL_FILE);
    let t = crate::cow::fsmeta(c)?;
    let [create, stat, unlink] = crate::cow::FSMETA_METRICS else {
        unreachable!("fsmeta defines three metrics")
    };
    b.metric(create, t.create_us);
    b.metric(stat, t.stat_us);
    b.metric(unlink, t.unlink_us);
    b.info("fs", t.fs);
    b.info("dir", t.dir.display());
    b.verdict(Ok(format!(
        "{} files created, listed, stat'ed ({} bytes each) and unlinked; directory empty after",
        c.files,
        crate::cow::SMALL_FILE
    )));
    Ok(())
}

/// File I/O per place (claim C8): rates and latency percentiles named by
/// phase and place; how each place was reached (file system, O_DIRECT or
/// buffered, cache left resident) in `info`. The places' directories differ
/// between environments and are not parameters (ratios to native compare
/// the same work on the place of the same name).
fn run_fileio(b: &mut Builder, c: &crate::fileio::FileioConfig) -> Result<(), Error> {
    use crate::fileio::FILEIO_TIMING;
    b.param("file_size", c.file_size);
    b.param("block", c.block);
    b.param("rand_block", crate::fileio::SECTOR);
    b.param("rand_ops", c.rand_ops);
    if c.min_time_ms > 0 {
        b.param("min_time_ms", c.min_time_ms);
    }
    b.param("direct", c.direct.name());
    b.info("places", crate::fileio::places_arg(&c.places));
    b.info("timing", FILEIO_TIMING);
    b.info("cache_drop", crate::fileio::drop_caches_note());
    let defs = crate::metrics::FILEIO;
    let def = |stem: String| {
        defs.iter()
            .find(|d| d.stem() == stem)
            .expect("every fileio metric has a definition")
    };
    let results = crate::fileio::measure(c)?;
    let mut checks = Vec::new();
    let mut failed = None;
    for p in &results {
        let n = &p.name;
        for ph in &p.phases {
            b.metric_named(
                def(ph.phase.rate_stem()),
                &ph.phase.rate_metric(n),
                ph.rate(),
            );
            for (pct, v) in [(50, ph.p50_us), (99, ph.p99_us)] {
                b.metric_named(
                    def(ph.phase.latency_stem(pct)),
                    &ph.phase.latency_metric(pct, n),
                    v,
                );
            }
        }
        b.info(&format!("fs_{n}"), &p.fs);
        b.info(&format!("dir_{n}"), &p.dir);
        // Each phase's operations: more than one pass or --rand-ops where
        // it went on to --min-time-ms.
        b.info(
            &format!("ops_{n}"),
            p.phases
                .iter()
                .map(|x| format!("{} {}", x.phase.key(), x.ops))
                .collect::<Vec<_>>()
                .join(", "),
        );
        b.info(&format!("io_{n}"), &p.io_mode);
        b.info(&format!("prealloc_{n}"), &p.prealloc);
        b.info(
            &format!("end_fsync_ms_{n}"),
            format!("{:.3}", p.end_fsync_ms),
        );
        let res = |v: Option<f64>| {
            v.map_or("unknown (mincore failed)".to_string(), |x| {
                format!("{x:.1}%")
            })
        };
        b.info(
            &format!("resident_before_read_{n}"),
            format!(
                "seq_read {}, rand_read {}",
                res(p.resident_pct[0]),
                res(p.resident_pct[1])
            ),
        );
        // A device place whose file stayed cached after the drop (gVisor
        // keeps file data in its own memory and accepts O_DIRECT): its
        // read figures measure memory, not the device.
        let cached = p
            .resident_pct
            .iter()
            .flatten()
            .fold(0.0f64, |a, b| a.max(*b));
        if p.fs != "tmpfs" && p.fs != "ramfs" && cached > 1.0 {
            b.info(
                &format!("reads_from_cache_{n}"),
                format!("{cached:.0}% of the file was still cached after the drop: the read figures measure memory, not the device"),
            );
        }
        match &p.check {
            Ok(m) => checks.push(format!("{n}: {m}")),
            Err(e) => {
                failed.get_or_insert_with(|| format!("{n}: {e}"));
            }
        }
    }
    b.verdict(match failed {
        Some(e) => Err(Invalid(e)),
        None => Ok(checks.join("; ")),
    });
    Ok(())
}

/// A noisy neighbour: progress lines on stdout while it runs, the achieved
/// rate as its metric when a bounded run ends.
fn run_antagonist(b: &mut Builder, c: &crate::antagonist::AntagonistConfig) -> Result<(), Error> {
    use std::io::Write;
    let llc = sysfs::last_level_cache(Path::new(sysfs::CPU0_CACHE_DIR)).map(|l| l.size);
    b.param("kind", c.kind.name());
    b.param("threads", c.threads);
    b.param("max_procs", c.max_procs);
    // The size it will use (the plan's, or from the capped cache) is what
    // must fit, not only a size the plan gave.
    let (size, _) = crate::antagonist::choose_size(c.kind, c.size_bytes, llc, c.threads);
    let sized = crate::antagonist::AntagonistConfig {
        size_bytes: Some(size),
        ..c.clone()
    };
    if let Some(n) = sized.memory_need() {
        sysfs::check_memory_here(n)?;
    }
    let o = crate::antagonist::run(c, llc, |p| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", p.to_line());
        let _ = out.flush();
    })?;
    b.param("size_bytes", o.size_bytes);
    b.info("size_source", &o.size_source);
    if let Some(l) = llc {
        b.info("llc_bytes", l);
    }
    b.0.put(
        &crate::antagonist::METRICS[0],
        "rate",
        o.last.rate,
        Some(c.kind.unit()),
    );
    b.info("ops", o.last.ops);
    b.info("fork_failures", o.last.failures);
    b.verdict(if o.last.ops > 0 {
        Ok(format!("applied {:.1} {}", o.last.rate, c.kind.unit()))
    } else {
        Err(Invalid("the antagonist did no work".into()))
    });
    Ok(())
}

/// Apply and record the page policy of a memory workload: the policy is a
/// parameter (the same in every environment of a run); the THP mode and page
/// size of the environment are facts recorded beside it.
fn page_policy(b: &mut Builder, p: crate::alloc::PagePolicy) {
    crate::alloc::set_page_policy(p);
    b.param("pages", p.name());
    b.info("thp", sysfs::thp_mode());
    b.info("page_size", crate::alloc::page_size());
}

/// `VmHWM` of /proc/self/status (peak resident set, KiB).
pub fn vm_hwm_kib() -> Option<u64> {
    parse_vm_hwm(&std::fs::read_to_string("/proc/self/status").ok()?)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn run_cpu(b: &mut Builder, c: &cpu::CpuConfig) -> Result<(), Error> {
    b.param("threads", c.threads);
    b.param("primes_max", c.primes_max);
    b.param("matrix_n", c.matrix_n);
    if c.min_time_ms != cpu::DEFAULT_MIN_TIME_MS {
        b.param("min_time_ms", c.min_time_ms);
    }
    // A forced path is a parameter (its own series); auto is the default and
    // compares across environments, each recording the path it got.
    if c.isa != cpu::IsaChoice::Auto {
        b.param("isa", c.isa.name());
    }
    let all = cpu::measure(c, c.threads)?;
    b.info("dgemm_path", all.dgemm_path.name());
    b.info("dgemm_variant", all.dgemm_path.variant());
    let [primes, gflops, primes_t, gflops_t] = cpu::METRICS else {
        unreachable!("cpu defines four metrics")
    };
    b.metric(primes, all.primes_per_s);
    b.metric(gflops, all.gflops);
    b.info("dgemm_reps", all.dgemm_reps);
    b.info("primes_rounds", all.primes_rounds);
    b.info(
        "dgemm_timing",
        format!(
            "best of {} blocks of {} products",
            cpu::DGEMM_BLOCKS,
            all.dgemm_reps
        ),
    );
    b.info(
        "dgemm_block",
        format!(
            "128x256 (k x j) blocks, {} register tiles",
            all.dgemm_path.tile()
        ),
    );
    let mut check = all.check;
    // What a CPU model without the tuned path's features would leave: the
    // baseline path's rate beside the tuned one, all threads, timed the same
    // way right after it (recorded only with --isa auto; where auto already
    // took the baseline, `gflops_baseline` is `gflops`, an alias).
    let base = gflops_t.named("baseline");
    if c.isa == cpu::IsaChoice::Auto {
        if all.dgemm_path == cpu::DgemmPath::Baseline {
            b.metric_named(gflops_t, &base, all.gflops);
            b.alias(&base, gflops.stem());
        } else {
            let (g, reps, bcheck) = cpu::measure_dgemm(c, c.threads, cpu::DgemmPath::Baseline);
            b.metric_named(gflops_t, &base, g);
            b.info("dgemm_baseline_reps", reps);
            if let Err(e) = bcheck {
                check = Err(invalid!("baseline path: {e}"));
            }
        }
    }
    if c.threads > 1 {
        let one = cpu::measure(c, 1)?;
        b.metric_named(primes_t, &primes_t.named("1t"), one.primes_per_s);
        b.metric_named(gflops_t, &gflops_t.named("1t"), one.gflops);
        // The all-threads rates again under their thread count: the same
        // figures, recorded as aliases so that readers show them once.
        let n = format!("{}t", c.threads);
        b.metric_named(primes_t, &primes_t.named(&n), all.primes_per_s);
        b.metric_named(gflops_t, &gflops_t.named(&n), all.gflops);
        b.alias(&primes_t.named(&n), primes.stem());
        b.alias(&gflops_t.named(&n), gflops.stem());
        if let Err(e) = one.check {
            check = Err(invalid!("single-thread run: {e}"));
        }
    }
    b.verdict(check);
    Ok(())
}

fn run_membw(b: &mut Builder, c: &membw::MembwConfig) -> Result<(), Error> {
    let llc = sysfs::last_level_cache(Path::new(sysfs::CPU0_CACHE_DIR));
    let bytes = match (c.size_bytes, &llc) {
        (Some(s), _) => {
            b.info("array_size_source", "--size");
            s
        }
        (None, Some(l)) => {
            b.info(
                "array_size_source",
                format!("4x the L{} {} cache from sysfs", l.level, l.kind),
            );
            4 * l.size
        }
        (None, None) => {
            b.info(
                "array_size_source",
                "4x an assumed 32 MiB cache (sysfs has no cache info)",
            );
            4 * (32 << 20)
        }
    };
    if let Some(l) = &llc {
        b.info("llc_bytes", l.size);
    }
    let n = (bytes / 8) as usize;
    b.param("threads", c.threads);
    b.param("passes", c.passes);
    b.param("array_bytes", n as u64 * 8);
    b.info("array_elements", n);
    b.info(
        "memory_mib",
        format!("{:.1}", 3.0 * n as f64 * 8.0 / (1u64 << 20) as f64),
    );
    let stores = c.stores;
    b.param(
        "stream_variant",
        match stores {
            membw::Stores::Normal => "plain",
            membw::Stores::NonTemporal => "tuned",
        },
    );
    b.info("stores", stores.name());
    page_policy(b, c.pages);
    sysfs::check_memory_here(3 * n as u64 * 8)?;
    let o = membw::run_stream(n, c.threads, c.passes, stores)?;
    b.info("threads_used", o.threads);
    b.info(
        "timing",
        if c.passes > 1 {
            "best of passes 2..N (the first is a warm-up, as STREAM)"
        } else {
            "single pass"
        },
    );
    for (k, name) in membw::KERNELS.iter().enumerate() {
        b.metric_named(&membw::METRICS[k], &format!("{name}_mbs"), o.rates_mbs[k]);
        b.info(&format!("{name}_best_s"), format!("{:.6}", o.best_s[k]));
        b.info(&format!("{name}_avg_s"), format!("{:.6}", o.avg_s[k]));
    }
    b.verdict(o.check);
    Ok(())
}

fn run_randacc(b: &mut Builder, c: &randacc::RandaccConfig) -> Result<(), Error> {
    b.param("threads", c.threads);
    b.param("log2_table", c.log2_table);
    page_policy(b, c.pages);
    sysfs::check_memory_here(
        Command::Randacc(c.clone())
            .memory_need_bytes()
            .unwrap_or(u64::MAX),
    )?;
    let o = randacc::run(c)?;
    b.metric(&randacc::METRICS[0], o.gups);
    b.info("table_bytes", o.table_words as u64 * 8);
    b.info("updates", o.updates);
    b.info("update_seconds", format!("{:.6}", o.seconds));
    b.info("errors", o.errors);
    b.verdict(o.check);
    Ok(())
}

fn run_latency(b: &mut Builder, c: &latency::LatencyConfig) -> Result<(), Error> {
    b.param("min_size", format_size(c.min_size));
    b.param("max_size", format_size(c.max_size));
    if let Some(l) = c.loads {
        b.param("loads", l);
    }
    page_policy(b, c.pages);
    b.info("line_bytes", latency::LINE);
    sysfs::check_memory_here(
        Command::Latency(c.clone())
            .memory_need_bytes()
            .unwrap_or(u64::MAX),
    )?;
    let points = latency::run(c)?;
    let mut failures = Vec::new();
    let mut loads = Vec::new();
    for p in &points {
        let size = format_size(p.size);
        match &p.check {
            Ok(_) => {
                let def = &latency::METRICS[0];
                b.metric_named(def, &def.named(&size), p.ns_per_load);
                loads.push(format!("{size}:{}", p.loads));
            }
            Err(e) => failures.push(format!("{size}: {e}")),
        }
    }
    b.info("loads_per_size", loads.join(","));
    b.verdict(if failures.is_empty() {
        Ok(format!(
            "each of {} chases visited every line once",
            points.len()
        ))
    } else {
        Err(Invalid(failures.join("; ")))
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_vm_hwm() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(super::parse_vm_hwm(status), Some(1234));
        assert_eq!(super::parse_vm_hwm("Name: x\n"), None);
        assert!(super::vm_hwm_kib().unwrap() > 0);
    }

    use super::*;
    use crate::args::parse;

    fn run_args(s: &str) -> WorkloadResult {
        let v: Vec<String> = s.split_whitespace().map(String::from).collect();
        run(&parse(&v, 2).unwrap(), Instant::now(), BTreeMap::new())
    }

    #[test]
    fn metric_names_and_units_follow_the_design() {
        let r = run_args("membw --threads 2 --passes 2 --size 64KiB");
        assert!(r.valid, "{r:?}");
        for m in ["copy_mbs", "scale_mbs", "add_mbs", "triad_mbs"] {
            assert!(r.metrics[m] > 0.0);
            assert_eq!(r.units[m], "MB/s");
        }
        let r = run_args("randacc --threads 2 --log2-table 10");
        assert!(r.valid, "{r:?}");
        assert_eq!(r.units["gups"], "GUP/s");
        let r = run_args("latency --max-size 64KiB --loads 1000");
        assert!(r.valid, "{r:?}");
        let names: Vec<&str> = r.metrics.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "ns_per_load_16KiB",
                "ns_per_load_32KiB",
                "ns_per_load_64KiB"
            ]
        );
        let r = run_args("cpu --threads 2 --primes-max 1000 --matrix-n 16");
        assert!(r.valid, "{r:?}");
        for m in ["primes_per_s", "gflops", "primes_per_s_1t", "gflops_1t"] {
            assert!(r.metrics[m] > 0.0, "{m}");
        }
        assert_eq!(r.params["threads"], 2);
        assert!(!r.params.contains_key("isa"), "auto is the default");
        let auto = cpu::IsaChoice::Auto.select().unwrap();
        assert_eq!(r.info["dgemm_path"], auto.name());
        assert_eq!(r.info["dgemm_variant"], auto.variant());
        assert!(r.metrics["gflops_baseline"] > 0.0);
        assert_eq!(
            r.aliases.contains_key("gflops_baseline"),
            auto == cpu::DgemmPath::Baseline
        );
        let r = run_args("cpu --threads 1 --primes-max 1000 --matrix-n 16 --isa baseline");
        assert!(r.valid, "{r:?}");
        assert_eq!(r.params["isa"], "baseline");
        assert_eq!(r.info["dgemm_path"], "sse2");
        assert_eq!(r.info["dgemm_variant"], "baseline");
        assert!(
            !r.metrics.contains_key("gflops_baseline"),
            "forced: one path"
        );
        let r = run_args("startup");
        assert!(r.valid && r.metrics.is_empty());
        assert!(r.info["isa"].starts_with("x86-64") || !cfg!(target_arch = "x86_64"));
        // The line parses back.
        let back = crate::protocol::find_result(&r.to_line()).unwrap();
        assert_eq!(back, r);
        assert!(r.info["held_ms"].parse::<f64>().unwrap() < 5.0);
        let r = run_args("startup --hold-ms 30");
        assert!(r.valid, "{r:?}");
        assert_eq!(r.params["hold_ms"], 30);
        let held: f64 = r.info["held_ms"].parse().unwrap();
        assert!((30.0..1000.0).contains(&held), "held {held} ms");
    }

    #[test]
    fn baseline_build_reports_sse2_only() {
        // The workload binary is built for the baseline ISA (no -C target-cpu).
        if cfg!(target_arch = "x86_64") && !cfg!(target_feature = "avx") {
            assert_eq!(isa(), "x86-64+sse2");
        }
    }
}
