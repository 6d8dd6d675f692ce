//! Every check the harness makes: a stable id, the clause of the contract it
//! enforces, and the reference fault that proves it can fail (`parity checks`;
//! `parity canary` runs each fault and demands that its check catches it).

use serde::Serialize;

/// The contract the checks enforce.
pub const API_SPEC: &str = "webprofile-api.md";

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct CheckSpec {
    /// Stable: JUnit names, artifacts and dashboards key on it.
    pub id: &'static str,
    /// What a pass means, in a few words.
    pub asserts: &'static str,
    /// The clause enforced: a section of the API spec, or the RFC it follows.
    pub clause: &'static str,
    /// A `--fault` spec that makes a correct reference fail this check.
    pub proven_by: &'static str,
}

const fn check(
    id: &'static str,
    asserts: &'static str,
    clause: &'static str,
    proven_by: &'static str,
) -> CheckSpec {
    CheckSpec { id, asserts, clause, proven_by }
}

/// The revocation smoke (`node.parity.*`).
pub const SMOKE: CheckSpec = check(
    "revocation_immediacy",
    "once revoke returned, introspect on the same instance says active:false, every poll",
    "webprofile-api.md §Revocation immediacy; RFC 7009 §2.1 (revocation takes effect at once)",
    "stale-once",
);

/// Every cross-instance iteration (`cross-instance-*`).
pub const CROSS: CheckSpec = check(
    "cross_instance_immediacy",
    "a token revoked through one instance is inactive on every other, with no stale window",
    "webprofile-api.md §Cross-instance immediacy; RFC 7009 §2.1",
    "stale-rate=1",
);

/// The contract suite, in the order it runs (`test.parity.out`).
pub const CONTRACT: [CheckSpec; 18] = [
    check(
        "create_shape",
        "create answers an id, a 64-hex token and accessTokenPartial = hashPrefix (first 8 hex of SHA-256(token))",
        "webprofile-api.md §Endpoints: create; notes on accessTokenPartial and the id wrapper",
        "partial=token-prefix",
    ),
    check(
        "active_after_create",
        "a token just created introspects active:true with its userId",
        "RFC 7662 §2.2 (active); webprofile-api.md §Endpoints: introspect",
        "never-active",
    ),
    check(
        "list_hides_hash",
        "the list holds the created token and no hash",
        "webprofile-api.md §Endpoints: list (hash set to null)",
        "list-hash",
    ),
    check(
        "revoke_returns_204",
        "revoke answers 204 (or a status given with --accept-revoke-status)",
        "webprofile-api.md §Endpoints: revoke; note on 200 instead of 204",
        "revoke-status=200",
    ),
    check(
        "inactive_after_revoke",
        "right after revoke returned, introspect says active:false",
        "RFC 7009 §2.1; RFC 7662 §2.2; webprofile-api.md §Revocation immediacy",
        "revoke-noop",
    ),
    check(
        "revoke_is_idempotent",
        "a second revoke of the same id answers 204 again",
        "webprofile-api.md §Endpoints, notes: revoke is idempotent",
        "revoke-not-idempotent",
    ),
    check(
        "unknown_token_inactive",
        "an unknown well-formed hex token introspects active:false",
        "webprofile-api.md §Endpoints, notes: unknown token → 200 {\"active\": false}",
        "unknown-active",
    ),
    check(
        "seeded_bcrypt_token_active",
        "a token seeded into the store with a bcrypt hash introspects active:true",
        "webprofile-api.md §Storage: bcrypt $2a$/$2b$/$2y$ accepted",
        "reject-bcrypt",
    ),
    check(
        "seeded_pbkdf2_token_active",
        "a token seeded with a pbkdf2$salt$key hash introspects active:true",
        "webprofile-api.md §Storage: PBKDF2-HMAC-SHA256 accepted",
        "reject-pbkdf2",
    ),
    check(
        "expired_token_inactive",
        "a seeded token whose expiresAt has passed introspects active:false",
        "webprofile-api.md §Storage: expiresAt in the past means inactive",
        "ignore-expiry",
    ),
    check(
        "unauthenticated_rejected",
        "a request without credentials is refused (302 to /auth/login; 401/403 accepted)",
        "webprofile-api.md §Authentication",
        "open-access",
    ),
    check(
        "wrong_password_rejected",
        "a request with a wrong password is refused",
        "webprofile-api.md §Authentication",
        "any-password",
    ),
    check(
        "service_origin_header_does_not_bypass_auth",
        "X-Service-Origin without credentials is refused (the known weakness is reported)",
        "webprofile-api.md §Authentication: known weakness",
        "auth-bypass",
    ),
    check(
        "malformed_token_400",
        "introspecting a token that is not hex answers 400",
        "webprofile-api.md §Endpoints: introspect, token not hex → 400",
        "lenient-introspect",
    ),
    check(
        "missing_token_400",
        "introspecting {} answers 400 (token required)",
        "webprofile-api.md §Endpoints: introspect, missing token → 400",
        "lenient-introspect",
    ),
    check(
        "create_invalid_body_400",
        "a create body that is not JSON answers 400",
        "webprofile-api.md §Endpoints: create, body not JSON → 400",
        "lenient-create",
    ),
    check(
        "bad_token_id_400",
        "revoking an id that is not 24 hex answers 400",
        "webprofile-api.md §Endpoints: revoke, invalid token id → 400",
        "bad-id-404",
    ),
    check(
        "other_users_token_404",
        "revoking another user's token id answers 404 (the Node service's 204 is accepted) and revokes nothing",
        "webprofile-api.md §Endpoints: revoke, another user's id → 404; §The Node dialect",
        "revoke-any-user",
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
    let mut out = format!("{:width$}  {:fault_width$}  clause — asserts\n", "check", "proven by --fault");
    for c in all() {
        out += &format!("{:width$}  {:fault_width$}  {} — {}\n", c.id, c.proven_by, c.clause, c.asserts);
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
            let faults = Faults::parse_all(&[c.proven_by]).unwrap_or_else(|e| panic!("{}: {e}", c.id));
            assert!(!faults.is_empty(), "{}", c.id);
            assert!(c.clause.contains(API_SPEC) || c.clause.contains("RFC"), "{}", c.id);
        }
    }

    #[test]
    fn the_table_names_every_check_with_its_fault() {
        let table = render_table();
        for c in all() {
            let line = table.lines().find(|l| l.starts_with(c.id)).unwrap_or_else(|| panic!("{}", c.id));
            assert!(line.contains(c.proven_by) && line.contains(c.clause), "{line}");
        }
    }
}
