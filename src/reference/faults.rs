//! Faults the reference server can be told to exhibit, so that the harness
//! can prove it catches each of them.

use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Each instance answers introspection from its own cache for this long.
    pub revocation_lag: Option<Duration>,
    /// Probability (0..=1) that an /internal/api request gets a 503.
    pub error_rate: f64,
    /// Added before every /internal/api request is handled.
    pub latency: Option<Duration>,
    /// Any request with a non-empty `X-Service-Origin` skips authentication.
    pub auth_bypass: bool,
}

const KINDS: &str = "revocation-lag=DURATION, error-rate=0..1, latency=DURATION, auth-bypass";

impl Faults {
    /// Parses the values of repeated `--fault` flags, e.g. "revocation-lag=800ms",
    /// "error-rate=0.3", "latency=20ms", "auth-bypass". A value may also hold
    /// several specs separated by commas, as printed by [`Faults::describe`].
    pub fn parse_all<S: AsRef<str>>(specs: &[S]) -> Result<Faults, String> {
        let mut faults = Faults::default();
        let mut seen: Vec<String> = Vec::new();
        for spec in specs {
            let spec = spec.as_ref();
            if spec.trim().is_empty() {
                return Err(format!("empty fault spec (expected one of: {KINDS})"));
            }
            for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (kind, value) = match part.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim())),
                    None => (part, None),
                };
                if seen.iter().any(|s| s == kind) {
                    return Err(format!("fault {kind:?} given more than once"));
                }
                faults.apply(kind, value)?;
                seen.push(kind.to_string());
            }
        }
        Ok(faults)
    }

    fn apply(&mut self, kind: &str, value: Option<&str>) -> Result<(), String> {
        match (kind, value) {
            ("revocation-lag", Some(v)) => self.revocation_lag = Some(positive_duration(kind, v)?),
            ("latency", Some(v)) => self.latency = Some(positive_duration(kind, v)?),
            ("error-rate", Some(v)) => self.error_rate = rate(v)?,
            ("auth-bypass", None) => self.auth_bypass = true,
            ("auth-bypass", Some(_)) => return Err("fault \"auth-bypass\" takes no value".into()),
            ("revocation-lag" | "latency" | "error-rate", None) => {
                return Err(format!("fault {kind:?} needs a value, e.g. {kind}={}", example(kind)))
            }
            _ => return Err(format!("unknown fault {kind:?} (expected one of: {KINDS})")),
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        *self == Faults::default()
    }

    /// E.g. "revocation-lag=800ms, error-rate=0.3", or "none".
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
        if self.auth_bypass {
            parts.push("auth-bypass".to_string());
        }
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    }
}

fn example(kind: &str) -> &'static str {
    if kind == "error-rate" {
        "0.3"
    } else {
        "800ms"
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

fn rate(value: &str) -> Result<f64, String> {
    let r: f64 = value
        .parse()
        .map_err(|_| format!("fault \"error-rate\": {value:?} is not a number; e.g. error-rate=0.3"))?;
    if !(0.0..=1.0).contains(&r) {
        return Err(format!("fault \"error-rate\": {value} is outside 0..=1"));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        let f = Faults::parse_all(&["revocation-lag=800ms", "error-rate=0.3", "latency=20ms", "auth-bypass"])
            .unwrap();
        assert_eq!(
            f,
            Faults {
                revocation_lag: Some(Duration::from_millis(800)),
                error_rate: 0.3,
                latency: Some(Duration::from_millis(20)),
                auth_bypass: true,
            }
        );
        assert!(!f.is_empty());
        assert_eq!(f.describe(), "revocation-lag=800ms, error-rate=0.3, latency=20ms, auth-bypass");
        assert_eq!(Faults::parse_all(&[f.describe()]).unwrap(), f);
    }

    #[test]
    fn empty_is_none() {
        let f = Faults::parse_all::<&str>(&[]).unwrap();
        assert!(f.is_empty());
        assert_eq!(f.describe(), "none");
        assert_eq!(
            Faults::parse_all(&["revocation-lag=2s"]).unwrap().revocation_lag,
            Some(Duration::from_secs(2))
        );
        assert_eq!(Faults::parse_all(&["error-rate=1"]).unwrap().error_rate, 1.0);
    }

    #[test]
    fn rejects_bad_specs_with_clear_messages() {
        let cases = [
            ("", "empty"),
            ("slowness=1s", "unknown fault"),
            ("revocation-lag", "needs a value"),
            ("revocation-lag=soon", "bad duration"),
            ("latency=0s", "greater than zero"),
            ("error-rate=1.5", "outside 0..=1"),
            ("error-rate=-0.1", "outside 0..=1"),
            ("error-rate=NaN", "outside 0..=1"),
            ("error-rate=lots", "not a number"),
            ("auth-bypass=yes", "takes no value"),
            ("latency=1ms,latency=2ms", "more than once"),
        ];
        for (spec, expected) in cases {
            let err = Faults::parse_all(&[spec]).unwrap_err();
            assert!(err.contains(expected), "{spec:?}: {err}");
        }
    }
}
