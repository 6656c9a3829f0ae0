//! The atproto data model's special JSON forms: CID links (`{"$link": cid}`), bytes
//! (`{"$bytes": base64}`) and blob references, with serde types for generated code.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::format;

/// A CID link in its JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CidLink {
    /// The CID string.
    #[serde(rename = "$link")]
    pub link: String,
}

/// Bytes in their JSON form (base64, no padding required).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Bytes {
    /// The base64 text.
    #[serde(rename = "$bytes")]
    pub base64: String,
}

/// A blob reference in its JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlobRef {
    /// The blob's CID.
    #[serde(rename = "ref")]
    pub link: CidLink,
    /// The blob's MIME type.
    #[serde(rename = "mimeType")]
    pub mime_type: String,
    /// Size in bytes.
    pub size: u64,
}

/// Upper bound the reference puts on `$link` text before it tries to parse it.
const MAX_LINK_LENGTH: usize = 2048;

/// The CID of a well-formed `{"$link": cid}` object (exactly that key).
pub(crate) fn cid_link(value: &Value) -> Option<&str> {
    let map = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    let link = map.get("$link")?.as_str()?;
    let ok = !link.is_empty() && link.len() <= MAX_LINK_LENGTH && format::is_valid_cid(link);
    ok.then_some(link)
}

/// The decoded length of a well-formed `{"$bytes": base64}` object (exactly that key).
pub(crate) fn bytes_len(value: &Value) -> Option<usize> {
    let map = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    base64_decoded_len(map.get("$bytes")?.as_str()?)
}

/// Length of standard or URL-safe base64 text once decoded, with optional padding.
fn base64_decoded_len(text: &str) -> Option<usize> {
    let body = text.trim_end_matches('=');
    let padding = text.len() - body.len();
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
    if padding > 2 || !body.bytes().all(alphabet) || body.len() % 4 == 1 {
        return None;
    }
    if padding > 0 && !(body.len() + padding).is_multiple_of(4) {
        return None;
    }
    Some(body.len() * 3 / 4)
}

/// Whether `value` is a blob reference the reference implementation would turn into a
/// `BlobRef`: the typed form `{"$type": "blob", "ref": link, "mimeType", "size"}` or the
/// legacy `{"cid", "mimeType"}`, each with no other keys.
pub(crate) fn is_blob_ref(value: &Value) -> bool {
    let Some(map) = value.as_object() else {
        return false;
    };
    is_typed_blob(map) || is_legacy_blob(map)
}

/// The typed blob form, which the reference converts to an object without `$type`.
pub(crate) fn is_typed_blob(map: &Map<String, Value>) -> bool {
    map.len() == 4
        && map.get("$type").and_then(Value::as_str) == Some("blob")
        && map.get("ref").is_some_and(|r| cid_link(r).is_some())
        && map.get("mimeType").is_some_and(Value::is_string)
        && map.get("size").is_some_and(Value::is_number)
}

fn is_legacy_blob(map: &Map<String, Value>) -> bool {
    map.len() == 2
        && map
            .get("cid")
            .and_then(Value::as_str)
            .is_some_and(format::is_valid_cid)
        && map.get("mimeType").is_some_and(Value::is_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CID: &str = "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a";

    #[test]
    fn special_forms() {
        assert_eq!(cid_link(&json!({ "$link": CID })), Some(CID));
        assert_eq!(cid_link(&json!({ "$link": CID, "x": 1 })), None);
        assert_eq!(cid_link(&json!({ "$link": "nope" })), None);
        assert_eq!(bytes_len(&json!({ "$bytes": "aGVsbG8" })), Some(5));
        assert_eq!(bytes_len(&json!({ "$bytes": "aGVsbG8=" })), Some(5));
        assert_eq!(bytes_len(&json!({ "$bytes": "a" })), None);
        assert!(is_blob_ref(&json!({
            "$type": "blob", "ref": { "$link": CID }, "mimeType": "image/png", "size": 10
        })));
        assert!(is_blob_ref(&json!({ "cid": CID, "mimeType": "image/png" })));
        assert!(!is_blob_ref(&json!({
            "$type": "blob", "ref": { "$link": CID }, "mimeType": "image/png", "size": 10, "x": 1
        })));
        assert!(!is_blob_ref(
            &json!({ "$type": "blob", "ref": CID, "mimeType": "a", "size": 1 })
        ));
    }
}
