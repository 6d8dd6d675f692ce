//! Secret redaction: the single filter every artifact and log line passes
//! through before it reaches the disk.
//!
//! What counts as a secret: plaintext tokens (any run of 64 or more hex
//! digits), HTTP Basic credentials, passwords inside URLs, and literal values
//! registered at start-up (the admin password, later webhook URLs and API
//! tokens). `--no-redact` turns it off for local debugging.

use regex::Regex;
use std::borrow::Cow;
use std::sync::OnceLock;

pub const REDACTED: &str = "[REDACTED]";

#[derive(Clone, Debug, Default)]
pub struct Redactor {
    enabled: bool,
    literals: Vec<String>,
}

fn hex_run() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"[0-9a-fA-F]{64,}").expect("static regex"))
}

fn basic_credential() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]{4,}").expect("static regex"))
}

fn url_password() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(://[^:/@\s]+):[^@/\s]+@").expect("static regex"))
}

impl Redactor {
    /// A redactor that redacts (the default for every run).
    pub fn enabled() -> Self {
        Redactor { enabled: true, literals: Vec::new() }
    }

    /// A redactor that passes everything through (`--no-redact`).
    pub fn disabled() -> Self {
        Redactor::default()
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Registers a literal secret. Values shorter than 4 characters are not
    /// registered: replacing every "ab" in a log would destroy it and hide nothing.
    pub fn with_secret(mut self, secret: &str) -> Self {
        if secret.len() >= 4 && !self.literals.iter().any(|s| s == secret) {
            self.literals.push(secret.to_string());
            // Longest first, so a secret containing another is replaced whole.
            self.literals.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
        self
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.enabled {
            return Cow::Borrowed(text);
        }
        let mut out = Cow::Borrowed(text);
        for secret in &self.literals {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        out = replace(out, hex_run(), |caps| {
            let run = &caps[0];
            format!("[REDACTED-TOKEN {}…]", &run[..8])
        });
        out = replace(out, basic_credential(), |caps| format!("{} {REDACTED}", &caps[1]));
        replace(out, url_password(), |caps| format!("{}:{REDACTED}@", &caps[1]))
    }
}

fn replace<'a>(text: Cow<'a, str>, re: &Regex, with: impl Fn(&regex::Captures) -> String) -> Cow<'a, str> {
    if !re.is_match(&text) {
        return text;
    }
    Cow::Owned(re.replace_all(&text, with).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "4f1c2d3e4f1c2d3e4f1c2d3e4f1c2d3e4f1c2d3e4f1c2d3e4f1c2d3e4f1c2d3e";

    #[test]
    fn plaintext_tokens_keep_only_their_public_partial() {
        let r = Redactor::enabled();
        let out = r.redact(&format!(r#"{{"token":"{TOKEN}"}}"#)).into_owned();
        assert_eq!(out, r#"{"token":"[REDACTED-TOKEN 4f1c2d3e…]"}"#);
    }

    #[test]
    fn object_ids_and_short_hex_are_kept() {
        let r = Redactor::enabled();
        let text = "id 6b0a7daf0123456789abcdef partial 4f1c2d3e";
        assert_eq!(r.redact(text), text);
    }

    #[test]
    fn basic_and_bearer_credentials_are_redacted() {
        let r = Redactor::enabled();
        assert_eq!(
            r.redact("Authorization: Basic b3ZlcmxlYWY6b3ZlcmxlYWY="),
            "Authorization: Basic [REDACTED]"
        );
        assert_eq!(r.redact("authorization: bearer ghp_abc123"), "authorization: bearer [REDACTED]");
    }

    #[test]
    fn url_passwords_are_redacted() {
        let r = Redactor::enabled();
        assert_eq!(
            r.redact("mongodb://admin:s3cret@mongo:27017/sharelatex"),
            "mongodb://admin:[REDACTED]@mongo:27017/sharelatex"
        );
    }

    #[test]
    fn registered_literals_are_redacted_longest_first() {
        let r = Redactor::enabled().with_secret("hunter2").with_secret("hunter2hunter2").with_secret("ab");
        assert_eq!(r.redact("pw=hunter2hunter2 ab"), "pw=[REDACTED] ab");
    }

    #[test]
    fn disabled_passes_everything() {
        let r = Redactor::disabled().with_secret("hunter2");
        let text = format!("hunter2 {TOKEN} Basic b3ZlcmxlYWY6b3ZlcmxlYWY=");
        assert_eq!(r.redact(&text), text.as_str());
    }
}
