//! A minimal XML writer: nested elements, attributes and text, always
//! escaped and always well-formed (characters XML 1.0 forbids become U+FFFD).

use crate::rerun::html_escape;

pub struct XmlWriter {
    out: String,
    open: Vec<&'static str>,
}

impl Default for XmlWriter {
    fn default() -> Self {
        XmlWriter { out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), open: Vec::new() }
    }
}

impl XmlWriter {
    /// `<name attrs>`, to be closed by [`XmlWriter::close`].
    pub fn open(&mut self, name: &'static str, attrs: &[(&str, String)]) {
        self.start_tag(name, attrs, false);
        self.out.push('\n');
        self.open.push(name);
    }

    /// `<name attrs/>`.
    pub fn empty(&mut self, name: &'static str, attrs: &[(&str, String)]) {
        self.start_tag(name, attrs, true);
        self.out.push('\n');
    }

    /// `<name attrs>text</name>` on one line.
    pub fn text(&mut self, name: &'static str, attrs: &[(&str, String)], text: &str) {
        self.start_tag(name, attrs, false);
        self.out.push_str(&escape_text(text));
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// Closes the innermost open element.
    pub fn close(&mut self) {
        if let Some(name) = self.open.pop() {
            self.indent();
            self.out.push_str("</");
            self.out.push_str(name);
            self.out.push_str(">\n");
        }
    }

    /// The document, every element still open closed.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out
    }

    fn start_tag(&mut self, name: &str, attrs: &[(&str, String)], empty: bool) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            self.out.push_str(&escape_attr(value));
            self.out.push('"');
        }
        self.out.push_str(if empty { "/>" } else { ">" });
    }

    fn indent(&mut self) {
        for _ in 0..self.open.len() {
            self.out.push_str("  ");
        }
    }
}

/// Text content: markup escaped, forbidden characters replaced.
pub fn escape_text(text: &str) -> String {
    html_escape(&allowed(text))
}

/// An attribute value: as text, and line breaks and tabs as character
/// references, which attribute-value normalisation would otherwise turn into spaces.
pub fn escape_attr(text: &str) -> String {
    escape_text(text).replace('\n', "&#10;").replace('\r', "&#13;").replace('\t', "&#9;")
}

/// XML 1.0 allows tab, LF, CR and everything from U+0020 but U+FFFE and U+FFFF.
fn allowed(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_stays_well_formed_and_round_trips() {
        let nasty = "<b>\"quotes\" & 'apostrophes'</b>\u{0}\u{1b}]]>\nline two\tx";
        let mut w = XmlWriter::default();
        w.open("root", &[("a", nasty.to_string())]);
        w.text("t", &[], nasty);
        w.empty("e", &[("b", "1".into())]);
        let xml = w.finish();
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let root = doc.root_element();
        let expected = nasty.replace(['\u{0}', '\u{1b}'], "\u{FFFD}");
        assert_eq!(root.attribute("a"), Some(expected.as_str()));
        assert_eq!(root.first_element_child().and_then(|t| t.text()), Some(expected.as_str()));
        assert_eq!(root.children().filter(|n| n.is_element()).count(), 2);
    }
}
