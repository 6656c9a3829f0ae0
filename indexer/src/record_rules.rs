//! Whether a record counts: its lexicon, plus the rules a lexicon cannot express.
//!
//! The lexicon checks shapes and lengths. On top of it: the record key must have the kind the
//! lexicon asks for (a TID for most of ours), strongRefs must point at the right collection,
//! currencies are ISO 4217 codes in the funding crate's currency table (so every amount has
//! known decimals), amounts stay in range, and nothing may hold a NUL
//! (Postgres cannot store one in text or jsonb, so it would stall the stream).

use chrono::{DateTime, Utc};
use greenlight_funding::{validate_tiers, Currency, Included, TierRecord};
use greenlight_lexicon::format::is_valid_datetime_strict;
use greenlight_lexicon::{schema::UserType, Catalog};
use serde_json::Value;

use crate::event::RecordFields;

/// The record collections this indexer stores.
pub const COLLECTIONS: [&str; 9] = [
    PROJECT,
    PROPOSAL,
    ESTIMATE,
    STATUS,
    PLEDGE,
    DISPUTE,
    MAINTAINER,
    RETAINER_OFFER,
    RETAINER,
];
/// `fund.greenlight.project`.
pub const PROJECT: &str = greenlight_lexicon::fund::greenlight::project::NSID;
/// `fund.greenlight.proposal`.
pub const PROPOSAL: &str = greenlight_lexicon::fund::greenlight::proposal::NSID;
/// `fund.greenlight.estimate`.
pub const ESTIMATE: &str = greenlight_lexicon::fund::greenlight::estimate::NSID;
/// `fund.greenlight.status`.
pub const STATUS: &str = greenlight_lexicon::fund::greenlight::status::NSID;
/// `fund.greenlight.pledge`.
pub const PLEDGE: &str = greenlight_lexicon::fund::greenlight::pledge::NSID;
/// `fund.greenlight.dispute`.
pub const DISPUTE: &str = greenlight_lexicon::fund::greenlight::dispute::NSID;
/// `fund.greenlight.maintainer`: a listed maintainer's acceptance.
pub const MAINTAINER: &str = greenlight_lexicon::fund::greenlight::maintainer::NSID;
/// `fund.greenlight.retainerOffer`: a maintainer's retainer tiers.
pub const RETAINER_OFFER: &str = greenlight_lexicon::fund::greenlight::retainer_offer::NSID;
/// `fund.greenlight.retainer`: a client's public attribution of a retainer.
pub const RETAINER: &str = greenlight_lexicon::fund::greenlight::retainer::NSID;

/// The NSID prefix of every collection we follow.
pub const NAMESPACE: &str = "fund.greenlight.";

/// The largest amount a record may carry, in minor units (the lexicons' `maximum`).
pub const MAX_AMOUNT: i64 = 100_000_000_000;

/// Judges records against the embedded lexicons and the record-level rules.
#[derive(Debug, Clone, Copy)]
pub struct RecordRules {
    catalog: &'static Catalog,
}

/// Why the rules could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("the embedded lexicons do not load: {0}")]
pub struct RulesError(String);

impl RecordRules {
    /// Rules over the lexicons embedded in `greenlight-lexicon`.
    pub fn embedded() -> Result<RecordRules, RulesError> {
        let catalog = Catalog::embedded().map_err(|err| RulesError(err.to_string()))?;
        Ok(RecordRules { catalog })
    }

    /// Checks a record written at `collection/rkey`; on success returns its column fields,
    /// otherwise a reason a person can act on.
    pub fn check(
        &self,
        collection: &str,
        rkey: &str,
        record: &Value,
    ) -> Result<RecordFields, String> {
        if !COLLECTIONS.contains(&collection) {
            return Err(format!(
                "{collection} is not a Greenlight record collection"
            ));
        }
        self.check_key(collection, rkey)?;
        // The path is only built for the rare record that has a NUL.
        if has_nul(record) {
            let path = find_nul(record, "$").unwrap_or_else(|| "$".to_owned());
            return Err(format!("{path}: contains a NUL character"));
        }
        self.catalog
            .validate_record(collection, record)
            .map_err(|err| format!("lexicon: {err}"))?;
        fields_of(collection, record)
    }

    fn check_key(&self, collection: &str, rkey: &str) -> Result<(), String> {
        let key_kind =
            self.catalog
                .document(collection)
                .and_then(|doc| match doc.defs.get("main") {
                    Some(UserType::Record(record)) => record.key.clone(),
                    _ => None,
                });
        if !is_record_key(rkey) {
            return Err(format!(
                "record key {rkey:?} is not valid record-key syntax"
            ));
        }
        match key_kind.as_deref() {
            Some("tid") if !is_tid(rkey) => Err(format!("record key {rkey:?} must be a TID")),
            Some(kind) if kind.starts_with("literal:") && kind["literal:".len()..] != *rkey => {
                Err(format!(
                    "record key {rkey:?} must be {:?}",
                    &kind["literal:".len()..]
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Pulls the column fields out of a record that passed its lexicon, checking the rules that
/// depend on them.
fn fields_of(collection: &str, record: &Value) -> Result<RecordFields, String> {
    let created_at = datetime_at(record, "createdAt", "$.createdAt")?;
    let mut fields = RecordFields {
        created_at,
        ..RecordFields::default()
    };

    let subject_target = match collection {
        ESTIMATE | STATUS | PLEDGE | DISPUTE => Some(PROPOSAL),
        MAINTAINER => Some(PROJECT),
        RETAINER => Some(RETAINER_OFFER),
        PROPOSAL => {
            // A proposal's subject is either a strongRef to a project or a bare repository.
            let subject = record.get("subject");
            let is_ref = subject
                .and_then(|s| s.get("$type"))
                .and_then(Value::as_str)
                .is_some_and(|t| t == "com.atproto.repo.strongRef");
            is_ref.then_some(PROJECT)
        }
        _ => None,
    };
    if let Some(target) = subject_target {
        let subject = record.get("subject").ok_or("$.subject: missing")?;
        let uri = subject
            .get("uri")
            .and_then(Value::as_str)
            .ok_or("$.subject.uri: missing")?;
        let cid = subject
            .get("cid")
            .and_then(Value::as_str)
            .ok_or("$.subject.cid: missing")?;
        check_strong_ref_uri(uri, target).map_err(|reason| format!("$.subject.uri: {reason}"))?;
        fields.subject_uri = Some(uri.to_owned());
        fields.subject_cid = Some(cid.to_owned());
    }

    match collection {
        ESTIMATE | PLEDGE => {
            fields.amount = Some(amount_at(record, "amount", "$.amount")?);
            fields.currency = Some(currency_at(record, "currency", "$.currency")?);
        }
        PROJECT => {
            // The lexicon's default applies when the field is absent.
            fields.currency = Some(match record.get("currency") {
                None => "USD".to_owned(),
                Some(_) => currency_at(record, "currency", "$.currency")?,
            });
        }
        STATUS => {
            let stage = record.get("stage").ok_or("$.stage: missing")?;
            let stage_type = stage
                .get("$type")
                .and_then(Value::as_str)
                .ok_or("$.stage.$type: missing")?;
            let stage_type = stage_type.strip_prefix("lex:").unwrap_or(stage_type);
            let stage_type = if stage_type.starts_with('#') {
                format!("{STATUS}{stage_type}")
            } else {
                stage_type.to_owned()
            };
            if stage_type == format!("{STATUS}#development") {
                fields.amount = Some(amount_at(stage, "goal", "$.stage.goal")?);
                fields.currency = Some(currency_at(stage, "currency", "$.stage.currency")?);
            } else if stage_type == format!("{STATUS}#preview") {
                // Pledging closes at `endsAt`: it must name one unambiguous instant.
                datetime_at(stage, "endsAt", "$.stage.endsAt")?;
            }
            fields.stage = Some(stage_type);
        }
        RETAINER_OFFER => {
            check_covered_projects(record)?;
            fields.currency = Some(offer_currency(record)?);
        }
        _ => {}
    }
    Ok(fields)
}

/// Each covered project must be a strongRef to a project record. Whether the author may
/// sell for it needs the projects' owners, consents and proofs, so the AppView decides that
/// when it presents the offer; only the shape is checked here.
fn check_covered_projects(record: &Value) -> Result<(), String> {
    let projects = record.get("projects").and_then(Value::as_array);
    for (index, project) in projects.into_iter().flatten().enumerate() {
        let uri = project
            .get("uri")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("$.projects[{index}].uri: missing"))?;
        check_strong_ref_uri(uri, PROJECT)
            .map_err(|reason| format!("$.projects[{index}].uri: {reason}"))?;
    }
    Ok(())
}

/// The offer's currency, once its tiers pass the funding crate's tier rules (names unique
/// ignoring case, prices in range, one supported currency, month or year, seat limits). A
/// client's retainer names its tier and escrow bills it, so an offer whose tiers break those
/// rules could never be sold: it does not count, with every problem as its reason.
fn offer_currency(record: &Value) -> Result<String, String> {
    let tiers = record
        .get("tiers")
        .and_then(Value::as_array)
        .ok_or("$.tiers: missing")?;
    let mut parsed = Vec::with_capacity(tiers.len());
    for (index, tier) in tiers.iter().enumerate() {
        let path = format!("$.tiers[{index}]");
        let text = |key: &str| {
            tier.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("{path}.{key}: missing"))
        };
        let currency = text("currency")?;
        let currency = Currency::parse(&currency).map_err(|_| {
            format!("{path}.currency: {currency:?} is not an upper-case ISO 4217 code")
        })?;
        let included = tier.get("included");
        let flag = |key: &str| {
            included
                .and_then(|i| i.get(key))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        parsed.push(TierRecord {
            name: text("name")?,
            amount: tier
                .get("amount")
                .and_then(Value::as_i64)
                .ok_or_else(|| format!("{path}.amount: missing or not an integer"))?,
            currency,
            period: text("period")?,
            included: Included {
                risk_mitigation: flag("riskMitigation"),
                reciprocal_access: flag("reciprocalAccess"),
                advisory: flag("advisory"),
            },
            seat_limit: tier.get("seatLimit").and_then(Value::as_i64),
        });
    }
    let valid = validate_tiers(&parsed).map_err(|problems| {
        let reasons: Vec<String> = problems.iter().map(ToString::to_string).collect();
        format!("$.tiers: {}", reasons.join("; "))
    })?;
    valid
        .first()
        .map(|tier| tier.currency.to_string())
        .ok_or_else(|| "$.tiers: the offer has no tiers".to_owned())
}

/// A datetime the AppView can compute with. The lexicon validator mirrors the reference
/// implementation and lets through strings the atproto spec refuses (no timezone, `24:00`,
/// February 30, ...); reading those as some instant would silently guess, so they are refused.
fn datetime_at(object: &Value, key: &str, path: &str) -> Result<DateTime<Utc>, String> {
    let text = object
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{path}: missing"))?;
    if !is_valid_datetime_strict(text) {
        return Err(format!(
            "{path}: {text:?} is not an RFC 3339 datetime with a timezone (YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM))"
        ));
    }
    // The spec's pattern lets days past the month's end through (JavaScript `Date` rolls them
    // over); chrono refuses them, and so do we rather than guess the day.
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|err| format!("{path}: {text:?} is not a real date and time: {err}"))
}

fn amount_at(object: &Value, key: &str, path: &str) -> Result<i64, String> {
    let amount = object
        .get(key)
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("{path}: missing or not an integer"))?;
    if !(1..=MAX_AMOUNT).contains(&amount) {
        return Err(format!("{path}: {amount} is outside 1..={MAX_AMOUNT}"));
    }
    Ok(amount)
}

fn currency_at(object: &Value, key: &str, path: &str) -> Result<String, String> {
    let currency = object
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{path}: missing"))?;
    let code = Currency::parse(currency)
        .map_err(|_| format!("{path}: {currency:?} is not an upper-case ISO 4217 code"))?;
    // An amount is a count of minor units whose size depends on the currency; for a code not
    // in the funding crate's table nobody (the CLI, escrow, the pages, the estimate cap) knows
    // what the number means, so such a record cannot count.
    if !code.supported() {
        return Err(format!(
            "{path}: {code} is not a currency Greenlight handles (not in its currency table)"
        ));
    }
    Ok(currency.to_owned())
}

/// Checks that a strongRef uri is `at://<did>/<collection>/<rkey>` for the expected collection.
fn check_strong_ref_uri(uri: &str, collection: &str) -> Result<(), String> {
    let rest = uri
        .strip_prefix("at://")
        .ok_or_else(|| format!("{uri:?} is not an at:// URI"))?;
    let mut parts = rest.split('/');
    let (Some(authority), Some(target), Some(rkey), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "{uri:?} does not name a record (at://DID/COLLECTION/RKEY)"
        ));
    };
    if !is_did(authority) {
        return Err(format!("{uri:?} must name its repo by DID"));
    }
    if target != collection {
        return Err(format!(
            "{uri:?} points at {target}, expected a {collection} record"
        ));
    }
    if !is_record_key(rkey) {
        return Err(format!("{uri:?} has an invalid record key"));
    }
    Ok(())
}

/// Whether any string or key in `value` contains U+0000.
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map
            .iter()
            .any(|(key, item)| key.contains('\0') || has_nul(item)),
        _ => false,
    }
}

/// The first path at which a string (or key) contains U+0000.
fn find_nul(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_nul(item, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(path.to_owned())
            } else {
                find_nul(item, &format!("{path}.{key}"))
            }
        }),
        _ => None,
    }
}

/// Replaces NULs in every string of `value`, so a rejected body can still be stored.
pub fn without_nul(value: Value) -> Value {
    match value {
        Value::String(s) if s.contains('\0') => Value::String(s.replace('\0', "\u{FFFD}")),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nul).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.replace('\0', "\u{FFFD}"), without_nul(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Replaces NULs in a string bound for a text column.
pub fn text_without_nul(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// atproto DID syntax: `did:<method>:<id>`, ASCII, at most 2 KiB.
pub fn is_did(did: &str) -> bool {
    let Some(rest) = did.strip_prefix("did:") else {
        return false;
    };
    let Some((method, id)) = rest.split_once(':') else {
        return false;
    };
    did.len() <= 2048
        && !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_lowercase())
        && !id.is_empty()
        && !id.ends_with(':')
        && !id.ends_with('%')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-'))
}

/// atproto record-key syntax: 1–512 of `A-Za-z0-9._:~-`, not `.` or `..`.
pub fn is_record_key(rkey: &str) -> bool {
    (1..=512).contains(&rkey.len())
        && rkey != "."
        && rkey != ".."
        && rkey
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'~' | b'-'))
}

/// NSID syntax as far as storing it safely needs: 3+ non-empty dot-separated segments of
/// ASCII letters, digits and `-`, at most 317 characters.
pub fn is_nsid(nsid: &str) -> bool {
    nsid.len() <= 317
        && nsid.split('.').count() >= 3
        && nsid.split('.').all(|segment| {
            (1..=63).contains(&segment.len())
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A TID: 13 base32-sortable characters whose first has the top bit clear.
pub fn is_tid(s: &str) -> bool {
    const ALPHABET: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
    let bytes = s.as_bytes();
    bytes.len() == 13
        && bytes.iter().all(|b| ALPHABET.contains(b))
        && b"234567abcdefghij".contains(&bytes[0])
}

/// An NSID-shaped collection name we follow (`fund.greenlight.*`).
pub fn is_ours(collection: &str) -> bool {
    collection.starts_with(NAMESPACE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PROPOSAL_URI: &str = "at://did:plc:abc/fund.greenlight.proposal/3kabcdefghijk";
    const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

    fn rules() -> RecordRules {
        RecordRules::embedded().unwrap()
    }

    fn estimate(amount: Value, currency: &str, uri: &str) -> Value {
        json!({
            "$type": ESTIMATE,
            "subject": {"uri": uri, "cid": CID},
            "amount": amount,
            "currency": currency,
            "createdAt": "2025-01-02T03:04:05.000Z",
        })
    }

    #[test]
    fn a_valid_estimate_yields_its_fields() {
        let fields = rules()
            .check(
                ESTIMATE,
                "3kabcdefghijk",
                &estimate(json!(2500), "EUR", PROPOSAL_URI),
            )
            .unwrap();
        assert_eq!(fields.subject_uri.as_deref(), Some(PROPOSAL_URI));
        assert_eq!(fields.subject_cid.as_deref(), Some(CID));
        assert_eq!(fields.amount, Some(2500));
        assert_eq!(fields.currency.as_deref(), Some("EUR"));
        assert_eq!(fields.created_at.to_rfc3339(), "2025-01-02T03:04:05+00:00");
    }

    #[test]
    fn rejects_what_the_lexicon_cannot_express() {
        let r = rules();
        let err = r
            .check(
                ESTIMATE,
                "not-a-tid",
                &estimate(json!(1), "USD", PROPOSAL_URI),
            )
            .unwrap_err();
        assert!(err.contains("must be a TID"), "{err}");
        let err = r
            .check(
                ESTIMATE,
                "3kabcdefghijk",
                &estimate(json!(1), "usd", PROPOSAL_URI),
            )
            .unwrap_err();
        assert!(err.contains("ISO 4217"), "{err}");
        let wrong_target = "at://did:plc:abc/fund.greenlight.project/3kabcdefghijk";
        let err = r
            .check(
                ESTIMATE,
                "3kabcdefghijk",
                &estimate(json!(1), "USD", wrong_target),
            )
            .unwrap_err();
        assert!(err.contains("expected a fund.greenlight.proposal"), "{err}");
        let err = r
            .check(
                ESTIMATE,
                "3kabcdefghijk",
                &estimate(json!(-5), "USD", PROPOSAL_URI),
            )
            .unwrap_err();
        assert!(err.starts_with("lexicon: $.amount"), "{err}");
        let err = r
            .check(
                ESTIMATE,
                "3kabcdefghijk",
                &estimate(json!(1u64 << 62), "USD", PROPOSAL_URI),
            )
            .unwrap_err();
        assert!(err.contains("$.amount"), "{err}");
        let mut wrong_type = estimate(json!(1), "USD", PROPOSAL_URI);
        wrong_type["$type"] = json!(PLEDGE);
        let err = r.check(ESTIMATE, "3kabcdefghijk", &wrong_type).unwrap_err();
        assert!(err.contains("$type"), "{err}");
        let mut nul = estimate(json!(1), "USD", PROPOSAL_URI);
        nul["currency"] = json!("U\0D");
        let err = r.check(ESTIMATE, "3kabcdefghijk", &nul).unwrap_err();
        assert!(err.contains("NUL"), "{err}");
    }

    #[test]
    fn currencies_not_in_the_table_are_rejected() {
        let r = rules();
        for code in ["KRW", "BHD", "JPY", "CHF"] {
            let fields = r
                .check(
                    ESTIMATE,
                    "3kabcdefghijk",
                    &estimate(json!(1000), code, PROPOSAL_URI),
                )
                .unwrap();
            assert_eq!(fields.currency.as_deref(), Some(code));
        }
        // Well-formed ISO 4217 shapes whose decimals Greenlight does not know.
        for code in ["XYZ", "CLF", "XAU"] {
            let err = r
                .check(
                    ESTIMATE,
                    "3kabcdefghijk",
                    &estimate(json!(1000), code, PROPOSAL_URI),
                )
                .unwrap_err();
            assert_eq!(
                err,
                format!(
                    "$.currency: {code} is not a currency Greenlight handles (not in its currency table)"
                )
            );
        }
        let goal = json!({
            "$type": STATUS,
            "subject": {"uri": PROPOSAL_URI, "cid": CID},
            "stage": {"$type": "fund.greenlight.status#development", "goal": 500, "currency": "XYZ"},
            "createdAt": "2025-01-02T03:04:05Z",
        });
        let err = r.check(STATUS, "3kabcdefghijk", &goal).unwrap_err();
        assert!(
            err.starts_with("$.stage.currency: XYZ is not a currency"),
            "{err}"
        );
        let project = json!({
            "$type": PROJECT,
            "name": "Greenlight",
            "description": "",
            "repository": "https://example.com/greenlight.git",
            "currency": "XYZ",
            "createdAt": "2025-01-02T03:04:05Z",
        });
        let err = r.check(PROJECT, "greenlight", &project).unwrap_err();
        assert!(
            err.starts_with("$.currency: XYZ is not a currency"),
            "{err}"
        );
    }

    #[test]
    fn status_stage_and_goal_are_extracted() {
        let record = json!({
            "$type": STATUS,
            "subject": {"uri": PROPOSAL_URI, "cid": CID},
            "stage": {"$type": "fund.greenlight.status#development", "goal": 500000, "currency": "USD"},
            "createdAt": "2025-01-02T03:04:05Z",
        });
        let fields = rules().check(STATUS, "3kabcdefghijk", &record).unwrap();
        assert_eq!(
            fields.stage.as_deref(),
            Some("fund.greenlight.status#development")
        );
        assert_eq!(fields.amount, Some(500000));
    }

    #[test]
    fn a_maintainer_acceptance_must_name_a_project() {
        let acceptance = |uri: &str| {
            json!({
                "$type": MAINTAINER,
                "subject": {"uri": uri, "cid": "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a"},
                "createdAt": "2026-01-01T00:00:00.000Z",
            })
        };
        let project = "at://did:plc:owner/fund.greenlight.project/tool";
        let fields = rules()
            .check(MAINTAINER, "3kaaaaaaaaaaa", &acceptance(project))
            .unwrap();
        assert_eq!(fields.subject_uri.as_deref(), Some(project));
        let proposal = "at://did:plc:owner/fund.greenlight.proposal/3kaaaaaaaaaaa";
        let err = rules()
            .check(MAINTAINER, "3kaaaaaaaaaaa", &acceptance(proposal))
            .unwrap_err();
        assert!(err.contains("$.subject.uri"), "{err}");
    }

    #[test]
    fn a_project_takes_any_key_and_defaults_to_usd() {
        let record = json!({
            "$type": PROJECT,
            "name": "Greenlight",
            "description": "",
            "repository": "https://example.com/greenlight.git",
            "createdAt": "2025-01-02T03:04:05Z",
        });
        let fields = rules().check(PROJECT, "greenlight", &record).unwrap();
        assert_eq!(fields.currency.as_deref(), Some("USD"));
        assert!(rules().check(PROJECT, "..", &record).is_err());
    }

    #[test]
    fn datetimes_the_lexicon_lets_through_but_the_spec_refuses_are_rejected() {
        let r = rules();
        for created_at in [
            "2025-01-02T03:04:05",  // no timezone
            "2025-01-02T24:00:00Z", // hour 24
            "2025-02-30T03:04:05Z", // past the month's end
            "20250102T030405Z",     // basic format
        ] {
            let mut record = estimate(json!(1), "USD", PROPOSAL_URI);
            record["createdAt"] = json!(created_at);
            let err = r.check(ESTIMATE, "3kabcdefghijk", &record).unwrap_err();
            assert!(err.starts_with("$.createdAt: "), "{created_at}: {err}");
        }
        let mut record = estimate(json!(1), "USD", PROPOSAL_URI);
        record["createdAt"] = json!("2025-01-02T03:04:05.123+02:00");
        let fields = r.check(ESTIMATE, "3kabcdefghijk", &record).unwrap();
        assert_eq!(
            fields.created_at.to_rfc3339(),
            "2025-01-02T01:04:05.123+00:00"
        );
    }

    #[test]
    fn a_preview_must_end_at_a_real_instant() {
        let preview = |ends_at: &str| {
            json!({
                "$type": STATUS,
                "subject": {"uri": PROPOSAL_URI, "cid": CID},
                "stage": {
                    "$type": "fund.greenlight.status#preview",
                    "url": "https://example.com/preview",
                    "instructions": "Try it.",
                    "endsAt": ends_at,
                },
                "createdAt": "2025-01-02T03:04:05Z",
            })
        };
        let r = rules();
        assert!(r
            .check(STATUS, "3kabcdefghijk", &preview("2025-03-01T00:00:00Z"))
            .is_ok());
        for ends_at in ["2025-03-01T00:00:00", "2025-02-29T00:00:00Z"] {
            let err = r
                .check(STATUS, "3kabcdefghijk", &preview(ends_at))
                .unwrap_err();
            assert!(err.starts_with("$.stage.endsAt: "), "{ends_at}: {err}");
        }
    }

    fn offer(tiers: Value) -> Value {
        json!({
            "$type": RETAINER_OFFER,
            "projects": [{"uri": "at://did:plc:owner/fund.greenlight.project/tool", "cid": CID}],
            "repositories": ["https://example.com/tool"],
            "description": "Keep the tool maintained.",
            "tiers": tiers,
            "createdAt": "2026-01-01T00:00:00.000Z",
        })
    }

    fn tier(name: &str, amount: i64, currency: &str, period: &str) -> Value {
        json!({
            "name": name,
            "amount": amount,
            "currency": currency,
            "period": period,
            "included": {"riskMitigation": true, "reciprocalAccess": false, "advisory": false},
        })
    }

    #[test]
    fn a_retainer_offer_takes_any_key_and_yields_its_currency() {
        let record = offer(json!([
            tier("Bronze", 100_000, "EUR", "month"),
            tier("Gold", 1_000_000, "EUR", "year"),
        ]));
        let fields = rules().check(RETAINER_OFFER, "tool", &record).unwrap();
        assert_eq!(fields.currency.as_deref(), Some("EUR"));
        assert_eq!(fields.subject_uri, None);
        assert!(rules().check(RETAINER_OFFER, "..", &record).is_err());
    }

    #[test]
    fn a_retainer_offer_with_invalid_tiers_is_rejected_with_every_reason() {
        let record = offer(json!([
            tier("Gold", 100_000, "EUR", "month"),
            tier(" gold ", 100_000, "USD", "week"),
        ]));
        let err = rules().check(RETAINER_OFFER, "tool", &record).unwrap_err();
        assert!(err.starts_with("$.tiers: "), "{err}");
        assert!(err.contains("tier 1 has the same name as tier 0"), "{err}");
        assert!(err.contains("tier 1 is priced in USD"), "{err}");
        assert!(err.contains("tier 1 has period \"week\""), "{err}");
        // Shapes the lexicon allows but the currency table does not know.
        let err = rules()
            .check(
                RETAINER_OFFER,
                "tool",
                &offer(json!([tier("Gold", 100, "XYZ", "month")])),
            )
            .unwrap_err();
        assert!(err.contains("Greenlight does not handle"), "{err}");
        let err = rules()
            .check(
                RETAINER_OFFER,
                "tool",
                &offer(json!([tier("Gold", 100, "eur", "month")])),
            )
            .unwrap_err();
        assert!(err.starts_with("$.tiers[0].currency: "), "{err}");
    }

    #[test]
    fn a_retainer_offer_covers_project_records_only() {
        let mut record = offer(json!([tier("Gold", 100, "USD", "month")]));
        record["projects"] = json!([{"uri": PROPOSAL_URI, "cid": CID}]);
        let err = rules().check(RETAINER_OFFER, "tool", &record).unwrap_err();
        assert!(err.starts_with("$.projects[0].uri: "), "{err}");
        assert!(err.contains("expected a fund.greenlight.project"), "{err}");
    }

    #[test]
    fn a_retainer_must_name_an_offer() {
        let retainer = |uri: &str| {
            json!({
                "$type": RETAINER,
                "subject": {"uri": uri, "cid": CID},
                "tier": "Gold",
                "listedPublicly": true,
                "receipt": "agreement-1",
                "createdAt": "2026-01-01T00:00:00.000Z",
            })
        };
        let offer_uri = "at://did:plc:owner/fund.greenlight.retainerOffer/tool";
        let fields = rules()
            .check(RETAINER, "3kaaaaaaaaaaa", &retainer(offer_uri))
            .unwrap();
        assert_eq!(fields.subject_uri.as_deref(), Some(offer_uri));
        assert_eq!(fields.subject_cid.as_deref(), Some(CID));
        let project = "at://did:plc:owner/fund.greenlight.project/tool";
        let err = rules()
            .check(RETAINER, "3kaaaaaaaaaaa", &retainer(project))
            .unwrap_err();
        assert!(
            err.contains("expected a fund.greenlight.retainerOffer"),
            "{err}"
        );
        let err = rules()
            .check(RETAINER, "not-a-tid", &retainer(offer_uri))
            .unwrap_err();
        assert!(err.contains("must be a TID"), "{err}");
    }

    #[test]
    fn nsid_syntax() {
        assert!(is_nsid("fund.greenlight.proposal"));
        assert!(!is_nsid("fund.greenlight"));
        assert!(!is_nsid("fund.greenlight."));
        assert!(!is_nsid("fund.greenlight.a\0b"));
        assert!(!is_nsid("fund.greenlight.a/b"));
    }

    #[test]
    fn syntax_checks() {
        assert!(is_tid("3kabcdefghijk"));
        assert!(!is_tid("zkabcdefghijk"));
        assert!(!is_tid("3kabcdefghij"));
        assert!(is_did("did:plc:abc123"));
        assert!(is_did("did:web:localhost%3A3000"));
        assert!(!is_did("did:plc:"));
        assert!(!is_did("plc:abc"));
        assert!(!is_record_key("a/b"));
    }
}
