//! The HTTP client settings every outbound integration (Slack, GitHub, S3)
//! starts from: no redirect followed unless the caller allows one, and never
//! a `Referer` — a webhook URL is the secret, and a redirect to another host
//! must neither receive it nor a re-posted summary.

use std::time::Duration;

/// A client builder with redirects off, no `Referer`, and the timeouts given.
pub fn outbound(connect: Duration, total: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .connect_timeout(connect)
        .timeout(total)
}

/// Why a body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is larger than the {cap}-byte cap for {what}; not read further")]
    TooLarge { what: &'static str, cap: u64 },
    #[error("the answer was cut off: {0}")]
    Transport(String),
}

/// The most of a body each kind of answer may hold.
pub mod caps {
    /// One page of a GitHub API listing or one API answer (runs, artifacts, issues).
    pub const API_ANSWER: u64 = 16 << 20;
    /// An error text (Slack, S3, GitHub): only an excerpt is ever shown.
    pub const ERROR_TEXT: u64 = 64 << 10;
}

/// A whole body of at most `cap` bytes (an endless answer is stopped at the
/// cap, never buffered whole).
pub async fn body(
    mut response: reqwest::Response,
    what: &'static str,
    cap: u64,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > cap) {
        return Err(BodyError::TooLarge { what, cap });
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| BodyError::Transport(e.without_url().to_string()))?
    {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(BodyError::TooLarge { what, cap });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `cap` bytes of a body as text (an error answer's excerpt);
/// the rest is not read.
pub async fn text_prefix(mut response: reqwest::Response, cap: u64) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = (cap as usize).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() as u64 >= cap {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}
