//! Opaque keyset cursors: the sort key and URI of the last item of a page.
//!
//! A page continues strictly after `(key, uri)` in the listing's order, so items inserted
//! while a client pages never shift what it has not seen yet (no duplicates, no skips of
//! items that existed). The cursor is `base64url("<sort>.<key>.<uri>")`: opaque to clients,
//! and anything that does not decode to the listing's own sort is `InvalidRequest`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use greenlight_xrpc::XrpcError;

/// Where a page stops: the last item's sort key and URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The sort key (an amount, microseconds, or an `f32`'s bits).
    pub key: i64,
    /// The item's at-uri, which breaks ties.
    pub uri: String,
}

/// Lexicon limit on a cursor's length.
const MAX_CURSOR: usize = 512;

/// Encodes a cursor for the listing sorted by `sort`. Returns `None` when the URI is too
/// long to fit the lexicon's 512-character cursor (then the listing ends there).
pub fn encode(sort: &str, key: i64, uri: &str) -> Option<String> {
    let encoded = URL_SAFE_NO_PAD.encode(format!("{sort}.{key}.{uri}"));
    (encoded.len() <= MAX_CURSOR).then_some(encoded)
}

/// Decodes a cursor the client got from the listing sorted by `sort`.
pub fn decode(sort: &str, cursor: &str) -> Result<Cursor, XrpcError> {
    let invalid = || XrpcError::InvalidRequest("malformed cursor".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, '.');
    let (Some(found), Some(key), Some(uri)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if found != sort {
        return Err(XrpcError::InvalidRequest(
            "cursor belongs to another listing or sort order".into(),
        ));
    }
    let key: i64 = key.parse().map_err(|_| invalid())?;
    let authority = uri
        .strip_prefix("at://")
        .and_then(|rest| rest.split('/').next());
    if authority.is_none_or(str::is_empty)
        || uri.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(invalid());
    }
    Ok(Cursor {
        key,
        uri: uri.to_owned(),
    })
}

/// The moment a time-ordered listing's cursor key names, within years 1–9999: a key far
/// outside what records can hold would only make Postgres reject the bound.
pub fn moment(key: i64) -> Result<chrono::DateTime<chrono::Utc>, XrpcError> {
    const MIN: i64 = -62_135_596_800_000_000; // 0001-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999Z
    (MIN..=MAX)
        .contains(&key)
        .then(|| chrono::DateTime::<chrono::Utc>::from_timestamp_micros(key))
        .flatten()
        .ok_or_else(|| XrpcError::InvalidRequest("malformed cursor".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let c = encode("top", -5, "at://did:plc:a/fund.greenlight.proposal/3k").unwrap();
        assert_eq!(
            decode("top", &c).unwrap(),
            Cursor {
                key: -5,
                uri: "at://did:plc:a/fund.greenlight.proposal/3k".into()
            }
        );
    }

    #[test]
    fn forged_or_foreign_cursors_are_invalid_requests() {
        let c = encode("top", 1, "at://did:plc:a/x/y").unwrap();
        assert!(decode("new", &c).is_err());
        for junk in [
            "",
            "!!!",
            "dG9w",
            "dG9wLnguYXQ6Ly8",
            &URL_SAFE_NO_PAD.encode("top.1.http://x"),
        ] {
            let err = decode("top", junk).unwrap_err();
            assert_eq!(err.name(), "InvalidRequest", "{junk}");
        }
    }

    #[test]
    fn moments_outside_years_1_to_9999_are_invalid() {
        assert!(moment(0).is_ok());
        assert!(moment(-62_135_596_800_000_000).is_ok());
        assert!(moment(-62_135_596_800_000_001).is_err());
        assert!(moment(i64::MIN).is_err());
        assert!(moment(i64::MAX).is_err());
    }

    #[test]
    fn too_long_uris_give_no_cursor() {
        assert!(encode("new", 1, &format!("at://{}", "a".repeat(600))).is_none());
    }
}
