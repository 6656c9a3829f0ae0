//! Our did:web identity: `/.well-known/did.json` with an `AtprotoAppView` service entry, so a
//! PDS can proxy a user's request to us with `atproto-proxy: <did>#<service id>`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::AppView;

/// The did:web for a public base URL: its host, with a port's `:` percent-encoded.
pub fn did_for(public_url: &str) -> String {
    let host = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    format!("did:web:{}", host.replace(':', "%3A"))
}

/// Our DID document.
pub fn document(public_url: &str, service_id: &str) -> serde_json::Value {
    let did = did_for(public_url);
    json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "service": [{
            "id": format!("#{service_id}"),
            "type": "AtprotoAppView",
            "serviceEndpoint": public_url,
        }],
    })
}

/// `GET /.well-known/did.json`.
pub async fn serve_document(State(app): State<AppView>) -> Response {
    let config = app.config();
    Json(document(&config.public_url, &config.service_id)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_percent_encoded() {
        assert_eq!(did_for("http://localhost:2584"), "did:web:localhost%3A2584");
        assert_eq!(
            did_for("https://appview.example/"),
            "did:web:appview.example"
        );
    }

    #[test]
    fn the_service_entry_points_at_us() {
        let doc = document("https://appview.example", "greenlight_appview");
        assert_eq!(doc["service"][0]["id"], "#greenlight_appview");
        assert_eq!(doc["service"][0]["type"], "AtprotoAppView");
        assert_eq!(
            doc["service"][0]["serviceEndpoint"],
            "https://appview.example"
        );
    }
}
