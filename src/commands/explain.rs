//! `parity explain PACKET`: the packet's README and timeline for a human —
//! the failure's own rows stand out on a terminal, the rest is dimmed.

use super::CommandError;
use crate::cli::ExplainArgs;
use crate::exit::Exit;
use crate::progress::{print_tinted, Tint};
use std::path::Path;

/// What is read of a file at most: packets are capped well below this.
const CAP: u64 = 8 * 1024 * 1024;

pub fn run(args: &ExplainArgs) -> Result<Exit, CommandError> {
    let packet = &args.packet;
    if !packet.is_dir() {
        return Err(CommandError::Usage(format!(
            "{}: not an evidence packet folder (they are under <out>/webprofile-parity/evidence/)",
            packet.display()
        )));
    }
    let readme = read(&packet.join("README.txt"))?;
    let timeline = read(&packet.join("timeline.txt"))?;
    let mut lines: Vec<(Tint, String)> = Vec::new();
    let name = packet.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    lines.push((Tint::Bold, format!("evidence packet {name}")));
    for paragraph in readme.lines() {
        let tint = if paragraph.contains("Class: stale-read") || paragraph.contains("stale cache") {
            Tint::Red
        } else {
            Tint::Plain
        };
        lines.push((tint, paragraph.to_string()));
    }
    lines.push((Tint::Plain, String::new()));
    lines.extend(timeline.lines().map(|line| (tint_of(line), line.to_string())));
    print_tinted(&lines);
    Ok(Exit::Ok)
}

/// The failure's own rows (marked `*`) stand out; a stale answer is red.
fn tint_of(line: &str) -> Tint {
    if line.starts_with("timeline of") || line.starts_with("sources:") {
        Tint::Bold
    } else if !line.starts_with('*') {
        Tint::Dim
    } else if line.contains("\"active\":true") {
        Tint::Red
    } else if line.contains(" parity ") {
        Tint::Cyan
    } else {
        Tint::Plain
    }
}

fn read(path: &Path) -> Result<String, CommandError> {
    let bytes = crate::files::read_artifact(path, CAP)
        .map_err(|e| CommandError::Usage(format!("{}: {e} (is this an evidence packet?)", path.display())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
