//! Text from outside — service bodies, file names, container logs — made
//! safe for where it goes: markup (the SVG badge and chart; HTML pages are
//! `maud` templates that escape by themselves) and one-line text outputs
//! (console lines, reports, Markdown), where a control character could
//! forge a line.

/// Escapes text for HTML and XML alike (`&#39;` is valid in both).
pub fn markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A character that can make text read other than it is: a control
/// character, or a bidirectional override, embedding, isolate or mark
/// (Trojan Source: the text shown is not the text there).
fn deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// One line: every control character (a newline, a carriage return, an
/// escape sequence's ESC) and bidirectional control becomes a space.
pub fn one_line(text: &str) -> String {
    text.chars().map(|c| if deceptive(c) { ' ' } else { c }).collect()
}

/// At most `max` characters of `text` on one line, for a message. Redacted
/// before it is cut: a secret cut short would no longer be recognised.
pub fn excerpt(text: &str, max: usize) -> String {
    let line = one_line(&crate::redact::Redactor::enabled().redact(text.trim()));
    if line.chars().count() <= max {
        line
    } else {
        line.chars().take(max).collect::<String>() + "…"
    }
}

/// Several lines: control characters other than newline and tab, and
/// bidirectional controls, become spaces (an escape sequence cannot rewrite
/// the terminal, an override cannot reorder what is read).
pub fn lines(text: &str) -> String {
    text.chars().map(|c| if deceptive(c) && c != '\n' && c != '\t' { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_escapes_the_five_and_one_line_flattens_controls() {
        assert_eq!(markup(r#"<a href="x">&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
        assert_eq!(one_line("a\nparity: forged\r\x1b[31m"), "a parity: forged  [31m");
        assert_eq!(lines("a\n\tb\r\x1b"), "a\n\tb  ");
        assert_eq!(one_line("pass\u{202E}lia\u{2066}f\u{200F}"), "pass lia f ");
        assert_eq!(lines("x\u{202D}\ny"), "x \ny");
    }
}
