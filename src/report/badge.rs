//! `status.svg`: a two-part badge in the shields "flat" style. Its width
//! fits the text (estimated with Verdana 11px advance widths) unless a width
//! is given; either way every text is fitted with `textLength` so it never
//! runs past its half.

use crate::escape::markup;
use crate::flakiness::thresholds::{ThresholdVerdict, Thresholds};
use crate::flakiness::CrossSummary;
use std::fmt::Write as _;
use std::str::FromStr;

use super::status::StatusInput;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadgeState {
    Ok,
    Alert,
    /// No data to judge.
    Unknown,
}

impl BadgeState {
    /// `threshold_exceeded` from status.json when it has one (unless its
    /// summary shows no runs), else the verdict of `thresholds` on the
    /// status's or the separate summary; unknown without data.
    pub fn decide(
        status: Option<&StatusInput>,
        summary: Option<&CrossSummary>,
        thresholds: &Thresholds,
    ) -> Self {
        let no_runs = |s: &CrossSummary| s.run_total == 0 && s.iter_total == 0;
        if let Some(status) = status {
            if status.summary.as_ref().is_some_and(no_runs) {
                return BadgeState::Unknown;
            }
            if let Some(exceeded) = status.threshold_exceeded {
                return if exceeded { BadgeState::Alert } else { BadgeState::Ok };
            }
        }
        match status.and_then(|s| s.summary.as_ref()).or(summary) {
            Some(s) => match thresholds.judge(s).verdict {
                ThresholdVerdict::Exceeded => BadgeState::Alert,
                ThresholdVerdict::Ok => BadgeState::Ok,
                ThresholdVerdict::NoData => BadgeState::Unknown,
            },
            None => BadgeState::Unknown,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BadgeState::Ok => "ok",
            BadgeState::Alert => "alert",
            BadgeState::Unknown => "unknown",
        }
    }
}

/// A validated colour: `#rgb`, `#rrggbb`, or a shields colour name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Colour(String);

const NAMED: [(&str, &str); 16] = [
    ("brightgreen", "#4c1"),
    ("green", "#97ca00"),
    ("yellowgreen", "#a4a61d"),
    ("yellow", "#dfb317"),
    ("orange", "#fe7d37"),
    ("red", "#e05d44"),
    ("blue", "#007ec6"),
    ("grey", "#555"),
    ("gray", "#555"),
    ("lightgrey", "#9f9f9f"),
    ("lightgray", "#9f9f9f"),
    ("success", "#4c1"),
    ("important", "#fe7d37"),
    ("critical", "#e05d44"),
    ("informational", "#007ec6"),
    ("inactive", "#9f9f9f"),
];

impl FromStr for Colour {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        if let Some(hex) = lower.strip_prefix('#') {
            if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(Colour(lower));
            }
        } else if let Some((_, hex)) = NAMED.iter().find(|(name, _)| *name == lower) {
            return Ok(Colour((*hex).to_string()));
        }
        let names: Vec<&str> = NAMED.iter().map(|(n, _)| *n).collect();
        Err(format!("`{text}` is not a colour: use #rgb, #rrggbb or one of {}", names.join(", ")))
    }
}

impl Colour {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct BadgeStyle {
    pub label: String,
    pub ok_text: String,
    pub alert_text: String,
    pub unknown_text: String,
    pub ok_color: Colour,
    pub alert_color: Colour,
    pub unknown_color: Colour,
    /// Total width; fitted to the text when `None`.
    pub width: Option<u32>,
    pub height: u32,
}

pub const DEFAULT_LABEL: &str = "parity";
pub const DEFAULT_OK_COLOR: &str = "#4c1";
pub const DEFAULT_ALERT_COLOR: &str = "#e05d44";
pub const DEFAULT_UNKNOWN_COLOR: &str = "#9f9f9f";
pub const DEFAULT_HEIGHT: u32 = 20;

impl Default for BadgeStyle {
    fn default() -> Self {
        BadgeStyle {
            label: DEFAULT_LABEL.into(),
            ok_text: "ok".into(),
            alert_text: "alert".into(),
            unknown_text: "unknown".into(),
            ok_color: Colour(DEFAULT_OK_COLOR.into()),
            alert_color: Colour(DEFAULT_ALERT_COLOR.into()),
            unknown_color: Colour(DEFAULT_UNKNOWN_COLOR.into()),
            width: None,
            height: DEFAULT_HEIGHT,
        }
    }
}

/// Padding on each side of a text, at font size 11.
const PADDING: f64 = 5.0;
const LABEL_COLOR: &str = "#555";

/// Advance width of `text` in Verdana at 11px, by character class.
/// Errs wide: a badge a little roomy beats clipped text.
pub fn text_width(text: &str) -> f64 {
    text.chars().map(char_width).sum()
}

fn char_width(c: char) -> f64 {
    match c {
        ' ' => 3.9,
        'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '!' | '|' | '`' => 3.3,
        'f' | 't' | 'r' | 'I' | '(' | ')' | '[' | ']' | '{' | '}' | '-' | '/' | '\\' | '"' => 5.0,
        'm' => 10.7,
        'w' => 9.0,
        'M' | 'W' | '%' | '@' => 12.1,
        '#' | '+' | '=' | '<' | '>' | '~' | '^' | '&' | '*' | '?' | '$' | '_' => 9.0,
        c if c.is_ascii_digit() => 7.0,
        c if c.is_ascii_lowercase() => 7.0,
        c if c.is_ascii_uppercase() => 8.7,
        c if c.is_control() => 0.0,
        // CJK, Hangul, emoji and other wide glyphs take a full em or more.
        c if u32::from(c) >= 0x1100 => 14.0,
        _ => 8.7,
    }
}

/// The badge for `state` as SVG text.
pub fn render(style: &BadgeStyle, state: BadgeState) -> String {
    let (value, colour) = match state {
        BadgeState::Ok => (&style.ok_text, &style.ok_color),
        BadgeState::Alert => (&style.alert_text, &style.alert_color),
        BadgeState::Unknown => (&style.unknown_text, &style.unknown_color),
    };
    let label = clean(&style.label);
    let value = clean(value);
    let height = f64::from(style.height.max(1));
    let font_size = (height * 0.55).min(11.0);
    let scale = font_size / 11.0;
    let padding = PADDING * scale;
    let natural = |text: &str| text_width(text) * scale;
    let (label_natural, value_natural) = (natural(&label), natural(&value));
    let (label_part, value_part) = match style.width {
        None => (label_natural + 2.0 * padding, value_natural + 2.0 * padding),
        Some(width) => {
            let total_natural = label_natural + value_natural + 4.0 * padding;
            let width = f64::from(width.max(2));
            let label_part =
                (width * (label_natural + 2.0 * padding) / total_natural).clamp(1.0, width - 1.0);
            (label_part, width - label_part)
        }
    };
    let (label_part, value_part) = (round1(label_part), round1(value_part));
    let width = round1(label_part + value_part);
    // Squeeze a text into its half minus padding, never stretch it.
    let fit = |natural: f64, part: f64| round1(natural.min((part - 2.0 * padding).max(1.0)));
    let (label_length, value_length) = (fit(label_natural, label_part), fit(value_natural, value_part));
    let baseline = round1(height / 2.0 + font_size * 0.35);
    let (label_x, value_x) = (round1(label_part / 2.0), round1(label_part + value_part / 2.0));
    let (label_xml, value_xml) = (markup(&label), markup(&value));
    let mut svg = String::with_capacity(1200 + 4 * (label_xml.len() + value_xml.len()));
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{label_xml}: {value_xml}">
<title>{label_xml}: {value_xml}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="{width}" height="{height}" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="{label_part}" height="{height}" fill="{LABEL_COLOR}"/><rect x="{label_part}" width="{value_part}" height="{height}" fill="{colour}"/><rect width="{width}" height="{height}" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="{font_size}">
"##,
        colour = colour.as_str(),
        font_size = round1(font_size),
    );
    for (x, length, text) in [(label_x, label_length, &label_xml), (value_x, value_length, &value_xml)] {
        let _ = writeln!(
            svg,
            r##"<text aria-hidden="true" x="{x}" y="{shadow}" fill="#010101" fill-opacity=".3" textLength="{length}" lengthAdjust="spacingAndGlyphs">{text}</text><text x="{x}" y="{baseline}" textLength="{length}" lengthAdjust="spacingAndGlyphs">{text}</text>"##,
            shadow = round1(baseline + 1.0),
        );
    }
    svg.push_str("</g>\n</svg>\n");
    svg
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// One line of text without characters XML 1.0 cannot hold.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control() && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(label: &str) -> BadgeStyle {
        BadgeStyle { label: label.into(), ..BadgeStyle::default() }
    }

    fn attr(svg: &str, element: &str, name: &str) -> Vec<f64> {
        let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
        doc.descendants()
            .filter(|n| n.has_tag_name(element))
            .filter_map(|n| n.attribute(name).and_then(|v| v.parse().ok()))
            .collect()
    }

    #[test]
    fn width_grows_with_the_label() {
        let widths: Vec<f64> = ["p", "parity", "parity cross-instance", &"W".repeat(60)]
            .iter()
            .map(|l| attr(&render(&style(l), BadgeState::Ok), "svg", "width")[0])
            .collect();
        assert!(widths.windows(2).all(|w| w[0] < w[1]), "{widths:?}");
        // 60 wide glyphs at ~12px each need well over 700px.
        assert!(widths[3] > 700.0, "{widths:?}");
    }

    #[test]
    fn the_default_badge_is_close_to_shields() {
        // shields.io draws "parity | ok" 62px wide; the estimate errs a little wide.
        let w = attr(&render(&BadgeStyle::default(), BadgeState::Ok), "svg", "width")[0];
        assert!((60.0..=72.0).contains(&w), "{w}");
    }

    #[test]
    fn text_fits_its_half_even_in_a_forced_narrow_width() {
        for width in [None, Some(40), Some(140)] {
            let s = BadgeStyle { width, ..style(&"long label ".repeat(6)) };
            let svg = render(&s, BadgeState::Alert);
            let rects = attr(&svg, "rect", "width");
            let (label_part, value_part) = (rects[1], rects[2]);
            let lengths = attr(&svg, "text", "textLength");
            assert!(lengths[0] <= label_part && lengths[2] <= value_part, "{width:?}: {rects:?} {lengths:?}");
            if let Some(w) = width {
                assert_eq!(attr(&svg, "svg", "width")[0], f64::from(w));
            }
        }
    }

    #[test]
    fn text_is_escaped_and_the_svg_stays_well_formed() {
        let s = BadgeStyle {
            label: "<script>alert('x')</script> & \"co\"\u{1}\n".into(),
            ok_text: "ünïcödé 漢字 ✓".into(),
            ..BadgeStyle::default()
        };
        let svg = render(&s, BadgeState::Ok);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;"));
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let texts: Vec<&str> =
            doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).collect();
        assert_eq!(texts[0], "<script>alert('x')</script> & \"co\" ");
        assert_eq!(texts[2], "ünïcödé 漢字 ✓");
    }

    #[test]
    fn states_pick_text_and_colour() {
        let alert = render(&BadgeStyle::default(), BadgeState::Alert);
        assert!(alert.contains(DEFAULT_ALERT_COLOR) && alert.contains(">alert</text>"));
        let unknown = render(&BadgeStyle::default(), BadgeState::Unknown);
        assert!(unknown.contains(DEFAULT_UNKNOWN_COLOR) && unknown.contains(">unknown</text>"));
    }

    #[test]
    fn colours_are_validated() {
        assert_eq!("#0b0".parse::<Colour>().unwrap().as_str(), "#0b0");
        assert_eq!("#A1B2C3".parse::<Colour>().unwrap().as_str(), "#a1b2c3");
        assert_eq!("brightgreen".parse::<Colour>().unwrap().as_str(), "#4c1");
        for bad in ["0b0", "#0b", "#ggg", "#12345", "chartreuse", "red;fill:url(x)", ""] {
            let e = bad.parse::<Colour>().unwrap_err();
            assert!(e.contains("is not a colour"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_state_follows_status_then_summary_then_unknown() {
        let t = Thresholds::default();
        let failing = CrossSummary {
            run_total: 3,
            run_failures: 1,
            iter_total: 15,
            iter_failures: 1,
            ..Default::default()
        };
        let passing = CrossSummary { run_total: 3, iter_total: 15, ..Default::default() };
        let status = |exceeded: Option<bool>, summary: Option<CrossSummary>| StatusInput {
            threshold_exceeded: exceeded,
            summary,
        };
        // threshold_exceeded wins over the numbers, so an operator's thresholds at status time hold.
        assert_eq!(
            BadgeState::decide(Some(&status(Some(false), Some(failing.clone()))), None, &t),
            BadgeState::Ok
        );
        assert_eq!(BadgeState::decide(Some(&status(Some(true), None)), None, &t), BadgeState::Alert);
        assert_eq!(
            BadgeState::decide(Some(&status(None, Some(failing.clone()))), None, &t),
            BadgeState::Alert
        );
        assert_eq!(BadgeState::decide(None, Some(&passing), &t), BadgeState::Ok);
        assert_eq!(BadgeState::decide(None, Some(&failing), &t), BadgeState::Alert);
        assert_eq!(
            BadgeState::decide(Some(&status(Some(false), Some(CrossSummary::default()))), None, &t),
            BadgeState::Unknown
        );
        assert_eq!(BadgeState::decide(None, None, &t), BadgeState::Unknown);
    }
}
