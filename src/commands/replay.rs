//! `parity replay PACKET`: the packet's `replay.json` and the flags resolved
//! into the library's [`ReplayConfig`]. The recorded case, images, faults and
//! judgement win over the environment; only flags change them.

use super::CommandError;
use crate::cli::{Backend, ReplayArgs};
use crate::clock::Clock;
use crate::contract::{ClientOptions, Credentials, DialectChoice};
use crate::evidence::{Case, ReplaySpec};
use crate::exit::Exit;
use crate::hashing::HashCost;
use crate::progress::Reporter;
use crate::reference::faults::Faults;
use crate::reference::Flavors;
use crate::replay::ReplayConfig;
use crate::retry::Backoff;
use crate::run::{RunConfig, Source};
use crate::scenario::Judgement;
use crate::stack::docker::{DockerSettings, Keep, WebprofileSource};
use crate::verdict::RetryOn;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A packet's replay.json is a few kilobytes; anything past this is not one.
const SPEC_CAP: u64 = 1024 * 1024;

pub async fn run(args: ReplayArgs) -> Result<Exit, CommandError> {
    crate::signals::install();
    let (spec, packet) = read_spec(&args.packet)?;
    let config = replay_config(&args, spec, packet)?;
    if let Source::Docker(settings) = &config.run.source {
        refuse_absent_images(settings, &args).await?;
    }
    Ok(crate::replay::replay(config, Clock::start(), Reporter::detect()).await)
}

/// The packet's `replay.json` (PACKET may name the folder or the file).
fn read_spec(packet: &Path) -> Result<(ReplaySpec, PathBuf), CommandError> {
    let (folder, file) = if packet.is_dir() {
        (packet.to_path_buf(), packet.join("replay.json"))
    } else {
        (packet.parent().map(Path::to_path_buf).unwrap_or_default(), packet.to_path_buf())
    };
    let usage = |why: String| CommandError::Usage(format!("{}: {why}", file.display()));
    let bytes = crate::files::read_artifact(&file, SPEC_CAP).map_err(|e| match e {
        crate::files::Refused::Io(io) if io.kind() == std::io::ErrorKind::NotFound => usage(
            "not found: PACKET is an evidence packet folder (<out>/webprofile-parity/evidence/<case>)".into(),
        ),
        other => usage(other.to_string()),
    })?;
    let spec: ReplaySpec =
        serde_json::from_slice(&bytes).map_err(|e| usage(format!("not a packet's replay.json: {e}")))?;
    Ok((spec, folder))
}

fn replay_config(args: &ReplayArgs, spec: ReplaySpec, packet: PathBuf) -> Result<ReplayConfig, CommandError> {
    let mut caveats = spec.caveats();
    let usage = |m: String| CommandError::Usage(m);
    if let Case::Check { check } = &spec.case {
        if !crate::scenario::catalog::all().any(|c| c.id == check) {
            return Err(usage(format!(
                "the packet's check `{check}` is not one this version runs (`parity checks` lists them)"
            )));
        }
    }
    let faults = if args.no_faults || spec.faults.is_empty() {
        if args.no_faults && !spec.faults.is_empty() {
            caveats.push(format!("--no-faults: without the recorded faults ({})", spec.faults.join(", ")));
        }
        Faults::default()
    } else {
        Faults::parse_all(&spec.faults).map_err(|e| usage(format!("the packet's faults: {e}")))?
    };
    let hash_cost = spec.hash_cost.parse::<HashCost>().unwrap_or_else(|_| {
        caveats.push(format!("hash cost `{}` is unknown here; the default is used", spec.hash_cost));
        HashCost::default()
    });
    let flavor = if spec.flavor.is_empty() {
        Flavors::default()
    } else {
        spec.flavor.parse::<Flavors>().map_err(|e| usage(format!("the packet's flavor: {e}")))?
    };
    let needed = named_instances(&spec.case).map_err(|e| usage(format!("the packet's case: {e}")))?;
    let dialect = if spec.dialect.is_empty() {
        DialectChoice::Go
    } else {
        spec.dialect.parse::<DialectChoice>().unwrap_or_else(|e| {
            caveats.push(format!("{e}; the go dialect is expected"));
            DialectChoice::Go
        })
    };
    let credentials =
        Credentials { user: args.credentials.admin_user.clone(), pass: args.credentials.admin_pass.clone() };
    let p = &spec.parameters;
    for (name, ms) in [
        ("deadline_ms", p.deadline_ms),
        ("poll_interval_ms", p.poll_interval_ms),
        ("request_timeout_ms", p.request_timeout_ms),
    ] {
        if Duration::from_millis(ms) > crate::cli::MAX_DURATION {
            return Err(usage(format!(
                "the packet's {name} {ms} is longer than the longest wait any setting takes, 24h"
            )));
        }
    }
    let millis_or = |ms: u64, default: Duration| if ms == 0 { default } else { Duration::from_millis(ms) };
    let defaults = Judgement::default();
    let judgement = Judgement {
        deadline: millis_or(p.deadline_ms, defaults.deadline),
        poll_interval: millis_or(p.poll_interval_ms, defaults.poll_interval),
        require_immediate: p.require_immediate,
        accepted_revoke_statuses: if p.accepted_revoke_statuses.is_empty() {
            defaults.accepted_revoke_statuses
        } else {
            p.accepted_revoke_statuses.clone()
        },
    };
    // As the failed run was judged.
    let relaxations = judgement.relaxations();
    let mut run = RunConfig {
        source: Source::Local,
        backend_note: None,
        // As many as the run that failed: its roles name them.
        instances: spec
            .targets
            .len()
            .max(needed)
            .clamp(crate::stack::DEFAULT_INSTANCES, crate::stack::MAX_INSTANCES),
        shard: None,
        mongo_uri: args.mongo_uri.clone().filter(|u| !u.trim().is_empty()),
        out: args.out.clone(),
        faults,
        seed: spec.seed,
        hash_cost,
        flavor,
        dialect,
        strict: true,
        relaxations,
        iterations: 1,
        concurrency: 1,
        judgement,
        retry: Backoff::constant(1, Duration::ZERO),
        retry_on: RetryOn::default(),
        client: ClientOptions {
            credentials,
            request_timeout: millis_or(p.request_timeout_ms, Duration::from_secs(5)),
            pacer: Default::default(),
        },
        ready_timeout: args.ready_timeout,
        redact: !args.no_redact,
        junit: None,
        step_summary: None,
        timings: None,
        slack_webhook: None,
        canary: false,
        evidence_limit: args.times,
        diff: None,
        keep_passing: None,
    };
    run.source = source(args, &spec, &run, &mut caveats)?;
    if let Source::External { urls } = &run.source {
        if urls.len() < needed {
            return Err(usage(format!(
                "{} was recorded on instance{needed}, but {} service(s) are given: give one --instance per \
                 instance (instance1 to instance{needed})",
                spec.case.name(),
                urls.len()
            )));
        }
        run.instances = urls.len();
    }
    Ok(ReplayConfig { run, packet, spec, times: args.times, keep_up: args.no_cleanup, caveats })
}

/// The highest instance a recorded iteration's roles name (`instanceK`; 0
/// when none is recorded, as in older packets), or why the case cannot be
/// replayed: iteration 0, a role that is no instance of a run.
fn named_instances(case: &Case) -> Result<usize, String> {
    let Case::Iteration { iteration, creator, revoker, observer } = case else { return Ok(0) };
    if *iteration == 0 {
        return Err("iteration 0: iterations are numbered from 1".into());
    }
    let named = [creator.as_str(), revoker.as_str()].into_iter().chain(observer.split(','));
    let mut highest = 0;
    for name in named.map(str::trim).filter(|n| !n.is_empty()) {
        let k = name
            .strip_prefix("instance")
            .and_then(|k| k.parse::<usize>().ok())
            .filter(|k| (1..=crate::stack::MAX_INSTANCES).contains(k))
            .ok_or_else(|| {
                format!(
                    "iteration {iteration} names `{name}`, which is no instance of a run (instance1 to instance{})",
                    crate::stack::MAX_INSTANCES
                )
            })?;
        highest = highest.max(k);
    }
    Ok(highest)
}

/// The recorded backend, unless the flags name another; what differs becomes a caveat.
fn source(
    args: &ReplayArgs,
    spec: &ReplaySpec,
    run: &RunConfig,
    caveats: &mut Vec<String>,
) -> Result<Source, CommandError> {
    let recorded = match spec.backend.as_str() {
        "docker" => Some(Backend::Docker),
        "local" => Some(Backend::Local),
        "external" => Some(Backend::External),
        _ => None,
    };
    let backend = match (args.backend, args.instances.is_empty()) {
        (None | Some(Backend::External), false) => Backend::External,
        (Some(other), false) => {
            return Err(CommandError::Usage(format!(
                "--instance names services to replay on, which needs --backend external, not {other:?}"
            )))
        }
        (Some(Backend::Auto), true) | (None, true) => recorded.ok_or_else(|| {
            CommandError::Usage(format!(
                "the packet's backend `{}` is not one this version knows: give --backend local, docker or \
                 external (with --instance)",
                spec.backend
            ))
        })?,
        (Some(backend), true) => backend,
    };
    if backend != Backend::Docker && (args.webprofile_image.is_some() || args.mongo_image.is_some()) {
        return Err(CommandError::Usage(
            "--webprofile-image and --mongo-image replay on Docker: give --backend docker (or leave the recorded \
             backend)"
                .into(),
        ));
    }
    if Some(backend) != recorded {
        caveats.push(format!("recorded on the {} backend, replayed on {backend:?}", spec.backend));
    }
    match backend {
        Backend::Local | Backend::Auto => Ok(Source::Local),
        Backend::External => {
            let targets =
                if args.instances.is_empty() { spec.targets.clone() } else { args.instances.clone() };
            if !run.faults.is_empty() {
                caveats.push(
                    "the recorded faults were injected into the reference; external services run as they are"
                        .into(),
                );
            }
            if let Some(bad) = targets.iter().find(|t| !is_http_url(t)) {
                return Err(CommandError::Usage(format!(
                    "`{bad}` is not an http(s) URL of a service to replay on"
                )));
            }
            match targets.as_slice() {
                [one] => Ok(Source::External { urls: vec![one.clone(), one.clone()] }),
                [] => Err(CommandError::Usage("no services to replay on: give --instance URL".into())),
                urls => Ok(Source::External { urls: urls.to_vec() }),
            }
        }
        Backend::Docker => Ok(Source::Docker(Box::new(docker_settings(args, spec, run, caveats)))),
    }
}

fn is_http_url(text: &str) -> bool {
    url::Url::parse(text.trim()).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// Fresh containers from the recorded images (by id when the packet has it),
/// under names of their own so that a stack another run kept up is left alone.
fn docker_settings(
    args: &ReplayArgs,
    spec: &ReplaySpec,
    run: &RunConfig,
    caveats: &mut Vec<String>,
) -> DockerSettings {
    let recorded = |service: &str| {
        spec.images
            .iter()
            .find(|i| i.service == service)
            .map(|i| i.id.clone().unwrap_or_else(|| i.image.clone()))
    };
    let mut pick = |given: &Option<String>, service: &str, default: &str| match (given, recorded(service)) {
        (Some(image), recorded) => {
            caveats.push(format!(
                "{service} from {image} instead of the recorded {}",
                recorded.as_deref().unwrap_or("(none recorded)")
            ));
            image.clone()
        }
        (None, Some(image)) => image,
        (None, None) => default.to_string(),
    };
    let webprofile = pick(&args.webprofile_image, "webprofile", "webprofile-api-parity");
    let mongo = pick(&args.mongo_image, "mongo", "mongo:6.0.5");
    DockerSettings {
        network: "webprofile-parity-replay-net".into(),
        mongo_image: mongo,
        mongo_container: "webprofile-parity-replay-mongo".into(),
        image_tag: "webprofile-parity-replay".into(),
        webprofile: WebprofileSource::Image(webprofile),
        publish_port: false,
        instance_env: Vec::new(),
        log_tail: 500,
        keep: if args.no_cleanup { Keep::Everything } else { Keep::Nothing },
        keep_image: false,
        chaos: Vec::new(),
        credentials: run.client.credentials.clone(),
        faults: run.faults.clone(),
        seed: spec.seed,
        hash_cost: run.hash_cost,
        flavor: run.flavor.clone(),
        ready_timeout: args.ready_timeout,
        shared_mongo: false,
        instances: run.instances,
    }
}

/// A recorded image the engine no longer has is exit 3, named, with the way out.
async fn refuse_absent_images(settings: &DockerSettings, args: &ReplayArgs) -> Result<(), CommandError> {
    let absent = crate::stack::docker::absent_images(settings)
        .await
        .map_err(|e| CommandError::Infrastructure(e.to_string()))?;
    if absent.is_empty() {
        return Ok(());
    }
    let given = args.webprofile_image.is_some() || args.mongo_image.is_some();
    Err(CommandError::Infrastructure(format!(
        "the Docker engine does not have {}: {}",
        absent.join(", "),
        if given {
            "build or load it first"
        } else {
            "the recorded image was removed since the run; give --webprofile-image IMAGE (and --mongo-image IMAGE) \
             to replay on another"
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_roles_name_the_instances_a_replay_needs_or_are_refused() {
        let case = |iteration: u32, observer: &str| Case::Iteration {
            iteration,
            creator: "instance3".into(),
            revoker: "instance2".into(),
            observer: observer.into(),
        };
        assert_eq!(named_instances(&case(4, "instance1,instance3")), Ok(3));
        assert_eq!(named_instances(&case(4, "instance1,instance5")), Ok(5));
        assert!(named_instances(&case(0, "instance1")).unwrap_err().contains("iteration 0"));
        let refused = named_instances(&case(4, "node7")).unwrap_err();
        assert!(refused.contains("`node7`, which is no instance"), "{refused}");
        assert!(named_instances(&case(4, "instance0")).is_err());
        // Packets of versions that recorded no roles replay as before, without a word.
        let unrecorded = Case::Iteration {
            iteration: 4,
            creator: String::new(),
            revoker: String::new(),
            observer: String::new(),
        };
        assert_eq!(named_instances(&unrecorded), Ok(0));
        assert_eq!(named_instances(&Case::Smoke { attempt: 1 }), Ok(0));
        assert!(is_http_url("http://127.0.0.1:1") && !is_http_url("ftp://x") && !is_http_url("nonsense"));
    }
}
