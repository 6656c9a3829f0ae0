//! Rust names for lexicon names: `createdAt` → `created_at`, `proposalView` →
//! `ProposalView`, keywords made raw.

use proc_macro2::{Ident, Span};

/// Words that cannot be identifiers even in raw form.
const NOT_RAW: &[&str] = &["crate", "self", "super", "Self", "_"];

const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Splits a camelCase / PascalCase / kebab / snake name into lower-case words; an acronym
/// run stays one word (`sourceURL` → `source`, `url`).
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_ascii_uppercase() && !current.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                words.push(std::mem::take(&mut current));
            }
        }
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `created_at` from `createdAt`.
pub fn snake_case(name: &str) -> String {
    words(name).join("_")
}

/// `ProposalView` from `proposalView`.
pub fn pascal_case(name: &str) -> String {
    words(name)
        .iter()
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `ACTOR_REF` from `actorRef`.
pub fn screaming_snake_case(name: &str) -> String {
    snake_case(name).to_ascii_uppercase()
}

/// A field or module identifier, raw when it is a keyword.
pub fn value_ident(name: &str) -> Ident {
    let mut name = name.to_owned();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if NOT_RAW.contains(&name.as_str()) {
        name.push('_');
        return Ident::new(&name, Span::call_site());
    }
    if KEYWORDS.contains(&name.as_str()) {
        return Ident::new_raw(&name, Span::call_site());
    }
    Ident::new(&name, Span::call_site())
}

/// A type or variant identifier.
pub fn type_ident(name: &str) -> Ident {
    let mut name = name.to_owned();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, 'T');
    }
    if name == "Self" {
        name.push('_');
    }
    Ident::new(&name, Span::call_site())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(snake_case("createdAt"), "created_at");
        assert_eq!(snake_case("sourceURL"), "source_url");
        assert_eq!(snake_case("getPLCData"), "get_plc_data");
        assert_eq!(snake_case("strongRef"), "strong_ref");
        assert_eq!(pascal_case("proposalView"), "ProposalView");
        assert_eq!(pascal_case("getProposal"), "GetProposal");
        assert_eq!(screaming_snake_case("actorRef"), "ACTOR_REF");
        assert_eq!(value_ident("type").to_string(), "r#type");
        assert_eq!(value_ident("self").to_string(), "self_");
    }
}
