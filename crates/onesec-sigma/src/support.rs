//! What the engine supports, as `docs/sigma-support.md` shows it. Every row is **probed**: a
//! small rule using the feature is loaded (and, where it matters, run), so the page cannot
//! claim what the loader refuses; a refused feature shows the loader's reason. A test
//! regenerates the page and fails when the committed file differs.

use crate::{Engine, EngineConfig, LoadOptions, Output, RuleSet};

/// One feature and whether the engine runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feature {
    /// Table it belongs to (`Modifiers`, `Conditions`, ...).
    pub area: &'static str,
    /// The feature as written in a rule.
    pub name: String,
    /// Loaded (and, for probes with an event, matched) as expected.
    pub supported: bool,
    /// What it means here, or why it is refused.
    pub note: String,
}

/// A probe: a detection (its `detection:` body) or a whole correlation document.
struct Probe {
    area: &'static str,
    name: String,
    yaml: String,
    /// An event the rule must match, when loading alone proves too little.
    event: Option<serde_json::Value>,
    note: &'static str,
}

const HEAD: &str = "title: probe base\nid: probe-base\nname: base\nlogsource: {product: p}\ndetection:\n    sel: {EventID: 1}\n    condition: sel\n---\n";

fn detection(area: &'static str, name: &str, body: &str, note: &'static str) -> Probe {
    Probe {
        area,
        name: name.to_string(),
        yaml: format!("title: probe\nlogsource: {{product: p}}\ndetection:\n{body}"),
        event: None,
        note,
    }
}

fn modifier(name: &str, value: &str, event: serde_json::Value, note: &'static str) -> Probe {
    let body = format!("    sel:\n        f|{name}: {value}\n    condition: sel\n");
    let mut p = detection("Modifiers", name, &body, note);
    p.event = Some(event);
    p
}

fn modifiers() -> Vec<Probe> {
    use serde_json::json;
    vec![
        modifier(
            "contains",
            "ab",
            json!({"f": "xaby"}),
            "substring, case-insensitive",
        ),
        modifier("startswith", "ab", json!({"f": "abc"}), "prefix"),
        modifier("endswith", "bc", json!({"f": "abc"}), "suffix"),
        modifier(
            "all",
            "[a, b]",
            json!({"f": "a"}),
            "a list of values is AND (the probe expects no match: one value cannot equal both)",
        ),
        modifier(
            "contains|all",
            "[a, b]",
            json!({"f": "ba"}),
            "every substring present",
        ),
        modifier(
            "cased",
            "AbC",
            json!({"f": "AbC"}),
            "case-sensitive equality",
        ),
        modifier(
            "exists",
            "true",
            json!({"f": "x"}),
            "field present (`false`: absent)",
        ),
        modifier(
            "neq",
            "a",
            json!({"f": "b"}),
            "Sigma 2.1: the field is present and none of the values matches it (the whole item negated, so it combines with contains, startswith, endswith, re, cidr, gt/gte/lt/lte and the time parts; a missing or null field does not match)",
        ),
        modifier(
            "windash",
            "-x",
            json!({"f": "/x"}),
            "`-`, `/`, en dash, em dash, horizontal bar",
        ),
        modifier(
            "re",
            "'^a.c$'",
            json!({"f": "abc"}),
            "`regex` crate: no look-around or back-references (such a rule is refused with the compiler's message); unanchored search, case-sensitive",
        ),
        modifier(
            "re|i",
            "'^ABC$'",
            json!({"f": "abc"}),
            "case-insensitive regex",
        ),
        modifier("re|m", "'^b$'", json!({"f": "a\nb"}), "multi-line regex"),
        modifier("re|s", "'a.b'", json!({"f": "a\nb"}), "dot matches newline"),
        modifier(
            "base64",
            "abc",
            json!({"f": "YWJj"}),
            "value base64-encoded",
        ),
        modifier(
            "base64offset|contains",
            "abc",
            json!({"f": "xYWJjx"}),
            "the three base64 shifts",
        ),
        modifier(
            "wide|base64offset|contains",
            "cmd",
            json!({"f": "YwBtAGQA"}),
            "UTF-16LE then base64 (`utf16le` is the same)",
        ),
        modifier(
            "utf16le|base64offset|contains",
            "cmd",
            json!({"f": "YwBtAGQA"}),
            "UTF-16LE then base64",
        ),
        modifier(
            "utf16be|base64offset|contains",
            "cmd",
            json!({"f": "AGMAbQBk"}),
            "UTF-16BE then base64",
        ),
        modifier(
            "utf16|base64offset|contains",
            "cmd",
            json!({"f": "//5jAG0AZAA="}),
            "UTF-16 with byte order mark then base64",
        ),
        modifier(
            "cidr",
            "10.0.0.0/8",
            json!({"f": "10.1.2.3"}),
            "IPv4 and IPv6",
        ),
        modifier("gt", "5", json!({"f": 6}), "numeric comparison"),
        modifier("gte", "5", json!({"f": 5}), "numeric comparison"),
        modifier("lt", "5", json!({"f": 4}), "numeric comparison"),
        modifier("lte", "5", json!({"f": 5}), "numeric comparison"),
        modifier(
            "minute",
            "30",
            json!({"f": "2026-03-02T10:30:00Z"}),
            "Sigma 2.1 time modifier: the field read as a UTC timestamp (RFC 3339 / ISO 8601 text, epoch seconds or milliseconds), this part compared with whole numbers; combines with gt/gte/lt/lte and neq",
        ),
        modifier(
            "hour",
            "10",
            json!({"f": "2026-03-02T10:30:00Z"}),
            "Sigma 2.1 time modifier: the field read as a UTC timestamp (RFC 3339 / ISO 8601 text, epoch seconds or milliseconds), this part compared with whole numbers; combines with gt/gte/lt/lte and neq",
        ),
        modifier(
            "day",
            "2",
            json!({"f": "2026-03-02T10:30:00Z"}),
            "Sigma 2.1 time modifier: the field read as a UTC timestamp (RFC 3339 / ISO 8601 text, epoch seconds or milliseconds), this part compared with whole numbers; combines with gt/gte/lt/lte and neq",
        ),
        modifier(
            "week",
            "10",
            json!({"f": "2026-03-02T10:30:00Z"}),
            "Sigma 2.1 time modifier: the field read as a UTC timestamp (RFC 3339 / ISO 8601 text, epoch seconds or milliseconds), this part compared with whole numbers; combines with gt/gte/lt/lte and neq",
        ),
        modifier(
            "month",
            "3",
            json!({"f": "2026-03-02T10:30:00Z"}),
            "Sigma 2.1 time modifier: the field read as a UTC timestamp (RFC 3339 / ISO 8601 text, epoch seconds or milliseconds), this part compared with whole numbers; combines with gt/gte/lt/lte and neq",
        ),
        modifier(
            "year",
            "2026",
            json!({"f": "2026-03-02T10:30:00Z"}),
            "Sigma 2.1 time modifier: the field read as a UTC timestamp (RFC 3339 / ISO 8601 text, epoch seconds or milliseconds), this part compared with whole numbers; combines with gt/gte/lt/lte and neq",
        ),
        modifier(
            "fieldref",
            "g",
            json!({"f": "x", "g": "x"}),
            "compares with another field of the event",
        ),
        modifier(
            "fieldref|contains",
            "g",
            json!({"f": "axb", "g": "x"}),
            "with contains / startswith / endswith",
        ),
        modifier(
            "expand",
            "'%admins%'",
            json!({"f": "root"}),
            "`%name%` placeholders from the load options (unresolved: refused)",
        ),
    ]
}

fn conditions() -> Vec<Probe> {
    let c = |name: &str, cond: &str, note: &'static str| {
        let body = format!(
            "    sel1: {{a: 1}}\n    sel2: {{b: 2}}\n    _aux: {{c: 3}}\n    condition: {cond}\n"
        );
        detection("Conditions", name, &body, note)
    };
    vec![
        c(
            "and / or / not, parentheses",
            "(sel1 or sel2) and not _aux",
            "precedence not > and > or",
        ),
        c(
            "1 of x*",
            "1 of sel*",
            "any identifier matching the pattern",
        ),
        c("N of x*", "2 of sel*", "at least N"),
        c("all of x*", "all of sel*", "every matching identifier"),
        c(
            "1 of them",
            "1 of them",
            "identifiers starting with `_` are skipped",
        ),
        c(
            "all of them",
            "all of them",
            "identifiers starting with `_` are skipped",
        ),
        c("list of conditions", "[sel1, sel2]", "their OR"),
        c(
            "| count() (Sigma 1.x aggregation)",
            "sel1 | count() > 5",
            "use a correlation rule",
        ),
        detection(
            "Conditions",
            "keywords (value list without field)",
            "    kw: [evil, bad]\n    condition: kw\n",
            "substring search over every string value",
        ),
        detection(
            "Conditions",
            "null value",
            "    sel: {a: null}\n    condition: sel\n",
            "field absent or null",
        ),
    ]
}

fn correlation(kind: &str, rules: &str, condition: &str) -> String {
    format!(
        "{HEAD}title: probe\ncorrelation:\n    type: {kind}\n    rules: {rules}\n    group-by: [EventID]\n    timespan: 1h\n    condition: {condition}\n"
    )
}

fn correlations() -> Vec<Probe> {
    let p = |area, name: String, yaml: String, note| Probe {
        area,
        name,
        yaml,
        event: None,
        note,
    };
    let mut out = vec![
        p(
            "Correlation types",
            "event_count".into(),
            correlation("event_count", "[base]", "{gte: 2}"),
            "events in the timespan",
        ),
        p(
            "Correlation types",
            "value_count".into(),
            correlation("value_count", "[base]", "{field: u, gte: 2}"),
            "distinct values of `field`",
        ),
        p(
            "Correlation types",
            "value_sum".into(),
            correlation("value_sum", "[base]", "{field: bytes, gt: 100}"),
            "sum of a numeric field; non-numeric values skipped",
        ),
        p(
            "Correlation types",
            "value_avg".into(),
            correlation("value_avg", "[base]", "{field: bytes, gt: 100}"),
            "average of a numeric field over a closed window; non-numeric values skipped",
        ),
        p(
            "Correlation types",
            "value_percentile".into(),
            correlation("value_percentile", "[base]", "{field: Image, lte: 1}"),
            "share in percent of each value of `field` in a closed window (the specification's example)",
        ),
        p(
            "Correlation types",
            "temporal".into(),
            correlation("temporal", "[base, base2]", "null"),
            "all referenced rules within the timespan",
        ),
        p(
            "Correlation types",
            "temporal_ordered".into(),
            correlation("temporal_ordered", "[base, base2]", "null"),
            "in the order of `rules:`",
        ),
        p(
            "Correlation features",
            "chaining (a correlation referencing a correlation)".into(),
            format!(
                "{HEAD}title: inner\nname: inner\ncorrelation: {{type: event_count, rules: [base], group-by: [u], timespan: 1h, condition: {{gte: 2}}}}\n---\ntitle: outer\ncorrelation: {{type: event_count, rules: [inner], group-by: [u], timespan: 1h, condition: {{gte: 1}}}}\n"
            ),
            "the inner alert is one occurrence, at the time it first held",
        ),
        p(
            "Correlation features",
            "aliases".into(),
            format!(
                "{HEAD}title: probe\ncorrelation: {{type: temporal, rules: [base, base2], group-by: [ip], timespan: 1h, aliases: {{ip: {{base: src, base2: dst}}}}}}\n"
            ),
            "group-by and counted field per referenced rule",
        ),
        p(
            "Correlation features",
            "generate".into(),
            correlation("event_count", "[base]", "{gte: 2}\n    generate: true"),
            "referenced rules alert on their own only with `generate: true`",
        ),
        p(
            "Correlation features",
            "several condition fields".into(),
            correlation("value_count", "[base]", "{field: [a, b], gte: 2}"),
            "one field per condition",
        ),
        p(
            "Correlation features",
            "boolean condition (onesec extension)".into(),
            correlation(
                "temporal_ordered",
                "[base, base2, base3]",
                "base and not base2 and base3",
            ),
            "absence between steps (2.2 proposal reading)",
        ),
        p(
            "Correlation features",
            "trailing absence".into(),
            correlation("temporal_ordered", "[base, base2]", "base and not base2"),
            "decided once the watermark passes the timespan after the last step",
        ),
    ];
    for (kind, field) in [
        ("event_count", ""),
        ("value_count", "field: u, "),
        ("value_sum", "field: bytes, "),
        ("value_avg", "field: bytes, "),
        ("value_percentile", "field: Image, "),
        ("temporal", ""),
        ("temporal_ordered", ""),
    ] {
        for op in ["gt", "gte", "lt", "lte", "eq", "neq"] {
            let rules = if kind.starts_with("temporal") {
                "[base, base2]"
            } else {
                "[base]"
            };
            out.push(p(
                "Correlation operators",
                format!("{kind} `{op}`"),
                correlation(kind, rules, &format!("{{{field}{op}: 1}}")),
                operator_note(kind, op),
            ));
        }
    }
    out.push(p(
        "Correlation operators",
        "ranges (`gt: 100, lte: 200`)".into(),
        correlation("event_count", "[base]", "{gt: 100, lte: 200}"),
        "all comparisons must hold; fixed window",
    ));
    out
}

fn operator_note(kind: &str, op: &str) -> &'static str {
    let sliding_lower = matches!(op, "gt" | "gte");
    match kind {
        "temporal_ordered" => "takes a boolean expression, not a count",
        "value_avg" | "value_percentile" => "fixed window, decided when it closes",
        "value_sum" if sliding_lower => "sliding window, decided as soon as it holds",
        "event_count" | "value_count" if op == "eq" => "densest sliding window holds exactly N",
        "temporal" if sliding_lower => "distinct referenced rules; sliding window",
        "temporal" => "distinct referenced rules; fixed window, decided when it closes",
        _ if sliding_lower => "sliding window, decided as soon as it holds",
        _ => "fixed window, decided when it closes",
    }
}

/// The base rules correlation probes reference.
fn with_bases(yaml: &str) -> String {
    if !yaml.starts_with(HEAD) {
        return yaml.to_string();
    }
    let extra: String = ["base2", "base3"]
        .iter()
        .map(|n| format!("title: probe {n}\nname: {n}\nlogsource: {{product: p}}\ndetection:\n    sel: {{EventID: 2}}\n    condition: sel\n---\n"))
        .collect();
    format!("{extra}{yaml}")
}

fn run_probe(p: Probe) -> Feature {
    let mut opts = LoadOptions::default();
    opts.placeholders
        .insert("admins".into(), vec!["root".into()]);
    let (rules, report) = RuleSet::from_yaml_str(&with_bases(&p.yaml), &opts);
    let (supported, note) = match report.rejected.first() {
        Some(r) => (false, r.reason.clone()),
        None => match &p.event {
            Some(e) => {
                let mut engine = Engine::new(rules, EngineConfig::default());
                let fired = engine
                    .process(1, e)
                    .iter()
                    .any(|o| matches!(o, Output::Fired(_)));
                // `all` over a one-element event is the expected non-match.
                let expected = p.name != "all";
                if fired == expected {
                    (true, p.note.to_string())
                } else {
                    (
                        false,
                        format!("loads, but the probe event does not match ({})", p.note),
                    )
                }
            }
            None => (true, p.note.to_string()),
        },
    };
    Feature {
        area: p.area,
        name: p.name,
        supported,
        note,
    }
}

/// Every feature, probed.
pub fn features() -> Vec<Feature> {
    modifiers()
        .into_iter()
        .chain(conditions())
        .chain(correlations())
        .map(run_probe)
        .collect()
}

/// The page: one table per area. `sigmahq` (when the SigmaHQ rules are at hand) is appended
/// as its own section.
pub fn markdown(sigmahq: Option<&str>) -> String {
    let mut s = String::from(
        "# Sigma support\n\n<!-- Generated by `cargo test -p onesec-sigma --test support_doc` \
         (ONESEC_UPDATE_DOCS=1 rewrites it); do not edit. -->\n\n\
         Every row is checked by loading a small rule that uses the feature (modifiers are \
         also run on an event they must match). \"no\" rows show the loader's reason. \
         Semantics: `crates/onesec-sigma/src/lib.rs`; windows: fixed windows are \
         `[kT, (k+1)T)` aligned on the Unix epoch, closed when `max_time - allowed_lateness` \
         passes their end or at the end of input.\n",
    );
    let all = features();
    let mut areas: Vec<&str> = Vec::new();
    for f in &all {
        if !areas.contains(&f.area) {
            areas.push(f.area);
        }
    }
    for area in areas {
        s.push_str(&format!(
            "\n## {area}\n\n| feature | supported | notes |\n|---|---|---|\n"
        ));
        for f in all.iter().filter(|f| f.area == area) {
            let yes = if f.supported { "yes" } else { "no" };
            let cell = |t: &str| t.replace('|', "\\|");
            s.push_str(&format!(
                "| {} | {yes} | {} |\n",
                cell(&f.name),
                cell(&f.note)
            ));
        }
    }
    if let Some(text) = sigmahq {
        s.push_str(SIGMAHQ_HEADING);
        s.push_str(text);
    }
    s
}

/// Heading of the SigmaHQ section (the part that needs the shared data).
pub const SIGMAHQ_HEADING: &str = "\n## SigmaHQ rules\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_correlation_features_are_supported_and_unknown_ones_are_not() {
        let all = features();
        let get = |name: &str| {
            all.iter()
                .find(|f| f.name == name)
                .map(|f| f.supported)
                .unwrap_or_else(|| panic!("no row {name}"))
        };
        for name in [
            "value_sum",
            "value_avg",
            "value_percentile",
            "event_count `lt`",
            "contains",
            "neq",
            "minute",
            "week",
        ] {
            assert!(get(name), "{name}");
        }
        assert!(get("trailing absence"), "trailing absence");
        assert!(!get("temporal_ordered `gt`"), "temporal_ordered `gt`");
    }
}
