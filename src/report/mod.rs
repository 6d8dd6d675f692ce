//! Renderers: what the run's and the collector's numbers look like as the
//! trend series, `status.json`, the SVG badge, the dashboard, the text
//! reports, JUnit and the CI step summaries. Pure functions of what they are
//! handed, apart from `step_summary::append`.

pub mod badge;
pub mod chart;
pub mod dashboard;
pub mod junit;
pub mod run_summary;
pub mod status;
pub mod step_summary;
pub mod text;
pub mod trend;

pub use badge::{BadgeState, BadgeStyle, Colour};
pub use status::Status;
pub use trend::Trend;
