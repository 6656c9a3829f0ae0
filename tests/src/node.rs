//! The Node ≥ 22 that runs the reference atproto implementations (the local network, the
//! lexicon validator): `$GREENLIGHT_NODE` (set by `. scripts/node-env`), else what
//! `scripts/node-env` installs and reports.
//!
//! Found once per test binary and shared by every test in it: the script is quick when
//! everything is installed, but the first install takes minutes, and a failure would only
//! fail the same way again, so it is remembered too.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{anyhow, Result};

/// The Node binary to run. Blocks while `scripts/node-env` runs (only the first call in a
/// test binary, and only when `$GREENLIGHT_NODE` is unset); concurrent callers wait for it.
pub fn node_binary() -> Result<PathBuf> {
    static NODE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    NODE.get_or_init(discover)
        .clone()
        .map_err(|error| anyhow!(error))
}

fn discover() -> Result<PathBuf, String> {
    if let Some(node) = std::env::var_os("GREENLIGHT_NODE").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(node));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/node-env");
    let output = Command::new("bash")
        .arg("-c")
        .arg(r#"set -euo pipefail; . "$1" >&2; printf '%s' "$GREENLIGHT_NODE""#)
        .arg("node-env")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {}: {error}", script.display()))?;
    let node = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || node.is_empty() {
        return Err(format!(
            "{} failed ({}); set GREENLIGHT_NODE or run `. scripts/node-env`:\n{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(PathBuf::from(node))
}
