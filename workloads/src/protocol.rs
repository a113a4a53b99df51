//! The workload protocol (docs/design.md, "The workload protocol").
//!
//! The workload binary prints [`READY_MARKER`] on a line of its own as its very
//! first action and, at the end, exactly one line `ISOBENCH-RESULT {json}`
//! holding a [`WorkloadResult`]. The markers make the result easy to find in a
//! serial console stream mixed with kernel messages, so the parser here accepts
//! lines with carriage returns and leading console noise.

use crate::metricdef::{Direction, MetricDef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// First line printed by the workload binary: the "first instruction" signal.
pub const READY_MARKER: &str = "ISOBENCH-READY";
/// Prefix of the single result line.
pub const RESULT_MARKER: &str = "ISOBENCH-RESULT";

/// What one invocation of a workload kernel measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadResult {
    /// Workload name (`cpu`, `membw`, `randacc`, `latency`, `startup`).
    pub workload: String,
    /// The parameters the kernel actually ran with (sizes, threads, passes).
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// Whether the kernel's own check of its answer passed.
    pub valid: bool,
    /// Metric name -> value (names as in docs/design.md, "Command line").
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Metric name -> unit.
    #[serde(default)]
    pub units: BTreeMap<String, String>,
    /// Metric name -> whether higher or lower is better (from the metric's
    /// definition, see the `metrics` module). Absent in results of older binaries.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub directions: BTreeMap<String, Direction>,
    /// Metric name -> the metric it repeats (cpu's `gflops_2t` is `gflops`
    /// when the run had two threads): readers show it once.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, String>,
    /// Free-form facts about how it was measured (code path / ISA, validation
    /// detail, guest uptime, ...).
    #[serde(default)]
    pub info: BTreeMap<String, String>,
    /// Why the run is invalid or failed, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time of the whole kernel invocation, seconds.
    #[serde(default)]
    pub elapsed_s: f64,
}

impl WorkloadResult {
    /// An invalid result of `workload` with nothing measured yet.
    pub fn empty(workload: &str) -> WorkloadResult {
        WorkloadResult {
            workload: workload.to_string(),
            params: BTreeMap::new(),
            valid: false,
            metrics: BTreeMap::new(),
            units: BTreeMap::new(),
            directions: BTreeMap::new(),
            aliases: BTreeMap::new(),
            info: BTreeMap::new(),
            error: None,
            elapsed_s: 0.0,
        }
    }

    /// Record `value` of the metric `name`, defined by `def`: its unit
    /// (`unit`, else the definition's) and direction go with it.
    pub fn put(&mut self, def: &MetricDef, name: &str, value: f64, unit: Option<&str>) {
        debug_assert!(def.matches(name), "{name} is not defined by {def:?}");
        self.metrics.insert(name.to_string(), value);
        self.units
            .insert(name.to_string(), unit.unwrap_or(def.unit).to_string());
        self.directions.insert(name.to_string(), def.direction);
    }

    /// Drop a metric with its unit, direction and alias.
    pub fn remove(&mut self, name: &str) {
        self.metrics.remove(name);
        self.units.remove(name);
        self.directions.remove(name);
        self.aliases.remove(name);
    }
    /// The `ISOBENCH-RESULT {json}` line (without a trailing newline).
    pub fn to_line(&self) -> String {
        // Serialising plain maps of strings and finite numbers cannot fail.
        let json = serde_json::to_string(self).unwrap_or_else(|e| {
            format!(
                "{{\"workload\":\"{}\",\"valid\":false,\"error\":\"serialise: {e}\"}}",
                self.workload
            )
        });
        format!("{RESULT_MARKER} {json}")
    }
}

/// Errors when reading a result out of a console stream.
#[derive(Debug, PartialEq)]
pub enum ParseError {
    /// No `ISOBENCH-RESULT` line at all.
    Missing,
    /// More than one result line (the protocol says exactly one).
    Duplicate,
    /// The JSON after the marker did not parse.
    Malformed(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Missing => write!(f, "no {RESULT_MARKER} line in the output"),
            ParseError::Duplicate => write!(f, "more than one {RESULT_MARKER} line in the output"),
            ParseError::Malformed(e) => write!(f, "malformed {RESULT_MARKER} line: {e}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// True when `line` is the ready marker (tolerating `\r` and console prefixes).
pub fn is_ready_line(line: &str) -> bool {
    line.trim_end_matches(['\r', '\n']).ends_with(READY_MARKER)
}

/// Parse one line if it carries the result marker.
pub fn parse_result_line(line: &str) -> Option<Result<WorkloadResult, ParseError>> {
    let line = line.trim_end_matches(['\r', '\n']);
    let at = line.find(RESULT_MARKER)?;
    let json = line[at + RESULT_MARKER.len()..].trim();
    Some(serde_json::from_str(json).map_err(|e| ParseError::Malformed(e.to_string())))
}

/// Find the single result in a whole output stream.
pub fn find_result(output: &str) -> Result<WorkloadResult, ParseError> {
    let mut found = None;
    for line in output.lines() {
        if let Some(r) = parse_result_line(line) {
            if found.is_some() {
                return Err(ParseError::Duplicate);
            }
            found = Some(r?);
        }
    }
    found.ok_or(ParseError::Missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WorkloadResult {
        let mut r = WorkloadResult::empty("membw");
        r.valid = true;
        r.elapsed_s = 1.5;
        r.put(
            &MetricDef::higher("triad_mbs", "MB/s"),
            "triad_mbs",
            12345.5,
            None,
        );
        r
    }

    #[test]
    fn line_round_trips() {
        let r = sample();
        let line = r.to_line();
        assert!(line.starts_with("ISOBENCH-RESULT {"));
        assert!(!line.contains('\n'));
        assert_eq!(parse_result_line(&line).unwrap().unwrap(), r);
    }

    #[test]
    fn direction_travels_and_old_lines_still_parse() {
        let line = sample().to_line();
        assert!(
            line.contains(r#""directions":{"triad_mbs":"higher"}"#),
            "{line}"
        );
        let old = r#"ISOBENCH-RESULT {"workload":"cpu","valid":true,"metrics":{"gflops":1.0}}"#;
        let r = parse_result_line(old).unwrap().unwrap();
        assert!(r.directions.is_empty() && r.aliases.is_empty());
    }

    #[test]
    fn finds_result_among_console_noise() {
        let out = format!(
            "[    0.000000] Linux version 6.1\r\nISOBENCH-READY\r\n[    2.1] random: crng init done\r\n{}\r\n[    3.0] reboot: Restarting system\r\n",
            sample().to_line()
        );
        assert!(out.lines().any(is_ready_line));
        assert_eq!(find_result(&out).unwrap(), sample());
    }

    #[test]
    fn missing_duplicate_and_malformed_are_errors() {
        assert_eq!(find_result("ISOBENCH-READY\n"), Err(ParseError::Missing));
        let line = sample().to_line();
        assert_eq!(
            find_result(&format!("{line}\n{line}\n")),
            Err(ParseError::Duplicate)
        );
        assert!(matches!(
            find_result("ISOBENCH-RESULT {\"workload\": \"cpu\", \"valid\": tr"),
            Err(ParseError::Malformed(_))
        ));
    }
}
