//! Every committed sample report (`reports/sample/**/index.html`), and the
//! history page of a small store, opened in a real browser: Debian's
//! chromium, headless. A page passes when the browser logs no console
//! error, no script fails, every `<img>` has loaded and every inline plot
//! has a size. The check runs in the page itself: a copy of the page gets a
//! small script that, on `load`, writes what it found into the DOM, which
//! `--dump-dom` prints.
//!
//! Skipped (recorded with isobench_testkit, a failure under CI) only when
//! no chromium is installed (`scripts/setup.sh` installs it). With
//! `ISOBENCH_SHOTS=DIR` set, a screenshot of each sample report's first
//! screen (1280×900) is written there too.

use isobench_reports::changepoint::Options;
use isobench_reports::history::{split_series, History, SeriesPoint};
use isobench_reports::history_page;
use isobench_reports::load::load_run;
use isobench_reports::testdata::{fixture_run_seeded, write_run_dir};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the injected script reports, as one JSON object in the DOM.
const PROBE: &str = r##"<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) {
      errors.push('resource failed: ' + (t.src || t.href));
    } else {
      errors.push('script error: ' + e.message);
    }
  }, true);
  var orig = console.error;
  console.error = function () {
    errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    return orig.apply(console, arguments);
  };
  window.addEventListener('load', function () {
    var imgs = Array.prototype.slice.call(document.images);
    var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
      .map(function (i) { return i.src.slice(0, 80); });
    var svgs = Array.prototype.slice.call(document.querySelectorAll('__SVGS__'));
    var empty = svgs.filter(function (s) {
      var r = s.getBoundingClientRect(); return r.width < 10 || r.height < 10;
    }).length;
    var links = Array.prototype.slice.call(document.querySelectorAll('a[href^="#"]'));
    var dangling = links.filter(function (a) {
      return !document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1)));
    }).map(function (a) { return a.getAttribute('href'); });
    var out = document.createElement('pre');
    out.id = 'isobench-probe';
    var hrefs = Array.prototype.slice.call(document.querySelectorAll('a[href]:not([href^="#"])'))
      .map(function (a) { return a.getAttribute('href'); });
    out.textContent = JSON.stringify({
      errors: errors, images: imgs.length, broken: broken,
      svgs: svgs.length, empty_svgs: empty, dangling: dangling,
      changes: document.querySelectorAll('line.change').length,
      circles: document.querySelectorAll('svg circle').length,
      hrefs: hrefs
    });
    document.body.appendChild(out);
  });
})();
</script>"##;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

fn sample_reports(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sample_reports(&p, out);
        } else if p.file_name().is_some_and(|n| n == "index.html") {
            out.push(p);
        }
    }
}

/// Flags every chromium run here shares: headless, no GPU, a throwaway
/// profile, and (we run as root in CI) no sandbox.
fn base_args(profile: &Path) -> Vec<String> {
    vec![
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--no-first-run".into(),
        "--hide-scrollbars".into(),
        "--allow-file-access-from-files".into(),
        "--enable-logging=stderr".into(),
        "--v=0".into(),
        format!("--user-data-dir={}", profile.display()),
        "--virtual-time-budget=10000".into(),
    ]
}

/// Console errors chromium itself logged (`CONSOLE` lines at error level,
/// uncaught exceptions).
fn logged_console_errors(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| {
            (l.contains(":CONSOLE") && (l.contains("ERROR") || l.contains("\"Uncaught")))
                || l.contains("Uncaught ")
        })
        .map(String::from)
        .collect()
}

/// What the probe found on a page, and what chromium logged.
struct Probed {
    found: serde_json::Value,
    stderr: String,
}

/// Open `html` in chromium with the probe injected. The probed copy is
/// written as `page` (beside the original, so that relative links resolve
/// as they do for a reader) and removed afterwards; `svgs` selects the
/// inline plots that must have a size.
fn probe(
    browser: &Path,
    html: &str,
    page: &Path,
    svgs: &str,
    profile: &Path,
) -> Result<Probed, String> {
    // The probe goes first, so that it sees the page's own scripts.
    let at = html
        .find("<head")
        .or_else(|| html.find("<body"))
        .unwrap_or(0);
    let mut probed = html.to_string();
    probed.insert_str(at, &PROBE.replace("__SVGS__", svgs));
    std::fs::write(page, probed).expect("write the probe page");
    let out = Command::new(browser)
        .args(base_args(profile))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output();
    let _ = std::fs::remove_file(page);
    let out = out.expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let Some(json) = dom
        .split("<pre id=\"isobench-probe\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
    else {
        return Err(format!(
            "the page never finished loading (exit {:?}); chromium said: {}",
            out.status.code(),
            stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        ));
    };
    let json = json
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let found: serde_json::Value = serde_json::from_str(&json).expect("probe JSON");
    Ok(Probed { found, stderr })
}

/// A list the probe reported, as strings.
fn list(v: &serde_json::Value, k: &str) -> Vec<String> {
    v[k].as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Console errors, images not loaded, links to no section and inline plots
/// without a size.
fn problems(p: &Probed) -> Vec<String> {
    let v = &p.found;
    let mut problems = list(v, "errors");
    problems.extend(logged_console_errors(&p.stderr));
    problems.extend(
        list(v, "broken")
            .into_iter()
            .map(|b| format!("image not loaded: {b}")),
    );
    problems.extend(
        list(v, "dangling")
            .into_iter()
            .map(|d| format!("link to no section: {d}")),
    );
    if v["empty_svgs"].as_u64() != Some(0) {
        problems.push(format!("{} inline plot(s) with no size", v["empty_svgs"]));
    }
    problems
}

#[test]
fn every_sample_report_renders_in_chromium() {
    let Some(browser) = chromium() else {
        isobench_testkit::missing(
            "no chromium on PATH (scripts/setup.sh installs Debian's chromium)",
        );
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample");
    let mut reports = Vec::new();
    sample_reports(&root, &mut reports);
    assert!(
        !reports.is_empty(),
        "no index.html under {}: the sample is missing",
        root.display()
    );
    let shots = std::env::var_os("ISOBENCH_SHOTS").map(PathBuf::from);
    if let Some(d) = &shots {
        std::fs::create_dir_all(d).expect("create the screenshot directory");
    }
    let tmp = tempfile::tempdir().expect("temporary directory");
    let mut failures = Vec::new();
    for (i, report) in reports.iter().enumerate() {
        let rel = report.strip_prefix(&root).unwrap_or(report);
        let html = std::fs::read_to_string(report).expect("read the report");
        assert!(html.contains("</body>"), "{}: no </body>", rel.display());
        let probe_page =
            report.with_file_name(format!(".browser-probe-{}.html", std::process::id()));
        let profile = tmp.path().join(format!("profile-{i}"));
        let p = match probe(&browser, &html, &probe_page, "figure svg", &profile) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{}: {e}", rel.display()));
                continue;
            }
        };
        let problems = problems(&p);
        if problems.is_empty() {
            println!(
                "{}: {} image(s), {} inline plot(s), no console error",
                rel.display(),
                p.found["images"],
                p.found["svgs"]
            );
        } else {
            failures.push(format!("{}: {}", rel.display(), problems.join("; ")));
        }
        if let Some(d) = &shots {
            let name = rel
                .parent()
                .map(|p| p.to_string_lossy().replace('/', "-"))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "report".into());
            let shot = d.join(format!("{name}.png"));
            let status = Command::new(&browser)
                .args(base_args(&tmp.path().join(format!("shot-{i}"))))
                .arg("--window-size=1280,900")
                .arg(format!("--screenshot={}", shot.display()))
                .arg(format!("file://{}", report.display()))
                .output()
                .expect("run chromium for a screenshot");
            assert!(
                shot.is_file(),
                "{}: no screenshot written (exit {:?})",
                rel.display(),
                status.status.code()
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The history page (`isobench history --html`) of a store of 12 runs, a
/// 20% slower triad from the seventh on, half of the runs with a report:
/// no console error, every chart has a size, one point per run and series,
/// the change drawn, and every point link leads to an existing report.
#[test]
fn the_history_page_renders_in_chromium() {
    let Some(browser) = chromium() else {
        isobench_testkit::missing(
            "no chromium on PATH (scripts/setup.sh installs Debian's chromium)",
        );
        return;
    };
    let tmp = tempfile::tempdir().expect("temporary directory");
    let mut store = History::open(&tmp.path().join("h.sqlite")).expect("store");
    const RUNS: u64 = 12;
    for i in 0..RUNS {
        let mut run = fixture_run_seeded(3, if i < 6 { 1.0 } else { 0.8 }, i);
        let id = format!("run-{i:02}");
        run.info.run_id = id.clone();
        run.info.started_at = format!("2026-11-{:02}T10:00:00Z", i + 1);
        for r in run.records.iter_mut() {
            r.run_id = id.clone();
        }
        let dir = tmp.path().join("runs").join(&id);
        write_run_dir(&dir, &run);
        if i % 2 == 0 {
            let report = dir.join("report");
            std::fs::create_dir_all(&report).expect("report directory");
            std::fs::write(
                report.join("index.html"),
                format!("<!doctype html><title>{id}</title><p>report of {id}</p>"),
            )
            .expect("write a report");
        }
        let loaded = load_run(&dir).expect("load the run");
        store.push(&loaded).expect("push");
    }
    let points = store.all_series(None, None, None).expect("series");
    let series = split_series(&points).len();
    // As `isobench history --html` links a point (src/cmd/history.rs).
    let link = |p: &SeriesPoint| {
        let r = Path::new(&p.run_dir).join("report/index.html");
        r.is_file().then(|| r.display().to_string())
    };
    let html = history_page::render("history", &points, &Options::default(), &link);
    let page = tmp.path().join("history.html");
    let p = probe(
        &browser,
        &html,
        &page,
        "section svg",
        &tmp.path().join("profile"),
    )
    .unwrap_or_else(|e| panic!("history page: {e}"));
    let problems = problems(&p);
    assert!(problems.is_empty(), "history page: {}", problems.join("; "));
    let v = &p.found;
    assert_eq!(v["svgs"].as_u64(), Some(series as u64), "{v}");
    assert_eq!(v["circles"].as_u64(), Some(points.len() as u64), "{v}");
    // The triad step, in every environment at least.
    assert!(v["changes"].as_u64().unwrap_or(0) >= 4, "{v}");
    let hrefs = list(v, "hrefs");
    assert_eq!(hrefs.len(), points.len() / 2, "half the runs have a report");
    for h in &hrefs {
        assert!(
            h.ends_with("/report/index.html") && Path::new(h).is_file(),
            "point link to no report: {h}"
        );
    }
}
