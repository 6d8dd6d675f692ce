//! One file per CLI command: each turns parsed arguments into the library's
//! plain options, calls it, and returns the exit code.

pub mod canary;
pub mod checks;
pub mod rerun;
