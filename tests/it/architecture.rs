//! The layers of `src/` (docs/design.md, "Layers"), enforced: every file is
//! parsed (`syn`), the module tree walked from `lib.rs` and `main.rs` as the
//! compiler walks it, and every path resolved — `crate::`, `super::` (any
//! depth), `self::`, `webprofile_parity::`, and names a `use` brought in —
//! to the top-level module it lands in. Test code (items under
//! `#[cfg(test)]`, whatever file they are in) may reach further and is not
//! read. The analysis is itself tested on small sources that break each rule.
//!
//! Why a test and not a workspace of crates: the crate graph would enforce
//! only "who imports whom" (not "renderers do no I/O" or "only the console
//! prints"), and splitting `src/` into crates would rewrite every path and
//! add a link step per crate to every build on CI's two cores.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// A module's own code (test code left out): where it is, and what it names.
#[derive(Debug, Default)]
struct Module {
    /// `["stack", "docker", "containers"]`; `["main"]` for the binary's root.
    path: Vec<String>,
    file: PathBuf,
    /// Every path it names, resolved where it can be: `crate::…` paths start
    /// with `crate`, the others with the outside crate (`std`, `tokio`, …).
    paths: BTreeSet<Vec<String>>,
    /// Methods called (`.canonicalize()`), by name.
    methods: BTreeSet<String>,
    /// Macros invoked (`println!`), by their last name.
    macros: BTreeSet<String>,
}

impl Module {
    fn top(&self) -> &str {
        &self.path[0]
    }

    /// The top-level modules of this crate it names, itself excepted.
    fn imports(&self, tops: &BTreeSet<String>) -> BTreeSet<String> {
        self.paths
            .iter()
            .filter(|p| p.first().is_some_and(|f| f == "crate"))
            .filter_map(|p| p.get(1))
            .filter(|m| tops.contains(*m) && *m != self.top())
            .cloned()
            .collect()
    }
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>().is_ok_and(|m| match m {
                syn::Meta::Path(p) => p.is_ident("test"),
                // `#[cfg(all(test, …))]` and the like.
                syn::Meta::List(l) => {
                    l.tokens.to_string().split(|c: char| !c.is_alphanumeric()).any(|t| t == "test")
                }
                _ => false,
            })
    })
}

/// Walks a module's items; nested inline modules become modules of their own.
struct Walker {
    module: Module,
    /// Names a `use` brought in → the path it stands for (resolved).
    aliases: BTreeMap<String, Vec<String>>,
    /// Inline `mod x { … }` met, walked after this one.
    nested: Vec<(Vec<String>, Vec<syn::Item>)>,
    /// `mod x;` met: the child's name.
    children: Vec<String>,
}

impl Walker {
    fn new(path: Vec<String>, file: PathBuf) -> Self {
        Walker {
            module: Module { path, file, ..Module::default() },
            aliases: BTreeMap::new(),
            nested: Vec::new(),
            children: Vec::new(),
        }
    }

    /// The absolute form of a path as written in this module.
    fn resolve(&self, segments: &[String]) -> Vec<String> {
        let here = &self.module.path;
        let Some(first) = segments.first() else { return Vec::new() };
        let in_crate = |module: &[String], rest: &[String]| {
            let mut out = vec!["crate".to_string()];
            // The binary's root names the library by its crate name.
            out.extend(module.iter().filter(|m| *m != "main").cloned());
            out.extend(rest.iter().cloned());
            out
        };
        match first.as_str() {
            "crate" => in_crate(&[], &segments[1..]),
            "webprofile_parity" => in_crate(&[], &segments[1..]),
            "self" => in_crate(here, &segments[1..]),
            "super" => {
                let ups = segments.iter().take_while(|s| *s == "super").count();
                in_crate(&here[..here.len().saturating_sub(ups)], &segments[ups..])
            }
            name => match self.aliases.get(name) {
                Some(target) => target.iter().chain(&segments[1..]).cloned().collect(),
                None => segments.to_vec(),
            },
        }
    }

    fn record(&mut self, path: &syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let resolved = self.resolve(&segments);
        self.module.paths.insert(resolved);
    }

    fn use_tree(&mut self, prefix: Vec<String>, tree: &syn::UseTree) {
        let joined = |name: &syn::Ident| prefix.iter().cloned().chain([name.to_string()]).collect::<Vec<_>>();
        match tree {
            syn::UseTree::Path(p) => self.use_tree(joined(&p.ident), &p.tree),
            syn::UseTree::Name(n) => self.bring_in(n.ident.to_string(), joined(&n.ident)),
            syn::UseTree::Rename(r) => self.bring_in(r.rename.to_string(), joined(&r.ident)),
            syn::UseTree::Glob(_) => {
                let resolved = self.resolve(&prefix);
                self.module.paths.insert(resolved);
            }
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_tree(prefix.clone(), t)),
        }
    }

    fn bring_in(&mut self, name: String, path: Vec<String>) {
        // `use super::{self, x}`: `self` names the prefix itself.
        let path =
            if path.last().is_some_and(|l| l == "self") { path[..path.len() - 1].to_vec() } else { path };
        let resolved = self.resolve(&path);
        self.module.paths.insert(resolved.clone());
        let name = if name == "self" { path.last().cloned().unwrap_or_default() } else { name };
        if name != "_" {
            self.aliases.insert(name, resolved);
        }
    }
}

impl<'a> Visit<'a> for Walker {
    fn visit_item(&mut self, item: &'a syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Trait(t) => &t.attrs,
            syn::Item::Macro(m) => &m.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if is_test_only(attrs) {
            return;
        }
        match item {
            syn::Item::Mod(m) => match &m.content {
                Some((_, items)) => {
                    let path = self.module.path.iter().cloned().chain([m.ident.to_string()]).collect();
                    self.nested.push((path, items.clone()));
                }
                None => self.children.push(m.ident.to_string()),
            },
            _ => syn::visit::visit_item(self, item),
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'a syn::ImplItemFn) {
        if !is_test_only(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_item_use(&mut self, item: &'a syn::ItemUse) {
        self.use_tree(Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'a syn::Path) {
        self.record(path);
        syn::visit::visit_path(self, path);
    }

    fn visit_expr_method_call(&mut self, call: &'a syn::ExprMethodCall) {
        self.module.methods.insert(call.method.to_string());
        syn::visit::visit_expr_method_call(self, call);
    }

    fn visit_macro(&mut self, mac: &'a syn::Macro) {
        if let Some(last) = mac.path.segments.last() {
            self.module.macros.insert(last.ident.to_string());
        }
        // The arguments of `format!`, `write!`, `assert!`… are expressions:
        // paths inside them count too.
        if let Ok(args) =
            mac.parse_body_with(syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated)
        {
            args.iter().for_each(|e| Visit::visit_expr(self, e));
        }
        syn::visit::visit_macro(self, mac);
    }
}

/// Walks one source text as module `path`; `file` locates its `mod x;` children.
fn walk_source(
    path: Vec<String>,
    file: &Path,
    text: &str,
    out: &mut Vec<Module>,
) -> Vec<(Vec<String>, PathBuf)> {
    let ast = syn::parse_file(text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    walk_items(path, file, &ast.items, out)
}

fn walk_items(
    path: Vec<String>,
    file: &Path,
    items: &[syn::Item],
    out: &mut Vec<Module>,
) -> Vec<(Vec<String>, PathBuf)> {
    let mut walker = Walker::new(path.clone(), file.to_path_buf());
    // Uses first: a name may be used above the `use` that brings it in.
    for item in items {
        if let syn::Item::Use(u) = item {
            if !is_test_only(&u.attrs) {
                walker.visit_item_use(u);
            }
        }
    }
    for item in items {
        walker.visit_item(item);
    }
    let Walker { module, nested, children, .. } = walker;
    out.push(module);
    let mut files = Vec::new();
    for (nested_path, nested_items) in nested {
        files.extend(walk_items(nested_path, file, &nested_items, out));
    }
    // `a.rs` and `a/mod.rs` keep children in `a/`; `lib.rs` and `main.rs` beside them.
    let stem = file.file_stem().unwrap().to_string_lossy();
    let dir = match stem.as_ref() {
        "lib" | "main" | "mod" => file.parent().unwrap().to_path_buf(),
        _ => file.with_extension(""),
    };
    for child in children {
        let child_path: Vec<String> =
            path.iter().filter(|p| *p != "main").cloned().chain([child.clone()]).collect();
        let flat = dir.join(format!("{child}.rs"));
        let file = if flat.exists() { flat } else { dir.join(&child).join("mod.rs") };
        files.push((child_path, file));
    }
    files
}

/// Every module of the library and the binary, test code left out.
fn modules() -> &'static [Module] {
    static MODULES: std::sync::OnceLock<Vec<Module>> = std::sync::OnceLock::new();
    MODULES.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut out = Vec::new();
        let mut pending =
            vec![(Vec::new(), src.join("lib.rs")), (vec!["main".to_string()], src.join("main.rs"))];
        while let Some((path, file)) = pending.pop() {
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            pending.extend(walk_source(path, &file, &text, &mut out));
        }
        out.retain(|m| !m.path.is_empty());
        out
    })
}

fn top_level_modules() -> BTreeSet<String> {
    modules().iter().map(|m| m.top().to_string()).collect()
}

/// Top-level modules → the top-level modules their code names.
fn graph_of(modules: &[Module]) -> BTreeMap<String, BTreeSet<String>> {
    let tops: BTreeSet<String> = modules.iter().map(|m| m.top().to_string()).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in modules {
        graph.entry(m.top().to_string()).or_default().extend(m.imports(&tops));
    }
    graph
}

fn imports() -> BTreeMap<String, BTreeSet<String>> {
    graph_of(modules())
}

/// What counts as I/O in a renderer: the file system, the network, processes,
/// the environment, the async runtime — by path or by a `Path` method.
fn io_in(module: &Module) -> Vec<String> {
    const PATHS: [&[&str]; 7] = [
        &["std", "fs"],
        &["std", "net"],
        &["std", "process"],
        &["std", "env"],
        &["tokio"],
        &["reqwest"],
        &["std", "io", "stdout"],
    ];
    const PATH_METHODS: [&str; 10] = [
        "canonicalize",
        "read_dir",
        "metadata",
        "symlink_metadata",
        "read_link",
        "try_exists",
        "exists",
        "is_file",
        "is_dir",
        "is_symlink",
    ];
    let by_path = module
        .paths
        .iter()
        .filter(|p| {
            PATHS.iter().any(|io| p.len() >= io.len() && p.iter().zip(io.iter()).all(|(a, b)| a == b))
        })
        .map(|p| p.join("::"));
    let by_method =
        module.methods.iter().filter(|m| PATH_METHODS.contains(&m.as_str())).map(|m| format!(".{m}()"));
    by_path.chain(by_method).collect()
}

fn prints(module: &Module) -> Vec<String> {
    let macros = ["println", "eprintln", "print", "eprint", "dbg"];
    let by_macro = module.macros.iter().filter(|m| macros.contains(&m.as_str())).map(|m| format!("{m}!"));
    let streams = module
        .paths
        .iter()
        .filter(|p| p.len() >= 3 && p[..2] == ["std", "io"] && ["stdout", "stderr"].contains(&p[2].as_str()))
        .map(|p| p.join("::"));
    by_macro.chain(streams).collect()
}

fn importers_of(graph: &BTreeMap<String, BTreeSet<String>>, module: &str) -> BTreeSet<String> {
    graph.iter().filter(|(_, named)| named.contains(module)).map(|(m, _)| m.clone()).collect()
}

/// A module parsed from `text` as if it were at `path` (for the self-tests).
fn parsed(path: &[&str], text: &str) -> Vec<Module> {
    let mut out = Vec::new();
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    walk_source(path, Path::new("/nowhere/x.rs"), text, &mut out);
    out
}

#[test]
fn the_analysis_resolves_every_path_form_and_leaves_test_code_out() {
    let m = parsed(
        &["stack", "docker", "containers"],
        r#"
        use super::super::super::cli::Args;
        use crate::{clock::{self, Clock}, report as r};
        use std::fs;
        fn f() {
            let _ = fs::read("x");
            let _ = self::helper();
            let _ = r::text::render();
            let _ = format!("{}", super::super::super::notify::send());
            let _ = webprofile_parity::exit::Exit::Ok;
        }
        #[cfg(test)]
        mod tests { use crate::publish; }
        #[cfg(test)]
        fn only_in_tests() { crate::collector::run(); }
        "#,
    );
    let tops: BTreeSet<String> =
        ["cli", "clock", "report", "notify", "exit", "publish", "collector", "stack"]
            .map(String::from)
            .into();
    let names = m[0].imports(&tops);
    assert_eq!(names, ["cli", "clock", "exit", "notify", "report"].map(String::from).into());
    assert!(m[0].paths.contains(["std", "fs", "read"].map(String::from).as_slice()), "{:?}", m[0].paths);
    assert!(m[0]
        .paths
        .contains(["crate", "stack", "docker", "containers", "helper"].map(String::from).as_slice()));
}

#[test]
fn the_rules_catch_io_in_a_renderer_a_print_and_a_layer_crossed() {
    let dashboard = parsed(
        &["report", "dashboard"],
        "fn render(p: &std::path::Path) -> String { let _ = p.canonicalize(); String::new() }",
    );
    assert_eq!(io_in(&dashboard[0]), [".canonicalize()"]);
    let runtime = parsed(&["report", "chart"], "use tokio::time; fn f() { time::sleep(); }");
    assert_eq!(io_in(&runtime[0]), ["tokio::time", "tokio::time::sleep"]);

    let writer = parsed(&["merge"], "use std::fs::File; fn f() { let _ = File::create(\"x\"); }");
    assert_eq!(writes(&writer[0]), ["std::fs::File::create"]);

    let loud = parsed(&["notify", "slack"], r#"fn f() { eprintln!("x"); let _ = std::io::stderr(); }"#);
    assert_eq!(prints(&loud[0]), ["eprintln!", "std::io::stderr"]);

    let graph = graph_of(&[
        parsed(&["contract", "client"], "use super::super::run::Run;").remove(0),
        parsed(&["run"], "").remove(0),
    ]);
    assert_eq!(graph["contract"], BTreeSet::from(["run".to_string()]));
}

#[test]
fn every_module_file_is_reached_from_the_crate_roots() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let reached: BTreeSet<PathBuf> = modules().iter().map(|m| m.file.clone()).collect();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        // Files declared only under `#[cfg(test)]` are test code.
        let test_only = rel.ends_with("tests.rs") || rel.contains("/tests/");
        assert!(
            test_only || rel == "lib.rs" || reached.contains(&file),
            "{rel} is not reached: the analysis would miss it"
        );
    }
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

#[test]
fn only_main_and_commands_see_the_command_line() {
    let graph = imports();
    assert!(graph.contains_key("cli") && graph.contains_key("commands"), "{graph:?}");
    assert!(top_level_modules().len() > 30);
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
    let allowed = ["clock", "contract", "hashing", "http", "progress", "retry", "signals", "store"];
    let named = &graph["reference"];
    assert!(named.iter().all(|m| allowed.contains(&m.as_str())), "reference names {named:?}");
}

/// What both sides share stays below the harness.
#[test]
fn the_shared_layer_names_only_foundations() {
    let graph = imports();
    let foundations = [
        "clock", "escape", "exit", "hashing", "http", "redact", "retry", "settings", "signals", "stats",
        "store", "verdict",
    ];
    for shared in [
        "contract", "hashing", "store", "verdict", "clock", "escape", "settings", "stats", "redact", "http",
        "retry",
    ] {
        let named = graph.get(shared).cloned().unwrap_or_default();
        assert!(named.iter().all(|m| foundations.contains(&m.as_str())), "{shared} names {named:?}");
    }
}

/// Renderers are pure: they take what they are handed and return text.
#[test]
fn report_renderers_do_no_io_but_appending_the_step_summary() {
    let renderers: Vec<&Module> = modules().iter().filter(|m| m.top() == "report").collect();
    assert!(renderers.len() > 5, "{renderers:?}");
    let tops = top_level_modules();
    for m in renderers {
        let allowed = m.path.last().is_some_and(|l| l == "step_summary");
        let io = io_in(m);
        assert!(allowed || io.is_empty(), "{} does I/O: {io:?}", m.path.join("::"));
        // The model they render (`analysis`) is below them; the modules that write files are not.
        let writers: Vec<String> =
            m.imports(&tops).into_iter().filter(|t| t == "artifacts" || t == "files").collect();
        assert!(allowed || writers.is_empty(), "{} names {writers:?}", m.path.join("::"));
    }
    let model: Vec<&Module> = modules().iter().filter(|m| m.top() == "analysis").collect();
    assert!(!model.is_empty() && model.iter().all(|m| io_in(m).is_empty()), "the analysis model does I/O");
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
/// redacts it (`tracing` too); nothing else prints (`main` only says the
/// runtime did not start).
#[test]
fn only_the_console_module_prints() {
    for m in modules() {
        if ["progress", "main"].contains(&m.top()) {
            continue;
        }
        let printed = prints(m);
        assert!(
            printed.is_empty(),
            "{} writes to the console around the redactor: {printed:?}",
            m.path.join("::")
        );
    }
}

/// One way to the disk: a file is written through `files` (a regular file
/// only, its folder created), never by `std::fs::write` or an `open` of its
/// own elsewhere.
#[test]
fn files_are_written_only_through_the_files_module() {
    for m in modules().iter().filter(|m| m.top() != "files") {
        let own = writes(m);
        assert!(own.is_empty(), "{} writes around `files`: {own:?}", m.path.join("::"));
    }
}

/// Files a module opens for writing itself.
fn writes(module: &Module) -> Vec<String> {
    let writers: [&[&str]; 5] = [
        &["std", "fs", "write"],
        &["std", "fs", "File", "create"],
        &["std", "fs", "File", "create_new"],
        &["std", "fs", "File", "options"],
        &["std", "fs", "OpenOptions"],
    ];
    module
        .paths
        .iter()
        .filter(|p| writers.iter().any(|w| p.len() >= w.len() && p[..w.len()] == w[..]))
        .map(|p| p.join("::"))
        .collect()
}
