//! The dashboard's latency trend as inline SVG: per run, the p99 of the
//! staleness proven (`stale_ms`, red) and of the visibility bound
//! (`visible_by_ms`, blue), with the SLO line. In the strict contract the
//! SLO is "no stale read": the line is at 0 ms and any red point above it
//! is a breach; with `--latency-slo D` the line is at D.

use super::chart::{round1, FAIL_COLOUR, LEFT, LINE_COLOUR, OK_COLOUR, RIGHT, WIDTH};
use super::trend::Trend;
use crate::escape::markup;
use std::fmt::Write as _;

const HEIGHT: f64 = 300.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 250.0;

/// The SVG for `trend`'s latency series; `slo_ms` is `--latency-slo` (None: strict).
pub fn render(trend: &Trend, slo_ms: Option<f64>) -> String {
    let n = trend.labels.len();
    let stale = |i: usize| trend.stale_ms_p99.get(i).copied().flatten();
    let visible = |i: usize| trend.visible_by_ms_p99.get(i).copied().flatten();
    let mut svg = format!(
        "<svg class=\"chart latency\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"p99 staleness proven and visibility bound per run, with the latency SLO\">\n"
    );
    if !(0..n).any(|i| stale(i).is_some() || visible(i).is_some()) {
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"empty\">\
             No collected run records stale_ms or visible_by_ms yet.</text>",
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        svg.push_str("</svg>\n");
        return svg;
    }
    let slo = slo_ms.unwrap_or(0.0);
    let top = (0..n).flat_map(|i| [stale(i), visible(i)]).flatten().fold(slo, f64::max).max(1.0) * 1.1;
    let x = |i: usize| LEFT + (i as f64 + 0.5) * (WIDTH - LEFT - RIGHT) / n as f64;
    let y = |ms: f64| round1(BOTTOM - ms.clamp(0.0, top) / top * (BOTTOM - TOP));
    let _ = writeln!(
        svg,
        "<text class=\"panel-title\" x=\"{LEFT}\" y=\"{}\">p99 per run: staleness proven (red) and visible by (blue), ms</text>",
        TOP - 10.0
    );
    for k in 0..=4 {
        let ms = top * f64::from(k) / 4.0;
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>\
             <text class=\"y-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{ms:.0}</text>",
            WIDTH - RIGHT,
            y(ms),
            y(ms),
            LEFT - 6.0,
            y(ms) + 4.0
        );
    }
    let label = match slo_ms {
        Some(d) => format!("SLO: p99 staleness ≤ {d} ms (--latency-slo)"),
        None => "SLO: no stale read (strict contract)".to_string(),
    };
    let _ = writeln!(
        svg,
        "<line class=\"slo\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{FAIL_COLOUR}\" stroke-width=\"1.5\" \
         stroke-dasharray=\"6 4\"/>\n<text class=\"slo-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{FAIL_COLOUR}\">{}</text>",
        WIDTH - RIGHT,
        y(slo),
        y(slo),
        WIDTH - RIGHT,
        y(slo) - 5.0,
        markup(&label)
    );
    series(&mut svg, n, &visible, &x, &y, LINE_COLOUR, "visible");
    series(&mut svg, n, &stale, &x, &y, FAIL_COLOUR, "stale");
    for i in 0..n {
        let Some(ms) = stale(i) else { continue };
        let breach = ms > slo;
        let _ = writeln!(
            svg,
            "<circle class=\"{}\" cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{}\"><title>{}: p99 staleness proven {ms:.1} ms{}</title></circle>",
            if breach { "stale breach" } else { "stale" },
            round1(x(i)),
            y(ms),
            if breach { FAIL_COLOUR } else { OK_COLOUR },
            markup(&trend.labels[i]),
            if breach { " — above the SLO" } else { "" }
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A polyline through the runs that have a value.
fn series(
    svg: &mut String,
    n: usize,
    value: &dyn Fn(usize) -> Option<f64>,
    x: &dyn Fn(usize) -> f64,
    y: &dyn Fn(f64) -> f64,
    colour: &str,
    class: &str,
) {
    let points: Vec<String> =
        (0..n).filter_map(|i| value(i).map(|ms| format!("{},{}", round1(x(i)), y(ms)))).collect();
    if points.len() > 1 {
        let _ = writeln!(
            svg,
            "<polyline class=\"{class}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trend(stale: &[Option<f64>], visible: &[Option<f64>]) -> Trend {
        Trend {
            labels: (0..stale.len()).map(|i| format!("run {i}")).collect(),
            stale_ms_p99: stale.to_vec(),
            visible_by_ms_p99: visible.to_vec(),
            ..Trend::default()
        }
    }

    #[test]
    fn strict_mode_marks_every_proven_staleness_as_a_breach() {
        let svg =
            render(&trend(&[Some(0.0), Some(120.0), Some(0.0)], &[Some(2.0), Some(130.0), Some(3.0)]), None);
        assert!(svg.contains("SLO: no stale read"), "{svg}");
        assert_eq!(svg.matches("class=\"stale breach\"").count(), 1);
        assert_eq!(svg.matches("class=\"stale\" cx").count(), 2);
        assert_eq!(svg.matches("<polyline").count(), 2);
        roxmltree::Document::parse(&svg).expect("well-formed SVG");
    }

    #[test]
    fn an_slo_draws_its_line_and_breaches_only_above_it() {
        let svg = render(&trend(&[Some(80.0), Some(260.0)], &[Some(90.0), Some(270.0)]), Some(250.0));
        assert!(svg.contains("SLO: p99 staleness ≤ 250 ms"), "{svg}");
        assert_eq!(svg.matches("class=\"stale breach\"").count(), 1);
        let old = render(&trend(&[None, None], &[None, None]), None);
        assert!(old.contains("No collected run records"), "{old}");
    }
}
