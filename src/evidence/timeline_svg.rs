//! `timeline.svg`: a failure at a glance. One lane for the harness and one
//! per instance (and per other service that logged); each request a bar from
//! its invocation to its answer, coloured by what it answered; the revoke's
//! completion a vertical line; the proven stale window shaded with
//! `stale_ms` and `visible_by_ms` labelled; log lines as ticks on their
//! service's lane. Self-contained (no script, no font, no link), and small:
//! bars closer than a pixel that answered alike are drawn as one, so a
//! window of a thousand reads stays a few kilobytes.

use super::timeline::answered_at;
use crate::contract::{introspection, Body, Exchange, Trace, INTROSPECT_PATH};
use crate::stack::Lines;
use chrono::{DateTime, Utc};
use std::fmt::Write as _;

const WIDTH: f64 = 1000.0;
const LABEL: f64 = 130.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 64.0;
const LANE: f64 = 44.0;
const BAR: f64 = 16.0;
/// Bars and ticks this close (in pixels) that say the same are drawn as one.
const MERGE_PX: f64 = 1.5;
/// With more exchanges than this, bars carry no tooltip of their own.
const TITLED_BARS: usize = 300;

/// What an answer said, for its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Active,
    Inactive,
    /// A create, revoke or other call that succeeded.
    Done,
    Error,
}

impl Answer {
    fn of(ex: &Exchange) -> Answer {
        let ok = ex.status.is_some_and(|s| (200..300).contains(&s));
        if !ok {
            return Answer::Error;
        }
        if ex.method == "POST" && ex.path == INTROSPECT_PATH {
            return match introspection(&Body::classify(&ex.response_body, ex.content_type.as_deref())) {
                Ok(answer) if answer.active => Answer::Active,
                Ok(_) => Answer::Inactive,
                Err(_) => Answer::Error,
            };
        }
        Answer::Done
    }

    fn colour(self) -> &'static str {
        match self {
            Answer::Active => "#d62728",
            Answer::Inactive => "#2ca02c",
            Answer::Done => "#1f77b4",
            Answer::Error => "#ff7f0e",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Answer::Active => "active:true",
            Answer::Inactive => "active:false",
            Answer::Done => "done",
            Answer::Error => "error",
        }
    }
}

/// The revoke and what the reads after it prove, on the wall clock.
#[derive(Debug, PartialEq)]
struct Window {
    revoked: DateTime<Utc>,
    /// Invocation of the last read still active after the revoke returned.
    last_stale: Option<DateTime<Utc>>,
    /// Completion of the first inactive read after the revoke returned.
    visible_by: Option<DateTime<Utc>>,
}

fn revoke_window(exchanges: &[Exchange]) -> Option<Window> {
    let revoke = exchanges.iter().find(|ex| ex.method == "DELETE" && ex.status.is_some())?;
    let revoked = answered_at(revoke);
    let after: Vec<(&Exchange, Answer)> =
        exchanges.iter().filter(|ex| ex.sent.wall >= revoked).map(|ex| (ex, Answer::of(ex))).collect();
    let last_stale = after.iter().filter(|(_, a)| *a == Answer::Active).map(|(ex, _)| ex.sent.wall).max();
    let visible_by =
        after.iter().filter(|(_, a)| *a == Answer::Inactive).map(|(ex, _)| answered_at(ex)).min();
    Some(Window { revoked, last_stale, visible_by })
}

/// The picture. `lanes` maps a log source to the instance lane its lines
/// go on ("webprofile-node2" → "instance2"); other sources get their own.
pub fn render(title: &str, trace: &Trace, logs: &Lines, lanes: &[(String, String)]) -> String {
    let exchanges = trace.exchanges();
    let mut names: Vec<String> = vec!["parity".into()];
    let mut add = |name: &str| {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    };
    exchanges.iter().for_each(|ex| add(&ex.instance));
    fn lane_of<'a>(lanes: &'a [(String, String)], source: &'a str) -> &'a str {
        lanes.iter().find(|(s, _)| s == source).map_or(source, |(_, l)| l.as_str())
    }

    // The span of the failure's own requests; log lines outside it are in timeline.txt.
    let requests = exchanges.iter().flat_map(|ex| [ex.sent.wall, answered_at(ex)]);
    let times: Vec<DateTime<Utc>> =
        if exchanges.is_empty() { logs.lines.iter().map(|l| l.at).collect() } else { requests.collect() };
    let (from, to) = times.into_iter().fold((None::<DateTime<Utc>>, None::<DateTime<Utc>>), |(lo, hi), t| {
        (Some(lo.map_or(t, |lo| lo.min(t))), Some(hi.map_or(t, |hi| hi.max(t))))
    });
    let (from, to) = match (from, to) {
        (Some(from), Some(to)) => (from, to),
        _ => (Utc::now(), Utc::now()),
    };
    let span_ms = ((to - from).num_microseconds().unwrap_or(0) as f64 / 1000.0).max(1.0);
    let pad = span_ms * 0.02;
    let plot = WIDTH - LABEL - RIGHT;
    let x = |t: DateTime<Utc>| {
        let ms = (t - from).num_microseconds().unwrap_or(0) as f64 / 1000.0;
        LABEL + (ms + pad) / (span_ms + 2.0 * pad) * plot
    };
    let logs: Vec<&crate::stack::LogLine> =
        logs.lines.iter().filter(|l| l.at >= from && l.at <= to).collect();
    logs.iter().for_each(|l| add(lane_of(lanes, &l.source)));
    let lane_y = |name: &str| TOP + names.iter().position(|n| n == name).unwrap_or(0) as f64 * LANE;
    let height = TOP + names.len() as f64 * LANE + 40.0;

    let mut svg = String::with_capacity(16 * 1024);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(svg, r##"<rect width="{WIDTH}" height="{height}" fill="#fff"/>"##);
    let _ = write!(
        svg,
        r##"<text x="10" y="20" font-size="14" font-weight="bold">{}</text>"##,
        escape(&format!("timeline of {title}"))
    );
    let _ = write!(
        svg,
        r##"<text x="10" y="38" fill="#444">{} — {} ({:.1} ms): bars from request to answer, grey ticks log lines (timeline.txt has them all)</text>"##,
        from.format("%H:%M:%S%.3f"),
        to.format("%H:%M:%S%.3f"),
        span_ms
    );
    legend(&mut svg, TOP + names.len() as f64 * LANE + 28.0);
    for (i, name) in names.iter().enumerate() {
        let y = TOP + i as f64 * LANE;
        let shade = if i % 2 == 0 { "#f6f6f6" } else { "#fff" };
        let _ = write!(svg, r#"<rect x="0" y="{y}" width="{WIDTH}" height="{LANE}" fill="{shade}"/>"#);
        let _ = write!(svg, r#"<text x="10" y="{:.1}">{}</text>"#, y + LANE / 2.0 + 4.0, escape(name));
    }

    // The proven stale window, under the bars.
    let window = revoke_window(exchanges);
    if let Some(w) = &window {
        if let Some(last) = w.last_stale.filter(|t| *t > w.revoked) {
            let (x0, x1) = (x(w.revoked), x(last));
            let _ = write!(
                svg,
                r##"<rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="#d62728" fill-opacity="0.15"><title>stale window: active:true read after the revoke returned</title></rect>"##,
                (x1 - x0).max(1.0),
                names.len() as f64 * LANE
            );
        }
    }

    // Bars: merged per lane while they answered alike and touch.
    let titled = exchanges.len() <= TITLED_BARS;
    for name in &names {
        let y = lane_y(name) + (LANE - BAR) / 2.0;
        let mut run: Option<(f64, f64, Answer, usize, String)> = None;
        let flush = |run: Option<(f64, f64, Answer, usize, String)>, svg: &mut String| {
            if let Some((x0, x1, answer, n, tip)) = run {
                let tip = if n == 1 && titled { tip } else { format!("{n} request(s): {}", answer.name()) };
                let _ = write!(
                    svg,
                    r#"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{BAR}" fill="{}"><title>{}</title></rect>"#,
                    (x1 - x0).max(1.0),
                    answer.colour(),
                    escape(&tip)
                );
            }
        };
        for ex in exchanges.iter().filter(|ex| ex.instance == *name) {
            let (x0, x1, answer) = (x(ex.sent.wall), x(answered_at(ex)), Answer::of(ex));
            let tip = format!(
                "#{} {} {} → {} ({:.1} ms)",
                ex.seq,
                ex.method,
                ex.path,
                answer_text(ex),
                ex.latency_ms
            );
            run = match run.take() {
                Some((r0, r1, a, n, t)) if a == answer && x0 <= r1 + MERGE_PX => {
                    Some((r0, r1.max(x1), a, n + 1, t))
                }
                previous => {
                    flush(previous, &mut svg);
                    Some((x0, x1, answer, 1, tip))
                }
            };
        }
        flush(run, &mut svg);
    }
    // The harness's lane: a tick where each request was sent.
    let mut last_tick = f64::MIN;
    for ex in exchanges {
        let at = x(ex.sent.wall);
        if at - last_tick >= MERGE_PX {
            let _ = write!(
                svg,
                r##"<line x1="{at:.1}" x2="{at:.1}" y1="{:.1}" y2="{:.1}" stroke="#333"/>"##,
                TOP + 10.0,
                TOP + LANE - 10.0
            );
            last_tick = at;
        }
    }
    // Log lines: a tick at the foot of their lane, one per pixel.
    let mut ticked: Vec<(String, i64)> = Vec::new();
    for line in &logs {
        let lane = lane_of(lanes, &line.source);
        let at = x(line.at);
        let key = (lane.to_string(), (at / MERGE_PX) as i64);
        if ticked.contains(&key) {
            continue;
        }
        ticked.push(key);
        let y = lane_y(lane) + LANE - 8.0;
        let _ = write!(
            svg,
            r##"<line x1="{at:.1}" x2="{at:.1}" y1="{y:.1}" y2="{:.1}" stroke="#7f7f7f" stroke-width="2"><title>{}</title></line>"##,
            y + 6.0,
            escape(&crate::escape::excerpt(&crate::escape::one_line(&line.text), 160))
        );
    }

    if let Some(w) = &window {
        let bottom = TOP + names.len() as f64 * LANE;
        let at = x(w.revoked);
        let _ = write!(
            svg,
            r##"<line x1="{at:.1}" x2="{at:.1}" y1="{:.1}" y2="{bottom:.1}" stroke="#000" stroke-width="2" stroke-dasharray="6 3"/><text x="{:.1}" y="{:.1}" fill="#000">revoke returned</text>"##,
            TOP - 6.0,
            at + 4.0,
            TOP - 8.0
        );
        let ms = |t: DateTime<Utc>| (t - w.revoked).num_microseconds().unwrap_or(0) as f64 / 1000.0;
        let mut label = Vec::new();
        if let Some(last) = w.last_stale.filter(|t| *t > w.revoked) {
            label.push(format!("stale_ms = {:.1} ms", ms(last)));
        } else {
            label.push("stale_ms = 0 (no read active after the revoke)".to_string());
        }
        if let Some(visible) = w.visible_by {
            let vx = x(visible);
            let _ = write!(
                svg,
                r##"<line x1="{vx:.1}" x2="{vx:.1}" y1="{TOP}" y2="{bottom:.1}" stroke="#2ca02c" stroke-width="2"/>"##
            );
            label.push(format!("visible_by_ms = {:.1} ms", ms(visible)));
        } else {
            label.push("never seen inactive in this window".to_string());
        }
        let _ = write!(
            svg,
            r##"<text x="{LABEL}" y="{:.1}" font-size="13" font-weight="bold" fill="#d62728">{}</text>"##,
            bottom + 24.0,
            escape(&label.join(" · "))
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn legend(svg: &mut String, y: f64) {
    let mut at = 600.0;
    for answer in [Answer::Active, Answer::Inactive, Answer::Done, Answer::Error] {
        let _ = write!(
            svg,
            r#"<rect x="{at}" y="{:.0}" width="12" height="12" fill="{}"/><text x="{:.0}" y="{y:.0}">{}</text>"#,
            y - 10.0,
            answer.colour(),
            at + 16.0,
            answer.name()
        );
        at += 95.0;
    }
}

fn answer_text(ex: &Exchange) -> String {
    match (ex.status, &ex.error) {
        (Some(status), _) => {
            format!("{status} {}", crate::escape::excerpt(&crate::escape::one_line(&ex.response_body), 80))
        }
        (None, error) => format!("no answer: {}", error.as_deref().unwrap_or("unknown error")),
    }
}

/// Text and attribute content on one line, escaped for XML.
fn escape(text: &str) -> String {
    crate::escape::markup(&crate::escape::one_line(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Stamp;
    use crate::stack::LogLine;

    fn exchange(
        seq: u64,
        instance: &str,
        method: &str,
        path: &str,
        at_ms: f64,
        status: u16,
        body: &str,
    ) -> Exchange {
        let start = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z").unwrap().with_timezone(&Utc);
        let request = crate::contract::Request {
            method: method.into(),
            path: path.into(),
            auth: crate::contract::AuthMode::Basic,
            headers: Vec::new(),
            body: None,
            verbatim_path: false,
        };
        let sent =
            Stamp { mono_ms: at_ms, wall: start + chrono::Duration::microseconds((at_ms * 1000.0) as i64) };
        let mut ex = Exchange::of_request(seq, instance, sent, &request);
        ex.status = Some(status);
        ex.content_type = Some("application/json".into());
        ex.response_body = body.into();
        ex.latency_ms = 2.0;
        ex
    }

    /// A stale read of `reads` polls: active for the first 150 ms after the revoke.
    fn stale_trace(reads: u64) -> Trace {
        let mut trace = Trace::new();
        trace.push(exchange(1, "instance1", "POST", "/internal/api/users/u/tokens", 0.0, 201, "{}"));
        trace.push(exchange(2, "instance2", "POST", INTROSPECT_PATH, 5.0, 200, r#"{"active":true}"#));
        trace.push(exchange(3, "instance1", "DELETE", "/internal/api/users/u/tokens/t", 10.0, 204, ""));
        for n in 0..reads {
            let at = 13.0 + n as f64 * (300.0 / reads as f64);
            let body = if at < 162.0 { r#"{"active":true}"# } else { r#"{"active":false}"# };
            trace.push(exchange(4 + n, "instance2", "POST", INTROSPECT_PATH, at, 200, body));
        }
        trace
    }

    #[test]
    fn the_stale_window_is_shaded_and_labelled_from_the_exchanges() {
        let trace = stale_trace(30);
        let logs = Lines {
            lines: vec![LogLine {
                at: trace.exchanges()[3].sent.wall,
                source: "webprofile-node2".into(),
                text: "POST /internal/api/tokens/introspect <script>".into(),
            }],
            cut: false,
        };
        let svg = render("iteration-2", &trace, &logs, &[("webprofile-node2".into(), "instance2".into())]);
        let window = revoke_window(trace.exchanges()).unwrap();
        assert!(window.last_stale.unwrap() > window.revoked);
        // Revoke answered at 12 ms; the last active read sent at 153 ms, the first inactive answered at 165 ms.
        assert!(svg.contains("revoke returned") && svg.contains("stale_ms = 141.0 ms"), "{svg}");
        assert!(svg.contains("visible_by_ms = 153.0 ms"), "{svg}");
        assert!(svg.contains("fill-opacity=\"0.15\""), "the window is shaded");
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script"), "log text is escaped");
        assert_eq!(svg.matches(">instance2<").count(), 1, "the log line went on instance2's lane");
        assert!(!svg.contains("href") && !svg.contains("http://127"), "nothing to fetch");
    }

    #[test]
    fn a_thousand_reads_stay_small() {
        let svg = render("iteration-9", &stale_trace(1000), &Lines::default(), &[]);
        assert!(svg.len() < 100 * 1024, "{} bytes", svg.len());
        assert!(svg.contains("request(s): active:true"), "reads packed into runs");
    }
}
