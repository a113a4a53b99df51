//! The claims of several runs of one host as one column of a multi-run
//! report (`isobench report A B C`).
//!
//! Runs of one host that measured different parts of the claims (the old
//! main job wrote the suite, density, neighbours and permissions as four
//! runs) are one column: each part is taken from the run that measured it
//! and the claim is rolled up again from those parts, as one run would have
//! been. Two runs that both decided the same part are never merged (which
//! one would speak for the host?): each keeps a column of its own, so that
//! two main jobs of one host (before and after a change) stand side by side.
//! The one precedence a single run applies is kept: a C4 part decided by the
//! density experiment outranks one decided by a single instance's footprint
//! (`startup`), as the single-run C4 decision (`claims::density`) prefers the density
//! experiment.

use super::{combine, ClaimResult, PartResult, Verdict};

/// How strongly a part speaks: 0 not measured, 1 measured, 2 measured by
/// the density experiment (outranks one instance's footprint).
fn rank(p: &PartResult) -> u8 {
    if p.verdict == Verdict::NotMeasured {
        0
    } else if p
        .figures
        .iter()
        .any(|f| f.workload == crate::density::WORKLOAD)
    {
        2
    } else {
        1
    }
}

/// `base`'s claims with the parts `add` measured and `base` did not (or
/// measured with a lower rank), each claim rolled up again. `None` when a
/// part was decided in both with the same rank: the runs are not merged.
/// Claims are matched by id and parts by label; a claim or part only `add`
/// has is appended.
pub fn merge(base: &[ClaimResult], add: &[ClaimResult]) -> Option<Vec<ClaimResult>> {
    let mut out: Vec<ClaimResult> = base.to_vec();
    for c in add {
        let Some(i) = out.iter().position(|b| b.id == c.id) else {
            out.push(c.clone());
            continue;
        };
        let mut parts = out[i].parts.clone();
        for p in &c.parts {
            match parts.iter_mut().find(|q| q.label == p.label) {
                None => parts.push(p.clone()),
                Some(q) => {
                    let (old, new) = (rank(q), rank(p));
                    if new > old {
                        *q = p.clone();
                    } else if new == old && new > 0 {
                        return None;
                    }
                }
            }
        }
        out[i] = combine(c.id, parts);
    }
    Some(out)
}

/// One column of claims: the runs (indices into the caller's list) whose
/// parts it holds, and the merged verdicts.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The host key the runs share (a host fingerprint).
    pub host: String,
    pub runs: Vec<usize>,
    pub claims: Vec<ClaimResult>,
}

/// Columns of `runs` (each a host key and that run's verdicts, in the
/// caller's order): every run joins the first column of its host that it
/// merges with ([`merge`]), else opens a new one. Columns come host by host
/// in the order hosts first appear, and within a host in the order opened.
pub fn columns(runs: &[(String, Vec<ClaimResult>)]) -> Vec<Column> {
    let mut cols: Vec<Column> = Vec::new();
    'runs: for (i, (host, claims)) in runs.iter().enumerate() {
        for col in cols.iter_mut().filter(|c| &c.host == host) {
            if let Some(m) = merge(&col.claims, claims) {
                col.claims = m;
                col.runs.push(i);
                continue 'runs;
            }
        }
        cols.push(Column {
            host: host.clone(),
            runs: vec![i],
            claims: claims.clone(),
        });
    }
    let first = |h: &str| runs.iter().position(|(x, _)| x == h).unwrap_or(usize::MAX);
    // Stable: columns of one host keep their order.
    cols.sort_by_key(|c| first(&c.host));
    cols
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyse, StatsOptions};
    use crate::facts::Facts;
    use crate::schema::ResultRecord;
    use crate::testdata;

    fn verdicts(records: &[ResultRecord]) -> Vec<ClaimResult> {
        let a = analyse(records, StatsOptions { resamples: 200 });
        super::super::evaluate_with(&a, Some(24 << 30), &Facts::from_records(records))
    }

    fn claim<'a>(v: &'a [ClaimResult], id: &str) -> &'a ClaimResult {
        v.iter().find(|c| c.id == id).expect("claim")
    }

    /// The suite, density and neighbours of one host as three runs: one
    /// column, each claim as the one run of all three would decide it.
    #[test]
    fn complementary_runs_of_a_host_merge_into_one_column() {
        let suite = testdata::fixture_run(4, 1.0).records;
        let density = testdata::density_records("container-isorun", "", 200, 0.3, 0.5);
        let nb = testdata::neighbour_records(
            "kvm",
            &[
                ("container-isorun", "shared", 0.5),
                ("container-isorun", "partitioned", 0.6),
            ],
        );
        let (vs, vd, vn) = (verdicts(&suite), verdicts(&density), verdicts(&nb));
        assert_eq!(claim(&vs, "C4").verdict, Verdict::NotMeasured);
        assert_eq!(claim(&vs, "C5").verdict, Verdict::NotMeasured);
        let cols = columns(&[
            ("h".into(), vs.clone()),
            ("h".into(), vd.clone()),
            ("h".into(), vn.clone()),
        ]);
        assert_eq!(cols.len(), 1, "{cols:?}");
        assert_eq!(cols[0].runs, vec![0, 1, 2]);
        let all: Vec<ResultRecord> = suite.iter().chain(&density).chain(&nb).cloned().collect();
        let one = verdicts(&all);
        for id in ["C1", "C2", "C3", "C4", "C5", "C6", "C7"] {
            let (m, o) = (claim(&cols[0].claims, id), claim(&one, id));
            assert_eq!(m.verdict, o.verdict, "{id}: {m:?}\n{o:?}");
            assert_eq!(m.parts_measured(), o.parts_measured(), "{id}");
        }
        // C4 from the density run, C5 from the neighbours run.
        assert_eq!(
            claim(&cols[0].claims, "C4").parts_measured(),
            claim(&vd, "C4").parts_measured()
        );
        assert_ne!(claim(&cols[0].claims, "C5").verdict, Verdict::NotMeasured);
    }

    /// `container-isorun`'s records as a gVisor column (class sandbox).
    fn as_runsc(records: &[ResultRecord]) -> Vec<ResultRecord> {
        records
            .iter()
            .filter(|r| r.env_id == "container-isorun")
            .map(|r| {
                let mut r = r.clone();
                r.env_id = "container-runsc".into();
                r.env = "sandbox".into();
                r.env_detail.insert("platform".into(), "ptrace".into());
                r
            })
            .collect()
    }

    /// A suite run and a neighbours run of one host, each with a gVisor
    /// column, merge: each gVisor part comes from the run that measured it,
    /// and the verdicts are those of the seed's parts.
    #[test]
    fn gvisor_parts_merge_like_the_others() {
        let mut suite = testdata::fixture_run(4, 1.0).records;
        suite.extend(as_runsc(&suite));
        let mut nb =
            testdata::neighbour_records("kvm", &[("container-isorun", "partitioned", 0.6)]);
        nb.extend(as_runsc(&nb));
        let (vs, vn) = (verdicts(&suite), verdicts(&nb));
        let cols = columns(&[("h".into(), vs.clone()), ("h".into(), vn.clone())]);
        assert_eq!(cols.len(), 1, "{cols:?}");
        let info = |c: &ClaimResult| c.parts.iter().find(|p| p.info).cloned().unwrap();
        let merged = &cols[0].claims;
        assert_eq!(info(claim(merged, "C1")), info(claim(&vs, "C1")));
        assert_eq!(info(claim(merged, "C1")).verdict, Verdict::Information);
        assert_eq!(info(claim(merged, "C5")), info(claim(&vn, "C5")));
        assert_eq!(info(claim(merged, "C5")).verdict, Verdict::Information);
        assert_eq!(claim(merged, "C5").verdict, claim(&vn, "C5").verdict);
    }

    /// Two runs that decided the same parts (two main jobs of one host)
    /// keep a column each; another host has its own; the order is host by
    /// host.
    #[test]
    fn runs_deciding_the_same_part_stay_apart() {
        let a = verdicts(&testdata::fixture_run(4, 1.0).records);
        let b = verdicts(&testdata::fixture_run(4, 0.5).records);
        let cols = columns(&[
            ("h1".into(), a.clone()),
            ("h2".into(), a.clone()),
            ("h1".into(), b.clone()),
        ]);
        assert_eq!(cols.len(), 3);
        assert_eq!(
            cols.iter()
                .map(|c| (c.host.as_str(), c.runs.clone()))
                .collect::<Vec<_>>(),
            vec![("h1", vec![0]), ("h1", vec![2]), ("h2", vec![1])]
        );
        assert_eq!(cols[1].claims, b);
        assert!(merge(&a, &b).is_none());
    }

    /// A C4 part from the density experiment outranks the same part from a
    /// single instance's footprint, in either order.
    #[test]
    fn density_outranks_a_footprint_for_c4() {
        let mut suite = testdata::fixture_run(4, 1.0);
        testdata::add_footprint(&mut suite, |e| if e.starts_with("vm") { 40.0 } else { 1.0 });
        let vs = verdicts(&suite.records);
        assert_ne!(claim(&vs, "C4").verdict, Verdict::NotMeasured);
        let vd = verdicts(&testdata::density_records(
            "container-isorun",
            "",
            50,
            0.3,
            0.5,
        ));
        for m in [merge(&vs, &vd).unwrap(), merge(&vd, &vs).unwrap()] {
            let c4 = claim(&m, "C4");
            let p1 = &c4.parts[0];
            assert!(p1.figures.iter().all(|f| f.workload == "density"), "{p1:?}");
            // The other claims come from the suite.
            assert_eq!(claim(&m, "C1"), claim(&vs, "C1"));
        }
    }
}
