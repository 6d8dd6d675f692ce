//! Posting to a Slack incoming webhook (`SLACK_WEBHOOK`): a few bounded
//! tries, and errors that never contain the webhook URL (it is the secret).

use crate::retry::Backoff;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);
/// Three tries, 0.5 s then 1 s apart (a `Retry-After` of up to 5 s honoured).
const RETRY: Backoff = Backoff::tries(3, Duration::from_millis(500), Duration::from_secs(5));

pub struct Slack {
    webhook: reqwest::Url,
    client: reqwest::Client,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Slack { webhook: [REDACTED] }")
    }
}

impl Slack {
    /// `None` when no webhook is configured; an error when it is not a URL.
    pub fn from_webhook(webhook: Option<&str>) -> Option<Result<Slack, String>> {
        let webhook = webhook.map(str::trim).filter(|w| !w.is_empty())?;
        Some(
            reqwest::Url::parse(webhook)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| "SLACK_WEBHOOK is not an http(s) URL".to_string())
                .and_then(|webhook| {
                    // No redirect followed: another host must never get the summary re-posted.
                    let client = crate::http::builder(TIMEOUT, TIMEOUT)
                        .build()
                        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
                    Ok(Slack { webhook, client })
                }),
        )
    }

    /// Posts `{"text": …}`; retried as `http::send` retries.
    pub async fn post(&self, text: &str) -> Result<(), String> {
        let body = serde_json::json!({ "text": text });
        match crate::http::send(&RETRY, || self.client.post(self.webhook.clone()).json(&body)).await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => {
                let status = response.status();
                let said = crate::http::text_prefix(response, crate::http::caps::ERROR_TEXT).await;
                Err(format!("Slack answered HTTP {}{}", status.as_u16(), excerpt(&said)))
            }
            // `without_url`: the webhook URL is the secret.
            Err(e) => Err(format!("Slack is unreachable: {}", e.without_url())),
        }
    }
}

fn excerpt(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        String::new()
    } else {
        format!(": {}", crate::escape::excerpt(body, 120))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_webhook_means_no_slack_and_a_bad_one_is_named_without_its_value() {
        assert!(Slack::from_webhook(None).is_none());
        assert!(Slack::from_webhook(Some("  ")).is_none());
        let e = Slack::from_webhook(Some("hooks.slack.com/services/SECRET")).unwrap().unwrap_err();
        assert!(!e.contains("SECRET"), "{e}");
        let slack = Slack::from_webhook(Some("https://hooks.slack.com/services/SECRET")).unwrap().unwrap();
        assert!(!format!("{slack:?}").contains("SECRET"));
    }
}
