//! The hooks of a config (runtime spec config.md "POSIX-platform Hooks"):
//! the types and their check. Running them is `crate`'s hooks module.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One hook: execv(3)'s path, argv and environ, and an optional timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub path: PathBuf,
    /// argv (`argv[0]` included); empty means argv = `[path]`.
    #[serde(default)]
    pub args: Vec<String>,
    /// The whole environment of the hook (nothing of the runtime's).
    #[serde(default)]
    pub env: Vec<String>,
    /// Seconds before the hook is killed and counted as failed.
    #[serde(default)]
    pub timeout: Option<u32>,
}

/// The hook kinds, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    /// The config.json name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }
}

/// Every hook of a container, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Hooks {
    pub prestart: Vec<Hook>,
    pub create_runtime: Vec<Hook>,
    pub create_container: Vec<Hook>,
    pub start_container: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

impl Hooks {
    pub fn of(&self, k: Kind) -> &[Hook] {
        match k {
            Kind::Prestart => &self.prestart,
            Kind::CreateRuntime => &self.create_runtime,
            Kind::CreateContainer => &self.create_container,
            Kind::StartContainer => &self.start_container,
            Kind::Poststart => &self.poststart,
            Kind::Poststop => &self.poststop,
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Hooks::default()
    }

    /// Whether create must stop before pivot_root to run hooks (and hand
    /// the container process the state for its own hooks).
    pub fn at_create(&self) -> bool {
        !(self.prestart.is_empty()
            && self.create_runtime.is_empty()
            && self.create_container.is_empty()
            && self.start_container.is_empty())
    }

    /// Whether `start` must wait for the process to exec (to report a
    /// failing startContainer hook, and to call poststart hooks after it).
    pub fn at_start(&self) -> bool {
        !(self.start_container.is_empty() && self.poststart.is_empty())
    }
}

/// The hooks of a config, checked: absolute paths, positive timeouts.
#[allow(deprecated)] // prestart is deprecated in the spec, still honoured
pub fn from_spec(h: Option<&oci_spec::runtime::Hooks>) -> Result<Hooks> {
    let Some(h) = h else {
        return Ok(Hooks::default());
    };
    let conv = |kind: Kind, list: &Option<Vec<oci_spec::runtime::Hook>>| -> Result<Vec<Hook>> {
        let mut out = Vec::new();
        for (i, x) in list.iter().flatten().enumerate() {
            let field = format!("hooks.{}[{i}]", kind.name());
            if !x.path().is_absolute() {
                return Err(Error::Invalid {
                    field: format!("{field}.path"),
                    why: format!("{} is not an absolute path", x.path().display()),
                });
            }
            let timeout = match x.timeout() {
                None => None,
                Some(t) if t > 0 && t <= i64::from(u32::MAX) => Some(t as u32),
                Some(t) => {
                    return Err(Error::Invalid {
                        field: format!("{field}.timeout"),
                        why: format!("{t}: must be greater than zero"),
                    })
                }
            };
            out.push(Hook {
                path: x.path().clone(),
                args: x.args().clone().unwrap_or_default(),
                env: x.env().clone().unwrap_or_default(),
                timeout,
            });
        }
        Ok(out)
    };
    Ok(Hooks {
        prestart: conv(Kind::Prestart, h.prestart())?,
        create_runtime: conv(Kind::CreateRuntime, h.create_runtime())?,
        create_container: conv(Kind::CreateContainer, h.create_container())?,
        start_container: conv(Kind::StartContainer, h.start_container())?,
        poststart: conv(Kind::Poststart, h.poststart())?,
        poststop: conv(Kind::Poststop, h.poststop())?,
    })
}
