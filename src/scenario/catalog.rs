//! Every check the harness makes: a stable id, its kind, the clause of the
//! contract it enforces, and the reference faults that prove it can fail
//! (`parity checks`; `parity canary` runs each fault and demands that its
//! check catches it).

use serde::{Deserialize, Serialize};

/// The contract the checks enforce.
pub const API_SPEC: &str = "webprofile-api.md";

/// What a check judges, which decides how it judges.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// Who may read, create or revoke what: the same in every dialect, judged
    /// by the effect (did data come back, was a token created or revoked,
    /// did a token that is not the one issued introspect active?), never by
    /// the form of the answer. A failure is class `security`.
    Security,
    /// What the service does, the same in every dialect: a token works once
    /// created, stops once revoked, seeded hashes verify.
    Behaviour,
    /// The form of an answer, which `--dialect` chooses (webprofile-api.md,
    /// "The Node dialect"): statuses, bodies, the form of "no".
    Dialect,
}

impl CheckKind {
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::Security => "security",
            CheckKind::Behaviour => "behaviour",
            CheckKind::Dialect => "dialect",
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct CheckSpec {
    /// Stable: JUnit names, artifacts and dashboards key on it.
    pub id: &'static str,
    pub kind: CheckKind,
    /// What a pass means, in a few words.
    pub asserts: &'static str,
    /// The clause enforced: a section of the API spec, or the RFC it follows.
    pub clause: &'static str,
    /// A `--fault` spec that makes a correct reference fail this check.
    pub proven_by: &'static str,
    /// Further faults it must catch: the other doors of a security family.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub also_proven_by: &'static [&'static str],
}

const fn check(
    id: &'static str,
    kind: CheckKind,
    asserts: &'static str,
    clause: &'static str,
    proven_by: &'static str,
) -> CheckSpec {
    CheckSpec { id, kind, asserts, clause, proven_by, also_proven_by: &[] }
}

const fn family(
    id: &'static str,
    asserts: &'static str,
    clause: &'static str,
    proven_by: &'static str,
    also_proven_by: &'static [&'static str],
) -> CheckSpec {
    CheckSpec { id, kind: CheckKind::Security, asserts, clause, proven_by, also_proven_by }
}

impl CheckSpec {
    /// Every fault this check must catch.
    pub fn faults(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.proven_by).chain(self.also_proven_by.iter().copied())
    }
}

/// The revocation smoke (`node.parity.*`).
pub const SMOKE: CheckSpec = check(
    "revocation_immediacy",
    CheckKind::Behaviour,
    "once revoke returned, introspect on the same instance says active:false, every poll",
    "webprofile-api.md §Revocation immediacy; RFC 7009 §2.1 (revocation takes effect at once)",
    "stale-once",
);

/// Every cross-instance iteration (`cross-instance-*`).
pub const CROSS: CheckSpec = check(
    "cross_instance_immediacy",
    CheckKind::Behaviour,
    "a token revoked through one instance is inactive on every other, with no stale window",
    "webprofile-api.md §Cross-instance immediacy; RFC 7009 §2.1",
    "stale-rate=1",
);

/// The contract suite, in the order it runs (`test.parity.out`).
pub const CONTRACT: [CheckSpec; 23] = [
    check(
        "create_shape",
        CheckKind::Dialect,
        "create answers the dialect's status (Go 200, Node 201), an id, a 64-hex token and accessTokenPartial = hashPrefix (first 8 hex of SHA-256(token))",
        "webprofile-api.md §Endpoints: create; notes on accessTokenPartial and the id wrapper; §The Node dialect",
        "partial=token-prefix",
    ),
    check(
        "active_after_create",
        CheckKind::Behaviour,
        "a token just created introspects active:true with its userId",
        "RFC 7662 §2.2 (active); webprofile-api.md §Endpoints: introspect",
        "never-active",
    ),
    check(
        "list_hides_hash",
        CheckKind::Security,
        "the list holds the created token and no hash",
        "webprofile-api.md §Endpoints: list (hash set to null)",
        "list-hash",
    ),
    check(
        "revoke_returns_204",
        CheckKind::Dialect,
        "revoke answers 204 (or a status given with --accept-revoke-status)",
        "webprofile-api.md §Endpoints: revoke; note on 200 instead of 204",
        "revoke-status=200",
    ),
    check(
        "inactive_after_revoke",
        CheckKind::Behaviour,
        "right after revoke returned, introspect says active:false",
        "RFC 7009 §2.1; RFC 7662 §2.2; webprofile-api.md §Revocation immediacy",
        "revoke-noop",
    ),
    check(
        "revoke_is_idempotent",
        CheckKind::Dialect,
        "a second revoke of the same id answers 204 again",
        "webprofile-api.md §Endpoints, notes: revoke is idempotent",
        "revoke-not-idempotent",
    ),
    check(
        "unknown_token_inactive",
        CheckKind::Security,
        "an unknown well-formed hex token introspects active:false",
        "webprofile-api.md §Endpoints, notes: unknown token → 200 {\"active\": false}",
        "unknown-active",
    ),
    check(
        "seeded_bcrypt_token_active",
        CheckKind::Behaviour,
        "a token seeded into the store with a bcrypt hash introspects active:true",
        "webprofile-api.md §Storage: bcrypt $2a$/$2b$/$2y$ accepted",
        "reject-bcrypt",
    ),
    check(
        "seeded_pbkdf2_token_active",
        CheckKind::Behaviour,
        "a token seeded with a pbkdf2$salt$key hash introspects active:true",
        "webprofile-api.md §Storage: PBKDF2-HMAC-SHA256 accepted",
        "reject-pbkdf2",
    ),
    check(
        "expired_token_inactive",
        CheckKind::Security,
        "a seeded token whose expiresAt has passed introspects active:false",
        "webprofile-api.md §Storage: expiresAt in the past means inactive",
        "ignore-expiry",
    ),
    check(
        "unauthenticated_rejected",
        CheckKind::Security,
        "a list request without credentials gets none of the user's tokens (any form of no passes)",
        "webprofile-api.md §Authentication",
        "open-access",
    ),
    check(
        "wrong_password_rejected",
        CheckKind::Security,
        "a list request with a wrong password gets none of the user's tokens",
        "webprofile-api.md §Authentication",
        "any-password",
    ),
    check(
        "service_origin_header_does_not_bypass_auth",
        CheckKind::Security,
        "X-Service-Origin without credentials gets none of the user's tokens (the known weakness is reported)",
        "webprofile-api.md §Authentication: known weakness",
        "auth-bypass",
    ),
    check(
        "rejection_form",
        CheckKind::Dialect,
        "no credentials and wrong credentials are turned away in the dialect's form (Go: 302 to /auth/login; Node: 302 to /login without credentials, 401 with wrong ones)",
        "webprofile-api.md §Authentication; §The Node dialect",
        "node-rejection",
    ),
    check(
        "malformed_token_400",
        CheckKind::Dialect,
        "introspecting a token that is not hex answers 400",
        "webprofile-api.md §Endpoints: introspect, token not hex → 400",
        "lenient-introspect",
    ),
    check(
        "missing_token_400",
        CheckKind::Dialect,
        "introspecting {} answers 400 (token required)",
        "webprofile-api.md §Endpoints: introspect, missing token → 400",
        "lenient-introspect",
    ),
    check(
        "create_invalid_body_400",
        CheckKind::Dialect,
        "a create body that is not JSON answers 400",
        "webprofile-api.md §Endpoints: create, body not JSON → 400",
        "lenient-create",
    ),
    check(
        "bad_token_id_400",
        CheckKind::Dialect,
        "revoking an id that is not 24 hex answers the dialect's status (Go 400 invalid token id, Node 204)",
        "webprofile-api.md §Endpoints: revoke, invalid token id → 400; §The Node dialect",
        "bad-id-404",
    ),
    check(
        "other_users_token_404",
        CheckKind::Dialect,
        "revoking another user's token id answers the dialect's status (Go 404, Node 204); whether it revoked anything is owner_scope_holds's to judge",
        "webprofile-api.md §Endpoints: revoke, another user's id → 404; §The Node dialect",
        "revoke-any-user",
    ),
    family(
        "identity_headers_do_not_bypass_auth",
        "no identity header a proxy or a development set-up might trust (X-Forwarded-User, X-Dev-User-Id, X-Original-URL, …) lets a request without credentials create, list, revoke or introspect user B's tokens",
        "webprofile-api.md §Authentication (HTTP Basic on every endpoint; the X-Service-Origin weakness)",
        "trusted-header=x-dev-user-id",
        &["auth-bypass"],
    ),
    family(
        "credential_variants_rejected",
        "no malformed, partial or doubled credential (wrong or empty password, user only, a password with the right prefix, another scheme or case, two Authorization headers, an oversized one) creates, lists, revokes or introspects user B's tokens",
        "webprofile-api.md §Authentication; RFC 7617 (Basic)",
        "password-prefix",
        &["any-password"],
    ),
    family(
        "owner_scope_holds",
        "user B's token is neither revoked nor listed through another user's path, nor through an owner segment the store cannot parse (not hex, empty, upper case, percent-encoded, padded, `..`, extra segments)",
        "webprofile-api.md §Endpoints: revoke, another user's id → 404, nothing revoked",
        "owner-unparsable-dropped",
        &["revoke-any-user"],
    ),
    family(
        "token_confusion_never_active",
        "introspection answers active:true for user B's exact token only: never for it upper-cased, padded, one character short or long, with a NUL, as a number, array or object, or behind a duplicated key",
        "webprofile-api.md §Endpoints: introspect; §Storage (the hash verifies the plaintext as sent)",
        "token-case-fold",
        &["token-trim"],
    ),
];

/// Every check, in run order: the smoke, the contract suite, the cross-instance iterations.
pub fn all() -> impl Iterator<Item = &'static CheckSpec> {
    std::iter::once(&SMOKE).chain(CONTRACT.iter()).chain(std::iter::once(&CROSS))
}

/// The contract this version checks, as a short fingerprint of every check's
/// id, clause and assertion: two runs check the same contract when theirs
/// agree (`parity merge` joins only those). The API spec itself has no version.
pub fn fingerprint() -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for check in all() {
        for part in [check.id, check.clause, check.asserts] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
    }
    format!("checks-{}", &hex::encode(hash.finalize())[..12])
}

/// The spec of a contract check by id.
pub fn contract(id: &str) -> &'static CheckSpec {
    CONTRACT.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no contract check `{id}` in the catalog"))
}

/// `parity checks`: the table for people.
pub fn render_table() -> String {
    let width = all().map(|c| c.id.len()).max().unwrap_or(0);
    let fault_width = all().map(|c| c.proven_by.len()).max().unwrap_or(0);
    let mut out =
        format!("{:width$}  {:9}  {:fault_width$}  clause — asserts\n", "check", "kind", "proven by --fault");
    for c in all() {
        out += &format!(
            "{:width$}  {:9}  {:fault_width$}  {} — {}\n",
            c.id,
            c.kind.name(),
            c.proven_by,
            c.clause,
            c.asserts
        );
        for fault in c.also_proven_by {
            out += &format!(
                "{:width$}  {:9}  {fault:fault_width$}  (another door of the same family)\n",
                "", ""
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::faults::Faults;

    #[test]
    fn ids_are_unique_and_every_fault_parses() {
        let mut ids: Vec<&str> = all().map(|c| c.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate check id");
        for c in all() {
            for fault in c.faults() {
                let faults = Faults::parse_all(&[fault]).unwrap_or_else(|e| panic!("{}: {e}", c.id));
                assert!(!faults.is_empty(), "{}", c.id);
            }
            assert!(c.clause.contains(API_SPEC) || c.clause.contains("RFC"), "{}", c.id);
        }
    }

    #[test]
    fn the_table_names_every_check_with_its_fault() {
        let table = render_table();
        for c in all() {
            let line = table.lines().find(|l| l.starts_with(c.id)).unwrap_or_else(|| panic!("{}", c.id));
            assert!(line.contains(c.proven_by) && line.contains(c.clause), "{line}");
            assert!(line.contains(c.kind.name()), "{line}");
            for fault in c.also_proven_by {
                assert!(table.contains(fault), "{fault}");
            }
        }
    }
}
