//! Read-your-own-writes: after a person writes a record from a page, the page they land on
//! names it (`?written=URI&cid=CID`, or `?gone=URI` after a deletion). Until the indexer
//! has it, the page says it is on its way and refreshes itself; once indexed, it says so,
//! and if our rules rejected it, it says why. Never silently stale.

use std::collections::HashMap;

use sqlx::PgPool;

use crate::html::Markup;

/// Where a written record is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// Indexed at the written version: the page shows it.
    Shown,
    /// Indexed, but it does not count: why.
    Rejected(String),
    /// Not indexed yet.
    OnItsWay,
}

/// What the page was asked to confirm.
#[derive(Debug, Clone)]
pub enum Expected {
    /// A record written at this version.
    Written {
        /// AT-URI.
        uri: String,
        /// CID written.
        cid: String,
    },
    /// A record deleted.
    Gone {
        /// AT-URI.
        uri: String,
    },
}

impl Expected {
    /// From a page's query, if it names a write.
    pub fn from_query(query: &HashMap<String, String>) -> Option<Expected> {
        if let Some(uri) = query.get("written") {
            return Some(Expected::Written {
                uri: uri.clone(),
                cid: query.get("cid").cloned().unwrap_or_default(),
            });
        }
        query
            .get("gone")
            .map(|uri| Expected::Gone { uri: uri.clone() })
    }
}

/// Whether the indexer has caught up with `expected`.
pub async fn arrival(pool: &PgPool, expected: &Expected) -> Result<Arrival, sqlx::Error> {
    match expected {
        Expected::Written { uri, cid } => {
            let indexed = sqlx::query_scalar!("SELECT cid FROM appview.record WHERE uri = $1", uri)
                .fetch_optional(pool)
                .await?;
            if indexed.as_deref() == Some(cid.as_str()) {
                return Ok(Arrival::Shown);
            }
            let rejected = sqlx::query!(
                "SELECT cid, reason FROM appview.rejected_record WHERE uri = $1",
                uri
            )
            .fetch_optional(pool)
            .await?;
            Ok(match rejected {
                Some(row) if row.cid.as_deref() == Some(cid.as_str()) => {
                    Arrival::Rejected(row.reason)
                }
                _ => Arrival::OnItsWay,
            })
        }
        Expected::Gone { uri } => {
            let still = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM appview.record WHERE uri = $1"#,
                uri
            )
            .fetch_one(pool)
            .await?;
            Ok(if still == 0 {
                Arrival::Shown
            } else {
                Arrival::OnItsWay
            })
        }
    }
}

/// The notice at the top of the page, and whether the page should refresh itself.
pub fn notice(m: &mut Markup, expected: &Expected, arrival: &Arrival) -> bool {
    let (uri, deleted) = match expected {
        Expected::Written { uri, .. } => (uri, false),
        Expected::Gone { uri } => (uri, true),
    };
    match (arrival, deleted) {
        (Arrival::Shown, false) => {
            m.raw("<p class=\"notice ok\" role=\"status\">Saved to your repository and shown below (<code>")
                .text(uri)
                .raw("</code>).</p>");
            false
        }
        (Arrival::Shown, true) => {
            m.raw("<p class=\"notice ok\" role=\"status\">Deleted from your repository.</p>");
            false
        }
        (Arrival::Rejected(reason), _) => {
            m.raw("<p class=\"notice problem\" role=\"alert\">Saved to your repository (<code>")
                .text(uri)
                .raw("</code>), but it does not count on Greenlight: ")
                .text(reason)
                .raw("</p>");
            false
        }
        (Arrival::OnItsWay, _) => {
            m.raw("<p class=\"notice pending\" role=\"status\">")
                .raw(if deleted {
                    "Deleted from your repository; this page updates when Greenlight has seen it."
                } else {
                    "Saved to your repository; it is on its way to Greenlight and this page updates by itself when it arrives."
                })
                .raw(" (<code>")
                .text(uri)
                .raw("</code>)</p>");
            true
        }
    }
}

/// The `<head>` markup that reloads the page while a write is on its way (works without
/// scripts).
pub fn refresh_head() -> Markup {
    let mut head = Markup::new();
    head.raw("<meta http-equiv=\"refresh\" content=\"1\">");
    head
}
