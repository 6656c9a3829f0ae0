//! A deterministic corpus of Greenlight records, valid and invalid, for differential
//! testing of record validation against the reference implementation.
//!
//! Every case starts from a valid record of one of the record types and applies at
//! most one change: missing or null fields, wrong JSON types, floats and out-of-range
//! amounts, strings too long by UTF-8 bytes or by graphemes (emoji, ZWJ sequences, flags,
//! combining marks, Indic conjuncts), a bad value for every string format in use, broken
//! strong references, union members without or with unknown `$type`, a wrong record
//! `$type`, and extra unknown fields. `intended_valid` records what the case was written
//! to exercise; the reference implementation is the judge of the actual verdict.

use serde_json::{json, Map, Value};

/// The record types.
pub const RECORD_NSIDS: [&str; 7] = [
    "fund.greenlight.project",
    "fund.greenlight.proposal",
    "fund.greenlight.estimate",
    "fund.greenlight.status",
    "fund.greenlight.pledge",
    "fund.greenlight.dispute",
    "fund.greenlight.maintainer",
];

/// One record to validate.
#[derive(Debug, Clone)]
pub struct CorpusCase {
    /// What the case exercises, unique within the corpus.
    pub name: String,
    /// The lexicon the record is validated against.
    pub nsid: &'static str,
    /// The record JSON.
    pub record: Value,
    /// Whether the case was written to be valid (`None`: it probes a known leniency).
    pub intended_valid: Option<bool>,
}

/// SplitMix64: a tiny deterministic generator so the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn tid(&mut self) -> String {
        const FIRST: &[u8] = b"234567abcdefghij";
        const REST: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
        let mut tid = String::new();
        tid.push(FIRST[self.below(FIRST.len() as u64) as usize] as char);
        for _ in 0..12 {
            tid.push(REST[self.below(REST.len() as u64) as usize] as char);
        }
        tid
    }
}

const CID: &str = "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a";
const CIDS: &[&str] = &[
    "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a",
    "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
    "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy",
    "QmY7Yh4UquoXHLPFo2XbhXkhBvFoPwmQUSa92pxnxjQuPU",
];
const DIDS: &[&str] = &[
    "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
    "did:plc:z72i7hdynmk6r22z27h6tvur",
    "did:web:greenlight.example",
    "did:web:localhost%3A2583",
];
const TIMES: &[&str] = &[
    "2025-03-01T12:00:00Z",
    "2025-03-01T12:00:00.000Z",
    "2024-02-29T23:59:59.999999Z",
    "2025-11-05T08:30:00+05:30",
    "2025-06-30T18:00:00-07:00",
];
const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "JPY", "CHF"];
const REPOSITORIES: &[&str] = &[
    "https://github.com/bluesky-social/atproto",
    "https://codeberg.org/forgejo/forgejo",
    "ssh://git@example.com/repo.git",
    "https://gitlab.com/group/sub/project",
];
const TITLES: &[&str] = &[
    "Dark mode",
    "Export to CSV",
    "Übersetzung ins Deutsche",
    "日本語のサポート",
    "Emoji reactions 🎉",
    "Keyboard shortcuts ⌨️",
];

fn strong_ref(rng: &mut Rng, collection: &str) -> Value {
    json!({
        "uri": format!("at://{}/{collection}/{}", rng.pick(DIDS), rng.tid()),
        "cid": rng.pick(CIDS),
    })
}

fn base_project(rng: &mut Rng) -> Value {
    let mut record = json!({
        "$type": "fund.greenlight.project",
        "name": rng.pick(&["Greenlight", "atproto", "Forgejo", "Ruffle", "Bevy"]),
        "description": "A project that takes **feature funding**.",
        "repository": rng.pick(REPOSITORIES),
        "createdAt": rng.pick(TIMES),
    });
    if rng.below(2) == 0 {
        record["currency"] = json!(rng.pick(CURRENCIES));
    }
    if rng.below(2) == 0 {
        record["website"] = json!("https://greenlight.example/");
    }
    if rng.below(2) == 0 {
        let count = rng.below(4) as usize;
        record["maintainers"] = Value::Array((0..count).map(|_| json!(rng.pick(DIDS))).collect());
    }
    record
}

fn base_proposal(rng: &mut Rng) -> Value {
    let subject = if rng.below(2) == 0 {
        let mut r = strong_ref(rng, "fund.greenlight.project");
        r["$type"] = json!("com.atproto.repo.strongRef");
        r
    } else {
        json!({ "$type": "fund.greenlight.proposal#repository", "url": rng.pick(REPOSITORIES) })
    };
    let mut record = json!({
        "$type": "fund.greenlight.proposal",
        "subject": subject,
        "title": rng.pick(TITLES),
        "body": "It would help everyone who works at night.\n\n- less glare\n- saves battery",
        "createdAt": rng.pick(TIMES),
    });
    if rng.below(2) == 0 {
        record["tags"] = json!(["ui", "accessibility"]);
    }
    record
}

fn base_estimate(rng: &mut Rng) -> Value {
    json!({
        "$type": "fund.greenlight.estimate",
        "subject": strong_ref(rng, "fund.greenlight.proposal"),
        "amount": 100 + rng.below(1_000_000),
        "currency": rng.pick(CURRENCIES),
        "createdAt": rng.pick(TIMES),
    })
}

fn base_status(rng: &mut Rng) -> Value {
    let stage = match rng.below(4) {
        0 => json!({
            "$type": "fund.greenlight.status#development",
            "goal": 1000 + rng.below(10_000_000),
            "currency": rng.pick(CURRENCIES),
            "note": "Started on the branch `dark-mode`.",
        }),
        1 => json!({
            "$type": "fund.greenlight.status#preview",
            "url": "https://preview.greenlight.example/dark-mode",
            "instructions": "Log in and open *Settings → Theme*.",
            "endsAt": rng.pick(TIMES),
        }),
        2 => json!({
            "$type": "fund.greenlight.status#release",
            "sourceUrl": "https://github.com/example/app/releases/tag/v2.0.0",
            "revision": "9fceb02d0ae598e95dc970b74767f19372d61af8",
            "license": "MIT OR Apache-2.0",
        }),
        _ => json!({
            "$type": "fund.greenlight.status#decline",
            "reason": "Out of scope for this project.",
        }),
    };
    json!({
        "$type": "fund.greenlight.status",
        "subject": strong_ref(rng, "fund.greenlight.proposal"),
        "stage": stage,
        "createdAt": rng.pick(TIMES),
    })
}

fn base_pledge(rng: &mut Rng) -> Value {
    json!({
        "$type": "fund.greenlight.pledge",
        "subject": strong_ref(rng, "fund.greenlight.proposal"),
        "amount": 500 + rng.below(500_000),
        "currency": rng.pick(CURRENCIES),
        "receipt": format!("plg_{:016x}", rng.next()),
        "createdAt": rng.pick(TIMES),
    })
}

fn base_dispute(rng: &mut Rng) -> Value {
    let mut record = json!({
        "$type": "fund.greenlight.dispute",
        "subject": strong_ref(rng, "fund.greenlight.proposal"),
        "reason": "The released version does not include the previewed feature.",
        "createdAt": rng.pick(TIMES),
    });
    if rng.below(2) == 0 {
        record["evidence"] = json!(["https://github.com/example/app/issues/42"]);
    }
    record
}

fn base_maintainer(rng: &mut Rng) -> Value {
    json!({
        "$type": "fund.greenlight.maintainer",
        "subject": strong_ref(rng, "fund.greenlight.project"),
        "createdAt": rng.pick(TIMES),
    })
}

/// Makes a valid record.
type Make = fn(&mut Rng) -> Value;

fn maker(nsid: &str) -> Make {
    match nsid {
        "fund.greenlight.project" => base_project,
        "fund.greenlight.proposal" => base_proposal,
        "fund.greenlight.estimate" => base_estimate,
        "fund.greenlight.status" => base_status,
        "fund.greenlight.pledge" => base_pledge,
        "fund.greenlight.maintainer" => base_maintainer,
        _ => base_dispute,
    }
}

fn base(nsid: &str, rng: &mut Rng) -> Value {
    maker(nsid)(rng)
}

/// A status record in the given stage (its fields then get changed one at a time).
fn status_in(rng: &mut Rng, stage: Value) -> Value {
    let mut record = base_status(rng);
    record["stage"] = stage;
    record
}

fn status_in_development(rng: &mut Rng) -> Value {
    let stage =
        json!({ "$type": "fund.greenlight.status#development", "goal": 5000, "currency": "USD" });
    status_in(rng, stage)
}

fn status_in_preview(rng: &mut Rng) -> Value {
    let stage = json!({
        "$type": "fund.greenlight.status#preview",
        "url": "https://preview.example/",
        "instructions": "Open it.",
        "endsAt": "2025-04-01T00:00:00Z",
    });
    status_in(rng, stage)
}

/// Collects cases, naming them after their record type and change.
struct Builder {
    cases: Vec<CorpusCase>,
    rng: Rng,
}

impl Builder {
    fn add(&mut self, nsid: &'static str, name: &str, intended_valid: Option<bool>, record: Value) {
        let short = nsid.rsplit('.').next().unwrap_or(nsid);
        self.cases.push(CorpusCase {
            name: format!("{short}: {name}"),
            nsid,
            record,
            intended_valid,
        });
    }

    /// A fresh valid record from `make` with `path` (dot-separated keys) set to `value`,
    /// or removed when `value` is `None`.
    fn with(&mut self, make: Make, path: &str, value: Option<Value>) -> Value {
        let mut record = make(&mut self.rng);
        set_path(&mut record, path, value);
        record
    }

    fn set(
        &mut self,
        nsid: &'static str,
        name: &str,
        intended: Option<bool>,
        path: &str,
        value: Value,
    ) {
        let make = maker(nsid);
        self.set_on(make, nsid, name, intended, path, value);
    }

    fn set_on(
        &mut self,
        make: Make,
        nsid: &'static str,
        name: &str,
        intended: Option<bool>,
        path: &str,
        value: Value,
    ) {
        let record = self.with(make, path, Some(value));
        self.add(nsid, name, intended, record);
    }

    fn remove(&mut self, nsid: &'static str, name: &str, intended: Option<bool>, path: &str) {
        let record = self.with(maker(nsid), path, None);
        self.add(nsid, name, intended, record);
    }
}

fn set_path(record: &mut Value, path: &str, value: Option<Value>) {
    let mut keys: Vec<&str> = path.split('.').collect();
    let Some(last) = keys.pop() else { return };
    let mut target = record;
    for key in keys {
        if !target.get(key).is_some_and(Value::is_object) {
            target[key] = Value::Object(Map::new());
        }
        target = &mut target[key];
    }
    match (target.as_object_mut(), value) {
        (Some(map), Some(value)) => {
            map.insert(last.to_owned(), value);
        }
        (Some(map), None) => {
            map.remove(last);
        }
        (None, _) => {}
    }
}

/// Strings of exactly `count` graphemes built from one cluster.
fn repeat(cluster: &str, count: usize) -> String {
    cluster.repeat(count)
}

/// The whole corpus, in a fixed order.
pub fn corpus() -> Vec<CorpusCase> {
    let mut b = Builder {
        cases: Vec::new(),
        rng: Rng(0x6772_6565_6e6c_6967),
    };

    for nsid in RECORD_NSIDS {
        // Valid variety.
        for i in 0..12 {
            let record = base(nsid, &mut b.rng);
            b.add(nsid, &format!("valid #{i}"), Some(true), record);
        }
        common_cases(&mut b, nsid);
    }
    project_cases(&mut b);
    proposal_cases(&mut b);
    for nsid in ["fund.greenlight.estimate", "fund.greenlight.pledge"] {
        amount_cases(&mut b, maker(nsid), nsid, "amount");
        currency_cases(&mut b, nsid, "currency");
    }
    status_cases(&mut b);
    pledge_cases(&mut b);
    dispute_cases(&mut b);
    b.cases
}

/// Required fields of each record type.
fn required(nsid: &str) -> &'static [&'static str] {
    match nsid {
        "fund.greenlight.project" => &["name", "description", "repository", "createdAt"],
        "fund.greenlight.proposal" => &["subject", "title", "body", "createdAt"],
        "fund.greenlight.estimate" => &["subject", "amount", "currency", "createdAt"],
        "fund.greenlight.status" => &["subject", "stage", "createdAt"],
        "fund.greenlight.pledge" => &["subject", "amount", "currency", "receipt", "createdAt"],
        "fund.greenlight.maintainer" => &["subject", "createdAt"],
        _ => &["subject", "reason", "createdAt"],
    }
}

fn common_cases(b: &mut Builder, nsid: &'static str) {
    for field in required(nsid) {
        b.remove(nsid, &format!("missing {field}"), Some(false), field);
        b.set(
            nsid,
            &format!("null {field}"),
            Some(false),
            field,
            Value::Null,
        );
    }
    b.set(
        nsid,
        "number for createdAt",
        Some(false),
        "createdAt",
        json!(1_700_000_000),
    );
    b.set(
        nsid,
        "extra unknown string field",
        Some(true),
        "note",
        json!("ignored"),
    );
    b.set(
        nsid,
        "extra unknown object field",
        Some(true),
        "x-client",
        json!({ "app": "cli", "v": [1, 2] }),
    );
    b.set(
        nsid,
        "extra unknown null field",
        Some(true),
        "extra",
        Value::Null,
    );
    b.set(
        nsid,
        "extra unknown float field",
        Some(true),
        "weight",
        json!(0.25),
    );

    // The record's own $type.
    let other = if nsid == "fund.greenlight.project" {
        "fund.greenlight.proposal"
    } else {
        "fund.greenlight.project"
    };
    b.set(
        nsid,
        "$type of another record",
        Some(false),
        "$type",
        json!(other),
    );
    b.remove(nsid, "$type missing", Some(false), "$type");
    b.set(nsid, "$type not a string", Some(false), "$type", json!(7));
    b.set(
        nsid,
        "$type with #main",
        Some(false),
        "$type",
        json!(format!("{nsid}#main")),
    );
    b.set(
        nsid,
        "$type with lex: prefix",
        None,
        "$type",
        json!(format!("lex:{nsid}")),
    );
    b.set(
        nsid,
        "$type upper-cased",
        Some(false),
        "$type",
        json!(nsid.to_uppercase()),
    );
    b.set(
        nsid,
        "$type with two fragments",
        Some(false),
        "$type",
        json!(format!("{nsid}#a#b")),
    );
    b.add(
        nsid,
        "record is an array",
        Some(false),
        json!([{ "$type": nsid }]),
    );
    b.add(nsid, "record is a string", Some(false), json!(nsid));
    b.add(
        nsid,
        "record is only $type",
        Some(false),
        json!({ "$type": nsid }),
    );

    datetime_cases(b, maker(nsid), nsid, "createdAt");
    if nsid != "fund.greenlight.project" && nsid != "fund.greenlight.proposal" {
        strong_ref_cases(b, nsid, "subject");
    }
}

fn datetime_cases(b: &mut Builder, make: Make, nsid: &'static str, field: &str) {
    let cases: &[(&str, Option<bool>)] = &[
        ("", Some(false)),
        ("yesterday", Some(false)),
        ("2025-03-01", Some(false)),
        ("2025-03-01T12:00Z", Some(false)),
        ("2025-03-01T12:00:00", None),
        ("2025-03-01T12:00:00.123", None),
        ("2025-03-01 12:00:00Z", Some(false)),
        ("2025-03-01t12:00:00z", Some(false)),
        ("2025-13-01T12:00:00Z", Some(false)),
        ("2025-02-30T12:00:00Z", None),
        ("2025-01-00T12:00:00Z", Some(false)),
        ("2025-01-01T25:00:00Z", Some(false)),
        ("2025-01-01T24:00:00Z", None),
        ("2025-01-01T12:00:60Z", None),
        ("2025-03-01T12:00:00-00:00", Some(false)),
        ("2025-03-01T12:00:00+00:00", Some(true)),
        ("2025-03-01T12:00:00+01:30", Some(true)),
        ("2025-03-01T12:00:00+0530", None),
        ("2025-03-01T12:00:00+0545", None),
        ("2025-03-01T12:00:00+0130", None),
        ("2025-03-01T12:00:00.123456789Z", Some(true)),
        ("2025-03-01T12:00:00.1234567891234Z", Some(true)),
        ("+002025-03-01T12:00:00Z", Some(false)),
        ("20250301T120000Z", None),
        ("2025/03/01T12:00:00Z", None),
        ("0000-01-01T00:00:00Z", Some(true)),
        ("9999-12-31T23:59:59-01:00", None),
        ("1985-04-12T23:20:50.123Z trailing", Some(false)),
    ];
    for (value, intended) in cases {
        b.set_on(
            make,
            nsid,
            &format!("{field} = {value:?}"),
            *intended,
            field,
            json!(value),
        );
    }
}

fn strong_ref_cases(b: &mut Builder, nsid: &'static str, field: &str) {
    let good_uri = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.proposal/3lbjkn5wdtc2x";
    let uris: &[(&str, Option<bool>)] = &[
        (
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.proposal/self",
            Some(true),
        ),
        (
            "at://alice.greenlight.example/fund.greenlight.proposal/3lbjkn5wdtc2x",
            Some(true),
        ),
        ("at://did:plc:ewvi7nxzyoun6zhxrhs64oiz", Some(true)),
        (
            "https://bsky.app/profile/alice/post/3lbjkn5wdtc2x",
            Some(false),
        ),
        (
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.proposal/",
            Some(false),
        ),
        (
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/not-an-nsid/3lbjkn5wdtc2x",
            Some(false),
        ),
        (
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.proposal/a/b",
            Some(false),
        ),
        (
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.proposal/x?y=1",
            Some(false),
        ),
        (
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.proposal/..",
            Some(false),
        ),
        (
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.proposal/a b",
            Some(false),
        ),
        (
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.proposal/x#/title",
            Some(true),
        ),
        (
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.proposal/x#title",
            Some(false),
        ),
        ("at://not_a_handle/fund.greenlight.proposal/x", Some(false)),
        ("at://did:plc:/fund.greenlight.proposal/x", Some(false)),
        (
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.proposal/é",
            Some(false),
        ),
        ("", Some(false)),
    ];
    for (uri, intended) in uris {
        b.set(
            nsid,
            &format!("{field}.uri = {uri:?}"),
            *intended,
            &format!("{field}.uri"),
            json!(uri),
        );
    }
    let cids: &[(&str, Option<bool>)] = &[
        ("QmY7Yh4UquoXHLPFo2XbhXkhBvFoPwmQUSa92pxnxjQuPU", Some(true)),
        (
            "zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA",
            Some(true),
        ),
        (
            "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2",
            Some(false),
        ),
        (
            "BAFYREIDFAYVFUWQA7QLNOPDJIQRXZS6BLMOEU4RUJCJTNCI5BELUDIRZ2A",
            Some(false),
        ),
        (
            "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a====",
            None,
        ),
        (
            "zQmY7Yh4UquoXHLPFo2XbhXkhBvFoPwmQUSa92pxnxjQuPU",
            Some(false),
        ),
        ("not-a-cid", Some(false)),
        ("", Some(false)),
    ];
    for (cid, intended) in cids {
        b.set(
            nsid,
            &format!("{field}.cid = {cid:?}"),
            *intended,
            &format!("{field}.cid"),
            json!(cid),
        );
    }
    b.set(
        nsid,
        &format!("{field} missing uri"),
        Some(false),
        field,
        json!({ "cid": CID }),
    );
    b.set(
        nsid,
        &format!("{field} missing cid"),
        Some(false),
        field,
        json!({ "uri": good_uri }),
    );
    b.set(
        nsid,
        &format!("{field} as a string"),
        Some(false),
        field,
        json!(good_uri),
    );
    b.set(
        nsid,
        &format!("{field} as an empty array"),
        Some(false),
        field,
        json!([]),
    );
    b.set(
        nsid,
        &format!("{field} uri is a number"),
        Some(false),
        &format!("{field}.uri"),
        json!(42),
    );
    b.set(
        nsid,
        &format!("{field} cid as a $link"),
        Some(false),
        &format!("{field}.cid"),
        json!({ "$link": CID }),
    );
    b.set(
        nsid,
        &format!("{field} with $type and extra keys"),
        Some(true),
        field,
        json!({ "$type": "com.atproto.repo.strongRef", "uri": good_uri, "cid": CID, "note": 1 }),
    );
}

fn amount_cases(b: &mut Builder, make: Make, nsid: &'static str, field: &str) {
    let cases: &[(Value, Option<bool>, &str)] = &[
        (json!(1), Some(true), "the minimum"),
        (json!(100_000_000_000_i64), Some(true), "the maximum"),
        (
            json!(100_000_000_001_i64),
            Some(false),
            "one over the maximum",
        ),
        (json!(0), Some(false), "zero"),
        (json!(-250), Some(false), "negative"),
        (json!(10.5), Some(false), "a fraction"),
        (json!(2500.0), None, "an integral float"),
        (json!(1e300), Some(false), "a huge float"),
        (json!(9_007_199_254_740_993_u64), Some(false), "beyond 2^53"),
        (json!(u64::MAX), Some(false), "u64::MAX"),
        (json!(i64::MIN), Some(false), "i64::MIN"),
        (json!(-0.0), Some(false), "negative zero"),
        (json!("2500"), Some(false), "a numeric string"),
        (json!(true), Some(false), "a boolean"),
        (json!([2500]), Some(false), "an array"),
        (json!({ "value": 2500 }), Some(false), "an object"),
    ];
    for (value, intended, what) in cases {
        b.set_on(
            make,
            nsid,
            &format!("{field} {what}"),
            *intended,
            field,
            value.clone(),
        );
    }
}

fn currency_cases(b: &mut Builder, nsid: &'static str, field: &str) {
    let cases: &[(&str, Option<bool>)] = &[
        ("usd", Some(true)),
        ("XTS", Some(true)),
        ("US", Some(false)),
        ("USDT", Some(false)),
        ("", Some(false)),
        // Lengths are UTF-8 bytes: the euro sign alone is three.
        ("€", Some(true)),
        ("€€", Some(false)),
        ("ÄB", Some(true)),
        ("💶", Some(false)),
    ];
    for (value, intended) in cases {
        b.set(
            nsid,
            &format!("{field} = {value:?}"),
            *intended,
            field,
            json!(value),
        );
    }
    b.set(
        nsid,
        &format!("{field} a number"),
        Some(false),
        field,
        json!(840),
    );
}

fn uri_cases(b: &mut Builder, nsid: &'static str, path: &str) {
    let long = format!("https://example.com/{}", "a".repeat(2030));
    let cases: Vec<(String, Option<bool>)> = vec![
        ("https://github.com/example/app".into(), Some(true)),
        ("mailto:maintainer@example.com".into(), Some(true)),
        ("a:b".into(), Some(true)),
        ("git+ssh://git@example.com/repo.git".into(), Some(false)),
        ("https://例え.jp/パス".into(), Some(true)),
        ("github.com/example/app".into(), Some(false)),
        ("https://".into(), Some(false)),
        ("https:///x".into(), Some(false)),
        ("https://exa mple.com".into(), Some(false)),
        ("https://example.com/\u{3000}".into(), Some(false)),
        ("".into(), Some(false)),
        ("://example.com".into(), Some(false)),
        (
            format!("https://example.com/{}", "a".repeat(2028)),
            Some(true),
        ),
        (long, Some(false)),
    ];
    for (value, intended) in cases {
        let shown: String = value.chars().take(40).collect();
        b.set(
            nsid,
            &format!("{path} = {shown:?} ({} bytes)", value.len()),
            intended,
            path,
            json!(value),
        );
    }
}

fn did_cases(b: &mut Builder) {
    let nsid = "fund.greenlight.project";
    let cases: &[(&str, Option<bool>)] = &[
        ("did:plc:ewvi7nxzyoun6zhxrhs64oiz", Some(true)),
        ("did:web:example.com", Some(true)),
        ("did:example:a:b:c", Some(true)),
        ("did:web:localhost%3A3000", Some(true)),
        ("did:plc:", Some(false)),
        ("did:PLC:ewvi7nxzyoun6zhxrhs64oiz", Some(false)),
        ("DID:plc:ewvi7nxzyoun6zhxrhs64oiz", Some(false)),
        ("alice.bsky.social", Some(false)),
        ("did:plc:abc%", Some(false)),
        ("did:plc:abc def", Some(false)),
        ("did:plc:ewvi7nxzyoun6zhxrhs64oiz#atproto", Some(false)),
        ("did:plc", Some(false)),
        ("did:plc:ü", Some(false)),
    ];
    for (value, intended) in cases {
        b.set(
            nsid,
            &format!("maintainer = {value:?}"),
            *intended,
            "maintainers",
            json!([value]),
        );
    }
    let many: Vec<&str> = (0..21).map(|i| DIDS[i % DIDS.len()]).collect();
    b.set(
        nsid,
        "21 maintainers",
        Some(false),
        "maintainers",
        json!(many),
    );
    b.set(
        nsid,
        "20 maintainers",
        Some(true),
        "maintainers",
        json!(many[..20]),
    );
    b.set(nsid, "no maintainers", Some(true), "maintainers", json!([]));
    b.set(
        nsid,
        "maintainers a string",
        Some(false),
        "maintainers",
        json!(DIDS[0]),
    );
    b.set(
        nsid,
        "maintainers with a number",
        Some(false),
        "maintainers",
        json!([DIDS[0], 5]),
    );
    b.set(
        nsid,
        "maintainers with null",
        Some(false),
        "maintainers",
        json!([DIDS[0], null]),
    );
}

/// Strings measured against `maxLength` bytes / `maxGraphemes` graphemes.
fn text_cases(
    b: &mut Builder,
    nsid: &'static str,
    path: &str,
    max_bytes: usize,
    max_graphemes: Option<usize>,
    min_one: bool,
) {
    let mut cases: Vec<(String, String, Option<bool>)> = Vec::new();
    if let Some(g) = max_graphemes {
        cases.push((format!("{g} ascii"), "a".repeat(g), Some(true)));
        cases.push((format!("{} ascii", g + 1), "a".repeat(g + 1), Some(false)));
        // One grapheme each, several bytes each.
        let clusters: &[(&str, &str)] = &[
            ("e + combining acute", "e\u{301}"),
            ("regional-indicator flag", "🇫🇷"),
            ("ZWJ family", "👨‍👩‍👧‍👦"),
            ("skin-tone thumbs up", "👍🏽"),
            ("keycap", "1️⃣"),
            ("hangul jamo", "\u{1100}\u{1161}\u{11A8}"),
            ("devanagari conjunct", "क्ष"),
            ("tamil syllable", "நி"),
            ("CRLF", "\r\n"),
        ];
        for (what, cluster) in clusters {
            for count in [g, g + 1] {
                let text = repeat(cluster, count);
                let fits_bytes = text.len() <= max_bytes;
                let intended = Some(fits_bytes && count <= g);
                cases.push((
                    format!("{count} × {what} ({} bytes)", text.len()),
                    text,
                    intended,
                ));
            }
        }
        // Exactly at the byte limit with multi-byte characters.
        let three_byte = "€".repeat(max_bytes / 3);
        let fits = max_bytes / 3 <= g;
        cases.push((
            format!("{} × € at the byte limit", max_bytes / 3),
            three_byte,
            Some(fits),
        ));
    }
    cases.push((
        format!("{max_bytes} ascii bytes"),
        "b".repeat(max_bytes),
        max_graphemes.map(|g| max_bytes <= g).or(Some(true)),
    ));
    cases.push((
        format!("{} ascii bytes", max_bytes + 1),
        "b".repeat(max_bytes + 1),
        Some(false),
    ));
    let cut = "é".repeat(max_bytes / 2) + "x";
    cases.push((
        format!("{} bytes of é and one x", cut.len()),
        cut,
        Some(false),
    ));
    if min_one {
        cases.push(("empty".into(), String::new(), Some(false)));
        cases.push(("a lone combining mark".into(), "\u{301}".into(), Some(true)));
        cases.push(("a single space".into(), " ".into(), Some(true)));
    }
    cases.push(("a number".into(), String::new(), Some(false)));
    for (i, (what, text, intended)) in cases.into_iter().enumerate() {
        let value = if what == "a number" {
            json!(12)
        } else {
            json!(text)
        };
        b.set(
            nsid,
            &format!("{path}: {what} [{i}]"),
            intended,
            path,
            value,
        );
    }
}

fn project_cases(b: &mut Builder) {
    let nsid = "fund.greenlight.project";
    text_cases(b, nsid, "name", 1000, Some(100), true);
    text_cases(b, nsid, "description", 30000, Some(3000), false);
    uri_cases(b, nsid, "repository");
    uri_cases(b, nsid, "website");
    did_cases(b);
    currency_cases(b, nsid, "currency");
    b.remove(
        nsid,
        "currency absent (defaults to USD)",
        Some(true),
        "currency",
    );
    b.set(nsid, "website null", Some(false), "website", Value::Null);
    b.set(
        nsid,
        "maintainers null",
        Some(false),
        "maintainers",
        Value::Null,
    );
}

fn proposal_cases(b: &mut Builder) {
    let nsid = "fund.greenlight.proposal";
    text_cases(b, nsid, "title", 1200, Some(120), true);
    text_cases(b, nsid, "body", 100_000, Some(10_000), false);
    let tag = |s: &str| json!(s);
    b.set(
        nsid,
        "tags: ten",
        Some(true),
        "tags",
        json!((0..10).map(|i| format!("t{i}")).collect::<Vec<_>>()),
    );
    b.set(
        nsid,
        "tags: eleven",
        Some(false),
        "tags",
        json!((0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()),
    );
    b.set(nsid, "tags: empty list", Some(true), "tags", json!([]));
    b.set(
        nsid,
        "tags: empty tag",
        Some(false),
        "tags",
        json!(["ok", ""]),
    );
    b.set(
        nsid,
        "tags: 64 graphemes",
        Some(true),
        "tags",
        json!([tag(&"🎉".repeat(64))]),
    );
    b.set(
        nsid,
        "tags: 65 graphemes",
        Some(false),
        "tags",
        json!([tag(&"x".repeat(65))]),
    );
    b.set(
        nsid,
        "tags: 641 bytes",
        Some(false),
        "tags",
        json!([tag(&"€".repeat(213).to_string())]),
    );
    b.set(nsid, "tags: a string", Some(false), "tags", json!("ui"));
    b.set(nsid, "tags: null", Some(false), "tags", Value::Null);
    b.set(
        nsid,
        "tags: with a number",
        Some(false),
        "tags",
        json!(["ui", 3]),
    );
    b.set(
        nsid,
        "tags: nested array",
        Some(false),
        "tags",
        json!([["ui"]]),
    );

    // The subject union: a strongRef or #repository, open to other members.
    let project = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.project/greenlight";
    let cases: Vec<(&str, Value, Option<bool>)> = vec![
        (
            "strongRef",
            json!({ "$type": "com.atproto.repo.strongRef", "uri": project, "cid": CID }),
            Some(true),
        ),
        (
            "strongRef#main",
            json!({ "$type": "com.atproto.repo.strongRef#main", "uri": project, "cid": CID }),
            Some(true),
        ),
        (
            "lex:strongRef",
            json!({ "$type": "lex:com.atproto.repo.strongRef", "uri": project, "cid": CID }),
            None,
        ),
        (
            "strongRef without $type",
            json!({ "uri": project, "cid": CID }),
            Some(false),
        ),
        (
            "strongRef with bad cid",
            json!({ "$type": "com.atproto.repo.strongRef", "uri": project, "cid": "x" }),
            Some(false),
        ),
        (
            "strongRef with https uri",
            json!({ "$type": "com.atproto.repo.strongRef", "uri": "https://x.com", "cid": CID }),
            Some(false),
        ),
        (
            "repository",
            json!({ "$type": "fund.greenlight.proposal#repository", "url": "https://github.com/a/b" }),
            Some(true),
        ),
        (
            "repository without url",
            json!({ "$type": "fund.greenlight.proposal#repository" }),
            Some(false),
        ),
        (
            "repository with bad url",
            json!({ "$type": "fund.greenlight.proposal#repository", "url": "github.com/a/b" }),
            Some(false),
        ),
        (
            "repository with extra field",
            json!({ "$type": "fund.greenlight.proposal#repository", "url": "https://g.com/a", "stars": 5 }),
            Some(true),
        ),
        (
            "bare #repository $type",
            json!({ "$type": "#repository", "url": "https://github.com/a/b" }),
            Some(false),
        ),
        (
            "unknown member",
            json!({ "$type": "org.example.forge#repo", "id": "anything" }),
            Some(true),
        ),
        (
            "unknown member, garbage",
            json!({ "$type": "x", "n": [1, { "y": null }] }),
            Some(true),
        ),
        (
            "empty $type",
            json!({ "$type": "", "url": "https://github.com/a/b" }),
            None,
        ),
        (
            "$type with two fragments",
            json!({ "$type": "fund.greenlight.proposal#a#b" }),
            Some(false),
        ),
        (
            "$type a number",
            json!({ "$type": 5, "url": "https://github.com/a/b" }),
            Some(false),
        ),
        (
            "record's own NSID as member",
            json!({ "$type": "fund.greenlight.proposal" }),
            None,
        ),
        ("a string", json!("https://github.com/a/b"), Some(false)),
        (
            "an array",
            json!([{ "$type": "fund.greenlight.proposal#repository" }]),
            Some(false),
        ),
        (
            "a typed blob",
            json!({ "$type": "blob", "ref": { "$link": CID }, "mimeType": "text/plain", "size": 3 }),
            Some(false),
        ),
        (
            "$type blob, not a blob",
            json!({ "$type": "blob", "ref": "x" }),
            None,
        ),
    ];
    for (what, value, intended) in cases {
        b.set(
            nsid,
            &format!("subject: {what}"),
            intended,
            "subject",
            value,
        );
    }
}

fn status_cases(b: &mut Builder) {
    let nsid = "fund.greenlight.status";
    let stages: Vec<(&str, Value, Option<bool>)> = vec![
        (
            "development without note",
            json!({ "$type": "fund.greenlight.status#development", "goal": 5000, "currency": "USD" }),
            Some(true),
        ),
        (
            "development without goal",
            json!({ "$type": "fund.greenlight.status#development", "currency": "USD" }),
            Some(false),
        ),
        (
            "development goal float",
            json!({ "$type": "fund.greenlight.status#development", "goal": 50.5, "currency": "USD" }),
            Some(false),
        ),
        (
            "development goal zero",
            json!({ "$type": "fund.greenlight.status#development", "goal": 0, "currency": "USD" }),
            Some(false),
        ),
        (
            "development goal too large",
            json!({ "$type": "fund.greenlight.status#development", "goal": 100_000_000_001_i64, "currency": "USD" }),
            Some(false),
        ),
        (
            "development currency too long",
            json!({ "$type": "fund.greenlight.status#development", "goal": 5, "currency": "EURO" }),
            Some(false),
        ),
        (
            "development note too many graphemes",
            json!({ "$type": "fund.greenlight.status#development", "goal": 5, "currency": "EUR", "note": "n".repeat(3001) }),
            Some(false),
        ),
        (
            "development note null",
            json!({ "$type": "fund.greenlight.status#development", "goal": 5, "currency": "EUR", "note": null }),
            Some(false),
        ),
        (
            "preview",
            json!({ "$type": "fund.greenlight.status#preview", "url": "https://p.example", "instructions": "Try it.", "endsAt": "2025-04-01T00:00:00Z" }),
            Some(true),
        ),
        (
            "preview bad endsAt",
            json!({ "$type": "fund.greenlight.status#preview", "url": "https://p.example", "instructions": "Try it.", "endsAt": "next week" }),
            Some(false),
        ),
        (
            "preview bad url",
            json!({ "$type": "fund.greenlight.status#preview", "url": "p.example", "instructions": "Try it.", "endsAt": "2025-04-01T00:00:00Z" }),
            Some(false),
        ),
        (
            "preview missing instructions",
            json!({ "$type": "fund.greenlight.status#preview", "url": "https://p.example", "endsAt": "2025-04-01T00:00:00Z" }),
            Some(false),
        ),
        (
            "release",
            json!({ "$type": "fund.greenlight.status#release", "sourceUrl": "https://g.com/a/b", "license": "MIT" }),
            Some(true),
        ),
        (
            "release empty revision",
            json!({ "$type": "fund.greenlight.status#release", "sourceUrl": "https://g.com/a/b", "license": "MIT", "revision": "" }),
            Some(false),
        ),
        (
            "release license too long",
            json!({ "$type": "fund.greenlight.status#release", "sourceUrl": "https://g.com/a/b", "license": "L".repeat(129) }),
            Some(false),
        ),
        (
            "release missing license",
            json!({ "$type": "fund.greenlight.status#release", "sourceUrl": "https://g.com/a/b" }),
            Some(false),
        ),
        (
            "decline",
            json!({ "$type": "fund.greenlight.status#decline", "reason": "No." }),
            Some(true),
        ),
        (
            "decline empty reason",
            json!({ "$type": "fund.greenlight.status#decline", "reason": "" }),
            Some(false),
        ),
        (
            "decline reason of one combining mark",
            json!({ "$type": "fund.greenlight.status#decline", "reason": "\u{301}" }),
            Some(true),
        ),
        (
            "decline via lex: prefix",
            json!({ "$type": "lex:fund.greenlight.status#decline", "reason": "No." }),
            None,
        ),
        (
            "decline via lex: prefix, invalid",
            json!({ "$type": "lex:fund.greenlight.status#decline", "reason": "" }),
            Some(false),
        ),
        ("without $type", json!({ "reason": "No." }), Some(false)),
        (
            "$type null",
            json!({ "$type": null, "reason": "No." }),
            Some(false),
        ),
        (
            "unknown member",
            json!({ "$type": "fund.greenlight.status#paused", "until": "later" }),
            Some(true),
        ),
        (
            "unknown member from elsewhere",
            json!({ "$type": "com.example.stage", "x": 1 }),
            Some(true),
        ),
        (
            "bare fragment $type",
            json!({ "$type": "#decline", "reason": "No." }),
            Some(false),
        ),
        (
            "two fragments",
            json!({ "$type": "fund.greenlight.status#decline#x", "reason": "No." }),
            Some(false),
        ),
        ("a string", json!("development"), Some(false)),
        ("null", Value::Null, Some(false)),
        ("an empty object", json!({}), Some(false)),
    ];
    for (what, value, intended) in stages {
        b.set(nsid, &format!("stage: {what}"), intended, "stage", value);
    }
    amount_cases(b, status_in_development, nsid, "stage.goal");
    datetime_cases(b, status_in_preview, nsid, "stage.endsAt");
}

fn pledge_cases(b: &mut Builder) {
    let nsid = "fund.greenlight.pledge";
    let cases: Vec<(&str, Value, Option<bool>)> = vec![
        ("empty", json!(""), Some(false)),
        ("128 bytes", json!("r".repeat(128)), Some(true)),
        ("129 bytes", json!("r".repeat(129)), Some(false)),
        ("43 × € (129 bytes)", json!("€".repeat(43)), Some(false)),
        ("a number", json!(12345), Some(false)),
        ("an object", json!({ "id": "x" }), Some(false)),
    ];
    for (what, value, intended) in cases {
        b.set(nsid, &format!("receipt {what}"), intended, "receipt", value);
    }
}

fn dispute_cases(b: &mut Builder) {
    let nsid = "fund.greenlight.dispute";
    text_cases(b, nsid, "reason", 30000, Some(3000), true);
    let links: Vec<String> = (0..11)
        .map(|i| format!("https://example.com/e/{i}"))
        .collect();
    b.set(
        nsid,
        "evidence: ten links",
        Some(true),
        "evidence",
        json!(links[..10]),
    );
    b.set(
        nsid,
        "evidence: eleven links",
        Some(false),
        "evidence",
        json!(links),
    );
    b.set(
        nsid,
        "evidence: bad link",
        Some(false),
        "evidence",
        json!(["https://ok.example", "not a link"]),
    );
    b.set(nsid, "evidence: null", Some(false), "evidence", Value::Null);
    b.set(
        nsid,
        "evidence: object",
        Some(false),
        "evidence",
        json!({ "0": "https://ok.example" }),
    );
    b.set(nsid, "evidence: empty", Some(true), "evidence", json!([]));
    b.set(
        nsid,
        "evidence: long link",
        Some(false),
        "evidence",
        json!([format!("https://e.com/{}", "z".repeat(2040))]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_deterministic_and_large() {
        let a = corpus();
        let b = corpus();
        assert!(a.len() >= 300, "only {} cases", a.len());
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.name, y.name);
            assert_eq!(x.record, y.record);
        }
        let mut names: Vec<&str> = a.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        let total = names.len();
        names.dedup();
        assert_eq!(names.len(), total, "case names must be unique");
    }
}
