//! `check` against a local stand-in for a Forgejo/Gitea forge and a website, on 127.0.0.1
//! under the development setting (the only way the safe fetcher reaches loopback).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use greenlight_repository_proof::{check, Place, ProjectPlaces, ProofResult};
use greenlight_safe_fetch::{Fetcher, Policy};

const DID: &str = "did:plc:owner";
const URI: &str = "at://did:plc:owner/fund.greenlight.project/tool";

/// Files served, by path; a value of `None` answers 500.
#[derive(Clone, Default)]
struct Files(Arc<Mutex<HashMap<String, Option<String>>>>);

impl Files {
    fn put(&self, path: &str, body: Option<&str>) {
        self.0
            .lock()
            .unwrap()
            .insert(path.to_owned(), body.map(str::to_owned));
    }
}

/// Stands in for a Forgejo/Gitea forge (`/{owner}/{repo}/raw/branch/HEAD/{file}`) and for a
/// website (`/.well-known/greenlight`) on one loopback port.
async fn forge(files: Files) -> SocketAddr {
    async fn serve(files: &Files, key: String) -> Response {
        match files.0.lock().unwrap().get(&key) {
            Some(Some(body)) => body.clone().into_response(),
            Some(None) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let router = Router::new()
        .route(
            "/{owner}/{repo}/raw/branch/HEAD/{*file}",
            get(
                |State(files): State<Files>, Path((owner, repo, file)): Path<(String, String, String)>| async move {
                    serve(&files, format!("{owner}/{repo}/{file}")).await
                },
            ),
        )
        .route(
            "/.well-known/greenlight",
            get(|State(files): State<Files>| async move {
                serve(&files, "website".to_owned()).await
            }),
        )
        .with_state(files);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

fn fetcher() -> Fetcher {
    Fetcher::new(Policy {
        allow_loopback_http: true,
        ..Policy::default()
    })
    .unwrap()
}

fn places(addr: SocketAddr, website: bool) -> ProjectPlaces {
    ProjectPlaces {
        uri: URI.to_owned(),
        owner_did: DID.to_owned(),
        repository: format!("http://127.0.0.1:{}/me/tool.git", addr.port()),
        website: website.then(|| format!("http://127.0.0.1:{}/about", addr.port())),
    }
}

fn results(report: &greenlight_repository_proof::ProofReport) -> Vec<(Place, ProofResult)> {
    report.checks.iter().map(|c| (c.place, c.result)).collect()
}

#[tokio::test]
async fn nothing_published_is_missing_everywhere() {
    let files = Files::default();
    let addr = forge(files).await;
    let report = check(&fetcher(), &places(addr, true)).await;
    assert!(!report.verified);
    assert_eq!(report.checks.len(), 5);
    assert!(report
        .checks
        .iter()
        .all(|c| c.result == ProofResult::Missing));
    assert_eq!(
        report.checks[0].proof_url,
        format!(
            "http://127.0.0.1:{}/me/tool/raw/branch/HEAD/.greenlight",
            addr.port()
        )
    );
}

#[tokio::test]
async fn a_greenlight_file_naming_the_project_verifies_it() {
    let files = Files::default();
    files.put("me/tool/.greenlight", Some(URI));
    let addr = forge(files).await;
    let report = check(&fetcher(), &places(addr, false)).await;
    assert!(report.verified);
    assert!(report.repository_verified());
    assert_eq!(
        results(&report),
        vec![
            (Place::Repository, ProofResult::Verified),
            (Place::Repository, ProofResult::Missing),
            (Place::Repository, ProofResult::Missing),
            (Place::Repository, ProofResult::Missing),
        ]
    );
}

#[tokio::test]
async fn a_funding_file_linking_the_project_page_verifies_it_despite_a_failing_location() {
    let files = Files::default();
    // The first location fails; the others are still checked.
    files.put("me/tool/.greenlight", None);
    files.put(
        "me/tool/.forgejo/FUNDING.yml",
        Some(
            "liberapay: me\ncustom: [\"https://greenlight.example/project/did:plc:owner/tool\"]\n",
        ),
    );
    let addr = forge(files).await;
    let report = check(&fetcher(), &places(addr, false)).await;
    assert!(report.verified);
    assert_eq!(report.checks[0].result, ProofResult::Error);
    assert_eq!(
        report.checks[0].detail.as_deref(),
        Some("the server answered HTTP 500")
    );
    assert_eq!(report.checks[2].result, ProofResult::Verified);
}

#[tokio::test]
async fn a_file_naming_someone_else_is_a_mismatch() {
    let files = Files::default();
    files.put("me/tool/.greenlight", Some("did:plc:ownerx\n"));
    files.put("website", Some("did:plc:mallory"));
    let addr = forge(files).await;
    let report = check(&fetcher(), &places(addr, true)).await;
    assert!(!report.verified);
    assert_eq!(report.checks[0].result, ProofResult::Mismatch);
    assert!(report.checks[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("did:plc:ownerx"));
    assert_eq!(report.checks[4].place, Place::Website);
    assert_eq!(report.checks[4].result, ProofResult::Mismatch);
}

#[tokio::test]
async fn the_website_alone_verifies_the_project_but_not_the_repository() {
    let files = Files::default();
    files.put("website", Some("did:plc:owner"));
    let addr = forge(files).await;
    let report = check(&fetcher(), &places(addr, true)).await;
    assert!(report.verified);
    assert!(!report.repository_verified());
    assert_eq!(
        report.checks[4].proof_url,
        format!("http://127.0.0.1:{}/.well-known/greenlight", addr.port())
    );
}

#[tokio::test]
async fn without_the_development_setting_loopback_places_are_errors() {
    let files = Files::default();
    files.put("me/tool/.greenlight", Some(URI));
    let addr = forge(files).await;
    let production = Fetcher::new(Policy::default()).unwrap();
    let report = check(&production, &places(addr, false)).await;
    assert!(!report.verified);
    assert!(report.checks.iter().all(|c| c.result == ProofResult::Error
        && c.detail.as_deref() == Some("only https addresses are fetched")));
}

#[tokio::test]
async fn an_unusable_repository_is_unsupported() {
    let report = check(
        &fetcher(),
        &ProjectPlaces {
            uri: URI.to_owned(),
            owner_did: DID.to_owned(),
            repository: "https://example.com/".to_owned(),
            website: None,
        },
    )
    .await;
    assert!(!report.verified);
    assert_eq!(
        results(&report),
        vec![(Place::Repository, ProofResult::Unsupported)]
    );
}
