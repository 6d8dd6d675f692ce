//! Gathering and writing one packet: what the store and the containers say
//! at once, the logs once the window has passed, then the files.

use super::spec::{Case, ReplaySpec};
use super::store_view::{self, StoreView};
use super::{timeline, timeline_svg, Failure, Scene, StackState, LOG_CAP, MARGIN};
use crate::artifacts::ArtifactError;
use crate::stack::Witness;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The packet of `failure`, written under `scene.dir/<failure.name>/`:
/// what the store and the containers say, the exchanges and the replay
/// spec at once, while the failure is fresh; the timeline once its window's
/// log lines are there — when the window has passed, or when the run reads
/// the logs to tear down, whichever comes first. A stack with no log to
/// read (external services) waits for nothing.
pub(super) async fn gather(scene: &Scene, gate: Arc<Semaphore>, failure: Failure) -> Result<(), String> {
    let seen_at = chrono::Utc::now();
    let (store, containers) = tokio::join!(
        async {
            match &scene.store {
                Some(store) => Some(store_view::read(store.as_ref(), &failure.trace, &scene.clients).await),
                None => None,
            }
        },
        scene.witness.states()
    );
    let spec = ReplaySpec {
        case: failure.case.clone(),
        class: failure.class,
        reason: failure.reason.clone(),
        signature: Some(failure.signature.clone()),
        ..scene.template.clone()
    };
    let state = StackState {
        backend: spec.backend.clone(),
        instances: scene.instances.clone(),
        containers,
        faults: if spec.faults.is_empty() { "none".into() } else { spec.faults.join(",") },
        chaos: scene.chaos.as_ref().map(|c| c.events()).unwrap_or_default(),
    };
    let name = &failure.name;
    let file = |f: &str| format!("{name}/{f}");
    let dir = &scene.dir;
    let mut written: Vec<Result<PathBuf, ArtifactError>> = vec![
        dir.write_json(&file("exchanges.json"), &failure.trace),
        dir.write_text(&file("exchanges.txt"), &exchanges_txt(&failure)),
        dir.write_json(&file("state.json"), &state),
        dir.write_json(&file("replay.json"), &spec),
        dir.write_text(&file("README.txt"), &readme(scene, &failure, store.as_ref())),
    ];
    if let Some(store) = &store {
        written.push(dir.write_json(&file("store.json"), store));
    }

    let window = timeline::window(&failure.trace, seen_at, MARGIN);
    if !matches!(scene.witness, Witness::Blind) {
        if let Ok(wait) = (window.1 - chrono::Utc::now()).to_std() {
            let mut closing = scene.closing.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = closing.wait_for(|closing| *closing) => {}
            }
        }
    }
    let _turn = gate.acquire_owned().await.map_err(|e| e.to_string())?;
    let logs = scene.witness.lines_between(window.0, window.1, LOG_CAP).await;
    written.push(dir.write_text(
        &file("timeline.txt"),
        &timeline::render(name, &failure.trace, &logs, window, &sources(scene)),
    ));
    // Each instance's log lines go on its lane: `webprofile-node2` is instance2.
    let lanes: Vec<(String, String)> = scene
        .instances
        .iter()
        .enumerate()
        .map(|(k, (name, _))| (crate::stack::service_name(k), name.clone()))
        .collect();
    written.push(
        dir.write_text(&file("timeline.svg"), &timeline_svg::render(name, &failure.trace, &logs, &lanes)),
    );
    let errors: Vec<String> = written.into_iter().filter_map(Result::err).map(|e| e.to_string()).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("evidence packet {name}: {}", errors.join("; ")))
    }
}

fn exchanges_txt(failure: &Failure) -> String {
    if failure.trace.is_empty() {
        format!("no request was sent: {}\n", failure.reason)
    } else {
        failure.trace.render_raw()
    }
}

/// Who the timeline's sources are.
fn sources(scene: &Scene) -> String {
    let instances: Vec<String> =
        scene.instances.iter().map(|(name, url)| format!("{name} = {url}")).collect();
    let logs = match &scene.witness {
        Witness::Docker { containers, .. } => format!(
            "log lines of the containers {} (Docker's timestamps)",
            containers
                .iter()
                .map(|(service, name, _)| format!("{} ({name})", service.role()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Witness::Local { logs } => format!(
            "access log lines of the embedded instances {}",
            logs.iter().map(|(service, _)| service.as_str()).collect::<Vec<_>>().join(", ")
        ),
        Witness::Blind => "external services: no log lines to merge, only the exchanges".into(),
    };
    format!("sources: parity = this harness sending; {}; {logs}", instances.join(", "))
}

/// One paragraph: what failed, how, what the store says, and how to replay it.
fn readme(scene: &Scene, failure: &Failure, store: Option<&StoreView>) -> String {
    let what = match &failure.case {
        Case::Smoke { attempt } => format!(
            "The revocation smoke (attempt {attempt}) failed on {}: it created, revoked and polled one token there.",
            scene.instances.first().map_or("instance1", |(name, _)| name.as_str())
        ),
        Case::Iteration { iteration, creator, revoker, observer } => format!(
            "Cross-instance iteration {iteration} failed: {creator} created the token, {revoker} revoked it, and \
             {observer} was polled."
        ),
        Case::Check { check } => {
            let clause = crate::scenario::catalog::all().find(|c| c.id == check).map_or("", |c| c.clause);
            format!("The contract check {check} failed{}.", if clause.is_empty() { String::new() } else { format!(" ({clause})") })
        }
    };
    let store = match store {
        Some(view) => format!(" Store: {}.", view.reading),
        None => " No store was reachable to read the token from (give --mongo-uri).".into(),
    };
    let replay = scene.replay_hint.replace("<dir>", &failure.name);
    format!(
        "{what} Class: {}. Reason: {}.{store}\n\n\
         Signature: {} (the same failure in any run has the same one; `parity signatures` counts them).\n\n\
         Files: exchanges.txt (the requests and answers, redacted), timeline.txt (them merged with every \
         service's log lines, from {m} s before the first request to {m} s after the last answer), \
         store.json, state.json (containers, images, faults and chaos) and replay.json.\n\n\
         Replay it: {replay}\n",
        failure.class,
        failure.reason.trim_end_matches('.'),
        failure.signature,
        m = super::MARGIN.as_secs(),
    )
}
