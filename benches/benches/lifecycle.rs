//! Container lifecycle: `isorun run` vs `crun run` vs `runc run` of the same
//! bundle (static busybox `true`: the process exits at once), as root; and,
//! side by side in the same run, the two speed goals of isorun (issue 19):
//!
//! * `bare`: `isorun run` of the default bundle against a bare `unshare` of
//!   the same namespaces (pid, net, ipc, uts, mount, cgroup) chrooted into
//!   the same rootfs, running the same `true`. Goal: ratio <= 1.5.
//! * `image_cgroups`: `isorun run` of a bundle whose root is an image of
//!   isorun's layer store (overlay mounted by isorun) with memory, pids and
//!   cpu limits, against `crun run` of the same limits on the same image's
//!   overlay (mounted once beforehand, as podman would hand it over: crun
//!   is not charged for it, isorun is). Goal: ratio < 0.5.
//!
//! Every runtime's state root is on a tmpfs where the host has one (as
//! their defaults under /run are), so a busy disk's journal is not timed.
//!
//! First an interleaved pass (every round runs each runtime once, in a
//! shuffled order, so drift of a noisy host favours none) whose medians are
//! printed and written to target/criterion/lifecycle-interleaved.json; then
//! a criterion group with one function per runtime. isorun is the static
//! build of `scripts/build-isorun.sh` or the dynamic one of `cargo build
//! --release -p isorun`, whichever is newer, or `ISORUN_BIN`. Peers start
//! through `isorun::peer` (crun's hybrid-cgroup quirk applied there).

use criterion::Criterion;
use isorun::peer::Peer;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Setup {
    bundle: PathBuf,
    state: PathBuf,
    /// The state root's own temp dir when it is on a tmpfs (see `state_root`).
    _state_dir: Option<tempfile::TempDir>,
    peers: Vec<Peer>,
    /// The goal pairs' commands (see the module doc), where they can run.
    cases: Vec<Case>,
    /// The overlay mounted for crun (unmounted on drop).
    overlay: Option<PathBuf>,
    _dir: tempfile::TempDir,
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(o) = &self.overlay {
            let _ = isorun::image::unmount(o);
        }
    }
}

/// One timed command of the goal pairs: a runtime (with `run --bundle B
/// ID` appended) or a plain program.
struct Case {
    name: &'static str,
    peer: Option<Peer>,
    bin_args: Vec<std::ffi::OsString>,
    bundle: Option<PathBuf>,
}

/// `ISORUN_BIN`, else the newer of the static build of
/// scripts/build-isorun.sh and the dynamic one of `cargo build --release -p
/// isorun` (isobench's own rule, `isobench::locate`: a dynamic build newer
/// than the static one wins, so a static binary left from older sources is
/// not measured).
fn isorun_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ISORUN_BIN") {
        return Some(PathBuf::from(p));
    }
    // target/<profile>/deps/lifecycle-*
    let exe = std::env::current_exe().ok()?;
    let (statik, dynamic) = isobench::locate::isorun_builds(&exe);
    let dynamic = dynamic.or_else(|| {
        // A debug bench run with a release isorun: target/release/isorun.
        let t = exe.parent()?.parent()?.parent()?;
        let p = t.join("release/isorun");
        let mtime = std::fs::metadata(&p).ok()?.modified().ok()?;
        Some(isobench::locate::Build { path: p, mtime })
    });
    isobench::locate::pick_isorun(statik, dynamic).map(|b| b.path)
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
        .ok_or("isorun binary missing: scripts/build-isorun.sh or cargo build --release -p isorun (or set ISORUN_BIN)")?;
    eprintln!(
        "lifecycle: isorun {} ({})",
        isorun.display(),
        match std::fs::read(&isorun)
            .ok()
            .and_then(|b| isobench::locate::is_static_elf(&b))
        {
            Some(true) => "static",
            Some(false) => "dynamic",
            None => "not an ELF file",
        }
    );
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
    let state_dir = state_root();
    let state = match &state_dir {
        Some(t) => t.path().to_path_buf(),
        None => dir.path().join("state"),
    };
    eprintln!(
        "lifecycle: state root {} ({})",
        state.display(),
        if state_dir.is_some() {
            "a tmpfs, as /run/isorun, /run/runc and /run/crun usually are"
        } else {
            "no tmpfs found: in the temp dir"
        }
    );
    let mut setup = Setup {
        bundle,
        state,
        _state_dir: state_dir,
        peers,
        cases: Vec::new(),
        overlay: None,
        _dir: dir,
    };
    goal_cases(&mut setup, &rootfs)?;
    Ok(setup)
}

/// Whether `dir` is the mount point of a tmpfs (/proc/self/mountinfo).
fn is_tmpfs_mount(dir: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|t| {
        t.lines().any(|l| {
            let Some((left, right)) = l.split_once(" - ") else {
                return false;
            };
            left.split(' ').nth(4) == Some(dir) && right.split(' ').next() == Some("tmpfs")
        })
    })
}

/// A state root for every runtime on a tmpfs (/run, else /dev/shm), as
/// their default roots (/run/isorun, /run/runc, /run/crun) are on a usual
/// host: in a temp dir on disk, every run's state files (create, rename,
/// unlink) waited on the disk's journal, a cost of the machine's disk
/// load that `unshare` never pays (measured with strace -f -w -c: three
/// unlinkat calls took 41 ms in one run on a busy host).
fn state_root() -> Option<tempfile::TempDir> {
    ["/run", "/dev/shm"]
        .into_iter()
        .filter(|d| is_tmpfs_mount(d))
        .find_map(|d| {
            tempfile::Builder::new()
                .prefix("isorun-bench-state-")
                .tempdir_in(d)
                .ok()
        })
}

/// The config of the image bundles: the default plus memory, pids and cpu
/// limits (so each run makes and removes cgroups with limits written).
fn limited_config() -> serde_json::Value {
    let mut v = isorun::spec::default_json(&["/bin/true".into()]);
    v["linux"]["resources"]["memory"] = serde_json::json!({"limit": 256u64 << 20});
    v["linux"]["resources"]["pids"] = serde_json::json!({"limit": 128});
    v["linux"]["resources"]["cpu"] = serde_json::json!({"shares": 512});
    v
}

/// Build the goal pairs' cases into `s` (a pair whose baseline is missing
/// is left out with a line saying why).
fn goal_cases(s: &mut Setup, rootfs: &Path) -> Result<(), String> {
    let e = |e: isorun::Error| e.to_string();
    let isorun = s.peers[0].clone();
    match which("unshare") {
        Some(u) => {
            s.cases.push(Case {
                name: "isorun_bare",
                peer: Some(isorun.clone()),
                bin_args: Vec::new(),
                bundle: Some(s.bundle.clone()),
            });
            let mut args: Vec<std::ffi::OsString> = vec![u.into()];
            for a in [
                "--fork", "--pid", "--net", "--ipc", "--uts", "--mount", "--cgroup",
            ] {
                args.push(a.into());
            }
            let mut root = std::ffi::OsString::from("--root=");
            root.push(rootfs);
            args.push(root);
            args.push("/bin/true".into());
            s.cases.push(Case {
                name: "unshare_bare",
                peer: None,
                bin_args: args,
                bundle: None,
            });
        }
        None => eprintln!("lifecycle: unshare not found, the bare pair is left out"),
    }
    let Some(crun) = s.peers.iter().find(|p| p.name == "crun").cloned() else {
        eprintln!("lifecycle: crun not found, the image_cgroups pair is left out");
        return Ok(());
    };
    let base = s
        .bundle
        .parent()
        .expect("bundle is in the temp dir")
        .to_path_buf();
    let store_dir = base.join("store");
    let store = isorun::image::Store::open(&store_dir).map_err(e)?;
    store
        .build(
            "bench",
            &[rootfs.to_path_buf()],
            isorun::image::ImageConfig::default(),
        )
        .map_err(e)?;
    // isorun: the image named by the annotations, an empty root.path.
    let ibundle = base.join("image-bundle");
    std::fs::create_dir_all(ibundle.join("rootfs")).map_err(|e| e.to_string())?;
    let mut v = limited_config();
    v["annotations"] = serde_json::json!({
        isorun::config::ANNOTATION_IMAGE: "bench",
        isorun::config::ANNOTATION_STORE: store_dir,
    });
    isorun::spec::write_config(&ibundle, &v).map_err(e)?;
    // crun: the same image's overlay on root.path.
    let cbundle = base.join("crun-bundle");
    let target = cbundle.join("rootfs");
    isorun::image::mount_overlay(
        &store,
        "bench",
        &base.join("crun-upper"),
        &base.join("crun-work"),
        &target,
    )
    .map_err(e)?;
    s.overlay = Some(target);
    isorun::spec::write_config(&cbundle, &limited_config()).map_err(e)?;
    s.cases.push(Case {
        name: "isorun_image_cgroups",
        peer: Some(isorun),
        bin_args: Vec::new(),
        bundle: Some(ibundle),
    });
    s.cases.push(Case {
        name: "crun_image_cgroups",
        peer: Some(crun),
        bin_args: Vec::new(),
        bundle: Some(cbundle),
    });
    Ok(())
}

/// One run of a goal case; returns its wall time.
fn run_case(s: &Setup, c: &Case) -> Duration {
    let mut cmd = match (&c.peer, &c.bundle) {
        (Some(p), Some(bundle)) => {
            let id = format!(
                "bench-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            );
            let mut cmd = p.command(["--root".as_ref(), s.state.as_os_str()]);
            cmd.args(["run", "--bundle"]).arg(bundle).arg(id);
            cmd
        }
        _ => {
            let mut cmd = std::process::Command::new(&c.bin_args[0]);
            cmd.args(&c.bin_args[1..]);
            cmd
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let out = cmd.output().expect("the command runs");
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "{} failed: {}",
        c.name,
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

/// The goal pairs, interleaved as the peers are: medians and ratios,
/// printed and returned for the JSON report.
fn goals(s: &Setup, rounds: usize) -> serde_json::Value {
    if s.cases.is_empty() {
        return serde_json::Value::Null;
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); s.cases.len()];
    for c in &s.cases {
        run_case(s, c); // warm-up
    }
    for r in 0..rounds {
        let n = s.cases.len();
        for k in 0..n {
            let i = (r + k) % n;
            times[i].push(run_case(s, &s.cases[i]).as_secs_f64() * 1000.0);
        }
    }
    let mut medians = serde_json::Map::new();
    println!("goal pairs (interleaved, {rounds} rounds): median wall time");
    for (c, t) in s.cases.iter().zip(times.iter_mut()) {
        let m = median(t);
        println!("  {:<22} {:>7.2} ms", c.name, m);
        medians.insert(c.name.to_string(), serde_json::json!(m));
    }
    let ratio = |a: &str, b: &str| Some(medians.get(a)?.as_f64()? / medians.get(b)?.as_f64()?);
    let mut out = serde_json::Map::new();
    for (name, a, b, goal, ok) in [
        (
            "bare: isorun / unshare",
            "isorun_bare",
            "unshare_bare",
            "<= 1.5",
            (|r: f64| r <= 1.5) as fn(f64) -> bool,
        ),
        (
            "image_cgroups: isorun / crun",
            "isorun_image_cgroups",
            "crun_image_cgroups",
            "< 0.5",
            |r: f64| r < 0.5,
        ),
    ] {
        if let Some(r) = ratio(a, b) {
            let verdict = if ok(r) { "met" } else { "NOT met" };
            println!("  ratio {name}: {r:.2} (goal {goal}: {verdict})");
            out.insert(
                name.to_string(),
                serde_json::json!({"ratio": r, "goal": goal, "met": ok(r)}),
            );
        }
    }
    serde_json::json!({"medians_ms": medians, "ratios": out})
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
    report.insert("goals".into(), goals(s, rounds));
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
    for c in &s.cases {
        g.bench_function(c.name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run_case(s, c)).sum())
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
