//! Whether a proof file names a project: its AT-URI, or its owner's DID as a whole token.

/// Characters that can continue a DID (or an AT-URI's last segment), so a match followed by
/// one of them is a prefix of something longer, not the DID itself.
fn continues(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '%' | '-')
}

/// Whether `needle` occurs in `text` as a whole token: not preceded or followed by a
/// character that would make it part of a longer identifier. Trailing punctuation (`did:x:y.`
/// at the end of a sentence) still ends the token.
pub(crate) fn contains_token(text: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(offset) = text[from..].find(needle) {
        let start = from + offset;
        let end = start + needle.len();
        let before_ok = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !continues(c));
        let mut after = text[end..].chars();
        let after_ok = match after.next() {
            None => true,
            Some(c) if !continues(c) => true,
            // `.`, `:`, `-` and `_` continue an identifier only when more of it follows.
            Some('.' | ':' | '-' | '_') => after.next().is_none_or(|c| !continues(c)),
            Some(_) => false,
        };
        if before_ok && after_ok {
            return true;
        }
        from = start + needle.chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Whether `text` names the project `uri` owned by `owner_did`: the AT-URI, or the owner's
/// DID as a whole token (so a link to the project's page, `/project/<did>/<rkey>`, counts).
/// Percent-encoded colons (`did%3Aplc%3A…`, as in some links) are read as colons.
pub fn names_project(text: &str, uri: &str, owner_did: &str) -> bool {
    let decoded;
    let texts: &[&str] = if text.contains("%3A") || text.contains("%3a") {
        decoded = text.replace("%3A", ":").replace("%3a", ":");
        &[text, decoded.as_str()]
    } else {
        &[text]
    };
    texts
        .iter()
        .any(|t| contains_token(t, uri) || contains_token(t, owner_did))
}

/// The first DID-looking token in `text`, to tell people whom a mismatching file names.
pub(crate) fn first_did(text: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(offset) = text[from..].find("did:") {
        let start = from + offset;
        let before_ok = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !continues(c));
        let len = text[start..]
            .char_indices()
            .find(|(_, c)| !continues(*c))
            .map_or(text.len() - start, |(i, _)| i);
        let token = text[start..start + len].trim_end_matches(['.', ':', '-', '_']);
        if before_ok && token.matches(':').count() >= 2 && token.len() <= 200 {
            return Some(token);
        }
        from = start + 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "at://did:plc:abc/fund.greenlight.project/tool";
    const DID: &str = "did:plc:abc";

    #[test]
    fn the_did_counts_only_as_a_whole_token() {
        assert!(names_project("did:plc:abc", URI, DID));
        assert!(names_project("owner: did:plc:abc\n", URI, DID));
        assert!(names_project("Funded by did:plc:abc.", URI, DID));
        assert!(names_project("\"did:plc:abc\"", URI, DID));
        assert!(!names_project("did:plc:abcd", URI, DID));
        assert!(!names_project("xdid:plc:abc", URI, DID));
        assert!(!names_project("did:plc:abc.evil", URI, DID));
        assert!(!names_project("did:plc:abc-2", URI, DID));
        assert!(!names_project("did:plc:ab", URI, DID));
        assert!(!names_project("", URI, DID));
        // A later whole occurrence still counts after a longer one.
        assert!(names_project("did:plc:abcd and did:plc:abc", URI, DID));
    }

    #[test]
    fn did_web_prefixes_do_not_count() {
        let did = "did:web:example.com";
        let uri = "at://did:web:example.com/fund.greenlight.project/x";
        assert!(names_project("did:web:example.com", uri, did));
        assert!(!names_project("did:web:example.com:alice", uri, did));
        assert!(!names_project("did:web:example.com.evil.org", uri, did));
    }

    #[test]
    fn the_project_page_and_the_at_uri_count() {
        assert!(names_project(
            "custom: [\"https://greenlight.example/project/did:plc:abc/tool\"]",
            URI,
            DID
        ));
        assert!(names_project(
            "custom: https://greenlight.example/project/did%3Aplc%3Aabc/tool",
            URI,
            DID
        ));
        assert!(names_project(URI, URI, DID));
        assert!(!names_project(
            "https://greenlight.example/project/did:plc:abcd/tool",
            URI,
            DID
        ));
    }

    #[test]
    fn the_first_did_is_found_for_people() {
        assert_eq!(first_did("owner: did:plc:other.\n"), Some("did:plc:other"));
        assert_eq!(first_did("no did here: did:"), None);
        assert_eq!(first_did("nothing"), None);
    }
}
