//! In-process token store; clones share one set of documents.

use std::sync::{Arc, Mutex, MutexGuard};

use mongodb::bson::oid::ObjectId;

use super::{StoreError, TokenDoc, TokenStore};

#[derive(Default, Clone)]
pub struct MemoryStore {
    docs: Arc<Mutex<Vec<TokenDoc>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn docs(&self) -> MutexGuard<'_, Vec<TokenDoc>> {
        // A panic while holding the lock cannot leave a half-written Vec, so
        // a poisoned lock is still safe to use.
        self.docs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryStore {
    async fn insert(&self, doc: TokenDoc) -> Result<(), StoreError> {
        let mut docs = self.docs();
        if docs.iter().any(|d| d.id == doc.id) {
            return Err(StoreError::Mongo(format!("E11000 duplicate key error: _id {}", doc.id.to_hex())));
        }
        docs.push(doc);
        Ok(())
    }

    async fn list(&self, user_id: &str) -> Result<Vec<TokenDoc>, StoreError> {
        Ok(self.docs().iter().filter(|d| d.user_id == user_id).cloned().collect())
    }

    async fn active_candidates(&self, hash_prefix: &str) -> Result<Vec<TokenDoc>, StoreError> {
        Ok(self.docs().iter().filter(|d| d.active && d.hash_prefix == hash_prefix).cloned().collect())
    }

    async fn find_by_prefix(&self, hash_prefix: &str) -> Result<Vec<TokenDoc>, StoreError> {
        Ok(self.docs().iter().filter(|d| d.hash_prefix == hash_prefix).cloned().collect())
    }

    async fn find_by_id(&self, id: ObjectId) -> Result<Option<TokenDoc>, StoreError> {
        Ok(self.docs().iter().find(|d| d.id == id).cloned())
    }

    async fn revoke(&self, user_id: &str, id: ObjectId) -> Result<bool, StoreError> {
        let mut docs = self.docs();
        match docs.iter_mut().find(|d| d.id == id && d.user_id == user_id) {
            Some(doc) => {
                doc.active = false;
                Ok(true)
            }
            None => Ok(false),
        }
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
