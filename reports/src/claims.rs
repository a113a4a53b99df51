//! Verdicts on the claims C1–C7 of shared/DESIGN.md ("The claims it exists to
//! check"), computed from the figures of one run.
//!
//! Each claim is split into parts that a measurement can decide; a part whose
//! data is absent is "not measured", and the claim is supported only when every
//! part is measured and holds. A quantitative part is rejected only with
//! evidence: when the 95% interval of the figure lies wholly outside the range
//! the claim allows (this host's memory figures swing ±15–30%). Thresholds are written next to each test below
//! and repeated in the verdict text so a reader can disagree with them.

use crate::analysis::{Analysis, Figure};
use crate::metric::{format_size, latency_size_bytes};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Supported,
    NotSupported,
    NotMeasured,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::NotSupported => "not supported",
            Verdict::NotMeasured => "not measured",
        }
    }
}

/// The verdict on one claim with the numbers behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimResult {
    pub id: &'static str,
    pub claim: &'static str,
    pub verdict: Verdict,
    /// One sentence per measured part, with numbers.
    pub findings: Vec<String>,
    /// What would measure the parts that were not measured.
    pub missing: Vec<String>,
}

/// The claims as worded in shared/DESIGN.md.
pub const CLAIMS: [(&str, &str); 7] = [
    ("C1", "Programs in containers compute at almost bare-metal speed; in VMs they lose about half."),
    ("C2", "Sequential memory bandwidth is similar everywhere; random access costs more in a VM because every access needs two address translations (guest and host page tables)."),
    ("C3", "A container starts in seconds or less; a VM boots a whole guest kernel and takes far longer."),
    ("C4", "One host can hold hundreds or thousands of containers but only a few VMs (memory footprint per instance)."),
    ("C5", "cgroups only cap what a container may use; they do not protect it from a noisy neighbour, so isolation is weaker than a VM's."),
    ("C6", "Anyone allowed to run the container engine can act on every container, whoever created it."),
    ("C7", "Images are stacks of read-only layers with a copy-on-write layer on top; a change adds a layer instead of rebuilding the image."),
];

/// "Almost bare-metal": at least this fraction of native speed.
pub const ALMOST_NATIVE: f64 = 0.95;
/// "About half": VM speed within this range of native.
pub const ABOUT_HALF: (f64, f64) = (0.35, 0.65);
/// "Similar" bandwidth: within this range of native (the host swings ±15–30%).
pub const SIMILAR: (f64, f64) = (0.8, 1.25);
/// "Seconds or less": container time to first instruction at most this (ms).
pub const CONTAINER_START_MAX_MS: f64 = 3000.0;
/// "Far longer": VM start at least this many times the slowest container's.
pub const FAR_LONGER: f64 = 5.0;

/// One part of a claim: `None` when not measured, else whether it holds.
struct Part {
    holds: Option<bool>,
    finding: Option<String>,
    missing: Option<String>,
}

impl Part {
    fn measured(holds: bool, finding: String) -> Part {
        Part {
            holds: Some(holds),
            finding: Some(finding),
            missing: None,
        }
    }
    fn missing(what: &str) -> Part {
        Part {
            holds: None,
            finding: None,
            missing: Some(what.to_string()),
        }
    }
}

fn combine(id: &'static str, parts: Vec<Part>) -> ClaimResult {
    let claim = CLAIMS.iter().find(|c| c.0 == id).map(|c| c.1).unwrap_or("");
    let verdict = if parts.iter().any(|p| p.holds == Some(false)) {
        Verdict::NotSupported
    } else if parts.iter().all(|p| p.holds == Some(true)) {
        Verdict::Supported
    } else {
        Verdict::NotMeasured
    };
    ClaimResult {
        id,
        claim,
        verdict,
        findings: parts.iter().filter_map(|p| p.finding.clone()).collect(),
        missing: parts.into_iter().filter_map(|p| p.missing).collect(),
    }
}

/// Verdicts on every claim, in order.
pub fn evaluate(a: &Analysis) -> Vec<ClaimResult> {
    evaluate_on_host(a, None)
}

/// Verdicts, with the host's memory to turn footprints into instances per host.
pub fn evaluate_on_host(a: &Analysis, host_memory_bytes: Option<u64>) -> Vec<ClaimResult> {
    vec![
        c1(a),
        c2(a),
        c3(a),
        c4(a, host_memory_bytes),
        c5(a),
        c6(a),
        c7(a),
    ]
}

/// The interval of `e` meets the range `[lo, hi]`.
fn overlaps(e: crate::stats::Estimate, (lo, hi): (f64, f64)) -> bool {
    e.hi >= lo && e.lo <= hi
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// Figures of an environment class for some metrics that have an overhead.
fn rel_figures<'a>(
    a: &'a Analysis,
    class: &str,
    workload: &str,
    metrics: &[&str],
) -> Vec<&'a Figure> {
    a.figures
        .iter()
        .filter(|f| {
            f.env == class
                && f.workload == workload
                && metrics.contains(&f.metric.as_str())
                && f.vs_native.is_some()
        })
        .collect()
}

fn speed_text(f: &Figure) -> String {
    let Some(r) = f.vs_native else {
        return format!(
            "{} {}: no native figure to compare with",
            f.env_id, f.metric
        );
    };
    let s = r.speed;
    format!(
        "{} {} at {} of native performance (95% CI {}–{})",
        f.env_id,
        f.metric,
        pct(s.point),
        pct(s.lo),
        pct(s.hi)
    )
}

fn accel_note(figs: &[&Figure]) -> String {
    let mut accels: Vec<&str> = figs.iter().filter_map(|f| f.accel.as_deref()).collect();
    accels.sort();
    accels.dedup();
    if accels.contains(&"tcg") {
        " — the VM ran under TCG (software emulation), not hardware virtualisation, which the claim is about".into()
    } else if accels.is_empty() {
        String::new()
    } else {
        format!(" (accelerator: {})", accels.join(", "))
    }
}

const CPU: [&str; 2] = ["primes_per_s", "gflops"];
const SEQ: [&str; 4] = ["copy_mbs", "scale_mbs", "add_mbs", "triad_mbs"];

fn c1(a: &Analysis) -> ClaimResult {
    let cont = rel_figures(a, "container", "cpu", &CPU);
    let vm = rel_figures(a, "vm", "cpu", &CPU);
    let p1 = if cont.is_empty() {
        Part::missing("the cpu workload natively and in a container (`--env native,container --workload cpu`)")
    } else {
        let holds = cont
            .iter()
            .all(|f| f.vs_native.is_some_and(|r| r.speed.hi >= ALMOST_NATIVE));
        let list: Vec<String> = cont.iter().map(|f| speed_text(f)).collect();
        Part::measured(
            holds,
            format!(
                "Containers (almost bare-metal: ≥ {} of native, rejected when the whole interval is below): {}.",
                pct(ALMOST_NATIVE),
                list.join("; ")
            ),
        )
    };
    let p2 = if vm.is_empty() {
        Part::missing("the cpu workload natively and in a VM (`--env native,vm --workload cpu`)")
    } else {
        let holds = vm
            .iter()
            .all(|f| f.vs_native.is_some_and(|r| overlaps(r.speed, ABOUT_HALF)));
        let list: Vec<String> = vm.iter().map(|f| speed_text(f)).collect();
        Part::measured(
            holds,
            format!(
                "VMs (about half: {}–{} of native, rejected when the whole interval is outside): {}{}.",
                pct(ABOUT_HALF.0),
                pct(ABOUT_HALF.1),
                list.join("; "),
                accel_note(&vm)
            ),
        )
    };
    combine("C1", vec![p1, p2])
}

fn c2(a: &Analysis) -> ClaimResult {
    let seq: Vec<&Figure> = ["container", "vm"]
        .iter()
        .flat_map(|c| rel_figures(a, c, "membw", &SEQ))
        .collect();
    let p1 = if seq.is_empty() {
        Part::missing("membw natively and in at least one container or VM")
    } else {
        let off: Vec<String> = seq
            .iter()
            .filter(|f| !f.vs_native.is_some_and(|r| overlaps(r.speed, SIMILAR)))
            .map(|f| speed_text(f))
            .collect();
        let triads: Vec<String> = seq
            .iter()
            .filter(|f| f.metric == "triad_mbs")
            .map(|f| speed_text(f))
            .collect();
        let text = if off.is_empty() {
            format!(
                "Sequential bandwidth within {}–{} of native in every environment ({}).",
                pct(SIMILAR.0),
                pct(SIMILAR.1),
                triads.join("; ")
            )
        } else {
            format!(
                "Sequential bandwidth outside {}–{} of native: {}{}.",
                pct(SIMILAR.0),
                pct(SIMILAR.1),
                off.join("; "),
                accel_note(&seq)
            )
        };
        Part::measured(off.is_empty(), text)
    };
    // Random access in a VM: GUPS, else the largest latency working set.
    let vm_rand = rel_figures(a, "vm", "randacc", &["gups"]);
    let largest = a
        .figures
        .iter()
        .filter(|f| f.workload == "latency")
        .filter_map(|f| latency_size_bytes(&f.metric))
        .max();
    let vm_lat: Vec<&Figure> = a
        .figures
        .iter()
        .filter(|f| {
            f.env == "vm"
                && f.vs_native.is_some()
                && latency_size_bytes(&f.metric).is_some()
                && latency_size_bytes(&f.metric) == largest
        })
        .collect();
    let p2 = if vm_rand.is_empty() && vm_lat.is_empty() {
        Part::missing("randacc or latency natively and in a VM (`--env native,vm --workload randacc,latency`)")
    } else {
        let figs: Vec<&Figure> = vm_rand.iter().chain(vm_lat.iter()).copied().collect();
        // Costs more: the random-access speed's whole interval is below
        // native, and below the same VM's sequential (triad) speed if known.
        let seq_speed = |env_id: &str| {
            a.figure(env_id, "membw", "triad_mbs")
                .and_then(|f| f.vs_native)
                .map(|r| r.speed.point)
        };
        let holds = figs.iter().all(|f| {
            f.vs_native.is_some_and(|r| {
                r.speed.hi < 1.0
                    && seq_speed(&f.env_id)
                        .map(|s| r.speed.point < s)
                        .unwrap_or(true)
            })
        });
        let seq_note: Vec<String> = vm_rand
            .iter()
            .filter_map(|f| {
                seq_speed(&f.env_id).map(|s| format!("{} triad_mbs at {}", f.env_id, pct(s)))
            })
            .collect();
        let list: Vec<String> = figs.iter().map(|f| speed_text(f)).collect();
        let size = largest.map(format_size).unwrap_or_default();
        Part::measured(
            holds,
            format!(
                "Random access in VMs (GUPS; latency at the largest working set, {size}): {}{}{}.",
                list.join("; "),
                if seq_note.is_empty() {
                    String::new()
                } else {
                    format!("; for comparison, sequential: {}", seq_note.join("; "))
                },
                accel_note(&figs)
            ),
        )
    };
    combine("C2", vec![p1, p2])
}

fn startup_median(a: &Analysis, class: &str) -> Option<(String, f64, String)> {
    for metric in ["first_instruction_ms", "lifecycle_ms"] {
        let best = a
            .figures
            .iter()
            .filter(|f| f.env == class && f.workload == "startup" && f.metric == metric)
            .max_by(|x, y| x.summary.median.total_cmp(&y.summary.median));
        if let Some(f) = best {
            return Some((f.env_id.clone(), f.summary.median, metric.to_string()));
        }
    }
    None
}

fn c3(a: &Analysis) -> ClaimResult {
    let cont = startup_median(a, "container");
    let vm = startup_median(a, "vm");
    let p1 = match &cont {
        None => Part::missing("startup in a container (`--env container --workload startup`)"),
        Some((id, ms, metric)) => Part::measured(
            *ms <= CONTAINER_START_MAX_MS,
            format!(
                "Slowest container start: {id} {metric} median {ms:.0} ms (\"seconds or less\" means ≤ {CONTAINER_START_MAX_MS:.0} ms)."
            ),
        ),
    };
    let p2 = match (&cont, &vm) {
        (_, None) => Part::missing("startup in a VM (`--env vm --workload startup`)"),
        (None, Some(_)) => Part::missing("startup in a container to compare the VM with"),
        (Some((_, cms, metric)), Some((id, vms, vmetric))) => {
            let vm_same = a
                .figures
                .iter()
                .find(|f| f.env_id == *id && f.workload == "startup" && f.metric == *metric)
                .map(|f| f.summary.median)
                .unwrap_or(*vms);
            let factor = vm_same / cms;
            let accel = a.env(id).and_then(|e| e.accel()).unwrap_or("unknown");
            Part::measured(
                factor >= FAR_LONGER,
                format!(
                    "VM start: {id} {vmetric} median {vms:.0} ms, {factor:.0}× the slowest container (\"far longer\" means ≥ {FAR_LONGER:.0}×; accelerator {accel})."
                ),
            )
        }
    };
    combine("C3", vec![p1, p2])
}

fn figures_matching<'a>(a: &'a Analysis, pat: &[&str]) -> Vec<&'a Figure> {
    a.figures
        .iter()
        .filter(|f| {
            pat.iter()
                .any(|p| f.workload.contains(p) || f.metric.contains(p))
        })
        .collect()
}

fn unit_bytes(unit: &str) -> Option<f64> {
    match unit {
        "B" | "bytes" => Some(1.0),
        "KiB" => Some(1024.0),
        "MiB" => Some(1024.0 * 1024.0),
        "GiB" => Some(1024.0 * 1024.0 * 1024.0),
        _ => None,
    }
}

/// "Hundreds or thousands" against "a few": the VM's footprint per instance
/// is at least [`FOOTPRINT_FACTOR`] times the container's.
pub const FOOTPRINT_FACTOR: f64 = 10.0;

fn c4(a: &Analysis, host_memory_bytes: Option<u64>) -> ClaimResult {
    let foot = figures_matching(a, &["footprint", "rss"]);
    let cont: Vec<&&Figure> = foot.iter().filter(|f| f.env == "container").collect();
    let vm: Vec<&&Figure> = foot.iter().filter(|f| f.env == "vm").collect();
    if cont.is_empty() || vm.is_empty() {
        return combine(
            "C4",
            vec![Part::missing(
                "the memory footprint of one instance per environment (the startup workload's `footprint_mib`: container cgroup peak, QEMU's maximum RSS) in both a container and a VM; instances per host = host memory / footprint",
            )],
        );
    }
    let worst_cont = cont
        .iter()
        .max_by(|x, y| x.summary.median.total_cmp(&y.summary.median))
        .expect("not empty");
    let best_vm = vm
        .iter()
        .min_by(|x, y| x.summary.median.total_cmp(&y.summary.median))
        .expect("not empty");
    let (c, v) = (worst_cont.summary.median, best_vm.summary.median);
    let per_host = |f: &Figure, x: f64| match (host_memory_bytes, unit_bytes(&f.unit)) {
        (Some(m), Some(u)) if x > 0.0 => {
            format!(", about {:.0} per host by memory", m as f64 / (x * u))
        }
        _ => String::new(),
    };
    combine(
        "C4",
        vec![Part::measured(
            v >= FOOTPRINT_FACTOR * c,
            format!(
                "Footprint per instance: {} {} {c:.1} {}{}; {} {} {v:.1} {}{} ({:.0}×; the claim needs ≥ {FOOTPRINT_FACTOR:.0}×).",
                worst_cont.env_id,
                worst_cont.metric,
                worst_cont.unit,
                per_host(worst_cont, c),
                best_vm.env_id,
                best_vm.metric,
                best_vm.unit,
                per_host(best_vm, v),
                v / c
            ),
        )],
    )
}

fn c5(a: &Analysis) -> ClaimResult {
    let noisy = figures_matching(a, &["neighbour", "noisy"]);
    let slow = |class: &str| {
        noisy
            .iter()
            .filter(|f| f.env == class)
            .filter_map(|f| f.vs_native.map(|r| r.speed.point))
            .fold(f64::INFINITY, f64::min)
    };
    let (c, v) = (slow("container"), slow("vm"));
    if !c.is_finite() || !v.is_finite() {
        return combine(
            "C5",
            vec![Part::missing(
                "each workload with and without a noisy neighbour (a memory-bandwidth antagonist in a sibling container or VM) and the slowdown per environment; isobench does not run neighbours yet",
            )],
        );
    }
    combine(
        "C5",
        vec![Part::measured(
            c < v,
            format!(
                "With a noisy neighbour: containers at {} of native, VMs at {}.",
                pct(c),
                pct(v)
            ),
        )],
    )
}

fn c6(a: &Analysis) -> ClaimResult {
    let acc = figures_matching(a, &["foreign_actions"]);
    match acc.iter().find(|f| f.env == "container") {
        Some(f) => combine(
            "C6",
            vec![Part::measured(
                f.summary.median > 0.0,
                format!(
                    "{}: {:.0} actions on another user's containers succeeded.",
                    f.env_id, f.summary.median
                ),
            )],
        ),
        None => combine(
            "C6",
            vec![Part::missing(
                "a permission check, not a benchmark: whether a user allowed to run the runtime (e.g. with access to its state root) can kill, exec into or delete a container another user created (a `foreign_actions` count)",
            )],
        ),
    }
}

fn c7(a: &Analysis) -> ClaimResult {
    let added = figures_matching(a, &["layer_added_bytes"]);
    let image = figures_matching(a, &["image_bytes"]);
    match (added.first(), image.first()) {
        (Some(d), Some(i)) => combine(
            "C7",
            vec![Part::measured(
                d.summary.median < i.summary.median,
                format!(
                    "A one-file change added {:.0} bytes to an image of {:.0} bytes.",
                    d.summary.median, i.summary.median
                ),
            )],
        ),
        _ => combine(
            "C7",
            vec![Part::missing(
                "building an image, changing one file and rebuilding it, recording the layers and bytes added (`layer_added_bytes` against `image_bytes`); isorun's layer store makes this possible",
            )],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyse, StatsOptions};
    use crate::testdata;

    fn verdicts(records: &[crate::schema::ResultRecord]) -> Vec<ClaimResult> {
        evaluate(&analyse(records, StatsOptions { resamples: 300 }))
    }

    #[test]
    fn fixture_verdicts_follow_the_data() {
        let run = testdata::fixture_run(5, 1.0);
        let v = verdicts(&run.records);
        assert_eq!(v.len(), 7);
        // Containers at ~99% but the TCG VM at ~11%, not "about half".
        assert_eq!(v[0].verdict, Verdict::NotSupported, "{:?}", v[0]);
        assert!(v[0].findings[1].contains("TCG"));
        // VM bandwidth far below native.
        assert_eq!(v[1].verdict, Verdict::NotSupported);
        assert_eq!(v[2].verdict, Verdict::Supported, "{:?}", v[2]);
        assert!(v[2].findings[1].contains("tcg"));
        for c in &v[3..] {
            assert_eq!(c.verdict, Verdict::NotMeasured, "{c:?}");
            assert!(!c.missing.is_empty());
        }
    }

    #[test]
    fn changing_the_data_changes_the_verdict() {
        let mut run = testdata::fixture_run(5, 1.0);
        // Make the VM compute at half speed and stream at native bandwidth.
        for r in run.records.iter_mut().filter(|r| r.env == "vm") {
            for (k, v) in r.metrics.iter_mut() {
                match r.workload.as_str() {
                    "cpu" => *v *= 0.5 / 0.11,
                    "membw" => *v *= 2.0 / 0.11,
                    "randacc" if k == "gups" => *v *= 0.5 / 0.11,
                    _ => {}
                }
            }
        }
        let v = verdicts(&run.records);
        assert_eq!(v[0].verdict, Verdict::Supported, "{:?}", v[0]);
        assert_eq!(v[1].verdict, Verdict::Supported, "{:?}", v[1]);
        // A slow container start breaks C3.
        for r in run
            .records
            .iter_mut()
            .filter(|r| r.env_id == "container-runc")
        {
            if let Some(x) = r.metrics.get_mut("first_instruction_ms") {
                *x = 5000.0;
            }
        }
        let v = verdicts(&run.records);
        assert_eq!(v[2].verdict, Verdict::NotSupported, "{:?}", v[2]);
        assert!(v[2].findings[0].contains("5000 ms"));
        // Containers computing at 80% of native contradict "almost bare metal".
        for r in run
            .records
            .iter_mut()
            .filter(|r| r.env_id == "container-isorun" && r.workload == "cpu")
        {
            for v in r.metrics.values_mut() {
                *v *= 0.8;
            }
        }
        let v = verdicts(&run.records);
        assert_eq!(v[0].verdict, Verdict::NotSupported, "{:?}", v[0]);
        assert!(
            v[0].findings[0].contains("container-isorun primes_per_s at 80%"),
            "{:?}",
            v[0]
        );
    }

    #[test]
    fn footprints_decide_c4() {
        let mut run = testdata::fixture_run(3, 1.0);
        for r in run.records.iter_mut().filter(|r| r.workload == "startup") {
            let mib = match r.env.as_str() {
                "vm" => 240.0,
                "container" => 2.0,
                _ => 1.4,
            };
            r.metrics.insert("footprint_mib".into(), mib);
            r.units.insert("footprint_mib".into(), "MiB".into());
        }
        let a = analyse(&run.records, StatsOptions { resamples: 100 });
        let v = evaluate_on_host(&a, Some(24 << 30));
        assert_eq!(v[3].verdict, Verdict::Supported, "{:?}", v[3]);
        assert!(
            v[3].findings[0].contains("about 12288 per host"),
            "{:?}",
            v[3]
        );
        assert!(
            v[3].findings[0].contains("about 102 per host"),
            "{:?}",
            v[3]
        );
        // A VM as light as 5 containers does not support the claim.
        for r in run
            .records
            .iter_mut()
            .filter(|r| r.env == "vm" && r.workload == "startup")
        {
            r.metrics.insert("footprint_mib".into(), 10.0);
        }
        let a = analyse(&run.records, StatsOptions { resamples: 100 });
        assert_eq!(evaluate(&a)[3].verdict, Verdict::NotSupported);
    }

    #[test]
    fn missing_environments_are_not_measured() {
        let run = testdata::fixture_run(3, 1.0);
        let native_only: Vec<_> = run
            .records
            .iter()
            .filter(|r| r.env == "native" || r.env == "container")
            .cloned()
            .collect();
        let v = verdicts(&native_only);
        // Containers hold up, VM part missing → not measured, findings kept.
        assert_eq!(v[0].verdict, Verdict::NotMeasured);
        assert_eq!(v[0].findings.len(), 1);
        assert!(v[0].missing[0].contains("VM"));
        assert_eq!(v[2].verdict, Verdict::NotMeasured);
    }
}
