//! Test support: records written through the indexer itself (its record rules, then its
//! `Writer` with the aggregates hook, one batch per call), and calls into the router.
//!
//! The record writing is the aggregates crate's test support, included as
//! [`records`] rather than copied: both crates' tests seed exactly what the indexer
//! would store, by one piece of code.
#![allow(dead_code)]

#[path = "../../../crates/aggregates/tests/support/mod.rs"]
pub mod records;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Utc};
use greenlight_appview::{AppView, Config};
use greenlight_indexer::event::{EventBody, SourceEvent};
use greenlight_indexer::writer::{AggregatesObserver, Writer};
use greenlight_lexicon::Catalog;
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;

pub use records::{at, stamp, tid, CID};

/// Writes records into a test database as the indexer would.
#[derive(Clone)]
pub struct Seed {
    pub pool: PgPool,
}

impl Seed {
    pub fn new(pool: PgPool) -> Seed {
        Seed { pool }
    }

    /// Stores (or replaces) a record as one indexer batch, its columns (subject, amount,
    /// currency, date) read from the body by the indexer's rules; returns its URI. A record
    /// the rules reject (a record key that is not a TID in a tid-keyed collection, a body
    /// off its lexicon) fails the test.
    pub async fn put(&self, did: &str, collection: &str, rkey: &str, body: Value) -> String {
        let uri = format!("at://{did}/{collection}/{rkey}");
        records::put(&self.pool, &uri, body).await;
        uri
    }

    /// Deletes a record as a commit deleting it would.
    pub async fn delete(&self, uri: &str) {
        records::delete(&self.pool, uri).await;
    }

    /// Hides or shows every record of `did`, as an `#account` event does.
    pub async fn set_hidden(&self, did: &str, hidden: bool) {
        records::set_hidden(&self.pool, did, hidden).await;
    }

    /// Gives `did` its handle, as an `#identity` event does.
    pub async fn handle(&self, did: &str, handle: &str) {
        let body = EventBody::Identity {
            did: did.to_owned(),
            handle: Some(handle.to_owned()),
        };
        Writer::new(self.pool.clone(), "test")
            .with_observer(Arc::new(AggregatesObserver))
            .write_batch(&[SourceEvent { cursor: None, body }])
            .await
            .unwrap();
    }

    pub async fn project(
        &self,
        did: &str,
        rkey: &str,
        currency: &str,
        maintainers: &[&str],
    ) -> String {
        let body = json!({
            "$type": "fund.greenlight.project",
            "name": format!("Project {rkey}"),
            "description": "An editor.",
            "repository": format!("https://example.com/{rkey}"),
            "website": "https://example.com",
            "currency": currency,
            "maintainers": maintainers,
            "createdAt": stamp(at(0)),
        });
        let project = self.put(did, "fund.greenlight.project", rkey, body).await;
        // The maintainers these worlds list have agreed to it.
        for maintainer in maintainers {
            self.accept(maintainer, &project).await;
        }
        project
    }

    /// `did` accepts to maintain `project` (a `fund.greenlight.maintainer` record, keyed by
    /// a TID derived from the project, so accepting again replaces it).
    pub async fn accept(&self, did: &str, project: &str) -> String {
        // FNV-1a of the project's URI: any u64 spells a valid TID.
        let key = project
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            });
        let body = json!({
            "$type": "fund.greenlight.maintainer",
            "subject": { "uri": project, "cid": CID },
            "createdAt": stamp(at(0)),
        });
        self.put(did, "fund.greenlight.maintainer", &tid(key), body)
            .await
    }

    pub async fn proposal(
        &self,
        did: &str,
        rkey: &str,
        project: &str,
        title: &str,
        created: DateTime<Utc>,
    ) -> String {
        let body = json!({
            "$type": "fund.greenlight.proposal",
            "subject": { "$type": "com.atproto.repo.strongRef", "uri": project, "cid": CID },
            "title": title,
            "body": format!("{title}: please build it."),
            "tags": ["sync"],
            "createdAt": stamp(created),
        });
        self.put(did, "fund.greenlight.proposal", rkey, body).await
    }

    pub async fn repo_proposal(&self, did: &str, rkey: &str, repo: &str, title: &str) -> String {
        let body = json!({
            "$type": "fund.greenlight.proposal",
            "subject": { "$type": "fund.greenlight.proposal#repository", "url": repo },
            "title": title,
            "body": "For a project not on Greenlight yet.",
            "createdAt": stamp(at(1)),
        });
        self.put(did, "fund.greenlight.proposal", rkey, body).await
    }

    pub async fn estimate(
        &self,
        did: &str,
        rkey: &str,
        proposal: &str,
        amount: i64,
        currency: &str,
        created: DateTime<Utc>,
    ) -> String {
        let body = json!({
            "$type": "fund.greenlight.estimate",
            "subject": { "uri": proposal, "cid": CID },
            "amount": amount,
            "currency": currency,
            "createdAt": stamp(created),
        });
        self.put(did, "fund.greenlight.estimate", rkey, body).await
    }

    pub async fn status(
        &self,
        did: &str,
        rkey: &str,
        proposal: &str,
        stage: Value,
        created: DateTime<Utc>,
    ) -> String {
        let body = json!({
            "$type": "fund.greenlight.status",
            "subject": { "uri": proposal, "cid": CID },
            "stage": stage,
            "createdAt": stamp(created),
        });
        self.put(did, "fund.greenlight.status", rkey, body).await
    }

    pub async fn pledge(
        &self,
        did: &str,
        rkey: &str,
        proposal: &str,
        amount: i64,
        receipt: &str,
        created: DateTime<Utc>,
    ) -> String {
        let body = json!({
            "$type": "fund.greenlight.pledge",
            "subject": { "uri": proposal, "cid": CID },
            "amount": amount,
            "currency": "USD",
            "receipt": receipt,
            "createdAt": stamp(created),
        });
        self.put(did, "fund.greenlight.pledge", rkey, body).await
    }

    /// Stores escrow's state for a proposal as the proposal-states follower would (terms
    /// fixed at `at(70)`, 5% fee, paying `payee`); `verification` is escrow's start and end,
    /// for a proposal escrow holds as released. For worlds that need escrow's clock without
    /// running its feed (`tests/escrow_terms.rs` runs the feed itself).
    pub async fn escrow_state(
        &self,
        proposal: &str,
        project: &str,
        payee: &str,
        stage: &str,
        verification: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) {
        sqlx::query(
            "INSERT INTO appview.escrow_proposal (proposal, seq, project, payee, currency,
                 fee_basis_points, stage, verification_started_at, verification_ends_at,
                 terms_fixed_at, updated_at)
             SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, 'USD', 500, $4, $5, $6, $7, $7
             FROM appview.escrow_proposal
             ON CONFLICT (proposal) DO UPDATE SET seq = EXCLUDED.seq, stage = EXCLUDED.stage,
                 verification_started_at = EXCLUDED.verification_started_at,
                 verification_ends_at = EXCLUDED.verification_ends_at",
        )
        .bind(proposal)
        .bind(project)
        .bind(payee)
        .bind(stage)
        .bind(verification.map(|(started, _)| started))
        .bind(verification.map(|(_, ends)| ends))
        .bind(at(70))
        .execute(&self.pool)
        .await
        .unwrap();
    }
}

pub fn development(goal: i64) -> Value {
    json!({ "$type": "fund.greenlight.status#development", "goal": goal, "currency": "USD" })
}

pub fn preview(ends: DateTime<Utc>) -> Value {
    json!({ "$type": "fund.greenlight.status#preview", "url": "https://preview.example.com",
            "instructions": "Try it.", "endsAt": stamp(ends) })
}

pub fn release() -> Value {
    json!({ "$type": "fund.greenlight.status#release", "sourceUrl": "https://example.com/src",
            "revision": "abc123", "license": "MIT" })
}

/// An AppView over `pool` and its router.
pub fn app(pool: PgPool) -> (AppView, Router) {
    let app = AppView::new(pool, Config::new("http://localhost:2584")).unwrap();
    let router = app.router();
    (app, router)
}

/// A response as a test sees it.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

/// Calls `path` (with query) on the router.
pub async fn get(router: &Router, path: &str) -> Reply {
    get_with(router, Request::get(path).body(Body::empty()).unwrap()).await
}

pub async fn get_with(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let raw = axum::body::to_bytes(response.into_body(), 16 << 20)
        .await
        .unwrap()
        .to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        raw,
    }
}

/// Calls an XRPC method and checks the answer against the method's lexicon: a 200 body is a
/// valid output, an error is a valid XRPC error body.
pub async fn xrpc(router: &Router, nsid: &str, query: &str) -> Reply {
    let reply = get(router, &format!("/xrpc/{nsid}?{query}")).await;
    check(nsid, &reply);
    reply
}

pub fn check(nsid: &str, reply: &Reply) {
    let catalog = Catalog::embedded().unwrap();
    if reply.status == StatusCode::OK {
        if let Err(err) = catalog.validate_output(nsid, &reply.body) {
            panic!("{nsid} output does not validate: {err}\n{:#}", reply.body);
        }
    } else {
        assert!(
            reply.status != StatusCode::INTERNAL_SERVER_ERROR,
            "{nsid}: 500 {:?}",
            reply.body
        );
        assert_xrpc_error(reply);
    }
}

/// The body is `{"error": <name>, "message": <string>}` and nothing else.
pub fn assert_xrpc_error(reply: &Reply) {
    let object = reply.body.as_object().unwrap_or_else(|| {
        panic!(
            "error body is not JSON ({}): {:?}",
            reply.status,
            String::from_utf8_lossy(&reply.raw)
        )
    });
    assert!(object
        .get("error")
        .and_then(Value::as_str)
        .is_some_and(|e| !e.is_empty()));
    assert!(object.get("message").is_none_or(Value::is_string));
    assert!(object.keys().all(|k| k == "error" || k == "message"));
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
