//! Hostile images: OCI image layouts (index, nested index, manifest,
//! config) and layer tar streams, generated and mutated by proptest, go
//! through `isorun::image::oci::import` and `layer::unpack`. Properties: no
//! panic, and nothing outside the layer directory is touched.
//!
//! Cases per target: `ISORUN_PROPTEST_CASES` (default 64, the smoke run of
//! the normal test command); `scripts/fuzz-isorun.sh` runs 100,000.

use isorun::image::layer;
use proptest::prelude::*;
use std::path::Path;

fn cases() -> u32 {
    std::env::var("ISORUN_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
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
}
