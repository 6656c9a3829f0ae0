//! Text for the PDF's standard fonts: Unicode to WinAnsiEncoding, and how wide it is.
//!
//! The base-14 fonts need no font file, but they only have WinAnsi's 217 glyphs. Anything
//! else becomes `?`, so a Japanese company name prints as question marks in the PDF rather
//! than as garbage or a broken file; the HTML shows it properly.

/// The byte WinAnsiEncoding gives `c`, if any. Control characters have none.
fn encode_char(c: char) -> Option<u8> {
    let code = u32::from(c);
    match code {
        0x20..=0x7E | 0xA0..=0xFF => u8::try_from(code).ok(),
        _ => Some(match c {
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8A,
            '‹' => 0x8B,
            'Œ' => 0x8C,
            'Ž' => 0x8E,
            '\u{2018}' => 0x91,
            '\u{2019}' => 0x92,
            '\u{201C}' => 0x93,
            '\u{201D}' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9A,
            '›' => 0x9B,
            'œ' => 0x9C,
            'ž' => 0x9E,
            'Ÿ' => 0x9F,
            _ => return None,
        }),
    }
}

/// `text` as WinAnsi bytes for one line: whitespace (tabs, line breaks) becomes a space and
/// any other character without a WinAnsi byte becomes `?`.
pub(crate) fn encode(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match encode_char(c) {
            Some(b) => b,
            None if c.is_whitespace() => b' ',
            None => b'?',
        })
        .collect()
}

/// Helvetica's advance widths (thousandths of the font size) for bytes 0x20 to 0x7E, from
/// Adobe's AFM.
const REGULAR: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0x30
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 0x50
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // 0x60
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // 0x70
];

/// Helvetica-Bold's advance widths for bytes 0x20 to 0x7E.
const BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0x30
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // 0x50
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // 0x60
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, // 0x70
];

/// No WinAnsi glyph in either font is wider than this, so counting every byte outside ASCII
/// at this width can only make a line wrap early, never overflow.
const WIDEST: u16 = 1000;

/// The advance width of one WinAnsi byte, in thousandths of the font size.
pub(crate) fn units(byte: u8, bold: bool) -> u32 {
    let table = if bold { &BOLD } else { &REGULAR };
    let w = byte
        .checked_sub(0x20)
        .and_then(|i| table.get(usize::from(i)))
        .copied()
        .unwrap_or(WIDEST);
    u32::from(w)
}

/// The width of `bytes` in points at `size`.
pub(crate) fn width(bytes: &[u8], bold: bool, size: f32) -> f32 {
    let units: u64 = bytes.iter().map(|&b| u64::from(units(b, bold))).sum();
    units as f32 * size / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_latin_and_replaces_the_rest() {
        assert_eq!(encode("Müller €5"), b"M\xFCller \x805".to_vec());
        assert_eq!(encode("東京\tA\nB"), b"?? A B".to_vec());
        assert_eq!(encode("😀"), b"?".to_vec());
    }

    #[test]
    fn widths_match_the_afm() {
        assert_eq!(width(b"0", false, 1000.0), 556.0);
        assert_eq!(width(b"W", true, 1000.0), 944.0);
        assert_eq!(width(b"~", true, 1000.0), 584.0);
        assert_eq!(width(b"\xFC", false, 1000.0), 1000.0);
    }
}
