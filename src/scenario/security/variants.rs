//! The variants of each attack family, as data: what each sends, and in
//! words what it is. Values that are secrets (the admin password, user B's
//! token) never appear in the words; the requests themselves are recorded
//! in the trace and redacted when written.

use base64::Engine as _;

/// An identity header a proxy, a gateway or a development set-up might
/// trust, sent alone and without credentials.
#[derive(Clone, Copy, Debug)]
pub struct IdentityHeader {
    pub name: &'static str,
    pub value: HeaderValue,
}

/// What an identity header says.
#[derive(Clone, Copy, Debug)]
pub enum HeaderValue {
    /// The admin user's name (what a trusted proxy would vouch for).
    AdminUser,
    /// User B's id: an existing user the request is about.
    VictimId,
    /// The route's own path, the request sent to `/` (a URL-override header).
    RoutePath,
    Literal(&'static str),
}

const fn header(name: &'static str, value: HeaderValue) -> IdentityHeader {
    IdentityHeader { name, value }
}

/// Headers internal services are known to trust from a proxy or in
/// development: service markers, forwarded / remote / authenticated user,
/// user ids, development and test identities, internal and trusted markers,
/// a loopback client address, and URL overrides.
pub const IDENTITY_HEADERS: [IdentityHeader; 16] = [
    header("X-Service-Origin", HeaderValue::Literal("web")),
    header("X-Forwarded-User", HeaderValue::AdminUser),
    header("X-Remote-User", HeaderValue::AdminUser),
    header("Remote-User", HeaderValue::AdminUser),
    header("X-Authenticated-User", HeaderValue::AdminUser),
    header("X-Auth-Request-User", HeaderValue::AdminUser),
    header("X-User-Id", HeaderValue::VictimId),
    header("X-Dev-User-Id", HeaderValue::VictimId),
    header("X-Test-User-Id", HeaderValue::VictimId),
    header("X-Internal-Request", HeaderValue::Literal("true")),
    header("X-Internal-Service", HeaderValue::Literal("web")),
    header("X-Trusted-Proxy", HeaderValue::Literal("true")),
    header("X-Forwarded-For", HeaderValue::Literal("127.0.0.1")),
    header("X-Real-IP", HeaderValue::Literal("127.0.0.1")),
    header("X-Original-URL", HeaderValue::RoutePath),
    header("X-Rewrite-URL", HeaderValue::RoutePath),
];

impl IdentityHeader {
    /// The variant's name: the header, lower case.
    pub fn variant(&self) -> String {
        self.name.to_ascii_lowercase()
    }

    pub fn value(&self, admin_user: &str, victim: &str, route_path: &str) -> String {
        match self.value {
            HeaderValue::AdminUser => admin_user.to_string(),
            HeaderValue::VictimId => victim.to_string(),
            HeaderValue::RoutePath => route_path.to_string(),
            HeaderValue::Literal(value) => value.to_string(),
        }
    }

    /// The request goes to `/`, the header naming the real path.
    pub fn overrides_url(&self) -> bool {
        matches!(self.value, HeaderValue::RoutePath)
    }

    pub fn describe(&self) -> String {
        let value = match self.value {
            HeaderValue::AdminUser => "<the admin user's name>".to_string(),
            HeaderValue::VictimId => "<user B's id>".to_string(),
            HeaderValue::RoutePath => "<the route's path>, sent to /".to_string(),
            HeaderValue::Literal(value) => value.to_string(),
        };
        format!("{}: {value}, no credentials", self.name)
    }
}

/// A credential that is not the admin's, in one of the shapes a careless
/// parser lets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    WrongPassword,
    EmptyPassword,
    /// `user` alone, no colon.
    UserOnly,
    /// Another user with the admin's password.
    WrongUser,
    /// The admin's password and one character more (a prefix comparison).
    PasswordSuffix,
    /// The scheme in another case, with a wrong password.
    SchemeCase,
    /// Two Authorization headers, neither the admin's.
    TwoHeaders,
    /// The admin's password followed by 6000 more characters (a truncating comparison).
    Oversized,
    /// The admin's password as a Bearer token.
    Bearer,
    /// A Basic value that is not base64.
    NotBase64,
}

impl Credential {
    pub const ALL: [Credential; 10] = [
        Credential::WrongPassword,
        Credential::EmptyPassword,
        Credential::UserOnly,
        Credential::WrongUser,
        Credential::PasswordSuffix,
        Credential::SchemeCase,
        Credential::TwoHeaders,
        Credential::Oversized,
        Credential::Bearer,
        Credential::NotBase64,
    ];

    pub fn variant(self) -> &'static str {
        match self {
            Credential::WrongPassword => "wrong-password",
            Credential::EmptyPassword => "empty-password",
            Credential::UserOnly => "user-only",
            Credential::WrongUser => "wrong-user",
            Credential::PasswordSuffix => "password-suffix",
            Credential::SchemeCase => "scheme-case",
            Credential::TwoHeaders => "two-headers",
            Credential::Oversized => "oversized",
            Credential::Bearer => "bearer",
            Credential::NotBase64 => "not-base64",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Credential::WrongPassword => "Authorization: Basic <admin:a wrong password>",
            Credential::EmptyPassword => "Authorization: Basic <admin:> (an empty password)",
            Credential::UserOnly => "Authorization: Basic <admin> (no colon, no password)",
            Credential::WrongUser => "Authorization: Basic <another user:the admin's password>",
            Credential::PasswordSuffix => "Authorization: Basic <admin:the admin's password + one character>",
            Credential::SchemeCase => "Authorization: bAsIc <admin:a wrong password>",
            Credential::TwoHeaders => {
                "two Authorization headers: Basic <admin:a wrong password>, Basic <admin:>"
            }
            Credential::Oversized => {
                "Authorization: Basic <admin:the admin's password + 6000 characters> (an 8 KB header)"
            }
            Credential::Bearer => "Authorization: Bearer <the admin's password>",
            Credential::NotBase64 => "Authorization: Basic %%% (not base64)",
        }
    }

    /// The Authorization headers this variant sends.
    pub fn headers(self, user: &str, pass: &str) -> Vec<(String, String)> {
        let basic = |pair: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
        let wrong = format!("{user}:{}", crate::contract::wrong_password(pass));
        let values = match self {
            Credential::WrongPassword => vec![basic(&wrong)],
            Credential::EmptyPassword => vec![basic(&format!("{user}:"))],
            Credential::UserOnly => vec![basic(user)],
            Credential::WrongUser => vec![basic(&format!("{user}-parity-other:{pass}"))],
            Credential::PasswordSuffix => vec![basic(&format!("{user}:{pass}x"))],
            Credential::SchemeCase => {
                vec![format!("bAsIc {}", base64::engine::general_purpose::STANDARD.encode(&wrong))]
            }
            Credential::TwoHeaders => vec![basic(&wrong), basic(&format!("{user}:"))],
            Credential::Oversized => vec![basic(&format!("{user}:{pass}{}", "A".repeat(6000)))],
            Credential::Bearer => vec![format!("Bearer {pass}")],
            Credential::NotBase64 => vec!["Basic %%%".to_string()],
        };
        values.into_iter().map(|v| ("Authorization".to_string(), v)).collect()
    }
}

/// An owner segment that is not user B's, for revoking and listing B's token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// User A's id: another user's path.
    OtherUser,
    /// Not a 24-hex id at all.
    NotHex,
    Empty,
    /// User A's id in upper case. (B's own id in upper case names B itself:
    /// an ObjectId-typed store parses it to B, so revoking through it is B's
    /// own revoke, not a door.)
    UpperCase,
    /// User A's id, every character percent-encoded.
    PercentEncoded,
    /// User A's id between spaces.
    Padded,
    /// A literal `..`, sent byte for byte.
    DotDot,
    /// User A's id followed by an extra path segment.
    ExtraSegment,
}

impl Owner {
    pub const ALL: [Owner; 8] = [
        Owner::OtherUser,
        Owner::NotHex,
        Owner::Empty,
        Owner::UpperCase,
        Owner::PercentEncoded,
        Owner::Padded,
        Owner::DotDot,
        Owner::ExtraSegment,
    ];

    pub fn variant(self) -> &'static str {
        match self {
            Owner::OtherUser => "other-user",
            Owner::NotHex => "not-hex",
            Owner::Empty => "empty",
            Owner::UpperCase => "upper-case",
            Owner::PercentEncoded => "percent-encoded",
            Owner::Padded => "padded",
            Owner::DotDot => "dot-dot",
            Owner::ExtraSegment => "extra-segment",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Owner::OtherUser => "owner segment: user A's id",
            Owner::NotHex => "owner segment: `not-an-object-id`",
            Owner::Empty => "owner segment: empty",
            Owner::UpperCase => "owner segment: user A's id in upper case",
            Owner::PercentEncoded => "owner segment: user A's id, percent-encoded",
            Owner::Padded => "owner segment: user A's id between spaces (%20)",
            Owner::DotDot => "owner segment: a literal `..`, sent byte for byte",
            Owner::ExtraSegment => "owner segment: user A's id and an extra `/extra` segment",
        }
    }

    /// The path segment(s) where the owner goes.
    pub fn segment(self, other: &str) -> String {
        match self {
            Owner::OtherUser => other.to_string(),
            Owner::NotHex => "not-an-object-id".to_string(),
            Owner::Empty => String::new(),
            Owner::UpperCase => other.to_ascii_uppercase(),
            Owner::PercentEncoded => other.bytes().map(|b| format!("%{b:02X}")).collect(),
            Owner::Padded => format!("%20{other}%20"),
            Owner::DotDot => "..".to_string(),
            Owner::ExtraSegment => format!("{other}/extra"),
        }
    }

    /// The path must go out as written (an HTTP client would resolve it).
    pub fn verbatim(self) -> bool {
        self == Owner::DotDot
    }
}

/// A form of user B's token that is not the token itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenForm {
    UpperCase,
    Whitespace,
    OneShort,
    OneLong,
    NulSuffix,
    Number,
    Array,
    Object,
    /// `{"token": <exact>, "token": <another>}`: JSON readers keep the last.
    DuplicateKey,
}

impl TokenForm {
    pub const ALL: [TokenForm; 9] = [
        TokenForm::UpperCase,
        TokenForm::Whitespace,
        TokenForm::OneShort,
        TokenForm::OneLong,
        TokenForm::NulSuffix,
        TokenForm::Number,
        TokenForm::Array,
        TokenForm::Object,
        TokenForm::DuplicateKey,
    ];

    pub fn variant(self) -> &'static str {
        match self {
            TokenForm::UpperCase => "upper-case",
            TokenForm::Whitespace => "whitespace",
            TokenForm::OneShort => "one-short",
            TokenForm::OneLong => "one-long",
            TokenForm::NulSuffix => "nul-suffix",
            TokenForm::Number => "number",
            TokenForm::Array => "array",
            TokenForm::Object => "object",
            TokenForm::DuplicateKey => "duplicate-key",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            TokenForm::UpperCase => r#"{"token": <user B's token, upper-cased>}"#,
            TokenForm::Whitespace => r#"{"token": " <user B's token>\n"}"#,
            TokenForm::OneShort => r#"{"token": <user B's token without its last character>}"#,
            TokenForm::OneLong => r#"{"token": <user B's token + "0">}"#,
            TokenForm::NulSuffix => r#"{"token": <user B's token + "\u0000">}"#,
            TokenForm::Number => r#"{"token": 1234567890}"#,
            TokenForm::Array => r#"{"token": [<user B's token>]}"#,
            TokenForm::Object => r#"{"token": {"$ne": null}}"#,
            TokenForm::DuplicateKey => {
                r#"{"token": <user B's token>, "token": <it with its last character changed>} (the last key is the one JSON readers keep)"#
            }
        }
    }

    /// The introspection body this variant sends.
    pub fn body(self, token: &str) -> String {
        let quoted = |t: &str| serde_json::Value::String(t.to_string()).to_string();
        let changed_last = {
            let mut t = token[..token.len().saturating_sub(1)].to_string();
            t.push(if token.ends_with('0') { '1' } else { '0' });
            t
        };
        match self {
            TokenForm::UpperCase => format!(r#"{{"token":{}}}"#, quoted(&token.to_ascii_uppercase())),
            TokenForm::Whitespace => format!(r#"{{"token":{}}}"#, quoted(&format!(" {token}\n"))),
            TokenForm::OneShort => {
                format!(r#"{{"token":{}}}"#, quoted(&token[..token.len().saturating_sub(1)]))
            }
            TokenForm::OneLong => format!(r#"{{"token":{}}}"#, quoted(&format!("{token}0"))),
            TokenForm::NulSuffix => format!(r#"{{"token":{}}}"#, quoted(&format!("{token}\0"))),
            TokenForm::Number => r#"{"token":1234567890}"#.to_string(),
            TokenForm::Array => format!(r#"{{"token":[{}]}}"#, quoted(token)),
            TokenForm::Object => r#"{"token":{"$ne":null}}"#.to_string(),
            TokenForm::DuplicateKey => {
                format!(r#"{{"token":{},"token":{}}}"#, quoted(token), quoted(&changed_last))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_twelve_identity_headers_each_named_once() {
        let mut names: Vec<String> = IDENTITY_HEADERS.iter().map(IdentityHeader::variant).collect();
        assert!(names.len() >= 12);
        names.sort();
        names.dedup();
        assert_eq!(names.len(), IDENTITY_HEADERS.len());
        let dev = IDENTITY_HEADERS.iter().find(|h| h.name == "X-Dev-User-Id").unwrap();
        assert_eq!(dev.value("overleaf", "6b0a", "/p"), "6b0a");
        assert!(IDENTITY_HEADERS.iter().any(IdentityHeader::overrides_url));
    }

    #[test]
    fn credentials_are_never_the_admins() {
        use base64::Engine as _;
        for c in Credential::ALL {
            let headers = c.headers("overleaf", "s3cret");
            assert!(!headers.is_empty());
            for (name, value) in &headers {
                assert_eq!(name, "Authorization");
                let decoded = value
                    .split_once(' ')
                    .and_then(|(_, b)| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .map(|d| String::from_utf8_lossy(&d).into_owned());
                assert_ne!(decoded.as_deref(), Some("overleaf:s3cret"), "{c:?}");
                assert!(!c.describe().contains("s3cret"));
            }
        }
        assert_eq!(Credential::TwoHeaders.headers("u", "p").len(), 2);
        assert!(Credential::Oversized.headers("u", "p")[0].1.len() > 8000);
    }

    #[test]
    fn owner_segments_never_name_user_b() {
        let (a, b) = ("6b0a7daf0123456789abcdef", "0123456789abcdef01234567");
        for o in Owner::ALL {
            let segment = o.segment(a);
            assert_ne!(segment, b, "{o:?}");
            assert!(!segment.contains(b));
        }
        assert_eq!(Owner::PercentEncoded.segment("6b"), "%36%62");
        assert_eq!(Owner::UpperCase.segment(a), "6B0A7DAF0123456789ABCDEF");
    }

    #[test]
    fn token_forms_are_never_the_exact_token() {
        let token = "ab".repeat(32);
        for form in TokenForm::ALL {
            let body: serde_json::Value = serde_json::from_str(&form.body(&token)).unwrap();
            assert_ne!(body["token"], serde_json::json!(token), "{form:?}");
            assert!(!form.describe().contains(&token));
        }
        let duplicate = TokenForm::DuplicateKey.body(&token);
        assert!(duplicate.starts_with(&format!(r#"{{"token":"{token}","token":""#)), "{duplicate}");
    }
}
