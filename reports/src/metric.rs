//! What a metric name and its unit mean: whether higher or lower is better,
//! the working-set size hidden in `ns_per_load_<size>`, and the order in which
//! workloads, environments and metrics are listed (shared/DESIGN.md, "Results").

use std::cmp::Ordering;

/// Whether a larger value of a metric is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

impl Direction {
    /// Derived from the unit when it says (a rate, a time, a size), else from
    /// the metric's name (`*_ms`, `ns_per_*`, ...). Rates are higher-is-better.
    pub fn of(metric: &str, unit: &str) -> Direction {
        let u = unit.trim().to_ascii_lowercase();
        if u.contains("/s") || u.ends_with("ps") || u == "gups" || u.contains("per s") {
            return Direction::HigherIsBetter;
        }
        let time_units = ["ns", "us", "µs", "ms", "s", "ns/load", "seconds", "cycles"];
        let size_units = ["b", "bytes", "kib", "mib", "gib", "kb", "mb", "gb"];
        if time_units.contains(&u.as_str())
            || u.starts_with("ns/")
            || size_units.contains(&u.as_str())
        {
            return Direction::LowerIsBetter;
        }
        let m = metric.to_ascii_lowercase();
        let lower_suffixes = ["_ms", "_ns", "_us", "_s", "_bytes", "_kib", "_mib"];
        if m.starts_with("ns_per_")
            || m.contains("latency")
            || lower_suffixes.iter().any(|s| m.ends_with(s))
        {
            Direction::LowerIsBetter
        } else {
            Direction::HigherIsBetter
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Direction::HigherIsBetter => "higher is better",
            Direction::LowerIsBetter => "lower is better",
        }
    }
}

/// Working-set size in bytes of a latency metric, `ns_per_load_64KiB` → 65536.
pub fn latency_size_bytes(metric: &str) -> Option<u64> {
    let s = metric.strip_prefix("ns_per_load_")?;
    parse_size(s)
}

/// Parse `16KiB`, `1MiB`, `1GiB`, `512B`, `4096`.
pub fn parse_size(s: &str) -> Option<u64> {
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: u64 = digits.parse().ok()?;
    let mult = match &s[digits.len()..] {
        "" | "B" => 1,
        "KiB" | "K" | "KB" | "k" => 1 << 10,
        "MiB" | "M" | "MB" => 1 << 20,
        "GiB" | "G" | "GB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// `65536` → `64 KiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (name, size) in UNITS {
        if bytes >= size && bytes.checked_rem(size) == Some(0) {
            return format!("{} {name}", bytes / size);
        }
    }
    format!("{bytes} B")
}

fn rank(list: &[&str], s: &str) -> usize {
    list.iter().position(|x| *x == s).unwrap_or(list.len())
}

/// Workloads in the order of shared/DESIGN.md, unknown ones after, by name.
pub fn workload_order(a: &str, b: &str) -> Ordering {
    const ORDER: [&str; 5] = ["cpu", "membw", "randacc", "latency", "startup"];
    rank(&ORDER, a).cmp(&rank(&ORDER, b)).then(a.cmp(b))
}

/// Environments: native, then containers, then VMs; by id within a class.
pub fn env_order(a: &str, b: &str) -> Ordering {
    fn class(id: &str) -> usize {
        if id == "native" {
            0
        } else if id.starts_with("container") {
            1
        } else if id.starts_with("vm") {
            2
        } else {
            3
        }
    }
    class(a).cmp(&class(b)).then(a.cmp(b))
}

/// A metric's trailing quantity, for a natural order: `first_write_ms_16KiB`
/// → (`first_write_ms`, `bytes`, 16384), `mount_ms_64layers` → (`mount_ms`,
/// `layers`, 64).
fn trailing_quantity(m: &str) -> Option<(&str, &str, u64)> {
    let (head, last) = m.rsplit_once('_')?;
    let n = last
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(last.len());
    if n == 0 {
        return None;
    }
    match parse_size(last) {
        Some(b) => Some((head, "bytes", b)),
        None => Some((head, &last[n..], last[..n].parse().ok()?)),
    }
}

/// Metrics: sizes and counts in a natural order (16KiB < 1MiB, 2layers <
/// 16layers), known ones in their order.
pub fn metric_order(a: &str, b: &str) -> Ordering {
    if let (Some(x), Some(y)) = (latency_size_bytes(a), latency_size_bytes(b)) {
        return x.cmp(&y);
    }
    if let (Some(x), Some(y)) = (trailing_quantity(a), trailing_quantity(b)) {
        if (x.0, x.1) == (y.0, y.1) {
            return x.2.cmp(&y.2);
        }
    }
    const ORDER: [&str; 12] = [
        "primes_per_s",
        "gflops",
        "copy_mbs",
        "scale_mbs",
        "add_mbs",
        "triad_mbs",
        "gups",
        "first_instruction_ms",
        "lifecycle_ms",
        "create_ms",
        "start_ms",
        "delete_ms",
    ];
    // `gflops_1t` sorts with `gflops`, after it.
    let base = |m: &'_ str| -> String {
        match m.rsplit_once('_') {
            Some((head, t)) if t.ends_with('t') && t[..t.len() - 1].parse::<u32>().is_ok() => {
                head.to_string()
            }
            _ => m.to_string(),
        }
    };
    let (ba, bb) = (base(a), base(b));
    rank(&ORDER, &ba)
        .cmp(&rank(&ORDER, &bb))
        .then(ba.cmp(&bb))
        .then(a.len().cmp(&b.len()))
        .then(a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_follows_unit_and_name() {
        assert_eq!(
            Direction::of("triad_mbs", "MB/s"),
            Direction::HigherIsBetter
        );
        assert_eq!(Direction::of("gups", "GUPS"), Direction::HigherIsBetter);
        assert_eq!(
            Direction::of("primes_per_s", "primes/s"),
            Direction::HigherIsBetter
        );
        assert_eq!(
            Direction::of("gflops", "GFLOP/s"),
            Direction::HigherIsBetter
        );
        assert_eq!(
            Direction::of("ns_per_load_1MiB", "ns"),
            Direction::LowerIsBetter
        );
        assert_eq!(
            Direction::of("lifecycle_ms", "ms"),
            Direction::LowerIsBetter
        );
        // Unknown unit: the name decides.
        assert_eq!(
            Direction::of("guest_uptime_ms", ""),
            Direction::LowerIsBetter
        );
        assert_eq!(
            Direction::of("ns_per_load_1GiB", "?"),
            Direction::LowerIsBetter
        );
        assert_eq!(Direction::of("widgets", ""), Direction::HigherIsBetter);
    }

    #[test]
    fn sizes_parse_and_format() {
        assert_eq!(latency_size_bytes("ns_per_load_16KiB"), Some(16 << 10));
        assert_eq!(latency_size_bytes("ns_per_load_1GiB"), Some(1 << 30));
        assert_eq!(latency_size_bytes("gups"), None);
        assert_eq!(parse_size("12XB"), None);
        assert_eq!(format_size(64 << 10), "64 KiB");
        assert_eq!(format_size(3 << 20), "3 MiB");
        assert_eq!(format_size(1000), "1000 B");
    }

    #[test]
    fn orders() {
        let mut e = vec!["vm-tcg", "container-runc", "native", "container-isorun"];
        e.sort_by(|a, b| env_order(a, b));
        assert_eq!(
            e,
            ["native", "container-isorun", "container-runc", "vm-tcg"]
        );
        let mut m = vec!["ns_per_load_1MiB", "ns_per_load_16KiB", "ns_per_load_1GiB"];
        m.sort_by(|a, b| metric_order(a, b));
        assert_eq!(
            m,
            ["ns_per_load_16KiB", "ns_per_load_1MiB", "ns_per_load_1GiB"]
        );
        let mut s = vec![
            "first_write_ms_16MiB",
            "first_write_ms_1MiB",
            "first_write_ms_16KiB",
            "mount_ms_64layers",
            "mount_ms_2layers",
        ];
        s.sort_by(|a, b| metric_order(a, b));
        assert_eq!(
            s,
            [
                "first_write_ms_16KiB",
                "first_write_ms_1MiB",
                "first_write_ms_16MiB",
                "mount_ms_2layers",
                "mount_ms_64layers"
            ]
        );
        let mut c = vec![
            "gflops_2t",
            "primes_per_s_1t",
            "gflops",
            "primes_per_s",
            "gflops_1t",
        ];
        c.sort_by(|a, b| metric_order(a, b));
        assert_eq!(
            c,
            [
                "primes_per_s",
                "primes_per_s_1t",
                "gflops",
                "gflops_1t",
                "gflops_2t"
            ]
        );
    }
}
