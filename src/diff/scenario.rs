//! `--scenario FILE`: steps that add to or replace the built-in sequence.
//!
//! ```json
//! { "replace": false,
//!   "steps": [
//!     { "name": "list-after-revoke", "after": "revoke",
//!       "method": "GET", "path": "/internal/api/users/{user}/git-tokens" },
//!     { "name": "create", "method": "POST", "path": "/internal/api/users/{user}/git-tokens",
//!       "body": {"label": "mine", "scopes": ["git", "api"]}, "save": "main" } ] }
//! ```
//!
//! A step named like a built-in one replaces it in place; a new one goes
//! after the step `after` names, else at the end. `"replace": true` makes
//! the file's steps the whole sequence.

use super::script::{self, On, Save, Step};
use crate::contract::AuthMode;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[serde(default)]
    replace: bool,
    steps: Vec<StepSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    name: String,
    method: String,
    path: String,
    /// A string is sent as is; any other JSON value is sent serialized.
    #[serde(default)]
    body: Option<serde_json::Value>,
    #[serde(default = "basic")]
    auth: AuthMode,
    #[serde(default = "own")]
    on: On,
    #[serde(default = "first")]
    instance: usize,
    /// Save the created token's values as NAME.id, NAME.token, … .
    #[serde(default)]
    save: Option<String>,
    #[serde(default)]
    after: Option<String>,
}

fn basic() -> AuthMode {
    AuthMode::Basic
}

fn own() -> On {
    On::Own
}

fn first() -> usize {
    1
}

/// The built-in steps with the file's applied. Errors name the file and,
/// for JSON errors, the line and column.
pub fn apply(file_name: &str, text: &str, builtin: Vec<Step>) -> Result<Vec<Step>, String> {
    let file: ScenarioFile = serde_json::from_str(text)
        .map_err(|e| format!("{file_name}: line {}, column {}: {e}", e.line(), e.column()))?;
    let mut steps = if file.replace { Vec::new() } else { builtin };
    for spec in file.steps {
        let after = spec.after.clone();
        let step = into_step(spec).map_err(|e| format!("{file_name}: {e}"))?;
        if let Some(existing) = steps.iter_mut().find(|s| s.name == step.name) {
            *existing = step;
            continue;
        }
        match after {
            Some(after) => {
                let at = steps.iter().position(|s| s.name == after).ok_or_else(|| {
                    format!("{file_name}: step `{}` goes after `{after}`, which is no step", step.name)
                })?;
                steps.insert(at + 1, step);
            }
            None => steps.push(step),
        }
    }
    if steps.is_empty() {
        return Err(format!("{file_name}: no steps"));
    }
    script::check_variables(&steps).map_err(|e| format!("{file_name}: {e}"))?;
    Ok(steps)
}

fn into_step(spec: StepSpec) -> Result<Step, String> {
    let name = spec.name.trim().to_string();
    if name.is_empty() || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(format!(
            "step name `{}` must be non-empty, without `/` or control characters",
            spec.name
        ));
    }
    let method = spec.method.trim().to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!("step `{name}`: method `{}` is not an HTTP method", spec.method));
    }
    if !spec.path.starts_with('/') {
        return Err(format!("step `{name}`: path `{}` must start with /", spec.path));
    }
    if !(1..=2).contains(&spec.instance) {
        return Err(format!("step `{name}`: instance {} (1 or 2)", spec.instance));
    }
    if spec.instance == 2 && spec.on != On::Own {
        return Err(format!("step `{name}`: instance 2 is for `\"on\": \"self\"` steps only"));
    }
    let body = spec.body.map(|b| match b {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    });
    let needs = match (spec.on, spec.instance) {
        (On::Own, 1) => script::Needs::Nothing,
        (On::Own, _) => script::Needs::SecondInstance,
        _ => script::Needs::SharedStore,
    };
    Ok(Step {
        name,
        method,
        path: spec.path,
        body,
        auth: spec.auth,
        on: spec.on,
        instance: spec.instance,
        save: spec.save.map(Save::Created),
        needs,
        expect: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_by_name_inserts_after_and_appends() {
        let text = r#"{"steps": [
            {"name": "list", "method": "get", "path": "/internal/api/users/{user}/git-tokens", "auth": "none"},
            {"name": "list-after-revoke", "after": "revoke", "method": "GET", "path": "/internal/api/users/{user}/git-tokens"},
            {"name": "last", "method": "GET", "path": "/", "body": {"a": 1}}
        ]}"#;
        let steps = apply("s.json", text, script::builtin()).unwrap();
        let list = steps.iter().find(|s| s.name == "list").unwrap();
        assert_eq!((list.method.as_str(), list.auth), ("GET", AuthMode::None));
        let revoke = steps.iter().position(|s| s.name == "revoke").unwrap();
        assert_eq!(steps[revoke + 1].name, "list-after-revoke");
        assert_eq!(steps.last().unwrap().body.as_deref(), Some(r#"{"a":1}"#));
    }

    #[test]
    fn bad_files_say_where() {
        let e = apply("s.json", "{\"steps\": [\n  {\"name\": 1}]}", script::builtin()).unwrap_err();
        assert!(e.starts_with("s.json: line 2, column"), "{e}");
        let e = apply(
            "s.json",
            r#"{"replace": true, "steps": [{"name": "x", "method": "GET", "path": "/{main.id}"}]}"#,
            vec![],
        )
        .unwrap_err();
        assert!(e.contains("main.id"), "{e}");
        let e = apply(
            "s.json",
            r#"{"steps": [{"name": "x", "method": "GET", "path": "/", "after": "nope"}]}"#,
            vec![],
        )
        .unwrap_err();
        assert!(e.contains("`nope`"), "{e}");
    }
}
