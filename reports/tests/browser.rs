//! Every committed sample report (`reports/sample/**/index.html`) opened in
//! a real browser: Debian's chromium, headless. A page passes when the
//! browser logs no console error, no script fails, every `<img>` has
//! loaded and every inline plot has a size. The check runs in the page
//! itself: a copy of the report gets a small script that, on `load`,
//! writes what it found into the DOM, which `--dump-dom` prints.
//!
//! Skipped (with the reason printed) only when no chromium is installed
//! (`scripts/setup.sh` installs it). With `ISOBENCH_SHOTS=DIR` set, a
//! screenshot of each page's first screen (1280×900) is written there too.

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
    var svgs = Array.prototype.slice.call(document.querySelectorAll('figure svg'));
    var empty = svgs.filter(function (s) {
      var r = s.getBoundingClientRect(); return r.width < 10 || r.height < 10;
    }).length;
    var links = Array.prototype.slice.call(document.querySelectorAll('a[href^="#"]'));
    var dangling = links.filter(function (a) {
      return !document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1)));
    }).map(function (a) { return a.getAttribute('href'); });
    var out = document.createElement('pre');
    out.id = 'isobench-probe';
    out.textContent = JSON.stringify({
      errors: errors, images: imgs.length, broken: broken,
      svgs: svgs.length, empty_svgs: empty, dangling: dangling
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

#[test]
fn every_sample_report_renders_in_chromium() {
    let Some(browser) = chromium() else {
        println!("skipped: no chromium on PATH (scripts/setup.sh installs Debian's chromium)");
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
        // The copy sits beside the original, so that relative links resolve
        // as they do for a reader.
        let probe_page =
            report.with_file_name(format!(".browser-probe-{}.html", std::process::id()));
        // The probe goes first, so that it sees the page's own scripts.
        let at = html
            .find("<head")
            .or_else(|| html.find("<body"))
            .unwrap_or(0);
        let mut probed = html.clone();
        probed.insert_str(at, PROBE);
        std::fs::write(&probe_page, probed).expect("write the probe page");
        let profile = tmp.path().join(format!("profile-{i}"));
        let out = Command::new(&browser)
            .args(base_args(&profile))
            .arg("--dump-dom")
            .arg(format!("file://{}", probe_page.display()))
            .output();
        let _ = std::fs::remove_file(&probe_page);
        let out = out.expect("run chromium");
        let dom = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let Some(json) = dom
            .split("<pre id=\"isobench-probe\">")
            .nth(1)
            .and_then(|s| s.split("</pre>").next())
        else {
            failures.push(format!(
                "{}: the page never finished loading (exit {:?}); chromium said: {}",
                rel.display(),
                out.status.code(),
                stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
            ));
            continue;
        };
        let json = json.replace("&quot;", "\"").replace("&amp;", "&");
        let v: serde_json::Value = serde_json::from_str(&json).expect("probe JSON");
        let list = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| a.iter().map(|x| x.to_string()).collect())
                .unwrap_or_default()
        };
        let mut problems = list("errors");
        problems.extend(logged_console_errors(&stderr));
        problems.extend(
            list("broken")
                .into_iter()
                .map(|b| format!("image not loaded: {b}")),
        );
        problems.extend(
            list("dangling")
                .into_iter()
                .map(|d| format!("link to no section: {d}")),
        );
        if v["empty_svgs"].as_u64() != Some(0) {
            problems.push(format!("{} inline plot(s) with no size", v["empty_svgs"]));
        }
        if problems.is_empty() {
            println!(
                "{}: {} image(s), {} inline plot(s), no console error",
                rel.display(),
                v["images"],
                v["svgs"]
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
