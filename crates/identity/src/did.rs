//! DID syntax and where each supported method's document lives.

use crate::error::IdentityError;
use crate::handle;

/// The longest DID accepted (the atproto DID spec caps DIDs at 2 KB).
const MAX_DID_LEN: usize = 2048;
/// A did:plc identifier is 24 characters of lowercase base32.
const PLC_ID_LEN: usize = 24;

/// A syntactically valid DID of a method atproto supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Did<'a> {
    /// `did:plc:<24 base32 chars>`.
    Plc(&'a str),
    /// `did:web:<host>` with an optional `%3A<port>`, already split.
    Web {
        /// The host name (lowercase as given; DID comparison is exact).
        host: &'a str,
        /// The port, allowed only for loopback hosts.
        port: Option<u16>,
    },
}

/// Checks the generic DID grammar and the method-specific rules, without network access.
pub(crate) fn parse(did: &str) -> Result<Did<'_>, IdentityError> {
    let invalid = |reason| IdentityError::InvalidDid {
        did: did.to_owned(),
        reason,
    };
    if did.len() > MAX_DID_LEN {
        return Err(invalid("longer than 2048 characters"));
    }
    let rest = did
        .strip_prefix("did:")
        .ok_or_else(|| invalid("must start with \"did:\""))?;
    let (method, id) = rest
        .split_once(':')
        .ok_or_else(|| invalid("missing method-specific identifier"))?;
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(invalid("method must be lowercase letters"));
    }
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-'))
    {
        return Err(invalid(
            "identifier has characters outside [A-Za-z0-9._:%-]",
        ));
    }
    if id.ends_with(':') || id.ends_with('%') {
        return Err(invalid("must not end with ':' or '%'"));
    }
    match method {
        "plc" => {
            if id.len() != PLC_ID_LEN
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
            {
                return Err(invalid("did:plc identifier must be 24 base32 characters"));
            }
            Ok(Did::Plc(id))
        }
        "web" => parse_web(did, id),
        _ => Err(IdentityError::UnsupportedDidMethod(did.to_owned())),
    }
}

/// did:web in atproto is hostname-only: no paths (further `:` segments), and a port
/// (`%3A`) only for loopback development hosts.
fn parse_web<'a>(did: &str, id: &'a str) -> Result<Did<'a>, IdentityError> {
    let invalid = |reason| IdentityError::InvalidDid {
        did: did.to_owned(),
        reason,
    };
    if id.contains(':') {
        return Err(invalid("did:web with a path is not supported by atproto"));
    }
    let (host, port) = match id.find('%') {
        None => (id, None),
        Some(at) => {
            let (host, encoded_port) = id.split_at(at);
            let digits = encoded_port
                .strip_prefix("%3A")
                .or_else(|| encoded_port.strip_prefix("%3a"))
                .ok_or_else(|| invalid("only a %3A port may be percent-encoded in did:web"))?;
            let port = digits
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0 && digits.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| invalid("did:web port must be a number from 1 to 65535"))?;
            (host, Some(port))
        }
    };
    if is_loopback_host(host) {
        return Ok(Did::Web { host, port });
    }
    if port.is_some() {
        return Err(invalid("did:web ports are only allowed for localhost"));
    }
    if handle::check_hostname_syntax(host).is_err() {
        return Err(invalid("did:web host is not a valid hostname"));
    }
    Ok(Did::Web { host, port })
}

/// The hosts that only test setups may resolve against.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1"
}

/// The URL of the DID document, or an error when it would need insecure resolution.
pub(crate) fn document_url(
    did: &str,
    parsed: &Did<'_>,
    plc_url: &str,
    allow_insecure_http: bool,
) -> Result<String, IdentityError> {
    match parsed {
        Did::Plc(_) => Ok(format!("{}/{did}", plc_url.trim_end_matches('/'))),
        Did::Web { host, port } => {
            if is_loopback_host(host) {
                if !allow_insecure_http {
                    return Err(IdentityError::InsecureResolution(did.to_owned()));
                }
                Ok(match port {
                    Some(port) => format!("http://{host}:{port}/.well-known/did.json"),
                    None => format!("http://{host}/.well-known/did.json"),
                })
            } else {
                Ok(format!("https://{host}/.well-known/did.json"))
            }
        }
    }
}

/// Checks a DID's syntax and method; the public form of [`parse`].
pub fn validate_did(did: &str) -> Result<(), IdentityError> {
    parse(did).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plc_dids_are_checked() {
        assert_eq!(
            parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").unwrap(),
            Did::Plc("ewvi7nxzyoun6zhxrhs64oiz")
        );
        for bad in [
            "did:plc:ewvi7nxzyoun6zhxrhs64oi",   // 23 chars
            "did:plc:ewvi7nxzyoun6zhxrhs64oizz", // 25 chars
            "did:plc:EWVI7NXZYOUN6ZHXRHS64OIZ",  // uppercase
            "did:plc:ewvi7nxzyoun6zhxrhs64oi1",  // '1' is not base32
            "did:plc:",
            "plc:ewvi7nxzyoun6zhxrhs64oiz",
            "did:PLC:ewvi7nxzyoun6zhxrhs64oiz",
            "did:plc:ewvi7nxzyoun6zhxrhs64oi/",
        ] {
            assert!(
                matches!(parse(bad), Err(IdentityError::InvalidDid { .. })),
                "{bad}: {:?}",
                parse(bad)
            );
        }
        assert_eq!(
            parse("did:key:zQ3shRqpVFYN9CqpSQFS7o48y78edgamFX9pqggssSAsnzUsB"),
            Err(IdentityError::UnsupportedDidMethod(
                "did:key:zQ3shRqpVFYN9CqpSQFS7o48y78edgamFX9pqggssSAsnzUsB".into()
            ))
        );
        assert!(parse(&format!("did:plc:{}", "a".repeat(3000))).is_err());
    }

    #[test]
    fn web_dids_are_hostname_only_with_ports_for_loopback() {
        assert_eq!(
            parse("did:web:example.com").unwrap(),
            Did::Web {
                host: "example.com",
                port: None
            }
        );
        assert_eq!(
            parse("did:web:localhost%3A2583").unwrap(),
            Did::Web {
                host: "localhost",
                port: Some(2583)
            }
        );
        assert_eq!(
            parse("did:web:127.0.0.1%3A80").unwrap(),
            Did::Web {
                host: "127.0.0.1",
                port: Some(80)
            }
        );
        for bad in [
            "did:web:example.com:user:alice",
            "did:web:example.com%3A8443",
            "did:web:localhost%3A0",
            "did:web:localhost%3A99999",
            "did:web:localhost%3A+1",
            "did:web:localhost%2F",
            "did:web:10.0.0.1",
            "did:web:-bad.example",
            "did:web:nodot",
        ] {
            assert!(parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn document_urls_follow_the_method_and_the_insecure_switch() {
        let plc = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
        assert_eq!(
            document_url(plc, &parse(plc).unwrap(), "https://plc.directory/", false).unwrap(),
            "https://plc.directory/did:plc:ewvi7nxzyoun6zhxrhs64oiz"
        );
        let web = "did:web:feed.example.com";
        assert_eq!(
            document_url(web, &parse(web).unwrap(), "", false).unwrap(),
            "https://feed.example.com/.well-known/did.json"
        );
        let local = "did:web:localhost%3A4000";
        assert_eq!(
            document_url(local, &parse(local).unwrap(), "", true).unwrap(),
            "http://localhost:4000/.well-known/did.json"
        );
        assert_eq!(
            document_url(local, &parse(local).unwrap(), "", false),
            Err(IdentityError::InsecureResolution(local.into()))
        );
    }
}
