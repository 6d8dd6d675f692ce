//! What a run says as it goes: typed events, and the emitter that hands each
//! one to every sink (artifacts, JUnit, console, step summary, Slack). A
//! sink owns whatever redactor its output needs; nothing in a run writes
//! around the sinks.

use crate::analysis::Analysis;
use crate::canary::CanaryReport;
use crate::clock::Phase;
use crate::rerun::FlakinessReport;
use crate::scenario::cross::{CrossTotals, Iteration};
use crate::scenario::immediacy::Smoke;
use crate::scenario::suite::SuiteReport;
use crate::stack::LogFile;
use std::path::{Path, PathBuf};

/// One thing that happened in a run, in the order it happened.
pub enum Event<'a> {
    /// A sentence for the user: the backend chosen, a chaos step, a cleanup.
    Note(&'a str),
    /// Something went wrong that does not stop the run (an artifact that
    /// could not be written, a container left behind).
    Warning(&'a str),
    /// `--canary`: what caught each fault of the reference, before the real run.
    Canary(&'a CanaryReport),
    /// The stack is up at these URLs.
    StackUp {
        backend: &'a str,
        targets: &'a [String],
        store: Option<&'a str>,
    },
    PhaseFinished(&'a Phase),
    /// One try of the smoke ended.
    SmokeAttempt {
        attempt: u32,
        attempts: u32,
        smoke: &'a Smoke,
    },
    /// Every try of the smoke, judged.
    SmokeFinished {
        report: &'a FlakinessReport,
        smokes: &'a [Smoke],
    },
    SuiteFinished(&'a SuiteReport),
    /// The cross-instance iterations begin: these numbers, in this order.
    CrossStarted {
        numbers: &'a [u32],
    },
    /// One cross-instance iteration ended (they end in any order).
    IterationFinished(&'a Iteration),
    /// The iterations are over (all finished, or a signal stopped them): their totals.
    CrossFinished {
        totals: &'a CrossTotals,
    },
    /// `--reference`: every exchange pair compared with the reference build.
    DiffFinished(&'a crate::diff::report::DiffReport),
    /// The services' logs, captured before teardown.
    Logs(&'a [LogFile]),
    /// The verdict and everything needed to read it (`analysis.json`).
    Finished(&'a Analysis),
    /// The tarball was made (or not); the last event, with the verdict sentence.
    Bundled {
        root: &'a Path,
        tarball: &'a Result<PathBuf, String>,
        verdict: &'a str,
    },
}

/// A consumer of a run's events.
#[async_trait::async_trait]
pub trait Sink: Send {
    /// Sees every event as it happens. An error is one sentence; the run goes on.
    fn event(&mut self, event: &Event<'_>) -> Result<(), String>;

    /// After the last event: what must be awaited (a Slack post).
    async fn flush(&mut self) -> Result<(), String> {
        Ok(())
    }

    /// Whether the sink writes a file the user relies on (the artifacts,
    /// `--junit`, `--step-summary`): its failure makes the exit code non-zero.
    fn writes_output(&self) -> bool {
        false
    }
}

/// Hands each event to every sink; a sink's error becomes a warning to all
/// the others and is kept for `analysis.json`.
#[derive(Default)]
pub struct Emitter {
    sinks: Vec<Box<dyn Sink>>,
    errors: Vec<String>,
    /// Outputs the user relies on that could not be written.
    lost_outputs: Vec<String>,
}

impl Emitter {
    pub fn new(sinks: Vec<Box<dyn Sink>>) -> Self {
        Emitter { sinks, errors: Vec::new(), lost_outputs: Vec::new() }
    }

    /// A sink that joins once the run knows more (the evidence sink, once the stack is up).
    pub fn add(&mut self, sink: Box<dyn Sink>) {
        self.sinks.push(sink);
    }

    pub fn emit(&mut self, event: Event<'_>) {
        let mut failures = Vec::new();
        for sink in &mut self.sinks {
            if let Err(e) = sink.event(&event) {
                if sink.writes_output() {
                    self.lost_outputs.push(e.clone());
                }
                failures.push(e);
            }
        }
        for failure in failures {
            if !matches!(event, Event::Warning(_)) {
                self.warn(&failure);
            }
        }
    }

    /// A warning to every sink, kept for `analysis.json`.
    pub fn warn(&mut self, message: &str) {
        self.errors.push(message.to_string());
        for sink in &mut self.sinks {
            // A sink that cannot even report a warning has nobody left to tell.
            let _ = sink.event(&Event::Warning(message));
        }
    }

    /// Every error and warning so far.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// Files the user relies on that could not be written (each error once).
    pub fn lost_outputs(&self) -> &[String] {
        &self.lost_outputs
    }

    pub fn note(&mut self, message: &str) {
        self.emit(Event::Note(message));
    }

    /// After the last event; failures go to the console only (analysis.json is written).
    pub async fn flush(&mut self) {
        let mut failures = Vec::new();
        for sink in &mut self.sinks {
            if let Err(e) = sink.flush().await {
                failures.push(e);
            }
        }
        for failure in failures {
            for sink in &mut self.sinks {
                let _ = sink.event(&Event::Warning(&failure));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Records what it saw; fails on notes that say "fail".
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl Sink for Recorder {
        fn event(&mut self, event: &Event<'_>) -> Result<(), String> {
            let seen = match event {
                Event::Note(n) => format!("note {n}"),
                Event::Warning(w) => format!("warning {w}"),
                _ => "other".into(),
            };
            self.0.lock().unwrap().push(seen);
            match event {
                Event::Note(n) if n.contains("fail") => Err(format!("could not take `{n}`")),
                _ => Ok(()),
            }
        }
    }

    #[test]
    fn every_sink_sees_every_event_and_a_sink_error_is_a_warning_to_all() {
        let (a, b) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let mut emitter = Emitter::new(vec![Box::new(Recorder(a.clone())), Box::new(Recorder(b.clone()))]);
        emitter.note("hello");
        emitter.note("fail here");
        let expected = [
            "note hello",
            "note fail here",
            "warning could not take `fail here`",
            "warning could not take `fail here`",
        ];
        assert_eq!(*a.lock().unwrap(), expected);
        assert_eq!(*b.lock().unwrap(), expected);
        assert_eq!(emitter.errors(), ["could not take `fail here`", "could not take `fail here`"]);
    }
}
