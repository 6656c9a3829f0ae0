//! A reader for CAR v1 files: the block bundles carried by `#commit` and `#sync` events and
//! returned by `com.atproto.sync.getRepo`.
//!
//! Layout: `varint(header length) ‖ DAG-CBOR {version: 1, roots: [cid...]}` followed by
//! sections `varint(section length) ‖ CID bytes ‖ block bytes` until the input ends. The input
//! is untrusted, so every length is checked against what is left before it is used, and every
//! loop iteration consumes at least one byte.

use std::ops::Range;

use ipld_core::cid::Cid;
use serde::de::MapAccess;
use sha2::{Digest, Sha256};

use crate::message_fields::{decode_map, Fields, MessageMap};
use crate::DecodeError;

/// The multihash code of sha2-256, the only hash atproto uses for CIDs.
const SHA2_256: u64 = 0x12;

/// The blocks of a CAR file, indexed by CID, sharing one buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocks {
    data: Vec<u8>,
    roots: Vec<String>,
    /// Sorted by CID so lookups are a binary search; blocks are typically few, but a hostile
    /// CAR may hold thousands.
    index: Vec<(Cid, Range<usize>)>,
}

impl Blocks {
    /// Parses a CAR v1 file, taking ownership of its bytes; block hashes are checked on access.
    pub fn from_car(car: Vec<u8>) -> Result<Self, DecodeError> {
        let mut pos = 0;
        let header_len = read_section_len(&car, &mut pos, "header")?;
        let header_end = pos + header_len;
        let header: CarHeader = decode_map(&car[pos..header_end]).map_err(|err| match err {
            DecodeError::Truncated { .. } => DecodeError::BadCarHeader {
                reason: "header is truncated".to_owned(),
            },
            other => DecodeError::BadCarHeader {
                reason: other.to_string(),
            },
        })?;
        if header.version != 1 {
            return Err(DecodeError::BadCarHeader {
                reason: format!("version {} is not 1", header.version),
            });
        }
        pos = header_end;

        let mut index = Vec::new();
        while pos < car.len() {
            let offset = pos;
            let section_len = read_section_len(&car, &mut pos, "section")?;
            if section_len == 0 {
                return Err(DecodeError::BadCarSection {
                    offset,
                    reason: "section is empty",
                });
            }
            let section_end = pos + section_len;
            let mut rest = &car[pos..section_end];
            let cid = Cid::read_bytes(&mut rest).map_err(|err| DecodeError::InvalidCid {
                what: "CAR section",
                reason: err.to_string(),
            })?;
            index.push((cid, section_end - rest.len()..section_end));
            pos = section_end;
        }
        index.sort_unstable_by_key(|entry| entry.0);

        Ok(Blocks {
            roots: header.roots.iter().map(Cid::to_string).collect(),
            data: car,
            index,
        })
    }

    /// The CAR's root CIDs as strings (a commit CAR has one: the commit block).
    pub fn roots(&self) -> &[String] {
        &self.roots
    }

    /// The unverified bytes of the block with this CID string, if present.
    pub fn get(&self, cid: &str) -> Option<&[u8]> {
        let cid = Cid::try_from(cid).ok()?;
        self.get_cid(&cid)
    }

    /// The unverified bytes of the block with this CID, if present.
    pub fn get_cid(&self, cid: &Cid) -> Option<&[u8]> {
        let at = self.index.binary_search_by(|(key, _)| key.cmp(cid)).ok()?;
        self.data.get(self.index[at].1.clone())
    }

    /// The bytes of the block with this CID, after checking they hash to it.
    pub fn get_verified(&self, cid: &Cid) -> Result<&[u8], DecodeError> {
        let block = self.get_cid(cid).ok_or_else(|| DecodeError::BlockMissing {
            cid: cid.to_string(),
        })?;
        verify_block(cid, block)?;
        Ok(block)
    }

    /// Every block with its CID, in CID order, unverified.
    pub fn iter(&self) -> impl Iterator<Item = (&Cid, &[u8])> {
        self.index
            .iter()
            .filter_map(|(cid, range)| Some((cid, self.data.get(range.clone())?)))
    }

    /// How many blocks the CAR holds.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the CAR holds no blocks.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// Checks that `block` is the content `cid` names (sha2-256 is the only hash accepted).
pub fn verify_block(cid: &Cid, block: &[u8]) -> Result<(), DecodeError> {
    let hash = cid.hash();
    if hash.code() != SHA2_256 {
        return Err(DecodeError::UnsupportedHash {
            cid: cid.to_string(),
            code: hash.code(),
        });
    }
    if Sha256::digest(block).as_slice() != hash.digest() {
        return Err(DecodeError::CidMismatch {
            cid: cid.to_string(),
        });
    }
    Ok(())
}

/// Parses a CID given as a string, naming where it came from on failure.
pub(crate) fn parse_cid(cid: &str, what: &'static str) -> Result<Cid, DecodeError> {
    Cid::try_from(cid).map_err(|err| DecodeError::InvalidCid {
        what,
        reason: err.to_string(),
    })
}

/// Reads a length prefix at `*pos` and checks that many bytes follow it.
fn read_section_len(car: &[u8], pos: &mut usize, what: &'static str) -> Result<usize, DecodeError> {
    let claimed = read_uvarint(car, pos, what)?;
    let remaining = car.len() - *pos;
    match usize::try_from(claimed) {
        Ok(len) if len <= remaining => Ok(len),
        _ => Err(DecodeError::CarLengthExceedsInput {
            what,
            claimed,
            remaining,
        }),
    }
}

/// Reads an unsigned LEB128 varint of at most 9 bytes (the multiformats limit) at `*pos`.
fn read_uvarint(input: &[u8], pos: &mut usize, what: &'static str) -> Result<u64, DecodeError> {
    let mut value: u64 = 0;
    for (i, byte) in input.iter().skip(*pos).take(9).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *pos += i + 1;
            return Ok(value);
        }
    }
    if input.len() - *pos >= 9 {
        Err(DecodeError::VarintOverflow { what })
    } else {
        Err(DecodeError::Truncated { what })
    }
}

/// The DAG-CBOR header at the start of a CAR file.
struct CarHeader {
    version: u64,
    roots: Vec<Cid>,
}

impl<'de> MessageMap<'de> for CarHeader {
    const NAME: &'static str = "CAR header";
    const FIELDS: &'static [&'static str] = &["version", "roots"];

    fn from_fields<A: MapAccess<'de>>(fields: &mut Fields<'_, A>) -> Result<Self, A::Error> {
        let (mut version, mut roots) = (None, None);
        while let Some(key) = fields.next_key()? {
            match key {
                Some("version") => version = Some(fields.value("version")?),
                Some("roots") => roots = Some(fields.value("roots")?),
                _ => fields.skip()?,
            }
        }
        Ok(CarHeader {
            version: fields.required("version", version)?,
            roots: fields.required("roots", roots)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{car, cid_of};

    #[test]
    fn reads_blocks_and_roots() {
        let a = b"\xa1aa\x01".to_vec();
        let b = b"\xa1ab\x02".to_vec();
        let bytes = car(&[cid_of(&a)], &[a.clone(), b.clone()]);
        let blocks = Blocks::from_car(bytes).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks.roots(), &[cid_of(&a).to_string()]);
        assert_eq!(blocks.get(&cid_of(&a).to_string()), Some(&a[..]));
        assert_eq!(blocks.get_verified(&cid_of(&b)).unwrap(), &b[..]);
        assert_eq!(blocks.get(&cid_of(b"other").to_string()), None);
        assert_eq!(blocks.get("not a cid"), None);
    }

    #[test]
    fn header_only_car_is_empty() {
        let blocks = Blocks::from_car(car(&[], &[])).unwrap();
        assert!(blocks.is_empty());
        assert!(blocks.roots().is_empty());
    }

    #[test]
    fn rejects_huge_header_length() {
        // A 9-byte varint claiming ~2^62 bytes.
        let bytes = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xa0];
        match Blocks::from_car(bytes) {
            Err(DecodeError::CarLengthExceedsInput { what, claimed, .. }) => {
                assert_eq!(what, "header");
                assert!(claimed > 1 << 60);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rejects_overlong_varint() {
        let bytes = vec![0x80; 12];
        assert_eq!(
            Blocks::from_car(bytes),
            Err(DecodeError::VarintOverflow { what: "header" })
        );
    }

    #[test]
    fn rejects_section_longer_than_input() {
        let mut bytes = car(&[], &[]);
        bytes.extend_from_slice(&[0xe8, 0x07, 1, 2, 3]); // claims 1000 bytes
        assert_eq!(
            Blocks::from_car(bytes),
            Err(DecodeError::CarLengthExceedsInput {
                what: "section",
                claimed: 1000,
                remaining: 3
            })
        );
    }

    #[test]
    fn rejects_empty_section_and_bad_cid() {
        let mut empty = car(&[], &[]);
        let offset = empty.len();
        empty.push(0);
        assert_eq!(
            Blocks::from_car(empty),
            Err(DecodeError::BadCarSection {
                offset,
                reason: "section is empty"
            })
        );

        let mut bad_cid = car(&[], &[]);
        bad_cid.extend_from_slice(&[3, 0x05, 0x71, 0x12]);
        assert!(matches!(
            Blocks::from_car(bad_cid),
            Err(DecodeError::InvalidCid { .. })
        ));
    }

    #[test]
    fn rejects_wrong_version() {
        let header =
            serde_ipld_dagcbor::to_vec(&ipld_core::ipld!({"version": 2, "roots": []})).unwrap();
        let mut bytes = vec![header.len() as u8];
        bytes.extend_from_slice(&header);
        assert!(matches!(
            Blocks::from_car(bytes),
            Err(DecodeError::BadCarHeader { reason }) if reason.contains("version 2")
        ));
    }

    #[test]
    fn detects_tampered_block() {
        let a = b"\xa1aa\x01".to_vec();
        let mut bytes = car(&[], std::slice::from_ref(&a));
        let last = bytes.len() - 1;
        bytes[last] = 0x02;
        let blocks = Blocks::from_car(bytes).unwrap();
        assert_eq!(
            blocks.get_verified(&cid_of(&a)),
            Err(DecodeError::CidMismatch {
                cid: cid_of(&a).to_string()
            })
        );
    }
}
