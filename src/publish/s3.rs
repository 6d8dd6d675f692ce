//! The S3 target: each file a SigV4-presigned `PUT` (signed by `rusty-s3`,
//! sent by reqwest), the archive copy before the top-level files, so a
//! failure half-way never replaces the live dashboard without its archive.
//!
//! Works with AWS (virtual-hosted-style URLs) and S3-compatible stores given
//! by `AWS_ENDPOINT_URL` (path-style URLs).

use super::snapshot::{Snapshot, SnapshotFile};
use super::Env;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};
use rusty_s3::actions::S3Action as _;
use rusty_s3::{Bucket, BucketError, Credentials, UrlStyle};
use std::fmt;
use std::time::Duration;

pub const DEFAULT_PREFIX: &str = "parity-cross";
pub const DEFAULT_REGION: &str = "us-east-1";

/// How long a presigned URL stays valid: one request, bounded by the timeouts below.
const SIGNED_FOR: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// An upload answered 5xx or 429 (S3's `SlowDown`, `InternalError`) or cut
/// off is sent again: three tries, 0.5 s then 1 s apart (`Retry-After` up to 5 s).
const RETRY: crate::retry::Backoff =
    crate::retry::Backoff::tries(3, Duration::from_millis(500), Duration::from_secs(5));
/// The live files change on every publish; an archived snapshot never does.
const LIVE_CACHE_CONTROL: &str = "no-cache";

#[derive(Debug, thiserror::Error)]
pub enum S3ConfigError {
    #[error("AWS_S3_BUCKET is set but {0} is not")]
    MissingCredential(&'static str),
    #[error("{var} `{value}` is not an http(s) URL: {reason}")]
    BadEndpoint { var: &'static str, value: String, reason: String },
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("PUT {key}: HTTP {status}{}", describe_s3_error(code.as_deref(), message.as_deref()))]
    Status { key: String, status: u16, code: Option<String>, message: Option<String> },
    #[error("PUT {key}: {reason}")]
    Transport { key: String, reason: String },
}

fn describe_s3_error(code: Option<&str>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!(" {code}: {message}"),
        (Some(code), None) => format!(" {code}"),
        (None, Some(message)) => format!(": {message}"),
        (None, None) => String::new(),
    }
}

/// Where and as whom to upload, from the environment.
pub struct S3Config {
    pub bucket: String,
    /// Key prefix without surrounding slashes; empty puts the files at the bucket's root.
    pub prefix: String,
    pub region: String,
    /// An S3-compatible store (path-style addressing), else AWS.
    pub endpoint: Option<String>,
    access_key: String,
    secret_key: String,
    session_token: Option<String>,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// `None` when `AWS_S3_BUCKET` is not set: the target is not configured.
    pub fn from_env(env: &Env<'_>) -> Option<Result<S3Config, S3ConfigError>> {
        let bucket = env("AWS_S3_BUCKET")?;
        Some(Self::with_bucket(bucket.trim().to_string(), env))
    }

    fn with_bucket(bucket: String, env: &Env<'_>) -> Result<S3Config, S3ConfigError> {
        let access_key =
            env("AWS_ACCESS_KEY_ID").ok_or(S3ConfigError::MissingCredential("AWS_ACCESS_KEY_ID"))?;
        let secret_key =
            env("AWS_SECRET_ACCESS_KEY").ok_or(S3ConfigError::MissingCredential("AWS_SECRET_ACCESS_KEY"))?;
        let prefix = env("AWS_S3_PREFIX").unwrap_or_else(|| DEFAULT_PREFIX.to_string());
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| DEFAULT_REGION.to_string());
        Ok(S3Config {
            bucket,
            prefix: prefix.trim().trim_matches('/').to_string(),
            region: region.trim().to_string(),
            endpoint: env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL")),
            access_key: access_key.trim().to_string(),
            secret_key,
            session_token: env("AWS_SESSION_TOKEN"),
        })
    }

    /// The values that must never be printed.
    pub fn secrets(&self) -> Vec<&str> {
        std::iter::once(self.secret_key.as_str()).chain(self.session_token.as_deref()).collect()
    }
}

/// A configured, ready-to-use S3 target.
pub struct S3Target {
    bucket: Bucket,
    credentials: Credentials,
    prefix: String,
    client: reqwest::Client,
}

/// What one publish uploaded.
#[derive(Debug, Clone)]
pub struct S3Published {
    /// `s3://bucket/key`, in upload order.
    pub objects: Vec<String>,
    /// The live dashboard's HTTP URL.
    pub dashboard_url: String,
}

impl S3Target {
    pub fn new(config: &S3Config) -> Result<S3Target, S3ConfigError> {
        let (endpoint, style, var) = match &config.endpoint {
            Some(url) => (url.trim().to_string(), UrlStyle::Path, "AWS_ENDPOINT_URL"),
            None => {
                (format!("https://s3.{}.amazonaws.com", config.region), UrlStyle::VirtualHost, "AWS_REGION")
            }
        };
        let bad = |reason: String| S3ConfigError::BadEndpoint { var, value: endpoint.clone(), reason };
        let url = endpoint.parse::<reqwest::Url>().map_err(|e| bad(e.to_string()))?;
        let bucket = Bucket::new(url, style, config.bucket.clone(), config.region.clone()).map_err(|e| {
            bad(match e {
                BucketError::UnsupportedScheme => "only http and https are supported".to_string(),
                BucketError::MissingHost => "it has no host".to_string(),
                BucketError::ParseError(e) => e.to_string(),
            })
        })?;
        let credentials = match &config.session_token {
            Some(token) => Credentials::new_with_token(&config.access_key, &config.secret_key, token),
            None => Credentials::new(&config.access_key, &config.secret_key),
        };
        let client = crate::http::builder(CONNECT_TIMEOUT, REQUEST_TIMEOUT)
            .build()
            .map_err(|e| S3ConfigError::Client(e.to_string()))?;
        Ok(S3Target { bucket, credentials, prefix: config.prefix.clone(), client })
    }

    /// `s3://bucket/key`.
    pub fn s3_uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket.name())
    }

    /// The object's HTTP URL (readable by a browser only if the bucket allows it).
    pub fn http_url(&self, key: &str) -> String {
        self.bucket.object_url(key).map(|u| u.to_string()).unwrap_or_else(|_| self.s3_uri(key))
    }

    fn dashboard_key(&self) -> String {
        [self.prefix.as_str(), "dashboard.html"]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/")
    }

    /// What `publish` would do, one line per object.
    pub fn plan(&self, snapshot: &Snapshot) -> Vec<String> {
        snapshot
            .layout(&self.prefix)
            .into_iter()
            .map(|(key, f)| {
                format!(
                    "would upload {} ({}, {} bytes)",
                    self.s3_uri(&key),
                    f.file.content_type,
                    f.bytes.len()
                )
            })
            .collect()
    }

    /// Uploads every object, archive first; stops at the first failure.
    pub async fn publish(&self, snapshot: &Snapshot) -> Result<S3Published, S3Error> {
        let live = self.prefix_with_slash();
        let mut objects = Vec::new();
        for (key, file) in snapshot.layout(&self.prefix) {
            let is_live = key.strip_prefix(&live).is_some_and(|rest| !rest.contains('/'));
            self.put(&key, file, is_live.then_some(LIVE_CACHE_CONTROL)).await?;
            objects.push(self.s3_uri(&key));
        }
        Ok(S3Published { objects, dashboard_url: self.http_url(&self.dashboard_key()) })
    }

    fn prefix_with_slash(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        }
    }

    /// The presigned URL of a PUT: every header sent is signed, so a store
    /// that received other values would reject the request.
    pub fn signed_put(&self, key: &str, content_type: &str, cache_control: Option<&str>) -> reqwest::Url {
        let mut action = self.bucket.put_object(Some(&self.credentials), key);
        action.headers_mut().insert("content-type", content_type.to_string());
        if let Some(cache_control) = cache_control {
            action.headers_mut().insert("cache-control", cache_control.to_string());
        }
        action.sign(SIGNED_FOR)
    }

    async fn put(&self, key: &str, file: &SnapshotFile, cache_control: Option<&str>) -> Result<(), S3Error> {
        let content_type = file.file.content_type;
        let url = self.signed_put(key, content_type, cache_control);
        let request = || {
            let request =
                self.client.put(url.clone()).header(CONTENT_TYPE, content_type).body(file.bytes.clone());
            match cache_control {
                Some(cache_control) => request.header(CACHE_CONTROL, cache_control),
                None => request,
            }
        };
        // The URL carries the signature (and a session token): never let it reach a message.
        let response = crate::http::send(&RETRY, request)
            .await
            .map_err(|e| S3Error::Transport { key: self.s3_uri(key), reason: transport_reason(e) })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = crate::http::text_prefix(response, crate::http::caps::ERROR_TEXT).await;
        let (code, message) = parse_error_body(&body);
        Err(S3Error::Status { key: self.s3_uri(key), status: status.as_u16(), code, message })
    }
}

fn transport_reason(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut reason = kind.to_string();
    let e = e.without_url();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

/// `<Code>` and `<Message>` of an S3 error document; without them, the start
/// of whatever the body was (a proxy's page, say) as the message.
pub fn parse_error_body(body: &str) -> (Option<String>, Option<String>) {
    // S3's error document: `<Error><Code>…</Code><Message>…</Message>…</Error>`.
    let document = roxmltree::Document::parse(body).ok();
    let element = |name: &str| {
        let root = document.as_ref()?.root_element();
        let found = root.children().find(|n| n.has_tag_name(name))?;
        let text: String = found.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect();
        Some(text.trim().to_string()).filter(|t| !t.is_empty())
    };
    let code = element("Code");
    let message = element("Message").or_else(|| {
        let text: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
        let text: String = text.chars().take(200).collect();
        (code.is_none() && !text.is_empty()).then_some(text)
    });
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |key: &str| map.get(key).cloned()
    }

    const CREDS: [(&str, &str); 2] =
        [("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-secret")];

    #[test]
    fn not_configured_without_a_bucket() {
        assert!(S3Config::from_env(&env_of(&CREDS)).is_none());
    }

    #[test]
    fn defaults_prefix_and_region() {
        let env = env_of(&[CREDS[0], CREDS[1], ("AWS_S3_BUCKET", "dash")]);
        let config = S3Config::from_env(&env).unwrap().unwrap();
        assert_eq!(config.prefix, "parity-cross");
        assert_eq!(config.region, "us-east-1");
        assert_eq!(config.endpoint, None);
    }

    #[test]
    fn region_falls_back_to_the_default_region_and_prefix_loses_slashes() {
        let env = env_of(&[
            CREDS[0],
            CREDS[1],
            ("AWS_S3_BUCKET", "dash"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_S3_PREFIX", "/team/parity/"),
        ]);
        let config = S3Config::from_env(&env).unwrap().unwrap();
        assert_eq!(config.region, "eu-west-1");
        assert_eq!(config.prefix, "team/parity");
        let env = env_of(&[
            CREDS[0],
            CREDS[1],
            ("AWS_S3_BUCKET", "dash"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_REGION", "ap-south-1"),
        ]);
        assert_eq!(S3Config::from_env(&env).unwrap().unwrap().region, "ap-south-1");
    }

    #[test]
    fn missing_credentials_are_named() {
        let env = env_of(&[("AWS_S3_BUCKET", "dash"), CREDS[0]]);
        let err = S3Config::from_env(&env).unwrap().unwrap_err().to_string();
        assert_eq!(err, "AWS_S3_BUCKET is set but AWS_SECRET_ACCESS_KEY is not");
    }

    #[test]
    fn debug_never_shows_the_secrets() {
        let env =
            env_of(&[CREDS[0], CREDS[1], ("AWS_S3_BUCKET", "dash"), ("AWS_SESSION_TOKEN", "FwoGZX-token")]);
        let config = S3Config::from_env(&env).unwrap().unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("wJalrXUtnFEMI-secret") && !shown.contains("FwoGZX-token"), "{shown}");
        assert_eq!(config.secrets(), ["wJalrXUtnFEMI-secret", "FwoGZX-token"]);
    }

    #[test]
    fn aws_uses_virtual_hosted_urls_and_endpoints_path_style() {
        let env = env_of(&[CREDS[0], CREDS[1], ("AWS_S3_BUCKET", "dash"), ("AWS_REGION", "eu-west-1")]);
        let target = S3Target::new(&S3Config::from_env(&env).unwrap().unwrap()).unwrap();
        assert_eq!(
            target.http_url("parity-cross/dashboard.html"),
            "https://dash.s3.eu-west-1.amazonaws.com/parity-cross/dashboard.html"
        );
        let env = env_of(&[
            CREDS[0],
            CREDS[1],
            ("AWS_S3_BUCKET", "dash"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
        ]);
        let target = S3Target::new(&S3Config::from_env(&env).unwrap().unwrap()).unwrap();
        assert_eq!(target.http_url("p/dashboard.html"), "http://127.0.0.1:9000/dash/p/dashboard.html");
        assert_eq!(target.s3_uri("p/dashboard.html"), "s3://dash/p/dashboard.html");
    }

    #[test]
    fn a_bad_endpoint_is_a_config_error() {
        let env = env_of(&[CREDS[0], CREDS[1], ("AWS_S3_BUCKET", "dash"), ("AWS_ENDPOINT_URL", "ftp://x")]);
        let err = S3Target::new(&S3Config::from_env(&env).unwrap().unwrap()).err().unwrap().to_string();
        assert!(err.starts_with("AWS_ENDPOINT_URL `ftp://x` is not an http(s) URL"), "{err}");
    }

    #[test]
    fn content_type_and_cache_control_are_signed_and_the_secret_is_not_in_the_url() {
        let env = env_of(&[
            CREDS[0],
            CREDS[1],
            ("AWS_S3_BUCKET", "dash"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ("AWS_SESSION_TOKEN", "FwoGZX-token"),
        ]);
        let target = S3Target::new(&S3Config::from_env(&env).unwrap().unwrap()).unwrap();
        let url = target.signed_put("p/dashboard.html", "text/html; charset=utf-8", Some("no-cache"));
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(query["X-Amz-SignedHeaders"], "cache-control;content-type;host");
        assert_eq!(query["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert!(query["X-Amz-Credential"].starts_with("AKIDEXAMPLE/"));
        assert_eq!(query["X-Amz-Expires"], "300");
        assert!(!url.as_str().contains("wJalrXUtnFEMI-secret"));
        let url = target.signed_put("p/archives/x/trend.json", "application/json", None);
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(query["X-Amz-SignedHeaders"], "content-type;host");
    }

    #[test]
    fn s3_error_documents_give_code_and_message() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist &amp; never did</Message><BucketName>dash</BucketName></Error>"#;
        assert_eq!(
            parse_error_body(body),
            (Some("NoSuchBucket".into()), Some("The specified bucket does not exist & never did".into()))
        );
        assert_eq!(
            parse_error_body("<html>\n  Bad   gateway</html>"),
            (None, Some("<html> Bad gateway</html>".into()))
        );
        assert_eq!(parse_error_body(""), (None, None));
        // Parsed, not searched: a CDATA message, and a `<Code>` inside another element is not the code.
        let body = "<Error><Message><![CDATA[a <b> & c]]></Message><Detail><Code>X</Code></Detail></Error>";
        assert_eq!(parse_error_body(body), (None, Some("a <b> & c".into())));
        let err = S3Error::Status {
            key: "s3://dash/p/trend.json".into(),
            status: 404,
            code: Some("NoSuchBucket".into()),
            message: Some("gone".into()),
        };
        assert_eq!(err.to_string(), "PUT s3://dash/p/trend.json: HTTP 404 NoSuchBucket: gone");
    }
}
