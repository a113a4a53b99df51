//! C1: programs in containers compute at almost bare-metal speed; in VMs
//! they lose about half.

use super::*;
use crate::claims::sandbox;

pub(super) fn containers_near_native_vms_lose_half(cx: &Cx) -> ClaimResult {
    let l1 = "containers compute at almost bare-metal speed";
    let p1 = match cx.gate(
        l1,
        cx.figures("container", "cpu", &CPU),
        "the cpu workload natively and in a container (`--env native,container --workload cpu`)",
    ) {
        Err(p) => *p,
        Ok((figs, notes)) => {
            let ok = fit_all(figs.iter().map(|f| {
                speed_of(f).map_or(Fit::Unsure, |v| fit(&v, ALMOST_NATIVE, f64::INFINITY))
            }));
            decided(
                l1,
                ok,
                format!(
                    "Containers (almost bare-metal: ≥ {} of native; supported when every interval lies above, rejected when one lies wholly below): {}.{notes}",
                    pct(ALMOST_NATIVE),
                    cx.speed_list(&figs)
                ),
                figs.iter().map(|f| cx.cite(f)).collect(),
            )
        }
    };
    let l2 = "VMs lose about half";
    let p2 = match cx.gate(
        l2,
        cx.figures("vm", "cpu", &CPU),
        "the cpu workload natively and in a VM (`--env native,vm --workload cpu`)",
    ) {
        Err(p) => *p,
        Ok((figs, notes)) => {
            let ok =
                fit_all(figs.iter().map(|f| {
                    speed_of(f).map_or(Fit::Unsure, |v| fit(&v, ABOUT_HALF.0, ABOUT_HALF.1))
                }));
            decided(
                l2,
                ok,
                format!(
                    "VMs (about half: {}–{} of native; supported when every interval lies inside, rejected when one lies wholly outside): {}.{notes}",
                    pct(ABOUT_HALF.0),
                    pct(ABOUT_HALF.1),
                    cx.speed_list(&figs)
                ),
                figs.iter().map(|f| cx.cite(f)).collect(),
            )
        }
    };
    let l3 = sandbox::label("compute");
    let p3 = cx.sandbox_ratio_part(
        &l3,
        cx.figures(sandbox::SANDBOX, "cpu", &CPU),
        &sandbox::command("--workload cpu"),
        "computes",
        "",
    );
    combine("C1", vec![p1, p2, p3])
}
