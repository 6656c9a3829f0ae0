//! A browser's sign-in: a random session id in an HttpOnly cookie (only its SHA-256 is
//! stored), and a CSRF token per session that every form carries back.
//!
//! A form post is accepted only from our own pages: its token must match the session's,
//! and a browser that says where the post came from (`Sec-Fetch-Site`, `Origin`) must say
//! it came from us. Sign-in itself, before there is a session, is bound the same way by a
//! short-lived cookie whose value is also the OAuth `state`'s binding.

use axum::http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use subtle::ConstantTimeEq;

use super::seal::random_token;

/// The session cookie.
pub const SESSION_COOKIE: &str = "greenlight_session";
/// The cookie binding a sign-in in progress to the browser that started it.
pub const SIGN_IN_COOKIE: &str = "greenlight_sign_in";
/// How long a browser stays signed in.
pub const SESSION_DAYS: i32 = 14;
/// How long a started sign-in may take.
const SIGN_IN_MINUTES: u32 = 15;

/// A signed-in person, as their browser's session says.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// Their DID.
    pub did: String,
    /// Their handle when signing in.
    pub handle: Option<String>,
    /// The token their forms carry.
    pub csrf: String,
    id_hash: Vec<u8>,
}

impl Visitor {
    /// How to name them on a page.
    pub fn name(&self) -> &str {
        self.handle.as_deref().unwrap_or(&self.did)
    }
}

fn hash(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The signed-in person of this request, if any (an expired or unknown session is none).
pub async fn visitor(pool: &PgPool, headers: &HeaderMap) -> Result<Option<Visitor>, sqlx::Error> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let id_hash = hash(id);
    let row = sqlx::query!(
        "SELECT did, handle, csrf FROM appview.browser_session
         WHERE id_hash = $1 AND expires_at > now()",
        &id_hash,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| Visitor {
        did: row.did,
        handle: row.handle,
        csrf: row.csrf,
        id_hash,
    }))
}

/// Starts a browser session for `did`: the cookie's value.
pub async fn start(pool: &PgPool, did: &str, handle: Option<&str>) -> Result<String, sqlx::Error> {
    // Sweeping on sign-in keeps the table to the sessions that can still be used.
    sqlx::query!("DELETE FROM appview.browser_session WHERE expires_at < now()")
        .execute(pool)
        .await?;
    let id = random_token(32);
    let csrf = random_token(24);
    sqlx::query!(
        "INSERT INTO appview.browser_session (id_hash, did, handle, csrf, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(days => $5))",
        &hash(&id),
        did,
        handle,
        csrf,
        SESSION_DAYS,
    )
    .execute(pool)
    .await?;
    Ok(id)
}

/// Ends `visitor`'s session in this browser; whether they are signed in anywhere else.
pub async fn end(pool: &PgPool, visitor: &Visitor) -> Result<bool, sqlx::Error> {
    sqlx::query!(
        "DELETE FROM appview.browser_session WHERE id_hash = $1",
        &visitor.id_hash
    )
    .execute(pool)
    .await?;
    let others = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM appview.browser_session
           WHERE did = $1 AND expires_at > now()"#,
        visitor.did,
    )
    .fetch_one(pool)
    .await?;
    Ok(others > 0)
}

/// Ends every browser session of `did` (their tokens were revoked or stopped working).
pub async fn end_all(pool: &PgPool, did: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM appview.browser_session WHERE did = $1", did)
        .execute(pool)
        .await?;
    Ok(())
}

/// A `Set-Cookie` value: HttpOnly, `SameSite=Lax` (so the authorization server's redirect
/// back, a top-level navigation, carries it), `Secure` when we are served over https.
pub fn set_cookie(name: &str, value: &str, max_age_seconds: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("greenlight_invalid=; Max-Age=0"))
}

/// The session cookie for `id`.
pub fn session_cookie(id: &str, secure: bool) -> HeaderValue {
    set_cookie(
        SESSION_COOKIE,
        id,
        i64::from(SESSION_DAYS) * 24 * 3600,
        secure,
    )
}

/// The cookie binding a new sign-in: its value.
pub fn new_sign_in_binding() -> String {
    random_token(24)
}

/// The sign-in binding cookie.
pub fn sign_in_cookie(binding: &str, secure: bool) -> HeaderValue {
    set_cookie(
        SIGN_IN_COOKIE,
        binding,
        i64::from(SIGN_IN_MINUTES) * 60,
        secure,
    )
}

/// Clears cookie `name`.
pub fn clear_cookie(name: &str, secure: bool) -> HeaderValue {
    set_cookie(name, "", 0, secure)
}

/// Why a form post was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormRefusal {
    /// The browser says the post came from another site.
    #[error("this form was sent from another site")]
    CrossSite,
    /// The form's token is missing or not this session's.
    #[error("this form has expired or did not come from Greenlight")]
    BadToken,
}

/// Whether the browser says the request came from a page of ours. Browsers that send
/// neither header (old ones, other clients) are judged by the token alone.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        // "null" origins and missing hosts are not ours.
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Checks a form post: from our pages, with `expected` as its token.
pub fn check_form(headers: &HeaderMap, expected: &str, given: &str) -> Result<(), FormRefusal> {
    if !same_origin(headers) {
        return Err(FormRefusal::CrossSite);
    }
    if given.is_empty() || !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return Err(FormRefusal::BadToken);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = headers(&[("cookie", "a=1; greenlight_session=xyz; b=2")]);
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "greenlight"), None);
    }

    #[test]
    fn forms_from_other_sites_or_without_the_token_are_refused() {
        let ours = headers(&[("sec-fetch-site", "same-origin")]);
        assert_eq!(check_form(&ours, "tok", "tok"), Ok(()));
        assert_eq!(
            check_form(&ours, "tok", "other"),
            Err(FormRefusal::BadToken)
        );
        assert_eq!(check_form(&ours, "tok", ""), Err(FormRefusal::BadToken));
        let theirs = headers(&[("sec-fetch-site", "cross-site")]);
        assert_eq!(
            check_form(&theirs, "tok", "tok"),
            Err(FormRefusal::CrossSite)
        );
        let origin_elsewhere = headers(&[
            ("origin", "https://evil.example"),
            ("host", "greenlight.example"),
        ]);
        assert_eq!(
            check_form(&origin_elsewhere, "tok", "tok"),
            Err(FormRefusal::CrossSite)
        );
        let origin_here = headers(&[
            ("origin", "https://greenlight.example"),
            ("host", "greenlight.example"),
        ]);
        assert_eq!(check_form(&origin_here, "tok", "tok"), Ok(()));
        let null_origin = headers(&[("origin", "null"), ("host", "greenlight.example")]);
        assert_eq!(
            check_form(&null_origin, "tok", "tok"),
            Err(FormRefusal::CrossSite)
        );
    }
}
