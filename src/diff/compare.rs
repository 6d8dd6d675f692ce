//! Where two normalized responses differ: one entry per field, JSON bodies
//! compared structurally (keys, types, values), each side's value kept.

use super::normalize::{BodyShape, Shape};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    /// `status`, `transport`, `content-class`, `content-type`, `location`,
    /// `body` or a JSON path into the body (`body.id`, `body[0].active`).
    pub path: String,
    /// The reference's value; `null` when absent there.
    pub reference: Value,
    pub candidate: Value,
}

pub fn differences(reference: &Shape, candidate: &Shape) -> Vec<Difference> {
    let mut found = Vec::new();
    let mut field = |path: &str, a: Value, b: Value| {
        if a != b {
            found.push(Difference { path: path.into(), reference: a, candidate: b });
        }
    };
    field("transport", json!(reference.transport_error), json!(candidate.transport_error));
    field("status", json!(reference.status), json!(candidate.status));
    field("content-class", json!(reference.class.name()), json!(candidate.class.name()));
    field("content-type", json!(reference.content_type), json!(candidate.content_type));
    field("location", json!(reference.location), json!(candidate.location));
    match (&reference.body, &candidate.body) {
        (BodyShape::Json(a), BodyShape::Json(b)) => json_differences("body", a, b, &mut found),
        (a, b) if a != b => {
            found.push(Difference { path: "body".into(), reference: shown(a), candidate: shown(b) })
        }
        _ => {}
    }
    found
}

/// A body as a difference shows it.
pub fn shown(body: &BodyShape) -> Value {
    match body {
        BodyShape::Empty => Value::Null,
        BodyShape::Json(v) => v.clone(),
        BodyShape::Text(t) => Value::String(t.clone()),
        BodyShape::Digest { bytes, sha256 } => json!({"bytes": bytes, "sha256": sha256}),
    }
}

fn json_differences(path: &str, a: &Value, b: &Value, found: &mut Vec<Difference>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = format!("{path}.{key}");
                match (x.get(key), y.get(key)) {
                    (Some(u), Some(v)) => json_differences(&child, u, v, found),
                    (u, v) => found.push(Difference {
                        path: child,
                        reference: u.cloned().map_or(Value::Null, |u| json!({"present": u})),
                        candidate: v.cloned().map_or(Value::Null, |v| json!({"present": v})),
                    }),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let child = format!("{path}[{i}]");
                match (x.get(i), y.get(i)) {
                    (Some(u), Some(v)) => json_differences(&child, u, v, found),
                    (u, v) => found.push(Difference {
                        path: child,
                        reference: u.cloned().unwrap_or(Value::Null),
                        candidate: v.cloned().unwrap_or(Value::Null),
                    }),
                }
            }
        }
        (x, y) if x != y => {
            found.push(Difference { path: path.to_string(), reference: x.clone(), candidate: y.clone() })
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::normalize::ContentClass;

    fn shape(status: u16, body: Value) -> Shape {
        Shape {
            status: Some(status),
            transport_error: false,
            class: ContentClass::Json,
            content_type: Some("text/plain;charset=utf-8".into()),
            location: None,
            body: BodyShape::Json(body),
        }
    }

    #[test]
    fn json_bodies_differ_by_path_with_absent_keys_marked() {
        let a = shape(200, json!({"active": true, "scopes": ["git"], "userId": "<user>"}));
        let b = shape(
            201,
            json!({"active": "true", "scopes": ["git", "api"], "userId": "<user>", "hashPrefix": "<p>"}),
        );
        let paths: Vec<(String, Value, Value)> =
            differences(&a, &b).into_iter().map(|d| (d.path, d.reference, d.candidate)).collect();
        assert_eq!(
            paths,
            vec![
                ("status".into(), json!(200), json!(201)),
                ("body.active".into(), json!(true), json!("true")),
                ("body.hashPrefix".into(), Value::Null, json!({"present": "<p>"})),
                ("body.scopes[1]".into(), Value::Null, json!("api")),
            ]
        );
        assert!(differences(&a, &a.clone()).is_empty());
    }
}
