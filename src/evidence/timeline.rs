//! `timeline.txt`: a failure's exchanges and every service's log lines in one
//! time-ordered view — who said what, when.

use crate::contract::{Exchange, Trace};
use crate::stack::Lines;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use std::time::Duration;

/// The failure's span widened by `margin` on both sides: from `margin`
/// before the first request to `margin` after the last answer (`fallback`
/// stands in for a failure that sent nothing).
pub fn window(trace: &Trace, fallback: DateTime<Utc>, margin: Duration) -> (DateTime<Utc>, DateTime<Utc>) {
    let exchanges = trace.exchanges();
    let first = exchanges.iter().map(|ex| ex.sent.wall).min().unwrap_or(fallback);
    let last = exchanges.iter().map(answered_at).max().unwrap_or(fallback);
    let margin = TimeDelta::from_std(margin).unwrap_or_default();
    (first - margin, last + margin)
}

/// When the answer (or the transport error) arrived.
pub(super) fn answered_at(ex: &Exchange) -> DateTime<Utc> {
    ex.sent.wall + TimeDelta::microseconds((ex.latency_ms * 1000.0) as i64)
}

/// One row: when, who, what, and whether it concerns the failure.
struct Row {
    at: DateTime<Utc>,
    source: String,
    text: String,
    ours: bool,
}

/// What names the failure in a log line: its users' ids and its token's id.
fn needles(trace: &Trace) -> Vec<String> {
    let mut needles: Vec<String> = trace
        .exchanges()
        .iter()
        .filter_map(|ex| ex.path.split("/users/").nth(1)?.split('/').next().map(str::to_owned))
        .filter(|id| !id.is_empty())
        .collect();
    needles.extend(crate::contract::created_token_in(trace).map(|c| c.id));
    needles.sort();
    needles.dedup();
    needles
}

/// The merged view, with a header naming the sources.
pub fn render(
    title: &str,
    trace: &Trace,
    logs: &Lines,
    window: (DateTime<Utc>, DateTime<Utc>),
    sources: &str,
) -> String {
    let mut rows: Vec<Row> = trace.exchanges().iter().flat_map(exchange_rows).collect();
    let needles = needles(trace);
    rows.extend(logs.lines.iter().map(|l| Row {
        at: l.at,
        source: l.source.clone(),
        text: crate::escape::one_line(&l.text),
        ours: needles.iter().any(|n| l.text.contains(n.as_str())),
    }));
    // Stable: an answer logged in the same microsecond as its request stays after it.
    rows.sort_by_key(|r| r.at);
    let width = rows.iter().map(|r| r.source.len()).max().unwrap_or(6).max(6);
    let mut out = format!(
        "timeline of {title}: {} to {}\n{sources}\n* marks the harness's own exchanges and log lines naming \
         this failure's user or token; the other lines are what else the services did meanwhile\n",
        stamp(window.0),
        stamp(window.1)
    );
    if logs.cut {
        out += &format!(
            "(log lines stop at {} KiB: the rest of the window is not shown)\n",
            super::LOG_CAP / 1024
        );
    }
    out.push('\n');
    for row in rows {
        let mark = if row.ours { '*' } else { ' ' };
        out += &format!("{mark} {}  {:<width$}  {}\n", stamp(row.at), row.source, row.text);
    }
    out
}

/// A request row and its answer row.
fn exchange_rows(ex: &Exchange) -> [Row; 2] {
    let request = Row {
        at: ex.sent.wall,
        source: "parity".into(),
        text: format!("→ {} #{} {} {}{}", ex.instance, ex.seq, ex.method, ex.path, request_body(ex)),
        ours: true,
    };
    let answer = match (ex.status, &ex.error) {
        (Some(status), _) => {
            let body = crate::escape::excerpt(&ex.response_body, 240);
            let body = if body.is_empty() { String::new() } else { format!(" {body}") };
            format!("← #{} {status} ({:.1} ms){body}", ex.seq, ex.latency_ms)
        }
        (None, error) => format!(
            "← #{} no answer ({:.1} ms): {}",
            ex.seq,
            ex.latency_ms,
            error.as_deref().unwrap_or("unknown error")
        ),
    };
    [request, Row { at: answered_at(ex), source: ex.instance.clone(), text: answer, ours: true }]
}

fn request_body(ex: &Exchange) -> String {
    match &ex.request_body {
        Some(body) if !body.trim().is_empty() => format!(" {}", crate::escape::excerpt(body, 160)),
        _ => String::new(),
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Stamp;
    use crate::contract::AuthMode;
    use crate::stack::LogLine;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn exchange(seq: u64, sent: &str, latency_ms: f64, status: u16, body: &str) -> Exchange {
        let request =
            crate::contract::Request::new("POST", "/internal/api/tokens/introspect", AuthMode::Basic);
        let mut ex = Exchange::of_request(seq, "instance1", Stamp { wall: at(sent), mono_ms: 0.0 }, &request);
        (ex.status, ex.response_body, ex.latency_ms) = (Some(status), body.into(), latency_ms);
        ex
    }

    #[test]
    fn the_window_spans_first_request_to_last_answer_with_the_margin() {
        let mut trace = Trace::new();
        trace.push(exchange(1, "2026-01-01T00:00:10Z", 5.0, 200, "{}"));
        trace.push(exchange(2, "2026-01-01T00:00:11Z", 500.0, 200, "{}"));
        let (from, to) = window(&trace, at("2026-01-01T09:00:00Z"), Duration::from_secs(2));
        assert_eq!(from, at("2026-01-01T00:00:08Z"));
        assert_eq!(to, at("2026-01-01T00:00:13.5Z"));
        let empty = window(&Trace::new(), at("2026-01-01T09:00:00Z"), Duration::from_secs(2));
        assert_eq!(empty, (at("2026-01-01T08:59:58Z"), at("2026-01-01T09:00:02Z")));
    }

    #[test]
    fn exchanges_and_log_lines_interleave_by_time() {
        let mut trace = Trace::new();
        trace.push(exchange(7, "2026-01-01T00:00:10Z", 4.0, 200, r#"{"active":true}"#));
        let logs = Lines {
            lines: vec![
                LogLine {
                    at: at("2026-01-01T00:00:10.002Z"),
                    source: "webprofile".into(),
                    text: "POST introspect\u{1b}[31m".into(),
                },
                LogLine { at: at("2026-01-01T00:00:09Z"), source: "mongo".into(), text: "update".into() },
            ],
            cut: false,
        };
        let text = render(
            "iteration-1",
            &trace,
            &logs,
            (at("2026-01-01T00:00:08Z"), at("2026-01-01T00:00:12Z")),
            "sources",
        );
        let body: Vec<&str> = text.lines().skip(4).collect();
        assert!(
            body[0].starts_with("  ") && body[0].contains("mongo") && body[0].ends_with("update"),
            "{text}"
        );
        assert!(body[1].starts_with("* "), "the harness's own rows are marked: {text}");
        assert!(body[1].contains("parity") && body[1].contains("→ instance1 #7 POST"), "{text}");
        assert!(
            body[2].contains("webprofile") && !body[2].contains('\u{1b}'),
            "control characters are flattened: {text}"
        );
        assert!(
            body[3].contains("instance1") && body[3].contains(r#"← #7 200 (4.0 ms) {"active":true}"#),
            "{text}"
        );
    }

    #[test]
    fn log_lines_naming_the_failures_user_are_marked() {
        let mut trace = Trace::new();
        let mut create = exchange(1, "2026-01-01T00:00:10Z", 1.0, 500, "");
        create.path = "/internal/api/users/5f0c0ffee0000000000000aa/git-tokens".into();
        trace.push(create);
        let line = |text: &str| LogLine {
            at: at("2026-01-01T00:00:10.5Z"),
            source: "webprofile".into(),
            text: text.into(),
        };
        let logs = Lines {
            lines: vec![
                line("POST /internal/api/users/5f0c0ffee0000000000000aa/git-tokens 500"),
                line("GET / 404"),
            ],
            cut: true,
        };
        let text = render("x", &trace, &logs, (at("2026-01-01T00:00:08Z"), at("2026-01-01T00:00:12Z")), "s");
        assert!(text.contains("log lines stop at 256 KiB"), "{text}");
        assert!(text.lines().any(|l| l.starts_with("* ") && l.ends_with("git-tokens 500")), "{text}");
        assert!(text.lines().any(|l| l.starts_with("  ") && l.ends_with("GET / 404")), "{text}");
    }
}
