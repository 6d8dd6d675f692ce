//! The console: progress bars on a terminal, plain lines in CI and logs —
//! and the only place the process writes to stdout or stderr. Every byte is
//! redacted (whatever `--no-redact` says: that is for artifacts), text from
//! outside cannot forge a line, and a closed pipe (`| head`) is not an error.

use crate::escape;
use crate::redact::Redactor;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write as _};

/// Set when the console could not be written (a full disk, a device that
/// refuses): the process then exits non-zero. A closed pipe (`| head`) is
/// the reader leaving, not lost output.
static OUTPUT_LOST: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn note_write(result: std::io::Result<()>) {
    if result.is_err_and(|e| e.kind() != std::io::ErrorKind::BrokenPipe) {
        OUTPUT_LOST.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether some console output could not be written.
pub fn output_lost() -> bool {
    OUTPUT_LOST.load(std::sync::atomic::Ordering::Relaxed)
}

/// Sends `tracing` events (`PARITY_LOG=debug`) to stderr through the same
/// redaction and flattening as every other console byte: a dependency's
/// debug line may name a URL or a header.
pub fn install_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PARITY_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_ansi(false)
        .with_writer(|| RedactedStderr)
        .try_init();
}

/// One formatted `tracing` event at a time, redacted on its way to stderr.
struct RedactedStderr;

impl std::io::Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = escape::lines(&Redactor::enabled().redact(&String::from_utf8_lossy(buf)));
        note_write(std::io::stderr().lock().write_all(text.as_bytes()));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One line for the user on stderr: redacted, control characters flattened.
fn err_line(text: &str) {
    let text = escape::one_line(&Redactor::enabled().redact(text));
    note_write(writeln!(std::io::stderr().lock(), "parity: {text}"));
}

/// A line shown above a progress bar (same rules as [`err_line`]).
fn bar_line(bar: &ProgressBar, text: &str) {
    bar.println(escape::one_line(&Redactor::enabled().redact(text)));
}

fn bar_message(bar: &ProgressBar, text: &str) {
    bar.set_message(escape::one_line(&Redactor::enabled().redact(text)));
}

#[derive(Clone, Copy, Debug)]
pub struct Reporter {
    bars: bool,
}

impl Reporter {
    /// Bars only when stderr is a terminal and `CI` is not set.
    pub fn detect() -> Self {
        Reporter { bars: std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() }
    }

    pub fn plain() -> Self {
        Reporter { bars: false }
    }

    /// Several lines at once (a table), on stderr.
    pub fn print_block(&self, text: &str) {
        let text = escape::lines(&Redactor::enabled().redact(text));
        note_write(std::io::stderr().lock().write_all(text.as_bytes()));
    }

    /// A line for the user, on stderr (stdout stays free for machine output).
    pub fn line(&self, message: impl AsRef<str>) {
        err_line(message.as_ref());
    }

    pub fn iterations(&self, total: u32, what: &str) -> IterationProgress {
        let bar = self.bars.then(|| {
            let bar = ProgressBar::new(u64::from(total));
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(what.to_string());
            bar
        });
        IterationProgress { bar, total, done: 0, failures: 0, what: what.to_string() }
    }
}

/// Progress over named steps (downloaded runs, say): a bar on a terminal,
/// one line per step otherwise.
pub struct StepProgress {
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
    what: String,
}

impl Reporter {
    pub fn steps(&self, total: u64, what: &str) -> StepProgress {
        let bar = self.bars.then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(what.to_string());
            bar
        });
        StepProgress { bar, total, done: 0, what: what.to_string() }
    }
}

impl StepProgress {
    /// One step done; a `warning` is shown above the bar (or on its own line).
    pub fn step(&mut self, label: &str, detail: &str, warning: Option<&str>) {
        self.done += 1;
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar_message(bar, &format!("{label}: {detail}"));
                if let Some(warning) = warning {
                    bar_line(bar, &format!("parity: warning: {warning}"));
                }
            }
            None => {
                err_line(&format!("{} {label} ({}/{}): {detail}", self.what, self.done, self.total));
                if let Some(warning) = warning {
                    err_line(&format!("warning: {warning}"));
                }
            }
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

pub struct IterationProgress {
    bar: Option<ProgressBar>,
    total: u32,
    done: u32,
    failures: u32,
    what: String,
}

impl IterationProgress {
    pub fn finished(&mut self, iteration: u32, success: bool, detail: &str) {
        self.done += 1;
        if !success {
            self.failures += 1;
        }
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(format!("{} failed", self.failures));
                if !success {
                    bar_line(bar, &format!("  iteration {iteration}: FAIL — {detail}"));
                }
            }
            None => err_line(&format!(
                "{} {iteration} ({}/{}): {} {detail}",
                self.what,
                self.done,
                self.total,
                if success { "PASS" } else { "FAIL —" }
            )),
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Progress of open-ended work (an image pull or build): a spinner with the
/// latest status on a terminal; in CI, only the status lines that say something.
pub struct ActivityProgress {
    bar: Option<ProgressBar>,
    what: String,
    last: String,
}

impl Reporter {
    pub fn activity(&self, what: &str) -> ActivityProgress {
        let bar = self.bars.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix}: {wide_msg} ({elapsed})")
                    .expect("static template"),
            );
            bar.set_prefix(what.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        if bar.is_none() {
            err_line(&format!("{what}…"));
        }
        ActivityProgress { bar, what: what.to_string(), last: String::new() }
    }
}

impl ActivityProgress {
    /// The latest status; `notable` ones are also printed as lines in CI.
    pub fn status(&mut self, message: &str, notable: bool) {
        let message = message.trim();
        if message.is_empty() || message == self.last {
            return;
        }
        self.last = message.to_string();
        match &self.bar {
            Some(bar) => bar_message(bar, message),
            None if notable => err_line(&format!("{}: {message}", self.what)),
            None => {}
        }
    }

    pub fn finish(self, outcome: &str) {
        match self.bar {
            Some(bar) => bar.finish_with_message(escape::one_line(&Redactor::enabled().redact(outcome))),
            None => err_line(&format!("{}: {outcome}", self.what)),
        }
    }
}

/// Machine output on stdout (redacted); a closed pipe (`| head`) is not an error.
/// How a line of [`print_tinted`] is shown on a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tint {
    Plain,
    Bold,
    Red,
    Dim,
    Cyan,
}

/// Lines on stdout, each tinted when stdout is a terminal (and `NO_COLOR`
/// is unset), plain otherwise; redacted and flattened like every output.
pub fn print_tinted(lines: &[(Tint, String)]) {
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut text = String::new();
    for (tint, line) in lines {
        let line = escape::one_line(&Redactor::enabled().redact(line));
        let code = match tint {
            Tint::Plain => None,
            Tint::Bold => Some("1"),
            Tint::Red => Some("31"),
            Tint::Dim => Some("2"),
            Tint::Cyan => Some("36"),
        };
        match code.filter(|_| colour) {
            Some(code) => text.push_str(&format!("\x1b[{code}m{line}\x1b[0m\n")),
            None => text.push_str(&format!("{line}\n")),
        }
    }
    let mut out = std::io::stdout().lock();
    note_write(out.write_all(text.as_bytes()).and_then(|()| out.flush()));
}

pub fn print_stdout(text: &str) {
    let text = escape::lines(&Redactor::enabled().redact(text));
    let mut out = std::io::stdout().lock();
    note_write(out.write_all(text.as_bytes()).and_then(|()| out.flush()));
}
