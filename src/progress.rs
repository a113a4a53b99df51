//! Progress of a long run: an indicatif bar on a terminal, plain lines
//! otherwise (CI logs), both on standard error. `NO_COLOR` is respected.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
}

impl Progress {
    pub fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let color = std::env::var_os("NO_COLOR").is_none();
            let tpl = if color {
                "{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} {msg}"
            } else {
                "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}"
            };
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template(tpl)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        });
        Progress {
            bar,
            total,
            done: 0,
        }
    }

    /// A run is starting.
    pub fn start(&self, what: &str) {
        if let Some(b) = &self.bar {
            b.set_message(what.to_string());
        }
    }

    /// A run finished; `line` summarises it.
    pub fn finish_one(&mut self, line: &str) {
        self.done += 1;
        match &self.bar {
            Some(b) => {
                b.println(line);
                b.inc(1);
            }
            None => eprintln!("[{}/{}] {line}", self.done, self.total),
        }
    }

    /// A message that is not a run (warnings, phases).
    pub fn note(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
