//! PBKDF2-HMAC-SHA256 behind a non-generic function, in a crate of its own.
//!
//! `pbkdf2_hmac::<Sha256>` is generic: called from the harness, it would be
//! compiled at the harness's opt-level, and 100,000 rounds of unoptimized
//! HMAC take seconds per verification. Here it is instantiated once, in a
//! crate that debug builds optimize (`[profile.dev.package.parity-kdf]` in
//! the root `Cargo.toml`), so the harness itself can build unoptimized —
//! which more than halves its compile time.

/// Fills `out` with PBKDF2-HMAC-SHA256 of `password` and `salt` after `rounds` rounds.
pub fn pbkdf2_hmac_sha256(password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, rounds, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7914 §11 test vector ("passwd", "salt", 1 round, 64 bytes).
    #[test]
    fn matches_the_rfc_7914_vector() {
        let mut out = [0u8; 64];
        pbkdf2_hmac_sha256(b"passwd", b"salt", 1, &mut out);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
             49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        );
    }
}
