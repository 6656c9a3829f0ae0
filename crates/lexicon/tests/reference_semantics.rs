//! Semantics of every field type on a synthetic lexicon, with verdicts recorded from the
//! reference implementation (`@atproto/lexicon` 0.7.17, records read with `jsonToLex`).

use greenlight_lexicon::Catalog;
use serde_json::{json, Value};

const DOC: &str = r##"{"lexicon":1,"id":"test.lex.fields","defs":{
 "main":{"type":"record","key":"tid","record":{"type":"object","required":["blob"],"nullable":["note"],
  "properties":{
   "blob":{"type":"blob","accept":["image/*"],"maxSize":1000},
   "bytes":{"type":"bytes","maxLength":4},
   "link":{"type":"cid-link"},
   "any":{"type":"unknown"},
   "flag":{"type":"boolean","const":true},
   "level":{"type":"integer","enum":[1,2,3],"default":1},
   "kind":{"type":"string","enum":["a","b"]},
   "lang":{"type":"string","format":"language"},
   "note":{"type":"string","maxLength":5},
   "choice":{"type":"union","refs":["#a","#b"],"closed":true},
   "items":{"type":"array","minLength":1,"items":{"type":"union","refs":["#a"]}},
   "node":{"type":"ref","ref":"#tree"},
   "tok":{"type":"ref","ref":"#tok"}
  }}},
 "a":{"type":"object","required":["x"],"properties":{"x":{"type":"integer"}}},
 "b":{"type":"object","properties":{"y":{"type":"string"}}},
 "tree":{"type":"object","properties":{"children":{"type":"array","items":{"type":"ref","ref":"#tree"}},"parent":{"type":"ref","ref":"#tree"}}},
 "tok":{"type":"token"}
}}"##;

const BLOB: &str = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy";

/// (fields merged into a valid record, reference verdict)
const CASES: &[(&str, bool)] = &[
    (
        r#"{"blob":{"$type":"blob","ref":{"$link":"bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"},"mimeType":"image/png","size":5000}}"#,
        true,
    ),
    (
        r#"{"blob":{"$type":"blob","ref":{"$link":"bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"},"mimeType":"image/png","size":1.5}}"#,
        true,
    ),
    (
        r#"{"blob":{"$type":"blob","ref":{"$link":"bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"},"mimeType":"image/png","size":1,"extra":1}}"#,
        false,
    ),
    (
        r#"{"blob":{"$type":"blob","ref":"bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy","mimeType":"image/png","size":1}}"#,
        false,
    ),
    (
        r#"{"blob":{"cid":"bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy","mimeType":"image/png"}}"#,
        true,
    ),
    (
        r#"{"blob":{"$type":"blob","ref":{"$link":"nope"},"mimeType":"image/png","size":1}}"#,
        false,
    ),
    (r#"{"blob":null}"#, false),
    (r#"{"bytes":{"$bytes":"AAECAw"}}"#, true),
    (r#"{"bytes":{"$bytes":"AAECAwQ"}}"#, false),
    (r#"{"bytes":{"$bytes":"AAECAw=="}}"#, true),
    (r#"{"bytes":"AAECAw"}"#, false),
    (
        r#"{"link":{"$link":"bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"}}"#,
        true,
    ),
    (
        r#"{"link":{"$link":"bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy","x":1}}"#,
        false,
    ),
    (
        r#"{"link":"bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"}"#,
        false,
    ),
    (r#"{"any":{"a":1}}"#, true),
    (r#"{"any":[1,2]}"#, true),
    (r#"{"any":"s"}"#, false),
    (r#"{"any":null}"#, false),
    (r#"{"any":0}"#, false),
    (r#"{"flag":true}"#, true),
    (r#"{"flag":false}"#, false),
    (r#"{"flag":"true"}"#, false),
    (r#"{"level":2}"#, true),
    (r#"{"level":4}"#, false),
    (r#"{"level":2.0}"#, true),
    (r#"{"level":null}"#, false),
    (r#"{"kind":"a"}"#, true),
    (r#"{"kind":"c"}"#, false),
    (r#"{"lang":"en-GB"}"#, true),
    (r#"{"lang":"english!"}"#, false),
    (r#"{"note":null}"#, true),
    (r#"{"note":"123456"}"#, false),
    (r#"{"choice":{"$type":"test.lex.fields#a","x":1}}"#, true),
    (r#"{"choice":{"$type":"test.lex.fields#c"}}"#, false),
    (r#"{"choice":{"$type":"test.lex.fields#b"}}"#, true),
    (r#"{"choice":{"$type":"test.lex.fields#a"}}"#, false),
    (r#"{"items":[]}"#, false),
    (
        r#"{"items":[{"$type":"test.lex.fields#a","x":1},{"$type":"other.thing"}]}"#,
        true,
    ),
    (r#"{"items":[{"x":1}]}"#, false),
    (
        r#"{"node":{"children":[{"parent":{"children":[]}}]}}"#,
        true,
    ),
    (
        r#"{"node":{"children":[{"parent":{"children":"x"}}]}}"#,
        false,
    ),
    (r#"{"node":[]}"#, true),
    (r#"{"tok":"test.lex.fields#tok"}"#, false),
    (r#"{"tok":{}}"#, false),
];

#[test]
fn field_types_match_reference_verdicts() {
    let catalog = Catalog::from_json_documents([("synthetic", DOC)]).unwrap();
    let base = json!({
        "$type": "test.lex.fields",
        "blob": { "$type": "blob", "ref": { "$link": BLOB }, "mimeType": "image/png", "size": 1 },
    });
    let mut wrong = Vec::new();
    for (fields, expected) in CASES {
        let mut record = base.clone();
        let fields: Value = serde_json::from_str(fields).unwrap();
        for (k, v) in fields.as_object().unwrap() {
            record[k] = v.clone();
        }
        let ours = catalog.validate_record("test.lex.fields", &record);
        if ours.is_ok() != *expected {
            wrong.push(format!("{fields}: reference {expected}, ours {ours:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn xrpc_params_and_bodies() {
    let query = r#"{"lexicon":1,"id":"test.lex.list","defs":{"main":{"type":"query",
        "parameters":{"type":"params","required":["q"],"properties":{
            "q":{"type":"string","maxLength":3},
            "limit":{"type":"integer","minimum":1,"maximum":10,"default":5},
            "tags":{"type":"array","items":{"type":"string"}}}},
        "output":{"encoding":"application/json","schema":{"type":"object","required":["items"],
            "properties":{"items":{"type":"array","items":{"type":"ref","ref":"test.lex.fields#a"}}}}}}}}"#;
    let catalog = Catalog::from_json_documents([("synthetic", DOC), ("query", query)]).unwrap();
    let nsid = "test.lex.list";
    assert!(catalog
        .validate_params(nsid, &json!({ "q": "abc" }))
        .is_ok());
    assert!(catalog
        .validate_params(nsid, &json!({ "q": "abc", "limit": 10, "tags": ["x"] }))
        .is_ok());
    let err = catalog
        .validate_params(nsid, &json!({ "limit": 2 }))
        .unwrap_err();
    assert_eq!(err.path, "$.q");
    assert!(catalog
        .validate_params(nsid, &json!({ "q": "abcd" }))
        .is_err());
    assert!(catalog
        .validate_params(nsid, &json!({ "q": "a", "limit": 11 }))
        .is_err());
    assert!(catalog
        .validate_params(nsid, &json!({ "q": "a", "tags": "x" }))
        .is_err());
    assert!(catalog
        .validate_output(nsid, &json!({ "items": [{ "x": 1 }] }))
        .is_ok());
    let err = catalog
        .validate_output(nsid, &json!({ "items": [{ "x": 1 }, {}] }))
        .unwrap_err();
    assert_eq!(err.path, "$.items[1].x");
    assert!(catalog.validate_output(nsid, &json!("nope")).is_err());
    assert!(
        catalog.validate_input(nsid, &json!({})).is_err(),
        "a query has no input"
    );
    assert!(catalog
        .validate_object("test.lex.fields#a", &json!({ "x": 3 }))
        .is_ok());
    assert!(catalog
        .validate_object("test.lex.fields#a", &json!({ "x": "3" }))
        .is_err());
    assert!(catalog
        .validate_object("test.lex.fields#tok", &json!({}))
        .is_err());
    assert!(catalog
        .validate_object("test.lex.nothing", &json!({}))
        .is_err());
}
