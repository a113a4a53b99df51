//! C3: a container starts in seconds or less; a VM takes far longer.

use super::*;
use crate::claims::sandbox;

/// The slowest environment of a class to start, by median time to first
/// instruction (else whole lifecycle).
fn slowest_start<'a>(cx: &Cx<'a>, class: &str, metric: Option<&str>) -> Option<&'a Figure> {
    let metrics: Vec<&str> = match metric {
        Some(m) => vec![m],
        None => vec!["first_instruction_ms", "lifecycle_ms"],
    };
    metrics.into_iter().find_map(|m| {
        cx.a.figures
            .iter()
            .filter(|f| f.env == class && f.workload == "startup" && f.metric == m)
            .max_by(|x, y| x.summary.centre.total_cmp(&y.summary.centre))
    })
}

pub(super) fn containers_start_faster_than_vms(cx: &Cx) -> ClaimResult {
    let l1 = "a container starts in seconds or less";
    let cont = slowest_start(cx, "container", None);
    let p1 = match cont {
        None => not_measured(
            l1,
            "no valid figure",
            "startup in a container (`--env container --workload startup`)",
        ),
        Some(f) => {
            let v = median_of(f);
            decided(
                l1,
                fit(&v, 0.0, CONTAINER_START_MAX_MS),
                format!(
                    "Slowest container start: {} {} median {} ms (\"seconds or less\" means ≤ {CONTAINER_START_MAX_MS:.0} ms).",
                    f.env_id,
                    f.metric,
                    val_text(&v, |x| format!("{x:.0}"))
                ),
                vec![cx.cite(f)],
            )
        }
    };
    let l2 = "a VM takes far longer to start";
    let vm_figs: Vec<&Figure> =
        cx.a.figures
            .iter()
            .filter(|f| {
                f.env == "vm"
                    && f.workload == "startup"
                    && (f.metric == "first_instruction_ms" || f.metric == "lifecycle_ms")
            })
            .collect();
    let p2 = if vm_figs.is_empty() {
        not_measured(
            l2,
            "no valid figure",
            "startup in a VM (`--env vm --workload startup`)",
        )
    } else if vm_figs.iter().all(|f| figure_emulated(cx.a, f)) {
        // A TCG boot runs the guest kernel on an emulated CPU: it is slower
        // than a hardware-virtualised boot by an unknown factor, so "far
        // longer" cannot be read from it either way.
        let f = slowest_start(cx, "vm", None).expect("not empty");
        PartResult {
            label: l2.into(),
            verdict: Verdict::NotTestable,
            reason: None,
            text: format!(
                "VM start under QEMU TCG (emulated CPU, the guest kernel boots far slower than under hardware virtualisation): {} {} median {} ms; for information only.",
                f.env_id,
                f.metric,
                val_text(&median_of(f), |x| format!("{x:.0}"))
            ),
            figures: vec![cx.cite(f)],
            missing: None,
            info: false,
        }
    } else {
        let vm = vm_figs
            .iter()
            .filter(|f| !figure_emulated(cx.a, f) && f.metric == vm_figs[0].metric)
            .max_by(|x, y| x.summary.centre.total_cmp(&y.summary.centre))
            .or_else(|| vm_figs.iter().find(|f| !figure_emulated(cx.a, f)))
            .copied()
            .expect("a hardware VM figure");
        match slowest_start(cx, "container", Some(&vm.metric)) {
            None => not_measured(
                l2,
                "no container figure of the same metric",
                "startup in a container to compare the VM with",
            ),
            Some(c) => {
                let factor = vm.summary.centre / c.summary.centre;
                holds(
                    l2,
                    factor >= FAR_LONGER,
                    format!(
                        "VM start: {} {} median {} ms, {factor:.0}× the slowest container ({}; \"far longer\" means ≥ {FAR_LONGER:.0}×; accelerator {}).",
                        vm.env_id,
                        vm.metric,
                        val_text(&median_of(vm), |x| format!("{x:.0}")),
                        c.env_id,
                        vm.accel.as_deref().unwrap_or("unknown")
                    ),
                    vec![cx.cite(vm), cx.cite(c)],
                )
            }
        }
    };
    combine("C3", vec![p1, p2, sandbox_part(cx)])
}

/// The phases of a start (the container runtimes' create, start, run and
/// delete), as `create_ms 80, start_ms 30, ...`.
const PHASES: [&str; 4] = ["create_ms", "start_ms", "run_ms", "delete_ms"];

fn phases(cx: &Cx, env_id: &str) -> Option<String> {
    let list: Vec<String> = PHASES
        .iter()
        .filter_map(|m| cx.a.figure(env_id, "startup", m))
        .map(|f| format!("{} {}", f.metric, num(f.summary.centre)))
        .collect();
    (!list.is_empty()).then(|| list.join(", "))
}

/// gVisor's part: its time to first instruction (else whole lifecycle)
/// beside every container's and VM's of the same metric, with its phases.
fn sandbox_part(cx: &Cx) -> PartResult {
    let label = sandbox::label("start");
    let Some(f) = slowest_start(cx, sandbox::SANDBOX, None) else {
        return sandbox::absent(cx, &label, &sandbox::command("--workload startup"));
    };
    let ms = |f: &Figure| val_text(&median_of(f), |x| format!("{x:.0}"));
    let others: Vec<&Figure> =
        cx.a.figures
            .iter()
            .filter(|o| {
                (o.env == "container" || o.env == "vm")
                    && o.workload == "startup"
                    && o.metric == f.metric
            })
            .collect();
    let beside: Vec<String> = others
        .iter()
        .map(|o| {
            format!(
                "{}× {} (median {} ms{})",
                ratio_digits(f.summary.centre / o.summary.centre),
                o.env_id,
                ms(o),
                o.accel
                    .as_ref()
                    .map(|a| format!(", accelerator {a}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let phase_text = |id: &str| phases(cx, id).map(|p| format!("{id}: {p}"));
    let mut phase_list: Vec<String> = phase_text(&f.env_id).into_iter().collect();
    phase_list.extend(
        others
            .iter()
            .filter(|o| o.env == "container")
            .filter_map(|o| phase_text(&o.env_id)),
    );
    let mut figures = vec![cx.cite(f)];
    figures.extend(others.iter().map(|o| cx.cite(o)));
    sandbox::info(
        &label,
        format!(
            "{}: {} {} median {} ms ({} the {CONTAINER_START_MAX_MS:.0} ms a container is allowed){}.{} {}",
            sandbox::name(cx, [f.env_id.as_str()]),
            f.env_id,
            f.metric,
            ms(f),
            if median_of(f).point <= CONTAINER_START_MAX_MS {
                "within"
            } else {
                "beyond"
            },
            if beside.is_empty() {
                String::new()
            } else {
                format!("; that is {}", beside.join(", "))
            },
            if phase_list.is_empty() {
                String::new()
            } else {
                format!(" Phases (median ms): {}.", phase_list.join("; "))
            },
            sandbox::WHY
        ),
        figures,
    )
}
