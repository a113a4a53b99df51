//! The data behind every plot, computed from an [`Analysis`] without drawing,
//! so that tests can check what a plot shows.

use crate::analysis::Analysis;
use crate::metric::{latency_size_bytes, Direction};

/// One bar of a "relative to native" chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub metric: usize,
    pub env: usize,
    /// Performance relative to native (1 = native, higher is better).
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
    /// Each valid repetition, normalised the same way.
    pub points: Vec<f64>,
}

/// Per-workload bars normalised to native.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub workload: String,
    pub metrics: Vec<String>,
    pub envs: Vec<String>,
    pub bars: Vec<Bar>,
}

/// Most raw points drawn per figure. A figure of more repetitions shows
/// this many of its order statistics (evenly spaced quantiles, the minimum
/// and the maximum among them), so the spread is drawn in bounded time and
/// file size; the statistics always use every value.
pub const MAX_RAW_POINTS: usize = 200;

/// At most `max` of `xs` for drawing: all of them when they fit, else `max`
/// evenly spaced order statistics (minimum and maximum included).
pub fn thin(xs: &[f64], max: usize) -> Vec<f64> {
    if xs.len() <= max || max < 2 {
        return xs.to_vec();
    }
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let last = sorted.len() - 1;
    (0..max)
        .map(|i| sorted[(i * last + (max - 1) / 2) / (max - 1)])
        .collect()
}

/// The note for a plot subtitle when some figure had more values than are
/// drawn, e.g. `dots: 200 quantiles of up to 5000 repetitions`.
pub fn thinning_note(a: &Analysis, workload: Option<&str>) -> Option<String> {
    let most = a
        .figures
        .iter()
        .filter(|f| workload.is_none_or(|w| f.workload == w))
        .map(|f| f.samples.len())
        .max()?;
    (most > MAX_RAW_POINTS).then(|| {
        format!("dots: {MAX_RAW_POINTS} quantiles of up to {most} repetitions (statistics use all)")
    })
}

/// Normalise `x` to the native median `base` as a speed (higher is better).
fn normalise(x: f64, base: f64, dir: Direction) -> f64 {
    match dir {
        Direction::HigherIsBetter => x / base,
        Direction::LowerIsBetter => base / x,
    }
}

/// Bars for a workload: every metric that has a native figure, one bar per
/// environment (native included, at 1 with its own interval).
pub fn bar_chart(a: &Analysis, workload: &str) -> Option<BarChart> {
    let metrics: Vec<String> = a
        .metrics(workload)
        .into_iter()
        .filter(|m| a.figure("native", workload, m).is_some())
        .collect();
    let envs: Vec<String> = a
        .envs
        .iter()
        .map(|e| e.env_id.clone())
        .filter(|e| metrics.iter().any(|m| a.figure(e, workload, m).is_some()))
        .collect();
    if metrics.is_empty() || envs.len() < 2 {
        return None;
    }
    let mut bars = Vec::new();
    for (mi, m) in metrics.iter().enumerate() {
        let base = a.figure("native", workload, m)?;
        let b = base.summary.centre;
        for (ei, e) in envs.iter().enumerate() {
            let Some(f) = a.figure(e, workload, m) else {
                continue;
            };
            let (value, lo, hi) = match f.vs_native {
                Some(r) => (r.speed.point, r.speed.lo, r.speed.hi),
                None => {
                    let s = &f.summary;
                    let (lo, hi) = s.ci.map_or((s.centre, s.centre), |c| (c.lo, c.hi));
                    let (x, y) = (normalise(lo, b, f.direction), normalise(hi, b, f.direction));
                    (1.0, x.min(y), x.max(y))
                }
            };
            bars.push(Bar {
                metric: mi,
                env: ei,
                value,
                lo,
                hi,
                points: thin(&f.samples, MAX_RAW_POINTS)
                    .into_iter()
                    .map(|x| normalise(x, b, f.direction))
                    .collect(),
            });
        }
    }
    Some(BarChart {
        workload: workload.to_string(),
        metrics,
        envs,
        bars,
    })
}

/// One environment's latency curve: (working-set bytes, median ns, lo, hi).
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyLine {
    pub env_id: String,
    pub points: Vec<(u64, f64, f64, f64)>,
}

/// ns per load against working set, one line per environment.
pub fn latency_lines(a: &Analysis) -> Vec<LatencyLine> {
    a.envs
        .iter()
        .filter_map(|e| {
            let mut points: Vec<(u64, f64, f64, f64)> = a
                .figures
                .iter()
                .filter(|f| f.env_id == e.env_id && f.workload == "latency")
                .filter_map(|f| {
                    let s = &f.summary;
                    let (lo, hi) = s.ci.map_or((s.centre, s.centre), |c| (c.lo, c.hi));
                    Some((latency_size_bytes(&f.metric)?, s.centre, lo, hi))
                })
                .collect();
            points.sort_by_key(|p| p.0);
            (!points.is_empty()).then(|| LatencyLine {
                env_id: e.env_id.clone(),
                points,
            })
        })
        .collect()
}

/// A curve of claim C7's copy-on-write workloads: the metrics
/// `<prefix><x><suffix>` of `workload`, one line per environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurveKind {
    pub workload: &'static str,
    pub prefix: &'static str,
    pub suffix: &'static str,
    /// x is a size (`1MiB`), else a plain count.
    pub x_bytes: bool,
    pub title: &'static str,
    pub x_desc: &'static str,
    pub y_desc: &'static str,
}

/// The curves drawn for claim C7.
pub const CURVES: [CurveKind; 2] = [
    CurveKind {
        workload: "copyup",
        prefix: "first_write_ms_",
        suffix: "",
        x_bytes: true,
        title: "copy-up: first write to a file in a lower layer against its size",
        x_desc: "file size (log scale)",
        y_desc: "ms to open for writing and write 4 KiB (log scale)",
    },
    CurveKind {
        workload: "ovlmount",
        prefix: "mount_ms_",
        suffix: "layers",
        x_bytes: false,
        title: "overlay mount time against the number of lower layers",
        x_desc: "lower layers (log scale)",
        y_desc: "ms per mount(2), median of the tries (log scale)",
    },
];

/// The x of a curve metric (`first_write_ms_1MiB` → 1048576).
pub fn curve_x(kind: &CurveKind, metric: &str) -> Option<u64> {
    let mid = metric
        .strip_prefix(kind.prefix)?
        .strip_suffix(kind.suffix)?;
    if kind.x_bytes {
        crate::metric::parse_size(mid)
    } else {
        mid.parse().ok()
    }
}

/// One line per environment of `kind`'s metrics, sorted by x.
pub fn curve_lines(a: &Analysis, kind: &CurveKind) -> Vec<LatencyLine> {
    a.envs
        .iter()
        .filter_map(|e| {
            let mut points: Vec<(u64, f64, f64, f64)> = a
                .figures
                .iter()
                .filter(|f| f.env_id == e.env_id && f.workload == kind.workload)
                .filter_map(|f| {
                    let s = &f.summary;
                    let (lo, hi) = s.ci.map_or((s.centre, s.centre), |c| (c.lo, c.hi));
                    Some((curve_x(kind, &f.metric)?, s.centre, lo, hi))
                })
                .collect();
            points.sort_by_key(|p| p.0);
            (!points.is_empty()).then(|| LatencyLine {
                env_id: e.env_id.clone(),
                points,
            })
        })
        .collect()
}

/// The repetitions of one startup metric in one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct StartupDist {
    pub env_id: String,
    pub samples: Vec<f64>,
    pub median: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The startup metrics that get a panel: time to first instruction and the
/// whole lifecycle (the runtime's create/start/delete phases and the guest's
/// uptime are in the tables only).
pub const STARTUP_PANELS: [&str; 2] = ["first_instruction_ms", "lifecycle_ms"];

/// Startup distributions, one per environment, for each metric of
/// [`STARTUP_PANELS`] present (or every startup metric if none is).
pub fn startup_dists(a: &Analysis) -> Vec<(String, String, Vec<StartupDist>)> {
    let all = a.metrics("startup");
    let main: Vec<String> = all
        .iter()
        .filter(|m| STARTUP_PANELS.contains(&m.as_str()))
        .cloned()
        .collect();
    let chosen = if main.is_empty() { all } else { main };
    chosen
        .into_iter()
        .map(|m| {
            let mut unit = String::new();
            let dists = a
                .figures
                .iter()
                .filter(|f| f.workload == "startup" && f.metric == m)
                .map(|f| {
                    unit = f.unit.clone();
                    StartupDist {
                        env_id: f.env_id.clone(),
                        samples: thin(&f.samples, MAX_RAW_POINTS),
                        // The geometric mean, the statistic the interval belongs to.
                        median: f.summary.centre,
                        lo: f.summary.ci.map_or(f.summary.centre, |c| c.lo),
                        hi: f.summary.ci.map_or(f.summary.centre, |c| c.hi),
                    }
                })
                .collect();
            (m, unit, dists)
        })
        .collect()
}

/// Title suffix naming the host and the VM accelerators of the run.
pub fn host_title(a: &Analysis, hostname: &str) -> String {
    let mut accels: Vec<String> = a
        .envs
        .iter()
        .filter_map(|e| e.accel().map(|x| format!("{}: {x}", e.env_id)))
        .collect();
    accels.dedup();
    if accels.is_empty() {
        format!("host {hostname}")
    } else {
        format!("host {hostname}, accel {}", accels.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_extremes_and_bounds_the_points() {
        let xs: Vec<f64> = (0..5000).map(|i| ((i * 7919) % 5000) as f64).collect();
        let t = thin(&xs, 200);
        assert_eq!(t.len(), 200);
        assert_eq!(t[0], 0.0);
        assert_eq!(t[199], 4999.0);
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
        // The median of the thinned points is the median of all, near enough.
        assert!((t[100] - 2500.0).abs() < 30.0, "{}", t[100]);
        assert_eq!(thin(&xs[..50], 200), xs[..50].to_vec());
    }
    use crate::analysis::{analyse, StatsOptions};
    use crate::testdata;

    fn fixture() -> Analysis {
        analyse(
            &testdata::fixture_run(4, 1.0).records,
            StatsOptions { resamples: 200 },
        )
    }

    #[test]
    fn bars_are_normalised_to_native() {
        let a = fixture();
        let c = bar_chart(&a, "membw").unwrap();
        assert_eq!(c.metrics, ["copy_mbs", "scale_mbs", "add_mbs", "triad_mbs"]);
        assert_eq!(c.envs, testdata::ENVS);
        assert_eq!(c.bars.len(), 16);
        let native = &c.bars[0];
        assert_eq!(native.value, 1.0);
        assert_eq!(native.points.len(), 4);
        let vm = c.bars.iter().find(|b| b.env == 3 && b.metric == 3).unwrap();
        assert!(vm.value < 0.1 && vm.lo <= vm.value && vm.value <= vm.hi);
    }

    #[test]
    fn latency_lines_are_sorted_by_size() {
        let a = fixture();
        let l = latency_lines(&a);
        assert_eq!(l.len(), 4);
        let sizes: Vec<u64> = l[0].points.iter().map(|p| p.0).collect();
        assert_eq!(sizes.first(), Some(&(16 << 10)));
        assert_eq!(sizes.last(), Some(&(1 << 30)));
        assert!(sizes.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn curve_metrics_carry_their_x() {
        assert_eq!(curve_x(&CURVES[0], "first_write_ms_1MiB"), Some(1 << 20));
        assert_eq!(curve_x(&CURVES[1], "mount_ms_64layers"), Some(64));
        assert_eq!(curve_x(&CURVES[1], "mount_ms_64"), None);
        assert_eq!(curve_x(&CURVES[0], "create_us"), None);
    }

    #[test]
    fn startup_has_both_metrics() {
        let mut run = testdata::fixture_run(4, 1.0);
        for r in run.records.iter_mut().filter(|r| r.workload == "startup") {
            r.metrics.insert("create_ms".into(), 20.0);
        }
        let a = analyse(&run.records, StatsOptions { resamples: 200 });
        let s = startup_dists(&a);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "first_instruction_ms");
        assert_eq!(s[0].1, "ms");
        assert_eq!(s[0].2.len(), 4);
        assert!(host_title(&a, "h").contains("vm-tcg: tcg"));
    }
}

/// The heatmap of the noisy-neighbour experiment: the rows and columns of
/// [`crate::neighbours::grid`], each cell the victim's speed beside its
/// antagonist relative to alone with its interval (the grid itself carries
/// only the point).
pub fn neighbour_cells(s: &[crate::neighbours::Slowdown]) -> NeighbourCells {
    let (rows, cols, _) = crate::neighbours::grid(s);
    let head = crate::neighbours::headline(s);
    let row_of = |x: &crate::neighbours::Slowdown| {
        format!(
            "{} {}{}",
            x.env_id,
            x.placement,
            if x.emulated() { " (emulated)" } else { "" }
        )
    };
    let col_of =
        |x: &crate::neighbours::Slowdown| format!("{}/{} + {}", x.victim, x.metric, x.antagonist);
    let cells = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| {
                    head.iter()
                        .find(|x| &row_of(x) == r && &col_of(x) == c)
                        .map(|x| x.speed)
                })
                .collect()
        })
        .collect();
    NeighbourCells { rows, cols, cells }
}

/// Rows, columns and cells of the noisy-neighbour heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighbourCells {
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub cells: Vec<Vec<Option<crate::stats::Estimate>>>,
}
