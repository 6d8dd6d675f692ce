//! Faults the reference server can be told to exhibit, so that the harness
//! can prove it catches each of them (`parity canary`). Every contract check
//! names the fault that makes it fail (`parity checks`).

use super::rate_limit::RateLimit;
use std::collections::BTreeSet;
use std::time::Duration;

/// How long `stale-rate` keeps other instances stale when `stale-for` is not given.
pub const DEFAULT_STALE_FOR: Duration = Duration::from_secs(1);

/// A behaviour the contract forbids, switched on by name alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Misbehaviour {
    /// Any request with a non-empty `X-Service-Origin` skips authentication.
    AuthBypass,
    /// Requests without an Authorization header are let in.
    OpenAccess,
    /// HTTP Basic with the right user and any password is let in.
    AnyPassword,
    /// Create accepts a body that is not JSON (as `{}`).
    LenientCreate,
    /// The list shows each token's hash.
    ListHash,
    /// Revoke answers 204 but changes nothing.
    RevokeNoop,
    /// A second revoke of the same token answers 404.
    RevokeNotIdempotent,
    /// Revoke ignores the user in the path: anyone's id revokes the token.
    RevokeAnyUser,
    /// A token id that is not 24 hex answers 404 instead of 400.
    BadId404,
    /// Introspection always answers `active:false`.
    NeverActive,
    /// A token no document matches introspects as active.
    UnknownActive,
    /// An expired token still introspects as active.
    IgnoreExpiry,
    /// A missing, malformed or non-hex token answers 200 `active:false` instead of 400.
    LenientIntrospect,
    /// bcrypt hashes never verify.
    RejectBcrypt,
    /// pbkdf2 hashes never verify.
    RejectPbkdf2,
    /// The first revoked token this instance had answered active introspects
    /// `active:true` exactly once more (an intermittently missed invalidation).
    StaleOnce,
    /// A password that starts with the admin's is accepted (a comparison cut
    /// at the expected length, as a truncating parser makes it).
    PasswordPrefix,
    /// Revoke drops an owner segment that is not a lower-case 24-hex id from
    /// its query, so it matches any owner.
    OwnerUnparsableDropped,
    /// Introspection lower-cases the token before looking it up.
    TokenCaseFold,
    /// Introspection trims whitespace around the token.
    TokenTrim,
    /// Requests without valid credentials are turned away in the Node
    /// dialect's forms (401, 302 to /login), whatever the flavor.
    NodeRejection,
}

impl Misbehaviour {
    pub const ALL: [Misbehaviour; 21] = [
        Misbehaviour::AuthBypass,
        Misbehaviour::OpenAccess,
        Misbehaviour::AnyPassword,
        Misbehaviour::LenientCreate,
        Misbehaviour::ListHash,
        Misbehaviour::RevokeNoop,
        Misbehaviour::RevokeNotIdempotent,
        Misbehaviour::RevokeAnyUser,
        Misbehaviour::BadId404,
        Misbehaviour::NeverActive,
        Misbehaviour::UnknownActive,
        Misbehaviour::IgnoreExpiry,
        Misbehaviour::LenientIntrospect,
        Misbehaviour::RejectBcrypt,
        Misbehaviour::RejectPbkdf2,
        Misbehaviour::StaleOnce,
        Misbehaviour::PasswordPrefix,
        Misbehaviour::OwnerUnparsableDropped,
        Misbehaviour::TokenCaseFold,
        Misbehaviour::TokenTrim,
        Misbehaviour::NodeRejection,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Misbehaviour::AuthBypass => "auth-bypass",
            Misbehaviour::OpenAccess => "open-access",
            Misbehaviour::AnyPassword => "any-password",
            Misbehaviour::LenientCreate => "lenient-create",
            Misbehaviour::ListHash => "list-hash",
            Misbehaviour::RevokeNoop => "revoke-noop",
            Misbehaviour::RevokeNotIdempotent => "revoke-not-idempotent",
            Misbehaviour::RevokeAnyUser => "revoke-any-user",
            Misbehaviour::BadId404 => "bad-id-404",
            Misbehaviour::NeverActive => "never-active",
            Misbehaviour::UnknownActive => "unknown-active",
            Misbehaviour::IgnoreExpiry => "ignore-expiry",
            Misbehaviour::LenientIntrospect => "lenient-introspect",
            Misbehaviour::RejectBcrypt => "reject-bcrypt",
            Misbehaviour::RejectPbkdf2 => "reject-pbkdf2",
            Misbehaviour::StaleOnce => "stale-once",
            Misbehaviour::PasswordPrefix => "password-prefix",
            Misbehaviour::OwnerUnparsableDropped => "owner-unparsable-dropped",
            Misbehaviour::TokenCaseFold => "token-case-fold",
            Misbehaviour::TokenTrim => "token-trim",
            Misbehaviour::NodeRejection => "node-rejection",
        }
    }

    fn named(name: &str) -> Option<Misbehaviour> {
        Misbehaviour::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// What `accessTokenPartial` is built from (`partial=token-prefix`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partial {
    /// The token's own first 8 characters: the old, wrong reading of the contract.
    TokenPrefix,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Each instance answers introspection from its own cache for this long.
    pub revocation_lag: Option<Duration>,
    /// Probability (0..=1) that an /internal/api request gets a 503.
    pub error_rate: f64,
    /// Added before every /internal/api request is handled.
    pub latency: Option<Duration>,
    /// Probability (0..=1) per revoked token that the instances other than the
    /// revoking one miss the invalidation (a dropped pub/sub message).
    pub stale_rate: f64,
    /// How long they then keep answering `active:true` (`stale-for`).
    pub stale_for: Option<Duration>,
    /// Revoke answers this status (with an empty body) instead of 204.
    pub revoke_status: Option<u16>,
    pub partial: Option<Partial>,
    /// A header honoured as an identity without credentials (`trusted-header=NAME`),
    /// lower case: a development or proxy identity left on.
    pub trusted_header: Option<String>,
    pub misbehaviours: BTreeSet<Misbehaviour>,
    /// Introspection and list share one bucket of this many requests a
    /// window across the stack's instances; past it they answer 429.
    pub rate_limit: Option<RateLimit>,
    /// Specs for one instance of a run only (`revocation-lag=200ms@3`): the
    /// instance's number (1-based) and the spec without its `@K`.
    pub scoped: Vec<(usize, String)>,
}

const KINDS: &str = "revocation-lag=DURATION, error-rate=0..1, latency=DURATION, stale-rate=0..1, \
                     stale-for=DURATION, revoke-status=CODE, partial=token-prefix, trusted-header=NAME, \
                     rate-limit=N/s|N/min[+retry-after|+bare], auth-bypass, \
                     open-access, any-password, password-prefix, lenient-create, list-hash, revoke-noop, \
                     revoke-not-idempotent, revoke-any-user, owner-unparsable-dropped, bad-id-404, never-active, \
                     unknown-active, ignore-expiry, lenient-introspect, token-case-fold, token-trim, reject-bcrypt, \
                     reject-pbkdf2, stale-once, node-rejection; any of them may end in \
                   @K to strike instance K alone, e.g. revocation-lag=200ms@3";

impl Faults {
    /// Parses the values of repeated `--fault` flags, e.g. "revocation-lag=800ms",
    /// "error-rate=0.3", "stale-once", "revocation-lag=200ms@3" (instance 3
    /// only). A value may also hold several specs separated by commas, as
    /// printed by [`Faults::describe`].
    pub fn parse_all<S: AsRef<str>>(specs: &[S]) -> Result<Faults, String> {
        let mut faults = Faults::default();
        let mut seen: Vec<(String, Option<usize>)> = Vec::new();
        for spec in specs {
            let spec = spec.as_ref();
            if spec.trim().is_empty() {
                return Err(format!("empty fault spec (expected one of: {KINDS})"));
            }
            for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (part, instance) = scope(part)?;
                let (kind, value) = split(part);
                if seen
                    .iter()
                    .any(|(k, i)| k == kind && (*i == instance || i.is_none() || instance.is_none()))
                {
                    return Err(format!("fault {kind:?} given more than once for the same instance"));
                }
                match instance {
                    // Checked on its own, so a bad value is named whichever instance it targets.
                    Some(k) => {
                        Faults::default().apply(kind, value)?;
                        faults.scoped.push((k, part.to_string()));
                    }
                    None => faults.apply(kind, value)?,
                }
                seen.push((kind.to_string(), instance));
            }
        }
        for instance in faults.scoped_instances() {
            faults.for_instance(instance).check()?;
        }
        faults.check()?;
        Ok(faults)
    }

    fn check(&self) -> Result<(), String> {
        if self.stale_for.is_some() && self.stale_rate == 0.0 {
            return Err("fault \"stale-for\" needs \"stale-rate\" (e.g. stale-rate=0.1,stale-for=2s)".into());
        }
        Ok(())
    }

    /// The faults instance `number` (1-based) of a run exhibits: those for
    /// every instance, and those given for it alone.
    pub fn for_instance(&self, number: usize) -> Faults {
        let mut faults = Faults { scoped: Vec::new(), ..self.clone() };
        for (_, spec) in self.scoped.iter().filter(|(k, _)| *k == number) {
            let (kind, value) = split(spec);
            faults.apply(kind, value).expect("checked when parsed");
        }
        faults
    }

    /// The instances some fault targets alone, ascending.
    pub fn scoped_instances(&self) -> Vec<usize> {
        let set: BTreeSet<usize> = self.scoped.iter().map(|(k, _)| *k).collect();
        set.into_iter().collect()
    }

    fn apply(&mut self, kind: &str, value: Option<&str>) -> Result<(), String> {
        if let Some(misbehaviour) = Misbehaviour::named(kind) {
            if value.is_some() {
                return Err(format!("fault {kind:?} takes no value"));
            }
            self.misbehaviours.insert(misbehaviour);
            return Ok(());
        }
        let Some(value) = value else {
            return match kind {
                "revocation-lag" | "latency" | "error-rate" | "stale-rate" | "stale-for"
                | "revoke-status" | "partial" | "trusted-header" | "rate-limit" => {
                    Err(format!("fault {kind:?} needs a value, e.g. {kind}={}", example(kind)))
                }
                _ => Err(format!("unknown fault {kind:?} (expected one of: {KINDS})")),
            };
        };
        match kind {
            "revocation-lag" => self.revocation_lag = Some(positive_duration(kind, value)?),
            "latency" => self.latency = Some(positive_duration(kind, value)?),
            "stale-for" => self.stale_for = Some(positive_duration(kind, value)?),
            "error-rate" => self.error_rate = rate(kind, value)?,
            "stale-rate" => self.stale_rate = rate(kind, value)?,
            "revoke-status" => self.revoke_status = Some(status(value)?),
            "partial" if value == "token-prefix" => self.partial = Some(Partial::TokenPrefix),
            "partial" => return Err(format!("fault \"partial\": {value:?} is not token-prefix")),
            "trusted-header" => self.trusted_header = Some(header_name(value)?),
            "rate-limit" => self.rate_limit = Some(RateLimit::parse(value)?),
            _ => return Err(format!("unknown fault {kind:?} (expected one of: {KINDS})")),
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        *self == Faults::default()
    }

    pub fn has(&self, misbehaviour: Misbehaviour) -> bool {
        self.misbehaviours.contains(&misbehaviour)
    }

    /// How long a missed invalidation keeps other instances stale.
    pub fn stale_window(&self) -> Duration {
        self.stale_for.unwrap_or(DEFAULT_STALE_FOR)
    }

    /// Whether introspection must remember the tokens it answered active
    /// (so that it can answer them stale later).
    pub fn remembers_active_tokens(&self) -> bool {
        self.stale_rate > 0.0 || self.has(Misbehaviour::StaleOnce)
    }

    /// E.g. "revocation-lag=800ms, error-rate=0.3", or "none". Parses back to the same faults.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(d) = self.revocation_lag {
            parts.push(format!("revocation-lag={}", humantime::format_duration(d)));
        }
        if self.error_rate > 0.0 {
            parts.push(format!("error-rate={}", self.error_rate));
        }
        if let Some(d) = self.latency {
            parts.push(format!("latency={}", humantime::format_duration(d)));
        }
        if self.stale_rate > 0.0 {
            parts.push(format!("stale-rate={}", self.stale_rate));
        }
        if let Some(d) = self.stale_for {
            parts.push(format!("stale-for={}", humantime::format_duration(d)));
        }
        if let Some(code) = self.revoke_status {
            parts.push(format!("revoke-status={code}"));
        }
        if let Some(Partial::TokenPrefix) = self.partial {
            parts.push("partial=token-prefix".to_string());
        }
        if let Some(name) = &self.trusted_header {
            parts.push(format!("trusted-header={name}"));
        }
        if let Some(limit) = &self.rate_limit {
            parts.push(format!("rate-limit={}", limit.describe()));
        }
        parts.extend(self.misbehaviours.iter().map(|m| m.name().to_string()));
        parts.extend(self.scoped.iter().map(|(k, spec)| format!("{spec}@{k}")));
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// "kind=value@K" → ("kind=value", Some(K)); K is an instance number from 1.
fn scope(part: &str) -> Result<(&str, Option<usize>), String> {
    let Some((spec, instance)) = part.rsplit_once('@') else { return Ok((part, None)) };
    match instance.trim().parse::<usize>() {
        Ok(k) if k >= 1 => Ok((spec.trim(), Some(k))),
        _ => Err(format!(
            "fault {part:?}: after @ comes the instance's number (1, 2, 3, …), e.g. revocation-lag=200ms@3"
        )),
    }
}

fn split(part: &str) -> (&str, Option<&str>) {
    match part.split_once('=') {
        Some((k, v)) => (k.trim(), Some(v.trim())),
        None => (part, None),
    }
}

fn example(kind: &str) -> &'static str {
    match kind {
        "error-rate" | "stale-rate" => "0.3",
        "revoke-status" => "200",
        "partial" => "token-prefix",
        "trusted-header" => "x-dev-user-id",
        "rate-limit" => "60/min",
        _ => "800ms",
    }
}

fn positive_duration(kind: &str, value: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(value)
        .map_err(|e| format!("fault {kind:?}: bad duration {value:?} ({e}); e.g. {kind}=800ms"))?;
    if d.is_zero() {
        return Err(format!("fault {kind:?}: duration must be greater than zero"));
    }
    Ok(d)
}

fn rate(kind: &str, value: &str) -> Result<f64, String> {
    let r: f64 =
        value.parse().map_err(|_| format!("fault {kind:?}: {value:?} is not a number; e.g. {kind}=0.3"))?;
    if !(0.0..=1.0).contains(&r) {
        return Err(format!("fault {kind:?}: {value} is outside 0..=1"));
    }
    Ok(r)
}

/// An HTTP header name, lower case.
fn header_name(value: &str) -> Result<String, String> {
    let valid =
        !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(format!(
            "fault \"trusted-header\": {value:?} is not a header name (e.g. trusted-header=x-dev-user-id)"
        ))
    }
}

fn status(value: &str) -> Result<u16, String> {
    match value.parse::<u16>() {
        Ok(code) if (200..600).contains(&code) && code != 204 => Ok(code),
        _ => {
            Err(format!("fault \"revoke-status\": {value:?} is not an HTTP status other than 204 (e.g. 200)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_describes_back() {
        let f = Faults::parse_all(&[
            "revocation-lag=800ms",
            "error-rate=0.3",
            "latency=20ms",
            "stale-rate=0.5,stale-for=2s",
            "revoke-status=200",
            "partial=token-prefix",
            "trusted-header=X-Dev-User-Id",
            "auth-bypass",
            "stale-once",
        ])
        .unwrap();
        assert_eq!(f.revocation_lag, Some(Duration::from_millis(800)));
        assert_eq!((f.error_rate, f.stale_rate), (0.3, 0.5));
        assert_eq!((f.latency, f.stale_for), (Some(Duration::from_millis(20)), Some(Duration::from_secs(2))));
        assert_eq!((f.revoke_status, f.partial), (Some(200), Some(Partial::TokenPrefix)));
        assert_eq!(f.trusted_header.as_deref(), Some("x-dev-user-id"));
        assert!(f.has(Misbehaviour::AuthBypass) && f.has(Misbehaviour::StaleOnce));
        assert!(!f.has(Misbehaviour::RevokeNoop));
        assert_eq!(
            f.describe(),
            "revocation-lag=800ms, error-rate=0.3, latency=20ms, stale-rate=0.5, stale-for=2s, \
             revoke-status=200, partial=token-prefix, trusted-header=x-dev-user-id, auth-bypass, stale-once"
        );
        assert_eq!(Faults::parse_all(&[f.describe()]).unwrap(), f);
    }

    #[test]
    fn a_fault_can_target_one_instance() {
        let f = Faults::parse_all(&["revocation-lag=200ms@3", "error-rate=0.1", "stale-once@2"]).unwrap();
        assert_eq!(f.scoped_instances(), [2, 3]);
        assert_eq!(f.for_instance(1).describe(), "error-rate=0.1");
        assert_eq!(f.for_instance(2).describe(), "error-rate=0.1, stale-once");
        assert_eq!(f.for_instance(3).describe(), "revocation-lag=200ms, error-rate=0.1");
        assert_eq!(f.describe(), "error-rate=0.1, revocation-lag=200ms@3, stale-once@2");
        assert_eq!(Faults::parse_all(&[f.describe()]).unwrap(), f);
        // Different instances may each have their own value of one kind.
        let two = Faults::parse_all(&["latency=1ms@1,latency=5ms@2"]).unwrap();
        assert_eq!(two.for_instance(2).latency, Some(Duration::from_millis(5)));
    }

    #[test]
    fn every_misbehaviour_parses_by_its_name() {
        for m in Misbehaviour::ALL {
            let f = Faults::parse_all(&[m.name()]).unwrap();
            assert!(f.has(m), "{}", m.name());
            assert_eq!(f.describe(), m.name());
        }
    }

    #[test]
    fn empty_is_none_and_the_stale_window_defaults() {
        let f = Faults::parse_all::<&str>(&[]).unwrap();
        assert!(f.is_empty() && !f.remembers_active_tokens());
        assert_eq!(f.describe(), "none");
        let stale = Faults::parse_all(&["stale-rate=1"]).unwrap();
        assert_eq!(stale.stale_window(), DEFAULT_STALE_FOR);
        assert!(stale.remembers_active_tokens());
        assert!(Faults::parse_all(&["stale-once"]).unwrap().remembers_active_tokens());
    }

    #[test]
    fn rejects_bad_specs_with_clear_messages() {
        let cases = [
            ("", "empty"),
            ("slowness=1s", "unknown fault"),
            ("slowness", "unknown fault"),
            ("revocation-lag", "needs a value"),
            ("revocation-lag=soon", "bad duration"),
            ("latency=0s", "greater than zero"),
            ("error-rate=1.5", "outside 0..=1"),
            ("error-rate=-0.1", "outside 0..=1"),
            ("error-rate=NaN", "outside 0..=1"),
            ("error-rate=lots", "not a number"),
            ("stale-rate=2", "outside 0..=1"),
            ("stale-for=1s", "needs \"stale-rate\""),
            ("revoke-status=204", "other than 204"),
            ("revoke-status=abc", "not an HTTP status"),
            ("partial=first-8", "not token-prefix"),
            ("auth-bypass=yes", "takes no value"),
            ("trusted-header", "needs a value"),
            ("trusted-header=x dev", "not a header name"),
            ("latency=1ms,latency=2ms", "more than once"),
            ("latency=1ms,latency=2ms@2", "more than once"),
            ("latency=1ms@2,latency=2ms@2", "more than once"),
            ("latency=1ms@0", "instance's number"),
            ("latency=1ms@x", "instance's number"),
            ("latency=soon@2", "bad duration"),
            ("stale-for=1s@2", "needs \"stale-rate\""),
        ];
        for (spec, expected) in cases {
            let err = Faults::parse_all(&[spec]).unwrap_err();
            assert!(err.contains(expected), "{spec:?}: {err}");
        }
    }
}
