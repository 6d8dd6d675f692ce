//! `flakiness/cross/dashboard.html`: one self-contained page — inline CSS,
//! an inline SVG chart, no script and nothing fetched — so it opens the same
//! from an artifact zip, `file://` or GitHub Pages. A Content-Security-Policy
//! forbids every fetch as a second line of defence. The page is a `maud`
//! template: every string is escaped unless it is marked as markup, and the
//! only markup inserted is the chart this crate drew.

use super::chart::{self, FAIL_COLOUR, LINE_COLOUR, OK_COLOUR};
use super::text::percent;
use super::trend::Trend;
use crate::clock::rfc3339;
use crate::flakiness::aggregate::{CrossAggregate, RerunAggregate, RunRow};
use crate::flakiness::signatures::{SignatureSummary, TREND_RUNS};
use crate::flakiness::thresholds::{Assessment, ThresholdVerdict};
use crate::flakiness::CrossSummary;
use crate::stats::Interval;
use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// The runs table lists at most this many, newest first; the rest are in
/// `aggregate_cross.json`.
pub const MAX_TABLE_ROWS: usize = 500;

/// Everything the page shows, as the collector computed it.
pub struct Dashboard<'a> {
    pub summary: &'a CrossSummary,
    pub aggregate: &'a CrossAggregate,
    pub trend: &'a Trend,
    pub reruns: &'a RerunAggregate,
    pub judgement: &'a Assessment,
    /// Failure signatures and the (revoker, observer) stale-read rates.
    pub signatures: &'a SignatureSummary,
    pub generated_at: DateTime<Utc>,
    /// The collected directory (where `raw/<id>/` lives) relative to the
    /// dashboard's folder, `/`-separated; `None` when it cannot be reached
    /// by a relative link.
    pub collected_link: Option<String>,
}

const STYLE: &str = "\
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0; color: #1d2127; background: #f6f7f9; }
main { max-width: 1120px; margin: 0 auto; padding: 1.5rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.1rem; margin: 2rem 0 .6rem; }
.meta { color: #5b6470; margin: 0 0 1rem; }
.verdict { padding: .8rem 1rem; border-radius: 6px; font-weight: 600; margin: 1rem 0; }
.verdict.exceeded { background: #fdecea; color: #8e1b1b; border: 1px solid #f3b8b4; }
.verdict.ok { background: #e8f5e9; color: #1b5e20; border: 1px solid #a5d6a7; }
.verdict.no_data { background: #eceff1; color: #37474f; border: 1px solid #cfd8dc; }
.panel { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 1rem; }
.chart { width: 100%; height: auto; display: block; }
.chart text { font-size: 12px; fill: #3b4450; }
.chart .panel-title { font-size: 13px; font-weight: 600; }
.chart .grid { stroke: #e4e7eb; stroke-width: 1; }
.chart .empty { font-size: 16px; fill: #5b6470; }
.legend { display: flex; gap: 1.5rem; flex-wrap: wrap; font-size: .9rem; color: #3b4450; margin-top: .5rem; }
.swatch { display: inline-block; width: 18px; height: 10px; margin-right: .35rem; vertical-align: middle; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: .8rem; }
.card { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: .7rem .9rem; }
.card .name { color: #5b6470; font-size: .85rem; }
.card .value { font-size: 1.35rem; font-weight: 600; }
.card .detail { color: #5b6470; font-size: .85rem; }
.card.bad .value { color: #b71c1c; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: .9rem; }
th, td { border: 1px solid #dde1e6; padding: .35rem .6rem; text-align: left; vertical-align: top; }
th { background: #eef1f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td:first-child { border-left: 4px solid #c62828; }
.fail { color: #b71c1c; font-weight: 600; }
.pass { color: #1b5e20; }
.reason { color: #5b6470; font-size: .85rem; }
code { font-size: .85rem; word-break: break-all; }
footer { color: #5b6470; font-size: .85rem; margin-top: 2rem; }
";

pub fn render(d: &Dashboard<'_>) -> String {
    let generated = rfc3339(&d.generated_at);
    let threshold = percent(d.judgement.thresholds.iter_failure_rate);
    let verdict_class = match d.judgement.verdict {
        ThresholdVerdict::Exceeded => "exceeded",
        ThresholdVerdict::Ok => "ok",
        ThresholdVerdict::NoData => "no_data",
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (super::offline_head("Cross-instance parity flakiness", STYLE))
            body { main {
                h1 { "Cross-instance parity flakiness" }
                p.meta {
                    "Generated " (generated) " by " code { "parity collect" } " · thresholds: "
                    (d.judgement.thresholds.run_failures) " failing run(s) or an iteration failure rate of "
                    (threshold)
                }
                div class={ "verdict " (verdict_class) } { (d.judgement.to_string()) }
                h2 { "Trend" }
                div.panel {
                    // The chart is SVG this crate drew from numbers; every label in it is escaped there.
                    (PreEscaped(chart::render(d.trend, d.judgement.thresholds.iter_failure_rate)))
                    div.legend {
                        span { span.swatch style={ "background:" (LINE_COLOUR) } {} "success rate (passed / iterations)" }
                        span {
                            span.swatch style={ "border-top:2px dashed " (FAIL_COLOUR) ";height:0" } {}
                            "threshold (" (threshold) " iteration failures)"
                        }
                        span { span.swatch style={ "background:" (OK_COLOUR) } {} "run passed" }
                        span { span.swatch style={ "background:" (FAIL_COLOUR) } {} "run with failed iterations" }
                    }
                }
                h2 { "Latency trend" }
                div.panel {
                    // SVG drawn here from numbers; its labels are escaped there.
                    (PreEscaped(super::latency_chart::render(d.trend, d.judgement.thresholds.latency_slo_ms)))
                    p.meta {
                        @match d.judgement.thresholds.latency_slo_ms {
                            Some(slo) => { "SLO (--latency-slo): p99 staleness proven at most " (slo) " ms." }
                            None => { "SLO: the strict contract's, no stale read (give --latency-slo for services run with --allow-stale)." }
                        }
                    }
                }
                (summary_cards(d))
                (signatures_table(d))
                (pair_heat_map(d.signatures))
                (matrix_table(d))
                (runs_table(d))
                (skipped_table(d.summary))
                footer {
                    "Data: " code { "aggregate_cross.json" } ", " code { "summary.json" } " and "
                    code { "trend.json" } " beside this page. Rerun reports: " (d.reruns.count) " collected, "
                    (d.reruns.success) " passed, " (d.reruns.failure) " failed, " (d.reruns.flaky)
                    " flaky. Generated " (generated) "."
                }
            } }
        }
    };
    page.into_string()
}

fn card(name: &str, value: String, detail: String, bad: bool) -> Markup {
    html! {
        div.card.bad[bad] {
            div.name { (name) }
            div.value { (value) }
            div.detail { (detail) }
        }
    }
}

fn summary_cards(d: &Dashboard<'_>) -> Markup {
    let s = d.summary;
    let streak_detail = match s.current_failing_streak_runs.as_slice() {
        [] => "the latest run passed".to_string(),
        runs => format!(
            "{}since {}",
            if s.major_alert { "major alert: " } else { "" },
            runs.last().map_or("", String::as_str)
        ),
    };
    html! {
        h2 { "Summary" }
        div.cards {
            @if let Some(stale) = &s.stale_read {
                (card(
                    "Stale-read rate",
                    percent(stale.rate),
                    format!("{} iteration(s) of {}{}", stale.iterations, s.iter_total, interval(stale.rate_ci95)),
                    stale.iterations > 0,
                ))
            }
            @if let Some(infra) = &s.infrastructure {
                (card(
                    "Infrastructure errors",
                    percent(infra.rate),
                    format!("{} iteration(s) of {}{}", infra.iterations, s.iter_total, interval(infra.rate_ci95)),
                    false,
                ))
            }
            (card(
                "Failing runs",
                format!("{} of {}", s.run_failures, s.run_total),
                format!("{}{}", percent(s.run_failure_rate), interval(s.run_failure_rate_ci95)),
                d.judgement.runs_exceeded,
            ))
            (card(
                "Failed iterations",
                format!("{} of {}", s.iter_failures, s.iter_total),
                format!("{}{}", percent(s.iter_failure_rate), interval(s.iter_failure_rate_ci95)),
                d.judgement.rate_exceeded,
            ))
            (card(
                "Current failing streak",
                format!("{} run(s)", s.current_failing_streak),
                streak_detail,
                s.current_failing_streak > 0,
            ))
            @if let Some(l) = &s.latency_ms {
                (card(
                    "Revoke → inactive latency",
                    format!("p50 {:.1} ms", l.p50),
                    format!("p95 {:.1} ms · max {:.1} ms · {} samples", l.p95, l.max, l.samples),
                    false,
                ))
            }
            @if let Some(visible) = s.visible_by_ms.as_ref().and_then(|p| p.p99) {
                (card(
                    "Revoke visible by (p99)",
                    format!("{visible:.1} ms"),
                    format!(
                        "staleness proven p99 {}",
                        s.stale_ms.as_ref().and_then(|p| p.p99).map_or("-".to_string(), |v| format!("{v:.1} ms"))
                    ),
                    s.stale_ms.as_ref().and_then(|p| p.max).is_some_and(|v| v > 0.0),
                ))
            }
            @if let Some(stale) = &s.stale_reads {
                (card(
                    "Stale reads",
                    stale.total.to_string(),
                    format!("in {} iteration(s) of {} run(s)", stale.iterations, stale.runs),
                    stale.total > 0,
                ))
            }
            (card(
                "Runs collected",
                s.run_total.to_string(),
                match (&s.first_run, &s.last_run) {
                    (Some(first), Some(last)) => format!("{first} → {last}"),
                    _ => "none yet".to_string(),
                },
                false,
            ))
        }
    }
}

fn interval(ci: Option<Interval>) -> String {
    ci.map(|i| format!(" ({})", i.describe(2))).unwrap_or_default()
}

/// The newest run's (revoker, observer) matrix: where staleness was proven.
/// Signatures shown, live ones first; the rest are in `signatures.json`.
pub const MAX_SIGNATURE_ROWS: usize = 50;

fn signatures_table(d: &Dashboard<'_>) -> Markup {
    let rows = &d.signatures.signatures;
    html! {
        h2 { "Failure signatures" }
        @if rows.is_empty() {
            p { "No failure signature in the collected runs." }
        } @else {
            p.meta {
                "A signature is one failure's identity across runs (" code { "parity signatures" } "); live ones "
                "failed in the newest run. The trend covers the last " (TREND_RUNS) " runs."
            }
            table id="signatures" {
                thead { tr {
                    th { "signature" } th { "class" } th { "what failed" } th { "runs" } th { "occurrences" }
                    th { "state" } th { "last seen" } th { "trend" } th { "newest packet" }
                } }
                tbody {
                    @for row in rows.iter().take(MAX_SIGNATURE_ROWS) {
                        tr class=[row.live().then_some("failed")] {
                            td { code { (row.signature.id) } }
                            td { (row.signature.class.as_str()) }
                            td { (row.signature.what) }
                            td.num { (row.runs) }
                            td.num { (row.occurrences) }
                            td {
                                @if row.live() {
                                    span.fail { "live, " (row.consecutive) " in a row" }
                                } @else {
                                    span.pass { "clean for " (row.clean_since) " run(s)" }
                                }
                            }
                            td { (row.last_seen.id) }
                            // Drawn here from numbers: no input text reaches it.
                            td { (PreEscaped(sparkline(&row.trend))) }
                            td {
                                @match (&row.packet, row.last_seen.raw.as_deref(), d.collected_link.as_deref()) {
                                    (Some(packet), Some(raw), Some(base)) => {
                                        a href=(link(base, raw)) { code { (packet) } }
                                    }
                                    (Some(packet), _, _) => { code { (packet) } }
                                    (None, _, _) => { "-" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Occurrences per run as a 100×20 polyline, zero at the bottom.
fn sparkline(trend: &[u64]) -> String {
    let top = trend.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = 100.0 / (trend.len().max(2) - 1) as f64;
    let points: Vec<String> = trend
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{:.1},{:.1}", i as f64 * step, 18.0 - *n as f64 / top * 16.0))
        .collect();
    format!(
        r#"<svg class="spark" width="100" height="20" viewBox="0 0 100 20" role="img" aria-label="occurrences per run"><polyline points="{}" fill="none" stroke="{FAIL_COLOUR}" stroke-width="1.5"/></svg>"#,
        points.join(" ")
    )
}

/// The (revoker, observer) matrix over every collected run, each cell
/// shaded by its stale-read rate.
fn pair_heat_map(signatures: &SignatureSummary) -> Markup {
    let pairs = &signatures.pairs;
    let mut revokers: Vec<&str> = pairs.iter().map(|p| p.revoker.as_str()).collect();
    let mut observers: Vec<&str> = pairs.iter().map(|p| p.observer.as_str()).collect();
    revokers.dedup();
    observers.sort();
    observers.dedup();
    let cell =
        |revoker: &str, observer: &str| pairs.iter().find(|p| p.revoker == revoker && p.observer == observer);
    html! {
        @if !pairs.is_empty() {
            h2 { "Stale reads by instance pair, all collected runs" }
            p.meta { "Rows: the instance that revoked; columns: the instance read after. Darker is more often stale." }
            table id="pairs" {
                thead { tr { th { "revoked on → read on" } @for o in &observers { th { (o) } } } }
                tbody {
                    @for r in &revokers {
                        tr {
                            th { (r) }
                            @for o in &observers {
                                @match cell(r, o) {
                                    Some(p) => {
                                        td.num style={ "background:" (heat(p.rate)) }
                                            title={ (p.stale_iterations) " of " (p.iterations) " iteration(s) stale" } {
                                            (percent(p.rate))
                                        }
                                    }
                                    None => { td.num { "-" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// White at 0, deep red at 1 (and any rate above 0 visibly tinted).
fn heat(rate: f64) -> String {
    let shade = if rate > 0.0 { 0.12 + 0.88 * rate.clamp(0.0, 1.0) } else { 0.0 };
    let mix = |full: f64| (255.0 - (255.0 - full) * shade).round() as u8;
    format!("rgb({},{},{})", mix(198.0), mix(40.0), mix(40.0))
}

fn matrix_table(d: &Dashboard<'_>) -> Markup {
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    html! {
        @if !d.summary.latest_matrix.is_empty() {
            h2 { "Latency matrix of the newest run" }
            p.meta {
                "stale_ms: staleness proven (the last active:true read's start after the revoke returned); "
                "visible_by_ms: the first active:false read's end (an upper bound)."
            }
            table id="matrix" {
                thead { tr {
                    th { "revoked on" } th { "read on" } th { "iterations" } th { "stale reads" }
                    th { "stale_ms p50 / p99 / max" } th { "visible_by_ms p50 / p99 / max" }
                } }
                tbody {
                    @for p in &d.summary.latest_matrix {
                        tr class=[(p.stale_reads > 0).then_some("failed")] {
                            td { (p.revoker) } td { (p.observer) }
                            td.num { (p.iterations) } td.num { (p.stale_reads) }
                            td.num { (ms(p.stale_ms.p50)) " / " (ms(p.stale_ms.p99)) " / " (ms(p.stale_ms.max)) }
                            td.num {
                                (ms(p.visible_by_ms.p50)) " / " (ms(p.visible_by_ms.p99)) " / " (ms(p.visible_by_ms.max))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn runs_table(d: &Dashboard<'_>) -> Markup {
    let runs = &d.aggregate.runs;
    let shown = runs.len().min(MAX_TABLE_ROWS);
    html! {
        h2 { "Runs, newest first" }
        @if runs.is_empty() {
            p { "No cross-instance runs were collected." }
        } @else {
            @if shown < runs.len() {
                p.meta {
                    "The latest " (shown) " of " (runs.len()) " runs; every run is in "
                    code { "aggregate_cross.json" } "."
                }
            }
            table {
                thead { tr {
                    th { "run" } th { "file" } th { "iterations" } th { "failed" } th { "success" }
                    th { "stale reads" } th { "latency p50 / max (ms)" } th { "failed iterations" }
                    th { "raw outputs" }
                } }
                tbody {
                    @for run in runs.iter().rev().take(shown) {
                        (run_row(run, d.collected_link.as_deref()))
                    }
                }
            }
        }
    }
}

fn run_row(run: &RunRow, collected_link: Option<&str>) -> Markup {
    let latency = match (run.latency_ms_p50, run.latency_ms_max) {
        (Some(p50), Some(max)) => format!("{p50:.1} / {max:.1}"),
        _ => "—".to_string(),
    };
    html! {
        tr class=[run.failed.then_some("failed")] {
            td { (run.label) }
            td { code { (run.file) } }
            td.num { (run.iterations) }
            td.num.fail[run.failed] { (run.failures) }
            td.num { (percent(run.success_rate)) }
            td.num { (run.stale_reads.map_or_else(|| "—".to_string(), |s| s.to_string())) }
            td.num { (latency) }
            td {
                @for f in &run.failed_iterations {
                    div {
                        "#" (f.iteration)
                        @if let Some(class) = f.class { " " span.class { "[" (class) "]" } }
                        span.reason { @if let Some(reason) = &f.reason { ": " (reason) } }
                    }
                }
            }
            td {
                @match (&run.raw, collected_link) {
                    (Some(raw), Some(base)) => a href=(link(base, raw)) { (raw) "/" },
                    (Some(raw), None) => code { (raw) "/" },
                    (None, _) => "—",
                }
            }
        }
    }
}

fn skipped_table(summary: &CrossSummary) -> Markup {
    html! {
        @if !summary.skipped_files.is_empty() {
            h2 { "Skipped files (" (summary.skipped_files.len()) ")" }
            table {
                thead { tr { th { "file" } th { "why" } th { "reason" } } }
                tbody {
                    @for skipped in &summary.skipped_files {
                        tr { td { code { (skipped.file) } } td { code { (skipped.code) } } td { (skipped.reason) } }
                    }
                }
            }
        }
    }
}

/// Everything but RFC 3986 unreserved characters is percent-encoded in a link segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `base` joined with the `/`-separated `rel`, each segment of `rel`
/// percent-encoded, ending in `/` (a folder).
fn link(base: &str, rel: &str) -> String {
    let encoded: Vec<String> = rel.split('/').map(|s| utf8_percent_encode(s, SEGMENT).to_string()).collect();
    let base = base.trim_end_matches('/');
    let joined = encoded.join("/");
    if base.is_empty() || base == "." {
        format!("{joined}/")
    } else {
        format!("{base}/{joined}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flakiness::aggregate::FailedIteration;
    use crate::flakiness::collect::{FileKind, SkippedFile};
    use crate::flakiness::summary::{ClassRate, LatencySummary, StaleReadSummary};
    use crate::flakiness::thresholds::Thresholds;
    use crate::report::trend;
    use crate::scenario::cross::{PairLatency, Percentiles};
    use crate::verdict::FailureClass;
    use chrono::TimeZone;
    use regex::Regex;

    const EVIL: &str = "<script>alert(1)</script>";

    fn row(label: &str, iterations: u64, failures: u64, raw: Option<&str>) -> RunRow {
        RunRow {
            file: format!("run_{label}_cross.json"),
            id: label.into(),
            label: label.into(),
            timestamp: None,
            iterations,
            failures,
            success_rate: 1.0 - failures as f64 / iterations as f64,
            failed: failures > 0,
            stale_reads: Some(failures),
            failure_classes: std::iter::repeat_n(FailureClass::StaleRead, failures as usize).collect(),
            latency_ms_p50: Some(2.0),
            latency_ms_max: Some(9.5),
            stale_ms_p99: None,
            visible_by_ms_p99: None,
            failed_iterations: (1..=failures as u32)
                .map(|i| FailedIteration {
                    iteration: i,
                    reason: Some(format!("stale read {EVIL}")),
                    class: Some(FailureClass::StaleRead),
                })
                .collect(),
            raw: raw.map(String::from),
        }
    }

    fn page(runs: Vec<RunRow>) -> String {
        let aggregate = CrossAggregate {
            run_total: runs.len() as u64,
            run_failures: runs.iter().filter(|r| r.failed).count() as u64,
            iter_total: runs.iter().map(|r| r.iterations).sum(),
            iter_failures: runs.iter().map(|r| r.failures).sum(),
            failure_classes: Default::default(),
            runs,
        };
        let summary = CrossSummary {
            stale_read: Some(ClassRate {
                iterations: 2,
                rate: 0.25,
                rate_ci95: Some(Interval { low: 0.05, high: 0.6 }),
            }),
            infrastructure: Some(ClassRate { iterations: 0, rate: 0.0, rate_ci95: None }),
            run_total: aggregate.run_total,
            run_failures: aggregate.run_failures,
            iter_total: aggregate.iter_total,
            iter_failures: aggregate.iter_failures,
            run_failure_rate_ci95: Some(Interval { low: 0.1, high: 0.7 }),
            latency_ms: Some(LatencySummary { samples: 3, p50: 2.0, p95: 9.0, max: 9.5 }),
            stale_reads: Some(StaleReadSummary { total: 3, iterations: 2, runs: 1 }),
            visible_by_ms: Some(Percentiles {
                p50: Some(1.5),
                p95: Some(120.0),
                p99: Some(180.25),
                max: Some(200.0),
            }),
            stale_ms: Some(Percentiles {
                p50: Some(0.0),
                p95: Some(90.0),
                p99: Some(150.5),
                max: Some(160.0),
            }),
            latest_matrix: vec![PairLatency {
                revoker: "instance2".into(),
                observer: format!("instance1{EVIL}"),
                iterations: 4,
                stale_reads: 3,
                stale_iterations: 2,
                stale_ms: Percentiles { p50: Some(0.0), p95: None, p99: Some(150.5), max: Some(160.0) },
                visible_by_ms: Percentiles { p50: Some(1.5), p95: None, p99: Some(180.25), max: Some(200.0) },
            }],
            current_failing_streak: 1,
            current_failing_streak_runs: vec![EVIL.into()],
            skipped_files: vec![SkippedFile {
                file: format!("run_{EVIL}_cross.json"),
                kind: FileKind::Cross,
                code: "malformed".into(),
                reason: format!("run_{EVIL}_cross.json is not JSON"),
            }],
            ..CrossSummary::default()
        };
        let judgement = Thresholds::default().judge(&summary);
        render(&Dashboard {
            summary: &summary,
            trend: &trend::trend(&aggregate),
            aggregate: &aggregate,
            reruns: &RerunAggregate::default(),
            judgement: &judgement,
            signatures: &SignatureSummary::default(),
            generated_at: Utc.with_ymd_and_hms(2024, 3, 4, 5, 6, 7).unwrap(),
            collected_link: Some("../collected".into()),
        })
    }

    #[test]
    fn the_page_fetches_nothing_and_runs_no_script() {
        let html = page(vec![row("a", 5, 0, None), row(EVIL, 5, 2, Some(&format!("raw/{EVIL}")))]);
        assert!(!html.to_ascii_lowercase().contains("<script"), "a script element");
        let network =
            Regex::new(r#"(?i)(src|href|xlink:href|action)\s*=\s*["']?\s*(https?:|//|ftp:)"#).unwrap();
        assert!(!network.is_match(&html), "a network reference");
        assert!(!Regex::new(r"(?i)url\(|@import").unwrap().is_match(&html), "CSS that fetches");
        assert!(!html.contains("http://") && !html.contains("https://"), "no URL at all");
        assert!(html.contains("default-src 'none'"), "CSP forbids fetches");
    }

    #[test]
    fn the_newest_runs_matrix_and_the_visibility_card_are_shown() {
        let html = page(vec![row("a", 4, 2, None)]);
        assert!(html.contains("Latency matrix of the newest run"), "{html:.500}");
        assert!(html.contains("<td>instance2</td>"));
        assert!(
            html.contains("0.0 / 150.5 / 160.0") && html.contains("1.5 / 180.2 / 200.0"),
            "p50/p99/max cells"
        );
        assert!(html.contains("Revoke visible by (p99)") && html.contains("180.2 ms"));
        assert!(html.contains("staleness proven p99 150.5 ms"));
    }

    #[test]
    fn every_input_string_is_escaped() {
        let html = page(vec![row(EVIL, 5, 2, Some(&format!("raw/{EVIL}")))]);
        assert!(!html.contains(EVIL));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(
            html.contains("run_&lt;script&gt;alert(1)&lt;/script&gt;_cross.json is not JSON"),
            "skipped reason"
        );
        // The link is percent-encoded, the text escaped.
        assert!(
            html.contains("href=\"../collected/raw/%3Cscript%3Ealert%281%29%3C/script%3E/\""),
            "{}",
            html.lines().find(|l| l.contains("href")).unwrap_or("")
        );
    }

    #[test]
    fn shows_the_summary_intervals_thresholds_and_generation_time() {
        let html = page(vec![row("a", 5, 0, None), row("b", 4, 1, Some("raw/b"))]);
        for needle in [
            "Generated 2024-03-04T05:06:07.000Z",
            "1 failing run(s) or an iteration failure rate of 5.00%",
            "(95% CI 10.00%–70.00%)",
            "p50 2.0 ms",
            "p95 9.0 ms · max 9.5 ms",
            "Stale reads",
            "Stale-read rate",
            "2 iteration(s) of 9 (95% CI 5.00%–60.00%)",
            "Infrastructure errors",
            "#1 <span class=\"class\">[stale-read]</span>",
            "Current failing streak",
            "threshold: 95.00% success",
            "<a href=\"../collected/raw/b/\">raw/b/</a>",
            "Skipped files (1)",
            "class=\"verdict exceeded\"",
        ] {
            assert!(html.contains(needle), "missing {needle}");
        }
        // Newest first.
        assert!(html.find("<td>b</td>").unwrap() < html.find("<td>a</td>").unwrap());
    }

    #[test]
    fn a_long_history_keeps_the_table_bounded() {
        let runs: Vec<RunRow> = (0..MAX_TABLE_ROWS + 20).map(|i| row(&format!("r{i}"), 5, 0, None)).collect();
        let html = page(runs);
        assert_eq!(html.matches("<tr><td>r").count(), MAX_TABLE_ROWS);
        assert!(html.contains(&format!("The latest {MAX_TABLE_ROWS} of {} runs", MAX_TABLE_ROWS + 20)));
    }

    #[test]
    fn links_are_percent_encoded_folders() {
        assert_eq!(link(".", "raw/1"), "raw/1/");
        assert_eq!(link("../raw", "my runs/1"), "../raw/my%20runs/1/");
    }
}
