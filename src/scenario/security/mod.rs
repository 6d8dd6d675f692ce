//! Security judged by effect, and the attack families.
//!
//! A security check never asks how a service says no — a 302 to any login
//! page, a 401, a 403 and a 404 are all "no". It asks whether the request
//! got in: did user B's tokens come back, was a token created for B, was
//! B's token revoked (read back by listing or introspecting with valid
//! credentials afterwards), did introspection answer `active: true` for
//! something that is not B's exact token?
//!
//! Each family is a table of variants × routes; every variant is a row of
//! `security.json` and a line of `test.parity.out`. After every family a
//! sentinel checks that the harness's own tokens are as it left them: a
//! family's collateral damage is a finding too.

mod families;
pub mod variants;

pub use families::{Families, FAMILIES};

use crate::contract::{parse_object_id, Body, Dialect, Exchange};
use crate::verdict::Signature;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A route of the API a variant is aimed at.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Create,
    List,
    Revoke,
    Introspect,
}

impl Route {
    pub const ALL: [Route; 4] = [Route::Create, Route::List, Route::Revoke, Route::Introspect];

    pub fn name(self) -> &'static str {
        match self {
            Route::Create => "create",
            Route::List => "list",
            Route::Revoke => "revoke",
            Route::Introspect => "introspect",
        }
    }
}

/// What a request did, as observed.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Nothing protected came back and nothing changed.
    None,
    /// Protected data came back: user B's tokens, or a list of tokens.
    DataReturned,
    /// A token was created for user B.
    TokenCreated,
    /// User B's token was revoked.
    TokenRevoked,
    /// Introspection answered `active: true` where it must not.
    IntrospectedActive,
    /// A token of the harness's that no variant aimed at changed (the sentinel).
    Collateral,
    /// The effect could not be observed: the request or the check after it got no usable answer.
    Unjudged,
}

impl Effect {
    /// The request got in (or did damage).
    pub fn got_in(self) -> bool {
        !matches!(self, Effect::None | Effect::Unjudged)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Effect::None => "none",
            Effect::DataReturned => "protected data returned",
            Effect::TokenCreated => "a token created",
            Effect::TokenRevoked => "a token revoked",
            Effect::IntrospectedActive => "introspected active:true",
            Effect::Collateral => "the harness's own token changed",
            Effect::Unjudged => "could not be judged",
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RowVerdict {
    /// Turned away (in any form), nothing changed.
    Pass,
    /// The request got in: class `security`.
    Fail,
    /// No usable answer to judge by: class `infrastructure`.
    Error,
    /// Not tried (said why in `observed`).
    Skip,
    /// Not judged: the service's rate limit outlasted the run's budget (class `rate-limited`).
    #[serde(rename = "rate-limited")]
    RateLimited,
}

/// One variant on one route: a row of `security.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SecurityRow {
    /// The family's check id.
    pub check: String,
    pub family: String,
    pub variant: String,
    pub route: Route,
    /// What was sent, in words; secrets are named, never written.
    pub sent: String,
    /// What came back: status, where a redirect pointed, the body's start.
    pub answer: String,
    pub effect: Effect,
    /// How the effect was observed.
    pub observed: String,
    pub verdict: RowVerdict,
    /// The `seq` of this row's exchanges in the suite's trace.
    pub exchanges: Vec<u64>,
}

impl SecurityRow {
    /// An open door's identity: the family's check, the variant, its route.
    pub fn signature(&self) -> Signature {
        Signature::security_variant(&self.check, &self.variant, self.route.name())
    }

    /// The line under its check in `test.parity.out`.
    pub fn render_line(&self) -> String {
        let word = match self.verdict {
            RowVerdict::Pass => "ok  ",
            RowVerdict::Fail => "OPEN",
            RowVerdict::Error => "ERR ",
            RowVerdict::Skip => "skip",
            RowVerdict::RateLimited => "429 ",
        };
        crate::escape::one_line(&format!(
            "{word} {} × {}: {} — {}: {}",
            self.variant,
            self.route.name(),
            self.answer,
            self.effect.describe(),
            self.observed
        ))
    }
}

/// One family's totals, for `security.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FamilySummary {
    pub check: String,
    pub family: String,
    /// Variants in the family (each tried on each of its routes).
    pub variants: usize,
    pub rows: usize,
    /// Rows where the request got in.
    pub open: usize,
    pub errors: usize,
    pub skipped: usize,
}

/// `security.json`: every variant tried, what came back, the effect, the verdict.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SecurityReport {
    pub format: u32,
    /// The dialect the dialect checks expected (security does not depend on it).
    pub dialect: Dialect,
    pub families: Vec<FamilySummary>,
    pub rows: Vec<SecurityRow>,
    /// Requests the families sent (variants, the reads that judged them, sentinels).
    pub requests: u64,
}

impl SecurityReport {
    pub const FORMAT: u32 = 1;

    /// The rows where a request got in.
    pub fn open(&self) -> impl Iterator<Item = &SecurityRow> {
        self.rows.iter().filter(|r| r.verdict == RowVerdict::Fail)
    }
}

/// "HTTP 302 → /auth/login", "HTTP 200 `[{…}]`", or the transport error.
pub fn answer_summary(ex: &Exchange) -> String {
    match (&ex.location, ex.status) {
        (Some(location), Some(status)) => {
            format!("HTTP {status} → {}", crate::escape::excerpt(location, 80))
        }
        _ => ex.summary(),
    }
}

/// The answer names one of these tokens (by id): data the request must not see.
pub fn names_token(ex: &Exchange, token_ids: &[&str]) -> Option<String> {
    if ex.error.is_some() {
        return None;
    }
    let body = ex.response_body.to_ascii_lowercase();
    token_ids
        .iter()
        .find(|id| !id.is_empty() && body.contains(&id.to_ascii_lowercase()))
        .map(|id| format!("the answer names token {id}"))
}

/// A request without valid credentials got protected data: one of these
/// tokens, or any 2xx JSON list (the list route's answer).
pub fn lets_in_list(ex: &Exchange, token_ids: &[&str]) -> Option<String> {
    names_token(ex, token_ids).or_else(|| {
        let listed = ex.error.is_none()
            && ex.status.is_some_and(|s| (200..300).contains(&s))
            && matches!(
                Body::classify(&ex.response_body, ex.content_type.as_deref()),
                Body::Json(Value::Array(_))
            );
        listed.then(|| "the answer is a list of tokens".to_string())
    })
}

/// The answer is an introspection saying `active: true`.
pub fn introspects_active(ex: &Exchange) -> bool {
    ex.error.is_none()
        && matches!(
            Body::classify(&ex.response_body, ex.content_type.as_deref()),
            Body::Json(Value::Object(map)) if map.get("active") == Some(&Value::Bool(true))
        )
}

/// The answer hands out a new token (a create that got in).
pub fn hands_out_token(ex: &Exchange) -> bool {
    ex.error.is_none()
        && crate::contract::created_token(&Body::classify(&ex.response_body, ex.content_type.as_deref()))
            .is_ok()
}

/// The `active` flag of the listed token with this id (either id spelling), if listed.
pub fn listed_active(items: &[Value], token_id: &str) -> Option<bool> {
    items
        .iter()
        .find(|item| {
            item.get("_id").or_else(|| item.get("id")).and_then(parse_object_id).as_deref() == Some(token_id)
        })
        .and_then(|item| item.get("active").and_then(Value::as_bool))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::AuthMode;

    fn answer(status: u16, body: &str) -> Exchange {
        let request = crate::contract::Request::new("GET", "/", AuthMode::None);
        let mut ex = Exchange::of_request(1, "i", crate::clock::Clock::start().now(), &request);
        (ex.status, ex.response_body) = (Some(status), body.into());
        ex
    }

    #[test]
    fn any_form_of_no_is_no_and_data_is_data_whatever_the_status() {
        let id = "6b0a7daf0123456789abcdef";
        for no in [
            answer(302, "redirect"),
            answer(401, "Unauthorized"),
            answer(404, "<html>x</html>"),
            answer(200, "[]x"),
        ] {
            assert_eq!(lets_in_list(&no, &[id]), None, "{}", no.response_body);
        }
        assert!(lets_in_list(&answer(302, &format!("[{{\"_id\":\"{id}\"}}]")), &[id]).unwrap().contains(id));
        assert!(names_token(&answer(200, &id.to_uppercase()), &[id]).is_some());
        assert!(lets_in_list(&answer(200, "[]"), &[id]).is_some(), "a 2xx JSON list is data");
        assert!(names_token(&answer(200, "[]"), &[id]).is_none(), "another user's list is no data of B's");
        assert!(introspects_active(&answer(302, r#"{"active":true}"#)));
        assert!(!introspects_active(&answer(200, r#"{"active":false}"#)));
        assert!(!introspects_active(&answer(200, "active: true")));
        let token = "ab".repeat(32);
        assert!(hands_out_token(&answer(201, &format!(r#"{{"id":"{id}","token":"{token}"}}"#))));
        assert!(!hands_out_token(&answer(200, "<html>login</html>")));
    }

    #[test]
    fn listed_tokens_are_found_by_either_id_spelling() {
        let id = "6b0a7daf0123456789abcdef";
        let items: Vec<Value> = serde_json::from_str(&format!(
            r#"[{{"_id":"ObjectID(\"{id}\")","active":false}},{{"id":"0123456789abcdef01234567","active":true}}]"#
        ))
        .unwrap();
        assert_eq!(listed_active(&items, id), Some(false));
        assert_eq!(listed_active(&items, "0123456789abcdef01234567"), Some(true));
        assert_eq!(listed_active(&items, "ffffffffffffffffffffffff"), None);
    }
}
