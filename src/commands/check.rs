//! `parity check`: judge a summary against the thresholds.

use super::{thresholds, CommandError};
use crate::cli::CheckArgs;
use crate::collector;
use crate::exit::Exit;
use crate::flakiness::thresholds::ThresholdVerdict;
use crate::progress::print_stdout;

/// 0 not exceeded, 2 exceeded, 1 nothing to judge.
pub fn run(args: &CheckArgs) -> Result<Exit, CommandError> {
    let path = args.summary.clone().unwrap_or_else(|| collector::default_summary_path(&args.out));
    Ok(match collector::check(&path, &thresholds(&args.thresholds)) {
        Ok(judgement) => {
            print_stdout(&format!("{judgement}\n"));
            match judgement.verdict {
                ThresholdVerdict::Exceeded => Exit::ThresholdExceeded,
                ThresholdVerdict::Ok => Exit::Ok,
                ThresholdVerdict::NoData => Exit::ParityFailure,
            }
        }
        Err(nothing) => {
            print_stdout(&format!("{nothing}\n"));
            Exit::ParityFailure
        }
    })
}
