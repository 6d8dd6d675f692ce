//! Which real service the reference server answers like: the Go shim (the
//! contract's default) or the Node service it replaces, per the "Node
//! dialect" table of webprofile-api.md. Only the differences that table names
//! are modelled; everything else answers the same in both.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavor {
    /// 200 on create with `ObjectID("…")` ids in text/plain JSON, text error bodies, 404 for an unknown id.
    #[default]
    Go,
    /// 201 on create with bare ids in application/json, `hashPrefix` in introspection,
    /// JSON `token required`, 204 for an unknown id, 500 with an empty body.
    Node,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Go => "go",
            Flavor::Node => "node",
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flavor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "go" => Ok(Flavor::Go),
            "node" => Ok(Flavor::Node),
            other => Err(format!("unknown flavor `{other}` (expected go or node)")),
        }
    }
}
