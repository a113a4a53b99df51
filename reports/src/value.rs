//! A figure's value and its ratio to native: as numbers with their
//! interval ([`Val`]) and as the text every report prints (`9876 [9800,
//! 9950] (n=5)`, `0.53× [0.50, 0.56]`, `2.1× slower`, `3 layers`).

use crate::analysis::{Figure, BASELINE};
use crate::metric::Direction;
use crate::text::{bytes_text, num, ratio_digits, thousands};

/// A value with its interval (`None` when there is none, e.g. n = 1), the
/// number of repetitions behind it and how the interval was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Val {
    pub point: f64,
    pub ci: Option<(f64, f64)>,
    pub n: usize,
    /// e.g. `t on logs, n=5`; empty without an interval.
    pub method: String,
}

/// The centre of a figure (its geometric mean, the statistic its interval
/// belongs to) with the interval. Every reader of intervals goes through
/// here and [`speed_of`].
pub fn median_of(f: &Figure) -> Val {
    let s = &f.summary;
    Val {
        point: s.centre,
        ci: s.ci.map(|c| (c.lo, c.hi)),
        n: s.n,
        method: s.ci.map(|c| c.method.to_string()).unwrap_or_default(),
    }
}

/// Performance relative to native (1 = native, higher is better) with its
/// interval; `None` when the figure has no ratio to native.
pub fn speed_of(f: &Figure) -> Option<Val> {
    let r = f.vs_native?;
    Some(Val {
        point: r.speed.point,
        ci: Some((r.speed.lo, r.speed.hi)),
        n: f.summary.n,
        method: r.method.to_string(),
    })
}

/// How the intervals of a figure were computed (its own and its ratio's).
pub fn interval_method(f: &Figure) -> String {
    let own = f
        .summary
        .ci
        .map(|c| {
            format!(
                "{}: {}",
                f.summary.centre_kind.label(),
                kind(&c.method.to_string())
            )
        })
        .unwrap_or_default();
    let rel = f
        .vs_native
        .map(|r| format!("ratio to native: {}", kind(&r.method.to_string())))
        .unwrap_or_default();
    [own, rel]
        .into_iter()
        .filter(|x| !x.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A method without its counts: `t on logs, n=5` → `t on logs`.
fn kind(method: &str) -> String {
    method.split(", n=").next().unwrap_or(method).to_string()
}

/// `9876 [9800, 9950] (n=5)`, or `9876 (n=1, no interval)`.
pub fn val_text(v: &Val, fmt: impl Fn(f64) -> String) -> String {
    match v.ci {
        Some((lo, hi)) => format!("{} [{}, {}] (n={})", fmt(v.point), fmt(lo), fmt(hi), v.n),
        None => format!("{} (n={}, no interval)", fmt(v.point), v.n),
    }
}

/// Median with its interval and n: `9876 [9800, 9950] (n=5)`; counts and
/// byte sizes as themselves with their unit (see [`exact_text`]).
pub fn median_ci(f: &Figure) -> String {
    exact_text(f).unwrap_or_else(|| val_text(&median_of(f), num))
}

/// Coefficient of variation as a percentage, or `–`.
pub fn cv_pct(f: &Figure) -> String {
    f.summary
        .cv
        .map(|c| format!("{:.1}%", c * 100.0))
        .unwrap_or_else(|| "–".into())
}

/// Speed relative to native with interval: `0.11× [0.10, 0.12] (n=5)`, or
/// `baseline` / `–`.
pub fn vs_native(f: &Figure) -> String {
    match speed_of(f) {
        Some(v) => ratio_text(f, &v),
        None if f.env_id == BASELINE => "baseline".into(),
        None => "–".into(),
    }
}

/// Units of counts: a count has no interval to speak of.
const COUNT_UNITS: [&str; 7] = [
    "layers",
    "actions",
    "count",
    "instances",
    "files",
    "processes",
    "attempts",
];

/// A count or a byte size as itself, without an interval (an interval on
/// `3 layers` or on a size that never varies is a fake one): the value
/// with its unit when every repetition agrees (`3 layers`, `64.0 MiB`),
/// else its range (`3–4 layers (n=5)`). `None` for a measured quantity.
pub fn exact_text(f: &Figure) -> Option<String> {
    let unit = f.unit.trim().to_ascii_lowercase();
    let bytes = matches!(unit.as_str(), "bytes" | "b" | "byte");
    if !bytes && !COUNT_UNITS.contains(&unit.as_str()) {
        return None;
    }
    let (lo, hi) = f
        .samples
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    if lo > hi {
        return None;
    }
    let count = |x: f64| {
        if x.fract() == 0.0 {
            thousands(&format!("{x:.0}"))
        } else {
            num(x)
        }
    };
    let show = |x: f64| {
        if bytes {
            bytes_text(x)
        } else {
            format!("{} {}", count(x), f.unit.trim())
        }
    };
    Some(if lo == hi {
        show(lo)
    } else if bytes {
        format!(
            "{} – {} (n={})",
            bytes_text(lo),
            bytes_text(hi),
            f.samples.len()
        )
    } else {
        format!("{}–{} (n={})", count(lo), show(hi), f.samples.len())
    })
}

/// A ratio to native as a reader takes it: for a higher-is-better figure
/// its speed relative to native (`0.53× [0.50, 0.56] (n=5)`); for a
/// lower-is-better one (latency, startup, copy-up) how many times slower
/// it is than native (`2.1× slower [1.9, 2.4] (n=5)`), with as many digits
/// as a small ratio needs.
pub fn ratio_text(f: &Figure, v: &Val) -> String {
    match v.ci {
        Some(_) => format!("{} (n={})", ratio_words(f, v), v.n),
        None => format!("{} (n={}, no interval)", ratio_words(f, v), v.n),
    }
}

/// [`ratio_text`] without the count: `0.53× [0.50, 0.56]`, `2.1× slower
/// [1.9, 2.4]` (the terminal's table gives n a column of its own).
pub fn ratio_words(f: &Figure, v: &Val) -> String {
    // A time (lower is better) reads as "× slower" (its time over native's);
    // below 1 that would read "0.75× slower", so a faster point reads as
    // "× faster" (native's time over its own) instead. Speeds stay ratios.
    // A size (memory footprint) reads as "× larger" / "× smaller" the
    // same way: "slower" would misname it.
    let time = f.direction == Direction::LowerIsBetter;
    let size = matches!(
        f.unit.as_str(),
        "B" | "bytes" | "KiB" | "MiB" | "GiB" | "kB" | "MB" | "GB"
    );
    let (better, worse) = if size {
        (" smaller", " larger")
    } else {
        (" faster", " slower")
    };
    let (p, ci, word) = if time && v.point > 1.0 {
        (v.point, v.ci, better)
    } else if time {
        (
            1.0 / v.point,
            v.ci.map(|(lo, hi)| (1.0 / hi, 1.0 / lo)),
            worse,
        )
    } else {
        (v.point, v.ci, "")
    };
    match ci {
        Some((lo, hi)) => format!(
            "{}×{word} [{}, {}]",
            ratio_digits(p),
            ratio_digits(lo),
            ratio_digits(hi)
        ),
        None => format!("{}×{word}", ratio_digits(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_sizes_have_no_interval() {
        let run = crate::testdata::fixture_run(3, 1.0);
        let mut recs = run.records.clone();
        recs.extend(crate::testdata::layer_records(3, 1.0, 5.0));
        let a = crate::analysis::analyse(&recs, Default::default());
        let layers = a
            .figures
            .iter()
            .find(|f| f.unit == "layers")
            .expect("a count figure");
        let text = median_ci(layers);
        assert!(!text.contains('['), "{text}");
        assert!(text.ends_with(" layers") && !text.contains('.'), "{text}");
        let bytes = a
            .figures
            .iter()
            .find(|f| f.unit == "bytes" && f.metric == "layer_added_bytes")
            .expect("a byte figure");
        assert_eq!(median_ci(bytes), "4.00 MiB");
        // A measured quantity keeps its interval.
        let triad = a
            .figures
            .iter()
            .find(|f| f.metric == "triad_mbs")
            .expect("triad");
        assert!(median_ci(triad).contains('['));
    }

    #[test]
    fn ratios_read_as_speed_or_as_times_slower() {
        let run = crate::testdata::fixture_run(3, 1.0);
        let a = crate::analysis::analyse(&run.records, Default::default());
        let v = Val {
            point: 0.5,
            ci: Some((0.4, 0.64)),
            n: 3,
            method: String::new(),
        };
        let lat = a
            .figures
            .iter()
            .find(|f| f.workload == "latency")
            .expect("latency");
        assert_eq!(ratio_text(lat, &v), "2.00× slower [1.56, 2.50] (n=3)");
        let faster = Val {
            point: 1.25,
            ci: Some((0.9, 1.6)),
            n: 3,
            method: String::new(),
        };
        assert_eq!(ratio_text(lat, &faster), "1.25× faster [0.90, 1.60] (n=3)");
        let triad = a
            .figures
            .iter()
            .find(|f| f.metric == "triad_mbs")
            .expect("triad");
        assert_eq!(ratio_text(triad, &v), "0.50× [0.40, 0.64] (n=3)");
        // A TCG ratio never reads as zero.
        let tiny = Val {
            point: 0.0123,
            ci: Some((0.0101, 0.0149)),
            n: 3,
            method: String::new(),
        };
        assert_eq!(ratio_text(triad, &tiny), "0.012× [0.010, 0.015] (n=3)");
        // A size reads as larger or smaller, never slower.
        let mut pss = lat.clone();
        pss.unit = "MiB".into();
        assert_eq!(ratio_text(&pss, &v), "2.00× larger [1.56, 2.50] (n=3)");
        assert_eq!(
            ratio_text(&pss, &faster),
            "1.25× smaller [0.90, 1.60] (n=3)"
        );
    }
}
