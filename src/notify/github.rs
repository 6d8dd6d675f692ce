//! GitHub feedback through the REST API: after a run, a PR comment and a
//! `parity-failure` label, an issue for a failing scheduled run, and a check
//! run; after a collection, the flakiness issue the runbook's variables
//! describe. An open issue from this tool is commented on, never duplicated.

use super::message::{self, RunContext};
use super::signature_issues::{self, Action, LifecyclePolicy, Links, Tracked, SIGNATURE_LABEL};
use crate::analysis::Analysis;
use crate::flakiness::github::api::{Api, Page};
use crate::flakiness::github::{GithubError, GithubSource, DEFAULT_ARTIFACT, DEFAULT_WORKFLOW};
use crate::flakiness::signatures::SignatureSummary;
use crate::flakiness::summary::CrossSummary;
use crate::flakiness::thresholds::Assessment;
use crate::redact::Redactor;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const RUN_FAILURE_LABEL: &str = "parity-failure";
pub const FLAKINESS_LABEL: &str = "parity-flakiness";
/// Hidden in the bodies of the issues this tool opens, to find them again.
const RUN_FAILURE_MARKER: &str = "<!-- webprofile-parity:run-failure -->";
const FLAKINESS_MARKER: &str = "<!-- webprofile-parity:flakiness -->";
pub const DEFAULT_CHECK_NAME: &str = "webprofile parity";

/// The GitHub Actions event the run belongs to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GithubEvent {
    /// GITHUB_EVENT_NAME: pull_request, schedule, push, workflow_dispatch…
    pub name: Option<String>,
    /// The PR number, from the event payload at GITHUB_EVENT_PATH.
    pub pull_request: Option<u64>,
    /// The commit to attach a check run to (the PR head, else GITHUB_SHA).
    pub sha: Option<String>,
}

#[derive(Deserialize)]
struct EventPayload {
    #[serde(default)]
    number: Option<u64>,
    #[serde(default)]
    pull_request: Option<PullRequestPayload>,
}

#[derive(Deserialize)]
struct PullRequestPayload {
    number: u64,
    #[serde(default)]
    head: Option<HeadPayload>,
}

#[derive(Deserialize)]
struct HeadPayload {
    sha: String,
}

impl GithubEvent {
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> GithubEvent {
        let name = env("GITHUB_EVENT_NAME");
        let payload: Option<EventPayload> = env("GITHUB_EVENT_PATH")
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| serde_json::from_str(&text).ok());
        let is_pr = name.as_deref().is_some_and(|n| n.starts_with("pull_request"));
        let pull_request = payload
            .as_ref()
            .filter(|_| is_pr)
            .and_then(|p| p.pull_request.as_ref().map(|pr| pr.number).or(p.number));
        let head = payload.and_then(|p| p.pull_request).and_then(|pr| pr.head).map(|h| h.sha);
        GithubEvent { name, pull_request, sha: head.or_else(|| env("GITHUB_SHA")) }
    }

    fn is_scheduled(&self) -> bool {
        self.name.as_deref() == Some("schedule")
    }
}

/// An issue to open, or to comment on when one of ours is open already.
#[derive(Clone, Debug, PartialEq)]
pub struct IssuePlan {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    /// Our label, to search open issues by.
    pub search_label: String,
    marker: &'static str,
}

/// Everything to send after a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunPlan {
    pub pr_comment: Option<(u64, String)>,
    pub pr_label: Option<u64>,
    pub issue: Option<IssuePlan>,
    pub check_run: Option<Value>,
    /// Why something usual is not sent (no SHA for the check run, say).
    pub notes: Vec<String>,
}

pub fn plan_after_run(
    outcome: &Analysis,
    context: &RunContext,
    event: &GithubEvent,
    check_name: &str,
) -> RunPlan {
    let mut plan = RunPlan::default();
    let summary = message::run_markdown(outcome, context);
    let failed = !outcome.passed();
    match (event.pull_request, failed) {
        (Some(pr), true) => {
            plan.pr_comment = Some((pr, summary.clone()));
            plan.pr_label = Some(pr);
        }
        (Some(_), false) => plan.notes.push("the run passed: no PR comment".into()),
        (None, _) if event.name.as_deref().is_some_and(|n| n.starts_with("pull_request")) => {
            plan.notes.push("GITHUB_EVENT_PATH has no pull request number: no PR comment".into())
        }
        _ => {}
    }
    if event.is_scheduled() && failed {
        plan.issue = Some(IssuePlan {
            title: "webprofile parity: scheduled run failed".into(),
            body: summary.clone(),
            labels: vec![RUN_FAILURE_LABEL.into()],
            assignees: Vec::new(),
            search_label: RUN_FAILURE_LABEL.into(),
            marker: RUN_FAILURE_MARKER,
        });
    }
    match &event.sha {
        Some(sha) => {
            let title = crate::report::outcome::headline(outcome).text;
            plan.check_run = Some(json!({
                "name": check_name,
                "head_sha": sha,
                "status": "completed",
                "conclusion": if failed { "failure" } else { "success" },
                "output": { "title": title, "summary": summary },
            }));
        }
        None => plan.notes.push("no commit SHA (GITHUB_SHA): no check run".into()),
    }
    plan
}

/// The runbook's issue variables, read once.
#[derive(Clone, Debug, PartialEq)]
pub struct IssuePolicy {
    /// SKIP_AUTO_ISSUE (default true): never open issues.
    pub skip: bool,
    /// ISSUE_RUN_THRESHOLD (default 3): failing runs that open an issue.
    pub run_threshold: u64,
    /// ISSUE_ITER_RATE_THRESHOLD (default 0.1): iteration failure rate that opens an issue.
    pub rate_threshold: f64,
    /// ISSUE_CREATE_AS_DRAFT (default true): `[DRAFT]` title prefix and a `draft` label.
    pub draft: bool,
    /// ISSUE_LABELS, comma-separated.
    pub labels: Vec<String>,
    /// ISSUE_ASSIGNEES, comma-separated.
    pub assignees: Vec<String>,
}

impl IssuePolicy {
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<IssuePolicy, String> {
        let get = |key: &str| env(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let flag = |key: &str, default: bool| match get(key) {
            None => Ok(default),
            Some(v) => crate::settings::bool_from(key, &v),
        };
        let list = |key: &str| {
            get(key)
                .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default()
        };
        let run_threshold = match get("ISSUE_RUN_THRESHOLD") {
            None => 3,
            Some(v) => {
                v.parse().map_err(|_| format!("ISSUE_RUN_THRESHOLD=`{v}`: expected a whole number"))?
            }
        };
        let rate_threshold = match get("ISSUE_ITER_RATE_THRESHOLD") {
            None => 0.1,
            Some(v) => crate::flakiness::thresholds::parse_rate_threshold(&v)
                .map_err(|e| format!("ISSUE_ITER_RATE_THRESHOLD=`{v}`: {e}"))?,
        };
        Ok(IssuePolicy {
            skip: flag("SKIP_AUTO_ISSUE", true)?,
            run_threshold,
            rate_threshold,
            draft: flag("ISSUE_CREATE_AS_DRAFT", true)?,
            labels: list("ISSUE_LABELS"),
            assignees: list("ISSUE_ASSIGNEES"),
        })
    }

    /// The issue to open after a collection, or why there is none.
    pub fn decide(
        &self,
        summary: &CrossSummary,
        judgement: &Assessment,
        dashboard_url: Option<&str>,
    ) -> Result<IssuePlan, String> {
        if self.skip {
            return Err("SKIP_AUTO_ISSUE is true (the default): no issue is opened".into());
        }
        let runs = summary.run_failures >= self.run_threshold;
        let rate = summary.iter_total > 0 && judgement.iter_rate >= self.rate_threshold;
        if !runs && !rate {
            return Err(format!(
                "below the issue thresholds ({} failing run(s) < {}, iteration failure rate {:.2}% < {:.2}%): no issue",
                summary.run_failures,
                self.run_threshold,
                judgement.iter_rate * 100.0,
                self.rate_threshold * 100.0
            ));
        }
        let mut labels = vec![FLAKINESS_LABEL.to_string()];
        if self.draft {
            labels.push("draft".into());
        }
        labels.extend(self.labels.iter().filter(|l| !labels.contains(l)).cloned().collect::<Vec<_>>());
        let title = format!(
            "{}webprofile parity: cross-instance failures above thresholds ({}/{} runs, {:.1}% of iterations)",
            if self.draft { "[DRAFT] " } else { "" },
            summary.run_failures,
            summary.run_total,
            judgement.iter_rate * 100.0
        );
        Ok(IssuePlan {
            title,
            body: message::collect_markdown(summary, judgement, dashboard_url),
            labels,
            assignees: self.assignees.clone(),
            search_label: FLAKINESS_LABEL.into(),
            marker: FLAKINESS_MARKER,
        })
    }
}

/// The body of `POST /repos/{repo}/issues`: assignees only when there are some.
fn new_issue(title: &str, body: &str, labels: &[String], assignees: &[String]) -> Value {
    let mut request = json!({ "title": title, "body": body, "labels": labels });
    if !assignees.is_empty() {
        request["assignees"] = json!(assignees);
    }
    request
}

/// Sends plans to one repository's API, or only prints them (`dry_run`).
pub struct Notifier {
    api: Option<Api>,
    repository: String,
    redactor: Redactor,
    /// Between two writes: GitHub asks for a second, against its secondary rate limits.
    write_pause: std::time::Duration,
}

/// The pause between writes unless PARITY_GITHUB_WRITE_PAUSE says otherwise.
pub const WRITE_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Deserialize)]
#[serde(transparent)]
struct IssueList(Vec<Issue>);

#[derive(Deserialize)]
struct Issue {
    number: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    pull_request: Option<Value>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    state: String,
    #[serde(default)]
    labels: Vec<IssueLabel>,
}

#[derive(Deserialize)]
struct IssueLabel {
    #[serde(default)]
    name: String,
}

impl Page for IssueList {
    type Item = Issue;
    fn items(self) -> Vec<Issue> {
        self.0
    }
}

impl Notifier {
    /// `None` unless GITHUB_REPOSITORY and GITHUB_TOKEN are set.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>, dry_run: bool) -> Option<Result<Notifier, String>> {
        let source = GithubSource::from_env(env, DEFAULT_WORKFLOW, DEFAULT_ARTIFACT, 1)?;
        let write_pause = match env("PARITY_GITHUB_WRITE_PAUSE") {
            None => Ok(WRITE_PAUSE),
            Some(text) => humantime::parse_duration(text.trim())
                .map_err(|e| format!("PARITY_GITHUB_WRITE_PAUSE=`{text}`: {e} (e.g. 1s, 500ms)")),
        };
        Some(source.map_err(|e| e.to_string()).and_then(|source| {
            let redactor = source.redactor();
            let api = if dry_run { None } else { Some(source.api().map_err(|e| e.to_string())?) };
            Ok(Notifier { api, repository: source.repository.clone(), redactor, write_pause: write_pause? })
        }))
    }

    fn clean(&self, e: &GithubError) -> String {
        self.redactor.redact(&e.to_string()).into_owned()
    }

    async fn send(&self, method: Method, path: &str, body: Value, what: &str) -> Result<Value, String> {
        let Some(api) = &self.api else {
            let body = serde_json::to_string_pretty(&body).unwrap_or_default();
            crate::progress::print_stdout(&format!(
                "dry run: would {method} /repos/{}/{path}\n{body}\n",
                self.repository
            ));
            return Ok(Value::Null);
        };
        let url = api.url(&format!("repos/{}/{path}", self.repository), &[]);
        api.call::<Value>(method, url, Some(&body), what).await.map_err(|e| self.clean(&e))
    }

    /// Sends every part of the plan; one line per thing done or failed.
    pub async fn run_plan(&self, plan: &RunPlan) -> Vec<Result<String, String>> {
        let mut done = Vec::new();
        if let Some((pr, body)) = &plan.pr_comment {
            let path = format!("issues/{pr}/comments");
            let sent = self.send(Method::POST, &path, json!({ "body": body }), "a PR comment").await;
            done.push(sent.map(|_| format!("commented on pull request #{pr}")));
        }
        if let Some(pr) = plan.pr_label {
            let body = json!({ "labels": [RUN_FAILURE_LABEL] });
            let path = format!("issues/{pr}/labels");
            let sent = self.send(Method::POST, &path, body, "a PR label").await;
            done.push(sent.map(|_| format!("labelled pull request #{pr} `{RUN_FAILURE_LABEL}`")));
        }
        if let Some(issue) = &plan.issue {
            done.push(self.open_or_comment(issue).await);
        }
        if let Some(check) = &plan.check_run {
            let sent = self.send(Method::POST, "check-runs", check.clone(), "a check run");
            let conclusion = check["conclusion"].as_str().unwrap_or("?").to_string();
            done.push(
                sent.await
                    .map(|_| format!("check run `{}`: {conclusion}", check["name"].as_str().unwrap_or(""))),
            );
        }
        done
    }

    /// Comments on our open issue when there is one, else opens a new one.
    pub async fn open_or_comment(&self, plan: &IssuePlan) -> Result<String, String> {
        let body = format!("{}\n\n{}", plan.body.trim_end(), plan.marker);
        if let Some(existing) = self.find_open(plan).await? {
            let path = format!("issues/{}/comments", existing.number);
            self.send(Method::POST, &path, json!({ "body": body }), "a comment on the open issue").await?;
            return Ok(format!(
                "issue #{} is already open: commented on it{}",
                existing.number,
                existing.html_url.map(|u| format!(" ({u})")).unwrap_or_default()
            ));
        }
        let request = new_issue(&plan.title, &body, &plan.labels, &plan.assignees);
        let created = self.send(Method::POST, "issues", request, "a new issue").await?;
        Ok(match created["number"].as_u64() {
            Some(n) => format!(
                "opened issue #{n}{}",
                created["html_url"].as_str().map(|u| format!(" ({u})")).unwrap_or_default()
            ),
            None => format!("would open issue \"{}\"", plan.title),
        })
    }

    /// Keeps one issue per failure signature in step with the collected runs
    /// (see [`signature_issues`]); one line per thing done or failed.
    pub async fn sync_signatures(
        &self,
        summary: &SignatureSummary,
        policy: &LifecyclePolicy,
        links: &Links,
    ) -> Vec<Result<String, String>> {
        let tracked = match self.signature_issues().await {
            Ok(tracked) => tracked,
            Err(e) => return vec![Err(format!("cannot list the signature issues: {e}"))],
        };
        let mut done = Vec::new();
        for (n, (signature, action)) in
            signature_issues::plan(summary, &tracked, policy, links).into_iter().enumerate()
        {
            if n > 0 {
                self.pause_between_writes().await;
            }
            let what = action.describe(&signature);
            done.push(
                self.apply(action).await.map(|_| what.clone()).map_err(|e| format!("could not {what}: {e}")),
            );
        }
        done
    }

    /// GitHub asks for a second between writes (its secondary rate limits); a dry run does not wait.
    async fn pause_between_writes(&self) {
        if self.api.is_some() {
            tokio::time::sleep(self.write_pause).await;
        }
    }

    async fn apply(&self, action: Action) -> Result<(), String> {
        match action {
            Action::Open { title, body, labels, assignees } => {
                let request = new_issue(&title, &body, &labels, &assignees);
                self.send(Method::POST, "issues", request, "a signature issue").await?;
            }
            Action::Recur { number, comment, body, reopen } => {
                let path = format!("issues/{number}/comments");
                self.send(Method::POST, &path, json!({ "body": comment }), "a recurrence comment").await?;
                self.pause_between_writes().await;
                let mut update = json!({ "body": body });
                if reopen {
                    update["state"] = json!("open");
                }
                self.send(Method::PATCH, &format!("issues/{number}"), update, "the issue's update").await?;
            }
            Action::AddLabels { number, labels } => {
                let path = format!("issues/{number}/labels");
                self.send(Method::POST, &path, json!({ "labels": labels }), "labels").await?;
            }
            Action::Close { number, comment } => {
                let path = format!("issues/{number}/comments");
                self.send(Method::POST, &path, json!({ "body": comment }), "a closing comment").await?;
                self.pause_between_writes().await;
                let update = json!({ "state": "closed", "state_reason": "completed" });
                self.send(Method::PATCH, &format!("issues/{number}"), update, "closing the issue").await?;
            }
        }
        Ok(())
    }

    /// Every issue (open or closed) with a signature marker, by signature;
    /// the oldest when a signature has more than one.
    async fn signature_issues(&self) -> Result<BTreeMap<String, Tracked>, String> {
        let Some(api) = &self.api else {
            crate::progress::print_stdout(&format!(
                "dry run: would list the issues labelled `{SIGNATURE_LABEL}` (open and closed) to find each signature's issue\n"
            ));
            return Ok(BTreeMap::new());
        };
        let query = [("state", "all"), ("labels", SIGNATURE_LABEL), ("per_page", "100")];
        let url = api.url(&format!("repos/{}/issues", self.repository), &query);
        let issues =
            api.all_pages::<IssueList>(url, "the signature issues").await.map_err(|e| self.clean(&e))?;
        let mut tracked = BTreeMap::new();
        for issue in issues.into_iter().filter(|i| i.pull_request.is_none()) {
            let Some((signature, last_run)) = issue.body.as_deref().and_then(signature_issues::read_marker)
            else {
                continue;
            };
            let found = Tracked {
                number: issue.number,
                open: issue.state != "closed",
                labels: issue.labels.into_iter().map(|l| l.name).collect(),
                last_run,
            };
            match tracked.get(&signature) {
                Some(Tracked { number, .. }) if *number < found.number => {}
                _ => {
                    tracked.insert(signature, found);
                }
            }
        }
        Ok(tracked)
    }

    async fn find_open(&self, plan: &IssuePlan) -> Result<Option<Issue>, String> {
        let Some(api) = &self.api else {
            crate::progress::print_stdout(&format!(
                "dry run: would look for an open issue labelled `{}` to comment on instead\n",
                plan.search_label
            ));
            return Ok(None);
        };
        let query = [("state", "open"), ("labels", plan.search_label.as_str()), ("per_page", "100")];
        let url = api.url(&format!("repos/{}/issues", self.repository), &query);
        let issues = api.all_pages::<IssueList>(url, "the open issues").await.map_err(|e| self.clean(&e))?;
        Ok(issues
            .into_iter()
            .find(|i| i.pull_request.is_none() && i.body.as_deref().is_some_and(|b| b.contains(plan.marker))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flakiness::thresholds::Thresholds;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
    }

    fn failed() -> Analysis {
        serde_json::from_str(r#"{"status": "fail"}"#).unwrap()
    }

    #[test]
    fn a_pull_request_event_gives_its_number_and_head_sha() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(&path, r#"{"number": 42, "pull_request": {"number": 42, "head": {"sha": "abc123"}}}"#)
            .unwrap();
        let path = path.to_string_lossy().into_owned();
        let event = GithubEvent::from_env(&env(&[
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", &path),
            ("GITHUB_SHA", "merge-sha"),
        ]));
        assert_eq!(event.pull_request, Some(42));
        assert_eq!(event.sha.as_deref(), Some("abc123"));
        let push =
            GithubEvent::from_env(&env(&[("GITHUB_EVENT_NAME", "push"), ("GITHUB_EVENT_PATH", &path)]));
        assert_eq!(push.pull_request, None, "only pull_request events comment");
    }

    #[test]
    fn failures_comment_and_label_prs_open_issues_on_schedule_and_always_check() {
        let context = RunContext::default();
        let pr =
            GithubEvent { name: Some("pull_request".into()), pull_request: Some(7), sha: Some("s".into()) };
        let plan = plan_after_run(&failed(), &context, &pr, DEFAULT_CHECK_NAME);
        assert_eq!(plan.pr_comment.as_ref().map(|c| c.0), Some(7));
        assert_eq!(plan.pr_label, Some(7));
        assert!(plan.issue.is_none());
        assert_eq!(plan.check_run.as_ref().unwrap()["conclusion"], "failure");

        let passed: Analysis = serde_json::from_str(r#"{"status": "pass"}"#).unwrap();
        let plan = plan_after_run(&passed, &context, &pr, DEFAULT_CHECK_NAME);
        assert!(plan.pr_comment.is_none() && plan.pr_label.is_none());
        assert_eq!(plan.check_run.unwrap()["conclusion"], "success");

        let schedule = GithubEvent { name: Some("schedule".into()), pull_request: None, sha: None };
        let plan = plan_after_run(&failed(), &context, &schedule, DEFAULT_CHECK_NAME);
        assert_eq!(plan.issue.unwrap().labels, [RUN_FAILURE_LABEL]);
        assert!(plan.check_run.is_none() && plan.notes.iter().any(|n| n.contains("GITHUB_SHA")));
    }

    #[test]
    fn issue_policy_defaults_follow_the_runbook() {
        let policy = IssuePolicy::from_env(&env(&[])).unwrap();
        assert_eq!(
            policy,
            IssuePolicy {
                skip: true,
                run_threshold: 3,
                rate_threshold: 0.1,
                draft: true,
                labels: vec![],
                assignees: vec![]
            }
        );
        let e = IssuePolicy::from_env(&env(&[("SKIP_AUTO_ISSUE", "maybe")])).unwrap_err();
        assert!(e.contains("SKIP_AUTO_ISSUE"), "{e}");
    }

    #[test]
    fn issues_open_only_when_not_skipped_and_an_issue_threshold_is_met() {
        let summary = CrossSummary {
            run_total: 10,
            run_failures: 3,
            iter_total: 100,
            iter_failures: 4,
            ..Default::default()
        };
        let judgement = Thresholds::default().judge(&summary);
        let skip = IssuePolicy::from_env(&env(&[])).unwrap();
        assert!(skip.decide(&summary, &judgement, None).unwrap_err().contains("SKIP_AUTO_ISSUE"));

        let vars =
            [("SKIP_AUTO_ISSUE", "false"), ("ISSUE_LABELS", "bug, parity"), ("ISSUE_ASSIGNEES", "alice,bob")];
        let policy = IssuePolicy::from_env(&env(&vars)).unwrap();
        let plan = policy.decide(&summary, &judgement, None).unwrap();
        assert!(plan.title.starts_with("[DRAFT] webprofile parity:"), "{}", plan.title);
        assert_eq!(plan.labels, [FLAKINESS_LABEL, "draft", "bug", "parity"]);
        assert_eq!(plan.assignees, ["alice", "bob"]);

        let fewer = CrossSummary { run_failures: 2, ..summary.clone() };
        let reason = policy.decide(&fewer, &Thresholds::default().judge(&fewer), None).unwrap_err();
        assert!(reason.contains("below the issue thresholds"), "{reason}");

        let not_draft = IssuePolicy { draft: false, ..policy };
        let plan = not_draft.decide(&summary, &judgement, None).unwrap();
        assert!(!plan.title.starts_with("[DRAFT]") && !plan.labels.contains(&"draft".to_string()));
    }
}
