//! `parity diff`: resolves the sides, the script and the rules, runs the
//! comparison and writes `<out>/webprofile-parity/diff/`.

use super::CommandError;
use crate::artifacts::{self, ArtifactDir};
use crate::cli::{DiffArgs, DiffBackend};
use crate::clock::Clock;
use crate::contract::Credentials;
use crate::diff::report::DiffReport;
use crate::diff::rules::Rules;
use crate::diff::{self, render, script, DiffConfig, SideSpec};
use crate::exit::Exit;
use crate::progress::Reporter;
use crate::redact::Redactor;
use crate::store::{MongoStore, TokenStore};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The rules file taken when --rules is not given, if it exists.
pub const DEFAULT_RULES: &str = "parity-diff.toml";

pub async fn run(args: DiffArgs) -> Result<Exit, CommandError> {
    let reporter = Reporter::detect();
    let plan = plan(&args)?;
    if args.backend == DiffBackend::Docker {
        return super::diff_docker::run(&args, plan, reporter).await;
    }
    let admin = admin(&args);
    let reference = side(&args.reference, "--reference", args.reference_auth.as_deref(), &admin)?;
    let candidate = side(&args.candidate, "--candidate", args.candidate_auth.as_deref(), &admin)?;
    let store = match args.mongo_uri.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(uri) => Some(Arc::new(
            MongoStore::connect(uri)
                .await
                .map_err(|e| CommandError::Infrastructure(format!("--mongo-uri: {e}")))?,
        ) as Arc<dyn TokenStore>),
        None => None,
    };
    let config = plan.config(reference, candidate, store, args.shared_store, &args);
    compare_and_write(config, &args.out, reporter).await
}

/// What a diff needs besides the sides: steps, rules, their files.
pub struct Plan {
    steps: Vec<script::Step>,
    rules: Rules,
    scenario_file: Option<String>,
}

impl Plan {
    pub fn config(
        self,
        reference: SideSpec,
        candidate: SideSpec,
        store: Option<Arc<dyn TokenStore>>,
        shared_store: bool,
        args: &DiffArgs,
    ) -> DiffConfig {
        DiffConfig {
            reference,
            candidate,
            request_timeout: args.request_timeout,
            pacing: args.pacing.pacing(),
            steps: self.steps,
            rules: self.rules,
            scenario_file: self.scenario_file,
            store,
            shared_store,
            redact: !args.no_redact,
        }
    }
}

fn plan(args: &DiffArgs) -> Result<Plan, CommandError> {
    let usage = CommandError::Usage;
    let (steps, scenario_file) = match &args.scenario {
        Some(path) => {
            let text = read(path, "--scenario")?;
            let name = path.display().to_string();
            (diff::scenario::apply(&name, &text, script::builtin()).map_err(usage)?, Some(name))
        }
        None => (script::builtin(), None),
    };
    Ok(Plan { steps, rules: load_rules(args.rules.as_deref())?, scenario_file })
}

/// `--rules FILE`, else `./parity-diff.toml` when present, else none.
pub fn load_rules(given: Option<&Path>) -> Result<Rules, CommandError> {
    let path: PathBuf = match given.filter(|p| !p.as_os_str().is_empty()) {
        Some(path) => path.to_path_buf(),
        None if Path::new(DEFAULT_RULES).is_file() => PathBuf::from(DEFAULT_RULES),
        None => return Ok(Rules::default()),
    };
    let text = read(&path, "--rules")?;
    Rules::parse(&path.display().to_string(), &text).map_err(CommandError::Usage)
}

/// The most a rules file may hold: a hand-written list of accepted
/// differences has no business being larger (a 63 MB one took 2.9 GB).
pub const RULES_CAP: u64 = 1024 * 1024;

fn read(path: &Path, flag: &str) -> Result<String, CommandError> {
    let bytes = crate::files::read_capped(path, RULES_CAP)
        .map_err(|e| CommandError::Usage(format!("{flag} {}: {e}", path.display())))?;
    String::from_utf8(bytes)
        .map_err(|_| CommandError::Usage(format!("{flag} {}: not UTF-8 text", path.display())))
}

pub fn admin(args: &DiffArgs) -> Credentials {
    Credentials { user: args.credentials.admin_user.clone(), pass: args.credentials.admin_pass.clone() }
}

/// One side's URLs (http(s), at least one) and credentials.
pub fn side(
    urls: &[String],
    flag: &str,
    auth: Option<&str>,
    admin: &Credentials,
) -> Result<SideSpec, CommandError> {
    let urls: Vec<String> = urls.iter().map(|u| u.trim().to_string()).filter(|u| !u.is_empty()).collect();
    if urls.is_empty() {
        return Err(CommandError::Usage(format!(
            "{flag} URL is required (or {}; or --backend docker with images)",
            if flag == "--reference" { "PARITY_REFERENCE" } else { "PARITY_CANDIDATE" }
        )));
    }
    for url in &urls {
        let parsed = url::Url::parse(url).map_err(|e| CommandError::Usage(format!("{flag} `{url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(CommandError::Usage(format!("{flag} `{url}`: not an http(s) URL")));
        }
    }
    Ok(SideSpec { urls, credentials: credentials(auth, flag, admin)?, pacer: None })
}

/// `--<side>-auth USER:PASS`, else the admin settings.
pub fn credentials(auth: Option<&str>, flag: &str, admin: &Credentials) -> Result<Credentials, CommandError> {
    match auth.filter(|a| !a.is_empty()) {
        Some(auth) => {
            let (user, pass) = auth.split_once(':').ok_or_else(|| {
                CommandError::Usage(format!(
                    "{flag}-auth takes USER:PASS (the password is redacted everywhere)"
                ))
            })?;
            Ok(Credentials { user: user.into(), pass: pass.into() })
        }
        None => Ok(admin.clone()),
    }
}

/// Runs the comparison, writes the four files, prints the verdict.
pub async fn compare_and_write(
    config: DiffConfig,
    out: &Path,
    reporter: Reporter,
) -> Result<Exit, CommandError> {
    // Every file passes the redactor whole, as a run's artifacts do, not only the exchanges.
    let redactor = if config.redact { Redactor::enabled() } else { Redactor::disabled() };
    reporter.line(format!(
        "diff: reference {} vs candidate {}: {} steps, each twice on the reference",
        config.reference.urls.join(" "),
        config.candidate.urls.join(" "),
        config.steps.len()
    ));
    let report = tokio::select! {
        report = diff::run(config, Clock::start(), reporter) => {
            report.map_err(|e| CommandError::Infrastructure(e.to_string()))?
        }
        signal = crate::signals::termination() => {
            // The Docker stack, if any, is still removed by the caller.
            reporter.line(format!("interrupted by {signal}: the diff stopped, nothing written"));
            return Ok(Exit::Interrupted);
        }
    };
    let dir = write(&report, out, &redactor).map_err(CommandError::Infrastructure)?;
    print_summary(&report, &dir, reporter);
    Ok(match (report.counts.different, report.counts.errors) {
        (0, 0) => Exit::Ok,
        (0, _) => Exit::Infrastructure,
        _ => Exit::ParityFailure,
    })
}

/// `<out>/webprofile-parity/diff/`: diff.json, diff.txt, diff.html, junit.xml,
/// each through the redactor whole, as a run's artifacts are.
pub fn write(report: &DiffReport, out: &Path, redactor: &Redactor) -> Result<PathBuf, String> {
    let dir = out.join(artifacts::PARITY_DIR).join("diff");
    let files = ArtifactDir::create(&dir, redactor.clone()).map_err(|e| e.to_string())?;
    for (name, content) in render::files(report) {
        files.write_text(name, &content).map_err(|e| e.to_string())?;
    }
    Ok(dir)
}

fn print_summary(report: &DiffReport, dir: &Path, reporter: Reporter) {
    for line in render::difference_lines(report) {
        reporter.line(line);
    }
    reporter.line(format!("diff: written to {} (differences first in diff.txt)", dir.display()));
    reporter.line(report.headline());
}
