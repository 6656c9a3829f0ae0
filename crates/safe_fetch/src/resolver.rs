//! A DNS resolver that hands reqwest only addresses we may connect to.
//!
//! Checking the addresses here, at connect time, rather than resolving once beforehand,
//! closes the gap a DNS-rebinding server would use: the addresses checked are the ones the
//! connection is made to.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::address::{classify, AddressClass};

/// Which addresses a client may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Public addresses only (production https).
    Public,
    /// Public and loopback (https under the development setting).
    PublicAndLoopback,
    /// Loopback only (plain http, which exists only under the development setting).
    LoopbackOnly,
}

impl Reach {
    pub(crate) fn permits(self, ip: std::net::IpAddr) -> bool {
        match (self, classify(ip)) {
            (_, AddressClass::Forbidden) => false,
            (Reach::LoopbackOnly, class) => class == AddressClass::Loopback,
            (Reach::PublicAndLoopback, _) => true,
            (Reach::Public, class) => class == AddressClass::Public,
        }
    }
}

/// The resolver found addresses, but none we may connect to.
#[derive(Debug, thiserror::Error)]
#[error("every address of the host is forbidden")]
pub(crate) struct Refused;

/// The name did not resolve.
#[derive(Debug, thiserror::Error)]
#[error("the host name did not resolve")]
pub(crate) struct NotResolved;

/// The system resolver, filtered by [`Reach`].
pub(crate) struct GuardedResolver {
    pub(crate) reach: Reach,
    /// Names answered from this table instead of DNS (lowercase, no trailing dot). Its
    /// answers are filtered exactly like DNS answers: the table decides where a name points,
    /// never whether we may go there.
    pub(crate) hosts: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let reach = self.reach;
        let host = name.as_str().to_owned();
        let pinned = self
            .hosts
            .get(host.trim_end_matches('.').to_ascii_lowercase().as_str())
            .cloned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = match pinned {
                Some(ips) => ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect(),
                None => match tokio::net::lookup_host((host.as_str(), 0)).await {
                    Ok(addrs) => addrs.collect(),
                    Err(error) => {
                        tracing::debug!(%host, %error, "name did not resolve");
                        return Err(Box::new(NotResolved) as Box<_>);
                    }
                },
            };
            if found.is_empty() {
                tracing::debug!(%host, "name has no addresses");
                return Err(Box::new(NotResolved) as Box<_>);
            }
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|addr| reach.permits(addr.ip()))
                .collect();
            if allowed.is_empty() {
                tracing::debug!(%host, ?found, "every address of the host is forbidden");
                return Err(Box::new(Refused) as Box<_>);
            }
            if allowed.len() < found.len() {
                tracing::debug!(%host, ?found, "some addresses of the host are skipped");
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}
