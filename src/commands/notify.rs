//! `parity notify github`: after a run, tell GitHub.

use super::CommandError;
use crate::artifacts::{names, PARITY_DIR};
use crate::cli::NotifyGithubArgs;
use crate::exit::Exit;
use crate::notify::{github, message::RunContext};
use crate::progress::Reporter;
use crate::settings::process_env;

/// 0 when everything was sent, 3 when GitHub failed.
pub async fn github(args: &NotifyGithubArgs) -> Result<Exit, CommandError> {
    let reporter = Reporter::plain();
    let path = args.out.join(PARITY_DIR).join(names::ANALYSIS_JSON);
    let outcome = crate::artifacts::read_analysis(&path).map_err(|e| {
        CommandError::Usage(format!("{e}; run `parity run --out {}` first", args.out.display()))
    })?;
    let notifier = match github::Notifier::from_env(&process_env, args.dry_run) {
        None => {
            return Err(CommandError::Usage(
                "GITHUB_REPOSITORY and GITHUB_TOKEN must be set (GitHub Actions sets them)".into(),
            ))
        }
        Some(Err(e)) => return Err(CommandError::Usage(e)),
        Some(Ok(notifier)) => notifier,
    };
    let plan = github::plan_after_run(
        &outcome,
        &RunContext::from_env(&process_env),
        &github::GithubEvent::from_env(&process_env),
        &args.check_name,
    );
    for note in &plan.notes {
        reporter.line(format!("GitHub: {note}"));
    }
    let mut failed = false;
    for result in notifier.run_plan(&plan).await {
        match result {
            Ok(done) => reporter.line(format!("GitHub: {done}")),
            Err(e) => {
                failed = true;
                reporter.line(format!("GitHub: {e}"));
            }
        }
    }
    Ok(if failed { Exit::Infrastructure } else { Exit::Ok })
}
