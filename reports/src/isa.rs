//! The ISA reason behind claim C1: which matrix-multiply code path each
//! environment's CPU let the cpu workload take (`dgemm_path`), and what the
//! tuned path gains over the SSE2 baseline where both were measured in the
//! same record (`gflops` on the tuned path and `gflops_baseline`, timed right
//! after it with the same threads; `--isa auto` records both).

use crate::schema::ResultRecord;
use crate::stats::{ratio_interval, Estimate};
use std::collections::BTreeMap;

/// One environment's cpu records, seen through their ISA.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IsaRow {
    /// Environment class (`native`, `container`, `vm`, ...).
    pub env: String,
    pub env_id: String,
    /// The VM's `-cpu` model (`None` outside VMs).
    pub cpu_model: Option<String>,
    /// The accelerator of a VM (`tcg` = emulated: the mechanism shows, the
    /// magnitude does not).
    pub accel: Option<String>,
    /// The paths the valid cpu records took, in order first seen.
    pub paths: Vec<String>,
    /// What the CPU reported (`cpu_simd`), first record's.
    pub cpu_simd: Option<String>,
    /// Tuned GFLOP/s and baseline GFLOP/s per repetition, from records on
    /// a tuned path that also measured the baseline.
    tuned: Vec<f64>,
    base: Vec<f64>,
    reps: Vec<u32>,
}

impl IsaRow {
    pub fn emulated(&self) -> bool {
        self.accel.as_deref() == Some("tcg")
    }

    /// Tuned over baseline GFLOP/s (paired by repetition, 95% t interval of
    /// the log ratio), the repetitions it rests on; `None` where no record
    /// measured both paths (an interval needs two).
    pub fn ratio(&self) -> Option<(Estimate, usize)> {
        ratio_interval(&self.tuned, &self.reps, &self.base, &self.reps)
            .map(|e| (e, self.tuned.len()))
    }

    /// How many records measured both paths.
    pub fn pairs(&self) -> usize {
        self.tuned.len()
    }

    /// The single pair's ratio where only one repetition measured both.
    pub fn single_ratio(&self) -> Option<f64> {
        (self.tuned.len() == 1).then(|| self.tuned[0] / self.base[0])
    }
}

/// Collects [`IsaRow`]s record by record.
#[derive(Debug, Default)]
pub struct IsaBuilder {
    rows: BTreeMap<String, IsaRow>,
    order: Vec<String>,
}

impl IsaBuilder {
    pub fn push(&mut self, r: &ResultRecord) {
        if r.workload != "cpu" || !r.valid {
            return;
        }
        let Some(path) = r.info.get("dgemm_path") else {
            return;
        };
        // A forced path (`--isa`) is its own series; only auto records say
        // what the environment's CPU offered.
        if r.params.contains_key("isa") {
            return;
        }
        let row = self.rows.entry(r.env_id.clone()).or_insert_with(|| {
            self.order.push(r.env_id.clone());
            IsaRow {
                env: r.env.clone(),
                env_id: r.env_id.clone(),
                cpu_model: (r.env == "vm")
                    .then(|| r.env_detail.get("cpu").cloned())
                    .flatten(),
                accel: r.env_detail.get("accel").cloned(),
                cpu_simd: r.info.get("cpu_simd").cloned(),
                ..IsaRow::default()
            }
        });
        if !row.paths.contains(path) {
            row.paths.push(path.clone());
        }
        let tuned = r.info.get("dgemm_variant").map(String::as_str) == Some("tuned");
        if let (true, Some(&g), Some(&b)) = (
            tuned,
            r.metrics.get("gflops"),
            r.metrics.get("gflops_baseline"),
        ) {
            row.tuned.push(g);
            row.base.push(b);
            row.reps.push(r.rep);
        }
    }

    /// Native first, then containers, then VMs; first seen within a class.
    pub fn finish(mut self) -> Vec<IsaRow> {
        let mut rows: Vec<IsaRow> = self
            .order
            .iter()
            .filter_map(|e| self.rows.remove(e))
            .collect();
        rows.sort_by_key(|r| match r.env.as_str() {
            "native" => 0,
            "vm" => 2,
            _ => 1,
        });
        rows
    }
}

/// Rows of the given records (what [`IsaBuilder`] collects).
pub fn rows(records: &[ResultRecord]) -> Vec<IsaRow> {
    let mut b = IsaBuilder::default();
    records.iter().for_each(|r| b.push(r));
    b.finish()
}

/// The note under the ISA table.
pub const ISA_NOTE: &str = "The cpu workload's matrix multiply picks its code path at run time from what the CPU reports: the SSE2 baseline (every x86-64 CPU), or the tuned AVX2+FMA or AVX-512F paths (labelled tuned). A VM's CPU model (--vm-cpu; host under KVM, max under TCG by default) decides which features the guest sees, so a model that hides AVX2 (qemu64) sends the same program down the baseline path. Tuned ÷ baseline: GFLOP/s of the tuned path over the baseline path measured right after it in the same repetition (all threads; 95% t interval of the paired log ratio), i.e. what hiding the tuned path's features costs on this CPU. Under TCG (emulated) this shows the mechanism only: the emulated rates say nothing about the magnitude, which is stated only for native and KVM columns.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Timings, SCHEMA_VERSION};

    fn cpu(
        env: &str,
        env_id: &str,
        rep: u32,
        path: &str,
        g: f64,
        base: Option<f64>,
    ) -> ResultRecord {
        let mut r = ResultRecord {
            schema: SCHEMA_VERSION,
            run_id: "isa-test".into(),
            env: env.into(),
            env_id: env_id.into(),
            env_detail: BTreeMap::new(),
            workload: "cpu".into(),
            params: BTreeMap::from([("threads".to_string(), serde_json::json!(1))]),
            rep,
            valid: true,
            metrics: BTreeMap::from([("gflops".to_string(), g)]),
            units: BTreeMap::new(),
            directions: Default::default(),
            aliases: Default::default(),
            info: BTreeMap::new(),
            timings: Timings {
                started_unix_ms: 0,
                wall_ms: 1.0,
                first_instruction_ms: None,
            },
            error: None,
        };
        if let Some(b) = base {
            r.metrics.insert("gflops_baseline".into(), b);
        }
        r.info.insert("dgemm_path".into(), path.into());
        r.info.insert(
            "dgemm_variant".into(),
            if path == "sse2" { "baseline" } else { "tuned" }.into(),
        );
        r
    }

    #[test]
    fn paths_per_environment_and_the_paired_ratio() {
        let mut recs = vec![cpu("vm", "vm-kvm", 0, "avx512f", 15.0, Some(5.0))];
        for (rep, (g, b)) in [(16.0, 5.0), (17.0, 5.2), (16.5, 5.1)]
            .into_iter()
            .enumerate()
        {
            recs.push(cpu("native", "native", rep as u32, "avx512f", g, Some(b)));
            let mut v = cpu("vm", "vm-tcg", rep as u32, "sse2", 0.5, Some(0.5));
            v.env_detail.insert("cpu".into(), "qemu64".into());
            v.env_detail.insert("accel".into(), "tcg".into());
            recs.push(v);
        }
        // A forced baseline run is its own series, not the environment's path.
        let mut forced = cpu("native", "native", 0, "sse2", 5.0, None);
        forced.params.insert("isa".into(), "baseline".into());
        recs.push(forced);
        // Invalid records say nothing.
        let mut bad = cpu("container", "container-runc", 0, "avx2+fma", 9.0, Some(3.0));
        bad.valid = false;
        recs.push(bad);
        let rows = rows(&recs);
        assert_eq!(rows.len(), 3, "{rows:?}");
        let n = &rows[0];
        assert_eq!(
            (n.env_id.as_str(), n.paths.clone()),
            ("native", vec!["avx512f".to_string()])
        );
        assert_eq!(n.cpu_model, None);
        let (e, reps) = n.ratio().unwrap();
        assert_eq!(reps, 3);
        assert!(e.lo < e.point && e.point < e.hi, "{e:?}");
        assert!((3.1..3.4).contains(&e.point), "{e:?}");
        let v = rows.iter().find(|r| r.env_id == "vm-tcg").unwrap();
        assert_eq!(v.paths, ["sse2"]);
        assert_eq!(v.cpu_model.as_deref(), Some("qemu64"));
        assert!(v.emulated());
        assert!(
            v.ratio().is_none(),
            "the baseline path has nothing to compare"
        );
    }
}
