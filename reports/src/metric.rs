//! What a metric name means: the working-set size hidden in
//! `ns_per_load_<size>`, and the order in which workloads, environments and
//! metrics are listed (docs/design.md, "Results"). Whether higher or lower
//! is better is the metric's definition's ([`Direction`]), recorded with it.

use isobench_workloads::metrics::Name;
use isobench_workloads::Workload;
use std::cmp::Ordering;

/// Whether a larger value of a metric is an improvement: defined with each
/// metric in the workloads crate and recorded with the results.
pub use isobench_workloads::metrics::Direction;

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

/// Workloads in the order the workloads crate lists them
/// (`Workload::ALL`), unknown ones after, by name.
pub fn workload_order(a: &str, b: &str) -> Ordering {
    let rank = |s: &str| {
        Workload::ALL
            .iter()
            .position(|w| w.name() == s)
            .unwrap_or(Workload::ALL.len())
    };
    rank(a).cmp(&rank(b)).then(a.cmp(b))
}

/// Environments: native, then containers, then sandboxes with a user-space
/// kernel (gVisor's runsc), then VMs; by id within a class.
pub fn env_order(a: &str, b: &str) -> Ordering {
    fn class(id: &str) -> usize {
        if id == "native" {
            0
        } else if id == "container-runsc" {
            2
        } else if id.starts_with("container") {
            1
        } else if id.starts_with("vm") {
            3
        } else {
            4
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
    // Defined metrics in the order of their definitions, the others after.
    let rank = |m: &str| {
        isobench_workloads::metrics::all()
            .position(|d| matches!(d.name, Name::Exact(s) if s == m))
            .unwrap_or(usize::MAX)
    };
    rank(&ba)
        .cmp(&rank(&bb))
        .then(ba.cmp(&bb))
        .then(a.len().cmp(&b.len()))
        .then(a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut e = vec![
            "vm-tcg",
            "container-runsc",
            "container-youki",
            "container-runc",
            "native",
            "container-isorun",
        ];
        e.sort_by(|a, b| env_order(a, b));
        assert_eq!(
            e,
            [
                "native",
                "container-isorun",
                "container-runc",
                "container-youki",
                "container-runsc",
                "vm-tcg"
            ]
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
