//! Configuration of `parity run`: flags > environment > the `ci/PARITY_STRICT`
//! file > defaults, resolved once into a [`RunConfig`].

use crate::cli::{Backend, RunArgs};
use crate::contract::ClientOptions;
use crate::reference::faults::Faults;
use crate::reference::hashing::HashCost;
use crate::reference::server::Credentials;
use crate::rerun::RetryPolicy;
use crate::scenario::Judgement;
use crate::stack::docker::{ChaosStep, DockerSettings, Keep, WebprofileSource};
use std::path::{Path, PathBuf};

/// A problem with the flags or environment: exit 64.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Where the services come from, resolved.
#[derive(Clone, Debug)]
pub enum Source {
    Local,
    External {
        first: String,
        second: String,
    },
    Docker(Box<DockerSettings>),
    /// Docker when an engine answers and the webprofile image is at hand, else local.
    Auto(Box<DockerSettings>),
}

/// Everything `parity run` needs, from flags > environment > defaults.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub source: Source,
    /// Why the backend was chosen, when it was not asked for explicitly.
    pub backend_note: Option<String>,
    pub mongo_uri: Option<String>,
    pub out: PathBuf,
    pub faults: Faults,
    pub seed: Option<u64>,
    pub hash_cost: HashCost,
    pub strict: bool,
    pub iterations: u32,
    pub concurrency: usize,
    pub judgement: Judgement,
    pub retry: RetryPolicy,
    pub client: ClientOptions,
    pub ready_timeout: std::time::Duration,
    pub redact: bool,
    /// Where the JUnit XML report goes (`--junit`).
    pub junit: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`, appended to.
    pub step_summary: Option<PathBuf>,
    /// `--timings`: phase wall times as JSON.
    pub timings: Option<PathBuf>,
    /// SLACK_WEBHOOK: where a run that does not pass is announced.
    pub slack_webhook: Option<String>,
}

impl RunConfig {
    pub fn from_args(args: &RunArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<RunConfig, UsageError> {
        let faults =
            Faults::parse_all(&args.instance.faults).map_err(|e| UsageError(format!("--fault: {e}")))?;
        let (source, backend_note) = resolve_source(args, &faults, env)?;
        if matches!(source, Source::External { .. }) && !faults.is_empty() {
            return Err(UsageError(
                "--fault injects faults into the embedded instances; it has no effect on external services \
                 (start them with `parity reference serve --fault …` instead)"
                    .into(),
            ));
        }
        Ok(RunConfig {
            source,
            backend_note,
            mongo_uri: args.mongo_uri.clone().filter(|u| !u.is_empty()),
            out: args.out.clone(),
            faults,
            seed: args.instance.seed,
            hash_cost: args.instance.hash_cost,
            strict: resolve_strict(args, env)?,
            iterations: args.iterations,
            concurrency: usize::from(args.concurrency),
            judgement: Judgement {
                deadline: args.deadline,
                poll_interval: args.poll_interval,
                require_immediate: !args.allow_stale,
                accepted_revoke_statuses: args.accepted_revoke_statuses.clone(),
            },
            retry: RetryPolicy { attempts: args.attempts, delay: args.retry_delay },
            client: ClientOptions {
                credentials: Credentials {
                    user: args.credentials.admin_user.clone(),
                    pass: args.credentials.admin_pass.clone(),
                },
                request_timeout: args.request_timeout,
            },
            ready_timeout: args.ready_timeout,
            redact: !args.no_redact,
            junit: junit_path(args.junit.as_deref())?,
            step_summary: args.step_summary.clone().filter(|p| !p.as_os_str().is_empty()),
            timings: args.timings.clone(),
            slack_webhook: args.slack_webhook.clone().filter(|w| !w.trim().is_empty()),
        })
    }
}

fn resolve_source(
    args: &RunArgs,
    faults: &Faults,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Source, Option<String>), UsageError> {
    let urls = instance_urls(args, env)?;
    let docker_flags_given = args.docker.no_cleanup
        || args.docker.keep_network
        || !args.docker.chaos.is_empty()
        || args.docker.webprofile_image.is_some()
        || args.docker.webprofile_context.is_some();
    if docker_flags_given && matches!(args.backend, Backend::Local | Backend::External) {
        return Err(UsageError(format!(
            "--no-cleanup, --keep-network, --chaos, --webprofile-image and --webprofile-context need the \
             Docker backend (this run has --backend {})",
            if args.backend == Backend::Local { "local" } else { "external" }
        )));
    }
    match args.backend {
        Backend::Docker => Ok((Source::Docker(Box::new(docker_settings(args, faults)?)), None)),
        Backend::Local => Ok((Source::Local, None)),
        Backend::External => {
            let (first, second) = urls.ok_or_else(|| {
                UsageError(
                    "--backend external needs the services' URLs: --instance URL (twice for two instances), \
                     or INSTANCE1 / INSTANCE2, or TARGET_BASE_URL"
                        .into(),
                )
            })?;
            let note = (first == second).then(|| {
                format!("only one instance given ({first}): cross-instance iterations create, revoke and poll on it alone")
            });
            Ok((Source::External { first, second }, note))
        }
        Backend::Auto => Ok((Source::Auto(Box::new(docker_settings(args, faults)?)), None)),
    }
}

fn docker_settings(args: &RunArgs, faults: &Faults) -> Result<DockerSettings, UsageError> {
    let d = &args.docker;
    let chaos = d
        .chaos
        .iter()
        .map(|spec| spec.parse::<ChaosStep>().map_err(|e| UsageError(format!("--chaos {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(step) = chaos.iter().find(|s| s.iteration > args.iterations) {
        return Err(UsageError(format!(
            "--chaos {}@{}: the run has only {} iteration(s) (--iterations)",
            step.kind, step.iteration, args.iterations
        )));
    }
    for entry in &d.instance_env {
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
        instance_env: d.instance_env.clone(),
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
        fault_specs: if faults.is_empty() { Vec::new() } else { args.instance.faults.clone() },
        seed: args.instance.seed,
        hash_cost: args.instance.hash_cost,
        ready_timeout: args.ready_timeout,
    })
}

/// `--instance` (up to two), else INSTANCE1 / INSTANCE2, else TARGET_BASE_URL.
fn instance_urls(
    args: &RunArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(String, String)>, UsageError> {
    let mut urls: Vec<String> = args.instances.clone();
    if urls.is_empty() {
        urls = ["INSTANCE1", "INSTANCE2"].iter().filter_map(|k| env(k)).collect();
    }
    if urls.is_empty() {
        urls.extend(env("TARGET_BASE_URL"));
    }
    urls.retain(|u| !u.trim().is_empty());
    for url in &urls {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| UsageError(format!("instance URL `{url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(UsageError(format!("instance URL `{url}` must start with http:// or https://")));
        }
    }
    match urls.len() {
        0 => Ok(None),
        1 => Ok(Some((urls[0].clone(), urls[0].clone()))),
        2 => Ok(Some((urls[0].clone(), urls[1].clone()))),
        n => Err(UsageError(format!("--instance was given {n} times; the harness drives two instances"))),
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

/// `--strict` / `--no-strict`, else PARITY_STRICT, else a `ci/PARITY_STRICT` file, else strict.
fn resolve_strict(args: &RunArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<bool, UsageError> {
    if args.strict || args.no_strict {
        return Ok(args.strict);
    }
    if let Some(value) = env("PARITY_STRICT") {
        return parse_bool(&value)
            .ok_or_else(|| UsageError(format!("PARITY_STRICT=`{value}`: expected true or false")));
    }
    let file = Path::new("ci").join("PARITY_STRICT");
    match std::fs::read_to_string(&file) {
        Ok(text) => Ok(parse_bool(text.trim()).unwrap_or(true)),
        Err(_) => Ok(true),
    }
}

/// true/1/yes/on or false/0/no/off, any case; anything else is `None`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn config(args: &[&str], env: &[(&str, &str)]) -> Result<RunConfig, UsageError> {
        let cli = Cli::try_parse_from([&["parity", "run"], args].concat()).expect("flags parse");
        let Command::Run(run) = cli.command else { unreachable!() };
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        RunConfig::from_args(&run, &|key| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    #[test]
    fn instances_fall_back_from_flags_to_instance_vars_to_target_base_url() {
        let external = |c: RunConfig| match c.source {
            Source::External { first, second } => (first, second),
            other => panic!("expected external, got {other:?}"),
        };
        let env = [("INSTANCE1", "http://a"), ("INSTANCE2", "http://b"), ("TARGET_BASE_URL", "http://t")];
        let flags =
            config(&["--backend", "external", "--instance", "http://x", "--instance", "http://y"], &env);
        assert_eq!(external(flags.unwrap()), ("http://x".into(), "http://y".into()));
        assert_eq!(
            external(config(&["--backend", "external"], &env).unwrap()),
            ("http://a".into(), "http://b".into())
        );
        let only_target = config(&["--backend", "external"], &[("TARGET_BASE_URL", "http://t")]).unwrap();
        assert!(only_target.backend_note.as_deref().unwrap().contains("only one instance"));
        assert_eq!(external(only_target), ("http://t".into(), "http://t".into()));
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
        assert_eq!(settings.fault_specs, ["revocation-lag=1s"]);
        assert!(config(
            &[
                "--instance",
                "http://a",
                "--instance",
                "http://b",
                "--instance",
                "http://c",
                "--backend",
                "external"
            ],
            &[]
        )
        .is_err());
    }
}

#[cfg(test)]
mod docker_tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn docker(args: &[&str], env: &[(&str, &str)]) -> Result<DockerSettings, UsageError> {
        let cli = Cli::try_parse_from([&["parity", "run", "--backend", "docker"], args].concat())
            .expect("flags parse");
        let Command::Run(run) = cli.command else { unreachable!() };
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        match RunConfig::from_args(&run, &|key| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))?
            .source
        {
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
