//! Telling people: a Slack message after a failing run or a collection, and
//! GitHub comments, labels, issues and check runs. Every failure here is a
//! warning for the caller, never a crash, and no webhook URL or token ever
//! reaches a message, a log or an artifact.

pub mod github;
pub mod message;
pub mod signature_issues;
pub mod slack;

use crate::flakiness::signatures::SignatureSummary;
use crate::flakiness::summary::CrossSummary;
use crate::flakiness::thresholds::Assessment;
use crate::progress::Reporter;
use signature_issues::LifecyclePolicy;

/// Who is told after `parity collect`, and how.
#[derive(Clone, Debug, Default)]
pub struct CollectNotice {
    pub slack_webhook: Option<String>,
    pub dashboard_url: Option<String>,
    /// Print instead of sending.
    pub dry_run: bool,
}

/// After `parity collect`: the weekly Slack summary (when SLACK_WEBHOOK is
/// set) and the flakiness issue (when the runbook's variables ask for it).
/// Failures are warnings: the collector's exit code stays its own.
pub async fn after_collect(
    summary: &CrossSummary,
    judgement: &Assessment,
    signatures: &SignatureSummary,
    notice: &CollectNotice,
    env: &crate::settings::Env<'_>,
) {
    let reporter = Reporter::plain();
    let dashboard = notice.dashboard_url.as_deref().filter(|u| !u.is_empty());
    if let Some(slack) = slack::Slack::from_webhook(notice.slack_webhook.as_deref()) {
        let text = message::collect_slack(summary, judgement, dashboard);
        post_to_slack(slack, &text, notice.dry_run, reporter).await;
    }
    let policy = match LifecyclePolicy::from_env(env) {
        Ok(policy) => policy,
        Err(e) => return reporter.line(format!("warning: no GitHub issue: {e}")),
    };
    if policy.issues.skip {
        return reporter.line("GitHub issues: SKIP_AUTO_ISSUE is true (the default): no issue is opened");
    }
    let notifier = match github::Notifier::from_env(env, notice.dry_run) {
        None => {
            return reporter.line("GitHub issues: GITHUB_REPOSITORY / GITHUB_TOKEN are not set: no issue")
        }
        Some(Err(e)) => return reporter.line(format!("warning: no GitHub issue: {e}")),
        Some(Ok(notifier)) => notifier,
    };
    match policy.issues.decide(summary, judgement, dashboard) {
        Ok(plan) => match notifier.open_or_comment(&plan).await {
            Ok(done) => reporter.line(format!("GitHub: {done}")),
            Err(e) => reporter.line(format!("warning: GitHub issue not opened: {e}")),
        },
        Err(why) => reporter.line(format!("GitHub issue: {why}")),
    }
    let links = signature_issues::Links::from_env(env, dashboard);
    for result in notifier.sync_signatures(signatures, &policy, &links).await {
        match result {
            Ok(done) => reporter.line(format!("GitHub: {done}")),
            Err(e) => reporter.line(format!("warning: GitHub: {e}")),
        }
    }
}

/// Posts, or prints in a dry run; a failure is one warning line.
pub async fn post_to_slack(
    slack: Result<slack::Slack, String>,
    text: &str,
    dry_run: bool,
    reporter: Reporter,
) {
    match slack {
        Err(e) => reporter.line(format!("warning: not posting to Slack: {e}")),
        Ok(_) if dry_run => {
            crate::progress::print_stdout(&format!("dry run: would post to Slack:\n{text}\n"))
        }
        Ok(slack) => match slack.post(text).await {
            Ok(()) => reporter.line("posted the summary to Slack"),
            Err(e) => reporter.line(format!("warning: could not post to Slack: {e}")),
        },
    }
}
