//! CID strings: CIDv0 (`Qm…`, base58btc) and CIDv1 in base32 (`b…`), base36 (`k…`) or
//! base58btc (`z…`), decoded and checked structurally the way `multiformats`' `CID.parse`
//! does (the hash itself is not verified).

const MAX_CID_STRING_LENGTH: usize = 128;
const BASE58_ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BASE36_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const BASE32_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Whether `value` parses as a CID string.
pub fn is_valid_cid(value: &str) -> bool {
    if super::utf16_len(value) > MAX_CID_STRING_LENGTH || !value.is_ascii() {
        return false;
    }
    let bytes = match value.as_bytes().first() {
        Some(b'Q') => base_x_decode(value.as_bytes(), BASE58_ALPHABET),
        Some(b'z') => base_x_decode(&value.as_bytes()[1..], BASE58_ALPHABET),
        Some(b'k') => base_x_decode(&value.as_bytes()[1..], BASE36_ALPHABET),
        Some(b'b') => base32_decode(&value.as_bytes()[1..]),
        _ => None,
    };
    match bytes.and_then(|b| decode_cid_bytes(&b)) {
        // A CIDv0 must be written bare, never with a multibase prefix.
        Some(version) => version != 0 || value.starts_with('Q'),
        None => false,
    }
}

/// Big-number base conversion with leading zero digits kept as zero bytes.
fn base_x_decode(text: &[u8], alphabet: &[u8]) -> Option<Vec<u8>> {
    let base = alphabet.len() as u32;
    let zero_digit = alphabet[0];
    let leading_zeros = text.iter().take_while(|c| **c == zero_digit).count();
    // Little-endian base-256 accumulator.
    let mut number: Vec<u8> = Vec::with_capacity(text.len());
    for c in &text[leading_zeros..] {
        let mut carry = alphabet.iter().position(|a| a == c)? as u32;
        for byte in number.iter_mut() {
            carry += u32::from(*byte) * base;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            number.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0u8; leading_zeros];
    out.extend(number.iter().rev());
    Some(out)
}

/// RFC 4648 base32 (lower case, padding optional) with the strict end-of-data check of
/// `multiformats`: leftover bits must be fewer than one character and all zero.
fn base32_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut end = text.len();
    while end > 0 && text[end - 1] == b'=' {
        end -= 1;
    }
    let mut out = Vec::with_capacity(end * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for c in &text[..end] {
        let value = BASE32_ALPHABET.iter().position(|a| a == c)? as u32;
        buffer = ((buffer << 5) | value) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    if bits >= 5 || ((buffer << (8 - bits)) & 0xff) != 0 {
        return None;
    }
    Some(out)
}

/// Reads an unsigned varint; `None` when the input ends inside it.
fn read_varint(bytes: &[u8], offset: &mut usize) -> Option<u64> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    loop {
        let byte = *bytes.get(*offset)?;
        *offset += 1;
        if shift < 64 {
            value |= u64::from(byte & 0x7f) << shift;
        }
        shift += 7;
        if byte < 0x80 {
            return Some(value);
        }
    }
}

/// Decodes binary CID structure; returns the CID version when the bytes are exactly one CID.
fn decode_cid_bytes(bytes: &[u8]) -> Option<u8> {
    let mut offset = 0;
    let first = read_varint(bytes, &mut offset)?;
    let version = if first == 0x12 {
        // CIDv0 is a bare sha2-256 multihash: re-read it from the start as the multihash.
        offset = 0;
        0
    } else {
        let _codec = read_varint(bytes, &mut offset)?;
        match first {
            1 => 1,
            _ => return None,
        }
    };
    let _hash_code = read_varint(bytes, &mut offset)?;
    let digest_len = usize::try_from(read_varint(bytes, &mut offset)?).ok()?;
    if bytes.len().checked_sub(offset)? != digest_len {
        return None;
    }
    Some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_cids() {
        for ok in [
            "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a",
            "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy",
            "QmY7Yh4UquoXHLPFo2XbhXkhBvFoPwmQUSa92pxnxjQuPU",
            "zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA",
        ] {
            assert!(is_valid_cid(ok), "{ok}");
        }
    }

    #[test]
    fn rejects_broken_cids() {
        for bad in [
            "",
            "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2",
            "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2aa",
            "BAFYREIDFAYVFUWQA7QLNOPDJIQRXZS6BLMOEU4RUJCJTNCI5BELUDIRZ2A",
            "zQmY7Yh4UquoXHLPFo2XbhXkhBvFoPwmQUSa92pxnxjQuPU",
            "not-a-cid",
            "QmY7Yh4UquoXHLPFo2XbhXkhBvFoPwmQUSa92pxnxjQuP0",
        ] {
            assert!(!is_valid_cid(bad), "{bad}");
        }
    }
}
