//! Known differences as data: `--rules FILE` (default `parity-diff.toml`
//! when present) names each accepted difference with a reason.
//!
//! ```toml
//! [[accept]]
//! name = "create-status"                 # optional; shown where it matched
//! reason = "Node answers 201 Created"    # required: why this is accepted
//! steps = ["create*", "*-create-*"]      # optional: which steps (`*` wildcards)
//! statuses = [200, 201]                  # a status of this set on both sides
//! content_types = ["text/plain", "application/json"]  # media types taken as the same
//! unwrap_object_id = true                # `ObjectID("x")` is `x`
//! error_message = true                   # text `m` is JSON {"message": "m"}
//! ignore = ["body[*].createdAt"]        # fields not compared
//! extra = { "body.hashPrefix" = "<*.prefix>" }   # a field one side adds, only with such a value
//! same_values = { "body.scopes" = ["null", "[]"] } # a field whose values (JSON) are taken as the same
//! ```
//!
//! A rule accepts a difference when any of its clauses does. A rule that
//! never matched is reported: stale rules rot.

use super::compare::Difference;
use super::normalize::{BodyShape, Shape};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    accept: Vec<toml::Spanned<RuleSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: Option<String>,
    reason: String,
    #[serde(default)]
    steps: Vec<String>,
    #[serde(default)]
    statuses: Vec<u16>,
    #[serde(default)]
    content_types: Vec<String>,
    #[serde(default)]
    unwrap_object_id: bool,
    #[serde(default)]
    error_message: bool,
    #[serde(default)]
    ignore: Vec<String>,
    #[serde(default)]
    extra: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    same_values: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    pub reason: String,
    /// Line of the rule's table in the file.
    pub line: usize,
    steps: Vec<String>,
    statuses: Vec<u16>,
    content_types: Vec<String>,
    unwrap_object_id: bool,
    error_message: bool,
    ignore: Vec<String>,
    /// Field path → the (normalized) value it must have when one side adds it.
    extra: Vec<(String, String)>,
    /// Field path → values (as JSON text) taken as the same there.
    same_values: Vec<(String, Vec<String>)>,
}

/// A rule and how often it accepted a difference.
#[derive(Clone, Debug, Serialize)]
pub struct RuleUse {
    pub name: String,
    pub reason: String,
    pub line: usize,
    pub matched: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Rules {
    pub file: Option<String>,
    pub rules: Vec<Rule>,
}

impl Rules {
    /// Parses a rules file; errors give the line and column.
    pub fn parse(file_name: &str, text: &str) -> Result<Rules, String> {
        let parsed: RulesFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| line_column(text, s.start));
            match at {
                Some((line, column)) => format!("{file_name}: line {line}, column {column}: {}", e.message()),
                None => format!("{file_name}: {}", e.message()),
            }
        })?;
        let mut rules = Vec::new();
        for (index, spanned) in parsed.accept.into_iter().enumerate() {
            let (line, _) = line_column(text, spanned.span().start);
            let spec = spanned.into_inner();
            let name = spec.name.clone().unwrap_or_else(|| format!("rule {} (line {line})", index + 1));
            let nothing = spec.statuses.is_empty()
                && spec.content_types.is_empty()
                && !spec.unwrap_object_id
                && !spec.error_message
                && spec.ignore.is_empty()
                && spec.extra.is_empty()
                && spec.same_values.is_empty();
            if nothing {
                return Err(format!(
                    "{file_name}: line {line}: rule `{name}` accepts nothing (give statuses, content_types, \
                     unwrap_object_id, error_message, ignore, extra or same_values)"
                ));
            }
            if rules.iter().any(|r: &Rule| r.name == name) {
                return Err(format!(
                    "{file_name}: line {line}: a second rule named `{name}` (names must be unique)"
                ));
            }
            if spec.reason.trim().is_empty() {
                return Err(format!("{file_name}: line {line}: rule `{name}` has an empty reason"));
            }
            rules.push(Rule {
                name,
                reason: spec.reason,
                line,
                steps: spec.steps,
                statuses: spec.statuses,
                content_types: spec.content_types.iter().map(|c| c.trim().to_ascii_lowercase()).collect(),
                unwrap_object_id: spec.unwrap_object_id,
                error_message: spec.error_message,
                ignore: spec.ignore,
                extra: spec.extra.into_iter().collect(),
                same_values: spec.same_values.into_iter().collect(),
            });
        }
        Ok(Rules { file: Some(file_name.to_string()), rules })
    }

    /// The index of the first rule that accepts this difference. A token
    /// read active on one side and inactive on the other is never accepted,
    /// whatever the rules say: it is a stale read or a revoke that did not
    /// take, as an auth bypass is never a dialect.
    pub fn accepting(
        &self,
        step: &str,
        d: &Difference,
        reference: &Shape,
        candidate: &Shape,
    ) -> Option<usize> {
        if token_state_differs(d) {
            return None;
        }
        self.rules.iter().position(|r| r.accepts(step, d, reference, candidate))
    }
}

impl Rule {
    /// Whether the rule only speaks of stored documents (`store.*` fields),
    /// which are compared only with a shared store.
    pub fn only_store(&self) -> bool {
        let store = |pattern: &str| pattern.starts_with(super::stored::PREFIX);
        self.statuses.is_empty()
            && self.content_types.is_empty()
            && !self.unwrap_object_id
            && !self.error_message
            && self.ignore.iter().all(|p| store(p))
            && self.extra.iter().all(|(p, _)| store(p))
            && self.same_values.iter().all(|(p, _)| store(p))
    }

    fn accepts(&self, step: &str, d: &Difference, reference: &Shape, candidate: &Shape) -> bool {
        if !self.steps.is_empty() && !self.steps.iter().any(|p| wildcard(p, step)) {
            return false;
        }
        let path = d.path.as_str();
        let both_in = |set: &[u16]| {
            [&d.reference, &d.candidate]
                .iter()
                .all(|v| v.as_u64().is_some_and(|s| set.iter().any(|&x| u64::from(x) == s)))
        };
        let media_in =
            |shape: &Shape| shape.media_type().is_some_and(|m| self.content_types.iter().any(|c| c == m));
        (path == "status" && !self.statuses.is_empty() && both_in(&self.statuses))
            || (path == "content-type" && media_in(reference) && media_in(candidate))
            || (self.unwrap_object_id
                && path.starts_with("body")
                && same_object_id(&d.reference, &d.candidate))
            || (self.error_message
                && matches!(path, "body" | "content-class" | "content-type")
                && same_message(&reference.body, &candidate.body))
            || self.ignore.iter().any(|p| wildcard(p, path))
            || self.extra.iter().any(|(field, value)| wildcard(field, path) && added_as(d, value))
            || self.same_values.iter().any(|(field, values)| {
                wildcard(field, path)
                    && [&d.reference, &d.candidate].iter().all(|v| values.contains(&json_text(v)))
            })
    }
}

/// `active` (anywhere in a body: an introspection, a listed token) true on
/// one side and false on the other.
fn token_state_differs(d: &Difference) -> bool {
    let field = d.path.rsplit(['.', ']']).next().unwrap_or_default();
    let active = |v: &Value| v.as_bool().or_else(|| v.get("present").and_then(Value::as_bool));
    field == "active"
        && d.path.starts_with("body")
        && matches!((active(&d.reference), active(&d.candidate)), (Some(a), Some(b)) if a != b)
}

/// A value as rules name it: a string's text, else its JSON (`null`, `[]`).
fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One side lacks the field and the other has it with a value matching `pattern`.
fn added_as(d: &Difference, pattern: &str) -> bool {
    let present = |v: &Value| v.get("present").map(json_text).is_some_and(|s| wildcard(pattern, &s));
    (d.reference.is_null() && present(&d.candidate)) || (d.candidate.is_null() && present(&d.reference))
}

/// `ObjectID("x")` and `x` (either side), after normalization.
fn same_object_id(a: &Value, b: &Value) -> bool {
    match (a.as_str(), b.as_str()) {
        (Some(a), Some(b)) => a != b && unwrapped(a) == unwrapped(b),
        _ => false,
    }
}

fn unwrapped(s: &str) -> &str {
    let s = s.trim();
    for prefix in ["ObjectID(", "ObjectId("] {
        if let Some(inner) = s.strip_prefix(prefix).and_then(|r| r.strip_suffix(')')) {
            return inner.trim().trim_matches(['"', '\'']);
        }
    }
    s
}

/// A text error `m` and a JSON `{"message": "m"}` (either side).
fn same_message(a: &BodyShape, b: &BodyShape) -> bool {
    let message = |body: &BodyShape| match body {
        BodyShape::Text(t) => Some(t.trim().to_string()),
        BodyShape::Json(Value::Object(map)) if map.len() == 1 => {
            map.get("message").and_then(Value::as_str).map(|m| m.trim().to_string())
        }
        _ => None,
    };
    matches!(a, BodyShape::Text(_)) != matches!(b, BodyShape::Text(_))
        && message(a).is_some()
        && message(a) == message(b)
}

/// `*` matches any run of characters; everything else is literal.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::normalize::ContentClass;
    use serde_json::json;

    fn shape(body: BodyShape, content_type: &str) -> Shape {
        Shape {
            status: Some(400),
            transport_error: false,
            class: ContentClass::Text,
            content_type: Some(content_type.into()),
            location: None,
            body,
        }
    }

    #[test]
    fn wildcards_match_runs_and_literals() {
        assert!(wildcard("body[*].createdAt", "body[3].createdAt"));
        assert!(wildcard("*create*", "impl-create-on-reference"));
        assert!(!wildcard("create", "create-other-user"));
        assert!(wildcard("*", ""));
        assert!(!wildcard("a*b*c", "acb"));
    }

    #[test]
    fn each_clause_accepts_only_its_kind_of_difference() {
        let text = r#"
[[accept]]
name = "statuses"
reason = "Node answers 201"
steps = ["create"]
statuses = [200, 201]

[[accept]]
reason = "unwrap"
unwrap_object_id = true

[[accept]]
reason = "messages"
error_message = true
content_types = ["text/plain", "application/json"]
"#;
        let rules = Rules::parse("r.toml", text).unwrap();
        assert_eq!(rules.rules[1].name, "rule 2 (line 8)");
        let text_body = shape(BodyShape::Text("token required".into()), "text/plain;charset=utf-8");
        let json_body = shape(BodyShape::Json(json!({"message": "token required"})), "application/json");
        let d = |path: &str, a: Value, b: Value| Difference { path: path.into(), reference: a, candidate: b };
        let at = |step, diff: &Difference| rules.accepting(step, diff, &text_body, &json_body);
        assert_eq!(at("create", &d("status", json!(200), json!(201))), Some(0));
        assert_eq!(at("list", &d("status", json!(200), json!(201))), None, "another step");
        assert_eq!(at("create", &d("status", json!(200), json!(500))), None, "a status outside the set");
        assert_eq!(at("x", &d("body.id", json!("ObjectID(\"<main.id>\")"), json!("<main.id>"))), Some(1));
        assert_eq!(at("x", &d("body.id", json!("ObjectID(\"<a>\")"), json!("<b>"))), None);
        assert_eq!(
            at("x", &d("body", json!("token required"), json!({"message": "token required"}))),
            Some(2)
        );
        assert_eq!(at("x", &d("content-type", json!("text/plain"), json!("application/json"))), Some(2));
    }

    #[test]
    fn no_rule_accepts_a_token_read_active_on_one_side_only() {
        let text = r#"
[[accept]]
reason = "everything"
ignore = ["*", "body.*", "body[*].active"]
same_values = { "*" = ["true", "false"] }
"#;
        let rules = Rules::parse("r.toml", text).unwrap();
        let body = shape(BodyShape::Json(json!({})), "application/json");
        let d = |path: &str, a: Value, b: Value| Difference { path: path.into(), reference: a, candidate: b };
        let at = |diff: &Difference| rules.accepting("impl-introspect-after-revoke", diff, &body, &body);
        assert_eq!(at(&d("body.active", json!(false), json!(true))), None, "a stale read");
        assert_eq!(at(&d("body.active", json!(true), json!(false))), None);
        assert_eq!(at(&d("body[2].active", json!(false), json!(true))), None, "a listed token");
        assert_eq!(at(&d("body.active", json!(false), json!({"present": true}))), None);
        assert_eq!(
            at(&d("body.scopes", json!(false), json!(true))),
            Some(0),
            "other fields as the rules say"
        );
        assert_eq!(at(&d("body.active", json!(null), json!({"present": false}))), Some(0));
    }

    #[test]
    fn an_extra_field_is_accepted_only_with_the_value_named() {
        let rules = Rules::parse(
            "r.toml",
            "[[accept]]\nreason = \"x\"\nextra = { \"body.hashPrefix\" = \"<*.prefix>\" }\n",
        )
        .unwrap();
        let shape = shape(BodyShape::Empty, "text/plain");
        let d = |candidate: Value| Difference {
            path: "body.hashPrefix".into(),
            reference: Value::Null,
            candidate,
        };
        let at = |diff: &Difference| rules.accepting("s", diff, &shape, &shape);
        assert_eq!(at(&d(json!({"present": "<main.prefix>"}))), Some(0));
        assert_eq!(at(&d(json!({"present": "<main.token[..8]>"}))), None, "the token's own characters");
        assert_eq!(at(&d(json!({"present": "abcdef12"}))), None, "a value nobody minted");
        let both = Difference {
            path: "body.hashPrefix".into(),
            reference: json!("<a.prefix>"),
            candidate: json!("<b.prefix>"),
        };
        assert_eq!(at(&both), None, "present on both sides is no extra field");
        let rules = Rules::parse(
            "r.toml",
            "[[accept]]\nreason = \"x\"\nextra = { \"body[*].hash\" = \"null\", \"body.scopes\" = \"[]\" }\n",
        )
        .unwrap();
        let extra = |path: &str, value: Value| Difference {
            path: path.into(),
            reference: json!({"present": value}),
            candidate: Value::Null,
        };
        let at = |diff: &Difference| rules.accepting("s", diff, &shape, &shape);
        assert_eq!(at(&extra("body[0].hash", Value::Null)), Some(0), "a null hash one side lists");
        assert_eq!(
            at(&extra("body[0].hash", json!("$argon2id$v=19$x"))),
            None,
            "a real hash is never accepted"
        );
        assert_eq!(at(&extra("body.scopes", json!([]))), Some(0));
        assert_eq!(at(&extra("body.scopes", json!(["git"]))), None);
        let rules = Rules::parse(
            "r.toml",
            "[[accept]]\nreason = \"x\"\nsame_values = { \"body.scopes\" = [\"null\", \"[]\"] }\n",
        )
        .unwrap();
        let at = |a: Value, b: Value| {
            rules.accepting(
                "s",
                &Difference { path: "body.scopes".into(), reference: a, candidate: b },
                &shape,
                &shape,
            )
        };
        assert_eq!(at(Value::Null, json!([])), Some(0));
        assert_eq!(at(json!(["git"]), json!([])), None, "a scope that is there is not nothing");
    }

    #[test]
    fn bad_files_name_line_and_column() {
        let e = Rules::parse("r.toml", "[[accept]]\nreason = \"x\"\nstatuses = [200,\n").unwrap_err();
        assert!(e.starts_with("r.toml: line "), "{e}");
        let e = Rules::parse("r.toml", "\n[[accept]]\nreason = \"nothing\"\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("accepts nothing"), "{e}");
        let e = Rules::parse("r.toml", "[[accept]]\nreason = \"x\"\nstatus = [200]\n").unwrap_err();
        assert!(e.contains("line 3, column 1"), "{e}");
    }
}
