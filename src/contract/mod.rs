//! Typed client for the webprofile API.
//!
//! Every call is recorded as an [`Exchange`] (time, method, path, status,
//! bodies, latency) in the caller's [`Trace`], whatever happens — a refused
//! connection and an HTML login page are recorded just like a good answer.
//! Responses are parsed by content, never by Content-Type, and every odd shape
//! the existing service has produced is accepted (see `parse`).

mod client;
pub mod dialect;
mod exchange;
pub mod pacing;
mod parse;
mod raw;

/// HTTP Basic credentials of the service's admin (`WEBPROFILE_ADMIN_USER` /
/// `WEBPROFILE_ADMIN_PASS`): what the harness sends and the reference expects.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user: String,
    pub pass: String,
}

impl Default for Credentials {
    /// The service's defaults.
    fn default() -> Self {
        Self { user: "overleaf".to_string(), pass: "overleaf".to_string() }
    }
}

pub use client::{
    tokens_path, wrong_password, CallError, Client, ClientOptions, CreateRequest, Request, TraceContext,
    INTROSPECT_PATH,
};
pub use dialect::{Dialect, DialectChoice};
pub use exchange::{AuthMode, BodyDigest, Exchange, RateLimitWait, Trace};
pub use parse::{created_token, introspection, parse_object_id, Body, CreatedToken, Introspection};

/// The token the first successful create of `trace` minted, if any.
pub fn created_token_in(trace: &Trace) -> Option<CreatedToken> {
    trace
        .exchanges()
        .iter()
        .filter(|ex| {
            ex.method == "POST" && ex.path.ends_with("/git-tokens") && matches!(ex.status, Some(200 | 201))
        })
        .find_map(|ex| {
            parse::created_token(&Body::classify(&ex.response_body, ex.content_type.as_deref())).ok()
        })
}
