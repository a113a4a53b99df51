//! `isobench report`: a run directory in, a report directory out
//! (`index.html`, `summary.md`, `results.csv`, `bencher.json`, and every plot
//! as `plots/<name>.svg` and `.png`).

use crate::analysis::{Analysis, StatsOptions};
use crate::claims::{self, ClaimResult};
use crate::digest::{digest_run_dir, Digest};
use crate::export;
use crate::load::{LoadError, Run};
use crate::output::{write_files, OutputFile, WriteError};
use crate::plot::{self, NamedImage, PlotError};
use crate::schema::{ResultRecord, RunInfo};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Parameters of a workload as one line: `matrix_n=256, threads=2`.
pub fn params_text(p: &BTreeMap<String, serde_json::Value>) -> String {
    if p.is_empty() {
        return "none".into();
    }
    p.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

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
}

impl FactsBuilder {
    pub fn push(&mut self, r: &ResultRecord) {
        if crate::analysis::EXPERIMENT_WORKLOADS.contains(&r.workload.as_str()) {
            self.experiments.push(r.clone());
        }
        self.isa.push(r);
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
        if env_id == crate::analysis::BASELINE {
            return None;
        }
        let mine = self.params(env_id, workload)?;
        let native = self.params(crate::analysis::BASELINE, workload)?;
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

/// Digits of an integer part grouped by thousands: `1234567` → `1,234,567`
/// (a sign and a fractional part are kept).
pub fn thousands(s: &str) -> String {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s),
    };
    let (int, frac) = match rest.find(['.', 'e']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if int.len() <= 3 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_string();
    }
    let mut out = String::with_capacity(int.len() + int.len() / 3);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}{frac}")
}

/// Units of counts: a count has no interval to speak of.
const COUNT_UNITS: [&str; 7] = [
    "layers",
    "actions",
    "count",
    "instances",
    "files",
    "processes",
    "attempts",
];

/// A count or a byte size as itself, without an interval (an interval on
/// `3 layers` or on a size that never varies is a fake one): the value
/// with its unit when every repetition agrees (`3 layers`, `64.0 MiB`),
/// else its range (`3–4 layers (n=5)`). `None` for a measured quantity.
pub fn exact_text(f: &crate::analysis::Figure) -> Option<String> {
    let unit = f.unit.trim().to_ascii_lowercase();
    let bytes = matches!(unit.as_str(), "bytes" | "b" | "byte");
    if !bytes && !COUNT_UNITS.contains(&unit.as_str()) {
        return None;
    }
    let (lo, hi) = f
        .samples
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    if lo > hi {
        return None;
    }
    let count = |x: f64| {
        if x.fract() == 0.0 {
            thousands(&format!("{x:.0}"))
        } else {
            crate::export::num(x)
        }
    };
    let show = |x: f64| {
        if bytes {
            bytes_text(x)
        } else {
            format!("{} {}", count(x), f.unit.trim())
        }
    };
    Some(if lo == hi {
        show(lo)
    } else if bytes {
        format!(
            "{} – {} (n={})",
            bytes_text(lo),
            bytes_text(hi),
            f.samples.len()
        )
    } else {
        format!("{}–{} (n={})", count(lo), show(hi), f.samples.len())
    })
}

/// Bytes in binary units: `67108864` → `64.0 MiB`, `12` → `12 B`.
pub fn bytes_text(x: f64) -> String {
    const UNITS: [(&str, f64); 3] = [
        ("GiB", 1024.0 * 1024.0 * 1024.0),
        ("MiB", 1024.0 * 1024.0),
        ("KiB", 1024.0),
    ];
    for (name, size) in UNITS {
        if x.abs() >= size {
            return format!("{} {name}", crate::export::num(x / size));
        }
    }
    format!("{} B", crate::export::num(x))
}

/// A ratio to native as a reader takes it: for a higher-is-better figure
/// its speed relative to native (`0.53× [0.50, 0.56] (n=5)`); for a
/// lower-is-better one (latency, startup, copy-up) how many times slower
/// it is than native (`2.1× slower [1.9, 2.4] (n=5)`), with as many digits
/// as a small ratio needs.
pub fn ratio_text(f: &crate::analysis::Figure, v: &crate::export::Val) -> String {
    match v.ci {
        Some(_) => format!("{} (n={})", ratio_words(f, v), v.n),
        None => format!("{} (n={}, no interval)", ratio_words(f, v), v.n),
    }
}

/// [`ratio_text`] without the count: `0.53× [0.50, 0.56]`, `2.1× slower
/// [1.9, 2.4]` (the terminal's table gives n a column of its own).
pub fn ratio_words(f: &crate::analysis::Figure, v: &crate::export::Val) -> String {
    use crate::plot::draw::ratio_digits;
    // A time (lower is better) reads as "× slower" (its time over native's);
    // below 1 that would read "0.75× slower", so a faster point reads as
    // "× faster" (native's time over its own) instead. Speeds stay ratios.
    // A size (memory footprint) reads as "× larger" / "× smaller" the
    // same way: "slower" would misname it.
    let time = f.direction == crate::metric::Direction::LowerIsBetter;
    let size = matches!(
        f.unit.as_str(),
        "B" | "bytes" | "KiB" | "MiB" | "GiB" | "kB" | "MB" | "GB"
    );
    let (better, worse) = if size {
        (" smaller", " larger")
    } else {
        (" faster", " slower")
    };
    let (p, ci, word) = if time && v.point > 1.0 {
        (v.point, v.ci, better)
    } else if time {
        (
            1.0 / v.point,
            v.ci.map(|(lo, hi)| (1.0 / hi, 1.0 / lo)),
            worse,
        )
    } else {
        (v.point, v.ci, "")
    };
    match ci {
        Some((lo, hi)) => format!(
            "{}×{word} [{}, {}]",
            ratio_digits(p),
            ratio_digits(lo),
            ratio_digits(hi)
        ),
        None => format!("{}×{word}", ratio_digits(p)),
    }
}

/// One line of the claims overview: the part that decided a claim's
/// verdict (the first part with the claim's own verdict) and its deciding
/// number (the first figure it cites, as a ratio to native when it has one),
/// or, for a claim nothing decided, what would measure it.
pub fn claim_line(c: &ClaimResult) -> String {
    let part = c
        .parts
        .iter()
        .find(|p| p.verdict == c.verdict && (!p.figures.is_empty() || !p.text.is_empty()))
        .or_else(|| c.parts.iter().find(|p| !p.figures.is_empty()))
        .or_else(|| c.parts.first());
    let Some(p) = part else {
        return String::new();
    };
    if let Some(f) = p.figures.first() {
        let number = match &f.vs_native {
            Some(v) => format!("{v} × native"),
            None => f.value_text(),
        };
        return format!("{}: {} {} {number}", p.label, f.env_id, f.metric);
    }
    if !p.text.is_empty() {
        // The finding's first sentence carries its number.
        let first = p.text.split(". ").next().unwrap_or(&p.text);
        return format!("{}: {first}", p.label);
    }
    match &p.missing {
        // The how (users, antagonists, ...) is in the claim's detail.
        Some(m) => format!(
            "{}: measured by {}",
            p.label,
            m.split([':', '(']).next().unwrap_or(m).trim_end()
        ),
        None => p.label.clone(),
    }
}

/// Everything the exporters need.
pub struct ReportContext<'a> {
    pub info: &'a RunInfo,
    pub analysis: &'a Analysis,
    pub claims: &'a [ClaimResult],
    /// Load warnings and the run's own measurement warnings.
    pub warnings: Vec<String>,
    pub plots: &'a [NamedImage],
    pub facts: &'a Facts,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// What a rendered report holds, for the caller to print.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub files: Vec<OutputFile>,
    pub analysis: Analysis,
    pub claims: Vec<ClaimResult>,
    pub warnings: Vec<String>,
}

/// Render the report of a loaded run, in memory.
pub fn render(run: &Run, _opts: StatsOptions) -> Result<Rendered, PlotError> {
    render_digest(Digest::of_run(run))
}

/// Render the report of a digested run, in memory.
pub fn render_digest(d: Digest) -> Result<Rendered, PlotError> {
    let Digest {
        info,
        analysis,
        facts,
        load_warnings,
        tidy_csv,
        ..
    } = d;
    let run_info = &info;
    let claims = claims::evaluate_with(&analysis, Some(run_info.host.memory_bytes), &facts);
    let titles: BTreeMap<String, String> = analysis
        .workloads()
        .into_iter()
        .map(|w| (w.clone(), facts.workload_title(&analysis, &w)))
        .collect();
    let mut plots = plot::report_plots_titled(&analysis, &run_info.host.hostname, &titles)?;
    if !facts.slowdowns.is_empty() {
        let g = plot::series::neighbour_cells(&facts.slowdowns);
        let p = plot::draw::NeighbourHeatmap {
            rows: &g.rows,
            cols: &g.cols,
            cells: &g.cells,
            subtitle: format!(
                "host {}; 1× = undisturbed, with 95% intervals; the antagonists' pressure is in the table",
                run_info.host.hostname
            ),
        };
        plots.push(plot::NamedImage {
            stem: "neighbours".into(),
            title: "noisy neighbours: victim slowdown per environment, placement and antagonist"
                .into(),
            image: plot::draw::render(&p)?,
        });
    }
    if !facts.density_series.is_empty() {
        let p = plot::draw::DensityPlot {
            series: &facts.density_series,
            subtitle: format!(
                "host {}; PSS of all of an instance's processes, measured after each launch",
                run_info.host.hostname
            ),
        };
        plots.push(plot::NamedImage {
            stem: "density".into(),
            title: "density: memory per instance and launch time against live instances".into(),
            image: plot::draw::render(&p)?,
        });
    }
    let mut warnings = load_warnings;
    warnings.extend(run_info.warnings.iter().cloned());
    if analysis.invalid_total() > 0 {
        warnings.push(format!(
            "{} result(s) were invalid (the kernel's self-check failed or the run failed) and are excluded from every figure; see the environments table",
            analysis.invalid_total()
        ));
    }
    let cx = ReportContext {
        info: run_info,
        analysis: &analysis,
        claims: &claims,
        warnings: warnings.clone(),
        plots: &plots,
        facts: &facts,
    };
    let mut files = vec![
        OutputFile {
            name: "index.html".into(),
            bytes: export::html::to_html(&cx).into_bytes(),
        },
        OutputFile {
            name: "summary.md".into(),
            bytes: export::markdown::to_markdown(&cx).into_bytes(),
        },
        OutputFile {
            name: "results.csv".into(),
            bytes: tidy_csv.into_bytes(),
        },
        OutputFile {
            name: "summary.csv".into(),
            bytes: export::csv::to_csv(&analysis).into_bytes(),
        },
        OutputFile {
            name: "bencher.json".into(),
            bytes: export::bencher::to_bmf_string_with(&analysis, &facts).into_bytes(),
        },
        OutputFile {
            name: claims::json::CLAIMS_FILE.into(),
            bytes: claims::json::to_string(
                &claims,
                &[&run_info.run_id],
                &[&run_info.host.hostname],
            )
            .into_bytes(),
        },
    ];
    for p in &plots {
        files.push(OutputFile {
            name: format!("plots/{}.svg", p.stem),
            bytes: p.image.svg.clone().into_bytes(),
        });
        files.push(OutputFile {
            name: format!("plots/{}.png", p.stem),
            bytes: p.image.png.clone(),
        });
    }
    Ok(Rendered {
        files,
        analysis,
        claims,
        warnings,
    })
}

/// Default output directory of a run's report.
pub fn default_out_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("report")
}

/// Load `run_dir`, render, write into `out_dir`. Returns the rendering and
/// the paths written.
pub fn write_report(
    run_dir: &Path,
    out_dir: &Path,
) -> Result<(Rendered, Vec<PathBuf>), ReportError> {
    let rendered = render_digest(digest_run_dir(run_dir)?)?;
    let paths = write_files(out_dir, &rendered.files)?;
    Ok((rendered, paths))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_group_the_integer_part_only() {
        assert_eq!(thousands("52020"), "52,020");
        assert_eq!(thousands("1234567"), "1,234,567");
        assert_eq!(thousands("-1234.5"), "-1,234.5");
        assert_eq!(thousands("999"), "999");
        assert_eq!(thousands("1.230e-4"), "1.230e-4");
        assert_eq!(crate::export::num(1_301_631.0), "1,301,631");
    }

    #[test]
    fn counts_and_sizes_have_no_interval() {
        let run = crate::testdata::fixture_run(3, 1.0);
        let mut recs = run.records.clone();
        recs.extend(crate::testdata::c7_records(3, 1.0, 5.0));
        let a = crate::analysis::analyse(&recs, Default::default());
        let layers = a
            .figures
            .iter()
            .find(|f| f.unit == "layers")
            .expect("a count figure");
        let text = crate::export::median_ci(layers);
        assert!(!text.contains('['), "{text}");
        assert!(text.ends_with(" layers") && !text.contains('.'), "{text}");
        let bytes = a
            .figures
            .iter()
            .find(|f| f.unit == "bytes" && f.metric == "layer_added_bytes")
            .expect("a byte figure");
        assert_eq!(crate::export::median_ci(bytes), "4.00 MiB");
        // A measured quantity keeps its interval.
        let triad = a
            .figures
            .iter()
            .find(|f| f.metric == "triad_mbs")
            .expect("triad");
        assert!(crate::export::median_ci(triad).contains('['));
    }

    #[test]
    fn ratios_read_as_speed_or_as_times_slower() {
        let run = crate::testdata::fixture_run(3, 1.0);
        let a = crate::analysis::analyse(&run.records, Default::default());
        let v = crate::export::Val {
            point: 0.5,
            ci: Some((0.4, 0.64)),
            n: 3,
            method: String::new(),
        };
        let lat = a
            .figures
            .iter()
            .find(|f| f.workload == "latency")
            .expect("latency");
        assert_eq!(ratio_text(lat, &v), "2.00× slower [1.56, 2.50] (n=3)");
        let faster = crate::export::Val {
            point: 1.25,
            ci: Some((0.9, 1.6)),
            n: 3,
            method: String::new(),
        };
        assert_eq!(ratio_text(lat, &faster), "1.25× faster [0.90, 1.60] (n=3)");
        let triad = a
            .figures
            .iter()
            .find(|f| f.metric == "triad_mbs")
            .expect("triad");
        assert_eq!(ratio_text(triad, &v), "0.50× [0.40, 0.64] (n=3)");
        // A TCG ratio never reads as zero.
        let tiny = crate::export::Val {
            point: 0.0123,
            ci: Some((0.0101, 0.0149)),
            n: 3,
            method: String::new(),
        };
        assert_eq!(ratio_text(triad, &tiny), "0.012× [0.010, 0.015] (n=3)");
        // A size reads as larger or smaller, never slower.
        let mut pss = lat.clone();
        pss.unit = "MiB".into();
        assert_eq!(ratio_text(&pss, &v), "2.00× larger [1.56, 2.50] (n=3)");
        assert_eq!(
            ratio_text(&pss, &faster),
            "1.25× smaller [0.90, 1.60] (n=3)"
        );
    }

    #[test]
    fn the_isa_table_appears_where_cpu_records_carry_a_path() {
        let mut run = crate::testdata::fixture_run(3, 1.0);
        let md = |run: &Run| {
            let r = render(run, StatsOptions::default()).unwrap();
            let f = r.files.iter().find(|f| f.name == "summary.md").unwrap();
            String::from_utf8(f.bytes.clone()).unwrap()
        };
        assert!(!md(&run).contains("## ISA"), "no path recorded: no table");
        for r in run.records.iter_mut().filter(|r| r.workload == "cpu") {
            let native = r.env == "native";
            let path = if native { "avx2+fma" } else { "sse2" };
            r.info.insert("dgemm_path".into(), path.into());
            let variant = if native { "tuned" } else { "baseline" };
            r.info.insert("dgemm_variant".into(), variant.into());
            let g = r.metrics["gflops"];
            let base = if native {
                g / (2.5 + 0.01 * r.rep as f64)
            } else {
                g
            };
            r.metrics.insert("gflops_baseline".into(), base);
        }
        let text = md(&run);
        assert!(text.contains("## ISA"), "{text}");
        let row = text
            .lines()
            .skip_while(|l| !l.starts_with("## ISA"))
            .find(|l| l.starts_with("| native |"))
            .expect("a native row");
        assert!(
            row.contains("avx2+fma (tuned)") && row.contains("(n=3)"),
            "{row}"
        );
        assert!(row.contains("2.5"), "{row}");
        assert!(text.contains("sse2 (baseline)"), "{text}");
    }
}
