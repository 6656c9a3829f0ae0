//! `at://` URIs naming records.

use crate::error::ClientError;

/// The parts of an `at://` URI naming a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtUri {
    /// The repo (a DID, or a handle).
    pub repo: String,
    /// The collection NSID.
    pub collection: String,
    /// The record key.
    pub rkey: String,
}

impl AtUri {
    /// Parses `at://REPO/COLLECTION/RKEY`.
    pub fn parse(uri: &str) -> Result<AtUri, ClientError> {
        let bad = || {
            ClientError::InvalidArgument(format!(
                "not a record AT-URI (at://DID/COLLECTION/RKEY): {uri:?}"
            ))
        };
        let rest = uri.strip_prefix("at://").ok_or_else(bad)?;
        let mut parts = rest.split('/');
        let (Some(repo), Some(collection), Some(rkey), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if repo.is_empty() || collection.is_empty() || rkey.is_empty() {
            return Err(bad());
        }
        Ok(AtUri {
            repo: repo.to_owned(),
            collection: collection.to_owned(),
            rkey: rkey.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_uris_parse_and_reject() {
        let at = AtUri::parse("at://did:plc:abc/fund.greenlight.proposal/3k").unwrap();
        assert_eq!(at.repo, "did:plc:abc");
        assert_eq!(at.collection, "fund.greenlight.proposal");
        assert_eq!(at.rkey, "3k");
        assert!(AtUri::parse("https://example.com").is_err());
        assert!(AtUri::parse("at://did:plc:abc/fund.greenlight.proposal").is_err());
        assert!(AtUri::parse("at://did:plc:abc/a/b/c").is_err());
    }
}
