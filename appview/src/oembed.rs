//! oEmbed (<https://oembed.com>): a consumer that finds our discovery `<link>` on a proposal
//! or project page asks `/oembed?url=...` and gets a `rich` answer whose `html` is an iframe
//! of the widget.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::embed::{self, Kind};
use crate::html::{query_value, Markup};
use crate::widget;
use crate::AppView;

/// The endpoint's path.
pub const PATH: &str = "/oembed";

/// The discovery URL of the oEmbed answer for `page_url`.
pub fn discovery_url(public_url: &str, page_url: &str) -> String {
    format!(
        "{public_url}{PATH}?format=json&url={}",
        query_value(page_url)
    )
}

/// Which record a page URL on this AppView shows.
fn parse_page_url(public_url: &str, url: &str) -> Option<(Kind, String)> {
    let path = url.strip_prefix(public_url)?;
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut parts = path.strip_prefix('/')?.split('/');
    let kind = match parts.next()? {
        "proposal" => Kind::Proposal,
        "project" => Kind::Project,
        _ => return None,
    };
    let did = percent_decode(parts.next()?)?;
    let rkey = percent_decode(parts.next()?)?;
    if parts.next().is_some_and(|rest| !rest.is_empty()) {
        return None;
    }
    Some((kind, embed::record_uri(kind, &did, &rkey)?))
}

fn percent_decode(s: &str) -> Option<String> {
    let decoded: String = form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    Some(decoded)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// `GET /oembed?url=<page>&format=json&maxwidth=&maxheight=`.
pub async fn serve(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut url = None;
    let mut format = None;
    let mut max_width: Option<u32> = None;
    let mut max_height: Option<u32> = None;
    for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "url" => url = Some(value.into_owned()),
            "format" => format = Some(value.into_owned()),
            "maxwidth" => max_width = value.parse().ok(),
            "maxheight" => max_height = value.parse().ok(),
            _ => {}
        }
    }
    // The spec's answer to a format we do not offer.
    if format.as_deref().is_some_and(|f| f != "json") {
        return error(StatusCode::NOT_IMPLEMENTED, "only format=json is offered");
    }
    let Some(url) = url else {
        return error(StatusCode::BAD_REQUEST, "url is required");
    };
    let public_url = &app.config().public_url;
    let Some((kind, uri)) = parse_page_url(public_url, &url) else {
        return error(StatusCode::NOT_FOUND, "not a Greenlight page");
    };
    let summary = match embed::load_summary(&app, kind, &uri).await {
        Ok(Some(summary)) => summary,
        Ok(None) => return error(StatusCode::NOT_FOUND, "not found"),
        Err(error_) => {
            tracing::warn!(error = %error_, "cannot load an oEmbed subject");
            return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
        }
    };
    // The spec: the answer must not exceed the consumer's maximums, however small.
    let width = max_width.map_or(widget::SIZE.0, |m| m.clamp(1, widget::SIZE.0));
    let height = max_height.map_or(widget::SIZE.1, |m| m.clamp(1, widget::SIZE.1));
    let src = format!("{public_url}{}/widget", summary.path);
    let mut iframe = Markup::new();
    iframe
        .raw("<iframe src=\"")
        .text(&src)
        .raw("\" width=\"")
        .num(width)
        .raw("\" height=\"")
        .num(height)
        .raw("\" title=\"Greenlight: ")
        .text(&summary.title)
        .raw("\" loading=\"lazy\" style=\"border:0\"></iframe>");
    let body = json!({
        "version": "1.0",
        "type": "rich",
        "title": summary.title,
        "provider_name": "Greenlight",
        "provider_url": format!("{public_url}/"),
        "cache_age": app.config().embed_max_age,
        "html": iframe.into_string(),
        "width": width,
        "height": height,
    });
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    crate::conditional::respond(
        &headers,
        "application/json; charset=utf-8",
        &format!("public, max-age={}", app.config().embed_max_age),
        bytes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls_name_records() {
        let base = "https://gl.example";
        assert_eq!(
            parse_page_url(base, "https://gl.example/proposal/did:plc:abc/3kx"),
            Some((
                Kind::Proposal,
                "at://did:plc:abc/fund.greenlight.proposal/3kx".to_owned()
            ))
        );
        assert_eq!(
            parse_page_url(
                base,
                "https://gl.example/project/did%3Aplc%3Aabc/editor?x=1"
            ),
            Some((
                Kind::Project,
                "at://did:plc:abc/fund.greenlight.project/editor".to_owned()
            ))
        );
        assert_eq!(
            parse_page_url(base, "https://evil.example/proposal/did:plc:a/b"),
            None
        );
        assert_eq!(
            parse_page_url(base, "https://gl.example/person/alice"),
            None
        );
        assert_eq!(
            parse_page_url(base, "https://gl.example/proposal/x/y"),
            None
        );
    }
}
