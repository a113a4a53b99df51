//! Layered images on the real isorun binary: a two-layer image built from
//! directories (upper file over lower, whiteout hides a file) and an OCI
//! image layout with tar+gzip layers, a whiteout and an opaque directory.

mod common;
use common::{can_run, install_busybox, text, Rig};
use sha2::Digest;
use std::path::Path;

/// Point the rig's bundle at `image` in `store` (rootfs stays empty).
fn use_image(rig: &Rig, store: &Path, image: &str, script: &str) {
    rig.config(
        |v| {
            v["annotations"] = serde_json::json!({
                isorun::config::ANNOTATION_IMAGE: image,
                isorun::config::ANNOTATION_STORE: store,
            })
        },
        script,
    );
    let rootfs = rig.bundle.join("rootfs");
    std::fs::remove_dir_all(&rootfs).unwrap();
    std::fs::create_dir(&rootfs).unwrap();
}

#[test]
fn two_layer_image_upper_file_wins_and_whiteout_hides() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("layers", "");
    let lower = rig.dir.path().join("lower");
    let upper = rig.dir.path().join("upper");
    install_busybox(&lower);
    std::fs::write(lower.join("a.txt"), "from-lower").unwrap();
    std::fs::write(lower.join("gone.txt"), "should be hidden").unwrap();
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::write(upper.join("a.txt"), "from-upper").unwrap();
    std::fs::write(upper.join(".wh.gone.txt"), "").unwrap();
    let store = rig.dir.path().join("store");
    let out = rig
        .cmd()
        .args([
            "image",
            "--store",
            store.to_str().unwrap(),
            "build",
            "--name",
            "two",
        ])
        .arg(&lower)
        .arg(&upper)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ls = text(
        &rig.isorun(&["image", "--store", store.to_str().unwrap(), "ls"])
            .stdout,
    );
    assert!(ls.contains("two") && ls.contains(" 2 "), "{ls}");

    use_image(
        &rig,
        &store,
        "two",
        "cat /a.txt; echo; ls /gone.txt; echo new > /b.txt && cat /b.txt",
    );
    let out = rig.run();
    let (so, se) = (text(&out.stdout), text(&out.stderr));
    assert!(so.starts_with("from-upper\n"), "{so} {se}");
    assert!(se.contains("gone.txt: No such file"), "{se}");
    assert!(
        so.contains("new"),
        "the container's own upper layer is writable: {so}"
    );
    // The write went to the container's upper dir, not into a layer.
    let store_files = walk(&store);
    assert!(
        !store_files.iter().any(|p| p.ends_with("b.txt")),
        "{store_files:?}"
    );
    rig.assert_clean();
    // A second container starts from the image again, not from the first's changes.
    let out = rig.run();
    assert!(
        text(&out.stderr).contains("b.txt: No such file")
            || !text(&out.stdout).contains("new\nnew")
    );

    let rm = rig.isorun(&["image", "--store", store.to_str().unwrap(), "rm", "two"]);
    assert!(rm.status.success(), "{}", text(&rm.stderr));
    assert_eq!(std::fs::read_dir(store.join("layers")).unwrap().count(), 0);
}

fn walk(p: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            out.push(e.path());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(walk(&e.path()));
            }
        }
    }
    out
}

/// Write a blob into an OCI layout; returns its descriptor JSON.
fn blob(layout: &Path, media: &str, data: &[u8]) -> serde_json::Value {
    let hex = hex::encode(sha2::Sha256::digest(data));
    std::fs::write(layout.join("blobs/sha256").join(&hex), data).unwrap();
    serde_json::json!({"mediaType": media, "digest": format!("sha256:{hex}"), "size": data.len()})
}

fn gz_tar(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (path, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        match data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                h.set_mode(0o755);
                b.append_data(&mut h, path, *d).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                b.append_data(&mut h, path, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap().finish().unwrap()
}

#[test]
fn oci_layout_import_applies_whiteouts_and_opaque_dirs() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("oci", "");
    let layout = rig.dir.path().join("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let bb = std::fs::read(common::BUSYBOX).unwrap();
    let l1 = gz_tar(&[
        ("bin/", None),
        ("bin/sh", Some(&bb)),
        ("etc/", None),
        ("etc/old.conf", Some(b"old")),
        ("etc/keep.conf", Some(b"keep")),
        ("data/", None),
        ("data/stale", Some(b"stale")),
    ]);
    let l2 = gz_tar(&[
        ("etc/.wh.old.conf", Some(b"")),
        ("data/", None),
        ("data/.wh..wh..opq", Some(b"")),
        ("data/fresh", Some(b"fresh")),
    ]);
    let gz = "application/vnd.oci.image.layer.v1.tar+gzip";
    let d1 = blob(&layout, gz, &l1);
    let d2 = blob(&layout, gz, &l2);
    let cfg = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": []}
    });
    let dc = blob(
        &layout,
        "application/vnd.oci.image.config.v1+json",
        cfg.to_string().as_bytes(),
    );
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dc, "layers": [d1, d2]
    });
    let mut dm = blob(
        &layout,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    );
    dm["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "itest:1"});
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [dm]});
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();

    let store = rig.dir.path().join("store");
    let out = rig
        .cmd()
        .args(["image", "--store", store.to_str().unwrap(), "import"])
        .arg(&layout)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("itest:1 "),
        "{}",
        text(&out.stdout)
    );

    use_image(
        &rig,
        &store,
        "itest:1",
        "echo etc: /etc/*; echo data: /data/*",
    );
    let out = rig.run();
    let so = text(&out.stdout);
    assert!(
        so.contains("etc: /etc/keep.conf\n"),
        "{so} {}",
        text(&out.stderr)
    );
    assert!(so.contains("data: /data/fresh\n"), "{so}");
    rig.assert_clean();

    // A corrupted blob is refused by digest.
    let store2 = rig.dir.path().join("store2");
    let hex = d2["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let mut bad = l2.clone();
    bad.extend_from_slice(b"garbage");
    std::fs::write(layout.join("blobs/sha256").join(hex), bad).unwrap();
    let out = rig
        .cmd()
        .args(["image", "--store", store2.to_str().unwrap(), "import"])
        .arg(&layout)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("digest"),
        "{}",
        text(&out.stderr)
    );
}
