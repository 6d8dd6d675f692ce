//! The token store, shared by the reference server (which serves from it)
//! and the harness (which seeds tokens into it and reads them back): one
//! trait, a document type that keeps the BSON types each implementation
//! writes, and two implementations, both as strict as MongoDB: equality is
//! by type, so a string `userId` never matches an ObjectId filter.

mod memory;
mod mongo;

pub use memory::MemoryStore;
pub use mongo::MongoStore;

use chrono::{DateTime, Utc};
use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime as BsonDateTime, Document};
use std::fmt;

/// `userId` as a document holds it. The Go service writes the path segment
/// as a string, the Node service's model an ObjectId (webprofile-api.md,
/// "What each implementation writes"); each filters its list and revoke by
/// its own type, and MongoDB never matches one type with the other.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UserId {
    String(String),
    ObjectId(ObjectId),
}

impl UserId {
    /// The BSON type's name, as MongoDB's `$type` says it.
    pub fn type_name(&self) -> &'static str {
        match self {
            UserId::String(_) => "string",
            UserId::ObjectId(_) => "ObjectId",
        }
    }

    pub fn to_bson(&self) -> Bson {
        match self {
            UserId::String(s) => Bson::String(s.clone()),
            UserId::ObjectId(id) => Bson::ObjectId(*id),
        }
    }
}

/// As the API shows it: the string, or the ObjectId's 24 hex.
impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserId::String(s) => f.write_str(s),
            UserId::ObjectId(id) => f.write_str(&id.to_hex()),
        }
    }
}

impl From<&str> for UserId {
    fn from(s: &str) -> UserId {
        UserId::String(s.to_string())
    }
}

/// The fields only the Node service's model writes: `expiresAt` even when
/// there is none (null), `updatedAt`, and `lastUsedAt` (null until used).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeModel {
    pub updated_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// One document of the `personalaccesstokens` collection.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenDoc {
    pub id: ObjectId,
    pub user_id: UserId,
    pub label: String,
    pub hash: String,
    pub hash_prefix: String,
    /// "argon2id" for new tokens; "bcrypt"/"pbkdf2" for seeded ones.
    pub algorithm: String,
    pub scopes: Option<Vec<String>>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Written by the Node service's model (`None`: the Go service's fields only).
    pub node_model: Option<NodeModel>,
}

impl TokenDoc {
    /// The document as MongoDB holds it, each field in the BSON type its
    /// writer gives it.
    pub fn to_document(&self) -> Document {
        let mut d = doc! {
            "_id": self.id,
            "userId": self.user_id.to_bson(),
            "label": &self.label,
            "hash": &self.hash,
            "hashPrefix": &self.hash_prefix,
            "algorithm": &self.algorithm,
            "scopes": self.scopes.as_ref().map_or(Bson::Null, |s| Bson::from(s.clone())),
            "active": self.active,
            "createdAt": bson_date(self.created_at),
        };
        let date_or_null =
            |at: Option<DateTime<Utc>>| at.map_or(Bson::Null, |at| Bson::DateTime(bson_date(at)));
        match &self.node_model {
            Some(node) => {
                d.insert("expiresAt", date_or_null(self.expires_at));
                d.insert("updatedAt", bson_date(node.updated_at));
                d.insert("lastUsedAt", date_or_null(node.last_used_at));
            }
            None => {
                if let Some(at) = self.expires_at {
                    d.insert("expiresAt", bson_date(at));
                }
            }
        }
        d
    }
}

fn bson_date(at: DateTime<Utc>) -> BsonDateTime {
    BsonDateTime::from_millis(at.timestamp_millis())
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
    /// The tokens whose `userId` equals `user_id`, type included.
    async fn list(&self, user_id: &UserId) -> Result<Vec<TokenDoc>, StoreError>;
    /// Active tokens whose hashPrefix matches (candidates for verification).
    async fn active_candidates(&self, hash_prefix: &str) -> Result<Vec<TokenDoc>, StoreError>;
    /// Every token whose hashPrefix matches, active or not.
    async fn find_by_prefix(&self, hash_prefix: &str) -> Result<Vec<TokenDoc>, StoreError>;
    /// The token with this id, whoever owns it.
    async fn find_by_id(&self, id: ObjectId) -> Result<Option<TokenDoc>, StoreError>;
    /// Sets active=false on the user's token; Ok(false) when no token with
    /// that id has this `userId` (type included). Idempotent.
    async fn revoke(&self, user_id: &UserId, id: ObjectId) -> Result<bool, StoreError>;
    /// The documents with these ids as stored, every field in its BSON type
    /// (what `parity diff` compares the shapes of).
    async fn documents(&self, ids: &[ObjectId]) -> Result<Vec<Document>, StoreError>;
    /// Short description for logs, e.g. "memory" or
    /// "mongodb://host:port/sharelatex" (never includes a password).
    fn describe(&self) -> String;
}
