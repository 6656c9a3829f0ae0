//! Opaque keyset cursors: the sort key and URI of the last item of a page.
//!
//! A page continues strictly after `(key, uri)` in the listing's order, so items inserted
//! while a client pages never shift what it has not seen yet (no duplicates, no skips of
//! items that existed). The cursor is `base64url("<sort>.<key>.<uri>")`: opaque to clients,
//! and anything that does not decode to the listing's own sort is `InvalidRequest`.
//!
//! [`Keyset`] is the one implementation of such a listing's page for every list method: the
//! condition after the cursor, the order, one row more than the limit, and the next cursor.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use greenlight_xrpc::XrpcError;
use sqlx::{Postgres, QueryBuilder};

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

/// What a listing's sort key is, and so how a cursor's key is bound and a row's key read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// An integer (an amount).
    Integer,
    /// A `timestamptz`, carried as microseconds.
    Time,
    /// A `real` (a search rank), carried as its bits so it compares exactly.
    Rank,
}

/// A keyset-paginated listing, largest key first, ties broken by URI (largest first).
#[derive(Debug, Clone, Copy)]
pub struct Keyset {
    /// The listing's name in its cursors (a sort order of one method, or the method).
    pub name: &'static str,
    /// What the sort key is.
    pub key: Key,
    /// The SQL expression of the sort key.
    pub key_sql: &'static str,
    /// The SQL expression of the item's URI.
    pub uri_sql: &'static str,
}

/// Where a page of a [`Keyset`] listing continues: strictly after this sort key and URI.
#[derive(Debug, Clone, PartialEq)]
pub struct After {
    key: Bound,
    uri: String,
}

/// A cursor's key as the listing's SQL compares it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bound {
    Integer(i64),
    Time(chrono::DateTime<chrono::Utc>),
    Rank(f32),
}

impl Keyset {
    /// Decodes a cursor of this listing (`None` for the first page); a key this listing
    /// cannot hold is as malformed as a cursor that does not decode.
    pub fn decode(&self, cursor: Option<&str>) -> Result<Option<After>, XrpcError> {
        let Some(cursor) = cursor else {
            return Ok(None);
        };
        let Cursor { key, uri } = decode(self.name, cursor)?;
        let key = match self.key {
            Key::Integer => Bound::Integer(key),
            Key::Time => Bound::Time(moment(key)?),
            Key::Rank => Bound::Rank(rank(key)?),
        };
        Ok(Some(After { key, uri }))
    }

    /// Appends the condition that continues strictly after `after` (when given), the order,
    /// and a limit of one row more than `limit`, which tells [`Keyset::page`] whether more
    /// follow.
    pub fn push_page(
        &self,
        sql: &mut QueryBuilder<'_, Postgres>,
        after: Option<After>,
        limit: i64,
    ) {
        let (key_sql, uri_sql) = (self.key_sql, self.uri_sql);
        if let Some(After { key, uri }) = after {
            sql.push(format_args!(" AND ({key_sql}, {uri_sql}) < ("));
            match key {
                Bound::Integer(key) => sql.push_bind(key),
                Bound::Time(at) => sql.push_bind(at),
                Bound::Rank(rank) => sql.push_bind(rank).push("::real"),
            };
            sql.push(", ").push_bind(uri).push(")");
        }
        sql.push(format_args!(
            " ORDER BY {key_sql} DESC, {uri_sql} DESC LIMIT "
        ))
        .push_bind(limit + 1);
    }

    /// Keeps the first `limit` of `rows` (fetched as [`Keyset::push_page`] asks), with the
    /// cursor after the last of them when more rows follow. `position` gives a row's sort key
    /// (as a cursor carries it) and URI.
    pub fn page<T>(
        &self,
        mut rows: Vec<T>,
        limit: i64,
        position: impl Fn(&T) -> (i64, &str),
    ) -> (Vec<T>, Option<String>) {
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let next = if more {
            rows.last().and_then(|row| {
                let (key, uri) = position(row);
                encode(self.name, key, uri)
            })
        } else {
            None
        };
        (rows, next)
    }
}

/// The search rank a cursor's key carries: the bits of the `f32` Postgres computed.
fn rank(key: i64) -> Result<f32, XrpcError> {
    let malformed = || XrpcError::InvalidRequest("malformed cursor".into());
    let rank = f32::from_bits(u32::try_from(key).map_err(|_| malformed())?);
    rank.is_finite().then_some(rank).ok_or_else(malformed)
}

/// A search rank as a cursor's key.
pub fn rank_key(rank: f32) -> i64 {
    i64::from(rank.to_bits())
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
    fn a_keyset_page_stops_at_the_limit_and_continues_after_its_last_row() {
        let top = Keyset {
            name: "top",
            key: Key::Integer,
            key_sql: "s.total",
            uri_sql: "s.uri",
        };
        let rows: Vec<(i64, String)> = (1..=3)
            .rev()
            .map(|k| (k, format!("at://did:plc:a/x/{k}")))
            .collect();
        fn position((key, uri): &(i64, String)) -> (i64, &str) {
            (*key, uri)
        }
        let (page, next) = top.page(rows.clone(), 2, position);
        assert_eq!(page.len(), 2);
        let after = top.decode(next.as_deref()).unwrap();
        let mut sql = QueryBuilder::<Postgres>::new("SELECT s.uri FROM s WHERE true");
        top.push_page(&mut sql, after, 2);
        assert_eq!(
            sql.sql(),
            "SELECT s.uri FROM s WHERE true AND (s.total, s.uri) < ($1, $2) \
             ORDER BY s.total DESC, s.uri DESC LIMIT $3"
        );
        assert_eq!(
            top.page(rows, 3, position).1,
            None,
            "the last page has no cursor"
        );
    }

    #[test]
    fn keys_a_listing_cannot_hold_are_malformed_cursors() {
        let uri = "at://did:plc:a/x/y";
        let time = Keyset {
            name: "new",
            key: Key::Time,
            key_sql: "s.created_at",
            uri_sql: "s.uri",
        };
        assert!(time
            .decode(encode("new", i64::MAX, uri).as_deref())
            .is_err());
        let search = Keyset {
            name: "search",
            key: Key::Rank,
            key_sql: "rank",
            uri_sql: "s.uri",
        };
        for key in [-1, i64::from(u32::MAX) + 1, i64::from(f32::NAN.to_bits())] {
            let cursor = encode("search", key, uri);
            assert!(search.decode(cursor.as_deref()).is_err(), "{key}");
        }
        let cursor = encode("search", rank_key(0.5), uri);
        assert!(search.decode(cursor.as_deref()).unwrap().is_some());
    }

    #[test]
    fn too_long_uris_give_no_cursor() {
        assert!(encode("new", 1, &format!("at://{}", "a".repeat(600))).is_none());
    }
}
