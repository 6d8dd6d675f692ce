//! Token generation and the three hash formats the webprofile service accepts.

use std::fmt;
use std::str::FromStr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use sha2::{Digest, Sha256};

const PBKDF2_ITERATIONS: u32 = 100_000;
const PBKDF2_SALT_LEN: usize = 16;
const PBKDF2_KEY_LEN: usize = 64;
const ARGON2_SALT_LEN: usize = 16;
const ARGON2_KEY_LEN: usize = 32;

// Stored hashes are untrusted: a crafted cost could pin a core for hours or
// allocate gigabytes, so verification refuses parameters far beyond any
// realistic deployment (the service itself uses m=65536, bcrypt ≤ 12).
const MAX_ARGON2_M_KIB: u32 = 1 << 20;
const MAX_ARGON2_T: u32 = 16;
const MAX_BCRYPT_COST: u32 = 17;
const MAX_PBKDF2_KEY_LEN: usize = 256;

/// How expensive newly created argon2id hashes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HashCost {
    /// What the real service uses: m=65536 KiB, t=1, p=<available parallelism>.
    #[default]
    Default,
    /// The smallest parameters argon2 allows (m=8, t=1, p=1), so that
    /// benchmarks measure the harness rather than argon2.
    Minimal,
}

impl HashCost {
    fn params(self) -> (u32, u32, u32) {
        match self {
            HashCost::Default => {
                // Go's argon2.IDKey takes the thread count as a uint8.
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                (65_536, 1, cores.clamp(1, 255) as u32)
            }
            HashCost::Minimal => (Params::MIN_M_COST, 1, 1),
        }
    }
}

impl FromStr for HashCost {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "default" => Ok(HashCost::Default),
            "minimal" => Ok(HashCost::Minimal),
            other => Err(format!("unknown hash cost {other:?} (expected \"default\" or \"minimal\")")),
        }
    }
}

impl fmt::Display for HashCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HashCost::Default => "default",
            HashCost::Minimal => "minimal",
        })
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A fresh token: 32 random bytes as 64 lowercase hex chars.
/// How many hashes (or verifications) the process runs at once: one per
/// core. A default-cost argon2id takes 64 MiB; unbounded, a run at
/// `--concurrency 256` on the embedded stack took 6.6 GB.
pub fn concurrent_hashes() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16)
}

/// Runs a hash or a verification on the blocking pool, at most
/// [`concurrent_hashes`] at once; the rest wait their turn.
pub async fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let permits = PERMITS.get_or_init(|| tokio::sync::Semaphore::new(concurrent_hashes()));
    let _permit = permits.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

pub fn new_plaintext_token() -> String {
    hex::encode(random_bytes::<32>())
}

/// First 8 hex chars of SHA-256(plaintext): the candidate lookup key.
pub fn hash_prefix(plaintext: &str) -> String {
    let digest = Sha256::digest(plaintext.as_bytes());
    hex::encode(&digest[..4])
}

/// Non-empty and made only of ASCII hex digits.
pub fn is_token_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// argon2id PHC string: `$argon2id$v=19$m=..,t=..,p=..$<salt>$<key>`.
pub fn hash_argon2id(plaintext: &str, cost: HashCost) -> String {
    let (m, t, p) = cost.params();
    let params = Params::new(m, t, p, Some(ARGON2_KEY_LEN))
        .expect("argon2 parameters are constants within the crate's limits");
    let salt = SaltString::encode_b64(&random_bytes::<ARGON2_SALT_LEN>())
        .expect("a 16-byte salt is within SaltString's limits");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(plaintext.as_bytes(), &salt)
        .expect("argon2id hashing with valid parameters and salt cannot fail")
        .to_string()
}

/// bcrypt `$2b$` hash; the cost is clamped to bcrypt's valid range 4..=31.
pub fn hash_bcrypt(plaintext: &str, cost: u32) -> String {
    bcrypt::hash_with_result(plaintext, cost.clamp(4, 31))
        .expect("bcrypt hashing with a valid cost cannot fail")
        .format_for_version(bcrypt::Version::TwoB)
}

/// `pbkdf2$<salt hex>$<key hex>`: PBKDF2-HMAC-SHA256, 100000 iterations,
/// 16-byte salt, 64-byte key.
pub fn hash_pbkdf2(plaintext: &str) -> String {
    let salt = random_bytes::<PBKDF2_SALT_LEN>();
    let mut key = [0u8; PBKDF2_KEY_LEN];
    parity_kdf::pbkdf2_hmac_sha256(plaintext.as_bytes(), &salt, PBKDF2_ITERATIONS, &mut key);
    format!("pbkdf2${}${}", hex::encode(salt), hex::encode(key))
}

/// The algorithm of a stored hash, by its format: "argon2id", "bcrypt" or "pbkdf2".
pub fn algorithm_of(stored_hash: &str) -> Option<&'static str> {
    if stored_hash.starts_with("$argon2id$") {
        Some("argon2id")
    } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| stored_hash.starts_with(p)) {
        Some("bcrypt")
    } else if stored_hash.starts_with("pbkdf2$") {
        Some("pbkdf2")
    } else {
        None
    }
}

/// Checks `plaintext` against a stored hash in any accepted format.
/// Unknown or malformed formats yield `false`.
pub fn verify(plaintext: &str, stored_hash: &str) -> bool {
    match algorithm_of(stored_hash) {
        Some("argon2id") => verify_argon2id(plaintext, stored_hash),
        Some("bcrypt") => verify_bcrypt(plaintext, stored_hash),
        Some(_) => stored_hash.strip_prefix("pbkdf2$").is_some_and(|rest| verify_pbkdf2(plaintext, rest)),
        None => false,
    }
}

fn verify_argon2id(plaintext: &str, stored_hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored_hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_ARGON2_M_KIB || params.t_cost() > MAX_ARGON2_T {
        return false;
    }
    // verify_password takes algorithm, version and parameters from the hash.
    Argon2::default().verify_password(plaintext.as_bytes(), &parsed).is_ok()
}

fn verify_bcrypt(plaintext: &str, stored_hash: &str) -> bool {
    let cost = stored_hash.get(4..6).and_then(|c| c.parse::<u32>().ok());
    match cost {
        Some(c) if c <= MAX_BCRYPT_COST => bcrypt::verify(plaintext, stored_hash).unwrap_or(false),
        _ => false,
    }
}

fn verify_pbkdf2(plaintext: &str, salt_and_key: &str) -> bool {
    let Some((salt_hex, key_hex)) = salt_and_key.split_once('$') else {
        return false;
    };
    let (Ok(salt), Ok(expected)) = (hex::decode(salt_hex), hex::decode(key_hex)) else {
        return false;
    };
    if salt.is_empty() || expected.is_empty() || expected.len() > MAX_PBKDF2_KEY_LEN {
        return false;
    }
    let mut derived = vec![0u8; expected.len()];
    parity_kdf::pbkdf2_hmac_sha256(plaintext.as_bytes(), &salt, PBKDF2_ITERATIONS, &mut derived);
    constant_time_eq(&derived, &expected)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// SplitMix64's finalizer: a fixed, well-spread 64-bit hash, stable across
/// versions (unlike a library RNG), for what a seed must decide the same way
/// every time: shard shares, seeded users, seeded faults.
pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_tokens_are_64_lowercase_hex_and_distinct() {
        let a = new_plaintext_token();
        let b = new_plaintext_token();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_ne!(a, b);
    }

    #[test]
    fn hash_prefix_is_first_8_hex_of_sha256() {
        // SHA-256("abc") = ba7816bf8f01cfea...
        assert_eq!(hash_prefix("abc"), "ba7816bf");
    }

    #[test]
    fn token_hex_check() {
        assert!(is_token_hex("00aaFF19"));
        assert!(!is_token_hex(""));
        assert!(!is_token_hex("xyz"));
        assert!(!is_token_hex("ab cd"));
        assert!(!is_token_hex("é"));
    }

    #[test]
    fn hash_cost_parses() {
        assert_eq!("default".parse::<HashCost>(), Ok(HashCost::Default));
        assert_eq!("minimal".parse::<HashCost>(), Ok(HashCost::Minimal));
        assert!("cheap".parse::<HashCost>().unwrap_err().contains("cheap"));
        assert_eq!(HashCost::Minimal.to_string(), "minimal");
    }

    #[test]
    fn argon2id_round_trip_and_format() {
        let token = new_plaintext_token();
        let hash = hash_argon2id(&token, HashCost::Minimal);
        assert!(hash.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{hash}");
        assert!(verify(&token, &hash));
        assert!(!verify("0000", &hash));
    }

    #[test]
    fn argon2id_default_cost_uses_service_parameters() {
        let hash = hash_argon2id("abc", HashCost::Default);
        assert!(hash.starts_with("$argon2id$v=19$m=65536,t=1,p="), "{hash}");
        let parts: Vec<&str> = hash.split('$').collect();
        // "", "argon2id", "v=19", params, salt, key: 16 and 32 bytes, unpadded b64.
        assert_eq!(parts.len(), 6);
        assert_eq!(parts[4].len(), 22);
        assert_eq!(parts[5].len(), 43);
        assert!(verify("abc", &hash));
    }

    #[test]
    fn bcrypt_round_trip() {
        let hash = hash_bcrypt("secret-token", 4);
        assert!(hash.starts_with("$2b$04$"), "{hash}");
        assert!(verify("secret-token", &hash));
        assert!(!verify("other", &hash));
        let as_2a = hash.replacen("$2b$", "$2a$", 1);
        assert!(verify("secret-token", &as_2a));
        let as_2y = hash.replacen("$2b$", "$2y$", 1);
        assert!(verify("secret-token", &as_2y));
    }

    #[test]
    fn pbkdf2_round_trip_and_format() {
        let hash = hash_pbkdf2("secret-token");
        let parts: Vec<&str> = hash.split('$').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "pbkdf2");
        assert_eq!(parts[1].len(), 32);
        assert_eq!(parts[2].len(), 128);
        assert!(verify("secret-token", &hash));
        assert!(!verify("secret-tokem", &hash));
    }

    #[test]
    fn garbage_hashes_are_rejected_without_panicking() {
        let garbage = [
            "",
            "$",
            "plain",
            "$argon2id$",
            "$argon2id$v=19$m=8,t=1,p=1$$",
            "$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHQ$a2V5",
            "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
            "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
            "$2b$",
            "$2b$xx$abc",
            "$2b$31$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
            "$2y$04$short",
            "pbkdf2$",
            "pbkdf2$$",
            "pbkdf2$zz$zz",
            "pbkdf2$00$",
            "pbkdf2$0011$0011$0011",
        ];
        for g in garbage {
            assert!(!verify("abc", g), "{g:?} verified");
        }
    }

    #[test]
    fn independent_vectors_verify() {
        // Python: hashlib.pbkdf2_hmac("sha256", b"token", b"salt", 100000, 64).hex()
        let pbkdf2 = concat!(
            "pbkdf2$73616c74$",
            "13fa3563c03ef2c071280a16c5cac9a086106328275951a21b0b0ea635db7902",
            "eae2e918156a88bceb87dd3690e333352eeab143295efc527ddf0e0db1f3811c"
        );
        assert!(verify("token", pbkdf2));
        assert!(!verify("tokem", pbkdf2));
        // OpenBSD / Openwall bcrypt test vector.
        let bcrypt = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        assert!(verify("U*U", bcrypt));
        assert!(!verify("U*V", bcrypt));
    }
}
