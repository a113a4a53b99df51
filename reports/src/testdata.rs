//! Synthetic but realistic run directories for tests and benchmarks: native,
//! two container runtimes and a TCG virtual machine, every workload, several
//! repetitions with deterministic noise. The figures are of the order measured
//! on the development host (docs/design.md, "This machine").

use crate::load::Run;
use crate::schema::{
    CacheInfo, HostInfo, KvmInfo, ResultRecord, RunInfo, Timings, ToolInfo, RESULTS_FILE, RUN_FILE,
    SCHEMA_VERSION,
};
use crate::stats::SplitMix64;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Environment ids of the fixture, in report order.
pub const ENVS: [&str; 4] = ["native", "container-isorun", "container-runc", "vm-tcg"];
/// Working-set sizes of the latency fixture.
pub const LATENCY_SIZES: [(&str, f64); 6] = [
    ("16KiB", 1.3),
    ("256KiB", 3.9),
    ("4MiB", 11.0),
    ("32MiB", 48.0),
    ("256MiB", 92.0),
    ("1GiB", 110.0),
];

fn class(env_id: &str) -> &'static str {
    if env_id == "native" {
        "native"
    } else if env_id.starts_with("vm") {
        "vm"
    } else {
        "container"
    }
}

fn detail(env_id: &str) -> BTreeMap<String, String> {
    let pairs: &[(&str, &str)] = match env_id {
        "container-isorun" => &[("runtime", "isorun"), ("version", "0.1.0")],
        "container-runc" => &[("runtime", "runc"), ("version", "1.1.5")],
        "vm-tcg" => &[
            ("accel", "tcg"),
            ("accel_reason", "KVM test boot hung (kvm_pvm)"),
            ("machine", "microvm"),
        ],
        _ => &[],
    };
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// (throughput factor, latency factor, first-instruction ms, lifecycle ms)
fn profile(env_id: &str) -> (f64, f64, f64, f64) {
    match env_id {
        "native" => (1.0, 1.0, 1.6, 3.1),
        "container-isorun" => (0.99, 1.02, 38.0, 61.0),
        "container-runc" => (0.98, 1.03, 85.0, 130.0),
        _ => (0.11, 6.0, 3800.0, 4050.0),
    }
}

/// The `run.json` of the fixture.
pub fn fixture_info() -> RunInfo {
    RunInfo {
        schema: SCHEMA_VERSION,
        run_id: "20261127T181500Z-fixture".into(),
        started_at: "2026-11-27T18:15:00Z".into(),
        finished_at: Some("2026-11-27T18:25:00Z".into()),
        host: HostInfo {
            hostname: "bench-host".into(),
            cpu_model: "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz".into(),
            cpu_mhz: 2900.0,
            cores_logical: 2,
            cores_physical: Some(1),
            caches: vec![
                CacheInfo {
                    level: 1,
                    kind: "Data".into(),
                    size_bytes: 48 << 10,
                },
                CacheInfo {
                    level: 3,
                    kind: "Unified".into(),
                    size_bytes: 54 << 20,
                },
            ],
            memory_bytes: 24 << 30,
            kernel: "6.1.0-27-cloud-amd64".into(),
            os: "Debian GNU/Linux 12 (bookworm)".into(),
            cgroup: "hybrid".into(),
            kvm: KvmInfo {
                device: true,
                module: Some("kvm_pvm".into()),
            },
        },
        tool: ToolInfo {
            isobench_version: "0.1.0".into(),
            git_commit: Some("4fe5fcd".into()),
            workload_binary:
                "/work/main/target/x86_64-unknown-linux-musl/release/isobench-workload".into(),
            workload_sha256: None,
        },
        config: serde_json::json!({"preset": "quick", "reps": 5, "warmup": 1, "threads": 1}),
        environments: ENVS
            .iter()
            .map(|e| crate::schema::EnvInfo {
                env: class(e).into(),
                env_id: e.to_string(),
                detail: detail(e),
            })
            .collect(),
        warnings: vec![],
    }
}

fn record(env_id: &str, workload: &str, rep: u32, metrics: &[(String, f64, &str)]) -> ResultRecord {
    ResultRecord {
        schema: SCHEMA_VERSION,
        run_id: "20261127T181500Z-fixture".into(),
        env: class(env_id).into(),
        env_id: env_id.into(),
        env_detail: detail(env_id),
        workload: workload.into(),
        params: BTreeMap::from([("threads".to_string(), serde_json::json!(1))]),
        rep,
        valid: true,
        metrics: metrics.iter().map(|(k, v, _)| (k.clone(), *v)).collect(),
        units: metrics
            .iter()
            .map(|(k, _, u)| (k.clone(), u.to_string()))
            .collect(),
        directions: Default::default(),
        aliases: Default::default(),
        info: BTreeMap::from([("isa".to_string(), "x86-64".to_string())]),
        timings: Timings {
            started_unix_ms: 1_795_803_300_000 + rep as u64 * 60_000,
            wall_ms: 900.0,
            first_instruction_ms: None,
        },
        error: None,
    }
}

/// Records of claim C7's workloads: `layers` (native column: 4 layers of
/// 4 MiB, one added by a one-file change, `added` for the tool's figure)
/// and `copyup` (native 0.01 ms, `container-isorun` `copy_ms` at 16 MiB).
pub fn layer_records(reps: u32, added: f64, copy_ms: f64) -> Vec<ResultRecord> {
    let mut out = Vec::new();
    for rep in 0..reps {
        let mut m = Vec::new();
        for pre in ["", "oci_"] {
            m.push((format!("{pre}layers_total"), 4.0, "layers"));
            m.push((format!("{pre}layers_reused"), 4.0 - added, "layers"));
            m.push((format!("{pre}layers_added"), added, "layers"));
            m.push((
                format!("{pre}layer_added_bytes"),
                added * 4194316.0,
                "bytes",
            ));
            m.push((format!("{pre}image_bytes"), 16777228.0, "bytes"));
        }
        out.push(record("native", "layers", rep, &m));
        for (env, ms) in [("native", 0.01), ("container-isorun", copy_ms)] {
            let m = vec![
                (
                    "first_write_ms_4KiB".to_string(),
                    0.01 + rep as f64 * 1e-4,
                    "ms",
                ),
                (
                    "first_write_ms_16MiB".to_string(),
                    ms + rep as f64 * 1e-4,
                    "ms",
                ),
            ];
            out.push(record(env, "copyup", rep, &m));
        }
    }
    out
}

/// Records of claim C8's `fileio` workload: native at `disk` and `tmpfs`
/// (seq 400 MB/s, random 2000 IOPS on disk; 10x on tmpfs), `container-isorun`
/// at `container` × native on the same places plus an overlay `rootfs`,
/// and `vm-kvm` (accelerator kvm) at `vm` × native on `disk` when given.
/// Repetitions wobble by ±1%.
pub fn fileio_records(reps: u32, container: f64, vm: Option<f64>) -> Vec<ResultRecord> {
    let rates = |place: &str, scale: f64, rep: u32| -> Vec<(String, f64, &'static str)> {
        let base = if place == "disk" { 1.0 } else { 10.0 };
        let w = 1.0 + 0.01 * ((rep % 3) as f64 - 1.0);
        vec![
            (
                format!("seq_read_mbs_{place}"),
                400.0 * base * scale * w,
                "MB/s",
            ),
            (
                format!("seq_write_mbs_{place}"),
                300.0 * base * scale * w,
                "MB/s",
            ),
            (
                format!("rand_read_iops_{place}"),
                2000.0 * base * scale * w,
                "IOPS",
            ),
            (
                format!("rand_write_iops_{place}"),
                500.0 * base * scale * w,
                "IOPS",
            ),
        ]
    };
    let mut out = Vec::new();
    for rep in 0..reps {
        let mut n = rates("disk", 1.0, rep);
        n.extend(rates("tmpfs", 1.0, rep));
        out.push(record("native", "fileio", rep, &n));
        // Wobbles out of step with native's, so ratios have a spread.
        let mut c = rates("disk", container, rep + 1);
        c.extend(rates("tmpfs", container, rep + 1));
        c.extend(rates("rootfs", 9.0, rep + 1));
        out.push(record("container-isorun", "fileio", rep, &c));
        if let Some(v) = vm {
            let mut r = record("vm-kvm", "fileio", rep, &rates("disk", v, rep + 2));
            r.env_detail = BTreeMap::from([("accel".to_string(), "kvm".to_string())]);
            out.push(r);
        }
    }
    out
}

/// A run of every fixture environment and workload with `reps` repetitions
/// (20 lines per repetition). `triad_scale` multiplies STREAM triad everywhere
/// (0.8 makes a run whose triad is 20% slower).
pub fn fixture_run(reps: u32, triad_scale: f64) -> Run {
    fixture_run_seeded(reps, triad_scale, 42)
}

/// [`fixture_run`] with another noise seed: an independent run of the same
/// host (for A/A comparisons).
pub fn fixture_run_seeded(reps: u32, triad_scale: f64, seed: u64) -> Run {
    let mut rng = SplitMix64::new(seed);
    let mut noise = |spread: f64| 1.0 + spread * ((rng.next_u64() % 2001) as f64 / 1000.0 - 1.0);
    let mut records = Vec::new();
    for rep in 0..reps {
        for env in ENVS {
            let (tp, lat, fi, lc) = profile(env);
            let m = |name: &str, v: f64, unit: &'static str| (name.to_string(), v, unit);
            records.push(record(
                env,
                "cpu",
                rep,
                &[
                    m("primes_per_s", 21000.0 * tp * noise(0.02), "primes/s"),
                    m("gflops", 3.2 * tp * noise(0.02), "GFLOP/s"),
                ],
            ));
            let bw = 9800.0 * if env.starts_with("vm") { 0.5 } else { 1.0 };
            records.push(record(
                env,
                "membw",
                rep,
                &[
                    m("copy_mbs", bw * 1.05 * tp * noise(0.1), "MB/s"),
                    m("scale_mbs", bw * tp * noise(0.1), "MB/s"),
                    m("add_mbs", bw * 1.1 * tp * noise(0.1), "MB/s"),
                    m(
                        "triad_mbs",
                        bw * 1.1 * tp * triad_scale * noise(0.03),
                        "MB/s",
                    ),
                ],
            ));
            records.push(record(
                env,
                "randacc",
                rep,
                &[m("gups", 0.052 * tp * noise(0.05), "GUPS")],
            ));
            let lat_metrics: Vec<_> = LATENCY_SIZES
                .iter()
                .map(|(size, ns)| (format!("ns_per_load_{size}"), ns * lat * noise(0.05), "ns"))
                .collect();
            records.push(record(env, "latency", rep, &lat_metrics));
            records.push(record(
                env,
                "startup",
                rep,
                &[
                    m("first_instruction_ms", fi * noise(0.1), "ms"),
                    m("lifecycle_ms", lc * noise(0.1), "ms"),
                ],
            ));
        }
    }
    Run {
        dir: PathBuf::new(),
        info: fixture_info(),
        records,
        warnings: vec![],
    }
}

/// Write `run.json` and `results.jsonl` of `run` into `dir` (created).
/// Panics on I/O errors: for tests and benchmarks only.
pub fn write_run_dir(dir: &Path, run: &Run) {
    std::fs::create_dir_all(dir).expect("create fixture dir");
    let info = serde_json::to_string_pretty(&run.info).expect("serialize run.json");
    std::fs::write(dir.join(RUN_FILE), info).expect("write run.json");
    let mut lines = String::new();
    for r in &run.records {
        lines.push_str(&serde_json::to_string(r).expect("serialize record"));
        lines.push('\n');
    }
    std::fs::write(dir.join(RESULTS_FILE), lines).expect("write results.jsonl");
}

/// Multiply every value of the metrics for which `pick(record, metric)` holds
/// by `factor` (0.8 makes them 20% lower).
pub fn scale_metrics(run: &mut Run, pick: impl Fn(&ResultRecord, &str) -> bool, factor: f64) {
    for r in run.records.iter_mut() {
        let names: Vec<String> = r.metrics.keys().cloned().collect();
        for name in names {
            if pick(r, &name) {
                *r.metrics.get_mut(&name).expect("metric") *= factor;
            }
        }
    }
}

/// Make the cpu records look like a run with `threads: 2`, as the cpu
/// workload writes it: `gflops_1t`/`primes_per_s_1t` (one thread, a separate
/// measurement) and `gflops_2t`/`primes_per_s_2t`, which are the same values
/// as `gflops`/`primes_per_s` (aliases).
pub fn with_two_thread_cpu(run: &mut Run) {
    for r in run.records.iter_mut().filter(|r| r.workload == "cpu") {
        r.params.insert("threads".into(), serde_json::json!(2));
        for base in ["gflops", "primes_per_s"] {
            let all = r.metrics[base];
            let unit = r.units[base].clone();
            // One thread: about half of two, with its own deterministic wobble.
            let one = all * (0.5 + 0.01 * ((r.rep % 3) as f64 - 1.0));
            r.metrics.insert(format!("{base}_1t"), one);
            r.metrics.insert(format!("{base}_2t"), all);
            r.units.insert(format!("{base}_1t"), unit.clone());
            r.units.insert(format!("{base}_2t"), unit);
        }
    }
}

/// The fixture with its VM under KVM instead of TCG (env id `vm-kvm`), for
/// verdicts that hardware virtualisation can decide.
pub fn fixture_run_kvm(reps: u32) -> Run {
    let mut run = fixture_run(reps, 1.0);
    let kvm = |d: &mut BTreeMap<String, String>| {
        d.insert("accel".into(), "kvm".into());
        d.insert("accel_reason".into(), "KVM test boot succeeded".into());
    };
    for r in run.records.iter_mut().filter(|r| r.env == "vm") {
        r.env_id = "vm-kvm".into();
        kvm(&mut r.env_detail);
    }
    for e in run.info.environments.iter_mut().filter(|e| e.env == "vm") {
        e.env_id = "vm-kvm".into();
        kvm(&mut e.detail);
    }
    run
}

/// Add the idle-instance footprint (`footprint_pss_mib`, `footprint_uss_mib`,
/// MiB) to every startup record: `mib(env_class)` gives the PSS.
pub fn add_footprint(run: &mut Run, mib: impl Fn(&str) -> f64) {
    for r in run.records.iter_mut().filter(|r| r.workload == "startup") {
        let pss = mib(&r.env);
        r.metrics.insert("footprint_pss_mib".into(), pss);
        r.metrics.insert("footprint_uss_mib".into(), pss * 0.8);
        r.units.insert("footprint_pss_mib".into(), "MiB".into());
        r.units.insert("footprint_uss_mib".into(), "MiB".into());
    }
}

/// Mark the STREAM variant of every membw record of the environments
/// matching `env_id` (`plain`, `tuned`), as the workload's `info` carries it.
pub fn set_stream_variant(run: &mut Run, env_id: impl Fn(&str) -> bool, variant: &str) {
    for r in run
        .records
        .iter_mut()
        .filter(|r| r.workload == "membw" && env_id(&r.env_id))
    {
        r.info.insert("stream_variant".into(), variant.into());
    }
}

/// Records of the noisy-neighbour experiment: for each `(env_id,
/// placement, speed)`, 5 repetitions of a cpu victim alone and beside a CPU
/// hog running at `speed` of its speed alone (1% drift per repetition, shared
/// by both, so pairing cancels it). VMs get accelerator `accel`.
pub fn neighbour_records(accel: &str, speeds: &[(&str, &str, f64)]) -> Vec<ResultRecord> {
    let template = fixture_run(1, 1.0).records[0].clone();
    let mut out = Vec::new();
    for &(env_id, place, speed) in speeds {
        for rep in 0..5u32 {
            let j = 1.0 + 0.01 * (rep as f64 - 2.0);
            for (ant, v) in [("none", 20.0 * j), ("cpu", 20.0 * speed * j)] {
                let mut r = template.clone();
                r.env_id = env_id.into();
                r.env = env_id.split('-').next().unwrap_or(env_id).into();
                r.env_detail.clear();
                if r.env == "vm" {
                    r.env_detail.insert("accel".into(), accel.into());
                }
                r.workload = crate::schema::NEIGHBOUR_WORKLOAD.into();
                r.rep = rep;
                r.valid = true;
                r.error = None;
                r.params = BTreeMap::from([
                    ("victim".to_string(), serde_json::json!("cpu")),
                    ("antagonist".to_string(), serde_json::json!(ant)),
                    ("placement".to_string(), serde_json::json!(place)),
                ]);
                r.metrics = BTreeMap::from([("gflops".to_string(), v)]);
                r.units = BTreeMap::from([("gflops".to_string(), "GFLOP/s".to_string())]);
                if ant != "none" {
                    r.metrics
                        .insert(crate::schema::ANTAGONIST_RATE.into(), 550.0);
                    r.units
                        .insert(crate::schema::ANTAGONIST_RATE.into(), "Mops/s".into());
                }
                out.push(r);
            }
        }
    }
    out
}

/// Density records with time stamps and a teardown, on a host that drifts:
/// `n` container instances of `env_id` launched one a second (t = k s) and
/// stopped one a second, each with `pss` MiB of PSS and taking `per_instance`
/// MiB, while the host's used memory grows by `drift` MiB/s (±0.3 MiB of
/// noise alternating by the second). With `teardown` false only the launches.
pub fn drifting_density_records(
    env_id: &str,
    n: u64,
    pss: f64,
    per_instance: f64,
    drift: f64,
    teardown: bool,
) -> Vec<ResultRecord> {
    let mut launches = density_records(env_id, "", n, pss, per_instance);
    let avail = |live: u64, t: u64| {
        let noise = if t.is_multiple_of(2) { 0.3 } else { -0.3 };
        50_000.0 - per_instance * live as f64 - drift * t as f64 + noise
    };
    for r in &mut launches {
        let k = r.params["instance"].as_u64().unwrap_or(0);
        let a = avail(k, k);
        r.metrics.insert("host_mem_available_mib".into(), a);
        r.metrics
            .insert("host_mem_used_delta_mib".into(), 50_000.0 - a);
        r.metrics.insert("reading_unix_s".into(), 1.7e9 + k as f64);
        r.units.insert("reading_unix_s".into(), "s".into());
    }
    if teardown {
        let template = launches[0].clone();
        for j in 1..=n {
            let (live, t) = (n - j, n + j);
            let mut r = template.clone();
            r.params = BTreeMap::from([
                ("instance".to_string(), serde_json::json!(live)),
                ("phase".to_string(), serde_json::json!("stop")),
            ]);
            let a = avail(live, t);
            r.metrics = BTreeMap::from([
                ("host_mem_available_mib".to_string(), a),
                ("host_mem_used_delta_mib".to_string(), 50_000.0 - a),
                ("reading_unix_s".to_string(), 1.7e9 + t as f64),
            ]);
            launches.push(r);
        }
    }
    launches
}

/// Records of the density experiment: `n` idle instances of `env_id`, each
/// with `pss` MiB of PSS and taking `per_instance` MiB of host memory (±0.3
/// MiB of drift), launches growing from 10 ms by 1% per instance. VMs get
/// accelerator `accel`.
pub fn density_records(
    env_id: &str,
    accel: &str,
    n: u64,
    pss: f64,
    per_instance: f64,
) -> Vec<ResultRecord> {
    let template = fixture_run(1, 1.0).records[0].clone();
    (1..=n)
        .map(|k| {
            let mut r = template.clone();
            r.env_id = env_id.into();
            r.env = env_id.split('-').next().unwrap_or(env_id).into();
            r.env_detail.clear();
            if r.env == "vm" {
                r.env_detail.insert("accel".into(), accel.into());
            }
            r.workload = crate::schema::DENSITY_WORKLOAD.into();
            r.rep = 0;
            r.valid = true;
            r.error = None;
            r.params = BTreeMap::from([("instance".to_string(), serde_json::json!(k))]);
            let drift = if k % 2 == 0 { 0.3 } else { -0.3 };
            r.metrics = BTreeMap::from([
                ("launch_ms".to_string(), 10.0 * (1.0 + 0.01 * k as f64)),
                ("instance_pss_mib".to_string(), pss),
                ("instance_uss_mib".to_string(), pss * 0.9),
                (
                    "host_mem_used_delta_mib".to_string(),
                    per_instance * k as f64 + drift,
                ),
            ]);
            r.units = r
                .metrics
                .keys()
                .map(|k| {
                    (
                        k.clone(),
                        if k == "launch_ms" { "ms" } else { "MiB" }.to_string(),
                    )
                })
                .collect();
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixture_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let run = fixture_run(3, 1.0);
        write_run_dir(tmp.path(), &run);
        let loaded = crate::load::load_run(tmp.path()).unwrap();
        assert_eq!(loaded.records, run.records);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }
}
