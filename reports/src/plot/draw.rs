//! Drawing the series of [`super::series`] with plotters, to SVG text and to
//! PNG bytes from the same code. Text uses the DejaVu Sans font embedded in
//! the crate (`assets/DejaVuSans.ttf`), so no system font library is needed.

use super::series::{BarChart, LatencyLine, StartupDist};
use crate::text::{num, ratio_digits, thousands, times};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, FontTransform};
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Drawing failed (a plotters backend error, as text).
#[derive(Debug, thiserror::Error)]
#[error("cannot draw plot {name}: {message}")]
pub struct PlotError {
    pub name: String,
    pub message: String,
}

/// A rendered plot.
#[derive(Debug, Clone)]
pub struct Image {
    pub svg: String,
    pub png: Vec<u8>,
}

type DrawResult = Result<(), String>;

fn de<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Something that can draw itself on any plotters backend.
pub trait Plot {
    fn name(&self) -> String;
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

/// Draw `p` to SVG and PNG.
pub fn render(p: &impl Plot) -> Result<Image, PlotError> {
    REGISTER.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font is embedded and known to parse; a failure would only
            // leave text undrawn, which the tests catch.
            let _ = plotters::style::register_font("sans-serif", style, FONT);
        }
    });
    let err = |message: String| PlotError {
        name: p.name(),
        message,
    };
    let (w, h) = p.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(de).map_err(err)?;
        p.draw(&root).map_err(err)?;
        root.present().map_err(de).map_err(err)?;
    }
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(de).map_err(err)?;
        p.draw(&root).map_err(err)?;
        root.present().map_err(de).map_err(err)?;
    }
    let png = encode_png(&buf, w, h).map_err(err)?;
    Ok(Image { svg, png })
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Plots are flat colours: zlib's default level with adaptive
        // filtering makes them several times smaller than the crate's fast
        // default, at a few milliseconds per image.
        enc.set_compression(png::Compression::Default);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = enc.write_header().map_err(de)?;
        writer.write_image_data(rgb).map_err(de)?;
    }
    Ok(out)
}

/// Colour of the i-th series of a plot whose series are not environments
/// (the runs of a multi-run report).
pub fn env_color(i: usize) -> RGBColor {
    const P: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(23, 190, 207),
        RGBColor(90, 90, 90),
    ];
    P[i % P.len()]
}

/// The colour of an environment, from its id alone, so that an environment
/// keeps its colour in every plot of every report whatever the other
/// columns are: native grey, each runtime its own hue (isorun blue, runc
/// green, crun orange, runsc teal), VMs red (KVM) or purple (emulated);
/// rootless columns a lighter, engine-driven ones (podman, docker) a darker
/// shade of their runtime's hue. An id nothing here knows gets a hue from a
/// hash of the id (stable across runs, not across every id).
pub fn env_color_of(env_id: &str) -> RGBColor {
    let id = env_id.to_ascii_lowercase();
    let has = |s: &str| id.split(['-', ':', '_', ' ']).any(|t| t == s);
    let base = if id == "native" || id.starts_with("native") {
        RGBColor(90, 90, 90)
    } else if id.starts_with("vm") {
        if has("tcg") {
            RGBColor(148, 103, 189)
        } else {
            RGBColor(214, 39, 40)
        }
    } else if has("isorun") {
        RGBColor(31, 119, 180)
    } else if has("runc") {
        RGBColor(44, 160, 44)
    } else if has("crun") {
        RGBColor(255, 127, 14)
    } else if has("runsc") {
        RGBColor(23, 190, 207)
    } else {
        const EXTRA: [RGBColor; 5] = [
            RGBColor(140, 86, 75),
            RGBColor(227, 119, 194),
            RGBColor(188, 189, 34),
            RGBColor(23, 190, 207),
            RGBColor(127, 60, 141),
        ];
        // FNV-1a: a fixed hash, unlike std's randomly seeded one.
        let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        EXTRA[(h % EXTRA.len() as u64) as usize]
    };
    let shade = |c: RGBColor, f: f64, towards: f64| {
        let m = |x: u8| (f64::from(x) + (towards - f64::from(x)) * f).round() as u8;
        RGBColor(m(c.0), m(c.1), m(c.2))
    };
    let mut c = base;
    if has("podman") || has("docker") {
        c = shade(c, 0.35, 0.0);
    }
    if has("rootless") {
        c = shade(c, 0.45, 255.0);
    }
    c
}

/// The plot font at `size` nominal points, scaled up a little: plotters draws
/// text at size / 1.24 pixels per em, small next to the HTML page's text.
fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", f64::from(size) * 1.15)
        .into_font()
        .color(&BLACK)
}

/// Title and subtitle across the top; returns the area below them.
fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    let (w, _) = root.dim_in_pixel();
    let (top, rest) = root.split_vertically(58);
    let t = font(20).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Top,
    ));
    top.draw_text(title, &t, (w as i32 / 2, 6)).map_err(de)?;
    let s = font(13)
        .color(&RGBColor(80, 80, 80))
        .pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Top,
        ));
    top.draw_text(subtitle, &s, (w as i32 / 2, 34))
        .map_err(de)?;
    Ok(rest)
}

/// A legend drawn in its own area, outside the data: one coloured square
/// and name per line.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    names: &[String],
    colors: &[RGBColor],
) -> DrawResult {
    for (i, n) in names.iter().enumerate() {
        let y = 20 + i as i32 * 22;
        let c = colors.get(i).copied().unwrap_or_else(|| env_color(i));
        area.draw(&Rectangle::new([(8, y), (22, y + 14)], c.filled()))
            .map_err(de)?;
        area.draw_text(n, &font(13), (28, y)).map_err(de)?;
    }
    Ok(())
}

/// Width of a legend column for these names (about 7.5 px a character at
/// the legend's font).
fn legend_width(names: &[String]) -> u32 {
    let chars = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as u32;
    (40 + chars * 8).clamp(120, 320)
}

/// A tick of a logarithmic axis: `0.5`, `10`, `1,000` (no trailing zeros).
fn axis_num(x: f64) -> String {
    let s = num(x);
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A tick of a logarithmic ratio axis: `0.01×`, `0.5×`, `1×`, `20×`.
fn axis_times(x: f64) -> String {
    let s = ratio_digits(x);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}×")
}

/// Split a legend column off the right of `area` for one line per
/// environment (outside the data); returns the area left for the chart.
fn lines_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &[LatencyLine],
) -> Result<DrawingArea<DB, Shift>, String> {
    let names: Vec<String> = lines.iter().map(|l| l.env_id.clone()).collect();
    let colors: Vec<RGBColor> = names.iter().map(|n| env_color_of(n)).collect();
    let (w, _) = area.dim_in_pixel();
    let (chart, side) = area.split_horizontally(w - legend_width(&names));
    legend(&side, &names, &colors)?;
    Ok(chart)
}

/// Text centred at a backend pixel (as `backend_coord` gives), split into
/// lines at `\n`.
fn centred_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    (x, y): (i32, i32),
    size: u32,
) -> DrawResult {
    let style = font(size).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Top,
    ));
    let (bx, by) = area.get_base_pixel();
    let (x, y) = (x - bx, y - by);
    for (i, line) in text.lines().enumerate() {
        area.draw_text(line, &style, (x, y + i as i32 * (size as i32 + 3)))
            .map_err(de)?;
    }
    Ok(())
}

/// Per-workload bars of speed relative to native, on a logarithmic axis:
/// each bar runs from 1× (native) to its value, up when faster, down when
/// slower, so that 0.01× and 23× both read.
pub struct BarsPlot<'a> {
    pub chart: &'a BarChart,
    /// e.g. `membw — STREAM: speed relative to native`.
    pub title: String,
    pub units: Vec<String>,
    pub subtitle: String,
    /// Colour of each series (`chart.envs`): [`env_color_of`] for
    /// environments, [`env_color`] for runs.
    pub colors: Vec<RGBColor>,
}

impl BarsPlot<'_> {
    /// The label under each metric, broken at `_` into lines of at most
    /// `MAX_LINE` characters, with its unit.
    fn metric_label(&self, i: usize) -> String {
        const MAX_LINE: usize = 14;
        let m = &self.chart.metrics[i];
        let mut lines: Vec<String> = vec![String::new()];
        for (k, part) in m.split('_').enumerate() {
            let cur = lines.last_mut().expect("one line at least");
            let piece = if k == 0 {
                part.to_string()
            } else {
                format!("_{part}")
            };
            if !cur.is_empty() && cur.chars().count() + piece.chars().count() > MAX_LINE {
                lines.push(piece);
            } else {
                cur.push_str(&piece);
            }
        }
        if let Some(u) = self.units.get(i).filter(|u| !u.is_empty()) {
            lines.push(format!("({u})"));
        }
        lines.join("\n")
    }

    fn label_px(&self) -> u32 {
        (0..self.chart.metrics.len())
            .flat_map(|i| {
                self.metric_label(i)
                    .lines()
                    .map(|l| l.chars().count())
                    .collect::<Vec<_>>()
            })
            .max()
            .unwrap_or(0) as u32
            * 9
            + 16
    }

    /// Whether the labels are too many to sit side by side (the runs of a
    /// multi-run report times every environment): then each is one line,
    /// turned to read downwards.
    fn rotated(&self) -> bool {
        self.chart.metrics.len() as u32 * self.label_px() > 1500
    }

    fn flat_label(&self, i: usize) -> String {
        let m = &self.chart.metrics[i];
        match self.units.get(i).filter(|u| !u.is_empty()) {
            Some(u) => format!("{m} ({u})"),
            None => m.clone(),
        }
    }

    fn flat_px(&self) -> u32 {
        (0..self.chart.metrics.len())
            .map(|i| self.flat_label(i).chars().count() as u32)
            .max()
            .unwrap_or(0)
            * 7
            + 14
    }

    fn label_lines(&self) -> usize {
        (0..self.chart.metrics.len())
            .map(|i| self.metric_label(i).lines().count())
            .max()
            .unwrap_or(1)
    }
}

impl Plot for BarsPlot<'_> {
    fn name(&self) -> String {
        format!("{}.svg", self.chart.workload)
    }
    fn size(&self) -> (u32, u32) {
        let envs = self.chart.envs.len() as u32;
        let (per_metric, labels_h) = if self.rotated() {
            ((20 + 24 * envs).max(34), self.flat_px())
        } else {
            (
                (60 + 34 * envs).max(self.label_px()),
                16 * self.label_lines() as u32,
            )
        };
        let w =
            (100 + legend_width(&self.chart.envs) + self.chart.metrics.len() as u32 * per_metric)
                .clamp(760, 3200);
        (w, 500 + labels_h)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let c = self.chart;
        let area = titled(root, &self.title, &self.subtitle)?;
        let (w, _) = area.dim_in_pixel();
        let (plot_area, legend_area) = area.split_horizontally(w - legend_width(&c.envs));
        legend(&legend_area, &c.envs, &self.colors)?;
        let values = || {
            c.bars
                .iter()
                .flat_map(|b| b.points.iter().copied().chain([b.lo, b.hi, b.value]))
                .filter(|v| v.is_finite() && *v > 0.0)
        };
        let ymax = values().fold(1.0f64, f64::max) * 1.6;
        let ymin = values().fold(1.0f64, f64::min) / 1.6;
        let n = c.metrics.len() as f64;
        let rotated = self.rotated();
        let labels_h = if rotated {
            self.flat_px()
        } else {
            16 * self.label_lines() as u32
        };
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(10)
            .margin_bottom(14 + labels_h)
            .x_label_area_size(10)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n - 0.5, (ymin..ymax).log_scale())
            .map_err(de)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("speed relative to native (log scale; higher is better)")
            .y_label_formatter(&|v| axis_times(*v))
            .axis_desc_style(font(14))
            .label_style(font(13))
            .draw()
            .map_err(de)?;
        chart
            .draw_series(LineSeries::new(
                [(-0.5, 1.0), (n - 0.5, 1.0)],
                ShapeStyle::from(&RGBColor(80, 80, 80)).stroke_width(1),
            ))
            .map_err(de)?;
        let ne = c.envs.len() as f64;
        let slot = 0.8 / ne;
        let clamp = |v: f64| v.clamp(ymin, ymax);
        for b in &c.bars {
            let x0 = b.metric as f64 - 0.4 + b.env as f64 * slot;
            let (x1, xc) = (x0 + slot * 0.88, x0 + slot * 0.44);
            let color = self
                .colors
                .get(b.env)
                .copied()
                .unwrap_or_else(|| env_color(b.env));
            // A bar of exactly 1× (native itself) is a thick line, not nothing.
            let (y0, y1) = if (b.value - 1.0).abs() < 0.004 {
                (0.99, 1.01)
            } else {
                (1.0, clamp(b.value))
            };
            chart
                .draw_series([Rectangle::new(
                    [(x0, y0), (x1, y1)],
                    color.mix(0.8).filled(),
                )])
                .map_err(de)?;
            let cap = slot * 0.2;
            let line = ShapeStyle::from(&BLACK).stroke_width(1);
            let (lo, hi) = (clamp(b.lo), clamp(b.hi));
            chart
                .draw_series([
                    PathElement::new(vec![(xc, lo), (xc, hi)], line),
                    PathElement::new(vec![(xc - cap, lo), (xc + cap, lo)], line),
                    PathElement::new(vec![(xc - cap, hi), (xc + cap, hi)], line),
                ])
                .map_err(de)?;
            let k = b.points.len().max(1) as f64;
            chart
                .draw_series(b.points.iter().enumerate().filter(|(_, p)| **p > 0.0).map(
                    |(i, &p)| {
                        let jitter = (i as f64 / k - 0.5) * slot * 0.5;
                        Circle::new((xc + jitter, clamp(p)), 2, BLACK.mix(0.6).filled())
                    },
                ))
                .map_err(de)?;
            // The value above the bar's top (or its interval's), or below
            // a bar that goes down.
            let label = times(b.value);
            if b.value >= 1.0 {
                let (px, py) = chart.backend_coord(&(xc, hi.max(b.value)));
                centred_lines(&plot_area, &label, (px, py - 17), 11)?;
            } else {
                let (px, py) = chart.backend_coord(&(xc, lo.min(b.value)));
                centred_lines(&plot_area, &label, (px, py + 4), 11)?;
            }
        }
        for i in 0..c.metrics.len() {
            let (px, py) = chart.backend_coord(&(i as f64, ymin));
            if rotated {
                let (bx, by) = plot_area.get_base_pixel();
                let style = font(12).transform(FontTransform::Rotate90).pos(
                    plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Left,
                        plotters::style::text_anchor::VPos::Center,
                    ),
                );
                plot_area
                    .draw_text(&self.flat_label(i), &style, (px - bx, py - by + 8))
                    .map_err(de)?;
            } else {
                centred_lines(&plot_area, &self.metric_label(i), (px, py + 8), 13)?;
            }
        }
        Ok(())
    }
}

/// Latency against working set, log–log, one line per environment.
pub struct LatencyPlot<'a> {
    pub lines: &'a [LatencyLine],
    pub subtitle: String,
}

impl Plot for LatencyPlot<'_> {
    fn name(&self) -> String {
        "latency.svg".into()
    }
    fn size(&self) -> (u32, u32) {
        (960, 560)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(
            root,
            "latency: time per dependent load against working set",
            &self.subtitle,
        )?;
        let area = lines_legend(&area, self.lines)?;
        let pts = self.lines.iter().flat_map(|l| l.points.iter());
        let (mut xmin, mut xmax, mut ymin, mut ymax) = (f64::MAX, 0.0f64, f64::MAX, 0.0f64);
        for &(s, _, lo, hi) in pts {
            let lx = (s as f64).log2();
            xmin = xmin.min(lx);
            xmax = xmax.max(lx);
            ymin = ymin.min(lo.max(1e-3));
            ymax = ymax.max(hi);
        }
        if xmin > xmax {
            return Ok(());
        }
        let mut chart = ChartBuilder::on(&area)
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (xmin - 0.5)..(xmax + 0.5),
                ((ymin / 1.5)..(ymax * 1.5)).log_scale(),
            )
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_labels(((xmax - xmin) as usize + 2).min(16))
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-6 && *x >= 0.0 {
                    crate::metric::format_size(1u64 << (x.round() as u32))
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| {
                if *v < 10.0 {
                    format!("{v:.1}")
                } else {
                    format!("{v:.0}")
                }
            })
            .x_desc("working set (log scale)")
            .y_desc("ns per load (log scale)")
            .axis_desc_style(font(14))
            .label_style(font(12))
            .draw()
            .map_err(de)?;
        for l in self.lines {
            let color = env_color_of(&l.env_id);
            let xy: Vec<(f64, f64)> = l
                .points
                .iter()
                .map(|p| ((p.0 as f64).log2(), p.1))
                .collect();
            chart
                .draw_series(LineSeries::new(xy.clone(), color.stroke_width(2)))
                .map_err(de)?;
            chart
                .draw_series(xy.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(de)?;
            chart
                .draw_series(l.points.iter().map(|p| {
                    let x = (p.0 as f64).log2();
                    PathElement::new(vec![(x, p.2), (x, p.3)], color.stroke_width(1))
                }))
                .map_err(de)?;
        }
        Ok(())
    }
}

/// A C7 curve (copy-up against file size, mount time against layers),
/// log-log, one line per environment.
pub struct CurvePlot<'a> {
    pub kind: &'a super::series::CurveKind,
    pub lines: &'a [LatencyLine],
    pub subtitle: String,
}

impl Plot for CurvePlot<'_> {
    fn name(&self) -> String {
        format!("{}.svg", self.kind.workload)
    }
    fn size(&self) -> (u32, u32) {
        (960, 560)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(root, self.kind.title, &self.subtitle)?;
        let area = lines_legend(&area, self.lines)?;
        let (mut xmin, mut xmax, mut ymin, mut ymax) = (f64::MAX, 0.0f64, f64::MAX, 0.0f64);
        for &(x, _, lo, hi) in self.lines.iter().flat_map(|l| l.points.iter()) {
            let lx = (x.max(1) as f64).log2();
            xmin = xmin.min(lx);
            xmax = xmax.max(lx);
            ymin = ymin.min(lo.max(1e-4));
            ymax = ymax.max(hi.max(1e-4));
        }
        if xmin > xmax {
            return Ok(());
        }
        let x_bytes = self.kind.x_bytes;
        let mut chart = ChartBuilder::on(&area)
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (xmin - 0.5)..(xmax + 0.5),
                ((ymin / 1.5)..(ymax * 1.5)).log_scale(),
            )
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_labels(((xmax - xmin) as usize + 2).min(16))
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-6 && *x >= 0.0 {
                    let v = 1u64 << (x.round() as u32);
                    if x_bytes {
                        crate::metric::format_size(v)
                    } else {
                        v.to_string()
                    }
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| {
                if *v < 0.01 {
                    format!("{v:.4}")
                } else if *v < 10.0 {
                    format!("{v:.2}")
                } else {
                    format!("{v:.0}")
                }
            })
            .x_desc(self.kind.x_desc)
            .y_desc(self.kind.y_desc)
            .axis_desc_style(font(14))
            .label_style(font(12))
            .draw()
            .map_err(de)?;
        for l in self.lines {
            let color = env_color_of(&l.env_id);
            let xy: Vec<(f64, f64)> = l
                .points
                .iter()
                .map(|p| ((p.0.max(1) as f64).log2(), p.1.max(1e-4)))
                .collect();
            chart
                .draw_series(LineSeries::new(xy.clone(), color.stroke_width(2)))
                .map_err(de)?;
            chart
                .draw_series(xy.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(de)?;
            chart
                .draw_series(l.points.iter().map(|p| {
                    let x = (p.0.max(1) as f64).log2();
                    PathElement::new(
                        vec![(x, p.2.max(1e-4)), (x, p.3.max(1e-4))],
                        color.stroke_width(1),
                    )
                }))
                .map_err(de)?;
        }
        Ok(())
    }
}

/// Startup distributions: one panel per metric, one column per environment,
/// every repetition as a point, the median as a bar, log time axis.
pub struct StartupPlot<'a> {
    pub panels: &'a [(String, String, Vec<StartupDist>)],
    pub subtitle: String,
}

impl Plot for StartupPlot<'_> {
    fn name(&self) -> String {
        "startup.svg".into()
    }
    fn size(&self) -> (u32, u32) {
        let envs = self.panels.iter().map(|p| p.2.len()).max().unwrap_or(1) as u32;
        (
            (self.panels.len() as u32 * (110 + 125 * envs)).clamp(700, 1800),
            560,
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(
            root,
            "startup: distribution of every repetition",
            &self.subtitle,
        )?;
        let panels = area.split_evenly((1, self.panels.len().max(1)));
        for ((metric, unit, dists), panel) in self.panels.iter().zip(panels.iter()) {
            let all = dists.iter().flat_map(|d| d.samples.iter().copied());
            let (lo, hi) = all.fold((f64::MAX, 0.0f64), |(a, b), x| (a.min(x), b.max(x)));
            if lo > hi {
                continue;
            }
            let n = dists.len() as f64;
            let mut chart = ChartBuilder::on(panel)
                .caption(metric, font(15))
                .margin(12)
                .margin_bottom(44)
                .x_label_area_size(8)
                .y_label_area_size(70)
                .build_cartesian_2d(
                    -0.5..n - 0.5,
                    ((lo.max(1e-3) / 2.0)..(hi * 2.0)).log_scale(),
                )
                .map_err(de)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(0)
                .y_desc(format!("{metric} ({unit}, log scale)"))
                .y_label_formatter(&|v| {
                    if *v < 10.0 {
                        format!("{v:.1}")
                    } else {
                        format!("{v:.0}")
                    }
                })
                .axis_desc_style(font(13))
                .label_style(font(12))
                .draw()
                .map_err(de)?;
            for (i, d) in dists.iter().enumerate() {
                let color = env_color_of(&d.env_id);
                let x = i as f64;
                let k = d.samples.len().max(1) as f64;
                chart
                    .draw_series(d.samples.iter().enumerate().map(|(j, &s)| {
                        Circle::new(
                            (x - 0.2 + 0.4 * j as f64 / k, s),
                            3,
                            color.mix(0.7).filled(),
                        )
                    }))
                    .map_err(de)?;
                chart
                    .draw_series([
                        PathElement::new(
                            vec![(x - 0.3, d.median), (x + 0.3, d.median)],
                            BLACK.stroke_width(2),
                        ),
                        PathElement::new(
                            vec![(x + 0.32, d.lo), (x + 0.32, d.hi)],
                            BLACK.stroke_width(1),
                        ),
                    ])
                    .map_err(de)?;
                let (px, py) = chart.backend_coord(&(x, d.median));
                centred_lines(panel, &format_ms(d.median), (px, py - 18), 11)?;
                let (bx, by) = chart.backend_coord(&(x, lo.max(1e-3) / 2.0));
                centred_lines(panel, &d.env_id.replacen('-', "\n", 1), (bx, by + 8), 12)?;
            }
        }
        Ok(())
    }
}

fn format_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{} ms", thousands(&format!("{ms:.0}")))
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// One labelled point of a line over runs (history) or a row of changes.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledValue {
    pub label: String,
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
}

/// A value over successive runs with its interval (history of one metric).
pub struct SeriesPlot<'a> {
    pub file: String,
    pub title: String,
    pub subtitle: String,
    pub y_desc: String,
    pub points: &'a [LabelledValue],
}

impl Plot for SeriesPlot<'_> {
    fn name(&self) -> String {
        self.file.clone()
    }
    fn size(&self) -> (u32, u32) {
        (960, 520)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(root, &self.title, &self.subtitle)?;
        let n = self.points.len();
        if n == 0 {
            return Ok(());
        }
        let lo = self.points.iter().map(|p| p.lo).fold(f64::MAX, f64::min);
        let hi = self.points.iter().map(|p| p.hi).fold(0.0f64, f64::max);
        let pad = ((hi - lo) * 0.15).max(hi.abs() * 0.05).max(1e-9);
        let labels: Vec<String> = self.points.iter().map(|p| p.label.clone()).collect();
        let mut chart = ChartBuilder::on(&area)
            .margin(14)
            .margin_right(30)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), (lo - pad).max(0.0)..(hi + pad))
            .map_err(de)?;
        let step = n.div_ceil(8).max(1);
        chart
            .configure_mesh()
            .x_labels(n.min(10) + 1)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6
                    && i >= 0.0
                    && (i as usize) < labels.len()
                    && (i as usize).checked_rem(step) == Some(0)
                {
                    labels[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| num(*v))
            .x_desc("run (oldest first)")
            .y_desc(self.y_desc.clone())
            .axis_desc_style(font(14))
            .label_style(font(12))
            .draw()
            .map_err(de)?;
        let color = env_color(1);
        let xy: Vec<(f64, f64)> = self
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| (i as f64, p.value))
            .collect();
        chart
            .draw_series(LineSeries::new(xy.clone(), color.stroke_width(2)))
            .map_err(de)?;
        chart
            .draw_series(xy.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(de)?;
        chart
            .draw_series(self.points.iter().enumerate().map(|(i, p)| {
                PathElement::new(
                    vec![(i as f64, p.lo), (i as f64, p.hi)],
                    BLACK.stroke_width(1),
                )
            }))
            .map_err(de)?;
        Ok(())
    }
}

/// Horizontal bars of the change of every metric between two runs.
pub struct ChangesPlot<'a> {
    pub title: String,
    pub subtitle: String,
    /// Change in performance, percent (positive = better), with interval.
    pub rows: &'a [LabelledValue],
    /// Per row: -1 significant regression, 1 significant improvement, 0 neither.
    pub class: Vec<i8>,
    pub threshold_pct: f64,
}

impl Plot for ChangesPlot<'_> {
    fn name(&self) -> String {
        "compare.svg".into()
    }
    fn size(&self) -> (u32, u32) {
        (1000, 140 + 24 * self.rows.len().max(1) as u32)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(root, &self.title, &self.subtitle)?;
        let (labels_area, plot_area) = area.split_horizontally(330);
        let n = self.rows.len();
        if n == 0 {
            return Ok(());
        }
        let m = self
            .rows
            .iter()
            .flat_map(|r| [r.lo.abs(), r.hi.abs(), r.value.abs()])
            .fold(self.threshold_pct * 1.5, f64::max)
            .min(1000.0)
            * 1.1;
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(10)
            .margin_right(30)
            .x_label_area_size(44)
            .y_label_area_size(4)
            .build_cartesian_2d(-m..m, -0.5..(n as f64 - 0.5))
            .map_err(de)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("change in performance, % (positive = better)")
            .axis_desc_style(font(14))
            .label_style(font(12))
            .draw()
            .map_err(de)?;
        for t in [-self.threshold_pct, self.threshold_pct] {
            chart
                .draw_series(LineSeries::new(
                    [(t, -0.5), (t, n as f64 - 0.5)],
                    RGBColor(160, 160, 160).stroke_width(1),
                ))
                .map_err(de)?;
        }
        for (i, r) in self.rows.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let color = match self.class.get(i).copied().unwrap_or(0) {
                -1 => RGBColor(214, 39, 40),
                1 => RGBColor(44, 160, 44),
                _ => RGBColor(150, 150, 150),
            };
            let clamp = |v: f64| v.clamp(-m, m);
            chart
                .draw_series([Rectangle::new(
                    [(0.0, y - 0.35), (clamp(r.value), y + 0.35)],
                    color.filled(),
                )])
                .map_err(de)?;
            chart
                .draw_series([PathElement::new(
                    vec![(clamp(r.lo), y), (clamp(r.hi), y)],
                    BLACK.stroke_width(1),
                )])
                .map_err(de)?;
            let (_, py) = chart.backend_coord(&(0.0, y));
            let (_, ly) = labels_area.get_base_pixel();
            let style = font(12).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Right,
                plotters::style::text_anchor::VPos::Center,
            ));
            labels_area
                .draw_text(&r.label, &style, (322, py - ly))
                .map_err(de)?;
        }
        Ok(())
    }
}

/// Density: memory per instance and launch time against the number of live
/// instances, one line per environment, two panels with log y axes.
pub struct DensityPlot<'a> {
    pub series: &'a [crate::density::DensitySeries],
    pub subtitle: String,
}

impl Plot for DensityPlot<'_> {
    fn name(&self) -> String {
        "density.svg".into()
    }
    fn size(&self) -> (u32, u32) {
        (1240, 520)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(
            root,
            "density: idle instances launched one at a time",
            &self.subtitle,
        )?;
        let names: Vec<String> = self
            .series
            .iter()
            .map(|s| match s.accel.as_deref() {
                Some("tcg") => format!("{} (emulated)", s.env_id),
                _ => s.env_id.clone(),
            })
            .collect();
        let colors: Vec<RGBColor> = self
            .series
            .iter()
            .map(|s| env_color_of(&s.env_id))
            .collect();
        let (w, _) = area.dim_in_pixel();
        let (panels_area, side) = area.split_horizontally(w - legend_width(&names));
        legend(&side, &names, &colors)?;
        let (pw, _) = panels_area.dim_in_pixel();
        let (left, right) = panels_area.split_horizontally(pw / 2);
        type Get = fn(&crate::density::DensityPoint) -> Option<f64>;
        let panels: [(&DrawingArea<DB, Shift>, &str, Get); 2] = [
            (&left, "PSS per instance (MiB, log scale)", |p| p.pss_mib),
            (&right, "launch, spawn to READY (ms, log scale)", |p| {
                Some(p.launch_ms)
            }),
        ];
        for (panel, desc, get) in panels {
            let pts: Vec<(f64, f64)> = self
                .series
                .iter()
                .flat_map(|s| s.points.iter())
                .filter_map(|p| get(p).filter(|v| *v > 0.0).map(|v| (p.instance as f64, v)))
                .collect();
            if pts.is_empty() {
                continue;
            }
            let xmax = pts.iter().map(|p| p.0).fold(1.0, f64::max);
            let ymin = pts.iter().map(|p| p.1).fold(f64::MAX, f64::min);
            let ymax = pts.iter().map(|p| p.1).fold(0.0, f64::max);
            let mut chart = ChartBuilder::on(panel)
                .margin(14)
                .x_label_area_size(45)
                .y_label_area_size(70)
                .build_cartesian_2d(0.0..xmax * 1.02, ((ymin / 1.5)..(ymax * 1.5)).log_scale())
                .map_err(de)?;
            chart
                .configure_mesh()
                .x_desc("live instances")
                .y_desc(desc)
                .y_label_formatter(&|v| axis_num(*v))
                .x_label_formatter(&|v| format!("{v:.0}"))
                .axis_desc_style(font(13))
                .label_style(font(11))
                .draw()
                .map_err(de)?;
            for s in self.series {
                let color = env_color_of(&s.env_id);
                let xy: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .filter_map(|p| get(p).filter(|v| *v > 0.0).map(|v| (p.instance as f64, v)))
                    .collect();
                chart
                    .draw_series(LineSeries::new(xy.clone(), color.stroke_width(2)))
                    .map_err(de)?;
                if xy.len() <= 60 {
                    chart
                        .draw_series(xy.iter().map(|&p| Circle::new(p, 2, color.filled())))
                        .map_err(de)?;
                }
            }
        }
        Ok(())
    }
}

/// Noisy neighbours as a heatmap: one row per (environment, placement), one
/// column per (victim metric, antagonist); each cell the victim's speed
/// beside the antagonist relative to alone, coloured from red (0) through
/// yellow to green (1 and above), with its value and interval written in. A
/// cell whose interval includes 1× (no effect this run can tell from none)
/// is drawn pale with a `?`, and a key under the grid says so.
pub struct NeighbourHeatmap<'a> {
    pub rows: &'a [String],
    pub cols: &'a [String],
    /// `cells[r][c]`: speed (beside / alone) with its interval, `None`
    /// when not measured.
    pub cells: &'a [Vec<Option<crate::stats::Estimate>>],
    pub subtitle: String,
}

/// Red → yellow → green for a speed ratio in [0, 1].
pub fn heat_color(speed: f64) -> RGBColor {
    let t = speed.clamp(0.0, 1.0);
    let (r, g) = if t < 0.5 {
        (230.0, 60.0 + 2.0 * t * 160.0)
    } else {
        (230.0 - (t - 0.5) * 2.0 * 170.0, 220.0)
    };
    RGBColor(r as u8, g as u8, 80)
}

/// Whether a heatmap cell's interval includes 1× (undisturbed): the run
/// cannot tell its slowdown from none.
pub fn heat_inconclusive(e: &crate::stats::Estimate) -> bool {
    e.lo <= 1.0 && e.hi >= 1.0
}

const HEAT_KEY_H: i32 = 74;

impl Plot for NeighbourHeatmap<'_> {
    fn name(&self) -> String {
        "neighbours.svg".into()
    }
    fn size(&self) -> (u32, u32) {
        let w = 260 + 160 * self.cols.len() as u32;
        let h = 140 + HEAT_KEY_H as u32 + 50 * self.rows.len() as u32;
        (w.clamp(960, 1600), h.clamp(330, 1500))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(
            root,
            "noisy neighbours: victim speed beside the antagonist / alone",
            &self.subtitle,
        )?;
        let (w, h) = area.dim_in_pixel();
        let (left, top) = (240i32, 48i32);
        let cw = ((w as i32 - left - 20) / self.cols.len().max(1) as i32).max(40);
        let ch = ((h as i32 - top - 20 - HEAT_KEY_H) / self.rows.len().max(1) as i32).clamp(24, 60);
        for (c, name) in self.cols.iter().enumerate() {
            // "victim/metric + antagonist" on two lines.
            let x = left + c as i32 * cw + cw / 2;
            let (a, b) = name.split_once(" + ").unwrap_or((name.as_str(), ""));
            area.draw_text(a, &centred(11), (x, top / 2 - 8))
                .map_err(de)?;
            if !b.is_empty() {
                area.draw_text(&format!("+ {b}"), &centred(11), (x, top / 2 + 8))
                    .map_err(de)?;
            }
        }
        for (r, name) in self.rows.iter().enumerate() {
            let y = top + r as i32 * ch;
            let right = font(12).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Right,
                plotters::style::text_anchor::VPos::Center,
            ));
            area.draw_text(name, &right, (left - 8, y + ch / 2))
                .map_err(de)?;
            for c in 0..self.cols.len() {
                let x = left + c as i32 * cw;
                let v = self
                    .cells
                    .get(r)
                    .and_then(|row| row.get(c))
                    .copied()
                    .flatten();
                heat_cell(&area, (x, y), (cw, ch), v)?;
            }
        }
        heat_key(&area, left, top + self.rows.len() as i32 * ch + 18)
    }
}

/// Text centred on its point.
fn centred(size: u32) -> TextStyle<'static> {
    font(size).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Center,
    ))
}

/// The grey of a heatmap cell not measured.
const HEAT_GREY: RGBColor = RGBColor(235, 235, 235);

/// A heatmap colour paled (an inconclusive cell).
fn pale(c: RGBColor) -> RGBColor {
    let m = |x: u8| ((u16::from(x) + 2 * 245) / 3) as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// One heatmap cell at `(x, y)` of size `(cw, ch)`: its colour, the ratio
/// and its interval, pale with a frame and `?` when inconclusive.
fn heat_cell<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    (cw, ch): (i32, i32),
    v: Option<crate::stats::Estimate>,
) -> DrawResult {
    let unsure = v.as_ref().is_some_and(heat_inconclusive);
    let fill = match v {
        None => HEAT_GREY,
        Some(e) if unsure => pale(heat_color(e.point)),
        Some(e) => heat_color(e.point),
    };
    area.draw(&Rectangle::new(
        [(x + 1, y + 1), (x + cw - 1, y + ch - 1)],
        fill.filled(),
    ))
    .map_err(de)?;
    if unsure {
        area.draw(&Rectangle::new(
            [(x + 3, y + 3), (x + cw - 3, y + ch - 3)],
            RGBColor(120, 120, 120).stroke_width(1),
        ))
        .map_err(de)?;
    }
    let (line1, line2) = match v {
        None => ("not measured".to_string(), String::new()),
        Some(e) => (
            format!("{}{}", times(e.point), if unsure { " ?" } else { "" }),
            format!("[{}, {}]", ratio_digits(e.lo), ratio_digits(e.hi)),
        ),
    };
    if line2.is_empty() || ch < 36 {
        area.draw_text(&line1, &centred(12), (x + cw / 2, y + ch / 2))
            .map_err(de)?;
    } else {
        area.draw_text(&line1, &centred(12), (x + cw / 2, y + ch / 2 - 8))
            .map_err(de)?;
        area.draw_text(&line2, &centred(10), (x + cw / 2, y + ch / 2 + 9))
            .map_err(de)?;
    }
    Ok(())
}

/// The heatmap's key at `(left, ky)`: the colour scale, then what a pale
/// cell and a grey one mean.
fn heat_key<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, left: i32, ky: i32) -> DrawResult {
    let kw = 260i32;
    let steps = 60;
    for i in 0..steps {
        let x = left + i * kw / steps;
        area.draw(&Rectangle::new(
            [(x, ky), (left + (i + 1) * kw / steps, ky + 14)],
            heat_color(f64::from(i) / f64::from(steps - 1)).filled(),
        ))
        .map_err(de)?;
    }
    for (v, label) in [(0.0, "0×"), (0.5, "0.5×"), (1.0, "≥ 1×")] {
        let x = left + (v * f64::from(kw)) as i32;
        area.draw(&PathElement::new(
            vec![(x, ky + 14), (x, ky + 19)],
            BLACK.stroke_width(1),
        ))
        .map_err(de)?;
        area.draw_text(label, &centred(11), (x, ky + 28))
            .map_err(de)?;
    }
    area.draw_text(
        "key: victim speed beside / alone",
        &font(11).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Right,
            plotters::style::text_anchor::VPos::Top,
        )),
        (left - 12, ky),
    )
    .map_err(de)?;
    let sx = left + kw + 40;
    area.draw(&Rectangle::new(
        [(sx, ky), (sx + 22, ky + 14)],
        pale(heat_color(0.9)).filled(),
    ))
    .map_err(de)?;
    area.draw(&Rectangle::new(
        [(sx + 2, ky + 2), (sx + 20, ky + 12)],
        RGBColor(120, 120, 120).stroke_width(1),
    ))
    .map_err(de)?;
    area.draw_text(
        "pale, ?: the 95% interval includes 1× (inconclusive)",
        &font(11),
        (sx + 28, ky),
    )
    .map_err(de)?;
    area.draw(&Rectangle::new(
        [(sx, ky + 22), (sx + 22, ky + 36)],
        HEAT_GREY.filled(),
    ))
    .map_err(de)?;
    area.draw_text("not measured", &font(11), (sx + 28, ky + 22))
        .map_err(de)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_keeps_its_colour_whatever_the_other_columns() {
        // The colour depends on the id alone: the same in every report.
        let ids = [
            "native",
            "container-isorun",
            "container-runc",
            "container-crun",
            "vm-tcg",
            "vm-kvm",
        ];
        let colours: Vec<RGBColor> = ids.iter().map(|i| env_color_of(i)).collect();
        for (i, a) in colours.iter().enumerate() {
            for b in &colours[i + 1..] {
                assert_ne!(a, b, "two environments share a colour");
            }
        }
        assert_eq!(env_color_of("container-isorun"), colours[1]);
        // Variants keep their runtime's hue but differ from it.
        let rootless = env_color_of("container-isorun-rootless");
        let engine = env_color_of("container-podman:isorun");
        assert_ne!(rootless, colours[1]);
        assert_ne!(engine, colours[1]);
        assert!(rootless.2 > rootless.0 && engine.2 > engine.0, "still blue");
        // An unknown id is stable across calls.
        assert_eq!(
            env_color_of("container-youki"),
            env_color_of("container-youki")
        );
    }

    #[test]
    fn small_ratios_never_read_as_zero() {
        assert_eq!(times(0.0123), "0.012×");
        assert_eq!(times(0.00456), "0.0046×");
        assert_eq!(times(0.53), "0.53×");
        assert_eq!(times(1.1), "1.10×");
        assert_eq!(times(23.45), "23.4×");
        assert_eq!(times(150.2), "150×");
        assert_eq!(axis_times(0.01), "0.01×");
        assert_eq!(axis_times(1.0), "1×");
        assert_eq!(axis_times(20.0), "20×");
        assert_eq!(axis_num(100.0), "100");
        assert_eq!(axis_num(1000.0), "1,000");
        assert_eq!(axis_num(0.5), "0.5");
    }

    #[test]
    fn a_slower_cell_is_redder() {
        assert!(heat_color(0.0).0 > heat_color(1.0).0);
    }

    #[test]
    fn inconclusive_cells_are_those_whose_interval_includes_one() {
        use crate::stats::Estimate;
        let e = |point, lo, hi| Estimate { point, lo, hi };
        assert!(heat_inconclusive(&e(0.93, 0.09, 9.5)));
        assert!(!heat_inconclusive(&e(0.33, 0.23, 0.47)));
        assert!(!heat_inconclusive(&e(1.2, 1.05, 1.4)));
    }

    #[test]
    fn the_heatmap_draws_its_key() {
        use crate::stats::Estimate;
        let rows = vec!["native shared".to_string()];
        let cols = vec!["membw/triad_mbs + membw".to_string()];
        let cells = vec![vec![Some(Estimate {
            point: 0.5,
            lo: 0.4,
            hi: 0.6,
        })]];
        let img = render(&NeighbourHeatmap {
            rows: &rows,
            cols: &cols,
            cells: &cells,
            subtitle: "s".into(),
        })
        .expect("draw");
        assert!(img.svg.contains("key: victim speed beside / alone"));
        assert!(img.svg.contains("interval includes 1×"));
        assert!(img.svg.contains("[0.40, 0.60]"));
    }
}
