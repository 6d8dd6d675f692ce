//! `parity clean`: what earlier runs left in Docker.

use super::CommandError;
use crate::cli::CleanArgs;
use crate::exit::Exit;
use crate::progress::Reporter;
use crate::stack::docker::clean;

/// 0 when everything eligible was removed, else 3.
pub async fn run(args: &CleanArgs) -> Result<Exit, CommandError> {
    let reporter = Reporter::detect();
    let report = clean::clean(args.all, args.dry_run, reporter)
        .await
        .map_err(|e| CommandError::Infrastructure(e.to_string()))?;
    let verb = if args.dry_run { "would remove" } else { "removed" };
    reporter.line(format!(
        "clean: {verb} {}, kept {}, failed {}",
        report.removed.len(),
        report.kept.len(),
        report.failed.len()
    ));
    Ok(if report.failed.is_empty() { Exit::Ok } else { Exit::Infrastructure })
}
