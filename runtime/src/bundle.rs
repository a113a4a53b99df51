//! A bundle's config.json on disk (OCI runtime spec "Filesystem Bundle"):
//! read at create, capped, and handed to the pure parser
//! ([`crate::config::parse`]); written by `isorun spec`.

use crate::config::{parse, Plan, CONFIG_MAX_BYTES};
use crate::error::{Error, Result};
use std::path::Path;

/// Read and validate `<bundle>/config.json`.
pub fn load(bundle: &Path, id: &str) -> Result<Plan> {
    use std::io::Read;
    let path = bundle.join("config.json");
    let read_err = |err| Error::ReadConfig {
        path: path.clone(),
        err,
    };
    // Sized for a usual config: read_to_end of an empty Vec starts with a
    // 32-byte read and doubles (nine reads for the default config).
    let mut text = Vec::with_capacity(16 << 10);
    std::fs::File::open(&path)
        .and_then(|f| f.take(CONFIG_MAX_BYTES + 1).read_to_end(&mut text))
        .map_err(read_err)?;
    let plan = parse(&text, &path, bundle, id)?;
    Ok(plan)
}

/// Write `config.json` into `bundle`.
pub fn write_config(bundle: &std::path::Path, config: &serde_json::Value) -> Result<()> {
    let p = bundle.join("config.json");
    std::fs::write(
        &p,
        serde_json::to_vec_pretty(config).expect("json serializes"),
    )
    .map_err(crate::error::io("write", p))
}
