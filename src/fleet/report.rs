//! The campaign's part of `fleet report`: one row per target (its latest
//! job, node, state, run id, the repetitions the store holds, and its column
//! in the report or why it has none), as the preface of the multi-run report
//! (`isobench_reports::multi`) that shows the stored runs side by side. Pure:
//! rows in, Markdown and HTML out.

use isobench_reports::export::html::esc;
use isobench_reports::multi::{table_head, table_row, Preface};
use std::fmt::Write;

pub struct Header {
    pub id: String,
    pub created_at: String,
    /// The `isobench run` flags of the plan.
    pub plan: String,
    /// The store, without a password.
    pub store: String,
    /// Where the job states came from.
    pub via: String,
}

/// Where a target's run stands in the report.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// In the report, as this column, with this many repetitions.
    Column { label: String, repetitions: usize },
    /// The job wrote a run directory, but the store does not hold the run;
    /// `measured` results are in the run directory.
    NotInStore { measured: usize },
    /// The job left no run.
    NoRun,
}

pub struct Row {
    pub target: String,
    pub job: Option<String>,
    pub node: Option<String>,
    /// State and detail, e.g. `done (COMPLETED, exit 0)`.
    pub state: String,
    pub run_id: Option<String>,
    pub shown: Shown,
}

impl Row {
    fn cells(&self) -> [String; 7] {
        let (reps, shown) = match &self.shown {
            Shown::Column { label, repetitions } => {
                (repetitions.to_string(), format!("column {label}"))
            }
            Shown::NotInStore { measured } => (
                "0".into(),
                format!("not in the store ({measured} results in its run directory)"),
            ),
            Shown::NoRun => ("-".into(), "no run".into()),
        };
        let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        [
            self.target.clone(),
            dash(&self.job),
            dash(&self.node),
            self.state.clone(),
            dash(&self.run_id),
            reps,
            shown,
        ]
    }
}

const COLUMNS: [&str; 7] = [
    "target",
    "job",
    "node",
    "state",
    "run id",
    "repetitions in store",
    "in this report",
];

/// The campaign section: what was run, then every target's row; the
/// targets missing from the report are named once more below the table.
pub fn preface(h: &Header, rows: &[Row]) -> Preface {
    let lead = format!(
        "Submitted {}; plan `isobench run {}`; store {}; job states from {}.",
        h.created_at, h.plan, h.store, h.via
    );
    let shown = rows
        .iter()
        .filter(|r| matches!(r.shown, Shown::Column { .. }))
        .count();
    let missing: Vec<String> = rows
        .iter()
        .filter(|r| !matches!(r.shown, Shown::Column { .. }))
        .map(|r| format!("{} ({})", r.target, r.state))
        .collect();
    let mut tally = format!(
        "{shown} of {} target(s) have a run in the store, shown side by side below.",
        rows.len()
    );
    if !missing.is_empty() {
        let _ = write!(tally, " Not shown: {}.", missing.join(", "));
    }

    let mut md = format!("## Campaign {}\n\n{lead}\n\n", h.id);
    let mut html = format!("<h2>Campaign {}</h2><p>{}</p>", esc(&h.id), esc(&lead));
    table_head(&mut md, &mut html, &COLUMNS);
    for r in rows {
        table_row(&mut md, &mut html, &r.cells());
    }
    let _ = writeln!(md, "\n{tally}\n");
    let _ = write!(html, "</table><p>{}</p>", esc(&tally));
    Preface { markdown: md, html }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_a_row_and_the_missing_ones_are_named() {
        let rows = vec![
            Row {
                target: "a".into(),
                job: Some("5_0".into()),
                node: Some("n1".into()),
                state: "done (COMPLETED, exit 0)".into(),
                run_id: Some("r1".into()),
                shown: Shown::Column {
                    label: "n1".into(),
                    repetitions: 3,
                },
            },
            Row {
                target: "b".into(),
                job: Some("5_1".into()),
                node: Some("n1".into()),
                state: "cancelled (CANCELLED)".into(),
                run_id: Some("r2".into()),
                shown: Shown::NotInStore { measured: 2 },
            },
            Row {
                target: "c<".into(),
                job: None,
                node: None,
                state: "failed (never submitted)".into(),
                run_id: None,
                shown: Shown::NoRun,
            },
        ];
        let h = Header {
            id: "c1".into(),
            created_at: "t".into(),
            plan: "--env native".into(),
            store: "postgres://u@h/db".into(),
            via: "squeue".into(),
        };
        let p = preface(&h, &rows);
        let md = &p.markdown;
        assert!(md.starts_with("## Campaign c1\n"), "{md}");
        assert!(
            md.contains("| a | 5_0 | n1 | done (COMPLETED, exit 0) | r1 | 3 | column n1 |"),
            "{md}"
        );
        assert!(
            md.contains("| b | 5_1 | n1 | cancelled (CANCELLED) | r2 | 0 | not in the store (2 results in its run directory) |"),
            "{md}"
        );
        assert!(
            md.contains("| c< | - | - | failed (never submitted) | - | - | no run |"),
            "{md}"
        );
        assert!(
            md.contains("1 of 3 target(s) have a run in the store, shown side by side below. Not shown: b (cancelled (CANCELLED)), c< (failed (never submitted))."),
            "{md}"
        );
        assert!(p.html.contains("<td>c&lt;</td>"), "{}", p.html);
        assert_eq!(p.html.matches("<tr>").count(), 4);
    }
}
