//! One file per CLI command: each turns parsed arguments into the library's
//! plain options, calls it, and returns the exit code. This layer (and
//! `main`) is the only one that sees clap types.

mod badge;
mod canary;
mod check;
mod checks;
mod clean;
mod collect;
mod completions;
pub(crate) mod diff;
mod diff_docker;
mod explain;
mod merge;
mod notify;
mod publish;
mod reference;
mod replay;
mod rerun;
mod run;
mod run_options;
mod signatures;
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
    crate::progress::install_tracing();
    let name = command_name(&command);
    register_secrets(&command);
    let result = match command {
        Command::Run(args) => run::run(*args).await.map(Exit::code),
        // `rerun` exits with the code of the command it ran, whatever it is.
        Command::Rerun(args) => rerun::run(args).await,
        Command::Reference(ReferenceCommand::Serve(args)) => reference::serve(args).await.map(Exit::code),
        Command::Collect(args) => collect::run(&args).await.map(Exit::code),
        Command::Check(args) => check::run(&args).map(Exit::code),
        Command::Status(args) => status::run(&args).map(Exit::code),
        Command::Signatures(args) => signatures::run(&args).map(Exit::code),
        Command::Badge(args) => badge::run(&args).map(Exit::code),
        Command::Publish(args) => publish::run(&args).await.map(Exit::code),
        Command::Clean(args) => clean::run(&args).await.map(Exit::code),
        Command::Notify(NotifyCommand::Github(args)) => notify::github(&args).await.map(Exit::code),
        Command::Checks(args) => Ok(checks::run(&args).code()),
        Command::Canary(args) => Ok(canary::run(&args).await.code()),
        Command::Replay(args) => replay::run(*args).await.map(Exit::code),
        Command::Explain(args) => explain::run(&args).map(Exit::code),
        Command::Merge(args) => merge::run(&args).map(Exit::code),
        Command::Diff(args) => diff::run(*args).await.map(Exit::code),
        Command::Completions(args) => completions::completions(&args).map(Exit::code),
        Command::Man => completions::man().map(Exit::code),
    };
    let code = result.unwrap_or_else(|e| {
        e.report(Reporter::plain(), name);
        e.exit().code()
    });
    // Output lost on the console (`> /dev/full`) turns a success into an
    // infrastructure error: nobody saw what the command said.
    if code == Exit::Ok.code() && crate::progress::output_lost() {
        return Exit::Infrastructure.code();
    }
    code
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Run(_) => "run",
        Command::Rerun(_) => "rerun",
        Command::Reference(_) => "reference serve",
        Command::Collect(_) => "collect",
        Command::Check(_) => "check",
        Command::Status(_) => "status",
        Command::Signatures(_) => "signatures",
        Command::Badge(_) => "badge",
        Command::Publish(_) => "publish",
        Command::Clean(_) => "clean",
        Command::Notify(_) => "notify github",
        Command::Checks(_) => "checks",
        Command::Canary(_) => "canary",
        Command::Replay(_) => "replay",
        Command::Explain(_) => "explain",
        Command::Merge(_) => "merge",
        Command::Diff(_) => "diff",
        Command::Completions(_) => "completions",
        Command::Man => "man",
    }
}

fn thresholds(args: &ThresholdArgs) -> Thresholds {
    Thresholds {
        run_failures: args.run_fail_threshold,
        iter_failure_rate: args.iter_failure_rate_threshold,
        latency_slo_ms: args.latency_slo,
    }
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

/// Every secret this invocation knows, registered before anything is
/// written: the process-wide redactor then hides each one in every output.
fn register_secrets(command: &Command) {
    use crate::redact::{register, register_basic};
    const SECRET_VARIABLES: [&str; 6] = [
        "GITHUB_TOKEN",
        "SLACK_WEBHOOK",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "GITHUB_PAGES_REMOTE",
    ];
    for value in SECRET_VARIABLES.iter().filter_map(|key| crate::settings::process_env(key)) {
        register_url_userinfo(&value);
        register(&value);
    }
    // Known to every command, so that `merge` re-redacts a --no-redact shard with it too.
    if let Some(pass) = crate::settings::process_env("WEBPROFILE_ADMIN_PASS") {
        let user = crate::settings::process_env("WEBPROFILE_ADMIN_USER").unwrap_or_else(|| "overleaf".into());
        register_basic(&user, &pass);
    }
    match command {
        Command::Run(args) => {
            register_basic(&args.credentials.admin_user, &args.credentials.admin_pass);
            args.slack_webhook.iter().for_each(|w| register(w));
            args.mongo_uri
                .iter()
                .chain(&args.instances)
                .chain(&args.reference)
                .for_each(|u| register_url_userinfo(u));
            if let Some((user, pass)) = args.reference_auth.as_deref().and_then(|a| a.split_once(':')) {
                register_basic(user, pass);
            }
            for key in ["INSTANCE1", "INSTANCE2", "TARGET_BASE_URL"] {
                if let Some(url) = crate::settings::process_env(key) {
                    register_url_userinfo(&url);
                }
            }
            let docker = &args.docker;
            for entry in
                docker.instance_secrets.iter().chain(docker.instance_env.iter().filter(|e| names_a_secret(e)))
            {
                if let Some((_, value)) = entry.split_once('=') {
                    register(value);
                }
            }
        }
        Command::Reference(ReferenceCommand::Serve(args)) => {
            register_basic(&args.credentials.admin_user, &args.credentials.admin_pass);
            register_url_userinfo(&args.mongo_uri);
        }
        Command::Replay(args) => {
            register_basic(&args.credentials.admin_user, &args.credentials.admin_pass);
            args.mongo_uri.iter().chain(&args.instances).for_each(|u| register_url_userinfo(u));
        }
        Command::Diff(args) => {
            register_basic(&args.credentials.admin_user, &args.credentials.admin_pass);
            for auth in args.reference_auth.iter().chain(&args.candidate_auth) {
                if let Some((user, pass)) = auth.split_once(':') {
                    register_basic(user, pass);
                }
            }
            args.mongo_uri
                .iter()
                .chain(&args.reference)
                .chain(&args.candidate)
                .for_each(|u| register_url_userinfo(u));
        }
        Command::Collect(args) => {
            args.slack_webhook.iter().for_each(|w| register(w));
            args.publishing.pages_remote.iter().for_each(|r| register_url_userinfo(r));
        }
        Command::Publish(args) => args.targets.pages_remote.iter().for_each(|r| register_url_userinfo(r)),
        _ => {}
    }
}

/// `KEY=VALUE` whose key names a password, secret, token or key.
fn names_a_secret(entry: &str) -> bool {
    let key = entry.split_once('=').map_or(entry, |(k, _)| k).to_ascii_uppercase();
    ["PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL"].iter().any(|word| key.contains(word))
}

/// A URL's password (or its user, when that is all the userinfo: a token).
fn register_url_userinfo(text: &str) {
    let Ok(url) = url::Url::parse(text.trim()) else { return };
    match url.password() {
        Some(password) => {
            crate::redact::register(password);
            if let Ok(decoded) = percent_encoding::percent_decode_str(password).decode_utf8() {
                crate::redact::register(&decoded);
            }
        }
        None if !url.username().is_empty() => crate::redact::register(url.username()),
        None => {}
    }
}
