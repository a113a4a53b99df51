//! Tests of the claims' verdicts on fixture runs.

use super::*;
use crate::analysis::{analyse, StatsOptions};
use crate::schema::ResultRecord;
use crate::testdata;

fn verdicts(records: &[ResultRecord]) -> Vec<ClaimResult> {
    let a = analyse(records, StatsOptions { resamples: 300 });
    evaluate_with(&a, Some(24 << 30), &Facts::from_records(records))
}

fn part<'a>(c: &'a ClaimResult, label_has: &str) -> &'a PartResult {
    c.parts
        .iter()
        .find(|p| p.label.contains(label_has))
        .unwrap_or_else(|| panic!("{} has no part '{label_has}': {c:?}", c.id))
}

/// No part that depends on a VM is ever supported or contradicted by
/// figures of an emulated VM.
fn no_emulated_decision(v: &[ClaimResult]) {
    for c in v {
        for p in &c.parts {
            if matches!(p.verdict, Verdict::Supported | Verdict::NotSupported) {
                assert!(
                    p.figures.iter().all(|f| f.accel.as_deref() != Some("tcg")),
                    "{} '{}' decided by a TCG figure: {p:?}",
                    c.id,
                    p.label
                );
            }
        }
    }
}

#[test]
fn c6_is_decided_per_sharing_model_from_the_permission_check() {
    use crate::permissions::test_record as rec;
    let all = [
        ("state", "allowed"),
        ("exec", "allowed"),
        ("kill", "allowed"),
        ("delete", "allowed"),
    ];
    let none = [
        ("state", "denied"),
        ("exec", "denied"),
        ("kill", "denied"),
        ("delete", "denied"),
    ];
    let rs = vec![
        rec("podman-service", "shared daemon", &all),
        rec("sudo-shared-root-runc", "shared state root, rootful", &all),
        rec("group-shared-root-crun", "shared state root, rootless", &[]),
        rec("rootless-runc", "per-user rootless", &none),
        rec("podman-rootless", "per-user rootless", &none),
    ];
    let v = verdicts(&rs);
    let c6 = &v[5];
    assert_eq!(c6.parts.len(), 4, "{c6:?}");
    assert_eq!(c6.parts[0].verdict, Verdict::Supported);
    assert!(
        c6.parts[0]
            .text
            .contains("B could state, exec, kill, delete (4 of 4"),
        "{}",
        c6.parts[0].text
    );
    assert_eq!(c6.parts[1].verdict, Verdict::Supported);
    assert_eq!(c6.parts[2].verdict, Verdict::NotMeasured);
    assert!(c6.parts[2]
        .text
        .contains("not available (crun refuses hybrid"));
    assert_eq!(c6.parts[3].verdict, Verdict::NotSupported);
    assert!(c6.parts[3]
        .text
        .contains("rootless-runc: B could do nothing (0 of 4"));
    // Refuted for the per-user model: the claim as worded does not hold.
    assert_eq!(c6.verdict, Verdict::NotSupported);
    // Only the daemon measured: supported.
    let v = verdicts(&rs[..1]);
    assert_eq!(v[5].verdict, Verdict::Supported);
    // Nothing measured: not measured.
    assert_eq!(verdicts(&[])[5].verdict, Verdict::NotMeasured);
}

#[test]
fn an_emulated_vm_makes_vm_parts_not_testable() {
    let run = testdata::fixture_run(5, 1.0);
    let v = verdicts(&run.records);
    assert_eq!(v.len(), 8);
    no_emulated_decision(&v);
    // C1: containers still decided (≈ 99% of native); the TCG VM's 11%
    // decides nothing.
    assert_eq!(part(&v[0], "containers").verdict, Verdict::Supported);
    let vm = part(&v[0], "VMs");
    assert_eq!(vm.verdict, Verdict::NotTestable, "{vm:?}");
    assert!(vm.figures.iter().all(|f| f.env_id == "vm-tcg"));
    assert_eq!(v[0].verdict, Verdict::NotTestable);
    assert_eq!(
        v[0].verdict.label(),
        "not testable on this host (VM emulated)"
    );
    // C2: container bandwidth decided, both VM parts not testable.
    assert_eq!(part(&v[1], "in containers").verdict, Verdict::Supported);
    assert_eq!(part(&v[1], "in VMs").verdict, Verdict::NotTestable);
    assert_eq!(part(&v[1], "random").verdict, Verdict::NotTestable);
    assert_eq!(v[1].verdict, Verdict::NotTestable);
    // C3: container start decided, VM start not testable.
    assert_eq!(part(&v[2], "container starts").verdict, Verdict::Supported);
    assert_eq!(part(&v[2], "VM").verdict, Verdict::NotTestable);
    assert_eq!(v[2].verdict, Verdict::NotTestable);
    for c in &v[3..] {
        assert_eq!(c.verdict, Verdict::NotMeasured, "{c:?}");
        assert!(!c.missing().is_empty());
    }
}

#[test]
fn c7_follows_the_layer_and_copy_up_figures() {
    let c7 = |added: f64, copy_ms: f64| {
        let mut recs = testdata::fixture_run(3, 1.0).records;
        recs.extend(testdata::layer_records(3, added, copy_ms));
        verdicts(&recs).remove(6)
    };
    let ok = c7(1.0, 20.0);
    assert_eq!(ok.verdict, Verdict::Supported, "{ok:?}");
    assert!(part(&ok, "isorun's builder").text.contains("reused 3 of 4"));
    let cow = &part(&ok, "copy-on-write").text;
    assert!(
        cow.contains("16 MiB file") && cow.contains("container-isorun 20.000 ms (19"),
        "{cow}"
    );
    // A change that rebuilt two layers, or a first write that copies
    // nothing, contradicts the claim.
    assert_eq!(c7(2.0, 20.0).verdict, Verdict::NotSupported);
    let flat = c7(1.0, 0.01);
    assert_eq!(part(&flat, "copy-on-write").verdict, Verdict::NotSupported);
    // Without the figures it says what would measure it.
    let none = verdicts(&testdata::fixture_run(3, 1.0).records).remove(6);
    assert_eq!(none.verdict, Verdict::NotMeasured);
    assert_eq!(none.missing().len(), 3);
}

#[test]
fn a_contradiction_elsewhere_still_wins_over_not_testable() {
    let mut run = testdata::fixture_run(5, 1.0);
    for r in run
        .records
        .iter_mut()
        .filter(|r| r.env_id == "container-isorun" && r.workload == "cpu")
    {
        for v in r.metrics.values_mut() {
            *v *= 0.8;
        }
    }
    let v = verdicts(&run.records);
    assert_eq!(v[0].verdict, Verdict::NotSupported, "{:?}", v[0]);
    let p = part(&v[0], "containers");
    assert!(
        p.text.contains("container-isorun primes_per_s at 80%"),
        "{p:?}"
    );
    assert!(p.figures.iter().any(|f| f.env_id == "container-isorun"));
}

#[test]
fn hardware_virtualised_vms_decide() {
    let mut run = testdata::fixture_run_kvm(5);
    let v = verdicts(&run.records);
    no_emulated_decision(&v);
    // The fixture's VM computes at 11%: not "about half".
    assert_eq!(part(&v[0], "VMs").verdict, Verdict::NotSupported);
    assert_eq!(v[0].verdict, Verdict::NotSupported);
    assert_eq!(v[1].verdict, Verdict::NotSupported);
    assert_eq!(v[2].verdict, Verdict::Supported, "{:?}", v[2]);
    // Make the VM compute at half speed and stream at native bandwidth.
    for r in run.records.iter_mut().filter(|r| r.env == "vm") {
        for (k, v) in r.metrics.iter_mut() {
            match r.workload.as_str() {
                "cpu" => *v *= 0.5 / 0.11,
                "membw" => *v *= 2.0 / 0.11,
                "randacc" if k == "gups" => *v *= 0.5 / 0.11,
                _ => {}
            }
        }
    }
    let v = verdicts(&run.records);
    assert_eq!(v[0].verdict, Verdict::Supported, "{:?}", v[0]);
    assert_eq!(v[1].verdict, Verdict::Supported, "{:?}", v[1]);
    // Every cited figure names its parameters and an interval with n.
    for f in v[0].figures() {
        assert_eq!(f.params, "threads=1");
        assert!(f.value.contains("(n=5)"), "{f:?}");
        assert!(f.vs_native.is_some());
    }
}

#[test]
fn figures_with_other_parameters_are_never_divided() {
    let mut run = testdata::fixture_run_kvm(4);
    for r in run
        .records
        .iter_mut()
        .filter(|r| r.env == "vm" && r.workload == "cpu")
    {
        r.params
            .insert("primes_max".into(), serde_json::json!(50000));
    }
    let v = verdicts(&run.records);
    let p = part(&v[0], "VMs");
    assert_eq!(p.verdict, Verdict::NotMeasured, "{p:?}");
    let reason = p.reason.as_deref().unwrap();
    assert!(reason.starts_with("parameters differ"), "{reason}");
    assert!(reason.contains("vm-kvm primes_max 50000 vs"), "{reason}");
    assert!(p
        .verdict_text()
        .starts_with("not measured (parameters differ"));
    assert!(p.figures.iter().all(|f| f.vs_native.is_none()));
    // The container half still decides and shows; the claim is partly
    // measured, never hidden behind "not measured".
    assert_eq!(part(&v[0], "containers").verdict, Verdict::Supported);
    assert_eq!(v[0].verdict, Verdict::PartlyMeasured);
    assert_eq!(v[0].verdict_text(), "partly measured (1 of 2 parts)");
}

#[test]
fn invalid_vm_results_are_not_measured_not_supported() {
    let mut run = testdata::fixture_run_kvm(3);
    for r in run
        .records
        .iter_mut()
        .filter(|r| r.env == "vm" && r.workload == "membw")
    {
        r.valid = false;
        r.error = Some("STREAM validation failed".into());
    }
    // Random access as the claim says, so only the bandwidth is missing.
    for r in run.records.iter_mut().filter(|r| r.env == "vm") {
        for v in r.metrics.values_mut() {
            if r.workload == "cpu" {
                *v *= 0.5 / 0.11;
            }
        }
    }
    let v = verdicts(&run.records);
    let p = part(&v[1], "in VMs");
    assert_eq!(p.verdict, Verdict::NotMeasured, "{p:?}");
    assert!(p.figures.is_empty());
    assert_ne!(v[1].verdict, Verdict::Supported);
}

#[test]
fn latency_cites_only_sizes_measured_in_both() {
    let mut run = testdata::fixture_run_kvm(3);
    for r in run
        .records
        .iter_mut()
        .filter(|r| r.env == "vm" && r.workload == "latency")
    {
        r.metrics
            .retain(|k, _| latency_size_bytes(k).is_some_and(|s| s <= 32 << 20));
    }
    let v = verdicts(&run.records);
    let p = part(&v[1], "random");
    let lat: Vec<&Cited> = p
        .figures
        .iter()
        .filter(|f| f.workload == "latency")
        .collect();
    assert_eq!(lat.len(), 1, "{p:?}");
    assert_eq!(lat[0].metric, "ns_per_load_32MiB");
    assert!(p.text.contains("vm-kvm 32 MiB"), "{}", p.text);
    assert!(!p.text.contains("1 GiB") && !p.text.contains("256 MiB"));
}

#[test]
fn detail_saying_emulated_counts_as_emulated() {
    let mut run = testdata::fixture_run_kvm(3);
    for r in run.records.iter_mut().filter(|r| r.env == "vm") {
        r.env_detail.insert("emulated".into(), "true".into());
    }
    let a = analyse(&run.records, StatsOptions { resamples: 100 });
    assert!(env_emulated(&a, "vm-kvm"));
    assert!(!env_emulated(&a, "container-runc"));
    let v = verdicts(&run.records);
    assert_eq!(v[0].verdict, Verdict::NotTestable);
}

#[test]
fn footprints_decide_c4() {
    let mut run = testdata::fixture_run_kvm(3);
    testdata::add_footprint(&mut run, |class| match class {
        "vm" => 240.0,
        "container" => 2.0,
        _ => 1.4,
    });
    let v = verdicts(&run.records);
    assert_eq!(v[3].verdict, Verdict::Supported, "{:?}", v[3]);
    let cont = part(&v[3], "containers");
    assert!(cont.text.contains("about 12288 per host"), "{cont:?}");
    assert!(cont.text.contains("PSS"));
    let vm = part(&v[3], "VMs");
    assert!(vm.text.contains("about 102 per host"), "{vm:?}");
    assert!(vm.figures.iter().all(|f| f.metric == FOOTPRINT));
    // A VM as light as 5 containers does not support the claim.
    testdata::add_footprint(&mut run, |class| if class == "vm" { 10.0 } else { 2.0 });
    assert_eq!(verdicts(&run.records)[3].verdict, Verdict::NotSupported);
}

#[test]
fn footprint_of_an_emulated_vm_is_not_testable() {
    let mut run = testdata::fixture_run(3, 1.0);
    testdata::add_footprint(&mut run, |class| if class == "vm" { 240.0 } else { 2.0 });
    let v = verdicts(&run.records);
    assert_eq!(part(&v[3], "containers").verdict, Verdict::Supported);
    let vm = part(&v[3], "VMs");
    assert_eq!(vm.verdict, Verdict::NotTestable, "{vm:?}");
    assert!(vm.text.contains("translation cache"));
    assert_eq!(v[3].verdict, Verdict::NotTestable);
}

#[test]
fn the_old_footprint_measure_decides_nothing() {
    let mut run = testdata::fixture_run_kvm(3);
    for r in run.records.iter_mut().filter(|r| r.workload == "startup") {
        let mib = if r.env == "vm" { 240.0 } else { 2.0 };
        r.metrics.insert(OLD_FOOTPRINT.into(), mib);
        r.units.insert(OLD_FOOTPRINT.into(), "MiB".into());
    }
    let v = verdicts(&run.records);
    assert_eq!(v[3].verdict, Verdict::NotMeasured);
    for p in v[3].parts.iter().filter(|p| !p.info) {
        assert_eq!(p.verdict_text(), "not measured (old footprint measure)");
        assert!(p.figures.is_empty());
    }
}

#[test]
fn c4_without_a_trusted_slope_decides_from_the_pss_and_says_why() {
    let mut rs = testdata::fixture_run(3, 1.0).records;
    // Two instances: no slope; and a container whose memory fell.
    rs.extend(testdata::density_records(
        "container-isorun",
        "",
        2,
        0.2,
        0.4,
    ));
    rs.extend(testdata::density_records(
        "container-runc",
        "",
        6,
        0.2,
        -0.3,
    ));
    let v = verdicts(&rs);
    let p = part(&v[3], "hundreds");
    assert_eq!(p.verdict, Verdict::Supported, "{p:?}");
    assert!(
        p.text.contains("direct per-instance footprint")
            && p.text
                .contains("cannot be trusted here (no slope (2 instance(s)"),
        "{}",
        p.text
    );
    // Each container's figure says why its slope decides nothing.
    let runc = p
        .figures
        .iter()
        .find(|f| f.env_id == "container-runc")
        .unwrap();
    assert!(
        runc.value.contains("negative") && runc.value.contains("the slope is not positive"),
        "{}",
        runc.value
    );
    assert!(!p.text.contains('?'), "{}", p.text);
    // No PSS either: nothing decides, and the text says why.
    for r in &mut rs {
        if r.workload == crate::density::WORKLOAD {
            r.metrics.remove("instance_pss_mib");
        }
    }
    let v = verdicts(&rs);
    let p = part(&v[3], "hundreds");
    assert_eq!(p.verdict, Verdict::NotMeasured, "{p:?}");
    assert!(
        p.text
            .contains("No container's memory per instance could be estimated")
            && p.text.contains("no PSS was measured")
            && !p.text.contains('?'),
        "{}",
        p.text
    );
}

#[test]
fn c4_from_a_drifting_host_is_decided_by_the_fit_over_the_teardown_not_the_drift() {
    // crun on this host, 2 Dec 2026: PSS 0.14 MiB, launch-only slope 3.32.
    let mut rs = testdata::fixture_run(3, 1.0).records;
    rs.extend(testdata::drifting_density_records(
        "container-crun",
        200,
        0.14,
        0.14,
        3.2,
        true,
    ));
    let v = verdicts(&rs);
    let p = part(&v[3], "hundreds");
    assert_eq!(p.verdict, Verdict::Supported, "{p:?}");
    assert!(
        p.text.contains("over the launches and the teardown")
            && p.text.contains("drift c 3.20")
            && p.text.contains("disagrees with b"),
        "{}",
        p.text
    );
    // The decided number is b (about 0.14 MiB), not the launch-only 3.3.
    let n = p.figures[0].number.as_ref().unwrap();
    assert!((n.point - 0.14).abs() < 0.01, "{n:?}");
    // Launches only: the slope misses the PSS and the PSS decides, labelled.
    let mut rs = testdata::fixture_run(3, 1.0).records;
    rs.extend(testdata::drifting_density_records(
        "container-crun",
        200,
        0.14,
        0.14,
        3.2,
        false,
    ));
    let v = verdicts(&rs);
    let p = part(&v[3], "hundreds");
    assert_eq!(p.verdict, Verdict::Supported, "{p:?}");
    assert!(
        p.text.contains("direct per-instance footprint") && p.text.contains("misses"),
        "{}",
        p.text
    );
    let n = p.figures[0].number.as_ref().unwrap();
    assert!((n.point - 0.14).abs() < 1e-9, "{n:?}");
}

#[test]
fn c4_is_decided_by_the_density_experiment_when_there_is_one() {
    let mut rs = testdata::fixture_run(3, 1.0).records;
    rs.extend(testdata::density_records(
        "container-isorun",
        "",
        50,
        0.2,
        0.4,
    ));
    rs.extend(testdata::density_records("vm-kvm", "kvm", 6, 230.0, 330.0));
    let v = verdicts(&rs);
    let c4 = &v[3];
    assert_eq!(part(c4, "hundreds").verdict, Verdict::Supported, "{c4:?}");
    // 24 GiB at 0.4 MiB each is far beyond the 50 run: labelled as an
    // extrapolation with its range, from the slope with its R².
    let text = &part(c4, "hundreds").text;
    assert!(
        text.contains("an extrapolation from the 50 containers actually run"),
        "{text}"
    );
    assert!(
        text.contains("least-squares slope") && text.contains("R² 1.00"),
        "{text}"
    );
    assert!(
        text.contains("by its interval") && !text.contains('?'),
        "{text}"
    );
    assert_eq!(part(c4, "few VMs").verdict, Verdict::Supported, "{c4:?}");
    // Under TCG the VM half is not testable.
    let mut rs = testdata::fixture_run(3, 1.0).records;
    rs.extend(testdata::density_records(
        "container-isorun",
        "",
        50,
        0.2,
        0.4,
    ));
    rs.extend(testdata::density_records("vm-tcg", "tcg", 6, 230.0, 330.0));
    assert_eq!(
        part(&verdicts(&rs)[3], "few VMs").verdict,
        Verdict::NotTestable
    );
    // 500 MiB per container on a 24 GiB host is not hundreds.
    let mut rs = testdata::fixture_run(3, 1.0).records;
    rs.extend(testdata::density_records(
        "container-runc",
        "",
        10,
        500.0,
        500.0,
    ));
    assert_eq!(
        part(&verdicts(&rs)[3], "hundreds").verdict,
        Verdict::NotSupported
    );
}

#[test]
fn c5_is_decided_by_measured_slowdowns() {
    let speeds = [
        ("container-isorun", "shared", 0.5),
        ("container-isorun", "partitioned", 0.7),
        ("vm-kvm", "shared", 0.55),
        ("vm-kvm", "partitioned", 0.97),
    ];
    let v = verdicts(&testdata::neighbour_records("kvm", &speeds));
    let c5 = &v[4];
    assert_eq!(
        part(c5, "still slowed").verdict,
        Verdict::Supported,
        "{c5:?}"
    );
    assert_eq!(
        part(c5, "VM protects").verdict,
        Verdict::Supported,
        "{c5:?}"
    );
    assert_eq!(c5.verdict, Verdict::Supported);
    assert!(part(c5, "still slowed").text.contains("70%"), "{c5:?}");
    // The same under TCG: the VM half cannot be tested.
    let v = verdicts(&testdata::neighbour_records("tcg", &speeds));
    assert_eq!(part(&v[4], "VM protects").verdict, Verdict::NotTestable);
    // Containers protected as well as VMs: not supported.
    let fair = [
        ("container-isorun", "partitioned", 0.98),
        ("vm-kvm", "partitioned", 0.98),
    ];
    let v = verdicts(&testdata::neighbour_records("kvm", &fair));
    assert_eq!(part(&v[4], "still slowed").verdict, Verdict::NotSupported);
    assert_eq!(part(&v[4], "VM protects").verdict, Verdict::Inconclusive);
    // Nothing measured: not measured.
    let v = verdicts(&testdata::fixture_run(3, 1.0).records);
    assert_eq!(v[4].verdict, Verdict::NotMeasured);
}

#[test]
fn an_interval_across_the_limit_is_inconclusive_not_supported() {
    // ±10% noise on memory bandwidth at n=3: the interval of a container
    // at native speed reaches beyond "similar" (80%–125%).
    let run = testdata::fixture_run_kvm(3);
    let v = verdicts(&run.records);
    let p = part(&v[1], "in containers");
    assert_eq!(p.verdict, Verdict::Inconclusive, "{p:?}");
    let v = |point, ci| Val {
        point,
        ci,
        n: 3,
        method: String::new(),
    };
    assert_eq!(fit(&v(1.0, None), 0.0, 2.0), Fit::Unsure);
    assert_eq!(fit(&v(1.0, Some((0.9, 1.1))), 0.8, 1.25), Fit::Inside);
    assert_eq!(fit(&v(0.5, Some((0.4, 0.6))), 0.8, 1.25), Fit::Outside);
    assert_eq!(fit(&v(0.9, Some((0.6, 1.1))), 0.8, 1.25), Fit::Unsure);
}

#[test]
fn tuned_stream_is_labelled_and_not_divided_by_plain() {
    let mut run = testdata::fixture_run_kvm(12);
    testdata::set_stream_variant(&mut run, |_| true, "tuned");
    let v = verdicts(&run.records);
    let p = part(&v[1], "in containers");
    assert_eq!(p.verdict, Verdict::Supported);
    assert!(p
        .figures
        .iter()
        .all(|f| f.workload == "membw — STREAM (tuned: non-temporal stores)"));
    // A plain native run against tuned containers: no ratio.
    testdata::set_stream_variant(&mut run, |e| e == "native", "plain");
    let v = verdicts(&run.records);
    let p = part(&v[1], "in containers");
    assert_eq!(p.verdict, Verdict::NotMeasured, "{p:?}");
    assert!(p
        .reason
        .as_deref()
        .unwrap()
        .contains("stream_variant tuned vs native plain"));
}

#[test]
fn missing_environments_are_not_measured() {
    let run = testdata::fixture_run(3, 1.0);
    let no_vm: Vec<_> = run
        .records
        .iter()
        .filter(|r| r.env != "vm")
        .cloned()
        .collect();
    let v = verdicts(&no_vm);
    assert_eq!(v[0].verdict, Verdict::PartlyMeasured);
    assert_eq!(v[0].findings().len(), 1);
    assert!(v[0].missing()[0].contains("VM"));
    assert_eq!(v[2].verdict, Verdict::PartlyMeasured);
    // Every claim not wholly measured is listed once, under its command.
    let u = unmeasured(&v);
    let listed: Vec<&str> = u.iter().flat_map(|u| u.claims.clone()).collect();
    let expected: Vec<&str> = v
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::NotMeasured | Verdict::PartlyMeasured))
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, expected);
    assert!(
        listed.contains(&"C1") && listed.contains(&"C5"),
        "{listed:?}"
    );
    let c5 = u.iter().find(|u| u.claims.contains(&"C5")).unwrap();
    assert_eq!(c5.command, "isobench run --experiment neighbours");
    let commands: std::collections::BTreeSet<&str> = u.iter().map(|u| u.command).collect();
    assert_eq!(commands.len(), u.len(), "one entry per command");
}

#[test]
fn a_claim_with_no_part_measured_is_not_measured_and_evidence_against_decides() {
    let nm = || not_measured("a", "no valid figure", "x");
    let yes = || holds("b", true, "fine".into(), vec![]);
    let no = || holds("c", false, "bad".into(), vec![]);
    assert_eq!(
        combine("C1", vec![nm(), nm()]).verdict,
        Verdict::NotMeasured
    );
    assert_eq!(combine("C1", vec![]).verdict, Verdict::NotMeasured);
    let c = combine("C1", vec![nm(), yes(), yes()]);
    assert_eq!(c.verdict_text(), "partly measured (2 of 3 parts)");
    assert_eq!(
        combine("C1", vec![nm(), no()]).verdict,
        Verdict::NotSupported
    );
    assert_eq!(
        combine("C1", vec![yes(), yes()]).verdict,
        Verdict::Supported
    );
}

/// A count or a byte size that every repetition agrees on is cited as
/// itself (`4 layers`), never with a zero-width interval ("4.00 [4.00,
/// 4.00]"), and claims.json gives it no interval; a measured figure keeps
/// its interval.
#[test]
fn counts_are_cited_without_fake_intervals() {
    let mut recs = testdata::fixture_run(3, 1.0).records;
    recs.extend(testdata::layer_records(3, 1.0, 20.0));
    let c7 = verdicts(&recs).remove(6);
    let cited = |m: &str| {
        c7.figures()
            .find(|f| f.metric == m)
            .unwrap_or_else(|| panic!("{m} not cited: {c7:?}"))
            .clone()
    };
    let total = cited("layers_total");
    assert_eq!(total.value_text(), "4 layers");
    assert!(total.text().ends_with(": 4 layers"), "{}", total.text());
    assert_eq!(total.number.as_ref().unwrap().ci, None);
    assert_eq!(total.number.as_ref().unwrap().point, 4.0);
    let bytes = cited("layer_added_bytes");
    assert!(!bytes.text().contains('['), "{}", bytes.text());
    assert!(
        bytes.value_text().ends_with("MiB"),
        "{}",
        bytes.value_text()
    );
    // The copy-up times vary: measured, with an interval and the unit after.
    let t = cited("first_write_ms_16MiB");
    assert!(t.value_text().contains('[') && t.value_text().ends_with(" ms"));
    assert!(t.number.as_ref().unwrap().ci.is_some());
    // No citation of this run anywhere prints a zero-width interval.
    let all = verdicts(&recs);
    for f in all.iter().flat_map(|c| c.figures()) {
        if let Some((lo, hi)) = f.number.as_ref().and_then(|n| n.ci) {
            assert!(lo < hi || !f.text().contains('['), "{}", f.text());
        }
    }
}

/// The neighbour cells read alike in the claim's citations, its checks and
/// the table: `0.57× [0.37, 0.87] (n=3)`.
#[test]
fn neighbour_citations_use_the_tables_wording() {
    let speeds = [
        ("container-isorun", "shared", 0.5),
        ("container-isorun", "partitioned", 0.7),
        ("vm-kvm", "partitioned", 0.97),
    ];
    let recs = testdata::neighbour_records("kvm", &speeds);
    let s = crate::neighbours::slowdowns(&recs);
    assert!(!s.is_empty());
    let c5 = &verdicts(&recs)[4];
    let cites: Vec<&Cited> = c5.figures().collect();
    assert!(!cites.is_empty(), "{c5:?}");
    for c in cites {
        let x = s
            .iter()
            .find(|x| {
                c.env_id == x.env_id
                    && c.metric == x.metric
                    && c.params.contains(&format!("antagonist={}", x.antagonist))
                    && c.params.contains(&format!("placement={}", x.placement))
            })
            .unwrap_or_else(|| panic!("{c:?}"));
        assert_eq!(c.value, format!("speed beside / alone {}", x.speed_text()));
        assert!(c.value.contains("× ["), "{}", c.value);
    }
}

#[test]
fn c8_is_decided_per_place_from_fileio_rates() {
    let claim = |rs: &[ResultRecord]| {
        let v = verdicts(rs);
        v.into_iter().find(|c| c.id == "C8").expect("C8 evaluated")
    };
    // Containers at 97% of native, a KVM VM's disk at 40%: both hold.
    let c = claim(&testdata::fileio_records(5, 0.97, Some(0.4)));
    let p1 = part(&c, "container's storage");
    assert_eq!(p1.verdict, Verdict::Supported, "{p1:?}");
    assert_eq!(p1.figures.len(), 8, "4 rates at disk and tmpfs: {p1:?}");
    assert!(p1.figures.iter().all(|f| !f.metric.ends_with("rootfs")));
    assert!(p1.text.contains("overlay root"), "{}", p1.text);
    let p2 = part(&c, "virtual disk");
    assert_eq!(p2.verdict, Verdict::Supported, "{p2:?}");
    assert!(p2.figures.iter().all(|f| f.metric.ends_with("_disk")));
    assert_eq!(c.verdict, Verdict::Supported);
    // A container at half native speed contradicts "a little".
    let c = claim(&testdata::fileio_records(5, 0.5, Some(0.4)));
    assert_eq!(
        part(&c, "container's storage").verdict,
        Verdict::NotSupported
    );
    assert_eq!(c.verdict, Verdict::NotSupported);
    // A VM disk as fast as native contradicts "costs more".
    let c = claim(&testdata::fileio_records(5, 0.97, Some(1.0)));
    assert_eq!(part(&c, "virtual disk").verdict, Verdict::NotSupported);
    // No VM column: that part is not measured, the claim partly measured.
    let c = claim(&testdata::fileio_records(5, 0.97, None));
    let p2 = part(&c, "virtual disk");
    assert_eq!(p2.verdict, Verdict::NotMeasured);
    assert!(p2.missing.as_deref().unwrap().contains("--workload fileio"));
    assert_eq!(c.verdict, Verdict::PartlyMeasured);
    // Nothing run: not measured, and the command that measures it.
    let c = claim(&[]);
    assert_eq!(c.verdict, Verdict::NotMeasured);
    assert_eq!(command_for("C8"), "isobench run --workload fileio");
}

/// `container-isorun`'s records copied as a gVisor column
/// (`container-runsc`, class `sandbox`, platform ptrace): rates times
/// `speed`, times (`_ms`) over it, memory (`_mib`) times `mem`.
fn as_runsc(records: &[ResultRecord], speed: f64, mem: f64) -> Vec<ResultRecord> {
    records
        .iter()
        .filter(|r| r.env_id == "container-isorun")
        .map(|r| {
            let mut r = r.clone();
            r.env_id = "container-runsc".into();
            r.env = sandbox::SANDBOX.into();
            r.env_detail = [
                ("runtime", "runsc"),
                ("class", "sandbox: user-space kernel"),
                ("platform", "ptrace"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            for (k, v) in r.metrics.iter_mut() {
                if k.contains("_mib") {
                    *v *= mem;
                } else if k.ends_with("_ms") || k.contains("_us") || k.contains("ns_per") {
                    *v /= speed;
                } else {
                    *v *= speed;
                }
            }
            r
        })
        .collect()
}

/// The suite with a KVM VM (its VM parts are decided), file I/O and the
/// idle footprint.
fn suite_records() -> Vec<ResultRecord> {
    let mut run = testdata::fixture_run_kvm(4);
    testdata::add_footprint(&mut run, |e| if e == "vm" { 40.0 } else { 1.0 });
    let mut rs = run.records;
    rs.extend(testdata::fileio_records(4, 0.95, Some(0.5)));
    rs
}

fn decisive(c: &ClaimResult) -> Vec<&PartResult> {
    c.parts.iter().filter(|p| !p.info).collect()
}

/// The claims that get a gVisor part.
const WITH_GVISOR: [&str; 6] = ["C1", "C2", "C3", "C4", "C5", "C8"];

fn gvisor_part(c: &ClaimResult) -> &PartResult {
    let info: Vec<&PartResult> = c.parts.iter().filter(|p| p.info).collect();
    assert_eq!(info.len(), 1, "{}: {:?}", c.id, c.parts);
    assert!(info[0].label.starts_with("gVisor (runsc)"), "{info:?}");
    info[0]
}

/// A runsc column adds a gVisor part (information, with its platform and
/// figures) to C1–C4 and C8, and changes nothing of the seed's parts or
/// verdicts, even when gVisor is slow enough to fail a container's limit.
#[test]
fn gvisor_parts_are_information_and_change_no_verdict() {
    let base = suite_records();
    let mut with = base.clone();
    with.extend(as_runsc(&base, 0.5, 20.0));
    let (vb, vw) = (verdicts(&base), verdicts(&with));
    for (b, w) in vb.iter().zip(&vw) {
        assert_eq!(b.verdict, w.verdict, "{}", b.id);
        assert_eq!(b.verdict_text(), w.verdict_text(), "{}", b.id);
        assert_eq!(decisive(b), decisive(w), "{}", b.id);
        assert_eq!(claim_line(b), claim_line(w), "{}", b.id);
        // No seed part cites the sandbox.
        for p in decisive(w) {
            assert!(
                p.figures.iter().all(|f| f.env_id != "container-runsc"),
                "{} '{}' counts gVisor: {p:?}",
                w.id,
                p.label
            );
        }
    }
    for id in ["C1", "C2", "C3", "C4", "C8"] {
        let c = vw.iter().find(|c| c.id == id).unwrap();
        let g = gvisor_part(c);
        assert_eq!(g.verdict, Verdict::Information, "{id}: {g:?}");
        assert!(g.text.contains("platform ptrace"), "{id}: {}", g.text);
        assert!(g.text.contains("counted as neither"), "{id}: {}", g.text);
        assert!(
            g.figures.iter().any(|f| f.env_id == "container-runsc"),
            "{id}: {g:?}"
        );
        assert!(g.missing.is_none());
        assert!(
            g.cell_text().ends_with("(for information)"),
            "{}",
            g.cell_text()
        );
    }
    // The numbers, with intervals and n.
    let c1 = gvisor_part(&vw[0]);
    assert!(
        c1.text
            .contains("container-runsc primes_per_s at 49% of native (95% CI"),
        "{}",
        c1.text
    );
    assert!(c1.text.contains("n=4)"), "{}", c1.text);
    assert!(c1.figures[0].vs_native.is_some());
    let c2 = gvisor_part(&vw[1]);
    assert!(
        c2.text
            .contains("triad_mbs (membw — STREAM) at 49% of native"),
        "{}",
        c2.text
    );
    let c3 = gvisor_part(&vw[2]);
    assert!(
        c3.text
            .contains("container-runsc first_instruction_ms median 76"),
        "{}",
        c3.text
    );
    assert!(c3.text.contains("2.00× container-isorun"), "{}", c3.text);
    assert!(c3.text.contains("within the 3000 ms"), "{}", c3.text);
    let c4 = gvisor_part(&vw[3]);
    assert!(
        c4.text.contains("20.0× the heaviest container"),
        "{}",
        c4.text
    );
    assert!(c4.text.contains("per host by memory"), "{}", c4.text);
    let c8 = gvisor_part(&vw[7]);
    assert!(
        c8.text.contains("container-runsc seq_read_mbs_disk at"),
        "{}",
        c8.text
    );
    assert!(c8.text.contains("overlay root"), "{}", c8.text);
}

/// Without a runsc column each gVisor part is "not measured" because the
/// plan had none (not for want of a valid figure), with the flag that adds
/// one and the command that measures it, and the claim's verdict and part
/// counts are those of the seed's parts alone.
#[test]
fn gvisor_parts_without_a_runsc_column_are_not_measured() {
    let v = verdicts(&suite_records());
    for c in &v {
        if !WITH_GVISOR.contains(&c.id) {
            assert!(c.parts.iter().all(|p| !p.info), "{}", c.id);
            continue;
        }
        let g = gvisor_part(c);
        assert_eq!(g.verdict, Verdict::NotMeasured, "{}: {g:?}", c.id);
        assert!(g.figures.is_empty());
        assert_eq!(
            g.verdict_text(),
            "not measured (no runsc (gVisor) column ran in this plan; add runsc to --runtime (e.g. --runtime isorun,runsc) for one)",
            "{}",
            c.id
        );
        let m = g.missing.as_deref().unwrap_or("");
        assert!(m.contains("--runtime isorun,runsc"), "{}: {m}", c.id);
        assert_eq!(c.parts_decisive(), c.parts.len() - 1);
        let seed: Vec<PartResult> = decisive(c).into_iter().cloned().collect();
        assert_eq!(combine(c.id, seed).verdict, c.verdict, "{}", c.id);
        // Not in the seed's missing list.
        assert!(c.missing().iter().all(|x| !x.contains("runsc")), "{}", c.id);
    }
    // C1 is wholly measured: the absent gVisor part does not make it
    // "partly measured".
    assert_ne!(v[0].verdict, Verdict::PartlyMeasured, "{:?}", v[0]);
    assert_ne!(v[0].verdict, Verdict::NotMeasured);
}

/// A runsc column that ran and left only invalid results: each gVisor
/// part is "not measured (no valid figure)", not "no column ran".
#[test]
fn a_runsc_column_without_valid_figures_has_no_valid_figure() {
    let base = suite_records();
    let mut rs = base.clone();
    rs.extend(as_runsc(&base, 0.5, 2.0).into_iter().map(|mut r| {
        r.valid = false;
        r.error = Some("runsc: cannot start the sandbox".into());
        r
    }));
    assert!(rs.iter().any(|r| r.env == sandbox::SANDBOX));
    for c in verdicts(&rs) {
        if !WITH_GVISOR.contains(&c.id) {
            continue;
        }
        let g = gvisor_part(&c);
        assert_eq!(g.verdict, Verdict::NotMeasured, "{}: {g:?}", c.id);
        assert_eq!(
            g.verdict_text(),
            "not measured (no valid figure)",
            "{}",
            c.id
        );
    }
}

/// Only gVisor measured: the seed's parts stay not measured and the
/// overview line speaks for them, not for gVisor.
#[test]
fn a_gvisor_part_never_speaks_for_the_claim() {
    let base: Vec<ResultRecord> = testdata::fixture_run(4, 1.0)
        .records
        .into_iter()
        .filter(|r| r.workload == "cpu" && (r.env == "native" || r.env_id == "container-isorun"))
        .collect();
    let mut only: Vec<ResultRecord> = base.iter().filter(|r| r.env == "native").cloned().collect();
    only.extend(as_runsc(&base, 0.9, 1.0));
    let v = verdicts(&only);
    assert_eq!(v[0].verdict, Verdict::NotMeasured, "{:?}", v[0]);
    assert_eq!(gvisor_part(&v[0]).verdict, Verdict::Information);
    let line = claim_line(&v[0]);
    assert!(!line.contains("runsc"), "{line}");
    assert!(
        !v[0].verdict_text().contains("of 3"),
        "{}",
        v[0].verdict_text()
    );
}

/// C5: a gVisor victim beside the containers' and VMs' of the same
/// victim, antagonist and placement; the seed's verdict is unchanged.
#[test]
fn c5_gvisor_part_compares_the_same_victim() {
    let base = testdata::neighbour_records(
        "kvm",
        &[
            ("container-isorun", "partitioned", 0.5),
            ("vm-kvm", "partitioned", 0.95),
        ],
    );
    let mut with = base.clone();
    let mut g = testdata::neighbour_records("kvm", &[("container-isorun", "partitioned", 0.9)]);
    for r in &mut g {
        r.env_id = "container-runsc".into();
        r.env = sandbox::SANDBOX.into();
        r.env_detail.insert("platform".into(), "systrap".into());
    }
    with.extend(g);
    let (vb, vw) = (verdicts(&base), verdicts(&with));
    let (b, w) = (&vb[4], &vw[4]);
    assert_eq!(b.verdict, w.verdict);
    assert_eq!(decisive(b), decisive(w));
    assert_eq!(gvisor_part(b).verdict, Verdict::NotMeasured);
    let p = gvisor_part(w);
    assert_eq!(p.verdict, Verdict::Information, "{p:?}");
    assert!(p.text.contains("platform systrap"), "{}", p.text);
    assert!(
        p.text
            .contains("container-runsc cpu/gflops beside cpu (partitioned): 90%"),
        "{}",
        p.text
    );
    assert!(
        p.text.contains("container-isorun 50% (gVisor kept more)"),
        "{}",
        p.text
    );
    assert!(
        p.text.contains("vm-kvm 95% (gVisor kept less)"),
        "{}",
        p.text
    );
}

/// C4 from the density experiment: gVisor's memory per instance beside the
/// heaviest container's; the seed's parts unchanged.
#[test]
fn c4_gvisor_part_from_the_density_experiment() {
    let base = testdata::density_records("container-isorun", "", 200, 0.3, 0.5);
    let mut g = testdata::density_records("container-runsc", "", 200, 30.0, 40.0);
    for r in &mut g {
        r.env = sandbox::SANDBOX.into();
        r.env_detail.insert("platform".into(), "ptrace".into());
    }
    let mut with = base.clone();
    with.extend(g);
    let (vb, vw) = (verdicts(&base), verdicts(&with));
    assert_eq!(vb[3].verdict, vw[3].verdict);
    assert_eq!(decisive(&vb[3]), decisive(&vw[3]));
    let p = gvisor_part(&vw[3]);
    assert_eq!(p.verdict, Verdict::Information, "{p:?}");
    assert!(
        p.text.contains("container-runsc: 200 instances run"),
        "{}",
        p.text
    );
    assert!(
        p.text.contains("× the heaviest container container-isorun"),
        "{}",
        p.text
    );
    assert!(p.figures.iter().all(|f| f.workload == "density"));
}

/// claims.json marks the gVisor parts as information and counts only the
/// seed's parts in `parts`.
#[test]
fn claims_json_marks_the_gvisor_parts() {
    let base = suite_records();
    let mut with = base.clone();
    with.extend(as_runsc(&base, 0.9, 2.0));
    let v = verdicts(&with);
    let j: serde_json::Value =
        serde_json::from_str(&json::to_string(&v, &["r1"], &["h1"])).unwrap();
    let c1 = &j["columns"][0]["claims"][0];
    assert_eq!(c1["parts"], 2);
    let parts = c1["part_results"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0]["information"], false);
    assert_eq!(parts[2]["information"], true);
    assert_eq!(parts[2]["verdict"], "information");
    assert_eq!(parts[2]["figures"][0]["environment"], "container-runsc");
    assert!(parts[2]["figures"][0]["interval"].is_array());
}
