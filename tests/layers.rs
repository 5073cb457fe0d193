//! The library's modules import only downward: no module reaches back up to one that imports
//! it, directly or through others. Read from the sources, not compiled: every `use crate::…`,
//! `use super::…` and inline `crate::…`/`super::…` path outside comments is an import of the
//! module it names (a crate-root re-export counts as its defining module). A child module
//! declared in a parent's file is not an import of the parent.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// Every `.rs` file under `dir`, as its module path (`bridge::call`), with its text.
fn modules(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            modules(root, &path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let relative: PathBuf = path.strip_prefix(root).unwrap().with_extension("");
            let mut segments: Vec<String> = relative
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            if matches!(segments.last().map(String::as_str), Some("mod" | "lib")) {
                segments.pop();
            }
            out.insert(
                segments.join("::"),
                fs::read_to_string(&path).expect("read"),
            );
        }
    }
}

/// The text without comments (line and block), so that doc links are not imports.
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands a `use` tree (`a::{b, c::{d}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(tree).trim().to_owned()];
    };
    let (prefix, inner) = (
        &tree[..open],
        &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())],
    );
    let (mut parts, mut depth, mut current) = (Vec::new(), 0, String::new());
    for ch in inner.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(ch);
    }
    parts.push(current);
    parts
        .iter()
        .filter(|part| !part.trim().is_empty())
        .flat_map(|part| expand(&format!("{prefix}{}", part.trim())))
        .collect()
}

/// The child modules `code` declares (`mod name;`), by name.
fn children(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|line| {
            let line = line.trim();
            let name = line
                .strip_prefix("pub(crate) mod ")
                .or_else(|| line.strip_prefix("pub mod "))
                .or_else(|| line.strip_prefix("mod "))?;
            name.strip_suffix(';').map(str::to_owned)
        })
        .collect()
}

/// Every `crate::`/`super::`/`self::` path in `code`, from `use` items and inline; a `use` of
/// one of the module's own `children` by its bare name (`pub use token::CancelToken;`) counts
/// as `self::`.
fn paths(code: &str, children: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let boundary = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
        let item = &rest[at + 4..];
        let end = item.find(';').unwrap_or(item.len());
        let child = children.iter().any(|child| {
            item.strip_prefix(child.as_str())
                .is_some_and(|after| after.starts_with("::"))
        });
        if boundary
            && ["crate", "super", "self"]
                .iter()
                .any(|p| item.starts_with(p))
        {
            found.extend(expand(&item[..end]));
        } else if boundary && child {
            found.extend(expand(&format!("self::{}", &item[..end])));
        }
        rest = &item[end.min(item.len())..];
    }
    for prefix in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let boundary = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
            let path: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            // `super::{a, b}` is a `use` tree, expanded above: only a path with a name after
            // the prefix is an inline path.
            if boundary && path.len() > prefix.len() && !path.ends_with("::") {
                found.push(path);
            }
            rest = &rest[at + prefix.len()..];
        }
    }
    found
}

/// The module `path`, written in module `here`, refers to.
fn resolve(
    path: &str,
    here: &str,
    mods: &BTreeMap<String, String>,
    reexports: &BTreeMap<String, String>,
) -> Option<String> {
    let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    match segments.first().copied() {
        Some("crate") => {
            segments.remove(0);
            if let Some(module) = segments.first().and_then(|s| reexports.get(*s)) {
                return Some(module.clone());
            }
        }
        Some("super") => {
            let mut base: Vec<&str> = here.split("::").filter(|s| !s.is_empty()).collect();
            while segments.first() == Some(&"super") {
                segments.remove(0);
                base.pop();
            }
            base.extend(segments);
            segments = base;
        }
        Some("self") => {
            segments.remove(0);
            let mut base: Vec<&str> = here.split("::").filter(|s| !s.is_empty()).collect();
            base.extend(segments);
            segments = base;
        }
        _ => return None,
    }
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find(|candidate| mods.contains_key(candidate))
}

#[test]
fn the_library_has_no_import_circle() {
    no_import_circle(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
}

/// The same for the test kit beside the library, in the workspace (a packaged crate has no
/// workspace around it, and skips this).
#[test]
fn the_conformance_crate_has_no_import_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/src");
    if src.is_dir() {
        no_import_circle(&src);
    }
}

/// Panics with the circle if some module of the crate at `src` reaches back to itself.
fn no_import_circle(src: &Path) {
    let mut mods = BTreeMap::new();
    modules(src, src, &mut mods);
    // `pub use crate::bridge::Bridge;` in the crate root: `crate::Bridge` is a use of `bridge`.
    let mut reexports = BTreeMap::new();
    for path in paths(&code(&mods[""]), &children(&code(&mods[""]))) {
        let segments: Vec<&str> = path.split("::").collect();
        if segments.len() >= 3 && segments[0] == "crate" && mods.contains_key(segments[1]) {
            reexports.insert(
                segments[segments.len() - 1].to_owned(),
                segments[1].to_owned(),
            );
        }
    }
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, text) in &mods {
        let code = code(text);
        for path in paths(&code, &children(&code)) {
            if let Some(target) = resolve(&path, name, &mods, &reexports) {
                if target != *name && !target.is_empty() {
                    edges.entry(name).or_default().insert(target);
                }
            }
        }
    }
    // A module on a path back to itself is in a circle.
    for start in mods.keys() {
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, trail)) = stack.pop() {
            for next in edges.get(at.as_str()).into_iter().flatten() {
                let mut trail = trail.clone();
                trail.push(next.clone());
                assert!(
                    next != start,
                    "an import circle: {} (imports go one way, down: move what both sides need \
                     into a module below them)",
                    trail.join(" -> ")
                );
                if seen.insert(next.clone()) {
                    stack.push((next.clone(), trail));
                }
            }
        }
    }
    assert!(
        edges.len() > 10,
        "the check found too few imports to be reading the sources"
    );
}
