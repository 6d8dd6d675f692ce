//! Authentication, and the faults that act before it: HTTP Basic with the
//! admin credentials on every /internal/api path (never `GET /`, which
//! readiness probes use); turned away in the flavor's form otherwise
//! (`contract::dialect`), unless an auth fault lets the request in.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::app::{mark_faults, AppState};
use super::errors::ApiError;
use crate::contract::dialect::Presented;
use crate::contract::{Credentials, Dialect, INTROSPECT_PATH};
use crate::reference::faults::{Faults, Misbehaviour};

/// Standard base64 with or without padding, as HTTP clients send Basic credentials.
const BASIC_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What a request must present.
pub struct Admin {
    /// SHA-256 of "user:pass", so comparison time does not depend on how
    /// many leading bytes of a guess are right.
    credentials: [u8; 32],
    /// SHA-256 of "user:", for the any-password fault.
    user: [u8; 32],
    /// "user:pass" itself, for the password-prefix fault alone.
    pair: Vec<u8>,
}

impl Admin {
    pub fn new(credentials: &Credentials) -> Admin {
        let both = format!("{}:{}", credentials.user, credentials.pass);
        Admin {
            credentials: Sha256::digest(both.as_bytes()).into(),
            user: Sha256::digest(format!("{}:", credentials.user).as_bytes()).into(),
            pair: both.into_bytes(),
        }
    }

    /// Whether the request may pass, and the fault that let it pass when
    /// the contract would not have; else what it presented.
    fn admits(&self, faults: &Faults, headers: &HeaderMap) -> Result<Option<&'static str>, Presented> {
        match basic_credentials(headers) {
            Some(decoded) if <[u8; 32]>::from(Sha256::digest(&decoded)) == self.credentials => {
                return Ok(None)
            }
            Some(decoded) if faults.has(Misbehaviour::AnyPassword) => {
                let user_part = decoded.iter().position(|&b| b == b':').map(|i| &decoded[..=i]);
                if user_part.is_some_and(|u| <[u8; 32]>::from(Sha256::digest(u)) == self.user) {
                    return Ok(Some("any-password"));
                }
            }
            Some(decoded) if faults.has(Misbehaviour::PasswordPrefix) && decoded.starts_with(&self.pair) => {
                return Ok(Some("password-prefix"));
            }
            _ => {}
        }
        if faults.has(Misbehaviour::OpenAccess) && !headers.contains_key(header::AUTHORIZATION) {
            return Ok(Some("open-access"));
        }
        let present = |name: &str| headers.get(name).is_some_and(|v| !v.is_empty());
        if present("x-service-origin") && faults.has(Misbehaviour::AuthBypass) {
            return Ok(Some("auth-bypass"));
        }
        if faults.trusted_header.as_deref().is_some_and(present) {
            return Ok(Some("trusted-header"));
        }
        Err(if headers.contains_key(header::AUTHORIZATION) {
            Presented::WrongCredentials
        } else {
            Presented::Nothing
        })
    }
}

/// The decoded `user:pass` of a Basic Authorization header.
fn basic_credentials(headers: &HeaderMap) -> Option<Vec<u8>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    BASIC_BASE64.decode(encoded.trim()).ok()
}

fn is_api_path(path: &str) -> bool {
    path == "/internal/api" || path.starts_with("/internal/api/")
}

/// Faults, then authentication, for /internal/api paths only.
pub async fn guard_api(State(s): State<AppState>, request: Request, next: Next) -> Response {
    if !is_api_path(request.uri().path()) {
        return next.run(request).await;
    }
    let mut applied = Vec::new();
    if let Some(latency) = s.faults.latency {
        tokio::time::sleep(latency).await;
        applied.push("latency");
    }
    if s.draw_error() {
        applied.push("error-rate");
        return mark_faults(ApiError::Unavailable.into_response(), applied);
    }
    // The Node service's limiter: introspection and list, before authentication.
    let path = request.uri().path();
    let limited = match request.method().as_str() {
        "POST" => path == INTROSPECT_PATH,
        "GET" => path.ends_with("/git-tokens"),
        _ => false,
    };
    if let Some(window) = s.rate.as_ref().filter(|_| limited) {
        if let Err(retry_after) = window.take() {
            applied.push("rate-limit");
            return mark_faults(window.refusal(retry_after), applied);
        }
    }
    match s.auth.admits(&s.faults, request.headers()) {
        Ok(fault) => applied.extend(fault),
        Err(presented) => {
            let dialect = if s.faults.has(Misbehaviour::NodeRejection) {
                applied.push("node-rejection");
                Dialect::Node
            } else {
                s.flavor
            };
            let accepts_json = request
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("application/json"));
            let refused = ApiError::Unauthorized {
                presented,
                introspection: request.uri().path() == INTROSPECT_PATH,
                accepts_json,
            };
            return mark_faults(refused.respond(dialect), applied);
        }
    }
    mark_faults(next.run(request).await, applied)
}

#[cfg(test)]
pub fn decode_basic(encoded: &str) -> Option<Vec<u8>> {
    BASIC_BASE64.decode(encoded).ok()
}
