//! Escrow's settings, from the environment (see the README's configuration table).

use chrono::Duration;

use crate::fee::DEFAULT_FEE_BASIS_POINTS;

/// Which payment provider escrow uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderChoice {
    /// The sandbox: no real money.
    Sandbox,
    /// Stripe, with its API base and keys.
    Stripe(crate::provider::stripe::StripeConfig),
}

/// Escrow's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Escrow's DID: the `aud` service-auth tokens must name.
    pub service_did: String,
    /// Where escrow is reachable (checkout pages, webhooks).
    pub public_url: String,
    /// The published platform fee in basis points.
    pub fee_basis_points: u32,
    /// How long backers may dispute after a release.
    pub verification_period: Duration,
    /// How long after the preview ends a release may still come before everyone is refunded.
    pub release_grace: Duration,
    /// The operators' credential (HTTP Basic password for user `admin`).
    pub admin_password: String,
    /// The sandbox's webhook signing secret.
    pub sandbox_webhook_secret: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            service_did: "did:web:localhost".into(),
            public_url: "http://127.0.0.1:2585".into(),
            fee_basis_points: DEFAULT_FEE_BASIS_POINTS,
            verification_period: Duration::days(14),
            release_grace: Duration::days(7),
            admin_password: String::new(),
            sandbox_webhook_secret: "whsec_sandbox_local".into(),
        }
    }
}

/// A setting that did not parse.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// What is wrong.
    pub problem: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn number<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(value) => value.parse().map_err(|_| ConfigError {
            name,
            problem: format!("not a number: {value:?}"),
        }),
    }
}

impl Config {
    /// Reads the settings from `GREENLIGHT_ESCROW_*` variables, with the defaults above.
    pub fn from_env(bind: &str) -> Result<Config, ConfigError> {
        let defaults = Config::default();
        let public_url =
            var("GREENLIGHT_ESCROW_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}"));
        let fee_basis_points = number("GREENLIGHT_ESCROW_FEE_BPS", defaults.fee_basis_points)?;
        if fee_basis_points > 10_000 {
            return Err(ConfigError {
                name: "GREENLIGHT_ESCROW_FEE_BPS",
                problem: "at most 10000 (100 %)".into(),
            });
        }
        Ok(Config {
            service_did: var("GREENLIGHT_ESCROW_DID")
                .unwrap_or_else(|| default_service_did(&public_url)),
            public_url,
            fee_basis_points,
            verification_period: Duration::seconds(number(
                "GREENLIGHT_ESCROW_VERIFICATION_SECONDS",
                defaults.verification_period.num_seconds(),
            )?),
            release_grace: Duration::seconds(number(
                "GREENLIGHT_ESCROW_RELEASE_GRACE_SECONDS",
                defaults.release_grace.num_seconds(),
            )?),
            admin_password: var("GREENLIGHT_ESCROW_ADMIN_PASSWORD").unwrap_or_default(),
            sandbox_webhook_secret: var("GREENLIGHT_ESCROW_SANDBOX_WEBHOOK_SECRET")
                .unwrap_or(defaults.sandbox_webhook_secret),
        })
    }

    /// The provider named by `GREENLIGHT_ESCROW_PROVIDER` (default `sandbox`).
    pub fn provider_from_env(&self) -> Result<ProviderChoice, ConfigError> {
        match var("GREENLIGHT_ESCROW_PROVIDER").as_deref() {
            None | Some("sandbox") => Ok(ProviderChoice::Sandbox),
            Some("stripe") => {
                let required = |name: &'static str| {
                    var(name).ok_or(ConfigError {
                        name,
                        problem: "required with the stripe provider".into(),
                    })
                };
                Ok(ProviderChoice::Stripe(
                    crate::provider::stripe::StripeConfig {
                        api_base: var("STRIPE_API_BASE")
                            .unwrap_or_else(|| crate::provider::stripe::DEFAULT_API_BASE.into()),
                        secret_key: required("STRIPE_SECRET_KEY")?,
                        publishable_key: var("STRIPE_PUBLISHABLE_KEY").unwrap_or_default(),
                        webhook_secret: required("STRIPE_WEBHOOK_SECRET")?,
                        public_url: self.public_url.clone(),
                    },
                ))
            }
            Some(other) => Err(ConfigError {
                name: "GREENLIGHT_ESCROW_PROVIDER",
                problem: format!("unknown provider {other:?} (sandbox or stripe)"),
            }),
        }
    }
}

/// The did:web a PDS can mint service-auth tokens for: named after the public URL's host, with
/// the port's colon encoded. A loopback address is named `localhost`, because the reference
/// PDS accepts a port in a did:web only on `localhost`.
fn default_service_did(public_url: &str) -> String {
    let authority = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    let authority = match authority.rsplit_once(':') {
        Some(("127.0.0.1" | "[::1]", port)) => format!("localhost:{port}"),
        _ if authority == "127.0.0.1" || authority == "[::1]" => "localhost".to_owned(),
        _ => authority.to_owned(),
    };
    format!("did:web:{}", authority.replace(':', "%3A"))
}

#[cfg(test)]
mod service_did_tests {
    use super::default_service_did;

    #[test]
    fn loopback_is_named_localhost_and_the_port_colon_is_encoded() {
        assert_eq!(
            default_service_did("http://127.0.0.1:2585"),
            "did:web:localhost%3A2585"
        );
        assert_eq!(
            default_service_did("http://[::1]:2585/"),
            "did:web:localhost%3A2585"
        );
        assert_eq!(
            default_service_did("https://escrow.example.com"),
            "did:web:escrow.example.com"
        );
        assert_eq!(
            default_service_did("https://escrow.example.com:8443/x"),
            "did:web:escrow.example.com%3A8443"
        );
    }
}
