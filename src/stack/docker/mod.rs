//! The real stack: MongoDB and the webprofile instances as containers on a
//! user-defined network, driven through the Docker API (bollard). Everything
//! created is labelled, and removed at the end unless the user asks to keep it.

pub mod chaos;
pub mod clean;
pub(crate) mod containers;
mod context;
pub mod engine;
mod images;
pub mod owner;
mod resources;

pub use chaos::{Chaos, ChaosEvent, ChaosStep};
pub use containers::{ContainerReport, Service};
pub use engine::DockerError;

use super::{Endpoints, Instance, LogFile, StackError, StartFailure};
use crate::clock::millis;
use crate::clock::Phase;
use crate::contract::Credentials;
use crate::hashing::HashCost;
use crate::progress::Reporter;
use crate::reference::faults::Faults;
use crate::reference::{Flavor, Flavors};
use crate::store::MongoStore;
use crate::store::TokenStore;
use bollard::Docker;
use chaos::ChaosTargets;
use containers::ContainerPlan;
use owner::{Liveness, Owner};
use resources::NetworkUse;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the webprofile image comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum WebprofileSource {
    /// Run this image (pulled when missing).
    Image(String),
    /// Build IMAGE_TAG from this Dockerfile context.
    Context(PathBuf),
}

/// What to keep when the run ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    Nothing,
    Network,
    Everything,
}

/// The Docker stack as configured (flags > environment > defaults).
#[derive(Clone, Debug)]
pub struct DockerSettings {
    pub network: String,
    pub mongo_image: String,
    pub mongo_container: String,
    pub image_tag: String,
    pub webprofile: WebprofileSource,
    pub publish_port: bool,
    /// KEY=VALUE for both webprofile containers.
    pub instance_env: Vec<String>,
    pub log_tail: u32,
    pub keep: Keep,
    pub keep_image: bool,
    pub chaos: Vec<ChaosStep>,
    pub credentials: Credentials,
    /// `--fault`, passed on as PARITY_FAULTS (the reference image honours them).
    pub faults: Faults,
    pub seed: Option<u64>,
    pub hash_cost: HashCost,
    /// Passed on as PARITY_FLAVOR when not the default.
    pub flavor: Flavors,
    pub ready_timeout: Duration,
    /// The MongoDB container `mongo_container` already runs on the network
    /// (another build's stack, `parity diff`): start only the two instances.
    pub shared_mongo: bool,
    /// How many webprofile containers (`--instances`, at least two).
    pub instances: usize,
}

impl DockerSettings {
    /// MongoDB, then the webprofile containers in order.
    pub fn container_names(&self) -> Vec<String> {
        std::iter::once(Service::Mongo).chain(self.webprofiles()).map(|s| self.container_name(s)).collect()
    }

    /// The webprofile instances, in order.
    fn webprofiles(&self) -> impl Iterator<Item = Service> {
        (0..self.instances.max(2)).map(Service::Webprofile)
    }

    /// The services this stack starts: all, or the instances only beside a shared MongoDB.
    fn services(&self) -> Vec<Service> {
        let mongo = (!self.shared_mongo).then_some(Service::Mongo);
        mongo.into_iter().chain(self.webprofiles()).collect()
    }

    /// `IMAGE_TAG` for the first instance, `IMAGE_TAG-nodeK` for the K-th.
    fn container_name(&self, service: Service) -> String {
        match service {
            Service::Mongo => self.mongo_container.clone(),
            Service::Webprofile(0) => self.image_tag.clone(),
            Service::Webprofile(k) => format!("{}-node{}", self.image_tag, k + 1),
        }
    }

    fn image(&self, service: Service) -> String {
        match (service, &self.webprofile) {
            (Service::Mongo, _) => self.mongo_image.clone(),
            (_, WebprofileSource::Image(image)) => image.clone(),
            (_, WebprofileSource::Context(_)) => self.image_tag.clone(),
        }
    }

    /// The environment of a webprofile container: the service's own variables,
    /// then what the reference image understands, then the user's.
    pub fn instance_env(&self, index: u64) -> Vec<String> {
        let mut env = vec![
            format!("MONGO_URI=mongodb://{}:{}/sharelatex", self.mongo_container, containers::MONGO_PORT),
            format!("PORT={}", containers::WEBPROFILE_PORT),
            format!("WEBPROFILE_ADMIN_USER={}", self.credentials.user),
            format!("WEBPROFILE_ADMIN_PASS={}", self.credentials.pass),
            format!("WEBPROFILE_NAME={}", super::service_name(index as usize)),
        ];
        // `@K` specs reach instance K alone.
        let faults = self.faults.for_instance(index as usize + 1);
        if !faults.is_empty() {
            env.push(format!("PARITY_FAULTS={}", faults.describe()));
        }
        if let Some(seed) = self.seed {
            env.push(format!("PARITY_SEED={}", seed.wrapping_add(index)));
        }
        if self.hash_cost != HashCost::default() {
            env.push(format!("PARITY_HASH_COST={}", self.hash_cost));
        }
        // `@K` flavors reach instance K alone, as faults do.
        let flavor = self.flavor.for_instance(index as usize + 1);
        if flavor != Flavor::Go {
            env.push(format!("PARITY_FLAVOR={flavor}"));
        }
        env.extend(self.instance_env.iter().cloned());
        env
    }
}

/// Whether `--backend auto` should take the Docker stack: an engine answers
/// and the webprofile image is at hand (or will be built). `Err` says why not.
pub async fn usable_for_auto(settings: &DockerSettings) -> Result<(), String> {
    let docker = engine::connect(Duration::from_secs(2)).await.map_err(|e| match e {
        DockerError::Unreachable { host, .. } => format!("no Docker engine answered at {host}"),
        other => other.to_string(),
    })?;
    match &settings.webprofile {
        WebprofileSource::Context(_) => Ok(()),
        WebprofileSource::Image(image) => match docker.inspect_image(image).await {
            Ok(_) => Ok(()),
            Err(_) => Err(format!(
                "a Docker engine answers but the webprofile image {image} is not present \
                 (give --webprofile-image or --webprofile-context, or --backend docker to pull it)"
            )),
        },
    }
}

/// The images of `settings` the engine does not have: an image recorded by
/// an earlier run may have been removed since (`parity replay`).
pub async fn absent_images(settings: &DockerSettings) -> Result<Vec<String>, DockerError> {
    let docker = engine::connect(Duration::from_secs(5)).await?;
    let mut absent = Vec::new();
    for service in settings.services() {
        if service != Service::Mongo && matches!(settings.webprofile, WebprofileSource::Context(_)) {
            continue; // built by the run
        }
        let image = settings.image(service);
        if !absent.contains(&image) && docker.inspect_image(&image).await.is_err() {
            absent.push(image);
        }
    }
    Ok(absent)
}

/// A running Docker stack.
pub struct DockerStack {
    pub endpoints: Endpoints,
    docker: Docker,
    settings: DockerSettings,
    resources: Resources,
    chaos: Arc<Chaos>,
    /// This harness: the sweep removes only what it created itself.
    owner: Owner,
    pub phases: Vec<Phase>,
}

/// What this run created, so that exactly that is removed.
struct Resources {
    network: Option<NetworkUse>,
    containers: Vec<Service>,
    built_image: Option<String>,
}

impl DockerStack {
    /// Brings the stack up. On failure or interruption, the logs and states of
    /// what was started are kept in the error, and everything is removed
    /// (unless --no-cleanup).
    pub async fn start(
        settings: DockerSettings,
        run_id: &str,
        reporter: Reporter,
    ) -> Result<DockerStack, StartFailure> {
        let docker = engine::connect(Duration::from_secs(5))
            .await
            .map_err(|e| StartFailure::from(StackError::from(e)))?;
        let owner = Owner::current(run_id);
        let names = settings.container_names();
        let (mongo, instances) = (&names[0], &names[1..]);
        let mongo = match settings.shared_mongo {
            true => format!("beside the shared {mongo}"),
            false => format!("{mongo} ({})", settings.image(Service::Mongo)),
        };
        reporter.line(format!(
            "starting the Docker stack on network {}: {mongo}, {} ({})",
            settings.network,
            instances.join(", "),
            match &settings.webprofile {
                WebprofileSource::Image(image) => image.clone(),
                WebprofileSource::Context(dir) => format!("built from {}", dir.display()),
            }
        ));
        let mut resources = Resources { network: None, containers: Vec::new(), built_image: None };
        let mut phases = Vec::new();
        let outcome = tokio::select! {
            result = bring_up(&docker, &settings, &owner, &mut resources, &mut phases, reporter) => result.map_err(StackError::from),
            signal = crate::signals::termination() => Err(StackError::Interrupted(signal)),
        };
        let chaos = Arc::new(Chaos::new(
            docker.clone(),
            settings.chaos.clone(),
            ChaosTargets {
                network: settings.network.clone(),
                mongo: settings.container_name(Service::Mongo),
                node2: settings.container_name(Service::Webprofile(1)),
            },
        ));
        let mut stack = DockerStack {
            endpoints: Endpoints { instances: Vec::new(), store: None, store_description: None },
            docker,
            settings,
            resources,
            chaos,
            owner,
            phases,
        };
        match outcome {
            Ok(endpoints) => {
                stack.endpoints = endpoints;
                Ok(stack)
            }
            Err(error) => {
                let logs = stack.logs().await;
                let containers = stack.container_reports().await;
                let phases = std::mem::take(&mut stack.phases);
                let errors = stack.teardown(reporter).await;
                Err(StartFailure { error, logs, containers, phases, teardown_errors: errors })
            }
        }
    }

    pub fn chaos(&self) -> Arc<Chaos> {
        self.chaos.clone()
    }

    /// The last `--log-tail` lines of each container this run started.
    pub async fn logs(&self) -> Vec<LogFile> {
        let tails = self.resources.containers.iter().map(|service| async move {
            let name = self.settings.container_name(*service);
            // Never created (the start failed before it): no log to keep.
            self.docker.inspect_container(&name, None).await.ok()?;
            let content = containers::tail(&self.docker, &name, self.settings.log_tail).await;
            Some(LogFile { file_name: service.log_file(), content })
        });
        futures::future::join_all(tails).await.into_iter().flatten().collect()
    }

    /// What evidence packets may see of this stack while it runs.
    pub fn witness(&self) -> super::Witness {
        let containers = self
            .resources
            .containers
            .iter()
            .map(|service| (*service, self.settings.container_name(*service), self.settings.image(*service)))
            .collect();
        super::Witness::Docker { docker: self.docker.clone(), containers }
    }

    pub async fn container_reports(&self) -> Vec<ContainerReport> {
        let reports = self.resources.containers.iter().map(|service| {
            let name = self.settings.container_name(*service);
            let image = self.settings.image(*service);
            async move { containers::report(&self.docker, *service, &name, &image).await }
        });
        futures::future::join_all(reports).await
    }

    /// Removes what this run created, as `--no-cleanup` / `--keep-network`
    /// allow; returns what could not be removed.
    pub async fn teardown(self, reporter: Reporter) -> Vec<String> {
        let s = &self.settings;
        if s.keep == Keep::Everything {
            reporter.print_block(&format!("parity: {}\n", self.how_to_reach()));
            return Vec::new();
        }
        let docker = &self.docker;
        let removals = self.resources.containers.iter().map(|service| {
            let name = s.container_name(*service);
            async move { resources::remove_container(docker, &name).await }
        });
        let mut errors: Vec<String> =
            futures::future::join_all(removals).await.into_iter().filter_map(Result::err).collect();
        if self.resources.network == Some(NetworkUse::Created) && s.keep == Keep::Nothing {
            errors.extend(resources::remove_network(&self.docker, &s.network).await.err());
        }
        if let (Some(image), false) = (&self.resources.built_image, s.keep_image) {
            errors.extend(resources::remove_image(&self.docker, image).await.err());
        }
        errors.extend(self.sweep().await);
        errors
    }

    /// Removes anything else this harness labelled with its run's id
    /// (created while an interruption cut the bookkeeping short), as the
    /// keep flags allow. Only its own: another harness started in the same
    /// second on the same engine has the same run id.
    async fn sweep(&self) -> Vec<String> {
        let found = match clean::find(&self.docker, &clean::run_label(&self.owner.run_id)).await {
            Ok(found) => found,
            Err(e) => return vec![format!("this run's resources ({e})")],
        };
        let mut errors = Vec::new();
        for item in found.into_iter().filter(|item| self.owner.liveness_of(&item.labels) == Liveness::Us) {
            let keep = match item.kind {
                clean::Kind::Container => false,
                clean::Kind::Network => self.settings.keep != Keep::Nothing,
                clean::Kind::Image => self.settings.keep_image,
            };
            if !keep {
                errors.extend(clean::remove(&self.docker, &item).await.err());
            }
        }
        errors
    }

    /// What `--no-cleanup` prints: where everything is and how to remove it.
    fn how_to_reach(&self) -> String {
        let s = &self.settings;
        let names: Vec<String> = self.resources.containers.iter().map(|svc| s.container_name(*svc)).collect();
        let mut text = String::from("--no-cleanup: the stack is still running");
        for instance in &self.endpoints.instances {
            text.push_str(&format!("\n  {} ({}): {}", instance.name, instance.service, instance.url));
        }
        if let Some(store) = &self.endpoints.store_description {
            text.push_str(&format!("\n  mongo: {store}"));
        }
        text.push_str(&format!("\n  network: {}", s.network));
        text.push_str(&format!("\n  logs:    docker logs -f {}", s.container_name(Service::Webprofile(0))));
        text.push_str(&format!(
            "\n  remove:  parity clean   (or: docker rm -f {}{})",
            names.join(" "),
            if self.resources.network == Some(NetworkUse::Created) {
                format!(" && docker network rm {}", s.network)
            } else {
                String::new()
            }
        ));
        text
    }
}

/// Ends a phase that began at `since`, and starts the next.
fn timed(name: &str, phases: &mut Vec<Phase>, since: &mut Instant) {
    phases.push(Phase { name: name.into(), duration_ms: millis(since.elapsed()), requests: None });
    *since = Instant::now();
}

/// Network, images, containers, readiness — each a timed phase.
async fn bring_up(
    docker: &Docker,
    settings: &DockerSettings,
    owner: &Owner,
    resources: &mut Resources,
    phases: &mut Vec<Phase>,
    reporter: Reporter,
) -> Result<Endpoints, DockerError> {
    let mut phase = Instant::now();

    let clears = settings.services().into_iter().map(|s| {
        let name = settings.container_name(s);
        async move { resources::clear_container_name(docker, owner, &name, reporter).await }
    });
    futures::future::try_join_all(clears).await?;
    resources.network = Some(match settings.shared_mongo {
        // The stack that runs the shared MongoDB made the network and removes it.
        true => resources::join_network(docker, &settings.network).await?,
        false => resources::ensure_network(docker, owner, &settings.network, reporter).await?,
    });
    timed("network", phases, &mut phase);

    let mongo_image = async {
        match settings.shared_mongo {
            true => Ok(()),
            false => images::ensure(docker, &settings.mongo_image, "--mongo-image (MONGO_IMAGE)", reporter)
                .await
                .map(|_| ()),
        }
    };
    let webprofile_image = async {
        match &settings.webprofile {
            WebprofileSource::Image(image) => {
                images::ensure(docker, image, "--webprofile-image", reporter).await.map(|_| None)
            }
            WebprofileSource::Context(dir) => {
                images::build(docker, dir, &settings.image_tag, &owner.labels("image"), reporter).await?;
                Ok(Some(settings.image_tag.clone()))
            }
        }
    };
    let (mongo_image, webprofile_image) = tokio::join!(mongo_image, webprofile_image);
    resources.built_image = webprofile_image?;
    mongo_image?;
    timed("images", phases, &mut phase);

    let plans: Vec<ContainerPlan> = settings
        .services()
        .into_iter()
        .map(|service| ContainerPlan {
            service,
            name: settings.container_name(service),
            image: settings.image(service),
            env: match service {
                Service::Mongo => Vec::new(),
                Service::Webprofile(k) => settings.instance_env(k as u64),
            },
            labels: owner.labels(&service.role()),
            host_port: (settings.publish_port && service == Service::Webprofile(0))
                .then_some(containers::WEBPROFILE_PORT),
        })
        .collect();
    // Recorded before creation: an interruption mid-create must not leak them.
    resources.containers = settings.services();
    // All start at once: the instances' drivers wait for Mongo themselves.
    let starts = plans.iter().map(|plan| containers::create_and_start(docker, &settings.network, plan));
    futures::future::try_join_all(starts).await?;
    timed("containers", phases, &mut phase);

    let deadline = settings.ready_timeout;
    let mongo_name = settings.container_name(Service::Mongo);
    let mongo_ready = async {
        if settings.shared_mongo {
            return Ok(None);
        }
        let port = containers::published_port(docker, &mongo_name, Service::Mongo).await?;
        let uri = format!("mongodb://{}:{port}/sharelatex?directConnection=true", engine::published_host());
        let store = containers::wait_until(docker, &mongo_name, deadline, || {
            let uri = uri.clone();
            async move {
                MongoStore::connect_within(&uri, Duration::from_millis(500)).await.map_err(|e| e.to_string())
            }
        })
        .await?;
        Ok::<_, DockerError>(Some((port, store, millis(phase.elapsed()))))
    };
    // A probe's own timeout never outlasts the readiness deadline.
    let probe_timeout = deadline.clamp(Duration::from_millis(1), Duration::from_secs(2));
    let http = crate::http::builder(probe_timeout, probe_timeout)
        .build()
        .map_err(|e| DockerError::Api { action: "build an HTTP client".into(), detail: e.to_string() })?;
    let instance_ready = |service: Service| {
        let name = settings.container_name(service);
        let http = http.clone();
        async move {
            let port = containers::published_port(docker, &name, service).await?;
            let url = format!("http://{}:{port}", engine::published_host());
            containers::wait_until(docker, &name, deadline, || {
                let http = http.clone();
                let url = url.clone();
                // Any HTTP status means the service is listening.
                async move { http.get(format!("{url}/")).send().await.map(|_| ()).map_err(|e| e.to_string()) }
            })
            .await?;
            Ok::<_, DockerError>(url)
        }
    };
    let instances_ready = async {
        let urls = futures::future::try_join_all(settings.webprofiles().map(instance_ready)).await?;
        Ok::<_, DockerError>((urls, millis(phase.elapsed())))
    };
    let (mongo, instances) = tokio::join!(mongo_ready, instances_ready);
    let mongo = mongo?;
    let (urls, instances_ms) = instances?;
    // Both waits run at once from the same start; each phase is its own wait.
    if let Some((_, _, mongo_ms)) = &mongo {
        phases.push(Phase { name: "mongo ready".into(), duration_ms: *mongo_ms, requests: None });
    }
    phases.push(Phase { name: "instances ready".into(), duration_ms: instances_ms, requests: None });

    let instances = urls.into_iter().enumerate().map(|(k, url)| Instance::numbered(k, url)).collect();
    Ok(match mongo {
        Some((mongo_port, store, _)) => Endpoints {
            instances,
            store_description: Some(format!(
                "mongodb://{}:{mongo_port}/sharelatex (container {mongo_name})",
                engine::published_host()
            )),
            store: Some(Arc::new(store) as Arc<dyn TokenStore>),
        },
        None => Endpoints {
            instances,
            store_description: Some(format!("shared: container {mongo_name}")),
            store: None,
        },
    })
}
