//! Handle syntax (atproto handle spec) and the answers of the handle resolution methods.

use crate::did;
use crate::error::IdentityError;

/// The longest handle (a DNS name) the spec allows.
const MAX_HANDLE_LEN: usize = 253;
/// The longest DNS label.
const MAX_LABEL_LEN: usize = 63;
/// Top-level domains the handle spec reserves: never valid handles.
const DISALLOWED_TLDS: [&str; 8] = [
    "alt",
    "arpa",
    "example",
    "internal",
    "invalid",
    "local",
    "localhost",
    "onion",
];
/// The TLD reserved for testing: valid only where the resolver allows insecure setups.
const TEST_TLD: &str = "test";
/// The prefix of the DNS TXT record value that carries the DID.
const TXT_DID_PREFIX: &str = "did=";

/// Checks hostname syntax as the handle spec defines it (case-insensitively).
pub(crate) fn check_hostname_syntax(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > MAX_HANDLE_LEN {
        return Err("must be 1 to 253 characters");
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err("needs at least two labels");
    }
    for label in &labels {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return Err("each label must be 1 to 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("labels may hold only ASCII letters, digits and hyphens");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("labels must not start or end with a hyphen");
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().next().is_some_and(|b| b.is_ascii_digit()))
    {
        return Err("the top-level domain must not start with a digit");
    }
    Ok(())
}

/// Validates a handle and returns it normalised to lowercase.
///
/// The `.test` TLD is accepted only when `allow_test_tld` is set (the local test
/// network's handles); the other reserved TLDs are always refused.
pub fn normalize_handle(handle: &str, allow_test_tld: bool) -> Result<String, IdentityError> {
    let invalid = |reason| IdentityError::InvalidHandle {
        handle: handle.to_owned(),
        reason,
    };
    check_hostname_syntax(handle).map_err(invalid)?;
    let normalized = handle.to_ascii_lowercase();
    let tld = normalized.rsplit('.').next().unwrap_or_default();
    if DISALLOWED_TLDS.contains(&tld) {
        return Err(invalid("uses a reserved top-level domain"));
    }
    if tld == TEST_TLD && !allow_test_tld {
        return Err(invalid(".test handles are only valid on a test network"));
    }
    Ok(normalized)
}

/// Whether a normalised handle is under the testing TLD (it exists in no public DNS).
pub(crate) fn is_test_handle(normalized: &str) -> bool {
    normalized.rsplit('.').next() == Some(TEST_TLD)
}

/// The DID from the TXT records at `_atproto.<handle>`, each given as its joined
/// character-strings. Exactly one `did=` record must exist: several are ambiguous.
pub(crate) fn did_from_txt_records<I, S>(records: I) -> Result<Option<String>, &'static str>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut found: Option<String> = None;
    for record in records {
        if let Some(value) = record.as_ref().strip_prefix(TXT_DID_PREFIX) {
            if found.is_some() {
                return Err("several did= TXT records");
            }
            found = Some(value.trim().to_owned());
        }
    }
    match found {
        Some(value) => did::validate_did(&value)
            .map(|()| Some(value))
            .map_err(|_| "the did= TXT record holds no valid DID"),
        None => Ok(None),
    }
}

/// The DID in a `/.well-known/atproto-did` body: its first line, trimmed.
pub(crate) fn did_from_well_known(body: &[u8]) -> Result<String, &'static str> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8")?;
    let first = text.lines().next().unwrap_or_default().trim();
    did::validate_did(first)
        .map(|()| first.to_owned())
        .map_err(|_| "the body does not start with a valid DID")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_validated_and_lowercased() {
        assert_eq!(
            normalize_handle("Alice.Example.COM", false).unwrap(),
            "alice.example.com"
        );
        assert_eq!(
            normalize_handle("xn--ls8h.bsky.social", false).unwrap(),
            "xn--ls8h.bsky.social"
        );
        for bad in [
            "alice",
            "alice.",
            ".alice.com",
            "al ice.com",
            "alice..com",
            "-alice.com",
            "alice-.com",
            "alice.com-",
            "alice.1com",
            "alïce.com",
            "alice.com\n",
        ] {
            assert!(
                matches!(
                    normalize_handle(bad, true),
                    Err(IdentityError::InvalidHandle { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(normalize_handle(&format!("{}.com", "a".repeat(64)), false).is_err());
        let long = format!("{}.com", vec!["a".repeat(63); 4].join("."));
        assert!(long.len() > 253);
        assert!(normalize_handle(&long, false).is_err());
    }

    #[test]
    fn reserved_tlds_are_refused_and_test_needs_permission() {
        for tld in DISALLOWED_TLDS {
            assert!(
                normalize_handle(&format!("alice.{tld}"), true).is_err(),
                "{tld}"
            );
        }
        assert!(normalize_handle("alice.test", false).is_err());
        assert_eq!(normalize_handle("Alice.Test", true).unwrap(), "alice.test");
        assert!(is_test_handle("alice.test"));
        assert!(!is_test_handle("alice.test.com"));
    }

    #[test]
    fn txt_records_need_exactly_one_did() {
        let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
        assert_eq!(
            did_from_txt_records(["v=spf1 -all", &format!("did={did}")]).unwrap(),
            Some(did.to_owned())
        );
        assert_eq!(did_from_txt_records(["v=spf1 -all"]).unwrap(), None);
        assert!(did_from_txt_records([format!("did={did}"), format!("did={did}")]).is_err());
        assert!(did_from_txt_records(["did=nonsense"]).is_err());
    }

    #[test]
    fn well_known_bodies_give_their_first_line() {
        let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
        assert_eq!(
            did_from_well_known(format!("  {did}  \nignored").as_bytes()).unwrap(),
            did
        );
        assert!(did_from_well_known(b"<html>not found</html>").is_err());
        assert!(did_from_well_known(&[0xff, 0xfe]).is_err());
        assert!(did_from_well_known(b"").is_err());
    }
}
