//! Exporters: each turns an analysed run into text or bytes and never
//! touches the disk ([`crate::output`] writes files).

pub mod bencher;
pub mod csv;
pub mod html;
pub mod markdown;

use crate::analysis::Figure;

/// `12345.678` → `12346`, `1.2345` → `1.23`: three significant figures or
/// more for large values, enough for every unit isobench records.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if a >= 1000.0 {
        format!("{x:.0}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else if a >= 0.01 {
        format!("{x:.4}")
    } else if a >= 0.001 {
        format!("{x:.5}")
    } else if a == 0.0 {
        "0".into()
    } else {
        format!("{x:.3e}")
    }
}

/// A value with its interval (`None` when there is none, e.g. n = 1) and
/// the number of repetitions behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Val {
    pub point: f64,
    pub ci: Option<(f64, f64)>,
    pub n: usize,
}

/// The median of a figure with its interval. Every reader of intervals goes
/// through here and [`speed_of`], so a change of the statistics API touches
/// two functions.
pub fn median_of(f: &Figure) -> Val {
    let m = f.summary.median;
    Val {
        point: m.point,
        ci: (f.summary.n >= 2).then_some((m.lo, m.hi)),
        n: f.summary.n,
    }
}

/// Performance relative to native (1 = native, higher is better) with its
/// interval; `None` when the figure has no ratio to native.
pub fn speed_of(f: &Figure) -> Option<Val> {
    let r = f.vs_native?;
    Some(Val {
        point: r.speed.point,
        ci: (f.summary.n >= 2).then_some((r.speed.lo, r.speed.hi)),
        n: f.summary.n,
    })
}

/// How the intervals of a figure were computed.
pub fn interval_method(_f: &Figure) -> String {
    "95% percentile bootstrap, 2000 resamples".to_string()
}

/// `9876 [9800, 9950] (n=5)`, or `9876 (n=1, no interval)`.
pub fn val_text(v: Val, fmt: impl Fn(f64) -> String) -> String {
    match v.ci {
        Some((lo, hi)) => format!("{} [{}, {}] (n={})", fmt(v.point), fmt(lo), fmt(hi), v.n),
        None => format!("{} (n={}, no interval)", fmt(v.point), v.n),
    }
}

/// Median with its interval and n: `9876 [9800, 9950] (n=5)`.
pub fn median_ci(f: &Figure) -> String {
    val_text(median_of(f), num)
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
        Some(v) => val_text(v, |x| format!("{x:.2}×")),
        None if f.env_id == crate::analysis::BASELINE => "baseline".into(),
        None => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_are_compact() {
        assert_eq!(num(12345.6), "12346");
        assert_eq!(num(123.45), "123.5");
        assert_eq!(num(1.2345), "1.23");
        assert_eq!(num(0.0523), "0.0523");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(0.00224), "0.00224");
        assert_eq!(num(0.000123), "1.230e-4");
    }
}
