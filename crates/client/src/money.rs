//! Amounts people type, on the command line or in a form. The currency table, and how a
//! major-unit amount becomes minor units, live in `greenlight-funding` so the CLI, escrow,
//! the AppView and the indexer agree on every currency's decimals; this adds only what a
//! person acting on money must give: a positive amount.

use greenlight_funding::Currency;

use crate::error::ClientError;

/// Reads a positive amount typed in major units of `currency` (`25`, `12.50`, `1000` for
/// KRW, `1.234` for BHD) into the minor units records and escrow count in.
///
/// Refuses codes not in the funding crate's table (their decimals are unknown), more
/// decimals than the currency has, negative or zero amounts and anything past `i64`.
pub fn minor_units(text: &str, currency: &str) -> Result<i64, ClientError> {
    let currency =
        Currency::parse(currency).map_err(|err| ClientError::InvalidArgument(err.to_string()))?;
    let amount = currency
        .parse_major(text.trim())
        .map_err(|err| ClientError::InvalidArgument(err.to_string()))?;
    // A zero pledge or estimate says nothing; the lexicons and escrow want a positive amount.
    if amount == 0 {
        return Err(ClientError::InvalidArgument(
            "the amount must be positive".into(),
        ));
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str, currency: &str) -> String {
        match minor_units(text, currency) {
            Err(ClientError::InvalidArgument(message)) => message,
            other => panic!("{text:?} {currency}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn amounts_become_minor_units() {
        assert_eq!(minor_units("25", "USD").unwrap(), 2500);
        assert_eq!(minor_units("12.5", "EUR").unwrap(), 1250);
        assert_eq!(minor_units("0.01", "USD").unwrap(), 1);
        assert_eq!(minor_units("300", "JPY").unwrap(), 300);
        assert_eq!(minor_units(" 20 ", "GBP").unwrap(), 2000);
        assert!(minor_units("1.234", "USD").is_err());
        assert!(minor_units("1.5", "JPY").is_err());
        assert!(minor_units("-3", "USD").is_err());
        assert!(minor_units("0", "USD").is_err());
        assert!(minor_units("ten", "USD").is_err());
        assert!(minor_units("99999999999999999999", "USD").is_err());
    }

    #[test]
    fn every_currency_uses_its_own_decimals() {
        // The bug this fixes: 1000 KRW went out as 100000 minor units (1 000.00 won).
        assert_eq!(minor_units("1000", "KRW").unwrap(), 1000);
        assert_eq!(minor_units("25000", "CLP").unwrap(), 25000);
        assert_eq!(minor_units("3000", "ISK").unwrap(), 3000);
        assert_eq!(minor_units("1.234", "BHD").unwrap(), 1234);
        assert_eq!(minor_units("10", "KWD").unwrap(), 10_000);
        assert_eq!(minor_units("12.50", "CHF").unwrap(), 1250);
        assert!(refusal("1.5", "KRW").contains("KRW has no minor unit"));
        assert!(refusal("1.2345", "BHD").contains("at most 3 decimals"));
    }

    #[test]
    fn currencies_without_known_decimals_are_refused() {
        assert!(refusal("10", "XYZ").contains("XYZ is not a currency Greenlight handles"));
        assert!(refusal("10", "usd").contains("not an ISO 4217 currency code"));
        assert!(refusal("10", "dollars").contains("not an ISO 4217 currency code"));
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        assert!(refusal("ten", "USD").contains("not an amount: \"ten\""));
        assert!(refusal("-3", "USD").contains("must not be negative"));
        assert!(refusal("0", "USD").contains("must be positive"));
        assert!(refusal("99999999999999999999", "USD").contains("too large"));
    }
}
