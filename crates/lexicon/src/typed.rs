//! Typed parsing: validate an untrusted value, then deserialize it into a generated type.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::catalog::Catalog;
use crate::error::{Reason, ValidationError};

/// A generated record type and the NSID of its lexicon.
pub trait LexiconRecord: DeserializeOwned + serde::Serialize {
    /// The record's NSID, which is also its `$type`.
    const NSID: &'static str;

    /// The record as JSON ready to write to a repository, with its `$type`.
    fn to_record_value(&self) -> Result<Value, serde_json::Error> {
        let mut value = serde_json::to_value(self)?;
        if let Value::Object(map) = &mut value {
            map.insert("$type".to_owned(), Value::String(Self::NSID.to_owned()));
        }
        Ok(value)
    }
}

/// Validates `value` as a record of `nsid` against the embedded catalog, then
/// deserializes it into `T`.
pub fn parse_record<T: DeserializeOwned>(nsid: &str, value: &Value) -> Result<T, ValidationError> {
    let catalog = Catalog::embedded().map_err(|err| {
        ValidationError::at_root(Reason::Deserialize(format!(
            "embedded lexicons unusable: {err}"
        )))
    })?;
    parse_record_with(catalog, nsid, value)
}

/// [`parse_record`] against a given catalog.
pub fn parse_record_with<T: DeserializeOwned>(
    catalog: &Catalog,
    nsid: &str,
    value: &Value,
) -> Result<T, ValidationError> {
    catalog.validate_record(nsid, value)?;
    match T::deserialize(value) {
        Ok(parsed) => Ok(parsed),
        Err(first) => {
            // Lexicon integers follow JavaScript, where `5.0` is the integer 5; serde's
            // integer types refuse a float, so retry with integral floats made integers.
            let mut normalized = value.clone();
            if !integralize_floats(&mut normalized) {
                return Err(ValidationError::at_root(Reason::Deserialize(
                    first.to_string(),
                )));
            }
            T::deserialize(&normalized)
                .map_err(|err| ValidationError::at_root(Reason::Deserialize(err.to_string())))
        }
    }
}

/// Turns floats with no fractional part (within `i64`) into integers; reports whether
/// anything changed.
fn integralize_floats(value: &mut Value) -> bool {
    match value {
        Value::Number(n) if n.is_f64() => {
            let Some(f) = n.as_f64() else { return false };
            let in_range = f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64;
            if in_range {
                *value = Value::from(f as i64);
            }
            in_range
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, v| integralize_floats(v) | changed),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |changed, v| integralize_floats(v) | changed),
        _ => false,
    }
}
