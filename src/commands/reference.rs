//! `parity reference serve`: the reference webprofile server.

use super::CommandError;
use crate::cli::{ServeArgs, StoreKind};
use crate::contract::Credentials;
use crate::exit::Exit;
use crate::progress::Reporter;
use crate::reference::faults::Faults;
use crate::reference::server::{self, ReferenceConfig};
use crate::retry::{Backoff, Failed, Limit};
use crate::store::{MemoryStore, MongoStore, StoreError, TokenStore};
use std::sync::Arc;
use std::time::Duration;

/// Serves until SIGINT/SIGTERM: 0; 3 when the store or the port cannot be had.
pub async fn serve(args: ServeArgs) -> Result<Exit, CommandError> {
    let reporter = Reporter::plain();
    let faults =
        Faults::parse_all(&args.instance.faults).map_err(|e| CommandError::Usage(format!("--fault: {e}")))?;
    if let Some((k, spec)) = faults.scoped.first() {
        return Err(CommandError::Usage(format!(
            "--fault {spec}@{k}: @K picks one instance of a run; `reference serve` is one instance (drop the @{k})"
        )));
    }
    if let Some((k, flavor)) = args.instance.flavor.scoped.first() {
        return Err(CommandError::Usage(format!(
            "--flavor {flavor}@{k}: @K picks one instance of a run; `reference serve` is one instance (drop the @{k})"
        )));
    }
    let store: Arc<dyn TokenStore> = match args.store {
        StoreKind::Memory => Arc::new(MemoryStore::new()),
        StoreKind::Mongo => Arc::new(
            connect_patiently(&args.mongo_uri, reporter)
                .await
                .map_err(|e| CommandError::Infrastructure(e.to_string()))?,
        ),
    };
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await.map_err(|e| {
        CommandError::Infrastructure(format!("cannot listen on {}:{}: {e}", args.host, args.port))
    })?;
    let bound = listener.local_addr().map_err(|e| CommandError::Infrastructure(e.to_string()))?;
    let config = ReferenceConfig {
        name: args.name,
        credentials: Credentials { user: args.credentials.admin_user, pass: args.credentials.admin_pass },
        hash_cost: args.instance.hash_cost,
        faults,
        flavor: args.instance.flavor.all,
        seed: args.instance.seed,
        rate_window: None,
    };
    // The bound address, not the asked one: `--port 0` picks a free port, and tests read it here.
    reporter.line(format!(
        "reference webprofile `{}` listening on http://{bound} ({} dialect, store: {}, faults: {})",
        config.name,
        config.flavor,
        store.describe(),
        config.faults.describe()
    ));
    server::serve_forever(listener, store, config)
        .await
        .map_err(|e| CommandError::Infrastructure(format!("server stopped: {e}")))?;
    Ok(Exit::Ok)
}

/// A server started beside its database (containers started together) waits
/// for it: retries for up to 30 s before giving up.
async fn connect_patiently(uri: &str, reporter: Reporter) -> Result<MongoStore, StoreError> {
    const PATIENCE: Backoff = Backoff {
        first: Duration::from_millis(250),
        max: Duration::from_secs(1),
        limit: Limit::Within(Duration::from_secs(30)),
    };
    PATIENCE
        .run(|_| async {
            MongoStore::connect_within(uri, Duration::from_secs(2)).await.map_err(|e| {
                reporter.line(format!("waiting for MongoDB: {e}"));
                Failed::Retry(e, None)
            })
        })
        .await
}
