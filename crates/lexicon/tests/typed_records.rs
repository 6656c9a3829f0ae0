//! Validation paths and reasons, and typed parsing into the generated types.

use greenlight_lexicon::fund::greenlight::{proposal, status};
use greenlight_lexicon::schema::StringFormat;
use greenlight_lexicon::{parse_record, Catalog, LengthUnit, LexiconRecord, Reason};
use serde_json::{json, Value};

const CID: &str = "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a";
const PROJECT: &str = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.project/greenlight";

fn catalog() -> &'static Catalog {
    match Catalog::embedded() {
        Ok(c) => c,
        Err(err) => panic!("embedded catalog: {err}"),
    }
}

fn proposal(subject: Value) -> Value {
    json!({
        "$type": "fund.greenlight.proposal",
        "subject": subject,
        "title": "Dark mode",
        "body": "Please add a dark theme.",
        "createdAt": "2025-03-01T12:00:00.000Z",
    })
}

#[test]
fn valid_proposal_parses_into_generated_type() {
    let value =
        proposal(json!({ "$type": "com.atproto.repo.strongRef", "uri": PROJECT, "cid": CID }));
    let parsed: proposal::Proposal = match parse_record(proposal::NSID, &value) {
        Ok(p) => p,
        Err(err) => panic!("{err}"),
    };
    match &parsed.subject {
        proposal::ProposalSubject::StrongRef(r) => assert_eq!(r.uri, PROJECT),
        other => panic!("wrong variant {other:?}"),
    }
    assert_eq!(parsed.created_at, "2025-03-01T12:00:00.000Z");
    assert_eq!(parsed.tags, None);
    // Writing it back gives the same JSON, `$type`s included.
    assert_eq!(parsed.to_record_value().ok(), Some(value));
}

#[test]
fn open_union_keeps_unknown_members() {
    let value = proposal(json!({ "$type": "org.example.forge#repo", "id": 7 }));
    let parsed: proposal::Proposal = match parse_record(proposal::NSID, &value) {
        Ok(p) => p,
        Err(err) => panic!("{err}"),
    };
    assert_eq!(
        parsed.subject,
        proposal::ProposalSubject::Unknown(json!({ "$type": "org.example.forge#repo", "id": 7 }))
    );
    let repository = proposal(
        json!({ "$type": "fund.greenlight.proposal#repository", "url": "https://example.com/r" }),
    );
    let parsed: proposal::Proposal = match parse_record(proposal::NSID, &repository) {
        Ok(p) => p,
        Err(err) => panic!("{err}"),
    };
    assert!(matches!(
        parsed.subject,
        proposal::ProposalSubject::Repository(_)
    ));
}

#[test]
fn errors_carry_path_and_reason() {
    let bad_uri = proposal(
        json!({ "$type": "com.atproto.repo.strongRef", "uri": "https://x.y/z", "cid": CID }),
    );
    let err = catalog().validate_record(proposal::NSID, &bad_uri).err();
    let err = err.unwrap_or_else(|| panic!("accepted a bad at-uri"));
    assert_eq!(err.path, "$.subject.uri");
    assert_eq!(err.reason, Reason::InvalidFormat(StringFormat::AtUri));
    assert_eq!(err.to_string(), "$.subject.uri: must be an at-uri");

    let mut long =
        proposal(json!({ "$type": "fund.greenlight.proposal#repository", "url": "https://e.com" }));
    long["title"] = json!("👩‍👩‍👧‍👦".repeat(121));
    let err = catalog().validate_record(proposal::NSID, &long).err();
    let err = err.unwrap_or_else(|| panic!("accepted a long title"));
    assert_eq!(err.path, "$.title");
    assert!(
        matches!(
            err.reason,
            Reason::TooLong {
                max: 1200,
                unit: LengthUnit::Bytes
            }
        ),
        "{err}"
    );

    let mut untyped = proposal(json!({ "url": "https://e.com" }));
    let err = catalog().validate_record(proposal::NSID, &untyped).err();
    assert_eq!(
        err.map(|e| (e.path, e.reason)),
        Some(("$.subject".to_owned(), Reason::MissingType))
    );

    untyped["tags"] = json!(["ok", ""]);
    untyped["subject"] =
        json!({ "$type": "fund.greenlight.proposal#repository", "url": "https://e.com" });
    let err = catalog().validate_record(proposal::NSID, &untyped).err();
    assert_eq!(err.map(|e| e.path), Some("$.tags[1]".to_owned()));

    let mut missing = untyped.clone();
    if let Some(map) = missing.as_object_mut() {
        map.remove("createdAt");
        map.remove("tags");
    }
    let err = catalog().validate_record(proposal::NSID, &missing).err();
    assert_eq!(
        err.map(|e| (e.path, e.reason)),
        Some(("$.createdAt".to_owned(), Reason::Required))
    );
}

#[test]
fn record_type_must_match() {
    let mut value =
        proposal(json!({ "$type": "fund.greenlight.proposal#repository", "url": "https://e.com" }));
    value["$type"] = json!("fund.greenlight.estimate");
    let err = catalog().validate_record(proposal::NSID, &value).err();
    assert!(matches!(
        err.map(|e| e.reason),
        Some(Reason::RecordType { .. })
    ));
}

#[test]
fn integers_follow_javascript() {
    let estimate = |amount: Value| {
        json!({
            "$type": "fund.greenlight.estimate",
            "subject": { "uri": "at://did:plc:abc/fund.greenlight.proposal/3jzfcijpj2z2a", "cid": CID },
            "amount": amount, "currency": "USD", "createdAt": "2025-03-01T12:00:00Z",
        })
    };
    let nsid = "fund.greenlight.estimate";
    assert!(catalog()
        .validate_record(nsid, &estimate(json!(1500)))
        .is_ok());
    // 1500.0 is the integer 1500 to JavaScript, and parses into the i64 field.
    assert!(catalog()
        .validate_record(nsid, &estimate(json!(1500.0)))
        .is_ok());
    let parsed: Result<greenlight_lexicon::fund::greenlight::estimate::Estimate, _> =
        parse_record(nsid, &estimate(json!(1500.0)));
    assert_eq!(parsed.map(|e| e.amount).ok(), Some(1500));
    let err = catalog()
        .validate_record(nsid, &estimate(json!(15.5)))
        .err();
    assert_eq!(
        err.map(|e| e.reason),
        Some(Reason::WrongType {
            expected: "an integer"
        })
    );
    let err = catalog().validate_record(nsid, &estimate(json!(-3))).err();
    assert_eq!(err.map(|e| e.reason), Some(Reason::TooSmall { min: 1 }));
}

#[test]
fn status_stage_round_trips() {
    let value = json!({
        "$type": "fund.greenlight.status",
        "subject": { "uri": "at://did:plc:abc/fund.greenlight.proposal/3jzfcijpj2z2a", "cid": CID },
        "stage": { "$type": "fund.greenlight.status#development", "goal": 500000, "currency": "EUR" },
        "createdAt": "2025-03-01T12:00:00Z",
    });
    let parsed: status::Status = match parse_record(status::NSID, &value) {
        Ok(s) => s,
        Err(err) => panic!("{err}"),
    };
    match &parsed.stage {
        status::StatusStage::Development(d) => {
            assert_eq!((d.goal, d.currency.as_str()), (500000, "EUR"))
        }
        other => panic!("wrong stage {other:?}"),
    }
    assert_eq!(parsed.to_record_value().ok(), Some(value));
}
