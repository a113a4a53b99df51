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
//! `host_mem_available_mib`, `host_mem_used_delta_mib`.

use crate::schema::ResultRecord;
use crate::stats::{self, Estimate};

/// Workload name of the experiment's records.
pub const WORKLOAD: &str = "density";

#[derive(Debug, Clone, PartialEq)]
pub struct DensityPoint {
    pub instance: u64,
    pub launch_ms: f64,
    pub pss_mib: Option<f64>,
    pub uss_mib: Option<f64>,
    pub used_delta_mib: Option<f64>,
}

/// One environment's launches, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct DensitySeries {
    pub env_id: String,
    pub env: String,
    pub accel: Option<String>,
    pub points: Vec<DensityPoint>,
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
    /// Median launch time of the first and of the last 10% of launches.
    pub launch_first_ms: Option<f64>,
    pub launch_last_ms: Option<f64>,
}

impl DensitySummary {
    pub fn emulated(&self) -> bool {
        self.accel.as_deref() == Some("tcg")
    }

    /// The host memory per extra instance as a reader sees it:
    /// `1.52 [1.40, 1.64] MiB (R² 0.98, 200 instances)`, a flagged negative
    /// slope, or why there is none; never "?".
    pub fn marginal_text(&self) -> String {
        match (&self.marginal_fit, self.marginal_mib) {
            (Ok(f), Some(e)) => {
                let flag = if e.point < 0.0 {
                    " — negative: the host's memory fell as instances were added, so its own drift swamps the instances; not a cost"
                } else {
                    ""
                };
                format!(
                    "{} [{}, {}] MiB (R² {:.2}, {} points, instances {}–{}){flag}",
                    crate::export::num(e.point),
                    crate::export::num(e.lo),
                    crate::export::num(e.hi),
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
        let Some(&launch_ms) = r.metrics.get("launch_ms") else {
            continue;
        };
        let i = match out.iter().position(|s| s.env_id == r.env_id) {
            Some(i) => i,
            None => {
                out.push(DensitySeries {
                    env_id: r.env_id.clone(),
                    env: r.env.clone(),
                    accel: r.env_detail.get("accel").cloned(),
                    points: Vec::new(),
                });
                out.len() - 1
            }
        };
        let m = |k: &str| r.metrics.get(k).copied().filter(|v| v.is_finite());
        out[i].points.push(DensityPoint {
            instance,
            launch_ms,
            pss_mib: m("instance_pss_mib"),
            uss_mib: m("instance_uss_mib"),
            used_delta_mib: m("host_mem_used_delta_mib"),
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
    fn too_few_points_have_no_slope() {
        assert!(slope(&[(1.0, 1.0), (2.0, 2.0)]).is_none());
        assert!(slope(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]).is_none());
        let e = slope(&[(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]).unwrap();
        assert!((e.point - 2.0).abs() < 1e-12 && (e.hi - e.lo).abs() < 1e-9);
    }
}
