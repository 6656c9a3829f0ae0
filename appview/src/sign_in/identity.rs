//! atrium's identity resolvers, answered by Greenlight's own (`greenlight-identity`): one
//! resolver, one cache and one safe way out for every DID and handle the AppView looks up.

use atrium_api::did_doc::{DidDocument, Service};
use atrium_api::types::string::{Did, Handle};
use atrium_common::resolver::Resolver;
use greenlight_identity::Resolver as Identities;

fn to_atrium(error: greenlight_identity::IdentityError) -> atrium_identity::Error {
    // What failed is logged; atrium (and so the person) gets a plain "not found" or
    // "invalid", never a transport error naming an internal host.
    tracing::debug!(%error, "identity lookup for sign-in failed");
    atrium_identity::Error::NotFound
}

/// DID → DID document.
#[derive(Clone, Debug)]
pub struct DidResolver(pub Identities);

impl Resolver for DidResolver {
    type Input = Did;
    type Output = DidDocument;
    type Error = atrium_identity::Error;

    async fn resolve(&self, did: &Did) -> Result<DidDocument, atrium_identity::Error> {
        let document = self.0.resolve_did(did.as_str()).await.map_err(to_atrium)?;
        Ok(DidDocument {
            context: None,
            id: document.did.clone(),
            also_known_as: document
                .handle
                .as_ref()
                .map(|handle| vec![format!("at://{handle}")]),
            verification_method: None,
            service: document.pds_endpoint.as_ref().map(|endpoint| {
                vec![Service {
                    id: "#atproto_pds".to_owned(),
                    r#type: "AtprotoPersonalDataServer".to_owned(),
                    service_endpoint: endpoint.clone(),
                }]
            }),
        })
    }
}

/// Handle → DID.
#[derive(Clone, Debug)]
pub struct HandleResolver(pub Identities);

impl Resolver for HandleResolver {
    type Input = Handle;
    type Output = Did;
    type Error = atrium_identity::Error;

    async fn resolve(&self, handle: &Handle) -> Result<Did, atrium_identity::Error> {
        let did = self
            .0
            .resolve_handle(handle.as_str())
            .await
            .map_err(to_atrium)?;
        Did::new(did).map_err(|error| atrium_identity::Error::Did(error.to_string()))
    }
}
