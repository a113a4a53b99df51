//! C5: cgroups cap what a container may use but do not protect it from a
//! noisy neighbour.

use super::*;
use crate::claims::sandbox;
use crate::neighbours::{protection, Protection, Slowdown};

/// C5 from the noisy-neighbour experiment: victims measured alone and
/// beside an antagonist in a sibling instance, shared and partitioned.
/// Part 1: cgroups do not protect — some container victim, partitioned (its
/// own cpuset, quota, memory and pids limits), still loses speed: its
/// interval lies wholly below [`ALMOST_NATIVE`] of its speed alone. Part 2:
/// isolation is weaker than a VM's — for the same victim, antagonist and
/// placement, a container keeps less of its speed than a VM, with
/// non-overlapping intervals, and never more.
pub(super) fn cgroups_do_not_stop_neighbours(cx: &Cx) -> ClaimResult {
    let s = &cx.facts.slowdowns;
    // The seed's parts never see a sandbox (gVisor), not even in their
    // physics notes; its part sees everything, to compare.
    let seed: Vec<Slowdown> = s
        .iter()
        .filter(|x| x.env != sandbox::SANDBOX)
        .cloned()
        .collect();
    combine(
        "C5",
        vec![
            partitioned_still_slowed(&seed),
            vm_protects_better(&seed),
            sandbox_part(cx, s),
        ],
    )
}

/// gVisor's part: each headline slowdown of a sandbox victim, beside the
/// containers' and VMs' of the same victim, antagonist and placement (which
/// kept more of its speed, on non-overlapping intervals).
fn sandbox_part(cx: &Cx, s: &[Slowdown]) -> PartResult {
    let label = sandbox::label("noisy neighbours");
    let own: Vec<Slowdown> = s
        .iter()
        .filter(|x| x.env == sandbox::SANDBOX)
        .cloned()
        .collect();
    let shown = crate::neighbours::headline(&own);
    if shown.is_empty() {
        return sandbox::absent(cx, &label, &sandbox::command("--experiment neighbours"));
    }
    let mut figures = Vec::new();
    let lines: Vec<String> = shown
        .iter()
        .map(|g| {
            figures.push(cite(g));
            let versus: Vec<String> = s
                .iter()
                .filter(|o| {
                    (o.env == "container" || o.env == "vm")
                        && o.victim == g.victim
                        && o.metric == g.metric
                        && o.antagonist == g.antagonist
                        && o.placement == g.placement
                })
                .map(|o| {
                    figures.push(cite(o));
                    format!(
                        "{} {}{} ({})",
                        o.env_id,
                        pct(o.speed.point),
                        if o.emulated() { ", under TCG" } else { "" },
                        match protection(g, o) {
                            Protection::AWorse => "gVisor kept less",
                            Protection::BWorse => "gVisor kept more",
                            Protection::Unclear => "no difference shown",
                        }
                    )
                })
                .collect();
            if versus.is_empty() {
                words(g)
            } else {
                format!("{}; beside {}", words(g), versus.join(", "))
            }
        })
        .collect();
    sandbox::info(
        &label,
        format!(
            "{} (kept more or less = intervals apart): {}.{} {}",
            sandbox::name(cx, shown.iter().map(|x| x.env_id.as_str())),
            lines.join(" | "),
            physics_checks(&own),
            sandbox::WHY
        ),
        figures,
    )
}

/// What measures C5.
const HOW: &str = "the noisy-neighbour experiment: a victim workload alone and beside an antagonist (cpu hog, memory streamer, LLC thrasher, bounded fork storm) in a sibling instance, shared and partitioned";

/// A slowdown in a sentence: `native cpu/gflops beside cpu (shared): 50% of
/// its speed alone (95% CI 48%–52%, n=5)`, with the antagonist's pressure.
fn words(x: &Slowdown) -> String {
    format!(
        "{} {}/{} beside {} ({}): {} of its speed alone (95% CI {}–{}, n={}){}",
        x.env_id,
        x.victim,
        x.metric,
        x.antagonist,
        x.placement,
        pct(x.speed.point),
        pct(x.speed.lo),
        pct(x.speed.hi),
        x.n,
        if x.pressure.is_some() {
            format!(", {}", x.pressure_words())
        } else {
            String::new()
        }
    )
}

fn cite(x: &Slowdown) -> Cited {
    Cited {
        env_id: x.env_id.clone(),
        workload: crate::neighbours::WORKLOAD.into(),
        metric: x.metric.clone(),
        unit: String::new(),
        params: format!(
            "victim={}, antagonist={}, placement={}",
            x.victim, x.antagonist, x.placement
        ),
        accel: x.accel.clone(),
        value: format!("speed beside / alone {}", x.speed_text()),
        number: Some(Val {
            point: x.speed.point,
            ci: Some((x.speed.lo, x.speed.hi)),
            n: x.n,
            method: x.method.to_string(),
        }),
        vs_native: None,
        exact: false,
    }
}

/// Part 1: partitioned by cgroups, a container victim still loses speed.
fn partitioned_still_slowed(s: &[Slowdown]) -> PartResult {
    let l1 = "partitioned by cgroups, a container is still slowed by a neighbour";
    let part: Vec<&Slowdown> = s
        .iter()
        .filter(|x| x.env == "container" && x.placement == "partitioned")
        .collect();
    if part.is_empty() {
        return not_measured(l1, "no valid figure", HOW);
    }
    let hurt: Vec<&Slowdown> = part
        .iter()
        .filter(|x| x.speed.hi < ALMOST_NATIVE)
        .copied()
        .collect();
    let verdict = if !hurt.is_empty() {
        Fit::Inside
    } else if part.iter().all(|x| x.speed.lo >= ALMOST_NATIVE) {
        Fit::Outside
    } else {
        Fit::Unsure
    };
    let shown = if hurt.is_empty() { &part } else { &hurt };
    let by_resource = protected_resources(&part);
    let physics = physics_checks(s);
    decided(
        l1,
        verdict,
        format!(
            "Slowed means below {} of the speed alone, the whole interval: {}.{by_resource}{physics}",
            pct(ALMOST_NATIVE),
            shown
                .iter()
                .map(|x| words(x))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        shown.iter().map(|x| cite(x)).collect(),
    )
}

/// Which resources partitioning protected, and which not (a sentence).
fn protected_resources(part: &[&Slowdown]) -> String {
    let mut kept: Vec<String> = Vec::new();
    let mut lost: Vec<String> = Vec::new();
    for x in crate::neighbours::headline(&part.iter().map(|x| (*x).clone()).collect::<Vec<_>>()) {
        let name = format!("{} victim beside {}", x.victim, x.antagonist);
        if x.speed.hi < ALMOST_NATIVE {
            lost.push(name);
        } else if x.speed.lo >= ALMOST_NATIVE {
            kept.push(name);
        }
    }
    lost.sort();
    lost.dedup();
    kept.sort();
    kept.dedup();
    format!(
        " Partitioned containers were protected for: {}; not protected for: {}.",
        if kept.is_empty() {
            "none shown".to_string()
        } else {
            kept.join(", ")
        },
        if lost.is_empty() {
            "none shown".to_string()
        } else {
            lost.join(", ")
        },
    )
}

/// The host's memory-bandwidth scaling, as each environment measured it in
/// this run (what a partitioned STREAM victim should expect), and the
/// slowdowns against what the host's physics predict (sentences).
fn physics_checks(s: &[Slowdown]) -> String {
    let checks = crate::neighbours::expectations(s);
    let mut scaling: Vec<String> = s
        .iter()
        .filter_map(|x| {
            x.scaling
                .as_ref()
                .map(|sc| format!("{}: {}", x.env_id, sc.statement()))
        })
        .collect();
    scaling.dedup();
    let scaling = if scaling.is_empty() {
        " The host's memory-bandwidth scaling was not measured in this run, so no expectation is set for a partitioned STREAM victim.".to_string()
    } else {
        format!(
            " Memory-bandwidth scaling measured in this run: {}.",
            scaling.join("; ")
        )
    };
    if checks.is_empty() {
        scaling
    } else {
        format!(
            "{scaling} Against what the host's physics predict (a CPU hog halves a CPU victim sharing the CPUs and partitioning keeps nearly all of it; a streamer slows a STREAM victim sharing the CPUs, and partitioned as the scaling above predicts): {}.",
            crate::neighbours::describe_checks(&checks)
        )
    }
}

/// Part 2: for the same victim, antagonist and placement, a VM keeps more
/// of its victim's speed than a container.
fn vm_protects_better(s: &[Slowdown]) -> PartResult {
    let l2 = "a VM protects its victim better than a container";
    let mut pairs = Vec::new();
    for c in s.iter().filter(|x| x.env == "container") {
        for v in s.iter().filter(|x| {
            x.env == "vm"
                && x.victim == c.victim
                && x.metric == c.metric
                && x.antagonist == c.antagonist
                && x.placement == c.placement
        }) {
            pairs.push((c, v));
        }
    }
    if pairs.is_empty() {
        return not_measured(
            l2,
            "no valid figure",
            &format!("{HOW}, in both a container and a VM"),
        );
    }
    if pairs.iter().all(|(_, v)| v.emulated()) {
        return PartResult {
            label: l2.into(),
            verdict: Verdict::NotTestable,
            reason: None,
            text: format!(
                "Measured only against VMs under QEMU TCG (an emulated CPU: the VM's antagonist applies less pressure and its victim runs slower for reasons of its own); for information only: {}.",
                pairs
                    .iter()
                    .map(|(c, v)| format!("{}; {}", words(c), words(v)))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
            figures: pairs.iter().flat_map(|(c, v)| [cite(c), cite(v)]).collect(),
            missing: None,
            info: false,
        };
    }
    let hw: Vec<_> = pairs.iter().filter(|(_, v)| !v.emulated()).collect();
    let outcomes: Vec<Protection> = hw.iter().map(|(c, v)| protection(c, v)).collect();
    let verdict = if outcomes.contains(&Protection::BWorse) {
        Fit::Outside
    } else if outcomes.contains(&Protection::AWorse) {
        Fit::Inside
    } else {
        Fit::Unsure
    };
    decided(
        l2,
        verdict,
        format!(
            "Container against VM, same victim, antagonist and placement (better protected = higher share of the speed alone, intervals apart): {}.",
            hw.iter()
                .map(|(c, v)| format!("{}; {}", words(c), words(v)))
                .collect::<Vec<_>>()
                .join(" | ")
        ),
        hw.iter().flat_map(|(c, v)| [cite(c), cite(v)]).collect(),
    )
}
