//! A response as `parity diff` compares it: status, content class and type,
//! `Location`, and the body with every value minted per side replaced by a
//! stable placeholder of that side, so that "the id revoke accepted is the
//! id create returned" still compares while the random values do not.

use crate::contract::{Body, Exchange};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The shortest leading cut of a known value taken for that value's.
const MIN_CUT: usize = 6;

/// Bodies larger than this are compared by size and hash, not by content.
pub const MAX_COMPARED_BODY: u64 = 64 * 1024;

/// One lane's placeholders: the values it knows by name (its users, the
/// tokens it created) and the unknown minted values numbered as first seen.
#[derive(Clone, Debug, Default)]
pub struct Placeholders {
    /// (value, name), longest value first so a token is replaced before its prefix.
    known: Vec<(String, String)>,
    unnamed: HashMap<String, String>,
    counters: HashMap<&'static str, usize>,
    /// Replace nothing: the values as sent, from which noise is learned.
    verbatim: bool,
}

impl Placeholders {
    pub fn verbatim() -> Placeholders {
        Placeholders { verbatim: true, ..Placeholders::default() }
    }

    pub fn learn(&mut self, name: &str, value: &str) {
        if value.is_empty() || self.known.iter().any(|(v, _)| v == value) {
            return;
        }
        self.known.push((value.to_string(), format!("<{name}>")));
        self.known.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
    }

    /// A string with known values replaced; a whole string that is an
    /// ObjectId, a 64-hex token, a hashPrefix-like value or a timestamp
    /// nobody named becomes a numbered placeholder.
    pub fn string(&mut self, text: &str) -> String {
        if self.verbatim {
            return text.to_string();
        }
        let mut out = text.to_string();
        for (value, name) in &self.known {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), name);
            }
        }
        if out != text {
            return out;
        }
        // A cut of a minted value (a token's first characters sent as its
        // "partial") is that value's, not noise.
        if text.len() >= MIN_CUT {
            if let Some((_, name)) =
                self.known.iter().find(|(v, _)| v.len() > text.len() && v.starts_with(text))
            {
                return format!("{}[..{}]>", name.trim_end_matches('>'), text.len());
            }
        }
        match minted_kind(text) {
            Some(kind) => {
                if let Some(name) = self.unnamed.get(text) {
                    return name.clone();
                }
                let n = self.counters.entry(kind).or_insert(0);
                *n += 1;
                let name =
                    if kind == "timestamp" { "<timestamp>".to_string() } else { format!("<{kind}#{n}>") };
                self.unnamed.insert(text.to_string(), name.clone());
                name
            }
            None => out,
        }
    }

    /// What kind of minted value a raw one is, for the noise report.
    pub fn kind_of(&self, raw: &Value) -> &'static str {
        let Some(text) = raw.as_str() else { return "other" };
        if let Some((_, name)) = self.known.iter().find(|(value, _)| text.contains(value.as_str())) {
            return match name.as_str() {
                "<user>" | "<other_user>" => "user id",
                n if n.ends_with(".id>") || n.ends_with(".raw_id>") => "id",
                n if n.ends_with(".prefix>") => "hash prefix",
                _ => "token",
            };
        }
        match minted_kind(text) {
            Some("oid") => "id",
            Some("hex") => "token",
            Some("timestamp") => "timestamp",
            _ => "other",
        }
    }

    pub fn value(&mut self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.string(s)),
            Value::Array(items) => {
                let mut items: Vec<Value> = items.iter().map(|v| self.value(v)).collect();
                let keys = items.iter().map(identity).collect::<Option<Vec<String>>>();
                if let (Some(keys), false) = (keys, self.verbatim) {
                    // A list of documents: its order is the store's, not the contract's.
                    let mut keyed: Vec<(String, Value)> = keys.into_iter().zip(items).collect();
                    keyed.sort_by(|a, b| a.0.cmp(&b.0));
                    items = keyed.into_iter().map(|(_, v)| v).collect();
                }
                Value::Array(items)
            }
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), self.value(v))).collect::<Map<_, _>>())
            }
            other => other.clone(),
        }
    }
}

/// The `_id` or `id` of a document in a list, once normalized.
fn identity(item: &Value) -> Option<String> {
    let map = item.as_object()?;
    map.get("_id").or_else(|| map.get("id")).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
}

fn minted_kind(text: &str) -> Option<&'static str> {
    let hex = !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit());
    match text.len() {
        24 if hex => Some("oid"),
        64 if hex => Some("hex"),
        _ if looks_like_timestamp(text) => Some("timestamp"),
        _ => None,
    }
}

fn looks_like_timestamp(text: &str) -> bool {
    text.len() >= 19
        && text.as_bytes().get(4) == Some(&b'-')
        && text.as_bytes().get(10) == Some(&b'T')
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

/// What a body is, whatever the Content-Type says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContentClass {
    Empty,
    Json,
    Text,
    Html,
    /// Not valid UTF-8.
    Binary,
    /// Larger than what is compared by content (or not read to its end).
    Large,
}

impl ContentClass {
    pub fn name(self) -> &'static str {
        match self {
            ContentClass::Empty => "empty",
            ContentClass::Json => "json",
            ContentClass::Text => "text",
            ContentClass::Html => "html",
            ContentClass::Binary => "binary",
            ContentClass::Large => "large",
        }
    }
}

/// A body as compared.
#[derive(Clone, Debug, PartialEq)]
pub enum BodyShape {
    Empty,
    Json(Value),
    Text(String),
    /// Binary or large bodies: size and SHA-256 only.
    Digest {
        bytes: u64,
        sha256: String,
    },
}

/// A response reduced to what the contract cares about.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// `None` when no HTTP answer came.
    pub status: Option<u16>,
    pub transport_error: bool,
    pub class: ContentClass,
    /// Lower-cased, spaces removed: `text/plain;charset=utf-8`.
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: BodyShape,
}

impl Shape {
    pub fn of(exchange: &Exchange, placeholders: &mut Placeholders) -> Shape {
        let digest = &exchange.digest;
        let large =
            exchange.truncated || !digest.complete && digest.bytes > 0 || digest.bytes > MAX_COMPARED_BODY;
        let (class, body) = if digest.binary || large {
            let class = if large { ContentClass::Large } else { ContentClass::Binary };
            (
                class,
                BodyShape::Digest {
                    bytes: digest.bytes,
                    sha256: super::report::sha256_label(&digest.sha256),
                },
            )
        } else {
            match Body::classify(&exchange.response_body, exchange.content_type.as_deref()) {
                Body::Empty => (ContentClass::Empty, BodyShape::Empty),
                Body::Json(v) => (ContentClass::Json, BodyShape::Json(placeholders.value(&v))),
                Body::Html(t) => (ContentClass::Html, BodyShape::Text(placeholders.string(&t))),
                Body::Text(t) => (ContentClass::Text, BodyShape::Text(placeholders.string(&t))),
            }
        };
        Shape {
            status: exchange.status,
            transport_error: exchange.error.is_some(),
            class,
            content_type: exchange
                .content_type
                .as_deref()
                .map(|ct| ct.to_ascii_lowercase().chars().filter(|c| !c.is_whitespace()).collect()),
            location: exchange.location.as_deref().map(|l| placeholders.string(l)),
            body,
        }
    }

    /// The media type without parameters: `text/plain`.
    pub fn media_type(&self) -> Option<&str> {
        self.content_type.as_deref().map(|ct| ct.split(';').next().unwrap_or(ct))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_values_get_their_names_and_unknown_minted_ones_a_number() {
        let mut p = Placeholders::default();
        let id = "6b0a7daf0123456789abcdef";
        p.learn("main.id", id);
        let body = json!({
            "id": format!("ObjectID(\"{id}\")"),
            "other": "0123456789abcdef01234567",
            "again": "0123456789abcdef01234567",
            "createdAt": "2026-12-06T03:21:14.123Z",
            "label": "parity-diff",
        });
        assert_eq!(
            p.value(&body),
            json!({
                "id": "ObjectID(\"<main.id>\")",
                "other": "<oid#1>",
                "again": "<oid#1>",
                "createdAt": "<timestamp>",
                "label": "parity-diff",
            })
        );
    }

    #[test]
    fn lists_of_documents_are_ordered_by_their_ids() {
        let mut p = Placeholders::default();
        p.learn("b", "bbbbbbbbbbbbbbbbbbbbbbbb");
        p.learn("a", "aaaaaaaaaaaaaaaaaaaaaaaa");
        let list = json!([{"_id": "bbbbbbbbbbbbbbbbbbbbbbbb"}, {"_id": "aaaaaaaaaaaaaaaaaaaaaaaa"}]);
        assert_eq!(p.value(&list), json!([{"_id": "<a>"}, {"_id": "<b>"}]));
        assert_eq!(p.value(&json!(["b", "a"])), json!(["b", "a"]), "other arrays keep their order");
    }

    #[test]
    fn a_leading_cut_of_a_known_value_is_named_after_it() {
        let mut p = Placeholders::default();
        let token = "4f1c2d3e".repeat(8);
        p.learn("main.token", &token);
        assert_eq!(p.string(&token[..8]), "<main.token[..8]>");
        assert_eq!(p.string("4f1c2"), "4f1c2", "too short to say");
    }
}
