//! A Dockerfile context as the tar stream the build API takes, honouring
//! `.dockerignore` the way the Docker CLI does: patterns relative to the
//! context root, `*` never crossing `/`, `**` any depth, `!` re-including,
//! the last matching pattern deciding, and a match on a directory covering
//! everything under it.

use globset::{Glob, GlobBuilder, GlobMatcher};
use std::io;
use std::path::{Path, PathBuf};

struct Rule {
    matcher: GlobMatcher,
    exclude: bool,
}

/// The parsed `.dockerignore` of a context.
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

impl IgnoreRules {
    pub fn parse(text: &str) -> Result<IgnoreRules, String> {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclude, pattern) = match line.strip_prefix('!') {
                Some(rest) => (false, rest.trim()),
                None => (true, line),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() {
                continue;
            }
            let glob: Glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| format!(".dockerignore pattern `{line}`: {e}"))?;
            rules.push(Rule { matcher: glob.compile_matcher(), exclude });
        }
        Ok(IgnoreRules { rules })
    }

    /// Whether a context-relative path (with `/` separators) stays out of the context.
    pub fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            if rule.matcher.is_match(path) || parents(path).any(|p| rule.matcher.is_match(p)) {
                excluded = rule.exclude;
            }
        }
        excluded
    }

    /// A directory may be skipped whole only when nothing could re-include part of it.
    fn prunes(&self, dir: &str) -> bool {
        self.excludes(dir) && self.rules.iter().all(|r| r.exclude)
    }
}

/// `./a//b/` → `a/b`, like Go's filepath.Clean with the leading slash dropped.
fn clean(pattern: &str) -> String {
    pattern.split('/').filter(|part| !part.is_empty() && *part != ".").collect::<Vec<_>>().join("/")
}

/// `a/b/c` → `a`, `a/b`.
fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// The context directory as an uncompressed tar, without what `.dockerignore`
/// excludes (the Dockerfile and `.dockerignore` themselves are always sent).
pub fn tar_context(dir: &Path, dockerfile: &str) -> io::Result<Vec<u8>> {
    let rules = match std::fs::read_to_string(dir.join(".dockerignore")) {
        Ok(text) => IgnoreRules::parse(&text).map_err(io::Error::other)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => IgnoreRules { rules: Vec::new() },
        Err(e) => return Err(e),
    };
    if !dir.join(dockerfile).is_file() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no {dockerfile} in the build context {}", dir.display()),
        ));
    }
    let mut files = Vec::new();
    collect(dir, Path::new(""), &rules, dockerfile, &mut files)?;
    files.sort();

    let mut builder = tar::Builder::new(Vec::new());
    // dockerd 20.10 rejects sparse entries ("unhandled tar header type 83").
    builder.sparse(false);
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Deterministic);
    for relative in files {
        builder.append_path_with_name(dir.join(&relative), &relative)?;
    }
    builder.into_inner()
}

fn collect(
    root: &Path,
    relative: &Path,
    rules: &IgnoreRules,
    dockerfile: &str,
    out: &mut Vec<PathBuf>,
) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(relative))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = relative.join(entry.file_name());
        let key = path.to_string_lossy().replace('\\', "/");
        let always = key == dockerfile || key == ".dockerignore";
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            if rules.prunes(&key) {
                continue;
            }
            collect(root, &path, rules, dockerfile, out)?;
        } else if always || !rules.excludes(&key) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::parse(text).unwrap()
    }

    #[test]
    fn patterns_follow_docker_semantics() {
        let r = rules("# comment\nnode_modules\n*.log\n/target/\ndocs/**/*.md\n!docs/keep/README.md\n");
        assert!(r.excludes("node_modules"));
        assert!(r.excludes("node_modules/a/b.js"), "a directory match covers its contents");
        assert!(r.excludes("app.log"));
        assert!(!r.excludes("logs/app.log"), "* does not cross /");
        assert!(r.excludes("target/debug/parity"));
        assert!(r.excludes("docs/guide/intro.md"));
        assert!(r.excludes("docs/x.md"), "** matches zero directories");
        assert!(!r.excludes("docs/keep/README.md"), "! re-includes; the last match decides");
        assert!(!r.excludes("src/main.rs"));
    }

    #[test]
    fn bad_patterns_are_named() {
        let e = IgnoreRules::parse("[unclosed").err().unwrap();
        assert!(e.contains("[unclosed"), "{e}");
    }

    #[test]
    fn the_tar_holds_what_is_not_ignored_and_always_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("Dockerfile"), "FROM scratch\nCOPY app /app\n").unwrap();
        std::fs::write(root.join(".dockerignore"), "secrets\n*.tmp\nDockerfile\n").unwrap();
        std::fs::write(root.join("app"), "binary").unwrap();
        std::fs::write(root.join("scratch.tmp"), "x").unwrap();
        std::fs::create_dir_all(root.join("secrets/deep")).unwrap();
        std::fs::write(root.join("secrets/deep/key"), "k").unwrap();

        let tar = tar_context(root, "Dockerfile").unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [".dockerignore", "Dockerfile", "app"]);
    }

    #[test]
    fn a_context_without_a_dockerfile_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let e = tar_context(dir.path(), "Dockerfile").unwrap_err();
        assert!(e.to_string().contains("no Dockerfile in the build context"), "{e}");
    }
}
