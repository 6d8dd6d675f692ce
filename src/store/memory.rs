//! In-process token store; clones share one set of documents. Indexed by id,
//! user and hash prefix, so a long run (100,000 iterations) stays linear.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use mongodb::bson::oid::ObjectId;

use super::{StoreError, TokenDoc, TokenStore};

#[derive(Default, Clone)]
pub struct MemoryStore {
    docs: Arc<Mutex<Docs>>,
}

/// The documents in insertion order, and where to find them.
#[derive(Default)]
struct Docs {
    all: Vec<TokenDoc>,
    by_id: HashMap<ObjectId, usize>,
    by_user: HashMap<String, Vec<usize>>,
    by_prefix: HashMap<String, Vec<usize>>,
}

impl Docs {
    fn at<'a>(&'a self, positions: Option<&'a Vec<usize>>) -> impl Iterator<Item = &'a TokenDoc> + 'a {
        positions.into_iter().flatten().map(|&i| &self.all[i])
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn docs(&self) -> MutexGuard<'_, Docs> {
        // Every write completes its index updates before it can panic, so a
        // poisoned lock is still safe to use.
        self.docs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryStore {
    async fn insert(&self, doc: TokenDoc) -> Result<(), StoreError> {
        let mut docs = self.docs();
        if docs.by_id.contains_key(&doc.id) {
            return Err(StoreError::Mongo(format!("E11000 duplicate key error: _id {}", doc.id.to_hex())));
        }
        let at = docs.all.len();
        docs.by_id.insert(doc.id, at);
        docs.by_user.entry(doc.user_id.clone()).or_default().push(at);
        docs.by_prefix.entry(doc.hash_prefix.clone()).or_default().push(at);
        docs.all.push(doc);
        Ok(())
    }

    async fn list(&self, user_id: &str) -> Result<Vec<TokenDoc>, StoreError> {
        let docs = self.docs();
        Ok(docs.at(docs.by_user.get(user_id)).cloned().collect())
    }

    async fn active_candidates(&self, hash_prefix: &str) -> Result<Vec<TokenDoc>, StoreError> {
        let docs = self.docs();
        Ok(docs.at(docs.by_prefix.get(hash_prefix)).filter(|d| d.active).cloned().collect())
    }

    async fn find_by_prefix(&self, hash_prefix: &str) -> Result<Vec<TokenDoc>, StoreError> {
        let docs = self.docs();
        Ok(docs.at(docs.by_prefix.get(hash_prefix)).cloned().collect())
    }

    async fn find_by_id(&self, id: ObjectId) -> Result<Option<TokenDoc>, StoreError> {
        let docs = self.docs();
        Ok(docs.by_id.get(&id).map(|&i| docs.all[i].clone()))
    }

    async fn revoke(&self, user_id: &str, id: ObjectId) -> Result<bool, StoreError> {
        let mut docs = self.docs();
        let Some(&at) = docs.by_id.get(&id) else { return Ok(false) };
        let doc = &mut docs.all[at];
        if doc.user_id != user_id {
            return Ok(false);
        }
        doc.active = false;
        Ok(true)
    }

    fn describe(&self) -> String {
        "memory".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn doc(user: &str, prefix: &str) -> TokenDoc {
        TokenDoc {
            id: ObjectId::new(),
            user_id: user.to_string(),
            label: String::new(),
            hash: "h".to_string(),
            hash_prefix: prefix.to_string(),
            algorithm: "argon2id".to_string(),
            scopes: None,
            active: true,
            created_at: Utc::now(),
            expires_at: None,
        }
    }

    #[tokio::test]
    async fn clones_share_documents_and_revoke_is_scoped_to_the_user() {
        let a = MemoryStore::new();
        let b = a.clone();
        let d = doc("u1", "abcd1234");
        a.insert(d.clone()).await.unwrap();
        assert!(a.insert(d.clone()).await.is_err());
        assert_eq!(b.list("u1").await.unwrap(), vec![d.clone()]);
        assert!(b.list("u2").await.unwrap().is_empty());
        assert_eq!(b.active_candidates("abcd1234").await.unwrap().len(), 1);
        assert!(!b.revoke("u2", d.id).await.unwrap());
        assert!(b.revoke("u1", d.id).await.unwrap());
        assert!(b.revoke("u1", d.id).await.unwrap());
        assert!(a.active_candidates("abcd1234").await.unwrap().is_empty());
        assert!(!a.list("u1").await.unwrap()[0].active);
        assert!(!a.revoke("u1", ObjectId::new()).await.unwrap());
    }
}
