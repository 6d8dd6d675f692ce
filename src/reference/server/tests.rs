use super::auth::decode_basic;
use super::errors::TEXT_PLAIN;
use super::*;
use crate::hashing;
use crate::reference::faults::Misbehaviour;
use crate::reference::Flavor;
use crate::store::MemoryStore;
use crate::store::TokenDoc;
use chrono::{DateTime, Utc};
use mongodb::bson::oid::ObjectId;
use serde_json::{json, Value};

struct Api {
    instance: RunningInstance,
    http: reqwest::Client,
}

impl Api {
    async fn start(store: &MemoryStore, faults: Faults) -> Api {
        Self::start_with(
            store,
            ReferenceConfig { hash_cost: HashCost::Minimal, faults, ..ReferenceConfig::default() },
        )
        .await
    }

    async fn start_with(store: &MemoryStore, config: ReferenceConfig) -> Api {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let store: Arc<dyn TokenStore> = Arc::new(store.clone());
        Api {
            instance: spawn(listener, store, config),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.instance.base_url())
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).basic_auth("overleaf", Some("overleaf"))
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, String) {
        let response = rb.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    async fn create(&self, user: &str, body: Value) -> (String, String) {
        let path = format!("/internal/api/users/{user}/git-tokens");
        let (status, text) = self.send(self.request(reqwest::Method::POST, &path).json(&body)).await;
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        let wrapped = v["id"].as_str().unwrap();
        let id = wrapped
            .strip_prefix("ObjectID(\"")
            .and_then(|r| r.strip_suffix("\")"))
            .unwrap_or_else(|| panic!("id not wrapped: {wrapped}"));
        (id.to_string(), v["token"].as_str().unwrap().to_string())
    }

    async fn introspect(&self, token: &str) -> Value {
        let (status, text) = self
            .send(
                self.request(reqwest::Method::POST, "/internal/api/tokens/introspect")
                    .json(&json!({ "token": token })),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn revoke(&self, user: &str, id: &str) -> (u16, String) {
        let path = format!("/internal/api/users/{user}/git-tokens/{id}");
        self.send(self.request(reqwest::Method::DELETE, &path)).await
    }
}

fn seeded(user: &str, token: &str, hash: String, algorithm: &str) -> TokenDoc {
    TokenDoc {
        id: ObjectId::new(),
        user_id: user.into(),
        label: "seeded".to_string(),
        hash,
        hash_prefix: hashing::hash_prefix(token),
        algorithm: algorithm.to_string(),
        scopes: Some(vec!["git".to_string()]),
        active: true,
        created_at: Utc::now(),
        expires_at: None,
        node_model: None,
    }
}

#[tokio::test]
async fn missing_or_wrong_credentials_redirect_to_login() {
    let api = Api::start(&MemoryStore::new(), Faults::default()).await;
    let path = "/internal/api/users/u1/git-tokens";
    for rb in [
        api.http.post(api.url(path)).body("{}"),
        api.http.get(api.url(path)).basic_auth("overleaf", Some("wrong")),
        api.http.get(api.url(path)).header("Authorization", "Basic !!!"),
        api.http.get(api.url(path)).header("Authorization", "Bearer abc"),
        api.http.post(api.url("/internal/api/tokens/introspect")),
    ] {
        let response = rb.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 302);
        assert_eq!(response.headers()["location"], "/auth/login");
        assert_eq!(response.text().await.unwrap().trim(), "redirect");
    }
}

#[tokio::test]
async fn create_answers_wrapped_id_token_and_partial_as_text_plain() {
    let api = Api::start(&MemoryStore::new(), Faults::default()).await;
    let response = api
        .request(reqwest::Method::POST, "/internal/api/users/u1/git-tokens")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], TEXT_PLAIN);
    let text = response.text().await.unwrap();
    assert!(text.ends_with("}\n"), "{text:?}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let id = v["id"].as_str().unwrap();
    assert!(id.starts_with("ObjectID(\"") && id.ends_with("\")") && id.len() == 36, "{id}");
    let token = v["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert!(hashing::is_token_hex(token));
    assert_eq!(
        v["accessTokenPartial"],
        hashing::hash_prefix(token),
        "the hashPrefix, not the token's prefix"
    );
}

#[tokio::test]
async fn introspect_revoke_and_idempotent_revoke() {
    let api = Api::start(&MemoryStore::new(), Faults::default()).await;
    let (id, token) = api.create("u1", json!({"label": "ci", "scopes": ["git"]})).await;
    assert_eq!(
        api.introspect(&token).await,
        json!({"active": true, "userId": "u1", "scopes": ["git"], "expiresAt": null})
    );
    assert_eq!(api.revoke("u2", &id).await, (404, "not found\n".to_string()));
    assert_eq!(api.introspect(&token).await["active"], true);
    assert_eq!(api.revoke("u1", &id).await, (204, String::new()));
    assert_eq!(api.introspect(&token).await, json!({"active": false}));
    assert_eq!(api.revoke("u1", &id).await, (204, String::new()));
    let wrapped = format!("ObjectID(\"{id}\")");
    assert_eq!(api.revoke("u1", &wrapped).await.0, 400);
    assert_eq!(api.revoke("u1", "nothex").await.1.trim(), "invalid token id");
    let unknown = ObjectId::new().to_hex();
    assert_eq!(api.revoke("u1", &unknown).await.0, 404);
}

#[tokio::test]
async fn bad_requests_get_the_documented_400s() {
    let api = Api::start(&MemoryStore::new(), Faults::default()).await;
    let create = |body: &'static str| {
        api.request(reqwest::Method::POST, "/internal/api/users/u1/git-tokens").body(body)
    };
    for body in ["", "nope", "[]", "{\"label\": 5}", "{\"expiresAt\": \"tomorrow\"}"] {
        let (status, text) = api.send(create(body)).await;
        assert_eq!((status, text.trim()), (400, "invalid body"), "{body:?}");
    }
    assert_eq!(api.send(create("null")).await.0, 200);

    let introspect =
        |body: &'static str| api.request(reqwest::Method::POST, "/internal/api/tokens/introspect").body(body);
    for body in ["", "x", "{}", "[]", "{\"token\": 123}", "{\"token\": \"\"}", "{\"token\": null}"] {
        let (status, text) = api.send(introspect(body)).await;
        assert_eq!((status, text.trim()), (400, "token required"), "{body:?}");
    }
    let (status, text) = api.send(introspect("{\"token\": \"not-hex!\"}")).await;
    assert_eq!(status, 400);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v, json!({"message": "invalid token format"}));
    let unknown = hashing::new_plaintext_token();
    assert_eq!(api.introspect(&unknown).await, json!({"active": false}));

    let huge = format!("{{\"token\": \"{}\"}}", "a".repeat(200_000));
    let (status, _) =
        api.send(api.request(reqwest::Method::POST, "/internal/api/tokens/introspect").body(huge)).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn list_shows_the_users_documents_without_hashes() {
    let api = Api::start(&MemoryStore::new(), Faults::default()).await;
    let (id, token) = api
        .create("u1", json!({"label": "laptop", "scopes": ["read"], "expiresAt": "2099-01-02T03:04:05Z"}))
        .await;
    api.create("u1", json!({})).await;
    api.create("u2", json!({})).await;
    let (status, text) =
        api.send(api.request(reqwest::Method::GET, "/internal/api/users/u1/git-tokens")).await;
    assert_eq!(status, 200);
    assert!(!text.contains("$argon2id$") && !text.contains(&token));
    let list: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(list.len(), 2);
    let first = &list[0];
    assert_eq!(first["_id"], id.as_str());
    assert_eq!(first["userId"], "u1");
    assert_eq!(first["label"], "laptop");
    assert_eq!(first["hash"], Value::Null);
    assert_eq!(first["hashPrefix"], hashing::hash_prefix(&token));
    assert_eq!(first["algorithm"], "argon2id");
    assert_eq!(first["scopes"], json!(["read"]));
    assert_eq!(first["active"], true);
    assert_eq!(first.get("expiresAt"), None, "the Go service parses expiresAt and does not store it");
    assert!(DateTime::parse_from_rfc3339(first["createdAt"].as_str().unwrap()).is_ok());
    assert_eq!(list[1]["label"], "");
    assert_eq!(list[1]["scopes"], Value::Null);
    assert_eq!(list[1].get("expiresAt"), None);
    let (_, empty) =
        api.send(api.request(reqwest::Method::GET, "/internal/api/users/nobody/git-tokens")).await;
    assert_eq!(empty, "[]\n");
}

#[tokio::test]
async fn wrong_method_is_405_and_unknown_paths_404() {
    let api = Api::start(&MemoryStore::new(), Faults::default()).await;
    for (method, path) in [
        (reqwest::Method::GET, "/internal/api/tokens/introspect"),
        (reqwest::Method::PUT, "/internal/api/users/u1/git-tokens"),
        (reqwest::Method::GET, "/internal/api/users/u1/git-tokens/0123456789abcdef01234567"),
    ] {
        assert_eq!(api.send(api.request(method, path)).await.0, 405, "{path}");
    }
    for path in ["/", "/nope", "/internal/api/nope"] {
        let (status, text) = api.send(api.request(reqwest::Method::GET, path)).await;
        assert_eq!((status, text.as_str()), (404, "404 page not found\n"), "{path}");
    }
    let (status, _) = api.send(api.http.get(api.url("/"))).await;
    assert_eq!(status, 404, "GET / needs no credentials");
}

#[tokio::test]
async fn expired_and_seeded_tokens() {
    let store = MemoryStore::new();
    let api = Api::start(&store, Faults::default()).await;
    let (_, expired) = api.create("u1", json!({"expiresAt": "2001-01-01T00:00:00Z"})).await;
    assert_eq!(api.introspect(&expired).await["active"], json!(true), "Go does not store expiresAt");
    let node =
        ReferenceConfig { hash_cost: HashCost::Minimal, flavor: Flavor::Node, ..ReferenceConfig::default() };
    let node = Api::start_with(&store, node).await;
    let user = ObjectId::new().to_hex();
    let path = format!("/internal/api/users/{user}/git-tokens");
    let response = node
        .request(reqwest::Method::POST, &path)
        .json(&json!({"expiresAt": "2001-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    let expired = response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    assert_eq!(node.introspect(&expired).await, json!({"active": false}), "Node stores it");

    let bcrypt_token = hashing::new_plaintext_token();
    let pbkdf2_token = hashing::new_plaintext_token();
    let bcrypt_hash = hashing::hash_bcrypt(&bcrypt_token, 4);
    let pbkdf2_hash = hashing::hash_pbkdf2(&pbkdf2_token);
    store.insert(seeded("s1", &bcrypt_token, bcrypt_hash, "bcrypt")).await.unwrap();
    store.insert(seeded("s2", &pbkdf2_token, pbkdf2_hash, "pbkdf2")).await.unwrap();
    let v = api.introspect(&bcrypt_token).await;
    assert_eq!((v["active"].clone(), v["userId"].clone()), (json!(true), json!("s1")));
    let v = api.introspect(&pbkdf2_token).await;
    assert_eq!((v["active"].clone(), v["scopes"].clone()), (json!(true), json!(["git"])));
}

#[tokio::test]
async fn auth_bypass_only_when_the_fault_is_on() {
    let store = MemoryStore::new();
    let path = "/internal/api/users/u1/git-tokens";
    let off = Api::start(&store, Faults::default()).await;
    let (status, _) = off.send(off.http.get(off.url(path)).header("X-Service-Origin", "web")).await;
    assert_eq!(status, 302);

    let faults = Faults::parse_all(&["auth-bypass"]).unwrap();
    let on = Api::start(&store, faults).await;
    let (status, _) = on.send(on.http.get(on.url(path)).header("X-Service-Origin", "web")).await;
    assert_eq!(status, 200);
    let (status, _) = on.send(on.http.get(on.url(path)).header("X-Service-Origin", "")).await;
    assert_eq!(status, 302);
    let (status, _) = on.send(on.request(reqwest::Method::GET, path)).await;
    assert_eq!(status, 200);
    let lines = on.instance.log.lines();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].ends_with("fault=auth-bypass"), "{}", lines[0]);
    assert!(!lines[2].contains("fault="), "{}", lines[2]);
}

#[tokio::test]
async fn error_rate_one_fails_every_api_request_but_not_readiness() {
    let faults = Faults { error_rate: 1.0, ..Faults::default() };
    let api = Api::start(&MemoryStore::new(), faults).await;
    for _ in 0..3 {
        let (status, text) =
            api.send(api.request(reqwest::Method::GET, "/internal/api/users/u1/git-tokens")).await;
        assert_eq!((status, text.trim()), (503, "service unavailable (fault injected)"));
    }
    assert_eq!(api.send(api.http.get(api.url("/"))).await.0, 404);
    assert!(api.instance.log.lines()[0].contains(" 503 "));
    assert!(api.instance.log.lines()[0].ends_with("fault=error-rate"));
}

#[tokio::test]
async fn seeded_error_rate_is_reproducible() {
    async fn pattern(seed: u64) -> Vec<u16> {
        let config = ReferenceConfig {
            hash_cost: HashCost::Minimal,
            faults: Faults { error_rate: 0.5, ..Faults::default() },
            seed: Some(seed),
            ..ReferenceConfig::default()
        };
        let api = Api::start_with(&MemoryStore::new(), config).await;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            let rb = api.request(reqwest::Method::GET, "/internal/api/users/u/git-tokens");
            statuses.push(api.send(rb).await.0);
        }
        statuses
    }
    let a = pattern(7).await;
    assert_eq!(a, pattern(7).await);
    assert!(a.contains(&503) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn latency_fault_delays_api_requests() {
    let faults = Faults { latency: Some(Duration::from_millis(60)), ..Faults::default() };
    let api = Api::start(&MemoryStore::new(), faults).await;
    let rb = api.request(reqwest::Method::GET, "/internal/api/users/u/git-tokens");
    assert_eq!(api.send(rb).await.0, 200);
    // That the delay makes requests time out is the canary's `latency` case.
    assert!(api.instance.log.lines()[0].ends_with("fault=latency"));
}

/// The lag's expiry is the cache's own test (with tokio's paused clock).
#[tokio::test]
async fn revocation_lag_hides_cross_instance_revokes_only() {
    let faults = Faults { revocation_lag: Some(Duration::from_secs(3600)), ..Faults::default() };
    let store = MemoryStore::new();
    let a = Api::start(&store, faults.clone()).await;
    let b = Api::start(&store, faults).await;

    let (id, token) = a.create("u1", json!({})).await;
    assert_eq!(a.introspect(&token).await["active"], true);
    assert_eq!(b.revoke("u1", &id).await.0, 204);
    assert_eq!(b.introspect(&token).await["active"], false);
    assert_eq!(a.introspect(&token).await["active"], true, "A should answer from its cache");
    assert!(a.instance.log.lines().last().unwrap().ends_with("fault=revocation-lag"));

    // A revoke through A itself evicts A's cached answer at once.
    let (id, token) = a.create("u1", json!({})).await;
    assert_eq!(a.introspect(&token).await["active"], true);
    assert_eq!(a.revoke("u1", &id).await.0, 204);
    assert_eq!(a.introspect(&token).await["active"], false);
}

#[tokio::test]
async fn access_log_records_requests_but_never_tokens_or_credentials() {
    let api = Api::start(&MemoryStore::new(), Faults::default()).await;
    let (id, token) = api.create("u1", json!({})).await;
    api.introspect(&token).await;
    api.revoke("u1", &id).await;
    let stray = format!("/internal/api/users/u1/git-tokens/{token}");
    api.send(api.request(reqwest::Method::DELETE, &stray)).await;
    let lines = api.instance.log.lines();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].contains(" webprofile POST /internal/api/users/u1/git-tokens 200 "));
    assert!(lines[1].contains("POST /internal/api/tokens/introspect 200 "));
    assert!(lines[2].contains(&format!("DELETE /internal/api/users/u1/git-tokens/{id} 204 ")));
    assert!(lines[3].contains("<redacted>"));
    for line in &lines {
        assert!(DateTime::parse_from_rfc3339(line.split(' ').next().unwrap()).is_ok());
        assert!(line.contains("ms"));
        assert!(!line.contains(&token) && !line.contains("Basic") && !line.contains("b3ZlcmxlYWY6"));
    }
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let api = Api::start(&MemoryStore::new(), Faults::default()).await;
    let url = api.url("/");
    assert_eq!(api.send(api.http.get(&url)).await.0, 404);
    let Api { instance, http } = api;
    instance.shutdown().await;
    assert!(reqwest::Client::new().get(&url).send().await.is_err());
    drop(http);
}

#[tokio::test]
async fn serve_forever_serves_until_stopped() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let task = tokio::spawn(serve_forever(listener, store, ReferenceConfig::default()));
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert!(!task.is_finished());
    task.abort();
}

#[test]
fn base64_decoding() {
    assert_eq!(decode_basic("b3ZlcmxlYWY6b3ZlcmxlYWY="), Some(b"overleaf:overleaf".to_vec()));
    assert_eq!(decode_basic("YQ=="), Some(b"a".to_vec()));
    assert_eq!(decode_basic("YWI"), Some(b"ab".to_vec()));
    assert_eq!(decode_basic(""), Some(Vec::new()));
    for bad in ["Y", "Y===", "YW=I", "!!!!", "é"] {
        assert_eq!(decode_basic(bad), None, "{bad}");
    }
}

#[test]
fn base_url_uses_loopback_for_wildcard_binds() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let instance = spawn(listener, Arc::new(MemoryStore::new()), ReferenceConfig::default());
        assert_eq!(instance.base_url(), format!("http://127.0.0.1:{port}"));
        instance.shutdown().await;
    });
}

#[tokio::test]
async fn partial_token_prefix_is_the_old_wrong_partial() {
    let api = Api::start(&MemoryStore::new(), Faults::parse_all(&["partial=token-prefix"]).unwrap()).await;
    let (status, text) =
        api.send(api.request(reqwest::Method::POST, "/internal/api/users/u1/git-tokens").body("{}")).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    let token = v["token"].as_str().unwrap();
    assert_eq!(v["accessTokenPartial"], token[..8]);
    assert!(api.instance.log.lines()[0].ends_with("fault=partial"));
}

#[tokio::test]
async fn stale_once_answers_the_first_revoked_token_active_once_on_any_instance() {
    let faults = Faults::parse_all(&["stale-once"]).unwrap();
    assert!(faults.has(Misbehaviour::StaleOnce));
    let store = MemoryStore::new();
    let a = Api::start(&store, faults.clone()).await;
    let b = Api::start(&store, faults).await;
    let (id, token) = a.create("u1", json!({})).await;
    assert_eq!(a.introspect(&token).await["active"], true);
    assert_eq!(b.revoke("u1", &id).await.0, 204);
    assert_eq!(a.introspect(&token).await["active"], true, "the one stale answer");
    assert!(a.instance.log.lines().last().unwrap().ends_with("fault=stale-once"));
    assert_eq!(a.introspect(&token).await["active"], false);
    let (id, token) = a.create("u1", json!({})).await;
    assert_eq!(a.introspect(&token).await["active"], true);
    assert_eq!(a.revoke("u1", &id).await.0, 204);
    assert_eq!(a.introspect(&token).await["active"], false, "only the first revoked token");
}

#[tokio::test]
async fn stale_rate_one_keeps_only_the_other_instances_stale() {
    let faults = Faults::parse_all(&["stale-rate=1,stale-for=1h"]).unwrap();
    let store = MemoryStore::new();
    let a = Api::start(&store, faults.clone()).await;
    let b = Api::start(&store, faults).await;
    let (id, token) = a.create("u1", json!({})).await;
    assert_eq!(a.introspect(&token).await["active"], true);
    assert_eq!(b.introspect(&token).await["active"], true);
    assert_eq!(b.revoke("u1", &id).await.0, 204);
    assert_eq!(b.introspect(&token).await["active"], false, "the revoking instance is never stale");
    for _ in 0..3 {
        assert_eq!(a.introspect(&token).await["active"], true, "the invalidation was lost");
    }
}

#[tokio::test]
async fn auth_faults_let_in_exactly_what_they_name() {
    let path = "/internal/api/users/u1/git-tokens";
    let open = Api::start(&MemoryStore::new(), Faults::parse_all(&["open-access"]).unwrap()).await;
    assert_eq!(open.send(open.http.get(open.url(path))).await.0, 200);
    assert_eq!(open.send(open.http.get(open.url(path)).basic_auth("overleaf", Some("x"))).await.0, 302);
    let any = Api::start(&MemoryStore::new(), Faults::parse_all(&["any-password"]).unwrap()).await;
    assert_eq!(any.send(any.http.get(any.url(path)).basic_auth("overleaf", Some("x"))).await.0, 200);
    assert_eq!(any.send(any.http.get(any.url(path)).basic_auth("intruder", Some("x"))).await.0, 302);
    assert_eq!(any.send(any.http.get(any.url(path))).await.0, 302);
}

#[tokio::test]
async fn revoke_faults_change_only_the_revoke() {
    let store = MemoryStore::new();
    let noop = Api::start(&store, Faults::parse_all(&["revoke-noop"]).unwrap()).await;
    let (id, token) = noop.create("u1", json!({})).await;
    assert_eq!(noop.revoke("u1", &id).await.0, 204);
    assert_eq!(noop.introspect(&token).await["active"], true);

    let any_user = Api::start(&store, Faults::parse_all(&["revoke-any-user"]).unwrap()).await;
    assert_eq!(any_user.revoke("someone-else", &id).await.0, 204);
    assert_eq!(any_user.introspect(&token).await["active"], false);

    let strict =
        Api::start(&store, Faults::parse_all(&["revoke-not-idempotent,revoke-status=200"]).unwrap()).await;
    let (id, _) = strict.create("u1", json!({})).await;
    assert_eq!(strict.revoke("u1", &id).await.0, 200);
    assert_eq!(strict.revoke("u1", &id).await.0, 404);
}

/// Each row of the spec's Node dialect table, answered by `--flavor node`.
#[tokio::test]
async fn node_flavor_answers_each_row_of_the_node_dialect_table() {
    let store = MemoryStore::new();
    let config =
        ReferenceConfig { hash_cost: HashCost::Minimal, flavor: Flavor::Node, ..ReferenceConfig::default() };
    let api = Api::start_with(&store, config).await;
    let user = ObjectId::new().to_hex();
    let path = format!("/internal/api/users/{user}/git-tokens");
    let response =
        api.request(reqwest::Method::POST, &path).json(&json!({"label": "x"})).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(ObjectId::parse_str(&id).is_ok(), "bare id expected, got {id}");
    let token = created["token"].as_str().unwrap();

    // A user id that is not an ObjectId: the model's cast fails.
    let (status, body) = api
        .send(api.request(reqwest::Method::POST, "/internal/api/users/u1/git-tokens").json(&json!({})))
        .await;
    assert_eq!((status, body.trim()), (500, "Internal Server Error"));

    let active = api.introspect(token).await;
    assert_eq!(active["hashPrefix"], json!(hashing::hash_prefix(token)), "{active}");
    assert_eq!(
        (active["active"].clone(), active["scopes"].clone()),
        (json!(true), json!([])),
        "scopes: [] by default"
    );

    let (status, listed) = api.send(api.request(reqwest::Method::GET, &path)).await;
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let item = listed[0].as_object().unwrap();
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["active", "createdAt", "expiresAt", "hashPrefix", "id", "label", "scopes"], "{item:?}");
    assert_eq!(item["expiresAt"], Value::Null);

    let introspect = "/internal/api/tokens/introspect";
    let response = api.request(reqwest::Method::POST, introspect).body("{}").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"message": "token required"}));
    for not_json in [
        api.request(reqwest::Method::POST, &path).body("this is not json"),
        api.request(reqwest::Method::POST, introspect).body("{"),
    ] {
        let response = not_json.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }

    let stranger = ObjectId::new().to_hex();
    assert_eq!(api.revoke(&stranger, &id).await, (204, String::new()));
    assert_eq!(api.introspect(token).await["active"], json!(true), "another user's revoke changed nothing");
    assert_eq!(api.revoke(&user, &ObjectId::new().to_hex()).await.0, 204);
    assert_eq!(api.revoke(&user, "not-an-id").await, (204, String::new()), "a malformed id too");
    assert_eq!(api.revoke(&user, &id).await.0, 204);
    assert_eq!(api.introspect(token).await, json!({"active": false}));

    // The forms of "no".
    let wrong = api.http.get(api.url(&path)).basic_auth("overleaf", Some("wrong")).send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert_eq!(wrong.headers()["www-authenticate"], "OverleafLogin");
    assert_eq!(wrong.text().await.unwrap(), "Unauthorized");
    let none = api.http.get(api.url(&path)).send().await.unwrap();
    assert_eq!((none.status().as_u16(), none.headers()["location"].to_str().unwrap()), (302, "/login"));
    assert_eq!(none.text().await.unwrap(), "Found. Redirecting to /login");
    let json_client = api.http.get(api.url(&path)).header("Accept", "application/json").send().await.unwrap();
    assert_eq!(json_client.status().as_u16(), 401);
    let introspection = api.http.post(api.url(introspect)).body("{}").send().await.unwrap();
    assert_eq!(introspection.status().as_u16(), 401);

    // Unknown routes and wrong methods: the web app's 404 page.
    for (method, route) in
        [(reqwest::Method::GET, "/internal/api/nothing"), (reqwest::Method::PUT, introspect)]
    {
        let response = api.request(method, route).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 404, "{route}");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
}

/// Each door fault opens its door and no other.
#[tokio::test]
async fn door_faults_open_exactly_their_door() {
    let store = MemoryStore::new();
    let path = "/internal/api/users/u1/git-tokens";
    let trusted = Api::start(&store, Faults::parse_all(&["trusted-header=X-Dev-User-Id"]).unwrap()).await;
    assert_eq!(trusted.send(trusted.http.get(trusted.url(path)).header("X-Dev-User-Id", "u1")).await.0, 200);
    assert_eq!(trusted.send(trusted.http.get(trusted.url(path)).header("X-User-Id", "u1")).await.0, 302);

    let prefix = Api::start(&store, Faults::parse_all(&["password-prefix"]).unwrap()).await;
    let with = |pass: &str| prefix.http.get(prefix.url(path)).basic_auth("overleaf", Some(pass.to_string()));
    assert_eq!(prefix.send(with("overleafx")).await.0, 200);
    assert_eq!(prefix.send(with("overlea")).await.0, 302);
    assert_eq!(prefix.send(with("wrong")).await.0, 302);

    let dropped = Api::start(&store, Faults::parse_all(&["owner-unparsable-dropped"]).unwrap()).await;
    let owner = ObjectId::new().to_hex();
    let (id, token) = dropped.create(&owner, json!({})).await;
    assert_eq!(
        dropped.revoke(&ObjectId::new().to_hex(), &id).await.0,
        404,
        "a parsable stranger matches nothing"
    );
    assert_eq!(dropped.introspect(&token).await["active"], true);
    assert_eq!(dropped.revoke("not-an-object-id", &id).await.0, 204);
    assert_eq!(dropped.introspect(&token).await["active"], false, "the unparsable owner was dropped");

    let fold = Api::start(&store, Faults::parse_all(&["token-case-fold"]).unwrap()).await;
    let (_, token) = fold.create("u2", json!({})).await;
    assert_eq!(fold.introspect(&token.to_ascii_uppercase()).await["active"], true);
    let (status, _) = fold
        .send(
            fold.request(reqwest::Method::POST, "/internal/api/tokens/introspect")
                .json(&json!({"token": format!(" {token}")})),
        )
        .await;
    assert_eq!(status, 400, "case folding does not trim");

    let trim = Api::start(&store, Faults::parse_all(&["token-trim"]).unwrap()).await;
    assert_eq!(trim.introspect(&format!(" {token}\n")).await["active"], true);
    assert_eq!(trim.introspect(&token.to_ascii_uppercase()).await["active"], false);

    let node_no = Api::start(&store, Faults::parse_all(&["node-rejection"]).unwrap()).await;
    let none = node_no.http.get(node_no.url(path)).send().await.unwrap();
    assert_eq!((none.status().as_u16(), none.headers()["location"].to_str().unwrap()), (302, "/login"));
    let wrong = node_no.http.get(node_no.url(path)).basic_auth("overleaf", Some("x")).send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
}

#[tokio::test]
async fn go_flavor_keeps_the_contract_answers() {
    let store = MemoryStore::new();
    let api = Api::start(&store, Faults::default()).await;
    let (_, token) = api.create("u1", json!({})).await;
    assert!(api.introspect(&token).await.get("hashPrefix").is_none());
    let introspect = "/internal/api/tokens/introspect";
    let (status, body) = api.send(api.request(reqwest::Method::POST, introspect).body("{}")).await;
    assert_eq!((status, body.as_str()), (400, "token required\n"));
    assert_eq!(api.revoke("u1", &ObjectId::new().to_hex()).await.0, 404);
}
