//! Command-line interface: clap types only, and their `--help`. Every flag
//! is documented where it is defined, with its environment fallback. Only
//! `main` and `commands` import this module.

use crate::exit::{self, Exit};
use crate::flakiness::thresholds;
use crate::hashing::HashCost;
use crate::reference::Flavors;
use crate::report::badge::{self, Colour};
use crate::verdict::RetryOn;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Parses the process's arguments, remembering which settings were named.
pub fn parse() -> Result<Cli, clap::Error> {
    try_parse_from(std::env::args_os())
}
/// Parses `args`, remembering which `run` settings the command line or the
/// environment named (not defaults): `--backend auto` decides on them.
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let command = Cli::command();
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let matches = command
        .clone()
        .try_get_matches_from(args.clone())
        .map_err(|e| name_the_variable(e, &command, &args))?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let (Command::Run(run), Some(("run", run_matches))) = (&mut cli.command, matches.subcommand()) {
        let run_command = command.find_subcommand("run").expect("the run subcommand exists");
        run.named = named_settings(run_command, run_matches);
    }
    Ok(cli)
}

/// A bad value that came from an environment variable is named by the
/// variable, not by the flag the user never typed.
fn name_the_variable(e: clap::Error, command: &clap::Command, args: &[std::ffi::OsString]) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(e.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) {
        return e;
    }
    let Some(ContextValue::String(shown)) = e.get(ContextKind::InvalidArg) else { return e };
    let long = shown.split_whitespace().next().unwrap_or_default().trim_start_matches("--").to_string();
    let typed = args.iter().any(|a| {
        let a = a.to_string_lossy();
        a == format!("--{long}") || a.starts_with(&format!("--{long}="))
    });
    let env = all_arguments(command)
        .find(|arg| arg.get_long() == Some(long.as_str()))
        .and_then(|arg| arg.get_env());
    match env {
        Some(var) if !typed && std::env::var_os(var).is_some() => {
            let var = var.to_string_lossy();
            let message = e.to_string();
            let message = message.trim_start_matches("error: ").replacen(
                &format!("'{shown}'"),
                &format!("{var} (from the environment)"),
                1,
            );
            clap::Error::raw(e.kind(), message)
        }
        _ => e,
    }
}

/// Every argument of a command and its subcommands.
fn all_arguments(command: &clap::Command) -> impl Iterator<Item = &clap::Arg> {
    command.get_arguments().chain(
        command
            .get_subcommands()
            .flat_map(|sub| Box::new(all_arguments(sub)) as Box<dyn Iterator<Item = &clap::Arg>>),
    )
}

/// Each argument that got its value from the command line or the
/// environment, by id, with how the user named it (`--webprofile-image` or
/// `WEBPROFILE_IMAGE`).
fn named_settings(command: &clap::Command, matches: &ArgMatches) -> BTreeMap<String, String> {
    command
        .get_arguments()
        .filter_map(|arg| {
            let id = arg.get_id().as_str();
            let shown = match matches.value_source(id)? {
                ValueSource::CommandLine => format!("--{}", arg.get_long()?),
                ValueSource::EnvVariable => arg.get_env()?.to_string_lossy().into_owned(),
                _ => return None,
            };
            Some((id.to_string(), shown))
        })
        .collect()
}

#[derive(Debug, Parser)]
#[command(
    name = "parity",
    version = crate::build_info::LONG_VERSION,
    about = "Proves that a webprofile token service revokes tokens immediately, on every instance, every time.",
    long_about = "Proves that a webprofile token service revokes tokens immediately, on every instance, every time.\n\n\
        `parity run` starts (or connects to) two webprofile instances sharing one store, checks \
        revocation immediacy, runs the contract suite and many cross-instance iterations with every \
        request traced, retries only what can be infrastructure, and writes every artifact plus a tarball.",
    after_help = exit::run_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the parity checks end to end and write every artifact.
    #[command(after_help = exit::run_help())]
    Run(Box<RunArgs>),
    /// Run any command up to N times until it passes; write flakiness.json.
    #[command(after_help = rerun_help())]
    Rerun(RerunArgs),
    /// The reference webprofile server.
    #[command(subcommand)]
    Reference(ReferenceCommand),
    /// Aggregate collected runs: flakiness reports, cross summary, trend, status and badge.
    #[command(after_help = collect_help())]
    Collect(CollectArgs),
    /// Judge the cross-instance summary against the thresholds.
    #[command(after_help = check_help())]
    Check(CheckArgs),
    /// List the failure signatures `parity collect` counted across runs, newest first.
    #[command(after_help = signatures_help())]
    Signatures(SignaturesArgs),
    /// Write flakiness/cross/status.json from the summary (the daily job).
    #[command(after_help = written_help("status.json"))]
    Status(StatusArgs),
    /// Write the SVG status badge.
    #[command(after_help = badge_help())]
    Badge(BadgeArgs),
    /// Publish the dashboard, trend and status to S3 and/or GitHub Pages, with a timestamped archive.
    #[command(after_help = publish_help())]
    Publish(PublishArgs),
    /// Remove the containers, networks and images earlier runs left behind
    /// (after --no-cleanup, or a harness that was killed).
    #[command(after_help = clean_help())]
    Clean(CleanArgs),
    /// Tell people about a run: GitHub PR comment and label, issue, check run.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// List every check: its stable id, the contract clause it enforces, and the fault that proves it can fail.
    #[command(after_help = "Run `parity canary` to see every one of those faults caught.")]
    Checks(ChecksArgs),
    /// Prove that every check can fail: run the scenarios against embedded reference instances
    /// once clean and once per fault, and print what caught each fault.
    #[command(after_help = exit::help(&[
        (Exit::Ok, Some("every fault caught and the clean reference passed")),
        (Exit::ParityFailure, Some("a fault escaped a check that names it, or the clean reference raised a failure")),
    ]))]
    Canary(CanaryArgs),
    /// Rerun exactly the case of an evidence packet N times on a fresh stack (the recorded
    /// images, or the targets given) and report how often it fails the same way.
    #[command(after_help = replay_help())]
    Replay(Box<ReplayArgs>),
    /// Print an evidence packet for a human: what failed, and the timeline.
    Explain(ExplainArgs),
    /// Differential parity: the same scripted traffic to a reference build and a candidate
    /// build, compared exchange by exchange; noise learned from the reference, known
    /// differences accepted by rules.
    #[command(after_help = diff_help())]
    Diff(Box<DiffArgs>),
    /// Join the artifact sets of `parity run --shard K/N` (one per CI job) into one: the
    /// iterations and roles of an unsharded run with the same seed, in its results, trace,
    /// matrix, analysis, JUnit, step summary and tarball.
    #[command(after_help = merge_help())]
    Merge(MergeArgs),
    /// Print a shell completion script: `parity completions bash > /etc/bash_completion.d/parity`.
    #[command(
        after_help = "Examples:\n  parity completions bash > ~/.local/share/bash-completion/completions/parity\n  \
        parity completions zsh > \"${fpath[1]}/_parity\"\n  \
        parity completions fish > ~/.config/fish/completions/parity.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `parity man > /usr/local/share/man/man1/parity.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Each shard's artifact folder: its --out (holding webprofile-parity/), or that
    /// webprofile-parity/ folder itself. Every shard of the run, in any order.
    #[arg(value_name = "DIR", required = true)]
    pub dirs: Vec<PathBuf>,

    /// Where the merged set goes (webprofile-parity/ and the tarball under it).
    #[arg(long, value_name = "DIR", default_value = "ci", env = "PARITY_OUT")]
    pub out: PathBuf,

    /// Also write the merged run as JUnit XML here.
    #[arg(long, value_name = "FILE", env = "PARITY_JUNIT")]
    pub junit: Option<PathBuf>,

    /// Append a short Markdown summary of the merged run to this file (GitHub Actions sets it).
    #[arg(long, value_name = "FILE", env = "GITHUB_STEP_SUMMARY")]
    pub step_summary: Option<PathBuf>,

    /// Write the merged artifacts without redaction (the shards' own redaction stays).
    /// Without it, a shard run with --no-redact is redacted again as it is copied (text
    /// and gzipped files): tokens, credentials, and the secrets this merge is given
    /// (WEBPROFILE_ADMIN_PASS, GITHUB_TOKEN, SLACK_WEBHOOK, … in its environment).
    #[arg(long)]
    pub no_redact: bool,
}

fn merge_help() -> String {
    format!(
        "Examples:\n  parity merge shard-1/ci shard-2/ci shard-3/ci --out ci --junit ci/junit.xml\n\n\
         Every set is read and checked before anything is written: they must be shares of one run \
         (the same --shard count, --seed, --iterations, --instances, faults, judgement and contract). \
         Every shard also ran the smoke and the contract suite: a check that failed anywhere fails \
         the merged run once. Per-iteration files and evidence packets keep their names; each \
         shard's own analysis, smoke, suite and logs go under webprofile-parity/shards/K/. \
         ci/workflows/parity.yml has a matrix example.\n\n{}",
        exit::help(&[
            (Exit::Ok, Some("the merged run passes")),
            (Exit::ParityFailure, Some("the merged run fails, a shard recorded a failure, or a shard's files disagree with its own analysis (altered after the run; nothing merged)")),
            (Exit::Infrastructure, Some("a shard's set is missing or cut short (named); nothing merged")),
            (
                Exit::Usage,
                Some("sets of different runs (seed, shard count, contract, …: named), or not a shard's")
            ),
        ])
    )
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

fn diff_help() -> String {
    format!(
        "Examples:\n  parity diff --reference http://node:3900 --candidate http://go-shim:3900\n  \
         parity diff --reference http://a1:3900 --reference http://a2:3900 \\\n              \
         --candidate http://b1:3900 --candidate http://b2:3900 --rules ci/parity-diff.toml\n  \
         parity diff --backend docker --reference-image webprofile:node --candidate-image webprofile:go\n\n\
         Each step runs on the reference twice (what differs there is noise) and on the candidate once. \
         Values minted per side (ids, tokens, hash prefixes, timestamps, user ids) become placeholders \
         (<main.id>, <timestamp>), so a candidate that revokes the id its create returned compares equal. \
         A rules file (--rules, default ./parity-diff.toml when present) accepts known differences; \
         docs/diff.md documents it and the --scenario format, and ci/parity-diff.toml is the example \
         for the Node service → Go shim.\n\n\
         Writes <out>/webprofile-parity/diff/{{diff.json, diff.txt, diff.html, junit.xml}}.\n\n{}",
        exit::help(&[
            (Exit::Ok, Some("every difference is noise or accepted by a rule")),
            (Exit::ParityFailure, Some("a difference no rule accepts")),
            (
                Exit::Infrastructure,
                Some("a side is unreachable (named; nothing written), or the stack could not be had")
            ),
            (Exit::Usage, Some("bad rules or scenario file (with line and column), bad flags")),
            (
                Exit::Interrupted,
                Some("SIGINT/SIGTERM: the diff stops, nothing is written, a Docker stack is removed")
            ),
        ])
    )
}

fn replay_help() -> String {
    format!(
        "Examples:\n  parity replay ci/webprofile-parity/evidence/iteration-417\n  \
         parity replay ci/webprofile-parity/evidence/iteration-417 --times 100 --webprofile-image my/fix:dev\n  \
         parity replay PACKET --no-cleanup     # stop at the first reproduction, leave the stack up\n\n\
         A try reproduces the failure when the case fails with the recorded class (stale-read, contract, …). \
         Each try that fails gets its own evidence packet under <out>/evidence/. The report is \
         <out>/replay-report.json (rate and Wilson 95% interval) and <out>/replay.out.\n\n{}",
        exit::help(&[
            (Exit::Ok, Some("the case never failed that way")),
            (Exit::ParityFailure, Some("it reproduced at least once")),
            (Exit::Infrastructure, Some("the stack could not be had (a recorded image gone, no engine, never ready)")),
            (Exit::Usage, Some("the packet's replay.json is missing or corrupt, or the flags conflict")),
        ])
    )
}

fn rerun_help() -> String {
    format!(
        "Example:\n  parity rerun --attempts 3 --out ci/flakiness -- parity run --out ci\n\n\
         When the command is `parity run`, each attempt's failure class is read from its analysis.json: \
         a stale read or contract failure is not retried (unless --retry-on any) and no later pass undoes it.\n\n{}",
        exit::help(&[
            (Exit::Ok, Some("an attempt passed (and no earlier one failed for a reason that cannot be infrastructure)")),
            (Exit::ParityFailure, Some("otherwise: the deciding attempt's own exit code")),
            (Exit::Infrastructure, Some("the report cannot be written")),
        ])
    )
}

fn collect_help() -> String {
    format!(
        "{}\n\n{}\n\n\
         With --publish or PUBLISH_DASHBOARD=true the dashboard is then published as `parity publish` \
         does (see its --help); with no target configured that is only a warning.\n\n\
         With GITHUB_REPOSITORY (owner/repo) and GITHUB_TOKEN set, the artifacts of the --workflow's \
         runs of the last --days days are downloaded into the collected directory first \
         (GITHUB_API_URL overrides https://api.github.com).",
        thresholds::RULE_HELP,
        exit::help(&[
            (Exit::Ok, Some("thresholds not exceeded (or no runs to judge; a corrupt file among usable ones is a warning)")),
            (Exit::ThresholdExceeded, Some("thresholds exceeded (every file is written first)")),
            (
                Exit::Infrastructure,
                Some(
                    "the collected directory or the reports cannot be read or written, a collected file \
                     could not be read (not a regular file, an I/O error) or no run was usable (unless thresholds \
                     were exceeded by what was read: 2), or the GitHub \
                     download stopped (refused token, unreachable API; the reports are still written), or \
                     --publish failed",
                ),
            ),
            (Exit::Usage, None),
        ])
    )
}

fn check_help() -> String {
    format!(
        "{}\n\n{}",
        thresholds::RULE_HELP,
        exit::help(&[
            (Exit::Ok, Some("thresholds not exceeded")),
            (Exit::ParityFailure, Some("nothing to judge (no summary, or no runs in it)")),
            (Exit::ThresholdExceeded, Some("thresholds exceeded")),
            (Exit::Usage, None),
        ])
    )
}

fn signatures_help() -> String {
    format!(
        "A signature is a failure's identity across runs: its class and what failed (a check; a \
         security variant and route; a revoker → observer pair and the reason's kind; a diff step \
         and field), without any value one run made up. `parity collect` counts them into \
         flakiness/cross/signatures.json: runs seen, occurrences, runs in a row up to the newest, \
         clean runs since.\n\n{}",
        exit::help(&[
            (Exit::Ok, Some("listed")),
            (Exit::Infrastructure, Some("the file cannot be read (run `parity collect` first)")),
            (Exit::Usage, None),
        ])
    )
}

fn written_help(what: &str) -> String {
    exit::help(&[
        (Exit::Ok, Some(&format!("{what} written"))),
        (Exit::Infrastructure, Some("cannot write it")),
        (Exit::Usage, None),
    ])
}

fn badge_help() -> String {
    format!(
        "The badge is \"alert\" when status.json says threshold_exceeded, else when the summary \
         exceeds the thresholds; \"unknown\" (grey) when there is no data.\n\n{}\n\n{}",
        thresholds::RULE_HELP,
        written_help("the badge")
    )
}

fn publish_help() -> String {
    format!(
        "Publishes <out>/flakiness/cross/{{dashboard.html, trend.json, status.svg, status.json}} (run `parity collect` \
first) under one UTC timestamp YYYYmmddTHHMMSSZ, keeps a copy in <out>/flakiness/cross/archives/<ts>/, \
and uploads it to every target configured:

  S3            AWS_S3_BUCKET, AWS_S3_PREFIX (default parity-cross), AWS_ACCESS_KEY_ID,
                AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional), AWS_REGION / AWS_DEFAULT_REGION
                (default us-east-1), AWS_ENDPOINT_URL for an S3-compatible store (path-style).
                Keys <prefix>/archives/<ts>/<file> first, then <prefix>/<file>.
  GitHub Pages  GITHUB_PAGES_REPO (owner/repo) and GITHUB_TOKEN: commits parity-cross/<file> and
                parity-cross/archives/<ts>/<file> to the gh-pages branch (created when missing) and
                pushes; https://<owner>.github.io/<repo>/parity-cross/dashboard.html.

{}",
        exit::help(&[
            (Exit::Ok, Some("every configured target succeeded")),
            (Exit::Infrastructure, Some("a target failed (the others were still tried), or the files cannot be read")),
            (Exit::Usage, Some("usage error: no target configured, files missing, a bad setting")),
        ])
    )
}

fn clean_help() -> String {
    format!(
        "Only resources labelled io.webprofile-parity.managed=true are touched. \
         Resources of a run whose harness is still alive are kept unless --all is given.\n\n{}",
        exit::help(&[
            (Exit::Ok, Some("cleaned (or nothing to clean)")),
            (Exit::Infrastructure, Some("Docker unreachable, or a resource could not be removed")),
        ])
    )
}

fn notify_help() -> String {
    format!(
        "Reads GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_API_URL (default https://api.github.com), \
        GITHUB_EVENT_NAME, GITHUB_EVENT_PATH (the PR number), GITHUB_SHA, GITHUB_SERVER_URL and GITHUB_RUN_ID \
        (the run's link), as GitHub Actions sets them.\n\n{}",
        exit::help(&[
            (Exit::Ok, Some("sent (or nothing to send)")),
            (Exit::Infrastructure, Some("GitHub unreachable or refused")),
            (Exit::Usage, None),
        ])
    )
}

#[derive(Debug, Args)]
pub struct ChecksArgs {
    /// Print JSON (an array of {id, asserts, clause, proven_by}) for tools.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CanaryArgs {
    /// Print the detection table as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// After `parity run`: on a failing pull request a comment with the summary and the
    /// `parity-failure` label; on a failing scheduled run an issue (or a comment on the open
    /// one); always a check run with success/failure when the commit is known.
    #[command(after_help = notify_help())]
    Github(NotifyGithubArgs),
}

#[derive(Debug, Args)]
pub struct NotifyGithubArgs {
    /// The run's artifact directory (reads webprofile-parity/analysis.json).
    #[arg(long, value_name = "DIR", default_value = "ci", env = "PARITY_OUT")]
    pub out: PathBuf,

    /// Name of the check run.
    #[arg(long, value_name = "NAME", default_value = "webprofile parity")]
    pub check_name: String,

    /// Print every request that would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The evidence packet: a folder under <out>/webprofile-parity/evidence/ (or its replay.json).
    #[arg(value_name = "PACKET")]
    pub packet: PathBuf,

    /// How many times to run the case.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub times: u32,

    /// Where the replay's report, packets and the services' logs go.
    #[arg(long, value_name = "DIR", default_value = "ci/replay")]
    pub out: PathBuf,

    /// Where the services come from (default: the recorded backend).
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,

    /// Replay on this service instead (twice for two instances); implies --backend external.
    #[arg(long = "instance", value_name = "URL")]
    pub instances: Vec<String>,

    /// MongoDB of external services, to read the token from in each packet.
    #[arg(long, value_name = "URI", env = "PARITY_MONGO_URI")]
    pub mongo_uri: Option<String>,

    /// Replay on this webprofile image instead of the recorded one (Docker).
    #[arg(long, value_name = "IMAGE")]
    pub webprofile_image: Option<String>,

    /// Replay on this MongoDB image instead of the recorded one (Docker).
    #[arg(long, value_name = "IMAGE")]
    pub mongo_image: Option<String>,

    /// Replay without the recorded --fault specs of the reference instances.
    #[arg(long)]
    pub no_faults: bool,

    /// Stop at the first reproduction and leave the stack up for hands-on debugging (Docker:
    /// the containers stay, `parity clean` removes them; embedded: until Ctrl-C).
    #[arg(long)]
    pub no_cleanup: bool,

    /// How long to wait for GET / to answer on both instances.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub ready_timeout: Duration,

    #[command(flatten)]
    pub credentials: CredentialArgs,

    /// Write artifacts without redaction (the console always redacts).
    #[arg(long)]
    pub no_redact: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The evidence packet folder (under <out>/webprofile-parity/evidence/).
    #[arg(value_name = "PACKET")]
    pub packet: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// Docker when an engine answers, else the embedded stack.
    Auto,
    /// Two reference instances inside this process (no Docker needed).
    Local,
    /// Services already running at the URLs given with --instance.
    External,
    /// MongoDB and two webprofile instances as containers, through the Docker API.
    Docker,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Where the services come from.
    #[arg(long, value_enum, default_value_t = Backend::Auto, env = "PARITY_BACKEND")]
    pub backend: Backend,

    /// URL of a running instance (external backend); repeat it for each instance
    /// (two or more; one given alone takes every role). Falls back to INSTANCE1 /
    /// INSTANCE2, then TARGET_BASE_URL.
    #[arg(long = "instance", value_name = "URL")]
    pub instances: Vec<String>,

    /// How many webprofile instances to start (embedded and Docker: containers IMAGE_TAG,
    /// IMAGE_TAG-node2, IMAGE_TAG-node3, …). Each cross-instance iteration revokes on one
    /// and polls all the others at once, rotating so every ordered (revoker, observer) pair
    /// is covered evenly. External services are as many as --instance gives.
    #[arg(long = "instances", value_name = "N", default_value_t = crate::stack::DEFAULT_INSTANCES, env = "PARITY_INSTANCES", value_parser = parse_instance_count)]
    pub instance_count: usize,

    /// Run only the K-th of N deterministic shares of the iterations (e.g. 2/3), for
    /// spreading one run over N CI jobs; `parity merge` joins their artifact sets. Needs
    /// --seed, the same for every shard: it deals the shares and derives each iteration's user.
    #[arg(long, value_name = "K/N", env = "PARITY_SHARD", value_parser = |s: &str| s.parse::<crate::scenario::cross::Shard>())]
    pub shard: Option<crate::scenario::cross::Shard>,

    /// MongoDB the instances share, reachable from here: enables the checks
    /// that seed tokens directly, and backs the embedded instances (local).
    #[arg(long, value_name = "URI", env = "PARITY_MONGO_URI")]
    pub mongo_uri: Option<String>,

    /// Artifact directory.
    #[arg(long, value_name = "DIR", default_value = "ci", env = "PARITY_OUT")]
    pub out: PathBuf,

    #[command(flatten)]
    pub instance: InstanceArgs,

    /// What the dialect checks expect: `go` (the Go shim: 200 on create, 302 to
    /// /auth/login, 404 for another user's id), `node` (the Node service: 201, 401 or 302
    /// to /login, 204), or `auto` (read from the first create answer). Security checks
    /// judge effects and are the same in every dialect.
    #[arg(long, value_enum, value_name = "DIALECT", default_value_t = crate::contract::DialectChoice::Go, env = "PARITY_DIALECT")]
    pub dialect: crate::contract::DialectChoice,

    /// Failures make the exit code non-zero (default). Also PARITY_STRICT,
    /// or a ci/PARITY_STRICT file containing `false`.
    #[arg(long, conflicts_with = "no_strict")]
    pub strict: bool,

    /// Report failures but exit 0 (informational run).
    #[arg(long, conflicts_with = "strict")]
    pub no_strict: bool,

    /// Cross-instance iterations; `auto`: as many as fit in --max-duration at the --max-rate
    /// pace, after the smoke and the suite (each iteration counted at its least requests).
    #[arg(long, value_name = "N|auto", default_value = "5", env = "CROSS_INSTANCE_ITERATIONS", value_parser = parse_iterations)]
    pub iterations: Iterations,

    /// With --iterations auto: how long the run may take.
    #[arg(long, value_name = "DURATION", env = "PARITY_MAX_DURATION", value_parser = parse_timeout)]
    pub max_duration: Option<Duration>,

    /// Per-iteration files (`cross-instance-*-iter-N.*`) for every failed iteration and
    /// for this many passing ones (the first to finish); `all` keeps every one. Every
    /// exchange of every iteration is in cross-instance-trace.jsonl.gz either way.
    #[arg(long, value_name = "N|all", default_value = "100", env = "PARITY_KEEP_PASSING", value_parser = parse_keep_passing)]
    pub keep_passing: KeepPassing,

    /// Iterations in flight at once.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// How long after a revoke returned a token may still be polled.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_timeout)]
    pub deadline: Duration,

    /// Pause between introspection polls.
    #[arg(long, value_name = "DURATION", default_value = "10ms", value_parser = parse_duration)]
    pub poll_interval: Duration,

    /// Any active:true after the revoke returned fails the iteration — the
    /// contract's "no stale window". On by default.
    #[arg(long, conflicts_with = "allow_stale")]
    pub require_immediate: bool,

    /// Tolerate stale reads: fail only when the token is still active at the
    /// deadline. Stale reads are still counted and reported.
    #[arg(long, conflicts_with = "require_immediate")]
    pub allow_stale: bool,

    /// Revoke status accepted as success (repeatable; the contract says 204).
    #[arg(long = "accept-revoke-status", value_name = "CODE", default_values_t = [204u16], value_parser = clap::value_parser!(u16).range(100..=599))]
    pub accepted_revoke_statuses: Vec<u16>,

    /// Tries of the revocation smoke before it counts as failed.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub attempts: u32,

    /// Which smoke failures are retried: `infrastructure` (refused, reset, timeout, 5xx) or `any`.
    /// A stale read or contract failure fails the run whatever later attempts do.
    #[arg(long, value_name = "CLASS", default_value = "infrastructure", env = "PARITY_RETRY_ON", value_parser = parse_retry_on)]
    pub retry_on: RetryOn,

    /// First run `parity canary` (every fault against embedded reference instances, proving each
    /// check can fail); stop with exit 1 if any fault escapes or the clean reference fails.
    #[arg(long)]
    pub canary: bool,

    /// At most N evidence packets (one per failed smoke attempt, check or iteration, under
    /// <out>/webprofile-parity/evidence/; replay one with `parity replay`). 0 writes none.
    #[arg(long, value_name = "N", default_value_t = crate::evidence::DEFAULT_LIMIT, env = "PARITY_EVIDENCE_LIMIT", value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub evidence_limit: u32,

    /// A reference build to diff the tested instances against, exchange by exchange
    /// (repeatable; see `parity diff --help`): a phase of the run, its files under
    /// <out>/webprofile-parity/diff/, a difference no rule accepts fails the run.
    #[arg(long = "reference", value_name = "URL", env = "PARITY_REFERENCE", value_delimiter = ',')]
    pub reference: Vec<String>,

    /// The reference's HTTP Basic credentials, USER:PASS (default: the admin settings).
    #[arg(long, value_name = "USER:PASS", hide_env_values = true)]
    pub reference_auth: Option<String>,

    /// Accepted differences for --reference (TOML; default ./parity-diff.toml when present).
    #[arg(long, value_name = "FILE", env = "PARITY_DIFF_RULES")]
    pub diff_rules: Option<PathBuf>,

    /// Pause between smoke attempts.
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    pub retry_delay: Duration,

    /// Timeout of each HTTP request.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_timeout)]
    pub request_timeout: Duration,

    #[command(flatten)]
    pub pacing: PacingArgs,

    /// How long instances may take to answer GET /.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub ready_timeout: Duration,

    #[command(flatten)]
    pub credentials: CredentialArgs,

    /// Write tokens and credentials to the artifacts in clear (local debugging only).
    #[arg(long)]
    pub no_redact: bool,

    /// Also write a JUnit XML report here: a test suite per scenario group, a test case per
    /// contract check and per cross-instance iteration, smoke reruns as flakyFailure / rerunFailure.
    #[arg(long, value_name = "FILE", env = "PARITY_JUNIT")]
    pub junit: Option<PathBuf>,

    /// Also write each phase's wall time (stack start-up, smoke, suite, iterations, logs,
    /// teardown, bundle) as JSON here, for benchmarks.
    #[arg(long, value_name = "FILE")]
    pub timings: Option<PathBuf>,

    /// Append a short Markdown summary of the run to this file (GitHub Actions sets it).
    #[arg(long, value_name = "FILE", env = "GITHUB_STEP_SUMMARY")]
    pub step_summary: Option<PathBuf>,

    /// Slack incoming webhook: a run that does not pass posts a short summary there.
    /// Prefer the environment variable: a flag shows in process lists.
    #[arg(long, value_name = "URL", env = "SLACK_WEBHOOK", hide_env_values = true)]
    pub slack_webhook: Option<String>,

    // Last: its help heading applies to every flag after it.
    #[command(flatten)]
    pub docker: DockerArgs,

    /// The settings the command line or the environment named, by argument id
    /// (filled by [`try_parse_from`]).
    #[arg(skip)]
    pub named: BTreeMap<String, String>,
}

/// The Docker stack (`--backend docker`, or `auto` when an engine answers).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Docker backend")]
pub struct DockerArgs {
    /// User-defined network the containers share (container names resolve on it).
    #[arg(long, value_name = "NAME", default_value = "webprofile-parity-net", env = "NETWORK")]
    pub network: String,

    /// MongoDB image; pulled when missing locally.
    #[arg(long, value_name = "IMAGE", default_value = "mongo:6.0.5", env = "MONGO_IMAGE")]
    pub mongo_image: String,

    /// Name of the MongoDB container (the instances reach it as mongodb://<name>:27017/sharelatex).
    #[arg(long, value_name = "NAME", default_value = "webprofile-parity-mongo", env = "MONGO_CONTAINER")]
    pub mongo_container: String,

    /// Tag of the webprofile image built from --webprofile-context, and the name of the first
    /// instance's container; the second is <IMAGE_TAG>-node2.
    #[arg(long, value_name = "TAG", default_value = "webprofile-api-parity", env = "IMAGE_TAG")]
    pub image_tag: String,

    /// Run this webprofile image (pulled when missing) instead of IMAGE_TAG.
    #[arg(long, value_name = "IMAGE", conflicts_with = "webprofile_context", env = "WEBPROFILE_IMAGE")]
    pub webprofile_image: Option<String>,

    /// Build the webprofile image from this Dockerfile context (honours .dockerignore), tagged IMAGE_TAG.
    #[arg(long, value_name = "DIR", env = "WEBPROFILE_CONTEXT")]
    pub webprofile_context: Option<PathBuf>,

    /// Also publish the first instance on 127.0.0.1:3900, like the old scripts (default: ephemeral ports).
    #[arg(long, env = "PUBLISH_PORT", value_parser = crate::settings::parse_switch, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub publish_port: bool,

    /// Extra environment for both webprofile containers (repeatable), e.g. NODE_ENV=production.
    #[arg(long = "instance-env", value_name = "KEY=VALUE")]
    pub instance_env: Vec<String>,

    /// Like --instance-env, for a secret (repeatable): the value never appears in output or
    /// artifacts. Values of --instance-env keys naming a PASSWORD, SECRET, TOKEN or KEY are
    /// treated as secrets too.
    #[arg(long = "instance-secret", value_name = "KEY=VALUE")]
    pub instance_secrets: Vec<String>,

    /// Lines of each container's log kept in webprofile.log, webprofile-node2.log and mongo.log.
    #[arg(long, value_name = "N", default_value_t = 500, env = "LOG_TAIL", value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub log_tail: u32,

    /// Leave the network and containers running after the run, and print how to reach and remove them.
    #[arg(long)]
    pub no_cleanup: bool,

    /// Remove the containers but keep the network.
    #[arg(long)]
    pub keep_network: bool,

    /// Keep the image built from --webprofile-context (removed at the end by default).
    #[arg(long)]
    pub keep_image: bool,

    /// Disturb the stack when a cross-instance iteration starts (repeatable): KIND@ITERATION with
    /// KIND one of pause-mongo, stop-mongo, pause-node2, kill-node2, disconnect-node2.
    #[arg(long = "chaos", value_name = "KIND@N")]
    pub chaos: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The reference build's instance (repeatable, or comma-separated: a second instance
    /// adds the cross-instance steps).
    #[arg(long = "reference", value_name = "URL", env = "PARITY_REFERENCE", value_delimiter = ',')]
    pub reference: Vec<String>,

    /// The candidate build's instance (repeatable, or comma-separated).
    #[arg(long = "candidate", value_name = "URL", env = "PARITY_CANDIDATE", value_delimiter = ',')]
    pub candidate: Vec<String>,

    /// `external` (the URLs given) or `docker`: start --reference-image and --candidate-image,
    /// two containers each, on one shared MongoDB.
    #[arg(long, value_enum, default_value_t = DiffBackend::External)]
    pub backend: DiffBackend,

    /// The reference build's image (--backend docker).
    #[arg(long, value_name = "IMAGE")]
    pub reference_image: Option<String>,

    /// The candidate build's image (--backend docker).
    #[arg(long, value_name = "IMAGE")]
    pub candidate_image: Option<String>,

    /// MongoDB image for --backend docker.
    #[arg(long, value_name = "IMAGE", default_value = "mongo:6.0.5", env = "MONGO_IMAGE")]
    pub mongo_image: String,

    /// Leave the Docker stack up afterwards (`parity clean` removes it).
    #[arg(long)]
    pub no_cleanup: bool,

    /// The reference's HTTP Basic credentials, USER:PASS (default: the admin settings).
    #[arg(long, value_name = "USER:PASS", hide_env_values = true)]
    pub reference_auth: Option<String>,

    /// The candidate's HTTP Basic credentials, USER:PASS (default: the admin settings).
    #[arg(long, value_name = "USER:PASS", hide_env_values = true)]
    pub candidate_auth: Option<String>,

    #[command(flatten)]
    pub credentials: CredentialArgs,

    /// Steps that add to or replace the built-in sequence (JSON; see docs/diff.md).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,

    /// Accepted differences (TOML; default ./parity-diff.toml when present).
    #[arg(long, value_name = "FILE", env = "PARITY_DIFF_RULES")]
    pub rules: Option<PathBuf>,

    /// The MongoDB both builds read: enables the expired-token step.
    #[arg(long, value_name = "URI", env = "PARITY_MONGO_URI")]
    pub mongo_uri: Option<String>,

    /// Both builds read one store: enables the cross-implementation steps (minted by one,
    /// revoked by the other). Implied by --backend docker.
    #[arg(long)]
    pub shared_store: bool,

    /// Where to write: <out>/webprofile-parity/diff/.
    #[arg(long, value_name = "DIR", default_value = "ci", env = "PARITY_OUT")]
    pub out: PathBuf,

    /// Per-request budget.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_timeout)]
    pub request_timeout: Duration,

    #[command(flatten)]
    pub pacing: PacingArgs,

    /// Wait at most this long for the Docker stack to answer.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_timeout)]
    pub ready_timeout: Duration,

    /// Write tokens and credentials as they are (local debugging only).
    #[arg(long)]
    pub no_redact: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffBackend {
    External,
    Docker,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Also remove resources of runs whose harness is still running.
    #[arg(long)]
    pub all: bool,

    /// List what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How reference instances behave (the embedded ones of `run`, or `reference serve`).
#[derive(Debug, Args, Clone)]
pub struct InstanceArgs {
    /// Fault to inject into the reference instances (repeatable):
    /// revocation-lag=800ms, error-rate=0.3, latency=20ms, auth-bypass.
    /// With --backend docker they reach the containers as PARITY_FAULTS
    /// (which the reference image honours).
    #[arg(long = "fault", value_name = "SPEC", env = "PARITY_FAULTS", value_delimiter = ',')]
    pub faults: Vec<String>,

    /// Seed for fault injection (reproducible runs).
    #[arg(long, value_name = "N", env = "PARITY_SEED")]
    pub seed: Option<u64>,

    /// Hash cost for new tokens: `default` (argon2id m=64MiB, like the
    /// service) or `minimal` (measure the harness, not argon2).
    #[arg(long, value_name = "COST", default_value = "default", env = "PARITY_HASH_COST", value_parser = |s: &str| s.parse::<HashCost>())]
    pub hash_cost: HashCost,

    /// Which service the reference instances answer like, and write tokens like: `go` (the
    /// contract; `userId` stored as a string) or `node` (the Node dialect of
    /// webprofile-api.md: 201 on create, bare ids, 401 or 302 to /login, 204 for an unknown
    /// id; `userId` stored as an ObjectId). `FLAVOR@K` sets instance K alone: `--flavor
    /// node@1` runs a Node-flavor instance 1 beside Go-flavor ones on one store (a
    /// cross-implementation run).
    #[arg(long, value_name = "FLAVOR", default_value = "go", env = "PARITY_FLAVOR", value_parser = |s: &str| s.parse::<Flavors>())]
    pub flavor: Flavors,
}

/// How fast requests go to a service, and how long its rate limit may hold the run back.
#[derive(Debug, Args, Clone)]
pub struct PacingArgs {
    /// At most this many requests to each service under test, all its instances together:
    /// N/s, N/min or N/h; `auto` sends unpaced until the service answers 429, then keeps under
    /// the limit learnt from that answer (RateLimit-Policy; else what got through before its
    /// Retry-After; else half the rate). A 429 is never a finding: the request waits out
    /// Retry-After and is sent again, and a poll answered 429 is not a read.
    #[arg(long, value_name = "N/s|N/min|auto", default_value = "auto", env = "PARITY_MAX_RATE", value_parser = |s: &str| s.parse::<crate::contract::pacing::MaxRate>())]
    pub max_rate: crate::contract::pacing::MaxRate,

    /// How long 429s may hold the run back in all. Past it nothing more is sent: the run
    /// ends `incomplete`, naming what was not carried out, exit 3 — never "parity FAILED".
    #[arg(long, value_name = "DURATION", default_value = "10m", env = "PARITY_RATE_LIMIT_BUDGET", value_parser = parse_timeout)]
    pub rate_limit_budget: Duration,
}

impl PacingArgs {
    pub fn pacing(&self) -> crate::contract::pacing::Pacing {
        crate::contract::pacing::Pacing { max_rate: self.max_rate, budget: self.rate_limit_budget }
    }
}

#[derive(Debug, Args, Clone)]
pub struct CredentialArgs {
    /// Admin user for HTTP Basic auth.
    #[arg(long, value_name = "USER", default_value = "overleaf", env = "WEBPROFILE_ADMIN_USER")]
    pub admin_user: String,

    /// Admin password for HTTP Basic auth.
    #[arg(
        long,
        value_name = "PASS",
        default_value = "overleaf",
        env = "WEBPROFILE_ADMIN_PASS",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub admin_pass: String,
}

#[derive(Debug, Args)]
pub struct RerunArgs {
    /// Tries before giving up.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub attempts: u32,

    /// Where flakiness.json and ui/index.html go.
    #[arg(long, value_name = "DIR", default_value = "ci/flakiness")]
    pub out: PathBuf,

    /// Pause between attempts.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub retry_delay: Duration,

    /// Which failures of a `parity run` command are retried, read from its analysis.json:
    /// `infrastructure` or `any`. Other commands are retried on any failure.
    #[arg(long, value_name = "CLASS", default_value = "infrastructure", value_parser = parse_retry_on)]
    pub retry_on: RetryOn,

    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ReferenceCommand {
    /// Serve the webprofile API (the reference implementation, with optional faults).
    Serve(ServeArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    Memory,
    Mongo,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (0.0.0.0 inside a container).
    #[arg(long, default_value = "127.0.0.1", env = "WEBPROFILE_HOST")]
    pub host: String,

    #[arg(long, default_value_t = 3900, env = "PORT")]
    pub port: u16,

    /// Token store.
    #[arg(long, value_enum, default_value_t = StoreKind::Memory)]
    pub store: StoreKind,

    /// MongoDB URI for --store mongo (database from the path).
    #[arg(long, value_name = "URI", default_value = "mongodb://mongo:27017/sharelatex", env = "MONGO_URI")]
    pub mongo_uri: String,

    #[command(flatten)]
    pub instance: InstanceArgs,

    /// Name in the access log.
    #[arg(long, default_value = "webprofile", env = "WEBPROFILE_NAME")]
    pub name: String,

    #[command(flatten)]
    pub credentials: CredentialArgs,
}

/// The collector's thresholds; flags override the environment.
#[derive(Debug, Args, Clone)]
pub struct ThresholdArgs {
    /// Failing runs (runs with at least one failed iteration) that exceed the thresholds.
    #[arg(
        long,
        value_name = "N",
        default_value = "1",
        env = "CROSS_RUN_FAIL_THRESHOLD",
        value_parser = thresholds::parse_run_threshold
    )]
    pub run_fail_threshold: u64,

    /// Iteration failure rate that exceeds the thresholds: a fraction (0.05) or a percentage (5%).
    #[arg(
        long,
        value_name = "RATE",
        default_value = "0.05",
        env = "CROSS_ITER_FAILURE_RATE_THRESHOLD",
        value_parser = thresholds::parse_rate_threshold
    )]
    pub iter_failure_rate_threshold: f64,

    /// For services run with --allow-stale: the most p99 staleness proven (stale_ms) the
    /// collected iterations may show, e.g. 250ms; above it the thresholds are exceeded. The
    /// dashboard draws it on the latency trend. Without it the SLO is "no stale read".
    #[arg(long, value_name = "DURATION", env = "CROSS_LATENCY_SLO", value_parser = thresholds::parse_latency_slo)]
    pub latency_slo: Option<f64>,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Read this collected directory or single file instead of the collected directory
    /// (a file named run_<id>.json is a rerun report, any other file cross-instance results).
    #[arg(long, value_name = "PATH")]
    pub src: Option<PathBuf>,

    /// First copy <out>/webprofile-parity/cross-instance-results.json into the collected
    /// directory as run_local_<UTC YYYYmmddTHHMMSSZ>_cross.json. Without it, that file (when
    /// present) is aggregated as run_local_latest_cross.json and nothing is copied.
    #[arg(long)]
    pub copy: bool,

    /// Artifact directory: the current results are read from <out>/webprofile-parity, the
    /// reports written to <out>/flakiness.
    #[arg(long, value_name = "DIR", default_value = "ci", env = "PARITY_OUT")]
    pub out: PathBuf,

    /// Collected runs directory [default: <out>/flakiness/collected].
    #[arg(long, value_name = "DIR", env = "OUT_DIR")]
    pub collected_dir: Option<PathBuf>,

    #[command(flatten)]
    pub thresholds: ThresholdArgs,

    /// Dashboard link recorded in status.json.
    #[arg(long, value_name = "URL", env = "DASH_URL")]
    pub dashboard_url: Option<String>,

    /// Append a short Markdown summary to this file (GitHub Actions sets it).
    #[arg(long, value_name = "FILE", env = "GITHUB_STEP_SUMMARY")]
    pub step_summary: Option<PathBuf>,

    /// The parity workflow file whose runs' artifacts are downloaded first, when
    /// GITHUB_REPOSITORY and GITHUB_TOKEN are set (GITHUB_API_URL overrides the API URL).
    #[arg(long, value_name = "FILE", default_value = "parity.yml", env = "PARITY_WORKFLOW")]
    pub workflow: String,

    /// Download the runs created in the last N days.
    #[arg(long, value_name = "N", default_value = "30", value_parser = clap::value_parser!(u32).range(1..=400))]
    pub days: u32,

    /// The artifact to download from each run.
    #[arg(long, value_name = "NAME", default_value = "webprofile-parity-artifacts")]
    pub artifact_name: String,

    /// Slack incoming webhook: the weekly summary is posted there (an alert when the
    /// thresholds are exceeded). Prefer the environment variable.
    #[arg(long, value_name = "URL", env = "SLACK_WEBHOOK", hide_env_values = true)]
    pub slack_webhook: Option<String>,

    /// Print the Slack message and the GitHub issue instead of sending them (the reports
    /// are still written).
    #[arg(long)]
    pub dry_run: bool,

    /// After writing everything, publish the dashboard as `parity publish` does (with
    /// --dry-run: only list what would be published). Without a target configured: a warning.
    #[arg(
        long,
        env = "PUBLISH_DASHBOARD",
        value_parser = crate::settings::parse_switch,
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub publish: bool,

    #[command(flatten)]
    pub publishing: PublishTargetArgs,
}

/// `parity publish`: the collector's outputs to S3 and/or GitHub Pages.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Artifact directory holding flakiness/cross/ as `parity collect` wrote it.
    #[arg(long, value_name = "DIR", default_value = "ci", env = "PARITY_OUT")]
    pub out: PathBuf,

    #[command(flatten)]
    pub targets: PublishTargetArgs,

    /// List what would be uploaded and committed; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Publishing settings shared by `publish` and `collect --publish`.
#[derive(Debug, Args, Clone)]
pub struct PublishTargetArgs {
    /// Keep only the newest N snapshot folders in parity-cross/archives/ on GitHub Pages
    /// [default: keep all].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_archives: Option<u32>,

    /// Git remote of the GitHub Pages repository [default: https://github.com/<GITHUB_PAGES_REPO>.git,
    /// authenticated with GITHUB_TOKEN].
    #[arg(long, value_name = "URL", env = "GITHUB_PAGES_REMOTE", hide_env_values = true)]
    pub pages_remote: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Artifact directory holding flakiness/cross/summary.json.
    #[arg(long, value_name = "DIR", default_value = "ci", env = "PARITY_OUT")]
    pub out: PathBuf,

    /// The summary to judge [default: <out>/flakiness/cross/summary.json].
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,

    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

#[derive(Debug, Args)]
pub struct SignaturesArgs {
    /// Artifact directory holding flakiness/cross/.
    #[arg(long, value_name = "DIR", default_value = "ci", env = "PARITY_OUT")]
    pub out: PathBuf,

    /// The file to read [default: <out>/flakiness/cross/signatures.json].
    #[arg(long, value_name = "FILE")]
    pub signatures: Option<PathBuf>,

    /// Print the file's JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Artifact directory holding flakiness/cross/.
    #[arg(long, value_name = "DIR", default_value = "ci", env = "PARITY_OUT")]
    pub out: PathBuf,

    /// The summary to read [default: <out>/flakiness/cross/summary.json].
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,

    /// The status file to write [default: <out>/flakiness/cross/status.json].
    #[arg(long, value_name = "FILE")]
    pub status: Option<PathBuf>,

    #[command(flatten)]
    pub thresholds: ThresholdArgs,

    /// Dashboard link recorded in status.json.
    #[arg(long, value_name = "URL", env = "DASH_URL")]
    pub dashboard_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct BadgeArgs {
    /// The SVG to write.
    #[arg(long, value_name = "FILE", default_value = "ci/flakiness/cross/status.svg")]
    pub out: PathBuf,

    /// Left-hand text.
    #[arg(long, default_value = badge::DEFAULT_LABEL)]
    pub label: String,

    /// Right-hand text when the thresholds hold.
    #[arg(long, value_name = "TEXT", default_value = "ok")]
    pub ok_text: String,

    /// Right-hand text when the thresholds are exceeded.
    #[arg(long, value_name = "TEXT", default_value = "alert")]
    pub alert_text: String,

    /// Right-hand text when there is no data.
    #[arg(long, value_name = "TEXT", default_value = "unknown")]
    pub unknown_text: String,

    /// Colour when the thresholds hold: #rgb, #rrggbb or a name (brightgreen, red, …).
    #[arg(long, value_name = "COLOR", default_value = badge::DEFAULT_OK_COLOR, value_parser = parse_colour)]
    pub ok_color: Colour,

    /// Colour when the thresholds are exceeded.
    #[arg(long, value_name = "COLOR", default_value = badge::DEFAULT_ALERT_COLOR, value_parser = parse_colour)]
    pub alert_color: Colour,

    /// Colour when there is no data.
    #[arg(long, value_name = "COLOR", default_value = badge::DEFAULT_UNKNOWN_COLOR, value_parser = parse_colour)]
    pub unknown_color: Colour,

    /// status.json to read (preferred: its threshold_exceeded decides).
    #[arg(long, value_name = "FILE", default_value = "ci/flakiness/cross/status.json")]
    pub status: PathBuf,

    /// summary.json to judge when status.json is absent or has no verdict.
    #[arg(long, value_name = "FILE", default_value = "ci/flakiness/cross/summary.json")]
    pub summary: PathBuf,

    /// Total width in pixels [default: fitted to the text]; the texts are squeezed to fit.
    #[arg(long, value_name = "PX", value_parser = clap::value_parser!(u32).range(20..=4000))]
    pub width: Option<u32>,

    /// Height in pixels.
    #[arg(long, value_name = "PX", default_value_t = badge::DEFAULT_HEIGHT, value_parser = clap::value_parser!(u32).range(10..=200))]
    pub height: u32,

    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

fn parse_retry_on(text: &str) -> Result<RetryOn, String> {
    text.parse()
}

fn parse_colour(text: &str) -> Result<Colour, String> {
    text.parse()
}

/// `--keep-passing`: a count, or `all` (`None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepPassing(pub Option<u32>);

/// At least two: one instance revokes, another is polled.
fn parse_instance_count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (2..=crate::stack::MAX_INSTANCES).contains(&n) => Ok(n),
        Ok(n) if n < 2 => Err(format!(
            "{n}: cross-instance iterations need two instances at least (one revokes, another is polled)"
        )),
        Ok(n) => Err(format!("{n}: at most {} instances", crate::stack::MAX_INSTANCES)),
        Err(_) => Err(format!("{text:?} is not a number of instances (2 or more)")),
    }
}

/// `--iterations`: a count, or `auto` (fitted to --max-duration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Iterations {
    Count(u32),
    Auto,
}

fn parse_iterations(text: &str) -> Result<Iterations, String> {
    match text.trim() {
        "auto" => Ok(Iterations::Auto),
        n => match n.parse::<u32>() {
            Ok(n) if n <= MAX_ITERATIONS => Ok(Iterations::Count(n)),
            Ok(_) => Err(format!("{n} is more than {MAX_ITERATIONS} iterations")),
            Err(_) => Err(format!("`{n}` is neither a count nor `auto`")),
        },
    }
}

fn parse_keep_passing(text: &str) -> Result<KeepPassing, String> {
    match text.trim() {
        "all" => Ok(KeepPassing(None)),
        n => n
            .parse::<u32>()
            .map(|n| KeepPassing(Some(n)))
            .map_err(|_| format!("`{n}` is neither a count nor `all`")),
    }
}

/// The longest duration any setting takes: a day (a wait longer than that
/// is a typo, and an unbounded one never ends).
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration like 800ms, 15s or 1m: {e}"))?;
    if duration > MAX_DURATION {
        return Err(format!("`{text}` is longer than the longest wait any setting takes, 24h"));
    }
    Ok(duration)
}

/// A duration that bounds a wait (a timeout, a deadline): more than zero.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!(
            "`{text}`: a timeout of zero would fail before anything is tried; give at least 1ms"
        ));
    }
    Ok(duration)
}

/// The most iterations a run takes (their results are kept for percentiles).
pub const MAX_ITERATIONS: u32 = 10_000_000;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_remembers_what_was_named_not_what_defaulted() {
        let cli = try_parse_from(["parity", "run", "--webprofile-image", "x", "--iterations", "2"]).unwrap();
        let Command::Run(run) = cli.command else { panic!("run") };
        assert_eq!(run.named.get("webprofile_image").map(String::as_str), Some("--webprofile-image"));
        assert_eq!(run.named.get("iterations").map(String::as_str), Some("--iterations"));
        assert!(!run.named.contains_key("network"), "a default is not named");
        assert!(!run.named.contains_key("backend"));
    }

    #[test]
    fn durations_parse_with_units_and_reject_garbage() {
        assert_eq!(parse_duration("800ms"), Ok(Duration::from_millis(800)));
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert!(parse_duration("fast").unwrap_err().contains("not a duration"));
    }
}
