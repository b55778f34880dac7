//! The `detection` section: search identifiers compiled into matchers, and the condition.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value as Yaml};

use crate::condition::{self, Cond, Expr};
use crate::ctx::Ctx;
use crate::error::RuleError;
use crate::value::{FieldMatcher, Scalar, compile_item, scalars, selectivity};

/// A necessary condition for a match: some field contains one of the literals
/// (field, folded literal) pairs, OR-ed.
pub(crate) type Needles = Vec<(String, Vec<u8>)>;

/// The more selective of two necessary conditions.
fn best(a: Option<Needles>, b: Option<Needles>) -> Option<Needles> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let ka: Vec<Vec<u8>> = a.iter().map(|x| x.1.clone()).collect();
            let kb: Vec<Vec<u8>> = b.iter().map(|x| x.1.clone()).collect();
            Some(if selectivity(&kb) > selectivity(&ka) {
                b
            } else {
                a
            })
        }
        (a, None) => a,
        (None, b) => b,
    }
}

/// Both necessary conditions OR-ed (None when either is None).
fn union(a: Option<Needles>, b: Option<Needles>) -> Option<Needles> {
    let mut a = a?;
    a.extend(b?);
    Some(a)
}

/// One alternative of a search: a map (AND of its items) or a keyword list.
#[derive(Clone, Debug)]
enum Alt {
    /// All items must match.
    Map(Vec<FieldMatcher>),
    /// Keyword search over all values.
    Keywords(FieldMatcher),
}

impl Alt {
    fn matches(&self, ctx: &Ctx<'_>) -> bool {
        match self {
            Alt::Map(items) => items.iter().all(|m| m.matches(ctx)),
            Alt::Keywords(m) => m.matches(ctx),
        }
    }

    fn necessary(&self) -> Option<Needles> {
        match self {
            Alt::Map(items) => items
                .iter()
                .map(|m| {
                    m.necessary().map(|(f, needles)| {
                        needles.into_iter().map(|n| (f.to_string(), n)).collect()
                    })
                })
                .fold(None, best),
            Alt::Keywords(m) => m
                .necessary()
                .map(|(f, needles)| needles.into_iter().map(|n| (f.to_string(), n)).collect()),
        }
    }

    fn items_mut(&mut self) -> &mut [FieldMatcher] {
        match self {
            Alt::Map(items) => items,
            Alt::Keywords(m) => std::slice::from_mut(m),
        }
    }
}

/// A compiled detection: searches by identifier, and the condition over them.
#[derive(Clone, Debug)]
pub(crate) struct Detection {
    /// Search identifiers, in the order written.
    names: Vec<String>,
    /// One search per identifier: OR of its alternatives.
    searches: Vec<Vec<Alt>>,
    /// The condition (a list of conditions is their OR).
    condition: Expr<Cond>,
}

fn compile_map(
    map: &Mapping,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<FieldMatcher>, RuleError> {
    let mut items = Vec::with_capacity(map.len());
    for (k, v) in map {
        let key = match k {
            Yaml::String(s) => s.clone(),
            Yaml::Number(n) => n.to_string(),
            Yaml::Bool(b) => b.to_string(),
            _ => {
                return Err(RuleError::Invalid(
                    "a detection field name must be a string".into(),
                ));
            }
        };
        items.push(compile_item(Some(&key), &scalars(v)?, placeholders)?);
    }
    Ok(items)
}

fn compile_search(
    name: &str,
    v: &Yaml,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Alt>, RuleError> {
    match v {
        Yaml::Mapping(m) => Ok(vec![Alt::Map(compile_map(m, placeholders)?)]),
        Yaml::Sequence(items) => {
            let mut alts = Vec::new();
            let mut keywords: Vec<Scalar> = Vec::new();
            for item in items {
                match item {
                    Yaml::Mapping(m) => alts.push(Alt::Map(compile_map(m, placeholders)?)),
                    Yaml::Sequence(_) => {
                        return Err(RuleError::Invalid(format!(
                            "search '{name}': nested lists are not allowed"
                        )));
                    }
                    other => keywords.push(Scalar::from_yaml(other)?),
                }
            }
            if !keywords.is_empty() {
                alts.push(Alt::Keywords(compile_item(None, &keywords, placeholders)?));
            }
            Ok(alts)
        }
        Yaml::Null => Err(RuleError::Invalid(format!("search '{name}' is empty"))),
        Yaml::Tagged(t) => compile_search(name, &t.value, placeholders),
        scalar => Ok(vec![Alt::Keywords(compile_item(
            None,
            &[Scalar::from_yaml(scalar)?],
            placeholders,
        )?)]),
    }
}

impl Detection {
    /// Compiles a `detection` mapping.
    pub(crate) fn compile(
        det: &Yaml,
        placeholders: &BTreeMap<String, Vec<String>>,
    ) -> Result<Detection, RuleError> {
        let Yaml::Mapping(map) = det else {
            return Err(RuleError::Invalid("detection must be a mapping".into()));
        };
        let mut names = Vec::new();
        let mut searches = Vec::new();
        let mut cond_texts: Vec<String> = Vec::new();
        for (k, v) in map {
            let Some(key) = k.as_str() else {
                return Err(RuleError::Invalid(
                    "search identifiers must be strings".into(),
                ));
            };
            match key {
                "condition" => match v {
                    Yaml::String(s) => cond_texts.push(s.clone()),
                    Yaml::Sequence(items) => {
                        for i in items {
                            match i.as_str() {
                                Some(s) => cond_texts.push(s.to_string()),
                                None => {
                                    return Err(RuleError::Invalid(
                                        "condition list items must be strings".into(),
                                    ));
                                }
                            }
                        }
                    }
                    _ => return Err(RuleError::Invalid("condition must be a string".into())),
                },
                // Sigma 1.x aggregation window: meaningless without an aggregation.
                "timeframe" => {}
                _ => {
                    searches.push(compile_search(key, v, placeholders)?);
                    names.push(key.to_string());
                }
            }
        }
        if cond_texts.is_empty() {
            return Err(RuleError::Invalid("detection has no condition".into()));
        }
        let mut conds = Vec::with_capacity(cond_texts.len());
        for text in &cond_texts {
            let e = condition::parse(text)
                .and_then(|e| condition::resolve(e, &names))
                .map_err(|message| RuleError::Condition {
                    condition: text.clone(),
                    message,
                })?;
            conds.push(e);
        }
        let condition = if conds.len() == 1 {
            conds.remove(0)
        } else {
            Expr::Or(conds)
        };
        Ok(Detection {
            names,
            searches,
            condition,
        })
    }

    /// Whether the record satisfies the condition.
    pub(crate) fn matches(&self, ctx: &Ctx<'_>) -> bool {
        condition::eval(&self.condition, &mut |i| {
            self.searches
                .get(i)
                .is_some_and(|alts| alts.iter().any(|a| a.matches(ctx)))
        })
    }

    /// A necessary condition for a match, when one can be derived from literals.
    pub(crate) fn necessary(&self) -> Option<Needles> {
        let search = |i: usize| -> Option<Needles> {
            let alts = self.searches.get(i)?;
            if alts.is_empty() {
                return None;
            }
            alts.iter()
                .map(Alt::necessary)
                .try_fold(Vec::new(), |acc, n| union(Some(acc), n))
        };
        fn walk(e: &Expr<Cond>, search: &dyn Fn(usize) -> Option<Needles>) -> Option<Needles> {
            match e {
                Expr::Atom(Cond::Search(i)) => search(*i),
                Expr::Atom(Cond::AtLeast(_, idx)) => idx
                    .iter()
                    .map(|i| search(*i))
                    .try_fold(Vec::new(), |acc, n| union(Some(acc), n)),
                Expr::Atom(Cond::All(idx)) => idx.iter().map(|i| search(*i)).fold(None, best),
                Expr::Not(_) => None,
                Expr::And(v) => v.iter().map(|x| walk(x, search)).fold(None, best),
                Expr::Or(v) => v
                    .iter()
                    .map(|x| walk(x, search))
                    .try_fold(Vec::new(), |acc, n| union(Some(acc), n)),
            }
        }
        walk(&self.condition, &search)
    }

    /// Every field matcher (to intern field slots).
    pub(crate) fn field_matchers_mut(&mut self) -> impl Iterator<Item = &mut FieldMatcher> {
        self.searches
            .iter_mut()
            .flat_map(|alts| alts.iter_mut().flat_map(|a| a.items_mut().iter_mut()))
    }

    /// The search identifiers.
    #[allow(dead_code)]
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// The searches that hold for the record, each with the fields of its first matching
    /// alternative (empty for a keyword search). Evaluates every search: for explaining a
    /// match, not for the hot path.
    pub(crate) fn explain(&self, ctx: &Ctx<'_>) -> Vec<SearchHit> {
        self.names
            .iter()
            .zip(&self.searches)
            .filter_map(|(name, alts)| {
                let alt = alts.iter().find(|a| a.matches(ctx))?;
                let (fields, keywords) = match alt {
                    Alt::Map(items) => (
                        items
                            .iter()
                            .filter_map(|m| m.field().map(str::to_string))
                            .collect(),
                        false,
                    ),
                    Alt::Keywords(_) => (Vec::new(), true),
                };
                Some(SearchHit {
                    name: name.clone(),
                    fields,
                    keywords,
                })
            })
            .collect()
    }
}

/// A search identifier of a detection that holds for a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchHit {
    /// The identifier (`selection`, `filter_main`, ...).
    pub name: String,
    /// The fields of the alternative that matched (a map's keys).
    pub fields: Vec<String>,
    /// True when it is a keyword search (matched anywhere in the record).
    pub keywords: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn det(yaml: &str) -> Detection {
        let v: Yaml = serde_yaml::from_str(yaml).unwrap_or(Yaml::Null);
        match Detection::compile(&v, &BTreeMap::new()) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn maps_and_lists() {
        let d = det(r"
selection:
    EventID: 4688
    NewProcessName|endswith: '\cmd.exe'
alt:
    - User: alice
    - User: bob
filter:
    ParentProcessName|endswith: '\explorer.exe'
condition: selection and alt and not filter
");
        let hit = json!({"EventID": 4688, "NewProcessName": "C:\\x\\cmd.exe", "User": "BOB", "ParentProcessName": "C:\\svc.exe"});
        let filtered = json!({"EventID": 4688, "NewProcessName": "C:\\x\\cmd.exe", "User": "bob", "ParentProcessName": "C:\\explorer.exe"});
        let other_user =
            json!({"EventID": 4688, "NewProcessName": "C:\\x\\cmd.exe", "User": "carol"});
        assert!(det_match(&d, &hit));
        assert!(!det_match(&d, &filtered));
        assert!(!det_match(&d, &other_user));
    }

    fn det_match(d: &Detection, r: &serde_json::Value) -> bool {
        d.matches(&Ctx::new(r))
    }

    #[test]
    fn keywords_and_condition_lists() {
        let d = det(r"
keywords:
    - 'Failed password'
    - 'authentication failure'
other: 'sudo'
condition:
    - keywords
    - other
");
        assert!(det_match(
            &d,
            &json!({"msg": "pam: AUTHENTICATION FAILURE for x"})
        ));
        assert!(det_match(&d, &json!({"msg": "sudo: session opened"})));
        assert!(!det_match(&d, &json!({"msg": "accepted"})));
    }

    #[test]
    fn not_one_of_filter() {
        let d = det(r"
selection:
    Image|endswith: '\rundll32.exe'
filter_main_a:
    CommandLine|contains: 'shell32.dll'
filter_main_b:
    ParentImage: null
condition: selection and not 1 of filter_main_*
");
        assert!(det_match(
            &d,
            &json!({"Image": "C:\\rundll32.exe", "CommandLine": "evil.dll", "ParentImage": "x"})
        ));
        assert!(!det_match(
            &d,
            &json!({"Image": "C:\\rundll32.exe", "CommandLine": "shell32.dll", "ParentImage": "x"})
        ));
        assert!(!det_match(
            &d,
            &json!({"Image": "C:\\rundll32.exe", "CommandLine": "evil.dll"})
        ));
    }

    #[test]
    fn all_of_them_nested() {
        let d = det(r"
a: {x: 1}
b: {y: 2}
_c: {z: 3}
condition: all of them and ((a or b) and not (_c))
");
        assert!(det_match(&d, &json!({"x": 1, "y": 2})));
        assert!(!det_match(&d, &json!({"x": 1, "y": 2, "z": 3})));
        assert!(!det_match(&d, &json!({"x": 1})));
    }

    #[test]
    fn invalid() {
        for bad in [
            "selection: {a: 1}",
            "selection: {a: 1}\ncondition: nope",
            "selection: {a|bogus: 1}\ncondition: selection",
            "selection: {a: {b: 1}}\ncondition: selection",
            "condition: selection",
        ] {
            let v: Yaml = serde_yaml::from_str(bad).unwrap_or(Yaml::Null);
            assert!(Detection::compile(&v, &BTreeMap::new()).is_err(), "{bad}");
        }
    }
}
