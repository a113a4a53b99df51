//! C8: in I/O, a container's storage costs a little; a VM's virtual disk
//! costs more (the seed: image storage schemes such as AUFS/overlay or
//! Device Mapper differ slightly in efficiency; a VM's virtual devices cost
//! more).
//!
//! Decided from the `fileio` workload's rates (MB/s of the sequential
//! phases, IOPS of the random ones; the kernel's figures carry their place
//! as a suffix), each divided by native's figure of the same place:
//! - containers: the `disk` place (a bind mount of a directory on the run
//!   directory's file system, which native reaches directly) and the
//!   `tmpfs` place (a tmpfs mount against native's /dev/shm). The overlay
//!   root (`rootfs`) has no native counterpart; its figures are listed for
//!   information with the file system that backs its upper layer.
//! - VMs: the `disk` place (a virtio-blk disk whose image file sits on the
//!   run directory's file system).

use super::*;
use crate::claims::sandbox;

/// The rates C8 divides, per place: every phase of the kernel.
const RATES: [&str; 4] = [
    "seq_read_mbs_",
    "seq_write_mbs_",
    "rand_read_iops_",
    "rand_write_iops_",
];

fn rates_at(places: &[&str]) -> Vec<String> {
    places
        .iter()
        .flat_map(|p| RATES.iter().map(move |r| format!("{r}{p}")))
        .collect()
}

pub(super) fn container_storage_costs_little_vm_disk_more(cx: &Cx) -> ClaimResult {
    let l1 = "file I/O through a container's storage costs a little";
    let container_metrics = rates_at(&["disk", "tmpfs"]);
    let names: Vec<&str> = container_metrics.iter().map(String::as_str).collect();
    let p1 = match cx.gate(
        l1,
        cx.figures("container", "fileio", &names),
        "the fileio workload natively and in a container (`--env native,container --workload fileio`)",
    ) {
        Err(p) => *p,
        Ok((figs, notes)) => {
            let ok = fit_all(
                figs.iter()
                    .map(|f| speed_of(f).map_or(Fit::Unsure, |v| fit(&v, A_LITTLE, f64::INFINITY))),
            );
            let rootfs = overlay_note(cx, "container");
            decided(
                l1,
                ok,
                format!(
                    "Containers' bind mount and tmpfs against the same places natively (a little: ≥ {} of native; supported when every interval lies above, rejected when one lies wholly below): {}.{notes}{rootfs}",
                    pct(A_LITTLE),
                    cx.speed_list(&figs)
                ),
                figs.iter().map(|f| cx.cite(f)).collect(),
            )
        }
    };
    let l2 = "a VM's virtual disk costs more";
    let vm_metrics = rates_at(&["disk"]);
    let names: Vec<&str> = vm_metrics.iter().map(String::as_str).collect();
    let p2 = match cx.gate(
        l2,
        cx.figures("vm", "fileio", &names),
        "the fileio workload natively and in a VM on its virtio-blk disk (`--env native,vm --workload fileio`)",
    ) {
        Err(p) => *p,
        Ok((figs, notes)) => {
            // "Costs more": below what a container's storage is allowed to
            // cost. Supported when every interval lies below A_LITTLE,
            // rejected when one lies wholly above it.
            let ok = fit_all(
                figs.iter()
                    .map(|f| speed_of(f).map_or(Fit::Unsure, |v| fit(&v, 0.0, A_LITTLE))),
            );
            decided(
                l2,
                ok,
                format!(
                    "VMs' virtio-blk disk against the run directory's file system natively (costs more: below {} of native, the most a container's storage may lose; supported when every interval lies below, rejected when one lies wholly above): {}.{notes}",
                    pct(A_LITTLE),
                    cx.speed_list(&figs)
                ),
                figs.iter().map(|f| cx.cite(f)).collect(),
            )
        }
    };
    let l3 = sandbox::label("file I/O");
    let sandbox_metrics = rates_at(&["disk", "tmpfs"]);
    let names: Vec<&str> = sandbox_metrics.iter().map(String::as_str).collect();
    let p3 = cx.sandbox_ratio_part(
        &l3,
        cx.figures(sandbox::SANDBOX, "fileio", &names),
        &sandbox::command("--workload fileio"),
        "file I/O on its bind mount and tmpfs against the same places natively",
        &overlay_note(cx, sandbox::SANDBOX),
    );
    combine("C8", vec![p1, p2, p3])
}

/// The overlay root's rates of a class's environments beside native's
/// `disk` and `tmpfs`, for information (no ratio: different file systems).
fn overlay_note(cx: &Cx, class: &str) -> String {
    let metrics = rates_at(&["rootfs"]);
    let names: Vec<&str> = metrics.iter().map(String::as_str).collect();
    let figs = cx.figures(class, "fileio", &names);
    if figs.is_empty() {
        return String::new();
    }
    let list: Vec<String> = figs
        .iter()
        .map(|f| {
            let base = f.metric.trim_end_matches("rootfs");
            let native: Vec<String> = ["disk", "tmpfs"]
                .iter()
                .filter_map(|p| cx.a.figure(BASELINE, "fileio", &format!("{base}{p}")))
                .map(|n| {
                    format!(
                        "native {} {}",
                        n.metric.trim_start_matches(base),
                        val_text(&median_of(n), num)
                    )
                })
                .collect();
            format!(
                "{} {} {} {}{}",
                f.env_id,
                f.metric,
                val_text(&median_of(f), num),
                f.unit,
                if native.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", native.join(", "))
                }
            )
        })
        .collect();
    format!(
        " For information, the overlay root (image storage; its upper layer's file system is in the environment's detail): {}.",
        list.join("; ")
    )
}
