//! Services someone else started: two URLs (or one, used for both roles) and
//! optionally the MongoDB they share, for the seeding checks.

use super::{Endpoints, Instance, StackError};
use crate::store::MongoStore;
use crate::store::TokenStore;
use std::sync::Arc;

pub struct ExternalStack {
    pub endpoints: Endpoints,
}

impl ExternalStack {
    pub async fn connect(
        first: &str,
        second: &str,
        mongo_uri: Option<&str>,
    ) -> Result<ExternalStack, StackError> {
        let store: Option<Arc<dyn TokenStore>> = match mongo_uri {
            Some(uri) => Some(Arc::new(MongoStore::connect(uri).await?)),
            None => None,
        };
        let instance = |i: usize, url: &str| Instance {
            name: format!("instance{}", i + 1),
            service: ["webprofile", "webprofile-node2"][i].to_string(),
            url: url.trim_end_matches('/').to_string(),
        };
        Ok(ExternalStack {
            endpoints: Endpoints {
                instances: [instance(0, first), instance(1, second)],
                store_description: store.as_ref().map(|s| s.describe()),
                store,
            },
        })
    }
}
