//! What a metric is: its name (or name stem), unit and direction (whether a
//! larger value is better). Kernels define their metrics with these types
//! beside the code that measures them; the `metrics` module gathers every
//! definition. Pure data at the bottom of the crate's module graph.

use serde::{Deserialize, Serialize};

/// Whether a larger value of a metric is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    #[serde(rename = "higher")]
    HigherIsBetter,
    #[serde(rename = "lower")]
    LowerIsBetter,
}

impl Direction {
    pub fn label(self) -> &'static str {
        match self {
            Direction::HigherIsBetter => "higher is better",
            Direction::LowerIsBetter => "lower is better",
        }
    }

    /// The short name results use: `higher` or `lower`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::HigherIsBetter => "higher",
            Direction::LowerIsBetter => "lower",
        }
    }

    /// Guessed from the unit when it says (a rate, a time, a size), else from
    /// the metric's name (`*_ms`, `ns_per_*`, ...); rates are higher-is-better.
    /// Only for metrics no definition covers.
    pub fn guess(metric: &str, unit: &str) -> Direction {
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
}

/// How a definition names its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    /// Exactly this name.
    Exact(&'static str),
    /// This stem and a suffix: a size (`ns_per_load_64KiB`), a layer count
    /// (`mount_ms_8layers`) or a thread count (`gflops_1t`).
    Stem(&'static str),
}

/// One metric (or family of metrics) a workload reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    pub name: Name,
    pub unit: &'static str,
    pub direction: Direction,
}

impl MetricDef {
    pub const fn higher(name: &'static str, unit: &'static str) -> MetricDef {
        MetricDef {
            name: Name::Exact(name),
            unit,
            direction: Direction::HigherIsBetter,
        }
    }
    pub const fn lower(name: &'static str, unit: &'static str) -> MetricDef {
        MetricDef {
            name: Name::Exact(name),
            unit,
            direction: Direction::LowerIsBetter,
        }
    }
    /// The same definition for every name `stem` + suffix.
    pub const fn family(self) -> MetricDef {
        let stem = match self.name {
            Name::Exact(s) | Name::Stem(s) => s,
        };
        MetricDef {
            name: Name::Stem(stem),
            ..self
        }
    }

    /// The exact name, or the stem of a family.
    pub fn stem(&self) -> &'static str {
        match self.name {
            Name::Exact(s) | Name::Stem(s) => s,
        }
    }

    /// The metric named `stem` + `suffix` (`suffix` empty: the stem itself).
    pub fn named(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.stem())
    }

    pub fn matches(&self, metric: &str) -> bool {
        match self.name {
            Name::Exact(s) => metric == s,
            Name::Stem(s) => metric.len() > s.len() && metric.starts_with(s),
        }
    }
}
