//! Projects' proof of control: `checkProjectProof`, `projectView.proof` and
//! `projectRef.verified`, against a local forge stand-in, with every answer checked against
//! its lexicon.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use greenlight_aggregates::repository_attach::verified_project_for_repositories;
use greenlight_appview::proof::Worker;
use greenlight_appview::{AppView, Config};
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;

const OWNER: &str = "did:plc:owner";
const CHECK: &str = "fund.greenlight.checkProjectProof";

/// Stands in for a Forgejo/Gitea forge on 127.0.0.1: it serves the raw files of each
/// repository's default branch at `/{owner}/{repo}/raw/branch/HEAD/{file}`, the layout the
/// AppView fetches for hosts other than GitHub and GitLab. The test edits the files.
#[derive(Clone, Default)]
struct Forge {
    files: Arc<Mutex<HashMap<String, String>>>,
}

impl Forge {
    async fn start() -> (Forge, SocketAddr) {
        let forge = Forge::default();
        let router = Router::new()
            .route(
                "/{owner}/{repo}/raw/branch/HEAD/{*file}",
                get(
                    |State(forge): State<Forge>,
                     Path((owner, repo, file)): Path<(String, String, String)>| async move {
                        forge.serve(&format!("{owner}/{repo}/{file}"))
                    },
                ),
            )
            .with_state(forge.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (forge, addr)
    }

    fn serve(&self, path: &str) -> Response {
        match self.files.lock().unwrap().get(path) {
            Some(body) => body.clone().into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }

    /// Commits `body` as `path` (`owner/repo/file`) on the default branch.
    fn publish(&self, path: &str, body: &str) {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_owned(), body.to_owned());
    }

    fn remove(&self, path: &str) {
        self.files.lock().unwrap().remove(path);
    }
}

/// An AppView allowed to fetch from loopback (the development setting), with `min_interval`
/// between two checks of one project.
fn app_with(pool: PgPool, min_interval: Duration) -> (AppView, Router) {
    let mut config = Config::new("http://localhost:2584");
    config.allow_insecure_http = true;
    config.proof_min_interval = min_interval;
    let app = AppView::new(pool, config).unwrap();
    let router = app.router();
    (app, router)
}

async fn project(seed: &Seed, rkey: &str, repository: &str) -> String {
    seed.put(
        OWNER,
        "fund.greenlight.project",
        rkey,
        json!({
            "$type": "fund.greenlight.project",
            "name": "Tool",
            "description": "A tool.",
            "repository": repository,
            "currency": "USD",
            "createdAt": "2026-01-01T00:00:00.000Z",
        }),
    )
    .await
}

/// Calls `checkProjectProof` and checks the answer against the lexicon.
async fn check_proof(router: &Router, body: Value) -> Reply {
    let request = Request::post(format!("/xrpc/{CHECK}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let reply = get_with(router, request).await;
    check(CHECK, &reply);
    reply
}

async fn get_project(router: &Router, uri: &str) -> Value {
    let reply = xrpc(
        router,
        "fund.greenlight.getProject",
        &format!("uri={}", enc(uri)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body
}

async fn proposal_subject(router: &Router, uri: &str) -> Value {
    let reply = xrpc(
        router,
        "fund.greenlight.getProposal",
        &format!("uri={}", enc(uri)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["subject"].clone()
}

fn results(proof: &Value) -> Vec<&str> {
    proof["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["result"].as_str().unwrap())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn publishing_then_removing_the_proof_file_verifies_then_unverifies(pool: PgPool) {
    let (forge, addr) = Forge::start().await;
    let seed = Seed::new(pool.clone());
    let (_app, router) = app_with(pool.clone(), Duration::ZERO);
    let repository = format!("http://127.0.0.1:{}/owner/tool.git", addr.port());
    let uri = project(&seed, "tool", &repository).await;
    let proposal = seed
        .proposal("did:plc:alice", "3kaaaaaaaaaa2", &uri, "Dark mode", at(5))
        .await;

    // Never checked: not verified, and the view says what a proof must contain.
    let view = get_project(&router, &uri).await;
    assert_eq!(
        view["proof"],
        json!({ "verified": false, "expected": uri, "checks": [] })
    );
    assert_eq!(
        proposal_subject(&router, &proposal).await["verified"],
        false
    );

    let reply = check_proof(&router, json!({ "project": uri })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["verified"], false);
    assert_eq!(
        results(&reply.body),
        vec!["missing", "missing", "missing", "missing"]
    );
    assert_eq!(
        reply.body["checks"][0]["proofUrl"],
        format!(
            "http://127.0.0.1:{}/owner/tool/raw/branch/HEAD/.greenlight",
            addr.port()
        )
    );
    assert_eq!(reply.body["checks"][0]["place"], "repository");

    forge.publish("owner/tool/.greenlight", &format!("{uri}\n"));
    let reply = check_proof(&router, json!({ "project": uri })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["verified"], true);
    assert_eq!(reply.body["expected"], uri);
    assert!(reply.body["verifiedAt"].is_string());
    assert_eq!(
        results(&reply.body),
        vec!["verified", "missing", "missing", "missing"]
    );
    let view = get_project(&router, &uri).await;
    assert_eq!(view["proof"], reply.body);
    // The project page says so, with the address anyone can open to see the file.
    let rest = uri.trim_start_matches("at://");
    let (did, rest) = rest.split_once('/').unwrap();
    let page = support::get(
        &router,
        &format!("/project/{did}/{}", rest.rsplit('/').next().unwrap()),
    )
    .await;
    let html = String::from_utf8_lossy(&page.raw).into_owned();
    assert!(html.contains("<strong>Proven.</strong>"), "{html}");
    assert!(
        html.contains("/owner/tool/raw/branch/HEAD/.greenlight"),
        "{html}"
    );
    assert_eq!(proposal_subject(&router, &proposal).await["verified"], true);
    let list = xrpc(&router, "fund.greenlight.listProjects", "").await;
    assert_eq!(list.body["projects"][0]["proof"]["verified"], true);
    // The proven repository now names this project for bare-repository proposals of it.
    let mut conn = pool.acquire().await.unwrap();
    let spelled = format!("http://127.0.0.1:{}/Owner/Tool/", addr.port());
    let claimed = verified_project_for_repositories(&mut conn, &[spelled.as_str()])
        .await
        .unwrap();
    assert_eq!(claimed.get(&spelled), Some(&uri));

    forge.remove("owner/tool/.greenlight");
    let reply = check_proof(&router, json!({ "project": uri })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["verified"], false);
    assert_eq!(reply.body["checks"][0]["result"], "missing");
    // When a proof was last found stays on record.
    assert!(reply.body["verifiedAt"].is_string());
    let view = get_project(&router, &uri).await;
    assert_eq!(view["proof"]["verified"], false);
    assert_eq!(
        proposal_subject(&router, &proposal).await["verified"],
        false
    );
    let claimed = verified_project_for_repositories(&mut conn, &[spelled.as_str()])
        .await
        .unwrap();
    assert!(claimed.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_repository_file_naming_another_did_is_a_mismatch(pool: PgPool) {
    let (forge, addr) = Forge::start().await;
    let seed = Seed::new(pool.clone());
    let (_app, router) = app_with(pool, Duration::ZERO);
    let uri = project(
        &seed,
        "tool",
        &format!("http://127.0.0.1:{}/owner/tool", addr.port()),
    )
    .await;
    // A DID that merely starts with the owner's does not count either.
    forge.publish("owner/tool/.greenlight", "did:plc:ownerx");
    forge.publish(
        "owner/tool/.github/FUNDING.yml",
        "custom: [\"https://greenlight.example/project/did:plc:mallory/tool\"]\n",
    );
    let reply = check_proof(&router, json!({ "project": uri })).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["verified"], false);
    assert_eq!(
        results(&reply.body),
        vec!["mismatch", "mismatch", "missing", "missing"]
    );
    let detail = reply.body["checks"][1]["detail"].as_str().unwrap();
    assert!(detail.contains("did:plc:mallory"), "{detail}");
}

#[sqlx::test(migrations = "../migrations")]
async fn checks_of_one_project_are_rate_limited(pool: PgPool) {
    let (_forge, addr) = Forge::start().await;
    let seed = Seed::new(pool.clone());
    let (_app, router) = app_with(pool, Duration::from_secs(5));
    let repository = format!("http://127.0.0.1:{}/owner/tool", addr.port());
    let first = project(&seed, "tool", &repository).await;
    let second = project(&seed, "other", &repository).await;

    assert_eq!(
        check_proof(&router, json!({ "project": first }))
            .await
            .status,
        StatusCode::OK
    );
    let limited = check_proof(&router, json!({ "project": first })).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["error"], "RateLimitExceeded");
    assert_eq!(limited.headers[header::RETRY_AFTER], "5");
    // The limit is per project.
    assert_eq!(
        check_proof(&router, json!({ "project": second }))
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_projects_and_bad_input_are_refused(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    let (_app, router) = app_with(pool, Duration::ZERO);
    let proposal = seed
        .repo_proposal(
            "did:plc:alice",
            "3kaaaaaaaaaa2",
            "https://example.org/x",
            "X",
        )
        .await;
    for project in [
        "at://did:plc:nobody/fund.greenlight.project/none".to_owned(),
        // Not a project record.
        proposal,
    ] {
        let reply = check_proof(&router, json!({ "project": project })).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.body["error"], "NotFound");
    }
    for body in [json!({ "project": "not an at-uri" }), json!({}), json!([1])] {
        let reply = check_proof(&router, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.body["error"], "InvalidRequest");
    }
    let request = Request::post(format!("/xrpc/{CHECK}"))
        .body(Body::from("{not json"))
        .unwrap();
    let reply = get_with(&router, request).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_xrpc_error(&reply);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_worker_checks_new_and_changed_projects_then_waits_until_due(pool: PgPool) {
    let (forge, addr) = Forge::start().await;
    let seed = Seed::new(pool.clone());
    let (app, router) = app_with(pool.clone(), Duration::ZERO);
    let uri = project(
        &seed,
        "tool",
        &format!("http://127.0.0.1:{}/owner/tool", addr.port()),
    )
    .await;
    forge.publish("owner/tool/FUNDING.yml", &format!("custom: {uri}\n"));
    let worker = Worker::new(pool.clone(), app.fetcher().clone(), app.config());

    assert_eq!(worker.run_once().await.unwrap(), 1);
    let view = get_project(&router, &uri).await;
    assert_eq!(view["proof"]["verified"], true);
    assert_eq!(
        results(&view["proof"]),
        vec!["missing", "missing", "missing", "verified"]
    );
    // Checked a moment ago and unchanged: not due for hours.
    assert_eq!(worker.run_once().await.unwrap(), 0);

    // A new version of the record (another CID) is checked on the next round.
    sqlx::query("UPDATE appview.record SET cid = $2 WHERE uri = $1")
        .bind(&uri)
        .bind("bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(worker.run_once().await.unwrap(), 0);

    // A project that is gone loses its proof.
    seed.delete(&uri).await;
    worker.run_once().await.unwrap();
    let left: (i64,) = sqlx::query_as("SELECT count(*) FROM appview.project_proof")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left.0, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_check_of_other_places_does_not_vouch_for_an_edited_record(pool: PgPool) {
    let (forge, addr) = Forge::start().await;
    let seed = Seed::new(pool.clone());
    let (_app, router) = app_with(pool, Duration::ZERO);
    let uri = project(
        &seed,
        "tool",
        &format!("http://127.0.0.1:{}/owner/tool", addr.port()),
    )
    .await;
    forge.publish("owner/tool/.greenlight", OWNER);
    let reply = check_proof(&router, json!({ "project": uri })).await;
    assert_eq!(reply.body["verified"], true);
    // The owner points the record at someone else's repository: the old proof no longer
    // counts, before any re-check.
    project(&seed, "tool", "https://github.com/someone/else").await;
    let view = get_project(&router, &uri).await;
    assert_eq!(view["proof"]["verified"], false);
}
