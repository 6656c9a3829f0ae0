//! How results are shown: sentences for people, one JSON document for scripts (`--json`).

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
            let xrpc = error
                .downcast_ref::<crate::error::CliError>()
                .and_then(crate::error::CliError::xrpc_error);
            let body = serde_json::json!({ "error": xrpc.unwrap_or("Error"), "message": format!("{error:#}") });
            eprintln!("{body}");
        } else {
            eprintln!("error: {error:#}");
        }
    }
}

/// Formats minor units as an amount, e.g. `2500 USD` → `25.00 USD` (JPY has no minor unit).
pub fn money(amount: i64, currency: &str) -> String {
    if currency == "JPY" {
        return format!("{amount} {currency}");
    }
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", abs / 100, abs % 100)
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
}
