//! The static history page (`isobench history --html OUT`): one chart per
//! series (workload × metric × parameters × environment × host), its change
//! points marked, every point a link to its run's report.
//!
//! The SVG is written by hand rather than with plotters (which the other
//! plots use) because a point has to be a link (`<a href>`) with a tooltip
//! (`<title>`), which plotters' SVG backend cannot emit, and because a page
//! of a thousand runs must render in well under a second (plotters also
//! draws a PNG of every chart).

use crate::changepoint::{analyse_points, Options, SeriesChange, Trend};
use crate::history::{split_series, SeriesPoint};
use crate::text::num;
use std::fmt::Write as _;

/// HTML-escape text for an element or an attribute.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const W: f64 = 900.0;
const H: f64 = 300.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 40.0;

/// One series' chart: points (run geometric means) with their intervals,
/// a line through them, dashed lines at the change points.
fn chart(
    s: &[SeriesPoint],
    changes: &[SeriesChange],
    link: &dyn Fn(&SeriesPoint) -> Option<String>,
) -> String {
    let lo = s
        .iter()
        .map(|p| p.ci.map_or(p.centre, |c| c.0))
        .fold(f64::INFINITY, f64::min);
    let hi = s
        .iter()
        .map(|p| p.ci.map_or(p.centre, |c| c.1))
        .fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if hi > lo {
        let pad = (hi - lo) * 0.08;
        (lo - pad, hi + pad)
    } else {
        (lo * 0.9, hi * 1.1 + f64::MIN_POSITIVE)
    };
    let n = s.len().max(1) as f64;
    let x = |i: usize| LEFT + (W - LEFT - RIGHT) * (i as f64 + 0.5) / n;
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (v - lo) / (hi - lo));
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img">"##
    );
    let _ = write!(
        o,
        r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    // Five y ticks.
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let _ = write!(
            o,
            r##"<line x1="{}" x2="{LEFT}" y1="{y:.1}" y2="{y:.1}" stroke="#999"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end" font-family="sans-serif">{}</text>"##,
            LEFT - 4.0,
            LEFT - 6.0,
            y(v) + 4.0,
            esc(&num(v)),
            y = y(v)
        );
    }
    let _ = write!(
        o,
        r##"<text x="{}" y="{}" font-size="11" text-anchor="middle" font-family="sans-serif">run (oldest left; {} runs)</text>"##,
        LEFT + (W - LEFT - RIGHT) / 2.0,
        H - 10.0,
        s.len()
    );
    for c in changes {
        let cx = (x(c.change.index - 1) + x(c.change.index)) / 2.0;
        let _ = write!(
            o,
            r##"<line class="change" x1="{cx:.1}" x2="{cx:.1}" y1="{TOP}" y2="{}" stroke="#c00" stroke-width="2" stroke-dasharray="6 4"><title>change at run {}: ×{:.3}</title></line>"##,
            H - BOTTOM,
            esc(&c.first_after),
            c.change.ratio
        );
    }
    let mut path = String::new();
    for (i, p) in s.iter().enumerate() {
        let _ = write!(
            path,
            "{}{:.1},{:.1}",
            if i == 0 { "M" } else { " L" },
            x(i),
            y(p.centre)
        );
    }
    let _ = write!(
        o,
        r##"<path d="{path}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>"##
    );
    for (i, p) in s.iter().enumerate() {
        let interval =
            p.ci.map_or("no interval (one value)".to_string(), |(a, b)| {
                format!("95% t interval [{}, {}]", num(a), num(b))
            });
        let tip = format!(
            "{} ({}): {} {} {}, {}, n {}",
            p.run_id,
            p.started_at,
            p.centre_kind.label(),
            num(p.centre),
            p.unit,
            interval,
            p.n
        );
        let href = link(p);
        if let Some(h) = &href {
            let _ = write!(o, r##"<a class="point" href="{}">"##, esc(h));
        }
        if let Some((a, b)) = p.ci {
            let _ = write!(
                o,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="#555"/>"##,
                y(a),
                y(b),
                x = x(i)
            );
        }
        let _ = write!(
            o,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="#1f77b4"><title>{}</title></circle>"##,
            x(i),
            y(p.centre),
            esc(&tip)
        );
        if href.is_some() {
            o.push_str("</a>");
        }
    }
    o.push_str("</svg>");
    o
}

/// What [`analyse_points`] found in one series.
type SeriesAnalysis = Option<(Vec<SeriesChange>, Option<Trend>)>;

/// The change-point analysis of every series, the series spread over the
/// cores the host offers (each series' permutations are seeded by its own
/// key, so the result does not depend on the spread).
fn analyse_all(series: &[&[SeriesPoint]], opts: &Options) -> Vec<SeriesAnalysis> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(series.len());
    if workers <= 1 {
        return series.iter().map(|s| analyse_points(s, opts)).collect();
    }
    let mut out: Vec<SeriesAnalysis> = vec![None; series.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    (w..series.len())
                        .step_by(workers)
                        .map(|i| (i, analyse_points(series[i], opts)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, a) in h.join().expect("an analysis thread does not panic") {
                out[i] = a;
            }
        }
    });
    out
}

/// The page for `points` (as [`crate::history::History::all_series`] returns
/// them). `link` gives the address of a run's report, if it has one.
pub fn render(
    title: &str,
    points: &[SeriesPoint],
    opts: &Options,
    link: &dyn Fn(&SeriesPoint) -> Option<String>,
) -> String {
    let series = split_series(points);
    let runs: std::collections::BTreeSet<&str> = points.iter().map(|p| p.run_id.as_str()).collect();
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{t}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}}
section{{margin-bottom:2.5em}} h2{{font-size:1.05em}} .note{{color:#555;font-size:.9em}}
li.change{{color:#900}}</style></head><body>
<h1>{t}</h1>
<p class="note">{} runs, {} series. Each point is one run: the geometric mean of its valid
repetitions (the arithmetic mean when a value is ≤ 0), the estimator <code>isobench report</code>
and <code>isobench compare</code> print; its bar is the 95% t interval of that geometric mean
(on the log scale). Click a point for its run's report. Dashed red lines are change points
found by E-Divisive means with a permutation test (α {}, {} permutations); sizes are ratios of
the geometric means of the run values on either side, with Welch 95% intervals.</p>
"#,
        runs.len(),
        series.len(),
        opts.alpha,
        opts.permutations,
        t = esc(title)
    );
    let analyses = analyse_all(&series, opts);
    for (k, (s, analysis)) in series.iter().zip(analyses).enumerate() {
        let p0 = &s[0];
        let analysed = analysis.is_some();
        let (changes, trend): (Vec<SeriesChange>, Option<Trend>) = analysis.unwrap_or_default();
        let _ = write!(
            o,
            r#"<section id="s{k}"><h2>{}/{} in {} <span class="note">{} · host {} · {} ({})</span></h2>"#,
            esc(&p0.workload),
            esc(&p0.metric),
            esc(&p0.env_id),
            esc(&p0.params),
            esc(&p0.host_fingerprint[..8.min(p0.host_fingerprint.len())]),
            esc(p0.centre_kind.label()),
            esc(&p0.unit),
        );
        o.push_str(&chart(s, &changes, link));
        o.push_str("<ul>");
        if !analysed {
            o.push_str("<li>not analysed: a run has no positive figure</li>");
        }
        for c in &changes {
            let x = &c.change;
            let _ = write!(
                o,
                r#"<li class="change">change at run {} (after {}): ×{:.3} {} ({:+.1}%), p {:.3}, {} runs before, {} after</li>"#,
                esc(&c.first_after),
                esc(&c.last_before),
                x.ratio,
                x.ratio_ci
                    .map_or("[no interval]".to_string(), |(a, b)| format!(
                        "[{a:.3}, {b:.3}]"
                    )),
                (x.ratio - 1.0) * 100.0,
                x.p_value,
                x.runs_before,
                x.runs_after
            );
        }
        if let Some(t) = &trend {
            let _ = write!(
                o,
                r#"<li class="change">creep over the last {} runs: {:+.2}% per run [{:+.2}, {:+.2}], p {:.3}</li>"#,
                t.runs,
                t.per_run * 100.0,
                t.per_run_ci.0 * 100.0,
                t.per_run_ci.1 * 100.0,
                t.p_value
            );
        }
        if analysed && changes.is_empty() && trend.is_none() {
            o.push_str("<li>no change point or creep</li>");
        }
        o.push_str("</ul></section>\n");
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changepoint::sim;
    use crate::stats::{CentreKind, SplitMix64};

    pub(crate) fn points(n: usize, step_at: usize) -> Vec<SeriesPoint> {
        let mut rng = SplitMix64::new(5);
        let xs = sim::series(
            n,
            Some((step_at, -0.2)),
            None,
            &sim::Noise::default(),
            &mut rng,
        );
        xs.iter()
            .enumerate()
            .map(|(i, &v)| SeriesPoint {
                run_id: format!("run-{i:03}"),
                started_at: format!("2026-11-28T10:{:02}:00Z", i % 60),
                host_fingerprint: "0123456789abcdef".into(),
                isobench_version: "0.1.0".into(),
                git_commit: None,
                run_dir: format!("/runs/{i}"),
                workload: "membw".into(),
                metric: "triad_mbs".into(),
                params: "{}".into(),
                env_id: "native".into(),
                env_detail: "{}".into(),
                unit: "MB/s".into(),
                n: 3,
                centre: v,
                centre_kind: CentreKind::GeometricMean,
                ci: Some((v * 0.98, v * 1.02)),
            })
            .collect()
    }

    #[test]
    fn spreading_the_analysis_changes_nothing() {
        let mut all = Vec::new();
        for (k, step) in [8, 12, 18, 22, 25].into_iter().enumerate() {
            all.extend(points(30, step).into_iter().map(|mut p| {
                p.metric = format!("m{k}");
                p
            }));
        }
        let series = split_series(&all);
        assert_eq!(series.len(), 5);
        let opts = Options::default();
        let one_by_one: Vec<SeriesAnalysis> =
            series.iter().map(|s| analyse_points(s, &opts)).collect();
        assert!(one_by_one
            .iter()
            .all(|a| a.as_ref().is_some_and(|(c, _)| !c.is_empty())));
        assert_eq!(analyse_all(&series, &opts), one_by_one);
    }

    #[test]
    fn page_marks_the_change_and_links_every_point() {
        let ps = points(30, 18);
        let html = render(
            "history <test>",
            &ps,
            &Options::default(),
            &|p: &SeriesPoint| Some(format!("{}/report/index.html", p.run_dir)),
        );
        assert!(html.contains("<title>history &lt;test&gt;</title>"));
        assert_eq!(html.matches(r#"<a class="point" href="/runs/"#).count(), 30);
        assert!(html.contains(r#"href="/runs/7/report/index.html""#));
        assert_eq!(html.matches(r#"<line class="change""#).count(), 1, "{html}");
        assert!(html.contains("change at run run-018 (after run-017)"));
        assert!(html.contains("95% t interval of that geometric mean"));
        assert!(html.contains("geometric mean"));
        assert!(!html.contains("median"));
        // Well-formed XML inside the page: the SVG parses.
        let start = html.find("<svg").unwrap();
        let end = html.find("</svg>").unwrap() + 6;
        roxmltree::Document::parse(&html[start..end]).expect("SVG parses");
    }
}
