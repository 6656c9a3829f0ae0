//! How amounts, stages and moments read for people on badges, widgets and pages.

use chrono::{DateTime, Utc};
use greenlight_funding::{AmountStyle, Currency};
use greenlight_lexicon::fund::greenlight::defs::ActorRef;

/// How badges and pages write numbers: grouped thousands, no `.00` on whole amounts.
const FOR_PEOPLE: AmountStyle = AmountStyle {
    group_separator: Some(','),
    drop_zero_fraction: true,
};

/// An amount in minor units as people write it: `$1,240`, `$12.50`, `¥1,500`, `CHF 30`.
/// Whole amounts drop their zero cents, which keeps badges short. Decimals and symbols come
/// from the funding crate's currency table; a code not in it is shown as its count of minor
/// units (`XYZ 1,500`), since where its decimal point goes is unknown.
pub fn money(minor: i64, currency: &str) -> String {
    let code = Currency::parse(currency).ok();
    let formatted = code.map_or_else(
        || minor.to_string(),
        |code| code.format_minor_with(minor, FOR_PEOPLE),
    );
    // The sign goes before the symbol: `-$5`, not `$-5`.
    let (sign, number) = match formatted.strip_prefix('-') {
        Some(number) => ("-", number),
        None => ("", formatted.as_str()),
    };
    match code.and_then(Currency::symbol) {
        Some(symbol) => format!("{sign}{symbol}{number}"),
        None => format!("{sign}{currency} {number}"),
    }
}

/// A stage's name for people.
pub fn stage_name(stage: &str) -> &'static str {
    match stage {
        "proposed" => "Proposed",
        "development" => "In development",
        "preview" => "In preview",
        "released" => "Released",
        "declined" => "Declined",
        _ => "Unknown",
    }
}

/// A stage's colour on badges and pills (all pass WCAG AA against white text).
pub fn stage_colour(stage: &str) -> &'static str {
    match stage {
        "proposed" => "#4b5563",
        "development" => "#1d4ed8",
        "preview" => "#a14a00",
        "released" => "#166534",
        "declined" => "#b91c1c",
        _ => "#4b5563",
    }
}

/// A lexicon datetime as a calendar date (`21 Nov 2026`), or the raw text if unparsable.
pub fn date(value: &str) -> String {
    DateTime::parse_from_rfc3339(value)
        .map(|d| d.with_timezone(&Utc).format("%-d %b %Y").to_string())
        .unwrap_or_else(|_| value.to_owned())
}

/// A lexicon datetime with its time (`21 Nov 2026, 14:05 UTC`).
pub fn moment(value: &str) -> String {
    DateTime::parse_from_rfc3339(value)
        .map(|d| {
            d.with_timezone(&Utc)
                .format("%-d %b %Y, %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| value.to_owned())
}

/// Whole days in a duration, for sentences such as "14 days".
pub fn days(duration: std::time::Duration) -> u64 {
    duration.as_secs() / 86_400
}

/// A percentage with two decimals dropped when zero: 500 basis points → `5%`.
pub fn percent(basis_points: u32) -> String {
    if basis_points.is_multiple_of(100) {
        format!("{}%", basis_points / 100)
    } else {
        format!("{}.{:02}%", basis_points / 100, basis_points % 100)
    }
}

/// How a person is named: `@handle` when verified, else their DID.
pub fn actor_name(actor: &ActorRef) -> String {
    match &actor.handle {
        Some(handle) => format!("@{handle}"),
        None => actor.did.clone(),
    }
}

/// How far `part` is toward `whole`, in whole percent from 0 to 100.
pub fn progress(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    let ratio = i128::from(part.max(0)) * 100 / i128::from(whole);
    i64::try_from(ratio.min(100)).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_like_people_write_it() {
        assert_eq!(money(124_000, "USD"), "$1,240");
        assert_eq!(money(500_000_000, "USD"), "$5,000,000");
        assert_eq!(money(1_250, "EUR"), "€12.50");
        assert_eq!(money(3_000, "CHF"), "CHF 30");
        assert_eq!(money(1_500, "JPY"), "¥1,500");
        assert_eq!(money(5, "USD"), "$0.05");
        assert_eq!(money(0, "USD"), "$0");
    }

    #[test]
    fn money_uses_each_currencys_decimals_and_symbol() {
        assert_eq!(money(35_000, "KRW"), "₩35,000");
        assert_eq!(money(25_000, "CLP"), "CLP 25,000");
        assert_eq!(money(3_000, "ISK"), "ISK 3,000");
        assert_eq!(money(1_234, "BHD"), "BHD 1.234");
        assert_eq!(money(10_000, "BHD"), "BHD 10");
        assert_eq!(money(10_050, "KWD"), "KWD 10.050");
        assert_eq!(money(2_500, "GBP"), "£25");
        assert_eq!(money(-1_250, "USD"), "-$12.50");
        assert_eq!(money(-3_000, "CHF"), "-CHF 30");
        assert_eq!(money(i64::MIN, "EUR"), "-€92,233,720,368,547,758.08");
        // Unknown decimals: the count of minor units, never a guessed decimal point.
        assert_eq!(money(1_500, "XYZ"), "XYZ 1,500");
        assert_eq!(money(-1_500, "usd"), "-usd 1500");
    }

    #[test]
    fn progress_is_clamped() {
        assert_eq!(progress(50, 200), 25);
        assert_eq!(progress(500, 200), 100);
        assert_eq!(progress(5, 0), 0);
        assert_eq!(progress(-5, 10), 0);
    }

    #[test]
    fn percents() {
        assert_eq!(percent(500), "5%");
        assert_eq!(percent(250), "2.50%");
    }
}
