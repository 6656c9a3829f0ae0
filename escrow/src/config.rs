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
    /// The length of a day on the billing calendar retainers are billed by: a real day,
    /// or seconds when a test runs months of periods in a minute.
    pub billing_day: Duration,
    /// The instant the billing calendar's day 2026-01-01 begins (see `billing_clock`).
    pub billing_origin: chrono::DateTime<chrono::Utc>,
    /// The operators' credential (HTTP Basic password for user `admin`).
    pub admin_password: String,
    /// The sandbox's webhook signing secret.
    pub sandbox_webhook_secret: String,
    /// A demo (`GREENLIGHT_ESCROW_DEMO=1` or `--demo`): no real money, published defaults
    /// allowed. Without it escrow refuses a configuration unfit to face the public
    /// ([`Config::startup_check`]).
    pub demo: bool,
}

/// A billing day of `millis` milliseconds: at least 50, so a period still spans many
/// worker ticks, and at most a real day.
fn billing_day(millis: i64) -> Result<Duration, ConfigError> {
    if !(50..=86_400_000).contains(&millis) {
        return Err(ConfigError {
            name: "GREENLIGHT_ESCROW_BILLING_DAY_MILLIS",
            problem: "between 50 and 86400000 (one real day, the default)".into(),
        });
    }
    Ok(Duration::milliseconds(millis))
}

/// The billing calendar's origin, from Unix seconds.
fn billing_origin(seconds: i64) -> Result<chrono::DateTime<chrono::Utc>, ConfigError> {
    chrono::DateTime::from_timestamp(seconds, 0).ok_or_else(|| ConfigError {
        name: "GREENLIGHT_ESCROW_BILLING_ORIGIN_SECONDS",
        problem: "not a time chrono can hold".into(),
    })
}

/// The sandbox's webhook secret when none is set. It is in this repository, so anyone can
/// sign sandbox webhooks with it.
pub const DEFAULT_SANDBOX_WEBHOOK_SECRET: &str = "whsec_sandbox_local";

/// The shortest operator password escrow accepts outside a demo.
pub const MIN_ADMIN_PASSWORD_CHARS: usize = 16;

/// Operator passwords written in this repository (scripts, README, tests): they protect
/// nothing, whatever their length.
const PUBLISHED_PASSWORDS: &[&str] = &[
    "demo-admin",
    "greenlight-demo",
    "operator-secret",
    "admin",
    "password",
];

impl Default for Config {
    fn default() -> Config {
        Config {
            service_did: "did:web:localhost".into(),
            public_url: "http://127.0.0.1:2585".into(),
            fee_basis_points: DEFAULT_FEE_BASIS_POINTS,
            verification_period: Duration::days(14),
            release_grace: Duration::days(7),
            billing_day: Duration::days(1),
            billing_origin: crate::billing_clock::origin(),
            admin_password: String::new(),
            sandbox_webhook_secret: DEFAULT_SANDBOX_WEBHOOK_SECRET.into(),
            demo: false,
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

/// Escrow would face the public with settings that are not fit for it.
#[derive(Debug, thiserror::Error)]
#[error(
    "escrow refuses to start: {}. Fix these, or set GREENLIGHT_ESCROW_DEMO=1 (or pass --demo) \
     to run a demo with no real money",
    .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
)]
pub struct StartupRefused(pub Vec<ConfigError>);

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

/// A yes/no variable: `1`, `true`, `yes`, `on` or their opposites; unset is no.
fn flag(name: &'static str) -> Result<bool, ConfigError> {
    parse_flag(name, var(name).as_deref())
}

fn parse_flag(name: &'static str, value: Option<&str>) -> Result<bool, ConfigError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("0" | "false" | "no" | "off") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some(other) => Err(ConfigError {
            name,
            problem: format!("not a yes/no value: {other:?} (1 or 0)"),
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
            billing_day: billing_day(number(
                "GREENLIGHT_ESCROW_BILLING_DAY_MILLIS",
                defaults.billing_day.num_milliseconds(),
            )?)?,
            billing_origin: billing_origin(number(
                "GREENLIGHT_ESCROW_BILLING_ORIGIN_SECONDS",
                crate::billing_clock::ORIGIN_SECONDS,
            )?)?,
            admin_password: var("GREENLIGHT_ESCROW_ADMIN_PASSWORD").unwrap_or_default(),
            sandbox_webhook_secret: var("GREENLIGHT_ESCROW_SANDBOX_WEBHOOK_SECRET")
                .unwrap_or(defaults.sandbox_webhook_secret),
            demo: flag("GREENLIGHT_ESCROW_DEMO")?,
        })
    }

    /// What makes these settings unfit to face the public, each naming its variable; empty
    /// when they are fit. Outside a demo escrow must move real money (not the sandbox) and
    /// its operators' password must be set, not one published here, and at least
    /// [`MIN_ADMIN_PASSWORD_CHARS`] long.
    pub fn public_problems(&self, provider: &ProviderChoice) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        match provider {
            ProviderChoice::Sandbox => {
                problems.push(ConfigError {
                    name: "GREENLIGHT_ESCROW_PROVIDER",
                    problem: "is sandbox, which moves no real money: set stripe (with \
                              STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET)"
                        .into(),
                });
                if self.sandbox_webhook_secret.is_empty()
                    || self.sandbox_webhook_secret == DEFAULT_SANDBOX_WEBHOOK_SECRET
                {
                    problems.push(ConfigError {
                        name: "GREENLIGHT_ESCROW_SANDBOX_WEBHOOK_SECRET",
                        problem: "is unset or the published default, so anyone can sign \
                                  sandbox webhooks"
                            .into(),
                    });
                }
            }
            ProviderChoice::Stripe(stripe) => {
                if stripe.secret_key.is_empty() {
                    problems.push(ConfigError {
                        name: "STRIPE_SECRET_KEY",
                        problem: "is unset".into(),
                    });
                }
                if stripe.webhook_secret.is_empty() {
                    problems.push(ConfigError {
                        name: "STRIPE_WEBHOOK_SECRET",
                        problem: "is unset, so webhooks cannot be verified".into(),
                    });
                }
            }
        }
        let password = self.admin_password.as_str();
        let problem = if password.is_empty() {
            Some("is unset".to_owned())
        } else if PUBLISHED_PASSWORDS.contains(&password) {
            Some(format!(
                "is {password:?}, a default published with Greenlight"
            ))
        } else if password.chars().count() < MIN_ADMIN_PASSWORD_CHARS {
            Some(format!(
                "is shorter than {MIN_ADMIN_PASSWORD_CHARS} characters"
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            problems.push(ConfigError {
                name: "GREENLIGHT_ESCROW_ADMIN_PASSWORD",
                problem,
            });
        }
        problems
    }

    /// Whether `serve` may start with these settings and `provider`: outside a demo only
    /// without [`Config::public_problems`]; in a demo always, returning what the demo flag
    /// waives so that it can be logged.
    pub fn startup_check(
        &self,
        provider: &ProviderChoice,
    ) -> Result<Vec<ConfigError>, StartupRefused> {
        let problems = self.public_problems(provider);
        if self.demo || problems.is_empty() {
            Ok(problems)
        } else {
            Err(StartupRefused(problems))
        }
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

#[cfg(test)]
mod startup_tests {
    use super::*;
    use crate::provider::stripe::StripeConfig;

    const STRONG: &str = "correct horse battery staple";

    fn stripe() -> ProviderChoice {
        ProviderChoice::Stripe(StripeConfig {
            api_base: crate::provider::stripe::DEFAULT_API_BASE.into(),
            secret_key: "sk_live_x".into(),
            publishable_key: String::new(),
            webhook_secret: "whsec_real".into(),
            public_url: "https://escrow.example".into(),
        })
    }

    fn public(password: &str) -> Config {
        Config {
            admin_password: password.into(),
            ..Config::default()
        }
    }

    fn names(result: Result<Vec<ConfigError>, StartupRefused>) -> Vec<&'static str> {
        match result {
            Ok(waived) => panic!("started, waiving {waived:?}"),
            Err(StartupRefused(problems)) => problems.iter().map(|p| p.name).collect(),
        }
    }

    #[test]
    fn stripe_with_a_strong_password_starts() {
        let waived = public(STRONG).startup_check(&stripe()).unwrap();
        assert!(waived.is_empty(), "{waived:?}");
    }

    #[test]
    fn the_sandbox_is_refused_with_everything_it_lacks_named() {
        // The defaults: sandbox, published webhook secret, no operator password.
        assert_eq!(
            names(Config::default().startup_check(&ProviderChoice::Sandbox)),
            [
                "GREENLIGHT_ESCROW_PROVIDER",
                "GREENLIGHT_ESCROW_SANDBOX_WEBHOOK_SECRET",
                "GREENLIGHT_ESCROW_ADMIN_PASSWORD",
            ]
        );
        // A good secret and password leave only the provider.
        let config = Config {
            sandbox_webhook_secret: "whsec_private".into(),
            ..public(STRONG)
        };
        assert_eq!(
            names(config.startup_check(&ProviderChoice::Sandbox)),
            ["GREENLIGHT_ESCROW_PROVIDER"]
        );
        let empty_secret = Config {
            sandbox_webhook_secret: String::new(),
            ..public(STRONG)
        };
        assert_eq!(
            names(empty_secret.startup_check(&ProviderChoice::Sandbox)),
            [
                "GREENLIGHT_ESCROW_PROVIDER",
                "GREENLIGHT_ESCROW_SANDBOX_WEBHOOK_SECRET"
            ]
        );
    }

    #[test]
    fn stripe_needs_a_set_unpublished_long_enough_password() {
        for password in [
            "",
            "demo-admin",
            "operator-secret",
            "short-but-new",
            "123456789012345",
        ] {
            let refused = public(password).startup_check(&stripe());
            let Err(StartupRefused(problems)) = refused else {
                panic!("{password:?} was accepted");
            };
            assert_eq!(problems.len(), 1, "{password:?}: {problems:?}");
            assert_eq!(problems[0].name, "GREENLIGHT_ESCROW_ADMIN_PASSWORD");
        }
        // Exactly the minimum, counted in characters, is enough.
        assert!(public("1234567890123456").startup_check(&stripe()).is_ok());
        assert!(public("ééééééééééééééé").startup_check(&stripe()).is_err());
        assert!(public("éééééééééééééééé").startup_check(&stripe()).is_ok());
    }

    #[test]
    fn stripe_without_its_secrets_is_refused() {
        let ProviderChoice::Stripe(mut keys) = stripe() else {
            unreachable!()
        };
        keys.secret_key.clear();
        keys.webhook_secret.clear();
        assert_eq!(
            names(public(STRONG).startup_check(&ProviderChoice::Stripe(keys))),
            ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"]
        );
    }

    #[test]
    fn a_demo_starts_anyway_and_reports_what_it_waives() {
        let demo = Config {
            demo: true,
            ..Config::default()
        };
        let waived = demo.startup_check(&ProviderChoice::Sandbox).unwrap();
        assert_eq!(waived.len(), 3);
        assert!(Config {
            demo: true,
            ..public(STRONG)
        }
        .startup_check(&stripe())
        .unwrap()
        .is_empty());
    }

    #[test]
    fn the_demo_flag_is_yes_or_no() {
        let parse = |value| parse_flag("GREENLIGHT_ESCROW_DEMO", value).ok();
        assert_eq!(parse(None), Some(false));
        assert_eq!(parse(Some("1")), Some(true));
        assert_eq!(parse(Some("TRUE")), Some(true));
        assert_eq!(parse(Some("0")), Some(false));
        assert_eq!(parse(Some("off")), Some(false));
        assert_eq!(parse(Some("maybe")), None);
    }

    #[test]
    fn the_refusal_names_every_variable_and_the_way_out() {
        let message = Config::default()
            .startup_check(&ProviderChoice::Sandbox)
            .unwrap_err()
            .to_string();
        for needle in [
            "GREENLIGHT_ESCROW_PROVIDER",
            "GREENLIGHT_ESCROW_SANDBOX_WEBHOOK_SECRET",
            "GREENLIGHT_ESCROW_ADMIN_PASSWORD: is unset",
            "GREENLIGHT_ESCROW_DEMO=1",
            "--demo",
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }
    }
}
