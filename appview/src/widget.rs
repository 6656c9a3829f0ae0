//! The funding widget: a small HTML page made to sit in an `<iframe>` on other sites and
//! apps. No JavaScript, no external assets; its styles are inline so one request draws it.

use crate::display::{money, progress, stage_name};
use crate::embed::{Embed, Kind, Summary};
use crate::html::Markup;

/// Width and height the oEmbed answer suggests for the iframe.
pub const SIZE: (u32, u32) = (400, 210);

const STYLE: &str = "*{box-sizing:border-box}html,body{margin:0}body{font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#111827;background:#fff}\
.w{border:1px solid #d1d5db;border-radius:10px;padding:14px 16px;max-width:100%;min-height:100vh}\
.p{margin:0;color:#4b5563;font-size:13px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}\
h1{margin:2px 0 8px;font-size:17px;line-height:1.3;overflow-wrap:anywhere;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden}\
h1 a{color:#111827;text-decoration:none}h1 a:hover,h1 a:focus{text-decoration:underline}\
.s{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;color:#fff;margin:0 0 8px}\
.s-proposed{background:#4b5563}.s-development{background:#1d4ed8}.s-preview{background:#a14a00}.s-released{background:#166534}.s-declined{background:#b91c1c}.s-project{background:#0f766e}\
progress{display:block;width:100%;height:10px;border:0;border-radius:5px;background:#e5e7eb;overflow:hidden;-webkit-appearance:none;appearance:none}\
progress::-webkit-progress-bar{background:#e5e7eb}progress::-webkit-progress-value{background:#16a34a}progress::-moz-progress-bar{background:#16a34a}\
.n{margin:6px 0 0;font-size:14px}.n strong{font-size:16px}.m{margin:2px 0 0;color:#4b5563;font-size:13px}\
.c{display:inline-block;margin-top:10px;color:#1d4ed8;font-weight:600;font-size:14px}";

fn plural(n: i64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// The widget page for `summary`; links point at `public_url`.
pub fn render(summary: &Summary, public_url: &str) -> String {
    let page = format!("{public_url}{}", summary.path);
    let mut m = Markup::new();
    m.raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta name=\"robots\" content=\"noindex\"><title>")
        .text(&summary.title)
        .raw(" · Greenlight</title><style>")
        .raw(STYLE)
        .raw("</style></head><body><main class=\"w\">");
    match (&summary.project_name, summary.kind) {
        (Some(project), _) => {
            m.raw("<p class=\"p\">").text(project).raw("</p>");
        }
        (None, Kind::Project) => {
            m.raw("<p class=\"p\">Project on Greenlight</p>");
        }
        (None, Kind::Proposal) => {
            m.raw("<p class=\"p\">Feature proposal</p>");
        }
    }
    m.raw("<h1><a target=\"_blank\" rel=\"noopener\" href=\"")
        .text(&page)
        .raw("\">")
        .text(&summary.title)
        .raw("</a></h1>");
    match summary.stage.as_deref() {
        Some(stage) => {
            let class = match stage {
                "proposed" | "development" | "preview" | "released" | "declined" => stage,
                _ => "proposed",
            };
            m.raw("<p class=\"s s-")
                .text(class)
                .raw("\">")
                .text(stage_name(stage))
                .raw("</p>");
        }
        None => {
            m.raw("<p class=\"s s-project\">")
                .num(summary.proposal_count)
                .raw(" ")
                .raw(plural(summary.proposal_count, "proposal", "proposals"))
                .raw("</p>");
        }
    }
    let currency = &summary.currency;
    let pledged = money(summary.pledged, currency);
    match summary.goal {
        Some(goal) => {
            m.raw("<progress max=\"100\" value=\"")
                .num(progress(summary.pledged, goal))
                .raw("\" aria-label=\"Pledged toward the goal\">")
                .num(progress(summary.pledged, goal))
                .raw("%</progress><p class=\"n\"><strong>")
                .text(&pledged)
                .raw("</strong> pledged of ")
                .text(&money(goal, currency))
                .raw(" goal</p>");
        }
        None => {
            m.raw("<p class=\"n\"><strong>")
                .text(&pledged)
                .raw("</strong> pledged</p>");
        }
    }
    m.raw("<p class=\"m\">")
        .num(summary.backer_count)
        .raw(" ")
        .raw(plural(summary.backer_count, "backer", "backers"))
        .raw(" · ")
        .text(&money(summary.estimate_total, currency))
        .raw(" estimated by ")
        .num(summary.estimate_count)
        .raw(" ")
        .raw(plural(summary.estimate_count, "person", "people"))
        .raw("</p><a class=\"c\" target=\"_blank\" rel=\"noopener\" href=\"")
        .text(&page)
        .raw("\">");
    match summary.kind {
        Kind::Proposal => m.raw("See the proposal on Greenlight →</a>"),
        Kind::Project => m.raw("See the project on Greenlight →</a>"),
    };
    m.raw("</main></body></html>");
    m.into_string()
}

/// The widget, as an [`Embed`]: `…/widget`.
pub struct Widget;

impl Embed for Widget {
    const CONTENT_TYPE: &'static str = "text/html; charset=utf-8";
    const NAME: &'static str = "widget";

    fn render(summary: &Summary, public_url: &str) -> String {
        render(summary, public_url)
    }

    fn not_found() -> String {
        message_page("Not found on Greenlight.")
    }

    fn unavailable() -> String {
        message_page("Greenlight is unavailable right now.")
    }
}

fn message_page(message: &'static str) -> String {
    let mut m = Markup::new();
    m.raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Greenlight</title><style>")
        .raw(STYLE)
        .raw("</style></head><body><main class=\"w\"><p class=\"n\">")
        .raw(message)
        .raw("</p></main></body></html>");
    m.into_string()
}
