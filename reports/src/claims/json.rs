//! `claims.json`: the verdicts of a report in a versioned, documented form
//! (docs/claims.md) for programs: per claim and part the verdict, the limits
//! applied and the deciding figures with value, interval, n, parameters and
//! environment.

use super::*;
use serde_json::{json, Value};

/// Version of the `claims.json` layout; bumped on any incompatible change.
pub const CLAIMS_SCHEMA: u32 = 1;

/// File name beside every report.
pub const CLAIMS_FILE: &str = "claims.json";

/// The limits a claim's verdict applies, by name (see the constants of
/// [`super`]); the same numbers the verdict texts quote.
pub fn limits(id: &str) -> Value {
    match id {
        "C1" => json!({
            "almost_native_min_speed": ALMOST_NATIVE,
            "about_half_speed_range": [ABOUT_HALF.0, ABOUT_HALF.1],
        }),
        "C2" => json!({ "similar_speed_range": [SIMILAR.0, SIMILAR.1] }),
        "C3" => json!({
            "container_first_instruction_max_ms": CONTAINER_START_MAX_MS,
            "vm_over_container_min_factor": FAR_LONGER,
        }),
        "C4" => json!({
            "containers_per_host_min": HUNDREDS,
            "vm_over_container_memory_min_factor": FOOTPRINT_FACTOR,
        }),
        "C5" => json!({ "undisturbed_min_speed": ALMOST_NATIVE }),
        "C6" => json!({}),
        "C7" => json!({ "copy_up_min_factor": COPY_UP_FACTOR }),
        "C8" => json!({ "a_little_min_speed": A_LITTLE }),
        _ => json!({}),
    }
}

fn figure(c: &Cited) -> Value {
    let (value, interval, n, method) = match &c.number {
        Some(v) => (
            json!(v.point),
            v.ci.map_or(Value::Null, |(lo, hi)| json!([lo, hi])),
            json!(v.n),
            (!v.method.is_empty()).then(|| v.method.clone()),
        ),
        None => (Value::Null, Value::Null, Value::Null, None),
    };
    json!({
        "environment": c.env_id,
        "accel": c.accel,
        "workload": c.workload,
        "metric": c.metric,
        "unit": c.unit,
        "parameters": c.params,
        "value": value,
        "interval": interval,
        "interval_method": method,
        "n": n,
        "text": c.value,
        "vs_native": c.vs_native,
    })
}

fn part(p: &PartResult) -> Value {
    json!({
        "label": p.label,
        "verdict": p.verdict.key(),
        "verdict_text": p.verdict_text(),
        "reason": p.reason,
        "finding": (!p.text.is_empty()).then(|| p.text.clone()),
        "missing": p.missing,
        "figures": p.figures.iter().map(figure).collect::<Vec<_>>(),
    })
}

/// The `claims.json` value of `claims` for the runs `run_ids` on `hosts`.
pub fn to_value(claims: &[ClaimResult], run_ids: &[&str], hosts: &[&str]) -> Value {
    json!({
        "schema": CLAIMS_SCHEMA,
        "run_ids": run_ids,
        "hosts": hosts,
        "claims": claims.iter().map(|c| json!({
            "id": c.id,
            "claim": c.claim,
            "verdict": c.verdict.key(),
            "verdict_text": c.verdict_text(),
            "parts_measured": c.parts_measured(),
            "parts": c.parts.len(),
            "limits": limits(c.id),
            "command": command_for(c.id),
            "part_results": c.parts.iter().map(part).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "unmeasured": unmeasured(claims).iter().map(|u| json!({
            "command": u.command,
            "claims": u.claims,
        })).collect::<Vec<_>>(),
    })
}

/// `claims.json` as pretty-printed text with a trailing newline.
pub fn to_string(claims: &[ClaimResult], run_ids: &[&str], hosts: &[&str]) -> String {
    let mut s = serde_json::to_string_pretty(&to_value(claims, run_ids, hosts))
        .unwrap_or_else(|e| format!("{{\"error\": \"serialising the claims: {e}\"}}"));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyse, StatsOptions};
    use crate::testdata;

    #[test]
    fn every_claim_and_part_is_exported_with_its_numbers() {
        let run = testdata::fixture_run_kvm(4);
        let a = analyse(&run.records, StatsOptions::default());
        let claims = evaluate_with(&a, Some(24 << 30), &Facts::from_records(&run.records));
        let text = to_string(&claims, &["r1"], &["h1"]);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema"], CLAIMS_SCHEMA);
        let cs = v["claims"].as_array().unwrap();
        assert_eq!(cs.len(), claims.len());
        for (j, c) in cs.iter().zip(&claims) {
            assert_eq!(j["id"], c.id);
            assert_eq!(j["verdict"], c.verdict.key());
            assert_eq!(j["part_results"].as_array().unwrap().len(), c.parts.len());
        }
        // C1 is decided from figures with value, interval and n.
        let c1 = &cs[0];
        assert_eq!(c1["limits"]["almost_native_min_speed"], ALMOST_NATIVE);
        let fig = &c1["part_results"][0]["figures"][0];
        let value = fig["value"].as_f64().unwrap();
        let iv = fig["interval"].as_array().unwrap();
        assert!(iv[0].as_f64().unwrap() <= value && value <= iv[1].as_f64().unwrap());
        assert_eq!(fig["n"], 4);
        assert!(fig["environment"].as_str().is_some());
        // Claims the fixture lacks (density, neighbours, permissions) are
        // listed with their commands.
        let cmds: Vec<&str> = v["unmeasured"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["command"].as_str().unwrap())
            .collect();
        assert!(
            cmds.contains(&"isobench run --experiment neighbours"),
            "{cmds:?}"
        );
    }
}
