//! MongoStore against nx-27017, a MongoDB wire-protocol stand-in started by
//! fixtures/mongo-standin/launch.py. Skips (with a SKIP line) when nx-27017
//! is not installed, unless PARITY_REQUIRE_MONGO=1.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mongodb::bson::{doc, oid::ObjectId, Bson, Document};
use serde_json::{json, Value};
use webprofile_parity::hashing::{self, HashCost};
use webprofile_parity::reference::{spawn, Faults, ReferenceConfig, RunningInstance};
use webprofile_parity::store::{MongoStore, StoreError, TokenDoc, TokenStore, UserId};

/// The stand-in, or `None` after a SKIP line (see `crate::common::mongo_standin`).
fn stand_in(test: &str) -> Option<(crate::common::KillOnDrop, String)> {
    crate::common::mongo_standin(test)
}

fn token_doc(user: &str, prefix: &str, scopes: Option<Vec<&str>>, expires: Option<i64>) -> TokenDoc {
    TokenDoc {
        id: ObjectId::new(),
        user_id: user.into(),
        label: format!("{user}-label"),
        hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$a2V5".to_string(),
        hash_prefix: prefix.to_string(),
        algorithm: "argon2id".to_string(),
        scopes: scopes.map(|s| s.into_iter().map(String::from).collect()),
        active: true,
        created_at: DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap(),
        expires_at: expires.and_then(DateTime::from_timestamp_millis),
        node_model: None,
    }
}

async fn raw_doc(uri: &str, id: ObjectId) -> Document {
    let client = mongodb::Client::with_uri_str(uri).await.unwrap();
    client
        .database("sharelatex")
        .collection::<Document>("personalaccesstokens")
        .find_one(doc! { "_id": id })
        .await
        .unwrap()
        .expect("document not found")
}

#[tokio::test]
async fn mongo_store_round_trips_on_the_stand_in() {
    let Some((_nx, uri)) = stand_in("mongo_store_round_trips_on_the_stand_in") else { return };
    let store = MongoStore::connect(&uri).await.unwrap();
    assert_eq!(store.describe(), uri);
    let store: Arc<dyn TokenStore> = Arc::new(store);

    let a = token_doc("u1", "aaaa0000", Some(vec!["git", "read"]), Some(4_102_444_800_123));
    let b = token_doc("u1", "bbbb0000", None, None);
    let c = token_doc("u2", "aaaa0000", Some(vec![]), None);
    for d in [&a, &b, &c] {
        store.insert(d.clone()).await.unwrap();
    }
    assert!(store.insert(a.clone()).await.is_err(), "duplicate _id accepted");

    assert_eq!(store.list(&"u1".into()).await.unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(store.list(&"u2".into()).await.unwrap(), vec![c.clone()]);
    assert!(store.list(&"nobody".into()).await.unwrap().is_empty());
    assert_eq!(store.active_candidates("aaaa0000").await.unwrap(), vec![a.clone(), c.clone()]);
    assert!(store.active_candidates("ffff0000").await.unwrap().is_empty());

    assert!(!store.revoke(&"u2".into(), a.id).await.unwrap(), "other user's token revoked");
    assert!(store.revoke(&"u1".into(), a.id).await.unwrap());
    assert!(store.revoke(&"u1".into(), a.id).await.unwrap(), "revoke is not idempotent");
    assert!(!store.revoke(&"u1".into(), ObjectId::new()).await.unwrap());

    assert_eq!(store.active_candidates("aaaa0000").await.unwrap(), vec![c.clone()]);
    let listed = store.list(&"u1".into()).await.unwrap();
    assert_eq!(listed[0], TokenDoc { active: false, ..a.clone() });
    assert_eq!(listed[1], b);

    // The documents themselves must carry the service's BSON types.
    let raw = raw_doc(&uri, a.id).await;
    assert_eq!(raw.get("active"), Some(&Bson::Boolean(false)), "{raw}");
    assert!(matches!(raw.get("createdAt"), Some(Bson::DateTime(_))), "{raw}");
    assert!(matches!(raw.get("expiresAt"), Some(Bson::DateTime(_))), "{raw}");
    assert_eq!(raw.get_array("scopes").map(Vec::len), Ok(2));
    let raw = raw_doc(&uri, b.id).await;
    assert!(!raw.contains_key("expiresAt"), "{raw}");
    assert_eq!(raw.get("scopes"), Some(&Bson::Null));
    assert_eq!(raw.get("active"), Some(&Bson::Boolean(true)));
}

/// The stand-in's equality is as strict as MongoDB's: an ObjectId filter
/// finds the ObjectId document and not the string one, and the reverse —
/// through the store (list, revoke) and through the driver directly.
#[tokio::test]
async fn equality_is_type_strict_both_ways() {
    let Some((_nx, uri)) = stand_in("equality_is_type_strict_both_ways") else { return };
    let store = MongoStore::connect(&uri).await.unwrap();
    let owner = ObjectId::new();
    let (as_object_id, as_string) = (UserId::ObjectId(owner), UserId::String(owner.to_hex()));
    let by_node = TokenDoc { user_id: as_object_id.clone(), ..token_doc("x", "dddd0000", None, None) };
    let by_go = TokenDoc { user_id: as_string.clone(), ..token_doc("x", "eeee0000", None, None) };
    store.insert(by_node.clone()).await.unwrap();
    store.insert(by_go.clone()).await.unwrap();
    assert_eq!(
        store.list(&as_object_id).await.unwrap(),
        vec![by_node.clone()],
        "an ObjectId finds the ObjectId"
    );
    assert_eq!(store.list(&as_string).await.unwrap(), vec![by_go.clone()], "a string finds the string");
    assert!(
        !store.revoke(&as_string, by_node.id).await.unwrap(),
        "a string never revokes an ObjectId's token"
    );
    assert!(!store.revoke(&as_object_id, by_go.id).await.unwrap(), "nor an ObjectId a string's");
    assert_eq!(raw_doc(&uri, by_node.id).await.get("active"), Some(&Bson::Boolean(true)));
    assert_eq!(raw_doc(&uri, by_go.id).await.get("active"), Some(&Bson::Boolean(true)));
    assert!(store.revoke(&as_object_id, by_node.id).await.unwrap());
    assert!(store.revoke(&as_string, by_go.id).await.unwrap());

    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let tokens = client.database("sharelatex").collection::<Document>("personalaccesstokens");
    let found = |filter: Document| async {
        let mut ids = Vec::new();
        let mut cursor = tokens.find(filter).await.unwrap();
        while cursor.advance().await.unwrap() {
            ids.push(cursor.deserialize_current().unwrap().get_object_id("_id").unwrap());
        }
        ids
    };
    assert_eq!(found(doc! { "userId": owner }).await, [by_node.id]);
    assert_eq!(found(doc! { "userId": owner.to_hex() }).await, [by_go.id]);
    assert_eq!(found(doc! { "userId": { "$eq": owner } }).await, [by_node.id]);
    // The documents read back keep their types.
    assert_eq!(
        store
            .documents(&[by_node.id, by_go.id])
            .await
            .unwrap()
            .iter()
            .map(|d| d.get("userId").cloned())
            .collect::<Vec<_>>(),
        [Some(Bson::ObjectId(owner)), Some(Bson::String(owner.to_hex()))]
    );
}

#[tokio::test]
async fn database_defaults_to_sharelatex() {
    let Some((_nx, uri)) = stand_in("database_defaults_to_sharelatex") else { return };
    let store = MongoStore::connect(uri.trim_end_matches("/sharelatex")).await.unwrap();
    assert_eq!(store.describe(), uri);
    let d = token_doc("u1", "cccc0000", None, None);
    store.insert(d.clone()).await.unwrap();
    assert_eq!(raw_doc(&uri, d.id).await.get_str("userId"), Ok("u1"));
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(instance: &RunningInstance) -> Client {
        Client {
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            base: instance.base_url(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, String) {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth("overleaf", Some("overleaf"));
        if let Some(body) = body {
            rb = rb.json(&body);
        }
        let response = rb.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    async fn introspect(&self, token: &str) -> Value {
        let (status, text) = self
            .call(reqwest::Method::POST, "/internal/api/tokens/introspect", Some(json!({ "token": token })))
            .await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }
}

async fn instance(uri: &str, name: &str) -> RunningInstance {
    // A store of its own per instance, as separate processes would have.
    let store = MongoStore::connect(uri).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = ReferenceConfig {
        name: name.to_string(),
        hash_cost: HashCost::Minimal,
        faults: Faults::default(),
        ..ReferenceConfig::default()
    };
    spawn(listener, Arc::new(store), config)
}

#[tokio::test]
async fn two_reference_instances_share_the_stand_in() {
    let Some((_nx, uri)) = stand_in("two_reference_instances_share_the_stand_in") else { return };
    let node1 = instance(&uri, "webprofile").await;
    let node2 = instance(&uri, "webprofile-node2").await;
    let (a, b) = (Client::new(&node1), Client::new(&node2));

    let (status, text) = a
        .call(
            reqwest::Method::POST,
            "/internal/api/users/u1/git-tokens",
            Some(json!({"label": "ci", "scopes": ["git"]})),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let created: Value = serde_json::from_str(&text).unwrap();
    let token = created["token"].as_str().unwrap().to_string();
    let id =
        created["id"].as_str().unwrap().trim_start_matches("ObjectID(\"").trim_end_matches("\")").to_string();

    let expected = json!({"active": true, "userId": "u1", "scopes": ["git"], "expiresAt": null});
    assert_eq!(a.introspect(&token).await, expected);
    assert_eq!(b.introspect(&token).await, expected);

    let revoke = format!("/internal/api/users/u1/git-tokens/{id}");
    assert_eq!(b.call(reqwest::Method::DELETE, &revoke, None).await.0, 204);
    assert_eq!(a.introspect(&token).await, json!({"active": false}));
    assert_eq!(b.introspect(&token).await, json!({"active": false}));
    assert_eq!(a.call(reqwest::Method::DELETE, &revoke, None).await.0, 204);
    let other = format!("/internal/api/users/u2/git-tokens/{id}");
    assert_eq!(a.call(reqwest::Method::DELETE, &other, None).await.0, 404);

    let (status, text) = b.call(reqwest::Method::GET, "/internal/api/users/u1/git-tokens", None).await;
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list[0]["_id"], id.as_str());
    assert_eq!(list[0]["active"], false);
    assert_eq!(list[0]["hash"], Value::Null);

    // Tokens seeded straight into Mongo with the older formats introspect too.
    let seeder = MongoStore::connect(&uri).await.unwrap();
    for (user, hash_of) in [
        ("bcrypt-user", (|t: &str| hashing::hash_bcrypt(t, 4)) as fn(&str) -> String),
        ("pbkdf2-user", hashing::hash_pbkdf2),
    ] {
        let plaintext = hashing::new_plaintext_token();
        let mut doc = token_doc(user, &hashing::hash_prefix(&plaintext), None, None);
        doc.hash = hash_of(&plaintext);
        seeder.insert(doc).await.unwrap();
        assert_eq!(a.introspect(&plaintext).await["userId"], user);
    }

    node1.shutdown().await;
    node2.shutdown().await;
}

#[tokio::test]
async fn unreachable_mongo_is_a_clear_bounded_error() {
    let dead = crate::common::dead_port();
    let port = dead.port;
    let uri = format!("mongodb://user:secret@127.0.0.1:{port}/x");
    let result = tokio::time::timeout(crate::common::HANG_GUARD, MongoStore::connect(&uri)).await;
    let Err(err) = result.expect("bounded by its own server selection timeout") else {
        panic!("connected to a closed port")
    };
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains("secret"), "{message}");

    let bad = MongoStore::connect("postgres://nope").await;
    assert!(matches!(bad, Err(StoreError::InvalidUri(_))));
}
