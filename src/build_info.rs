//! Which `parity` this is: its version, the commit it was built from and
//! its target (set by `build.rs`), for `--version` and `analysis.json`.

use serde::{Deserialize, Serialize};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("PARITY_COMMIT");
pub const TARGET: &str = env!("PARITY_TARGET");

/// `parity --version`: "0.1.0 (commit 0123456789ab, x86_64-unknown-linux-gnu)".
pub const LONG_VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("PARITY_COMMIT"), ", ", env!("PARITY_TARGET"), ")");

/// The build that wrote an artifact set.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Build {
    pub version: String,
    pub commit: String,
    pub target: String,
}

impl Build {
    /// This build.
    pub fn current() -> Self {
        Build { version: VERSION.into(), commit: COMMIT.into(), target: TARGET.into() }
    }
}
