//! Renderers: what the run's and the collector's numbers look like as the
//! trend series, `status.json`, the SVG badge, the dashboard, the text
//! reports, JUnit and the CI step summaries. Pure functions of what they are
//! handed, apart from `step_summary::append`.

pub mod badge;
pub mod chart;
pub mod dashboard;
pub mod junit;
pub mod latency_chart;
pub mod outcome;
pub mod run_summary;
pub mod status;
pub mod step_summary;
pub mod text;
pub mod trend;

pub use badge::{BadgeState, BadgeStyle, Colour};

/// The `<head>` of a self-contained page: inline CSS only, and a
/// Content-Security-Policy that forbids every fetch.
pub fn offline_head(title: &str, style: &'static str) -> maud::Markup {
    maud::html! {
        head {
            meta charset="utf-8";
            meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) }
            style { (maud::PreEscaped(style)) }
        }
    }
}
pub use status::Status;
pub use trend::Trend;
