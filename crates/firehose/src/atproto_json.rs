//! DAG-CBOR to the atproto JSON form, in one pass without an intermediate tree.
//!
//! The atproto data model maps CID links to `{"$link": "<cid>"}` and bytes to
//! `{"$bytes": "<base64, standard alphabet, no padding>"}`. Floats and integers outside the
//! signed 64-bit range are valid DAG-CBOR but not part of the data model, so they are refused.

use std::cell::Cell;
use std::fmt;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use ipld_core::cid::Cid;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::message_fields::CborError;
use crate::DecodeError;

/// Upper bound on capacity reserved from an untrusted array length.
const MAX_PREALLOCATED_ITEMS: usize = 256;

/// Converts one DAG-CBOR value into its atproto JSON form.
pub fn dagcbor_to_json(bytes: &[u8]) -> Result<Value, DecodeError> {
    to_json(bytes, "DAG-CBOR value")
}

/// [`dagcbor_to_json`], naming the value `what` in errors.
pub(crate) fn to_json(bytes: &[u8], what: &'static str) -> Result<Value, DecodeError> {
    let outside = Cell::new(None);
    let mut deserializer = serde_ipld_dagcbor::de::Deserializer::from_slice(bytes);
    let value = JsonSeed { outside: &outside }
        .deserialize(&mut deserializer)
        .map_err(|err| match (outside.get(), err) {
            (_, CborError::Eof { .. }) => DecodeError::Truncated { what },
            (Some(reason), _) => DecodeError::OutsideDataModel {
                what,
                reason: reason.to_owned(),
            },
            (None, err) => DecodeError::from_cbor(what, err),
        })?;
    deserializer
        .end()
        .map_err(|err| DecodeError::from_cbor(what, err))?;
    Ok(value)
}

/// Builds a JSON value; records why a value fell outside the data model.
#[derive(Clone, Copy)]
struct JsonSeed<'f> {
    outside: &'f Cell<Option<&'static str>>,
}

impl JsonSeed<'_> {
    fn refuse<E: de::Error>(self, reason: &'static str) -> Result<Value, E> {
        self.outside.set(Some(reason));
        Err(E::custom(reason))
    }
}

impl<'de> DeserializeSeed<'de> for JsonSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an atproto data model value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        match i64::try_from(v) {
            Ok(v) => Ok(Value::from(v)),
            Err(_) => self.refuse("integer exceeds the signed 64-bit range"),
        }
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Value, E> {
        self.refuse("integer exceeds the signed 64-bit range")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        self.refuse("floats are not allowed")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        let mut object = Map::new();
        object.insert(
            "$bytes".to_owned(),
            Value::String(STANDARD_NO_PAD.encode(v)),
        );
        Ok(Value::Object(object))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    /// The DAG-CBOR decoder presents tag 42 (a CID link) as a newtype holding the CID bytes.
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let cid = d.deserialize_bytes(CidBytes)?;
        let mut object = Map::new();
        object.insert("$link".to_owned(), Value::String(cid.to_string()));
        Ok(Value::Object(object))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let hint = seq.size_hint().unwrap_or(0).min(MAX_PREALLOCATED_ITEMS);
        let mut items = Vec::with_capacity(hint);
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Parses the bytes of a tag-42 link into a CID.
struct CidBytes;

impl Visitor<'_> for CidBytes {
    type Value = Cid;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("CID bytes")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Cid, E> {
        Cid::try_from(v).map_err(|err| E::custom(format!("invalid CID link: {err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::cid_of;
    use ipld_core::ipld;
    use ipld_core::ipld::Ipld;
    use serde_json::json;

    fn encode(value: &Ipld) -> Vec<u8> {
        serde_ipld_dagcbor::to_vec(value).unwrap()
    }

    #[test]
    fn maps_links_bytes_and_scalars() {
        let link = cid_of(b"blob");
        let bytes = encode(&ipld!({
            "$type": "fund.greenlight.feature",
            "title": "Dark mode",
            "count": -5,
            "big": 9_007_199_254_740_993_i64,
            "ok": true,
            "none": null,
            "tags": ["a", "b"],
            "image": {"$type": "blob", "ref": Ipld::Link(link), "mimeType": "image/png", "size": 10},
            "raw": Ipld::Bytes(vec![0xde, 0xad, 0xbe, 0xef, 0x01]),
        }));
        let value = dagcbor_to_json(&bytes).unwrap();
        assert_eq!(
            value,
            json!({
                "$type": "fund.greenlight.feature",
                "title": "Dark mode",
                "count": -5,
                "big": 9_007_199_254_740_993_i64,
                "ok": true,
                "none": null,
                "tags": ["a", "b"],
                "image": {"$type": "blob", "ref": {"$link": link.to_string()}, "mimeType": "image/png", "size": 10},
                "raw": {"$bytes": "3q2+7wE"},
            })
        );
        assert!(link.to_string().starts_with("bafyrei"));
    }

    #[test]
    fn refuses_floats_and_huge_integers() {
        assert!(matches!(
            dagcbor_to_json(&encode(&ipld!({"x": 1.5}))),
            Err(DecodeError::OutsideDataModel { reason, .. }) if reason.contains("float")
        ));
        assert!(matches!(
            dagcbor_to_json(&encode(&Ipld::Integer(u64::MAX as i128))),
            Err(DecodeError::OutsideDataModel { .. })
        ));
        assert!(matches!(
            dagcbor_to_json(&encode(&Ipld::Integer(-(u64::MAX as i128)))),
            Err(DecodeError::OutsideDataModel { .. })
        ));
    }

    #[test]
    fn refuses_non_canonical_and_trailing_input() {
        // {"b": 1, "a": 2}: keys out of canonical order.
        let unordered = [0xa2, 0x61, b'b', 0x01, 0x61, b'a', 0x02];
        assert!(matches!(
            dagcbor_to_json(&unordered),
            Err(DecodeError::NotDagCbor { .. })
        ));
        assert_eq!(
            dagcbor_to_json(&[0x01, 0x02]),
            Err(DecodeError::TrailingData {
                what: "DAG-CBOR value"
            })
        );
        assert_eq!(
            dagcbor_to_json(&[0x82, 0x01]),
            Err(DecodeError::Truncated {
                what: "DAG-CBOR value"
            })
        );
        // A tag other than 42.
        assert!(dagcbor_to_json(&[0xd8, 0x2b, 0x01]).is_err());
    }
}
