//! Escrow's identifiers: derived from what they stand for where a retry must find the same
//! one again (a pledge from its caller and idempotency key, a ledger transfer from its
//! purpose), random where nothing repeats.

use sha2::{Digest, Sha256};

/// `prefix_` followed by 32 hex digits of SHA-256 over the parts, each ended by a NUL so
/// that `("ab", "c")` and `("a", "bc")` differ.
pub fn derived(prefix: &str, parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    format!("{prefix}_{}", &hex::encode(digest)[..32])
}

/// `prefix_` followed by a random 128-bit id.
pub fn random(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_separate_their_parts() {
        assert_eq!(derived("pl", &["a", "b"]), derived("pl", &["a", "b"]));
        assert_ne!(derived("pl", &["ab", "c"]), derived("pl", &["a", "bc"]));
        assert_eq!(derived("pl", &["x"]).len(), 35);
    }
}
