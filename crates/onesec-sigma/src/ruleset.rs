//! Loading rules: YAML documents → compiled rules, reference resolution, and the load report.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_yaml::{Mapping, Value as Yaml};

use crate::correlation::{CorrelationSpec, CorrelationType, parse_spec};
use crate::ctx::Ctx;
use crate::detection::{Detection, SearchHit};
use crate::error::RuleError;
use crate::meta::{Level, LogSource, Related, RuleMeta, Status};
use crate::record::Record;

/// Options for loading rules.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Values for `%name%` placeholders of the `expand` modifier (name without `%`).
    /// A rule using a placeholder that is not here is rejected.
    pub placeholders: BTreeMap<String, Vec<String>>,
}

/// What kind of rule a document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// A single-event detection rule.
    Detection,
    /// A correlation (meta) rule.
    Correlation(CorrelationType),
    /// A filter rule (adds a condition to other rules).
    Filter,
}

/// A rule that was loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedRule {
    /// The file it came from.
    pub path: Option<PathBuf>,
    /// `title`.
    pub title: String,
    /// `id`.
    pub id: Option<String>,
    /// Its kind.
    pub kind: RuleKind,
}

/// A rule that was not loaded, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct RejectedRule {
    /// The file it came from.
    pub path: Option<PathBuf>,
    /// `title`, when it could be read.
    pub title: Option<String>,
    /// Why the engine cannot run it.
    pub reason: String,
    /// Line (1-based) of the problem in the file, when known: the YAML error's position, the
    /// offending text (condition, modifier, regex, placeholder), else the document's start.
    pub line: Option<usize>,
    /// Column (1-based) on that line, when known (1 when the line is the document's start).
    pub column: Option<usize>,
}

impl RejectedRule {
    /// `path:line:column` (as much of it as is known).
    pub fn location(&self) -> String {
        let mut s = self
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<text>".to_string());
        if let Some(l) = self.line {
            s.push_str(&format!(":{l}"));
            if let Some(c) = self.column {
                s.push_str(&format!(":{c}"));
            }
        }
        s
    }
}

/// The outcome of a load: every rule is either loaded or rejected with a reason.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    /// Loaded rules.
    pub loaded: Vec<LoadedRule>,
    /// Rejected rules (and unreadable files).
    pub rejected: Vec<RejectedRule>,
}

impl LoadReport {
    /// Share of documents loaded (1.0 when there were none).
    pub fn accepted_ratio(&self) -> f64 {
        let total = self.loaded.len() + self.rejected.len();
        if total == 0 {
            1.0
        } else {
            self.loaded.len() as f64 / total as f64
        }
    }

    /// Appends another report.
    pub fn merge(&mut self, other: LoadReport) {
        self.loaded.extend(other.loaded);
        self.rejected.extend(other.rejected);
    }
}

/// The compiled body of a rule.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    /// A detection and the filters that apply to it (all must hold).
    Detection {
        detection: Detection,
        filters: Vec<Arc<Detection>>,
    },
    /// A correlation with its members resolved to rule indexes.
    Correlation {
        spec: CorrelationSpec,
        members: Vec<usize>,
    },
    /// A filter: applied to its target rules at load time.
    Filter {
        targets: Option<Vec<String>>,
        detection: Arc<Detection>,
    },
}

/// A loaded rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Its descriptive attributes.
    pub meta: RuleMeta,
    pub(crate) body: Body,
}

impl Rule {
    /// The kind of rule.
    pub fn kind(&self) -> RuleKind {
        match &self.body {
            Body::Detection { .. } => RuleKind::Detection,
            Body::Correlation { spec, .. } => RuleKind::Correlation(spec.kind),
            Body::Filter { .. } => RuleKind::Filter,
        }
    }

    /// For a detection rule: whether the record matches (filters included, log source not
    /// checked). None for correlation and filter rules.
    pub fn is_match(&self, record: &dyn Record) -> Option<bool> {
        self.matches_ctx(&Ctx::new(record))
    }

    /// [`Rule::is_match`] with the engine's per-event field cache.
    pub(crate) fn matches_ctx(&self, ctx: &Ctx<'_>) -> Option<bool> {
        match &self.body {
            Body::Detection { detection, filters } => {
                Some(detection.matches(ctx) && filters.iter().all(|f| f.matches(ctx)))
            }
            _ => None,
        }
    }

    /// For a detection rule: the search identifiers that hold for the record and the fields
    /// that made them hold (whether or not the whole condition holds: with `not`, a true
    /// search can be the reason a rule does *not* match). Empty for other rules.
    pub fn explain(&self, record: &dyn Record) -> Vec<SearchHit> {
        match &self.body {
            Body::Detection { detection, .. } => detection.explain(&Ctx::new(record)),
            _ => Vec::new(),
        }
    }

    /// For a correlation rule: the references in `rules:` as written.
    pub fn correlation_rules(&self) -> Option<&[String]> {
        match &self.body {
            Body::Correlation { spec, .. } => Some(&spec.rules),
            _ => None,
        }
    }
}

/// A set of loaded, compiled and linked rules.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

/// A document before linking.
struct Parsed {
    path: Option<PathBuf>,
    /// (line, column) of a rejection, when known.
    at: Option<(usize, Option<usize>)>,
    result: Result<Rule, (Option<String>, RuleError)>,
}

fn yaml_string(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_list(v: &Yaml) -> Vec<String> {
    match v {
        Yaml::Sequence(items) => items.iter().filter_map(yaml_string).collect(),
        other => yaml_string(other).into_iter().collect(),
    }
}

fn parse_logsource(v: &Yaml) -> Result<LogSource, RuleError> {
    let Yaml::Mapping(m) = v else {
        return Err(RuleError::Invalid("logsource must be a mapping".into()));
    };
    let get = |k: &str| m.get(k).and_then(yaml_string);
    Ok(LogSource {
        category: get("category"),
        product: get("product"),
        service: get("service"),
        definition: get("definition"),
    })
}

fn parse_meta(map: &Mapping, path: Option<&Path>) -> Result<RuleMeta, RuleError> {
    let mut meta = RuleMeta {
        path: path.map(Path::to_path_buf),
        ..RuleMeta::default()
    };
    let mut title = None;
    for (k, v) in map {
        let Some(key) = k.as_str() else {
            return Err(RuleError::Invalid("top-level keys must be strings".into()));
        };
        match key {
            "title" => title = yaml_string(v),
            "id" => meta.id = yaml_string(v).map(|s| s.trim().to_string()),
            "name" => meta.name = yaml_string(v).map(|s| s.trim().to_string()),
            "status" => match yaml_string(v).as_deref().map(Status::parse) {
                Some(Some(s)) => meta.status = Some(s),
                _ => {
                    meta.custom.insert(key.to_string(), v.clone());
                }
            },
            "level" => {
                let text = yaml_string(v).unwrap_or_default();
                meta.level = Some(
                    Level::parse(&text)
                        .ok_or_else(|| RuleError::Invalid(format!("unknown level '{text}'")))?,
                );
            }
            "description" => meta.description = yaml_string(v),
            "author" => meta.author = yaml_string(v),
            "references" => meta.references = string_list(v),
            "date" => meta.date = yaml_string(v),
            "modified" => meta.modified = yaml_string(v),
            "tags" => meta.tags = string_list(v),
            "logsource" => meta.logsource = parse_logsource(v)?,
            "falsepositives" => meta.falsepositives = string_list(v),
            "license" => meta.license = yaml_string(v),
            "taxonomy" => meta.taxonomy = yaml_string(v),
            "fields" => meta.fields = string_list(v),
            "related" => {
                if let Yaml::Sequence(items) = v {
                    for i in items {
                        if let (Some(id), Some(kind)) = (
                            i.get("id").and_then(yaml_string),
                            i.get("type").and_then(yaml_string),
                        ) {
                            meta.related.push(Related { id, kind });
                        }
                    }
                }
            }
            "detection" | "correlation" | "filter" | "generate" => {}
            _ => {
                meta.custom.insert(key.to_string(), v.clone());
            }
        }
    }
    meta.title = title.ok_or_else(|| RuleError::Invalid("title is missing".into()))?;
    Ok(meta)
}

fn parse_document(doc: &Yaml, path: Option<&Path>, opts: &LoadOptions) -> Result<Rule, RuleError> {
    let Yaml::Mapping(map) = doc else {
        return Err(RuleError::Invalid(
            "a rule document must be a mapping".into(),
        ));
    };
    if map.contains_key("action") {
        return Err(RuleError::Invalid(
            "Sigma 1.x rule collections (action: global/reset/repeat) are not supported".into(),
        ));
    }
    let meta = parse_meta(map, path)?;
    let body = if let Some(c) = map.get("correlation") {
        let spec = parse_spec(c, map.get("generate"))?;
        Body::Correlation {
            spec,
            members: Vec::new(),
        }
    } else if let Some(f) = map.get("filter") {
        let Yaml::Mapping(fm) = f else {
            return Err(RuleError::Invalid("filter must be a mapping".into()));
        };
        let targets = match fm.get("rules") {
            None | Some(Yaml::Null) => None,
            Some(Yaml::String(s)) if s.eq_ignore_ascii_case("any") => None,
            Some(v) => {
                let list = string_list(v);
                if list.is_empty() { None } else { Some(list) }
            }
        };
        let mut det = fm.clone();
        det.remove("rules");
        let detection = Detection::compile(&Yaml::Mapping(det), &opts.placeholders)?;
        Body::Filter {
            targets,
            detection: Arc::new(detection),
        }
    } else if let Some(d) = map.get("detection") {
        if !map.contains_key("logsource") {
            return Err(RuleError::Invalid("logsource is missing".into()));
        }
        Body::Detection {
            detection: Detection::compile(d, &opts.placeholders)?,
            filters: Vec::new(),
        }
    } else {
        return Err(RuleError::Invalid(
            "no detection, correlation or filter section".into(),
        ));
    };
    Ok(Rule { meta, body })
}

fn parse_text(text: &str, path: Option<&Path>, opts: &LoadOptions, out: &mut Vec<Parsed>) {
    use serde::Deserialize;
    let starts = document_starts(text);
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = match Yaml::deserialize(doc) {
            Ok(v) => v,
            Err(e) => {
                let at = e.location().map(|l| (l.line(), Some(l.column())));
                out.push(Parsed {
                    path: path.map(Path::to_path_buf),
                    at,
                    result: Err((None, RuleError::Yaml(e.to_string()))),
                });
                return;
            }
        };
        if value.is_null() {
            continue;
        }
        let start = starts.get(i).copied();
        let title = value.get("title").and_then(yaml_string);
        let result = parse_document(&value, path, opts)
            .map(|mut r| {
                r.meta.line = start.map(|s| s.0);
                r
            })
            .map_err(|e| (title, e));
        let at = match (&result, start) {
            (Err((_, e)), Some((line, end))) => Some(locate(text, line, end, e)),
            // The documents were not all found by line (should not happen): the last one seen.
            (Err(_), None) => Some((starts.last().map_or(1, |s| s.0), Some(1))),
            _ => None,
        };
        out.push(Parsed {
            path: path.map(Path::to_path_buf),
            at,
            result,
        });
    }
}

/// Whether a line separates YAML documents: `None` if not; `Some(true)` when the next document
/// starts on the same line (`--- text`), `Some(false)` for `---` alone or with a comment.
fn separator(line: &str) -> Option<bool> {
    let rest = line.strip_prefix("---")?;
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = rest.trim();
    Some(!rest.is_empty() && !rest.starts_with('#'))
}

/// (first line, last line) of each YAML document, 1-based, in the order the parser yields
/// them. A text may start with `---` (and comments) without that making an empty document.
fn document_starts(text: &str) -> Vec<(usize, usize)> {
    let mut docs: Vec<(usize, usize)> = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    let mut seen_separator = false;
    let mut last = 0;
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        last = n;
        if let Some(inline) = separator(line) {
            if let Some(d) = current.take() {
                docs.push(d);
            } else if seen_separator {
                docs.push((n, n)); // an empty document between two separators
            }
            seen_separator = true;
            if inline {
                current = Some((n, n));
            }
            continue;
        }
        let content = !line.trim().is_empty() && !line.trim_start().starts_with('#');
        match &mut current {
            Some(d) => d.1 = n,
            None if content => current = Some((n, n)),
            None => {}
        }
    }
    if let Some(d) = current {
        docs.push((d.0, last.max(d.1)));
    }
    docs
}

/// Where in the document (lines `first..=last`) the error points: the offending text when the
/// error names one, else the document's first line.
fn locate(text: &str, first: usize, last: usize, e: &RuleError) -> (usize, Option<usize>) {
    let needles: Vec<String> = match e {
        RuleError::Condition { condition, .. } => vec![condition.clone()],
        RuleError::UnknownModifier(m) => vec![format!("|{m}")],
        RuleError::Modifier(_) => vec!["|".to_string()],
        RuleError::Regex { pattern, .. } => vec![pattern.clone()],
        RuleError::Placeholder(p) => vec![format!("%{p}%")],
        RuleError::UnsupportedCorrelation(_) => {
            vec!["condition:".to_string(), "correlation:".to_string()]
        }
        RuleError::Invalid(message) => invalid_needles(message),
        _ => Vec::new(),
    };
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        let found = text
            .lines()
            .enumerate()
            .skip(first - 1)
            .take(last + 1 - first)
            .find_map(|(n, line)| line.find(needle.as_str()).map(|c| (n + 1, c)));
        if let Some((line, byte)) = found {
            let column = text
                .lines()
                .nth(line - 1)
                .map_or(1, |l| l[..byte].chars().count() + 1);
            return (line, Some(column));
        }
    }
    // Nothing more precise: the document itself, which starts at column 1 of its first line.
    (first, Some(1))
}

/// What to look for in the document for an [`RuleError::Invalid`] message: the text it quotes
/// (`unknown level 'hgih'`, `search 'sel' is empty`), or the section it is about.
fn invalid_needles(message: &str) -> Vec<String> {
    let mut needles = Vec::new();
    if let (Some(a), Some(b)) = (message.find('\''), message.rfind('\''))
        && b > a + 1
    {
        needles.push(message[a + 1..b].to_string());
    }
    for section in ["detection", "logsource", "filter", "correlation", "level"] {
        if message.starts_with(section) {
            needles.push(format!("{section}:"));
        }
    }
    needles
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<(PathBuf, String)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push((dir.to_path_buf(), e.to_string()));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect_files(&p, out, errors);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
        {
            out.push(p);
        }
    }
}

impl RuleSet {
    /// Loads every `.yml` / `.yaml` file under `path` (recursively, in sorted order).
    pub fn load_dir(path: &Path, opts: &LoadOptions) -> (RuleSet, LoadReport) {
        Self::load_paths(&[path], opts)
    }

    /// Loads several directories or files as one set (correlations may reference rules
    /// in any of them).
    pub fn load_paths(paths: &[&Path], opts: &LoadOptions) -> (RuleSet, LoadReport) {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        for p in paths {
            if p.is_dir() {
                collect_files(p, &mut files, &mut errors);
            } else {
                files.push(p.to_path_buf());
            }
        }
        let mut parsed = Vec::new();
        for (p, e) in errors {
            parsed.push(Parsed {
                path: Some(p),
                at: None,
                result: Err((None, RuleError::Io(e))),
            });
        }
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(text) => parse_text(&text, Some(&f), opts, &mut parsed),
                Err(e) => parsed.push(Parsed {
                    path: Some(f),
                    at: None,
                    result: Err((None, RuleError::Io(e.to_string()))),
                }),
            }
        }
        Self::link(parsed)
    }

    /// Loads rules from YAML text (one or more documents separated by `---`).
    pub fn from_yaml_str(yaml: &str, opts: &LoadOptions) -> (RuleSet, LoadReport) {
        Self::from_sources(&[(None, yaml)], opts)
    }

    /// Loads rules from several texts, each with an optional path for the report.
    pub fn from_sources(
        sources: &[(Option<&Path>, &str)],
        opts: &LoadOptions,
    ) -> (RuleSet, LoadReport) {
        let mut parsed = Vec::new();
        for (path, text) in sources {
            parse_text(text, *path, opts, &mut parsed);
        }
        Self::link(parsed)
    }

    /// The loaded rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Number of loaded rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule is loaded.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// A rule by `id` or `name`.
    pub fn get(&self, reference: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| {
            r.meta.id.as_deref() == Some(reference) || r.meta.name.as_deref() == Some(reference)
        })
    }

    /// Resolves references, applies filters, rejects what cannot run, builds the report.
    fn link(parsed: Vec<Parsed>) -> (RuleSet, LoadReport) {
        let mut report = LoadReport::default();
        let mut rules: Vec<(Option<PathBuf>, Rule)> = Vec::new();
        let mut rejected: Vec<RejectedRule> = Vec::new();
        for p in parsed {
            match p.result {
                Ok(r) => rules.push((p.path, r)),
                Err((title, e)) => rejected.push(RejectedRule {
                    path: p.path,
                    title,
                    reason: e.to_string(),
                    line: p.at.map(|a| a.0),
                    column: p.at.and_then(|a| a.1),
                }),
            }
        }

        // Duplicate ids / names: the first one wins.
        let mut refs: HashMap<String, usize> = HashMap::new();
        let mut alive = vec![true; rules.len()];
        for (i, (_, r)) in rules.iter().enumerate() {
            let keys: Vec<&String> = r.meta.id.iter().chain(r.meta.name.iter()).collect();
            if let Some(dup) = keys.iter().find(|k| refs.contains_key(k.as_str())) {
                alive[i] = false;
                rejected.push(RejectedRule {
                    path: rules[i].0.clone(),
                    title: Some(r.meta.title.clone()),
                    reason: RuleError::Duplicate(format!("id/name '{dup}'")).to_string(),
                    line: r.meta.line,
                    column: r.meta.line.map(|_| 1),
                });
                continue;
            }
            for k in keys {
                refs.insert(k.clone(), i);
            }
        }

        // Correlations: resolve members; reject on missing/rejected targets and cycles.
        let n = rules.len();
        let mut resolved: Vec<Option<Vec<usize>>> = vec![None; n];
        let mut failure: Vec<Option<String>> = vec![None; n];
        for i in 0..n {
            if !alive[i] {
                continue;
            }
            if let Body::Correlation { spec, .. } = &rules[i].1.body {
                let mut members = Vec::new();
                for r in &spec.rules {
                    match refs.get(r) {
                        Some(&j) if matches!(rules[j].1.body, Body::Filter { .. }) => {
                            failure[i] = Some(format!("referenced rule '{r}' is a filter"));
                        }
                        Some(&j) => members.push(j),
                        None => {
                            failure[i] = Some(format!(
                                "referenced rule '{r}' is not loaded (missing or rejected)"
                            ));
                        }
                    }
                    if failure[i].is_some() {
                        break;
                    }
                }
                resolved[i] = Some(members);
            }
        }
        // Propagate failures and detect cycles (depth-first, iterative fixpoint).
        let mut state = vec![0u8; n]; // 0 new, 1 visiting, 2 done
        fn visit(
            i: usize,
            resolved: &[Option<Vec<usize>>],
            alive: &[bool],
            failure: &mut [Option<String>],
            state: &mut [u8],
        ) {
            if state[i] == 2 {
                return;
            }
            if state[i] == 1 {
                failure[i].get_or_insert_with(|| {
                    "correlation rules reference each other in a cycle".into()
                });
                return;
            }
            state[i] = 1;
            if let Some(members) = &resolved[i] {
                for &m in members {
                    if !alive[m] {
                        failure[i].get_or_insert_with(|| "a referenced rule was rejected".into());
                        continue;
                    }
                    visit(m, resolved, alive, failure, state);
                    if failure[m].is_some() || state[m] == 1 {
                        failure[i].get_or_insert_with(|| {
                            if state[m] == 1 {
                                "correlation rules reference each other in a cycle".into()
                            } else {
                                "a referenced correlation rule was rejected".into()
                            }
                        });
                    }
                }
            }
            state[i] = 2;
        }
        for i in 0..n {
            if alive[i] {
                visit(i, &resolved, &alive, &mut failure, &mut state);
            }
        }
        for i in 0..n {
            if alive[i]
                && let Some(reason) = failure[i].take()
            {
                alive[i] = false;
                rejected.push(RejectedRule {
                    path: rules[i].0.clone(),
                    title: Some(rules[i].1.meta.title.clone()),
                    reason: RuleError::Reference(reason).to_string(),
                    line: rules[i].1.meta.line,
                    column: rules[i].1.meta.line.map(|_| 1),
                });
            }
        }

        // Filters: attach to their targets (same or narrower log source).
        let filters: Vec<(Option<Vec<String>>, LogSource, Arc<Detection>)> = rules
            .iter()
            .enumerate()
            .filter(|(i, _)| alive[*i])
            .filter_map(|(_, (_, r))| match &r.body {
                Body::Filter { targets, detection } => {
                    Some((targets.clone(), r.meta.logsource.clone(), detection.clone()))
                }
                _ => None,
            })
            .collect();
        if !filters.is_empty() {
            for (_, r) in rules.iter_mut() {
                let ls = r.meta.logsource.clone();
                let id = r.meta.id.clone();
                let name = r.meta.name.clone();
                if let Body::Detection { filters: fs, .. } = &mut r.body {
                    for (targets, fls, det) in &filters {
                        let targeted = match targets {
                            None => true,
                            Some(t) => t.iter().any(|x| {
                                Some(x.as_str()) == id.as_deref()
                                    || Some(x.as_str()) == name.as_deref()
                            }),
                        };
                        if targeted && ls.is_within(fls) {
                            fs.push(det.clone());
                        }
                    }
                }
            }
        }

        // Final list with remapped member indexes.
        let mut new_index = vec![usize::MAX; n];
        let mut k = 0;
        for i in 0..n {
            if alive[i] {
                new_index[i] = k;
                k += 1;
            }
        }
        let mut out = Vec::with_capacity(k);
        for (i, (path, mut rule)) in rules.into_iter().enumerate() {
            if !alive[i] {
                continue;
            }
            if let Body::Correlation { members, .. } = &mut rule.body {
                *members = resolved[i]
                    .take()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| new_index[m])
                    .collect();
            }
            report.loaded.push(LoadedRule {
                path,
                title: rule.meta.title.clone(),
                id: rule.meta.id.clone(),
                kind: rule.kind(),
            });
            out.push(rule);
        }
        report.rejected = rejected;
        (RuleSet { rules: out }, report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn multi_document_and_rejections() {
        let yaml = r"
title: Good
id: r1
logsource: {product: windows}
detection:
    sel: {EventID: 1}
    condition: sel
---
title: Bad modifier
logsource: {product: windows}
detection:
    sel: {x|bogus: 1}
    condition: sel
---
title: Bad regex
logsource: {product: windows}
detection:
    sel: {x|re: '(('}
    condition: sel
---
title: Bad condition
logsource: {product: windows}
detection:
    sel: {x: 1}
    condition: sel and
---
title: Placeholder
logsource: {product: windows}
detection:
    sel: {x|expand: '%missing%'}
    condition: sel
---
title: Ordered count
correlation: {type: temporal_ordered, rules: [r1, r2], timespan: 1h, condition: {gte: 2}}
---
title: Dangling
correlation: {type: event_count, rules: [nope], timespan: 1h, condition: {gte: 2}}
---
title: Duplicate
id: r1
logsource: {product: windows}
detection:
    sel: {EventID: 2}
    condition: sel
";
        let (set, report) = RuleSet::from_yaml_str(yaml, &LoadOptions::default());
        assert_eq!(set.len(), 1);
        assert_eq!(report.loaded.len(), 1);
        let reasons: Vec<(String, String)> = report
            .rejected
            .iter()
            .map(|r| (r.title.clone().unwrap_or_default(), r.reason.clone()))
            .collect();
        let find = |t: &str| {
            reasons
                .iter()
                .find(|(title, _)| title == t)
                .map(|(_, r)| r.clone())
                .unwrap_or_default()
        };
        assert!(find("Bad modifier").contains("unknown modifier 'bogus'"));
        assert!(find("Bad regex").contains("bad regular expression"));
        assert!(find("Bad condition").contains("bad condition"));
        assert!(find("Placeholder").contains("unresolved placeholder %missing%"));
        assert!(find("Ordered count").contains("takes a boolean expression"));
        assert!(find("Dangling").contains("not loaded"));
        assert!(find("Duplicate").contains("duplicate"));
    }

    #[test]
    fn filters_apply() {
        let yaml = r"
title: Rar
id: rar
logsource: {category: process_creation, product: windows}
detection:
    sel: {Image|endswith: '\rar.exe'}
    condition: sel
---
title: Not admins
logsource: {product: windows}
filter:
    rules: [rar]
    selection: {User|startswith: 'adm_'}
    condition: not selection
";
        let (set, report) = RuleSet::from_yaml_str(yaml, &LoadOptions::default());
        assert_eq!(report.rejected, vec![]);
        let Some(rule) = set.get("rar") else {
            panic!("rar not loaded")
        };
        assert_eq!(
            rule.is_match(&json!({"Image": "C:\\rar.exe", "User": "bob"})),
            Some(true)
        );
        assert_eq!(
            rule.is_match(&json!({"Image": "C:\\rar.exe", "User": "adm_bob"})),
            Some(false)
        );
    }

    #[test]
    fn correlation_cycle_rejected() {
        let yaml = r"
title: A
name: a
correlation: {type: event_count, rules: [b], timespan: 1h, condition: {gte: 2}}
---
title: B
name: b
correlation: {type: event_count, rules: [a], timespan: 1h, condition: {gte: 2}}
";
        let (set, report) = RuleSet::from_yaml_str(yaml, &LoadOptions::default());
        assert!(set.is_empty());
        assert_eq!(report.rejected.len(), 2);
        assert!(report.rejected.iter().all(|r| r.reason.contains("cycle")));
    }

    /// Found by the `parse_rule` fuzz target: `--- text` starts a document on its own line.
    #[test]
    fn a_document_starting_on_its_separator_line_is_located() {
        let yaml = "title: A\nlogsource: {product: windows}\ndetection:\n    sel: {x: 1}\n    condition: sel\n--- selecti on\n";
        let (set, report) = RuleSet::from_yaml_str(yaml, &LoadOptions::default());
        assert_eq!(set.len(), 1);
        assert_eq!(report.rejected.len(), 1);
        let r = &report.rejected[0];
        assert_eq!((r.line, r.column), (Some(6), Some(1)), "{r:?}");
        assert!(r.reason.contains("must be a mapping"), "{}", r.reason);
    }

    #[test]
    fn rejections_say_where() {
        let yaml = "# a comment\n---\ntitle: Fine\nid: ok1\nlogsource: {product: windows}\ndetection:\n    sel: {x: 1}\n    condition: sel\n---\ntitle: Bad modifier\nlogsource: {product: windows}\ndetection:\n    sel:\n        CommandLine|bogus: 1\n    condition: sel\n---\ntitle: Bad condition\nlogsource: {product: windows}\ndetection:\n    sel: {x: 1}\n    condition: sel and\n---\ntitle: Dangling\ncorrelation: {type: event_count, rules: [nope], timespan: 1h, condition: {gte: 2}}\n";
        let (_, report) = RuleSet::from_yaml_str(yaml, &LoadOptions::default());
        let at = |t: &str| {
            report
                .rejected
                .iter()
                .find(|r| r.title.as_deref() == Some(t))
                .map(|r| (r.line, r.column))
        };
        assert_eq!(at("Bad modifier"), Some((Some(14), Some(20))));
        assert_eq!(at("Bad condition"), Some((Some(21), Some(16))));
        // Errors found while linking rules point at the document's start.
        assert_eq!(at("Dangling"), Some((Some(23), Some(1))));
        let (_, report) =
            RuleSet::from_yaml_str("title: x\ndetection: [a\n", &LoadOptions::default());
        assert!(report.rejected[0].line.is_some() && report.rejected[0].column.is_some());
        assert!(report.rejected[0].location().starts_with("<text>:"));
    }

    #[test]
    fn explain_names_the_true_searches_and_their_fields() {
        let yaml = "title: X\nlogsource: {product: windows}\ndetection:\n    sel: {Image|endswith: '\\\\x.exe', User: bob}\n    kw: [evil]\n    other: {Image: nope}\n    condition: sel or kw or other\n";
        let (set, report) = RuleSet::from_yaml_str(yaml, &LoadOptions::default());
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        let rule = &set.rules()[0];
        let hits = rule.explain(&json!({"Image": "C:\\x.exe", "User": "bob", "note": "evil"}));
        let names: Vec<(&str, Vec<String>, bool)> = hits
            .iter()
            .map(|h| (h.name.as_str(), h.fields.clone(), h.keywords))
            .collect();
        assert_eq!(
            names,
            vec![
                ("sel", vec!["Image".to_string(), "User".to_string()], false),
                ("kw", vec![], true)
            ]
        );
    }
}
