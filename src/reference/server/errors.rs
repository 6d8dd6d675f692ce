//! Every answer the server gives other than a success, as a type, and each
//! dialect's way of writing bodies: the Go service's text/plain with a
//! trailing newline, the Node service's JSON messages and empty 500s.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::contract::dialect::Presented;
use crate::reference::flavor::Flavor;
use crate::store::StoreError;

pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

pub enum ApiError {
    BadRequest(&'static str),
    /// Introspection without a usable `token`.
    TokenRequired,
    InvalidTokenFormat,
    NotFound,
    /// No valid credentials: turned away in the dialect's form.
    Unauthorized {
        presented: Presented,
        introspection: bool,
        accepts_json: bool,
    },
    /// A body that is not JSON (the Node service answers its HTML error page).
    NotJson(&'static str),
    /// An owner id the Node service's model cannot cast to an ObjectId.
    OwnerNotObjectId,
    Unavailable,
    Store(StoreError),
    Internal(&'static str),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Store(e)
    }
}

impl ApiError {
    /// The answer in a dialect: the Node service sends `token required` as a
    /// JSON message and its server errors with an empty body.
    pub fn respond(self, flavor: Flavor) -> Response {
        match (flavor, self) {
            (_, ApiError::Unauthorized { presented, introspection, accepts_json }) => {
                let rejection = flavor.rejection(presented, introspection, accepts_json);
                let body = match (flavor, rejection.location) {
                    (Flavor::Go, _) => "redirect\n".to_string(),
                    (Flavor::Node, Some(location)) => format!("Found. Redirecting to {location}"),
                    (Flavor::Node, None) => "Unauthorized".to_string(),
                };
                let status = StatusCode::from_u16(rejection.status).unwrap_or(StatusCode::FOUND);
                let mut response = (status, [(header::CONTENT_TYPE, TEXT_PLAIN)], body).into_response();
                if let Some(location) = rejection.location {
                    response.headers_mut().insert(header::LOCATION, HeaderValue::from_static(location));
                }
                if status == StatusCode::UNAUTHORIZED {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("OverleafLogin"));
                }
                response
            }
            (Flavor::Node, ApiError::NotJson(_) | ApiError::BadRequest(_)) => {
                html(StatusCode::BAD_REQUEST, "Bad Request")
            }
            (Flavor::Node, ApiError::OwnerNotObjectId) => {
                text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
            (Flavor::Node, ApiError::TokenRequired) => {
                let mut response = json(&serde_json::json!({"message": "token required"}));
                *response.status_mut() = StatusCode::BAD_REQUEST;
                response
            }
            (Flavor::Node, ApiError::Store(e)) => {
                tracing::error!("token store: {e}");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
            (Flavor::Node, ApiError::Internal(_)) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            (_, error) => error.into_response(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::BadRequest(message) => text(StatusCode::BAD_REQUEST, message),
            ApiError::TokenRequired => text(StatusCode::BAD_REQUEST, "token required"),
            ApiError::InvalidTokenFormat => {
                let mut response = json_text(&serde_json::json!({"message": "invalid token format"}));
                *response.status_mut() = StatusCode::BAD_REQUEST;
                response
            }
            ApiError::NotFound => text(StatusCode::NOT_FOUND, "not found"),
            unauthorized @ ApiError::Unauthorized { .. } => unauthorized.respond(Flavor::Go),
            ApiError::NotJson(message) => text(StatusCode::BAD_REQUEST, message),
            // The Go service stores any owner string; it never gets here.
            ApiError::OwnerNotObjectId => {
                text(StatusCode::INTERNAL_SERVER_ERROR, "owner id is not an ObjectId")
            }
            ApiError::Unavailable => {
                text(StatusCode::SERVICE_UNAVAILABLE, "service unavailable (fault injected)")
            }
            ApiError::Store(e) => {
                tracing::error!("token store: {e}");
                text(StatusCode::INTERNAL_SERVER_ERROR, &format!("store error: {e}"))
            }
            ApiError::Internal(message) => text(StatusCode::INTERNAL_SERVER_ERROR, message),
        }
    }
}

/// The Node web app's HTML error page.
pub fn html(status: StatusCode, title: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><title>{title} - Overleaf</title></head>\
         <body><h1>{title}</h1></body></html>"
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// Plain text ending in a newline, as Go's http.Error writes it.
pub fn text(status: StatusCode, message: &str) -> Response {
    (status, [(header::CONTENT_TYPE, TEXT_PLAIN)], format!("{message}\n")).into_response()
}

/// JSON sent the way the Go service sends it: text/plain, trailing newline.
pub fn json_text<T: Serialize>(value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(mut body) => {
            body.push('\n');
            (StatusCode::OK, [(header::CONTENT_TYPE, TEXT_PLAIN)], body).into_response()
        }
        Err(_) => ApiError::Internal("could not encode response").into_response(),
    }
}

/// JSON as the Node service (Express) sends it: application/json, no trailing newline.
pub fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body)
            .into_response(),
        Err(_) => ApiError::Internal("could not encode response").into_response(),
    }
}
