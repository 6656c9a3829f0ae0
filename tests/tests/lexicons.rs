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

/// The retainer records (`fund.greenlight.retainerOffer` in the maintainer's repo,
/// `fund.greenlight.retainer` in the client's) are not in the shared corpus yet: their own
/// cases, each with the verdict it was written for, checked against the reference.
fn retainer_cases() -> Vec<(String, &'static str, Value, bool)> {
    const OFFER: &str = "fund.greenlight.retainerOffer";
    const RETAINER: &str = "fund.greenlight.retainer";
    let strong_ref = |collection: &str| {
        json!({
            "uri": format!("at://did:plc:maintainer/{collection}/3kabcdefghijk"),
            "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
        })
    };
    let tier = |name: &str, amount: i64| {
        json!({
            "name": name,
            "amount": amount,
            "currency": "USD",
            "period": "month",
            "included": {"riskMitigation": true, "reciprocalAccess": true, "advisory": false},
        })
    };
    let offer = json!({
        "$type": OFFER,
        "projects": [strong_ref("fund.greenlight.project")],
        "repositories": ["https://github.com/example/lib"],
        "description": "Keep **lib** maintained: security fixes, releases and a say in the roadmap.",
        "tiers": [
            tier("Supporter", 100_000),
            tier("Partner", 500_000),
            {
                "name": "Advisor",
                "amount": 1_500_000,
                "currency": "USD",
                "period": "year",
                "included": {
                    "riskMitigation": true,
                    "reciprocalAccess": true,
                    "advisory": true,
                    "details": "A monthly call with your engineers."
                },
                "seatLimit": 3
            }
        ],
        "termsUrl": "https://example.com/retainer-terms",
        "createdAt": "2026-11-30T05:00:00.000Z",
    });
    let retainer = json!({
        "$type": RETAINER,
        "subject": strong_ref(OFFER),
        "tier": "Partner",
        "listedPublicly": true,
        "receipt": "agr_0123456789abcdef",
        "createdAt": "2026-11-30T05:00:00.000Z",
    });
    let with = |base: &Value, path: &[&str], value: Value| {
        let mut record = base.clone();
        let mut slot = &mut record;
        for key in path {
            slot = match key.parse::<usize>() {
                Ok(i) => &mut slot[i],
                Err(_) => &mut slot[*key],
            };
        }
        *slot = value;
        record
    };
    let without = |base: &Value, path: &[&str]| {
        let mut record = base.clone();
        let (last, parents) = path.split_last().unwrap();
        let mut slot = &mut record;
        for key in parents {
            slot = match key.parse::<usize>() {
                Ok(i) => &mut slot[i],
                Err(_) => &mut slot[*key],
            };
        }
        slot.as_object_mut().unwrap().remove(*last);
        record
    };
    let minimal_offer = json!({
        "$type": OFFER,
        "description": "",
        "tiers": [tier("Only", 1)],
        "createdAt": "2026-11-30T05:00:00Z",
    });
    let ten_tiers: Vec<Value> = (0..10).map(|i| tier(&format!("T{i}"), 100 + i)).collect();
    let eleven_tiers: Vec<Value> = (0..11).map(|i| tier(&format!("T{i}"), 100 + i)).collect();
    let cases = vec![
        ("offer: full", OFFER, offer.clone(), true),
        ("offer: minimal", OFFER, minimal_offer, true),
        (
            "offer: ten tiers",
            OFFER,
            with(&offer, &["tiers"], json!(ten_tiers)),
            true,
        ),
        (
            "offer: unknown extra field",
            OFFER,
            with(&offer, &["extra"], json!(1)),
            true,
        ),
        // knownValues do not restrict: an unknown period is lexicon-valid and refused by
        // the funding rules instead.
        (
            "offer: unknown period",
            OFFER,
            with(&offer, &["tiers", "0", "period"], json!("week")),
            true,
        ),
        (
            "offer: seat limit 1000",
            OFFER,
            with(&offer, &["tiers", "2", "seatLimit"], json!(1000)),
            true,
        ),
        (
            "offer: no tiers field",
            OFFER,
            without(&offer, &["tiers"]),
            false,
        ),
        (
            "offer: empty tiers",
            OFFER,
            with(&offer, &["tiers"], json!([])),
            false,
        ),
        (
            "offer: eleven tiers",
            OFFER,
            with(&offer, &["tiers"], json!(eleven_tiers)),
            false,
        ),
        (
            "offer: no description",
            OFFER,
            without(&offer, &["description"]),
            false,
        ),
        (
            "offer: no createdAt",
            OFFER,
            without(&offer, &["createdAt"]),
            false,
        ),
        (
            "offer: bad createdAt",
            OFFER,
            with(&offer, &["createdAt"], json!("yesterday")),
            false,
        ),
        (
            "offer: description too long",
            OFFER,
            with(&offer, &["description"], json!("x".repeat(30_001))),
            false,
        ),
        (
            "offer: zero price",
            OFFER,
            with(&offer, &["tiers", "0", "amount"], json!(0)),
            false,
        ),
        (
            "offer: price too high",
            OFFER,
            with(
                &offer,
                &["tiers", "0", "amount"],
                json!(100_000_000_001_i64),
            ),
            false,
        ),
        (
            "offer: fractional price",
            OFFER,
            with(&offer, &["tiers", "0", "amount"], json!(10.5)),
            false,
        ),
        (
            "offer: two-letter currency",
            OFFER,
            with(&offer, &["tiers", "0", "currency"], json!("US")),
            false,
        ),
        (
            "offer: empty tier name",
            OFFER,
            with(&offer, &["tiers", "0", "name"], json!("")),
            false,
        ),
        (
            "offer: tier name of 65 graphemes",
            OFFER,
            with(&offer, &["tiers", "0", "name"], json!("é".repeat(65))),
            false,
        ),
        (
            "offer: tier without period",
            OFFER,
            without(&offer, &["tiers", "0", "period"]),
            false,
        ),
        (
            "offer: tier without included",
            OFFER,
            without(&offer, &["tiers", "0", "included"]),
            false,
        ),
        (
            "offer: included without advisory",
            OFFER,
            without(&offer, &["tiers", "0", "included", "advisory"]),
            false,
        ),
        (
            "offer: included flag not a boolean",
            OFFER,
            with(
                &offer,
                &["tiers", "0", "included", "advisory"],
                json!("yes"),
            ),
            false,
        ),
        (
            "offer: seat limit 0",
            OFFER,
            with(&offer, &["tiers", "2", "seatLimit"], json!(0)),
            false,
        ),
        (
            "offer: seat limit 1001",
            OFFER,
            with(&offer, &["tiers", "2", "seatLimit"], json!(1001)),
            false,
        ),
        (
            "offer: project without cid",
            OFFER,
            without(&offer, &["projects", "0", "cid"]),
            false,
        ),
        (
            "offer: repository not a URI",
            OFFER,
            with(&offer, &["repositories", "0"], json!("not a uri")),
            false,
        ),
        (
            "offer: terms URL not a URI",
            OFFER,
            with(&offer, &["termsUrl"], json!("terms")),
            false,
        ),
        ("retainer: full", RETAINER, retainer.clone(), true),
        (
            "retainer: not listed",
            RETAINER,
            with(&retainer, &["listedPublicly"], json!(false)),
            true,
        ),
        (
            "retainer: no listedPublicly",
            RETAINER,
            without(&retainer, &["listedPublicly"]),
            false,
        ),
        (
            "retainer: listedPublicly not a boolean",
            RETAINER,
            with(&retainer, &["listedPublicly"], json!("yes")),
            false,
        ),
        (
            "retainer: no receipt",
            RETAINER,
            without(&retainer, &["receipt"]),
            false,
        ),
        (
            "retainer: empty receipt",
            RETAINER,
            with(&retainer, &["receipt"], json!("")),
            false,
        ),
        (
            "retainer: receipt too long",
            RETAINER,
            with(&retainer, &["receipt"], json!("r".repeat(129))),
            false,
        ),
        (
            "retainer: empty tier",
            RETAINER,
            with(&retainer, &["tier"], json!("")),
            false,
        ),
        (
            "retainer: no subject",
            RETAINER,
            without(&retainer, &["subject"]),
            false,
        ),
        (
            "retainer: subject without cid",
            RETAINER,
            without(&retainer, &["subject", "cid"]),
            false,
        ),
        (
            "retainer: subject a bare URI",
            RETAINER,
            with(
                &retainer,
                &["subject"],
                json!("at://did:plc:m/fund.greenlight.retainerOffer/x"),
            ),
            false,
        ),
        (
            "retainer: bad createdAt",
            RETAINER,
            with(&retainer, &["createdAt"], json!("2026-13-01T00:00:00Z")),
            false,
        ),
    ];
    cases
        .into_iter()
        .map(|(name, nsid, record, valid)| (name.to_owned(), nsid, record, valid))
        .collect()
}

#[test]
fn retainer_record_verdicts_match_the_reference() {
    let cases = retainer_cases();
    let input: Vec<Value> = cases
        .iter()
        .map(|(_, nsid, record, _)| json!({ "nsid": nsid, "record": record }))
        .collect();
    let input = serde_json::to_vec(&input).unwrap();
    let verdicts: Vec<Verdict> =
        serde_json::from_slice(&reference("validate", Some(&input))).unwrap();
    assert_eq!(verdicts.len(), cases.len(), "one verdict per case");
    let catalog = Catalog::embedded().unwrap();
    let mut problems = Vec::new();
    for ((name, nsid, record, intended), theirs) in cases.iter().zip(&verdicts) {
        let ours = catalog.validate_record(nsid, record);
        if ours.is_ok() != theirs.valid || theirs.valid != *intended {
            problems.push(format!(
                "  {name}: intended {}, reference {}, ours {}",
                if *intended { "valid" } else { "invalid" },
                theirs.error.as_deref().unwrap_or("valid"),
                ours.as_ref()
                    .err()
                    .map_or_else(|| "valid".to_owned(), |e| e.to_string()),
            ));
        }
        // What validates also deserializes into the generated types.
        if ours.is_ok() {
            let typed = match *nsid {
                "fund.greenlight.retainerOffer" => greenlight_lexicon::parse_record_with::<
                    greenlight_lexicon::fund::greenlight::retainer_offer::RetainerOffer,
                >(catalog, nsid, record)
                .map(drop),
                _ => greenlight_lexicon::parse_record_with::<
                    greenlight_lexicon::fund::greenlight::retainer::Retainer,
                >(catalog, nsid, record)
                .map(drop),
            };
            if let Err(error) = typed {
                problems.push(format!("  {name}: valid but not typed: {error}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} retainer cases disagree:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
}
