//! Secret redaction: the one filter every byte the process writes passes
//! through — console lines, artifacts, reports, payloads.
//!
//! What counts as a secret: plaintext tokens (any run of 48 or more hex
//! digits not written as a `sha256:` digest — a token, or most of one, as a
//! security variant sends it one character short —, named by their
//! `hashPrefix` — the first 8 hex of their SHA-256,
//! which the service itself exposes — never by any of their own
//! characters), HTTP Basic and Bearer credentials, URL userinfo, and every
//! literal registered for the process (the admin password and its Basic
//! form, webhook URLs, API tokens, AWS keys, marked instance settings). The
//! registry is process-wide, so a secret learnt anywhere is redacted
//! everywhere. `--no-redact` turns redaction off for artifacts only.

use regex::Regex;
use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

pub const REDACTED: &str = "[REDACTED]";

/// Literals shorter than this are not registered: replacing every "ab" in a
/// log would destroy it and hide nothing.
const MIN_SECRET: usize = 4;

#[derive(Clone, Debug, Default)]
pub struct Redactor {
    enabled: bool,
    literals: Vec<String>,
}

fn registry() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Registers a secret for the whole process: every enabled redactor hides
/// it from now on. A URL also registers its password and query.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET {
        return;
    }
    let mut all = registry().write().unwrap_or_else(|p| p.into_inner());
    if !all.iter().any(|s| s == secret) {
        all.push(secret.to_string());
        // Longest first, so a secret containing another is replaced whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Registers HTTP Basic credentials: the password, and `user:pass` as
/// base64 (unpadded, so that it is found percent-encoded too).
pub fn register_basic(user: &str, pass: &str) {
    use base64::Engine as _;
    register(pass);
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    register(encoded.trim_end_matches('='));
}

fn registered() -> Vec<String> {
    registry().read().unwrap_or_else(|p| p.into_inner()).clone()
}

fn hex_run() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(sha256:)?[0-9a-fA-F]{48,}").expect("static regex"))
}

fn basic_credential() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\b(basic|bearer)(\s+|%20|\+)[A-Za-z0-9+/=._~%-]{4,}").expect("static regex")
    })
}

/// The userinfo of a URL (`scheme://user:password@` or `scheme://token@`).
fn url_userinfo() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(://)[^/@\s]+@").expect("static regex"))
}

impl Redactor {
    /// A redactor that redacts (the default everywhere).
    pub fn enabled() -> Self {
        Redactor { enabled: true, literals: Vec::new() }
    }

    /// A redactor that passes everything through (`--no-redact`, artifacts only).
    pub fn disabled() -> Self {
        Redactor::default()
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Adds a literal secret to this redactor (and, since any secret is a
    /// secret everywhere, to the process's registry).
    pub fn with_secret(mut self, secret: &str) -> Self {
        register(secret);
        if secret.len() >= MIN_SECRET && !self.literals.iter().any(|s| s == secret) {
            self.literals.push(secret.to_string());
            self.literals.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
        self
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.enabled {
            return Cow::Borrowed(text);
        }
        let mut literals = registered();
        literals.extend(self.literals.iter().cloned());
        literals.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut out = Cow::Borrowed(text);
        for secret in &literals {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        out = replace(out, hex_run(), |caps| match caps.get(1) {
            // A content digest (an image id), not a token: `parity replay` needs it as it was.
            Some(_) => caps[0].to_string(),
            None => format!("[REDACTED-TOKEN {}]", crate::hashing::hash_prefix(&caps[0])),
        });
        out = replace(out, basic_credential(), |caps| format!("{} {REDACTED}", &caps[1]));
        replace(out, url_userinfo(), |caps| format!("{}{REDACTED}@", &caps[1]))
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
    fn plaintext_tokens_are_named_by_their_hash_prefix_never_their_own_characters() {
        let r = Redactor::enabled();
        let out = r.redact(&format!(r#"{{"token":"{TOKEN}"}}"#)).into_owned();
        let prefix = crate::hashing::hash_prefix(TOKEN);
        assert_eq!(out, format!(r#"{{"token":"[REDACTED-TOKEN {prefix}]"}}"#));
        assert!(!out.contains(&TOKEN[..8]), "{out}");
    }

    #[test]
    fn most_of_a_token_is_a_token_too() {
        let r = Redactor::enabled();
        for cut in [&TOKEN[..63], &TOKEN[1..], &TOKEN[..48]] {
            let out = r.redact(&format!(r#"{{"token":"{cut}"}}"#)).into_owned();
            assert!(out.contains("[REDACTED-TOKEN ") && !out.contains(&cut[..12]), "{out}");
        }
        let sha1 = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(r.redact(sha1), sha1, "a git commit (40 hex) is no token");
    }

    #[test]
    fn object_ids_short_hex_and_image_digests_are_kept() {
        let r = Redactor::enabled();
        let text = format!("id 6b0a7daf0123456789abcdef partial 4f1c2d3e image sha256:{TOKEN}");
        assert_eq!(r.redact(&text), text);
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
    fn url_userinfo_is_redacted() {
        let r = Redactor::enabled();
        assert_eq!(
            r.redact("mongodb://admin:s3cret@mongo:27017/sharelatex"),
            "mongodb://[REDACTED]@mongo:27017/sharelatex"
        );
        assert_eq!(r.redact("https://x-token@github.com/o/r.git"), "https://[REDACTED]@github.com/o/r.git");
        assert_eq!(r.redact("see https://example.com/a@b"), "see https://example.com/a@b", "not userinfo");
    }

    #[test]
    fn a_registered_secret_is_redacted_by_every_redactor_and_basic_credentials_in_any_form() {
        register("process-wide-secret-1");
        assert_eq!(Redactor::enabled().redact("x process-wide-secret-1 y"), "x [REDACTED] y");
        register_basic("admin", "pa55-w0rd-42");
        let encoded = "YWRtaW46cGE1NS13MHJkLTQy"; // base64("admin:pa55-w0rd-42")
        let seen = format!("login?authorization=Basic%20{encoded}%3D%3D and pa55-w0rd-42 and {encoded}");
        let out = Redactor::enabled().redact(&seen).into_owned();
        assert!(!out.contains(encoded) && !out.contains("pa55-w0rd-42"), "{out}");
        assert_eq!(Redactor::disabled().redact("pa55-w0rd-42"), "pa55-w0rd-42", "--no-redact");
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
