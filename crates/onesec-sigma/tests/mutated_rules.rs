//! Seeded mutations of SigmaHQ rule files through the loader: nothing panics, and every
//! rejected document names its file, line, column and reason. (The cargo-fuzz targets in
//! `fuzz/` do the same with coverage guidance; this test runs on stable, in CI.)

/// SplitMix64, so a failure names a reproducible case.
use onesec_testdata::SplitMix64 as Rng;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use onesec_sigma::{Engine, EngineConfig, LoadOptions, RuleSet};

/// Mutated files per run.
const CASES: usize = 3000;

fn rule_files(dir: &Path, out: &mut Vec<PathBuf>) {
    out.extend(onesec_testdata::files_under(dir, &|p: &Path| {
        p.extension().is_some_and(|e| e == "yml")
    }));
}

/// Nearest char boundary at or below `i`.
fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Text that tends to break YAML, modifiers, conditions and regexes.
const SNIPPETS: &[&str] = &[
    ":",
    "- ",
    "|",
    "'",
    "\"",
    "{",
    "}",
    "[",
    "]",
    "\t",
    "\n",
    "*",
    "?",
    "\\",
    "#",
    "&a",
    "*a",
    "!!binary",
    "---\n",
    "|re",
    "|contains|all",
    "|base64offset",
    "|bogus",
    "|cidr",
    "|gt",
    "|expand",
    "%x%",
    "(",
    ")",
    "1 of ",
    "all of them",
    " and not ",
    " or ",
    "| count() > 5",
    "(?<=x)",
    "[z-a]",
    "a{99999}",
    "\u{feff}",
    "é",
    "\0",
    "    ",
    "null",
    "~",
    "0x",
    "-1",
    "correlation:\n  type: event_count\n",
    "timespan: 5x",
    "condition:",
    "detection:",
    "title:",
    "\n--- x: 1\n",
    "--- ",
];

/// One random edit of `text`.
fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut s = text.to_string();
    for _ in 0..1 + rng.below(3) {
        let at = floor(&s, rng.below(s.len() + 1));
        match rng.below(9) {
            // Insert a snippet.
            0 | 1 => s.insert_str(at, SNIPPETS[rng.below(SNIPPETS.len())]),
            // Delete a short range.
            2 => {
                let end = floor(&s, at + 1 + rng.below(24));
                s.replace_range(at..end.max(at), "");
            }
            // Truncate.
            3 => s.truncate(at),
            // Re-indent one line.
            4 => {
                let mut lines: Vec<String> = s.lines().map(str::to_string).collect();
                if !lines.is_empty() {
                    let i = rng.below(lines.len());
                    lines[i] = match rng.below(3) {
                        0 => format!(" {}", lines[i]),
                        1 => lines[i].trim_start().to_string(),
                        _ => format!("\t{}", lines[i]),
                    };
                }
                s = lines.join("\n");
            }
            // Duplicate or swap lines.
            5 => {
                let mut lines: Vec<&str> = s.lines().collect();
                if lines.len() > 1 {
                    let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
                    if rng.below(2) == 0 {
                        lines.swap(i, j);
                    } else {
                        lines.insert(j, lines[i]);
                    }
                }
                s = lines.join("\n");
            }
            // Break a modifier, the condition or a value.
            6 => {
                for (from, to) in [
                    ("|contains", "|contans"),
                    ("|endswith", "|endswith|re"),
                    ("condition: ", "condition: ( "),
                    (" and ", " and and "),
                    ("|re:", "|re: '('\n    x|re:"),
                    ("timespan: ", "timespan: -"),
                    ("selection", "sel ection"),
                ] {
                    if s.contains(from) && rng.below(2) == 0 {
                        s = s.replacen(from, to, 1);
                        break;
                    }
                }
            }
            // Replace one byte-range with random printable ASCII.
            7 => {
                let end = floor(&s, at + rng.below(8));
                let junk: String = (0..end.saturating_sub(at).max(1))
                    .map(|_| char::from(b' ' + rng.below(95) as u8))
                    .collect();
                s.replace_range(at..end.max(at), &junk);
            }
            // Deep nesting.
            _ => {
                let depth = 1 + rng.below(200);
                s.insert_str(at, &format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
            }
        }
    }
    s
}

#[test]
fn mutated_sigmahq_rules_never_panic_and_every_rejection_is_located() {
    let Some(root) = onesec_testdata::shared("data/sigma") else {
        return;
    };
    let mut files = Vec::new();
    for d in ["rules", "rules-emerging-threats", "rules-threat-hunting"] {
        rule_files(&root.join(d), &mut files);
    }
    assert!(files.len() > 1000, "expected the SigmaHQ corpus");
    let mut rng = Rng(0x05EE_D0F5_161A);
    let opts = LoadOptions::default();
    let (mut loaded, mut rejected, mut ran) = (0usize, 0usize, 0usize);
    let mut unlocated = Vec::new();
    for case in 0..CASES {
        let path = &files[rng.below(files.len())];
        let original = std::fs::read_to_string(path).unwrap_or_default();
        let text = mutate(&original, &mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let (set, report) =
                RuleSet::from_sources(&[(Some(path.as_path()), text.as_str())], &opts);
            // Whatever loads must also run.
            let ran = if set.is_empty() {
                false
            } else {
                let mut engine = Engine::new(set, EngineConfig::default());
                let _ = engine.process(1, &serde_json::json!({"CommandLine": "x", "time_ms": 1}));
                true
            };
            (report, ran)
        }));
        let Ok((report, did_run)) = outcome else {
            panic!(
                "case {case}: loading a mutation of {} panicked; the text was:\n{text}",
                path.display()
            );
        };
        ran += usize::from(did_run);
        loaded += report.loaded.len();
        rejected += report.rejected.len();
        let lines = text.lines().count().max(1);
        for r in &report.rejected {
            let located = r.path.as_deref() == Some(path.as_path())
                && r.line.is_some_and(|l| l >= 1 && l <= lines + 1)
                && r.column.is_some_and(|c| c >= 1)
                && !r.reason.is_empty();
            if !located {
                unlocated.push(format!("case {case}: {} — {}", r.location(), r.reason));
            }
        }
    }
    println!(
        "{CASES} mutated files: {loaded} documents loaded ({ran} files ran), {rejected} rejected"
    );
    assert!(
        rejected > CASES / 4,
        "the mutations should break many rules"
    );
    assert!(loaded > CASES / 10, "some mutations should still load");
    assert!(
        unlocated.is_empty(),
        "{} rejections without file, line and column:\n{}",
        unlocated.len(),
        unlocated
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
