//! `parity`: a thin shell over the library. Parses flags, runs the command,
//! turns errors into one clear sentence and a documented exit code.

use std::process::ExitCode;
use std::sync::Arc;
use webprofile_parity::artifacts::names;
use webprofile_parity::cli::{
    CleanArgs, Command, NotifyCommand, NotifyGithubArgs, ReferenceCommand, ServeArgs, StoreKind,
};
use webprofile_parity::commands;
use webprofile_parity::config::RunConfig;
use webprofile_parity::contract::Credentials;
use webprofile_parity::exit::Exit;
use webprofile_parity::progress::Reporter;
use webprofile_parity::reference::faults::Faults;
use webprofile_parity::reference::server::{self, ReferenceConfig};
use webprofile_parity::report::entry;
use webprofile_parity::run;
use webprofile_parity::store::MemoryStore;
use webprofile_parity::store::MongoStore;
use webprofile_parity::store::TokenStore;

fn main() -> ExitCode {
    let cli = match webprofile_parity::cli::parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::Usage.code() as u8 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PARITY_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("parity: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Infrastructure.code() as u8);
        }
    };
    let code = runtime.block_on(dispatch(cli.command));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The process exit code of the command.
async fn dispatch(command: Command) -> i32 {
    match command {
        Command::Run(args) => {
            let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
            match RunConfig::from_args(&args, &env) {
                Ok(config) => run::run(config, Reporter::detect()).await.code(),
                Err(e) => usage(e).code(),
            }
        }
        Command::Rerun(args) => commands::rerun::run(args).await,
        Command::Checks(args) => commands::checks::run(&args).code(),
        Command::Canary(args) => commands::canary::run(&args).await.code(),
        Command::Reference(ReferenceCommand::Serve(args)) => serve(args).await.code(),
        Command::Collect(args) => entry::collect(&args, chrono::Utc::now()).await.code(),
        Command::Check(args) => entry::check(&args).code(),
        Command::Status(args) => entry::status(&args, chrono::Utc::now()).code(),
        Command::Badge(args) => entry::badge(&args).code(),
        Command::Clean(args) => clean(args).await.code(),
        Command::Notify(NotifyCommand::Github(args)) => notify_github(args).await.code(),
        Command::Publish(args) => webprofile_parity::publish::command(&args, chrono::Utc::now()).await.code(),
    }
}

/// `parity notify github`: 0 when everything was sent, 3 when GitHub failed.
async fn notify_github(args: NotifyGithubArgs) -> Exit {
    use webprofile_parity::notify::{github, message::RunContext, RunOutcome};
    let env = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
    let reporter = Reporter::plain();
    let path = args.out.join(webprofile_parity::artifacts::PARITY_DIR).join(names::ANALYSIS_JSON);
    let outcome = match RunOutcome::read(&path) {
        Ok(outcome) => outcome,
        Err(e) => return usage(format!("{e}; run `parity run --out {}` first", args.out.display())),
    };
    let notifier = match github::Notifier::from_env(&env, args.dry_run) {
        None => return usage("GITHUB_REPOSITORY and GITHUB_TOKEN must be set (GitHub Actions sets them)"),
        Some(Err(e)) => return usage(e),
        Some(Ok(notifier)) => notifier,
    };
    let plan = github::plan_after_run(
        &outcome,
        &RunContext::from_env(&env),
        &github::GithubEvent::from_env(&env),
        &args.check_name,
    );
    for note in &plan.notes {
        reporter.line(format!("GitHub: {note}"));
    }
    let mut failed = false;
    for result in notifier.run_plan(&plan).await {
        match result {
            Ok(done) => reporter.line(format!("GitHub: {done}")),
            Err(e) => {
                failed = true;
                reporter.line(format!("GitHub: {e}"));
            }
        }
    }
    if failed {
        Exit::Infrastructure
    } else {
        Exit::Ok
    }
}

/// `parity clean`: 0 when everything eligible was removed, else 3.
async fn clean(args: CleanArgs) -> Exit {
    let reporter = Reporter::detect();
    match webprofile_parity::stack::docker::clean::clean(args.all, args.dry_run, reporter).await {
        Err(e) => {
            eprintln!("parity: {e}");
            Exit::Infrastructure
        }
        Ok(report) => {
            let verb = if args.dry_run { "would remove" } else { "removed" };
            reporter.line(format!(
                "clean: {verb} {}, kept {}, failed {}",
                report.removed.len(),
                report.kept.len(),
                report.failed.len()
            ));
            if report.failed.is_empty() {
                Exit::Ok
            } else {
                Exit::Infrastructure
            }
        }
    }
}

fn usage(e: impl std::fmt::Display) -> Exit {
    eprintln!("parity: {e}");
    eprintln!("Try `parity --help` for the flags.");
    Exit::Usage
}

async fn serve(args: ServeArgs) -> Exit {
    let faults = match Faults::parse_all(&args.instance.faults) {
        Ok(f) => f,
        Err(e) => return usage(format!("--fault: {e}")),
    };
    let store: Arc<dyn TokenStore> = match args.store {
        StoreKind::Memory => Arc::new(MemoryStore::new()),
        StoreKind::Mongo => match connect_patiently(&args.mongo_uri).await {
            Ok(store) => Arc::new(store),
            Err(e) => {
                eprintln!("parity: {e}");
                return Exit::Infrastructure;
            }
        },
    };
    let listener = match tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("parity: cannot listen on {}:{}: {e}", args.host, args.port);
            return Exit::Infrastructure;
        }
    };
    let config = ReferenceConfig {
        name: args.name,
        credentials: Credentials { user: args.credentials.admin_user, pass: args.credentials.admin_pass },
        hash_cost: args.instance.hash_cost,
        faults,
        seed: args.instance.seed,
    };
    eprintln!(
        "parity: reference webprofile `{}` listening on http://{}:{} (store: {}, faults: {})",
        config.name,
        args.host,
        args.port,
        store.describe(),
        config.faults.describe()
    );
    match server::serve_forever(listener, store, config).await {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("parity: server stopped: {e}");
            Exit::Infrastructure
        }
    }
}

/// A server started beside its database (containers started together) waits
/// for it: retries for up to 30 s before giving up.
async fn connect_patiently(uri: &str) -> Result<MongoStore, webprofile_parity::store::StoreError> {
    let started = std::time::Instant::now();
    loop {
        match MongoStore::connect_within(uri, std::time::Duration::from_secs(2)).await {
            Ok(store) => return Ok(store),
            Err(e) if started.elapsed() >= std::time::Duration::from_secs(30) => return Err(e),
            Err(e) => {
                eprintln!("parity: waiting for MongoDB: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        }
    }
}
