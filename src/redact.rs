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
//! form, webhook URLs, API tokens, AWS keys, marked instance settings) —
//! raw or in any encoding a service may echo it in (JSON, XML/HTML,
//! percent, base64) —, and credentials in a query string (`?token=…`). The
//! registry is process-wide, so a secret learnt anywhere is redacted
//! everywhere. `--no-redact` turns redaction off for artifacts only.

use regex::Regex;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock, RwLock};

pub const REDACTED: &str = "[REDACTED]";

/// Secrets up to this many characters are matched character by character in
/// every encoding; longer ones by their whole raw, JSON, percent and base64 forms.
const MAX_PATTERNED: usize = 256;

/// Secrets shorter than this (in characters) are not registered: one or
/// two characters cannot be told from text. Three are, at the price of a
/// few harmless matches — better than a leak.
const MIN_SECRET: usize = 3;

#[derive(Clone, Debug, Default)]
pub struct Redactor {
    enabled: bool,
}

/// The registered secrets and the one pattern that finds any of them in
/// any of the forms they travel in.
#[derive(Default)]
struct Registry {
    secrets: Vec<String>,
    pattern: Option<Arc<Regex>>,
}

fn registry() -> &'static RwLock<Registry> {
    static SECRETS: OnceLock<RwLock<Registry>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Registry::default()))
}

/// Registers a secret for the whole process: every enabled redactor hides
/// it from now on, raw and in every encoding a service or a sink may give
/// it (see [`forms`]).
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.chars().count() < MIN_SECRET {
        return;
    }
    let mut registry = registry().write().unwrap_or_else(|p| p.into_inner());
    if registry.secrets.iter().any(|s| s == secret) {
        return;
    }
    registry.secrets.push(secret.to_string());
    // Longest first, so a secret containing another is replaced whole.
    registry.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let every_form: Vec<String> = registry.secrets.iter().map(|s| forms(s)).collect();
    let raw: Vec<String> = registry.secrets.iter().map(|s| regex::escape(s)).collect();
    // Should the pattern of every form grow past what the regex engine
    // takes (secrets of many kilobytes), the raw secrets are still found.
    registry.pattern = [every_form, raw]
        .iter()
        .find_map(|alternatives| {
            regex::RegexBuilder::new(&alternatives.join("|")).size_limit(64 << 20).build().ok()
        })
        .map(Arc::new);
}

/// Registers HTTP Basic credentials: the password, and `user:pass` as
/// base64 (unpadded, so that it is found percent-encoded too).
pub fn register_basic(user: &str, pass: &str) {
    use base64::Engine as _;
    register(pass);
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    register(encoded.trim_end_matches('='));
}

fn pattern() -> Option<Arc<Regex>> {
    registry().read().unwrap_or_else(|p| p.into_inner()).pattern.clone()
}

/// A regex matching `secret` raw or escaped character by character — JSON
/// at any depth (`\"`, `\\\"`, `\u00e9`, Go's `\u003c`), XML/HTML (`&quot;`, `&#34;`,
/// `&#x22;`), percent-encoding (either case, `+` for a space), in any mix —
/// or base64-encoded at any alignment inside a longer base64 text
/// (standard and URL-safe alphabets).
fn forms(secret: &str) -> String {
    let mut alternatives = if secret.chars().count() <= MAX_PATTERNED {
        let mut escaped = String::from("(?:");
        for c in secret.chars() {
            escaped += &char_forms(c);
        }
        escaped.push(')');
        vec![escaped]
    } else {
        // A long secret (a key, a certificate): its raw, JSON and percent
        // forms as literals; a pattern per character would cost seconds.
        let json = serde_json::to_string(secret).unwrap_or_default();
        let json = json.get(1..json.len().saturating_sub(1)).unwrap_or_default().to_string();
        let percent: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
        [secret.to_string(), json, percent].iter().map(|f| regex::escape(f)).collect()
    };
    alternatives.extend(base64_forms(secret.as_bytes()).iter().map(|b| regex::escape(b)));
    format!("(?:{})", alternatives.join("|"))
}

fn char_forms(c: char) -> String {
    let mut alternatives = vec![regex::escape(&c.to_string())];
    // JSON's escapes, at any depth of JSON inside JSON (a body recorded as a
    // string): each level doubles the backslashes, so one or more of them.
    let json_short = match c {
        '"' => Some(r#"\\+""#),
        '\\' => Some(r"\\+"),
        '/' => Some(r"\\+/"),
        '\n' => Some(r"\\+n"),
        '\t' => Some(r"\\+t"),
        '\r' => Some(r"\\+r"),
        '\u{8}' => Some(r"\\+b"),
        '\u{c}' => Some(r"\\+f"),
        _ => None,
    };
    alternatives.extend(json_short.map(String::from));
    let mut units = [0u16; 2];
    let json_unicode: String = c.encode_utf16(&mut units).iter().map(|u| format!(r"\\+u{u:04x}")).collect();
    alternatives.push(format!("(?i:{json_unicode})"));
    let mut bytes = [0u8; 4];
    let percent: String = c.encode_utf8(&mut bytes).bytes().map(|b| format!("%{b:02x}")).collect();
    alternatives.push(format!("(?i:{percent})"));
    if c == ' ' {
        alternatives.push(r"\+".into());
    }
    let code = u32::from(c);
    alternatives.push(format!("&#0*{code};"));
    alternatives.push(format!("(?i:&#x0*{code:x};)"));
    let named = match c {
        '"' => Some("&quot;"),
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '\'' => Some("&apos;"),
        _ => None,
    };
    alternatives.extend(named.map(String::from));
    let mut out = String::from("(?:");
    let _ = write!(out, "{})", alternatives.join("|"));
    out
}

/// The characters of base64 text that depend only on `secret`'s bytes, for
/// each of the three alignments it may have inside a longer encoded text;
/// runs shorter than four characters are left out (too common to mean it).
fn base64_forms(secret: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for offset in 0..3usize {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(secret);
        let first = (8 * offset).div_ceil(6);
        let end = 8 * (offset + secret.len()) / 6;
        if end < first + 4 {
            continue;
        }
        for engine in [
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            let encoded = engine.encode(&padded);
            if let Some(run) = encoded.get(first..end) {
                if !out.iter().any(|o| o == run) {
                    out.push(run.to_string());
                }
            }
        }
    }
    out
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

/// Credentials in a query string (`?access_token=…`, `&key=…`).
fn query_credential() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)([?&](?:access_token|token|api_key|apikey|key|password|passwd|pwd|secret|client_secret|sig|signature|auth)=)[^&#\s\x22'<>]+",
        )
        .expect("static regex")
    })
}

impl Redactor {
    /// A redactor that redacts (the default everywhere).
    pub fn enabled() -> Self {
        Redactor { enabled: true }
    }

    /// A redactor that passes everything through (`--no-redact`, artifacts only).
    pub fn disabled() -> Self {
        Redactor::default()
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.enabled {
            return Cow::Borrowed(text);
        }
        let mut out = Cow::Borrowed(text);
        if let Some(secrets) = pattern() {
            out = replace(out, &secrets, |_| REDACTED.to_string());
        }
        out = replace(out, hex_run(), |caps| match caps.get(1) {
            // A content digest (an image id), not a token: `parity replay` needs it as it was.
            Some(_) => caps[0].to_string(),
            None => format!("[REDACTED-TOKEN {}]", crate::hashing::hash_prefix(&caps[0])),
        });
        out = replace(out, basic_credential(), |caps| format!("{} {REDACTED}", &caps[1]));
        out = replace(out, query_credential(), |caps| format!("{}{REDACTED}", &caps[1]));
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
        ["hunter2", "hunter2hunter2", "ab"].into_iter().for_each(register);
        let r = Redactor::enabled();
        assert_eq!(r.redact("pw=hunter2hunter2 ab"), "pw=[REDACTED] ab");
    }

    #[test]
    fn a_secret_is_redacted_in_every_encoding_a_service_may_echo() {
        let secret = "Pa\"ss\\w\u{f6}<rd&3";
        register(secret);
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let forms = [
            secret.to_string(),
            serde_json::to_string(secret).unwrap(),
            r#"Pa\"ss\\w\u00f6\u003crd\u00263"#.to_string(),
            r#"Pa\u0022ss\u005Cw\u00F6<rd&3"#.to_string(),
            "Pa&quot;ss\\w\u{f6}&lt;rd&amp;3".to_string(),
            "Pa&#34;ss\\w&#246;&#x3C;rd&#38;3".to_string(),
            "Pa%22ss%5Cw%C3%B6%3Crd%263".to_string(),
            "Pa%22ss%5cw%c3%b6%3crd%263".to_string(),
            b64.clone(),
            format!("xx{}", base64::engine::general_purpose::STANDARD.encode(format!("a{secret}"))),
            format!("xx{}", base64::engine::general_purpose::URL_SAFE.encode(format!("ab{secret}"))),
            serde_json::to_string(&serde_json::to_string(secret).unwrap()).unwrap(),
            serde_json::to_string(&serde_json::to_string(&serde_json::to_string(secret).unwrap()).unwrap())
                .unwrap(),
        ];
        for form in forms {
            let out = Redactor::enabled().redact(&format!("said: {form} .")).into_owned();
            assert!(out.contains(REDACTED), "{form} → {out}");
            assert!(!out.contains("ss") || out.matches("ss").count() == 0, "{form} → {out}");
        }
        assert_eq!(Redactor::enabled().redact("Pa\"ss"), "Pa\"ss", "a part is not the secret");
    }

    #[test]
    fn three_characters_are_a_secret_and_query_credentials_are_redacted() {
        register("q7Z");
        assert_eq!(Redactor::enabled().redact(r#"{"p":"q7Z"}"#), r#"{"p":"[REDACTED]"}"#);
        assert_eq!(
            Redactor::enabled().redact("http://h:1/x?access_token=abc.def&b=1 and http://h/?key=K#f"),
            "http://h:1/x?access_token=[REDACTED]&b=1 and http://h/?key=[REDACTED]#f"
        );
    }

    #[test]
    fn a_long_secret_is_found_by_its_whole_forms() {
        let long: String =
            (0..2_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect::<String>() + "\u{f6}\"<";
        register(&long);
        let out = Redactor::enabled().redact(&format!("x {long} y")).into_owned();
        assert_eq!(out, "x [REDACTED] y");
    }

    #[test]
    fn disabled_passes_everything() {
        register("hunter2");
        let r = Redactor::disabled();
        let text = format!("hunter2 {TOKEN} Basic b3ZlcmxlYWY6b3ZlcmxlYWY=");
        assert_eq!(r.redact(&text), text.as_str());
    }
}
