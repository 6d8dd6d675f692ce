//! The dashboard's trend chart as inline SVG, drawn here so the page needs
//! no script: success rate per run with the threshold line above, failed
//! iterations per run as red bars below, one shared time axis.

use super::text::percent;
use super::trend::Trend;
use crate::escape::markup;
use std::fmt::Write as _;

pub(super) const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 490.0;
pub(super) const LEFT: f64 = 62.0;
pub(super) const RIGHT: f64 = 24.0;
/// The success-rate panel.
const RATE_TOP: f64 = 24.0;
const RATE_BOTTOM: f64 = 250.0;
/// The failed-iterations panel.
const BARS_TOP: f64 = 290.0;
const BARS_BOTTOM: f64 = 380.0;
/// At most this many x labels, evenly spread, so they never overlap.
const MAX_X_LABELS: usize = 12;
/// Above this many runs only failing runs get a marker.
const MAX_PASSING_MARKERS: usize = 300;

pub const OK_COLOUR: &str = "#2e7d32";
pub const FAIL_COLOUR: &str = "#c62828";
pub const LINE_COLOUR: &str = "#1f5fbf";

/// The SVG for `trend`; `rate_threshold` is the iteration failure rate
/// that exceeds the thresholds, drawn as the success rate `1 - rate`.
pub fn render(trend: &Trend, rate_threshold: f64) -> String {
    let n = trend.labels.len().min(trend.success_rates.len()).min(trend.failures.len());
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"Success rate and failed iterations per run\">\n"
    );
    if n == 0 {
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"empty\">\
             No cross-instance runs collected yet.</text>",
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        svg.push_str("</svg>\n");
        return svg;
    }
    let threshold = (1.0 - rate_threshold).clamp(0.0, 1.0);
    let x = |i: usize| LEFT + (i as f64 + 0.5) * plot_width() / n as f64;
    let floor = rate_floor(&trend.success_rates[..n], threshold);
    let y_rate =
        |rate: f64| RATE_BOTTOM - (rate.clamp(floor, 1.0) - floor) / (1.0 - floor) * (RATE_BOTTOM - RATE_TOP);

    rate_axis(&mut svg, floor, &y_rate);
    let y = round1(y_rate(threshold));
    let _ = writeln!(
        svg,
        "<line class=\"threshold\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{FAIL_COLOUR}\" \
         stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"end\" \
         class=\"threshold-label\" fill=\"{FAIL_COLOUR}\">threshold: {} success ({} iteration failures)</text>",
        WIDTH - RIGHT,
        WIDTH - RIGHT,
        round1(y - 5.0),
        percent(threshold),
        percent(rate_threshold)
    );
    if n > 1 {
        let points: Vec<String> =
            (0..n).map(|i| format!("{},{}", round1(x(i)), round1(y_rate(trend.success_rates[i])))).collect();
        let _ = writeln!(
            svg,
            "<polyline class=\"rate\" fill=\"none\" stroke=\"{LINE_COLOUR}\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        );
    }
    let radius = if n > 60 { 2.5 } else { 4.5 };
    for i in 0..n {
        let failed = trend.failures[i] > 0;
        if !failed && n > MAX_PASSING_MARKERS {
            continue;
        }
        let _ = writeln!(
            svg,
            "<circle class=\"{}\" cx=\"{}\" cy=\"{}\" r=\"{radius}\" fill=\"{}\"><title>{}: {} success, {} failed \
             iteration(s)</title></circle>",
            if failed { "point failed" } else { "point" },
            round1(x(i)),
            round1(y_rate(trend.success_rates[i])),
            if failed { FAIL_COLOUR } else { OK_COLOUR },
            markup(&trend.labels[i]),
            percent(trend.success_rates[i]),
            trend.failures[i]
        );
    }

    let most = trend.failures[..n].iter().copied().max().unwrap_or(0).max(1);
    bars_axis(&mut svg, most);
    let slot = plot_width() / n as f64;
    let bar_width = (slot * 0.6).clamp(0.5, 36.0);
    for (i, &failures) in trend.failures[..n].iter().enumerate().filter(|(_, &f)| f > 0) {
        let height = failures as f64 / most as f64 * (BARS_BOTTOM - BARS_TOP);
        let _ = writeln!(
            svg,
            "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{FAIL_COLOUR}\">\
             <title>{}: {failures} failed iteration(s)</title></rect>",
            round1(x(i) - bar_width / 2.0),
            round1(BARS_BOTTOM - height),
            round1(bar_width),
            round1(height),
            markup(&trend.labels[i])
        );
    }

    let step = n.div_ceil(MAX_X_LABELS);
    for i in (0..n).step_by(step) {
        let (lx, ly) = (round1(x(i)), BARS_BOTTOM + 16.0);
        let _ = writeln!(
            svg,
            "<text class=\"x-label\" x=\"{lx}\" y=\"{ly}\" text-anchor=\"end\" \
             transform=\"rotate(-30 {lx} {ly})\">{}</text>",
            markup(&shorten(&trend.labels[i], 24))
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn plot_width() -> f64 {
    WIDTH - LEFT - RIGHT
}

/// The bottom of the rate axis: a tenth below the lowest rate or the
/// threshold, so both are always in view and near-100% runs stay readable.
fn rate_floor(rates: &[f64], threshold: f64) -> f64 {
    let lowest = rates.iter().copied().filter(|r| r.is_finite()).fold(threshold, f64::min);
    (((lowest - 0.05) * 10.0).floor() / 10.0).clamp(0.0, 0.9)
}

fn rate_axis(svg: &mut String, floor: f64, y_rate: &dyn Fn(f64) -> f64) {
    let _ = writeln!(
        svg,
        "<text class=\"panel-title\" x=\"{LEFT}\" y=\"{}\">Iteration success rate per run</text>",
        RATE_TOP - 8.0
    );
    for k in 0..=4 {
        let rate = floor + (1.0 - floor) * f64::from(k) / 4.0;
        let y = round1(y_rate(rate));
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\"/>\
             <text class=\"y-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.0}%</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            rate * 100.0
        );
    }
}

fn bars_axis(svg: &mut String, most: u64) {
    let _ = writeln!(
        svg,
        "<text class=\"panel-title\" x=\"{LEFT}\" y=\"{}\">Failed iterations per run</text>",
        BARS_TOP - 8.0
    );
    let mut ticks = vec![0, most];
    if most >= 2 {
        ticks.insert(1, most / 2);
    }
    for tick in ticks {
        let y = round1(BARS_BOTTOM - tick as f64 / most as f64 * (BARS_BOTTOM - BARS_TOP));
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\"/>\
             <text class=\"y-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{tick}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0
        );
    }
}

/// At most `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    text.chars().take(max - 1).chain(['…']).collect()
}

pub(super) fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trend(rates: &[f64], failures: &[u64]) -> Trend {
        Trend {
            labels: (0..rates.len()).map(|i| format!("run {i}")).collect(),
            success_rates: rates.to_vec(),
            failures: failures.to_vec(),
            ..Trend::default()
        }
    }

    #[test]
    fn draws_a_point_per_run_a_bar_per_failing_run_and_the_threshold() {
        let svg = render(&trend(&[1.0, 0.6, 1.0, 0.75], &[0, 2, 0, 1]), 0.05);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert_eq!(svg.matches("class=\"point failed\"").count(), 2);
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 2);
        assert!(svg.contains("threshold: 95.00% success"), "{svg}");
        assert!(svg.contains("<polyline"));
        let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
    }

    #[test]
    fn the_axis_keeps_the_lowest_rate_and_the_threshold_in_view() {
        assert_eq!(rate_floor(&[1.0, 1.0], 0.95), 0.9);
        assert_eq!(rate_floor(&[0.6], 0.95), 0.5);
        assert_eq!(rate_floor(&[0.0], 0.95), 0.0);
        assert_eq!(rate_floor(&[1.0], 0.5), 0.4);
    }

    #[test]
    fn labels_are_escaped_and_thinned_and_nothing_is_an_empty_chart() {
        let mut t = trend(&[0.5; 100], &[1; 100]);
        t.labels[0] = "<script>alert(1)</script>".into();
        let svg = render(&t, 0.05);
        assert!(!svg.contains("<script"));
        assert!(svg.contains("&lt;script&gt;"));
        assert_eq!(svg.matches("class=\"x-label\"").count(), 12, "every 9th of 100 labels");
        assert!(render(&Trend::default(), 0.05).contains("No cross-instance runs"));
    }
}
