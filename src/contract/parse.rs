//! Lenient parsing of the service's answers. Every field is untrusted input:
//! nothing here panics, and every rejection says what was seen.

use serde_json::Value;

/// A response body classified by its content (the service sends JSON as text/plain).
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Empty,
    Json(Value),
    Html(String),
    Text(String),
}

impl Body {
    pub fn classify(text: &str, content_type: Option<&str>) -> Body {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Body::Empty;
        }
        if let Ok(value) = serde_json::from_str::<Value>(trimmed) {
            return Body::Json(value);
        }
        let looks_html = trimmed.starts_with('<')
            || content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("html"));
        if looks_html {
            Body::Html(trimmed.to_string())
        } else {
            Body::Text(trimmed.to_string())
        }
    }

    /// What the body is, for an error message: "an empty body", "an HTML page (<title>…)".
    pub fn describe(&self) -> String {
        match self {
            Body::Empty => "an empty body".into(),
            Body::Json(v) => format!("JSON `{}`", snippet(&v.to_string(), 160)),
            Body::Html(html) => match html_title(html) {
                Some(title) => format!("an HTML page titled `{}`", snippet(title, 80)),
                None => format!("an HTML page `{}`", snippet(html, 80)),
            },
            Body::Text(t) => format!("non-JSON text `{}`", snippet(t, 120)),
        }
    }
}

fn html_title(html: &str) -> Option<&str> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = lower[start..].find("</title>")? + start;
    html.get(start..end).map(str::trim)
}

/// The first `max` characters of `text` on one line, for messages.
pub fn snippet(text: &str, max: usize) -> String {
    crate::escape::excerpt(text, max)
}

/// A token as returned by create.
#[derive(Clone, Debug, PartialEq)]
pub struct CreatedToken {
    /// The bare 24-hex ObjectId, ready for the revoke path.
    pub id: String,
    /// The id exactly as the service returned it (may be `ObjectID("…")`).
    pub raw_id: String,
    pub token: String,
    pub access_token_partial: Option<String>,
}

/// An introspection answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Introspection {
    pub active: bool,
    pub user_id: Option<String>,
    pub scopes: Option<Vec<String>>,
}

/// Extracts the 24-hex id from every form seen in the wild:
/// `6b0a…`, `ObjectID("6b0a…")`, `ObjectId('6b0a…')`, `{"$oid": "6b0a…"}`.
pub fn parse_object_id(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => object_id_in(s),
        Value::Object(map) => map.get("$oid").and_then(parse_object_id),
        _ => None,
    }
}

fn object_id_in(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = match s.find('(') {
        Some(open) if s.ends_with(')') => s[open + 1..s.len() - 1].trim().trim_matches(['"', '\'']),
        _ => s,
    };
    let is_oid = inner.len() == 24 && inner.bytes().all(|b| b.is_ascii_hexdigit());
    is_oid.then(|| inner.to_ascii_lowercase())
}

/// Reads a create answer; the error says what was wrong with it.
pub fn created_token(body: &Body) -> Result<CreatedToken, String> {
    let Body::Json(Value::Object(map)) = body else {
        return Err(format!("expected a JSON object, got {}", body.describe()));
    };
    let raw_id = map.get("id").or_else(|| map.get("_id")).ok_or("the JSON has neither `id` nor `_id`")?;
    let id = parse_object_id(raw_id)
        .ok_or_else(|| format!("the id `{}` holds no 24-hex ObjectId", snippet(&raw_id.to_string(), 60)))?;
    let token = map
        .get("token")
        .or_else(|| map.get("plaintext"))
        .and_then(Value::as_str)
        .ok_or("the JSON has no string `token` (nor `plaintext`)")?;
    if token.is_empty() {
        return Err("the returned token is empty".into());
    }
    Ok(CreatedToken {
        id,
        raw_id: match raw_id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
        token: token.to_string(),
        access_token_partial: map.get("accessTokenPartial").and_then(Value::as_str).map(str::to_owned),
    })
}

/// Reads an introspection answer; `active` must be a JSON boolean.
pub fn introspection(body: &Body) -> Result<Introspection, String> {
    let Body::Json(Value::Object(map)) = body else {
        return Err(format!("expected a JSON object, got {}", body.describe()));
    };
    let active = match map.get("active") {
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(format!("`active` is not a boolean: `{}`", snippet(&other.to_string(), 40)))
        }
        None => return Err(format!("no `active` field in {}", body.describe())),
    };
    Ok(Introspection {
        active,
        user_id: map.get("userId").and_then(Value::as_str).map(str::to_owned),
        scopes: map
            .get("scopes")
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OID: &str = "6b0a7daf0123456789abcdef";

    #[test]
    fn object_ids_in_every_observed_form() {
        for v in [
            json!(OID),
            json!(format!("ObjectID(\"{OID}\")")),
            json!(format!("ObjectId('{OID}')")),
            json!({"$oid": OID}),
            json!(OID.to_uppercase()),
        ] {
            assert_eq!(parse_object_id(&v).as_deref(), Some(OID), "{v}");
        }
        for v in [json!("ObjectID(\"short\")"), json!(12), json!(null), json!("ObjectID(")] {
            assert_eq!(parse_object_id(&v), None, "{v}");
        }
    }

    #[test]
    fn create_accepts_both_field_spellings() {
        let a = Body::classify(
            &format!(r#"{{"id":"ObjectID(\"{OID}\")","token":"ab12","accessTokenPartial":"ab12"}}"#),
            None,
        );
        let b = Body::classify(&format!(r#"{{"_id":"{OID}","plaintext":"ab12"}}"#), Some("text/plain"));
        assert_eq!(created_token(&a).unwrap().id, OID);
        assert_eq!(created_token(&a).unwrap().raw_id, format!("ObjectID(\"{OID}\")"));
        assert_eq!(created_token(&b).unwrap().token, "ab12");
    }

    #[test]
    fn odd_bodies_give_reasons() {
        let html = Body::classify("<html><head><title>Sign in</title></head></html>", Some("text/html"));
        assert!(created_token(&html).unwrap_err().contains("HTML page titled `Sign in`"));
        assert!(created_token(&Body::classify("", None)).unwrap_err().contains("empty body"));
        assert!(introspection(&Body::classify("redirect", None))
            .unwrap_err()
            .contains("non-JSON text `redirect`"));
        assert!(introspection(&Body::classify(r#"{"active":"yes"}"#, None))
            .unwrap_err()
            .contains("not a boolean"));
        assert!(created_token(&Body::classify(r#"{"id":"x","token":"t"}"#, None))
            .unwrap_err()
            .contains("24-hex"));
        assert!(created_token(&Body::classify("[1,2]", None)).unwrap_err().contains("JSON object"));
    }

    #[test]
    fn introspection_reads_optional_fields() {
        let b = Body::classify("{\"active\":true,\"userId\":\"u1\",\"scopes\":[\"git\"]}\n", None);
        let i = introspection(&b).unwrap();
        assert!(i.active);
        assert_eq!(i.user_id.as_deref(), Some("u1"));
        assert_eq!(i.scopes, Some(vec!["git".to_string()]));
    }

    #[test]
    fn a_snippet_never_keeps_part_of_a_token() {
        let token = "ab".repeat(32);
        let cut = snippet(&format!(r#"{{"token":"{token}"}}"#), 15);
        assert!(!cut.contains("abab"), "{cut}");
    }

    #[test]
    fn snippet_is_one_bounded_line() {
        assert_eq!(snippet("a\nb", 10), "a b");
        assert_eq!(snippet("abcdef", 3), "abc…");
    }
}
