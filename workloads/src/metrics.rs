//! What each metric is: its name (or name stem), unit and direction (whether a
//! larger value is better), defined once beside the kernels that measure it
//! (issue 16, item 5). Results record the direction of every metric
//! (`WorkloadResult::directions`) and which metrics only repeat another
//! (`WorkloadResult::aliases`), so readers never guess from a metric's name.
//!
//! [`Workload::metrics`] is an exhaustive match: a new workload does not
//! compile until it says what it measures. Metrics measured by the host around
//! a workload (startup's timings and footprint, the layer store, the density,
//! permissions and neighbours experiments) are defined here too, since they
//! belong to no kernel module.

use crate::workload::Workload;

pub use crate::metricdef::{Direction, MetricDef, Name};

impl Direction {
    /// The direction of `metric`: from its definition ([`lookup`]) when one
    /// matches, else guessed from the unit and name ([`Direction::guess`]).
    /// For results written before directions were recorded.
    pub fn of(metric: &str, unit: &str) -> Direction {
        lookup(metric).map_or_else(|| Direction::guess(metric, unit), |d| d.direction)
    }
}

/// Startup, measured by the host around the workload's READY line.
pub const STARTUP: &[MetricDef] = &[
    MetricDef::lower("first_instruction_ms", "ms"),
    MetricDef::lower("lifecycle_ms", "ms"),
    MetricDef::lower("create_ms", "ms"),
    MetricDef::lower("start_ms", "ms"),
    MetricDef::lower("run_ms", "ms"),
    MetricDef::lower("delete_ms", "ms"),
    MetricDef::lower("guest_uptime_ms", "ms"),
    MetricDef::lower("footprint_pss_mib", "MiB"),
    MetricDef::lower("footprint_uss_mib", "MiB"),
];

/// The layer store's reuse, measured by the host (`src/experiment/layers.rs`).
pub const LAYERS: &[MetricDef] = &[
    MetricDef::lower("build_ms", "ms"),
    MetricDef::lower("rebuild_ms", "ms"),
    MetricDef::lower("oci_import_ms", "ms"),
    MetricDef::lower("layers_total", "layers"),
    MetricDef::higher("layers_reused", "layers"),
    MetricDef::lower("layers_added", "layers"),
    MetricDef::lower("layer_added_bytes", "bytes"),
    MetricDef::lower("image_bytes", "bytes"),
    MetricDef::lower("oci_layers_total", "layers"),
    MetricDef::higher("oci_layers_reused", "layers"),
    MetricDef::lower("oci_layers_added", "layers"),
    MetricDef::lower("oci_layer_added_bytes", "bytes"),
    MetricDef::lower("oci_image_bytes", "bytes"),
];

/// File I/O (claim C8, `fileio`): one family per phase and figure, the
/// suffix naming the place (`seq_read_mbs_disk`, `rand_write_p99_us_tmpfs`;
/// see `fileio`). MB/s are 10^6 bytes per second; latencies are per
/// operation (`rand_write`: the pwrite and its fsync).
pub const FILEIO: &[MetricDef] = &[
    MetricDef::higher("seq_write_mbs_", "MB/s").family(),
    MetricDef::higher("seq_read_mbs_", "MB/s").family(),
    MetricDef::higher("rand_read_iops_", "IOPS").family(),
    MetricDef::higher("rand_write_iops_", "IOPS").family(),
    MetricDef::lower("seq_write_p50_us_", "us").family(),
    MetricDef::lower("seq_write_p99_us_", "us").family(),
    MetricDef::lower("seq_read_p50_us_", "us").family(),
    MetricDef::lower("seq_read_p99_us_", "us").family(),
    MetricDef::lower("rand_read_p50_us_", "us").family(),
    MetricDef::lower("rand_read_p99_us_", "us").family(),
    MetricDef::lower("rand_write_p50_us_", "us").family(),
    MetricDef::lower("rand_write_p99_us_", "us").family(),
];

/// The host's experiments around many instances: density (claim C4),
/// permissions (C6) and the neighbours' applied antagonist rate (C5).
pub const EXPERIMENTS: &[MetricDef] = &[
    MetricDef::lower("launch_ms", "ms"),
    MetricDef::lower("instance_pss_mib", "MiB"),
    MetricDef::lower("instance_uss_mib", "MiB"),
    // Memory left: more is better.
    MetricDef::higher("host_mem_available_mib", "MiB"),
    MetricDef::lower("host_mem_used_delta_mib", "MiB"),
    MetricDef::lower("foreign_actions", "actions"),
    MetricDef::higher("attempts", "actions"),
    MetricDef::higher("antagonist_rate", "ops/s"),
];

impl Workload {
    /// The metrics this workload's results carry.
    pub fn metrics(self) -> &'static [MetricDef] {
        match self {
            Workload::Cpu => crate::cpu::METRICS,
            Workload::Membw => crate::membw::METRICS,
            Workload::Randacc => crate::randacc::METRICS,
            Workload::Latency => crate::latency::METRICS,
            Workload::Startup => STARTUP,
            Workload::Copyup => crate::cow::COPYUP_METRICS,
            Workload::Ovlmount => crate::cow::OVLMOUNT_METRICS,
            Workload::Fsmeta => crate::cow::FSMETA_METRICS,
            Workload::Layers => LAYERS,
            Workload::Idle => &[],
            Workload::Fileio => FILEIO,
            Workload::Command => crate::command::METRICS,
        }
    }
}

/// Every definition: the workloads', the antagonist's and the experiments'.
pub fn all() -> impl Iterator<Item = &'static MetricDef> {
    Workload::ALL
        .into_iter()
        .flat_map(|w| w.metrics().iter())
        .chain(crate::antagonist::METRICS)
        .chain(crate::command::METRICS)
        .chain(EXPERIMENTS)
}

/// The definition of `metric`: an exact name first, else the longest stem.
pub fn lookup(metric: &str) -> Option<&'static MetricDef> {
    all()
        .find(|d| matches!(d.name, Name::Exact(s) if s == metric))
        .or_else(|| {
            all()
                .filter(|d| matches!(d.name, Name::Stem(_)) && d.matches(metric))
                .max_by_key(|d| d.stem().len())
        })
}

/// For results written before aliases were recorded: `metric` repeats
/// `stem` when it is `<stem>_<N>t`, N is the run's `threads` and the stem
/// holds the same value (cpu's `gflops_2t` beside `gflops`).
pub fn guess_alias(
    metric: &str,
    threads: Option<u64>,
    value_of: impl Fn(&str) -> Option<f64>,
) -> Option<String> {
    let (stem, t) = metric.rsplit_once('_')?;
    let n: u64 = t.strip_suffix('t')?.parse().ok()?;
    if n < 2 || Some(n) != threads {
        return None;
    }
    let (a, b) = (value_of(metric)?, value_of(stem)?);
    (a == b).then(|| stem.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_definition_is_unique_and_found_by_its_names() {
        let defs: Vec<&MetricDef> = all().collect();
        for (i, d) in defs.iter().enumerate() {
            for e in &defs[i + 1..] {
                assert!(d.name != e.name, "{:?} defined twice", d.name);
            }
            let name = match d.name {
                Name::Exact(s) => s.to_string(),
                Name::Stem(s) => format!("{s}64KiB"),
            };
            assert_eq!(lookup(&name), Some(*d), "{name}");
        }
    }

    #[test]
    fn lookup_decides_before_the_guess() {
        // A guess from the unit would call "actions" higher-is-better.
        assert_eq!(
            Direction::of("foreign_actions", "actions"),
            Direction::LowerIsBetter
        );
        assert_eq!(
            Direction::guess("foreign_actions", "actions"),
            Direction::HigherIsBetter
        );
        assert_eq!(
            Direction::of("host_mem_available_mib", "MiB"),
            Direction::HigherIsBetter
        );
        assert_eq!(
            Direction::of("ns_per_load_1GiB", ""),
            Direction::LowerIsBetter
        );
        assert_eq!(
            Direction::of("mount_ms_8layers", ""),
            Direction::LowerIsBetter
        );
        assert_eq!(Direction::of("gflops_1t", ""), Direction::HigherIsBetter);
        // Unknown: the guess.
        assert_eq!(Direction::of("widgets_ms", ""), Direction::LowerIsBetter);
        assert_eq!(Direction::of("widgets", ""), Direction::HigherIsBetter);
    }

    #[test]
    fn guess_follows_unit_and_name() {
        assert_eq!(Direction::guess("x", "MB/s"), Direction::HigherIsBetter);
        assert_eq!(Direction::guess("x", "GUPS"), Direction::HigherIsBetter);
        assert_eq!(Direction::guess("x", "ns"), Direction::LowerIsBetter);
        assert_eq!(
            Direction::guess("guest_uptime_ms", ""),
            Direction::LowerIsBetter
        );
        assert_eq!(
            Direction::guess("ns_per_load_1GiB", "?"),
            Direction::LowerIsBetter
        );
    }

    #[test]
    fn directions_serialise_as_higher_and_lower() {
        assert_eq!(
            serde_json::to_string(&Direction::HigherIsBetter).unwrap(),
            "\"higher\""
        );
        assert_eq!(
            serde_json::from_str::<Direction>("\"lower\"").unwrap(),
            Direction::LowerIsBetter
        );
    }

    #[test]
    fn aliases_are_guessed_only_for_the_run_s_thread_count_and_equal_values() {
        let v = |m: &str| match m {
            "gflops" | "gflops_2t" => Some(5.0),
            "gflops_1t" => Some(3.0),
            "gups_2t" => Some(1.0),
            "gups" => Some(2.0),
            _ => None,
        };
        assert_eq!(guess_alias("gflops_2t", Some(2), v), Some("gflops".into()));
        assert_eq!(guess_alias("gflops_1t", Some(2), v), None);
        assert_eq!(guess_alias("gflops_2t", Some(4), v), None);
        assert_eq!(guess_alias("gups_2t", Some(2), v), None);
        assert_eq!(guess_alias("gflops", Some(2), v), None);
    }
}
