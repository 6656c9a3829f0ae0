//! Bare-repository proposals of a verified project.
//!
//! A proposal may name a repository rather than a project (`#repository {url}`), for a
//! project not on Greenlight yet. Once a project proves control of that very repository (a
//! file in it names the project; see `appview.project_verification`), such proposals count
//! as that project's: its maintainers' statuses count and money is in its currency. When the
//! project stops proving it, they go back to being bare (or to the next project proving it).
//! When several verified projects claim one repository, the one verified first wins (tie:
//! the smaller URI). Repositories are compared by `appview.repository_key`.

use std::collections::HashMap;

use sqlx::PgConnection;

use crate::collection::PROPOSAL;

/// The `$type` of a proposal subject naming a repository.
pub const REPOSITORY_SUBJECT: &str = "fund.greenlight.proposal#repository";

/// For each of `urls` that a verified project has proven, that project's URI (keyed by the
/// URL exactly as given).
pub async fn verified_project_for_repositories(
    conn: &mut PgConnection,
    urls: &[&str],
) -> Result<HashMap<String, String>, sqlx::Error> {
    if urls.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!(
        r#"SELECT DISTINCT ON (u.url) u.url AS "url!", v.uri AS "uri!"
         FROM unnest($1::text[]) AS u(url)
         JOIN appview.project_verification v
              ON v.repository_key = appview.repository_key(u.url)
         WHERE v.repository_verified_since IS NOT NULL
         ORDER BY u.url, v.repository_verified_since, v.uri"#,
        urls as &[&str],
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.url, r.uri)).collect())
}

/// The repository URL of a proposal body whose subject is `#repository`.
pub fn repository_subject(body: &serde_json::Value) -> Option<&str> {
    let subject = body.get("subject")?;
    if subject.get("$type")?.as_str()? != REPOSITORY_SUBJECT {
        return None;
    }
    subject.get("url")?.as_str()
}

/// Points each bare-repository proposal (`subject_uri` none) at its project, for the
/// derivation only (the stored record is unchanged): the project it was anchored to when a
/// maintainer took it up while attached, if the record still names the same repository
/// (money may be held under that project's terms, so it stays); otherwise the verified
/// project that proved its repository, if any.
///
/// Meant for the proposal rows as loaded from their records, before their version is chosen
/// against an anchor (whose `subject_uri` is then the same project, not a moved subject):
///
/// ```no_run
/// # struct ProposalRow { uri: String, body: serde_json::Value, subject_uri: Option<String> }
/// # async fn hook(
/// #     conn: &mut sqlx::PgConnection,
/// #     records: &mut std::collections::BTreeMap<String, ProposalRow>,
/// # ) -> Result<(), sqlx::Error> {
/// greenlight_aggregates::repository_attach::attach(
///     conn,
///     records.values_mut().map(|r| (r.uri.as_str(), &r.body, &mut r.subject_uri)),
/// )
/// .await?;
/// # Ok(())
/// # }
/// ```
pub async fn attach<'a>(
    conn: &mut PgConnection,
    proposals: impl IntoIterator<Item = (&'a str, &'a serde_json::Value, &'a mut Option<String>)>,
) -> Result<(), sqlx::Error> {
    let mut bare: Vec<(&str, &str, &mut Option<String>)> = proposals
        .into_iter()
        .filter(|(_, _, subject)| subject.is_none())
        .filter_map(|(uri, body, subject)| Some((uri, repository_subject(body)?, subject)))
        .collect();
    if bare.is_empty() {
        return Ok(());
    }
    let uris: Vec<&str> = bare.iter().map(|(uri, _, _)| *uri).collect();
    let urls: Vec<&str> = bare.iter().map(|(_, url, _)| *url).collect();
    let anchored: HashMap<String, String> = sqlx::query!(
        r#"SELECT a.uri, a.subject_uri AS "subject_uri!"
         FROM unnest($1::text[], $2::text[]) AS u(uri, url)
         JOIN appview.proposal_anchor a ON a.uri = u.uri
         WHERE a.body->'subject'->>'$type' = $3
           AND appview.repository_key(a.body->'subject'->>'url') = appview.repository_key(u.url)"#,
        &uris as &[&str],
        &urls as &[&str],
        REPOSITORY_SUBJECT,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.uri, r.subject_uri))
    .collect();
    let verified = verified_project_for_repositories(conn, &urls).await?;
    for (uri, url, subject) in &mut bare {
        if let Some(project) = anchored.get(*uri).or_else(|| verified.get(*url)) {
            **subject = Some(project.clone());
        }
    }
    Ok(())
}

/// Re-derives, inside the caller's transaction, every proposal whose project may have changed
/// because `project_uri`'s verification (or its repository) changed: bare-repository
/// proposals of its repository now and at its last check, and those attached to it until now.
/// Returns their URIs.
pub async fn refresh_for_project_verification(
    conn: &mut PgConnection,
    project_uri: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let uris: Vec<String> = sqlx::query_scalar!(
        r#"SELECT r.uri AS "uri!" FROM appview.record r
         WHERE r.collection = $2
           AND r.body->'subject'->>'$type' = $3
           AND appview.repository_key(r.body->'subject'->>'url') IN (
               SELECT appview.repository_key(p.body->>'repository') FROM appview.record p
               WHERE p.uri = $1
               UNION SELECT repository_key FROM appview.project_proof WHERE project_uri = $1)
         UNION
         SELECT s.uri FROM appview.proposal_state s
         JOIN appview.record r ON r.uri = s.uri
         WHERE s.project_uri = $1 AND r.subject_uri IS DISTINCT FROM $1
         ORDER BY 1"#,
        project_uri,
        PROPOSAL,
        REPOSITORY_SUBJECT,
    )
    .fetch_all(&mut *conn)
    .await?;
    if !uris.is_empty() {
        crate::lock(conn).await?;
        crate::refresh_proposals(conn, &uris).await?;
    }
    Ok(uris)
}
