//! The frame every page shares, and pieces several pages show (proposal cards, stage pills,
//! people).

use greenlight_lexicon::fund::greenlight::defs::{ActorRef, ProposalView, ProposalViewSubject};

use crate::display::{actor_name, money, progress, stage_name};
use crate::embed::{page_path, Kind};
use crate::html::Markup;
use crate::sign_in::browser::Visitor;

/// A whole page: `title` (escaped), extra `<head>` markup, and the main content, for
/// someone not signed in (or a page that is the same for everyone).
pub fn page(title: &str, head: &Markup, main: &Markup) -> String {
    page_for(None, title, head, main)
}

/// A whole page for `visitor`: the header offers signing in, or names them with their
/// page and a sign-out button.
pub fn page_for(visitor: Option<&Visitor>, title: &str, head: &Markup, main: &Markup) -> String {
    let mut account = Markup::new();
    match visitor {
        None => {
            account.raw("<a class=\"account\" href=\"/sign-in\">Sign in</a>");
        }
        Some(visitor) => {
            account
                .raw("<a class=\"account\" href=\"/person/")
                .segment(&visitor.did)
                .raw("\">")
                .text(visitor.name())
                .raw("</a><form method=\"post\" action=\"/sign-out\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"")
                .text(&visitor.csrf)
                .raw("\"><button type=\"submit\" class=\"link\">Sign out</button></form>");
        }
    }
    let mut m = Markup::new();
    m.raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>")
        .text(title)
        .raw(" · Greenlight</title><link rel=\"stylesheet\" href=\"")
        .text(super::stylesheet_path())
        .raw("\">")
        .markup(head)
        .raw("</head><body><a class=\"skip\" href=\"#main\">Skip to content</a><header class=\"site\"><nav aria-label=\"Site\"><a class=\"brand\" href=\"/\"><span aria-hidden=\"true\" class=\"dot\"></span>Greenlight</a><a href=\"/\">Explore</a><a href=\"/projects\">Projects</a>")
        .markup(&account)
        .raw("</nav></header><main id=\"main\">")
        .markup(main)
        .raw("</main><footer class=\"site\"><p>Greenlight funds open-source features. Pledges wait in escrow and are paid only after the code is released as open source; if it never is, every pledge is refunded.</p></footer></body></html>");
    m.into_string()
}

/// A stage pill.
pub fn stage_pill(m: &mut Markup, stage: &str) {
    let class = match stage {
        "proposed" | "development" | "preview" | "released" | "declined" => stage,
        _ => "proposed",
    };
    m.raw("<span class=\"pill s-")
        .text(class)
        .raw("\">")
        .raw(stage_name(stage))
        .raw("</span>");
}

/// A link to a person's page, named by handle (or DID).
pub fn person_link(m: &mut Markup, actor: &ActorRef) {
    let key = actor.handle.as_deref().unwrap_or(&actor.did);
    m.raw("<a href=\"/person/")
        .segment(key)
        .raw("\">")
        .text(&actor_name(actor))
        .raw("</a>");
}

/// A progress bar toward a goal with its accessible name.
pub fn progress_bar(m: &mut Markup, part: i64, goal: i64, label: &'static str) {
    let pct = progress(part, goal);
    m.raw("<progress max=\"100\" value=\"")
        .num(pct)
        .raw("\" aria-label=\"")
        .raw(label)
        .raw("\">")
        .num(pct)
        .raw("%</progress>");
}

/// One proposal in a list: title, stage, project, author, money.
pub fn proposal_card(m: &mut Markup, view: &ProposalView) {
    let totals = &view.totals;
    let currency = &view.currency;
    let pledged = totals.pledged_held.saturating_add(totals.paid_out);
    m.raw("<li class=\"card\"><h3><a href=\"")
        .text(&page_path(Kind::Proposal, &view.uri))
        .raw("\">")
        .text(&view.title)
        .raw("</a></h3><p class=\"meta\">");
    stage_pill(m, &view.stage);
    if let ProposalViewSubject::ProjectRef(project) = &view.subject {
        if let Some(name) = &project.name {
            m.raw(" <span>").text(name).raw("</span>");
        }
    }
    m.raw(" <span>by ")
        .text(&actor_name(&view.author))
        .raw("</span></p>");
    if let (Some(goal), false) = (view.goal, view.stage == "declined") {
        progress_bar(m, pledged, goal, "Pledged toward the goal");
    }
    m.raw("<p class=\"numbers\"><strong>")
        .text(&money(pledged, currency))
        .raw("</strong> pledged");
    if let Some(goal) = view.goal {
        m.raw(" of ").text(&money(goal, currency));
    }
    let estimators = totals.estimate_count;
    if estimators == 0 {
        m.raw(" · no estimates yet</p></li>");
    } else {
        m.raw(" · ")
            .text(&money(totals.estimate_total, currency))
            .raw(" estimated by ")
            .num(estimators)
            .raw(if estimators == 1 {
                " person"
            } else {
                " people"
            })
            .raw("</p></li>");
    }
}

/// The money rules in three sentences, for pages that are not about one proposal.
pub fn money_rules(m: &mut Markup, config: &crate::Config) {
    m.raw("<section class=\"backer\" aria-labelledby=\"rules\"><h2 id=\"rules\">How backing works</h2><p>Pledges open when a maintainer publishes a preview you can try. Your money then waits in escrow: if the maintainer declines, or the source code is not released within ")
        .num(crate::display::days(config.release_grace) as i64)
        .raw(" days after the preview ends, every pledge is refunded in full. After a release, backers have ")
        .num(crate::display::days(config.verification_period) as i64)
        .raw(" days to dispute it; then the maintainer is paid, minus a ")
        .text(&crate::display::percent(config.platform_fee_basis_points))
        .raw(" platform fee.</p></section>");
}
