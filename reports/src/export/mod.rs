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

/// Geometric mean (the statistic the interval belongs to) with its
/// interval: `9876 [9800, 9950]`; `9876 (n=1, no interval)` for one value.
/// (The name is kept for callers; the figure's median is `summary.median`.)
pub fn median_ci(f: &Figure) -> String {
    let s = &f.summary;
    match s.ci {
        Some(ci) => format!("{} [{}, {}]", num(s.centre), num(ci.lo), num(ci.hi)),
        None => format!("{} (n={}, no interval)", num(s.centre), s.n),
    }
}

/// Coefficient of variation as a percentage, or `–`.
pub fn cv_pct(f: &Figure) -> String {
    f.summary
        .cv
        .map(|c| format!("{:.1}%", c * 100.0))
        .unwrap_or_else(|| "–".into())
}

/// Speed relative to native with interval: `0.11× [0.10, 0.12]`, or `–`.
pub fn vs_native(f: &Figure) -> String {
    match f.vs_native {
        Some(r) => format!(
            "{:.2}× [{:.2}, {:.2}] ({:+.1}% cost)",
            r.speed.point,
            r.speed.lo,
            r.speed.hi,
            if r.overhead_pct.point.abs() < 0.05 {
                0.0
            } else {
                r.overhead_pct.point
            }
        ),
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
