//! The file system, one way: reading files the tool did not write
//! (collected runs, `--src`, `--summary`, `--status`) — regular files only,
//! never more than a cap, so a FIFO cannot block a read forever and
//! `/dev/zero` cannot exhaust memory — and writing every file the tool writes
//! ([`write_file`], [`write_atomically`]): parents created, only ever into a
//! regular file.

use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

/// The most a collected or given file may hold: 64 MiB. A run of 100,000
/// iterations writes about 40 MB of `cross-instance-results.json`.
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("is not a regular file but {0}; not read")]
    NotRegular(&'static str),
    #[error("is a symbolic link: an artifact set's files are read only from inside it; not read")]
    Symlink,
    #[error("is too large: more than the {cap} byte cap")]
    TooLarge { cap: u64 },
    #[error("cannot be read: {0}")]
    Io(#[from] std::io::Error),
}

impl From<Refused> for std::io::Error {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Io(e) => e,
            other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other.to_string()),
        }
    }
}

/// What kind of file `path` is, when it is not a regular one.
fn irregular(file_type: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt as _;
    if file_type.is_file() {
        None
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_fifo() {
        Some("a FIFO")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_block_device() || file_type.is_char_device() {
        Some("a device")
    } else {
        Some("neither a file nor a directory")
    }
}

/// The bytes of a regular file (symlinks followed), at most `cap` of them.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, Refused> {
    read_up_to(open_regular(path)?, cap)
}

/// The whole of `file`, or [`Refused::TooLarge`] past `cap` bytes.
fn read_up_to(file: std::fs::File, cap: u64) -> Result<Vec<u8>, Refused> {
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(Refused::TooLarge { cap });
    }
    Ok(bytes)
}

/// A regular file opened for reading (symlinks followed), for readers that
/// stream it whatever its size.
pub fn open_regular(path: &Path) -> Result<std::fs::File, Refused> {
    let file_type = std::fs::metadata(path)?.file_type();
    if let Some(kind) = irregular(file_type) {
        return Err(Refused::NotRegular(kind));
    }
    Ok(std::fs::File::open(path)?)
}

/// A file of an artifact set the tool wrote (`analysis.json`, a packet's
/// files, a shard's results): a regular file that is not a symbolic link —
/// a link could point out of the set, at anything — at most `cap` bytes.
pub fn read_artifact(path: &Path, cap: u64) -> Result<Vec<u8>, Refused> {
    read_up_to(open_artifact(path)?, cap)
}

/// [`open_regular`] for a file of an artifact set: never a symbolic link.
pub fn open_artifact(path: &Path) -> Result<std::fs::File, Refused> {
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(Refused::Symlink);
    }
    open_regular(path)
}

/// Opens `path` for writing (created, truncated or appended to), refusing
/// anything but a regular file: a FIFO or a device where a report is
/// expected would block the run forever or swallow it. The open itself never
/// blocks (`O_NONBLOCK`, which regular files ignore).
pub fn open_for_writing(path: &Path, append: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let not_regular = |kind: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("it is {kind}, not a regular file; not written"),
        )
    };
    if let Some(kind) = std::fs::metadata(path).ok().and_then(|m| irregular(m.file_type())) {
        return Err(not_regular(kind));
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).custom_flags(libc::O_NONBLOCK);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    let file = options.open(path)?;
    if let Some(kind) = irregular(file.metadata()?.file_type()) {
        return Err(not_regular(kind));
    }
    Ok(file)
}

/// Writes `bytes` to a regular file at `path` (see [`open_for_writing`]).
pub fn write_regular(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = open_for_writing(path, false)?;
    file.write_all(bytes)?;
    file.flush()
}

/// Writes `bytes` at `path`, creating its folder first: how every file the
/// tool writes reaches the disk (the artifact writer, merge's copies, the
/// Pages work tree, the publish archive).
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    write_regular(path, bytes)
}

/// [`write_file`] to `<path>.part`, then renamed over `path`: a reader (or an
/// interrupted download) never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".part");
    let partial = PathBuf::from(partial);
    write_file(&partial, bytes)?;
    std::fs::rename(&partial, path)
}

/// Dates a file the tool wrote (a collected run, to when the run was made).
pub fn set_modified(path: &Path, when: std::time::SystemTime) -> std::io::Result<()> {
    std::fs::File::options().write(true).open(path)?.set_modified(when)
}

/// [`read_capped`] with [`MAX_INPUT_BYTES`].
pub fn read_input(path: &Path) -> Result<Vec<u8>, Refused> {
    read_capped(path, MAX_INPUT_BYTES)
}

/// `to` relative to the directory `from`, as a `/`-separated, percent-encoded
/// link; `None` when the two share no root (another drive) or a path cannot
/// be resolved.
/// (The dashboard links to the collected runs this way: the path is resolved here, where the file
/// system is read, and handed to the renderer as text.)
pub fn relative_link(from: &Path, to: &Path) -> Option<String> {
    let from = url::Url::from_directory_path(absolute(from)?).ok()?;
    let to = url::Url::from_directory_path(absolute(to)?).ok()?;
    let relative = from.make_relative(&to)?;
    let relative = relative.trim_end_matches('/');
    Some(if relative.is_empty() { ".".to_string() } else { relative.to_string() })
}

/// Absolute, symlinks resolved as far as the path exists (the dashboard's
/// folder may not exist yet), `.` and `..` resolved.
fn absolute(path: &Path) -> Option<PathBuf> {
    let joined =
        if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().ok()?.join(path) };
    let mut lexical = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                lexical.pop();
            }
            other => lexical.push(other),
        }
    }
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return Some(rest.iter().rev().fold(canonical, |acc, part| acc.join(part)));
        }
        rest.push(existing.file_name()?.to_os_string());
        existing = existing.parent()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links_climb_to_the_common_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dash = tmp.path().join("ci/flakiness/cross");
        let collected = tmp.path().join("ci/flakiness/collected");
        std::fs::create_dir_all(&dash).unwrap();
        std::fs::create_dir_all(&collected).unwrap();
        assert_eq!(relative_link(&dash, &collected).as_deref(), Some("../collected"));
        assert_eq!(relative_link(&dash, &dash).as_deref(), Some("."));
        assert_eq!(relative_link(&dash, &tmp.path().join("my runs")).as_deref(), Some("../../../my%20runs"));
    }

    #[test]
    fn only_regular_files_are_read_and_never_past_the_cap() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f.json");
        std::fs::write(&file, b"0123456789").unwrap();
        assert_eq!(read_capped(&file, 10).unwrap(), b"0123456789");
        assert!(matches!(read_capped(&file, 9), Err(Refused::TooLarge { cap: 9 })));
        assert!(matches!(read_input(tmp.path()), Err(Refused::NotRegular("a directory"))));
        assert!(matches!(read_input(Path::new("/dev/zero")), Err(Refused::NotRegular("a device"))));
        let fifo = tmp.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(matches!(read_input(&fifo), Err(Refused::NotRegular("a FIFO"))));
        assert!(matches!(read_input(&tmp.path().join("missing")), Err(Refused::Io(_))));
        let link = tmp.path().join("link.json");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(matches!(read_artifact(&link, 10), Err(Refused::Symlink)));
        assert_eq!(read_artifact(&file, 10).unwrap(), b"0123456789");
        let refused = write_regular(&fifo, b"x").unwrap_err().to_string();
        assert!(refused.contains("a FIFO, not a regular file"), "{refused}");
        assert!(write_regular(Path::new("/dev/null"), b"x").is_err(), "a device is no report");
        write_regular(&file, b"new").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"new");
    }
}
