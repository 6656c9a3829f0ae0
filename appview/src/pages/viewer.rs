//! Who is looking at a page, and what they just wrote: pages render the same for everyone
//! not signed in (and are cached publicly), and for a signed-in person add their forms,
//! the notice about their last write, and are never cached.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::layout::page_for;
use super::written::{self, Arrival, Expected};
use crate::html::Markup;
use crate::sign_in::browser::{self, Visitor};
use crate::AppView;

/// The person viewing a page, if signed in, and their write the page should confirm.
#[derive(Debug, Default)]
pub struct Viewer {
    /// The signed-in person.
    pub visitor: Option<Visitor>,
    written: Option<(Expected, Arrival)>,
}

impl Viewer {
    /// From the request: the session cookie and `?written=`/`?gone=`.
    pub async fn load(
        app: &AppView,
        headers: &HeaderMap,
        query: &HashMap<String, String>,
    ) -> Viewer {
        let visitor = match browser::visitor(app.pool(), headers).await {
            Ok(visitor) => visitor,
            Err(error) => {
                tracing::warn!(%error, "cannot read a browser session; showing the public page");
                None
            }
        };
        let mut written = None;
        if visitor.is_some() {
            if let Some(expected) = Expected::from_query(query) {
                match written::arrival(app.pool(), &expected).await {
                    Ok(arrival) => written = Some((expected, arrival)),
                    Err(error) => tracing::warn!(%error, "cannot check a write's arrival"),
                }
            }
        }
        Viewer { visitor, written }
    }

    /// The signed-in person's CSRF token (empty when nobody is signed in).
    pub fn csrf(&self) -> &str {
        self.visitor.as_ref().map_or("", |v| v.csrf.as_str())
    }

    /// The signed-in person's DID.
    pub fn did(&self) -> Option<&str> {
        self.visitor.as_ref().map(|v| v.did.as_str())
    }

    /// The finished page: the write notice before `main`, refreshing while the write is on
    /// its way; private and uncached for a signed-in person.
    pub fn respond(
        &self,
        headers: &HeaderMap,
        title: &str,
        head: &Markup,
        main: &Markup,
    ) -> Response {
        let Some(visitor) = &self.visitor else {
            return super::respond(headers, StatusCode::OK, page_for(None, title, head, main));
        };
        let mut head = head.clone();
        let mut body = Markup::new();
        if let Some((expected, arrival)) = &self.written {
            if written::notice(&mut body, expected, arrival) {
                head.markup(&written::refresh_head());
            }
        }
        body.markup(main);
        super::sign_in::private_page(StatusCode::OK, page_for(Some(visitor), title, &head, &body))
    }

    /// The answer for a record that is not indexed: if this viewer just wrote it, a page
    /// saying it is on its way (refreshing until it arrives, or saying why it was refused);
    /// otherwise not found.
    pub fn not_yet(&self, headers: &HeaderMap, uri: &str) -> Response {
        let (Some(visitor), Some((expected, arrival))) = (&self.visitor, &self.written) else {
            return super::not_found(headers);
        };
        let Expected::Written { uri: written, .. } = expected else {
            return super::not_found(headers);
        };
        if written != uri {
            return super::not_found(headers);
        }
        let mut head = Markup::new();
        let mut body = Markup::new();
        body.raw("<h1>Almost there</h1>");
        if written::notice(&mut body, expected, arrival) {
            head.markup(&written::refresh_head());
        }
        super::sign_in::private_page(
            StatusCode::OK,
            page_for(Some(visitor), "Almost there", &head, &body),
        )
    }
}
