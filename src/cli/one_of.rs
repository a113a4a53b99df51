//! The value parser of the list flags (`--workload`, `--env`): one name of
//! a closed set, refused by clap with the closest name before anything runs.

use crate::env::EnvKind;
use crate::usage::did_you_mean;
use clap::builder::{PossibleValue, TypedValueParser};
use isobench_workloads::Workload;

/// A value parser for one name of a closed set, listed in `--help`;
/// anything else is "unknown WHAT 'X' (known: ...)" with the closest name.
/// Written by hand rather than clap's `PossibleValuesParser` to say
/// "unknown workload" and list the names on the one error line.
#[derive(Clone, Debug)]
pub struct OneOf {
    what: &'static str,
    names: Vec<&'static str>,
}

impl OneOf {
    pub fn new(what: &'static str, names: &[&'static str]) -> OneOf {
        OneOf {
            what,
            names: names.to_vec(),
        }
    }

    /// The workloads `run` can measure (figures of every other record come
    /// from experiments and are never gated or plotted as a series).
    pub fn workloads() -> OneOf {
        OneOf::new("workload", &Workload::ALL.map(Workload::name))
    }

    /// The environment classes of `run --env`.
    pub fn env_kinds() -> OneOf {
        OneOf::new("environment", &EnvKind::ALL.map(EnvKind::name))
    }

    fn check(&self, value: &str) -> Result<&'static str, String> {
        if let Some(n) = self.names.iter().find(|n| **n == value) {
            return Ok(n);
        }
        Err(format!(
            "unknown {} '{value}' (known: {}){}",
            self.what,
            self.names.join(", "),
            did_you_mean(value, self.names.iter().copied())
        ))
    }
}

impl TypedValueParser for OneOf {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let text = value.to_string_lossy();
        self.check(&text).map(str::to_string).map_err(|why| {
            let flag = arg.map_or("...".to_string(), |a| a.to_string());
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("invalid value '{text}' for '{flag}': {why}\n"),
            )
            .format(&mut cmd.clone())
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.names.iter().map(|n| PossibleValue::new(*n))))
    }
}
