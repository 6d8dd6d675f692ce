//! `parity diff --backend docker`: both builds, two containers each, on one
//! network and one MongoDB (the shim and the service it replaces share a
//! database), so the cross-implementation steps run: a token minted by one
//! build is revoked by the other and introspected on both.

use super::diff::{admin, compare_and_write, credentials, Plan};
use super::CommandError;
use crate::cli::DiffArgs;
use crate::contract::Credentials;
use crate::diff::SideSpec;
use crate::exit::Exit;
use crate::hashing::HashCost;
use crate::progress::Reporter;
use crate::reference::{Faults, Flavors};
use crate::stack::docker::{DockerSettings, Keep, WebprofileSource};
use crate::stack::{StackLife, StackSpec, StartFailure};
use std::time::Duration;

const NETWORK: &str = "webprofile-parity-diff-net";
const MONGO: &str = "webprofile-parity-diff-mongo";

pub async fn run(args: &DiffArgs, plan: Plan, reporter: Reporter) -> Result<Exit, CommandError> {
    let usage = |flag: &str| CommandError::Usage(format!("--backend docker needs {flag} IMAGE"));
    let reference_image =
        args.reference_image.clone().filter(|i| !i.is_empty()).ok_or_else(|| usage("--reference-image"))?;
    let candidate_image =
        args.candidate_image.clone().filter(|i| !i.is_empty()).ok_or_else(|| usage("--candidate-image"))?;
    if !args.reference.is_empty() || !args.candidate.is_empty() {
        return Err(CommandError::Usage(
            "--backend docker starts the builds from --reference-image and --candidate-image; \
             --reference/--candidate URLs name running services (--backend external)"
                .into(),
        ));
    }
    let reference_credentials = credentials(args.reference_auth.as_deref(), "--reference", &admin(args))?;
    let candidate_credentials = credentials(args.candidate_auth.as_deref(), "--candidate", &admin(args))?;
    let run_id = format!("diff-{}", chrono::Utc::now().format(crate::clock::UTC_STAMP));
    let reference_settings = settings(args, "reference", reference_image, &reference_credentials, false);
    let candidate_settings = settings(args, "candidate", candidate_image, &candidate_credentials, true);
    let start = |settings| {
        StackLife::start(StackSpec::Docker(Box::new(settings)), &run_id, args.ready_timeout, reporter)
    };
    let reference = match start(reference_settings).await {
        Ok(stack) => stack,
        Err(failure) => return start_failed("reference", failure, reporter),
    };
    let candidate = match start(candidate_settings).await {
        Ok(stack) => stack,
        Err(failure) => {
            end(reference, reporter).await;
            return start_failed("candidate", failure, reporter);
        }
    };
    let urls = |life: &StackLife| life.stack().endpoints().instances.iter().map(|i| i.url.clone()).collect();
    let config = plan.config(
        SideSpec { urls: urls(&reference), credentials: reference_credentials, pacer: None },
        SideSpec { urls: urls(&candidate), credentials: candidate_credentials, pacer: None },
        reference.stack().endpoints().store.clone(),
        true,
        args,
    );
    let outcome = compare_and_write(config, &args.out, reporter).await;
    // The candidate first: the reference's stack owns the network and MongoDB.
    end(candidate, reporter).await;
    end(reference, reporter).await;
    outcome
}

async fn end(life: StackLife, reporter: Reporter) {
    life.end(reporter).await.cleanup_warnings().for_each(|w| reporter.line(w));
}

/// A stack that did not start: interrupted is 130, anything else 3 (what
/// was started is already removed).
fn start_failed(side: &str, failure: StartFailure, reporter: Reporter) -> Result<Exit, CommandError> {
    failure.cleanup_warnings().for_each(|w| reporter.line(w));
    match failure.interrupted() {
        Some(signal) => {
            reporter.line(format!("interrupted by {signal} while the {side} stack started: nothing written"));
            Ok(Exit::Interrupted)
        }
        None => Err(CommandError::Infrastructure(format!("the {side} stack: {}", failure.error))),
    }
}

fn settings(
    args: &DiffArgs,
    side: &str,
    image: String,
    credentials: &Credentials,
    shared_mongo: bool,
) -> DockerSettings {
    DockerSettings {
        network: NETWORK.into(),
        mongo_image: args.mongo_image.clone(),
        mongo_container: MONGO.into(),
        image_tag: format!("webprofile-parity-diff-{side}"),
        webprofile: WebprofileSource::Image(image),
        publish_port: false,
        instance_env: Vec::new(),
        log_tail: 500,
        keep: if args.no_cleanup { Keep::Everything } else { Keep::Nothing },
        keep_image: true,
        chaos: Vec::new(),
        credentials: credentials.clone(),
        faults: Faults::default(),
        seed: None,
        hash_cost: HashCost::default(),
        flavor: Flavors::default(),
        ready_timeout: args.ready_timeout.max(Duration::from_secs(1)),
        shared_mongo,
        instances: crate::stack::DEFAULT_INSTANCES,
    }
}
