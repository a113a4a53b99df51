//! Hostile images: OCI image layouts (index, nested index, manifest,
//! config) and layer tar streams, generated and mutated by proptest, go
//! through `isorun::image::oci::import` and `layer::unpack`. Properties: no
//! panic, and nothing outside the layer directory is touched.
//!
//! Cases per target: `ISORUN_PROPTEST_CASES` (default 64, the smoke run of
//! the normal test command); runtime/README.md, "Hostile input", gives the
//! command that runs 100,000.

mod fuzzkit;
use fuzzkit::{apply, edit, Edit};
use isorun::image::{layer, oci, Store};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::path::Path;

fn cases() -> u32 {
    fuzzkit::cases(64)
}

/// One tar entry to generate.
#[derive(Debug, Clone)]
enum Entry {
    File(String, Vec<u8>),
    Dir(String),
    Symlink(String, String),
    Hardlink(String, String),
}

fn name() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "[a-c]{1,2}",
        Just(".wh.a".to_string()),
        Just(".wh..wh..opq".to_string()),
        Just(".wh.".to_string()),
        Just("..".to_string()),
        Just(".".to_string()),
    ];
    (prop::collection::vec(part, 1..4), any::<bool>()).prop_map(|(v, abs)| {
        let p = v.join("/");
        if abs {
            format!("/{p}")
        } else {
            p
        }
    })
}

fn entries(host: String) -> impl Strategy<Value = Vec<Entry>> {
    let target = prop_oneof![
        name(),
        Just(host.clone()),
        Just(format!("{host}/x")),
        Just("/".to_string()),
        Just("../../..".to_string()),
    ];
    let entry = prop_oneof![
        (name(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(n, d)| Entry::File(n, d)),
        name().prop_map(Entry::Dir),
        (name(), target.clone()).prop_map(|(n, t)| Entry::Symlink(n, t)),
        (name(), target).prop_map(|(n, t)| Entry::Hardlink(n, t)),
    ];
    prop::collection::vec(entry, 0..8)
}

/// A tar stream of `entries`, names and link targets written raw (the tar
/// crate's safe setters would refuse the hostile ones).
fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_old();
        let (path, link, kind, data): (&str, Option<&str>, _, &[u8]) = match e {
            Entry::File(n, d) => (n, None, tar::EntryType::Regular, d),
            Entry::Dir(n) => (n, None, tar::EntryType::Directory, &[]),
            Entry::Symlink(n, t) => (n, Some(t), tar::EntryType::Symlink, &[]),
            Entry::Hardlink(n, t) => (n, Some(t), tar::EntryType::Link, &[]),
        };
        let raw = h.as_old_mut();
        let n = path.len().min(99);
        raw.name[..n].copy_from_slice(&path.as_bytes()[..n]);
        if let Some(t) = link {
            let n = t.len().min(99);
            raw.linkname[..n].copy_from_slice(&t.as_bytes()[..n]);
        }
        h.set_entry_type(kind);
        h.set_mode(0o755);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Every path under `dir` with its kind and content, to compare before
/// and after.
fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else if m.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&p).unwrap())
            } else {
                format!(
                    "{:?} {:?}",
                    m.file_type(),
                    std::fs::read(&p).unwrap_or_default()
                )
            };
            let xattr = xattrs(&p);
            out.push((p.display().to_string(), format!("{what} {xattr}")));
        }
    }
    out.sort();
    out
}

fn xattrs(p: &Path) -> String {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let mut buf = vec![0u8; 4096];
    // Safety: buf is valid for its length; lgetxattr does not follow links.
    let n = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return String::new();
    }
    String::from_utf8_lossy(&buf[..n as usize]).into_owned()
}

/// A "host" directory outside the layer, with a file, a subdirectory and
/// a file in it: generated links point at it.
fn host_dir(base: &Path) -> std::path::PathBuf {
    let h = base.join("host");
    std::fs::create_dir_all(h.join("x")).unwrap();
    std::fs::write(h.join("a"), "host").unwrap();
    std::fs::write(h.join("x/a"), "host").unwrap();
    h
}

fn unpack_case(base: &Path, entries: &[Entry], mutate: &[(usize, u8)]) {
    let host = base.join("host");
    let before = snapshot(&host);
    let dest = base.join("layer");
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::create_dir(&dest).unwrap();
    let mut bytes = tar_of(entries);
    for (at, v) in mutate {
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] = *v;
        }
    }
    let r = layer::unpack(&bytes[..], &dest);
    if std::env::var_os("H19F_DEBUG").is_some() {
        eprintln!("{r:?} {:?}", snapshot(&dest));
    }
    assert_eq!(snapshot(&host), before, "the host directory changed");
}

#[test]
fn whiteout_and_opaque_behind_a_symlink_stay_in_the_layer() {
    let t = tempfile::Builder::new()
        .prefix("h19f-layer-")
        .tempdir()
        .unwrap();
    let host = host_dir(t.path());
    let h = host.display().to_string();
    for entries in [
        vec![
            Entry::Symlink("l".into(), h.clone()),
            Entry::File("l/.wh.a".into(), vec![]),
        ],
        vec![
            Entry::Symlink("l".into(), h.clone()),
            Entry::File("l/x/.wh.a".into(), vec![]),
        ],
        vec![
            Entry::Symlink("l".into(), h.clone()),
            Entry::File("l/x/.wh..wh..opq".into(), vec![]),
        ],
        vec![
            Entry::Symlink("l".into(), h),
            Entry::File("l/new/.wh.a".into(), vec![]),
        ],
    ] {
        unpack_case(t.path(), &entries, &[]);
    }
}

/// A valid OCI layout's documents around one layer: (index, nested
/// index, manifest, config), each with its blob digest where it is a blob.
struct Layout {
    index: Value,
    nested: Value,
    manifest: Value,
    config: Value,
}

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", layer::sha256_hex(b))
}

fn base_layout(layer_digest: &str, layer_size: usize, gzip: bool) -> Layout {
    let config = json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "config": {"Env": ["A=b"], "Cmd": ["/bin/sh"], "WorkingDir": "/"}});
    let cfg_bytes = serde_json::to_vec(&config).unwrap();
    let media = if gzip {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    } else {
        "application/vnd.oci.image.layer.v1.tar"
    };
    let manifest = json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(&cfg_bytes), "size": cfg_bytes.len()},
        "layers": [{"mediaType": media, "digest": layer_digest, "size": layer_size}]});
    let m_bytes = serde_json::to_vec(&manifest).unwrap();
    let nested = json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": digest(&m_bytes), "size": m_bytes.len(),
         "platform": {"architecture": "amd64", "os": "linux"}}]});
    let n_bytes = serde_json::to_vec(&nested).unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json",
         "digest": digest(&n_bytes), "size": n_bytes.len(),
         "annotations": {"org.opencontainers.image.ref.name": "fuzz"}}]});
    Layout {
        index,
        nested,
        manifest,
        config,
    }
}

/// Write the layout under `dir`: blobs are filed under the digests the
/// unedited documents had, so an edit changes content, not names.
fn write_layout(dir: &Path, l: &Layout, orig: &Layout, layer_bytes: &[u8], layer_digest: &str) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&l.index).unwrap(),
    )
    .unwrap();
    let put = |name: &str, b: &[u8]| {
        let hex = name.strip_prefix("sha256:").unwrap();
        std::fs::write(blobs.join(hex), b).unwrap();
    };
    for (now, was) in [
        (&l.nested, &orig.nested),
        (&l.manifest, &orig.manifest),
        (&l.config, &orig.config),
    ] {
        put(
            &digest(&serde_json::to_vec(was).unwrap()),
            &serde_json::to_vec(now).unwrap(),
        );
    }
    put(layer_digest, layer_bytes);
}

fn gz(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Import a layout built from `entries` (links to "/PLACEHOLDER" pointed at
/// the host directory), edited by `edits` (each on the index, nested index,
/// manifest or config: `which` % 4), the layer bytes overwritten at
/// `mutate`. Nothing may panic or change the host directory.
fn import_case(
    entries: &[Entry],
    edits: &[(u8, Edit)],
    mutate: &[(usize, u8)],
    gzip: bool,
) -> isorun::Result<isorun::image::Image> {
    let t = tempfile::Builder::new()
        .prefix("h19f-image-")
        .tempdir()
        .unwrap();
    let host = host_dir(t.path());
    let before = snapshot(&host);
    let h = host.display().to_string();
    let entries: Vec<Entry> = entries
        .iter()
        .cloned()
        .map(|e| match e {
            Entry::Symlink(n, l) => Entry::Symlink(n, l.replace("/PLACEHOLDER", &h)),
            Entry::Hardlink(n, l) => Entry::Hardlink(n, l.replace("/PLACEHOLDER", &h)),
            e => e,
        })
        .collect();
    let mut bytes = tar_of(&entries);
    if gzip {
        bytes = gz(&bytes);
    }
    for (at, v) in mutate {
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] = *v;
        }
    }
    let ld = digest(&bytes);
    let orig = base_layout(&ld, bytes.len(), gzip);
    let mut l = base_layout(&ld, bytes.len(), gzip);
    for (which, e) in edits {
        let doc = match which % 4 {
            0 => &mut l.index,
            1 => &mut l.nested,
            2 => &mut l.manifest,
            _ => &mut l.config,
        };
        apply(doc, e);
    }
    let layout = t.path().join("layout");
    write_layout(&layout, &l, &orig, &bytes, &ld);
    let store = Store::open(t.path().join("store")).unwrap();
    let r = oci::import(&store, &layout, None, Some("h19f-fuzz"));
    assert_eq!(snapshot(&host), before, "the host directory changed");
    r
}

#[test]
fn an_unedited_layout_imports() {
    let img = import_case(
        &[Entry::File("etc/hostname".into(), b"box".to_vec())],
        &[],
        &[],
        true,
    )
    .unwrap();
    assert_eq!(img.config.cmd, ["/bin/sh"]);
}

#[test]
fn an_index_naming_itself_is_refused_not_followed_forever() {
    let t = tempfile::Builder::new()
        .prefix("h19f-image-")
        .tempdir()
        .unwrap();
    let blobs = t.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let me = format!("sha256:{}", "a".repeat(64));
    let index = json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": me, "size": 1}]});
    let bytes = serde_json::to_vec(&index).unwrap();
    std::fs::write(t.path().join("index.json"), &bytes).unwrap();
    std::fs::write(blobs.join("a".repeat(64)), &bytes).unwrap();
    let store = Store::open(t.path().join("store")).unwrap();
    let e = oci::import(&store, t.path(), None, Some("h19f-loop")).unwrap_err();
    assert!(e.to_string().contains("nest"), "{e}");
}

#[test]
fn an_index_over_the_cap_is_refused() {
    let t = tempfile::Builder::new()
        .prefix("h19f-image-")
        .tempdir()
        .unwrap();
    let mut bytes = br#"{"schemaVersion": 2, "manifests": []}"#.to_vec();
    bytes.resize((oci::JSON_MAX_BYTES + 1) as usize, b' ');
    std::fs::write(t.path().join("index.json"), &bytes).unwrap();
    let store = Store::open(t.path().join("store")).unwrap();
    let e = oci::import(&store, t.path(), None, Some("h19f-big")).unwrap_err();
    assert!(e.to_string().contains("cap of 4 MiB"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Layers: generated tar streams (hostile names, links to the "host"
    /// directory, whiteouts, opaque markers), a few bytes overwritten.
    #[test]
    fn layer_unpack_never_panics_nor_touches_the_host(
        seed in entries("/PLACEHOLDER".into()),
        mutate in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
    ) {
        let t = tempfile::Builder::new().prefix("h19f-layer-").tempdir().unwrap();
        let host = host_dir(t.path()).display().to_string();
        let entries: Vec<Entry> = seed
            .into_iter()
            .map(|e| match e {
                Entry::Symlink(n, l) => Entry::Symlink(n, l.replace("/PLACEHOLDER", &host)),
                Entry::Hardlink(n, l) => Entry::Hardlink(n, l.replace("/PLACEHOLDER", &host)),
                e => e,
            })
            .collect();
        unpack_case(t.path(), &entries, &mutate);
    }

    /// Whole layouts: index, nested index, manifest and config edited at
    /// random, the layer generated as above, plain or gzipped.
    #[test]
    fn image_import_never_panics_nor_touches_the_host(
        entries in entries("/PLACEHOLDER".into()),
        edits in prop::collection::vec((any::<u8>(), edit()), 0..4),
        mutate in prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        gzip in any::<bool>(),
    ) {
        let _ = import_case(&entries, &edits, &mutate, gzip);
    }
}
