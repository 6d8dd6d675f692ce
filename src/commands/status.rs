//! `parity status`: `status.json` from the summary (the daily job).

use super::collect::command_error;
use super::{non_empty, thresholds, warn, CommandError};
use crate::cli::StatusArgs;
use crate::collector::{self, StatusOptions};
use crate::exit::Exit;
use crate::progress::Reporter;

/// 0 once written.
pub fn run(args: &StatusArgs) -> Result<Exit, CommandError> {
    let reporter = Reporter::plain();
    let opts = StatusOptions {
        summary: args.summary.clone().unwrap_or_else(|| collector::default_summary_path(&args.out)),
        out: args.status.clone().unwrap_or_else(|| collector::default_status_path(&args.out)),
        thresholds: thresholds(&args.thresholds),
        dashboard_url: non_empty(&args.dashboard_url),
        now: chrono::Utc::now(),
    };
    let (status, warnings) = collector::status(&opts).map_err(command_error)?;
    warn(reporter, &warnings);
    reporter.line(format!("wrote {} (verdict: {})", opts.out.display(), status.verdict.name()));
    Ok(Exit::Ok)
}
