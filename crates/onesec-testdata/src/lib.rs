//! Finds the shared, read-only test data that lives beside the checkout (`../shared`).
//!
//! Tests never copy that data into the project. They ask this crate for a path:
//!
//! ```no_run
//! let Some(log) = onesec_testdata::shared("data/loghub/OpenSSH_2k.log") else { return };
//! ```
//!
//! * `ONESEC_SHARED_DIR` overrides where the shared folder is.
//! * When the folder (or the file) is missing, the test is reported as skipped on stderr and
//!   `None` is returned — except under CI (`CI=true`), where missing data is a failure (panic),
//!   because a CI run that silently skips its real-data tests proves nothing.

use std::path::{Path, PathBuf};

/// The shared folder: `$ONESEC_SHARED_DIR`, else the first `shared` folder beside the workspace
/// root or one of its parents (`../shared` for a checkout next to it).
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ONESEC_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    let root = workspace_root();
    let beside = root.join("..").join("shared");
    root.canonicalize()
        .ok()
        .and_then(|root| {
            root.ancestors()
                .skip(1)
                .map(|dir| dir.join("shared"))
                .find(|dir| dir.join("data").is_dir())
        })
        .unwrap_or(beside)
}

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

/// True when running under CI, where missing shared data must fail the test.
pub fn under_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Path of `relative` inside the shared folder, or `None` (test skipped) when it is absent.
///
/// # Panics
/// Under CI when the path is missing.
pub fn shared(relative: &str) -> Option<PathBuf> {
    let path = shared_dir().join(relative);
    if path.exists() {
        return Some(path);
    }
    if under_ci() {
        panic!("shared test data missing under CI: {}", path.display());
    }
    eprintln!("SKIPPED: shared test data not found: {}", path.display());
    None
}

/// The files below `dir` (recursively, in sorted path order) that `keep` accepts; an unreadable
/// folder contributes nothing.
pub fn files_under(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, keep, &mut out);
    out
}

fn walk(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, keep, out);
        } else if keep(&path) {
            out.push(path);
        }
    }
}
