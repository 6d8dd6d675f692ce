//! The CI workflow templates in ci/workflows/: valid YAML, the shape GitHub
//! Actions needs, every `parity` command and flag they use exists, and they
//! upload the artifacts under the names the runbook uses.

use clap::CommandFactory;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use webprofile_parity::cli::Cli;
use yaml_rust2::{Yaml, YamlLoader};

fn workflows() -> Vec<(PathBuf, Yaml)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ci/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 5, "the four templates and the release workflow: {files:?}");
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut docs = YamlLoader::load_from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
            assert_eq!(docs.len(), 1, "{}", path.display());
            (path, docs.remove(0))
        })
        .collect()
}

fn steps(doc: &Yaml) -> Vec<&Yaml> {
    let Yaml::Hash(jobs) = &doc["jobs"] else { panic!("jobs must be a mapping") };
    jobs.values().flat_map(|job| job["steps"].as_vec().expect("steps").iter()).collect()
}

#[test]
fn every_template_has_the_shape_github_actions_needs() {
    for (path, doc) in workflows() {
        let name = path.display();
        assert!(doc["name"].as_str().is_some(), "{name}: name");
        assert!(!doc["on"].is_badvalue(), "{name}: on");
        let Yaml::Hash(jobs) = &doc["jobs"] else { panic!("{name}: jobs") };
        assert!(!jobs.is_empty(), "{name}: no jobs");
        for job in jobs.values() {
            assert!(job["runs-on"].as_str().is_some(), "{name}: runs-on");
            let steps = job["steps"].as_vec().expect("steps");
            assert!(!steps.is_empty(), "{name}: no steps");
            for step in steps {
                assert!(
                    step["uses"].as_str().is_some() || step["run"].as_str().is_some(),
                    "{name}: {step:?}"
                );
            }
        }
    }
}

/// `parity <sub> [<sub>] --flag …` in every `run:` script.
fn parity_invocations(doc: &Yaml) -> Vec<Vec<String>> {
    steps(doc)
        .iter()
        .filter_map(|s| s["run"].as_str())
        .flat_map(|script| script.lines())
        .filter_map(|line| line.trim().strip_prefix("parity "))
        .map(|rest| rest.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn every_parity_command_and_flag_in_the_templates_exists() {
    let cli = Cli::command();
    let mut seen = BTreeSet::new();
    for (path, doc) in workflows() {
        for words in parity_invocations(&doc) {
            let mut command = cli
                .find_subcommand(&words[0])
                .unwrap_or_else(|| panic!("{}: parity {}", path.display(), words[0]));
            let mut name = words[0].clone();
            if let Some(sub) = words.get(1).and_then(|w| command.find_subcommand(w)) {
                name = format!("{name} {}", words[1]);
                command = sub;
            }
            for flag in words.iter().filter_map(|w| w.strip_prefix("--")) {
                let flag = flag.split('=').next().unwrap();
                assert!(
                    command.get_arguments().any(|a| a.get_long() == Some(flag)),
                    "{}: `parity {name}` has no --{flag}",
                    path.display()
                );
            }
            seen.insert(name);
        }
    }
    for expected in ["run", "notify github", "collect", "status", "badge"] {
        assert!(seen.contains(expected), "no template runs `parity {expected}`: {seen:?}");
    }
}

#[test]
fn the_templates_upload_the_runbooks_artifact_names() {
    let mut names = BTreeSet::new();
    for (_, doc) in workflows() {
        for step in steps(&doc) {
            if step["uses"].as_str().is_some_and(|u| u.starts_with("actions/upload-artifact@")) {
                let name = step["with"]["name"].as_str().expect("artifact name");
                // The sharded run's sets, one per matrix job, merged by the next job;
                // the release workflow's builds, gathered by its publish job.
                if !name.starts_with("parity-shard-") && !name.starts_with("release-") {
                    names.insert(name.to_string());
                }
            }
        }
    }
    let expected: BTreeSet<String> = [
        "webprofile-parity-artifacts",
        "webprofile-parity-artifacts-sharded",
        "parity-cross-dashboard",
        "parity-cross-status",
        "parity-cross-archives",
    ]
    .map(String::from)
    .into();
    assert_eq!(names, expected);
}

#[test]
fn the_parity_job_runs_on_pull_requests_and_nightly_and_honours_the_strict_toggle() {
    let (_, doc) = workflows().into_iter().find(|(p, _)| p.ends_with("parity.yml")).unwrap();
    assert!(!doc["on"]["pull_request"].is_badvalue() && !doc["on"]["schedule"].is_badvalue());
    assert!(doc["env"]["PARITY_STRICT"].as_str().is_some_and(|v| v.contains("vars.PARITY_STRICT")));
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/ci/workflows/parity.yml")).unwrap();
    assert!(text.contains("secrets.SLACK_WEBHOOK") && text.contains("secrets.GITHUB_TOKEN"));
}

/// The composite action, parsed.
pub(crate) fn action() -> Yaml {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml")).unwrap();
    YamlLoader::load_from_str(&text).expect("action.yml is valid YAML").remove(0)
}

/// Every GitHub action used, in the templates and in action.yml, is on a
/// major that runs on Node 24: Node 20 left GitHub's runners on 2026-09-23.
/// (actionlint in `.ci/run` checks the templates; it does not read a
/// composite action's own steps, so this does for both.)
#[test]
fn every_action_used_runs_on_node_24() {
    let minimum = [
        ("actions/checkout", 5),
        ("actions/upload-artifact", 6),
        ("actions/download-artifact", 7),
        ("actions/cache", 5),
    ];
    let action = action();
    let mut uses: Vec<(String, String)> = Vec::new();
    for (path, doc) in workflows() {
        for step in steps(&doc) {
            uses.extend(step["uses"].as_str().map(|u| (path.display().to_string(), u.to_string())));
        }
    }
    for step in action["runs"]["steps"].as_vec().expect("composite steps") {
        uses.extend(step["uses"].as_str().map(|u| ("action.yml".to_string(), u.to_string())));
    }
    assert!(uses.iter().any(|(file, _)| file == "action.yml"), "action.yml uploads with an action");
    for (file, used) in uses {
        let (name, version) = used.split_once('@').unwrap_or_else(|| panic!("{file}: {used} has no version"));
        let major: u32 = version.trim_start_matches('v').split('.').next().unwrap().parse().unwrap();
        if let Some((_, min)) = minimum.iter().find(|(n, _)| *n == name) {
            assert!(major >= *min, "{file}: {used} runs on Node 20; use v{min} or later");
        }
    }
}

/// The composite action: a composite of shell steps, its inputs mapped onto
/// `parity run` flags that exist, the artifacts uploaded under the runbook's name.
#[test]
fn the_action_maps_its_inputs_onto_parity_run_flags_that_exist() {
    let action = action();
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let run = Cli::command().find_subcommand("run").unwrap().clone();
    let script: String = action["runs"]["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(script.contains("cargo install --locked --path"), "installs from source with cargo");
    let flags = regex::Regex::new(r"cmd(?:\+)?=\((?:parity run )?([^)]*)\)").unwrap();
    let mut seen = 0;
    for caps in flags.captures_iter(&script) {
        for flag in caps[1].split_whitespace().filter_map(|w| w.strip_prefix("--")) {
            seen += 1;
            assert!(run.get_arguments().any(|a| a.get_long() == Some(flag)), "`parity run` has no --{flag}");
        }
    }
    assert!(seen >= 8, "only {seen} flags found in {script}");
    let upload = action["runs"]["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/upload-artifact@")))
        .unwrap();
    assert_eq!(upload["with"]["name"].as_str(), Some("webprofile-parity-artifacts"));
}

/// The action's own `run:` scripts pass shellcheck, as they run: actionlint
/// checks the templates' scripts but does not read a composite action's steps.
#[test]
fn the_actions_scripts_pass_shellcheck() {
    let installed = Command::new("shellcheck").arg("--version").output().is_ok_and(|o| o.status.success());
    let missing = "shellcheck is not installed (apt-get install shellcheck)";
    let test = "the_actions_scripts_pass_shellcheck";
    if !crate::common::available_or_skip(installed, test, "PARITY_REQUIRE_SHELLCHECK", missing) {
        return;
    }
    let expression = regex::Regex::new(r"\$\{\{[^}]*\}\}").unwrap();
    let mut checked = 0;
    for step in action()["runs"]["steps"].as_vec().unwrap() {
        let Some(script) = step["run"].as_str() else { continue };
        // As the runner runs a `shell: bash` step, its expressions already replaced.
        let text = format!(
            "#!/usr/bin/env bash\nset -eo pipefail\n{}",
            expression.replace_all(script, "EXPRESSION")
        );
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        let output = Command::new("shellcheck").arg(file.path()).output().unwrap();
        let name = step["name"].as_str().unwrap_or("?");
        assert!(output.status.success(), "`{name}`: {}", String::from_utf8_lossy(&output.stdout));
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} scripts");
}

#[test]
fn the_sharded_run_deals_one_share_per_matrix_job_and_merges_them_all() {
    let (_, doc) = workflows().into_iter().find(|(p, _)| p.ends_with("parity.yml")).unwrap();
    let shards = doc["jobs"]["parity-shard"]["strategy"]["matrix"]["shard"].as_vec().expect("a shard matrix");
    let runs: Vec<String> = doc["jobs"]["parity-shard"]["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str().map(String::from))
        .collect();
    let run = runs.iter().find(|r| r.contains("parity run")).expect("a parity run step");
    assert!(run.contains(&format!("--shard \"${{{{ matrix.shard }}}}/{}\"", shards.len())), "{run}");
    assert!(run.contains("--seed \"${{ github.run_id }}\""), "one seed for every shard: {run}");
    let merge = &doc["jobs"]["parity-merge"];
    assert_eq!(merge["needs"].as_str(), Some("parity-shard"));
    let merged = merge["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .any(|r| r.contains("parity merge shards/parity-shard-*"));
    assert!(merged, "the merge job merges every downloaded shard");
}
