//! The atproto view of a DID document: handle, PDS endpoint and signing key.

use serde::Deserialize;
use serde_json::Value;

use crate::error::IdentityError;
use crate::handle;
use crate::public_key::PublicKey;

/// The fragment of the verification method holding the account's signing key.
const SIGNING_KEY_ID: &str = "#atproto";
/// The fragment and type of the service entry naming the account's PDS.
const PDS_SERVICE_ID: &str = "#atproto_pds";
const PDS_SERVICE_TYPE: &str = "AtprotoPersonalDataServer";

/// What atproto needs from a resolved DID document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DidDocument {
    /// The DID the document is for (equal to its `id`).
    pub did: String,
    /// The handle the document claims (first `at://` entry of `alsoKnownAs`),
    /// lowercased; `None` when absent or not a valid handle. Not yet verified.
    pub handle: Option<String>,
    /// The `#atproto_pds` service endpoint of type `AtprotoPersonalDataServer`, an
    /// http(s) URL without trailing slash.
    pub pds_endpoint: Option<String>,
    /// The `#atproto` verification method's key.
    pub signing_key: Option<PublicKey>,
}

/// The fields of a DID document that atproto reads; everything else is ignored.
#[derive(Deserialize)]
struct RawDocument {
    id: String,
    #[serde(rename = "alsoKnownAs")]
    also_known_as: Option<Vec<Value>>,
    #[serde(rename = "verificationMethod")]
    verification_method: Option<Vec<Value>>,
    service: Option<Vec<Value>>,
}

impl DidDocument {
    /// Parses a DID document's JSON and checks that its `id` is `expected_did`.
    ///
    /// Unusable optional parts (a malformed key, a non-URL endpoint) become `None`
    /// rather than failing the whole document: the rest may still be needed.
    pub fn parse(expected_did: &str, json: &[u8]) -> Result<DidDocument, IdentityError> {
        let raw: RawDocument =
            serde_json::from_slice(json).map_err(|err| IdentityError::InvalidDocument {
                did: expected_did.to_owned(),
                reason: err.to_string(),
            })?;
        if raw.id != expected_did {
            return Err(IdentityError::DocumentIdMismatch {
                expected: expected_did.to_owned(),
                found: raw.id,
            });
        }
        let did = raw.id;
        let handle = raw
            .also_known_as
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .find_map(|aka| aka.strip_prefix("at://"))
            // Only the first at:// entry counts; a bad one does not let a later one win.
            .and_then(|claimed| handle::normalize_handle(claimed, true).ok());
        let signing_key = find_by_id(&did, raw.verification_method.as_deref(), SIGNING_KEY_ID)
            .and_then(|method| signing_key(&did, method));
        let pds_endpoint =
            find_by_id(&did, raw.service.as_deref(), PDS_SERVICE_ID).and_then(pds_endpoint);
        Ok(DidDocument {
            did,
            handle,
            pds_endpoint,
            signing_key,
        })
    }
}

/// The first entry whose `id` is `#fragment` or `<did>#fragment`.
fn find_by_id<'a>(did: &str, items: Option<&'a [Value]>, fragment: &str) -> Option<&'a Value> {
    items?.iter().find(|item| {
        item.get("id").and_then(Value::as_str).is_some_and(|id| {
            id == fragment || id.strip_prefix(did).is_some_and(|rest| rest == fragment)
        })
    })
}

fn signing_key(did: &str, method: &Value) -> Option<PublicKey> {
    let multibase = method.get("publicKeyMultibase")?.as_str()?;
    let parsed = match method.get("type").and_then(Value::as_str) {
        Some("Multikey") => PublicKey::from_multikey(multibase),
        Some("EcdsaSecp256k1VerificationKey2019") => {
            PublicKey::from_legacy_multibase(multibase, true)
        }
        Some("EcdsaSecp256r1VerificationKey2019") => {
            PublicKey::from_legacy_multibase(multibase, false)
        }
        other => {
            tracing::debug!(%did, key_type = ?other, "unsupported #atproto verification method type");
            return None;
        }
    };
    parsed
        .map_err(|err| tracing::debug!(%did, %err, "unusable #atproto key"))
        .ok()
}

fn pds_endpoint(service: &Value) -> Option<String> {
    if service.get("type").and_then(Value::as_str) != Some(PDS_SERVICE_TYPE) {
        return None;
    }
    let endpoint = service.get("serviceEndpoint")?.as_str()?;
    let url = reqwest::Url::parse(endpoint).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    Some(endpoint.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
    const KEY: &str = "zQ3shRqpVFYN9CqpSQFS7o48y78edgamFX9pqggssSAsnzUsB";

    fn doc(value: Value) -> Result<DidDocument, IdentityError> {
        DidDocument::parse(DID, value.to_string().as_bytes())
    }

    #[test]
    fn a_plc_style_document_yields_handle_pds_and_key() {
        let parsed = doc(json!({
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": DID,
            "alsoKnownAs": ["https://example.com", "at://Alice.Example.com", "at://other.example.com"],
            "verificationMethod": [
                {"id": "#other", "type": "Multikey", "controller": DID, "publicKeyMultibase": "zbad"},
                {"id": format!("{DID}#atproto"), "type": "Multikey", "controller": DID, "publicKeyMultibase": KEY},
            ],
            "service": [{
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": "https://pds.example.com/",
            }],
        }))
        .unwrap();
        assert_eq!(parsed.did, DID);
        assert_eq!(parsed.handle.as_deref(), Some("alice.example.com"));
        assert_eq!(
            parsed.pds_endpoint.as_deref(),
            Some("https://pds.example.com")
        );
        assert_eq!(
            parsed.signing_key,
            Some(PublicKey::from_multikey(KEY).unwrap())
        );
    }

    #[test]
    fn the_id_must_match_and_the_json_must_parse() {
        assert_eq!(
            doc(json!({"id": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"})),
            Err(IdentityError::DocumentIdMismatch {
                expected: DID.into(),
                found: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa".into()
            })
        );
        assert!(matches!(
            DidDocument::parse(DID, b"<html>"),
            Err(IdentityError::InvalidDocument { .. })
        ));
        assert!(matches!(
            doc(json!({"alsoKnownAs": []})),
            Err(IdentityError::InvalidDocument { .. })
        ));
        assert!(matches!(
            doc(json!({"id": DID, "service": "nope"})),
            Err(IdentityError::InvalidDocument { .. })
        ));
    }

    #[test]
    fn unusable_parts_become_none() {
        let parsed = doc(json!({
            "id": DID,
            "alsoKnownAs": ["at://not a handle", "at://alice.example.com"],
            "verificationMethod": [
                {"id": "#atproto", "type": "JsonWebKey2020", "publicKeyJwk": {}},
            ],
            "service": [
                {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "ftp://pds.example.com"},
            ],
        }))
        .unwrap();
        assert_eq!(parsed.handle, None, "only the first at:// entry counts");
        assert_eq!(parsed.signing_key, None);
        assert_eq!(parsed.pds_endpoint, None);

        let parsed = doc(json!({
            "id": DID,
            "verificationMethod": [{"id": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa#atproto", "type": "Multikey", "publicKeyMultibase": KEY}],
            "service": [{"id": "#atproto_pds", "type": "SomethingElse", "serviceEndpoint": "https://pds.example.com"}],
        }))
        .unwrap();
        assert_eq!(parsed.signing_key, None, "another DID's key does not count");
        assert_eq!(parsed.pds_endpoint, None, "the service type must match");
    }

    #[test]
    fn legacy_verification_method_types_are_read() {
        let key = PublicKey::from_multikey(KEY).unwrap();
        let PublicKey::K256(inner) = &key else {
            panic!("vector is k256")
        };
        let raw = format!(
            "z{}",
            multibase::Base::Base58Btc.encode(inner.to_encoded_point(false).as_bytes())
        );
        let parsed = doc(json!({
            "id": DID,
            "verificationMethod": [{"id": "#atproto", "type": "EcdsaSecp256k1VerificationKey2019", "publicKeyMultibase": raw}],
        }))
        .unwrap();
        assert_eq!(parsed.signing_key, Some(key));
    }
}
