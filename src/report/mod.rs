//! What the collector writes from the flakiness numbers: the trend series,
//! `status.json`, the SVG badge, the text reports, the CI step summary — and
//! the command flows (`collect`, `check`, `status`, `badge`) that tie them
//! to files.

pub mod badge;
pub mod chart;
pub mod commands;
pub mod dashboard;
pub mod entry;
pub mod junit;
pub mod run_summary;
pub mod status;
pub mod step_summary;
pub mod text;
pub mod trend;
pub mod xml;

pub use badge::{BadgeState, BadgeStyle, Colour};
pub use commands::ReportError;
pub use status::Status;
pub use trend::Trend;
