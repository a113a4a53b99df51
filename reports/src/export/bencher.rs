//! Bencher Metric Format (BMF) JSON, as accepted by `bencher run --adapter json`:
//! `{ "<benchmark>": { "<measure>": { "value", "lower_value", "upper_value" } } }`.
//! The benchmark is `<workload>/<metric>/<env_id>`, the measure is the metric
//! name as a slug, the value the geometric mean and the bounds its 95% interval.

use crate::analysis::Analysis;
use serde_json::{json, Map, Value};

/// `triad_mbs` → `triad-mbs`.
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

pub fn to_bmf(a: &Analysis) -> Value {
    let mut out = Map::new();
    for f in &a.figures {
        let s = &f.summary;
        let name = format!("{}/{}/{}", f.workload, f.metric, f.env_id);
        let entry = out.entry(name).or_insert_with(|| json!({}));
        // The value is the geometric mean: the statistic the interval belongs to.
        entry[slug(&f.metric)] = match s.ci {
            Some(ci) => json!({"value": s.centre, "lower_value": ci.lo, "upper_value": ci.hi}),
            None => json!({"value": s.centre}),
        };
    }
    Value::Object(out)
}

/// Pretty-printed BMF text.
pub fn to_bmf_string(a: &Analysis) -> String {
    serde_json::to_string_pretty(&to_bmf(a)).unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyse, StatsOptions};
    use crate::testdata;

    #[test]
    fn every_figure_has_value_and_bounds() {
        let a = analyse(
            &testdata::fixture_run(3, 1.0).records,
            StatsOptions { resamples: 100 },
        );
        let v: Value = serde_json::from_str(&to_bmf_string(&a)).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), a.figures.len());
        let t = &v["membw/triad_mbs/container-runc"]["triad-mbs"];
        let (lo, val, hi) = (
            t["lower_value"].as_f64().unwrap(),
            t["value"].as_f64().unwrap(),
            t["upper_value"].as_f64().unwrap(),
        );
        assert!(lo <= val && val <= hi && val > 1000.0);
    }
}
