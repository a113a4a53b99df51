//! Hostile config.json: the parser and validator (`isorun::config::parse`)
//! on the corpus in tests/corpus/config and on proptest-generated configs
//! (the default config with fields replaced, deleted or added at random
//! places, its text with bytes overwritten, and raw bytes). Property: an
//! `Ok` plan or an error, never a panic. And the size cap: a config over
//! [`isorun::config::CONFIG_MAX_BYTES`] is refused with one line before
//! parsing, nothing left behind.
//!
//! Cases per target: `ISORUN_PROPTEST_CASES` (default 256, the smoke run of
//! the normal test command); runtime/README.md, "Hostile input", gives the
//! command that runs 100,000.

mod common;
mod fuzzkit;
use fuzzkit::{apply, edit};
use isorun::config::{parse, CONFIG_MAX_BYTES};
use proptest::prelude::*;
use std::path::Path;

fn cases() -> u32 {
    fuzzkit::cases(256)
}

fn try_parse(text: &[u8]) -> bool {
    parse(
        text,
        Path::new("/b/config.json"),
        Path::new("/b"),
        "h19f-fuzz",
    )
    .is_ok()
}

fn default_config() -> serde_json::Value {
    isorun::spec::default_json(&["/bin/sh".into()])
}

#[test]
fn corpus_parses_or_fails_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/config");
    let mut n = 0;
    let mut ok = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read(e.unwrap().path()).unwrap();
        n += 1;
        ok += try_parse(&text) as usize;
    }
    assert!(n >= 10, "corpus at {} has {n} files", dir.display());
    // runc spec's default config (terminal off) is the one that must pass.
    let runc = std::fs::read(dir.join("runc-default.json")).unwrap();
    assert!(try_parse(&runc));
    assert!(ok < n, "every hostile config was accepted");
}

#[test]
fn the_cap_is_on_the_bytes_not_the_meaning() {
    let text = serde_json::to_vec(&default_config()).unwrap();
    let pad = |total: u64| {
        let mut t = text.clone();
        t.resize(total as usize, b' ');
        t
    };
    // Whitespace is valid JSON: at the cap it parses, one byte over it is
    // refused.
    assert!(try_parse(&pad(CONFIG_MAX_BYTES)));
    let e = parse(
        &pad(CONFIG_MAX_BYTES + 1),
        Path::new("/b/config.json"),
        Path::new("/b"),
        "x",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("cap of 4 MiB"), "{e}");
}

/// `isorun run` of a bundle whose config.json is `make(path)`: the exit
/// status and stderr.
fn run_with_config(
    name: &str,
    make: impl FnOnce(&Path),
) -> (bool, String, std::path::PathBuf, tempfile::TempDir) {
    let d = tempfile::Builder::new()
        .prefix("h19f-cap-")
        .tempdir()
        .unwrap();
    let bundle = d.path().join("bundle");
    std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
    make(&bundle.join("config.json"));
    let root = d.path().join("state");
    let out = std::process::Command::new(common::isorun_bin())
        .arg("--root")
        .arg(&root)
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(format!("h19f-{name}-{}", std::process::id()))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let left = root.join(format!("h19f-{name}-{}", std::process::id()));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        left,
        d,
    )
}

#[test]
fn a_config_over_the_cap_is_refused_with_one_line() {
    let mut big = serde_json::to_vec(&default_config()).unwrap();
    big.resize((CONFIG_MAX_BYTES + (1 << 20)) as usize, b' ');
    let (ok, err, left, _d) = run_with_config("big", |p| std::fs::write(p, &big).unwrap());
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cap of 4 MiB"), "{err}");
    assert!(!left.exists());

    // An endless config.json is read no further than the cap.
    let (ok, err, left, _d) = run_with_config("zero", |p| {
        std::os::unix::fs::symlink("/dev/zero", p).unwrap()
    });
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cap of 4 MiB"), "{err}");
    assert!(!left.exists());
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The default config with a few edits anywhere in it.
    #[test]
    fn edited_configs_never_panic(edits in prop::collection::vec(edit(), 1..5)) {
        let mut v = default_config();
        for e in &edits {
            apply(&mut v, e);
        }
        try_parse(&serde_json::to_vec(&v).unwrap());
    }

    /// The default config's text with bytes overwritten, cut or doubled.
    #[test]
    fn mangled_config_text_never_panics(
        writes in prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in any::<Option<usize>>(),
    ) {
        let mut t = serde_json::to_vec(&default_config()).unwrap();
        for (at, b) in writes {
            let n = t.len();
            t[at % n] = b;
        }
        if let Some(c) = cut {
            let n = t.len();
            t.truncate(c % n);
        }
        try_parse(&t);
    }

    /// Raw bytes.
    #[test]
    fn raw_bytes_never_panic(t in prop::collection::vec(any::<u8>(), 0..256)) {
        let accepted = try_parse(&t);
        prop_assert!(!accepted || t.first() == Some(&b'{'), "accepted {t:?}");
    }
}
