//! Test support: records written the way the indexer writes them (row in `appview.record`,
//! then the aggregates hook in the same transaction), and calls into the router.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Duration, TimeZone, Utc};
use greenlight_aggregates::{apply_record_changes, ChangedRecord};
use greenlight_appview::{AppView, Config};
use greenlight_lexicon::Catalog;
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;

/// A fake but well-formed CID.
pub const CID: &str = "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a";

/// A moment `minutes` after a fixed origin.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Writes records into a test database as the indexer would.
#[derive(Clone)]
pub struct Seed {
    pub pool: PgPool,
}

impl Seed {
    pub fn new(pool: PgPool) -> Seed {
        Seed { pool }
    }

    /// Stores (or replaces) a record and runs the aggregates hook, like one indexer batch.
    #[allow(clippy::too_many_arguments)]
    pub async fn put(
        &self,
        did: &str,
        collection: &str,
        rkey: &str,
        body: Value,
        subject: Option<&str>,
        amount: Option<i64>,
        currency: Option<&str>,
        created: DateTime<Utc>,
    ) -> String {
        let uri = format!("at://{did}/{collection}/{rkey}");
        let mut tx = self.pool.begin().await.unwrap();
        let previous: Option<(Option<String>,)> =
            sqlx::query_as("SELECT subject_uri FROM appview.record WHERE uri = $1")
                .bind(&uri)
                .fetch_optional(&mut *tx)
                .await
                .unwrap();
        sqlx::query(
            "INSERT INTO appview.record (uri, did, collection, rkey, cid, rev, body, subject_uri,
                 created_at, amount, currency)
             VALUES ($1, $2, $3, $4, $5, '3laaaaaaaaaaa', $6, $7, $8, $9, $10)
             ON CONFLICT (uri) DO UPDATE SET body = EXCLUDED.body, subject_uri = EXCLUDED.subject_uri,
                 created_at = EXCLUDED.created_at, amount = EXCLUDED.amount,
                 currency = EXCLUDED.currency",
        )
        .bind(&uri)
        .bind(did)
        .bind(collection)
        .bind(rkey)
        .bind(CID)
        .bind(&body)
        .bind(subject)
        .bind(created)
        .bind(amount)
        .bind(currency)
        .execute(&mut *tx)
        .await
        .unwrap();
        let previous = previous.and_then(|(s,)| s);
        apply_record_changes(
            &mut tx,
            &[ChangedRecord {
                uri: &uri,
                collection,
                subject_uri: subject,
                previous_subject_uri: previous.as_deref().filter(|p| Some(*p) != subject),
            }],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        uri
    }

    /// Deletes a record and runs the hook.
    pub async fn delete(&self, uri: &str) {
        let mut tx = self.pool.begin().await.unwrap();
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "DELETE FROM appview.record WHERE uri = $1 RETURNING collection, subject_uri",
        )
        .bind(uri)
        .fetch_optional(&mut *tx)
        .await
        .unwrap();
        if let Some((collection, subject)) = row {
            apply_record_changes(
                &mut tx,
                &[ChangedRecord {
                    uri,
                    collection: &collection,
                    subject_uri: subject.as_deref(),
                    previous_subject_uri: None,
                }],
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }

    pub async fn handle(&self, did: &str, handle: &str) {
        sqlx::query(
            "INSERT INTO appview.actor (did, handle) VALUES ($1, $2)
             ON CONFLICT (did) DO UPDATE SET handle = EXCLUDED.handle",
        )
        .bind(did)
        .bind(handle)
        .execute(&self.pool)
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
        let project = self
            .put(
                did,
                "fund.greenlight.project",
                rkey,
                body,
                None,
                None,
                Some(currency),
                at(0),
            )
            .await;
        // The maintainers these worlds list have agreed to it.
        for maintainer in maintainers {
            self.accept(maintainer, &project).await;
        }
        project
    }

    /// `did` accepts to maintain `project` (a `fund.greenlight.maintainer` record).
    pub async fn accept(&self, did: &str, project: &str) -> String {
        let owner = project
            .trim_start_matches("at://")
            .split('/')
            .next()
            .unwrap_or_default();
        let rkey = format!(
            "m{}-{}",
            owner.replace(':', "-"),
            project.rsplit('/').next().unwrap_or_default()
        );
        let body = json!({
            "$type": "fund.greenlight.maintainer",
            "subject": { "uri": project, "cid": CID },
            "createdAt": stamp(at(0)),
        });
        self.put(
            did,
            "fund.greenlight.maintainer",
            &rkey,
            body,
            Some(project),
            None,
            None,
            at(0),
        )
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
        self.put(
            did,
            "fund.greenlight.proposal",
            rkey,
            body,
            Some(project),
            None,
            None,
            created,
        )
        .await
    }

    pub async fn repo_proposal(&self, did: &str, rkey: &str, repo: &str, title: &str) -> String {
        let body = json!({
            "$type": "fund.greenlight.proposal",
            "subject": { "$type": "fund.greenlight.proposal#repository", "url": repo },
            "title": title,
            "body": "For a project not on Greenlight yet.",
            "createdAt": stamp(at(1)),
        });
        self.put(
            did,
            "fund.greenlight.proposal",
            rkey,
            body,
            None,
            None,
            None,
            at(1),
        )
        .await
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
        self.put(
            did,
            "fund.greenlight.estimate",
            rkey,
            body,
            Some(proposal),
            Some(amount),
            Some(currency),
            created,
        )
        .await
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
        self.put(
            did,
            "fund.greenlight.status",
            rkey,
            body,
            Some(proposal),
            None,
            None,
            created,
        )
        .await
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
        self.put(
            did,
            "fund.greenlight.pledge",
            rkey,
            body,
            Some(proposal),
            Some(amount),
            Some("USD"),
            created,
        )
        .await
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
