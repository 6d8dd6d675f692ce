//! Typed client for the webprofile API.
//!
//! Every call is recorded as an [`Exchange`] (time, method, path, status,
//! bodies, latency) in the caller's [`Trace`], whatever happens — a refused
//! connection and an HTML login page are recorded just like a good answer.
//! Responses are parsed by content, never by Content-Type, and every odd shape
//! the existing service has produced is accepted (see `parse`).

mod client;
mod exchange;
mod parse;

pub use client::{
    tokens_path, CallError, Client, ClientOptions, CreateRequest, TraceContext, INTROSPECT_PATH,
};
pub use exchange::{AuthMode, Exchange, Trace};
pub use parse::{parse_object_id, Body, CreatedToken, Introspection};
