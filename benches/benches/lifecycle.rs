//! Container lifecycle: `isorun run` vs `crun run` vs `runc run` of the same
//! bundle (static busybox `true`: the process exits at once), as root.
//!
//! First an interleaved pass (every round runs each runtime once, in a
//! shuffled order, so drift of a noisy host favours none) whose medians are
//! printed and written to target/criterion/lifecycle-interleaved.json; then
//! a criterion group with one function per runtime. isorun is the binary
//! next to this bench's profile dir (build it: `cargo build --release -p
//! isorun`) or `ISORUN_BIN`. Peers start through `isorun::peer` (crun's
//! hybrid-cgroup quirk applied there).

use criterion::Criterion;
use isorun::peer::Peer;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Setup {
    _dir: tempfile::TempDir,
    bundle: PathBuf,
    state: PathBuf,
    peers: Vec<Peer>,
}

fn isorun_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ISORUN_BIN") {
        return Some(PathBuf::from(p));
    }
    // target/<profile>/deps/lifecycle-* → target/<profile>/isorun
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let t = profile_dir.parent()?;
    [profile_dir.join("isorun"), t.join("release/isorun")]
        .into_iter()
        .find(|p| p.is_file())
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    })
}

fn setup() -> Result<Setup, String> {
    if !nix_is_root() {
        return Err("needs root (namespaces, mounts, cgroups)".into());
    }
    let busybox = Path::new("/bin/busybox");
    if !busybox.is_file() {
        return Err("/bin/busybox missing (apt-get install busybox-static)".into());
    }
    let isorun = isorun_bin()
        .ok_or("isorun binary missing: cargo build --release -p isorun (or set ISORUN_BIN)")?;
    let dir = tempfile::Builder::new()
        .prefix("isorun-bench-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let bundle = dir.path().join("bundle");
    let rootfs = bundle.join("rootfs");
    for d in ["bin", "proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).map_err(|e| e.to_string())?;
    }
    std::fs::copy(busybox, rootfs.join("bin/busybox")).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/true")).map_err(|e| e.to_string())?;
    isorun::spec::write_config(&bundle, &isorun::spec::default_json(&["/bin/true".into()]))
        .map_err(|e| e.to_string())?;
    let mut peers = vec![Peer::probe(&isorun).map_err(|e| e.to_string())?];
    for name in ["crun", "runc"] {
        match which(name).map(|b| Peer::probe(&b)) {
            Some(Ok(p)) => peers.push(p),
            _ => eprintln!("lifecycle: {name} not found, not compared"),
        }
    }
    let state = dir.path().join("state");
    Ok(Setup {
        bundle,
        state,
        peers,
        _dir: dir,
    })
}

/// Effective uid 0: /proc/self belongs to the process's effective uid.
fn nix_is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// One `run` of the bundle; returns its wall time.
fn run_once(s: &Setup, p: &Peer) -> Duration {
    let id = format!(
        "bench-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let mut c = p.command(["--root".as_ref(), s.state.as_os_str()]);
    c.args(["run", "--bundle"])
        .arg(&s.bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let out = c.output().expect("runtime runs");
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "{} run failed: {}",
        p.name,
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Every round runs each runtime once, in a rotating order.
fn interleaved(s: &Setup, rounds: usize) {
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); s.peers.len()];
    for p in &s.peers {
        run_once(s, p); // warm-up
    }
    for r in 0..rounds {
        let n = s.peers.len();
        for k in 0..n {
            let i = (r + k) % n;
            times[i].push(run_once(s, &s.peers[i]).as_secs_f64() * 1000.0);
        }
    }
    let mut report = serde_json::Map::new();
    println!("lifecycle (interleaved, {rounds} rounds): median wall time of `RUNTIME run`");
    for (p, t) in s.peers.iter().zip(times.iter_mut()) {
        let m = median(t);
        println!("  {:<8} {:>7.2} ms   ({})", p.name, m, p.version);
        report.insert(
            p.name.clone(),
            serde_json::json!({"median_ms": m, "samples_ms": t, "version": p.version, "quirks": p.quirks()}),
        );
    }
    // target/<profile>/deps/lifecycle-* → target/criterion
    let exe = std::env::current_exe().unwrap_or_default();
    let Some(out) = exe.ancestors().nth(3).map(|t| t.join("criterion")) else {
        return;
    };
    if std::fs::create_dir_all(&out).is_ok() {
        let _ = std::fs::write(
            out.join("lifecycle-interleaved.json"),
            serde_json::to_vec_pretty(&report).unwrap_or_default(),
        );
    }
}

fn bench(c: &mut Criterion, s: &Setup) {
    let mut g = c.benchmark_group("lifecycle");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    for p in &s.peers {
        g.bench_function(format!("{}_run", p.name), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run_once(s, p)).sum())
        });
    }
    g.finish();
}

fn main() {
    let s = match setup() {
        Ok(s) => s,
        Err(why) => {
            eprintln!("lifecycle benchmark skipped: {why}");
            return;
        }
    };
    let rounds = std::env::var("LIFECYCLE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    interleaved(&s, rounds);
    let mut c = Criterion::default().without_plots().configure_from_args();
    bench(&mut c, &s);
    c.final_summary();
}
