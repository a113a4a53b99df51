//! C2: sequential memory bandwidth is similar everywhere; random access
//! costs more in a VM (two address translations).

use super::*;
use crate::claims::sandbox;

pub(super) fn seq_part(cx: &Cx, class: &str, label: &str) -> PartResult {
    match cx.gate(
        label,
        cx.figures(class, "membw", &SEQ),
        &format!(
            "membw (STREAM) natively and in a {class} (`--env native,{class} --workload membw`)"
        ),
    ) {
        Err(p) => *p,
        Ok((figs, notes)) => {
            let fit_of =
                |f: &Figure| speed_of(f).map_or(Fit::Unsure, |v| fit(&v, SIMILAR.0, SIMILAR.1));
            let off: Vec<&Figure> = figs
                .iter()
                .filter(|f| fit_of(f) == Fit::Outside)
                .copied()
                .collect();
            let verdict = fit_all(figs.iter().map(|f| fit_of(f)));
            let triads: Vec<&Figure> = figs
                .iter()
                .filter(|f| f.metric == "triad_mbs")
                .copied()
                .collect();
            let text = if off.is_empty() {
                format!(
                    "Sequential bandwidth within {}–{} of native in every {class} ({}).{notes}",
                    pct(SIMILAR.0),
                    pct(SIMILAR.1),
                    cx.speed_list(if triads.is_empty() { &figs } else { &triads })
                )
            } else {
                format!(
                    "Sequential bandwidth outside {}–{} of native: {}.{notes}",
                    pct(SIMILAR.0),
                    pct(SIMILAR.1),
                    cx.speed_list(&off)
                )
            };
            decided(
                label,
                verdict,
                text,
                figs.iter().map(|f| cx.cite(f)).collect(),
            )
        }
    }
}

pub(super) fn bandwidth_similar_random_access_costs_more_in_vms(cx: &Cx) -> ClaimResult {
    let a = cx.a;
    let p1 = seq_part(
        cx,
        "container",
        "sequential bandwidth in containers is similar to native",
    );
    let p2 = seq_part(cx, "vm", "sequential bandwidth in VMs is similar to native");
    // Random access in a VM: GUPS, and latency at the largest working set
    // measured both natively and in that VM (never a size one of them lacks).
    let l3 = "random access costs more in VMs";
    let mut figs: Vec<&Figure> = cx.figures("vm", "randacc", &["gups"]);
    figs.extend(
        a.env_ids_of("vm")
            .into_iter()
            .filter_map(|e| largest_latency(cx, e)),
    );
    let p3 = match cx.gate(
        l3,
        figs,
        "randacc or latency natively and in a VM (`--env native,vm --workload randacc,latency`)",
    ) {
        Err(p) => *p,
        Ok((figs, notes)) => {
            // Costs more: the random-access speed's whole interval is below
            // native, and below the same VM's sequential (triad) speed if
            // that is comparable.
            let seq_speed = |env_id: &str| {
                a.figure(env_id, "membw", "triad_mbs")
                    .filter(|f| cx.incomparable(f).is_none())
                    .and_then(speed_of)
            };
            let ok = fit_all(figs.iter().map(|f| match speed_of(f) {
                None => Fit::Unsure,
                Some(v) => match fit(&v, 0.0, 1.0) {
                    Fit::Inside if seq_speed(&f.env_id).is_some_and(|s| v.point >= s.point) => {
                        Fit::Outside
                    }
                    other => other,
                },
            }));
            let mut cited: Vec<Cited> = figs.iter().map(|f| cx.cite(f)).collect();
            let mut seq_note = Vec::new();
            for f in &figs {
                if let (true, Some(s)) = (f.metric == "gups", seq_speed(&f.env_id)) {
                    seq_note.push(format!(
                        "{} triad_mbs ({}) {}",
                        f.env_id,
                        crate::facts::stream_label(cx.facts.stream_variant(&f.env_id)),
                        speed_words(&s)
                    ));
                    if let Some(t) = a.figure(&f.env_id, "membw", "triad_mbs") {
                        cited.push(cx.cite(t));
                    }
                }
            }
            let sizes: Vec<String> = figs
                .iter()
                .filter_map(|f| {
                    latency_size_bytes(&f.metric)
                        .map(|s| format!("{} {}", f.env_id, format_size(s)))
                })
                .collect();
            decided(
                l3,
                ok,
                format!(
                    "Random access in VMs (GUPS{}): {}{}.{notes}",
                    if sizes.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; latency at the largest working set measured both natively and in the VM: {}",
                            sizes.join(", ")
                        )
                    },
                    cx.speed_list(&figs),
                    if seq_note.is_empty() {
                        String::new()
                    } else {
                        format!("; for comparison, sequential: {}", seq_note.join("; "))
                    },
                ),
                cited,
            )
        }
    };
    combine("C2", vec![p1, p2, p3, sandbox_part(cx)])
}

/// An environment's latency at the largest working set measured both
/// natively and there (never a size one of them lacks).
fn largest_latency<'a>(cx: &Cx<'a>, env_id: &str) -> Option<&'a Figure> {
    let a = cx.a;
    a.figures
        .iter()
        .filter(|f| f.env_id == env_id && f.workload == "latency")
        .filter(|f| a.figure(BASELINE, "latency", &f.metric).is_some())
        .filter_map(|f| latency_size_bytes(&f.metric).map(|s| (s, f)))
        .max_by_key(|(s, _)| *s)
        .map(|(_, f)| f)
}

/// gVisor's part: sequential bandwidth (STREAM triad, else every STREAM
/// kernel) and, where measured, random access (GUPS; latency at the largest
/// working set) against native.
fn sandbox_part(cx: &Cx) -> PartResult {
    let mut figs = cx.figures(sandbox::SANDBOX, "membw", &["triad_mbs"]);
    if figs.is_empty() {
        figs = cx.figures(sandbox::SANDBOX, "membw", &SEQ);
    }
    figs.extend(cx.figures(sandbox::SANDBOX, "randacc", &["gups"]));
    figs.extend(
        cx.a.env_ids_of(sandbox::SANDBOX)
            .into_iter()
            .filter_map(|e| largest_latency(cx, e)),
    );
    cx.sandbox_ratio_part(
        &sandbox::label("memory"),
        figs,
        &sandbox::command("--workload membw,randacc"),
        "memory (STREAM triad; random access where measured: GUPS, latency at the largest working set)",
        "",
    )
}
