//! `parity rerun -- CMD…`: any command up to N times until it passes. When
//! the command is a parity run, each attempt's failure class is read from
//! the analysis.json it wrote, so a stale read is never rerun into a pass.

use super::CommandError;
use crate::analysis::RunStatus;
use crate::artifacts::{names, ArtifactDir, PARITY_DIR};
use crate::cli::RerunArgs;
use crate::exit::Exit;
use crate::progress::Reporter;
use crate::redact::Redactor;
use crate::rerun::{self, Tried};
use crate::retry::Backoff;
use crate::settings::{process_env, Env};
use crate::verdict::FailureClass;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Exit code: 0 when the rerun report says success, else the deciding attempt's code.
pub async fn run(args: RerunArgs) -> Result<i32, CommandError> {
    crate::signals::install();
    let reporter = Reporter::detect();
    let dir = ArtifactDir::create(&args.out, Redactor::enabled())
        .map_err(|e| CommandError::Infrastructure(e.to_string()))?;
    let schedule = Backoff::constant(args.attempts, args.retry_delay);
    let parity_out = parity_run_out(&args.command, &process_env);
    let subject = args.command.join(" ");
    let (report, _) = rerun::with_retries(schedule, args.retry_on, &subject, |attempt| {
        let command = args.command.clone();
        let parity_out = parity_out.clone();
        async move {
            reporter.line(format!("attempt {attempt}/{}: {}", schedule.most_tries(), command.join(" ")));
            let started = SystemTime::now();
            let (rc, killed) = match run_child(&command).await {
                Ok(ended) => ended,
                Err(e) => {
                    reporter.line(format!("cannot run `{}`: {e}", command[0]));
                    (127, None)
                }
            };
            let tried = match (rc, &parity_out, &killed) {
                (0, _, _) => Tried::passed(),
                (_, _, Some(signal)) => {
                    Tried { rc, class: None, reason: Some(format!("killed by {signal}")) }
                }
                (_, Some(out), None) => parity_attempt(rc, out, started),
                (_, None, None) => Tried { rc, class: None, reason: None },
            };
            if let Some(signal) = &killed {
                reporter.line(format!("attempt {attempt}: the command was killed by {signal}"));
            }
            let class = tried.class.map(|c| format!(" [{c}]")).unwrap_or_default();
            reporter.line(format!("attempt {attempt}: exit code {rc}{class}"));
            (tried, rc)
        }
    })
    .await;
    for written in [
        dir.write_json(names::FLAKINESS_JSON, &report),
        dir.write_text(names::FLAKINESS_UI, &rerun::render_ui(&report)),
    ] {
        if let Err(e) = written {
            reporter.line(e.to_string());
        }
    }
    reporter.line(format!(
        "{} after {} attempt(s){}; report in {}",
        if report.success { "passed" } else { "failed" },
        report.attempts.len(),
        match (report.flaky, report.class) {
            (true, _) => " (flaky)".to_string(),
            (false, Some(class)) => format!(" ({class})"),
            (false, None) => String::new(),
        },
        dir.path(names::FLAKINESS_JSON).display()
    ));
    if let Some(signal) = crate::signals::received().then(crate::signals::first) {
        reporter.line(format!("interrupted by {signal}: no further attempt"));
        return Ok(Exit::Interrupted.code());
    }
    if report.success {
        return Ok(0);
    }
    let deciding = report.attempts.iter().find(|a| a.rc != 0 && a.class == report.class && a.class.is_some());
    Ok(match deciding.or(report.attempts.last()) {
        Some(attempt) if attempt.rc != 0 => attempt.rc,
        _ => Exit::ParityFailure.code(),
    })
}

/// Runs the command to its end. A SIGINT or SIGTERM to `parity rerun` is
/// passed on to it and waited for (the child writes its own artifacts, then
/// the rerun report is written). Its exit code, or 128+N and the signal's
/// name when a signal killed it.
async fn run_child(command: &[String]) -> std::io::Result<(i32, Option<String>)> {
    use std::os::unix::process::ExitStatusExt as _;
    let mut child = tokio::process::Command::new(&command[0]).args(&command[1..]).spawn()?;
    let status = tokio::select! {
        status = child.wait() => status?,
        signal = crate::signals::termination() => {
            if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
                let number = if signal == "SIGINT" { libc::SIGINT } else { libc::SIGTERM };
                // SAFETY: kill(2) with a pid this process spawned and has not reaped.
                unsafe { libc::kill(pid, number) };
            }
            child.wait().await?
        }
    };
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => (code, None),
        (None, Some(signal)) => (128 + signal, Some(signal_name(signal))),
        (None, None) => (128, None),
    })
}

fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGPIPE => "SIGPIPE",
        _ => return format!("signal {signal}"),
    };
    format!("{name} ({signal})")
}

/// The `--out` of a `parity run` command line (else PARITY_OUT, else `ci`);
/// `None` when the command is not a parity run.
fn parity_run_out(command: &[String], env: &Env<'_>) -> Option<PathBuf> {
    let program = Path::new(command.first()?).file_name()?.to_string_lossy().into_owned();
    let is_parity = program == "parity"
        || std::env::current_exe().ok().is_some_and(|exe| Path::new(&command[0]) == exe.as_path());
    if !is_parity || command.get(1).map(String::as_str) != Some("run") {
        return None;
    }
    let mut out = None;
    let mut args = command[2..].iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        } else if arg == "--out" {
            out = args.next().cloned();
        } else if let Some(value) = arg.strip_prefix("--out=") {
            out = Some(value.to_string());
        }
    }
    let out = out.or_else(|| env("PARITY_OUT")).unwrap_or_else(|| "ci".into());
    Some(PathBuf::from(out))
}

/// A failed parity run's class, from the analysis.json this attempt wrote.
/// Without one (it never got that far), the failure says nothing of its cause.
fn parity_attempt(rc: i32, out: &Path, started: SystemTime) -> Tried {
    let path = out.join(PARITY_DIR).join(names::ANALYSIS_JSON);
    let fresh = std::fs::metadata(&path).and_then(|m| m.modified()).is_ok_and(|at| at >= started);
    let outcome = if fresh { crate::artifacts::read_analysis(&path).ok() } else { None };
    let Some(outcome) = outcome else {
        return Tried {
            rc,
            class: None,
            reason: Some(format!("no analysis.json from this attempt in {}", out.display())),
        };
    };
    let classes = &outcome.failure_classes;
    // The most serious class that cannot be forgiven (security first), else infrastructure.
    let class = FailureClass::ALL
        .into_iter()
        .filter(|c| !c.forgivable())
        .find(|c| classes.get(*c) > 0)
        .or_else(|| (classes.get(FailureClass::Infrastructure) > 0).then_some(FailureClass::Infrastructure))
        .or_else(|| {
            (outcome.status == RunStatus::Error && rc == Exit::Infrastructure.code())
                .then_some(FailureClass::Infrastructure)
        });
    Tried { rc, class, reason: Some(outcome.verdict).filter(|v| !v.is_empty()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out_of(command: &[&str], env: Option<&str>) -> Option<PathBuf> {
        let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        parity_run_out(&command, &|_| env.map(str::to_string))
    }

    #[test]
    fn finds_the_out_directory_of_a_parity_run() {
        assert_eq!(out_of(&["parity", "run"], None), Some(PathBuf::from("ci")));
        assert_eq!(out_of(&["/usr/bin/parity", "run", "--out", "x"], None), Some(PathBuf::from("x")));
        assert_eq!(out_of(&["parity", "run", "--out=y"], Some("z")), Some(PathBuf::from("y")));
        assert_eq!(out_of(&["parity", "run"], Some("z")), Some(PathBuf::from("z")));
        assert_eq!(out_of(&["parity", "collect"], None), None);
        assert_eq!(out_of(&["cargo", "test"], None), None);
    }

    #[test]
    fn a_parity_attempt_takes_the_class_of_its_analysis() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(PARITY_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        let before = SystemTime::now() - std::time::Duration::from_secs(5);
        std::fs::write(
            dir.join(names::ANALYSIS_JSON),
            r#"{"status": "fail", "failure_classes": {"infrastructure": 2, "stale-read": 1}, "verdict": "v"}"#,
        )
        .unwrap();
        let tried = parity_attempt(1, tmp.path(), before);
        assert_eq!((tried.class, tried.reason.as_deref()), (Some(FailureClass::StaleRead), Some("v")));
        // A security finding alone is never taken for a failure that says nothing of its cause.
        std::fs::write(
            dir.join(names::ANALYSIS_JSON),
            r#"{"status": "fail", "failure_classes": {"security": 1, "infrastructure": 1, "stale-read": 1}}"#,
        )
        .unwrap();
        let tried = parity_attempt(1, tmp.path(), before);
        assert_eq!(tried.class, Some(FailureClass::Security));
        assert!(!crate::verdict::RetryOn::default().retries(tried.class), "never retried");
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        assert_eq!(
            parity_attempt(1, tmp.path(), later).class,
            None,
            "a previous attempt's analysis is not this one's"
        );
    }
}
