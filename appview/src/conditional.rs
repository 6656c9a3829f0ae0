//! Responses browsers and caches may keep: a strong ETag (a hash of the body), a
//! `Cache-Control`, and `304 Not Modified` when the client already has this body.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The ETag of `body`.
pub fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for b in &digest[..16] {
        tag.push_str(&format!("{b:02x}"));
    }
    tag.push('"');
    tag
}

/// `body` as `content_type` with an ETag and `cache_control`, or 304 if `request` already
/// holds it (`If-None-Match`).
pub fn respond(
    request: &HeaderMap,
    content_type: &'static str,
    cache_control: &str,
    body: impl Into<Vec<u8>>,
) -> Response {
    respond_with_status(request, StatusCode::OK, content_type, cache_control, body)
}

/// As [`respond`], with a status other than 200 (an error page is cacheable too, briefly).
pub fn respond_with_status(
    request: &HeaderMap,
    status: StatusCode,
    content_type: &'static str,
    cache_control: &str,
    body: impl Into<Vec<u8>>,
) -> Response {
    let body = body.into();
    let tag = etag(&body);
    let matches = status == StatusCode::OK
        && request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .map(|t| t.trim().trim_start_matches("W/"))
                    .any(|t| t == tag || t == "*")
            });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(cache_control) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    response
}
