//! A small GitHub REST client: the headers GitHub asks for, bounded
//! timeouts, retries on 5xx/429, pagination, and typed answers holding only
//! the fields the collector uses.

use super::link::next_link;
use super::GithubError;
use crate::retry::Backoff;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, LINK, USER_AGENT};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::time::Duration;

/// Results asked for per page (GitHub's maximum).
pub const PER_PAGE: usize = 100;
/// A guard against a server that never stops paginating.
const MAX_PAGES: usize = 200;

#[derive(Clone, Debug, Deserialize)]
pub struct WorkflowRuns {
    pub workflow_runs: Vec<WorkflowRun>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct WorkflowRun {
    pub id: u64,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// What triggered it: `schedule`, `push`, `pull_request`, …
    #[serde(default)]
    pub event: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Artifacts {
    pub artifacts: Vec<Artifact>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Artifact {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub expired: bool,
    pub archive_download_url: String,
}

/// A page of a paginated list.
pub trait Page: DeserializeOwned {
    type Item;
    fn items(self) -> Vec<Self::Item>;
}

impl Page for WorkflowRuns {
    type Item = WorkflowRun;
    fn items(self) -> Vec<WorkflowRun> {
        self.workflow_runs
    }
}

impl Page for Artifacts {
    type Item = Artifact;
    fn items(self) -> Vec<Artifact> {
        self.artifacts
    }
}

/// Retries on 5xx, 429 and transport errors: four tries, 0.5 s doubled, at most 30 s.
pub const RETRY: Backoff = Backoff::tries(4, Duration::from_millis(500), Duration::from_secs(30));

pub struct Api {
    client: reqwest::Client,
    base: Url,
    retry: Backoff,
}

/// Timeout of one API call; archives get longer (see [`Api::download`]).
const API_TIMEOUT: Duration = Duration::from_secs(30);
const ARCHIVE_TIMEOUT: Duration = Duration::from_secs(300);

impl Api {
    pub fn new(base: Url, token: &str, retry: Backoff) -> Result<Self, GithubError> {
        let mut headers = HeaderMap::new();
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| GithubError::BadToken)?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        headers.insert(ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
        headers.insert("X-GitHub-Api-Version", HeaderValue::from_static("2022-11-28"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("webprofile-parity/", env!("CARGO_PKG_VERSION"))),
        );
        // GitHub sends archives to a storage host: a few redirects are
        // followed, and reqwest drops Authorization when one leaves the host.
        let client = crate::http::builder(Duration::from_secs(10), ARCHIVE_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(5))
            .default_headers(headers)
            .build()
            .map_err(|e| GithubError::Client(e.to_string()))?;
        Ok(Api { client, base, retry })
    }

    /// `<base>/<path>` (the base's own path kept, for GitHub Enterprise's `/api/v3`).
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}/{}", url.path().trim_end_matches('/'), path.trim_start_matches('/'));
        url.set_path(&joined);
        if query.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(query);
        }
        url
    }

    /// Whether `url` is on the API's origin: the token is only ever sent there.
    pub fn same_origin(&self, url: &Url) -> bool {
        url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default()
    }

    /// Every item of a paginated list: follows `Link: rel="next"`, else asks
    /// for the next page while pages come back full.
    pub async fn all_pages<P: Page>(&self, first: Url, what: &str) -> Result<Vec<P::Item>, GithubError> {
        let mut items = Vec::new();
        let mut url = first;
        for page in 1..=MAX_PAGES {
            let response = self.send(url.clone(), what, API_TIMEOUT).await?;
            let next = response.headers().get(LINK).and_then(|v| v.to_str().ok()).and_then(next_link);
            let body =
                crate::http::body(response, "one page of a GitHub listing", crate::http::caps::API_ANSWER)
                    .await
                    .map_err(|e| GithubError::Unreachable {
                        what: what.to_string(),
                        reason: e.to_string(),
                    })?;
            let page_items = serde_json::from_slice::<P>(&body)
                .map_err(|e| GithubError::Decode { what: what.to_string(), reason: e.to_string() })?
                .items();
            let full = page_items.len() >= PER_PAGE;
            items.extend(page_items);
            url = match next {
                Some(next) => {
                    let next = Url::parse(&next).map_err(|e| GithubError::Decode {
                        what: what.to_string(),
                        reason: format!("the next-page link is not a URL: {e}"),
                    })?;
                    if !self.same_origin(&next) {
                        return Err(GithubError::ForeignLink {
                            what: what.to_string(),
                            host: host_of(&next),
                        });
                    }
                    next
                }
                None if full => with_page(&url, page + 1),
                None => return Ok(items),
            };
        }
        Ok(items)
    }

    /// The body of `url`, at most `cap` bytes. Redirects are followed.
    pub async fn download(&self, url: Url, what: &str, cap: u64) -> Result<Vec<u8>, GithubError> {
        if !self.same_origin(&url) {
            return Err(GithubError::ForeignLink { what: what.to_string(), host: host_of(&url) });
        }
        let response = self.send(url, what, ARCHIVE_TIMEOUT).await?;
        crate::http::body(response, "an artifact archive", cap).await.map_err(|e| match e {
            crate::http::BodyError::TooLarge { cap, .. } => {
                GithubError::TooLarge { what: what.to_string(), cap }
            }
            crate::http::BodyError::Transport(reason) => {
                GithubError::Unreachable { what: what.to_string(), reason }
            }
        })
    }

    /// A GET, POST or PATCH with a JSON body, retried like every call; the
    /// answer parsed as `T` (use `serde_json::Value` when it does not matter).
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        url: Url,
        body: Option<&serde_json::Value>,
        what: &str,
    ) -> Result<T, GithubError> {
        let response = self.request(method, url, body, what, API_TIMEOUT).await?;
        let bytes =
            crate::http::body(response, "a GitHub API answer", crate::http::caps::API_ANSWER)
                .await
                .map_err(|e| GithubError::Unreachable { what: what.to_string(), reason: e.to_string() })?;
        let bytes = if bytes.is_empty() { &b"null"[..] } else { &bytes[..] };
        serde_json::from_slice(bytes)
            .map_err(|e| GithubError::Decode { what: what.to_string(), reason: e.to_string() })
    }

    /// One GET with retries; any final status but 2xx is an error.
    async fn send(&self, url: Url, what: &str, timeout: Duration) -> Result<reqwest::Response, GithubError> {
        self.request(reqwest::Method::GET, url, None, what, timeout).await
    }

    async fn request(
        &self,
        method: reqwest::Method,
        url: Url,
        body: Option<&serde_json::Value>,
        what: &str,
        timeout: Duration,
    ) -> Result<reqwest::Response, GithubError> {
        let result = crate::http::send(&self.retry, || {
            let builder = self.client.request(method.clone(), url.clone()).timeout(timeout);
            match body {
                Some(body) => builder.json(body),
                None => builder,
            }
        })
        .await;
        classify(result, what)
    }
}

fn classify(
    result: Result<reqwest::Response, reqwest::Error>,
    what: &str,
) -> Result<reqwest::Response, GithubError> {
    let what = what.to_string();
    match result {
        Ok(response) => {
            let status = response.status();
            if status.is_success() {
                Ok(response)
            } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                Err(GithubError::Auth { what, status: status.as_u16() })
            } else {
                Err(GithubError::Status { what, status: status.as_u16() })
            }
        }
        // `without_url`: the message says what failed; URLs carry no secret
        // here, but the query strings only add noise.
        Err(e) => Err(GithubError::Unreachable { what, reason: error_chain(&e.without_url()) }),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        _ => url.scheme().to_string(),
    }
}

/// `url` with `page=n`, other parameters kept.
fn with_page(url: &Url, n: usize) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut next = url.clone();
    next.query_pairs_mut().clear().extend_pairs(pairs).append_pair("page", &n.to_string());
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(base: &str) -> Api {
        Api::new(Url::parse(base).unwrap(), "ghs_x", RETRY).unwrap()
    }

    #[test]
    fn urls_keep_the_base_path_and_encode_the_query() {
        let api = api("https://ghe.example/api/v3/");
        let url = api.url("repos/o/r/actions/runs/1/artifacts", &[("created", ">=2024-01-01")]);
        assert_eq!(
            url.as_str(),
            "https://ghe.example/api/v3/repos/o/r/actions/runs/1/artifacts?created=%3E%3D2024-01-01"
        );
        assert!(api.same_origin(&Url::parse("https://ghe.example/x").unwrap()));
        assert!(!api.same_origin(&Url::parse("https://ghe.example:8443/x").unwrap()));
        assert!(!api.same_origin(&Url::parse("http://ghe.example/x").unwrap()));
    }

    #[test]
    fn the_next_page_replaces_the_page_parameter() {
        let url = Url::parse("http://a/runs?per_page=100&page=1&created=%3E%3D2024-01-01").unwrap();
        assert_eq!(with_page(&url, 2).as_str(), "http://a/runs?per_page=100&created=%3E%3D2024-01-01&page=2");
    }

    #[test]
    fn pauses_double_and_are_capped_and_a_bad_token_is_refused() {
        assert_eq!(RETRY.pause(1, None), Duration::from_millis(500));
        assert_eq!(RETRY.pause(3, None), Duration::from_secs(2));
        assert_eq!(RETRY.pause(1, Some(Duration::from_secs(3600))), Duration::from_secs(30));
        assert!(matches!(
            Api::new(Url::parse("http://a").unwrap(), "bad\ntoken", RETRY),
            Err(GithubError::BadToken)
        ));
    }
}
