//! Field readers for artifacts written by this or another version of the
//! tool: a field of an unexpected type reads as absent (or zero), never as
//! an error, so one serde type both writes a format and reads what older and
//! newer producers wrote. JSON only (they read through `serde_json::Value`).

use crate::verdict::FailureClass;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

fn value<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Value::deserialize(d)
}

/// A string; any other non-null value as its JSON text.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match value(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

/// A string, else empty.
pub fn text_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(text(d)?.unwrap_or_default())
}

/// An HTTP status as a number or a numeric string.
pub fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    Ok(match value(d)? {
        Value::String(s) => s.trim().parse().ok(),
        v => v.as_u64().and_then(|n| u16::try_from(n).ok()),
    })
}

/// A class name; one this version does not know is `unknown`, never dropped.
pub fn class<'de, D: Deserializer<'de>>(d: D) -> Result<Option<FailureClass>, D::Error> {
    Ok(match value(d)? {
        Value::String(name) => {
            Some(serde_json::from_value(Value::String(name)).unwrap_or(FailureClass::Unknown))
        }
        _ => None,
    })
}

/// A finite, non-negative number (a duration, a latency).
pub fn non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(value(d)?.as_f64().filter(|x| x.is_finite() && *x >= 0.0))
}

/// A finite, non-negative number, else 0.
pub fn non_negative_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(non_negative(d)?.unwrap_or(0.0))
}

/// Whole milliseconds (a fraction rounded), else 0.
pub fn whole_millis<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(non_negative(d)?.map_or(0, |ms| ms.round().min(u64::MAX as f64) as u64))
}

/// A whole count, saturating at `u32::MAX`.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(value(d)?.as_u64().map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
}

/// A whole count, else 0.
pub fn count_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(count(d)?.unwrap_or(0))
}

/// An exit code, else 0.
pub fn code_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    Ok(value(d)?.as_i64().and_then(|n| i32::try_from(n).ok()).unwrap_or(0))
}

/// A boolean, else false.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(value(d)?.as_bool().unwrap_or(false))
}

/// A `T`, else absent.
pub fn or_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(serde_json::from_value(value(d)?).ok())
}

/// A list whose elements that do not read as `T` are dropped.
pub fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match value(d)? {
        Value::Array(items) => {
            items.into_iter().filter_map(|item| serde_json::from_value(item).ok()).collect()
        }
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Probe {
        #[serde(default, deserialize_with = "text")]
        reason: Option<String>,
        #[serde(default, deserialize_with = "status")]
        status: Option<u16>,
        #[serde(default, deserialize_with = "class")]
        class: Option<FailureClass>,
        #[serde(default, deserialize_with = "non_negative")]
        latency: Option<f64>,
        #[serde(default, deserialize_with = "count")]
        count: Option<u32>,
        #[serde(default, deserialize_with = "list")]
        items: Vec<u8>,
    }

    #[test]
    fn odd_types_read_as_absent_never_as_errors() {
        let p: Probe = serde_json::from_str(
            r#"{"reason": {"code": 503}, "status": "204", "class": "cosmic-ray", "latency": -1,
                "count": 5000000000, "items": [1, "x", 300, 2]}"#,
        )
        .unwrap();
        assert_eq!(
            p,
            Probe {
                reason: Some(r#"{"code":503}"#.into()),
                status: Some(204),
                class: Some(FailureClass::Unknown),
                latency: None,
                count: Some(u32::MAX),
                items: vec![1, 2],
            }
        );
        let empty: Probe = serde_json::from_str(r#"{"class": 7, "status": "fast"}"#).unwrap();
        assert_eq!((empty.class, empty.status, empty.reason), (None, None, None));
    }
}
