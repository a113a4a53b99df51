//! `claims.json`: the verdicts of a report in a versioned, documented form
//! (docs/claims.md) for programs: per column (one run, or runs of one host
//! merged, [`super::merge`]) and claim and part the verdict, the limits
//! applied and the deciding figures with value, interval, n, parameters and
//! environment.

use super::*;
use serde_json::{json, Value};

/// Version of the `claims.json` layout; bumped on any incompatible change.
/// 2: the verdicts moved into `columns` (one per run or host group), so
/// that a report of several runs keeps each host's claims.
pub const CLAIMS_SCHEMA: u32 = 2;

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
        "information": p.info,
        "verdict": p.verdict.key(),
        "verdict_text": p.verdict_text(),
        "reason": p.reason,
        "finding": (!p.text.is_empty()).then(|| p.text.clone()),
        "missing": p.missing,
        "figures": p.figures.iter().map(figure).collect::<Vec<_>>(),
    })
}

/// One column of verdicts: the claims of one run, or of several runs of
/// one host merged ([`super::merge`]).
#[derive(Debug, Clone, Copy)]
pub struct ClaimsColumn<'a> {
    /// The column's heading in the report (the host, or the host and when).
    pub label: &'a str,
    /// The host's name.
    pub host: &'a str,
    /// The runs whose parts the column holds, in order.
    pub run_ids: &'a [&'a str],
    pub claims: &'a [ClaimResult],
}

fn claims_value(claims: &[ClaimResult]) -> Value {
    json!(claims
        .iter()
        .map(|c| json!({
            "id": c.id,
            "claim": c.claim,
            "verdict": c.verdict.key(),
            "verdict_text": c.verdict_text(),
            "parts_measured": c.parts_measured(),
            "parts": c.parts_decisive(),
            "limits": limits(c.id),
            "command": command_for(c.id),
            "part_results": c.parts.iter().map(part).collect::<Vec<_>>(),
        }))
        .collect::<Vec<_>>())
}

/// The `claims.json` value of a report with these columns: every run id
/// and host once, in order, then each column's verdicts and what it did not
/// measure.
pub fn columns_value(cols: &[ClaimsColumn]) -> Value {
    let mut run_ids: Vec<&str> = Vec::new();
    let mut hosts: Vec<&str> = Vec::new();
    for c in cols {
        for &r in c.run_ids {
            if !run_ids.contains(&r) {
                run_ids.push(r);
            }
        }
        if !hosts.contains(&c.host) {
            hosts.push(c.host);
        }
    }
    json!({
        "schema": CLAIMS_SCHEMA,
        "run_ids": run_ids,
        "hosts": hosts,
        "columns": cols.iter().map(|c| json!({
            "label": c.label,
            "host": c.host,
            "run_ids": c.run_ids,
            "claims": claims_value(c.claims),
            "unmeasured": unmeasured(c.claims).iter().map(|u| json!({
                "command": u.command,
                "claims": u.claims,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The `claims.json` value of one run's `claims` (one column).
pub fn to_value(claims: &[ClaimResult], run_ids: &[&str], hosts: &[&str]) -> Value {
    let host = hosts.join(", ");
    columns_value(&[ClaimsColumn {
        label: &host,
        host: &host,
        run_ids,
        claims,
    }])
}

/// Pretty-printed JSON with a trailing newline.
pub fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v)
        .unwrap_or_else(|e| format!("{{\"error\": \"serialising the claims: {e}\"}}"));
    s.push('\n');
    s
}

/// `claims.json` of one run as pretty-printed text with a trailing newline.
pub fn to_string(claims: &[ClaimResult], run_ids: &[&str], hosts: &[&str]) -> String {
    pretty(&to_value(claims, run_ids, hosts))
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
        assert_eq!(v["run_ids"], json!(["r1"]));
        assert_eq!(v["hosts"], json!(["h1"]));
        let cols = v["columns"].as_array().unwrap();
        assert_eq!(cols.len(), 1);
        assert_eq!(cols[0]["label"], "h1");
        assert_eq!(cols[0]["run_ids"], json!(["r1"]));
        let cs = cols[0]["claims"].as_array().unwrap();
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
        let cmds: Vec<&str> = cols[0]["unmeasured"]
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
