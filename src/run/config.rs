//! What `parity run` needs, resolved from flags, environment and defaults
//! by the command layer.

use crate::contract::ClientOptions;
use crate::hashing::HashCost;
use crate::reference::faults::Faults;
use crate::reference::Flavors;
use crate::retry::Backoff;
use crate::scenario::Judgement;
use crate::stack::docker::DockerSettings;
use crate::verdict::RetryOn;
use std::path::PathBuf;

/// Where the services come from, resolved.
#[derive(Clone, Debug)]
pub enum Source {
    Local,
    /// Two or more URLs (one given alone is repeated).
    External {
        urls: Vec<String>,
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
    /// How many instances the run drives (two or more).
    pub instances: usize,
    /// `--shard K/N`: this run's share of the iterations.
    pub shard: Option<crate::scenario::cross::Shard>,
    pub mongo_uri: Option<String>,
    pub out: PathBuf,
    pub faults: Faults,
    pub seed: Option<u64>,
    pub hash_cost: HashCost,
    /// The embedded instances' dialect (`--flavor`).
    pub flavor: Flavors,
    /// What the dialect checks expect (`--dialect`).
    pub dialect: crate::contract::DialectChoice,
    pub strict: bool,
    /// Every way the run is judged more leniently than the contract (`--allow-stale`, …).
    pub relaxations: Vec<String>,
    pub iterations: u32,
    pub concurrency: usize,
    pub judgement: Judgement,
    /// The smoke's tries (`--attempts`, `--retry-delay`)…
    pub retry: Backoff,
    /// …and which of its failures earn another (`--retry-on`).
    pub retry_on: RetryOn,
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
    /// `--canary`: prove every check can fail before the real run.
    pub canary: bool,
    /// `--evidence-limit`: at most this many evidence packets (0: none).
    pub evidence_limit: u32,
    /// `--reference`: diff the tested instances against this build.
    pub diff: Option<DiffPhase>,
    /// `--keep-passing`: per-iteration files for at most this many passing
    /// iterations (`None`: all of them); failed ones always have theirs.
    pub keep_passing: Option<u32>,
}

/// The differential phase of a run: the reference build and the accepted differences.
#[derive(Clone, Debug)]
pub struct DiffPhase {
    pub reference: crate::diff::SideSpec,
    pub rules: crate::diff::rules::Rules,
}

impl RunConfig {
    /// The iterations this run runs: all of them, or its shard's share.
    pub fn schedule(&self) -> crate::scenario::cross::Schedule {
        crate::scenario::cross::Schedule::new(self.iterations, self.shard, self.concurrency, self.seed)
    }

    /// `analysis.json`'s record of the shard this run is, when it is one.
    pub fn shard_record(&self) -> Option<crate::analysis::ShardRecord> {
        self.shard.map(|shard| crate::analysis::ShardRecord {
            index: shard.index,
            count: shard.count,
            seed: self.seed.unwrap_or(0),
            iterations: self.iterations,
            instances: self.instances,
            faults: self.faults.describe(),
            judgement: format!(
                "deadline {}, poll every {}, {}",
                crate::clock::human(self.judgement.deadline),
                crate::clock::human(self.judgement.poll_interval),
                if self.judgement.require_immediate { "a stale read fails" } else { "stale reads allowed" }
            ),
            contract: crate::scenario::catalog::fingerprint(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        })
    }
}
