//! The gVisor part of claims C1–C5 and C8.
//!
//! gVisor's `runsc` (environment class `sandbox`, [`crate::load`]) runs an
//! OCI bundle like a container runtime, but its programs' system calls go to
//! a user-space kernel (the Sentry) instead of the host's: it is neither a
//! container nor a VM in the seed's sense. Its figures are therefore never
//! counted as a container's (nor a VM's) in the seed's wording; each of
//! these claims gets a part of its own, stated for information
//! ([`Verdict::Information`], [`PartResult::info`]), with the platform the
//! sandbox ran on (ptrace, systrap or KVM, from the environment's detail)
//! and the same intervals and n as the other parts. Without figures the
//! part is "not measured" and names the command that measures it; its
//! reason says whether the plan had no runsc column at all ([`no_column`],
//! with the flag that adds one) or had one that left no valid figure.

use super::*;

/// The environment class of a sandbox column.
pub(crate) const SANDBOX: &str = "sandbox";

/// The flag that adds a gVisor column beside isorun (no preset has one;
/// without `--runtime` a container column is isorun alone). `--runtime`
/// accumulates, so `--runtime runsc` after the main job's own list
/// (`scripts/quick-suite.sh --runtime runsc`) adds one there.
pub(super) const ADD_FLAG: &str = "--runtime isorun,runsc";

/// Why a gVisor part is not measured when the plan had no runsc column
/// (the quick suite, for one): not a failure, and the flag that adds one.
pub(super) fn no_column() -> String {
    format!("no runsc (gVisor) column ran in this plan; add runsc to --runtime (e.g. {ADD_FLAG}) for one")
}

/// Whether the records hold a sandbox column (one that ran, valid or not).
pub(super) fn ran(cx: &Cx) -> bool {
    !cx.facts.sandboxes.is_empty() || !cx.a.env_ids_of(SANDBOX).is_empty()
}

/// The label of a claim's gVisor part: `gVisor (runsc): compute`.
pub(super) fn label(topic: &str) -> String {
    format!("gVisor (runsc): {topic}")
}

/// The command that measures a gVisor part: a runsc column beside native
/// (and the columns the comparison needs).
pub(super) fn command(args: &str) -> String {
    format!("a gVisor column (`isobench run --env native,container {ADD_FLAG} {args}`)")
}

/// A gVisor part with figures.
pub(super) fn info(label: &str, text: String, figures: Vec<Cited>) -> PartResult {
    PartResult {
        info: true,
        ..part(label, Verdict::Information, text, figures)
    }
}

/// A gVisor part without figures: not measured, with what measures it,
/// because the plan had no runsc column ([`no_column`]) or because the one
/// it had left no valid figure.
pub(super) fn absent(cx: &Cx, label: &str, what: &str) -> PartResult {
    let reason = if ran(cx) {
        "no valid figure".to_string()
    } else {
        no_column()
    };
    PartResult {
        info: true,
        ..not_measured(label, &reason, what)
    }
}

/// Any part turned into a gVisor part (ignored by the claim's verdict).
pub(super) fn as_info(p: PartResult) -> PartResult {
    PartResult { info: true, ..p }
}

/// `gVisor (platform ptrace)`: how the sandboxes among `env_ids` ran, from
/// each environment's detail (`platform`, recorded by the runner).
pub(super) fn name<'e>(cx: &Cx, env_ids: impl IntoIterator<Item = &'e str>) -> String {
    let mut platforms: Vec<String> = Vec::new();
    for id in env_ids {
        let p = cx
            .facts
            .platforms
            .get(id)
            .or_else(|| cx.a.env(id).and_then(|e| e.detail.get("platform")))
            .cloned()
            .unwrap_or_else(|| "not recorded".into());
        if !platforms.contains(&p) {
            platforms.push(p);
        }
    }
    if platforms.is_empty() {
        "gVisor".into()
    } else {
        format!("gVisor (platform {})", platforms.join(", "))
    }
}

/// The note every gVisor part ends with: why it is information only.
pub(super) const WHY: &str = "The seed's wording covers containers and VMs; gVisor's programs make their system calls to a user-space kernel, so it is counted as neither and decides nothing.";

impl Cx<'_> {
    /// A gVisor part that divides the sandbox's `figs` by native (the
    /// common gate of every such part: same parameters, a native figure,
    /// n ≥ 2), stated with `intro` before the ratios and `extra` after.
    pub(super) fn sandbox_ratio_part(
        &self,
        label: &str,
        figs: Vec<&Figure>,
        what: &str,
        intro: &str,
        extra: &str,
    ) -> PartResult {
        if figs.is_empty() {
            return absent(self, label, what);
        }
        match self.gate(label, figs, what) {
            Err(p) => as_info(*p),
            Ok((figs, notes)) => info(
                label,
                format!(
                    "{} {intro}: {}.{notes}{extra} {WHY}",
                    name(self, figs.iter().map(|f| f.env_id.as_str())),
                    self.speed_list(&figs)
                ),
                figs.iter().map(|f| self.cite(f)).collect(),
            ),
        }
    }
}
