//! The `datetime` format.
//!
//! The reference validator is lenient: a string passes when either the strict atproto
//! check passes, or the `iso-datestring-validator` package accepts it. That package
//! accepts more than the spec allows (no timezone, basic format, any separator, text after
//! a second `T`); [`is_valid_datetime`] reproduces it so verdicts agree with the
//! reference, and [`is_valid_datetime_strict`] is the spec's rule for callers that need a
//! parseable RFC 3339 timestamp.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::js_pattern::Pattern;

/// Lexicon `datetime` validity as the reference implementation decides it.
pub fn is_valid_datetime(value: &str) -> bool {
    is_valid_datetime_strict(value) || iso_datestring_valid(value)
}

/// The atproto spec's datetime: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, not `-00:00`,
/// at most 64 characters, a real instant between years 0 and 9999 once the offset is
/// applied (JavaScript `Date` rules: days past the month's end roll over, second 60 is
/// rejected).
pub fn is_valid_datetime_strict(value: &str) -> bool {
    if super::utf16_len(value) > 64 || value.ends_with("-00:00") {
        return false;
    }
    let b = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let slice = b.get(range)?;
        slice.iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return false;
    };
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || b.get(10) != Some(&b'T')
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return false;
    }
    // Ranges of the spec's pattern; the JavaScript `Date` parse then rejects day 0 and
    // second 60.
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    let offset_minutes: i64 = match &b[i..] {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (Some(oh), Some(om)) = (
                digits2(*h1, *h2).filter(|h| *h <= 23),
                digits2(*m1, *m2).filter(|m| *m <= 59),
            ) else {
                return false;
            };
            let total = i64::from(oh * 60 + om);
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return false,
    };
    let local_minutes = days_from_civil(i64::from(year), month, 1) * 1440
        + (i64::from(day) - 1) * 1440
        + i64::from(hour) * 60
        + i64::from(minute);
    let utc_minutes = local_minutes - offset_minutes;
    let first = days_from_civil(0, 1, 1) * 1440;
    let past_last = days_from_civil(10_000, 1, 1) * 1440;
    (first..past_last).contains(&utc_minutes)
}

fn digits2(a: u8, b: u8) -> Option<u32> {
    (a.is_ascii_digit() && b.is_ascii_digit())
        .then(|| u32::from(a - b'0') * 10 + u32::from(b - b'0'))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// JavaScript's `str.split(/[+-]/)`-style helpers work on UTF-16 code units, as the
/// emulated library does.
fn utf16(value: &str) -> Vec<u16> {
    value.encode_utf16().collect()
}

fn is_digit(u: u16) -> bool {
    (u16::from(b'0')..=u16::from(b'9')).contains(&u)
}

/// The first non-digit code unit (`/\D/`), as pattern text; empty when there is none.
fn first_non_digit(units: &[u16]) -> Vec<u16> {
    units
        .iter()
        .find(|u| !is_digit(**u))
        .map(|u| vec![*u])
        .unwrap_or_default()
}

/// Compiled patterns by source text; separators come from the input, so the set is open
/// but in practice tiny.
fn compiled(source: &[u16]) -> Option<Pattern> {
    static CACHE: OnceLock<Mutex<HashMap<Vec<u16>, Option<Pattern>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = match cache.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(found) = guard.get(source) {
        return found.clone();
    }
    let text = String::from_utf16_lossy(source);
    let pattern = Pattern::new(&text).ok();
    // Inputs choose the separators; bound the cache so hostile input cannot grow it.
    if guard.len() < 256 {
        guard.insert(source.to_vec(), pattern.clone());
    }
    pattern
}

/// Builds a pattern from pieces joined by a separator; `Err` when JavaScript would throw.
fn pattern_with(pieces: &[&str], separator: &[u16]) -> Result<Pattern, ()> {
    let mut source: Vec<u16> = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            source.extend_from_slice(separator);
        }
        source.extend(piece.encode_utf16());
    }
    compiled(&source).ok_or(())
}

const DATE_PIECES: &[&str] = &[
    "^(?!0{4}",
    "0{2}",
    "0{2})((?=[0-9]{4}",
    "(((0[^2])|1[0-2])|02(?=",
    "(([0-1][0-9])|2[0-8])))",
    "[0-9]{2})|(?=((([13579][26])|([2468][048])|(0[48]))0{2})|([0-9]{2}((((0|[2468])[48])|[2468][048])|([13579][26])))",
    "02",
    "29))([0-9]{4})",
    "(?!((0[469])|11)",
    "31)((0[1,3-9]|1[0-2])|(02(?!",
    "3)))",
    "(0[1-9]|[1-2][0-9]|3[0-1])$",
];

const TIME_PIECES: &[&str] = &[
    "^([0-1]|2(?=([0-3])|4",
    "00))[0-9]",
    "[0-5][0-9](",
    "([0-5]|6(?=0))[0-9])?(.[0-9]{1,9})?$",
];

const POSITIVE_OFFSET_PIECES: &[&str] = &[
    "^(0(?!(2",
    "4)|0",
    "3)|1(?=([0-1]|2(?=",
    "[04])|[34](?=",
    "0))))([03469](?=",
    "[03])|[17](?=",
    "0)|2(?=",
    "[04])|5(?=",
    "[034])|8(?=",
    "[04]))",
    "([03](?=0)|4(?=5))[05]$",
];

const NEGATIVE_OFFSET_PIECES: &[&str] = &[
    "^(0(?=[^0])|1(?=[0-2]))([39](?=",
    "[03])|[0-24-8](?=",
    "00))",
    "[03]0$",
];

/// `isValidISODateString` of `iso-datestring-validator` 2.2.2; a thrown error counts as
/// invalid, as the reference catches it.
fn iso_datestring_valid(value: &str) -> bool {
    iso_datestring(value).unwrap_or(false)
}

fn iso_datestring(value: &str) -> Result<bool, ()> {
    let units = utf16(value);
    let mut parts = units.split(|u| *u == u16::from(b'T'));
    let date = parts.next().unwrap_or_default();
    let time = parts.next();
    let date_ok = pattern_with(DATE_PIECES, &first_non_digit(date))?.test(date);
    let Some(time) = time.filter(|t| !t.is_empty()) else {
        return Ok(false);
    };
    let separator = time_separator(time);
    Ok(date_ok && time_valid(time, &separator)?)
}

/// `/([^Z+\-\d])(?=\d+\1)/`: the first character (not a digit, `Z`, `+` or `-`) that is
/// followed by digits and then itself.
fn time_separator(time: &[u16]) -> Vec<u16> {
    let special = |u: u16| u == u16::from(b'Z') || u == u16::from(b'+') || u == u16::from(b'-');
    for (i, &c) in time.iter().enumerate() {
        if is_digit(c) || special(c) {
            continue;
        }
        let digits = time[i + 1..].iter().take_while(|u| is_digit(**u)).count();
        if digits > 0 && time.get(i + 1 + digits) == Some(&c) {
            return vec![c];
        }
    }
    Vec::new()
}

fn time_valid(time: &[u16], separator: &[u16]) -> Result<bool, ()> {
    let pattern = pattern_with(TIME_PIECES, separator)?;
    let z = u16::from(b'Z');
    let is_sign = |u: &u16| *u == u16::from(b'+') || *u == u16::from(b'-');
    if !time.iter().any(|u| *u == z || is_sign(u)) {
        return Ok(pattern.test(time));
    }
    if time.last() == Some(&z) {
        // `replace("Z", "")` removes the first `Z` only.
        let mut without = time.to_vec();
        if let Some(first_z) = without.iter().position(|u| *u == z) {
            without.remove(first_z);
        }
        return Ok(pattern.test(&without));
    }
    let positive = time.contains(&u16::from(b'+'));
    let mut pieces = time.split(is_sign);
    let clock = pieces.next().unwrap_or_default();
    let offset = pieces.next().unwrap_or_default();
    let offset_pieces = if positive {
        POSITIVE_OFFSET_PIECES
    } else {
        NEGATIVE_OFFSET_PIECES
    };
    let offset_pattern = pattern_with(offset_pieces, &first_non_digit(offset))?;
    Ok(pattern.test(clock) && offset_pattern.test(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_datetimes() {
        for ok in [
            "2024-01-01T12:00:00Z",
            "1985-04-12T23:20:50.123Z",
            "1985-04-12T23:20:50.123456789123Z",
            "1985-04-12T23:20:50.123+01:45",
            "2023-02-31T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.9999Z",
        ] {
            assert!(is_valid_datetime_strict(ok), "{ok}");
        }
        for bad in [
            "2024-01-01T12:00:00",
            "2024-01-01T12:00:60Z",
            "2024-01-00T00:00:00Z",
            "2024-01-01t12:00:00Z",
            "1985-04-12T23:20:50.123-00:00",
            "0000-01-01T00:30:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2024-01-01T12:00:00.Z",
            "2024-01-01 12:00:00Z",
        ] {
            assert!(!is_valid_datetime_strict(bad), "{bad}");
        }
    }

    #[test]
    fn lenient_matches_reference_quirks() {
        // Verdicts observed from the reference implementation.
        let cases = [
            ("2024-01-01T12:00:00", true),
            ("2024-01-01T12:00", false),
            ("20240101T120000Z", true),
            ("2024/01/01T12:00:00Z", true),
            ("2024-0,-15T12:00:00Z", true),
            ("2024-01-01T12:00:00+01:30", true),
            ("2024-01-01T12:00:00+05:30", true),
            ("2024-01-01T24:00:00Z", true),
            ("2024-01-01T12:00:00x123Z", true),
            ("2023-02-29T00:00:00Z", true),
            ("2023-02-29T00:00:00", false),
            ("1985-04-12T23:20:50.1234567891", false),
            ("2024-01-01t12:00:00Z", false),
            ("2024-01-01T12:00:00-00:00", false),
            ("2024-01-01T12:00:00+00:00", true),
            ("2024-01-01T12:00:00ZTfoo", true),
            ("2024-01-01T12:00:60Z", true),
            ("2024-01-01T12:00:00.Z", false),
            ("2024-01-00T00:00:00Z", false),
            ("2024(01(15T12:00:00Z", false),
            ("2024|01|15T12:00:00Z", true),
            ("2024.01.15T12.00.00Z", true),
        ];
        for (input, expected) in cases {
            assert_eq!(is_valid_datetime(input), expected, "{input}");
        }
    }

    #[test]
    fn days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
