//! Reading collected files — cross-instance results (an array of
//! iterations) and rerun reports (`flakiness.json`) — into the very types
//! the harness writes them with, whose fields read leniently (see
//! `lenient`). Only `success` is required, so older and newer producers both
//! parse. Anything that cannot be used becomes a [`SkipReason`] — these
//! functions never panic, whatever the bytes.

use crate::rerun::FlakinessReport;
use crate::scenario::cross::IterationResult;
use serde_json::Value;
use std::fmt;

/// Why a file could not be used.
#[derive(Clone, Debug, PartialEq)]
pub enum SkipReason {
    Unreadable {
        error: String,
    },
    /// Not a regular file, or over the size cap (`files::read_input`).
    Refused {
        why: String,
    },
    Empty,
    NotUtf8 {
        offset: usize,
    },
    Truncated {
        line: usize,
        column: usize,
    },
    Malformed {
        line: usize,
        column: usize,
        message: String,
    },
    WrongShape {
        expected: &'static str,
        found: &'static str,
    },
    ZeroIterations,
    BadEntry {
        index: usize,
        problem: &'static str,
    },
    MissingSuccess,
}

impl SkipReason {
    /// A stable machine-readable code for the reason.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::Unreadable { .. } => "unreadable",
            SkipReason::Refused { .. } => "refused",
            SkipReason::Empty => "empty",
            SkipReason::NotUtf8 { .. } => "not_utf8",
            SkipReason::Truncated { .. } => "truncated",
            SkipReason::Malformed { .. } => "malformed",
            SkipReason::WrongShape { .. } => "wrong_shape",
            SkipReason::ZeroIterations => "zero_iterations",
            SkipReason::BadEntry { .. } => "bad_entry",
            SkipReason::MissingSuccess => "missing_success",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Unreadable { error } => write!(f, "cannot be read: {error}"),
            SkipReason::Refused { why } => write!(f, "{why}"),
            SkipReason::Empty => write!(f, "is empty"),
            SkipReason::NotUtf8 { offset } => {
                write!(f, "is not valid UTF-8 (first bad byte at offset {offset})")
            }
            SkipReason::Truncated { line, column } => {
                write!(f, "is truncated: the JSON ends early at line {line}, column {column}")
            }
            SkipReason::Malformed { line, column, message } => {
                write!(f, "is not valid JSON at line {line}, column {column}: {message}")
            }
            SkipReason::WrongShape { expected, found } => {
                write!(f, "holds {found} where {expected} was expected")
            }
            SkipReason::ZeroIterations => write!(f, "holds no iterations"),
            SkipReason::BadEntry { index, problem } => write!(f, "iteration at index {index} {problem}"),
            SkipReason::MissingSuccess => write!(f, "has no true/false `success`"),
        }
    }
}

/// A cross-instance results file: a non-empty array of iterations, read
/// into the type the harness writes them with.
pub fn parse_cross(bytes: &[u8]) -> Result<Vec<IterationResult>, SkipReason> {
    parse_cross_from(bytes)
}

/// [`parse_cross`] streamed from a reader: one iteration in memory as JSON
/// at a time, so a file of any size the harness can write (78 MB at 200,000
/// iterations) is read without holding it whole.
pub fn parse_cross_from(reader: impl std::io::Read) -> Result<Vec<IterationResult>, SkipReason> {
    use serde::de::Deserializer as _;
    // Buffered above the check: serde_json reads a byte at a time.
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, Utf8Checked::new(reader));
    let not_utf8 = |reader: &std::io::BufReader<Utf8Checked<_>>| {
        reader.get_ref().bad_byte.map(|offset| SkipReason::NotUtf8 { offset })
    };
    match skip_bom_and_blank(&mut reader) {
        Ok(true) => {}
        Ok(false) => return Err(SkipReason::Empty),
        Err(e) => return Err(not_utf8(&reader).unwrap_or(SkipReason::Unreadable { error: e.to_string() })),
    }
    let problem = std::cell::RefCell::new(None);
    let mut de = serde_json::Deserializer::from_reader(&mut reader);
    let visited =
        de.deserialize_any(CrossVisitor { problem: &problem }).and_then(|items| de.end().map(|()| items));
    match visited {
        Ok(items) if items.is_empty() => Err(SkipReason::ZeroIterations),
        Ok(items) => Ok(items),
        Err(e) => Err(problem.into_inner().or(not_utf8(&reader)).unwrap_or_else(|| json_error(&e))),
    }
}

/// Drops a byte-order mark and leading whitespace; false when nothing follows.
fn skip_bom_and_blank(reader: &mut impl std::io::BufRead) -> std::io::Result<bool> {
    if reader.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(false);
        }
        let blank = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let rest = buf.len() - blank;
        reader.consume(blank);
        if rest > 0 {
            return Ok(true);
        }
    }
}

/// The array visitor of [`parse_cross_from`]: the first unusable entry is
/// kept in `problem` (serde's error type carries only text).
struct CrossVisitor<'p> {
    problem: &'p std::cell::RefCell<Option<SkipReason>>,
}

impl<'de> serde::de::Visitor<'de> for CrossVisitor<'_> {
    type Value = Vec<IterationResult>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of iterations")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            let index = items.len();
            match iteration(index, item) {
                Ok(iteration) => items.push(iteration),
                Err(reason) => {
                    *self.problem.borrow_mut() = Some(reason);
                    return Err(serde::de::Error::custom("unusable iteration"));
                }
            }
        }
        Ok(items)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.wrong_shape("an object")
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        self.wrong_shape("a boolean")
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        self.wrong_shape("a number")
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        self.wrong_shape("a number")
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        self.wrong_shape("a number")
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
        self.wrong_shape("a string")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        self.wrong_shape("null")
    }
}

impl CrossVisitor<'_> {
    fn wrong_shape<T, E: serde::de::Error>(&self, found: &'static str) -> Result<T, E> {
        *self.problem.borrow_mut() =
            Some(SkipReason::WrongShape { expected: "an array of iterations", found });
        Err(E::custom("wrong shape"))
    }
}

fn iteration(index: usize, item: Value) -> Result<IterationResult, SkipReason> {
    let fields = item.as_object().ok_or(SkipReason::BadEntry { index, problem: "is not an object" })?;
    if !fields.get("success").is_some_and(Value::is_boolean) {
        return Err(SkipReason::BadEntry { index, problem: "has no true/false `success`" });
    }
    let mut iteration: IterationResult = serde_json::from_value(item)
        .map_err(|_| SkipReason::BadEntry { index, problem: "cannot be read" })?;
    if iteration.iteration == 0 {
        iteration.iteration = u32::try_from(index + 1).unwrap_or(u32::MAX);
    }
    Ok(iteration)
}

/// A reader that fails at the first byte that is not UTF-8 and remembers
/// its offset (serde_json's reader would name only a line and column).
struct Utf8Checked<R> {
    inner: R,
    /// Bytes of a character split across reads, checked with the next read.
    pending: Vec<u8>,
    offset: usize,
    bad_byte: Option<usize>,
}

impl<R: std::io::Read> Utf8Checked<R> {
    fn new(inner: R) -> Self {
        Utf8Checked { inner, pending: Vec::new(), offset: 0, bad_byte: None }
    }
}

impl<R: std::io::Read> std::io::Read for Utf8Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let start = self.offset - self.pending.len();
        let mut checked = std::mem::take(&mut self.pending);
        checked.extend_from_slice(&buf[..n]);
        self.offset += n;
        if let Err(e) = std::str::from_utf8(&checked) {
            let at_end = e.error_len().is_none();
            if at_end && n > 0 {
                self.pending = checked[e.valid_up_to()..].to_vec();
            } else {
                self.bad_byte = Some(start + e.valid_up_to());
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"));
            }
        }
        Ok(n)
    }
}

fn json_error(e: &serde_json::Error) -> SkipReason {
    let (line, column) = (e.line(), e.column());
    if e.is_eof() {
        SkipReason::Truncated { line, column }
    } else if e.is_io() {
        SkipReason::Unreadable { error: e.to_string() }
    } else {
        let message = e.to_string();
        // serde_json appends " at line L column C"; the reason says it already.
        let message = message.split(" at line ").next().unwrap_or(&message).to_string();
        SkipReason::Malformed { line, column, message }
    }
}

/// A rerun report (`flakiness.json`): an object with at least `success`,
/// read into the type `parity run` and `parity rerun` write. Upstream
/// reports carry no `flaky`: it is then a pass after more than one attempt.
pub fn parse_rerun(bytes: &[u8]) -> Result<FlakinessReport, SkipReason> {
    let value = parse_json(bytes)?;
    let fields = value
        .as_object()
        .ok_or(SkipReason::WrongShape { expected: "a rerun report object", found: kind(&value) })?;
    if !fields.get("success").is_some_and(Value::is_boolean) {
        return Err(SkipReason::MissingSuccess);
    }
    let says_flaky = fields.get("flaky").is_some_and(Value::is_boolean);
    let mut report: FlakinessReport =
        serde_json::from_value(value).map_err(|_| SkipReason::MissingSuccess)?;
    if !says_flaky {
        report.flaky = report.success && report.attempts.len() > 1;
    }
    Ok(report)
}

fn parse_json(bytes: &[u8]) -> Result<Value, SkipReason> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| SkipReason::NotUtf8 { offset: e.valid_up_to() })?;
    if text.trim().is_empty() {
        return Err(SkipReason::Empty);
    }
    serde_json::from_str(text).map_err(|e| json_error(&e))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::FailureClass;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    const NEW_FORMAT: &str = r#"[
      {"iteration": 1, "success": true, "reason": null, "revoke_status": 204, "last": {"active": false},
       "latency_ms": 1.5, "stale_reads": 0, "polls": 1, "user_id": "u1", "token_id": "t",
       "started_at": "2024-01-04T10:00:00.000Z", "duration_ms": 12.0, "future_field": [1, 2]},
      {"iteration": 2, "success": false, "reason": "token still active", "revoke_status": 204,
       "last": {"active": true}, "latency_ms": null, "stale_reads": 40, "polls": 41}
    ]"#;

    #[test]
    fn new_format_keeps_every_known_field_and_ignores_extras() {
        let its = parse_cross(NEW_FORMAT.as_bytes()).unwrap();
        assert_eq!(its.len(), 2);
        assert_eq!(its[0].latency_ms, Some(1.5));
        assert_eq!(its[0].stale_reads, Some(0));
        assert_eq!(its[0].started().map(|t| t.to_rfc3339()), Some("2024-01-04T10:00:00+00:00".into()));
        assert!(!its[1].success);
        assert_eq!(its[1].reason.as_deref(), Some("token still active"));
        assert_eq!((its[1].latency_ms, its[1].stale_reads, its[1].polls), (None, Some(40), 41));
    }

    #[test]
    fn old_format_and_odd_optional_fields_are_accepted() {
        let old = r#"[{"iteration": 1, "success": true, "reason": null, "revoke_status": 204, "last": null},
                      {"success": false, "reason": {"code": 503}, "revoke_status": "204", "latency_ms": "fast",
                       "stale_reads": -1, "started_at": "yesterday"}]"#;
        let its = parse_cross(old.as_bytes()).unwrap();
        assert_eq!(its[0].latency_ms, None);
        assert_eq!(its[0].stale_reads, None);
        assert_eq!(its[1].iteration, 2, "a missing iteration number falls back to the position");
        assert_eq!(its[1].reason.as_deref(), Some(r#"{"code":503}"#));
        assert_eq!(its[1].revoke_status, Some(204));
        assert_eq!((its[1].latency_ms, its[1].stale_reads, its[1].started()), (None, None, None));
    }

    #[test]
    fn each_kind_of_bad_file_has_its_reason() {
        let cases: [(&[u8], &str); 9] = [
            (b"", "empty"),
            (b"  \n\t", "empty"),
            (b"[{\"success\": tr", "truncated"),
            (b"[{\"success\": true,, }]", "malformed"),
            (b"{\"iteration\": 1, \"success\": true}", "wrong_shape"),
            (b"[]", "zero_iterations"),
            (b"[{\"iteration\": 1}]", "bad_entry"),
            (b"[1, 2]", "bad_entry"),
            (b"[{\"success\": true, \"reason\": \"\xff\xfe\"}]", "not_utf8"),
        ];
        for (bytes, code) in cases {
            let reason = parse_cross(bytes).unwrap_err();
            assert_eq!(reason.code(), code, "{:?}: {reason}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn reasons_read_as_sentences() {
        assert_eq!(
            parse_cross(b"{}").unwrap_err().to_string(),
            "holds an object where an array of iterations was expected"
        );
        assert_eq!(
            parse_cross(b"[{\"success\": 1}]").unwrap_err().to_string(),
            "iteration at index 0 has no true/false `success`"
        );
        assert!(parse_cross(b"[tru").unwrap_err().to_string().starts_with("is truncated"));
        assert_eq!(
            parse_cross(b"ab\xffcd").unwrap_err().to_string(),
            "is not valid UTF-8 (first bad byte at offset 2)"
        );
    }

    #[test]
    fn classes_are_read_inferred_for_old_files_and_never_dropped() {
        let its = parse_cross(
            br#"[{"success": false, "class": "infrastructure"}, {"success": false, "class": "cosmic-ray"},
                 {"success": false, "stale_reads": 3}, {"success": false}, {"success": true, "class": null}]"#,
        )
        .unwrap();
        let classes: Vec<Option<FailureClass>> = its.iter().map(IterationResult::failure_class).collect();
        assert_eq!(
            classes,
            [
                Some(FailureClass::Infrastructure),
                Some(FailureClass::Unknown),
                Some(FailureClass::StaleRead),
                Some(FailureClass::Unknown),
                None
            ]
        );
        let r = parse_rerun(
            br#"{"success": false, "attempts": [{"rc": 1, "class": "stale-read"}, {"rc": 1, "class": null}]}"#,
        )
        .unwrap();
        assert_eq!(r.failure_classes().collect::<Vec<_>>(), [FailureClass::StaleRead]);
    }

    #[test]
    fn a_byte_order_mark_is_tolerated() {
        assert_eq!(parse_cross(b"\xEF\xBB\xBF[{\"success\": true}]").unwrap().len(), 1);
    }

    #[test]
    fn rerun_reports_upstream_and_current() {
        let upstream = br#"{"start_ts": "2024-01-01T00:00:00Z", "end_ts": "x", "success": true,
                            "attempts": [{"attempt": 1, "rc": 1}, {"attempt": 2, "rc": 0}]}"#;
        let r = parse_rerun(upstream).unwrap();
        assert!(r.success && r.flaky, "flaky is derived when absent");
        assert_eq!(r.attempts.len(), 2);
        let current = br#"{"start_ts": "a", "end_ts": "b", "success": false, "attempts": [], "flaky": false,
                           "subject": "node parity smoke"}"#;
        let r = parse_rerun(current).unwrap();
        assert!(!r.success && !r.flaky);
        assert_eq!(r.subject, "node parity smoke");
        assert_eq!(parse_rerun(b"[]").unwrap_err().code(), "wrong_shape");
        assert_eq!(parse_rerun(b"{\"attempts\": []}").unwrap_err().code(), "missing_success");
    }

    /// Random bytes, and valid files mutated byte by byte, truncated and
    /// spliced: parsing must return, never panic, and a success must carry
    /// at least one iteration.
    #[test]
    fn fuzz_parsers_never_panic() {
        let mut rng = SmallRng::seed_from_u64(0x5eed_f1a4);
        let seeds: [&[u8]; 3] =
            [NEW_FORMAT.as_bytes(), br#"{"success": true, "attempts": [{"rc": 0}], "flaky": false}"#, b"[]"];
        let alphabet = b"[]{}\",:0123456789.-eEtruefalsnl \n\\u\xff\xc3\xa9";
        for round in 0..20_000 {
            let bytes: Vec<u8> = match round % 4 {
                0 => (0..rng.random_range(0..64)).map(|_| rng.random()).collect(),
                1 => (0..rng.random_range(0..64))
                    .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                    .collect(),
                2 => {
                    let mut b = seeds[rng.random_range(0..seeds.len())].to_vec();
                    for _ in 0..rng.random_range(1..6) {
                        if b.is_empty() {
                            break;
                        }
                        let at = rng.random_range(0..b.len());
                        match rng.random_range(0..3) {
                            0 => b[at] = rng.random(),
                            1 => {
                                b.remove(at);
                            }
                            _ => b.insert(at, alphabet[rng.random_range(0..alphabet.len())]),
                        }
                    }
                    b
                }
                _ => {
                    let seed = seeds[rng.random_range(0..seeds.len())];
                    seed[..rng.random_range(0..=seed.len())].to_vec()
                }
            };
            if let Ok(its) = parse_cross(&bytes) {
                assert!(!its.is_empty());
            }
            let _ = parse_rerun(&bytes);
        }
    }
}
