//! Bounded HTTP GETs: identity documents come from hosts anyone can run, so every
//! response is capped in size and time.

use std::time::Duration;

use crate::error::IdentityError;

/// A response that was read completely within the limits.
pub(crate) struct Fetched {
    /// The HTTP status.
    pub status: u16,
    /// The body; empty unless the status is a success.
    pub body: Vec<u8>,
}

/// GETs `request`'s URL, reading at most `limit` body bytes, all within `timeout`.
///
/// Bodies of non-success responses are not read: callers only need their status.
pub(crate) async fn get_bounded(
    request: reqwest::RequestBuilder,
    url: &str,
    limit: usize,
    timeout: Duration,
) -> Result<Fetched, IdentityError> {
    match tokio::time::timeout(timeout, get_inner(request, url, limit)).await {
        Ok(result) => result,
        Err(_) => Err(IdentityError::Timeout {
            url: url.to_owned(),
        }),
    }
}

async fn get_inner(
    request: reqwest::RequestBuilder,
    url: &str,
    limit: usize,
) -> Result<Fetched, IdentityError> {
    let mut response = request.send().await.map_err(|err| transport(url, &err))?;
    let status = response.status();
    if !status.is_success() {
        return Ok(Fetched {
            status: status.as_u16(),
            body: Vec::new(),
        });
    }
    let too_large = || IdentityError::BodyTooLarge {
        url: url.to_owned(),
        limit,
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| transport(url, &err))? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched {
        status: status.as_u16(),
        body,
    })
}

fn transport(url: &str, err: &reqwest::Error) -> IdentityError {
    if err.is_timeout() {
        IdentityError::Timeout {
            url: url.to_owned(),
        }
    } else {
        // The chain carries the useful part (connection refused, certificate, redirect).
        let mut message = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        IdentityError::Network {
            url: url.to_owned(),
            message,
        }
    }
}
