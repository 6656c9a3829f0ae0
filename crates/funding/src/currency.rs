//! ISO 4217 currency codes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// An ISO 4217 alphabetic code: exactly three ASCII uppercase letters, e.g. `USD`.
///
/// Stored inline so it is `Copy` and comparisons are exact; `usd` is not `USD` because the
/// lexicon requires the canonical form and money must never be matched loosely.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

/// Why a string is not a currency code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not an ISO 4217 currency code (three uppercase letters): {0:?}")]
pub struct InvalidCurrency(pub String);

impl Currency {
    /// US dollars, the lexicon's default currency.
    pub const USD: Currency = Currency(*b"USD");

    /// Parses a three-letter uppercase code; anything else is an error.
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
