//! How results are shown: sentences for people, one JSON document for scripts (`--json`).

use greenlight_funding::Currency;
use serde_json::Value;

/// The output mode.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Print JSON instead of sentences.
    pub json: bool,
}

impl Output {
    /// Prints `human` or, with `--json`, `data`.
    pub fn emit(&self, human: &str, data: &Value) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(data).unwrap_or_else(|_| data.to_string())
            );
        } else {
            println!("{human}");
        }
    }

    /// Prints an error the same way (to stderr).
    pub fn error(&self, error: &anyhow::Error) {
        if self.json {
            // Library calls fail with the library's error, the CLI's own with `CliError`.
            let xrpc = error
                .downcast_ref::<crate::error::CliError>()
                .and_then(crate::error::CliError::xrpc_error)
                .or_else(|| {
                    error
                        .downcast_ref::<greenlight_client::ClientError>()
                        .and_then(greenlight_client::ClientError::xrpc_error)
                });
            let body = serde_json::json!({ "error": xrpc.unwrap_or("Error"), "message": format!("{error:#}") });
            eprintln!("{body}");
        } else {
            eprintln!("error: {error:#}");
        }
    }
}

/// Formats minor units as an amount with every decimal of the currency's minor unit, from
/// the funding crate's table: `2500 USD` → `25.00 USD`, `1000 KRW` → `1000 KRW`,
/// `1234 BHD` → `1.234 BHD`. A code not in the table (or not a code) is written as its count
/// of minor units, since where its decimal point goes is unknown.
pub fn money(amount: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(code) => format!("{} {code}", code.format_minor(amount)),
        Err(_) => format!("{amount} {currency}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_formatted_from_minor_units() {
        assert_eq!(money(2500, "USD"), "25.00 USD");
        assert_eq!(money(5, "EUR"), "0.05 EUR");
        assert_eq!(money(-120, "USD"), "-1.20 USD");
        assert_eq!(money(300, "JPY"), "300 JPY");
    }

    #[test]
    fn money_uses_each_currencys_decimals() {
        assert_eq!(money(1000, "KRW"), "1000 KRW");
        assert_eq!(money(25000, "CLP"), "25000 CLP");
        assert_eq!(money(1234, "BHD"), "1.234 BHD");
        assert_eq!(money(5, "KWD"), "0.005 KWD");
        assert_eq!(money(3000, "CHF"), "30.00 CHF");
        assert_eq!(money(i64::MIN, "USD"), "-92233720368547758.08 USD");
        // Unknown decimals: the bare count of minor units, not a guess.
        assert_eq!(money(1500, "XYZ"), "1500 XYZ");
        assert_eq!(money(1500, "dollars"), "1500 dollars");
    }
}
