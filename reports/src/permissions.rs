//! Who may act on whose containers (claim C6): the records of `isobench run
//! --experiment permissions` as one row per setup, the table of the report
//! (setup × action → allowed / denied) and what each sharing model says
//! about the claim. Pure: no disk.
//!
//! Record format: workload [`WORKLOAD`]; `params.model` (the sharing model:
//! shared daemon, shared state root, per-user rootless), `params.engine`,
//! `params.privilege`, `params.how`; metrics `foreign_actions` and
//! `attempts`; `info.action_<verb>` = allowed | denied | inconclusive and
//! `info.why_<verb>`; an invalid record is a setup not available here, its
//! `error` saying why.

use crate::schema::ResultRecord;

/// Workload name of the experiment's records.
pub const WORKLOAD: &str = crate::schema::PERMISSIONS_WORKLOAD;
/// The verbs tried, in order.
pub const ACTIONS: [&str; 4] = ["state", "exec", "kill", "delete"];

/// One setup's check.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionRow {
    pub env_id: String,
    pub model: String,
    pub engine: String,
    pub privilege: String,
    pub how: String,
    /// `Err(reason)`: the setup could not be made here.
    pub available: Result<(), String>,
    /// (verb, outcome, why) per verb tried.
    pub actions: Vec<(String, String, String)>,
    pub foreign_actions: u64,
    pub attempts: u64,
}

impl PermissionRow {
    /// Outcome of `verb`, if it was tried.
    pub fn outcome(&self, verb: &str) -> Option<&str> {
        self.actions
            .iter()
            .find(|a| a.0 == verb)
            .map(|a| a.1.as_str())
    }

    /// The verbs B could do.
    pub fn allowed(&self) -> Vec<&str> {
        self.actions
            .iter()
            .filter(|a| a.1 == "allowed")
            .map(|a| a.0.as_str())
            .collect()
    }

    /// Whether B was shut out: nothing allowed, everything tried denied.
    pub fn all_denied(&self) -> bool {
        self.available.is_ok() && self.attempts > 0 && self.actions.iter().all(|a| a.1 == "denied")
    }
}

/// Every setup's row, in record order (invalid records too: not available).
pub fn rows(records: &[ResultRecord]) -> Vec<PermissionRow> {
    records
        .iter()
        .filter(|r| r.workload == WORKLOAD)
        .map(|r| {
            let p = |k: &str| {
                r.params
                    .get(k)
                    .and_then(|v| v.as_str())
                    .or_else(|| r.env_detail.get(k).map(String::as_str))
                    .unwrap_or("")
                    .to_string()
            };
            let actions = ACTIONS
                .iter()
                .filter_map(|v| {
                    r.info.get(&format!("action_{v}")).map(|o| {
                        (
                            v.to_string(),
                            o.clone(),
                            r.info.get(&format!("why_{v}")).cloned().unwrap_or_default(),
                        )
                    })
                })
                .collect();
            let m = |k: &str| r.metrics.get(k).copied().unwrap_or(0.0).max(0.0) as u64;
            PermissionRow {
                env_id: r.env_id.clone(),
                model: p("model"),
                engine: p("engine"),
                privilege: p("privilege"),
                how: p("how"),
                available: if r.valid {
                    Ok(())
                } else {
                    Err(r
                        .error
                        .clone()
                        .unwrap_or_else(|| "not available".into())
                        .trim_start_matches("not available: ")
                        .to_string())
                },
                actions,
                foreign_actions: m("foreign_actions"),
                attempts: m("attempts"),
            }
        })
        .collect()
}

/// The models in first-seen order, each with its rows.
pub fn by_model(rows: &[PermissionRow]) -> Vec<(String, Vec<&PermissionRow>)> {
    let mut out: Vec<(String, Vec<&PermissionRow>)> = Vec::new();
    for r in rows {
        match out.iter_mut().find(|(m, _)| *m == r.model) {
            Some((_, v)) => v.push(r),
            None => out.push((r.model.clone(), vec![r])),
        }
    }
    out
}

/// The report's table: one row per setup, one column per verb.
pub fn table(rows: &[PermissionRow]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut head = vec!["setup".to_string(), "model".to_string()];
    head.extend(ACTIONS.iter().map(|a| format!("B: {a}")));
    head.push("foreign actions".into());
    let body = rows
        .iter()
        .map(|r| {
            let mut row = vec![r.env_id.clone(), r.model.clone()];
            match &r.available {
                Err(why) => {
                    row.extend(ACTIONS.iter().map(|_| "–".to_string()));
                    row.push(format!("not available ({why})"));
                }
                Ok(()) => {
                    row.extend(ACTIONS.iter().map(|v| match r.outcome(v) {
                        Some(o) => o.to_string(),
                        None => "no such verb".into(),
                    }));
                    row.push(format!("{} of {}", r.foreign_actions, r.attempts));
                }
            }
            row
        })
        .collect();
    (head, body)
}

/// What the table means.
pub const NOTE: &str = "Two unprivileged test users made for the check: A creates a container, B (in the same group) tries each verb on it. Judged by the effect, not the exit status: state must show the container's pid, exec must print a marker from inside, kill must end the container's process, delete must make the container vanish for A. A denied attempt is repeated by A as a control (inconclusive when A could not do it either). Each setup is tried once: the outcome is deterministic, no interval applies.";

/// A record as the experiment writes it (no outcomes: not available).
#[cfg(test)]
pub(crate) fn test_record(id: &str, model: &str, outcomes: &[(&str, &str)]) -> ResultRecord {
    use crate::schema::{Timings, SCHEMA_VERSION};
    use std::collections::BTreeMap;
    let mut info = BTreeMap::new();
    for (v, o) in outcomes {
        info.insert(format!("action_{v}"), o.to_string());
        info.insert(format!("why_{v}"), "exit 0".to_string());
    }
    let allowed = outcomes.iter().filter(|(_, o)| *o == "allowed").count();
    ResultRecord {
        schema: SCHEMA_VERSION,
        run_id: "r".into(),
        env: "container".into(),
        env_id: id.into(),
        env_detail: BTreeMap::new(),
        workload: WORKLOAD.into(),
        params: BTreeMap::from([
            ("model".to_string(), serde_json::json!(model)),
            ("privilege".to_string(), serde_json::json!("rootful")),
        ]),
        rep: 0,
        valid: !outcomes.is_empty(),
        metrics: if outcomes.is_empty() {
            BTreeMap::new()
        } else {
            BTreeMap::from([
                ("foreign_actions".to_string(), allowed as f64),
                ("attempts".to_string(), outcomes.len() as f64),
            ])
        },
        units: BTreeMap::new(),
        directions: Default::default(),
        aliases: Default::default(),
        info,
        timings: Timings::default(),
        error: outcomes
            .is_empty()
            .then(|| "not available: crun refuses hybrid cgroup hosts".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_record as rec;

    #[test]
    fn rows_and_table_say_which_verbs_were_allowed() {
        let rs = vec![
            rec(
                "podman-service",
                "shared daemon",
                &[
                    ("state", "allowed"),
                    ("exec", "allowed"),
                    ("kill", "allowed"),
                    ("delete", "allowed"),
                ],
            ),
            rec("group-shared-root-crun", "shared state root, rootless", &[]),
            rec(
                "rootless-isorun",
                "per-user rootless",
                &[
                    ("state", "denied"),
                    ("kill", "denied"),
                    ("delete", "denied"),
                ],
            ),
        ];
        let r = rows(&rs);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].allowed(), vec!["state", "exec", "kill", "delete"]);
        assert_eq!(r[0].foreign_actions, 4);
        assert!(r[2].all_denied() && !r[0].all_denied() && !r[1].all_denied());
        assert_eq!(
            r[1].available,
            Err("crun refuses hybrid cgroup hosts".to_string())
        );
        let (head, body) = table(&r);
        assert_eq!(head.len(), 7);
        assert_eq!(body[0][6], "4 of 4");
        assert_eq!(
            body[1][6],
            "not available (crun refuses hybrid cgroup hosts)"
        );
        assert_eq!(body[2][3], "no such verb");
        assert_eq!(body[2][6], "0 of 3");
        let m = by_model(&r);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].0, "shared daemon");
    }
}
