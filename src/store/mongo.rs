//! Token store on MongoDB (or a wire-compatible stand-in), using the exact
//! `personalaccesstokens` schema of the webprofile service.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime as BsonDateTime, Document};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection};

use super::{NodeModel, StoreError, TokenDoc, TokenStore, UserId};

const DEFAULT_DATABASE: &str = "sharelatex";
const COLLECTION: &str = "personalaccesstokens";
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);

pub struct MongoStore {
    tokens: Collection<Document>,
    described: String,
}

impl MongoStore {
    /// Connects (database from the URI path, default "sharelatex"), pings
    /// with a bounded timeout, and names the host when it is unreachable.
    pub async fn connect(uri: &str) -> Result<Self, StoreError> {
        Self::connect_within(uri, SERVER_SELECTION_TIMEOUT).await
    }

    /// Like [`MongoStore::connect`], giving up after `patience` (server
    /// selection) — short for readiness polling, longer for a first connect.
    pub async fn connect_within(uri: &str, patience: Duration) -> Result<Self, StoreError> {
        let mut options =
            ClientOptions::parse(uri).await.map_err(|e| StoreError::InvalidUri(e.kind.to_string()))?;
        options.server_selection_timeout = Some(patience);
        options.connect_timeout = Some(patience);
        options.app_name = Some("webprofile-parity-reference".to_string());

        let hosts = options.hosts.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        let db_name = options.default_database.clone().unwrap_or_else(|| DEFAULT_DATABASE.to_string());
        let described = format!("mongodb://{hosts}/{db_name}");

        let client = Client::with_options(options).map_err(|e| StoreError::InvalidUri(e.to_string()))?;
        let db = client.database(&db_name);
        let unreachable = |reason: String| StoreError::Unreachable { host: hosts.clone(), reason };
        let ping_timeout = patience + patience / 2;
        match tokio::time::timeout(ping_timeout, db.run_command(doc! { "ping": 1 })).await {
            Err(_) => return Err(unreachable(format!("no answer to ping within {ping_timeout:?}"))),
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Ok(Ok(_)) => {}
        }
        Ok(Self { tokens: db.collection(COLLECTION), described })
    }

    async fn find(&self, filter: Document) -> Result<Vec<TokenDoc>, StoreError> {
        let mut cursor = self.tokens.find(filter).sort(doc! { "_id": 1 }).await.map_err(mongo)?;
        let mut docs = Vec::new();
        while cursor.advance().await.map_err(mongo)? {
            let raw: Document = cursor.deserialize_current().map_err(mongo)?;
            match from_document(&raw) {
                Ok(doc) => docs.push(doc),
                // One bad document (e.g. hand-seeded) must not hide the rest.
                Err(e) => tracing::warn!("skipping token document: {e}"),
            }
        }
        Ok(docs)
    }
}

fn mongo(e: mongodb::error::Error) -> StoreError {
    StoreError::Mongo(e.to_string())
}

#[async_trait::async_trait]
impl TokenStore for MongoStore {
    async fn insert(&self, doc: TokenDoc) -> Result<(), StoreError> {
        self.tokens.insert_one(doc.to_document()).await.map(|_| ()).map_err(mongo)
    }

    async fn list(&self, user_id: &UserId) -> Result<Vec<TokenDoc>, StoreError> {
        self.find(doc! { "userId": user_id.to_bson() }).await
    }

    async fn active_candidates(&self, hash_prefix: &str) -> Result<Vec<TokenDoc>, StoreError> {
        self.find(doc! { "hashPrefix": hash_prefix, "active": true }).await
    }

    async fn find_by_prefix(&self, hash_prefix: &str) -> Result<Vec<TokenDoc>, StoreError> {
        self.find(doc! { "hashPrefix": hash_prefix }).await
    }

    async fn find_by_id(&self, id: ObjectId) -> Result<Option<TokenDoc>, StoreError> {
        Ok(self.find(doc! { "_id": id }).await?.into_iter().next())
    }

    async fn revoke(&self, user_id: &UserId, id: ObjectId) -> Result<bool, StoreError> {
        let result = self
            .tokens
            .update_one(doc! { "_id": id, "userId": user_id.to_bson() }, doc! { "$set": { "active": false } })
            .await
            .map_err(mongo)?;
        Ok(result.matched_count > 0)
    }

    async fn documents(&self, ids: &[ObjectId]) -> Result<Vec<Document>, StoreError> {
        let mut found = Vec::new();
        // One `_id` equality at a time: the stand-in's `$in` is not to be relied on.
        for id in ids {
            let mut cursor = self.tokens.find(doc! { "_id": id }).await.map_err(mongo)?;
            while cursor.advance().await.map_err(mongo)? {
                found.push(cursor.deserialize_current().map_err(mongo)?);
            }
        }
        Ok(found)
    }

    fn describe(&self) -> String {
        self.described.clone()
    }
}

/// Reads a document leniently: documents may be seeded by hand or by other
/// builds, and stock nx-27017 turns `$set` bools into 0/1 and dates into
/// strings.
fn from_document(d: &Document) -> Result<TokenDoc, StoreError> {
    let id = match d.get("_id") {
        Some(Bson::ObjectId(id)) => *id,
        other => {
            return Err(StoreError::Malformed {
                id: format!("{other:?}"),
                reason: "_id is not an ObjectId".to_string(),
            })
        }
    };
    let malformed = |reason: &str| StoreError::Malformed { id: id.to_hex(), reason: reason.to_string() };
    let string = |key: &str| match d.get(key) {
        Some(Bson::String(s)) => Some(s.clone()),
        _ => None,
    };
    let user_id = match d.get("userId") {
        Some(Bson::String(s)) => UserId::String(s.clone()),
        Some(Bson::ObjectId(id)) => UserId::ObjectId(*id),
        _ => return Err(malformed("userId missing, or neither a string nor an ObjectId")),
    };
    let hash = string("hash").ok_or_else(|| malformed("hash missing or not a string"))?;
    let scopes = match d.get("scopes") {
        None | Some(Bson::Null) => None,
        Some(Bson::Array(items)) => Some(
            items
                .iter()
                .map(|b| b.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| malformed("scopes holds a non-string"))?,
        ),
        Some(_) => return Err(malformed("scopes is not an array")),
    };
    let active = match d.get("active") {
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Int32(i)) => *i != 0,
        Some(Bson::Int64(i)) => *i != 0,
        Some(Bson::Double(f)) => *f != 0.0,
        None | Some(Bson::Null) => false,
        Some(_) => return Err(malformed("active is not a bool")),
    };
    let created_at = match d.get("createdAt") {
        None | Some(Bson::Null) => from_bson_date(id.timestamp()),
        Some(b) => date(b),
    }
    .ok_or_else(|| malformed("createdAt is not a date"))?;
    let optional_date = |key: &str| match d.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(b) => date(b).map(Some).ok_or_else(|| malformed(&format!("{key} is not a date"))),
    };
    let expires_at = optional_date("expiresAt")?;
    // The Node model's fields: `updatedAt` is always written by it.
    let node_model = match optional_date("updatedAt")? {
        Some(updated_at) => Some(NodeModel { updated_at, last_used_at: optional_date("lastUsedAt")? }),
        None => None,
    };
    Ok(TokenDoc {
        id,
        user_id,
        label: string("label").unwrap_or_default(),
        hash,
        hash_prefix: string("hashPrefix").unwrap_or_default(),
        algorithm: string("algorithm").unwrap_or_default(),
        scopes,
        active,
        created_at,
        expires_at,
        node_model,
    })
}

fn date(b: &Bson) -> Option<DateTime<Utc>> {
    match b {
        Bson::DateTime(d) => from_bson_date(*d),
        Bson::String(s) => DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc)),
        _ => None,
    }
}

fn from_bson_date(d: BsonDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(d.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TokenDoc {
        TokenDoc {
            id: ObjectId::new(),
            user_id: "u1".into(),
            label: "laptop".into(),
            hash: "$2b$04$x".into(),
            hash_prefix: "abcd0123".into(),
            algorithm: "bcrypt".into(),
            scopes: Some(vec!["read".into()]),
            active: true,
            created_at: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            expires_at: DateTime::from_timestamp_millis(1_800_000_000_000),
            node_model: None,
        }
    }

    #[test]
    fn document_round_trip_uses_the_service_schema() {
        let t = sample();
        let d = t.to_document();
        assert!(matches!(d.get("createdAt"), Some(Bson::DateTime(_))));
        assert_eq!(d.get_bool("active"), Ok(true));
        assert_eq!(from_document(&d).unwrap(), t);

        let bare = TokenDoc { scopes: None, expires_at: None, ..t.clone() };
        let d = bare.to_document();
        assert_eq!(d.get("scopes"), Some(&Bson::Null));
        assert!(!d.contains_key("expiresAt"));
        assert_eq!(from_document(&d).unwrap(), bare);
    }

    #[test]
    fn each_writer_keeps_its_types() {
        let owner = ObjectId::new();
        let node = TokenDoc {
            user_id: UserId::ObjectId(owner),
            scopes: Some(vec![]),
            expires_at: None,
            node_model: Some(NodeModel { updated_at: sample().created_at, last_used_at: None }),
            ..sample()
        };
        let d = node.to_document();
        assert_eq!(d.get("userId"), Some(&Bson::ObjectId(owner)));
        assert_eq!(d.get("expiresAt"), Some(&Bson::Null), "written, as null");
        assert_eq!(d.get("lastUsedAt"), Some(&Bson::Null));
        assert!(matches!(d.get("updatedAt"), Some(Bson::DateTime(_))));
        assert_eq!(from_document(&d).unwrap(), node);
        let go = TokenDoc { user_id: UserId::String(owner.to_hex()), ..sample() };
        assert_eq!(go.to_document().get("userId"), Some(&Bson::String(owner.to_hex())));
        assert!(!go.to_document().contains_key("updatedAt"));
    }

    #[test]
    fn reading_is_tolerant_of_stand_in_quirks_and_seeded_documents() {
        let id = ObjectId::new();
        let d = doc! {
            "_id": id, "userId": "u", "hash": "h", "active": 0,
            "expiresAt": "2030-01-01T00:00:00Z",
        };
        let t = from_document(&d).unwrap();
        assert!(!t.active);
        assert_eq!(t.label, "");
        assert_eq!(t.scopes, None);
        assert_eq!(Some(t.created_at), from_bson_date(id.timestamp()));
        assert_eq!(t.expires_at.unwrap().to_rfc3339(), "2030-01-01T00:00:00+00:00");
        assert!(from_document(&doc! { "_id": id, "userId": 1, "hash": "h" }).is_err());
        assert_eq!(
            from_document(&doc! { "_id": id, "userId": id, "hash": "h" }).unwrap().user_id,
            UserId::ObjectId(id)
        );
        assert!(from_document(&doc! { "_id": "x", "userId": "u", "hash": "h" }).is_err());
    }
}
