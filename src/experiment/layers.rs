//! Layer reuse (claim C7: "a change adds a layer instead of rebuilding the
//! image"), measured by the host on isorun's content-addressed layer store
//! (`isorun::image`, OCI image spec "Image Layer Filesystem Changeset").
//!
//! 1. isorun's own builder: an image of N directory layers, then the same
//!    directories with one file of the top layer changed, rebuilt: layers
//!    reused and added, bytes added against the image's size.
//! 2. A real image tool: umoci (Debian) builds an OCI layout `v1` of the
//!    same N layers (one `umoci insert` each) and `v2` the same way with the
//!    changed file; both are imported into a fresh store, so reuse across
//!    imports is by blob digest alone. `v3` is v1 plus one `umoci insert`
//!    of the changed file alone: the tool's own one-file change.
//!
//! The figures become the `layers` workload's metrics (the native column:
//! a host operation, the same whatever runs the container afterwards).

use crate::env::RunOutcome;
use anyhow::{anyhow, bail, Context, Result};
use isobench_workloads::args::Command as WCommand;
use isobench_workloads::{WorkloadResult, WorkloadSpec};
use isorun::image::{self, ImageConfig, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The file the one-file change rewrites (in the top layer).
pub const CHANGED: &str = "etc/app.conf";

/// What one rebuild or import did to a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reuse {
    pub layers: usize,
    pub reused: usize,
    pub added: usize,
    pub added_bytes: u64,
    pub image_bytes: u64,
}

/// Count reuse of `layers` (an image's digests) against the store's layers
/// `before` the build or import.
pub fn reuse(store: &Store, before: &BTreeSet<String>, layers: &[String]) -> Result<Reuse> {
    let mut r = Reuse {
        layers: layers.len(),
        reused: 0,
        added: 0,
        added_bytes: 0,
        image_bytes: 0,
    };
    let mut seen = BTreeSet::new();
    for l in layers {
        let bytes = store.layer_bytes(l)?;
        r.image_bytes += bytes;
        if !seen.insert(l.clone()) {
            continue;
        }
        if before.contains(l) {
            r.reused += 1;
        } else {
            r.added += 1;
            r.added_bytes += bytes;
        }
    }
    Ok(r)
}

/// Deterministic, incompressible content for layer `i`.
fn fill(buf: &mut [u8], seed: u64) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for c in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        c.copy_from_slice(&b[..c.len()]);
    }
}

/// Write `n` layer directories of about `size` bytes each under `root`
/// (files of at most 1 MiB); the top one holds [`CHANGED`].
pub fn write_layers(root: &Path, n: u32, size: u64) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for i in 0..n {
        let d = root.join(format!("layer{i}"));
        let sub = d.join(format!("usr/lib/part{i}"));
        std::fs::create_dir_all(&sub).with_context(|| format!("creating {}", sub.display()))?;
        let mut left = size;
        let mut k = 0u64;
        while left > 0 {
            let len = left.min(1 << 20) as usize;
            let mut buf = vec![0u8; len];
            fill(&mut buf, (i as u64) << 32 | k);
            std::fs::write(sub.join(format!("blob{k}")), &buf)?;
            left -= len as u64;
            k += 1;
        }
        dirs.push(d);
    }
    let top = dirs.last().ok_or_else(|| anyhow!("no layers"))?;
    std::fs::create_dir_all(top.join("etc"))?;
    std::fs::write(top.join(CHANGED), "version = 1\n")?;
    Ok(dirs)
}

/// The one-file change.
pub fn change_one_file(dirs: &[PathBuf]) -> Result<()> {
    let top = dirs.last().ok_or_else(|| anyhow!("no layers"))?;
    std::fs::write(top.join(CHANGED), "version = 2\n")?;
    Ok(())
}

/// Mount `name`'s overlay and read [`CHANGED`] and a bottom-layer file.
fn check_merged(store: &Store, name: &str, scratch: &Path) -> Result<String> {
    let m = scratch.join(format!("mnt-{name}"));
    let (u, w) = (
        scratch.join(format!("up-{name}")),
        scratch.join(format!("wk-{name}")),
    );
    image::mount_overlay(store, name, &u, &w, &m)?;
    let changed = std::fs::read_to_string(m.join(CHANGED));
    let bottom = m.join("usr/lib/part0/blob0").is_file();
    image::unmount(&m)?;
    let changed = changed.with_context(|| format!("reading {CHANGED} in {name}"))?;
    if !bottom {
        bail!("{name}: the bottom layer's file is missing from the merged view");
    }
    Ok(changed)
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} failed ({}): {}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Build an OCI layout tag with umoci: one `umoci insert` per layer dir.
pub fn umoci_build(umoci: &Path, layout: &Path, tag: &str, dirs: &[PathBuf]) -> Result<()> {
    if !layout.join("index.json").is_file() {
        run(Command::new(umoci).arg("init").arg("--layout").arg(layout))?;
    }
    let image = format!("{}:{tag}", layout.display());
    run(Command::new(umoci).args(["new", "--image", &image]))?;
    for d in dirs {
        run(Command::new(umoci)
            .args(["insert", "--image", &image])
            .arg(d)
            .arg("/"))?;
    }
    Ok(())
}

/// The OCI-layout figures: umoci's layout of the same layers, imported
/// twice into a fresh store, then patched the image tool's own way; into
/// `res`, with what failed validation in `problems`.
fn oci_figures(
    umoci: &Path,
    tmp: &Path,
    (n, size): (u32, u64),
    res: &mut WorkloadResult,
    problems: &mut Vec<String>,
) -> Result<()> {
    let mut metric = |k: &str, v: f64, u: &str| {
        res.metrics.insert(k.into(), v);
        res.units.insert(k.into(), u.into());
    };
    let layout = tmp.join("oci");
    let dirs2 = write_layers(&tmp.join("src2"), n, size)?;
    umoci_build(umoci, &layout, "v1", &dirs2)?;
    change_one_file(&dirs2)?;
    umoci_build(umoci, &layout, "v2", &dirs2)?;
    let s2 = Store::open(tmp.join("store-oci"))?;
    isorun::image::oci::import(&s2, &layout, Some("v1"), Some("oci-v1"))?;
    let before = s2.layer_digests()?;
    let t = Instant::now();
    let img = isorun::image::oci::import(&s2, &layout, Some("v2"), Some("oci-v2"))?;
    metric("oci_import_ms", t.elapsed().as_secs_f64() * 1e3, "ms");
    let o = reuse(&s2, &before, &img.layers)?;
    metric("oci_layers_total", o.layers as f64, "layers");
    metric("oci_layers_reused", o.reused as f64, "layers");
    metric("oci_layers_added", o.added as f64, "layers");
    metric("oci_layer_added_bytes", o.added_bytes as f64, "bytes");
    metric("oci_image_bytes", o.image_bytes as f64, "bytes");
    let merged = check_merged(&s2, "oci-v2", tmp)?;
    if merged != "version = 2\n" {
        problems.push(format!("umoci v2's merged view reads {merged:?}"));
    }
    // The image tool's own way to change a file: v3 is v1 plus one
    // layer holding only the new file (`umoci insert`).
    let image = |t: &str| format!("{}:{t}", layout.display());
    run(Command::new(umoci).args(["tag", "--image", &image("v1"), "v3"]))?;
    let patch = tmp.join("app.conf");
    std::fs::write(&patch, "version = 3\n")?;
    run(Command::new(umoci)
        .args(["insert", "--image", &image("v3")])
        .arg(&patch)
        .arg(format!("/{CHANGED}")))?;
    let before = s2.layer_digests()?;
    let img = isorun::image::oci::import(&s2, &layout, Some("v3"), Some("oci-v3"))?;
    let p = reuse(&s2, &before, &img.layers)?;
    metric("oci_patch_layers_total", p.layers as f64, "layers");
    metric("oci_patch_layers_reused", p.reused as f64, "layers");
    metric("oci_patch_layers_added", p.added as f64, "layers");
    metric("oci_patch_layer_added_bytes", p.added_bytes as f64, "bytes");
    metric("oci_patch_image_bytes", p.image_bytes as f64, "bytes");
    let merged = check_merged(&s2, "oci-v3", tmp)?;
    if merged != "version = 3\n" || p.added != 1 || p.reused != n as usize {
        problems.push(format!(
            "umoci v3 (v1 plus a one-file layer): reads {merged:?}, reused {} and added {} layers",
            p.reused, p.added
        ));
    }
    let version = Command::new(umoci)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    res.info.insert("umoci".into(), version);
    res.info.insert(
        "oci_method".into(),
        "umoci init/new, one `umoci insert DIR /` per layer (tar+gzip blobs), v1 then v2 (top layer's file changed) built the same way; isorun imports v1, then v2 into the same store".into(),
    );
    Ok(())
}

/// The host measurement of the `layers` workload, in a temporary directory.
pub fn measure(spec: &WorkloadSpec) -> Result<RunOutcome> {
    measure_in(spec, &std::env::temp_dir())
}

/// [`measure`] with its scratch directory (removed after) in `parent`.
pub fn measure_in(spec: &WorkloadSpec, parent: &Path) -> Result<RunOutcome> {
    let t0 = Instant::now();
    let (n, size) = match spec.command {
        WCommand::Layers { layers, layer_size } => (layers, layer_size),
        _ => bail!("not a layers workload: {:?}", spec.to_args()),
    };
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix("isobench-layers-")
        .tempdir_in(parent)
        .context("creating a scratch directory for the layers workload")?;
    let mut res = WorkloadResult {
        workload: "layers".into(),
        params: BTreeMap::new(),
        valid: false,
        metrics: BTreeMap::new(),
        units: BTreeMap::new(),
        directions: BTreeMap::new(),
        aliases: BTreeMap::new(),
        info: BTreeMap::new(),
        error: None,
        elapsed_s: 0.0,
    };
    res.params.insert("layers".into(), n.into());
    res.params.insert("layer_bytes".into(), size.into());
    res.params.insert(
        "change".into(),
        format!("one file ({CHANGED}) of the top layer").into(),
    );
    let mut metric = |k: &str, v: f64, u: &str| {
        res.metrics.insert(k.into(), v);
        res.units.insert(k.into(), u.into());
    };
    let dirs = write_layers(&tmp.path().join("src"), n, size)?;

    // 1. isorun's builder.
    let store = Store::open(tmp.path().join("store"))?;
    let t = Instant::now();
    store.build("v1", &dirs, ImageConfig::default())?;
    metric("build_ms", t.elapsed().as_secs_f64() * 1e3, "ms");
    change_one_file(&dirs)?;
    let before = store.layer_digests()?;
    let t = Instant::now();
    let v2 = store.build("v2", &dirs, ImageConfig::default())?;
    metric("rebuild_ms", t.elapsed().as_secs_f64() * 1e3, "ms");
    let r = reuse(&store, &before, &v2.layers)?;
    metric("layers_total", r.layers as f64, "layers");
    metric("layers_reused", r.reused as f64, "layers");
    metric("layers_added", r.added as f64, "layers");
    metric("layer_added_bytes", r.added_bytes as f64, "bytes");
    metric("image_bytes", r.image_bytes as f64, "bytes");
    let merged = check_merged(&store, "v2", tmp.path())?;
    let mut problems = Vec::new();
    if merged != "version = 2\n" {
        problems.push(format!("v2's merged view reads {merged:?} in {CHANGED}"));
    }
    if r.reused + 1 != r.layers || r.added != 1 {
        problems.push(format!(
            "isorun's builder reused {} and added {} of {} layers after a one-file change",
            r.reused, r.added, r.layers
        ));
    }

    // 2. umoci's layout, imported twice into a fresh store.
    match crate::locate::which("umoci") {
        None => {
            res.info.insert(
                "umoci".into(),
                "not installed (apt-get install umoci): no OCI-layout figures".into(),
            );
        }
        Some(umoci) => oci_figures(&umoci, tmp.path(), (n, size), &mut res, &mut problems)?,
    }
    res.info.insert(
        "bytes".into(),
        "unpacked bytes in the layer store (regular files and symlinks)".into(),
    );
    res.info.insert(
        "method".into(),
        "isorun's layer store (content-addressed by the sha256 of each layer's tar): build v1 from the layer directories, change one file of the top layer, build v2 from the same directories".into(),
    );
    if problems.is_empty() {
        res.valid = true;
        res.info.insert(
            "validation".into(),
            "v2's overlay shows the changed file and the bottom layer's; one layer added".into(),
        );
    } else {
        res.error = Some(format!("validation failed: {}", problems.join("; ")));
    }
    res.elapsed_s = t0.elapsed().as_secs_f64();
    Ok(RunOutcome {
        result: res,
        first_instruction: None,
        lifecycle: t0.elapsed().max(Duration::from_nanos(1)),
        extra_ms: BTreeMap::new(),
        footprint: None,
    })
}
