//! Field-by-field decoding of DAG-CBOR maps with errors that name the offending field.
//!
//! Serde's derived impls report a wrong type without saying which field held it. Here each
//! message type walks its map itself; when a field fails, the field's name is recorded in a side
//! slot (serde errors can only carry strings), and the caller turns it into a structured
//! [`DecodeError`].

use std::cell::Cell;
use std::convert::Infallible;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::DecodeError;

/// The underlying decoder error for slice input.
pub(crate) type CborError = serde_ipld_dagcbor::DecodeError<Infallible>;

/// Which field made a map's decoding fail.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fault {
    Missing(&'static str),
    Invalid(&'static str),
}

/// A DAG-CBOR map that is decoded field by field.
pub(crate) trait MessageMap<'de>: Sized {
    /// The name used in errors (`#commit`, `commit object`, ...).
    const NAME: &'static str;
    /// Every field name the decoder recognises; others are skipped.
    const FIELDS: &'static [&'static str];

    /// Reads the fields one by one and builds the value.
    fn from_fields<A: MapAccess<'de>>(fields: &mut Fields<'_, A>) -> Result<Self, A::Error>;
}

/// The fields of one map, as handed to [`MessageMap::from_fields`].
pub(crate) struct Fields<'f, A> {
    map: A,
    fault: &'f Cell<Option<Fault>>,
    names: &'static [&'static str],
}

impl<'de, A: MapAccess<'de>> Fields<'_, A> {
    /// The next key: `Some(Some(name))` for a known field, `Some(None)` for an unknown one.
    pub(crate) fn next_key(&mut self) -> Result<Option<Option<&'static str>>, A::Error> {
        self.map.next_key_seed(FieldName(self.names))
    }

    /// The value of the field whose key was just read.
    pub(crate) fn value<T: Deserialize<'de>>(
        &mut self,
        field: &'static str,
    ) -> Result<T, A::Error> {
        self.map.next_value().inspect_err(|_| {
            self.fault.set(Some(Fault::Invalid(field)));
        })
    }

    /// Skips the value of an unknown field (forward compatibility).
    pub(crate) fn skip(&mut self) -> Result<(), A::Error> {
        self.map.next_value::<IgnoredAny>().map(|_| ())
    }

    /// Unwraps a required field, recording its absence.
    pub(crate) fn required<T>(&self, field: &'static str, value: Option<T>) -> Result<T, A::Error> {
        value.ok_or_else(|| {
            self.fault.set(Some(Fault::Missing(field)));
            de::Error::missing_field(field)
        })
    }
}

/// Matches a map key against the known field names without allocating.
struct FieldName(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldName {
    type Value = Option<&'static str>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldName {
    type Value = Option<&'static str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string map key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().copied().find(|name| *name == key))
    }
}

/// Deserializes a [`MessageMap`] while sharing the fault slot.
struct MapSeed<'f, T> {
    fault: &'f Cell<Option<Fault>>,
    _value: PhantomData<T>,
}

impl<'de, T: MessageMap<'de>> DeserializeSeed<'de> for MapSeed<'_, T> {
    type Value = T;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: MessageMap<'de>> Visitor<'de> for MapSeed<'_, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} map", T::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        let mut fields = Fields {
            map,
            fault: self.fault,
            names: T::FIELDS,
        };
        T::from_fields(&mut fields)
    }
}

/// Reads one [`MessageMap`] from `deserializer`, leaving any following input unread.
pub(crate) fn read_map<'de, T, D>(deserializer: D) -> Result<T, DecodeError>
where
    T: MessageMap<'de>,
    D: de::Deserializer<'de, Error = CborError>,
{
    let fault = Cell::new(None);
    let seed = MapSeed::<T> {
        fault: &fault,
        _value: PhantomData,
    };
    seed.deserialize(deserializer).map_err(|err| {
        if matches!(err, CborError::Eof { .. }) {
            return DecodeError::Truncated { what: T::NAME };
        }
        match fault.get() {
            Some(Fault::Missing(field)) => DecodeError::MissingField {
                frame: T::NAME,
                field,
            },
            Some(Fault::Invalid(field)) => DecodeError::InvalidField {
                frame: T::NAME,
                field,
                reason: cbor_reason(&err),
            },
            None => DecodeError::from_cbor(T::NAME, err),
        }
    })
}

/// Decodes `bytes` as exactly one [`MessageMap`].
pub(crate) fn decode_map<'de, T: MessageMap<'de>>(bytes: &'de [u8]) -> Result<T, DecodeError> {
    let mut deserializer = serde_ipld_dagcbor::de::Deserializer::from_slice(bytes);
    let value = read_map(&mut deserializer)?;
    deserializer
        .end()
        .map_err(|err| DecodeError::from_cbor(T::NAME, err))?;
    Ok(value)
}

/// A readable explanation of a decoder error (its `Display` is just `Debug`).
pub(crate) fn cbor_reason(err: &CborError) -> String {
    match err {
        CborError::Msg(message) => message.clone(),
        CborError::Mismatch { name, found } => {
            format!("expected {name}, found {}", describe_initial_byte(*found))
        }
        CborError::Unsupported { name, found } => {
            format!("unsupported {name} (initial byte {found:#04x})")
        }
        CborError::RequireUtf8 { name } => format!("{name} is not valid UTF-8"),
        CborError::DepthOverflow { name } => format!("nesting too deep at {name}"),
        CborError::UnorderedKey => "map keys are not in canonical order or repeat".to_owned(),
        CborError::IndefiniteSize => "indefinite-length items are not allowed".to_owned(),
        other => format!("{other:?}"),
    }
}

/// Names the CBOR item an initial byte starts, for error messages.
fn describe_initial_byte(byte: u8) -> String {
    let kind = match (byte >> 5, byte) {
        (0, _) => "an unsigned integer",
        (1, _) => "a negative integer",
        (2, _) => "a byte string",
        (3, _) => "a text string",
        (4, _) => "an array",
        (5, _) => "a map",
        (6, _) => "a tag",
        (_, 0xf4 | 0xf5) => "a boolean",
        (_, 0xf6) => "null",
        (_, 0xf9..=0xfb) => "a float",
        _ => "a simple value",
    };
    format!("{kind} (initial byte {byte:#04x})")
}
