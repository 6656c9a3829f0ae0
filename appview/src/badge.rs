//! Shields-style SVG badges for READMEs: `greenlight | funded $1,240 / $5,000`, coloured by
//! stage. Self-contained (no fonts, images or scripts from anywhere), a few hundred bytes.

use crate::display::{money, stage_colour};
use crate::embed::{Embed, Kind, Summary};
use crate::html::Markup;

const LABEL: &str = "greenlight";
const LABEL_COLOUR: &str = "#374151";
const PROJECT_COLOUR: &str = "#0f766e";

/// The badge's right-hand text.
pub fn message(summary: &Summary) -> String {
    let pledged = money(summary.pledged, &summary.currency);
    match (summary.kind, summary.stage.as_deref()) {
        (Kind::Project, _) => {
            let noun = if summary.proposal_count == 1 {
                "proposal"
            } else {
                "proposals"
            };
            format!("{pledged} pledged · {} {noun}", summary.proposal_count)
        }
        (Kind::Proposal, Some("declined")) => "declined".to_owned(),
        (Kind::Proposal, Some("released")) => format!("released · {pledged} funded"),
        (Kind::Proposal, _) => match summary.goal {
            Some(goal) => format!("funded {pledged} / {}", money(goal, &summary.currency)),
            None => format!(
                "{} estimated",
                money(summary.estimate_total, &summary.currency)
            ),
        },
    }
}

/// Rough width in pixels of `s` at 11px Verdana: enough to size the box; `textLength`
/// makes the text fit it exactly whatever font the viewer has.
fn text_width(s: &str) -> u32 {
    s.chars()
        .map(|c| match c {
            'i' | 'l' | '.' | ',' | ':' | '\'' | '|' | '!' => 4,
            ' ' | 'f' | 'j' | 't' | 'r' | '/' | '(' | ')' | '-' | '·' => 5,
            'm' | 'w' | 'M' | 'W' | '%' | '@' => 10,
            c if c.is_ascii_uppercase() => 8,
            _ => 7,
        })
        .sum()
}

/// The badge SVG for `summary`.
pub fn render(summary: &Summary) -> String {
    let message = message(summary);
    let colour = match summary.kind {
        Kind::Project => PROJECT_COLOUR,
        Kind::Proposal => stage_colour(summary.stage.as_deref().unwrap_or("")),
    };
    svg(LABEL, &message, colour)
}

/// A two-part badge.
pub fn svg(label: &str, message: &str, colour: &'static str) -> String {
    let label_text = text_width(label);
    let message_text = text_width(message);
    let label_box = label_text + 12;
    let message_box = message_text + 12;
    let width = label_box + message_box;
    let mut m = Markup::new();
    m.raw("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"")
        .num(width)
        .raw("\" height=\"20\" role=\"img\" aria-label=\"")
        .text(label)
        .raw(": ")
        .text(message)
        .raw("\"><title>")
        .text(label)
        .raw(": ")
        .text(message)
        .raw("</title><clipPath id=\"r\"><rect width=\"")
        .num(width)
        .raw("\" height=\"20\" rx=\"3\"/></clipPath><g clip-path=\"url(#r)\"><rect width=\"")
        .num(label_box)
        .raw("\" height=\"20\" fill=\"")
        .raw(LABEL_COLOUR)
        .raw("\"/><rect x=\"")
        .num(label_box)
        .raw("\" width=\"")
        .num(message_box)
        .raw("\" height=\"20\" fill=\"")
        .raw(colour)
        .raw("\"/></g><g fill=\"#fff\" font-family=\"Verdana,DejaVu Sans,Geneva,sans-serif\" font-size=\"11\"><text x=\"6\" y=\"14\" textLength=\"")
        .num(label_text)
        .raw("\">")
        .text(label)
        .raw("</text><text x=\"")
        .num(label_box + 6)
        .raw("\" y=\"14\" textLength=\"")
        .num(message_text)
        .raw("\">")
        .text(message)
        .raw("</text></g></svg>");
    m.into_string()
}

/// The badge, as an [`Embed`]: `…/badge.svg`.
pub struct Badge;

impl Embed for Badge {
    const CONTENT_TYPE: &'static str = "image/svg+xml; charset=utf-8";
    const NAME: &'static str = "badge";

    fn render(summary: &Summary, _public_url: &str) -> String {
        render(summary)
    }

    fn not_found() -> String {
        svg(LABEL, "not found", "#4b5563")
    }

    fn unavailable() -> String {
        svg(LABEL, "unavailable", "#4b5563")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(stage: &str, goal: Option<i64>) -> Summary {
        Summary {
            kind: Kind::Proposal,
            uri: "at://did:plc:a/fund.greenlight.proposal/x".into(),
            path: "/proposal/did:plc:a/x".into(),
            title: "<b>".into(),
            project_name: None,
            stage: Some(stage.into()),
            currency: "USD".into(),
            goal,
            estimate_total: 70_000,
            estimate_count: 3,
            pledged: 124_000,
            backer_count: 2,
            proposal_count: 0,
        }
    }

    #[test]
    fn messages_follow_the_stage() {
        assert_eq!(
            message(&summary("preview", Some(500_000))),
            "funded $1,240 / $5,000"
        );
        assert_eq!(message(&summary("proposed", None)), "$700 estimated");
        assert_eq!(
            message(&summary("released", Some(1))),
            "released · $1,240 funded"
        );
        assert_eq!(message(&summary("declined", Some(1))), "declined");
    }

    #[test]
    fn hostile_text_is_escaped() {
        let svg = svg("<x>", "\"><script>alert(1)</script>", "#000");
        assert!(!svg.contains("<script>"));
        assert!(!svg.contains("<x>"));
    }
}
