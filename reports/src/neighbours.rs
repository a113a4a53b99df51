//! Noisy neighbours (claim C5): a victim workload measured alone and beside a
//! sibling instance running an antagonist, in two placements. This module
//! turns those records into slowdowns with intervals; it touches no disk.
//!
//! Record format (written by the neighbour experiment): workload
//! [`WORKLOAD`]; `params.victim` (cpu, membw, randacc, latency),
//! `params.antagonist` ([`ALONE`] for the victim by itself, else cpu, membw,
//! llc, fork), `params.placement` (`shared` or `partitioned`), plus the
//! victim's own parameters; the victim's metrics; and
//! `metrics.antagonist_rate` (unit in `units`) for the pressure the
//! antagonist reported while the victim ran. Each repetition measures the
//! victim alone and beside every antagonist, so alone and beside are paired
//! by `rep`, as figures are paired with native.
//!
//! Solo records (`params.victim` [`SOLO`]) hold an antagonist's rate
//! running alone, once per environment: per placement (what its cells'
//! pressure is a fraction of), and for the memory streamer with one thread
//! (placement [`ONE_CORE`]) and one per CPU ([`ALL_CORES`], `params.threads`):
//! the host's memory-bandwidth scaling, from which the expectation for a
//! partitioned STREAM victim follows ([`Scaling`]).

use crate::metric::Direction;
use crate::schema::ResultRecord;
use crate::stats::{self, Estimate, Method};
use std::collections::BTreeMap;

/// Workload name of the experiment's records.
pub const WORKLOAD: &str = crate::schema::NEIGHBOUR_WORKLOAD;
/// `params.antagonist` of the victim measured by itself.
pub const ALONE: &str = "none";
/// Metric holding the antagonist's achieved rate.
pub const ANTAGONIST_RATE: &str = crate::schema::ANTAGONIST_RATE;
/// `params.victim` of an antagonist measured running alone.
pub const SOLO: &str = "none";
/// `params.placement` of the memory streamer alone with one thread.
pub const ONE_CORE: &str = "one-core";
/// `params.placement` of the memory streamer alone with one thread per CPU.
pub const ALL_CORES: &str = "all-cores";

/// The host's memory-bandwidth scaling, as one environment measured it:
/// the memory streamer alone with one thread against one per CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    /// Rate with one thread, and with `threads` threads (MB/s).
    pub one: f64,
    pub all: f64,
    pub threads: usize,
}

impl Scaling {
    /// The share of its speed alone a STREAM victim on half the CPUs is
    /// predicted to keep beside a streamer on the other half: each half
    /// streams at most `min(k * one, all)` alone (k = its CPUs, the one-core
    /// rate scaled linearly up to the all-core ceiling), and together they
    /// split `all` evenly.
    pub fn partitioned_share(&self) -> f64 {
        let k = (self.threads / 2).max(1) as f64;
        let half_alone = (k * self.one).min(self.all);
        (self.all / (2.0 * half_alone)).min(1.0)
    }

    /// Whether one core's streaming leaves the memory system room for
    /// another's: partitioning then protects a STREAM victim.
    pub fn per_core_limited(&self) -> bool {
        self.partitioned_share() >= NEARLY_ALL
    }

    /// The measured scaling and what it predicts, in words.
    pub fn statement(&self) -> String {
        format!(
            "memory bandwidth {:.0} MB/s on 1 thread, {:.0} MB/s on {} ({:.2}×), so a partitioned STREAM victim keeps about {:.0}% beside a streamer: {}",
            self.one,
            self.all,
            self.threads,
            self.all / self.one,
            100.0 * self.partitioned_share(),
            if self.per_core_limited() {
                "per-core limited here: partitioning protects STREAM"
            } else {
                "shared here: it does not"
            }
        )
    }
}

/// One cell of the slowdown table.
#[derive(Debug, Clone, PartialEq)]
pub struct Slowdown {
    pub env_id: String,
    /// Environment class (`native`, `container`, `vm`).
    pub env: String,
    pub victim: String,
    pub metric: String,
    pub antagonist: String,
    pub placement: String,
    /// Victim performance beside the antagonist relative to alone (1 = no
    /// effect, 0.5 = half as fast), with its interval.
    pub speed: Estimate,
    pub method: Method,
    pub n: usize,
    /// Median rate the antagonist achieved, and its unit.
    pub pressure: Option<(f64, String)>,
    /// The same antagonist's rate alone in the same placement and
    /// environment (median), when measured.
    pub solo: Option<f64>,
    /// The environment's memory-bandwidth scaling, when measured.
    pub scaling: Option<Scaling>,
    /// Accelerator of a VM (`tcg` = emulated).
    pub accel: Option<String>,
}

impl Slowdown {
    /// Whether the environment was emulated (its antagonist applies less
    /// pressure and its victim runs on an emulated CPU).
    pub fn emulated(&self) -> bool {
        self.accel.as_deref() == Some("tcg")
    }

    /// The pressure applied as a fraction of the antagonist's solo rate.
    pub fn fraction_of_solo(&self) -> Option<f64> {
        let (rate, _) = self.pressure.as_ref()?;
        self.solo
            .filter(|s| *s > 0.0)
            .map(|s| rate / s)
            .filter(|f| f.is_finite())
    }

    /// The victim's speed beside the antagonist relative to alone, as every
    /// table, check and citation prints it: `0.57× [0.37, 0.87] (n=3)`.
    pub fn speed_text(&self) -> String {
        format!(
            "{:.2}× [{:.2}, {:.2}] (n={})",
            self.speed.point, self.speed.lo, self.speed.hi, self.n
        )
    }

    /// The antagonist's achieved rate and its share of the solo rate, as
    /// every table and check prints it: `2,346 MB/s (85% of solo)`, `135.5
    /// Mops/s (solo not measured)`; `None` when no rate was reported.
    pub fn rate_text(&self) -> Option<String> {
        let (r, u) = self.pressure.as_ref()?;
        Some(format!(
            "{} {u} ({})",
            crate::text::num(*r),
            self.fraction_of_solo()
                .map(|f| format!("{:.0}% of solo", 100.0 * f))
                .unwrap_or_else(|| "solo not measured".into())
        ))
    }

    /// The pressure in words: `antagonist at 900 MB/s (85% of solo)`.
    pub fn pressure_words(&self) -> String {
        match self.rate_text() {
            Some(t) => format!("antagonist at {t}"),
            None => "antagonist rate unknown".into(),
        }
    }
}

/// The memory-bandwidth scaling of every environment in `records`: the
/// best rate of each side (as STREAM reports its best pass: outside load
/// only ever lowers a streaming rate).
pub fn scalings(records: &[ResultRecord]) -> BTreeMap<String, Scaling> {
    let mut one: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut all: BTreeMap<String, (Vec<f64>, usize)> = BTreeMap::new();
    for r in records.iter().filter(|r| r.valid && r.workload == WORKLOAD) {
        if param(r, "victim") != Some(SOLO) || param(r, "antagonist") != Some("membw") {
            continue;
        }
        let Some(&v) = r
            .metrics
            .get(ANTAGONIST_RATE)
            .filter(|v| v.is_finite() && **v > 0.0)
        else {
            continue;
        };
        match param(r, "placement") {
            Some(ONE_CORE) => one.entry(r.env_id.clone()).or_default().push(v),
            Some(ALL_CORES) => {
                let threads = r
                    .params
                    .get("threads")
                    .and_then(|t| t.as_u64())
                    .unwrap_or(0);
                let e = all.entry(r.env_id.clone()).or_default();
                e.0.push(v);
                e.1 = threads as usize;
            }
            _ => {}
        }
    }
    one.into_iter()
        .filter_map(|(env, xs)| {
            let (ys, threads) = all.get(&env)?;
            Some((
                env,
                Scaling {
                    one: xs.iter().copied().fold(f64::NAN, f64::max),
                    all: ys.iter().copied().fold(f64::NAN, f64::max),
                    threads: (*threads).max(2),
                },
            ))
        })
        .collect()
}

fn param<'a>(r: &'a ResultRecord, k: &str) -> Option<&'a str> {
    r.params.get(k).and_then(|v| v.as_str())
}

type Key = (String, String, String, String, String); // env_id, victim, metric, antagonist, placement

/// Every slowdown in `records` (valid records of [`WORKLOAD`] only).
pub fn slowdowns(records: &[ResultRecord]) -> Vec<Slowdown> {
    // (env_id, victim, metric, antagonist, placement) -> (values, reps)
    let mut cells: BTreeMap<Key, (Vec<f64>, Vec<u32>)> = BTreeMap::new();
    let mut pressure: BTreeMap<Key, (Vec<f64>, String)> = BTreeMap::new();
    let mut meta: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    let mut directions: BTreeMap<String, Direction> = BTreeMap::new();
    for r in records.iter().filter(|r| r.valid && r.workload == WORKLOAD) {
        let (Some(victim), Some(ant), Some(place)) = (
            param(r, "victim"),
            param(r, "antagonist"),
            param(r, "placement"),
        ) else {
            continue;
        };
        meta.entry(r.env_id.clone())
            .or_insert_with(|| (r.env.clone(), r.env_detail.get("accel").cloned()));
        for (m, &v) in &r.metrics {
            if !v.is_finite() {
                continue;
            }
            let key = (
                r.env_id.clone(),
                victim.to_string(),
                m.clone(),
                ant.to_string(),
                place.to_string(),
            );
            if m == ANTAGONIST_RATE {
                let unit = r.units.get(m).cloned().unwrap_or_default();
                pressure
                    .entry(key)
                    .or_insert_with(|| (Vec::new(), unit))
                    .0
                    .push(v);
                continue;
            }
            if r.alias_of(m).is_some() {
                continue;
            }
            directions
                .entry(m.clone())
                .or_insert_with(|| r.direction(m));
            let c = cells.entry(key).or_default();
            c.0.push(v);
            c.1.push(r.rep);
        }
    }
    let scaling = scalings(records);
    let mut out = Vec::new();
    for ((env_id, victim, metric, ant, place), (xs, reps)) in &cells {
        if ant == ALONE {
            continue;
        }
        let alone_key = (
            env_id.clone(),
            victim.clone(),
            metric.clone(),
            ALONE.to_string(),
            place.clone(),
        );
        let Some((ax, areps)) = cells.get(&alone_key) else {
            continue;
        };
        let Some((ratio, method)) = stats::ratio_interval_with_method(xs, reps, ax, areps) else {
            continue;
        };
        let direction = directions
            .get(metric)
            .copied()
            .unwrap_or_else(|| Direction::of(metric, ""));
        let speed = match direction {
            Direction::HigherIsBetter => ratio,
            Direction::LowerIsBetter => Estimate {
                point: 1.0 / ratio.point,
                lo: 1.0 / ratio.hi,
                hi: 1.0 / ratio.lo,
            },
        };
        let (env, accel) = meta.get(env_id).cloned().unwrap_or_default();
        let key = (
            env_id.clone(),
            victim.clone(),
            ANTAGONIST_RATE.to_string(),
            ant.clone(),
            place.clone(),
        );
        out.push(Slowdown {
            env_id: env_id.clone(),
            env,
            victim: victim.clone(),
            metric: metric.clone(),
            antagonist: ant.clone(),
            placement: place.clone(),
            speed,
            method,
            n: xs.len().min(ax.len()),
            pressure: pressure
                .get(&key)
                .and_then(|(v, u)| stats::median(v).map(|m| (m, u.clone()))),
            solo: pressure
                .get(&(
                    env_id.clone(),
                    SOLO.to_string(),
                    ANTAGONIST_RATE.to_string(),
                    ant.clone(),
                    place.clone(),
                ))
                .and_then(|(v, _)| stats::median(v)),
            scaling: scaling.get(env_id).cloned(),
            accel,
        });
    }
    out
}

/// The slowdowns of one headline metric per victim where it exists
/// (all-thread GFLOP/s and primes/s, STREAM triad, GUPS; latency at its
/// largest working set): cpu's `_1t`/`_2t` variants and the other STREAM
/// kernels stay in results.csv.
pub fn headline(s: &[Slowdown]) -> Vec<&Slowdown> {
    let headline = |victim: &str, metric: &str| -> bool {
        let want: &[&str] = match victim {
            "cpu" => &["gflops", "primes_per_s"],
            "membw" => &["triad_mbs"],
            "randacc" => &["gups"],
            _ => return true,
        };
        let has_any = s
            .iter()
            .any(|x| x.victim == victim && want.contains(&x.metric.as_str()));
        !has_any || want.contains(&metric)
    };
    let largest_latency = s
        .iter()
        .filter(|x| x.victim == "latency")
        .filter_map(|x| crate::metric::latency_size_bytes(&x.metric).map(|b| (b, x.metric.clone())))
        .max_by_key(|(b, _)| *b)
        .map(|(_, m)| m);
    s.iter()
        .filter(|x| match x.victim.as_str() {
            "latency" => largest_latency.as_deref().is_none_or(|m| m == x.metric),
            v => headline(v, &x.metric),
        })
        .collect()
}

/// The slowdowns as a grid: row labels (`env_id placement`, with
/// "(emulated)" for TCG VMs), column labels (`victim/metric + antagonist`)
/// and the speed of each cell.
pub type Grid = (Vec<String>, Vec<String>, Vec<Vec<Option<f64>>>);

pub fn grid(s: &[Slowdown]) -> Grid {
    let mut rows: Vec<(String, String, bool)> = Vec::new();
    let mut cols: Vec<(String, String, String)> = Vec::new();
    let s = headline(s);
    for x in &s {
        let r = (x.env_id.clone(), x.placement.clone(), x.emulated());
        if !rows.contains(&r) {
            rows.push(r);
        }
        let c = (x.victim.clone(), x.metric.clone(), x.antagonist.clone());
        if !cols.contains(&c) {
            cols.push(c);
        }
    }
    let cells = rows
        .iter()
        .map(|(e, p, _)| {
            cols.iter()
                .map(|(v, m, a)| {
                    s.iter()
                        .find(|x| {
                            &x.env_id == e
                                && &x.placement == p
                                && &x.victim == v
                                && &x.metric == m
                                && &x.antagonist == a
                        })
                        .map(|x| x.speed.point)
                })
                .collect()
        })
        .collect();
    (
        rows.iter()
            .map(|(e, p, emu)| format!("{e} {p}{}", if *emu { " (emulated)" } else { "" }))
            .collect(),
        cols.iter()
            .map(|(v, m, a)| format!("{v}/{m} + {a}"))
            .collect(),
        cells,
    )
}

/// How two environments' victims fared against one antagonist in one
/// placement: whether `a` lost more than `b`, judged on the intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// `a`'s victim kept less of its speed, and the intervals do not overlap.
    AWorse,
    /// `b`'s victim kept less of its speed, and the intervals do not overlap.
    BWorse,
    /// The intervals overlap: no difference shown.
    Unclear,
}

/// Compare two slowdowns of the same victim, metric, antagonist and
/// placement (non-overlapping 95% intervals are a conservative test).
pub fn protection(a: &Slowdown, b: &Slowdown) -> Protection {
    if a.speed.hi < b.speed.lo {
        Protection::AWorse
    } else if b.speed.hi < a.speed.lo {
        Protection::BWorse
    } else {
        Protection::Unclear
    }
}

/// Whether a cell agrees with what the host's physics predict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    Agrees,
    Disagrees,
    /// The interval reaches both sides of the expectation's limit.
    Unsure,
    /// An emulated VM: its antagonist and victim run on an emulated CPU.
    NotTestable,
    /// The expectation depends on a figure this run did not measure.
    NoExpectation,
}

impl Agreement {
    pub fn word(self) -> &'static str {
        match self {
            Agreement::Agrees => "agrees",
            Agreement::Disagrees => "disagrees",
            Agreement::Unsure => "inconclusive (the interval spans the limit)",
            Agreement::NotTestable => "not testable on this host (VM emulated)",
            Agreement::NoExpectation => {
                "not checked (the host's memory-bandwidth scaling was not measured in this run)"
            }
        }
    }
}

/// One expectation checked against one cell of the slowdown table.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub env_id: String,
    /// The cell, in words.
    pub what: String,
    /// What the physics predict.
    pub expected: String,
    pub outcome: Agreement,
    /// The cell's figure: `0.51× [0.49, 0.53] (n=8)`.
    pub figure: String,
    /// Why the data may disagree (set when they do).
    pub why: Option<String>,
}

/// "About half": a 2-thread CPU victim sharing the host's CPUs with a
/// CPU hog of as many threads.
pub const HALF: (f64, f64) = (0.35, 0.65);
/// "Nearly all": a victim on CPUs of its own.
pub const NEARLY_ALL: f64 = 0.9;
/// "Slowed": below this share of the speed alone, the whole interval.
pub const SLOWED: f64 = 0.95;

/// The expectations a host gives (issue "Live instances", noisy
/// neighbours), checked per environment: a CPU victim (primes/s, every
/// thread) beside an unlimited CPU hog of as many threads keeps about half
/// its speed when they share the CPUs and nearly all of it partitioned
/// onto CPUs of its own; a STREAM victim (triad) beside a memory streamer
/// is slowed when they share the CPUs; partitioned, it is slowed or not as
/// the environment's measured memory-bandwidth scaling predicts
/// ([`Scaling`]): where one core cannot saturate memory, partitioning
/// protects it, else bandwidth is shared below cgroups and hypervisors.
/// Without that scaling the partitioned STREAM cell is not checked.
pub fn expectations(s: &[Slowdown]) -> Vec<Check> {
    let mut out = Vec::new();
    let cell = |x: &Slowdown| x.speed_text();
    let rate = |x: &Slowdown| x.rate_text().unwrap_or_else(|| "an unknown rate".into());
    for x in s {
        let (what, expected) = match (
            x.victim.as_str(),
            x.metric.as_str(),
            x.antagonist.as_str(),
            x.placement.as_str(),
        ) {
            ("cpu", "primes_per_s", "cpu", "shared") => (
                "CPU victim beside the CPU hog, shared",
                "about half (the CPUs shared fairly by as many hog threads)".to_string(),
            ),
            ("cpu", "primes_per_s", "cpu", "partitioned") => (
                "CPU victim beside the CPU hog, partitioned",
                "nearly all (CPUs of its own)".to_string(),
            ),
            ("membw", "triad_mbs", "membw", "shared") => (
                "STREAM victim beside the memory streamer, shared",
                "slowed (memory bandwidth and CPUs shared)".to_string(),
            ),
            ("membw", "triad_mbs", "membw", "partitioned") => (
                "STREAM victim beside the memory streamer, partitioned",
                match &x.scaling {
                    Some(sc) if sc.per_core_limited() => format!("nearly all ({})", sc.statement()),
                    Some(sc) => format!("slowed ({})", sc.statement()),
                    None => "slowed or not as the host's memory-bandwidth scaling predicts (not measured)".to_string(),
                },
            ),
            _ => continue,
        };
        let (lo, hi) = (x.speed.lo, x.speed.hi);
        let outcome = if x.emulated() {
            Agreement::NotTestable
        } else if expected.starts_with("slowed or not") {
            Agreement::NoExpectation
        } else if expected.starts_with("about half") {
            if lo >= HALF.0 && hi <= HALF.1 {
                Agreement::Agrees
            } else if hi < HALF.0 || lo > HALF.1 {
                Agreement::Disagrees
            } else {
                Agreement::Unsure
            }
        } else if expected.starts_with("nearly all") {
            if lo >= NEARLY_ALL {
                Agreement::Agrees
            } else if hi < NEARLY_ALL {
                Agreement::Disagrees
            } else {
                Agreement::Unsure
            }
        } else if hi < SLOWED {
            Agreement::Agrees
        } else if lo >= SLOWED {
            Agreement::Disagrees
        } else {
            Agreement::Unsure
        };
        let why = (outcome == Agreement::Disagrees).then(|| match expected.as_str() {
            e if x.placement == "partitioned" && x.victim == "membw" && e.starts_with("nearly all") => format!(
                "the host's scaling predicted room for both streamers, yet the victim lost bandwidth (the streamer achieved {}): work outside the experiment, or a scaling measured on a quieter host",
                rate(x)
            ),
            e if e.starts_with("about half") && hi < HALF.0 => format!(
                "the victim lost more than its fair share: work outside the experiment (other processes on a busy host) competed for the same CPUs; the hog achieved {}",
                rate(x)
            ),
            e if e.starts_with("about half") => format!(
                "the hog applied less pressure than fair sharing predicts (it achieved {}), or the victim used fewer threads than the host has CPUs",
                rate(x)
            ),
            e if e.starts_with("nearly all") => format!(
                "partitioning did not keep the victim's CPU time: work outside the experiment, pushed off the antagonist's CPU, ran on the victim's, or the two CPUs are SMT siblings sharing one core; the hog achieved {}",
                rate(x)
            ),
            _ => format!(
                "the streamer (it achieved {}) did not take bandwidth the victim needed",
                rate(x)
            ),
        });
        out.push(Check {
            env_id: x.env_id.clone(),
            what: what.to_string(),
            expected,
            outcome,
            figure: cell(x),
            why,
        });
    }
    out
}

/// The checks as one paragraph: `env: what figure (expected ...): agrees`.
pub fn describe_checks(c: &[Check]) -> String {
    c.iter()
        .map(|c| {
            format!(
                "{}: {} {} (expected {}): {}{}",
                c.env_id,
                c.what,
                c.figure,
                c.expected,
                c.outcome.word(),
                c.why
                    .as_deref()
                    .map(|w| format!(", because {w}"))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Timings, SCHEMA_VERSION};

    fn rec(env: &str, ant: &str, place: &str, rep: u32, gflops: f64) -> ResultRecord {
        let mut metrics = BTreeMap::from([("gflops".to_string(), gflops)]);
        let mut units = BTreeMap::from([("gflops".to_string(), "GFLOP/s".to_string())]);
        if ant != ALONE {
            metrics.insert(ANTAGONIST_RATE.into(), 500.0 + rep as f64);
            units.insert(ANTAGONIST_RATE.into(), "Mops/s".into());
        }
        ResultRecord {
            schema: SCHEMA_VERSION,
            run_id: "r".into(),
            env: env.split('-').next().unwrap().into(),
            env_id: env.into(),
            env_detail: BTreeMap::new(),
            workload: WORKLOAD.into(),
            params: BTreeMap::from([
                ("victim".to_string(), serde_json::json!("cpu")),
                ("antagonist".to_string(), serde_json::json!(ant)),
                ("placement".to_string(), serde_json::json!(place)),
            ]),
            rep,
            valid: true,
            metrics,
            units,
            directions: Default::default(),
            aliases: Default::default(),
            info: BTreeMap::new(),
            timings: Timings::default(),
            error: None,
        }
    }

    /// A CPU victim beside a CPU hog on 2 cores: about half its speed when
    /// shared, nearly all when partitioned.
    #[test]
    fn slowdowns_pair_alone_and_beside_per_placement() {
        let mut rs = Vec::new();
        for rep in 0..5 {
            let j = 1.0 + 0.01 * (rep as f64 - 2.0);
            for place in ["shared", "partitioned"] {
                rs.push(rec("container-isorun", ALONE, place, rep, 20.0 * j));
                let beside = if place == "shared" { 10.0 } else { 19.5 };
                rs.push(rec("container-isorun", "cpu", place, rep, beside * j));
            }
        }
        let s = slowdowns(&rs);
        assert_eq!(s.len(), 2, "{s:?}");
        let shared = s.iter().find(|x| x.placement == "shared").unwrap();
        let part = s.iter().find(|x| x.placement == "partitioned").unwrap();
        assert!((shared.speed.point - 0.5).abs() < 1e-9, "{shared:?}");
        assert!((part.speed.point - 0.975).abs() < 1e-9);
        // Paired: the common per-rep drift cancels, so the interval is tight.
        assert!(shared.speed.hi - shared.speed.lo < 1e-6, "{shared:?}");
        assert_eq!(shared.n, 5);
        let (rate, unit) = shared.pressure.clone().unwrap();
        assert_eq!((rate, unit.as_str()), (502.0, "Mops/s"));
        assert_eq!(protection(shared, part), Protection::AWorse);
        assert_eq!(protection(part, shared), Protection::BWorse);
        assert_eq!(protection(part, part), Protection::Unclear);
    }

    #[test]
    fn the_grid_has_a_cell_per_environment_placement_victim_and_antagonist() {
        let mut rs = Vec::new();
        for rep in 0..3 {
            for place in ["shared", "partitioned"] {
                rs.push(rec("native", ALONE, place, rep, 20.0));
                rs.push(rec("native", "cpu", place, rep, 10.0));
            }
        }
        let (rows, cols, cells) = grid(&slowdowns(&rs));
        assert_eq!(rows.len(), 2);
        assert_eq!(cols, vec!["cpu/gflops + cpu".to_string()]);
        assert!(cells
            .iter()
            .all(|r| r[0].is_some_and(|v| (v - 0.5).abs() < 1e-12)));
    }

    fn cell(victim: &str, metric: &str, ant: &str, place: &str, lo: f64, hi: f64) -> Slowdown {
        Slowdown {
            env_id: "native".into(),
            env: "native".into(),
            victim: victim.into(),
            metric: metric.into(),
            antagonist: ant.into(),
            placement: place.into(),
            speed: Estimate {
                point: (lo + hi) / 2.0,
                lo,
                hi,
            },
            method: Method::TLogPaired { n: 5 },
            n: 5,
            pressure: Some((900.0, "Mops/s".into())),
            solo: None,
            scaling: None,
            accel: None,
        }
    }

    /// A solo record of the memory streamer: `placement` one-core or
    /// all-cores (or a trial placement), `rate` MB/s.
    fn solo(env: &str, place: &str, threads: u64, rate: f64) -> ResultRecord {
        let mut r = rec(env, "membw", place, 0, 0.0);
        r.metrics = BTreeMap::from([(ANTAGONIST_RATE.to_string(), rate)]);
        r.units = BTreeMap::from([(ANTAGONIST_RATE.to_string(), "MB/s".to_string())]);
        r.params.insert("victim".into(), serde_json::json!(SOLO));
        r.params
            .insert("threads".into(), serde_json::json!(threads));
        r
    }

    /// Records of a STREAM victim (triad) alone and beside the streamer,
    /// partitioned, keeping `kept` of its speed, on a host whose streamer
    /// alone does `one` MB/s on 1 thread and `all` on 2.
    fn stream_host(one: f64, all: f64, kept: f64) -> Vec<ResultRecord> {
        let mut rs = vec![
            solo("native", ONE_CORE, 1, one),
            solo("native", ALL_CORES, 2, all),
            // A second pair under outside load: the best of each counts.
            solo("native", ONE_CORE, 1, 0.5 * one),
            solo("native", ALL_CORES, 2, 0.5 * all),
            solo("native", "partitioned", 2, one),
        ];
        for rep in 0..5 {
            let j = 1.0 + 0.01 * (rep as f64 - 2.0);
            for (ant, v) in [(ALONE, 10_000.0), ("membw", 10_000.0 * kept)] {
                let mut r = rec("native", ant, "partitioned", rep, 0.0);
                r.params.insert("victim".into(), serde_json::json!("membw"));
                r.metrics = BTreeMap::from([("triad_mbs".to_string(), v * j)]);
                r.units = BTreeMap::from([("triad_mbs".to_string(), "MB/s".to_string())]);
                if ant != ALONE {
                    r.metrics.insert(ANTAGONIST_RATE.into(), 0.8 * one);
                    r.units.insert(ANTAGONIST_RATE.into(), "MB/s".into());
                }
                rs.push(r);
            }
        }
        rs
    }

    /// A host where one core cannot saturate memory (2 threads stream
    /// twice as much as 1): partitioning is predicted to protect STREAM,
    /// and a victim that kept its speed agrees.
    #[test]
    fn a_per_core_limited_host_expects_partitioning_to_protect_stream() {
        let s = slowdowns(&stream_host(8_000.0, 16_000.0, 1.0));
        assert_eq!(s.len(), 1, "solo records make no cells: {s:?}");
        let x = &s[0];
        let sc = x.scaling.clone().unwrap();
        assert_eq!((sc.one, sc.all, sc.threads), (8_000.0, 16_000.0, 2));
        assert!(sc.per_core_limited());
        assert!((x.fraction_of_solo().unwrap() - 0.8).abs() < 1e-9);
        assert_eq!(x.pressure_words(), "antagonist at 6,400 MB/s (80% of solo)");
        let c = expectations(&s);
        assert_eq!(c.len(), 1);
        // One wording of a cell everywhere: the check prints the table's.
        assert_eq!(c[0].figure, x.speed_text());
        assert!(x
            .speed_text()
            .starts_with(&format!("{:.2}× [", x.speed.point)));
        assert!(
            c[0].expected
                .contains("per-core limited here: partitioning protects STREAM"),
            "{c:?}"
        );
        assert_eq!(c[0].outcome, Agreement::Agrees);
        // The same host, but the victim lost a third: it disagrees.
        let c = expectations(&slowdowns(&stream_host(8_000.0, 16_000.0, 0.66)));
        assert_eq!(c[0].outcome, Agreement::Disagrees);
        assert!(c[0].why.as_deref().unwrap().contains("predicted room"));
    }

    /// A host where one core nearly saturates memory (2 threads stream
    /// barely more than 1): bandwidth is shared, so a partitioned STREAM
    /// victim is expected to be slowed.
    #[test]
    fn a_shared_bandwidth_host_expects_partitioned_stream_to_be_slowed() {
        let rs = stream_host(10_000.0, 11_000.0, 0.6);
        let s = slowdowns(&rs);
        let sc = s[0].scaling.clone().unwrap();
        assert!(!sc.per_core_limited());
        assert!((sc.partitioned_share() - 0.55).abs() < 1e-9);
        let c = expectations(&s);
        assert!(c[0].expected.contains("shared here: it does not"), "{c:?}");
        assert_eq!(c[0].outcome, Agreement::Agrees);
        // Kept all its speed: against the shared-bandwidth prediction.
        let c = expectations(&slowdowns(&stream_host(10_000.0, 11_000.0, 1.0)));
        assert_eq!(c[0].outcome, Agreement::Disagrees);
        // No scaling measured: the cell is not checked (no assumed physics).
        let rs: Vec<_> = rs
            .into_iter()
            .filter(|r| r.params["placement"] != ONE_CORE)
            .collect();
        let s = slowdowns(&rs);
        assert_eq!(s[0].scaling, None);
        let c = expectations(&s);
        assert_eq!(c[0].outcome, Agreement::NoExpectation);
        assert!(describe_checks(&c).contains("not checked"));
        // Each environment's own scaling: another host's does not count.
        let mut other = stream_host(8_000.0, 16_000.0, 1.0);
        for r in &mut other {
            r.env_id = "container-isorun".into();
        }
        let mut both = stream_host(10_000.0, 11_000.0, 0.6);
        both.extend(other);
        let sc = scalings(&both);
        assert!(sc["container-isorun"].per_core_limited());
        assert!(!sc["native"].per_core_limited());
    }

    #[test]
    fn expectations_of_a_two_cpu_host_are_checked_and_explained() {
        let s = vec![
            cell("cpu", "primes_per_s", "cpu", "shared", 0.48, 0.53),
            cell("cpu", "primes_per_s", "cpu", "partitioned", 0.5, 0.7),
            cell("membw", "triad_mbs", "membw", "partitioned", 0.6, 0.8),
            cell("membw", "triad_mbs", "membw", "shared", 0.9, 1.1),
            cell("cpu", "gflops", "cpu", "shared", 0.1, 0.2),
        ];
        let c = expectations(&s);
        assert_eq!(c.len(), 4, "only the cells with an expectation");
        let o: Vec<Agreement> = c.iter().map(|c| c.outcome).collect();
        assert_eq!(
            o,
            vec![
                Agreement::Agrees,
                Agreement::Disagrees,
                // No scaling measured: no expectation assumed.
                Agreement::NoExpectation,
                Agreement::Unsure
            ]
        );
        assert!(c[1]
            .why
            .as_deref()
            .unwrap()
            .contains("partitioning did not keep"));
        let text = describe_checks(&c);
        assert!(
            text.contains("0.60× [0.50, 0.70] (n=5) (expected nearly all"),
            "{text}"
        );
        assert!(text.contains("disagrees, because"), "{text}");
        let mut vm = cell("cpu", "primes_per_s", "cpu", "shared", 0.1, 0.2);
        vm.accel = Some("tcg".into());
        assert_eq!(expectations(&[vm])[0].outcome, Agreement::NotTestable);
    }

    #[test]
    fn a_beside_figure_without_its_alone_figure_is_left_out() {
        let rs = vec![
            rec("native", "cpu", "shared", 0, 10.0),
            rec("native", "cpu", "shared", 1, 10.0),
        ];
        assert!(slowdowns(&rs).is_empty());
    }
}
