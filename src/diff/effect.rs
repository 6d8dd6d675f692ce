//! Effects a step must show on every lane, judged on each lane on its own
//! and the same way: after a build revokes a token the other minted, the
//! token introspects `active: false` on both builds and the minting build
//! lists it inactive. A lane where it does not is a cross-implementation
//! stale read, whatever the other lane shows.

use crate::contract::{parse_object_id, Body, Exchange};
use serde::Serialize;
use serde_json::Value;

/// What a step's answer must show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// An introspection answering `active: false`.
    Inactive,
    /// A list showing the token bound to this name (`NAME.id`) with `active: false`.
    ListedInactive(String),
}

/// A lane whose answer did not show the effect.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EffectFailure {
    pub lane: String,
    /// Which build minted the token and which revoked it, when the lanes tell.
    pub across: String,
    pub what: String,
}

/// Whether `answer` shows `expect`; the reason when it does not (`None`: it does).
pub fn missing(expect: &Expect, answer: &Exchange, id: Option<&str>) -> Option<String> {
    let body = Body::classify(&answer.response_body, answer.content_type.as_deref());
    match expect {
        Expect::Inactive => match &body {
            Body::Json(Value::Object(map)) if map.get("active") == Some(&Value::Bool(false)) => None,
            Body::Json(Value::Object(map)) if map.get("active") == Some(&Value::Bool(true)) => {
                Some(format!("the token still introspects active:true on {}", answer.instance))
            }
            _ => Some(format!("no introspection to read on {}: {}", answer.instance, answer.summary())),
        },
        Expect::ListedInactive(_) => {
            let Body::Json(Value::Array(items)) = &body else {
                return Some(format!("no list to read on {}: {}", answer.instance, answer.summary()));
            };
            let listed = items.iter().find(|item| {
                item.get("_id").or_else(|| item.get("id")).and_then(parse_object_id).as_deref() == id
            });
            match listed.and_then(|item| item.get("active")) {
                Some(Value::Bool(false)) => None,
                Some(_) => {
                    Some(format!("the minting build ({}) still lists the token active", answer.instance))
                }
                None => Some(format!("the minting build ({}) does not list the token", answer.instance)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{AuthMode, Request};

    fn answer(body: &str) -> Exchange {
        let request = Request::new("POST", "/x", AuthMode::Basic);
        let mut ex = Exchange::of_request(1, "candidate1", crate::clock::Clock::start().now(), &request);
        (ex.status, ex.response_body) = (Some(200), body.into());
        ex
    }

    #[test]
    fn an_effect_is_shown_or_named() {
        assert_eq!(missing(&Expect::Inactive, &answer(r#"{"active":false}"#), None), None);
        assert!(missing(&Expect::Inactive, &answer(r#"{"active":true}"#), None)
            .unwrap()
            .contains("still introspects"));
        let id = "6b0a7daf0123456789abcdef";
        let listed = |active: bool| answer(&format!(r#"[{{"id":"{id}","active":{active}}}]"#));
        let expect = Expect::ListedInactive("main.id".into());
        assert_eq!(missing(&expect, &listed(false), Some(id)), None);
        assert!(missing(&expect, &listed(true), Some(id)).unwrap().contains("still lists the token active"));
        assert!(missing(&expect, &answer("[]"), Some(id)).unwrap().contains("does not list the token"));
    }
}
