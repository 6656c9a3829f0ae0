//! Our lexicons and our record validator, checked against the reference implementation
//! (`@atproto/lexicon`, run by `tests/reference/lexicon-check.mjs`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use greenlight_lexicon::Catalog;
use greenlight_tests::record_corpus::{corpus, RECORD_NSIDS};
use serde::Deserialize;
use serde_json::{json, Value};

fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The Node that runs the reference implementation (a failure to find one fails the test).
fn node() -> PathBuf {
    greenlight_tests::node::node_binary().unwrap_or_else(|error| panic!("{error:#}"))
}

/// Runs the reference script; returns stdout, panicking with stderr on failure.
fn reference(mode: &str, stdin: Option<&[u8]>) -> Vec<u8> {
    let script = repo_root().join("tests/reference/lexicon-check.mjs");
    let mut child = match Command::new(node())
        .arg(&script)
        .arg(mode)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => panic!(
            "cannot start {} {}: {err}",
            node().display(),
            script.display()
        ),
    };
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // Write from a thread: the script only answers after reading everything, and a
        // large corpus would otherwise fill both pipes.
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let output = match child.wait_with_output() {
        Ok(output) => output,
        Err(err) => panic!("reference script did not finish: {err}"),
    };
    assert!(
        output.status.success(),
        "reference `{mode}` failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn reference_loads_every_lexicon() {
    let out = reference("load", None);
    let loaded: Value = serde_json::from_slice(&out).unwrap();
    let loaded: Vec<&str> = loaded["loaded"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let catalog = Catalog::embedded().unwrap();
    let ours: Vec<&str> = catalog.documents().map(|d| d.id.as_str()).collect();
    assert_eq!(
        loaded, ours,
        "the reference and our catalog load different documents"
    );
    for nsid in RECORD_NSIDS
        .iter()
        .chain(["com.atproto.repo.strongRef"].iter())
    {
        assert!(ours.contains(nsid), "{nsid} is not in the catalog");
    }
}

#[derive(Debug, Deserialize)]
struct Verdict {
    valid: bool,
    error: Option<String>,
}

#[test]
fn record_verdicts_match_the_reference() {
    let cases = corpus();
    assert!(cases.len() >= 300, "corpus has only {} cases", cases.len());
    let input: Vec<Value> = cases
        .iter()
        .map(|c| json!({ "nsid": c.nsid, "record": c.record }))
        .collect();
    let input = serde_json::to_vec(&input).unwrap();
    let verdicts: Vec<Verdict> =
        serde_json::from_slice(&reference("validate", Some(&input))).unwrap();
    assert_eq!(verdicts.len(), cases.len(), "one verdict per case");

    let catalog = Catalog::embedded().unwrap();
    let mut disagreements = Vec::new();
    let mut surprises = Vec::new();
    let mut seen = std::collections::BTreeMap::<&str, (usize, usize)>::new();
    for (case, theirs) in cases.iter().zip(&verdicts) {
        let ours = catalog.validate_record(case.nsid, &case.record);
        let counts = seen.entry(case.nsid).or_default();
        if theirs.valid {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
        if ours.is_ok() != theirs.valid {
            disagreements.push(format!(
                "  {}\n    reference: {}\n    ours:      {}",
                case.name,
                theirs.error.as_deref().unwrap_or("valid"),
                ours.err()
                    .map_or_else(|| "valid".to_owned(), |e| e.to_string()),
            ));
        } else if case
            .intended_valid
            .is_some_and(|intended| intended != theirs.valid)
        {
            surprises.push(format!(
                "  {} (both say {})",
                case.name,
                if theirs.valid { "valid" } else { "invalid" }
            ));
        }
    }
    if !surprises.is_empty() {
        eprintln!(
            "{} cases got a verdict other than the corpus intended (both implementations agree):\n{}",
            surprises.len(),
            surprises.join("\n")
        );
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree with the reference:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
    eprintln!(
        "{} cases agree with the reference: {seen:?} (valid, invalid)",
        cases.len()
    );
    for nsid in RECORD_NSIDS {
        let (valid, invalid) = seen.get(nsid).copied().unwrap_or_default();
        assert!(
            valid > 0 && invalid > 0,
            "{nsid}: {valid} valid and {invalid} invalid cases"
        );
    }
}
