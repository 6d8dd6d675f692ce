//! One file per CLI command: each turns parsed arguments into the library's
//! plain options, calls it, and returns the exit code. This layer (and
//! `main`) is the only one that sees clap types.

mod badge;
mod canary;
mod check;
mod checks;
mod clean;
mod collect;
mod notify;
mod publish;
mod reference;
mod rerun;
mod run;
mod run_options;
mod status;

pub use run_options::run_config;

use crate::cli::{Command, NotifyCommand, ReferenceCommand, ThresholdArgs};
use crate::exit::Exit;
use crate::flakiness::thresholds::Thresholds;
use crate::progress::Reporter;

/// Why a command could not do its job. Each kind has one exit code, the
/// way cargo-nextest's `ExpectedError::process_exit_code` maps its errors.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A bad flag, setting or input the user named: exit 64.
    #[error("{0}")]
    Usage(String),
    /// Something outside the tool failed — Docker, the network, the disk: exit 3.
    #[error("{0}")]
    Infrastructure(String),
}

impl CommandError {
    pub fn exit(&self) -> Exit {
        match self {
            CommandError::Usage(_) => Exit::Usage,
            CommandError::Infrastructure(_) => Exit::Infrastructure,
        }
    }

    /// Says what went wrong, in one sentence (and where to look for usage errors).
    fn report(&self, reporter: Reporter, command: &str) {
        reporter.line(self.to_string());
        if let CommandError::Usage(_) = self {
            reporter.line(format!("Try `parity {command} --help`."));
        }
    }
}

/// Runs the command; the process's exit code.
pub async fn dispatch(command: Command) -> i32 {
    let name = command_name(&command);
    let result = match command {
        Command::Run(args) => run::run(*args).await.map(Exit::code),
        // `rerun` exits with the code of the command it ran, whatever it is.
        Command::Rerun(args) => rerun::run(args).await,
        Command::Reference(ReferenceCommand::Serve(args)) => reference::serve(args).await.map(Exit::code),
        Command::Collect(args) => collect::run(&args).await.map(Exit::code),
        Command::Check(args) => check::run(&args).map(Exit::code),
        Command::Status(args) => status::run(&args).map(Exit::code),
        Command::Badge(args) => badge::run(&args).map(Exit::code),
        Command::Publish(args) => publish::run(&args).await.map(Exit::code),
        Command::Clean(args) => clean::run(&args).await.map(Exit::code),
        Command::Notify(NotifyCommand::Github(args)) => notify::github(&args).await.map(Exit::code),
        Command::Checks(args) => Ok(checks::run(&args).code()),
        Command::Canary(args) => Ok(canary::run(&args).await.code()),
    };
    result.unwrap_or_else(|e| {
        e.report(Reporter::plain(), name);
        e.exit().code()
    })
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Run(_) => "run",
        Command::Rerun(_) => "rerun",
        Command::Reference(_) => "reference serve",
        Command::Collect(_) => "collect",
        Command::Check(_) => "check",
        Command::Status(_) => "status",
        Command::Badge(_) => "badge",
        Command::Publish(_) => "publish",
        Command::Clean(_) => "clean",
        Command::Notify(_) => "notify github",
        Command::Checks(_) => "checks",
        Command::Canary(_) => "canary",
    }
}

fn thresholds(args: &ThresholdArgs) -> Thresholds {
    Thresholds { run_failures: args.run_fail_threshold, iter_failure_rate: args.iter_failure_rate_threshold }
}

/// A flag or variable given empty is not given.
fn non_empty(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.trim().is_empty())
}

fn non_empty_path(value: &Option<std::path::PathBuf>) -> Option<std::path::PathBuf> {
    value.clone().filter(|p| !p.as_os_str().is_empty())
}

/// One warning line each.
fn warn(reporter: Reporter, lines: &[String]) {
    for line in lines {
        reporter.line(format!("warning: {line}"));
    }
}
