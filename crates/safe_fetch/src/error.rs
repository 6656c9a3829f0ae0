//! Why a fetch failed, in words fit to show the person whose URL it was.

/// A fetch that did not produce a body.
///
/// Messages name what went wrong in terms of the URL (scheme, address, redirect, size, time,
/// status) and never carry transport internals such as OS error texts or resolver output:
/// those go to the logs at debug level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The text is not an absolute http(s) URL with a host, or carries credentials.
    #[error("not a usable URL")]
    InvalidUrl,
    /// Not https (plain http is allowed only to loopback under the development setting).
    #[error("only https addresses are fetched")]
    NotHttps,
    /// The host is, or resolves only to, a loopback, private or reserved address.
    #[error("the address points to a private or reserved network")]
    ForbiddenAddress,
    /// A redirect to another scheme, host or port; it was not followed.
    #[error("the server redirected to another site, which is not followed")]
    CrossHostRedirect,
    /// More redirects than the policy allows.
    #[error("too many redirects")]
    TooManyRedirects,
    /// The body is larger than the policy allows.
    #[error("the response is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The whole fetch (connecting, redirects, body) took longer than the policy allows.
    #[error("the server took too long to answer")]
    Timeout,
    /// The server answered with a non-success status.
    #[error("the server answered HTTP {0}")]
    Status(u16),
    /// The host could not be resolved or reached, or the connection failed midway.
    #[error("the server could not be reached")]
    Unreachable,
    /// The HTTP client could not be set up (a deployment problem, not the URL's).
    #[error("the fetcher is not available")]
    Setup,
}
