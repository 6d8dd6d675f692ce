//! The tarball: `<out>/webprofile-parity-<YYYYmmddHHMMSS>.tar.gz`, holding
//! `webprofile-parity/` and the rerun report (never the collector's files).

use super::{ArtifactError, FLAKINESS_DIR, PARITY_DIR};
use chrono::{DateTime, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::path::{Path, PathBuf};

/// What of `flakiness/` belongs to a run (the rest is the collector's).
const FLAKINESS_ENTRIES: [&str; 2] = ["flakiness.json", "ui"];

/// Where the tarball of a run finished at `at` goes.
pub fn tarball_path(out: &Path, at: DateTime<Utc>) -> PathBuf {
    out.join(format!("webprofile-parity-{}.tar.gz", at.format(crate::clock::TARBALL_STAMP)))
}

pub fn bundle(out: &Path, at: DateTime<Utc>) -> Result<PathBuf, ArtifactError> {
    bundle_into(out, &tarball_path(out, at))
}

/// The run's artifacts under `out` as the tarball at `path`.
pub fn bundle_into(out: &Path, path: &Path) -> Result<PathBuf, ArtifactError> {
    let path = path.to_path_buf();
    let fail = |source| ArtifactError { path: path.clone(), source };
    let file = crate::files::open_for_writing(&path, false).map_err(fail)?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::fast()));
    // dockerd rejects sparse entries; keep every archive plain.
    tar.sparse(false);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut add = |rel: PathBuf| -> std::io::Result<()> {
        let full = out.join(&rel);
        if full.is_dir() {
            tar.append_dir_all(&rel, &full)
        } else if full.is_file() {
            tar.append_path_with_name(&full, &rel)
        } else {
            Ok(())
        }
    };
    add(PathBuf::from(PARITY_DIR)).map_err(fail)?;
    for entry in FLAKINESS_ENTRIES {
        add(Path::new(FLAKINESS_DIR).join(entry)).map_err(fail)?;
    }
    tar.into_inner().and_then(|gz| gz.finish()).map_err(fail)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;

    #[test]
    fn bundles_the_run_but_not_the_collector() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path();
        for file in [
            "webprofile-parity/node.parity.json",
            "flakiness/flakiness.json",
            "flakiness/ui/index.html",
            "flakiness/collected/run_local_latest_cross.json",
        ] {
            std::fs::create_dir_all(out.join(file).parent().unwrap()).unwrap();
            std::fs::write(out.join(file), "{}").unwrap();
        }
        let at = DateTime::parse_from_rfc3339("2026-11-28T12:34:56Z").unwrap().to_utc();
        let path = bundle(out, at).unwrap();
        assert!(path.ends_with("webprofile-parity-20261128123456.tar.gz"));
        let mut archive = tar::Archive::new(GzDecoder::new(std::fs::File::open(&path).unwrap()));
        let names: Vec<String> =
            archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert!(names.contains(&"webprofile-parity/node.parity.json".to_string()), "{names:?}");
        assert!(names.contains(&"flakiness/ui/index.html".to_string()), "{names:?}");
        assert!(!names.iter().any(|n| n.contains("collected")), "{names:?}");
    }
}
