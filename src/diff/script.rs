//! The scripted sequence `parity diff` drives against every side in
//! lockstep: one step is one request, its path and body written as templates
//! over the lane's own values (`{user}`, `{main.id}`, `{main.token}`, …).

use super::effect::Expect;
use crate::contract::AuthMode;
use serde::{Deserialize, Serialize};

/// Where a step's request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum On {
    /// The lane's own side: the reference in the reference lanes, the candidate in the candidate's.
    #[serde(rename = "self")]
    Own,
    /// The reference, whatever the lane (cross-implementation steps).
    Reference,
    /// The candidate, whatever the lane.
    Candidate,
}

/// What a step needs beyond the sides answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Needs {
    Nothing,
    /// Both sides have a second instance (`instance: 2`).
    SecondInstance,
    /// A store to seed a token into (`--mongo-uri`).
    Store,
    /// Both builds read one store (`--shared-store`, or the Docker backend's shared MongoDB).
    SharedStore,
}

/// What a step leaves in the lane's bindings for later steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Save {
    /// The created token's `NAME.id`, `NAME.raw_id`, `NAME.token` and `NAME.prefix`.
    Created(String),
    /// An expired token seeded into the store before the request: `NAME.token`, `NAME.prefix`.
    SeededExpired(String),
}

#[derive(Clone, Debug)]
pub struct Step {
    pub name: String,
    pub method: String,
    pub path: String,
    pub body: Option<String>,
    pub auth: AuthMode,
    pub on: On,
    /// 1-based instance of the side.
    pub instance: usize,
    pub save: Option<Save>,
    pub needs: Needs,
    /// An effect every lane's answer must show (judged on each lane alike).
    pub expect: Option<Expect>,
}

pub const TOKENS: &str = "/internal/api/users/{user}/git-tokens";
pub const INTROSPECT: &str = "/internal/api/tokens/introspect";

impl Step {
    fn new(name: &str, method: &str, path: &str, body: Option<&str>) -> Step {
        Step {
            name: name.into(),
            method: method.into(),
            path: path.into(),
            body: body.map(str::to_owned),
            auth: AuthMode::Basic,
            on: On::Own,
            instance: 1,
            save: None,
            needs: Needs::Nothing,
            expect: None,
        }
    }

    fn auth(mut self, auth: AuthMode) -> Step {
        self.auth = auth;
        self
    }

    fn on(mut self, on: On) -> Step {
        self.on = on;
        self.needs = Needs::SharedStore;
        self
    }

    fn instance(mut self, instance: usize) -> Step {
        self.instance = instance;
        self.needs = Needs::SecondInstance;
        self
    }

    /// Part of a sequence that means nothing without its other steps.
    fn needs(mut self, needs: Needs) -> Step {
        self.needs = needs;
        self
    }

    fn expects(mut self, expect: Expect) -> Step {
        self.expect = Some(expect);
        self
    }

    fn saves(mut self, save: Save) -> Step {
        if matches!(save, Save::SeededExpired(_)) {
            self.needs = Needs::Store;
        }
        self.save = Some(save);
        self
    }

    /// Every `{name}` the path and body use.
    pub fn variables(&self) -> Vec<String> {
        let mut names = variables_in(&self.path);
        if let Some(body) = &self.body {
            names.extend(variables_in(body));
        }
        names
    }
}

fn create(name: &str, save: &str) -> Step {
    Step::new(name, "POST", TOKENS, Some(r#"{"label":"parity-diff","scopes":["git"]}"#))
        .saves(Save::Created(save.into()))
}

fn introspect(name: &str, token: &str) -> Step {
    Step::new(name, "POST", INTROSPECT, Some(&format!(r#"{{"token":"{{{token}}}"}}"#)))
}

fn revoke(name: &str, user: &str, id: &str) -> Step {
    Step::new(name, "DELETE", &format!("/internal/api/users/{{{user}}}/git-tokens/{{{id}}}"), None)
}

/// The built-in sequence: the contract's calls in the order a client makes
/// them, the error cases, the cross-instance sequence and the
/// cross-implementation revocation.
pub fn builtin() -> Vec<Step> {
    let other_tokens = "/internal/api/users/{other_user}/git-tokens";
    vec![
        create("create", "main"),
        Step::new("list", "GET", TOKENS, None),
        introspect("introspect-active", "main.token"),
        revoke("revoke", "user", "main.id"),
        introspect("introspect-revoked", "main.token"),
        revoke("revoke-again", "user", "main.id"),
        Step::new("create-other-user", "POST", other_tokens, Some(r#"{"label":"parity-diff-other"}"#))
            .saves(Save::Created("other".into())),
        revoke("revoke-other-users-token", "user", "other.id"),
        introspect("introspect-other-users-token", "other.token"),
        Step::new("revoke-bad-id", "DELETE", "/internal/api/users/{user}/git-tokens/not-an-object-id", None),
        revoke("revoke-unknown-id", "user", "unknown_id"),
        introspect("introspect-unknown-token", "unknown_token"),
        Step::new("introspect-malformed-token", "POST", INTROSPECT, Some(r#"{"token":"not-a-hex-token!"}"#)),
        Step::new("introspect-missing-token", "POST", INTROSPECT, Some("{}")),
        Step::new("create-invalid-body", "POST", TOKENS, Some("this is not json")),
        Step::new("unauthenticated", "GET", TOKENS, None).auth(AuthMode::None),
        Step::new("wrong-password", "GET", TOKENS, None).auth(AuthMode::WrongPassword),
        Step::new("service-origin-alone", "GET", TOKENS, None).auth(AuthMode::ServiceOrigin),
        Step::new("unknown-route", "GET", "/internal/api/no-such-route", None),
        Step::new("wrong-method", "PUT", INTROSPECT, Some("{}")),
        introspect("introspect-expired", "expired.token").saves(Save::SeededExpired("expired".into())),
        // Cross-instance: created on the first instance, revoked through the second.
        create("cross-create-on-1", "cross").needs(Needs::SecondInstance),
        introspect("cross-introspect-on-2", "cross.token").instance(2),
        revoke("cross-revoke-on-2", "user", "cross.id").instance(2),
        introspect("cross-introspect-on-1", "cross.token").needs(Needs::SecondInstance),
        introspect("cross-introspect-again-on-2", "cross.token").instance(2),
        // Cross-implementation: minted by one build, revoked by the lane's own, seen by both; the
        // token must then be inactive on both builds and listed inactive by the one that minted it.
        create("impl-create-on-reference", "by_reference").on(On::Reference),
        revoke("impl-revoke-reference-token", "user", "by_reference.id").on(On::Own),
        introspect("impl-introspect-reference-token-on-reference", "by_reference.token")
            .on(On::Reference)
            .expects(Expect::Inactive),
        introspect("impl-introspect-reference-token-on-candidate", "by_reference.token")
            .on(On::Candidate)
            .expects(Expect::Inactive),
        Step::new("impl-list-reference-token-on-reference", "GET", TOKENS, None)
            .on(On::Reference)
            .expects(Expect::ListedInactive("by_reference.id".into())),
        create("impl-create-on-candidate", "by_candidate").on(On::Candidate),
        revoke("impl-revoke-candidate-token", "user", "by_candidate.id").on(On::Own),
        introspect("impl-introspect-candidate-token-on-reference", "by_candidate.token")
            .on(On::Reference)
            .expects(Expect::Inactive),
        introspect("impl-introspect-candidate-token-on-candidate", "by_candidate.token")
            .on(On::Candidate)
            .expects(Expect::Inactive),
        Step::new("impl-list-candidate-token-on-candidate", "GET", TOKENS, None)
            .on(On::Candidate)
            .expects(Expect::ListedInactive("by_candidate.id".into())),
    ]
}

/// The names a lane knows before any step: its two users and an unknown token.
pub const GIVEN: [&str; 4] = ["user", "other_user", "unknown_token", "unknown_id"];

/// The values a save makes: `NAME.id`, `NAME.token`, … .
pub fn saved_names(save: &Save) -> Vec<String> {
    let (name, fields): (&str, &[&str]) = match save {
        Save::Created(name) => (name, &["id", "raw_id", "token", "prefix"]),
        Save::SeededExpired(name) => (name, &["token", "prefix"]),
    };
    fields.iter().map(|f| format!("{name}.{f}")).collect()
}

/// `{name}` occurrences; `{{` is not special (bodies are JSON, and a JSON
/// object's braces never enclose a bare name).
pub fn variables_in(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_variable(&after[..close]) => {
                names.push(after[..close].to_string());
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    names
}

fn is_variable(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

/// The template with every known `{name}` replaced; the first unknown name is an error.
pub fn expand(template: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_variable(&after[..close]) => {
                let name = &after[..close];
                out.push_str(&lookup(name).ok_or_else(|| name.to_string())?);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Every variable a step uses is given or saved by an earlier step: the
/// first one that is not, as a sentence.
pub fn check_variables(steps: &[Step]) -> Result<(), String> {
    let mut known: Vec<String> = GIVEN.iter().map(|s| s.to_string()).collect();
    for step in steps {
        let mut available = known.clone();
        if let Some(Save::SeededExpired(_)) = &step.save {
            available.extend(saved_names(step.save.as_ref().expect("matched")));
        }
        if let Some(unknown) = step.variables().into_iter().find(|v| !available.contains(v)) {
            return Err(format!(
                "step `{}` uses `{{{unknown}}}`, which no earlier step saves (given: {}; a create step with \
                 \"save\": \"NAME\" gives NAME.id, NAME.raw_id, NAME.token, NAME.prefix)",
                step.name,
                GIVEN.join(", ")
            ));
        }
        if let Some(save) = &step.save {
            known.extend(saved_names(save));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_known_names_and_leaves_json_braces_alone() {
        let lookup = |n: &str| (n == "main.token").then(|| "abc".to_string());
        assert_eq!(expand(r#"{"token":"{main.token}"}"#, lookup).unwrap(), r#"{"token":"abc"}"#);
        assert_eq!(expand("{}", lookup).unwrap(), "{}");
        assert_eq!(expand("/x/{nope}", lookup).unwrap_err(), "nope");
    }

    #[test]
    fn the_builtin_script_only_uses_what_it_saves() {
        let steps = builtin();
        check_variables(&steps).unwrap();
        let names: std::collections::BTreeSet<_> = steps.iter().map(|s| s.name.clone()).collect();
        assert_eq!(names.len(), steps.len(), "step names are unique");
        let mut broken = steps.clone();
        broken.remove(0);
        assert!(check_variables(&broken).unwrap_err().contains("main.token"));
    }
}
