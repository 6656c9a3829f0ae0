//! `getProject`, `listProjects` and `checkProjectProof`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use greenlight_lexicon::fund::greenlight::check_project_proof;
use greenlight_xrpc::XrpcError;
use serde_json::{json, Value};
use sqlx::{QueryBuilder, Row};

use super::{internal, not_found};
use crate::cursor::{self, Cursor};
use crate::hydrate;
use crate::params::{Kind, Params};
use crate::proof;
use crate::views;
use crate::AppView;

const GET: &str = "fund.greenlight.getProject";
const LIST: &str = "fund.greenlight.listProjects";

/// Hydrates and presents projects in the skeleton's order.
async fn present(app: &AppView, uris: &[&str]) -> Result<Vec<Value>, XrpcError> {
    let rows = hydrate::projects(app.pool(), uris)
        .await
        .map_err(internal)?;
    let mut dids: Vec<&str> = Vec::new();
    for row in &rows {
        dids.push(&row.did);
        dids.extend(views::maintainers(&row.body));
    }
    let handles = hydrate::handles(app.pool(), dids).await.map_err(internal)?;
    let by_uri: HashMap<&str, &hydrate::ProjectRow> =
        rows.iter().map(|r| (r.uri.as_str(), r)).collect();
    let mut proofs = proof::proofs(app.pool(), uris).await.map_err(internal)?;
    Ok(uris
        .iter()
        .filter_map(|uri| by_uri.get(uri))
        .map(|row| {
            let mut view = views::project_view(row, &handles);
            if let (Some(map), Some(proof)) = (view.as_object_mut(), proofs.remove(&row.uri)) {
                map.insert("proof".into(), json!(proof));
            }
            view
        })
        .collect())
}

/// `GET /xrpc/fund.greenlight.getProject`.
pub async fn get_project(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, XrpcError> {
    get(&app, query.as_deref()).await.map(Json)
}

/// `getProject` for a query string: the output the method sends (pages use it too).
pub(crate) async fn get(app: &AppView, query: Option<&str>) -> Result<Value, XrpcError> {
    let params = Params::parse(app.catalog(), GET, query, &[("uri", Kind::Str)])?;
    let uri = params.str("uri").unwrap_or_default();
    let mut views = present(app, &[uri]).await?;
    views.pop().ok_or_else(|| not_found("the project"))
}

/// Resolves an at-identifier (DID or handle) to a DID, if we know it.
pub(crate) async fn resolve_actor(app: &AppView, actor: &str) -> Result<Option<String>, XrpcError> {
    if actor.starts_with("did:") {
        return Ok(Some(actor.to_owned()));
    }
    hydrate::did_for_handle(app.pool(), actor)
        .await
        .map_err(internal)
}

/// `GET /xrpc/fund.greenlight.listProjects`: newest first.
pub async fn list_projects(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, XrpcError> {
    list(&app, query.as_deref()).await.map(Json)
}

/// `listProjects` for a query string: the output the method sends (pages use it too).
pub(crate) async fn list(app: &AppView, query: Option<&str>) -> Result<Value, XrpcError> {
    let params = Params::parse(
        app.catalog(),
        LIST,
        query,
        &[
            ("maintainer", Kind::Str),
            ("limit", Kind::Int),
            ("cursor", Kind::Str),
        ],
    )?;
    let limit = params.limit();
    let after = params
        .str("cursor")
        .map(|c| cursor::decode("projects", c))
        .transpose()?;
    let maintainer = match params.str("maintainer") {
        Some(actor) => match resolve_actor(app, actor).await? {
            Some(did) => Some(did),
            // An unknown handle maintains nothing we index.
            None => return Ok(json!({ "projects": [] })),
        },
        None => None,
    };
    let mut sql = QueryBuilder::new(
        "SELECT p.uri, p.created_at FROM appview.record p
         WHERE p.collection = 'fund.greenlight.project' AND NOT p.hidden",
    );
    if let Some(did) = maintainer {
        sql.push(" AND (p.did = ")
            .push_bind(did.clone())
            .push(" OR p.body->'maintainers' ? ")
            .push_bind(did)
            .push(")");
    }
    if let Some(Cursor { key, uri }) = after {
        let at = cursor::moment(key)?;
        sql.push(" AND (p.created_at, p.uri) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(uri)
            .push(")");
    }
    sql.push(" ORDER BY p.created_at DESC, p.uri DESC LIMIT ")
        .push_bind(limit + 1);
    let rows = sql.build().fetch_all(app.pool()).await.map_err(internal)?;
    let mut page = Vec::with_capacity(rows.len());
    for row in &rows {
        let uri: String = row.try_get("uri").map_err(internal)?;
        let at: DateTime<Utc> = row.try_get("created_at").map_err(internal)?;
        page.push((at.timestamp_micros(), uri));
    }
    let more = page.len() as i64 > limit;
    page.truncate(usize::try_from(limit).unwrap_or(0));
    let next = more
        .then(|| {
            page.last()
                .and_then(|(k, u)| cursor::encode("projects", *k, u))
        })
        .flatten();
    let uris: Vec<&str> = page.iter().map(|(_, u)| u.as_str()).collect();
    let projects = present(app, &uris).await?;
    let mut out = json!({ "projects": projects });
    if let (Some(next), Some(map)) = (next, out.as_object_mut()) {
        map.insert("cursor".into(), json!(next));
    }
    Ok(out)
}

/// `checkProjectProof` refusing to run again so soon (HTTP 429, which `XrpcError` has no
/// variant for).
struct RateLimited(std::time::Duration);

impl IntoResponse for RateLimited {
    fn into_response(self) -> Response {
        let seconds = self.0.as_secs().max(1);
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, seconds.to_string())],
            Json(json!({
                "error": "RateLimitExceeded",
                "message": format!(
                    "the project was checked a moment ago; try again in {seconds} s"
                ),
            })),
        )
            .into_response()
    }
}

/// `POST /xrpc/fund.greenlight.checkProjectProof`: checks the project's proof now.
pub async fn check_project_proof(State(app): State<AppView>, body: Bytes) -> Response {
    match check_now(&app, &body).await {
        Ok(Ok(output)) => Json(output).into_response(),
        Ok(Err(limited)) => limited.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn check_now(app: &AppView, body: &[u8]) -> Result<Result<Value, RateLimited>, XrpcError> {
    let nsid = check_project_proof::NSID;
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| XrpcError::InvalidRequest("the body is not JSON".into()))?;
    app.catalog()
        .validate_input(nsid, &value)
        .map_err(|error| XrpcError::InvalidRequest(error.to_string()))?;
    let input: check_project_proof::Input = serde_json::from_value(value)
        .map_err(|error| XrpcError::InvalidRequest(error.to_string()))?;
    let project = proof::project_to_check(app.pool(), &input.project)
        .await
        .map_err(internal)?
        .ok_or_else(|| not_found("the project"))?;
    let interval = app.config().proof_min_interval;
    if !proof::claim_manual_check(app.pool(), &input.project, interval)
        .await
        .map_err(internal)?
    {
        return Ok(Err(RateLimited(interval)));
    }
    proof::check_and_store(app.pool(), app.fetcher(), &project)
        .await
        .map_err(|error| {
            tracing::error!(%error, project = %input.project, "cannot store a proof check");
            XrpcError::Internal
        })?;
    let output = proof::proofs(app.pool(), &[input.project.as_str()])
        .await
        .map_err(internal)?
        .remove(&input.project)
        // Hidden or deleted between the check and now.
        .ok_or_else(|| not_found("the project"))?;
    let output = json!(output);
    if let Err(error) = app.catalog().validate_output(nsid, &output) {
        // Never send what the lexicon does not allow: it is a bug to fix, not to ship.
        tracing::error!(%error, nsid, "response does not match its lexicon");
        return Err(XrpcError::Internal);
    }
    Ok(Ok(output))
}
