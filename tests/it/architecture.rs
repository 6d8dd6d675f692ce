//! The layers of `src/` (docs/design.md, "Layers"), enforced: this reads
//! every source file and fails when a module imports across the rules.
//! Test code (a file's `#[cfg(test)]` part, `tests.rs` files) may reach
//! further and is not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules → the top-level modules their non-test code names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = top_level_modules(&src);
    // `crate::x`, and each first name of a group: `webprofile_parity::{cli, exit::Exit}`.
    let path = regex::Regex::new(r"(?:crate|webprofile_parity)::(?:([a-z_]+)|\{([^}]*)\})").unwrap();
    let names = |caps: regex::Captures<'_>| -> Vec<String> {
        match (caps.get(1), caps.get(2)) {
            (Some(one), _) => vec![one.as_str().to_string()],
            (None, Some(group)) => group
                .as_str()
                .split(',')
                .filter_map(|item| item.trim().split("::").next().map(str::trim).map(String::from))
                .filter(|name| !name.is_empty())
                .collect(),
            (None, None) => vec![],
        }
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if rel.file_name().is_some_and(|n| n == "tests.rs") || top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = non_test_code(&text);
        let named = graph.entry(top.clone()).or_default();
        for m in path.captures_iter(code).flat_map(names) {
            if m != top && modules.contains(&m) {
                named.insert(m);
            }
        }
    }
    graph
}

/// A file's code before its inline `#[cfg(test)] mod tests { … }` (test
/// modules in their own `tests.rs` are skipped by name).
fn non_test_code(text: &str) -> &str {
    let tests = regex::Regex::new(r"#\[cfg\(test\)\]\s*mod tests\s*\{").unwrap();
    tests.find(text).map_or(text, |m| &text[..m.start()])
}

fn top_level_modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().trim_end_matches(".rs").to_string())
        .filter(|m| m != "lib" && m != "main")
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn importers_of(graph: &BTreeMap<String, BTreeSet<String>>, module: &str) -> BTreeSet<String> {
    graph.iter().filter(|(_, named)| named.contains(module)).map(|(m, _)| m.clone()).collect()
}

#[test]
fn only_main_and_commands_see_the_command_line() {
    let graph = imports();
    assert!(graph.contains_key("cli") && graph.contains_key("commands"), "{graph:?}");
    let importers = importers_of(&graph, "cli");
    assert_eq!(importers, BTreeSet::from(["commands".to_string(), "main".to_string()]));
    assert_eq!(importers_of(&graph, "commands"), BTreeSet::from(["main".to_string()]));
}

#[test]
fn main_is_a_thin_shell() {
    let graph = imports();
    let main = &graph["main"];
    assert!(main.iter().all(|m| ["cli", "commands", "exit"].contains(&m.as_str())), "main names {main:?}");
    let lines = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/main.rs")).unwrap();
    assert!(lines.lines().count() < 80, "main.rs has {} lines", lines.lines().count());
}

/// The reference server shares the store, hashing and the contract's
/// vocabulary with the harness, and nothing else of it.
#[test]
fn the_reference_never_imports_the_harness() {
    let graph = imports();
    let allowed = ["clock", "contract", "hashing", "progress", "signals", "store"];
    let named = &graph["reference"];
    assert!(named.iter().all(|m| allowed.contains(&m.as_str())), "reference names {named:?}");
}

/// What both sides share stays below the harness.
#[test]
fn the_shared_layer_names_only_foundations() {
    let graph = imports();
    let foundations =
        ["clock", "escape", "exit", "hashing", "redact", "settings", "signals", "stats", "store", "verdict"];
    for shared in
        ["contract", "hashing", "store", "verdict", "clock", "escape", "settings", "stats", "redact"]
    {
        let named = graph.get(shared).cloned().unwrap_or_default();
        assert!(named.iter().all(|m| foundations.contains(&m.as_str())), "{shared} names {named:?}");
    }
}

/// Renderers are pure: they take what they are handed and return text.
#[test]
fn report_renderers_do_no_io_but_appending_the_step_summary() {
    let report = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report");
    for file in rust_files(&report) {
        let text = std::fs::read_to_string(&file).unwrap();
        let code = non_test_code(&text);
        let io = ["std::fs", "File::", "reqwest", "tokio::"];
        let allowed = file.ends_with("step_summary.rs");
        for needle in io {
            assert!(allowed || !code.contains(needle), "{} uses {needle}", file.display());
        }
    }
    let graph = imports();
    let named = &graph["report"];
    for upper in ["run", "commands", "notify", "publish", "collector", "canary"] {
        assert!(!named.contains(upper), "report names {upper}");
    }
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let graph = imports();
    // Depth-first search with colours: a grey node met again closes a cycle.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, bool>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(true) => return None,
            Some(false) => {
                let start = path.iter().position(|n| *n == node).unwrap();
                return Some(path[start..].iter().map(|s| s.to_string()).chain([node.to_string()]).collect());
            }
            None => {}
        }
        state.insert(node, false);
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(node, true);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        let cycle = visit(node, &graph, &mut state, &mut Vec::new());
        assert!(cycle.is_none(), "import cycle: {}", cycle.unwrap().join(" → "));
    }
}

/// One way out: every byte for the console goes through `progress`, which
/// redacts it; nothing else prints (`main` only says the runtime did not start).
#[test]
fn only_the_console_module_prints() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let print = regex::Regex::new(r"\b(e?println!|e?print!|dbg!)\(|std::io::std(out|err)\(").unwrap();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        if rel == "progress.rs" || rel == "main.rs" || rel.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = non_test_code(&text);
        assert!(!print.is_match(code), "{rel} writes to the console around the redactor");
    }
}
