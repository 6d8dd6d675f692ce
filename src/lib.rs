//! webprofile-parity: proves that a webprofile token service revokes tokens
//! immediately, on every instance, every time.
//!
//! The binary (`parity`) is a thin layer over these modules; see DESIGN.md
//! for how they fit together.

pub mod analysis;
pub mod artifacts;
pub mod build_info;
pub mod canary;
pub mod cli;
pub mod clock;
pub mod collector;
pub mod commands;
pub mod contract;
pub mod diff;
pub mod escape;
pub mod evidence;
pub mod exit;
pub mod files;
pub mod flakiness;
pub mod hashing;
pub mod http;
pub mod lenient;
pub mod merge;
pub mod notify;
pub mod progress;
pub mod publish;
pub mod redact;
pub mod reference;
pub mod replay;
pub mod report;
pub mod rerun;
pub mod retry;
pub mod run;
pub mod scenario;
pub mod settings;
pub mod signals;
pub mod stack;
pub mod stats;
pub mod store;
pub mod verdict;
