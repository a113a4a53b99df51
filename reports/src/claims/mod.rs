//! Verdicts on the claims C1–C8 of docs/design.md ("The claims it exists to
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
use crate::facts::Facts;
use crate::metric::{format_size, latency_size_bytes};
use crate::text::{num, params_text, ratio_digits};
use crate::value::{exact_text, median_of, speed_of, val_text, Val};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Supported,
    NotSupported,
    /// The deciding figures come from an emulated VM (QEMU TCG).
    NotTestable,
    NotMeasured,
    /// Some parts measured, others not: the decided parts are shown
    /// ([`ClaimResult::verdict_text`] says how many).
    PartlyMeasured,
    /// Measured, but an interval straddles the claim's limit (or there is
    /// no interval, n = 1): more repetitions would decide it.
    Inconclusive,
    /// A measured part the seed's wording does not cover (gVisor's runsc, a
    /// sandbox between containers and VMs): figures for information, never
    /// a verdict and never counted in the claim's.
    Information,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::NotSupported => "not supported",
            Verdict::NotTestable => "not testable on this host (VM emulated)",
            Verdict::NotMeasured => "not measured",
            Verdict::PartlyMeasured => "partly measured",
            Verdict::Inconclusive => "inconclusive (an interval spans the limit: add --reps)",
            Verdict::Information => "for information",
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
            Verdict::PartlyMeasured => "partly-measured",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Information => "information",
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
    /// The value as a number (in `unit`) with its interval and n, for
    /// claims.json; `None` when the figure is not a number (a list of
    /// permission outcomes).
    pub number: Option<Val>,
    /// Performance relative to native with interval, when divided.
    pub vs_native: Option<String>,
    /// Accelerator of a VM.
    pub accel: Option<String>,
    /// `value` is a count or a byte size shown as itself with its unit
    /// (`4 layers`, `4.00 MiB`): no interval, and no unit after it.
    pub exact: bool,
}

impl Cited {
    /// The value as a reader sees it: `geomean 12.3 [12.0, 12.6] (n=3) ms`,
    /// or an exact count or size as itself (`4 layers`).
    pub fn value_text(&self) -> String {
        if self.exact || self.unit.is_empty() {
            self.value.clone()
        } else {
            format!("{} {}", self.value, self.unit)
        }
    }

    pub fn text(&self) -> String {
        format!(
            "{} {} {} ({}{}): {}{}",
            self.env_id,
            self.workload,
            self.metric,
            self.params,
            self.accel
                .as_ref()
                .map(|a| format!("; accel {a}"))
                .unwrap_or_default(),
            self.value_text(),
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
    /// The part is information outside the seed's wording (gVisor's part of
    /// a claim): its verdict is [`Verdict::Information`] or, without
    /// figures, [`Verdict::NotMeasured`], and the claim's verdict ignores it.
    pub info: bool,
}

impl PartResult {
    /// `not measured (parameters differ: ...)`, `supported`, ...
    pub fn verdict_text(&self) -> String {
        match &self.reason {
            Some(r) => format!("{} ({r})", self.verdict.label()),
            None => self.verdict.label().to_string(),
        }
    }

    /// The part in a table of claims by part: `label: verdict`; an
    /// information part with figures gives its finding's first sentence
    /// instead (its numbers), marked as information.
    pub fn cell_text(&self) -> String {
        if self.verdict == Verdict::Information && !self.text.is_empty() {
            let first = self.text.split(". ").next().unwrap_or(&self.text);
            let first = first.trim_end_matches('.');
            return format!("{first} (for information)");
        }
        format!("{}: {}", self.label, self.verdict_text())
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
    /// The verdict as a reader sees it: `partly measured (2 of 3 parts)`
    /// for a claim decided only in part, else the verdict's label.
    pub fn verdict_text(&self) -> String {
        match self.verdict {
            Verdict::PartlyMeasured => format!(
                "partly measured ({} of {} parts)",
                self.parts_measured(),
                self.parts_decisive()
            ),
            v => v.label().to_string(),
        }
    }

    /// Parts of the seed's wording that were measured (decided,
    /// inconclusive or not testable); information parts are not counted.
    pub fn parts_measured(&self) -> usize {
        self.parts
            .iter()
            .filter(|p| !p.info && p.verdict != Verdict::NotMeasured)
            .count()
    }

    /// Parts of the seed's wording (the ones the verdict rolls up).
    pub fn parts_decisive(&self) -> usize {
        self.parts.iter().filter(|p| !p.info).count()
    }

    /// The sentences of the seed's parts that measured something.
    pub fn findings(&self) -> Vec<String> {
        self.parts
            .iter()
            .filter(|p| !p.info && !p.text.is_empty())
            .map(|p| p.text.clone())
            .collect()
    }

    /// What would measure the seed's parts that were not measured.
    pub fn missing(&self) -> Vec<String> {
        self.parts
            .iter()
            .filter(|p| !p.info)
            .filter_map(|p| p.missing.clone())
            .collect()
    }

    /// Every figure the claim cites.
    pub fn figures(&self) -> impl Iterator<Item = &Cited> {
        self.parts.iter().flat_map(|p| p.figures.iter())
    }
}

/// One line of the claims overview: the part that decided a claim's
/// verdict (the first part with the claim's own verdict) and its deciding
/// number (the first figure it cites, as a ratio to native when it has one),
/// or, for a claim nothing decided, what would measure it.
pub fn claim_line(c: &ClaimResult) -> String {
    // The seed's wording speaks for the claim; information parts do not.
    let decisive = || c.parts.iter().filter(|p| !p.info);
    let part = decisive()
        .find(|p| p.verdict == c.verdict && (!p.figures.is_empty() || !p.text.is_empty()))
        .or_else(|| decisive().find(|p| !p.figures.is_empty()))
        .or_else(|| decisive().next());
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

/// The claims as worded in docs/design.md.
pub const CLAIMS: [(&str, &str); 8] = [
    ("C1", "Programs in containers compute at almost bare-metal speed; in VMs they lose about half."),
    ("C2", "Sequential memory bandwidth is similar everywhere; random access costs more in a VM because every access needs two address translations (guest and host page tables)."),
    ("C3", "A container starts in seconds or less; a VM boots a whole guest kernel and takes far longer."),
    ("C4", "One host can hold hundreds or thousands of containers but only a few VMs (memory footprint per instance)."),
    ("C5", "cgroups only cap what a container may use; they do not protect it from a noisy neighbour, so isolation is weaker than a VM's."),
    ("C6", "Anyone allowed to run the container engine can act on every container, whoever created it."),
    ("C7", "Images are stacks of read-only layers with a copy-on-write layer on top; a change adds a layer instead of rebuilding the image."),
    ("C8", "In I/O, a container's image storage schemes (AUFS/overlay, Device Mapper) differ slightly in efficiency; a VM's virtual devices cost more."),
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
        "C8" => "file I/O: container storage costs a little, a VM's disk more",
        _ => "",
    }
}

/// "Almost bare-metal": at least this fraction of native speed.
pub const ALMOST_NATIVE: f64 = 0.95;
/// "About half": VM speed within this range of native.
pub const ABOUT_HALF: (f64, f64) = (0.35, 0.65);
/// "Similar" bandwidth: within this range of native (the host swings ±15–30%).
pub const SIMILAR: (f64, f64) = (0.8, 1.25);
/// "Costs a little" (C8): file I/O at least this fraction of native's rate
/// on the same place; a VM's disk "costs more" when below it.
pub const A_LITTLE: f64 = 0.8;
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
        info: false,
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
        info: false,
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

/// The roll-up of a claim's parts. Evidence against any part decides the
/// claim; otherwise a claim with some parts measured and some not is "partly
/// measured" and still shows the parts that were decided, so that no result
/// is hidden behind "not measured". Information parts (gVisor's) are shown
/// but take no part in the roll-up.
fn combine(id: &'static str, parts: Vec<PartResult>) -> ClaimResult {
    let claim = CLAIMS.iter().find(|c| c.0 == id).map(|c| c.1).unwrap_or("");
    let decisive: Vec<&PartResult> = parts.iter().filter(|p| !p.info).collect();
    let any = |v: Verdict| decisive.iter().any(|p| p.verdict == v);
    let measured = decisive
        .iter()
        .filter(|p| p.verdict != Verdict::NotMeasured)
        .count();
    let verdict = if any(Verdict::NotSupported) {
        Verdict::NotSupported
    } else if measured == 0 {
        Verdict::NotMeasured
    } else if measured < decisive.len() {
        Verdict::PartlyMeasured
    } else if any(Verdict::NotTestable) {
        Verdict::NotTestable
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

/// What measures each claim: the command to type when a run lacks it.
pub fn command_for(id: &str) -> &'static str {
    match id {
        "C1" => "isobench run --workload cpu",
        "C2" => "isobench run --workload membw,randacc",
        "C3" => "isobench run --workload startup",
        "C4" => "isobench run --experiment density",
        "C5" => "isobench run --experiment neighbours",
        "C6" => "isobench run --experiment permissions",
        "C7" => "isobench run --workload layers,copyup,ovlmount,fsmeta",
        "C8" => "isobench run --workload fileio",
        _ => "isobench run",
    }
}

/// Claims a run did not (wholly) measure, grouped by the command that
/// measures them, for a report to list once, at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmeasured {
    pub command: &'static str,
    /// Claim ids, in order.
    pub claims: Vec<&'static str>,
    /// True when every listed claim is wholly unmeasured (none partly).
    pub wholly: bool,
}

/// The [`Unmeasured`] groups of a set of verdicts.
pub fn unmeasured(claims: &[ClaimResult]) -> Vec<Unmeasured> {
    let mut out: Vec<Unmeasured> = Vec::new();
    for c in claims {
        if !matches!(c.verdict, Verdict::NotMeasured | Verdict::PartlyMeasured) {
            continue;
        }
        let command = command_for(c.id);
        let wholly = c.verdict == Verdict::NotMeasured;
        match out.iter_mut().find(|u| u.command == command) {
            Some(u) => {
                u.claims.push(c.id);
                u.wholly &= wholly;
            }
            None => out.push(Unmeasured {
                command,
                claims: vec![c.id],
                wholly,
            }),
        }
    }
    out
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
        containers_near_native_vms_lose_half(&cx),
        bandwidth_similar_random_access_costs_more_in_vms(&cx),
        containers_start_faster_than_vms(&cx),
        hundreds_of_containers_few_vms(&cx, host_memory_bytes),
        cgroups_do_not_stop_neighbours(&cx),
        engine_users_act_on_every_container(&cx),
        changes_add_layers_copy_on_write(&cx),
        container_storage_costs_little_vm_disk_more(&cx),
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
        let exact = exact_text(f);
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
            value: exact.clone().unwrap_or_else(|| {
                format!(
                    "{} {}",
                    f.summary.centre_kind.label(),
                    val_text(&median_of(f), num)
                )
            }),
            // A count or size every repetition agrees on has no interval
            // (one of zero width would be a fake one).
            number: Some(match &exact {
                Some(_) if f.summary.min == f.summary.max => Val {
                    ci: None,
                    method: "exact: every repetition the same".into(),
                    ..median_of(f)
                },
                _ => median_of(f),
            }),
            exact: exact.is_some(),
            vs_native: speed_of(f)
                .filter(|_| f.workload != "startup")
                .filter(|_| self.incomparable(f).is_none())
                // As every ratio is printed: a TCG ratio never reads as 0.
                .map(|v| val_text(&v, ratio_digits)),
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
                info: false,
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
                info: false,
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

mod compute;
mod density;
mod engine_access;
mod io;
pub mod json;
mod layers;
mod memory;
pub mod merge;
mod neighbours;
mod sandbox;
pub(crate) use sandbox::SANDBOX;
mod startup;
#[cfg(test)]
mod tests;

use compute::containers_near_native_vms_lose_half;
use density::hundreds_of_containers_few_vms;
use engine_access::engine_users_act_on_every_container;
use io::container_storage_costs_little_vm_disk_more;
use layers::changes_add_layers_copy_on_write;
use memory::bandwidth_similar_random_access_costs_more_in_vms;
use neighbours::cgroups_do_not_stop_neighbours;
use startup::containers_start_faster_than_vms;

/// Copy-on-write shows when a container's first write to the largest file
/// takes at least this many times the same write on a plain directory.
pub const COPY_UP_FACTOR: f64 = 10.0;
