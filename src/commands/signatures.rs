//! `parity signatures`: the failure signatures `parity collect` counted, newest first.

use super::CommandError;
use crate::cli::SignaturesArgs;
use crate::exit::Exit;
use crate::flakiness::names;
use crate::flakiness::signatures::{self, SignatureSummary};

/// 0 once listed; 3 when the file cannot be read.
pub fn run(args: &SignaturesArgs) -> Result<Exit, CommandError> {
    let path = args
        .signatures
        .clone()
        .unwrap_or_else(|| args.out.join(crate::artifacts::FLAKINESS_DIR).join(names::SIGNATURES_JSON));
    let bytes = crate::files::read_input(&path).map_err(|e| {
        CommandError::Infrastructure(format!(
            "cannot read {}: {e}; run `parity collect` first",
            path.display()
        ))
    })?;
    let summary: SignatureSummary = serde_json::from_slice(&bytes).map_err(|e| {
        CommandError::Infrastructure(format!("{} is not a signatures file: {e}", path.display()))
    })?;
    let text = if args.json {
        serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n"
    } else {
        signatures::render_text(&summary)
    };
    crate::progress::print_stdout(&text);
    Ok(Exit::Ok)
}
