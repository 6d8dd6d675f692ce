//! Names the build for `parity --version` and `analysis.json`: the git commit
//! it was built from (PARITY_BUILD_COMMIT when set, as a release build sets
//! it; else `git rev-parse`; else "unknown") and the target triple.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|s| !s.is_empty())
}

fn main() {
    println!("cargo:rerun-if-env-changed=PARITY_BUILD_COMMIT");
    let commit = std::env::var("PARITY_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PARITY_COMMIT={commit}");
    println!("cargo:rustc-env=PARITY_TARGET={}", std::env::var("TARGET").unwrap_or_default());
    // A new commit is a new name: watch HEAD and the branch it points at.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/packed-refs");
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={dir}/{branch}");
        }
    }
}
