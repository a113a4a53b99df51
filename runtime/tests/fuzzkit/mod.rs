//! Shared by the proptest targets (tests/proptest_*.rs): the case count and
//! random edits of JSON documents.

#![allow(dead_code)]

use proptest::prelude::*;
use serde_json::Value;

/// Cases per proptest target: `ISORUN_PROPTEST_CASES`, else `smoke` (the
/// normal test command's run).
pub fn cases(smoke: u32) -> u32 {
    std::env::var("ISORUN_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(smoke)
}

/// Any JSON value, small.
pub fn json() -> impl Strategy<Value = Value> {
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
pub enum Edit {
    Replace(Vec<usize>, Value),
    Delete(Vec<usize>),
    Add(Vec<usize>, String, Value),
}

pub fn edit() -> impl Strategy<Value = Edit> {
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
pub fn walk<'a>(v: &'a mut Value, steps: &[usize]) -> &'a mut Value {
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

pub fn apply(v: &mut Value, e: &Edit) {
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
