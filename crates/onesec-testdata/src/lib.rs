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

/// SplitMix64: a deterministic generator for generated inputs and mutations, so a failure or
/// a benchmark run names a reproducible case.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// xorshift64*: a tiny deterministic generator for reproducible shuffles and estates.
pub struct XorShift64Star(u64);

impl XorShift64Star {
    /// A generator from `seed` (0 is taken as 1: xorshift never leaves 0).
    pub fn new(seed: u64) -> XorShift64Star {
        XorShift64Star(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}
