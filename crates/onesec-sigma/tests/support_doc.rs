//! `docs/sigma-support.md` is generated: this test regenerates it and fails when the committed
//! file differs, so the page cannot drift from what the engine loads. Run with
//! `ONESEC_UPDATE_DOCS=1` to rewrite it. The SigmaHQ section needs the shared rules; without
//! them (outside CI) only the rest of the page is compared.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use onesec_sigma::support::{SIGMAHQ_HEADING, markdown};
use onesec_sigma::{LoadOptions, RuleSet};

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/sigma-support.md")
}

/// Load numbers per SigmaHQ folder, and every refused rule with its reason.
fn sigmahq_section(root: &Path) -> String {
    let folders = ["rules", "rules-emerging-threats", "rules-threat-hunting"];
    let mut s = String::from(
        "Loaded from the SigmaHQ snapshot in the shared test data (`data/sigma`, see its \
         `SOURCE.md`), all folders as one set.\n\n| folder | rule documents | loaded | refused |\n|---|---|---|---|\n",
    );
    let dirs: Vec<PathBuf> = folders.iter().map(|f| root.join(f)).collect();
    let refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let (_, report) = RuleSet::load_paths(&refs, &LoadOptions::default());
    let mut refused = Vec::new();
    for (folder, dir) in folders.iter().zip(&dirs) {
        let inside = |p: &Option<PathBuf>| p.as_deref().is_some_and(|p| p.starts_with(dir));
        let loaded = report.loaded.iter().filter(|l| inside(&l.path)).count();
        let rejected: Vec<_> = report.rejected.iter().filter(|r| inside(&r.path)).collect();
        let _ = writeln!(
            s,
            "| `{folder}` | {} | {loaded} | {} |",
            loaded + rejected.len(),
            rejected.len()
        );
        for r in rejected {
            let rel = r
                .path
                .as_deref()
                .and_then(|p| p.strip_prefix(root).ok())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            refused.push(format!("| `{rel}` | {} |", r.reason.replace('|', "\\|")));
        }
    }
    if !refused.is_empty() {
        s.push_str("\nRefused rules:\n\n| rule file | reason |\n|---|---|\n");
        s.push_str(&refused.join("\n"));
        s.push('\n');
    }
    s
}

#[test]
fn sigma_support_page_is_up_to_date() {
    let sigmahq = onesec_testdata::shared("data/sigma").map(|root| sigmahq_section(&root));
    let fresh = markdown(sigmahq.as_deref());
    let path = doc_path();
    if std::env::var_os("ONESEC_UPDATE_DOCS").is_some() {
        if sigmahq.is_none() {
            panic!("ONESEC_UPDATE_DOCS needs the shared SigmaHQ data for the load numbers");
        }
        std::fs::write(&path, &fresh).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let (fresh_cmp, committed_cmp) = if sigmahq.is_some() {
        (fresh.as_str(), committed.as_str())
    } else {
        let head = |t: &str| t.split(SIGMAHQ_HEADING).next().unwrap_or("").to_string();
        return assert_eq!(
            head(&committed),
            head(&fresh),
            "docs/sigma-support.md is out of date: run ONESEC_UPDATE_DOCS=1 cargo test -p onesec-sigma --test support_doc"
        );
    };
    assert_eq!(
        committed_cmp, fresh_cmp,
        "docs/sigma-support.md is out of date: run ONESEC_UPDATE_DOCS=1 cargo test -p onesec-sigma --test support_doc"
    );
}
