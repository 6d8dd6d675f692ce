//! The diff for people and for CI: `diff.txt` (differences first, each with
//! both requests and responses), a self-contained `diff.html` (side by side,
//! escaped by `maud`, nothing fetched) and JUnit with one case per step.
//! Pure functions: the command writes the files.

use super::report::{CrossFinding, DiffReport, ExchangeView, Judged, SecurityFinding, StepResult, Verdict};
use crate::escape;
use maud::{html, Markup, DOCTYPE};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use serde_json::Value;
use std::fmt::Write as _;
use std::time::Duration;

/// Characters of a body shown in text and HTML; the JSON keeps what was recorded.
const SHOWN_BODY: usize = 4000;

pub const JUNIT_SUITE: &str = "differential-parity";

fn value(v: &Value) -> String {
    match v {
        Value::Null => "(absent)".into(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn judged_line(d: &Judged) -> String {
    let tail = match (&d.verdict, &d.rule) {
        (Verdict::Accepted, Some(rule)) => format!("  [accepted: {rule}]"),
        (Verdict::Noise, _) => "  [noise: the reference differs from itself here]".into(),
        _ => String::new(),
    };
    escape::one_line(&format!(
        "{}: reference {} ≠ candidate {}{tail}",
        d.difference.path,
        value(&d.difference.reference),
        value(&d.difference.candidate)
    ))
}

/// The diff's four files, named and rendered, for whoever writes them
/// (`parity diff`, or a run's artifact directory under `diff/`).
pub fn files(report: &DiffReport) -> [(&'static str, String); 4] {
    let json = serde_json::to_string_pretty(report).expect("the report serializes") + "\n";
    [
        ("diff.json", json),
        ("diff.txt", text(report)),
        ("diff.html", html(report)),
        ("junit.xml", junit(report)),
    ]
}

/// One console line per step that differs: which fields.
pub fn difference_lines(report: &DiffReport) -> Vec<String> {
    report
        .steps
        .iter()
        .filter(|s| s.verdict == Verdict::Different)
        .map(|s| {
            let paths: Vec<&str> =
                s.differences_with(Verdict::Different).map(|d| d.difference.path.as_str()).collect();
            format!("diff: {} differs in {}", s.name, paths.join(", "))
        })
        .collect()
}

/// A body as shown: escaped, cut, binary and large bodies by size and hash.
fn shown_body(view: &ExchangeView) -> String {
    if view.binary || view.truncated {
        let what = if view.truncated { "large body" } else { "binary body" };
        return format!(
            "[{what}: {} bytes{}, {}]",
            view.body_bytes,
            if view.body_complete { "" } else { " or more" },
            view.body_sha256
        );
    }
    let body = escape::lines(view.body.trim_end_matches('\n'));
    if body.chars().count() > SHOWN_BODY {
        body.chars().take(SHOWN_BODY).collect::<String>() + "…"
    } else {
        body
    }
}

fn request_line(view: &ExchangeView) -> String {
    escape::one_line(&format!(
        "{} {}{}  ({}, auth={})",
        view.method,
        view.url,
        view.path,
        view.instance,
        serde_json::to_value(view.auth).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    ))
}

fn response_line(view: &ExchangeView) -> String {
    match (view.status, &view.error) {
        (Some(status), _) => escape::one_line(&format!(
            "{status}{}{} ({:.1} ms)",
            view.content_type.as_ref().map(|c| format!(" [{c}]")).unwrap_or_default(),
            view.location.as_ref().map(|l| format!(" Location: {l}")).unwrap_or_default(),
            view.latency_ms
        )),
        (None, error) => escape::one_line(&format!(
            "no response ({:.1} ms): {}",
            view.latency_ms,
            error.as_deref().unwrap_or("unknown error")
        )),
    }
}

fn cross_line(f: &CrossFinding) -> String {
    escape::one_line(&format!("{} ({} lane): {}", f.step, f.lane, f.what))
}

fn finding_line(f: &SecurityFinding) -> String {
    escape::one_line(&format!("{}: {} — {}", f.step, f.effect.describe(), f.observed))
}

fn text_exchange(out: &mut String, label: &str, view: &ExchangeView) {
    let _ = writeln!(out, "  {label}:");
    let _ = writeln!(out, "    >>> {}", request_line(view));
    if let Some(body) = &view.request_body {
        let _ = writeln!(out, "    {}", escape::one_line(body));
    }
    let _ = writeln!(out, "    <<< {}", response_line(view));
    for line in shown_body(view).lines() {
        let _ = writeln!(out, "    {line}");
    }
}

fn text_step(out: &mut String, step: &StepResult) {
    let _ = writeln!(out, "[{}] {}", step.verdict.name(), step.name);
    if let Some(why) = &step.skipped {
        let _ = writeln!(out, "  {}: {}", step.verdict.name(), escape::one_line(why));
        if step.verdict == Verdict::Skipped {
            return;
        }
    }
    for d in &step.differences {
        let _ = writeln!(out, "  - {}", judged_line(d));
    }
    if let (Some(r), Some(c)) = (&step.reference, &step.candidate) {
        text_exchange(out, "reference", r);
        text_exchange(out, "candidate", c);
    }
}

pub fn text(report: &DiffReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", report.headline());
    let _ = writeln!(out, "reference: {}", report.reference.join(" "));
    let _ = writeln!(out, "candidate: {}", report.candidate.join(" "));
    let _ = writeln!(out, "rules: {}", report.rules_file.as_deref().unwrap_or("none"));
    let _ = writeln!(
        out,
        "harness time: {:.3} ms per compared pair beyond the services' own ({:.1} ms wall, {:.1} ms in the services)\n",
        report.timing.harness_ms_per_pair, report.timing.wall_ms, report.timing.services_ms
    );
    if !report.cross_implementation.is_empty() {
        let _ = writeln!(
            out,
            "== CROSS-IMPLEMENTATION: tokens one build minted and the other revoked, still active ({}) ==",
            report.cross_implementation.len()
        );
        for f in &report.cross_implementation {
            let _ = writeln!(out, "  {}", cross_line(f));
        }
        let _ = writeln!(out);
    }
    if !report.security.is_empty() {
        let _ = writeln!(out, "== SECURITY: requests let in without valid credentials, per side ==");
        for (side, findings) in
            [("reference", &report.security.reference), ("candidate", &report.security.candidate)]
        {
            let _ = writeln!(out, "{side} ({}):", findings.len());
            for f in findings {
                let _ = writeln!(out, "  {}", finding_line(f));
            }
        }
        let _ = writeln!(out);
    }
    for (title, verdict) in [
        ("DIFFERENCES", Verdict::Different),
        ("NOT COMPARED", Verdict::Error),
        ("ACCEPTED BY RULE", Verdict::Accepted),
        ("NOISE ONLY", Verdict::Noise),
    ] {
        let steps: Vec<&StepResult> = report.steps.iter().filter(|s| s.verdict == verdict).collect();
        if steps.is_empty() {
            continue;
        }
        let _ = writeln!(out, "== {title} ({}) ==", steps.len());
        for step in steps {
            text_step(&mut out, step);
            let _ = writeln!(out);
        }
    }
    let same: Vec<&str> =
        report.steps.iter().filter(|s| s.verdict == Verdict::Same).map(|s| s.name.as_str()).collect();
    let _ = writeln!(out, "== SAME ({}) ==\n{}\n", same.len(), same.join(", "));
    let skipped: Vec<&StepResult> = report.steps.iter().filter(|s| s.verdict == Verdict::Skipped).collect();
    if !skipped.is_empty() {
        let _ = writeln!(out, "== SKIPPED ({}) ==", skipped.len());
        for s in skipped {
            let _ = writeln!(out, "{}: {}", s.name, escape::one_line(s.skipped.as_deref().unwrap_or("")));
        }
        let _ = writeln!(out);
    }
    let learned: Vec<String> = report
        .steps
        .iter()
        .flat_map(|s| s.noise.iter().map(move |n| format!("{} {} ({})", s.name, n.path, n.kind)))
        .collect();
    if !learned.is_empty() {
        let _ = writeln!(out, "== NOISE LEARNED FROM THE REFERENCE ({}) ==", learned.len());
        for line in learned {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out);
    }
    if !report.rules.is_empty() {
        let _ = writeln!(out, "== RULES ==");
        for rule in &report.rules {
            let stale = if rule.matched == 0 { "  NEVER MATCHED" } else { "" };
            let _ = writeln!(
                out,
                "{} (line {}): matched {}{stale} — {}",
                rule.name,
                rule.line,
                rule.matched,
                escape::one_line(&rule.reason)
            );
        }
    }
    out
}

const STYLE: &str = "\
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0; color: #1d2127; background: #f6f7f9; }
main { max-width: 1300px; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; }
.meta { color: #5b6470; margin: .2rem 0; }
.verdict { padding: .7rem 1rem; border-radius: 6px; font-weight: 600; margin: 1rem 0; }
.verdict.pass { background: #e8f5e9; color: #1b5e20; border: 1px solid #a5d6a7; }
.verdict.fail { background: #fdecea; color: #8e1b1b; border: 1px solid #f3b8b4; }
section.step { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; margin: .8rem 0; padding: .6rem .9rem; }
section.step h2 { font-size: 1rem; margin: 0 0 .4rem; }
.tag { display: inline-block; font-size: .8rem; padding: .05rem .45rem; border-radius: 4px; margin-right: .5rem; }
.tag.different { background: #c62828; color: #fff; } .tag.accepted { background: #f9a825; color: #000; }
.tag.noise { background: #90a4ae; color: #000; } .tag.same { background: #2e7d32; color: #fff; }
.tag.skipped { background: #eceff1; color: #37474f; } .tag.error { background: #6a1b9a; color: #fff; }
ul.diffs { margin: .2rem 0 .6rem; padding-left: 1.2rem; } ul.diffs li { font-family: ui-monospace, monospace; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: .8rem; }
.side h3 { font-size: .85rem; margin: .2rem 0; color: #5b6470; }
pre { background: #f3f4f6; border-radius: 4px; padding: .5rem; margin: 0; white-space: pre-wrap; word-break: break-all; font-size: 12px; }
table { border-collapse: collapse; } td, th { border: 1px solid #dde1e6; padding: .2rem .5rem; text-align: left; }
";

fn html_side(label: &str, view: &ExchangeView) -> Markup {
    html! {
        div.side {
            h3 { (label) }
            pre {
                ">>> " (request_line(view)) "\n"
                @if let Some(body) = &view.request_body { (escape::one_line(body)) "\n" }
                "<<< " (response_line(view)) "\n"
                (shown_body(view))
            }
        }
    }
}

fn html_step(step: &StepResult) -> Markup {
    let verdict = step.verdict.name();
    html! {
        section.step id=(format!("step-{}", step.name)) data-verdict=(verdict) {
            h2 { span class=(format!("tag {verdict}")) { (verdict) } (step.name) }
            @if let Some(why) = &step.skipped { p.meta { (verdict) ": " (why) } }
            @if !step.differences.is_empty() {
                ul.diffs { @for d in &step.differences { li { (judged_line(d)) } } }
            }
            @if let (Some(r), Some(c)) = (&step.reference, &step.candidate) {
                div.sides { (html_side("reference", r)) (html_side("candidate", c)) }
            }
        }
    }
}

/// `diff.html`: one page, inline CSS, no script, nothing fetched.
pub fn html(report: &DiffReport) -> String {
    let passed = report.passed();
    let mut ordered: Vec<&StepResult> = report.steps.iter().collect();
    ordered.sort_by_key(|s| match s.verdict {
        Verdict::Different => 0,
        Verdict::Error => 1,
        Verdict::Accepted => 2,
        Verdict::Noise => 3,
        Verdict::Same => 4,
        Verdict::Skipped => 5,
    });
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (crate::report::offline_head("webprofile differential parity", STYLE))
            body { main {
                h1 { "Differential parity: reference vs candidate" }
                p.meta { "Reference: " (report.reference.join(" ")) }
                p.meta { "Candidate: " (report.candidate.join(" ")) }
                p.meta { "Rules: " (report.rules_file.as_deref().unwrap_or("none")) " · started " (report.started_at) }
                div class=(if passed { "verdict pass" } else { "verdict fail" }) id="verdict" { (report.headline()) }
                @if !report.stale_rules.is_empty() {
                    p.meta { "Rules that never matched: " (report.stale_rules.join(", ")) }
                }
                @if !report.cross_implementation.is_empty() {
                    section.step id="cross-implementation" {
                        h2 { "Cross-implementation: tokens one build minted and the other revoked, still active" }
                        ul.diffs { @for f in &report.cross_implementation { li { (cross_line(f)) } } }
                    }
                }
                @if !report.security.is_empty() {
                    section.step id="security" {
                        h2 { "Security: requests let in without valid credentials, per side" }
                        div.sides {
                            @for (side, findings) in [("reference", &report.security.reference), ("candidate", &report.security.candidate)] {
                                div.side {
                                    h3 { (side) " (" (findings.len()) ")" }
                                    @if findings.is_empty() { p.meta { "none" } }
                                    ul.diffs { @for f in findings { li { (finding_line(f)) } } }
                                }
                            }
                        }
                    }
                }
                @for step in ordered { (html_step(step)) }
                @if !report.rules.is_empty() {
                    h2 { "Rules" }
                    table {
                        tr { th { "rule" } th { "line" } th { "matched" } th { "reason" } }
                        @for rule in &report.rules {
                            tr { td { (rule.name) } td { (rule.line) } td { (rule.matched) } td { (rule.reason) } }
                        }
                    }
                }
            } }
        }
    };
    page.into_string()
}

/// JUnit: one test case per step; a difference is a failure, a skipped step skipped.
pub fn junit(report: &DiffReport) -> String {
    let mut suite = TestSuite::new(JUNIT_SUITE);
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&report.started_at) {
        suite.set_timestamp(at);
    }
    suite.add_properties([
        Property::new("reference", report.reference.join(" ")),
        Property::new("candidate", report.candidate.join(" ")),
        Property::new("rules", report.rules_file.clone().unwrap_or_else(|| "none".into())),
    ]);
    for step in &report.steps {
        let status = match step.verdict {
            Verdict::Different => {
                let lines: Vec<String> = step.differences_with(Verdict::Different).map(judged_line).collect();
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let message: String = escape::excerpt(&lines.join("; "), 300);
                status.set_message(message).set_type("difference").set_description(lines.join("\n"));
                status
            }
            Verdict::Error => {
                let why = step.skipped.clone().unwrap_or_default();
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message(escape::excerpt(&why, 300)).set_type("not-compared").set_description(why);
                status
            }
            Verdict::Skipped => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(step.skipped.clone().unwrap_or_default());
                status
            }
            _ => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(step.name.as_str(), status);
        case.set_classname(JUNIT_SUITE);
        let latency = [&step.reference, &step.candidate]
            .iter()
            .filter_map(|v| v.as_ref().map(|v| v.latency_ms))
            .fold(0.0, f64::max);
        case.set_time(Duration::from_secs_f64(latency / 1000.0));
        case.add_property(Property::new("verdict", step.verdict.name()));
        suite.add_test_case(case);
    }
    let mut junit = Report::new("webprofile-parity-diff");
    junit.add_test_suite(suite);
    junit.to_string().expect("JUnit XML of plain strings serializes")
}
