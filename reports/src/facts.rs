//! What the records say beyond the figures ([`Facts`]): the parameters
//! each (environment, workload) ran with, the STREAM variant of membw, and
//! the experiments' own analyses (density, noisy neighbours, permissions)
//! and the cpu workload's ISA paths.

use crate::analysis::{Analysis, BASELINE, EXPERIMENT_WORKLOADS};
use crate::schema::ResultRecord;
use std::collections::BTreeMap;

/// What the records say beyond the figures: the parameters each
/// (environment, workload) ran with and the STREAM variant of membw. Read
/// from the records (the first valid one of each pair; invalid ones when no
/// valid exists), or from a figure's own `params` when the analysis carries
/// them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    params: BTreeMap<(String, String), BTreeMap<String, serde_json::Value>>,
    stream: BTreeMap<String, String>,
    /// Victim slowdowns of the noisy-neighbour experiment (claim C5).
    pub slowdowns: Vec<crate::neighbours::Slowdown>,
    /// Density series and their summaries, one per environment (claim C4).
    pub density_series: Vec<crate::density::DensitySeries>,
    pub density: Vec<crate::density::DensitySummary>,
    /// Permission checks, one per setup (claim C6).
    pub permissions: Vec<crate::permissions::PermissionRow>,
    /// The cpu workload's ISA paths per environment (claim C1's ISA reason).
    pub isa: Vec<crate::isa::IsaRow>,
    /// The platform each sandbox environment ran on (gVisor's `platform`
    /// detail: ptrace, systrap, kvm), experiments included.
    pub platforms: BTreeMap<String, String>,
    /// Every sandbox environment (gVisor's runsc) that left a record,
    /// valid or not, experiments included: whether the plan had one.
    pub sandboxes: std::collections::BTreeSet<String>,
}

/// The label of STREAM figures of a variant (`plain`, `tuned`).
pub fn stream_label(variant: Option<&str>) -> &'static str {
    match variant {
        Some("tuned") => "STREAM (tuned: non-temporal stores)",
        _ => "STREAM",
    }
}

/// [`Facts`] one record at a time (what [`Facts::from_records`] does, for
/// records that are streamed rather than held). Experiment records
/// (density, noisy neighbours) are kept whole: their analyses need them, and
/// an experiment has one record per instance or repetition.
#[derive(Debug, Default)]
pub struct FactsBuilder {
    /// First parameters (with the STREAM variant) per (env_id, workload),
    /// from valid records and from invalid ones, in the order first seen.
    valid: Vec<((String, String), BTreeMap<String, serde_json::Value>)>,
    invalid: Vec<((String, String), BTreeMap<String, serde_json::Value>)>,
    seen_valid: std::collections::HashSet<(String, String)>,
    seen_invalid: std::collections::HashSet<(String, String)>,
    experiments: Vec<ResultRecord>,
    isa: crate::isa::IsaBuilder,
    platforms: BTreeMap<String, String>,
    sandboxes: std::collections::BTreeSet<String>,
}

impl FactsBuilder {
    pub fn push(&mut self, r: &ResultRecord) {
        if EXPERIMENT_WORKLOADS.contains(&r.workload.as_str()) {
            self.experiments.push(r.clone());
        }
        self.isa.push(r);
        if r.env == crate::claims::SANDBOX && !self.sandboxes.contains(&r.env_id) {
            self.sandboxes.insert(r.env_id.clone());
        }
        if let Some(p) = r.env_detail.get("platform") {
            if !self.platforms.contains_key(&r.env_id) {
                self.platforms.insert(r.env_id.clone(), p.clone());
            }
        }
        let (list, seen) = if r.valid {
            (&mut self.valid, &mut self.seen_valid)
        } else {
            (&mut self.invalid, &mut self.seen_invalid)
        };
        // Cheap check first: almost every record belongs to a pair seen before.
        if list
            .last()
            .is_some_and(|((e, w), _)| *e == r.env_id && *w == r.workload)
        {
            return;
        }
        let key = (r.env_id.clone(), r.workload.clone());
        if seen.contains(&key) {
            return;
        }
        let mut params = r.params.clone();
        // The STREAM variant decides what a figure means: keep it
        // with the parameters so differing variants are never divided.
        if let Some(v) = r.info.get("stream_variant") {
            params
                .entry("stream_variant".into())
                .or_insert_with(|| serde_json::Value::String(v.clone()));
        }
        seen.insert(key.clone());
        list.push((key, params));
    }

    pub fn finish(self) -> Facts {
        let density_series = crate::density::series(&self.experiments);
        let mut f = Facts {
            slowdowns: crate::neighbours::slowdowns(&self.experiments),
            density: density_series
                .iter()
                .map(crate::density::summarize)
                .collect(),
            density_series,
            permissions: crate::permissions::rows(&self.experiments),
            isa: self.isa.finish(),
            platforms: self.platforms,
            sandboxes: self.sandboxes,
            ..Facts::default()
        };
        for (key, params) in self.valid.into_iter().chain(self.invalid) {
            if f.params.contains_key(&key) {
                continue;
            }
            if let Some(serde_json::Value::String(v)) = params.get("stream_variant") {
                f.stream.insert(key.0.clone(), v.clone());
            }
            f.params.insert(key, params);
        }
        f
    }
}

impl Facts {
    pub fn from_records(records: &[ResultRecord]) -> Facts {
        let mut b = FactsBuilder::default();
        for r in records {
            b.push(r);
        }
        b.finish()
    }

    /// Parameters of a workload in an environment, if known.
    pub fn params(
        &self,
        env_id: &str,
        workload: &str,
    ) -> Option<&BTreeMap<String, serde_json::Value>> {
        self.params.get(&(env_id.to_string(), workload.to_string()))
    }

    /// STREAM variant of an environment's membw run (`plain`, `tuned`).
    pub fn stream_variant(&self, env_id: &str) -> Option<&str> {
        self.stream.get(env_id).map(String::as_str)
    }

    /// Display name of a workload's figures in an environment: membw
    /// becomes `STREAM` or `STREAM (tuned: non-temporal stores)`.
    pub fn workload_label(&self, env_id: &str, workload: &str) -> String {
        if workload == "membw" {
            format!("membw — {}", stream_label(self.stream_variant(env_id)))
        } else {
            workload.to_string()
        }
    }

    /// One label for a workload across environments (the membw variants of
    /// every environment, joined when they differ).
    pub fn workload_title(&self, a: &Analysis, workload: &str) -> String {
        if workload != "membw" {
            return workload.to_string();
        }
        let mut labels: Vec<&str> = a
            .envs
            .iter()
            .filter(|e| {
                a.figures
                    .iter()
                    .any(|f| f.env_id == e.env_id && f.workload == workload)
            })
            .map(|e| stream_label(self.stream_variant(&e.env_id)))
            .collect();
        labels.sort();
        labels.dedup();
        if labels.is_empty() {
            labels.push(stream_label(None));
        }
        format!("membw — {}", labels.join(" / "))
    }

    /// Why a figure may not be divided by native's: the parameters (or the
    /// STREAM variant) it ran with differ. `None` when they agree or are
    /// unknown.
    pub fn params_differ(&self, env_id: &str, workload: &str) -> Option<String> {
        if env_id == BASELINE {
            return None;
        }
        let mine = self.params(env_id, workload)?;
        let native = self.params(BASELINE, workload)?;
        let keys: std::collections::BTreeSet<&String> = mine.keys().chain(native.keys()).collect();
        let show = |v: Option<&serde_json::Value>| match v {
            None => "unset".to_string(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        };
        let diffs: Vec<String> = keys
            .into_iter()
            .filter(|k| mine.get(*k) != native.get(*k))
            .map(|k| {
                format!(
                    "{k} {} vs native {}",
                    show(mine.get(k)),
                    show(native.get(k))
                )
            })
            .collect();
        (!diffs.is_empty()).then(|| diffs.join(", "))
    }
}
