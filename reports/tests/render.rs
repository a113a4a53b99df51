//! Rendering the report of realistic fixture run directories (native, two
//! container runtimes, a TCG VM): the files exist, the HTML is one
//! self-contained file, every SVG parses and holds the expected series, the
//! claims follow the data, and bad input gives clear errors.

use isobench_reports::analysis::StatsOptions;
use isobench_reports::load::{load_run, LoadError};
use isobench_reports::report::{render, write_report};
use isobench_reports::testdata::{self, ENVS, LATENCY_SIZES};
use std::path::Path;

fn fixture_dir(dir: &Path, reps: u32) {
    testdata::write_run_dir(dir, &testdata::fixture_run(reps, 1.0));
}

fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

#[test]
fn report_writes_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    fixture_dir(&run, 4);
    let out = tmp.path().join("out");
    let (rendered, paths) = write_report(&run, &out).unwrap();
    for name in [
        "index.html",
        "summary.md",
        "results.csv",
        "bencher.json",
        "plots/bars-cpu.svg",
        "plots/bars-cpu.png",
        "plots/bars-membw.svg",
        "plots/bars-randacc.png",
        "plots/latency.svg",
        "plots/latency.png",
        "plots/startup.svg",
        "plots/startup.png",
    ] {
        let p = out.join(name);
        assert!(paths.contains(&p), "{name} not written");
        assert!(
            std::fs::metadata(&p).unwrap().len() > 100,
            "{name} is empty"
        );
    }
    let png = std::fs::read(out.join("plots/latency.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(rendered.warnings.is_empty(), "{:?}", rendered.warnings);
}

#[test]
fn html_is_one_self_contained_file() {
    let run = testdata::fixture_run(4, 1.0);
    let r = render(&run, StatsOptions { resamples: 200 }).unwrap();
    let html = String::from_utf8(r.files[0].bytes.clone()).unwrap();
    assert_eq!(r.files[0].name, "index.html");
    for bad in ["src=", "<link", "@import", "url("] {
        assert!(
            !html.contains(bad),
            "index.html refers outside itself: {bad}"
        );
    }
    // Links only within the page (the contents, the claims), each to a
    // section that exists.
    for link in html.split("href=\"").skip(1) {
        let target = link.split('"').next().unwrap();
        let id = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("index.html links outside itself: {target}"));
        assert!(html.contains(&format!("id=\"{id}\"")), "no section {id}");
    }
    // Plots inline, host facts, configuration, every figure, the claims.
    assert_eq!(html.matches("<svg").count(), 5);
    assert!(html.contains("Intel(R) Xeon(R) Platinum 8375C"));
    assert!(html.contains("&quot;preset&quot;: &quot;quick&quot;"));
    assert!(html.contains("<h2 id=\"claims\">Claims</h2>"));
    for id in ["C1", "C2", "C3", "C4", "C5", "C6", "C7"] {
        assert!(html.contains(&format!("<b>{id}</b>")), "{id} missing");
    }
    // One table row per figure, each VM figure with its accelerator.
    let rows = html.matches("<tr><td>").count();
    assert!(rows >= r.analysis.figures.len());
    let vm_rows: Vec<&str> = html
        .lines()
        .filter(|l| l.contains("<td>vm-tcg</td>") && !l.starts_with("<tr><td>vm-tcg"))
        .collect();
    assert_eq!(vm_rows.len(), r.analysis.figures.len() / 4);
    assert!(vm_rows.iter().all(|l| l.contains("<td>tcg</td>")));
}

#[test]
fn every_svg_parses_and_holds_its_series() {
    let run = testdata::fixture_run(3, 1.0);
    let r = render(&run, StatsOptions { resamples: 200 }).unwrap();
    let svgs: Vec<_> = r
        .files
        .iter()
        .filter(|f| f.name.ends_with(".svg"))
        .collect();
    assert_eq!(svgs.len(), 5);
    for f in &svgs {
        let text = std::str::from_utf8(&f.bytes).unwrap();
        let doc = roxmltree::Document::parse(text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", f.name));
        let t = texts(&doc);
        assert!(
            t.iter()
                .any(|s| s.contains("host bench-host") && s.contains("tcg")),
            "{}: no host/accelerator in the title: {t:?}",
            f.name
        );
    }
    // Bars of membw: a legend entry per environment, a label per metric.
    let bars = std::str::from_utf8(
        &r.files
            .iter()
            .find(|f| f.name == "plots/bars-membw.svg")
            .unwrap()
            .bytes,
    )
    .unwrap();
    let doc = roxmltree::Document::parse(bars).unwrap();
    let t = texts(&doc);
    for env in ENVS {
        assert!(t.iter().any(|s| s == env), "legend lacks {env}");
    }
    for m in ["copy_mbs", "scale_mbs", "add_mbs", "triad_mbs", "(MB/s)"] {
        assert!(t.iter().any(|s| s == m), "axis lacks {m}");
    }
    assert!(t.iter().any(|s| s.contains("relative to native")));

    // Latency: one 2-px polyline per environment through every size.
    let lat = std::str::from_utf8(
        &r.files
            .iter()
            .find(|f| f.name == "plots/latency.svg")
            .unwrap()
            .bytes,
    )
    .unwrap();
    let doc = roxmltree::Document::parse(lat).unwrap();
    let curves: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
        .filter(|n| {
            n.attribute("points")
                .is_some_and(|p| p.split_whitespace().count() == LATENCY_SIZES.len())
        })
        .collect();
    assert_eq!(curves.len(), ENVS.len());
    let t = texts(&doc);
    assert!(t.iter().any(|s| s == "16 KiB") && t.iter().any(|s| s == "1 GiB"));
    assert!(t.iter().any(|s| s.contains("ns per load")));

    // Startup: a panel per metric, each environment labelled.
    let st = std::str::from_utf8(
        &r.files
            .iter()
            .find(|f| f.name == "plots/startup.svg")
            .unwrap()
            .bytes,
    )
    .unwrap();
    let t = texts(&roxmltree::Document::parse(st).unwrap());
    assert!(t.iter().any(|s| s == "first_instruction_ms"));
    assert!(t.iter().any(|s| s == "lifecycle_ms"));
    assert_eq!(t.iter().filter(|s| *s == "isorun").count(), 2);
}

fn md_of(r: &isobench_reports::report::Rendered) -> String {
    String::from_utf8(r.files[1].bytes.clone()).unwrap()
}

fn html_of(r: &isobench_reports::report::Rendered) -> String {
    String::from_utf8(r.files[0].bytes.clone()).unwrap()
}

#[test]
fn claims_in_the_report_follow_the_data() {
    // The fixture's VM is emulated: the VM halves decide nothing.
    let run = testdata::fixture_run(4, 1.0);
    let r = render(&run, StatsOptions { resamples: 200 }).unwrap();
    let md = md_of(&r);
    assert!(
        md.contains("**C1 — not testable on this host (VM emulated)**"),
        "{md}"
    );
    assert!(md.contains("| **C3** start: containers in seconds, VMs far longer | **not testable"));

    // Under KVM at half speed, C1 becomes supported.
    let mut half = testdata::fixture_run_kvm(4);
    for rec in half
        .records
        .iter_mut()
        .filter(|r| r.env == "vm" && r.workload == "cpu")
    {
        for v in rec.metrics.values_mut() {
            *v *= 0.5 / 0.11;
        }
    }
    let r = render(&half, StatsOptions { resamples: 200 }).unwrap();
    let md = md_of(&r);
    assert!(md.contains("**C1 — supported**"), "{md}");
}

#[test]
fn the_report_answers_first() {
    let tcg = render(&testdata::fixture_run(3, 1.0), StatsOptions::default()).unwrap();
    let kvm = render(&testdata::fixture_run_kvm(3), StatsOptions::default()).unwrap();
    for (r, emulated) in [(&tcg, true), (&kvm, false)] {
        let html = html_of(r);
        let md = md_of(r);
        assert_eq!(html.contains("id=\"emulation\""), emulated);
        assert_eq!(md.contains("**Emulated VMs.**"), emulated);
        // One line per claim first, then the banner, the contents, the
        // headline, the claims by part, the per-workload tables, the host.
        let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("no {s}"));
        let overview = at("<h2 id=\"claims\">Claims</h2>");
        let contents = at("<nav id=\"contents\">");
        let head = at("<h2 id=\"speed\">Speed relative to native</h2>");
        let claims = at("<h2 id=\"claims-summary\">Claims by part</h2>");
        let per = at("<h2 id=\"workloads\">Per workload</h2>");
        let host = at("<h2 id=\"host\">Host</h2>");
        assert!(overview < contents && contents < head);
        assert!(head < claims && claims < per && per < host);
        if emulated {
            assert!(overview < at("id=\"emulation\"") && at("id=\"emulation\"") < head);
        }
        // Each claim has its line in the overview, with its verdict, and
        // the overview is short enough to be the first screen.
        let first = &html[overview..contents];
        for c in &r.claims {
            assert!(first.contains(&format!("<b>{}</b>", c.id)), "{}", c.id);
            assert!(first.contains(c.verdict.label()), "{}", c.id);
        }
        assert_eq!(first.matches("<li>").count(), r.claims.len());
        // Every environment in the headline, each ratio with its n.
        let table = &html[head..claims];
        for e in r.analysis.envs.iter() {
            assert!(table.contains(&format!(">{}", e.env_id)), "{}", e.env_id);
        }
        assert!(table.contains("(n=3)"));
        assert!(md.find("## Claims\n").unwrap() < md.find("## Speed relative to native").unwrap());
        assert!(
            md.find("## Speed relative to native").unwrap() < md.find("## Claims by part").unwrap()
        );
        assert!(md.find("## Claims by part").unwrap() < md.find("## Per workload").unwrap());
    }
}

#[test]
fn figures_with_other_parameters_are_listed_apart_without_ratios() {
    let mut run = testdata::fixture_run_kvm(3);
    for rec in run
        .records
        .iter_mut()
        .filter(|r| r.env == "vm" && r.workload == "randacc")
    {
        rec.params
            .insert("log2_table".into(), serde_json::json!(20));
    }
    let r = render(&run, StatsOptions::default()).unwrap();
    let html = html_of(&r);
    let sec = &html[html.find("<h3 id=\"w-randacc\">").unwrap()..];
    let sec = &sec[..1 + sec[1..].find("<h3 ").unwrap()];
    assert!(sec.contains("<th colspan=\"2\">Parameters</th>"));
    let apart_at = sec
        .find("Not comparable with native (different parameters)")
        .expect("separate table");
    // The main table has no vm-kvm column; the separate one has no ratio.
    assert!(!sec[..apart_at].contains("<th>vm-kvm"));
    let apart = &sec[apart_at..];
    assert!(apart.contains("log2_table 20 vs"));
    assert!(!apart.contains('×'), "{apart}");
    let md = md_of(&r);
    assert!(md.contains("Not comparable with native (different parameters):"));
}

#[test]
fn tuned_stream_is_labelled_wherever_membw_appears() {
    let mut run = testdata::fixture_run_kvm(3);
    testdata::set_stream_variant(&mut run, |_| true, "tuned");
    let r = render(&run, StatsOptions::default()).unwrap();
    let label = "STREAM (tuned: non-temporal stores)";
    let html = html_of(&r);
    assert!(html.contains(&format!("<h3 id=\"w-membw\">membw — {label}</h3>")));
    assert!(md_of(&r).contains(&format!("### membw — {label}")));
    let c2 = r.claims.iter().find(|c| c.id == "C2").unwrap();
    assert!(c2.figures().any(|f| f.workload.contains(label)));
    let svg = r
        .files
        .iter()
        .find(|f| f.name == "plots/bars-membw.svg")
        .unwrap();
    let t = texts(&roxmltree::Document::parse(std::str::from_utf8(&svg.bytes).unwrap()).unwrap());
    assert!(t.iter().any(|s| s.contains(label)), "{t:?}");
    // Plain runs say STREAM, never tuned.
    let mut plain = testdata::fixture_run_kvm(3);
    testdata::set_stream_variant(&mut plain, |_| true, "plain");
    let html = html_of(&render(&plain, StatsOptions::default()).unwrap());
    assert!(html.contains("<h3 id=\"w-membw\">membw — STREAM</h3>"));
    assert!(!html.contains("membw — STREAM (tuned"));
}

#[test]
fn one_repetition_says_it_has_no_interval() {
    let run = testdata::fixture_run_kvm(1);
    let r = render(&run, StatsOptions::default()).unwrap();
    let html = html_of(&r);
    assert!(html.contains("(n=1, no interval)"));
    assert!(
        !html.contains("(n=1)<"),
        "an n=1 figure printed as if it had an interval"
    );
}

#[test]
fn a_run_with_only_native_renders() {
    let mut run = testdata::fixture_run(3, 1.0);
    run.records.retain(|r| r.env == "native");
    let r = render(&run, StatsOptions { resamples: 100 }).unwrap();
    // No bars without a second environment, but latency and startup plots.
    let names: Vec<&str> = r.files.iter().map(|f| f.name.as_str()).collect();
    assert!(!names.contains(&"plots/bars-cpu.svg"));
    assert!(names.contains(&"plots/latency.svg"));
    assert!(r
        .claims
        .iter()
        .all(|c| c.verdict == isobench_reports::claims::Verdict::NotMeasured));
}

#[test]
fn bad_input_gives_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let e = write_report(&tmp.path().join("missing"), &tmp.path().join("o")).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = write_report(&empty, &tmp.path().join("o")).unwrap_err();
    assert!(e.to_string().contains("is empty"), "{e}");
    assert!(e.to_string().contains(&empty.display().to_string()));

    // Truncated last line: a warning, the rest renders.
    let run = tmp.path().join("cut");
    fixture_dir(&run, 3);
    let results = run.join("results.jsonl");
    let text = std::fs::read_to_string(&results).unwrap();
    std::fs::write(&results, &text[..text.len() - 25]).unwrap();
    let (rendered, _) = write_report(&run, &tmp.path().join("o")).unwrap();
    assert_eq!(rendered.warnings.len(), 1);
    assert!(rendered.warnings[0].contains("truncated"));
    assert!(
        rendered.warnings[0].contains(":60:"),
        "{}",
        rendered.warnings[0]
    );
    let html = std::fs::read_to_string(tmp.path().join("o/index.html")).unwrap();
    assert!(html.contains("last line is truncated"));

    // Unknown schema version.
    let bad = tmp.path().join("schema");
    fixture_dir(&bad, 1);
    let p = bad.join("run.json");
    let t = std::fs::read_to_string(&p)
        .unwrap()
        .replacen("\"schema\": 1", "\"schema\": 7", 1);
    std::fs::write(&p, t).unwrap();
    match load_run(&bad) {
        Err(e @ LoadError::Schema { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("schema version 7") && m.contains("run.json"),
                "{m}"
            );
        }
        other => panic!("expected a schema error, got {other:?}"),
    }
}

#[test]
fn a_run_with_neighbour_records_shows_the_slowdown_table() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut r = testdata::fixture_run(3, 1.0);
    r.records.extend(testdata::neighbour_records(
        "kvm",
        &[
            ("container-runc", "shared", 0.5),
            ("container-runc", "partitioned", 0.9),
        ],
    ));
    testdata::write_run_dir(&run, &r);
    let out = tmp.path().join("out");
    write_report(&run, &out).unwrap();
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    for doc in [&html, &md] {
        assert!(doc.contains("Noisy neighbours"), "no section");
        assert!(doc.contains("cpu/gflops beside cpu"), "no column");
        assert!(doc.contains("0.50× [0.50, 0.50] (n=5); antagonist 550.0 Mops/s"));
        assert!(doc.contains("0.90×"));
    }
    // Neighbour records are not single-instance figures.
    assert!(!md.contains("### neighbour"));
    let svg = std::fs::read_to_string(out.join("plots/neighbours.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let t = texts(&doc);
    assert!(t.iter().any(|s| s == "container-runc shared"), "{t:?}");
    assert!(
        t.iter().any(|s| s == "0.50×") && t.iter().any(|s| s == "0.90×"),
        "{t:?}"
    );
}

#[test]
fn a_run_with_density_records_shows_the_table_and_plot_and_decides_c4() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut r = testdata::fixture_run(3, 1.0);
    r.records.extend(testdata::density_records(
        "container-isorun",
        "",
        40,
        0.2,
        0.4,
    ));
    r.records
        .extend(testdata::density_records("vm-tcg", "tcg", 4, 230.0, 330.0));
    testdata::write_run_dir(&run, &r);
    let out = tmp.path().join("out");
    write_report(&run, &out).unwrap();
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    for doc in [&html, &md] {
        assert!(doc.contains("Density"), "no section");
        assert!(doc.contains("vm-tcg (emulated)"));
        assert!(doc.contains("40 containers were actually run"));
    }
    let svg = std::fs::read_to_string(out.join("plots/density.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let t = texts(&doc);
    assert!(t.iter().any(|s| s == "container-isorun"), "{t:?}");
    assert!(t.iter().any(|s| s == "vm-tcg (emulated)"), "{t:?}");
    assert!(!md.contains("### density"));
}
