//! The atproto interop syntax vectors (CC0, vendored in `tests/fixtures/atproto-interop-tests/`,
//! see its `SOURCE`) against the string-format validators: every valid line passes, every
//! invalid one fails, except the few listed vectors where `format` deliberately gives the
//! verdict of the reference implementation (`@atproto/lexicon`, see `format`'s module docs)
//! rather than the interop files'. The lists are exact, so a new divergence (or a fix) fails.

use greenlight_lexicon::format;

macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/atproto-interop-tests/syntax/",
            $path
        ))
    };
}

/// The vectors of a file: every line but blank ones and `#` comments, kept exactly as written
/// (surrounding spaces are part of some invalid vectors).
fn vectors(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

/// Checks one valid/invalid pair of files, naming every vector that gets the wrong verdict;
/// `known` are the vectors whose verdict differs on purpose.
fn check(
    name: &str,
    valid: &'static str,
    invalid: &'static str,
    is_valid: fn(&str) -> bool,
    known: &[&str],
) {
    let (valid, invalid) = (vectors(valid), vectors(invalid));
    assert!(
        !valid.is_empty() || !invalid.is_empty(),
        "{name}: no vectors"
    );
    let wrong: Vec<String> = valid
        .iter()
        .filter(|v| !is_valid(v))
        .chain(invalid.iter().filter(|v| is_valid(v)))
        .map(|v| v.to_string())
        .collect();
    let known: Vec<String> = known.iter().map(|v| v.to_string()).collect();
    assert_eq!(
        wrong, known,
        "{name}: vectors with another verdict than the files'"
    );
}

#[test]
fn did() {
    check(
        "did",
        fixture!("did_syntax_valid.txt"),
        fixture!("did_syntax_invalid.txt"),
        format::is_valid_did,
        &[],
    );
}

#[test]
fn handle() {
    check(
        "handle",
        fixture!("handle_syntax_valid.txt"),
        fixture!("handle_syntax_invalid.txt"),
        format::is_valid_handle,
        &[],
    );
}

#[test]
fn at_identifier() {
    check(
        "at-identifier",
        fixture!("atidentifier_syntax_valid.txt"),
        fixture!("atidentifier_syntax_invalid.txt"),
        format::is_valid_at_identifier,
        &[],
    );
}

#[test]
fn nsid() {
    check(
        "nsid",
        fixture!("nsid_syntax_valid.txt"),
        fixture!("nsid_syntax_invalid.txt"),
        format::is_valid_nsid,
        &[],
    );
}

#[test]
fn at_uri() {
    check(
        "at-uri",
        fixture!("aturi_syntax_valid.txt"),
        fixture!("aturi_syntax_invalid.txt"),
        format::is_valid_at_uri,
        &[],
    );
}

#[test]
fn tid() {
    check(
        "tid",
        fixture!("tid_syntax_valid.txt"),
        fixture!("tid_syntax_invalid.txt"),
        format::is_valid_tid,
        &[],
    );
}

#[test]
fn record_key() {
    check(
        "record-key",
        fixture!("recordkey_syntax_valid.txt"),
        fixture!("recordkey_syntax_invalid.txt"),
        format::is_valid_record_key,
        &[],
    );
}

#[test]
fn cid() {
    check(
        "cid",
        fixture!("cid_syntax_valid.txt"),
        fixture!("cid_syntax_invalid.txt"),
        format::is_valid_cid,
        // `multiformats`' `CID.parse` reads only base58btc, base32 and base36 and checks the
        // structure; it accepts a CIDv0, which the files call invalid.
        &[
            "mBcDxtdWx0aWhhc2g+",
            "z7x3CtScH765HvShXT",
            "7134036155352661643226414134664076",
            "f017012202c5f688262e0ece8569aa6f94d60aad55ca8d9d83734e4a7430d0cff6588ec2b",
            "QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR",
        ],
    );
}

/// `https://example.com/` and thousands of `x`s (8,220 characters): invalid in the files for its
/// length.
static LONG_URI: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    vectors(fixture!("uri_syntax_invalid.txt"))
        .into_iter()
        .find(|v| v.len() > 8000)
        .expect("the long URI vector")
        .to_owned()
});

#[test]
fn uri() {
    check(
        "uri",
        fixture!("uri_syntax_valid.txt"),
        fixture!("uri_syntax_invalid.txt"),
        format::is_valid_uri,
        // The reference's scheme is `\w+` (no `-` or `.`) and it sets no length limit.
        &[
            "content-type:text/plan",
            "microsoft.windows.camera:thing",
            &LONG_URI,
        ],
    );
}

#[test]
fn language() {
    check(
        "language",
        fixture!("language_syntax_valid.txt"),
        fixture!("language_syntax_invalid.txt"),
        format::is_valid_language,
        // RFC 5646 syntax allows a 4-letter primary subtag and is case-insensitive.
        &["jaja", "JA"],
    );
}

/// The spec's datetime rule (the strict check; the lexicon `datetime` format is deliberately as
/// lenient as the reference validator, see `format::datetime`).
#[test]
fn datetime() {
    check(
        "datetime",
        fixture!("datetime_syntax_valid.txt"),
        fixture!("datetime_syntax_invalid.txt"),
        format::is_valid_datetime_strict,
        &[],
    );
    check(
        "datetime (semantically invalid)",
        "",
        fixture!("datetime_parse_invalid.txt"),
        format::is_valid_datetime_strict,
        &[],
    );
}
