//! C4: one host holds hundreds or thousands of containers but only a few
//! VMs (memory per instance).

use super::*;
use crate::claims::sandbox;
use crate::density::{Cost, DensitySummary};
use crate::stats::Estimate;

pub(super) fn unit_bytes(unit: &str) -> Option<f64> {
    match unit {
        "B" | "bytes" => Some(1.0),
        "KiB" => Some(1024.0),
        "MiB" => Some(1024.0 * 1024.0),
        "GiB" => Some(1024.0 * 1024.0 * 1024.0),
        _ => None,
    }
}

pub(super) const FOOTPRINT_WHAT: &str = "the memory attributable to one idle instance at READY: the proportional set size (PSS, from /proc/PID/smaps_rollup) of all its processes, runtime processes included (`footprint_pss_mib` of the startup workload), in a container and a VM; instances per host = host memory / footprint";

/// C4 from the density experiment, when the run has one: memory per
/// instance measured over many live instances, not one instance's footprint.
/// The cost of an instance is the host memory each extra instance took (the
/// slope of the host's used memory against the count, which includes kernel
/// objects PSS cannot see), or its mean PSS where no slope could be fitted.
fn hundreds_of_containers_by_density(
    cx: &Cx,
    host_memory_bytes: Option<u64>,
) -> Option<ClaimResult> {
    let d = &cx.facts.density;
    let conts: Vec<&DensitySummary> = d.iter().filter(|s| s.env == "container").collect();
    if conts.is_empty() {
        return None;
    }
    // The heaviest container decides "hundreds".
    let heaviest = conts
        .iter()
        .filter_map(|s| cost(s).map(|c| (c, *s)))
        .max_by(|x, y| x.0 .0.point.total_cmp(&y.0 .0.point));
    let heaviest = heaviest
        .as_ref()
        .map(|((e, how), s)| ((*e, how.as_str()), *s));
    let vms: Vec<&DensitySummary> = d.iter().filter(|s| s.env == "vm").collect();
    Some(combine(
        "C4",
        vec![
            hundreds_of_containers(&conts, heaviest, host_memory_bytes),
            few_vms(&vms, heaviest),
            sandbox_part(cx, host_memory_bytes),
        ],
    ))
}

/// gVisor's part: memory per sandbox instance from the density experiment
/// (else one idle instance's footprint), instances per host by memory, and
/// the factor to the heaviest container and the lightest VM measured the
/// same way.
fn sandbox_part(cx: &Cx, host_memory_bytes: Option<u64>) -> PartResult {
    let label = sandbox::label("memory per instance");
    let d = &cx.facts.density;
    let of = |class: &str| -> Vec<(Estimate, String, &DensitySummary)> {
        d.iter()
            .filter(|s| s.env == class)
            .filter_map(|s| cost(s).map(|(e, how)| (e, how, s)))
            .collect()
    };
    let per_host = |mib: f64| {
        host_memory_bytes
            .filter(|_| mib > 0.0)
            .map(|m| m as f64 / (1u64 << 20) as f64 / mib)
    };
    let name = |id: &str| sandbox::name(cx, [id]);
    let sandboxes = of(sandbox::SANDBOX);
    if let Some((e, how, s)) = sandboxes
        .iter()
        .max_by(|x, y| x.0.point.total_cmp(&y.0.point))
    {
        let mut text = format!("{} ({how}): {}", name(&s.env_id), words(s));
        if let Some(n) = per_host(e.point) {
            text.push_str(&format!("; about {n:.0} per host by memory"));
        }
        let mut figures = vec![cite(s)];
        let heaviest = of("container")
            .into_iter()
            .max_by(|x, y| x.0.point.total_cmp(&y.0.point));
        let lightest_vm = of("vm")
            .into_iter()
            .min_by(|x, y| x.0.point.total_cmp(&y.0.point));
        for (what, other) in [
            ("the heaviest container", heaviest),
            ("the lightest VM", lightest_vm),
        ] {
            if let Some((o, _, os)) = other {
                text.push_str(&format!(
                    "; {}× {what} {} ({} MiB{})",
                    ratio_digits(e.point / o.point.max(1e-9)),
                    os.env_id,
                    num(o.point),
                    if os.emulated() { ", under TCG" } else { "" }
                ));
                figures.push(cite(os));
            }
        }
        return sandbox::info(&label, format!("{text}. {}", sandbox::WHY), figures);
    }
    let foot = |class: &str| -> Vec<&Figure> {
        cx.a.figures
            .iter()
            .filter(|f| f.env == class && f.metric == FOOTPRINT)
            .collect()
    };
    let Some(f) = foot(sandbox::SANDBOX)
        .into_iter()
        .max_by(|x, y| x.summary.centre.total_cmp(&y.summary.centre))
    else {
        return sandbox::absent(
            cx,
            &label,
            &sandbox::command(
                "--experiment density (or --workload startup, for one instance's footprint)",
            ),
        );
    };
    let mib = |f: &Figure| unit_bytes(&f.unit).map(|u| f.summary.centre * u / (1u64 << 20) as f64);
    let mut text = format!(
        "{}: footprint per instance (PSS of all the instance's processes idle at READY, runtime processes included) {} {} MiB",
        name(&f.env_id),
        f.env_id,
        val_text(&median_of(f), num)
    );
    if let Some(n) = mib(f).and_then(per_host) {
        text.push_str(&format!(", about {n:.0} per host by memory"));
    }
    let mut figures = vec![cx.cite(f)];
    let heaviest = foot("container")
        .into_iter()
        .max_by(|x, y| x.summary.centre.total_cmp(&y.summary.centre));
    let lightest_vm = foot("vm")
        .into_iter()
        .min_by(|x, y| x.summary.centre.total_cmp(&y.summary.centre));
    for (what, other) in [
        ("the heaviest container", heaviest),
        ("the lightest VM", lightest_vm),
    ] {
        if let Some(o) = other {
            text.push_str(&format!(
                "; {}× {what} {} ({} MiB{})",
                ratio_digits(f.summary.centre / o.summary.centre.max(1e-9)),
                o.env_id,
                num(o.summary.centre),
                if figure_emulated(cx.a, o) {
                    ", under TCG"
                } else {
                    ""
                }
            ));
            figures.push(cx.cite(o));
        }
    }
    sandbox::info(&label, format!("{text}. {}", sandbox::WHY), figures)
}

/// The heaviest container by memory per instance: its cost (estimate and
/// how it was measured) and its summary.
type Heaviest<'a> = Option<((Estimate, &'a str), &'a DensitySummary)>;

/// The memory an instance costs, with how it was measured. The host-memory
/// slope decides when it is plausible (it sees kernel objects PSS misses);
/// else the PSS measured directly, labelled; never a flagged slope
/// ([`DensitySummary::cost`]).
fn cost(s: &DensitySummary) -> Option<(Estimate, String)> {
    s.cost().ok().map(|c| (c.est, c.how))
}

/// An environment's density figures in a sentence.
fn words(s: &DensitySummary) -> String {
    format!(
        "{}: {} instances run, PSS {} per instance, host memory per extra instance {}{}{}",
        s.env_id,
        s.instances,
        s.pss_mib
            .map(|e| format!("{} [{}, {}] MiB", num(e.point), num(e.lo), num(e.hi)))
            .unwrap_or_else(|| "not measured".into()),
        s.marginal_text(),
        match (s.launch_first_ms, s.launch_last_ms) {
            (Some(a), Some(b)) => format!(
                ", launch {} ms → {} ms from the first to the last tenth",
                num(a),
                num(b)
            ),
            _ => String::new(),
        },
        match s.cost() {
            Ok(Cost {
                distrust: Some(why),
                ..
            }) => format!(
                "; the host-memory slope cannot be trusted here ({why}), so the PSS decides"
            ),
            Ok(_) => String::new(),
            Err(why) => format!("; not decided: {why}"),
        }
    )
}

fn cite(s: &DensitySummary) -> Cited {
    Cited {
        env_id: s.env_id.clone(),
        workload: crate::density::WORKLOAD.into(),
        metric: "instance memory".into(),
        unit: String::new(),
        params: format!("instances={}", s.instances),
        accel: s.accel.clone(),
        value: words(s),
        number: cost(s).map(|(e, _)| Val {
            point: e.point,
            ci: Some((e.lo, e.hi)),
            n: s.instances,
            method: String::new(),
        }),
        vs_native: None,
        exact: false,
    }
}

/// Part 1: the host's memory over the heaviest container's cost is at
/// least [`HUNDREDS`].
fn hundreds_of_containers(
    conts: &[&DensitySummary],
    heaviest: Heaviest,
    host_memory_bytes: Option<u64>,
) -> PartResult {
    let l1 = "a host holds hundreds or thousands of containers";
    match (heaviest, host_memory_bytes) {
        (None, _) => {
            let why: Vec<String> = conts.iter().map(|s| words(s)).collect();
            let mut p = not_measured(
                l1,
                "no trusted memory per instance",
                "the density experiment with enough instances for a slope (`isobench run --experiment density --env container --instances 200`)",
            );
            p.text = format!(
                "No container's memory per instance could be estimated: {}.",
                why.join("; ")
            );
            p.figures = conts.iter().map(|s| cite(s)).collect();
            p
        }
        (_, None) => not_measured(
            l1,
            "host memory unknown",
            "the host's memory (run.json) to turn memory per instance into instances per host",
        ),
        (Some(((c, how), s)), Some(mem)) => {
            let mib = mem as f64 / (1u64 << 20) as f64;
            let (n_lo, n_hi, n) = (mib / c.hi, mib / c.lo.max(1e-9), mib / c.point);
            let fit = if n_lo >= HUNDREDS {
                Fit::Inside
            } else if n_hi < HUNDREDS {
                Fit::Outside
            } else {
                Fit::Unsure
            };
            decided(
                l1,
                fit,
                {
                    let ran = conts.iter().map(|s| s.instances).max().unwrap_or(0);
                    let range = if c.lo > 0.0 {
                        format!("{n_lo:.0}–{n_hi:.0}")
                    } else {
                        format!("at least {n_lo:.0}; the interval reaches 0 MiB, so no upper bound")
                    };
                    let scale = if (ran as f64) >= n_lo {
                        format!("{ran} containers were actually run at once, as many as the claim's scale")
                    } else {
                        format!("an extrapolation from the {ran} containers actually run at once")
                    };
                    format!(
                        "Density experiment ({how}, the heaviest runtime): {}. About {n:.0} containers per host by memory ({range} by its interval; \"hundreds\" means ≥ {HUNDREDS:.0}): {scale}.",
                        words(s),
                    )
                },
                conts.iter().map(|s| cite(s)).collect(),
            )
        }
    }
}

/// Part 2: the lightest VM costs at least [`FOOTPRINT_FACTOR`] times the
/// heaviest container.
fn few_vms(vms: &[&DensitySummary], heaviest: Heaviest) -> PartResult {
    let l2 = "only a few VMs (a VM weighs ≥ 10× a container)";
    let (Some(((c, _), s)), false) = (heaviest, vms.is_empty()) else {
        return not_measured(l2, "no valid figure", "the density experiment in a container and a VM (`--experiment density --env container,vm`)");
    };
    let lightest_vm = vms
        .iter()
        .filter_map(|v| cost(v).map(|e| (e, *v)))
        .min_by(|x, y| x.0 .0.point.total_cmp(&y.0 .0.point));
    let Some(((v, how), vs)) = lightest_vm else {
        return not_measured(l2, "no VM memory figure", "the density experiment in a VM");
    };
    let factor = v.point / c.point;
    let text = format!(
        "VM ({how}): {}; {factor:.0}× the heaviest container {} (the claim needs ≥ {FOOTPRINT_FACTOR:.0}×).",
        words(vs),
        s.env_id
    );
    if vs.emulated() {
        return PartResult {
            label: l2.into(),
            verdict: Verdict::NotTestable,
            reason: None,
            text: format!("{text} Under TCG QEMU's memory includes its translation cache, so this overestimates a hardware-virtualised VM; for information only."),
            figures: vec![cite(vs), cite(s)],
            missing: None,
            info: false,
        };
    }
    let fit = if v.lo / c.hi >= FOOTPRINT_FACTOR {
        Fit::Inside
    } else if v.hi / c.lo.max(1e-9) < FOOTPRINT_FACTOR {
        Fit::Outside
    } else {
        Fit::Unsure
    };
    decided(l2, fit, text, vec![cite(vs), cite(s)])
}

pub(super) fn hundreds_of_containers_few_vms(
    cx: &Cx,
    host_memory_bytes: Option<u64>,
) -> ClaimResult {
    if let Some(r) = hundreds_of_containers_by_density(cx, host_memory_bytes) {
        return r;
    }
    let a = cx.a;
    let foot = |class: &str| -> Vec<&Figure> {
        a.figures
            .iter()
            .filter(|f| f.env == class && f.metric == FOOTPRINT)
            .collect()
    };
    let old = a.figures.iter().any(|f| f.metric == OLD_FOOTPRINT);
    let (cont, vm) = (foot("container"), foot("vm"));
    let measure = "PSS of all the instance's processes idle at READY, runtime processes included";
    let missing_part = |label: &str| {
        if old {
            not_measured(label, "old footprint measure", &format!("{FOOTPRINT_WHAT}. This run carries only `footprint_mib`, which measured three different things (native VmHWM, container cgroup peak, QEMU RSS) and is not used for verdicts"))
        } else {
            not_measured(label, "no valid figure", FOOTPRINT_WHAT)
        }
    };
    let bytes = |f: &Figure| unit_bytes(&f.unit).map(|u| f.summary.centre * u);
    let per_host = |f: &Figure| match (host_memory_bytes, bytes(f)) {
        (Some(m), Some(b)) if b > 0.0 => Some(m as f64 / b),
        _ => None,
    };
    let worst_cont = cont
        .iter()
        .max_by(|x, y| x.summary.centre.total_cmp(&y.summary.centre))
        .copied();
    let l1 = "a host holds hundreds or thousands of containers";
    let p1 = match worst_cont {
        None => missing_part(l1),
        Some(c) => match per_host(c) {
            None => not_measured(l1, "host memory unknown", "the host's memory (run.json) to turn the footprint into instances per host"),
            Some(n) => holds(
                l1,
                n >= HUNDREDS,
                format!(
                    "Footprint per container ({measure}): {} {} MiB, about {n:.0} per host by memory (\"hundreds\" means ≥ {HUNDREDS:.0}).",
                    c.env_id,
                    val_text(&median_of(c), num)
                ),
                vec![cx.cite(c)],
            ),
        },
    };
    let l2 = "only a few VMs (a VM weighs ≥ 10× a container)";
    let p2 = match (worst_cont, vm.is_empty()) {
        (_, true) => missing_part(l2),
        (None, false) => missing_part(l2),
        (Some(c), false) => {
            let hw: Vec<&Figure> = vm
                .iter()
                .filter(|f| !figure_emulated(a, f))
                .copied()
                .collect();
            let v = (if hw.is_empty() { &vm } else { &hw })
                .iter()
                .min_by(|x, y| x.summary.centre.total_cmp(&y.summary.centre))
                .copied()
                .expect("not empty");
            let factor = v.summary.centre / c.summary.centre;
            let text = format!(
                "Footprint per VM ({measure}): {} {} MiB{}, {factor:.0}× the heaviest container {} (the claim needs ≥ {FOOTPRINT_FACTOR:.0}×).",
                v.env_id,
                val_text(&median_of(v), num),
                per_host(v)
                    .map(|n| format!(", about {n:.0} per host by memory"))
                    .unwrap_or_default(),
                c.env_id
            );
            if hw.is_empty() {
                // Memory is not emulated, but TCG keeps its translation
                // cache (the translated guest code, sized by QEMU: tens to
                // hundreds of MiB) in QEMU's memory. The VM figure is thus an
                // overestimate of a hardware-virtualised VM's: a "VMs are
                // heavier" verdict would rest on the emulator's own memory,
                // and a "not heavier" one on an unknown correction. Neither
                // can be trusted, so the part is not testable.
                PartResult {
                    label: l2.into(),
                    verdict: Verdict::NotTestable,
                    reason: None,
                    text: format!("{text} Under TCG QEMU's memory includes its translation cache (tens to hundreds of MiB), so this overestimates a hardware-virtualised VM; for information only."),
                    figures: vec![cx.cite(v), cx.cite(c)],
                    missing: None,
                    info: false,
                }
            } else {
                holds(
                    l2,
                    factor >= FOOTPRINT_FACTOR,
                    text,
                    vec![cx.cite(v), cx.cite(c)],
                )
            }
        }
    };
    combine("C4", vec![p1, p2, sandbox_part(cx, host_memory_bytes)])
}
