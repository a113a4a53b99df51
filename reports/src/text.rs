//! Numbers and parameters as every report prints them: compact numbers
//! ([`num`]), thousands separators, byte sizes, ratios with enough digits
//! that a small one never reads as zero, and `key=value` parameter lists.

use std::collections::BTreeMap;

/// `12345.678` → `12,346`, `1.2345` → `1.23`: three significant figures or
/// more for large values, enough for every unit isobench records.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if a >= 1000.0 {
        thousands(&format!("{x:.0}"))
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else if a >= 0.001 {
        // Three significant digits, as for the larger values.
        let decimals = (2 - a.log10().floor() as i32).clamp(2, 5) as usize;
        format!("{x:.decimals$}")
    } else if a == 0.0 {
        "0".into()
    } else {
        format!("{x:.3e}")
    }
}

/// Digits of an integer part grouped by thousands: `1234567` → `1,234,567`
/// (a sign and a fractional part are kept).
pub fn thousands(s: &str) -> String {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s),
    };
    let (int, frac) = match rest.find(['.', 'e']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if int.len() <= 3 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_string();
    }
    let mut out = String::with_capacity(int.len() + int.len() / 3);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}{frac}")
}

/// Bytes in binary units: `67108864` → `64.0 MiB`, `12` → `12 B`.
pub fn bytes_text(x: f64) -> String {
    const UNITS: [(&str, f64); 3] = [
        ("GiB", 1024.0 * 1024.0 * 1024.0),
        ("MiB", 1024.0 * 1024.0),
        ("KiB", 1024.0),
    ];
    for (name, size) in UNITS {
        if x.abs() >= size {
            return format!("{} {name}", num(x / size));
        }
    }
    format!("{} B", num(x))
}

/// Parameters of a workload as one line: `matrix_n=256, threads=2`.
pub fn params_text(p: &BTreeMap<String, serde_json::Value>) -> String {
    if p.is_empty() {
        return "none".into();
    }
    p.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A ratio to a reference as text with enough significant digits that a
/// small one never reads as zero: `23.4×`, `1.10×`, `0.53×`, `0.012×`.
pub fn times(x: f64) -> String {
    format!("{}×", ratio_digits(x))
}

/// The number of [`times`] without the sign.
pub fn ratio_digits(x: f64) -> String {
    let a = x.abs();
    if !a.is_finite() {
        return format!("{x}");
    }
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 0.1 || a == 0.0 {
        format!("{x:.2}")
    } else {
        // Two significant digits.
        let decimals = (1 - a.log10().floor() as i32).clamp(2, 9) as usize;
        format!("{x:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compact() {
        assert_eq!(num(12345.6), "12,346");
        assert_eq!(num(123.45), "123.5");
        assert_eq!(num(1.2345), "1.23");
        assert_eq!(num(0.0523), "0.0523");
        // Three significant digits below 1 too (was 0.8948 next to 2.86).
        assert_eq!(num(0.8948), "0.895");
        assert_eq!(num(0.2803), "0.280");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(0.00224), "0.00224");
        assert_eq!(num(0.000123), "1.230e-4");
    }

    #[test]
    fn thousands_group_the_integer_part_only() {
        assert_eq!(thousands("52020"), "52,020");
        assert_eq!(thousands("1234567"), "1,234,567");
        assert_eq!(thousands("-1234.5"), "-1,234.5");
        assert_eq!(thousands("999"), "999");
        assert_eq!(thousands("1.230e-4"), "1.230e-4");
        assert_eq!(num(1_301_631.0), "1,301,631");
    }
}
