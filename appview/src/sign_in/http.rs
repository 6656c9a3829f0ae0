//! atrium's HTTP client, over the safe fetcher: every address atrium-oauth talks to (the
//! person's PDS, its authorization server, the token and PAR endpoints) comes from a DID
//! document or a metadata document, so from the network.

use std::sync::Arc;

use greenlight_safe_fetch::{FetchOptions, Fetcher, Policy};

/// The largest answer accepted from a PDS or authorization server.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The fetch policy for talking to people's PDSes and authorization servers. One PDS hosts
/// many people, so a host gets more concurrent requests than proof fetches do.
pub fn policy(allow_insecure_http: bool) -> Policy {
    Policy {
        allow_loopback_http: allow_insecure_http,
        max_body_bytes: MAX_ANSWER_BYTES,
        timeout: std::time::Duration::from_secs(15),
        max_redirects: 0,
        per_host_concurrency: 32,
        ..Policy::default()
    }
}

/// [`atrium_xrpc::HttpClient`] through a [`Fetcher`].
#[derive(Clone, Debug)]
pub struct SafeHttp {
    fetcher: Arc<Fetcher>,
}

impl SafeHttp {
    /// atrium's HTTP through `fetcher`.
    pub fn new(fetcher: Arc<Fetcher>) -> SafeHttp {
        SafeHttp { fetcher }
    }
}

impl atrium_xrpc::HttpClient for SafeHttp {
    async fn send_http(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, Box<dyn std::error::Error + Send + Sync + 'static>> {
        let response = self.fetcher.send(request, &FetchOptions::new()).await?;
        let (parts, body) = response.into_parts();
        Ok(http::Response::from_parts(parts, body.to_vec()))
    }
}
