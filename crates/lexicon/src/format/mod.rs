//! Syntax checks for the lexicon string formats, following the atproto specs and accepting
//! exactly what the reference implementation (`@atproto/lexicon` with `@atproto/syntax`)
//! accepts.

mod cid;
mod datetime;
mod js_pattern;

pub use cid::is_valid_cid;
pub use datetime::{is_valid_datetime, is_valid_datetime_strict};

use crate::schema::StringFormat;

/// Whether `value` is valid for `format`, as lexicon validation decides it.
pub fn is_valid(format: StringFormat, value: &str) -> bool {
    match format {
        StringFormat::Datetime => is_valid_datetime(value),
        StringFormat::Uri => is_valid_uri(value),
        StringFormat::AtUri => is_valid_at_uri(value),
        StringFormat::Did => is_valid_did(value),
        StringFormat::Handle => is_valid_handle(value),
        StringFormat::AtIdentifier => is_valid_at_identifier(value),
        StringFormat::Nsid => is_valid_nsid(value),
        StringFormat::Cid => is_valid_cid(value),
        StringFormat::Language => is_valid_language(value),
        StringFormat::Tid => is_valid_tid(value),
        StringFormat::RecordKey => is_valid_record_key(value),
    }
}

/// Length as JavaScript counts it (UTF-16 code units): the reference's length limits on
/// identifiers are written in these units.
fn utf16_len(value: &str) -> usize {
    value.chars().map(char::len_utf16).sum()
}

/// A DID: `did:<lower-case method>:<identifier>`, ASCII only, at most 2048 characters, not
/// ending in `:` or `%`.
pub fn is_valid_did(value: &str) -> bool {
    if value.len() > 2048 {
        return false;
    }
    let Some(rest) = value.strip_prefix("did:") else {
        return false;
    };
    let Some((method, identifier)) = rest.split_once(':') else {
        return false;
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    let allowed =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-');
    match identifier.as_bytes().last() {
        None | Some(b':') | Some(b'%') => false,
        Some(_) => identifier.bytes().all(allowed),
    }
}

/// A handle: a domain name of at least two labels, each 1–63 of `[A-Za-z0-9-]` not
/// starting or ending with `-`, the last starting with a letter; at most 253 characters.
pub fn is_valid_handle(value: &str) -> bool {
    if value.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = value.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let last = labels.len() - 1;
    labels.iter().enumerate().all(|(i, label)| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= 63
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-'
            && (i != last || bytes[0].is_ascii_alphabetic())
    })
}

/// A DID (when it starts with `did:`) or else a handle.
pub fn is_valid_at_identifier(value: &str) -> bool {
    if value.starts_with("did:") {
        is_valid_did(value)
    } else {
        !value.is_empty() && is_valid_handle(value)
    }
}

/// An NSID: a reversed domain authority of at least two labels and a name segment of
/// letters and digits starting with a letter; 5–317 characters.
pub fn is_valid_nsid(value: &str) -> bool {
    if value.len() > 317 || value.len() < 5 {
        return false;
    }
    let segments: Vec<&[u8]> = value.split('.').map(str::as_bytes).collect();
    if segments.len() < 3 {
        return false;
    }
    let last = segments.len() - 1;
    segments.iter().enumerate().all(|(i, seg)| {
        if seg.is_empty() || seg.len() > 63 {
            return false;
        }
        if i == last {
            seg[0].is_ascii_alphabetic() && seg.iter().all(u8::is_ascii_alphanumeric)
        } else {
            let first_ok = if i == 0 {
                seg[0].is_ascii_alphabetic()
            } else {
                seg[0].is_ascii_alphanumeric()
            };
            first_ok
                && seg[seg.len() - 1].is_ascii_alphanumeric()
                && seg.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
    })
}

/// A TID: 13 characters of base32-sortable, the first one keeping the top bit clear.
pub fn is_valid_tid(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 13
        && matches!(bytes[0], b'2'..=b'7' | b'a'..=b'j')
        && bytes[1..]
            .iter()
            .all(|b| matches!(b, b'2'..=b'7' | b'a'..=b'z'))
}

/// A record key: 1–512 of `[A-Za-z0-9_~.:-]`, but not `.` or `..`.
pub fn is_valid_record_key(value: &str) -> bool {
    (1..=512).contains(&value.len())
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'~' | b'.' | b':' | b'-'))
}

/// JavaScript's `\s`: the reference's URI check is a JS regular expression.
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// A URI: `scheme:` then an optional `//` and a non-empty rest without whitespace that
/// does not start with `/`.
pub fn is_valid_uri(value: &str) -> bool {
    let scheme_len = value
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    if scheme_len == 0 || value.as_bytes().get(scheme_len) != Some(&b':') {
        return false;
    }
    let rest = &value[scheme_len + 1..];
    if rest.chars().any(is_js_whitespace) {
        return false;
    }
    let first_after = |s: &str| s.chars().next().is_some_and(|c| c != '/');
    // The `//` is optional in the reference pattern, so either reading may match.
    first_after(rest) || rest.strip_prefix("//").is_some_and(first_after)
}

/// Characters allowed anywhere in an at-uri.
fn is_at_uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'.' | b'_'
                | b'~'
                | b':'
                | b'@'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b'%'
                | b'/'
                | b'\\'
                | b'['
                | b']'
                | b'#'
                | b'?'
                | b'-'
        )
}

/// An at-uri: `at://<did or handle>[/<collection nsid>[/<record key>]][#<json pointer>]`,
/// with no query and no trailing slash; at most 8192 characters.
pub fn is_valid_at_uri(value: &str) -> bool {
    if value.len() > 8192 || !value.bytes().all(is_at_uri_char) {
        return false;
    }
    let Some(rest) = value.strip_prefix("at://") else {
        return false;
    };
    let segment_end = |s: &str| s.find(['/', '?', '#']).unwrap_or(s.len());
    let authority_end = segment_end(rest);
    let authority = &rest[..authority_end];
    if authority.is_empty() || !is_valid_at_identifier(authority) {
        return false;
    }
    let mut rest = &rest[authority_end..];
    let mut segments = Vec::with_capacity(2);
    while segments.len() < 2 {
        let Some(after_slash) = rest.strip_prefix('/') else {
            break;
        };
        let end = segment_end(after_slash);
        if end == 0 {
            break;
        }
        segments.push(&after_slash[..end]);
        rest = &after_slash[end..];
    }
    // Whatever follows the path may only be a fragment: a trailing slash or a query is
    // rejected in strict mode, and anything else does not match the pattern at all.
    let fragment = match rest.as_bytes().first() {
        None => None,
        Some(b'#') => Some(&rest[1..]),
        Some(_) => return false,
    };
    if let Some(collection) = segments.first() {
        if !is_valid_nsid(collection) {
            return false;
        }
    }
    if let Some(fragment) = fragment {
        if !is_valid_json_pointer(fragment) {
            return false;
        }
    }
    match segments.get(1) {
        Some(rkey) => is_valid_record_key(rkey),
        None => true,
    }
}

/// The fragment of an at-uri: `/`, a restricted character set, and percent-encoding that
/// decodes to UTF-8.
fn is_valid_json_pointer(fragment: &str) -> bool {
    let bytes = fragment.as_bytes();
    if bytes.first() != Some(&b'/') {
        return false;
    }
    let allowed = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'.' | b'_'
                    | b'~'
                    | b':'
                    | b'@'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b')'
                    | b'('
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
                    | b'['
                    | b']'
                    | b'/'
                    | b'-'
            )
    };
    bytes.iter().all(|b| allowed(*b)) && percent_decodes(bytes)
}

/// Whether JavaScript's `decodeURIComponent` accepts the text: every `%` starts two hex
/// digits, and the escaped bytes form valid UTF-8 sequences.
fn percent_decodes(bytes: &[u8]) -> bool {
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: u8| (b as char).to_digit(16);
            match (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            ) {
                (Some(hi), Some(lo)) => decoded.push((hi * 16 + lo) as u8),
                _ => return false,
            }
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

/// Grandfathered BCP 47 tags, matched case-sensitively as the reference does.
const GRANDFATHERED_LANGUAGE_TAGS: &[&str] = &[
    "en-GB-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-BE-FR",
    "sgn-BE-NL",
    "sgn-CH-DE",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

/// A well-formed BCP 47 language tag (RFC 5646 §2.1 syntax; registry not consulted).
pub fn is_valid_language(value: &str) -> bool {
    if GRANDFATHERED_LANGUAGE_TAGS.contains(&value) {
        return true;
    }
    let subtags: Vec<&[u8]> = value.split('-').map(str::as_bytes).collect();
    let alpha = |s: &[u8]| s.iter().all(u8::is_ascii_alphabetic);
    let alnum = |s: &[u8]| s.iter().all(u8::is_ascii_alphanumeric);
    let private_use_tail = |rest: &[&[u8]]| {
        !rest.is_empty() && rest.iter().all(|s| (1..=8).contains(&s.len()) && alnum(s))
    };
    let is_x = |s: &[u8]| s == b"x" || s == b"X";

    if is_x(subtags[0]) {
        return private_use_tail(&subtags[1..]);
    }
    let language = subtags[0];
    if !alpha(language) || !(2..=8).contains(&language.len()) {
        return false;
    }
    let mut i = 1;
    if language.len() <= 3 {
        let mut extlangs = 0;
        while extlangs < 3 && subtags.get(i).is_some_and(|s| s.len() == 3 && alpha(s)) {
            extlangs += 1;
            i += 1;
        }
    }
    if subtags.get(i).is_some_and(|s| s.len() == 4 && alpha(s)) {
        i += 1;
    }
    if subtags.get(i).is_some_and(|s| {
        (s.len() == 2 && alpha(s)) || (s.len() == 3 && s.iter().all(u8::is_ascii_digit))
    }) {
        i += 1;
    }
    while subtags.get(i).is_some_and(|s| {
        ((5..=8).contains(&s.len()) && alnum(s))
            || (s.len() == 4 && s[0].is_ascii_digit() && alnum(s))
    }) {
        i += 1;
    }
    while let Some(singleton) = subtags.get(i) {
        if singleton.len() != 1 || !singleton[0].is_ascii_alphanumeric() || is_x(singleton) {
            break;
        }
        let mut j = i + 1;
        while subtags
            .get(j)
            .is_some_and(|s| (2..=8).contains(&s.len()) && alnum(s))
        {
            j += 1;
        }
        if j == i + 1 {
            return false;
        }
        i = j;
    }
    match subtags.get(i) {
        None => true,
        Some(s) if is_x(s) => private_use_tail(&subtags[i + 1..]),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dids() {
        for ok in [
            "did:plc:z72i7hdynmk6r22z27h6tvur",
            "did:web:example.com",
            "did:method:val:two",
            "did:m:v%20",
        ] {
            assert!(is_valid_did(ok), "{ok}");
        }
        for bad in [
            "did:plc:",
            "did:PLC:abc",
            "DID:plc:abc",
            "did:plc",
            "did:plc:ab%",
            "did:plc:a b",
            "did::abc",
            "did:plc:é",
        ] {
            assert!(!is_valid_did(bad), "{bad}");
        }
    }

    #[test]
    fn handles_and_nsids() {
        assert!(is_valid_handle("alice.bsky.social"));
        assert!(is_valid_handle("4chan.org"));
        assert!(!is_valid_handle("alice"));
        assert!(!is_valid_handle("alice.4com"));
        assert!(!is_valid_handle("-a.com"));
        assert!(!is_valid_handle("a..com"));
        assert!(is_valid_nsid("fund.greenlight.project"));
        assert!(is_valid_nsid("com.atproto.repo.strongRef"));
        assert!(!is_valid_nsid("fund.greenlight"));
        assert!(!is_valid_nsid("fund.greenlight.pro-ject"));
        assert!(!is_valid_nsid("1und.greenlight.project"));
        assert!(!is_valid_nsid("fund.greenlight.1project"));
    }

    #[test]
    fn at_uris() {
        for ok in [
            "at://did:plc:abc/fund.greenlight.proposal/3jzfcijpj2z2a",
            "at://alice.test",
            "at://alice.test/fund.greenlight.proposal",
            "at://did:plc:abc/fund.greenlight.proposal/self#/title",
        ] {
            assert!(is_valid_at_uri(ok), "{ok}");
        }
        for bad in [
            "https://example.com",
            "at://did:plc:abc/",
            "at://did:plc:abc/fund.greenlight.proposal/rkey/",
            "at://did:plc:abc/fund.greenlight.proposal/a/b",
            "at://did:plc:abc/notnsid/rkey",
            "at://did:plc:abc/fund.greenlight.proposal/..",
            "at://did:plc:abc?q=1",
            "at://did:plc:abc/fund.greenlight.proposal/x#frag",
            "at://did:plc:abc/fund.greenlight.proposal/x#/%ff",
            "at://",
        ] {
            assert!(!is_valid_at_uri(bad), "{bad}");
        }
    }

    #[test]
    fn uris_tids_rkeys_languages() {
        assert!(is_valid_uri("https://github.com/a/b"));
        assert!(is_valid_uri("mailto:a@b.c"));
        assert!(!is_valid_uri("https:///x"));
        assert!(!is_valid_uri("not a uri"));
        assert!(!is_valid_uri("github.com/a/b"));
        assert!(is_valid_tid("3jzfcijpj2z2a"));
        assert!(!is_valid_tid("kjzfcijpj2z2a"));
        assert!(is_valid_record_key("self"));
        assert!(!is_valid_record_key(".."));
        assert!(!is_valid_record_key("a/b"));
        for ok in [
            "en",
            "en-US",
            "zh-Hant-TW",
            "sgn-BE-FR",
            "x-private",
            "de-CH-1996",
            "en-a-bbb-x-ccc",
        ] {
            assert!(is_valid_language(ok), "{ok}");
        }
        for bad in [
            "",
            "e",
            "en-",
            "en--US",
            "toolonglanguage",
            "en-US-Latn",
            "en-a",
        ] {
            assert!(!is_valid_language(bad), "{bad}");
        }
        assert_eq!(utf16_len("a😀"), 3);
    }
}
