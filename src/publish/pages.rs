//! The GitHub Pages target: the `git` CLI commits the snapshot to the
//! `gh-pages` branch under `parity-cross/` and pushes it.
//!
//! Each attempt works in a fresh temporary clone of the branch (shallow: only
//! its tip), so everything else on the branch is kept as it is. A push
//! rejected because the branch moved meanwhile is redone once on top of the
//! new tip.
//!
//! The token never reaches git's argv, a remote URL or a config file: the
//! default remote is `https://github.com/<owner>/<repo>.git`, and the token
//! goes to git as an `Authorization` header scoped to `https://github.com/`
//! through `GIT_CONFIG_*` variables, so it is sent to GitHub and nowhere else.

use super::snapshot::{self, Snapshot, ARCHIVES_DIR};
use super::Env;
use crate::redact::Redactor;
use base64::Engine as _;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BRANCH: &str = "gh-pages";
/// The folder of the branch holding the published files.
pub const SITE_DIR: &str = "parity-cross";
pub const AUTHOR_NAME: &str = "parity";
pub const AUTHOR_EMAIL: &str = "parity@users.noreply.github.com";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PagesConfigError {
    #[error("GITHUB_PAGES_REPO `{0}` is not owner/repo")]
    BadRepo(String),
    #[error("GITHUB_PAGES_REPO is set but GITHUB_TOKEN is not (or give --pages-remote)")]
    MissingToken,
    #[error("the Pages remote `{0}` starts with `-`")]
    BadRemote(String),
}

#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    #[error("cannot run git: {0} (is git installed?)")]
    Spawn(String),
    #[error("git could not {what} ({status}): {detail}")]
    Git { what: String, status: String, detail: String },
    #[error("cannot {what} {}: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
}

/// Where to publish, from the environment and `--pages-remote`.
pub struct PagesConfig {
    /// `owner/repo`: names the Pages site.
    pub repo: String,
    token: Option<String>,
    /// The git remote: the override, else `https://github.com/<repo>.git`.
    pub remote: String,
}

impl fmt::Debug for PagesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PagesConfig")
            .field("repo", &self.repo)
            .field("remote", &display_remote(&self.remote))
            .finish_non_exhaustive()
    }
}

impl PagesConfig {
    /// `None` when `GITHUB_PAGES_REPO` is not set: the target is not configured.
    /// A token is required unless the remote is overridden.
    pub fn from_env(env: &Env<'_>, remote: Option<&str>) -> Option<Result<PagesConfig, PagesConfigError>> {
        let repo = env("GITHUB_PAGES_REPO")?.trim().to_string();
        Some(Self::build(repo, env("GITHUB_TOKEN"), remote.map(str::trim).filter(|r| !r.is_empty())))
    }

    fn build(
        repo: String,
        token: Option<String>,
        remote: Option<&str>,
    ) -> Result<PagesConfig, PagesConfigError> {
        if !valid_repo(&repo) {
            return Err(PagesConfigError::BadRepo(repo));
        }
        if remote.is_none() && token.is_none() {
            return Err(PagesConfigError::MissingToken);
        }
        let remote = remote.map(str::to_string).unwrap_or_else(|| format!("https://github.com/{repo}.git"));
        if remote.starts_with('-') {
            return Err(PagesConfigError::BadRemote(display_remote(&remote)));
        }
        Ok(PagesConfig { repo, token, remote })
    }

    /// The values that must never be printed: the token and the header carrying it.
    pub fn secrets(&self) -> Vec<String> {
        self.token.iter().flat_map(|t| [t.clone(), basic_credential(t)]).collect()
    }

    /// `https://<owner>.github.io/<repo>/parity-cross/dashboard.html` (a
    /// `<owner>.github.io` repository is the site root).
    pub fn pages_url(&self) -> String {
        pages_url(&self.repo)
    }
}

fn valid_repo(repo: &str) -> bool {
    let Some((owner, name)) = repo.split_once('/') else { return false };
    let ok = |s: &str, extra: &[char]| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || extra.contains(&c))
    };
    ok(owner, &[]) && ok(name, &['.', '_']) && name != "." && name != ".."
}

pub fn pages_url(repo: &str) -> String {
    let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
    let host = format!("{}.github.io", owner.to_ascii_lowercase());
    if name.eq_ignore_ascii_case(&host) {
        format!("https://{host}/{SITE_DIR}/dashboard.html")
    } else {
        format!("https://{host}/{name}/{SITE_DIR}/dashboard.html")
    }
}

/// A remote as it may be shown: any `user:password@` of a URL removed.
pub fn display_remote(remote: &str) -> String {
    let Some(scheme_end) = remote.find("://") else { return remote.to_string() };
    let rest = &remote[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &remote[..scheme_end + 3], &rest[at + 1..]),
        None => remote.to_string(),
    }
}

/// `basic base64(x-access-token:<token>)`, GitHub's form for a token over HTTPS.
fn basic_credential(token: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"))
}

/// What a publish did.
#[derive(Debug, Clone)]
pub struct PagesPublished {
    /// The new commit (abbreviated), `None` when the branch already held this snapshot.
    pub commit: Option<String>,
    /// Archive folders removed by `--keep-archives`.
    pub pruned: Vec<String>,
    /// Whether the push was redone on top of a branch that moved.
    pub retried: bool,
    /// Whether the branch had to be created.
    pub created_branch: bool,
}

/// A configured Pages target.
pub struct PagesTarget {
    config: PagesConfig,
    redactor: Redactor,
}

impl PagesTarget {
    pub fn new(config: PagesConfig) -> PagesTarget {
        config.secrets().iter().for_each(|s| crate::redact::register(s));
        PagesTarget { config, redactor: Redactor::enabled() }
    }

    pub fn remote_display(&self) -> String {
        display_remote(&self.config.remote)
    }

    pub fn pages_url(&self) -> String {
        self.config.pages_url()
    }

    /// What `publish` would do, one line per file.
    pub fn plan(&self, snapshot: &Snapshot, keep: Option<usize>) -> Vec<String> {
        let mut lines: Vec<String> = snapshot
            .layout(SITE_DIR)
            .into_iter()
            .map(|(path, f)| {
                format!(
                    "would commit {path} ({} bytes) to {BRANCH} of {}",
                    f.bytes.len(),
                    self.remote_display()
                )
            })
            .collect();
        lines.push(match keep {
            Some(n) => format!("would keep only the newest {n} folder(s) in {SITE_DIR}/{ARCHIVES_DIR}/"),
            None => format!("would keep every folder in {SITE_DIR}/{ARCHIVES_DIR}/"),
        });
        lines
    }

    pub fn publish(&self, snapshot: &Snapshot, keep: Option<usize>) -> Result<PagesPublished, PagesError> {
        self.publish_with_hook(snapshot, keep, &mut |_| {})
    }

    /// [`publish`](Self::publish), calling `before_push(attempt)` just before
    /// each push (tests use it to move the branch under the publisher).
    pub fn publish_with_hook(
        &self,
        snapshot: &Snapshot,
        keep: Option<usize>,
        before_push: &mut dyn FnMut(u32),
    ) -> Result<PagesPublished, PagesError> {
        let mut attempt = 1;
        loop {
            // A temporary work tree, removed when dropped.
            let work = tempfile::Builder::new()
                .prefix("parity-pages-")
                .tempdir()
                .map_err(|source| PagesError::Io { what: "create", path: std::env::temp_dir(), source })?;
            let git = Git { dir: work.path(), env: self.git_env(), redactor: &self.redactor };
            git.run("create a work tree", ["init", "-q", "."])?;
            let created_branch = !self.checkout_branch(&git)?;
            let pruned = write_snapshot(work.path(), snapshot, keep)?;
            git.run("stage the snapshot", ["add", "-A", "--", SITE_DIR])?;
            if git.output(["diff", "--cached", "--quiet"])?.status.success() {
                return Ok(PagesPublished { commit: None, pruned, retried: attempt > 1, created_branch });
            }
            let message = format!("parity: publish dashboard {}", snapshot.stamp);
            git.run("commit", ["commit", "-q", "-m", &message])?;
            before_push(attempt);
            let push =
                git.output(["push", "--porcelain", &self.config.remote, "HEAD:refs/heads/gh-pages"])?;
            if push.status.success() {
                let commit = git.run("read the commit", ["rev-parse", "--short", "HEAD"])?;
                let commit = String::from_utf8_lossy(&commit.stdout).trim().to_string();
                return Ok(PagesPublished {
                    commit: Some(commit),
                    pruned,
                    retried: attempt > 1,
                    created_branch,
                });
            }
            if attempt == 1 && moved_under_us(&push) {
                attempt += 1;
                continue;
            }
            return Err(git.failure(format!("push to {BRANCH} of {}", self.remote_display()), &push));
        }
    }

    /// Fetches the branch's tip into the work tree; `false` when the remote has
    /// no such branch (the work tree then starts it as an orphan).
    fn checkout_branch(&self, git: &Git<'_>) -> Result<bool, PagesError> {
        let remote = self.config.remote.as_str();
        let what = || format!("list the branches of {}", self.remote_display());
        let listed = git.output(["ls-remote", "--exit-code", "--heads", remote, "refs/heads/gh-pages"])?;
        match listed.status.code() {
            Some(0) => {}
            // --exit-code: the remote answered and has no such branch.
            Some(2) => return Ok(false),
            _ => return Err(git.failure(what(), &listed)),
        }
        let fetch_what = format!("fetch {BRANCH} from {}", self.remote_display());
        git.run(&fetch_what, ["fetch", "-q", "--depth=1", "--no-tags", remote, "refs/heads/gh-pages"])?;
        git.run("check out the fetched branch", ["reset", "-q", "--hard", "FETCH_HEAD"])?;
        Ok(true)
    }

    /// Configuration for every git command, as `GIT_CONFIG_*` variables.
    fn git_env(&self) -> Vec<(String, String)> {
        let mut config: Vec<(String, String)> = vec![
            ("init.defaultBranch".into(), BRANCH.into()),
            ("user.name".into(), AUTHOR_NAME.into()),
            ("user.email".into(), AUTHOR_EMAIL.into()),
            ("commit.gpgSign".into(), "false".into()),
            // No credential helper may prompt, or store the token.
            ("credential.helper".into(), String::new()),
            ("core.hooksPath".into(), "/dev/null".into()),
            ("advice.detachedHead".into(), "false".into()),
            // A stalled transfer (under 1 byte/s for a minute) fails instead of hanging.
            ("http.lowSpeedLimit".into(), "1".into()),
            ("http.lowSpeedTime".into(), "60".into()),
        ];
        if let Some(token) = &self.config.token {
            config.push((
                "http.https://github.com/.extraHeader".into(),
                format!("AUTHORIZATION: basic {}", basic_credential(token)),
            ));
        }
        let mut env = vec![("GIT_CONFIG_COUNT".to_string(), config.len().to_string())];
        for (i, (key, value)) in config.into_iter().enumerate() {
            env.push((format!("GIT_CONFIG_KEY_{i}"), key));
            env.push((format!("GIT_CONFIG_VALUE_{i}"), value));
        }
        for (name, email) in
            [("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"), ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")]
        {
            env.push((name.into(), AUTHOR_NAME.into()));
            env.push((email.into(), AUTHOR_EMAIL.into()));
        }
        env
    }
}

/// A push refused because the branch is not where we fetched it:
/// "[rejected] … (fetch first)" / "(non-fast-forward)" — not a hook or a
/// protection rule ("[remote rejected]").
fn moved_under_us(push: &Output) -> bool {
    let text = format!("{}{}", String::from_utf8_lossy(&push.stdout), String::from_utf8_lossy(&push.stderr));
    text.contains("[rejected]") || text.contains("(fetch first)") || text.contains("(non-fast-forward)")
}

/// Writes the snapshot under `parity-cross/` of the work tree and prunes the
/// archive folders; returns the pruned folders' names.
fn write_snapshot(
    worktree: &Path,
    snapshot: &Snapshot,
    keep: Option<usize>,
) -> Result<Vec<String>, PagesError> {
    for (relative, file) in snapshot.layout(SITE_DIR) {
        let path = worktree.join(&relative);
        crate::files::write_file(&path, &file.bytes).map_err(|source| PagesError::Io {
            what: "write",
            path,
            source,
        })?;
    }
    let archives = worktree.join(SITE_DIR).join(ARCHIVES_DIR);
    let existing = snapshot::folder_names(&archives).map_err(|source| PagesError::Io {
        what: "list",
        path: archives.clone(),
        source,
    })?;
    let pruned = snapshot::prune_choice(&existing, &snapshot.stamp, keep);
    for name in &pruned {
        let path = archives.join(name);
        std::fs::remove_dir_all(&path).map_err(|source| PagesError::Io { what: "remove", path, source })?;
    }
    Ok(pruned)
}

/// git run in one work tree, with our configuration, never prompting; every
/// word it says passes through the redactor.
struct Git<'a> {
    dir: &'a Path,
    env: Vec<(String, String)>,
    redactor: &'a Redactor,
}

impl Git<'_> {
    fn output<I, S>(&self, args: I) -> Result<Output, PagesError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new("git");
        command.args(args).current_dir(self.dir).stdin(Stdio::null());
        // Run from a git hook, parity must not act on the caller's repository;
        // and nothing may ask for a password.
        for var in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_CONFIG_PARAMETERS",
            "GIT_ASKPASS",
            "SSH_ASKPASS",
        ] {
            command.env_remove(var);
        }
        command.env("GIT_TERMINAL_PROMPT", "0").envs(self.env.iter().map(|(k, v)| (k, v)));
        command.output().map_err(|e| PagesError::Spawn(e.to_string()))
    }

    /// Runs git; a non-zero exit is an error saying what could not be done.
    fn run<I, S>(&self, what: &str, args: I) -> Result<Output, PagesError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let output = self.output(args)?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(self.failure(what.to_string(), &output))
        }
    }

    fn failure(&self, what: String, output: &Output) -> PagesError {
        let mut said = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if said.is_empty() {
            said = String::from_utf8_lossy(&output.stdout).trim().to_string();
        }
        let said: Vec<&str> = said.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let detail = if said.is_empty() { "git said nothing".to_string() } else { said.join(" / ") };
        let status = match output.status.code() {
            Some(code) => format!("exit {code}"),
            None => "killed".to_string(),
        };
        PagesError::Git { what, status, detail: self.redactor.redact(&detail).into_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(
        repo: &str,
        token: Option<&str>,
        remote: Option<&str>,
    ) -> Result<PagesConfig, PagesConfigError> {
        PagesConfig::build(repo.to_string(), token.map(str::to_string), remote)
    }

    #[test]
    fn the_default_remote_carries_no_token() {
        let c = config("acme/dash", Some("ghs_secret123"), None).unwrap();
        assert_eq!(c.remote, "https://github.com/acme/dash.git");
        assert!(!format!("{c:?}").contains("ghs_secret123"));
        assert_eq!(c.secrets(), ["ghs_secret123".to_string(), basic_credential("ghs_secret123")]);
    }

    #[test]
    fn a_token_is_needed_unless_the_remote_is_given() {
        assert_eq!(config("acme/dash", None, None).unwrap_err(), PagesConfigError::MissingToken);
        let c = config("acme/dash", None, Some("/srv/pages.git")).unwrap();
        assert_eq!(c.remote, "/srv/pages.git");
        assert!(c.secrets().is_empty());
    }

    #[test]
    fn repos_must_be_owner_slash_name() {
        for bad in ["acme", "acme/", "/dash", "acme/dash/x", "ac me/dash", "acme/..", "-x/y;rm"] {
            assert!(matches!(config(bad, Some("t0ken"), None), Err(PagesConfigError::BadRepo(_))), "{bad}");
        }
        assert!(config("Acme-Org/dash.site_2", Some("t0ken"), None).is_ok());
        assert!(matches!(
            config("acme/dash", None, Some("--upload-pack=x")),
            Err(PagesConfigError::BadRemote(_))
        ));
    }

    #[test]
    fn pages_urls_follow_github_naming() {
        assert_eq!(pages_url("Acme/dash"), "https://acme.github.io/dash/parity-cross/dashboard.html");
        assert_eq!(pages_url("acme/Acme.github.io"), "https://acme.github.io/parity-cross/dashboard.html");
    }

    #[test]
    fn remotes_are_shown_without_credentials() {
        assert_eq!(
            display_remote("https://x-access-token:ghs_secret123@github.com/acme/dash.git"),
            "https://github.com/acme/dash.git"
        );
        assert_eq!(display_remote("https://user@host.example/a@b.git"), "https://host.example/a@b.git");
        assert_eq!(display_remote("https://github.com/acme/dash.git"), "https://github.com/acme/dash.git");
        assert_eq!(display_remote("/srv/pages.git"), "/srv/pages.git");
        assert_eq!(display_remote("git@github.com:acme/dash.git"), "git@github.com:acme/dash.git");
    }

    #[test]
    fn the_token_goes_only_to_github_through_the_environment() {
        let target = PagesTarget::new(config("acme/dash", Some("ghs_secret123"), None).unwrap());
        let env = target.git_env();
        let header = env
            .iter()
            .position(|(_, v)| v == "http.https://github.com/.extraHeader")
            .and_then(|i| env.get(i + 1))
            .map(|(_, v)| v.clone())
            .unwrap();
        assert_eq!(header, format!("AUTHORIZATION: basic {}", basic_credential("ghs_secret123")));
        assert!(env.iter().all(|(_, v)| !v.contains("ghs_secret123")));
        assert_eq!(basic_credential("abc"), "eC1hY2Nlc3MtdG9rZW46YWJj");
    }

    #[test]
    fn git_errors_are_redacted() {
        let target = PagesTarget::new(config("acme/dash", Some("ghs_secret123"), None).unwrap());
        let git = Git { dir: Path::new("."), env: Vec::new(), redactor: &target.redactor };
        let output = Output {
            status: failed_status(),
            stdout: Vec::new(),
            stderr: b"fatal: could not read from https://x:ghs_secret123@github.com/acme/dash.git\n".to_vec(),
        };
        let err = git.failure("push".into(), &output).to_string();
        assert!(!err.contains("ghs_secret123"), "{err}");
        assert!(err.starts_with("git could not push (exit 1): fatal: could not read"), "{err}");
    }

    #[test]
    fn only_a_moved_branch_is_retried() {
        let out =
            |stdout: &str| Output { status: failed_status(), stdout: stdout.into(), stderr: Vec::new() };
        assert!(moved_under_us(&out("!\tHEAD:refs/heads/gh-pages\t[rejected] (fetch first)\n")));
        assert!(moved_under_us(&out("!\tHEAD:refs/heads/gh-pages\t[rejected] (non-fast-forward)\n")));
        assert!(!moved_under_us(&out("!\tHEAD:refs/heads/gh-pages\t[remote rejected] (protected branch)\n")));
    }

    fn failed_status() -> std::process::ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        std::process::ExitStatus::from_raw(1 << 8)
    }
}
