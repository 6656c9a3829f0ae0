//! XRPC outputs checked by the reference implementation (`@atproto/lexicon`'s
//! `assertValidXrpcOutput`), so the AppView's answers are judged by the same code a client
//! built on the official SDK would use, not only by our own validator.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// Loads every lexicon (ours and the external ones we reference), then validates each
/// `{nsid, output}` read from stdin; prints one `{valid, error}` per case.
const SCRIPT: &str = r#"
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Lexicons, jsonToLex } from '@atproto/lexicon'
const [lexiconsDir, externalDir] = process.argv.slice(1)
const files = (dir) => readdirSync(dir).sort().flatMap((name) => {
  const path = join(dir, name)
  return statSync(path).isDirectory() ? files(path) : name.endsWith('.json') ? [path] : []
})
const lexicons = new Lexicons()
for (const dir of [lexiconsDir, externalDir]) {
  for (const file of files(dir)) lexicons.add(JSON.parse(readFileSync(file, 'utf8')))
}
const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const verdicts = cases.map(({ nsid, output }) => {
  try {
    lexicons.assertValidXrpcOutput(nsid, jsonToLex(output))
    return { valid: true, error: null }
  } catch (err) {
    return { valid: false, error: String(err?.message ?? err) }
  }
})
process.stdout.write(JSON.stringify(verdicts) + '\n')
"#;

fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Validates each `(nsid, output)` with the reference implementation; returns, per case,
/// `Ok(())` or the reference's error message.
pub async fn validate_outputs(cases: &[(String, Value)]) -> Result<Vec<Result<(), String>>> {
    let root = repo_root();
    let input: Vec<Value> = cases
        .iter()
        .map(|(nsid, output)| serde_json::json!({ "nsid": nsid, "output": output }))
        .collect();
    let mut child = Command::new(crate::node::node_binary()?)
        .arg("--input-type=module")
        .arg("-e")
        .arg(SCRIPT)
        .arg(root.join("lexicons"))
        .arg(root.join("crates/lexicon/external"))
        // Resolve @atproto/lexicon from the pinned reference packages.
        .current_dir(root.join("tests/reference"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the reference validator")?;
    let bytes = serde_json::to_vec(&input)?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&bytes).await;
    });
    let output = child.wait_with_output().await?;
    let _ = writer.await;
    if !output.status.success() {
        bail!(
            "reference validator failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    #[derive(serde::Deserialize)]
    struct Verdict {
        valid: bool,
        error: Option<String>,
    }
    let verdicts: Vec<Verdict> = serde_json::from_slice(&output.stdout)?;
    Ok(verdicts
        .into_iter()
        .map(|v| {
            if v.valid {
                Ok(())
            } else {
                Err(v.error.unwrap_or_default())
            }
        })
        .collect())
}
