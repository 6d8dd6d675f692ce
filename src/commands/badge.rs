//! `parity badge`: the SVG status badge.

use super::collect::command_error;
use super::{thresholds, warn, CommandError};
use crate::cli::BadgeArgs;
use crate::collector::{self, BadgeOptions};
use crate::exit::Exit;
use crate::progress::Reporter;
use crate::report::BadgeStyle;

/// 0 once written.
pub fn run(args: &BadgeArgs) -> Result<Exit, CommandError> {
    let reporter = Reporter::plain();
    let opts = BadgeOptions {
        out: args.out.clone(),
        status: args.status.clone(),
        summary: args.summary.clone(),
        style: BadgeStyle {
            label: args.label.clone(),
            ok_text: args.ok_text.clone(),
            alert_text: args.alert_text.clone(),
            unknown_text: args.unknown_text.clone(),
            ok_color: args.ok_color.clone(),
            alert_color: args.alert_color.clone(),
            unknown_color: args.unknown_color.clone(),
            width: args.width,
            height: args.height,
        },
        thresholds: thresholds(&args.thresholds),
    };
    let (state, warnings) = collector::badge(&opts).map_err(command_error)?;
    warn(reporter, &warnings);
    reporter.line(format!("wrote {} ({})", opts.out.display(), state.name()));
    Ok(Exit::Ok)
}
