//! C6: anyone allowed to run the container engine can act on every
//! container, whoever created it.

use super::*;

/// C6, from the permission check: one part per sharing model (shared
/// daemon, shared state root, per-user rootless). A part holds when, in
/// every setup of that model measured here, user B could do at least one
/// action on user A's container; it is refuted when B was denied every
/// action in some setup of the model (the claim says "anyone ... every
/// container", so one engine that keeps users apart refutes it for that
/// model); setups not available here are named, not counted.
pub(super) fn engine_users_act_on_every_container(cx: &Cx) -> ClaimResult {
    use crate::permissions::{by_model, PermissionRow};
    let rows = &cx.facts.permissions;
    let how = "isobench run --experiment permissions (as root): two test users; A creates a container, B tries state, exec, kill and delete through a shared podman service, shared runtime state roots and per-user rootless engines (a `foreign_actions` count per setup)";
    if rows.is_empty() {
        return combine(
            "C6",
            vec![not_measured(
                "a user of the engine can act on others' containers",
                "no permission check in this run",
                how,
            )],
        );
    }
    let words = |r: &PermissionRow| match &r.available {
        Err(why) => format!("{}: not available ({why})", r.env_id),
        Ok(()) => {
            let allowed = r.allowed();
            format!(
                "{}: B could {} ({} of {} foreign actions)",
                r.env_id,
                if allowed.is_empty() {
                    "do nothing".to_string()
                } else {
                    allowed.join(", ")
                },
                r.foreign_actions,
                r.attempts
            )
        }
    };
    let cite = |r: &PermissionRow| Cited {
        env_id: r.env_id.clone(),
        workload: crate::permissions::WORKLOAD.into(),
        metric: "foreign_actions".into(),
        unit: "actions".into(),
        params: format!(
            "model={}, engine={}, privilege={}",
            r.model, r.engine, r.privilege
        ),
        value: format!(
            "{} of {} ({})",
            r.foreign_actions,
            r.attempts,
            r.actions
                .iter()
                .map(|a| format!("{} {}", a.0, a.1))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        number: Some(Val {
            point: r.foreign_actions as f64,
            ci: None,
            n: 1,
            method: String::new(),
        }),
        vs_native: None,
        exact: false,
        accel: None,
    };
    let parts = by_model(rows)
        .into_iter()
        .map(|(model, rs)| {
            let label =
                format!("{model}: a user of the engine can act on another user's containers");
            let measured: Vec<&PermissionRow> = rs
                .iter()
                .copied()
                .filter(|r| r.available.is_ok() && r.attempts > 0)
                .collect();
            let text = format!(
                "{}.",
                rs.iter().map(|r| words(r)).collect::<Vec<_>>().join("; ")
            );
            if measured.is_empty() {
                let mut p = not_measured(&label, "no setup of this model is available here", how);
                p.text = text;
                return p;
            }
            let allowed = measured.iter().filter(|r| r.foreign_actions > 0).count();
            let shut_out = measured.iter().filter(|r| r.all_denied()).count();
            let figures = measured.iter().map(|r| cite(r)).collect();
            if shut_out > 0 {
                holds(&label, false, text, figures)
            } else if allowed == measured.len() {
                holds(&label, true, text, figures)
            } else {
                part(&label, Verdict::Inconclusive, text, figures)
            }
        })
        .collect();
    combine("C6", parts)
}
