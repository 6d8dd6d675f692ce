//! The two dialects of the service, as the "Node dialect" table of
//! webprofile-api.md gives them: the Go shim (the contract's default) and
//! the Node service it replaces. Where they differ, this table says what
//! each answers: the dialect checks expect from it, and the reference
//! server answers from it when it plays one (`--flavor`).
//!
//! Only the *form* of answers differs by dialect. Who may read, create or
//! revoke what is the same in both, and is judged by effect, never here.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// The Go shim: 200 on create with `ObjectID("…")` ids in text/plain JSON, text
    /// errors, 404 for an unknown or another user's id, 302 to /auth/login without
    /// valid credentials.
    #[default]
    Go,
    /// The Node service: 201 on create with bare ids in application/json, hashPrefix in
    /// introspection, `scopes: []`, 204 for an unknown, malformed or another user's id,
    /// 401 for wrong credentials, 302 to /login without any, HTML error pages.
    Node,
}

/// What a request presented when it was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presented {
    /// No Authorization header.
    Nothing,
    /// An Authorization header that is not the admin's credentials.
    WrongCredentials,
}

/// The form of "no" a dialect answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    /// The login page a redirect points to.
    pub location: Option<&'static str>,
}

impl Rejection {
    /// "302 to /auth/login", "401".
    pub fn describe(&self) -> String {
        match self.location {
            Some(location) => format!("{} to {location}", self.status),
            None => self.status.to_string(),
        }
    }
}

impl Dialect {
    pub const ALL: [Dialect; 2] = [Dialect::Go, Dialect::Node];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Go => "go",
            Dialect::Node => "node",
        }
    }

    /// A successful create.
    pub fn create_status(self) -> u16 {
        match self {
            Dialect::Go => 200,
            Dialect::Node => 201,
        }
    }

    /// Revoking a token id that is not a 24-hex ObjectId.
    pub fn malformed_id_status(self) -> u16 {
        match self {
            Dialect::Go => 400,
            Dialect::Node => 204,
        }
    }

    /// Revoking an unknown id, or another user's.
    pub fn foreign_id_status(self) -> u16 {
        match self {
            Dialect::Go => 404,
            Dialect::Node => 204,
        }
    }

    /// How a request without valid credentials is turned away: the Go
    /// service redirects everything to /auth/login; the Node service
    /// answers 401 to wrong credentials and to an introspection without
    /// any, and redirects a browser-like request to its git-tokens routes
    /// to /login (401 when it accepts JSON).
    pub fn rejection(self, presented: Presented, introspection: bool, accepts_json: bool) -> Rejection {
        let redirect = |location| Rejection { status: 302, location: Some(location) };
        match (self, presented) {
            (Dialect::Go, _) => redirect("/auth/login"),
            (Dialect::Node, Presented::WrongCredentials) => Rejection { status: 401, location: None },
            (Dialect::Node, Presented::Nothing) if introspection || accepts_json => {
                Rejection { status: 401, location: None }
            }
            (Dialect::Node, Presented::Nothing) => redirect("/login"),
        }
    }

    /// The dialect a create answer speaks: the Node service's 201 and
    /// `application/json`, else the Go shim's.
    pub fn of_create_answer(status: Option<u16>, content_type: Option<&str>) -> Dialect {
        let json = content_type.is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/json"));
        if status == Some(201) || json {
            Dialect::Node
        } else {
            Dialect::Go
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dialect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "go" => Ok(Dialect::Go),
            "node" => Ok(Dialect::Node),
            other => Err(format!("unknown dialect `{other}` (expected go or node)")),
        }
    }
}

/// `--dialect`: the dialect the dialect checks expect, or `auto` to read it
/// from the service's first create answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DialectChoice {
    /// Expect the Go shim's answers (the contract's default).
    #[default]
    Go,
    /// Expect the Node service's answers (webprofile-api.md, "The Node dialect").
    Node,
    /// Read the dialect from the first create answer (201 or application/json: node).
    Auto,
}

impl DialectChoice {
    pub fn name(self) -> &'static str {
        match self {
            DialectChoice::Go => "go",
            DialectChoice::Node => "node",
            DialectChoice::Auto => "auto",
        }
    }

    /// The dialect chosen, or `None` for `auto`.
    pub fn fixed(self) -> Option<Dialect> {
        match self {
            DialectChoice::Go => Some(Dialect::Go),
            DialectChoice::Node => Some(Dialect::Node),
            DialectChoice::Auto => None,
        }
    }
}

impl FromStr for DialectChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DialectChoice::Auto),
            other => other
                .parse::<Dialect>()
                .map(|d| match d {
                    Dialect::Go => DialectChoice::Go,
                    Dialect::Node => DialectChoice::Node,
                })
                .map_err(|_| format!("unknown dialect `{other}` (expected go, node or auto)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_the_spec() {
        assert_eq!((Dialect::Go.create_status(), Dialect::Node.create_status()), (200, 201));
        assert_eq!((Dialect::Go.malformed_id_status(), Dialect::Node.malformed_id_status()), (400, 204));
        assert_eq!((Dialect::Go.foreign_id_status(), Dialect::Node.foreign_id_status()), (404, 204));
        let login = |d: Dialect, p, i, j| d.rejection(p, i, j).describe();
        for p in [Presented::Nothing, Presented::WrongCredentials] {
            for introspection in [false, true] {
                assert_eq!(login(Dialect::Go, p, introspection, false), "302 to /auth/login");
            }
        }
        assert_eq!(login(Dialect::Node, Presented::WrongCredentials, false, false), "401");
        assert_eq!(login(Dialect::Node, Presented::Nothing, true, false), "401");
        assert_eq!(login(Dialect::Node, Presented::Nothing, false, false), "302 to /login");
        assert_eq!(login(Dialect::Node, Presented::Nothing, false, true), "401");
    }

    #[test]
    fn a_create_answer_tells_its_dialect() {
        assert_eq!(Dialect::of_create_answer(Some(200), Some("text/plain; charset=utf-8")), Dialect::Go);
        assert_eq!(
            Dialect::of_create_answer(Some(201), Some("application/json; charset=utf-8")),
            Dialect::Node
        );
        assert_eq!(Dialect::of_create_answer(Some(200), Some("Application/JSON")), Dialect::Node);
        assert_eq!(Dialect::of_create_answer(None, None), Dialect::Go);
        assert_eq!("NODE".parse::<Dialect>(), Ok(Dialect::Node));
        assert!("ruby".parse::<Dialect>().unwrap_err().contains("go or node"));
    }
}
