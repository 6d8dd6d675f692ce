//! `parity merge DIR…`: shard artifact sets joined into one.

use super::CommandError;
use crate::cli::MergeArgs;
use crate::exit::Exit;
use crate::merge::{self, MergeError, MergeOptions};
use crate::progress::Reporter;

pub fn run(args: &MergeArgs) -> Result<Exit, CommandError> {
    let reporter = Reporter::plain();
    let options = MergeOptions {
        dirs: args.dirs.clone(),
        out: args.out.clone(),
        redact: !args.no_redact,
        junit: args.junit.clone().filter(|p| !p.as_os_str().is_empty()),
        step_summary: args.step_summary.clone().filter(|p| !p.as_os_str().is_empty()),
    };
    let merged = match merge::merge(&options) {
        Ok(merged) => merged,
        Err(MergeError::Mismatch(why)) => return Err(CommandError::Usage(why)),
        Err(MergeError::Missing(why)) => return Err(CommandError::Infrastructure(why)),
        Err(MergeError::Altered(why)) => {
            reporter.line(format!("parity FAILED: {why}"));
            return Ok(Exit::ParityFailure);
        }
    };
    for shard in &merged.analysis.merged_from {
        reporter.line(format!(
            "shard {}: {} iteration(s), {} (exit {}) from {}",
            shard.shard, shard.iterations, shard.status, shard.exit_code, shard.dir
        ));
    }
    if let Some(cross) = &merged.analysis.cross {
        for line in crate::scenario::cross::render_matrix(&cross.matrix) {
            reporter.line(line);
        }
    }
    for error in &merged.errors {
        reporter.line(format!("warning: {error}"));
    }
    let written = args.out.join(crate::artifacts::PARITY_DIR);
    match &merged.tarball {
        Ok(path) => reporter.line(format!("merged into {}; tarball {}", written.display(), path.display())),
        Err(e) => reporter.line(format!("merged into {}; no tarball: {e}", written.display())),
    }
    // The console redacts every line itself.
    reporter.line(&merged.analysis.verdict);
    Ok(merged.exit)
}
