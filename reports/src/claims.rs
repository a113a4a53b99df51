//! Verdicts on the claims C1–C7 of shared/DESIGN.md ("The claims it exists to
//! check"), computed from the figures of one run.
//!
//! Each claim is split into parts that a measurement can decide, and every
//! part names the figures that decided it (environment, workload, metric,
//! parameters, value with interval). A part is:
//! - "not measured" when it has no valid figure, or when the figures it would
//!   divide ran with different parameters (a ratio of two different
//!   experiments means nothing);
//! - "not testable on this host (VM emulated)" when its deciding figures come
//!   from a VM under QEMU TCG: an emulated CPU measures the emulator, not
//!   virtualisation, so it can neither support nor contradict a claim about
//!   VMs. Container parts of the same claim are still decided;
//! - otherwise supported or not. A quantitative part is rejected only with
//!   evidence: when the 95% interval of the figure lies wholly outside the
//!   range the claim allows (this host's memory figures swing ±15–30%).
//!
//! A claim is not supported when any part is not; else not testable when any
//! part is; else not measured when any part is; else supported. Thresholds
//! are written next to each test below and repeated in the verdict text so a
//! reader can disagree with them.

use crate::analysis::{Analysis, Figure, BASELINE};
use crate::export::{median_of, num, speed_of, val_text, Val};
use crate::metric::{format_size, latency_size_bytes};
use crate::report::{params_text, Facts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Supported,
    NotSupported,
    /// The deciding figures come from an emulated VM (QEMU TCG).
    NotTestable,
    NotMeasured,
    /// Measured, but an interval straddles the claim's limit (or there is
    /// no interval, n = 1): more repetitions would decide it.
    Inconclusive,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::NotSupported => "not supported",
            Verdict::NotTestable => "not testable on this host (VM emulated)",
            Verdict::NotMeasured => "not measured",
            Verdict::Inconclusive => "inconclusive (an interval spans the limit: add --reps)",
        }
    }

    /// CSS class / short key: `supported`, `not-supported`, `not-testable`,
    /// `not-measured`.
    pub fn key(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::NotSupported => "not-supported",
            Verdict::NotTestable => "not-testable",
            Verdict::NotMeasured => "not-measured",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// A figure a part relied on (or, for a part that could not be decided, the
/// figure that was set aside), as a reader would look it up.
#[derive(Debug, Clone, PartialEq)]
pub struct Cited {
    pub env_id: String,
    /// Workload as displayed (membw names its STREAM variant).
    pub workload: String,
    pub metric: String,
    pub unit: String,
    /// `key=value, ...` or `none`.
    pub params: String,
    /// Centre (geometric mean) with interval and n (or "no interval").
    pub value: String,
    /// Performance relative to native with interval, when divided.
    pub vs_native: Option<String>,
    /// Accelerator of a VM.
    pub accel: Option<String>,
}

impl Cited {
    pub fn text(&self) -> String {
        format!(
            "{} {} {} ({}{}): {} {}{}",
            self.env_id,
            self.workload,
            self.metric,
            self.params,
            self.accel
                .as_ref()
                .map(|a| format!("; accel {a}"))
                .unwrap_or_default(),
            self.value,
            self.unit,
            self.vs_native
                .as_ref()
                .map(|v| format!("; {v} × native"))
                .unwrap_or_default()
        )
    }
}

/// One decided (or undecidable) part of a claim.
#[derive(Debug, Clone, PartialEq)]
pub struct PartResult {
    /// What the part checks, e.g. "containers compute at almost bare-metal speed".
    pub label: String,
    pub verdict: Verdict,
    /// Why a part is not measured / not testable, e.g. "parameters differ:
    /// primes_max 50000 vs native 200000".
    pub reason: Option<String>,
    /// The finding in a sentence, with numbers.
    pub text: String,
    /// The figures that decided it.
    pub figures: Vec<Cited>,
    /// What would measure it (not measured parts).
    pub missing: Option<String>,
}

impl PartResult {
    /// `not measured (parameters differ: ...)`, `supported`, ...
    pub fn verdict_text(&self) -> String {
        match &self.reason {
            Some(r) => format!("{} ({r})", self.verdict.label()),
            None => self.verdict.label().to_string(),
        }
    }
}

/// The verdict on one claim with the numbers behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimResult {
    pub id: &'static str,
    pub claim: &'static str,
    pub verdict: Verdict,
    pub parts: Vec<PartResult>,
}

impl ClaimResult {
    /// The sentences of the parts that measured something.
    pub fn findings(&self) -> Vec<String> {
        self.parts
            .iter()
            .filter(|p| !p.text.is_empty())
            .map(|p| p.text.clone())
            .collect()
    }

    /// What would measure the parts that were not measured.
    pub fn missing(&self) -> Vec<String> {
        self.parts
            .iter()
            .filter_map(|p| p.missing.clone())
            .collect()
    }

    /// Every figure the claim cites.
    pub fn figures(&self) -> impl Iterator<Item = &Cited> {
        self.parts.iter().flat_map(|p| p.figures.iter())
    }
}

/// The claims as worded in shared/DESIGN.md.
pub const CLAIMS: [(&str, &str); 7] = [
    ("C1", "Programs in containers compute at almost bare-metal speed; in VMs they lose about half."),
    ("C2", "Sequential memory bandwidth is similar everywhere; random access costs more in a VM because every access needs two address translations (guest and host page tables)."),
    ("C3", "A container starts in seconds or less; a VM boots a whole guest kernel and takes far longer."),
    ("C4", "One host can hold hundreds or thousands of containers but only a few VMs (memory footprint per instance)."),
    ("C5", "cgroups only cap what a container may use; they do not protect it from a noisy neighbour, so isolation is weaker than a VM's."),
    ("C6", "Anyone allowed to run the container engine can act on every container, whoever created it."),
    ("C7", "Images are stacks of read-only layers with a copy-on-write layer on top; a change adds a layer instead of rebuilding the image."),
];

/// Short names of the claims, for tables.
pub fn short(id: &str) -> &'static str {
    match id {
        "C1" => "compute: containers ≈ native, VMs lose about half",
        "C2" => "memory: sequential similar, random access costs more in VMs",
        "C3" => "start: containers in seconds, VMs far longer",
        "C4" => "density: hundreds of containers, a few VMs",
        "C5" => "noisy neighbours: cgroups do not protect",
        "C6" => "engine access: acting on others' containers",
        "C7" => "images: layers and copy-on-write",
        _ => "",
    }
}

/// "Almost bare-metal": at least this fraction of native speed.
pub const ALMOST_NATIVE: f64 = 0.95;
/// "About half": VM speed within this range of native.
pub const ABOUT_HALF: (f64, f64) = (0.35, 0.65);
/// "Similar" bandwidth: within this range of native (the host swings ±15–30%).
pub const SIMILAR: (f64, f64) = (0.8, 1.25);
/// "Seconds or less": container time to first instruction at most this (ms).
pub const CONTAINER_START_MAX_MS: f64 = 3000.0;
/// "Far longer": VM start at least this many times the slowest container's.
pub const FAR_LONGER: f64 = 5.0;
/// "Hundreds or thousands" of containers: at least this many per host by memory.
pub const HUNDREDS: f64 = 100.0;
/// "Hundreds or thousands" against "a few": the VM's footprint per instance
/// is at least [`FOOTPRINT_FACTOR`] times the container's.
pub const FOOTPRINT_FACTOR: f64 = 10.0;
/// The footprint metric C4 decides on: proportional set size of every
/// process of an idle instance at READY, runtime processes included.
pub const FOOTPRINT: &str = "footprint_pss_mib";
/// The old footprint metric: native VmHWM, container cgroup peak and QEMU
/// RSS, three different things; never used for a verdict.
pub const OLD_FOOTPRINT: &str = "footprint_mib";

fn part(label: &str, verdict: Verdict, text: String, figures: Vec<Cited>) -> PartResult {
    PartResult {
        label: label.to_string(),
        verdict,
        reason: None,
        text,
        figures,
        missing: None,
    }
}

fn not_measured(label: &str, reason: &str, what: &str) -> PartResult {
    PartResult {
        label: label.to_string(),
        verdict: Verdict::NotMeasured,
        reason: Some(reason.to_string()),
        text: String::new(),
        figures: vec![],
        missing: Some(what.to_string()),
    }
}

/// Where a figure's 95% interval lies against a claim's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    /// The whole interval is inside the range the claim allows.
    Inside,
    /// The whole interval is outside it: evidence against the claim.
    Outside,
    /// The interval straddles a limit, or there is no interval (n = 1).
    Unsure,
}

/// Fit of `v` against `[lo, hi]` (use infinities for one-sided claims).
fn fit(v: &Val, lo: f64, hi: f64) -> Fit {
    let Some((a, b)) = v.ci else {
        return Fit::Unsure;
    };
    if a >= lo && b <= hi {
        Fit::Inside
    } else if b < lo || a > hi {
        Fit::Outside
    } else {
        Fit::Unsure
    }
}

/// Several fits: any outside decides against, any unsure leaves it open.
fn fit_all(fits: impl IntoIterator<Item = Fit>) -> Fit {
    let mut out = Fit::Inside;
    for f in fits {
        match f {
            Fit::Outside => return Fit::Outside,
            Fit::Unsure => out = Fit::Unsure,
            Fit::Inside => {}
        }
    }
    out
}

fn decided(label: &str, f: Fit, text: String, figures: Vec<Cited>) -> PartResult {
    part(
        label,
        match f {
            Fit::Inside => Verdict::Supported,
            Fit::Outside => Verdict::NotSupported,
            Fit::Unsure => Verdict::Inconclusive,
        },
        text,
        figures,
    )
}

fn holds(label: &str, ok: bool, text: String, figures: Vec<Cited>) -> PartResult {
    part(
        label,
        if ok {
            Verdict::Supported
        } else {
            Verdict::NotSupported
        },
        text,
        figures,
    )
}

fn combine(id: &'static str, parts: Vec<PartResult>) -> ClaimResult {
    let claim = CLAIMS.iter().find(|c| c.0 == id).map(|c| c.1).unwrap_or("");
    let any = |v: Verdict| parts.iter().any(|p| p.verdict == v);
    let verdict = if any(Verdict::NotSupported) {
        Verdict::NotSupported
    } else if any(Verdict::NotTestable) {
        Verdict::NotTestable
    } else if any(Verdict::NotMeasured) || parts.is_empty() {
        Verdict::NotMeasured
    } else if any(Verdict::Inconclusive) {
        Verdict::Inconclusive
    } else {
        Verdict::Supported
    };
    ClaimResult {
        id,
        claim,
        verdict,
        parts,
    }
}

/// Verdicts on every claim, in order, without record facts (parameters are
/// then known only through the figures).
pub fn evaluate(a: &Analysis) -> Vec<ClaimResult> {
    evaluate_with(a, None, &Facts::default())
}

/// Verdicts, with the host's memory to turn footprints into instances per host.
pub fn evaluate_on_host(a: &Analysis, host_memory_bytes: Option<u64>) -> Vec<ClaimResult> {
    evaluate_with(a, host_memory_bytes, &Facts::default())
}

/// Verdicts with the host's memory and what the records say about parameters
/// and STREAM variants.
pub fn evaluate_with(
    a: &Analysis,
    host_memory_bytes: Option<u64>,
    facts: &Facts,
) -> Vec<ClaimResult> {
    let cx = Cx { a, facts };
    vec![
        c1(&cx),
        c2(&cx),
        c3(&cx),
        c4(&cx, host_memory_bytes),
        c5(&cx),
        c6(&cx),
        c7(&cx),
    ]
}

/// Whether an environment ran under emulation: accelerator `tcg`, or its
/// detail says it was emulated.
pub fn env_emulated(a: &Analysis, env_id: &str) -> bool {
    let Some(e) = a.env(env_id) else {
        return a
            .figures
            .iter()
            .any(|f| f.env_id == env_id && f.accel.as_deref() == Some("tcg"));
    };
    let says = |v: &str| {
        let v = v.to_ascii_lowercase();
        v == "tcg" || v.starts_with("tcg") || v.contains("emulat")
    };
    e.accel().is_some_and(says)
        || e.detail
            .get("emulated")
            .is_some_and(|v| v == "true" || v == "yes")
        || e.detail.get("cpu_emulation").is_some_and(|v| says(v))
}

fn figure_emulated(a: &Analysis, f: &Figure) -> bool {
    f.accel.as_deref() == Some("tcg") || env_emulated(a, &f.env_id)
}

struct Cx<'a> {
    a: &'a Analysis,
    facts: &'a Facts,
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// `at 99% of native (95% CI 92%–105%, n=5)`.
fn speed_words(v: &Val) -> String {
    match v.ci {
        Some((lo, hi)) => format!(
            "at {} of native (95% CI {}–{}, n={})",
            pct(v.point),
            pct(lo),
            pct(hi),
            v.n
        ),
        None => format!("at {} of native (n={}, no interval)", pct(v.point), v.n),
    }
}

impl Cx<'_> {
    fn cite(&self, f: &Figure) -> Cited {
        Cited {
            env_id: f.env_id.clone(),
            workload: self.facts.workload_label(&f.env_id, &f.workload),
            metric: f.metric.clone(),
            unit: f.unit.clone(),
            params: {
                let mut p = if f.params.is_empty() {
                    self.facts
                        .params(&f.env_id, &f.workload)
                        .cloned()
                        .unwrap_or_default()
                } else {
                    f.params.clone()
                };
                if let (Some(v), "membw") =
                    (self.facts.stream_variant(&f.env_id), f.workload.as_str())
                {
                    p.entry("stream_variant".into())
                        .or_insert_with(|| serde_json::Value::String(v.into()));
                }
                params_text(&p)
            },
            value: format!(
                "{} {}",
                f.summary.centre_kind.label(),
                val_text(&median_of(f), num)
            ),
            vs_native: speed_of(f)
                .filter(|_| f.workload != "startup")
                .filter(|_| self.incomparable(f).is_none())
                .map(|v| val_text(&v, |x| format!("{x:.2}"))),
            accel: f.accel.clone(),
        }
    }

    /// Why `f` may not be divided by native: its parameters (or STREAM
    /// variant) differ, there is no native figure, or a figure has one
    /// repetition (no interval). `None` when the ratio is sound.
    fn incomparable(&self, f: &Figure) -> Option<String> {
        if f.env_id == BASELINE {
            return None;
        }
        if let Some(why) = &f.incomparable {
            let why = why
                .strip_prefix("parameters differ from native: ")
                .unwrap_or(why);
            return Some(format!("parameters differ: {} {why}", f.env_id));
        }
        if let Some(d) = self.facts.params_differ(&f.env_id, &f.workload) {
            return Some(format!("parameters differ from native: {} {d}", f.env_id));
        }
        if f.vs_native.is_none() {
            return Some(match self.a.figure(BASELINE, &f.workload, &f.metric) {
                None => format!("no native {} {} figure", f.workload, f.metric),
                Some(n) if n.summary.n < 2 || f.summary.n < 2 => {
                    "one repetition: no interval, no ratio".to_string()
                }
                Some(_) => format!("{} {} has no ratio to native", f.env_id, f.metric),
            });
        }
        None
    }

    /// Figures of a class for a workload and metrics.
    fn figures(&self, class: &str, workload: &str, metrics: &[&str]) -> Vec<&Figure> {
        self.a
            .figures
            .iter()
            .filter(|f| {
                f.env == class && f.workload == workload && metrics.contains(&f.metric.as_str())
            })
            .collect()
    }

    /// The common gate of every part that divides by native: figures exist;
    /// VM figures are not emulated; parameters agree. On success the
    /// comparable figures (a VM part keeps only hardware-virtualised VMs);
    /// otherwise the part to report.
    fn gate<'f>(
        &self,
        label: &str,
        figs: Vec<&'f Figure>,
        what: &str,
    ) -> Result<(Vec<&'f Figure>, String), Box<PartResult>> {
        if figs.is_empty() {
            return Err(Box::new(not_measured(label, "no valid figure", what)));
        }
        let (emu, hw): (Vec<&Figure>, Vec<&Figure>) =
            figs.iter().partition(|f| figure_emulated(self.a, f));
        let mut notes = String::new();
        if hw.is_empty() {
            let list: Vec<String> = emu
                .iter()
                .map(
                    |f| match speed_of(f).filter(|_| self.incomparable(f).is_none()) {
                        Some(v) => format!("{} {} {}", f.env_id, f.metric, speed_words(&v)),
                        None => format!(
                            "{} {} median {} {}",
                            f.env_id,
                            f.metric,
                            val_text(&median_of(f), num),
                            f.unit
                        ),
                    },
                )
                .collect();
            return Err(Box::new(PartResult {
                label: label.to_string(),
                verdict: Verdict::NotTestable,
                reason: None,
                text: format!(
                    "Measured only in VMs under QEMU TCG (emulated CPU), which measures the emulator, not virtualisation overhead; for information only: {}.",
                    list.join("; ")
                ),
                figures: emu.iter().map(|f| self.cite(f)).collect(),
                missing: None,
            }));
        }
        if !emu.is_empty() {
            let mut ids: Vec<&str> = emu.iter().map(|f| f.env_id.as_str()).collect();
            ids.dedup();
            notes.push_str(&format!(
                " Set aside as emulated (TCG): {}.",
                ids.join(", ")
            ));
        }
        let (bad, good): (Vec<&Figure>, Vec<&Figure>) =
            hw.iter().partition(|f| self.incomparable(f).is_some());
        if good.is_empty() {
            let mut reasons: Vec<String> =
                bad.iter().filter_map(|f| self.incomparable(f)).collect();
            reasons.dedup();
            let reason = reasons.join("; ");
            return Err(Box::new(PartResult {
                label: label.to_string(),
                verdict: Verdict::NotMeasured,
                reason: Some(reason.clone()),
                text: format!("Not divided by native ({reason}).{notes}"),
                figures: bad.iter().map(|f| self.cite(f)).collect(),
                missing: Some(format!("{what}, with the same parameters as native")),
            }));
        }
        if !bad.is_empty() {
            let mut reasons: Vec<String> =
                bad.iter().filter_map(|f| self.incomparable(f)).collect();
            reasons.dedup();
            notes.push_str(&format!(" Not divided: {}.", reasons.join("; ")));
        }
        Ok((good, notes))
    }

    fn speed_list(&self, figs: &[&Figure]) -> String {
        figs.iter()
            .map(|f| {
                let v = speed_of(f).expect("gated figures have a ratio");
                let w = self.facts.workload_label(&f.env_id, &f.workload);
                let w = if w == f.workload {
                    String::new()
                } else {
                    format!(" ({w})")
                };
                format!("{} {}{w} {}", f.env_id, f.metric, speed_words(&v))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

const CPU: [&str; 2] = ["primes_per_s", "gflops"];
const SEQ: [&str; 4] = ["copy_mbs", "scale_mbs", "add_mbs", "triad_mbs"];

fn c1(cx: &Cx) -> ClaimResult {
    let l1 = "containers compute at almost bare-metal speed";
    let p1 = match cx.gate(
        l1,
        cx.figures("container", "cpu", &CPU),
        "the cpu workload natively and in a container (`--env native,container --workload cpu`)",
    ) {
        Err(p) => *p,
        Ok((figs, notes)) => {
            let ok = fit_all(figs.iter().map(|f| {
                speed_of(f).map_or(Fit::Unsure, |v| fit(&v, ALMOST_NATIVE, f64::INFINITY))
            }));
            decided(
                l1,
                ok,
                format!(
                    "Containers (almost bare-metal: ≥ {} of native; supported when every interval lies above, rejected when one lies wholly below): {}.{notes}",
                    pct(ALMOST_NATIVE),
                    cx.speed_list(&figs)
                ),
                figs.iter().map(|f| cx.cite(f)).collect(),
            )
        }
    };
    let l2 = "VMs lose about half";
    let p2 = match cx.gate(
        l2,
        cx.figures("vm", "cpu", &CPU),
        "the cpu workload natively and in a VM (`--env native,vm --workload cpu`)",
    ) {
        Err(p) => *p,
        Ok((figs, notes)) => {
            let ok =
                fit_all(figs.iter().map(|f| {
                    speed_of(f).map_or(Fit::Unsure, |v| fit(&v, ABOUT_HALF.0, ABOUT_HALF.1))
                }));
            decided(
                l2,
                ok,
                format!(
                    "VMs (about half: {}–{} of native; supported when every interval lies inside, rejected when one lies wholly outside): {}.{notes}",
                    pct(ABOUT_HALF.0),
                    pct(ABOUT_HALF.1),
                    cx.speed_list(&figs)
                ),
                figs.iter().map(|f| cx.cite(f)).collect(),
            )
        }
    };
    combine("C1", vec![p1, p2])
}

fn seq_part(cx: &Cx, class: &str, label: &str) -> PartResult {
    match cx.gate(
        label,
        cx.figures(class, "membw", &SEQ),
        &format!(
            "membw (STREAM) natively and in a {class} (`--env native,{class} --workload membw`)"
        ),
    ) {
        Err(p) => *p,
        Ok((figs, notes)) => {
            let fit_of =
                |f: &Figure| speed_of(f).map_or(Fit::Unsure, |v| fit(&v, SIMILAR.0, SIMILAR.1));
            let off: Vec<&Figure> = figs
                .iter()
                .filter(|f| fit_of(f) == Fit::Outside)
                .copied()
                .collect();
            let verdict = fit_all(figs.iter().map(|f| fit_of(f)));
            let triads: Vec<&Figure> = figs
                .iter()
                .filter(|f| f.metric == "triad_mbs")
                .copied()
                .collect();
            let text = if off.is_empty() {
                format!(
                    "Sequential bandwidth within {}–{} of native in every {class} ({}).{notes}",
                    pct(SIMILAR.0),
                    pct(SIMILAR.1),
                    cx.speed_list(if triads.is_empty() { &figs } else { &triads })
                )
            } else {
                format!(
                    "Sequential bandwidth outside {}–{} of native: {}.{notes}",
                    pct(SIMILAR.0),
                    pct(SIMILAR.1),
                    cx.speed_list(&off)
                )
            };
            decided(
                label,
                verdict,
                text,
                figs.iter().map(|f| cx.cite(f)).collect(),
            )
        }
    }
}

fn c2(cx: &Cx) -> ClaimResult {
    let a = cx.a;
    let p1 = seq_part(
        cx,
        "container",
        "sequential bandwidth in containers is similar to native",
    );
    let p2 = seq_part(cx, "vm", "sequential bandwidth in VMs is similar to native");
    // Random access in a VM: GUPS, and latency at the largest working set
    // measured both natively and in that VM (never a size one of them lacks).
    let l3 = "random access costs more in VMs";
    let mut figs: Vec<&Figure> = cx.figures("vm", "randacc", &["gups"]);
    for vm in a.env_ids_of("vm") {
        let largest = a
            .figures
            .iter()
            .filter(|f| f.env_id == vm && f.workload == "latency")
            .filter(|f| a.figure(BASELINE, "latency", &f.metric).is_some())
            .filter_map(|f| latency_size_bytes(&f.metric).map(|s| (s, f)))
            .max_by_key(|(s, _)| *s);
        if let Some((_, f)) = largest {
            figs.push(f);
        }
    }
    let p3 = match cx.gate(
        l3,
        figs,
        "randacc or latency natively and in a VM (`--env native,vm --workload randacc,latency`)",
    ) {
        Err(p) => *p,
        Ok((figs, notes)) => {
            // Costs more: the random-access speed's whole interval is below
            // native, and below the same VM's sequential (triad) speed if
            // that is comparable.
            let seq_speed = |env_id: &str| {
                a.figure(env_id, "membw", "triad_mbs")
                    .filter(|f| cx.incomparable(f).is_none())
                    .and_then(speed_of)
            };
            let ok = fit_all(figs.iter().map(|f| match speed_of(f) {
                None => Fit::Unsure,
                Some(v) => match fit(&v, 0.0, 1.0) {
                    Fit::Inside if seq_speed(&f.env_id).is_some_and(|s| v.point >= s.point) => {
                        Fit::Outside
                    }
                    other => other,
                },
            }));
            let mut cited: Vec<Cited> = figs.iter().map(|f| cx.cite(f)).collect();
            let mut seq_note = Vec::new();
            for f in &figs {
                if let (true, Some(s)) = (f.metric == "gups", seq_speed(&f.env_id)) {
                    seq_note.push(format!(
                        "{} triad_mbs ({}) {}",
                        f.env_id,
                        crate::report::stream_label(cx.facts.stream_variant(&f.env_id)),
                        speed_words(&s)
                    ));
                    if let Some(t) = a.figure(&f.env_id, "membw", "triad_mbs") {
                        cited.push(cx.cite(t));
                    }
                }
            }
            let sizes: Vec<String> = figs
                .iter()
                .filter_map(|f| {
                    latency_size_bytes(&f.metric)
                        .map(|s| format!("{} {}", f.env_id, format_size(s)))
                })
                .collect();
            decided(
                l3,
                ok,
                format!(
                    "Random access in VMs (GUPS{}): {}{}.{notes}",
                    if sizes.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; latency at the largest working set measured both natively and in the VM: {}",
                            sizes.join(", ")
                        )
                    },
                    cx.speed_list(&figs),
                    if seq_note.is_empty() {
                        String::new()
                    } else {
                        format!("; for comparison, sequential: {}", seq_note.join("; "))
                    },
                ),
                cited,
            )
        }
    };
    combine("C2", vec![p1, p2, p3])
}

/// The slowest environment of a class to start, by median time to first
/// instruction (else whole lifecycle).
fn slowest_start<'a>(cx: &Cx<'a>, class: &str, metric: Option<&str>) -> Option<&'a Figure> {
    let metrics: Vec<&str> = match metric {
        Some(m) => vec![m],
        None => vec!["first_instruction_ms", "lifecycle_ms"],
    };
    metrics.into_iter().find_map(|m| {
        cx.a.figures
            .iter()
            .filter(|f| f.env == class && f.workload == "startup" && f.metric == m)
            .max_by(|x, y| x.summary.centre.total_cmp(&y.summary.centre))
    })
}

fn c3(cx: &Cx) -> ClaimResult {
    let l1 = "a container starts in seconds or less";
    let cont = slowest_start(cx, "container", None);
    let p1 = match cont {
        None => not_measured(
            l1,
            "no valid figure",
            "startup in a container (`--env container --workload startup`)",
        ),
        Some(f) => {
            let v = median_of(f);
            decided(
                l1,
                fit(&v, 0.0, CONTAINER_START_MAX_MS),
                format!(
                    "Slowest container start: {} {} median {} ms (\"seconds or less\" means ≤ {CONTAINER_START_MAX_MS:.0} ms).",
                    f.env_id,
                    f.metric,
                    val_text(&v, |x| format!("{x:.0}"))
                ),
                vec![cx.cite(f)],
            )
        }
    };
    let l2 = "a VM takes far longer to start";
    let vm_figs: Vec<&Figure> =
        cx.a.figures
            .iter()
            .filter(|f| {
                f.env == "vm"
                    && f.workload == "startup"
                    && (f.metric == "first_instruction_ms" || f.metric == "lifecycle_ms")
            })
            .collect();
    let p2 = if vm_figs.is_empty() {
        not_measured(
            l2,
            "no valid figure",
            "startup in a VM (`--env vm --workload startup`)",
        )
    } else if vm_figs.iter().all(|f| figure_emulated(cx.a, f)) {
        // A TCG boot runs the guest kernel on an emulated CPU: it is slower
        // than a hardware-virtualised boot by an unknown factor, so "far
        // longer" cannot be read from it either way.
        let f = slowest_start(cx, "vm", None).expect("not empty");
        PartResult {
            label: l2.into(),
            verdict: Verdict::NotTestable,
            reason: None,
            text: format!(
                "VM start under QEMU TCG (emulated CPU, the guest kernel boots far slower than under hardware virtualisation): {} {} median {} ms; for information only.",
                f.env_id,
                f.metric,
                val_text(&median_of(f), |x| format!("{x:.0}"))
            ),
            figures: vec![cx.cite(f)],
            missing: None,
        }
    } else {
        let vm = vm_figs
            .iter()
            .filter(|f| !figure_emulated(cx.a, f) && f.metric == vm_figs[0].metric)
            .max_by(|x, y| x.summary.centre.total_cmp(&y.summary.centre))
            .or_else(|| vm_figs.iter().find(|f| !figure_emulated(cx.a, f)))
            .copied()
            .expect("a hardware VM figure");
        match slowest_start(cx, "container", Some(&vm.metric)) {
            None => not_measured(
                l2,
                "no container figure of the same metric",
                "startup in a container to compare the VM with",
            ),
            Some(c) => {
                let factor = vm.summary.centre / c.summary.centre;
                holds(
                    l2,
                    factor >= FAR_LONGER,
                    format!(
                        "VM start: {} {} median {} ms, {factor:.0}× the slowest container ({}; \"far longer\" means ≥ {FAR_LONGER:.0}×; accelerator {}).",
                        vm.env_id,
                        vm.metric,
                        val_text(&median_of(vm), |x| format!("{x:.0}")),
                        c.env_id,
                        vm.accel.as_deref().unwrap_or("unknown")
                    ),
                    vec![cx.cite(vm), cx.cite(c)],
                )
            }
        }
    };
    combine("C3", vec![p1, p2])
}

fn unit_bytes(unit: &str) -> Option<f64> {
    match unit {
        "B" | "bytes" => Some(1.0),
        "KiB" => Some(1024.0),
        "MiB" => Some(1024.0 * 1024.0),
        "GiB" => Some(1024.0 * 1024.0 * 1024.0),
        _ => None,
    }
}

const FOOTPRINT_WHAT: &str = "the memory attributable to one idle instance at READY: the proportional set size (PSS, from /proc/PID/smaps_rollup) of all its processes, runtime processes included (`footprint_pss_mib` of the startup workload), in a container and a VM; instances per host = host memory / footprint";

/// C4 from the density experiment, when the run has one: memory per
/// instance measured over many live instances, not one instance's footprint.
/// The cost of an instance is the host memory each extra instance took (the
/// slope of the host's used memory against the count, which includes kernel
/// objects PSS cannot see), or its mean PSS where no slope could be fitted.
fn c4_density(cx: &Cx, host_memory_bytes: Option<u64>) -> Option<ClaimResult> {
    use crate::density::DensitySummary;
    let d = &cx.facts.density;
    let conts: Vec<&DensitySummary> = d.iter().filter(|s| s.env == "container").collect();
    if conts.is_empty() {
        return None;
    }
    let cost = |s: &DensitySummary| -> Option<(crate::stats::Estimate, &'static str)> {
        match (s.marginal_mib, s.pss_mib) {
            (Some(m), _) if m.lo > 0.0 => Some((m, "marginal host memory")),
            (_, Some(p)) if p.point > 0.0 => Some((p, "mean PSS")),
            _ => None,
        }
    };
    let words = |s: &DensitySummary| {
        format!(
            "{}: {} instances run, PSS {} MiB per instance, host memory {} MiB per extra instance{}",
            s.env_id,
            s.instances,
            s.pss_mib
                .map(|e| format!("{} [{}, {}]", num(e.point), num(e.lo), num(e.hi)))
                .unwrap_or_else(|| "?".into()),
            s.marginal_mib
                .map(|e| format!("{} [{}, {}]", num(e.point), num(e.lo), num(e.hi)))
                .unwrap_or_else(|| "? (too few instances)".into()),
            match (s.launch_first_ms, s.launch_last_ms) {
                (Some(a), Some(b)) => format!(", launch {} ms → {} ms from the first to the last tenth", num(a), num(b)),
                _ => String::new(),
            }
        )
    };
    let cite = |s: &DensitySummary| Cited {
        env_id: s.env_id.clone(),
        workload: crate::density::WORKLOAD.into(),
        metric: "instance memory".into(),
        unit: String::new(),
        params: format!("instances={}", s.instances),
        accel: s.accel.clone(),
        value: words(s),
        vs_native: None,
    };
    // The heaviest container decides "hundreds".
    let heaviest = conts
        .iter()
        .filter_map(|s| cost(s).map(|c| (c, *s)))
        .max_by(|x, y| x.0 .0.point.total_cmp(&y.0 .0.point));
    let l1 = "a host holds hundreds or thousands of containers";
    let p1 = match (heaviest, host_memory_bytes) {
        (None, _) => not_measured(
            l1,
            "no memory figure",
            "the density experiment (`isobench run --experiment density --env container`)",
        ),
        (_, None) => not_measured(
            l1,
            "host memory unknown",
            "the host's memory (run.json) to turn memory per instance into instances per host",
        ),
        (Some(((c, how), s)), Some(mem)) => {
            let mib = mem as f64 / (1u64 << 20) as f64;
            let (n_lo, n_hi, n) = (mib / c.hi, mib / c.lo.max(1e-9), mib / c.point);
            let fit = if n_lo >= HUNDREDS {
                Fit::Inside
            } else if n_hi < HUNDREDS {
                Fit::Outside
            } else {
                Fit::Unsure
            };
            decided(
                l1,
                fit,
                format!(
                    "Density experiment ({how} per container, the heaviest runtime): {}. About {n:.0} containers per host by memory ({n_lo:.0}–{n_hi:.0} by the interval; \"hundreds\" means ≥ {HUNDREDS:.0}); {} containers were actually run at once.",
                    words(s),
                    conts.iter().map(|s| s.instances).max().unwrap_or(0)
                ),
                conts.iter().map(|s| cite(s)).collect(),
            )
        }
    };
    let l2 = "only a few VMs (a VM weighs ≥ 10× a container)";
    let vms: Vec<&DensitySummary> = d.iter().filter(|s| s.env == "vm").collect();
    let p2 = match (heaviest, vms.is_empty()) {
        (None, _) | (_, true) => not_measured(l2, "no valid figure", "the density experiment in a container and a VM (`--experiment density --env container,vm`)"),
        (Some(((c, _), s)), false) => {
            let lightest_vm = vms
                .iter()
                .filter_map(|v| cost(v).map(|e| (e, *v)))
                .min_by(|x, y| x.0 .0.point.total_cmp(&y.0 .0.point));
            match lightest_vm {
                None => not_measured(l2, "no VM memory figure", "the density experiment in a VM"),
                Some(((v, how), vs)) => {
                    let factor = v.point / c.point;
                    let text = format!(
                        "VM ({how}): {}; {factor:.0}× the heaviest container {} (the claim needs ≥ {FOOTPRINT_FACTOR:.0}×).",
                        words(vs),
                        s.env_id
                    );
                    if vs.emulated() {
                        PartResult {
                            label: l2.into(),
                            verdict: Verdict::NotTestable,
                            reason: None,
                            text: format!("{text} Under TCG QEMU's memory includes its translation cache, so this overestimates a hardware-virtualised VM; for information only."),
                            figures: vec![cite(vs), cite(s)],
                            missing: None,
                        }
                    } else {
                        let fit = if v.lo / c.hi >= FOOTPRINT_FACTOR {
                            Fit::Inside
                        } else if v.hi / c.lo.max(1e-9) < FOOTPRINT_FACTOR {
                            Fit::Outside
                        } else {
                            Fit::Unsure
                        };
                        decided(l2, fit, text, vec![cite(vs), cite(s)])
                    }
                }
            }
        }
    };
    Some(combine("C4", vec![p1, p2]))
}

fn c4(cx: &Cx, host_memory_bytes: Option<u64>) -> ClaimResult {
    if let Some(r) = c4_density(cx, host_memory_bytes) {
        return r;
    }
    let a = cx.a;
    let foot = |class: &str| -> Vec<&Figure> {
        a.figures
            .iter()
            .filter(|f| f.env == class && f.metric == FOOTPRINT)
            .collect()
    };
    let old = a.figures.iter().any(|f| f.metric == OLD_FOOTPRINT);
    let (cont, vm) = (foot("container"), foot("vm"));
    let measure = "PSS of all the instance's processes idle at READY, runtime processes included";
    let missing_part = |label: &str| {
        if old {
            not_measured(label, "old footprint measure", &format!("{FOOTPRINT_WHAT}. This run carries only `footprint_mib`, which measured three different things (native VmHWM, container cgroup peak, QEMU RSS) and is not used for verdicts"))
        } else {
            not_measured(label, "no valid figure", FOOTPRINT_WHAT)
        }
    };
    let bytes = |f: &Figure| unit_bytes(&f.unit).map(|u| f.summary.centre * u);
    let per_host = |f: &Figure| match (host_memory_bytes, bytes(f)) {
        (Some(m), Some(b)) if b > 0.0 => Some(m as f64 / b),
        _ => None,
    };
    let worst_cont = cont
        .iter()
        .max_by(|x, y| x.summary.centre.total_cmp(&y.summary.centre))
        .copied();
    let l1 = "a host holds hundreds or thousands of containers";
    let p1 = match worst_cont {
        None => missing_part(l1),
        Some(c) => match per_host(c) {
            None => not_measured(l1, "host memory unknown", "the host's memory (run.json) to turn the footprint into instances per host"),
            Some(n) => holds(
                l1,
                n >= HUNDREDS,
                format!(
                    "Footprint per container ({measure}): {} {} MiB, about {n:.0} per host by memory (\"hundreds\" means ≥ {HUNDREDS:.0}).",
                    c.env_id,
                    val_text(&median_of(c), num)
                ),
                vec![cx.cite(c)],
            ),
        },
    };
    let l2 = "only a few VMs (a VM weighs ≥ 10× a container)";
    let p2 = match (worst_cont, vm.is_empty()) {
        (_, true) => missing_part(l2),
        (None, false) => missing_part(l2),
        (Some(c), false) => {
            let hw: Vec<&Figure> = vm
                .iter()
                .filter(|f| !figure_emulated(a, f))
                .copied()
                .collect();
            let v = (if hw.is_empty() { &vm } else { &hw })
                .iter()
                .min_by(|x, y| x.summary.centre.total_cmp(&y.summary.centre))
                .copied()
                .expect("not empty");
            let factor = v.summary.centre / c.summary.centre;
            let text = format!(
                "Footprint per VM ({measure}): {} {} MiB{}, {factor:.0}× the heaviest container {} (the claim needs ≥ {FOOTPRINT_FACTOR:.0}×).",
                v.env_id,
                val_text(&median_of(v), num),
                per_host(v)
                    .map(|n| format!(", about {n:.0} per host by memory"))
                    .unwrap_or_default(),
                c.env_id
            );
            if hw.is_empty() {
                // Memory is not emulated, but TCG keeps its translation
                // cache (the translated guest code, sized by QEMU: tens to
                // hundreds of MiB) in QEMU's memory. The VM figure is thus an
                // overestimate of a hardware-virtualised VM's: a "VMs are
                // heavier" verdict would rest on the emulator's own memory,
                // and a "not heavier" one on an unknown correction. Neither
                // can be trusted, so the part is not testable.
                PartResult {
                    label: l2.into(),
                    verdict: Verdict::NotTestable,
                    reason: None,
                    text: format!("{text} Under TCG QEMU's memory includes its translation cache (tens to hundreds of MiB), so this overestimates a hardware-virtualised VM; for information only."),
                    figures: vec![cx.cite(v), cx.cite(c)],
                    missing: None,
                }
            } else {
                holds(
                    l2,
                    factor >= FOOTPRINT_FACTOR,
                    text,
                    vec![cx.cite(v), cx.cite(c)],
                )
            }
        }
    };
    combine("C4", vec![p1, p2])
}

/// C5 from the noisy-neighbour experiment: victims measured alone and
/// beside an antagonist in a sibling instance, shared and partitioned.
/// Part 1: cgroups do not protect — some container victim, partitioned (its
/// own cpuset, quota, memory and pids limits), still loses speed: its
/// interval lies wholly below [`ALMOST_NATIVE`] of its speed alone. Part 2:
/// isolation is weaker than a VM's — for the same victim, antagonist and
/// placement, a container keeps less of its speed than a VM, with
/// non-overlapping intervals, and never more.
fn c5(cx: &Cx) -> ClaimResult {
    use crate::neighbours::{protection, Protection, Slowdown};
    let s = &cx.facts.slowdowns;
    let how = "the noisy-neighbour experiment: a victim workload alone and beside an antagonist (cpu hog, memory streamer, LLC thrasher, bounded fork storm) in a sibling instance, shared and partitioned";
    let words = |x: &Slowdown| {
        format!(
            "{} {}/{} beside {} ({}): {} of its speed alone (95% CI {}–{}, n={}){}",
            x.env_id,
            x.victim,
            x.metric,
            x.antagonist,
            x.placement,
            pct(x.speed.point),
            pct(x.speed.lo),
            pct(x.speed.hi),
            x.n,
            x.pressure
                .as_ref()
                .map(|(r, u)| format!(", antagonist at {r:.1} {u}"))
                .unwrap_or_default()
        )
    };
    let cite = |x: &Slowdown| Cited {
        env_id: x.env_id.clone(),
        workload: crate::neighbours::WORKLOAD.into(),
        metric: x.metric.clone(),
        unit: String::new(),
        params: format!(
            "victim={}, antagonist={}, placement={}",
            x.victim, x.antagonist, x.placement
        ),
        accel: x.accel.clone(),
        value: format!(
            "speed beside / alone {:.2} [{:.2}, {:.2}] (n={})",
            x.speed.point, x.speed.lo, x.speed.hi, x.n
        ),
        vs_native: None,
    };
    let l1 = "partitioned by cgroups, a container is still slowed by a neighbour";
    let part: Vec<&Slowdown> = s
        .iter()
        .filter(|x| x.env == "container" && x.placement == "partitioned")
        .collect();
    let p1 = if part.is_empty() {
        not_measured(l1, "no valid figure", how)
    } else {
        let hurt: Vec<&Slowdown> = part
            .iter()
            .filter(|x| x.speed.hi < ALMOST_NATIVE)
            .copied()
            .collect();
        let verdict = if !hurt.is_empty() {
            Fit::Inside
        } else if part.iter().all(|x| x.speed.lo >= ALMOST_NATIVE) {
            Fit::Outside
        } else {
            Fit::Unsure
        };
        let shown = if hurt.is_empty() { &part } else { &hurt };
        // Which resources partitioning protected, and which not.
        let mut kept: Vec<String> = Vec::new();
        let mut lost: Vec<String> = Vec::new();
        for x in crate::neighbours::headline(&part.iter().map(|x| (*x).clone()).collect::<Vec<_>>())
        {
            let name = format!("{} victim beside {}", x.victim, x.antagonist);
            if x.speed.hi < ALMOST_NATIVE {
                lost.push(name);
            } else if x.speed.lo >= ALMOST_NATIVE {
                kept.push(name);
            }
        }
        lost.sort();
        lost.dedup();
        kept.sort();
        kept.dedup();
        let by_resource = format!(
            " Partitioned containers were protected for: {}; not protected for: {}.",
            if kept.is_empty() {
                "none shown".to_string()
            } else {
                kept.join(", ")
            },
            if lost.is_empty() {
                "none shown".to_string()
            } else {
                lost.join(", ")
            },
        );
        let checks = crate::neighbours::expectations(s);
        let physics = if checks.is_empty() {
            String::new()
        } else {
            format!(
                " Against what the host's physics predict (a CPU hog halves a CPU victim sharing the CPUs and partitioning keeps nearly all of it; memory bandwidth is shared below cgroups and hypervisors, so partitioning does not protect a STREAM victim): {}.",
                crate::neighbours::describe_checks(&checks)
            )
        };
        decided(
            l1,
            verdict,
            format!(
                "Slowed means below {} of the speed alone, the whole interval: {}.{by_resource}{physics}",
                pct(ALMOST_NATIVE),
                shown
                    .iter()
                    .map(|x| words(x))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            shown.iter().map(|x| cite(x)).collect(),
        )
    };
    let l2 = "a VM protects its victim better than a container";
    let mut pairs = Vec::new();
    for c in s.iter().filter(|x| x.env == "container") {
        for v in s.iter().filter(|x| {
            x.env == "vm"
                && x.victim == c.victim
                && x.metric == c.metric
                && x.antagonist == c.antagonist
                && x.placement == c.placement
        }) {
            pairs.push((c, v));
        }
    }
    let p2 = if pairs.is_empty() {
        not_measured(
            l2,
            "no valid figure",
            &format!("{how}, in both a container and a VM"),
        )
    } else if pairs.iter().all(|(_, v)| v.emulated()) {
        PartResult {
            label: l2.into(),
            verdict: Verdict::NotTestable,
            reason: None,
            text: format!(
                "Measured only against VMs under QEMU TCG (an emulated CPU: the VM's antagonist applies less pressure and its victim runs slower for reasons of its own); for information only: {}.",
                pairs
                    .iter()
                    .map(|(c, v)| format!("{}; {}", words(c), words(v)))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
            figures: pairs.iter().flat_map(|(c, v)| [cite(c), cite(v)]).collect(),
            missing: None,
        }
    } else {
        let hw: Vec<_> = pairs.iter().filter(|(_, v)| !v.emulated()).collect();
        let outcomes: Vec<Protection> = hw.iter().map(|(c, v)| protection(c, v)).collect();
        let verdict = if outcomes.contains(&Protection::BWorse) {
            Fit::Outside
        } else if outcomes.contains(&Protection::AWorse) {
            Fit::Inside
        } else {
            Fit::Unsure
        };
        decided(
            l2,
            verdict,
            format!(
                "Container against VM, same victim, antagonist and placement (better protected = higher share of the speed alone, intervals apart): {}.",
                hw.iter()
                    .map(|(c, v)| format!("{}; {}", words(c), words(v)))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
            hw.iter().flat_map(|(c, v)| [cite(c), cite(v)]).collect(),
        )
    };
    combine("C5", vec![p1, p2])
}

/// C6, from the permission check: one part per sharing model (shared
/// daemon, shared state root, per-user rootless). A part holds when, in
/// every setup of that model measured here, user B could do at least one
/// action on user A's container; it is refuted when B was denied every
/// action in some setup of the model (the claim says "anyone ... every
/// container", so one engine that keeps users apart refutes it for that
/// model); setups not available here are named, not counted.
fn c6(cx: &Cx) -> ClaimResult {
    use crate::permissions::{by_model, PermissionRow};
    let rows = &cx.facts.permissions;
    let how = "isobench run --experiment permissions (as root): two test users; A creates a container, B tries state, exec, kill and delete through a shared podman service, shared runtime state roots and per-user rootless engines (a `foreign_actions` count per setup)";
    if rows.is_empty() {
        return combine(
            "C6",
            vec![not_measured(
                "a user of the engine can act on others' containers",
                "no permission check in this run",
                how,
            )],
        );
    }
    let words = |r: &PermissionRow| match &r.available {
        Err(why) => format!("{}: not available ({why})", r.env_id),
        Ok(()) => {
            let allowed = r.allowed();
            format!(
                "{}: B could {} ({} of {} foreign actions)",
                r.env_id,
                if allowed.is_empty() {
                    "do nothing".to_string()
                } else {
                    allowed.join(", ")
                },
                r.foreign_actions,
                r.attempts
            )
        }
    };
    let cite = |r: &PermissionRow| Cited {
        env_id: r.env_id.clone(),
        workload: crate::permissions::WORKLOAD.into(),
        metric: "foreign_actions".into(),
        unit: "actions".into(),
        params: format!(
            "model={}, engine={}, privilege={}",
            r.model, r.engine, r.privilege
        ),
        value: format!(
            "{} of {} ({})",
            r.foreign_actions,
            r.attempts,
            r.actions
                .iter()
                .map(|a| format!("{} {}", a.0, a.1))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        vs_native: None,
        accel: None,
    };
    let parts = by_model(rows)
        .into_iter()
        .map(|(model, rs)| {
            let label =
                format!("{model}: a user of the engine can act on another user's containers");
            let measured: Vec<&PermissionRow> = rs
                .iter()
                .copied()
                .filter(|r| r.available.is_ok() && r.attempts > 0)
                .collect();
            let text = format!(
                "{}.",
                rs.iter().map(|r| words(r)).collect::<Vec<_>>().join("; ")
            );
            if measured.is_empty() {
                let mut p = not_measured(&label, "no setup of this model is available here", how);
                p.text = text;
                return p;
            }
            let allowed = measured.iter().filter(|r| r.foreign_actions > 0).count();
            let shut_out = measured.iter().filter(|r| r.all_denied()).count();
            let figures = measured.iter().map(|r| cite(r)).collect();
            if shut_out > 0 {
                holds(&label, false, text, figures)
            } else if allowed == measured.len() {
                holds(&label, true, text, figures)
            } else {
                part(&label, Verdict::Inconclusive, text, figures)
            }
        })
        .collect();
    combine("C6", parts)
}

/// One figure of the `layers` workload by metric name.
fn layer_figure<'a>(cx: &Cx<'a>, metric: &str) -> Option<&'a Figure> {
    cx.a.figures
        .iter()
        .find(|f| f.workload == "layers" && f.metric == metric && !f.samples.is_empty())
}

/// C7 from the `layers` workload (isorun's layer store, measured by the
/// host) and the copy-on-write workloads. Part 1: a one-file change to an
/// image built by isorun adds exactly one layer, reuses the rest, and adds
/// fewer bytes than the image holds. Part 2: the same across imports of a
/// real image tool's OCI layout (umoci): layers reused by digest alone.
/// Part 3: the top layer is copy-on-write: a container's first write to a
/// large lower-layer file costs what copying it does, at least
/// [`COPY_UP_FACTOR`] times the same write on a plain directory.
fn c7(cx: &Cx) -> ClaimResult {
    let l1 = "a change adds a layer instead of rebuilding the image (isorun's builder)";
    let f = |m: &str| layer_figure(cx, m);
    let reuse_part = |label: &str, pre: &str, tool: &str| -> PartResult {
        let names = [
            "layers_total",
            "layers_reused",
            "layers_added",
            "layer_added_bytes",
            "image_bytes",
        ]
        .map(|m| format!("{pre}{m}"));
        let figs: Vec<&Figure> = names.iter().filter_map(|m| f(m)).collect();
        if figs.len() < names.len() {
            return not_measured(
                label,
                "no valid figure",
                &format!("the `layers` workload ({tool}): build an image, change one file, rebuild, count layers reused and added and bytes added (`{pre}layer_added_bytes` against `{pre}image_bytes`)"),
            );
        }
        let v = |i: usize| figs[i].summary.centre;
        let (total, reused, added, bytes, image) = (v(0), v(1), v(2), v(3), v(4));
        // Counts: every repetition must show one layer added, the rest reused.
        let every = |i: usize, want: &dyn Fn(f64) -> bool| figs[i].samples.iter().all(|x| want(*x));
        let ok = every(2, &|x| x == 1.0)
            && figs[1]
                .samples
                .iter()
                .zip(&figs[0].samples)
                .all(|(r, t)| *r == t - 1.0)
            && bytes < image;
        holds(
            label,
            ok,
            format!(
                "{tool}: a one-file change reused {reused:.0} of {total:.0} layers and added {added:.0}: {:.1} MiB added to an image of {:.1} MiB ({:.0}%; the changed file's whole layer, unpacked bytes in the store).",
                bytes / 1048576.0,
                image / 1048576.0,
                100.0 * bytes / image.max(1.0)
            ),
            figs.iter().map(|x| cx.cite(x)).collect(),
        )
    };
    let p1 = reuse_part(l1, "", "isorun's builder from directories");
    let p2 = reuse_part(
        "layers are shared by digest across imports of a real image tool's layout",
        "oci_",
        "umoci-built OCI layouts v1 and v2 imported into one store",
    );
    // umoci's own way (v1 plus an inserted file): shown when measured.
    let p_patch = layer_figure(cx, "oci_patch_layers_added").map(|_| {
        reuse_part(
            "an image tool's one-file change is one new layer on top",
            "oci_patch_",
            "umoci v3 = v1 plus `umoci insert` of the changed file, imported after v1",
        )
    });
    let l3 = "the top layer is copy-on-write: a first write copies the file up";
    let copy: Vec<&Figure> =
        cx.a.figures
            .iter()
            .filter(|f| f.workload == "copyup" && f.metric.starts_with("first_write_ms_"))
            .collect();
    let largest = copy
        .iter()
        .filter_map(|f| crate::metric::parse_size(f.metric.trim_start_matches("first_write_ms_")))
        .max();
    let p3 = match largest {
        None => not_measured(l3, "no valid figure", "the `copyup` workload: the first write to files of growing size in a lower layer, in a container and on a plain directory"),
        Some(size) => {
            let m = format!("first_write_ms_{}", crate::metric::format_size(size).replace(' ', ""));
            let at: Vec<&&Figure> = copy.iter().filter(|f| f.metric == m).collect();
            let native = at.iter().find(|f| f.env == "native");
            let containers: Vec<&&&Figure> = at.iter().filter(|f| f.env == "container").collect();
            match (native, containers.is_empty()) {
                (Some(n), false) => {
                    let ok = containers
                        .iter()
                        .all(|c| c.summary.centre >= COPY_UP_FACTOR * n.summary.centre);
                    let mut figs = vec![cx.cite(n)];
                    figs.extend(containers.iter().map(|c| cx.cite(c)));
                    holds(
                        l3,
                        ok,
                        format!(
                            "First write (open for writing and write 4 KiB) to a {} file in a lower layer: native directory {:.3} ms; {}.",
                            crate::metric::format_size(size),
                            n.summary.centre,
                            containers
                                .iter()
                                .map(|c| format!(
                                    "{} {:.3} ms ({:.0}x)",
                                    c.env_id,
                                    c.summary.centre,
                                    c.summary.centre / n.summary.centre.max(1e-9)
                                ))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        figs,
                    )
                }
                _ => not_measured(l3, "needs native and container figures", "the `copyup` workload in the native column and at least one container column"),
            }
        }
    };
    let mut parts = vec![p1, p2];
    parts.extend(p_patch);
    parts.push(p3);
    combine("C7", parts)
}

/// Copy-on-write shows when a container's first write to the largest file
/// takes at least this many times the same write on a plain directory.
pub const COPY_UP_FACTOR: f64 = 10.0;

#[cfg(test)]
mod tests {
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
        assert_eq!(v.len(), 7);
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
            recs.extend(testdata::c7_records(3, added, copy_ms));
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
        // The container half still decides; the claim is not measured.
        assert_eq!(part(&v[0], "containers").verdict, Verdict::Supported);
        assert_eq!(v[0].verdict, Verdict::NotMeasured);
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
        for p in &v[3].parts {
            assert_eq!(p.verdict_text(), "not measured (old footprint measure)");
            assert!(p.figures.is_empty());
        }
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
        assert!(
            part(c4, "hundreds")
                .text
                .contains("50 containers were actually run"),
            "{c4:?}"
        );
        assert!(
            part(c4, "hundreds").text.contains("marginal host memory"),
            "{c4:?}"
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
        assert_eq!(v[0].verdict, Verdict::NotMeasured);
        assert_eq!(v[0].findings().len(), 1);
        assert!(v[0].missing()[0].contains("VM"));
        assert_eq!(v[2].verdict, Verdict::NotMeasured);
    }
}
