//! The core's modules form an acyclic graph: each module names (in code, not in comments) only
//! modules below it, so every module can be read, and tested, on top of the ones it uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Modules of `core/src` (one file each) and, for each, the other modules its code names
/// through `crate::`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/src");
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("core/src is readable") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path
                .file_stem()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            files.insert(
                name,
                std::fs::read_to_string(&path).expect("source is UTF-8"),
            );
        }
    }
    let mut g = BTreeMap::new();
    for (name, text) in &files {
        let mut deps = BTreeSet::new();
        for line in text.lines() {
            // Comments (doc links included) are not dependencies.
            let code = line.split("//").next().unwrap_or("");
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                // `crate::{a, b::c}` names several modules; `crate::a::…` one.
                let items: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group.split(',').collect(),
                    None => vec![rest],
                };
                for item in items {
                    let m: String = item
                        .trim_start()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if m != *name && files.contains_key(&m) {
                        deps.insert(m);
                    }
                }
            }
        }
        g.insert(name.clone(), deps);
    }
    g
}

/// A cycle of `g` as a path `a → … → a`, if there is one.
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // Depth-first search; a module met again while still on the path closes a cycle.
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        m: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut cycle = path[at..].to_vec();
            cycle.push(m.to_owned());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_owned());
        for d in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(g, d, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|m| visit(g, m, &mut Vec::new(), &mut done))
}

#[test]
fn core_modules_have_no_cycles() {
    let g = graph();
    // The parse finds the modules and their uses at all (a broken parse would pass vacuously).
    assert!(g.len() >= 20, "core modules: {:?}", g.keys());
    assert!(
        g["layer"].contains("conv") && g["conv"].contains("geometry"),
        "{g:?}"
    );
    if let Some(cycle) = find_cycle(&g) {
        panic!("core modules import each other: {}", cycle.join(" → "));
    }
}

#[test]
fn cycle_finder_finds_a_cycle() {
    let g: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(m, d)| (m.to_owned(), BTreeSet::from([d.to_owned()])))
        .collect();
    assert_eq!(
        find_cycle(&g).map(|c| c.join(" ")),
        Some("a b c a".to_owned())
    );
}
