//! The artifact directory: every path in one place, one writer that redacts
//! everything it writes, reading `analysis.json` back, and the tarball. The
//! model of `analysis.json` is `crate::analysis` (no I/O, for the renderers).

mod bundle;

pub use crate::clock::Phase;
pub use bundle::{bundle, bundle_into, tarball_path};

use crate::redact::Redactor;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Directory names under `--out`, as the runbook spells them.
pub const PARITY_DIR: &str = "webprofile-parity";
pub const FLAKINESS_DIR: &str = "flakiness";

/// File names inside `webprofile-parity/`.
pub mod names {
    pub const NODE_PARITY_JSON: &str = "node.parity.json";
    pub const NODE_PARITY_OUT: &str = "node.parity.out";
    pub const TEST_PARITY_OUT: &str = "test.parity.out";
    pub const ANALYSIS_JSON: &str = "analysis.json";
    pub const CROSS_OUT: &str = "cross-instance.out";
    pub const CROSS_RESULTS_JSON: &str = "cross-instance-results.json";
    pub const FLAKINESS_JSON: &str = "flakiness.json";
    pub const FLAKINESS_UI: &str = "ui/index.html";
    /// `parity run --canary`: the detection table as JSON.
    pub const CANARY_JSON: &str = "canary.json";
    /// Every security variant tried, what came back, the effect, the verdict.
    pub const SECURITY_JSON: &str = "security.json";
    /// Every exchange of every cross-instance iteration, one JSON object a line, gzip.
    pub const CROSS_TRACE: &str = "cross-instance-trace.jsonl.gz";
    /// The iterations as a history of register operations (`scenario::history`).
    pub const HISTORY_JSONL: &str = "history.jsonl";

    pub fn cross_create(n: u32) -> String {
        format!("cross-instance-create-iter-{n}.json")
    }
    pub fn cross_revoke(n: u32) -> String {
        format!("cross-instance-revoke-iter-{n}.txt")
    }
    pub fn cross_introspect_raw(n: u32) -> String {
        format!("cross-instance-introspect-iter-{n}.raw")
    }
    pub fn cross_iteration_out(n: u32) -> String {
        format!("cross-instance-iter-{n}.out")
    }
}

/// A run's `analysis.json`; the error says which file and why.
pub fn read_analysis(path: &Path) -> Result<crate::analysis::Analysis, String> {
    let bytes = crate::files::read_artifact(path, crate::files::MAX_INPUT_BYTES)
        .map_err(|e| format!("cannot read {}: it {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{} is not a run's analysis: {e}", path.display()))
}

#[derive(Debug, thiserror::Error)]
#[error("could not write {}: {source}", path.display())]
pub struct ArtifactError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The errors of several writes as one sentence each joined by "; " (`Ok` with none).
pub fn joined(errors: Vec<String>) -> Result<(), String> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// A directory whose files all pass through the redactor.
#[derive(Clone, Debug)]
pub struct ArtifactDir {
    root: PathBuf,
    redactor: Redactor,
}

/// A buffered file being written.
type FileOut = std::io::BufWriter<std::fs::File>;

/// A gzip-compressed JSON-lines file written as the run goes: every line
/// redacted, nothing kept in memory.
pub struct JsonLines {
    text: TextStream<flate2::write::GzEncoder<FileOut>>,
}

impl JsonLines {
    pub fn write<T: Serialize>(&mut self, value: &T) -> Result<(), ArtifactError> {
        self.write_line(&serde_json::to_string(value).expect("artifact structs serialize"))
    }

    /// One line as it is (already JSON), redacted: `parity merge` copies shards' traces.
    pub fn write_line(&mut self, line: &str) -> Result<(), ArtifactError> {
        self.text.write(line)?;
        self.text.write_plain("\n")
    }

    /// Ends the gzip stream and flushes the file.
    pub fn finish(self) -> Result<PathBuf, ArtifactError> {
        let (path, encoder) = self.text.into_parts()?;
        let fail = |source| ArtifactError { path: path.clone(), source };
        let mut file = encoder.finish().map_err(fail)?;
        std::io::Write::flush(&mut file).map_err(fail)?;
        Ok(path)
    }
}

/// A JSON array written one element a line as they come, each redacted:
/// no document-sized string is built, however many elements there are.
pub struct JsonArray {
    text: TextStream,
    written: usize,
}

impl JsonArray {
    pub fn push<T: Serialize>(&mut self, item: &T) -> Result<(), ArtifactError> {
        let line = serde_json::to_string(item).expect("artifact structs serialize");
        self.text.write_plain(if self.written == 0 { "\n" } else { ",\n" })?;
        self.written += 1;
        self.text.write(&line)
    }

    pub fn finish(mut self) -> Result<PathBuf, ArtifactError> {
        self.text.write_plain("\n]\n")?;
        self.text.finish()
    }
}

/// A file written piece by piece, each piece redacted.
pub struct TextStream<W: std::io::Write = FileOut> {
    path: PathBuf,
    out: W,
    redactor: Redactor,
}

impl<W: std::io::Write> TextStream<W> {
    pub fn write(&mut self, text: &str) -> Result<(), ArtifactError> {
        let text = self.redactor.redact(text);
        self.write_plain(&text)
    }

    /// The harness's own punctuation (separators, newlines): nothing to redact.
    fn write_plain(&mut self, text: &str) -> Result<(), ArtifactError> {
        self.out
            .write_all(text.as_bytes())
            .map_err(|source| ArtifactError { path: self.path.clone(), source })
    }

    /// Flushes, and hands back the path and the writer.
    fn into_parts(mut self) -> Result<(PathBuf, W), ArtifactError> {
        self.out.flush().map_err(|source| ArtifactError { path: self.path.clone(), source })?;
        Ok((self.path, self.out))
    }
}

impl TextStream {
    pub fn finish(self) -> Result<PathBuf, ArtifactError> {
        self.into_parts().map(|(path, _)| path)
    }
}

impl ArtifactDir {
    /// Opens (truncates) a text file to be written piece by piece.
    pub fn text_stream(&self, name: &str) -> Result<TextStream, ArtifactError> {
        let path = self.path(name);
        let file = crate::files::open_for_writing(&path, false)
            .map_err(|source| ArtifactError { path: path.clone(), source })?;
        Ok(TextStream { path, out: std::io::BufWriter::new(file), redactor: self.redactor.clone() })
    }

    /// Opens (truncates) a streamed, compressed JSON-lines file.
    pub fn json_lines(&self, name: &str) -> Result<JsonLines, ArtifactError> {
        let TextStream { path, out, redactor } = self.text_stream(name)?;
        let encoder = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
        Ok(JsonLines { text: TextStream { path, out: encoder, redactor } })
    }

    /// Opens (truncates) a JSON array to be written element by element.
    pub fn json_array(&self, name: &str) -> Result<JsonArray, ArtifactError> {
        let mut text = self.text_stream(name)?;
        text.write_plain("[")?;
        Ok(JsonArray { text, written: 0 })
    }

    /// Creates `dir` (and parents).
    pub fn create(dir: &Path, redactor: Redactor) -> Result<Self, ArtifactError> {
        std::fs::create_dir_all(dir).map_err(|source| ArtifactError { path: dir.to_path_buf(), source })?;
        Ok(ArtifactDir { root: dir.to_path_buf(), redactor })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What every file written here passes through.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Writes `text` redacted, creating parent directories.
    pub fn write_text(&self, name: &str, text: &str) -> Result<PathBuf, ArtifactError> {
        let path = self.path(name);
        crate::files::write_file(&path, self.redactor.redact(text).as_bytes())
            .map_err(|source| ArtifactError { path: path.clone(), source })?;
        Ok(path)
    }

    /// Writes a JSON array one element a line (each redacted), streamed: no
    /// document-sized string is built, however many elements there are.
    pub fn write_json_array<T: Serialize>(&self, name: &str, items: &[T]) -> Result<PathBuf, ArtifactError> {
        let mut array = self.json_array(name)?;
        items.iter().try_for_each(|item| array.push(item))?;
        array.finish()
    }

    /// Writes pretty JSON (redacted) with a trailing newline.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<PathBuf, ArtifactError> {
        let text = serde_json::to_string_pretty(value).expect("artifact structs serialize") + "\n";
        self.write_text(name, &text)
    }

    /// Removes the previous run's files so a shorter run leaves no stale
    /// iteration files behind to be bundled. Only this directory's own files.
    pub fn clear(&self) -> Result<(), ArtifactError> {
        match std::fs::remove_dir_all(&self.root) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ArtifactError { path: self.root.clone(), source }),
        }
        std::fs::create_dir_all(&self.root)
            .map_err(|source| ArtifactError { path: self.root.clone(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_redacted_and_clear_removes_old_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ArtifactDir::create(&tmp.path().join("a/b"), Redactor::enabled()).unwrap();
        let token = "ab".repeat(32);
        let path = dir.write_text("x/y.txt", &format!("token {token}")).unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(!written.contains(&token), "{written}");
        dir.clear().unwrap();
        assert!(!path.exists());
        assert!(dir.root().is_dir());
    }
}
