//! What installing `parity` gives a shell: completions and a manual page,
//! generated from the clap definitions, so every command is in them.

use crate::common::*;
use clap::CommandFactory;
use webprofile_parity::cli::Cli;

fn commands() -> Vec<String> {
    Cli::command().get_subcommands().map(|s| s.get_name().to_string()).collect()
}

#[test]
fn completions_name_every_command_and_bash_parses_its_script() {
    for shell in ["bash", "zsh", "fish"] {
        let output = parity().args(["completions", shell]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{shell}: {}", output_text(&output));
        let script = text(&output.stdout);
        for command in commands() {
            assert!(script.contains(&command), "{shell} completion lacks `{command}`");
        }
        assert!(script.contains("--reference"), "{shell}: flags too");
    }
    let script = text(&parity().args(["completions", "bash"]).output().unwrap().stdout);
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), script).unwrap();
    let checked = std::process::Command::new("bash").arg("-n").arg(path.path()).output().unwrap();
    assert!(checked.status.success(), "bash -n: {}", text(&checked.stderr));
}

#[test]
fn the_manual_page_has_a_section_per_command() {
    let output = parity().arg("man").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    let page = text(&output.stdout);
    assert!(page.starts_with(".ie") || page.contains(".TH parity 1"), "{page:.200}");
    for command in commands() {
        let header = format!(".SH \"PARITY {}\"", command.to_uppercase());
        assert!(page.contains(&header), "no {header}");
    }
}
