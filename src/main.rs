//! The `isobench` command line.
//!
//! Exit status: 0 success, 1 a failure while measuring (or a regression, for
//! `compare`), 2 bad input (one line naming the problem), 130 interrupted.

use clap::Parser;
use isobench::cli::{Cli, Command};
use isobench::usage::UsageError;

fn main() {
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        use clap::error::ErrorKind;
        if matches!(
            e.kind(),
            ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            e.exit();
        }
        // clap's message and tip on one line, under the one prefix every
        // error of isobench has.
        let text = e.render().to_string();
        let line = text
            .lines()
            .map(str::trim)
            .filter(|l| {
                !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
            })
            .collect::<Vec<_>>()
            .join(" ");
        eprintln!(
            "isobench: error: {}",
            line.strip_prefix("error: ").unwrap_or(&line)
        );
        std::process::exit(2);
    });
    let result = match &cli.command {
        Command::Run(a) => isobench::cmd::run::run(a),
        Command::Clean(a) => isobench::cmd::clean::run(a),
        Command::List(a) => isobench::cmd::list::run(a),
        Command::Report(a) => isobench::cmd::report::run(a),
        Command::Compare(a) => isobench::cmd::compare::run(a),
        Command::History(a) => isobench::cmd::history::run(a),
        Command::Baseline(a) => isobench::cmd::baseline::run(a),
        Command::Push(a) => isobench::cmd::push::run(a),
        Command::Fleet(a) => isobench::cmd::fleet::run(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let usage = e.downcast_ref::<UsageError>().is_some();
            eprintln!("isobench: error: {}", one_line(&e));
            std::process::exit(if usage { 2 } else { 1 });
        }
    }
}

/// The error chain on one line; multi-line context (console tails) after it.
fn one_line(e: &anyhow::Error) -> String {
    let mut first = Vec::new();
    let mut rest = Vec::new();
    for c in e.chain() {
        let s = c.to_string();
        let mut lines = s.lines();
        if let Some(l) = lines.next() {
            first.push(l.to_string());
        }
        rest.extend(lines.map(str::to_string));
    }
    let mut out = first.join(": ");
    if !rest.is_empty() {
        out.push('\n');
        out.push_str(&rest.join("\n"));
    }
    out
}
