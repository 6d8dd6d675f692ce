//! Services someone else started: two or more URLs (one given alone is used
//! for every role) and optionally the MongoDB they share, for the seeding checks.

use super::{Endpoints, Instance, StackError};
use crate::store::MongoStore;
use crate::store::TokenStore;
use std::sync::Arc;

pub struct ExternalStack {
    pub endpoints: Endpoints,
}

impl ExternalStack {
    pub async fn connect(urls: &[String], mongo_uri: Option<&str>) -> Result<ExternalStack, StackError> {
        let store: Option<Arc<dyn TokenStore>> = match mongo_uri {
            Some(uri) => Some(Arc::new(MongoStore::connect(uri).await?)),
            None => None,
        };
        Ok(ExternalStack {
            endpoints: Endpoints {
                instances: urls
                    .iter()
                    .enumerate()
                    .map(|(i, url)| Instance::numbered(i, url.trim_end_matches('/').to_string()))
                    .collect(),
                store_description: store.as_ref().map(|s| s.describe()),
                store,
            },
        })
    }
}
