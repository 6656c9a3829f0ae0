//! HTML and SVG output that cannot forget to escape: a [`Markup`] takes markup only as
//! `&'static str` (written in our source), and every runtime string goes through [`escape`].
//! Proposal titles, handles, URLs and notes are attacker-controlled; this is the one place
//! they become markup.

use std::fmt::Write as _;

/// Escapes `s` for HTML or XML text and for quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than whitespace are not allowed in XML 1.0 at all.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `url` if it is an absolute http(s) URL safe to put in an `href` or `src`, else `None`:
/// `javascript:`, `data:` and friends never become links, and neither does anything a
/// browser would reinterpret (whitespace or control characters anywhere).
pub fn safe_url(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://");
    let clean = url
        .chars()
        .all(|c| !c.is_control() && !c.is_whitespace() && c != '\\');
    (scheme_ok && clean && url.len() <= 2048 && url.len() > 8).then_some(url)
}

/// Percent-encodes `s` as one URL path segment (DIDs keep their colons).
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Percent-encodes `s` as a query value.
pub fn query_value(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A piece of markup under construction.
#[derive(Debug, Default, Clone)]
pub struct Markup(String);

impl Markup {
    /// An empty piece.
    pub fn new() -> Markup {
        Markup(String::with_capacity(4096))
    }

    /// Appends markup written in our source code.
    pub fn raw(&mut self, markup: &'static str) -> &mut Markup {
        self.0.push_str(markup);
        self
    }

    /// Appends text (or an attribute value), escaped.
    pub fn text(&mut self, text: &str) -> &mut Markup {
        self.0.push_str(&escape(text));
        self
    }

    /// Appends a number.
    pub fn num(&mut self, n: impl Into<i128>) -> &mut Markup {
        let _ = write!(self.0, "{}", n.into());
        self
    }

    /// Appends another piece of markup.
    pub fn markup(&mut self, other: &Markup) -> &mut Markup {
        self.0.push_str(&other.0);
        self
    }

    /// Appends an escaped, percent-encoded path segment (for links to our own pages).
    pub fn segment(&mut self, s: &str) -> &mut Markup {
        self.0.push_str(&escape(&path_segment(s)));
        self
    }

    /// Appends an escaped, percent-encoded query value.
    pub fn query(&mut self, s: &str) -> &mut Markup {
        self.0.push_str(&escape(&query_value(s)));
        self
    }

    /// An external link opening elsewhere if `url` is a safe http(s) URL; otherwise the
    /// text alone, so a hostile URL is shown, never followed.
    pub fn external_link(&mut self, url: &str, text: &str) -> &mut Markup {
        match safe_url(url) {
            Some(url) => self
                .raw("<a rel=\"nofollow noopener noreferrer\" href=\"")
                .text(url)
                .raw("\">")
                .text(text)
                .raw("</a>"),
            None => self
                .raw("<span class=\"unsafe-url\">")
                .text(text)
                .raw("</span>"),
        }
    }

    /// Appends `source` rendered as Markdown (CommonMark with tables and strikethrough),
    /// safely: raw HTML in it is shown as text, links keep only safe http(s) targets
    /// (others become their text), and images become links, so nothing loads from
    /// elsewhere. Proposal bodies and project descriptions are written by anyone.
    pub fn markdown(&mut self, source: &str) -> &mut Markup {
        use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
        let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
        // Whether each open link or image was kept, to drop its end when it was not.
        let mut kept: Vec<bool> = Vec::new();
        let events = Parser::new_ext(source, options).filter_map(|event| match event {
            Event::Html(html) | Event::InlineHtml(html) => Some(Event::Text(html)),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let safe = safe_url(&dest_url).is_some();
                kept.push(safe);
                safe.then_some(Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }))
            }
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let safe = safe_url(&dest_url).is_some();
                kept.push(safe);
                safe.then_some(Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }))
            }
            Event::End(TagEnd::Link) | Event::End(TagEnd::Image) => kept
                .pop()
                .unwrap_or(false)
                .then_some(Event::End(TagEnd::Link)),
            other => Some(other),
        });
        let mut html = String::new();
        pulldown_cmark::html::push_html(&mut html, events);
        self.0.push_str(&html);
        self
    }

    /// The markup so far.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The finished markup.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod markdown_tests {
    use super::Markup;

    fn md(source: &str) -> String {
        let mut m = Markup::new();
        m.markdown(source);
        m.into_string()
    }

    #[test]
    fn markdown_renders_without_html_scripts_or_unsafe_links() {
        assert!(md("**bold** and `code`").contains("<strong>bold</strong>"));
        let hostile = md("<script>alert(1)</script> <img src=x onerror=alert(1)>");
        assert!(!hostile.contains("<script"), "{hostile}");
        assert!(!hostile.contains("<img"), "{hostile}");
        assert!(hostile.contains("&lt;script&gt;"), "{hostile}");
        let links = md("[ok](https://example.com) [bad](javascript:alert(1)) ![pic](https://img.example/a.png)");
        assert!(links.contains("href=\"https://example.com\""), "{links}");
        assert!(!links.contains("javascript:"), "{links}");
        assert!(links.contains(">bad<") || links.contains("bad"), "{links}");
        assert!(!links.contains("<img"), "{links}");
        assert!(
            links.contains("href=\"https://img.example/a.png\""),
            "{links}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(escape("a\u{0}b"), "a\u{FFFD}b");
    }

    #[test]
    fn only_plain_http_urls_are_links() {
        assert!(safe_url("https://example.com/x?a=1").is_some());
        assert!(safe_url("HTTP://example.com").is_some());
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>",
            "https://exa mple.com",
            "//example.com",
            "https:\\\\evil",
            "https://",
        ] {
            assert!(safe_url(bad).is_none(), "{bad:?}");
        }
        let mut m = Markup::new();
        m.external_link("javascript:alert(1)", "click");
        assert!(!m.as_str().contains("href"));
        let mut m = Markup::new();
        m.external_link("https://x.org/\"><script>", "t");
        assert!(m
            .as_str()
            .contains("https://x.org/&quot;&gt;&lt;script&gt;"));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(path_segment("did:plc:abc"), "did:plc:abc");
        assert_eq!(path_segment("a/b?c\"d"), "a%2Fb%3Fc%22d");
    }
}
