//! The Docker images a bench runs on: the reference built from the binary
//! under test and the Mongo stand-in, from `fixtures/images` (built when
//! missing, cached by tag). Shared by the benches through `#[path]`.

use std::path::Path;
use std::process::Command;

/// `(reference, mongo)` image references when a Docker engine answers;
/// `None` otherwise, saying on stderr what `bench` then does not measure.
pub fn fixture_images(bench: &str, unmeasured: &str) -> Option<(String, String)> {
    let engine = Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]).output();
    if !engine.is_ok_and(|o| o.status.success()) {
        eprintln!("{bench} bench: no Docker engine answers; {unmeasured}");
        return None;
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images");
    let recipe = |script: &str, args: &[&str]| {
        let out = Command::new(fixtures.join(script)).args(args).output().expect("image recipe");
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let reference =
        recipe("reference.sh", &[env!("CARGO_BIN_EXE_parity"), "webprofile-parity-reference:bench"]);
    Some((reference, recipe("mongo-standin.sh", &[])))
}
