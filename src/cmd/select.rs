//! One list syntax for `run`, `compare` and `history` (issue 17, section 7):
//! `--workload`, `--env` and `--metric` take comma-separated lists (a flag
//! may also be repeated), and a name that is not one of a closed set is
//! refused by clap with "unknown workload 'X' (known: ...); did you mean
//! 'Y'?" before anything runs.
//!
//! `compare` and `history` filter recorded figures, whose environments are
//! ids (`native`, `container-runc`, `vm-tcg`): there `--env` takes ids or the
//! classes `run --env` takes (`container` selects every `container-*` id),
//! and every value must select something in the runs or the store read, or
//! the command stops with one line naming it and what there is.

pub use crate::cli::OneOf;
use crate::env::EnvKind;
pub use crate::usage::did_you_mean;
use isobench_reports::compare::Filter;
use std::collections::BTreeSet;

/// The figures a filter is checked against: (environment id, workload,
/// metric).
pub type Quantity = (String, String, String);

/// `compare`'s and `history`'s filters checked against the quantities
/// present (`where_` names them in messages, e.g. "these runs"): every
/// workload, metric and environment given must select at least one, an
/// environment class expands to the ids of its class. The filter to use, or
/// one line naming the first value that selects nothing.
pub fn filter_for(
    envs: &[String],
    workloads: &[String],
    metrics: &[String],
    present: &BTreeSet<Quantity>,
    where_: &str,
) -> Result<Filter, String> {
    let list = |set: BTreeSet<&str>| set.into_iter().collect::<Vec<_>>().join(", ");
    for w in workloads {
        if !present.iter().any(|q| &q.1 == w) {
            return Err(format!(
                "no figure of workload '{w}' in {where_} (they hold: {})",
                list(present.iter().map(|q| q.1.as_str()).collect())
            ));
        }
    }
    // Metrics are checked among the workloads kept.
    let kept: Vec<&Quantity> = present
        .iter()
        .filter(|q| workloads.is_empty() || workloads.contains(&q.1))
        .collect();
    for m in metrics {
        if !kept
            .iter()
            .any(|q| m == &q.2 || *m == format!("{}/{}", q.1, q.2))
        {
            let names: BTreeSet<&str> = kept.iter().map(|q| q.2.as_str()).collect();
            return Err(format!(
                "unknown metric '{m}' in {where_}{} (they hold: {}){}",
                if workloads.is_empty() {
                    String::new()
                } else {
                    format!(" for workload {}", workloads.join(", "))
                },
                list(names.clone()),
                did_you_mean(m.rsplit('/').next().unwrap_or(m), names)
            ));
        }
    }
    let ids: BTreeSet<&str> = present.iter().map(|q| q.0.as_str()).collect();
    let mut env_ids = Vec::new();
    for e in envs {
        let class = EnvKind::ALL.iter().any(|k| k.name() == e);
        let matched: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| {
                *id == e.as_str()
                    || (class
                        && id
                            .strip_prefix(e.as_str())
                            .is_some_and(|r| r.starts_with('-')))
            })
            .collect();
        if matched.is_empty() {
            return Err(format!(
                "unknown environment '{e}' in {where_} (they hold: {}){}",
                list(ids.clone()),
                did_you_mean(e, ids.iter().copied())
            ));
        }
        for id in matched {
            if !env_ids.iter().any(|x| x == id) {
                env_ids.push(id.to_string());
            }
        }
    }
    Ok(Filter {
        envs: env_ids,
        workloads: workloads.to_vec(),
        metrics: metrics.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, Command};

    fn cmd() -> Command {
        Command::new("t").arg(
            Arg::new("workload")
                .long("workload")
                .action(ArgAction::Append)
                .value_delimiter(',')
                .value_parser(OneOf::workloads()),
        )
    }

    #[test]
    fn lists_are_comma_separated_or_repeated_and_unknown_names_are_named() {
        let m = cmd()
            .try_get_matches_from(["t", "--workload", "cpu,membw", "--workload", "latency"])
            .unwrap();
        let got: Vec<&String> = m.get_many("workload").unwrap().collect();
        assert_eq!(got, ["cpu", "membw", "latency"]);
        let e = cmd()
            .try_get_matches_from(["t", "--workload", "cpu,memb"])
            .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        assert!(
            text.contains("invalid value 'memb' for '--workload <workload>': unknown workload 'memb' (known: cpu, membw, randacc,")
                && text.contains("did you mean 'membw'?"),
            "{text}"
        );
        let e = cmd()
            .try_get_matches_from(["t", "--workload", "quantum"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown workload 'quantum'") && !e.contains("did you mean"),
            "{e}"
        );
        assert_eq!(
            did_you_mean("lat", ["cpu", "latency"]),
            "; did you mean 'latency'?"
        );
        assert_eq!(
            did_you_mean("gpu", ["cpu", "latency"]),
            "; did you mean 'cpu'?"
        );
        assert_eq!(did_you_mean("xy", ["xyz_long"]), "");
        // --help lists the possible values.
        let help = cmd().render_help().to_string();
        assert!(help.contains("possible values: cpu, membw"), "{help}");
    }

    fn present() -> BTreeSet<Quantity> {
        [
            ("native", "cpu", "gflops"),
            ("native", "membw", "triad_mbs"),
            ("container-runc", "cpu", "gflops"),
            ("container-runc-rootless", "cpu", "gflops"),
            ("vm-tcg", "cpu", "gflops"),
        ]
        .into_iter()
        .map(|(e, w, m)| (e.to_string(), w.to_string(), m.to_string()))
        .collect()
    }

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn classes_expand_to_their_ids_and_ids_match_exactly() {
        let f = filter_for(&v(&["container"]), &[], &[], &present(), "these runs").unwrap();
        assert_eq!(f.envs, v(&["container-runc", "container-runc-rootless"]));
        let f = filter_for(&v(&["container-runc", "vm"]), &[], &[], &present(), "x").unwrap();
        assert_eq!(f.envs, v(&["container-runc", "vm-tcg"]));
        assert!(f.keeps("vm-tcg", "cpu", "gflops"));
        assert!(!f.keeps("container-runc-rootless", "cpu", "gflops"));
        // An id is not a prefix.
        let e = filter_for(&v(&["container-run"]), &[], &[], &present(), "these runs").unwrap_err();
        assert!(
            e.starts_with("unknown environment 'container-run' in these runs (they hold: container-runc, container-runc-rootless, native, vm-tcg); did you mean 'container-runc'?"),
            "{e}"
        );
    }

    #[test]
    fn every_value_must_select_something() {
        let e = filter_for(&[], &v(&["latency"]), &[], &present(), "these runs").unwrap_err();
        assert_eq!(
            e,
            "no figure of workload 'latency' in these runs (they hold: cpu, membw)"
        );
        let e = filter_for(&[], &[], &v(&["triad"]), &present(), "these runs").unwrap_err();
        assert_eq!(
            e,
            "unknown metric 'triad' in these runs (they hold: gflops, triad_mbs); did you mean 'triad_mbs'?"
        );
        // A metric is looked for among the workloads kept.
        let e = filter_for(
            &[],
            &v(&["cpu"]),
            &v(&["triad_mbs"]),
            &present(),
            "the store",
        )
        .unwrap_err();
        assert!(e.contains("for workload cpu (they hold: gflops)"), "{e}");
        let f = filter_for(
            &[],
            &v(&["cpu", "membw"]),
            &v(&["membw/triad_mbs", "gflops"]),
            &present(),
            "x",
        )
        .unwrap();
        assert!(f.keeps("native", "membw", "triad_mbs"));
        assert!(f.keeps("vm-tcg", "cpu", "gflops"));
        assert_eq!(
            filter_for(&[], &[], &[], &present(), "x").unwrap(),
            Filter::default()
        );
    }
}
