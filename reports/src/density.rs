//! Density (claim C4): idle instances launched one at a time, with the launch
//! time, the new instance's memory (PSS/USS of all its processes) and the
//! host's used memory against the baseline after each launch. This module
//! turns those records into per-environment series and summaries: the mean
//! memory per instance, the marginal host memory per instance (least-squares
//! slope of the host's used memory against the instance count, with a
//! Student t interval), and how launch time grows with the count. Pure: no
//! disk.
//!
//! Record format (written by `isobench run --experiment density`): workload
//! [`WORKLOAD`], `params.instance` (1-based count after this launch), metrics
//! `launch_ms`, `instance_pss_mib`, `instance_uss_mib`,
//! `host_mem_available_mib`, `host_mem_used_delta_mib`, `reading_unix_s`
//! (when MemAvailable was read, Unix seconds; newer runs). The teardown's
//! records (newer runs) carry `params.phase = "stop"` and `params.instance`
//! = the instances still live after that stop, with `host_mem_available_mib`,
//! `host_mem_used_delta_mib` and `reading_unix_s` only.
//!
//! The host's memory drifts on a shared host (page cache, other work), often
//! by more than small instances take, and during the launch ramp time and
//! instance count rise together, so a launch-only slope charges the drift to
//! the instances. With the teardown the count falls while time goes on:
//! [`fit_drift`] fits used = a + b·instances + c·time over both, so a linear
//! drift lands in c. [`DensitySummary::cost`] then checks b against the
//! directly measured footprint (mean PSS) and fails closed.

use crate::schema::ResultRecord;
use crate::stats::{self, Estimate};

/// Workload name of the experiment's records.
pub const WORKLOAD: &str = crate::schema::DENSITY_WORKLOAD;

#[derive(Debug, Clone, PartialEq)]
pub struct DensityPoint {
    pub instance: u64,
    pub launch_ms: f64,
    pub pss_mib: Option<f64>,
    pub uss_mib: Option<f64>,
    pub used_delta_mib: Option<f64>,
    /// Host MemAvailable after this launch (MiB).
    pub available_mib: Option<f64>,
    /// When MemAvailable was read (Unix seconds).
    pub t_s: Option<f64>,
}

/// One MemAvailable reading of the teardown, after an instance was stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct StopPoint {
    /// Instances still live.
    pub live: u64,
    pub available_mib: Option<f64>,
    pub t_s: Option<f64>,
}

/// One environment's launches, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct DensitySeries {
    pub env_id: String,
    pub env: String,
    pub accel: Option<String>,
    pub points: Vec<DensityPoint>,
    /// The teardown's readings, in record order.
    pub stops: Vec<StopPoint>,
}

/// What one environment's density run says.
#[derive(Debug, Clone, PartialEq)]
pub struct DensitySummary {
    pub env_id: String,
    pub env: String,
    pub accel: Option<String>,
    /// Instances actually launched.
    pub instances: usize,
    /// Mean PSS per instance with its t interval.
    pub pss_mib: Option<Estimate>,
    /// Host memory per extra instance: the slope, with its 95% interval.
    pub marginal_mib: Option<Estimate>,
    /// The slope's fit: R², points and the instance range it covers; or why
    /// no slope could be estimated.
    pub marginal_fit: Result<SlopeFit, String>,
    /// Host memory against instances and time over the launches and the
    /// teardown ([`fit_drift`]), or why there is none.
    pub drift_fit: Result<DriftFit, String>,
    /// Median launch time of the first and of the last 10% of launches.
    pub launch_first_ms: Option<f64>,
    pub launch_last_ms: Option<f64>,
}

impl DensitySummary {
    pub fn emulated(&self) -> bool {
        self.accel.as_deref() == Some("tcg")
    }

    /// The memory one instance costs, and from what: the host-memory slope
    /// (b of [`fit_drift`] when the teardown was recorded, else the
    /// launch-only slope) when it is plausible, else the directly measured
    /// footprint (mean PSS of the instance's processes; the records carry no
    /// cgroup kernel memory), labelled as such. Fails closed: the slope is
    /// trusted only when its R² ≥ [`MIN_R2`], its point is positive and its
    /// interval overlaps [0.5 × PSS, 2 × PSS + 1 MiB]; without a PSS to
    /// check it against it is not trusted. `Err` says why neither holds.
    pub fn cost(&self) -> Result<Cost, String> {
        let slope: Result<(Estimate, f64, &str), String> = match (&self.drift_fit, &self.marginal_fit) {
            (Ok(d), _) => Ok((d.b, d.r2, "host memory per extra instance: b of the least-squares fit used = a + b·instances + c·time over the launches and the teardown")),
            (Err(_), Ok(f)) => Ok((f.slope, f.r2, "host memory per extra instance: least-squares slope over the launches only (no teardown readings, so the host's drift is not separated)")),
            (Err(_), Err(why)) => Err(why.clone()),
        };
        let pss = self.pss_mib.filter(|p| p.point > 0.0);
        let distrust = match (&slope, pss) {
            (Err(why), _) => Some(format!("no slope ({why})")),
            (Ok((e, _, _)), _) if e.point <= 0.0 => Some("the slope is not positive".to_string()),
            (Ok((_, r2, _)), _) if *r2 < MIN_R2 => Some(format!("R² {r2:.2} < {MIN_R2}")),
            (Ok(_), None) => Some("no PSS to check it against".to_string()),
            (Ok((e, _, _)), Some(p)) => {
                let (lo, hi) = plausible(p.point);
                (e.hi < lo || e.lo > hi).then(|| {
                    format!(
                        "its interval [{}, {}] MiB misses [{}, {}] MiB, 0.5× to 2× + 1 MiB of the PSS measured directly",
                        crate::text::num(e.lo),
                        crate::text::num(e.hi),
                        crate::text::num(lo),
                        crate::text::num(hi)
                    )
                })
            }
        };
        match (distrust, slope, pss) {
            (None, Ok((e, _, how)), _) => Ok(Cost {
                est: e,
                how: how.to_string(),
                distrust: None,
            }),
            (Some(why), _, Some(p)) => Ok(Cost {
                est: p,
                how: "the direct per-instance footprint: mean PSS of the instance's processes, since the host-memory slope cannot be trusted here".into(),
                distrust: Some(why),
            }),
            (Some(why), _, None) => Err(format!(
                "the host-memory slope cannot be trusted here ({why}) and no PSS was measured"
            )),
            (None, Err(why), _) => Err(why),
        }
    }

    /// The drift fit as a reader sees it, or why there is none.
    pub fn drift_text(&self) -> String {
        match &self.drift_fit {
            Ok(d) => {
                let t = format!(
                    "b {} [{}, {}] MiB per instance, drift c {} [{}, {}] MiB/s, R² {:.2}, {} readings ({} of the teardown)",
                    crate::text::num(d.b.point),
                    crate::text::num(d.b.lo),
                    crate::text::num(d.b.hi),
                    crate::text::num(d.c.point),
                    crate::text::num(d.c.lo),
                    crate::text::num(d.c.hi),
                    d.r2,
                    d.n,
                    d.n_stop
                );
                t
            }
            Err(why) => format!("no drift fit ({why})"),
        }
    }

    /// The host memory per extra instance as a reader sees it: the
    /// launch-only slope `1.52 [1.40, 1.64] MiB (R² 0.98, 200 instances)`, a
    /// flagged negative slope, or why there is none; then the fit over the
    /// launches and the teardown when there is one ([`Self::drift_text`]);
    /// never "?".
    pub fn marginal_text(&self) -> String {
        let launch = self.launch_slope_text();
        match (&self.drift_fit, self.marginal_mib) {
            (Ok(d), m) => {
                let disagree = m.is_some_and(|m| m.hi < d.b.lo || m.lo > d.b.hi);
                format!(
                    "{}; launch-only slope {launch}{}",
                    self.drift_text(),
                    if disagree {
                        ", which disagrees with b beyond both intervals (the host's memory moved with time, not only with the instances)"
                    } else {
                        ""
                    }
                )
            }
            (Err(_), _) => launch,
        }
    }

    fn launch_slope_text(&self) -> String {
        match (&self.marginal_fit, self.marginal_mib) {
            (Ok(f), Some(e)) => {
                let flag = if e.point < 0.0 {
                    " — negative: the host's memory fell as instances were added, so its own drift swamps the instances; not a cost"
                } else {
                    ""
                };
                format!(
                    "{} [{}, {}] MiB (R² {:.2}, {} points, instances {}–{}){flag}",
                    crate::text::num(e.point),
                    crate::text::num(e.lo),
                    crate::text::num(e.hi),
                    f.r2,
                    f.n,
                    f.x_range.0,
                    f.x_range.1
                )
            }
            (Err(why), _) => format!("cannot be estimated ({why})"),
            (Ok(_), None) => "cannot be estimated".to_string(),
        }
    }
}

/// Below this R² a host-memory slope decides nothing.
pub const MIN_R2: f64 = 0.5;

/// The range a plausible host-memory slope must reach, from the PSS
/// measured directly: [0.5 × PSS, 2 × PSS + 1 MiB] (the host also pays
/// kernel objects PSS cannot see, hence the factor and the 1 MiB).
pub fn plausible(pss_mib: f64) -> (f64, f64) {
    (0.5 * pss_mib, 2.0 * pss_mib + 1.0)
}

/// What one instance costs ([`DensitySummary::cost`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub est: Estimate,
    /// From what, in words.
    pub how: String,
    /// Why the host-memory slope was not trusted (`None`: it decides).
    pub distrust: Option<String>,
}

impl Cost {
    pub fn from_slope(&self) -> bool {
        self.distrust.is_none()
    }
}

/// used = a + b·instances + c·time, fitted by ordinary least squares.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftFit {
    /// MiB per instance, with its 95% t interval (n − 3 degrees of freedom).
    pub b: Estimate,
    /// The host's drift, MiB/s, with its 95% t interval.
    pub c: Estimate,
    pub r2: f64,
    /// Readings fitted, and how many of them from the teardown.
    pub n: usize,
    pub n_stop: usize,
}

/// Fit used = a + b·x + c·t over `(x, t, used)` readings. Written out (the
/// centred 2×2 normal equations and their inverse) rather than pulling in a
/// linear-algebra crate for one closed-form 2×2 solve. `Err` says why not:
/// fewer than 4 readings, or instances and time that move together (no
/// teardown readings), so b and c cannot be told apart.
pub fn fit_drift(points: &[(f64, f64, f64)], n_stop: usize) -> Result<DriftFit, String> {
    let n = points.len();
    if n < 4 {
        return Err(format!(
            "{n} reading(s) with a time and host memory; the fit needs at least 4"
        ));
    }
    let nf = n as f64;
    let mean = |f: fn(&(f64, f64, f64)) -> f64| points.iter().map(f).sum::<f64>() / nf;
    let (mx, mt, my) = (mean(|p| p.0), mean(|p| p.1), mean(|p| p.2));
    let (mut sxx, mut stt, mut sxt, mut sxy, mut sty, mut syy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for p in points {
        let (x, t, y) = (p.0 - mx, p.1 - mt, p.2 - my);
        sxx += x * x;
        stt += t * t;
        sxt += x * t;
        sxy += x * y;
        sty += t * y;
        syy += y * y;
    }
    let det = sxx * stt - sxt * sxt;
    // Relative to sxx·stt: 1 − (correlation of instances and time)².
    if sxx <= 0.0 || stt <= 0.0 || det <= 1e-6 * sxx * stt {
        return Err(
            "instances and time rose together (no teardown readings), so the host's drift cannot be told from the instances"
                .into(),
        );
    }
    let b = (stt * sxy - sxt * sty) / det;
    let c = (sxx * sty - sxt * sxy) / det;
    let sse = (syy - b * sxy - c * sty).max(0.0);
    let r2 = if syy > 0.0 { 1.0 - sse / syy } else { 1.0 };
    let df = nf - 3.0;
    let s2 = sse / df;
    let q = stats::t_quantile(0.975, df);
    let hb = q * (s2 * stt / det).sqrt();
    let hc = q * (s2 * sxx / det).sqrt();
    Ok(DriftFit {
        b: Estimate {
            point: b,
            lo: b - hb,
            hi: b + hb,
        },
        c: Estimate {
            point: c,
            lo: c - hc,
            hi: c + hc,
        },
        r2,
        n,
        n_stop,
    })
}

/// The drift fit of one series: launches and teardown readings that have a
/// time and MemAvailable; used = −MemAvailable (the intercept absorbs the
/// baseline, so a resumed run's new baseline does not matter).
pub fn series_drift(s: &DensitySeries) -> Result<DriftFit, String> {
    let mut pts: Vec<(f64, f64, f64)> = s
        .points
        .iter()
        .filter_map(|p| Some((p.instance as f64, p.t_s?, -p.available_mib?)))
        .collect();
    let stops: Vec<(f64, f64, f64)> = s
        .stops
        .iter()
        .filter_map(|p| Some((p.live as f64, p.t_s?, -p.available_mib?)))
        .collect();
    if stops.is_empty() {
        return Err("no teardown readings (a run before they were recorded)".into());
    }
    let n_stop = stops.len();
    pts.extend(stops);
    // Seconds from the first reading: keeps the sums well conditioned.
    let t0 = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    for p in &mut pts {
        p.1 -= t0;
    }
    fit_drift(&pts, n_stop)
}

/// A least-squares fit of the host's used memory against the instance count.
#[derive(Debug, Clone, PartialEq)]
pub struct SlopeFit {
    pub slope: Estimate,
    /// Coefficient of determination (1 = every point on the line).
    pub r2: f64,
    pub n: usize,
    /// Smallest and largest instance count fitted.
    pub x_range: (u64, u64),
}

/// [`slope`] with its R² and range, or why it cannot be estimated.
pub fn fit_slope(points: &[(f64, f64)]) -> Result<SlopeFit, String> {
    if points.len() < 3 {
        return Err(format!(
            "{} instance(s) with a host memory figure; a slope needs at least 3",
            points.len()
        ));
    }
    let slope = slope(points).ok_or("every point has the same instance count")?;
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let a = my - slope.point * mx;
    let ss_tot: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    let ss_res: f64 = points
        .iter()
        .map(|p| (p.1 - a - slope.point * p.0).powi(2))
        .sum();
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        1.0
    };
    let xs = points.iter().map(|p| p.0 as u64);
    Ok(SlopeFit {
        slope,
        r2,
        n: points.len(),
        x_range: (xs.clone().min().unwrap_or(0), xs.max().unwrap_or(0)),
    })
}

/// Every environment's series, in record order.
pub fn series(records: &[ResultRecord]) -> Vec<DensitySeries> {
    let mut out: Vec<DensitySeries> = Vec::new();
    for r in records.iter().filter(|r| r.workload == WORKLOAD && r.valid) {
        let Some(instance) = r.params.get("instance").and_then(|v| v.as_u64()) else {
            continue;
        };
        let stop = r.params.get("phase").and_then(|v| v.as_str()) == Some("stop");
        let launch_ms = r.metrics.get("launch_ms").copied();
        if !stop && launch_ms.is_none() {
            continue;
        }
        let i = match out.iter().position(|s| s.env_id == r.env_id) {
            Some(i) => i,
            None => {
                out.push(DensitySeries {
                    env_id: r.env_id.clone(),
                    env: r.env.clone(),
                    accel: r.env_detail.get("accel").cloned(),
                    points: Vec::new(),
                    stops: Vec::new(),
                });
                out.len() - 1
            }
        };
        let m = |k: &str| r.metrics.get(k).copied().filter(|v| v.is_finite());
        if stop {
            out[i].stops.push(StopPoint {
                live: instance,
                available_mib: m("host_mem_available_mib"),
                t_s: m("reading_unix_s"),
            });
            continue;
        }
        let Some(launch_ms) = launch_ms else {
            continue;
        };
        out[i].points.push(DensityPoint {
            instance,
            launch_ms,
            pss_mib: m("instance_pss_mib"),
            uss_mib: m("instance_uss_mib"),
            used_delta_mib: m("host_mem_used_delta_mib"),
            available_mib: m("host_mem_available_mib"),
            t_s: m("reading_unix_s"),
        });
    }
    for s in &mut out {
        s.points.sort_by_key(|p| p.instance);
    }
    out
}

/// Least-squares slope of `y` on `x` with its 95% Student t interval
/// (n − 2 degrees of freedom); `None` below 3 points or without spread in x.
pub fn slope(points: &[(f64, f64)]) -> Option<Estimate> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let my = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let b = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
    let a = my - b * mx;
    let ssr: f64 = points.iter().map(|p| (p.1 - a - b * p.0).powi(2)).sum();
    let se = (ssr / (nf - 2.0) / sxx).sqrt();
    let h = stats::t_quantile(0.975, nf - 2.0) * se;
    Some(Estimate {
        point: b,
        lo: b - h,
        hi: b + h,
    })
}

/// Mean with its 95% t interval (arithmetic: PSS is additive).
fn mean_ci(xs: &[f64]) -> Option<Estimate> {
    let n = xs.len();
    let m = stats::mean(xs)?;
    if n < 2 {
        return Some(Estimate {
            point: m,
            lo: m,
            hi: m,
        });
    }
    let h = stats::t_quantile(0.975, (n - 1) as f64) * stats::std_dev(xs)? / (n as f64).sqrt();
    Some(Estimate {
        point: m,
        lo: m - h,
        hi: m + h,
    })
}

pub fn summarize(s: &DensitySeries) -> DensitySummary {
    let pss: Vec<f64> = s.points.iter().filter_map(|p| p.pss_mib).collect();
    let used: Vec<(f64, f64)> = s
        .points
        .iter()
        .filter_map(|p| p.used_delta_mib.map(|u| (p.instance as f64, u)))
        .collect();
    let launches: Vec<f64> = s.points.iter().map(|p| p.launch_ms).collect();
    let tenth = launches.len().div_ceil(10).max(1);
    let (first, last) = if launches.is_empty() {
        (None, None)
    } else {
        (
            stats::median(&launches[..tenth]),
            stats::median(&launches[launches.len() - tenth..]),
        )
    };
    DensitySummary {
        env_id: s.env_id.clone(),
        env: s.env.clone(),
        accel: s.accel.clone(),
        instances: s.points.len(),
        pss_mib: mean_ci(&pss),
        marginal_mib: slope(&used),
        marginal_fit: fit_slope(&used),
        drift_fit: series_drift(s),
        launch_first_ms: first,
        launch_last_ms: last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Timings, SCHEMA_VERSION};
    use std::collections::BTreeMap;

    fn rec(env_id: &str, k: u64, launch: f64, pss: f64, used: f64) -> ResultRecord {
        ResultRecord {
            schema: SCHEMA_VERSION,
            run_id: "r".into(),
            env: env_id.split('-').next().unwrap().into(),
            env_id: env_id.into(),
            env_detail: BTreeMap::new(),
            workload: WORKLOAD.into(),
            params: BTreeMap::from([("instance".to_string(), serde_json::json!(k))]),
            rep: 0,
            valid: true,
            metrics: BTreeMap::from([
                ("launch_ms".to_string(), launch),
                ("instance_pss_mib".to_string(), pss),
                ("host_mem_used_delta_mib".to_string(), used),
            ]),
            units: BTreeMap::new(),
            directions: Default::default(),
            aliases: Default::default(),
            info: BTreeMap::new(),
            timings: Timings::default(),
            error: None,
        }
    }

    #[test]
    fn the_slope_recovers_the_memory_per_instance() {
        // 0.4 MiB per instance plus ±0.5 MiB of host drift.
        let rs: Vec<ResultRecord> = (1..=100u64)
            .map(|k| {
                let drift = if k % 2 == 0 { 0.5 } else { -0.5 };
                rec(
                    "container-isorun",
                    k,
                    10.0 + k as f64 * 0.05,
                    0.2,
                    0.4 * k as f64 + drift,
                )
            })
            .collect();
        let s = series(&rs);
        assert_eq!(s.len(), 1);
        let d = summarize(&s[0]);
        assert_eq!(d.instances, 100);
        let m = d.marginal_mib.unwrap();
        assert!(m.lo < 0.4 && 0.4 < m.hi && m.hi - m.lo < 0.05, "{m:?}");
        assert!((d.pss_mib.unwrap().point - 0.2).abs() < 1e-12);
        // Launch time grew from ~10.3 ms to ~14.8 ms.
        assert!((d.launch_first_ms.unwrap() - 10.275).abs() < 0.01, "{d:?}");
        assert!((d.launch_last_ms.unwrap() - 14.775).abs() < 0.01, "{d:?}");
    }

    #[test]
    fn the_fit_has_r2_and_range_and_says_why_it_is_missing() {
        let f = fit_slope(&[(1.0, 2.0), (2.0, 4.1), (3.0, 5.9), (4.0, 8.0)]).unwrap();
        assert!((f.slope.point - 2.0).abs() < 0.05 && f.r2 > 0.99, "{f:?}");
        assert_eq!((f.n, f.x_range), (4, (1, 4)));
        let why = fit_slope(&[(1.0, 1.0), (2.0, 2.0)]).unwrap_err();
        assert!(why.contains("at least 3"), "{why}");
        // Noise only: a poor fit shows as a low R².
        let f = fit_slope(&[(1.0, 5.0), (2.0, 1.0), (3.0, 6.0), (4.0, 2.0)]).unwrap();
        assert!(f.r2 < 0.2, "{f:?}");
    }

    #[test]
    fn a_negative_slope_is_flagged_and_a_missing_one_named_never_a_question_mark() {
        let recs: Vec<ResultRecord> = (1..=5)
            .map(|k| rec("container-x", k, 100.0, 1.0, 50.0 - k as f64))
            .collect();
        let d = summarize(&series(&recs)[0]);
        let t = d.marginal_text();
        assert!(t.contains("negative") && !t.contains('?'), "{t}");
        let d = summarize(&series(&recs[..2])[0]);
        let t = d.marginal_text();
        assert!(t.starts_with("cannot be estimated (2 instance(s)"), "{t}");
    }

    #[test]
    fn the_teardown_brings_a_drift_with_the_ramp_back_to_the_truth() {
        // crun on this host, 2 Dec 2026: launch-only slope 3.32 MiB, PSS 0.14.
        let rs =
            crate::testdata::drifting_density_records("container-crun", 200, 0.14, 0.14, 3.2, true);
        let s = series(&rs);
        assert_eq!((s[0].points.len(), s[0].stops.len()), (200, 200));
        let d = summarize(&s[0]);
        assert_eq!(d.instances, 200);
        let m = d.marginal_mib.unwrap();
        assert!((m.point - 3.34).abs() < 0.02, "{m:?}");
        let f = d.drift_fit.clone().unwrap();
        assert!(
            f.b.lo < 0.14 && 0.14 < f.b.hi && f.b.hi - f.b.lo < 0.02,
            "{f:?}"
        );
        assert!(f.c.lo < 3.2 && 3.2 < f.c.hi, "{f:?}");
        assert_eq!((f.n, f.n_stop), (400, 200));
        let t = d.marginal_text();
        assert!(
            t.contains("drift c 3.20") && t.contains("disagrees with b beyond both intervals"),
            "{t}"
        );
        // b is plausible against the PSS: it decides.
        let c = d.cost().unwrap();
        assert!(c.from_slope() && c.how.contains("teardown"), "{c:?}");
        assert!((c.est.point - 0.14).abs() < 0.01, "{c:?}");
    }

    #[test]
    fn a_launch_only_slope_that_misses_the_footprint_is_not_trusted() {
        let rs = crate::testdata::drifting_density_records(
            "container-crun",
            200,
            0.14,
            0.14,
            3.2,
            false,
        );
        let d = summarize(&series(&rs)[0]);
        assert!(d.drift_fit.is_err() && d.marginal_mib.unwrap().point > 3.0);
        let c = d.cost().unwrap();
        assert!(!c.from_slope(), "{c:?}");
        assert!((c.est.point - 0.14).abs() < 1e-12, "{c:?}");
        assert!(
            c.how.contains("direct per-instance footprint")
                && c.how.contains("cannot be trusted here")
                && c.distrust.as_deref().unwrap_or("").contains("misses"),
            "{c:?}"
        );
    }

    #[test]
    fn drift_without_an_instance_cost_fits_no_cost_and_decides_from_pss() {
        let rs =
            crate::testdata::drifting_density_records("container-x", 100, 0.14, 0.0, 1.0, true);
        let d = summarize(&series(&rs)[0]);
        let f = d.drift_fit.clone().unwrap();
        assert!(f.b.lo < 0.0 && 0.0 < f.b.hi && f.b.hi < 0.02, "{f:?}");
        assert!((f.c.point - 1.0).abs() < 0.01, "{f:?}");
        // b's interval misses [0.07, 1.28]: the PSS decides, labelled.
        let c = d.cost().unwrap();
        assert!(
            !c.from_slope() && (c.est.point - 0.14).abs() < 1e-12,
            "{c:?}"
        );
    }

    #[test]
    fn a_poor_fit_or_no_footprint_decides_nothing_from_the_slope() {
        // Noise only: R² low; without a PSS nothing decides.
        let mut rs =
            crate::testdata::drifting_density_records("container-x", 20, 0.5, 0.5, 0.0, true);
        for (i, r) in rs.iter_mut().enumerate() {
            r.metrics.remove("instance_pss_mib");
            let wobble = [7.0, -5.0, 3.0, -9.0, 6.0][i % 5];
            if let Some(a) = r.metrics.get_mut("host_mem_available_mib") {
                *a += wobble;
            }
        }
        let d = summarize(&series(&rs)[0]);
        assert!(
            d.drift_fit.as_ref().unwrap().r2 < MIN_R2,
            "{:?}",
            d.drift_fit
        );
        let why = d.cost().unwrap_err();
        assert!(
            why.contains("cannot be trusted here") && why.contains("no PSS"),
            "{why}"
        );
        // A plausible slope without a PSS to check it against: fails closed.
        let mut rs =
            crate::testdata::drifting_density_records("container-x", 20, 0.5, 0.5, 0.1, true);
        for r in &mut rs {
            r.metrics.remove("instance_pss_mib");
        }
        let why = summarize(&series(&rs)[0]).cost().unwrap_err();
        assert!(why.contains("no PSS to check it against"), "{why}");
    }

    #[test]
    fn the_drift_fit_needs_four_readings_and_a_teardown() {
        let e = fit_drift(&[(1.0, 1.0, 1.0), (2.0, 2.0, 2.0), (1.0, 3.0, 1.0)], 1).unwrap_err();
        assert!(e.contains("at least 4"), "{e}");
        // Instances and time rising together: b and c cannot be told apart.
        let pts: Vec<(f64, f64, f64)> = (1..=10)
            .map(|k| (k as f64, 2.0 * k as f64, k as f64))
            .collect();
        let e = fit_drift(&pts, 0).unwrap_err();
        assert!(e.contains("rose together"), "{e}");
        // Exact: y = 5 + 2x + 0.5t.
        let pts: Vec<(f64, f64, f64)> = [
            (1.0, 1.0),
            (2.0, 2.0),
            (3.0, 3.0),
            (2.0, 4.0),
            (1.0, 5.0),
            (0.0, 6.0),
        ]
        .iter()
        .map(|&(x, t)| (x, t, 5.0 + 2.0 * x + 0.5 * t))
        .collect();
        let f = fit_drift(&pts, 3).unwrap();
        assert!(
            (f.b.point - 2.0).abs() < 1e-9 && (f.c.point - 0.5).abs() < 1e-9 && f.r2 > 0.999_999,
            "{f:?}"
        );
    }

    #[test]
    fn too_few_points_have_no_slope() {
        assert!(slope(&[(1.0, 1.0), (2.0, 2.0)]).is_none());
        assert!(slope(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]).is_none());
        let e = slope(&[(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]).unwrap();
        assert!((e.point - 2.0).abs() < 1e-12 && (e.hi - e.lo).abs() < 1e-9);
    }
}
