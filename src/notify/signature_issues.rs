//! One GitHub issue per failure signature, kept in step with the collected
//! runs by `parity collect`: opened when a signature is first seen, a
//! comment on each run it recurs in, `needs-regression-test` once it has
//! failed more than 3 runs, `major` from 3 runs in a row (the runbook's
//! "repeated scheduled failures"), closed with a comment after
//! `ISSUE_CLOSE_AFTER` clean runs, reopened when it comes back. The issue
//! list is then the list of live failures.
//!
//! Stateless: what to do is planned from the signatures and the issues
//! GitHub holds, each found again by a hidden marker naming its signature
//! and the last run it reported, so a second collection of the same runs
//! changes nothing.

use super::github::IssuePolicy;
use crate::flakiness::signatures::{SignatureRow, SignatureSummary};

/// Every signature issue carries it (and is listed by it).
pub const SIGNATURE_LABEL: &str = "parity-signature";
pub const REGRESSION_LABEL: &str = "needs-regression-test";
pub const MAJOR_LABEL: &str = "major";
/// More runs than this and a regression test is asked for (the runbook's "more than 3 times").
pub const REGRESSION_AFTER_RUNS: u64 = 3;
/// This many failing runs in a row is major (the runbook's 3 consecutive scheduled failures).
pub const MAJOR_IN_A_ROW: u64 = 3;
/// Clean runs after which an issue closes, unless ISSUE_CLOSE_AFTER says otherwise.
pub const DEFAULT_CLOSE_AFTER: u64 = 10;

const MARKER_PREFIX: &str = "<!-- webprofile-parity:signature:";

/// The hidden line in an issue's body: its signature and the last run it reported.
pub fn marker(signature_id: &str, run: &str) -> String {
    format!("{MARKER_PREFIX}{signature_id} run:{run} -->")
}

/// (signature id, last run reported) from an issue body.
pub fn read_marker(body: &str) -> Option<(String, String)> {
    let rest = &body[body.find(MARKER_PREFIX)? + MARKER_PREFIX.len()..];
    let inside = &rest[..rest.find("-->")?];
    let (id, run) = inside.trim().split_once(" run:")?;
    Some((id.trim().to_string(), run.trim().to_string()))
}

/// The lifecycle's settings: the runbook's issue variables and ISSUE_CLOSE_AFTER.
#[derive(Clone, Debug, PartialEq)]
pub struct LifecyclePolicy {
    pub issues: IssuePolicy,
    pub close_after: u64,
}

impl LifecyclePolicy {
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<LifecyclePolicy, String> {
        let close_after =
            match env("ISSUE_CLOSE_AFTER").map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
                None => DEFAULT_CLOSE_AFTER,
                Some(v) => v.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    format!("ISSUE_CLOSE_AFTER=`{v}`: expected a whole number of runs, at least 1")
                })?,
            };
        Ok(LifecyclePolicy { issues: IssuePolicy::from_env(env)?, close_after })
    }
}

/// A signature's issue as GitHub holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Tracked {
    pub number: u64,
    pub open: bool,
    pub labels: Vec<String>,
    /// The last run its marker names.
    pub last_run: String,
}

/// One thing to do on GitHub.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Open {
        title: String,
        body: String,
        labels: Vec<String>,
        assignees: Vec<String>,
    },
    /// A comment on a recurrence, the body's marker moved to this run, and
    /// the issue reopened when it was closed.
    Recur {
        number: u64,
        comment: String,
        body: String,
        reopen: bool,
    },
    AddLabels {
        number: u64,
        labels: Vec<String>,
    },
    Close {
        number: u64,
        comment: String,
    },
}

impl Action {
    /// What it does, in one line (printed as it is done).
    pub fn describe(&self, signature: &str) -> String {
        match self {
            Action::Open { title, .. } => format!("open an issue for {signature}: \"{title}\""),
            Action::Recur { number, reopen: true, .. } => {
                format!("reopen #{number} ({signature} recurred) and comment")
            }
            Action::Recur { number, .. } => format!("comment on #{number} ({signature} recurred)"),
            Action::AddLabels { number, labels } => format!("label #{number} {}", labels.join(", ")),
            Action::Close { number, .. } => format!("close #{number} ({signature} is clean)"),
        }
    }
}

/// Where a collected run can be seen (its GitHub Actions run, when its id is one).
#[derive(Clone, Debug, Default)]
pub struct Links {
    /// `https://github.com/<owner>/<repo>`, from GITHUB_SERVER_URL and GITHUB_REPOSITORY.
    pub repository_url: Option<String>,
    pub dashboard_url: Option<String>,
}

impl Links {
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>, dashboard_url: Option<&str>) -> Links {
        let repository_url = match (env("GITHUB_SERVER_URL"), env("GITHUB_REPOSITORY")) {
            (Some(server), Some(repo)) => Some(format!("{}/{repo}", server.trim_end_matches('/'))),
            _ => None,
        };
        Links { repository_url, dashboard_url: dashboard_url.map(str::to_string) }
    }

    fn run(&self, id: &str) -> String {
        match (&self.repository_url, id.parse::<u64>()) {
            (Some(repo), Ok(_)) => format!("[run {id}]({repo}/actions/runs/{id})"),
            _ => format!("run `{id}`"),
        }
    }
}

/// What to do for every signature, in the summary's order (live ones first).
pub fn plan(
    summary: &SignatureSummary,
    tracked: &std::collections::BTreeMap<String, Tracked>,
    policy: &LifecyclePolicy,
    links: &Links,
) -> Vec<(String, Action)> {
    let mut actions = Vec::new();
    for row in &summary.signatures {
        let id = row.signature.id.clone();
        let newest = &row.last_seen.id;
        match tracked.get(&id) {
            None if row.live() => actions.push((id.clone(), open(row, summary, policy, links))),
            None => {}
            Some(issue) if row.live() => {
                if issue.last_run != *newest {
                    actions.push((
                        id.clone(),
                        Action::Recur {
                            number: issue.number,
                            comment: recurrence(row, summary, links, !issue.open),
                            body: body(row, summary, policy, links),
                            reopen: !issue.open,
                        },
                    ));
                }
                let missing: Vec<String> =
                    labels_earned(row).into_iter().filter(|l| !issue.labels.contains(l)).collect();
                if !missing.is_empty() {
                    actions.push((id.clone(), Action::AddLabels { number: issue.number, labels: missing }));
                }
            }
            Some(issue) if issue.open && row.clean_since >= policy.close_after => {
                let comment = format!(
                    "No recurrence in {} consecutive clean run(s) since {} (ISSUE_CLOSE_AFTER is {}): closing. \
                     It reopens if the failure comes back.",
                    row.clean_since,
                    links.run(&row.last_seen.id),
                    policy.close_after
                );
                actions.push((id.clone(), Action::Close { number: issue.number, comment }));
            }
            Some(_) => {}
        }
    }
    actions
}

fn labels_earned(row: &SignatureRow) -> Vec<String> {
    let mut labels = Vec::new();
    if row.runs > REGRESSION_AFTER_RUNS {
        labels.push(REGRESSION_LABEL.to_string());
    }
    if row.consecutive >= MAJOR_IN_A_ROW {
        labels.push(MAJOR_LABEL.to_string());
    }
    labels
}

fn open(row: &SignatureRow, summary: &SignatureSummary, policy: &LifecyclePolicy, links: &Links) -> Action {
    let issues = &policy.issues;
    let mut labels = vec![SIGNATURE_LABEL.to_string()];
    if issues.draft {
        labels.push("draft".into());
    }
    for label in labels_earned(row).into_iter().chain(issues.labels.iter().cloned()) {
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    let title = format!(
        "{}webprofile parity: {} — {} ({})",
        if issues.draft { "[DRAFT] " } else { "" },
        row.signature.class,
        crate::escape::excerpt(&crate::escape::one_line(&row.signature.what), 160),
        row.signature.id
    );
    Action::Open {
        title,
        body: body(row, summary, policy, links),
        labels,
        assignees: issues.assignees.clone(),
    }
}

/// The issue's description: the signature, its counts, the newest example
/// and packet, how the issue is kept, and the marker.
fn body(row: &SignatureRow, summary: &SignatureSummary, policy: &LifecyclePolicy, links: &Links) -> String {
    let mut text = format!(
        "A failure signature of the webprofile parity runs: **{}** — {}.\n\n\
         | signature | first seen | last seen | runs seen | in a row | occurrences |\n\
         |---|---|---|---|---|---|\n\
         | `{}` | {} | {} | {} of {} | {} | {} |\n\n",
        row.signature.class,
        crate::escape::one_line(&row.signature.what).replace('|', "\\|"),
        row.signature.id,
        links.run(&row.first_seen.id),
        links.run(&row.last_seen.id),
        row.runs,
        summary.runs,
        row.consecutive,
        row.occurrences,
    );
    text.push_str(&newest(row, links));
    if let Some(url) = &links.dashboard_url {
        text.push_str(&format!("Dashboard: {url}\n\n"));
    }
    text.push_str(&format!(
        "_Kept by `parity collect`: a comment on each run it recurs in, `{REGRESSION_LABEL}` past \
         {REGRESSION_AFTER_RUNS} runs, `{MAJOR_LABEL}` from {MAJOR_IN_A_ROW} runs in a row, closed after {} \
         clean runs (ISSUE_CLOSE_AFTER), reopened if it comes back. `parity signatures` lists every \
         signature._\n\n{}\n",
        policy.close_after,
        marker(&row.signature.id, &row.last_seen.id)
    ));
    text
}

/// The newest occurrence: its reason, its evidence packet and how to replay it.
fn newest(row: &SignatureRow, links: &Links) -> String {
    let mut text = String::new();
    if let Some(example) = &row.example {
        text.push_str(&format!(
            "Newest, in {}:\n\n```\n{}\n```\n\n",
            links.run(&row.last_seen.id),
            crate::escape::excerpt(example, 600).replace("```", "'''")
        ));
    }
    if let Some(packet) = &row.packet {
        text.push_str(&format!(
            "Evidence packet `webprofile-parity/evidence/{packet}/` in that run's artifact \
             (`webprofile-parity-artifacts`); replay it with \
             `parity replay webprofile-parity/evidence/{packet}`.\n\n"
        ));
    }
    text
}

fn recurrence(row: &SignatureRow, summary: &SignatureSummary, links: &Links, reopened: bool) -> String {
    let head = if reopened {
        format!("**Recurred after it was closed**, in {}.", links.run(&row.last_seen.id))
    } else {
        format!("Recurred in {}.", links.run(&row.last_seen.id))
    };
    format!(
        "{head} Seen in {} of {} collected run(s), {} in a row; {} occurrence(s) in all.\n\n{}",
        row.runs,
        summary.runs,
        row.consecutive,
        row.occurrences,
        newest(row, links)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flakiness::signatures::RunRef;
    use crate::verdict::{FailureClass, Signature};
    use std::collections::BTreeMap;

    fn policy() -> LifecyclePolicy {
        let env = |key: &str| match key {
            "SKIP_AUTO_ISSUE" => Some("false".to_string()),
            "ISSUE_CLOSE_AFTER" => Some("2".to_string()),
            "ISSUE_LABELS" => Some("parity".to_string()),
            _ => None,
        };
        LifecyclePolicy::from_env(&env).unwrap()
    }

    fn row(runs: u64, consecutive: u64, clean_since: u64, last: &str) -> SignatureRow {
        SignatureRow {
            signature: Signature::cross(FailureClass::StaleRead, "instance1", "instance2", ""),
            first_seen: RunRef { id: "1".into(), ..RunRef::default() },
            last_seen: RunRef { id: last.into(), ..RunRef::default() },
            runs,
            occurrences: runs * 2,
            consecutive,
            clean_since,
            trend: Vec::new(),
            example: Some("stale read: instance2 still answered active:true".into()),
            packet: Some("iteration-2".into()),
        }
    }

    fn summary(row: SignatureRow) -> SignatureSummary {
        SignatureSummary { runs: 9, signatures: vec![row], ..SignatureSummary::default() }
    }

    #[test]
    fn markers_round_trip_and_a_close_after_of_zero_is_refused() {
        let body = format!("text\n\n{}\n", marker("a1fa39f131a8", "12345"));
        assert_eq!(read_marker(&body), Some(("a1fa39f131a8".into(), "12345".into())));
        assert_eq!(read_marker("no marker"), None);
        let env = |key: &str| (key == "ISSUE_CLOSE_AFTER").then(|| "0".to_string());
        assert!(LifecyclePolicy::from_env(&env).unwrap_err().contains("ISSUE_CLOSE_AFTER"));
        assert_eq!(LifecyclePolicy::from_env(&|_| None).unwrap().close_after, DEFAULT_CLOSE_AFTER);
    }

    #[test]
    fn a_signature_opens_recurs_earns_labels_closes_and_reopens() {
        let (policy, links) = (policy(), Links::default());
        let none = BTreeMap::new();
        let first = summary(row(1, 1, 0, "1"));
        let actions = plan(&first, &none, &policy, &links);
        let [(_, Action::Open { title, body, labels, .. })] = &actions[..] else { panic!("{actions:?}") };
        assert!(
            title.starts_with("[DRAFT] webprofile parity: stale-read — instance1 → instance2"),
            "{title}"
        );
        assert_eq!(labels, &[SIGNATURE_LABEL, "draft", "parity"]);
        assert!(body.contains("parity replay webprofile-parity/evidence/iteration-2"), "{body}");
        assert_eq!(read_marker(body).unwrap().1, "1");

        let id = first.signatures[0].signature.id.clone();
        let tracked = |open: bool, labels: &[&str], last_run: &str| {
            BTreeMap::from([(
                id.clone(),
                Tracked {
                    number: 7,
                    open,
                    labels: labels.iter().map(|l| l.to_string()).collect(),
                    last_run: last_run.into(),
                },
            )])
        };
        // The same run collected again: nothing to do.
        assert!(plan(&first, &tracked(true, &[SIGNATURE_LABEL], "1"), &policy, &links).is_empty());

        // A fourth run in a row: a comment, and both labels.
        let fourth = summary(row(4, 4, 0, "4"));
        let actions = plan(&fourth, &tracked(true, &[SIGNATURE_LABEL], "3"), &policy, &links);
        assert!(matches!(&actions[0].1, Action::Recur { number: 7, reopen: false, .. }), "{actions:?}");
        assert_eq!(
            actions[1].1,
            Action::AddLabels { number: 7, labels: vec![REGRESSION_LABEL.into(), MAJOR_LABEL.into()] }
        );

        // One clean run is not enough to close at ISSUE_CLOSE_AFTER=2; two are.
        assert!(plan(&summary(row(4, 0, 1, "4")), &tracked(true, &[], "4"), &policy, &links).is_empty());
        let actions = plan(&summary(row(4, 0, 2, "4")), &tracked(true, &[], "4"), &policy, &links);
        assert!(matches!(&actions[..], [(_, Action::Close { number: 7, .. })]), "{actions:?}");
        assert!(plan(&summary(row(4, 0, 5, "4")), &tracked(false, &[], "4"), &policy, &links).is_empty());

        // Back after closing: reopened, with a comment saying so.
        let back = summary(row(5, 1, 0, "9"));
        let labels = [REGRESSION_LABEL, MAJOR_LABEL];
        let actions = plan(&back, &tracked(false, &labels, "4"), &policy, &links);
        let [(_, Action::Recur { reopen: true, comment, .. })] = &actions[..] else { panic!("{actions:?}") };
        assert!(comment.contains("Recurred after it was closed"), "{comment}");
    }
}
