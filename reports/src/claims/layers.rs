//! C7: images are stacks of read-only layers with a copy-on-write layer on
//! top; a change adds a layer instead of rebuilding the image.

use super::*;

/// One figure of the `layers` workload by metric name.
fn layer_figure<'a>(cx: &Cx<'a>, metric: &str) -> Option<&'a Figure> {
    cx.a.figures
        .iter()
        .find(|f| f.workload == "layers" && f.metric == metric && !f.samples.is_empty())
}

/// C7 from the `layers` workload (isorun's layer store, measured by the
/// host) and the copy-on-write workloads. Part 1: a one-file change to an
/// image built by isorun adds exactly one layer, reuses the rest, and adds
/// fewer bytes than the image holds. Part 2: the same across imports of a
/// real image tool's OCI layout (umoci): layers reused by digest alone.
/// Part 3: the top layer is copy-on-write: a container's first write to a
/// large lower-layer file costs what copying it does, at least
/// [`COPY_UP_FACTOR`] times the same write on a plain directory.
pub(super) fn changes_add_layers_copy_on_write(cx: &Cx) -> ClaimResult {
    let l1 = "a change adds a layer instead of rebuilding the image (isorun's builder)";
    let f = |m: &str| layer_figure(cx, m);
    let reuse_part = |label: &str, pre: &str, tool: &str| -> PartResult {
        let names = [
            "layers_total",
            "layers_reused",
            "layers_added",
            "layer_added_bytes",
            "image_bytes",
        ]
        .map(|m| format!("{pre}{m}"));
        let figs: Vec<&Figure> = names.iter().filter_map(|m| f(m)).collect();
        if figs.len() < names.len() {
            return not_measured(
                label,
                "no valid figure",
                &format!("the `layers` workload ({tool}): build an image, change one file, rebuild, count layers reused and added and bytes added (`{pre}layer_added_bytes` against `{pre}image_bytes`)"),
            );
        }
        let v = |i: usize| figs[i].summary.centre;
        let (total, reused, added, bytes, image) = (v(0), v(1), v(2), v(3), v(4));
        // Counts: every repetition must show one layer added, the rest reused.
        let every = |i: usize, want: &dyn Fn(f64) -> bool| figs[i].samples.iter().all(|x| want(*x));
        let ok = every(2, &|x| x == 1.0)
            && figs[1]
                .samples
                .iter()
                .zip(&figs[0].samples)
                .all(|(r, t)| *r == t - 1.0)
            && bytes < image;
        holds(
            label,
            ok,
            format!(
                "{tool}: a one-file change reused {reused:.0} of {total:.0} layers and added {added:.0}: {:.1} MiB added to an image of {:.1} MiB ({:.0}%; the changed file's whole layer, unpacked bytes in the store).",
                bytes / 1048576.0,
                image / 1048576.0,
                100.0 * bytes / image.max(1.0)
            ),
            figs.iter().map(|x| cx.cite(x)).collect(),
        )
    };
    let p1 = reuse_part(l1, "", "isorun's builder from directories");
    let p2 = reuse_part(
        "layers are shared by digest across imports of a real image tool's layout",
        "oci_",
        "umoci-built OCI layouts v1 and v2 imported into one store",
    );
    // umoci's own way (v1 plus an inserted file): shown when measured.
    let p_patch = layer_figure(cx, "oci_patch_layers_added").map(|_| {
        reuse_part(
            "an image tool's one-file change is one new layer on top",
            "oci_patch_",
            "umoci v3 = v1 plus `umoci insert` of the changed file, imported after v1",
        )
    });
    let l3 = "the top layer is copy-on-write: a first write copies the file up";
    let copy: Vec<&Figure> =
        cx.a.figures
            .iter()
            .filter(|f| f.workload == "copyup" && f.metric.starts_with("first_write_ms_"))
            .collect();
    let largest = copy
        .iter()
        .filter_map(|f| crate::metric::parse_size(f.metric.trim_start_matches("first_write_ms_")))
        .max();
    let p3 = match largest {
        None => not_measured(l3, "no valid figure", "the `copyup` workload: the first write to files of growing size in a lower layer, in a container and on a plain directory"),
        Some(size) => {
            let m = format!("first_write_ms_{}", crate::metric::format_size(size).replace(' ', ""));
            let at: Vec<&&Figure> = copy.iter().filter(|f| f.metric == m).collect();
            let native = at.iter().find(|f| f.env == "native");
            let containers: Vec<&&&Figure> = at.iter().filter(|f| f.env == "container").collect();
            match (native, containers.is_empty()) {
                (Some(n), false) => {
                    let ok = containers
                        .iter()
                        .all(|c| c.summary.centre >= COPY_UP_FACTOR * n.summary.centre);
                    let mut figs = vec![cx.cite(n)];
                    figs.extend(containers.iter().map(|c| cx.cite(c)));
                    holds(
                        l3,
                        ok,
                        format!(
                            "First write (open for writing and write 4 KiB) to a {} file in a lower layer: native directory {:.3} ms; {}.",
                            crate::metric::format_size(size),
                            n.summary.centre,
                            containers
                                .iter()
                                .map(|c| format!(
                                    "{} {:.3} ms ({:.0}x)",
                                    c.env_id,
                                    c.summary.centre,
                                    c.summary.centre / n.summary.centre.max(1e-9)
                                ))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        figs,
                    )
                }
                _ => not_measured(l3, "needs native and container figures", "the `copyup` workload in the native column and at least one container column"),
            }
        }
    };
    let mut parts = vec![p1, p2];
    parts.extend(p_patch);
    parts.push(p3);
    combine("C7", parts)
}
