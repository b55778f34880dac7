//! Loading the rules: the built-in converged pack plus any configured folders.

use crate::builtin::BUILTIN_RULES;
use crate::config::RulesConfig;
use onesec_sigma::{LoadOptions, RuleSet};
use serde::Serialize;
use std::path::PathBuf;

/// What was loaded and what was refused (with the reason), for `onesec rules check` and the API.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RulesReport {
    /// `source: title` of each rule running.
    pub loaded: Vec<String>,
    /// Each refused rule with its reason.
    pub rejected: Vec<RejectedRule>,
    /// Each rule file read (built-in ones as `builtin:<name>`) with the SHA-256 of its text
    /// (hex), in load order: the audit log's `rules.load` entry, so a changed, added or
    /// removed rule shows between two starts.
    #[serde(skip)]
    pub files: Vec<(String, String)>,
}

/// A rule the engine cannot run.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedRule {
    /// File (or built-in name).
    pub source: String,
    /// Rule title, when it could be read.
    pub title: String,
    /// Why it cannot run.
    pub reason: String,
    /// Line (1-based) in the file of the problem, when known.
    pub line: Option<usize>,
    /// Column (1-based) on that line, when known.
    pub column: Option<usize>,
}

/// Loads the configured rules into one set.
pub fn load_rules(config: &RulesConfig) -> Result<(RuleSet, RulesReport), String> {
    let mut sources: Vec<(PathBuf, String)> = Vec::new();
    if config.builtin {
        sources.extend(
            BUILTIN_RULES
                .iter()
                .map(|(name, text)| (PathBuf::from(format!("builtin:{name}")), text.to_string())),
        );
    }
    for dir in &config.dirs {
        collect_yaml(dir, &mut sources).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let borrowed: Vec<(Option<&std::path::Path>, &str)> = sources
        .iter()
        .map(|(path, text)| (Some(path.as_path()), text.as_str()))
        .collect();
    let (rules, report) = RuleSet::from_sources(&borrowed, &LoadOptions::default());
    let source = |path: &Option<PathBuf>| {
        path.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let summary = RulesReport {
        loaded: report
            .loaded
            .iter()
            .map(|r| format!("{}: {}", source(&r.path), r.title))
            .collect(),
        rejected: report
            .rejected
            .iter()
            .map(|r| RejectedRule {
                source: source(&r.path),
                title: r.title.clone().unwrap_or_default(),
                reason: r.reason.clone(),
                line: r.line,
                column: r.column,
            })
            .collect(),
        files: sources
            .iter()
            .map(|(path, text)| {
                let sha256 = crate::audit::sha256_hex(&[text.as_bytes()]);
                (path.display().to_string(), sha256)
            })
            .collect(),
    };
    Ok((rules, summary))
}

fn collect_yaml(path: &std::path::Path, out: &mut Vec<(PathBuf, String)>) -> std::io::Result<()> {
    if path.is_file() {
        out.push((path.to_path_buf(), std::fs::read_to_string(path)?));
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    for entry in entries {
        let is_yaml = entry.extension().is_some_and(|e| e == "yml" || e == "yaml");
        if entry.is_dir() || is_yaml {
            collect_yaml(&entry, out)?;
        }
    }
    Ok(())
}
