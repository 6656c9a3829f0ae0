//! Currencies: ISO 4217 codes and the one table of the currencies Greenlight handles money in.
//!
//! Every part of Greenlight that turns an amount into minor units or back (the CLI, escrow,
//! the AppView's pages, the indexer's record rules, the estimate cap) reads this table, so a
//! yen is never mistaken for a cent in one place and not another.
//!
//! # The table
//!
//! | Code | Minor-unit exponent | Symbol | Newcomer floor (major units) |
//! |------|--------------------:|--------|-----------------------------:|
//! | AED  | 2 |      | 90 |
//! | AUD  | 2 | A$   | 40 |
//! | BHD  | 3 |      | 10 |
//! | BRL  | 2 | R$   | 150 |
//! | CAD  | 2 | CA$  | 35 |
//! | CHF  | 2 |      | 20 |
//! | CLP  | 0 |      | 25 000 |
//! | CNY  | 2 | CN¥  | 180 |
//! | COP  | 2 |      | 100 000 |
//! | CZK  | 2 |      | 500 |
//! | DKK  | 2 |      | 150 |
//! | EGP  | 2 |      | 1 250 |
//! | EUR  | 2 | €    | 25 |
//! | GBP  | 2 | £    | 20 |
//! | HKD  | 2 | HK$  | 200 |
//! | HUF  | 2 |      | 8 000 |
//! | IDR  | 2 |      | 400 000 |
//! | ILS  | 2 | ₪    | 80 |
//! | INR  | 2 | ₹    | 2 000 |
//! | IQD  | 3 |      | 33 000 |
//! | ISK  | 0 |      | 3 000 |
//! | JOD  | 3 |      | 18 |
//! | JPY  | 0 | ¥    | 4 000 |
//! | KES  | 2 |      | 3 200 |
//! | KRW  | 0 | ₩    | 35 000 |
//! | KWD  | 3 |      | 8 |
//! | LYD  | 3 |      | 135 |
//! | MXN  | 2 | MX$  | 500 |
//! | MYR  | 2 |      | 110 |
//! | NGN  | 2 |      | 40 000 |
//! | NOK  | 2 |      | 250 |
//! | NZD  | 2 | NZ$  | 45 |
//! | OMR  | 3 |      | 10 |
//! | PEN  | 2 |      | 90 |
//! | PHP  | 2 | ₱    | 1 400 |
//! | PKR  | 2 |      | 7 000 |
//! | PLN  | 2 |      | 100 |
//! | PYG  | 0 |      | 200 000 |
//! | QAR  | 2 |      | 90 |
//! | RON  | 2 |      | 100 |
//! | SAR  | 2 |      | 95 |
//! | SEK  | 2 |      | 250 |
//! | SGD  | 2 |      | 35 |
//! | THB  | 2 |      | 800 |
//! | TND  | 3 |      | 75 |
//! | TRY  | 2 |      | 1 000 |
//! | TWD  | 2 | NT$  | 800 |
//! | UAH  | 2 |      | 1 000 |
//! | UGX  | 0 |      | 90 000 |
//! | USD  | 2 | $    | 25 |
//! | VND  | 0 | ₫    | 650 000 |
//! | XAF  | 0 |      | 15 000 |
//! | XOF  | 0 |      | 15 000 |
//! | ZAR  | 2 |      | 450 |
//!
//! - *Exponent*: the number of decimals of the minor unit, as ISO 4217 lists it (the unit
//!   records and escrow count in: cents for USD, whole yen for JPY, fils for BHD).
//! - *Symbol*: the English (CLDR) symbol, only where it is common and unambiguous; the
//!   AppView writes `CHF 30` for a currency without one.
//! - *Newcomer floor*: the most an estimate by someone who never contributed counts for
//!   ([`crate::estimate_cap`]), in major units: about US$25 rounded to a number people
//!   use, at 2025 rates. It is fixed, not converted live: caps are derived by a pure
//!   function from records alone, so the same records must always give the same cap.
//!
//! # Codes not in the table
//!
//! A well-formed code that is not in the table (`XYZ`, or a real currency we do not list)
//! is a [`Currency`] but is not [supported](Currency::supported): nobody knows where its
//! decimal point goes, so no money moves in it.
//! - [`Currency::info`], [`Currency::exponent`], [`Currency::symbol`] and
//!   [`Currency::newcomer_floor_minor`] are `None`;
//! - [`Currency::parse_major`] refuses it ([`AmountError::UnsupportedCurrency`]), so the
//!   CLI cannot write such an amount; escrow refuses payments in it and the indexer refuses
//!   records in it;
//! - [`Currency::format_minor`] stays total and writes the count of minor units as a whole
//!   number (no decimal point is invented);
//! - the estimate cap stays total because [`crate::derive`] must accept any input: there,
//!   and only there, such a currency gets the old uniform floor of 2 500 minor units
//!   (25.00 at two decimals). The indexer never stores such a record, so this only applies
//!   to input that bypassed it.
//!
//! # Amounts
//!
//! Amounts are `i64` minor units. [`Currency::parse_major`] reads what a person types
//! (`12.50`) and [`Currency::format_minor`] writes it back, with exact integer arithmetic.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// An ISO 4217 alphabetic code: exactly three ASCII uppercase letters, e.g. `USD`.
///
/// Stored inline so it is `Copy` and comparisons are exact; `usd` is not `USD` because the
/// lexicon requires the canonical form and money must never be matched loosely. A well-formed
/// code need not be in the table: see [`Currency::supported`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

/// Why a string is not a currency code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not an ISO 4217 currency code (three uppercase letters): {0:?}")]
pub struct InvalidCurrency(pub String);

/// What Greenlight knows about one currency it handles money in: a row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CurrencyInfo {
    /// The ISO 4217 code.
    pub currency: Currency,
    /// Decimals of the minor unit (ISO 4217): 2 for USD, 0 for JPY, 3 for BHD.
    pub exponent: u32,
    /// The common symbol written before the amount (`$`, `€`), if there is one.
    pub symbol: Option<&'static str>,
    /// The newcomer estimate-cap floor in major units (25 for USD, 4 000 for JPY).
    pub newcomer_floor_major: i64,
}

impl CurrencyInfo {
    /// Every supported currency, sorted by code.
    pub fn all() -> &'static [CurrencyInfo] {
        TABLE
    }

    /// The newcomer floor in minor units (2 500 for USD, 4 000 for JPY, 10 000 for BHD).
    pub fn newcomer_floor_minor(&self) -> i64 {
        // The table's values are small (a test checks they fit); saturating keeps it total.
        self.newcomer_floor_major
            .saturating_mul(10_i64.saturating_pow(self.exponent))
    }
}

const fn row(
    code: &[u8; 3],
    exponent: u32,
    symbol: Option<&'static str>,
    newcomer_floor_major: i64,
) -> CurrencyInfo {
    CurrencyInfo {
        currency: Currency(*code),
        exponent,
        symbol,
        newcomer_floor_major,
    }
}

/// The table documented in the module doc, sorted by code (lookups binary-search it; a test
/// checks the order and that the doc matches).
const TABLE: &[CurrencyInfo] = &[
    row(b"AED", 2, None, 90),
    row(b"AUD", 2, Some("A$"), 40),
    row(b"BHD", 3, None, 10),
    row(b"BRL", 2, Some("R$"), 150),
    row(b"CAD", 2, Some("CA$"), 35),
    row(b"CHF", 2, None, 20),
    row(b"CLP", 0, None, 25_000),
    row(b"CNY", 2, Some("CN¥"), 180),
    row(b"COP", 2, None, 100_000),
    row(b"CZK", 2, None, 500),
    row(b"DKK", 2, None, 150),
    row(b"EGP", 2, None, 1_250),
    row(b"EUR", 2, Some("€"), 25),
    row(b"GBP", 2, Some("£"), 20),
    row(b"HKD", 2, Some("HK$"), 200),
    row(b"HUF", 2, None, 8_000),
    row(b"IDR", 2, None, 400_000),
    row(b"ILS", 2, Some("₪"), 80),
    row(b"INR", 2, Some("₹"), 2_000),
    row(b"IQD", 3, None, 33_000),
    row(b"ISK", 0, None, 3_000),
    row(b"JOD", 3, None, 18),
    row(b"JPY", 0, Some("¥"), 4_000),
    row(b"KES", 2, None, 3_200),
    row(b"KRW", 0, Some("₩"), 35_000),
    row(b"KWD", 3, None, 8),
    row(b"LYD", 3, None, 135),
    row(b"MXN", 2, Some("MX$"), 500),
    row(b"MYR", 2, None, 110),
    row(b"NGN", 2, None, 40_000),
    row(b"NOK", 2, None, 250),
    row(b"NZD", 2, Some("NZ$"), 45),
    row(b"OMR", 3, None, 10),
    row(b"PEN", 2, None, 90),
    row(b"PHP", 2, Some("₱"), 1_400),
    row(b"PKR", 2, None, 7_000),
    row(b"PLN", 2, None, 100),
    row(b"PYG", 0, None, 200_000),
    row(b"QAR", 2, None, 90),
    row(b"RON", 2, None, 100),
    row(b"SAR", 2, None, 95),
    row(b"SEK", 2, None, 250),
    row(b"SGD", 2, None, 35),
    row(b"THB", 2, None, 800),
    row(b"TND", 3, None, 75),
    row(b"TRY", 2, None, 1_000),
    row(b"TWD", 2, Some("NT$"), 800),
    row(b"UAH", 2, None, 1_000),
    row(b"UGX", 0, None, 90_000),
    row(b"USD", 2, Some("$"), 25),
    row(b"VND", 0, Some("₫"), 650_000),
    row(b"XAF", 0, None, 15_000),
    row(b"XOF", 0, None, 15_000),
    row(b"ZAR", 2, None, 450),
];

/// Why a typed amount cannot become minor units.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AmountError {
    /// The currency is not in the table, so where its decimal point goes is unknown.
    #[error("{0} is not a currency Greenlight handles money in")]
    UnsupportedCurrency(Currency),
    /// Not digits with at most one decimal point.
    #[error(
        "not an amount: {0:?} (write digits with an optional decimal point, e.g. 25 or 12.50)"
    )]
    Malformed(String),
    /// A minus sign: amounts people pay or estimate are never negative.
    #[error("the amount must not be negative: {0:?}")]
    Negative(String),
    /// More decimals than the currency's minor unit has; rounding would change what was meant.
    #[error("{text:?} has too many decimals: {currency} {}", allowed_decimals(*.allowed))]
    TooManyDecimals {
        /// What was typed.
        text: String,
        /// The currency.
        currency: Currency,
        /// Its minor-unit exponent.
        allowed: u32,
    },
    /// More minor units than an `i64` holds.
    #[error("{text:?} is too large an amount of {currency}")]
    TooLarge {
        /// What was typed.
        text: String,
        /// The currency.
        currency: Currency,
    },
}

fn allowed_decimals(exponent: u32) -> String {
    match exponent {
        0 => "has no minor unit: write a whole number".to_owned(),
        1 => "takes at most 1 decimal".to_owned(),
        n => format!("takes at most {n} decimals"),
    }
}

/// How [`Currency::format_minor_with`] writes a number. The default is
/// [`Currency::format_minor`]'s plain `1234.50`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AmountStyle {
    /// Put this between groups of three whole digits (`1,234.50`).
    pub group_separator: Option<char>,
    /// Leave out a fraction that is all zeros (`1,240` rather than `1,240.00`).
    pub drop_zero_fraction: bool,
}

impl Currency {
    /// US dollars, the lexicon's default currency.
    pub const USD: Currency = Currency(*b"USD");

    /// Parses a three-letter uppercase code; anything else is an error. The code need not be
    /// in the table ([`Currency::supported`]).
    pub fn parse(code: &str) -> Result<Self, InvalidCurrency> {
        match code.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => {
                Ok(Currency([*a, *b, *c]))
            }
            _ => Err(InvalidCurrency(code.to_owned())),
        }
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII uppercase letters are ever stored, so this cannot fail; the fallback keeps
        // the function total without a panic path.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// The currency's row of the table, or `None` if Greenlight does not handle it.
    pub fn info(self) -> Option<&'static CurrencyInfo> {
        TABLE
            .binary_search_by(|row| row.currency.cmp(&self))
            .ok()
            .and_then(|i| TABLE.get(i))
    }

    /// Whether money may be handled in this currency (it is in the table).
    pub fn supported(self) -> bool {
        self.info().is_some()
    }

    /// Decimals of the minor unit (ISO 4217), if supported.
    pub fn exponent(self) -> Option<u32> {
        self.info().map(|info| info.exponent)
    }

    /// The common symbol (`$`, `¥`), if supported and it has one.
    pub fn symbol(self) -> Option<&'static str> {
        self.info().and_then(|info| info.symbol)
    }

    /// The newcomer estimate-cap floor in this currency's minor units, if supported.
    pub fn newcomer_floor_minor(self) -> Option<i64> {
        self.info().map(CurrencyInfo::newcomer_floor_minor)
    }

    /// Reads an amount in major units as people write it (`25`, `12.50`, `1.234` for BHD)
    /// into minor units. Only ASCII digits and one optional decimal point with digits on both
    /// sides are accepted: no sign, spaces or group separators. Refuses more decimals than the
    /// currency has (never rounds), negative amounts, amounts past `i64::MAX` minor units and
    /// currencies not in the table. Zero is accepted; callers that need a positive amount
    /// check for it.
    pub fn parse_major(self, text: &str) -> Result<i64, AmountError> {
        let info = self.info().ok_or(AmountError::UnsupportedCurrency(self))?;
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (unsigned, ""),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let has_point = unsigned.len() != whole.len();
        if !digits(whole) || (has_point && !digits(fraction)) {
            return Err(AmountError::Malformed(text.to_owned()));
        }
        if negative {
            return Err(AmountError::Negative(text.to_owned()));
        }
        let exponent = info.exponent as usize;
        if fraction.len() > exponent {
            return Err(AmountError::TooManyDecimals {
                text: text.to_owned(),
                currency: self,
                allowed: info.exponent,
            });
        }
        // Shift the decimal point right by `exponent`: the whole digits, the fraction's, then
        // zeros for the decimals not written. Digit by digit, so no float and no overflow.
        let padding = std::iter::repeat_n(b'0', exponent - fraction.len());
        let mut minor: i64 = 0;
        for digit in whole.bytes().chain(fraction.bytes()).chain(padding) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(digit - b'0')))
                .ok_or_else(|| AmountError::TooLarge {
                    text: text.to_owned(),
                    currency: self,
                })?;
        }
        Ok(minor)
    }

    /// Writes minor units in major units with every decimal of the minor unit: `12.50` for
    /// 1250 USD, `1500` for 1500 JPY, `1.234` for 1234 BHD, `-0.05` for -5 USD. No symbol or
    /// code; [`Currency::parse_major`] reads any non-negative result back to the same amount.
    ///
    /// A currency not in the table is written as its whole count of minor units: nobody knows
    /// where its decimal point goes, and guessing would misstate the amount.
    pub fn format_minor(self, minor: i64) -> String {
        self.format_minor_with(minor, AmountStyle::default())
    }

    /// [`Currency::format_minor`] with digit grouping and/or a dropped all-zero fraction.
    pub fn format_minor_with(self, minor: i64, style: AmountStyle) -> String {
        let exponent = self.exponent().unwrap_or(0);
        // The table's exponents are at most 3, so the scale always fits.
        let scale = 10_u64.saturating_pow(exponent);
        let abs = minor.unsigned_abs();
        let (whole, fraction) = (abs / scale, abs % scale);

        let digits = whole.to_string();
        let mut out = String::with_capacity(digits.len() * 4 / 3 + exponent as usize + 2);
        if minor < 0 {
            out.push('-');
        }
        for (i, c) in digits.chars().enumerate() {
            if let Some(separator) = style.group_separator {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push(separator);
                }
            }
            out.push(c);
        }
        if exponent > 0 && !(style.drop_zero_fraction && fraction == 0) {
            // Writing to a String cannot fail.
            let _ = write!(out, ".{fraction:0width$}", width = exponent as usize);
        }
        out
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency::USD
    }
}

impl FromStr for Currency {
    type Err = InvalidCurrency;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module doc's table is what people read; it must say what the code does.
    #[test]
    fn the_documented_table_is_the_table() {
        let documented: Vec<(String, u32, Option<String>, i64)> = include_str!("currency.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("//! | "))
            .map(|row| row.split('|').map(str::trim).collect::<Vec<_>>())
            .filter(|cells| cells[0].len() == 3 && cells[0] != "---")
            .filter(|cells| cells[0].bytes().all(|b| b.is_ascii_uppercase()))
            .map(|cells| {
                (
                    cells[0].to_owned(),
                    cells[1].parse().unwrap(),
                    Some(cells[2].to_owned()).filter(|s| !s.is_empty()),
                    cells[3].replace(' ', "").parse().unwrap(),
                )
            })
            .collect();
        let actual: Vec<(String, u32, Option<String>, i64)> = TABLE
            .iter()
            .map(|row| {
                (
                    row.currency.as_str().to_owned(),
                    row.exponent,
                    row.symbol.map(str::to_owned),
                    row.newcomer_floor_major,
                )
            })
            .collect();
        assert_eq!(documented, actual);
    }

    #[test]
    fn the_table_is_sorted_and_unique_so_lookups_find_every_row() {
        assert!(TABLE.windows(2).all(|w| w[0].currency < w[1].currency));
        for row in TABLE {
            assert_eq!(row.currency.info(), Some(row));
        }
    }
}
