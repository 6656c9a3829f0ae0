//! did:web and handle hosts that point inside our network. Their names are public-looking,
//! so only the addresses they resolve to give them away; the resolver's fetcher is given a
//! host table (`Fetcher::with_hosts`) standing in for a hostile DNS, so no real DNS answer
//! is needed to point a name at 127.0.0.1 or 10.0.0.1. Nothing here connects anywhere:
//! every fetch is refused before a connection is made.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use greenlight_identity::{IdentityError, Resolver, ResolverConfig};
use greenlight_safe_fetch::Fetcher;

fn hostile_dns() -> HashMap<String, Vec<IpAddr>> {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    HashMap::from([
        ("inside.example.com".to_owned(), vec![ip("127.0.0.1")]),
        (
            "metadata.example.com".to_owned(),
            vec![ip("169.254.169.254")],
        ),
        (
            "lan.example.com".to_owned(),
            vec![ip("10.0.0.1"), ip("::1")],
        ),
        ("alice.example.com".to_owned(), vec![ip("127.0.0.1")]),
    ])
}

/// A production resolver (no development setting) whose DNS is [`hostile_dns`].
fn production() -> Resolver {
    let config = ResolverConfig {
        request_timeout: Duration::from_secs(2),
        ..ResolverConfig::default()
    };
    let fetcher = Fetcher::with_hosts(config.fetch_policy(), hostile_dns()).unwrap();
    Resolver::with_fetcher(config, 100, Arc::new(fetcher))
}

#[tokio::test]
async fn did_web_hosts_resolving_inside_are_refused() {
    let resolver = production();
    for host in [
        "inside.example.com",
        "metadata.example.com",
        "lan.example.com",
    ] {
        let did = format!("did:web:{host}");
        match resolver.resolve_did(&did).await {
            Err(IdentityError::Refused { url, reason }) => {
                assert_eq!(url, format!("https://{host}/.well-known/did.json"));
                assert!(reason.contains("private or reserved"), "{reason}");
            }
            other => panic!("{did}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_handle_host_resolving_to_loopback_is_refused() {
    let resolver = production();
    // The DNS TXT method finds nothing for this name (example.com publishes no _atproto
    // records, or DNS is unreachable here); the HTTPS method is then refused by address.
    match resolver.resolve_handle("alice.example.com").await {
        Err(IdentityError::HandleNotFound { handle, detail }) => {
            assert_eq!(handle, "alice.example.com");
            assert!(
                detail.contains("HTTPS: GET https://alice.example.com/.well-known/atproto-did refused: the address points to a private or reserved network"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_fetch_policy_follows_the_development_setting() {
    let production = ResolverConfig::default().fetch_policy();
    assert!(!production.allow_loopback_http);
    assert_eq!(
        production.timeout,
        ResolverConfig::default().request_timeout
    );
    let development = ResolverConfig {
        allow_insecure_http: true,
        ..ResolverConfig::default()
    }
    .fetch_policy();
    assert!(development.allow_loopback_http);
}
