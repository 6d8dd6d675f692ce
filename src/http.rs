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
