//! Bencher Metric Format (BMF) JSON, as accepted by `bencher run --adapter json`:
//! `{ "<benchmark>": { "<measure>": { "value", "lower_value", "upper_value" } } }`.
//!
//! The benchmark is `<workload>/<environment>` (the environment is a path
//! component of its own, never fused with the metric) and the measure is the
//! metric's name exactly as in `results.csv` (`triad_mbs`); the value is the
//! geometric mean and the bounds its 95% interval. The experiments export
//! their own figures: density `density/<environment>` (`instance_pss_mib`,
//! `host_mem_per_instance_mib`), neighbours
//! `neighbour/<environment>/<victim>/<antagonist>/<placement>`
//! (`<metric>_speed_vs_alone`), permissions `permissions/<environment>/<model>`
//! (`foreign_actions`).

use crate::analysis::Analysis;
use crate::facts::Facts;
use crate::stats::Estimate;
use serde_json::{json, Map, Value};

fn put(out: &mut Map<String, Value>, bench: String, measure: &str, v: Value) {
    let entry = out.entry(bench).or_insert_with(|| json!({}));
    entry[measure] = v;
}

fn estimate(e: &Estimate) -> Value {
    json!({"value": e.point, "lower_value": e.lo, "upper_value": e.hi})
}

/// The workload figures and the experiments' ones.
pub fn to_bmf_with(a: &Analysis, facts: &Facts) -> Value {
    let mut out = Map::new();
    for f in &a.figures {
        let s = &f.summary;
        // The value is the geometric mean: the statistic the interval belongs to.
        let v = match s.ci {
            Some(ci) => json!({"value": s.centre, "lower_value": ci.lo, "upper_value": ci.hi}),
            None => json!({"value": s.centre}),
        };
        put(
            &mut out,
            format!("{}/{}", f.workload, f.env_id),
            &f.metric,
            v,
        );
    }
    for d in &facts.density {
        let bench = format!("{}/{}", crate::density::WORKLOAD, d.env_id);
        if let Some(e) = &d.pss_mib {
            put(&mut out, bench.clone(), "instance_pss_mib", estimate(e));
        }
        if let Some(e) = &d.marginal_mib {
            put(&mut out, bench, "host_mem_per_instance_mib", estimate(e));
        }
    }
    for x in &facts.slowdowns {
        let bench = format!(
            "{}/{}/{}/{}/{}",
            crate::neighbours::WORKLOAD,
            x.env_id,
            x.victim,
            x.antagonist,
            x.placement
        );
        let measure = format!("{}_speed_vs_alone", x.metric);
        put(&mut out, bench, &measure, estimate(&x.speed));
    }
    for r in &facts.permissions {
        let bench = format!("{}/{}/{}", crate::permissions::WORKLOAD, r.env_id, r.model);
        put(
            &mut out,
            bench,
            "foreign_actions",
            json!({"value": r.foreign_actions}),
        );
    }
    Value::Object(out)
}

/// Pretty-printed BMF text of the workload figures.
pub fn to_bmf_string(a: &Analysis) -> String {
    to_bmf_string_with(a, &Facts::default())
}

/// Pretty-printed BMF text of the workload and experiment figures.
pub fn to_bmf_string_with(a: &Analysis, facts: &Facts) -> String {
    serde_json::to_string_pretty(&to_bmf_with(a, facts)).unwrap_or_else(|_| "{}".into())
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
        let measures: usize = obj.values().map(|m| m.as_object().unwrap().len()).sum();
        assert_eq!(measures, a.figures.len());
        let t = &v["membw/container-runc"]["triad_mbs"];
        let (lo, val, hi) = (
            t["lower_value"].as_f64().unwrap(),
            t["value"].as_f64().unwrap(),
            t["upper_value"].as_f64().unwrap(),
        );
        assert!(lo <= val && val <= hi && val > 1000.0);
    }

    #[test]
    fn experiments_export_their_figures() {
        let run = testdata::fixture_run(3, 1.0);
        let mut recs = testdata::density_records("container-isorun", "", 12, 2.0, 1.5);
        recs.extend(testdata::neighbour_records(
            "kvm",
            &[("container", "partitioned", 0.7)],
        ));
        let facts = Facts::from_records(&recs);
        let a = analyse(&run.records, StatsOptions::default());
        let v = to_bmf_with(&a, &facts);
        let d = &v["density/container-isorun"];
        assert!(
            d["instance_pss_mib"]["value"].as_f64().unwrap() > 0.0,
            "{d}"
        );
        let names: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(&format!("{}/", crate::neighbours::WORKLOAD))),
            "{names:?}"
        );
    }
}
