//! The token store, shared by the reference server (which serves from it)
//! and the harness (which seeds tokens into it): one trait, a document type,
//! and two implementations.

mod memory;
mod mongo;

pub use memory::MemoryStore;
pub use mongo::MongoStore;

use chrono::{DateTime, Utc};
use mongodb::bson::oid::ObjectId;

/// One document of the `personalaccesstokens` collection.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenDoc {
    pub id: ObjectId,
    pub user_id: String,
    pub label: String,
    pub hash: String,
    pub hash_prefix: String,
    /// "argon2id" for new tokens; "bcrypt"/"pbkdf2" for seeded ones.
    pub algorithm: String,
    pub scopes: Option<Vec<String>>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("MongoDB: {0}")]
    Mongo(String),
    #[error("invalid MongoDB URI: {0}")]
    InvalidUri(String),
    #[error("MongoDB at {host} is unreachable: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("malformed token document {id}: {reason}")]
    Malformed { id: String, reason: String },
}

#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + 'static {
    async fn insert(&self, doc: TokenDoc) -> Result<(), StoreError>;
    async fn list(&self, user_id: &str) -> Result<Vec<TokenDoc>, StoreError>;
    /// Active tokens whose hashPrefix matches (candidates for verification).
    async fn active_candidates(&self, hash_prefix: &str) -> Result<Vec<TokenDoc>, StoreError>;
    /// Every token whose hashPrefix matches, active or not.
    async fn find_by_prefix(&self, hash_prefix: &str) -> Result<Vec<TokenDoc>, StoreError>;
    /// The token with this id, whoever owns it.
    async fn find_by_id(&self, id: ObjectId) -> Result<Option<TokenDoc>, StoreError>;
    /// Sets active=false on the user's token; Ok(false) when no token with
    /// that id belongs to that user. Idempotent.
    async fn revoke(&self, user_id: &str, id: ObjectId) -> Result<bool, StoreError>;
    /// Short description for logs, e.g. "memory" or
    /// "mongodb://host:port/sharelatex" (never includes a password).
    fn describe(&self) -> String;
}
