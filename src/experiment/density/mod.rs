//! Density (claim C4): idle instances of one environment launched one at a
//! time, as Kata Containers' footprint tests do. After each launch: the
//! launch time (spawn to `ISOBENCH-READY`), the new instance's PSS and USS
//! (the same attributable measure in every environment, [`crate::env::footprint`])
//! and host MemAvailable against the baseline taken before the first launch.
//! It stops at the planned count or when MemAvailable falls below a floor,
//! whichever comes first, and stops every instance on every path ([`Fleet`]).
//! The teardown stops them one at a time, newest first, reading MemAvailable
//! after each stop ([`StopReading`]): with the count falling while time goes
//! on, the report can tell the host's own drift from the instances' memory
//! (`isobench_reports::density::fit_drift`). Every reading has a time stamp.
//!
//! The loop takes the environment and the MemAvailable probe as parameters,
//! so it is tested without root against a fake environment.

mod measure;

pub use measure::{finished, measure, preamble, raise_nofile, Density, Settings, EXPERIMENT};

use super::Interrupt;
use crate::env::process::Interrupted;
use crate::env::{Environment, Instance};
use anyhow::{Context, Result};
use isobench_workloads::{Workload, WorkloadSpec};
use std::time::{Duration, Instant};

/// How far to go in one environment.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DensityConfig {
    /// Instances to launch at most.
    pub instances: usize,
    /// Stop launching when host MemAvailable is below this (MiB).
    pub mem_floor_mib: u64,
    /// Longest one instance may take from launch to READY.
    pub ready_timeout: Duration,
}

/// The default instance count for an environment class. Containers (and
/// native processes, the reference) go to the claim's own scale: C4 speaks
/// of "hundreds or thousands" of containers, so the quick preset runs 200
/// (isorun launches about 1,000 idle instances in 14 s on a 2-core host, so
/// the claim's scale is affordable), the others 500. VMs: the bound
/// [`vm_bound`] (before the host's memory is known; [`vm_instances`] caps it
/// by memory when the experiment starts).
pub fn default_instances(kind: crate::env::EnvKind, quick: bool) -> usize {
    use crate::env::EnvKind;
    match (kind, quick) {
        (EnvKind::Native | EnvKind::Container, true) => 200,
        (EnvKind::Native | EnvKind::Container, false) => 500,
        (EnvKind::Vm, q) => vm_bound(true, q),
    }
}

/// The most VMs the density experiment launches by default. Under TCG
/// every guest is emulated on the host's own cores (a boot takes 4-8 s on
/// a quiet 2-core host, and idle guests keep ticking), so 4 (quick) or 6:
/// at least 3 are needed for a slope with an interval (n - 2 degrees of
/// freedom). With hardware virtualisation an idle guest costs little CPU
/// and boots in about a second: 16 (quick) or 32.
pub fn vm_bound(emulated: bool, quick: bool) -> usize {
    match (emulated, quick) {
        (true, true) => 4,
        (true, false) => 6,
        (false, true) => 16,
        (false, false) => 32,
    }
}

/// Host memory one VM may take beyond its guest memory, MiB: an allowance
/// for QEMU's own memory (devices, page tables) and, under TCG, the part
/// of its translation cache an idle guest fills. Used only to cap the VM
/// count ([`vm_instances`]); what a VM actually takes is measured.
pub const VM_OVERHEAD_MIB: u64 = 128;

/// How many VMs to launch: at most `bound`, and no more than fit above the
/// memory floor if every guest touched all of its memory (`(MemAvailable −
/// floor) / (guest memory + [`VM_OVERHEAD_MIB`])`), so that even the worst
/// case stays above the floor (the launch loop checks the floor before each
/// launch as well). Returns the count and how it was chosen, in words, for
/// the run's warnings and run.json. Unknown MemAvailable or guest memory
/// leave the bound (the loop's floor check still holds).
pub fn vm_instances(
    bound: usize,
    available_mib: Option<u64>,
    floor_mib: u64,
    guest_mib: Option<u64>,
) -> (usize, String) {
    let (Some(avail), Some(guest)) = (available_mib, guest_mib) else {
        return (
            bound,
            format!(
                "{bound} VMs (the bound; host MemAvailable or the guest memory unknown, so only the {floor_mib} MiB floor limits them)"
            ),
        );
    };
    let each = guest + VM_OVERHEAD_MIB;
    let fit = (avail.saturating_sub(floor_mib) / each) as usize;
    let n = fit.min(bound);
    let why = format!(
        "{n} VMs: at most {bound} by default; memory holds {fit} ((MemAvailable {avail} MiB - floor {floor_mib} MiB) / ({guest} MiB guest + {VM_OVERHEAD_MIB} MiB QEMU allowance))"
    );
    (n, why)
}

/// The default MemAvailable floor (MiB).
pub const DEFAULT_MEM_FLOOR_MIB: u64 = 2048;

/// What was measured after launch number `instance` (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub instance: usize,
    pub launch_ms: f64,
    pub pss_mib: Option<f64>,
    pub uss_mib: Option<f64>,
    /// Processes counted for the instance.
    pub pids: usize,
    pub host_mem_available_mib: Option<f64>,
    /// Baseline MemAvailable minus MemAvailable now.
    pub host_mem_used_delta_mib: Option<f64>,
    /// When MemAvailable was read (Unix seconds).
    pub t_unix_s: f64,
}

/// A MemAvailable reading of the teardown, after one instance was stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct StopReading {
    /// Instances still live after this stop.
    pub live: usize,
    pub host_mem_available_mib: Option<f64>,
    pub host_mem_used_delta_mib: Option<f64>,
    /// When MemAvailable was read (Unix seconds).
    pub t_unix_s: f64,
}

/// What [`run`] hands its recorder, in order: each launch, then each stop.
#[derive(Debug, Clone, Copy)]
pub enum Reading<'a> {
    Launch(&'a Point),
    Stop(&'a StopReading),
}

/// The wall clock in Unix seconds (the default for [`run`]'s `clock`).
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Why the launches ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Every planned instance was launched.
    Count,
    /// MemAvailable fell below the floor.
    MemFloor,
}

/// The outcome of one environment's density run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub points: Vec<Point>,
    /// The teardown's readings, one per instance stopped.
    pub stops: Vec<StopReading>,
    pub ended: Ended,
    pub baseline_available_mib: Option<f64>,
    /// First launch to the last instance ready (s).
    pub launch_wall_s: f64,
    /// Stopping every instance, one at a time with a reading after each (s).
    pub stop_wall_s: f64,
}

/// Live instances, all stopped on drop (error, interrupt, panic).
#[derive(Default)]
pub struct Fleet(pub Vec<Box<dyn Instance>>);

impl Fleet {
    /// Stop every instance, newest first; the first error is returned
    /// after all were tried.
    pub fn stop_all(&mut self) -> Result<()> {
        let mut first = None;
        while let Some(mut i) = self.0.pop() {
            if let Err(e) = i.stop() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Err(e) = self.stop_all() {
            eprintln!("warning: stopping an instance: {e:#}");
        }
    }
}

/// The spec of an idle instance.
pub fn idle_spec() -> WorkloadSpec {
    WorkloadSpec {
        workload: Workload::Idle,
        command: isobench_workloads::args::Command::Idle,
    }
}

/// Launch idle instances of `env` one at a time, calling `record` after
/// each with its point (the caller writes it out before the next launch),
/// then stop them one at a time, calling `record` after each stop with a
/// reading. `mem_available_kib` reads host MemAvailable, `clock` the time
/// (Unix seconds, [`unix_now`]), `stop` says when the user interrupted. A resumed run passes
/// `measured`, the instances an interrupted run already recorded: that
/// many are launched again first, unrecorded, so that the next is measured
/// beside as many live instances as it would have been. Every instance is
/// stopped before this returns, on every path.
pub fn run(
    env: &dyn Environment,
    cfg: &DensityConfig,
    measured: usize,
    mem_available_kib: &dyn Fn() -> Option<u64>,
    clock: &dyn Fn() -> f64,
    stop: &dyn Interrupt,
    mut record: impl FnMut(Reading) -> Result<()>,
) -> Result<Outcome> {
    let spec = idle_spec();
    let mib = |kib: u64| kib as f64 / 1024.0;
    let baseline = mem_available_kib().map(mib);
    let mut fleet = Fleet::default();
    let mut points = Vec::new();
    let mut ended = Ended::Count;
    let t_start = Instant::now();
    let relaunch = if measured < cfg.instances {
        measured
    } else {
        0
    };
    for k in 1..=relaunch {
        if stop.interrupted() {
            return Err(Interrupted.into());
        }
        let mut inst = env
            .launch(&spec, cfg.ready_timeout)
            .with_context(|| format!("relaunching {} instance {k}", env.id()))?;
        let ready = inst.wait_ready(cfg.ready_timeout);
        fleet.0.push(inst);
        ready.with_context(|| format!("{} instance {k} never ready", env.id()))?;
    }
    for k in measured + 1..=cfg.instances {
        if stop.interrupted() {
            return Err(Interrupted.into());
        }
        if let Some(avail) = mem_available_kib().map(mib) {
            if avail < cfg.mem_floor_mib as f64 {
                ended = Ended::MemFloor;
                break;
            }
        }
        let mut inst = env
            .launch(&spec, cfg.ready_timeout)
            .with_context(|| format!("launching {} instance {k}", env.id()))?;
        let ready = inst.wait_ready(cfg.ready_timeout);
        // Held before the error is looked at: stopped on every path.
        let launch = ready.with_context(|| format!("{} instance {k} never ready", env.id()))?;
        let mem = inst.memory();
        fleet.0.push(inst);
        let avail = mem_available_kib().map(mib);
        let t_unix_s = clock();
        let p = Point {
            instance: k,
            launch_ms: launch.as_secs_f64() * 1e3,
            pss_mib: mem.as_ref().map(|f| f.pss_mib()),
            uss_mib: mem.as_ref().map(|f| f.uss_mib()),
            pids: mem.as_ref().map_or(0, |f| f.pids.len()),
            host_mem_available_mib: avail,
            host_mem_used_delta_mib: baseline.zip(avail).map(|(b, a)| b - a),
            t_unix_s,
        };
        record(Reading::Launch(&p))?;
        points.push(p);
    }
    let launch_wall_s = t_start.elapsed().as_secs_f64();
    let t_stop = Instant::now();
    // One at a time, newest first; what is left is stopped by the fleet's
    // drop on an error or an interrupt.
    let mut stops = Vec::new();
    while let Some(mut inst) = fleet.0.pop() {
        let live = fleet.0.len();
        inst.stop()
            .with_context(|| format!("stopping {} instance {}", env.id(), live + 1))?;
        drop(inst);
        let avail = mem_available_kib().map(mib);
        let r = StopReading {
            live,
            host_mem_available_mib: avail,
            host_mem_used_delta_mib: baseline.zip(avail).map(|(b, a)| b - a),
            t_unix_s: clock(),
        };
        record(Reading::Stop(&r))?;
        stops.push(r);
        if stop.interrupted() {
            return Err(Interrupted.into());
        }
    }
    Ok(Outcome {
        points,
        stops,
        ended,
        baseline_available_mib: baseline,
        launch_wall_s,
        stop_wall_s: t_stop.elapsed().as_secs_f64(),
    })
}

/// Least-squares slope of `y` against `x` and its standard error (`None`
/// with fewer than 3 points or no spread in `x`).
pub fn slope(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 3 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = sxy / sxx;
    let a = my - b * mx;
    let sse: f64 = points.iter().map(|p| (p.1 - a - b * p.0).powi(2)).sum();
    let se = (sse / (n - 2.0) / sxx).sqrt();
    Some((b, se))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::EnvKind;
    use crate::experiment::fake::FakeEnv;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    /// Instances that "use" 10 MiB each of a fake host's memory
    /// ([`host`]); launch `fail_at` never READY.
    fn fake(fail_at: Option<usize>) -> FakeEnv {
        FakeEnv {
            id: "fake".into(),
            fail_ready_at: fail_at,
            ..FakeEnv::default()
        }
    }

    fn cfg(n: usize, floor: u64) -> DensityConfig {
        DensityConfig {
            instances: n,
            mem_floor_mib: floor,
            ready_timeout: Duration::from_secs(1),
        }
    }

    /// A host with 1000 MiB available, less 10 MiB per live instance.
    fn host(env: &FakeEnv) -> impl Fn() -> Option<u64> {
        let live = Arc::clone(&env.live);
        move || Some((1000 - 10 * live.load(Ordering::SeqCst) as u64) * 1024)
    }

    #[test]
    fn records_each_launch_and_stops_everything() {
        let env = fake(None);
        let mem = host(&env);
        let seen = Rc::new(Cell::new(0));
        let s = Rc::clone(&seen);
        let stops = Rc::new(Cell::new(0));
        let st = Rc::clone(&stops);
        let o = run(
            &env,
            &cfg(5, 100),
            0,
            &mem,
            &unix_now,
            &crate::experiment::Never,
            |r| {
                let p = match r {
                    Reading::Launch(p) => p,
                    Reading::Stop(r) => {
                        // Newest first, each reading after its stop.
                        st.set(st.get() + 1);
                        assert_eq!(r.live, 5 - st.get());
                        assert_eq!(r.host_mem_used_delta_mib, Some(10.0 * r.live as f64));
                        return Ok(());
                    }
                };
                assert_eq!(st.get(), 0, "every launch before the first stop");
                s.set(s.get() + 1);
                assert_eq!(p.instance, s.get());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen.get(), 5);
        assert_eq!(stops.get(), 5);
        assert_eq!(o.stops.len(), 5);
        assert_eq!(o.stops[4].host_mem_used_delta_mib, Some(0.0));
        assert_eq!(o.ended, Ended::Count);
        assert_eq!(o.points.len(), 5);
        let last = &o.points[4];
        assert_eq!(last.host_mem_used_delta_mib, Some(50.0));
        assert_eq!(last.pss_mib, Some(2.0));
        assert_eq!(last.uss_mib, Some(1.0));
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
        // Idle instances, launched without limits.
        assert!(env
            .launches
            .lock()
            .unwrap()
            .iter()
            .all(|(args, l)| args == &idle_spec().to_args() && l.is_empty()));
        let xy: Vec<(f64, f64)> = o
            .points
            .iter()
            .map(|p| (p.instance as f64, p.host_mem_used_delta_mib.unwrap()))
            .collect();
        let (b, se) = slope(&xy).unwrap();
        assert!((b - 10.0).abs() < 1e-9 && se < 1e-9, "{b} {se}");
    }

    /// A host whose MemAvailable (100,000 MiB at t = 0) falls by `per` MiB
    /// per live instance and drifts down by `drift` MiB/s, with ±0.3 MiB of
    /// noise alternating by the second; its clock advances 1 s per reading.
    fn drifting_host(
        env: &FakeEnv,
        per: f64,
        drift: f64,
    ) -> (impl Fn() -> Option<u64>, impl Fn() -> f64) {
        let live = Arc::clone(&env.live);
        let t = Rc::new(Cell::new(1_000_000.0));
        let t2 = Rc::clone(&t);
        let mem = move || {
            // Alternating by the second: every reading has a second of its own.
            let noise = if (t2.get() as u64).is_multiple_of(2) {
                0.3
            } else {
                -0.3
            };
            let mib = 100_000.0
                - per * live.load(Ordering::SeqCst) as f64
                - drift * (t2.get() - 1_000_000.0)
                + noise;
            Some((mib * 1024.0) as u64)
        };
        let clock = move || {
            t.set(t.get() + 1.0);
            t.get()
        };
        (mem, clock)
    }

    /// Launch `n` instances on a drifting host; the launch-only slope and
    /// the fit over launches and teardown (b, c).
    fn drift_run(n: usize, per: f64, drift: f64) -> (f64, isobench_reports::density::DriftFit) {
        let env = fake(None);
        let (mem, clock) = drifting_host(&env, per, drift);
        let o = run(
            &env,
            &cfg(n, 0),
            0,
            &mem,
            &clock,
            &crate::experiment::Never,
            |_| Ok(()),
        )
        .unwrap();
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
        assert_eq!((o.points.len(), o.stops.len()), (n, n));
        // Time stamps rise through the launches and the teardown.
        let ts: Vec<f64> = o
            .points
            .iter()
            .map(|p| p.t_unix_s)
            .chain(o.stops.iter().map(|r| r.t_unix_s))
            .collect();
        assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");
        let launch: Vec<(f64, f64)> = o
            .points
            .iter()
            .map(|p| (p.instance as f64, p.host_mem_used_delta_mib.unwrap()))
            .collect();
        let (launch_slope, _) = slope(&launch).unwrap();
        let pts: Vec<(f64, f64, f64)> = o
            .points
            .iter()
            .map(|p| {
                (
                    p.instance as f64,
                    p.t_unix_s,
                    -p.host_mem_available_mib.unwrap(),
                )
            })
            .chain(o.stops.iter().map(|r| {
                (
                    r.live as f64,
                    r.t_unix_s,
                    -r.host_mem_available_mib.unwrap(),
                )
            }))
            .map(|(x, t, y)| (x, t - 1_000_000.0, y))
            .collect();
        let fit = isobench_reports::density::fit_drift(&pts, o.stops.len()).unwrap();
        (launch_slope, fit)
    }

    #[test]
    fn the_teardown_separates_a_linear_drift_from_the_instances() {
        // 2 MiB per instance, memory drifting down 0.5 MiB/s.
        let (_, f) = drift_run(100, 2.0, 0.5);
        assert!(
            f.b.lo < 2.0 && 2.0 < f.b.hi && f.b.hi - f.b.lo < 0.05,
            "{f:?}"
        );
        assert!(f.c.lo < 0.5 && 0.5 < f.c.hi, "{f:?}");
        assert!(f.r2 > 0.99 && f.n == 200 && f.n_stop == 100, "{f:?}");
    }

    #[test]
    fn drift_without_an_instance_cost_fits_no_cost() {
        let (launch, f) = drift_run(100, 0.0, 1.0);
        // The launches alone charge the drift to the instances.
        assert!(launch > 0.9, "{launch}");
        assert!(f.b.lo < 0.0 && 0.0 < f.b.hi && f.b.hi < 0.05, "{f:?}");
        assert!((f.c.point - 1.0).abs() < 0.01, "{f:?}");
    }

    #[test]
    fn drift_with_the_ramp_does_not_become_a_cost_as_crun_s_did() {
        // This host on 2 Dec 2026: crun's launch-only slope 3.32 MiB per
        // instance against a PSS of 0.14 MiB; the host drifted with the ramp.
        let (launch, f) = drift_run(200, 0.14, 3.2);
        assert!((launch - 3.34).abs() < 0.05, "{launch}");
        assert!(f.b.lo < 0.14 && 0.14 < f.b.hi && f.b.hi < 0.2, "{f:?}");
        assert!(f.c.lo < 3.2 && 3.2 < f.c.hi, "{f:?}");
    }

    #[test]
    fn a_failing_recorder_in_the_teardown_still_stops_everything() {
        let env = fake(None);
        let mem = host(&env);
        let e = run(
            &env,
            &cfg(6, 0),
            0,
            &mem,
            &unix_now,
            &crate::experiment::Never,
            |r| match r {
                Reading::Stop(s) if s.live == 3 => anyhow::bail!("disk full"),
                _ => Ok(()),
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("disk full"));
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_resumed_run_relaunches_what_was_measured_and_records_the_rest() {
        let env = fake(None);
        let mem = host(&env);
        let o = run(
            &env,
            &cfg(5, 100),
            2,
            &mem,
            &unix_now,
            &crate::experiment::Never,
            |_| Ok(()),
        )
        .unwrap();
        assert_eq!(env.launches.lock().unwrap().len(), 5);
        assert_eq!(
            o.points.iter().map(|p| p.instance).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        // Measured beside the two relaunched ones, as in one unbroken run.
        assert_eq!(o.points[0].host_mem_used_delta_mib, Some(30.0));
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
        // Everything measured already: nothing launched, nothing recorded.
        let env = fake(None);
        let mem = host(&env);
        let o = run(
            &env,
            &cfg(3, 100),
            3,
            &mem,
            &unix_now,
            &crate::experiment::Never,
            |_| Ok(()),
        )
        .unwrap();
        assert!(o.points.is_empty());
        assert_eq!(env.launches.lock().unwrap().len(), 0);
    }

    #[test]
    fn the_floor_stops_launching() {
        let env = fake(None);
        let mem = host(&env);
        // 1000 - 10k < 955 after 5 instances.
        let o = run(
            &env,
            &cfg(50, 955),
            0,
            &mem,
            &unix_now,
            &crate::experiment::Never,
            |_| Ok(()),
        )
        .unwrap();
        assert_eq!(o.ended, Ended::MemFloor);
        assert_eq!(o.points.len(), 5);
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn errors_stop_every_instance() {
        let env = fake(Some(4));
        let mem = host(&env);
        let e = run(
            &env,
            &cfg(10, 0),
            0,
            &mem,
            &unix_now,
            &crate::experiment::Never,
            |_| Ok(()),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("instance 4 never ready"), "{e:#}");
        assert_eq!(env.launches.lock().unwrap().len(), 4);
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
        // A failing recorder too.
        let env = fake(None);
        let mem = host(&env);
        let e = run(
            &env,
            &cfg(10, 0),
            0,
            &mem,
            &unix_now,
            &crate::experiment::Never,
            |r| {
                if matches!(r, Reading::Launch(p) if p.instance == 3) {
                    anyhow::bail!("disk full")
                }
                Ok(())
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("disk full"));
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn containers_run_at_the_claims_scale_and_vms_to_a_bound_the_memory_allows() {
        assert!(default_instances(EnvKind::Container, true) >= 200);
        assert!(default_instances(EnvKind::Native, true) >= 200);
        assert!(
            default_instances(EnvKind::Container, false)
                >= default_instances(EnvKind::Container, true)
        );
        // Enough VMs for a slope with an interval, fewer under TCG.
        assert!(vm_bound(true, true) >= 3 && vm_bound(true, true) < vm_bound(false, true));
        assert_eq!(default_instances(EnvKind::Vm, true), vm_bound(true, true));
        // A 24 GiB host with 22,000 MiB available and a 608 MiB guest:
        // memory holds 27, the bound decides.
        let (n, why) = vm_instances(4, Some(22_000), 2048, Some(608));
        assert_eq!(n, 4, "{why}");
        assert!(
            why.contains("memory holds 27") && why.contains("at most 4"),
            "{why}"
        );
        // A small host: memory decides, below the floor even in the worst case.
        let (n, why) = vm_instances(16, Some(6_000), 2048, Some(2048));
        assert_eq!(n, 1, "{why}");
        assert!(6_000 - 2048 >= n as u64 * (2048 + VM_OVERHEAD_MIB));
        // Already below the floor: none.
        assert_eq!(vm_instances(4, Some(1_000), 2048, Some(256)).0, 0);
        // Unknown memory: the bound, and the words say why.
        let (n, why) = vm_instances(4, None, 2048, Some(256));
        assert_eq!(n, 4);
        assert!(why.contains("unknown"), "{why}");
    }

    #[test]
    fn slope_needs_three_points_and_spread() {
        assert_eq!(slope(&[(1.0, 1.0), (2.0, 2.0)]), None);
        assert_eq!(slope(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]), None);
        let (b, se) = slope(&[(1.0, 1.0), (2.0, 3.0), (3.0, 4.0), (4.0, 7.0)]).unwrap();
        assert!((b - 1.9).abs() < 1e-9 && se > 0.0);
    }
}
