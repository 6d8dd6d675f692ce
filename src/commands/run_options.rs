//! `parity run`'s arguments resolved once into the library's [`RunConfig`]:
//! flags > environment > the `ci/PARITY_STRICT` file > defaults. Which
//! backend runs is decided here: the run tests what it was asked to test.

use super::CommandError;
use crate::cli::{Backend, Iterations, RunArgs};
use crate::contract::ClientOptions;
use crate::contract::Credentials;
use crate::reference::faults::Faults;
use crate::retry::Backoff;
use crate::run::{DiffPhase, RunConfig, Source};
use crate::scenario::Judgement;
use crate::settings::{self, Env};
use crate::stack::docker::{ChaosStep, DockerSettings, Keep, WebprofileSource};
use std::path::{Path, PathBuf};

/// A problem with the flags or the environment: exit 64.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl From<UsageError> for CommandError {
    fn from(e: UsageError) -> Self {
        CommandError::Usage(e.0)
    }
}

/// `parity run`'s flags and settings, resolved: flags > environment > the
/// `ci/PARITY_STRICT` file > defaults.
pub fn run_config(args: &RunArgs, env: &Env<'_>) -> Result<RunConfig, UsageError> {
    let faults = Faults::parse_all(&args.instance.faults).map_err(|e| UsageError(format!("--fault: {e}")))?;
    let (source, backend_note) = resolve_source(args, &faults, env)?;
    if matches!(source, Source::External { .. }) && !faults.is_empty() {
        return Err(UsageError(
            "--fault injects faults into the embedded instances; it has no effect on external services \
             (start them with `parity reference serve --fault …` instead)"
                .into(),
        ));
    }
    let instances = instance_count(args, &source)?;
    if let (Some(shard), None) = (args.shard, args.instance.seed) {
        return Err(UsageError(format!(
            "--shard {shard} needs --seed N (the same for every shard): the seed deals the shares and \
             derives each iteration's user, so the shards of one run agree"
        )));
    }
    if let Some(k) = faults.scoped_instances().into_iter().find(|k| *k > instances) {
        return Err(UsageError(format!(
            "--fault …@{k}: the run has {instances} instances, so there is no instance {k} (--instances)"
        )));
    }
    if let Some(k) = args.instance.flavor.scoped_instances().into_iter().find(|k| *k > instances) {
        return Err(UsageError(format!(
            "--flavor …@{k}: the run has {instances} instances, so there is no instance {k} (--instances)"
        )));
    }
    let (strict, strict_source) = resolve_strict(args, env)?;
    let diff = diff_phase(args)?;
    let judgement = Judgement {
        deadline: args.deadline,
        poll_interval: args.poll_interval,
        require_immediate: !args.allow_stale,
        accepted_revoke_statuses: args.accepted_revoke_statuses.clone(),
    };
    let relaxations = relaxations(&judgement, strict_source.as_deref().filter(|_| !strict), diff.as_ref());
    Ok(RunConfig {
        source,
        backend_note,
        instances,
        shard: args.shard,
        mongo_uri: mongo_uri(args.mongo_uri.as_deref())?,
        out: args.out.clone(),
        faults,
        seed: args.instance.seed,
        hash_cost: args.instance.hash_cost,
        flavor: args.instance.flavor.clone(),
        dialect: args.dialect,
        strict,
        relaxations,
        iterations: iteration_count(args, instances)?,
        concurrency: usize::from(args.concurrency),
        judgement,
        retry: Backoff::constant(args.attempts, args.retry_delay),
        retry_on: args.retry_on,
        client: ClientOptions {
            credentials: Credentials {
                user: args.credentials.admin_user.clone(),
                pass: args.credentials.admin_pass.clone(),
            },
            request_timeout: args.request_timeout,
            pacer: args.pacing.pacing().pacer(),
        },
        ready_timeout: args.ready_timeout,
        redact: !args.no_redact,
        junit: junit_path(args.junit.as_deref())?,
        step_summary: args.step_summary.clone().filter(|p| !p.as_os_str().is_empty()),
        timings: args.timings.clone(),
        slack_webhook: args.slack_webhook.clone().filter(|w| !w.trim().is_empty()),
        canary: args.canary,
        evidence_limit: args.evidence_limit,
        diff,
        keep_passing: args.keep_passing.0,
    })
}

/// `--iterations`, resolved: `auto` fits as many as --max-duration allows at
/// the --max-rate pace after the smoke and the suite, each iteration at its
/// least requests (create, introspect, revoke, one poll per observer).
fn iteration_count(args: &RunArgs, instances: usize) -> Result<u32, UsageError> {
    let max_duration = match (args.iterations, args.max_duration) {
        (Iterations::Count(n), None) => return Ok(n),
        (Iterations::Count(_), Some(_)) => {
            return Err(UsageError("--max-duration plans --iterations auto; give that, or drop it".into()))
        }
        (Iterations::Auto, None) => {
            return Err(UsageError(
                "--iterations auto needs --max-duration: how long the run may take".into(),
            ))
        }
        (Iterations::Auto, Some(d)) => d,
    };
    let crate::contract::pacing::MaxRate::Fixed(rate) = args.pacing.max_rate else {
        return Err(UsageError(
            "--iterations auto needs a known pace: --max-rate N/s or N/min (`auto` learns one only from a 429)"
                .into(),
        ));
    };
    let per_iteration = crate::scenario::cross::least_requests_per_iteration(instances) as f64;
    let before = crate::scenario::requests_before_iterations(instances) as f64;
    let requests = (max_duration.as_secs_f64() * rate.per_second()).floor();
    let fitted = ((requests - before) / per_iteration).floor();
    if fitted < 1.0 {
        return Err(UsageError(format!(
            "--iterations auto: {} at --max-rate {} is about {requests} requests, not enough for the smoke \
             and the suite (~{before}) and one iteration ({per_iteration})",
            crate::clock::human(max_duration),
            args.pacing.max_rate,
        )));
    }
    Ok((fitted as u32).min(crate::cli::MAX_ITERATIONS))
}

/// `--reference`: the build to diff the tested instances against, and the rules.
fn diff_phase(args: &RunArgs) -> Result<Option<DiffPhase>, UsageError> {
    let given: Vec<String> = args.reference.iter().filter(|u| !u.trim().is_empty()).cloned().collect();
    if given.is_empty() {
        return Ok(None);
    }
    let admin =
        Credentials { user: args.credentials.admin_user.clone(), pass: args.credentials.admin_pass.clone() };
    let to_usage = |e: CommandError| UsageError(e.to_string());
    let reference =
        super::diff::side(&given, "--reference", args.reference_auth.as_deref(), &admin).map_err(to_usage)?;
    let rules = super::diff::load_rules(args.diff_rules.as_deref()).map_err(to_usage)?;
    Ok(Some(DiffPhase { reference, rules }))
}

/// The Docker backend's own settings, by argument id: naming any of them asks for Docker.
const DOCKER_SETTINGS: [&str; 14] = [
    "network",
    "mongo_image",
    "mongo_container",
    "image_tag",
    "webprofile_image",
    "webprofile_context",
    "publish_port",
    "instance_env",
    "instance_secrets",
    "log_tail",
    "no_cleanup",
    "keep_network",
    "keep_image",
    "chaos",
];

/// The run tests what it was asked to test: a named target means the external
/// backend, a named Docker setting the Docker backend; `auto` probes for
/// Docker (and may fall back to the embedded stack) only when nothing named either.
fn resolve_source(
    args: &RunArgs,
    faults: &Faults,
    env: &Env<'_>,
) -> Result<(Source, Option<String>), UsageError> {
    let targets = instance_urls(args, env)?;
    let docker_named: Vec<String> =
        DOCKER_SETTINGS.iter().filter_map(|id| args.named.get(*id).cloned()).collect();
    let backend_named = || args.named.get("backend").cloned().unwrap_or_else(|| "--backend".into());
    let conflict = |what: &str, why: &str| {
        UsageError(format!("{what} conflicts with {} {}: {why}", backend_named(), backend_word(args.backend)))
    };
    // Docker variables in the environment may serve other jobs; flags on the command line may not.
    let docker_flags: Vec<&String> = docker_named.iter().filter(|n| n.starts_with("--")).collect();
    match args.backend {
        Backend::Local | Backend::External if !docker_flags.is_empty() => Err(conflict(
            &docker_flags.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            "Docker settings need the Docker backend (--backend docker, or leave --backend auto)",
        )),
        Backend::Local | Backend::Docker if targets.is_some() => {
            let named = &targets.as_ref().expect("checked").named_by;
            Err(conflict(named, "named targets are tested with --backend external (or leave --backend auto)"))
        }
        Backend::Docker => Ok((Source::Docker(Box::new(docker_settings(args, faults)?)), None)),
        Backend::Local => Ok((Source::Local, None)),
        Backend::External => {
            let targets = targets.ok_or_else(|| {
                UsageError(format!(
                    "{} external needs the services' URLs: --instance URL (twice for two instances), \
                     or INSTANCE1 / INSTANCE2, or TARGET_BASE_URL",
                    backend_named()
                ))
            })?;
            Ok(external(targets, None))
        }
        Backend::Auto => match (targets, docker_named.is_empty()) {
            (Some(targets), false) => Err(UsageError(format!(
                "{} names targets to test and {} names the Docker stack: choose one with --backend \
                 external or --backend docker",
                targets.named_by,
                docker_named.join(", ")
            ))),
            (Some(targets), true) => {
                let why = format!(
                    "backend auto: {} names the targets, so the external backend runs",
                    targets.named_by
                );
                Ok(external(targets, Some(why)))
            }
            (None, false) => Ok((
                Source::Docker(Box::new(docker_settings(args, faults)?)),
                Some(format!("backend auto: {} asks for the Docker stack", docker_named.join(", "))),
            )),
            (None, true) => match env("DOCKER_HOST") {
                Some(_) => Ok((
                    Source::Docker(Box::new(docker_settings(args, faults)?)),
                    Some("backend auto: DOCKER_HOST names a Docker engine, so the Docker stack runs".into()),
                )),
                None => Ok((Source::Auto(Box::new(docker_settings(args, faults)?)), None)),
            },
        },
    }
}

fn backend_word(backend: Backend) -> &'static str {
    match backend {
        Backend::Auto => "auto",
        Backend::Local => "local",
        Backend::External => "external",
        Backend::Docker => "docker",
    }
}

fn external(targets: Targets, why: Option<String>) -> (Source, Option<String>) {
    let Targets { mut urls, .. } = targets;
    let single = (urls.len() == 1).then(|| {
        format!(
            "only one instance given ({}): cross-instance iterations create, revoke and poll on it alone",
            urls[0]
        )
    });
    if urls.len() == 1 {
        urls.push(urls[0].clone());
    }
    let note = match (why, single) {
        (Some(why), Some(single)) => Some(format!("{why}; {single}")),
        (why, single) => why.or(single),
    };
    (Source::External { urls }, note)
}

/// How many instances the run drives: `--instances` (or PARITY_INSTANCES) for
/// the stacks the harness starts; for external services, as many as were given
/// (a `--instances` that says otherwise is a mistake worth naming).
fn instance_count(args: &RunArgs, source: &Source) -> Result<usize, UsageError> {
    let Source::External { urls } = source else { return Ok(args.instance_count) };
    // One URL given alone was repeated to take both roles.
    let given = if urls.len() == 2 && urls[0] == urls[1] { 1 } else { urls.len() };
    match args.named.get("instance_count") {
        Some(named) if args.instance_count != urls.len() => Err(UsageError(format!(
            "{named} {} but {given} instance URL(s) were given: external services are as many as their URLs",
            args.instance_count
        ))),
        _ => Ok(urls.len()),
    }
}

fn docker_settings(args: &RunArgs, faults: &Faults) -> Result<DockerSettings, UsageError> {
    let d = &args.docker;
    let chaos = d
        .chaos
        .iter()
        .map(|spec| spec.parse::<ChaosStep>().map_err(|e| UsageError(format!("--chaos {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if let Iterations::Count(count) = args.iterations {
        if let Some(step) = chaos.iter().find(|s| s.iteration > count) {
            return Err(UsageError(format!(
                "--chaos {}@{}: the run has only {count} iteration(s) (--iterations)",
                step.kind, step.iteration
            )));
        }
    }
    for entry in d.instance_env.iter().chain(&d.instance_secrets) {
        if entry.split_once('=').is_none_or(|(key, _)| key.is_empty()) {
            return Err(UsageError(format!("--instance-env `{entry}`: expected KEY=VALUE")));
        }
    }
    for (flag, name) in
        [("--network", &d.network), ("--mongo-container", &d.mongo_container), ("--image-tag", &d.image_tag)]
    {
        if name.trim().is_empty() {
            return Err(UsageError(format!("{flag} must not be empty")));
        }
    }
    let webprofile = match (&d.webprofile_image, &d.webprofile_context) {
        (Some(image), _) => WebprofileSource::Image(image.clone()),
        (None, Some(dir)) if !dir.is_dir() => {
            return Err(UsageError(format!("--webprofile-context {}: not a directory", dir.display())))
        }
        (None, Some(dir)) => WebprofileSource::Context(dir.clone()),
        (None, None) => WebprofileSource::Image(d.image_tag.clone()),
    };
    Ok(DockerSettings {
        network: d.network.clone(),
        mongo_image: d.mongo_image.clone(),
        mongo_container: d.mongo_container.clone(),
        image_tag: d.image_tag.clone(),
        webprofile,
        publish_port: d.publish_port,
        instance_env: d.instance_env.iter().chain(&d.instance_secrets).cloned().collect(),
        log_tail: d.log_tail,
        keep: if d.no_cleanup {
            Keep::Everything
        } else if d.keep_network {
            Keep::Network
        } else {
            Keep::Nothing
        },
        keep_image: d.keep_image || d.no_cleanup,
        chaos,
        credentials: Credentials {
            user: args.credentials.admin_user.clone(),
            pass: args.credentials.admin_pass.clone(),
        },
        faults: faults.clone(),
        seed: args.instance.seed,
        hash_cost: args.instance.hash_cost,
        flavor: args.instance.flavor.clone(),
        ready_timeout: args.ready_timeout,
        shared_mongo: false,
        instances: args.instance_count,
    })
}

/// The instances a run was told to test, and what named them.
struct Targets {
    /// One or more.
    urls: Vec<String>,
    /// "--instance", "INSTANCE1, INSTANCE2" or "TARGET_BASE_URL".
    named_by: String,
}

/// `--instance` (any number), else INSTANCE1 / INSTANCE2, else TARGET_BASE_URL.
fn instance_urls(args: &RunArgs, env: &Env<'_>) -> Result<Option<Targets>, UsageError> {
    let given = |url: &String| !url.trim().is_empty();
    let from_flags: Vec<String> = args.instances.iter().filter(|u| given(u)).cloned().collect();
    let instance_vars: Vec<(&str, String)> =
        ["INSTANCE1", "INSTANCE2"].into_iter().filter_map(|k| env(k).filter(given).map(|v| (k, v))).collect();
    let (urls, named_by) = if !from_flags.is_empty() {
        (from_flags, "--instance".to_string())
    } else if !instance_vars.is_empty() {
        let names: Vec<&str> = instance_vars.iter().map(|(k, _)| *k).collect();
        (instance_vars.iter().map(|(_, v)| v.clone()).collect(), names.join(", "))
    } else {
        match env("TARGET_BASE_URL").filter(given) {
            Some(url) => (vec![url], "TARGET_BASE_URL".to_string()),
            None => return Ok(None),
        }
    };
    for url in &urls {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| UsageError(format!("{named_by}: instance URL `{url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(UsageError(format!(
                "{named_by}: instance URL `{url}` must start with http:// or https://"
            )));
        }
    }
    Ok(Some(Targets { urls, named_by }))
}

/// `--mongo-uri` (or PARITY_MONGO_URI): a `mongodb://` or `mongodb+srv://` URL.
fn mongo_uri(uri: Option<&str>) -> Result<Option<String>, UsageError> {
    let Some(uri) = uri.map(str::trim).filter(|u| !u.is_empty()) else { return Ok(None) };
    match url::Url::parse(uri) {
        Ok(url) if matches!(url.scheme(), "mongodb" | "mongodb+srv") && url.host_str().is_some() => {
            Ok(Some(uri.to_string()))
        }
        _ => Err(UsageError(format!(
            "--mongo-uri `{uri}` is not a MongoDB URI (expected mongodb://host:port/database)"
        ))),
    }
}

/// `--junit`: a file to write, not a directory.
fn junit_path(path: Option<&Path>) -> Result<Option<PathBuf>, UsageError> {
    match path {
        None => Ok(None),
        Some(p) if p.as_os_str().is_empty() => Ok(None),
        Some(p) if p.file_name().is_none() || p.is_dir() => Err(UsageError(format!(
            "--junit {}: give a file path like ci/junit.xml, not a directory",
            p.display()
        ))),
        Some(p) => Ok(Some(p.to_path_buf())),
    }
}

/// `--strict` / `--no-strict`, else PARITY_STRICT, else a `ci/PARITY_STRICT` file, else strict;
/// with where the setting came from when it was given.
fn resolve_strict(args: &RunArgs, env: &Env<'_>) -> Result<(bool, Option<String>), UsageError> {
    if args.strict || args.no_strict {
        let flag = if args.strict { "--strict" } else { "--no-strict" };
        return Ok((args.strict, Some(flag.into())));
    }
    if let Some(value) = env("PARITY_STRICT") {
        let strict = settings::bool_from("PARITY_STRICT", &value).map_err(UsageError)?;
        return Ok((strict, Some(format!("PARITY_STRICT={}", value.trim()))));
    }
    let file = Path::new("ci").join("PARITY_STRICT");
    if !file.exists() {
        return Ok((true, None));
    }
    let bytes =
        crate::files::read_capped(&file, 1024).map_err(|e| UsageError(format!("{}: {e}", file.display())))?;
    let text = String::from_utf8_lossy(&bytes);
    // An empty file says nothing: strict, the default.
    if text.trim().is_empty() {
        return Ok((true, None));
    }
    let strict = settings::bool_from(&file.display().to_string(), &text).map_err(UsageError)?;
    Ok((strict, Some(format!("{} says `{}`", file.display(), text.trim()))))
}

/// Every way this run is judged more leniently than the contract, named for
/// the verdict line, `analysis.json`, JUnit and the step summary.
fn relaxations(judgement: &Judgement, not_strict: Option<&str>, diff: Option<&DiffPhase>) -> Vec<String> {
    let mut relaxed = Vec::new();
    if let Some(source) = not_strict {
        relaxed.push(format!("{source}: failures are reported but exit 0"));
    }
    relaxed.extend(judgement.relaxations());
    if let Some(DiffPhase { rules, .. }) = diff.filter(|d| !d.rules.rules.is_empty()) {
        relaxed.push(format!(
            "diff rules {}: {} rule(s) may accept differences from the reference",
            rules.file.as_deref().unwrap_or("(given)"),
            rules.rules.len()
        ));
    }
    relaxed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;

    fn config(args: &[&str], env: &[(&str, &str)]) -> Result<RunConfig, UsageError> {
        let cli = crate::cli::try_parse_from([&["parity", "run"], args].concat()).expect("flags parse");
        let Command::Run(run) = cli.command else { unreachable!() };
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        run_config(&run, &|key| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    #[test]
    fn instances_fall_back_from_flags_to_instance_vars_to_target_base_url() {
        let external = |c: RunConfig| match c.source {
            Source::External { urls } => urls,
            other => panic!("expected external, got {other:?}"),
        };
        let env = [("INSTANCE1", "http://a"), ("INSTANCE2", "http://b"), ("TARGET_BASE_URL", "http://t")];
        let flags =
            config(&["--backend", "external", "--instance", "http://x", "--instance", "http://y"], &env);
        assert_eq!(external(flags.unwrap()), ["http://x", "http://y"]);
        assert_eq!(external(config(&["--backend", "external"], &env).unwrap()), ["http://a", "http://b"]);
        let only_target = config(&["--backend", "external"], &[("TARGET_BASE_URL", "http://t")]).unwrap();
        assert!(only_target.backend_note.as_deref().unwrap().contains("only one instance"));
        assert_eq!(external(only_target), ["http://t", "http://t"]);
        let three = ["--instance", "http://x", "--instance", "http://y", "--instance", "http://z"];
        let three = config(&three, &[]).unwrap();
        assert_eq!(three.instances, 3);
        assert_eq!(external(three), ["http://x", "http://y", "http://z"]);
    }

    #[test]
    fn instance_counts_and_shards_are_checked() {
        let err = |args: &[&str]| config(args, &[]).map(|_| ()).unwrap_err().0;
        assert!(err(&["--backend", "local", "--fault", "revocation-lag=200ms@3"]).contains("no instance 3"));
        let three =
            config(&["--backend", "local", "--instances", "3", "--fault", "revocation-lag=200ms@3"], &[]);
        assert_eq!(three.unwrap().instances, 3);
        let mismatch = err(&["--instances", "3", "--instance", "http://x", "--instance", "http://y"]);
        assert!(mismatch.contains("--instances 3 but 2 instance URL(s)"), "{mismatch}");
        for bad in [&["--instances", "1"][..], &["--shard", "3/2"], &["--shard", "0/2"], &["--shard", "x"]] {
            let parsed = crate::cli::try_parse_from([&["parity", "run"], bad].concat());
            assert!(parsed.is_err(), "{bad:?}");
        }
        assert!(err(&["--backend", "local", "--shard", "2/3"]).contains("--shard 2/3 needs --seed"));
        let one_url = err(&["--instances", "3", "--instance", "http://x"]);
        assert!(one_url.contains("--instances 3 but 1 instance URL(s)"), "{one_url}");
        let sharded = config(&["--backend", "local", "--shard", "2/3", "--seed", "1"], &[]).unwrap();
        assert_eq!(sharded.shard, Some(crate::scenario::cross::Shard { index: 2, count: 3 }));
    }

    #[test]
    fn auto_tests_the_named_targets_never_the_embedded_stack() {
        let flags =
            config(&["--instance", "http://127.0.0.1:1", "--instance", "http://127.0.0.1:2"], &[]).unwrap();
        assert!(matches!(flags.source, Source::External { .. }), "{:?}", flags.source);
        assert!(flags.backend_note.unwrap().contains("--instance names the targets"));
        let env = config(&[], &[("TARGET_BASE_URL", "http://127.0.0.1:1")]).unwrap();
        assert!(matches!(env.source, Source::External { .. }));
        assert!(env.backend_note.unwrap().contains("TARGET_BASE_URL names the targets"));
        let vars = config(&[], &[("INSTANCE1", "http://a"), ("INSTANCE2", "http://b")]).unwrap();
        assert!(vars.backend_note.unwrap().contains("INSTANCE1, INSTANCE2"));
    }

    #[test]
    fn auto_with_a_docker_setting_is_docker_never_a_fallback() {
        let image = config(&["--webprofile-image", "x"], &[]).unwrap();
        assert!(matches!(image.source, Source::Docker(_)), "{:?}", image.source);
        assert!(image.backend_note.unwrap().contains("--webprofile-image asks for the Docker stack"));
        let host = config(&[], &[("DOCKER_HOST", "tcp://127.0.0.1:1")]).unwrap();
        assert!(matches!(host.source, Source::Docker(_)));
        let chaos = config(&["--chaos", "kill-node2@1"], &[]).unwrap();
        assert!(matches!(chaos.source, Source::Docker(_)));
        assert!(matches!(config(&[], &[]).unwrap().source, Source::Auto(_)), "nothing named: probe");
    }

    #[test]
    fn conflicting_selections_name_both_sides() {
        let e = config(&["--backend", "local", "--instance", "http://a"], &[]).unwrap_err();
        assert!(e.0.contains("--instance") && e.0.contains("--backend local"), "{e}");
        let e = config(&["--backend", "docker"], &[("TARGET_BASE_URL", "http://a")]).unwrap_err();
        assert!(e.0.contains("TARGET_BASE_URL") && e.0.contains("--backend docker"), "{e}");
        let e = config(&["--backend", "external"], &[]).unwrap_err();
        assert!(e.0.contains("--backend external needs"), "{e}");
        let e = config(&["--instance", "http://a", "--webprofile-image", "x"], &[]).unwrap_err();
        assert!(e.0.contains("--instance") && e.0.contains("--webprofile-image"), "{e}");
        let e = config(&["--backend", "local", "--no-cleanup"], &[]).unwrap_err();
        assert!(e.0.contains("--no-cleanup") && e.0.contains("--backend local"), "{e}");
    }

    #[test]
    fn strict_flag_beats_env_and_env_beats_default() {
        assert!(config(&[], &[]).unwrap().strict);
        assert!(!config(&[], &[("PARITY_STRICT", "false")]).unwrap().strict);
        assert!(config(&["--strict"], &[("PARITY_STRICT", "false")]).unwrap().strict);
        assert!(!config(&["--no-strict"], &[("PARITY_STRICT", "true")]).unwrap().strict);
        let bad = config(&[], &[("PARITY_STRICT", "maybe")]).unwrap_err();
        assert!(bad.0.contains("PARITY_STRICT"), "{bad}");
    }

    #[test]
    fn stale_reads_fail_unless_allowed() {
        assert!(config(&[], &[]).unwrap().judgement.require_immediate);
        assert!(config(&["--require-immediate"], &[]).unwrap().judgement.require_immediate);
        assert!(!config(&["--allow-stale"], &[]).unwrap().judgement.require_immediate);
    }

    #[test]
    fn junit_needs_a_file_path() {
        assert_eq!(config(&[], &[]).unwrap().junit, None);
        let c = config(&["--junit", "ci/junit.xml"], &[]).unwrap();
        assert_eq!(c.junit.as_deref(), Some(Path::new("ci/junit.xml")));
        let e = config(&["--junit", "."], &[]).unwrap_err();
        assert!(e.0.contains("not a directory"), "{e}");
    }

    #[test]
    fn faults_are_for_embedded_instances_only() {
        let e = config(&["--backend", "external", "--instance", "http://a", "--fault", "auth-bypass"], &[])
            .unwrap_err();
        assert!(e.0.contains("embedded instances"), "{e}");
        assert!(config(&["--backend", "local", "--fault", "latency=5ms"], &[]).is_ok());
        let docker =
            config(&["--backend", "docker", "--fault", "revocation-lag=1s", "--seed", "4"], &[]).unwrap();
        let Source::Docker(settings) = docker.source else { panic!("expected docker") };
        assert_eq!(settings.faults.describe(), "revocation-lag=1s");
    }
}

#[cfg(test)]
mod docker_tests {
    use super::*;
    use crate::cli::Command;

    fn docker(args: &[&str], env: &[(&str, &str)]) -> Result<DockerSettings, UsageError> {
        let cli = crate::cli::try_parse_from([&["parity", "run", "--backend", "docker"], args].concat())
            .expect("flags parse");
        let Command::Run(run) = cli.command else { unreachable!() };
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        match run_config(&run, &|key| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))?.source {
            Source::Docker(settings) => Ok(*settings),
            other => panic!("expected docker, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_runbook_names() {
        let s = docker(&[], &[]).unwrap();
        assert_eq!(s.network, "webprofile-parity-net");
        assert_eq!(s.mongo_image, "mongo:6.0.5");
        assert_eq!(s.mongo_container, "webprofile-parity-mongo");
        assert_eq!(s.image_tag, "webprofile-api-parity");
        assert_eq!(s.webprofile, WebprofileSource::Image("webprofile-api-parity".into()));
        assert_eq!(s.log_tail, 500);
        assert_eq!(s.keep, Keep::Nothing);
        assert!(!s.publish_port);
    }

    #[test]
    fn settings_come_from_flags_and_the_runbook_variables() {
        // clap reads the environment itself; these are covered through the binary in
        // tests/run_docker.rs. Here: flags, keep policy and validation.
        let s = docker(
            &[
                "--network",
                "n",
                "--mongo-container",
                "m",
                "--image-tag",
                "w",
                "--no-cleanup",
                "--publish-port",
            ],
            &[],
        )
        .unwrap();
        assert_eq!((s.network.as_str(), s.mongo_container.as_str(), s.image_tag.as_str()), ("n", "m", "w"));
        assert_eq!(s.keep, Keep::Everything);
        assert!(s.keep_image && s.publish_port);
        assert_eq!(docker(&["--keep-network"], &[]).unwrap().keep, Keep::Network);
    }

    #[test]
    fn bad_docker_flags_are_usage_errors() {
        for (args, says) in [
            (vec!["--chaos", "stop-mongo@9"], "only 5 iteration(s)"),
            (vec!["--chaos", "nap@1"], "unknown kind"),
            (vec!["--instance-env", "NOVALUE"], "KEY=VALUE"),
            (vec!["--webprofile-context", "/no/such/dir"], "not a directory"),
            (vec!["--network", ""], "--network must not be empty"),
        ] {
            let e = docker(&args, &[]).unwrap_err();
            assert!(e.0.contains(says), "{args:?}: {e}");
        }
    }
}
