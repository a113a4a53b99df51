//! Hostile config.json: the parser and validator (`isorun::config::parse`)
//! on the corpus in tests/corpus/config and on proptest-generated configs
//! (the default config with fields replaced, deleted or added at random
//! places, its text with bytes overwritten, and raw bytes). Property: an
//! `Ok` plan or an error, never a panic. And the size cap: a config over
//! [`isorun::config::CONFIG_MAX_BYTES`] is refused with one line before
//! parsing, nothing left behind.
//!
//! Cases per target: `ISORUN_PROPTEST_CASES` (default 256, the smoke run of
//! the normal test command); `scripts/fuzz-isorun.sh` runs 100,000.

mod common;
use isorun::config::{parse, CONFIG_MAX_BYTES};
use proptest::prelude::*;
use serde_json::Value;
use std::path::Path;

fn cases() -> u32 {
    std::env::var("ISORUN_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
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

fn default_config() -> Value {
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

/// Any JSON value, small.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![
            Just(-1i64),
            Just(0),
            Just(4294967295),
            Just(4294967296),
            Just(i64::MIN)
        ]
        .prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("/"),
            Just(".."),
            Just("/proc/self/fd/3"),
            Just("rbind"),
            Just("c"),
            Just("rwm"),
            Just("CAP_SYS_ADMIN"),
            Just("SCMP_ACT_ALLOW"),
            Just("tmpfs"),
            Just("")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-zA-Z]{1,8}",
                    Just("type".to_string()),
                    Just("path".to_string()),
                    Just("options".to_string()),
                    Just("major".to_string()),
                    Just("uid".to_string()),
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One edit of a config: at the place reached by following `steps`
/// (each picks a child by index modulo the count), replace the value,
/// delete it, or add a key.
#[derive(Debug, Clone)]
enum Edit {
    Replace(Vec<usize>, Value),
    Delete(Vec<usize>),
    Add(Vec<usize>, String, Value),
}

fn edit() -> impl Strategy<Value = Edit> {
    let steps = prop::collection::vec(any::<usize>(), 0..5);
    prop_oneof![
        (steps.clone(), json()).prop_map(|(s, v)| Edit::Replace(s, v)),
        steps.clone().prop_map(Edit::Delete),
        (
            steps,
            prop_oneof![
                "[a-zA-Z]{1,10}",
                Just("resources".to_string()),
                Just("devices".to_string()),
                Just("seccomp".to_string()),
                Just("sysctl".to_string()),
                Just("uidMappings".to_string()),
                Just("hooks".to_string()),
            ],
            json()
        )
            .prop_map(|(s, k, v)| Edit::Add(s, k, v)),
    ]
}

/// The value at `steps` below `v` and, for a deletion, its parent's key.
fn walk<'a>(v: &'a mut Value, steps: &[usize]) -> &'a mut Value {
    let mut cur = v;
    for s in steps {
        let len = match &*cur {
            Value::Object(m) => m.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        };
        if len == 0 {
            break;
        }
        cur = match cur {
            Value::Object(m) => m.values_mut().nth(s % len).expect("in range"),
            Value::Array(a) => &mut a[s % len],
            _ => unreachable!("len is 0 for leaves"),
        };
    }
    cur
}

fn apply(v: &mut Value, e: &Edit) {
    match e {
        Edit::Replace(s, new) => *walk(v, s) = new.clone(),
        Edit::Delete(s) if !s.is_empty() => {
            let (last, up) = s.split_last().expect("not empty");
            match walk(v, up) {
                Value::Object(m) if !m.is_empty() => {
                    let k = m.keys().nth(last % m.len()).expect("in range").clone();
                    m.remove(&k);
                }
                Value::Array(a) if !a.is_empty() => {
                    let n = a.len();
                    a.remove(last % n);
                }
                _ => {}
            }
        }
        Edit::Delete(_) => {}
        Edit::Add(s, k, new) => {
            if let Value::Object(m) = walk(v, s) {
                m.insert(k.clone(), new.clone());
            }
        }
    }
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
