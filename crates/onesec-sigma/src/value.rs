//! Detection items: one field (or the keyword pseudo-field) with modifiers and values,
//! compiled into predicates at load time.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_yaml::Value as Yaml;

use crate::ctx::Ctx;
use crate::error::RuleError;
use crate::pattern::{Affix, AffixSet, AnyOf, SigmaStr, Simple, StrMatcher, fold, fold_needle};
use crate::record::{FieldValue, Record, float_text, int_text};

/// Largest compiled program of a rule's `re` value (bytes), stated rather than left to the
/// regex crate's default. Not lower: SigmaHQ's `-k\s\w{1,64}` (Unicode word characters,
/// case-insensitive) alone compiles to more than 1 MiB.
pub(crate) const REGEX_SIZE_LIMIT: usize = 10 << 20;
/// Deepest nesting of groups and repetitions in a rule's `re` value.
pub(crate) const REGEX_NEST_LIMIT: u32 = 64;

/// A YAML scalar from a rule.
#[derive(Clone, Debug)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Scalar {
    pub(crate) fn from_yaml(v: &Yaml) -> Result<Scalar, RuleError> {
        Ok(match v {
            Yaml::Null => Scalar::Null,
            Yaml::Bool(b) => Scalar::Bool(*b),
            Yaml::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Scalar::Int(i)
                } else if let Some(f) = n.as_f64() {
                    Scalar::Float(f)
                } else {
                    Scalar::Str(n.to_string())
                }
            }
            Yaml::String(s) => Scalar::Str(s.clone()),
            Yaml::Tagged(t) => Scalar::from_yaml(&t.value)?,
            Yaml::Sequence(_) | Yaml::Mapping(_) => {
                return Err(RuleError::Invalid(
                    "a detection value must be a scalar or a list of scalars".into(),
                ));
            }
        })
    }

    /// The scalar as text (None for null).
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Scalar::Null => None,
            Scalar::Bool(b) => Some(b.to_string()),
            Scalar::Int(i) => Some(i.to_string()),
            Scalar::Float(f) => Some(float_text(*f)),
            Scalar::Str(s) => Some(s.clone()),
        }
    }
}

/// Numeric comparison operator (`gt`, `gte`, `lt`, `lte`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CmpOp {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Gt => a > b,
            CmpOp::Gte => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Lte => a <= b,
        }
    }
}

/// How a `fieldref` compares the two fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RefMode {
    Equal,
    Prefix,
    Suffix,
    Contains,
}

/// One compiled value predicate.
#[derive(Clone, Debug)]
enum Pred {
    /// A string pattern.
    Str(StrMatcher),
    /// Several `contains` needles in one automaton (any of them).
    ContainsAny {
        ac: AnyOf,
        ci: bool,
        /// The needles, folded (for the engine's prefilter).
        needles: Vec<Vec<u8>>,
    },
    /// Many case-insensitive whole-value, `startswith` and `endswith` literals (any of them).
    Affixes(Box<AffixSet>),
    /// An integer: numeric equality with numbers, text equality with strings.
    Int { n: i64, text: String },
    /// A float: numeric equality.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// `null`: the field is absent or null.
    Null,
    /// `re`, with the literals one of which every match contains (lowercased, for the
    /// engine's prefilter), when the pattern has such a set.
    Regex {
        re: regex::Regex,
        needles: Option<Vec<Vec<u8>>>,
    },
    /// `cidr`.
    Cidr(IpNet),
    /// `gt` / `gte` / `lt` / `lte`.
    Cmp(CmpOp, f64),
    /// `fieldref`: compare with another field of the same record.
    FieldRef {
        field: String,
        mode: RefMode,
        ci: bool,
    },
}

/// A scalar record value prepared for matching.
struct Subject<'a> {
    text: &'a str,
    folded: &'a str,
    num: Option<f64>,
    int: Option<i64>,
    boolean: Option<bool>,
    is_str: bool,
}

impl Pred {
    fn is_null(&self) -> bool {
        matches!(self, Pred::Null)
    }

    /// Adds literals of which a matching value contains (case-insensitively) at least one;
    /// false when there are none (the predicate can match without a literal).
    fn needles(&self, out: &mut Vec<Vec<u8>>) -> bool {
        match self {
            Pred::Str(m) => match &m.needle {
                Some(n) => {
                    out.push(n.clone());
                    true
                }
                None => false,
            },
            Pred::ContainsAny { needles, .. } => {
                out.extend(needles.iter().cloned());
                !needles.is_empty()
            }
            Pred::Affixes(set) => {
                let before = out.len();
                out.extend(set.literals().map(<[u8]>::to_vec));
                out.len() > before
            }
            Pred::Int { text, .. } => {
                out.push(text.as_bytes().to_vec());
                true
            }
            Pred::Bool(b) => {
                out.push(if *b {
                    b"true".to_vec()
                } else {
                    b"false".to_vec()
                });
                true
            }
            Pred::Regex {
                needles: Some(n), ..
            } => {
                out.extend(n.iter().cloned());
                true
            }
            _ => false,
        }
    }

    fn eval(&self, s: &Subject<'_>, rec: &dyn Record) -> bool {
        match self {
            Pred::Str(m) => m.is_match(if m.ci { s.folded } else { s.text }),
            Pred::ContainsAny { ac, ci, .. } => {
                ac.is_match(if *ci { s.folded } else { s.text }.as_bytes())
            }
            Pred::Affixes(set) => set.is_match(s.folded.as_bytes()),
            Pred::Int { n, text } => {
                if s.is_str {
                    s.text == text || s.text.trim().parse::<i64>().ok() == Some(*n)
                } else if let Some(i) = s.int {
                    i == *n
                } else {
                    s.num == Some(*n as f64)
                }
            }
            Pred::Float(f) => {
                if s.is_str {
                    s.text.trim().parse::<f64>().ok() == Some(*f)
                } else {
                    s.num == Some(*f)
                }
            }
            Pred::Bool(b) => match s.boolean {
                Some(x) => x == *b,
                None => {
                    s.is_str
                        && s.text
                            .eq_ignore_ascii_case(if *b { "true" } else { "false" })
                }
            },
            Pred::Null => false,
            Pred::Regex { re, .. } => re.is_match(s.text),
            Pred::Cidr(net) => parse_ip(s.text).is_some_and(|ip| net.contains(&ip)),
            Pred::Cmp(op, x) => {
                let v = if s.is_str {
                    s.text.trim().parse::<f64>().ok()
                } else {
                    s.num
                };
                v.is_some_and(|v| op.holds(v, *x))
            }
            Pred::FieldRef { field, mode, ci } => {
                let Some(other) = rec.field(field).and_then(|v| v.to_text()) else {
                    return false;
                };
                let (a, b) = if *ci {
                    (s.folded.to_string(), fold(&other).into_owned())
                } else {
                    (s.text.to_string(), other)
                };
                let (a, b) = (a.as_bytes(), b.as_bytes());
                let eq = |x: &[u8], y: &[u8]| {
                    if *ci {
                        x.eq_ignore_ascii_case(y)
                    } else {
                        x == y
                    }
                };
                match mode {
                    RefMode::Equal => a.len() == b.len() && eq(a, b),
                    RefMode::Prefix => a.len() >= b.len() && eq(&a[..b.len()], b),
                    RefMode::Suffix => a.len() >= b.len() && eq(&a[a.len() - b.len()..], b),
                    RefMode::Contains => b.is_empty() || a.windows(b.len()).any(|w| eq(w, b)),
                }
            }
        }
    }
}

/// Literals one of which every match of the pattern contains, for the engine's prefilter
/// (which looks for them in the value lowercased), ASCII-lowercased: the most selective (see
/// [`selectivity`]) of the regex's possible match prefixes and, when the pattern is a
/// sequence, the possible match prefixes of each of its tails (every match of `a\w+werfault`
/// contains `werfault`, which says more than its prefix `a`). A literal with other characters
/// stands as its longest ASCII run, since lowercasing other text is not always piecewise
/// (Greek final sigma) and could cut a character in two. None when there is no such set: a
/// match may start with anything, or with an empty run, and so may every part.
fn regex_needles(pattern: &str, ci: bool, multi_line: bool, dot_nl: bool) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::HirKind;
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(ci)
        .multi_line(multi_line)
        .dot_matches_new_line(dot_nl)
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .parse(pattern)
        .ok()?;
    let mut best = prefix_literals(&hir);
    let mut top = &hir;
    while let HirKind::Capture(c) = top.kind() {
        top = &c.sub;
    }
    if let HirKind::Concat(parts) = top.kind() {
        // Every match holds a match of each tail of the sequence (a case-insensitive word
        // is a sequence of one-letter classes: its tails are what spell it).
        for i in 1..parts.len() {
            let tail = regex_syntax::hir::Hir::concat(parts[i..].to_vec());
            if let Some(set) = prefix_literals(&tail)
                && best
                    .as_ref()
                    .is_none_or(|b| selectivity(&set) > selectivity(b))
            {
                best = Some(set);
            }
        }
    }
    best
}

/// The literals one of which starts every match of `hir` (see [`regex_needles`]).
fn prefix_literals(hir: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    let lits = seq.literals()?;
    if lits.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(lits.len());
    for lit in lits {
        let b = lit.as_bytes();
        let run = if b.is_ascii() {
            b
        } else {
            b.split(|c| !c.is_ascii())
                .max_by_key(|r| r.len())
                .unwrap_or(&[])
        };
        if run.is_empty() {
            return None;
        }
        out.push(run.to_ascii_lowercase());
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let t = s.trim().trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = t.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    })
}

/// Values of one detection item: groups (one per value as written, holding its expansions)
/// combined with OR, or with AND under `|all`.
#[derive(Clone, Debug)]
pub(crate) struct ValueSet {
    groups: Vec<Vec<Pred>>,
    all: bool,
}

impl ValueSet {
    /// Literals of which every matching value contains one (None: no such set).
    fn necessary(&self) -> Option<Vec<Vec<u8>>> {
        if self.null_matches() || self.groups.is_empty() {
            return None;
        }
        let group_needles = |g: &[Pred]| {
            let mut out = Vec::new();
            g.iter().all(|p| p.needles(&mut out)).then_some(out)
        };
        if self.all {
            // Any one group is necessary: take the most selective.
            self.groups
                .iter()
                .filter_map(|g| group_needles(g))
                .max_by_key(|n| selectivity(n))
        } else {
            let mut all = Vec::new();
            for g in &self.groups {
                all.extend(group_needles(g)?);
            }
            Some(all)
        }
    }

    fn null_matches(&self) -> bool {
        if self.all {
            !self.groups.is_empty() && self.groups.iter().all(|g| g.iter().any(Pred::is_null))
        } else {
            self.groups.iter().any(|g| g.iter().any(Pred::is_null))
        }
    }

    fn with_subject<T>(v: &FieldValue<'_>, f: impl FnOnce(&Subject<'_>) -> T) -> T {
        let mut buf = [0u8; 24];
        let float_buf;
        let (text, num, int, boolean, is_str): (&str, _, _, _, _) = match v {
            FieldValue::Str(s) => (s.as_ref(), None, None, None, true),
            FieldValue::Int(i) => (
                int_text(*i, &mut buf),
                Some(*i as f64),
                Some(*i),
                None,
                false,
            ),
            FieldValue::Float(x) => {
                float_buf = float_text(*x);
                (float_buf.as_str(), Some(*x), None, None, false)
            }
            FieldValue::Bool(b) => (
                if *b { "true" } else { "false" },
                None,
                None,
                Some(*b),
                false,
            ),
            FieldValue::Null | FieldValue::List(_) => ("", None, None, None, false),
        };
        let folded = fold(text);
        f(&Subject {
            text,
            folded: &folded,
            num,
            int,
            boolean,
            is_str,
        })
    }

    fn group_matches(group: &[Pred], v: &FieldValue<'_>, rec: &dyn Record) -> bool {
        match v {
            FieldValue::List(items) => items.iter().any(|x| Self::group_matches(group, x, rec)),
            FieldValue::Null => group.iter().any(Pred::is_null),
            _ => Self::with_subject(v, |s| group.iter().any(|p| p.eval(s, rec))),
        }
    }

    fn matches_value(&self, v: &FieldValue<'_>, rec: &dyn Record) -> bool {
        if v.is_null() && !matches!(v, FieldValue::List(_)) {
            return self.null_matches();
        }
        if self.all {
            !self.groups.is_empty() && self.groups.iter().all(|g| Self::group_matches(g, v, rec))
        } else {
            match v {
                FieldValue::List(items) if items.is_empty() => self.null_matches(),
                FieldValue::List(_) => self.groups.iter().any(|g| Self::group_matches(g, v, rec)),
                _ => Self::with_subject(v, |s| {
                    self.groups.iter().any(|g| g.iter().any(|p| p.eval(s, rec)))
                }),
            }
        }
    }

    fn matches_str(group: &[Pred], s: &str, rec: &dyn Record) -> bool {
        Self::with_subject(&FieldValue::Str(std::borrow::Cow::Borrowed(s)), |subj| {
            group.iter().any(|p| p.eval(subj, rec))
        })
    }

    /// Any-mode optimisation: all plain `contains` needles of the same casing in one automaton.
    fn group_contains(mut self, values: &[Vec<SigmaStr>], cased: bool) -> Result<Self, RuleError> {
        if self.all {
            return Ok(self);
        }
        let mut needles = Vec::new();
        let mut contains_preds = Vec::new();
        let mut rest = Vec::new();
        for (group, variants) in self.groups.into_iter().zip(values) {
            if group.len() == variants.len() {
                for (p, v) in group.into_iter().zip(variants) {
                    match StrMatcher::simple(v, cased) {
                        Simple::Contains(n) if matches!(p, Pred::Str(_)) => {
                            needles.push(n);
                            contains_preds.push(p);
                        }
                        _ => rest.push(p),
                    }
                }
            } else {
                rest.extend(group);
            }
        }
        if needles.len() >= 2 {
            let ci = !cased;
            rest.push(Pred::ContainsAny {
                ac: AnyOf::new(&needles, ci)?,
                ci,
                needles: needles.iter().map(|n| fold_needle(n)).collect(),
            });
        } else {
            rest.extend(contains_preds);
        }
        self.groups = vec![group_affixes(rest)];
        Ok(self)
    }
}

/// Case-insensitive whole-value, prefix and suffix literals of one item tested as a set
/// from this many on (fewer are compared one by one as fast).
const AFFIX_SET_MIN: usize = 6;

/// Replaces the case-insensitive whole-value, `startswith` and `endswith` matchers of an
/// any-of group by one [`AffixSet`] when there are many (the group is an OR: order does not
/// matter).
fn group_affixes(preds: Vec<Pred>) -> Vec<Pred> {
    fn affix(p: &Pred) -> Option<(Affix, &[u8])> {
        match p {
            Pred::Str(m) => m.affix().filter(|(_, n)| !n.is_empty()),
            _ => None,
        }
    }
    if preds.iter().filter(|p| affix(p).is_some()).count() < AFFIX_SET_MIN {
        return preds;
    }
    let mut items = Vec::new();
    let mut rest = Vec::new();
    for p in preds {
        match affix(&p) {
            Some((kind, n)) => items.push((kind, n.to_vec())),
            None => rest.push(p),
        }
    }
    rest.push(Pred::Affixes(Box::new(AffixSet::new(&items))));
    rest
}

/// What a detection item tests.
#[derive(Clone, Debug)]
enum Test {
    /// `|exists`.
    Exists(bool),
    /// Value predicates.
    Values(ValueSet),
    /// `|neq`: the field is present and none of the values (as the item's other modifiers
    /// read them) matches it.
    Differs(ValueSet),
}

/// A date-part modifier (`minute`, `hour`, `day`, `week`, `month`, `year`): the field is read
/// as a timestamp in UTC (RFC 3339 or ISO 8601 text, or epoch seconds or milliseconds) and
/// reduced to that part, which the values (numbers) are compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DatePart {
    Minute,
    Hour,
    /// Day of the month, 1–31.
    Day,
    /// ISO 8601 week of the year, 1–53.
    Week,
    Month,
    Year,
}

/// Epoch numbers at or above this magnitude are milliseconds, below it seconds (1e11 s is in
/// the year 5138; 1e11 ms is in 1973).
const EPOCH_MS_FROM: i64 = 100_000_000_000;

impl DatePart {
    fn parse(name: &str) -> Option<DatePart> {
        Some(match name {
            "minute" => DatePart::Minute,
            "hour" => DatePart::Hour,
            "day" => DatePart::Day,
            "week" => DatePart::Week,
            "month" => DatePart::Month,
            "year" => DatePart::Year,
            _ => return None,
        })
    }

    /// The part of a scalar field value read as a timestamp (None: not a timestamp).
    fn of(self, v: &FieldValue<'_>) -> Option<i64> {
        use chrono::{Datelike, Timelike};
        let ms = match v {
            FieldValue::Str(s) => crate::json::parse_rfc3339_ms(s.trim())?,
            FieldValue::Int(n) if n.abs() >= EPOCH_MS_FROM => *n,
            FieldValue::Int(n) => n.checked_mul(1000)?,
            FieldValue::Float(f) if f.is_finite() => {
                let n = *f as i64;
                if n.abs() >= EPOCH_MS_FROM {
                    n
                } else {
                    n.checked_mul(1000)?
                }
            }
            _ => return None,
        };
        let t = chrono::DateTime::from_timestamp_millis(ms)?;
        Some(match self {
            DatePart::Minute => i64::from(t.minute()),
            DatePart::Hour => i64::from(t.hour()),
            DatePart::Day => i64::from(t.day()),
            DatePart::Week => i64::from(t.iso_week().week()),
            DatePart::Month => i64::from(t.month()),
            DatePart::Year => i64::from(t.year()),
        })
    }
}

/// A compiled detection item: `Field|modifiers: values` (field None = keywords).
#[derive(Clone, Debug)]
pub(crate) struct FieldMatcher {
    field: Option<String>,
    /// Interned field slot for the per-event cache (`usize::MAX`: not interned).
    pub(crate) slot: usize,
    test: Test,
    /// The values are compared with this part of the field read as a timestamp.
    part: Option<DatePart>,
}

/// How selective a set of needles is for the prefilter: the shortest needle counts most. A
/// needle of digits only counts two thirds of its length: it is a number (an event id, a
/// logon type, a code), few symbols, and such values recur in a stream far more than words do
/// (`EventID: 4625` holds for every failed logon, `TargetDomainName: DOM3` for one domain).
pub(crate) fn selectivity(needles: &[Vec<u8>]) -> (usize, std::cmp::Reverse<usize>) {
    let weight = |n: &Vec<u8>| {
        if n.iter().all(u8::is_ascii_digit) {
            n.len() * 2 / 3
        } else {
            n.len()
        }
    };
    (
        needles.iter().map(weight).min().unwrap_or(0),
        std::cmp::Reverse(needles.len()),
    )
}

impl FieldMatcher {
    /// Whether the values match a present field value, through the date part if there is one
    /// (a list: any of its items).
    fn value_matches(&self, set: &ValueSet, v: &FieldValue<'_>, rec: &dyn Record) -> bool {
        let Some(part) = self.part else {
            return set.matches_value(v, rec);
        };
        match v {
            FieldValue::List(items) => items.iter().any(|x| self.value_matches(set, x, rec)),
            other => part
                .of(other)
                .is_some_and(|n| set.matches_value(&FieldValue::Int(n), rec)),
        }
    }

    /// The field name (None for keywords).
    pub(crate) fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// Literals of which a matching record's field value contains one, with the field
    /// (`""` for keywords: one of the record's string values).
    pub(crate) fn necessary(&self) -> Option<(&str, Vec<Vec<u8>>)> {
        if self.part.is_some() {
            // The values are numbers compared with a part of the time, not text in it.
            return None;
        }
        match (&self.field, &self.test) {
            (Some(f), Test::Values(set)) => set.necessary().map(|n| (f.as_str(), n)),
            // Keywords: "" stands for "any string value of the record".
            (None, Test::Values(set)) => set.necessary().map(|n| ("", n)),
            _ => None,
        }
    }

    /// Matches the record.
    pub(crate) fn matches(&self, ctx: &Ctx<'_>) -> bool {
        let rec = ctx.rec;
        match (&self.field, &self.test) {
            (Some(f), Test::Exists(want)) => {
                ctx.with_field(self.slot, f, |v| v.is_some_and(|v| !v.is_null())) == *want
            }
            (None, Test::Exists(_)) => false,
            (Some(f), Test::Values(set)) => ctx.with_field(self.slot, f, |v| match v {
                None => set.null_matches(),
                Some(v) => self.value_matches(set, v, rec),
            }),
            (Some(f), Test::Differs(set)) => ctx.with_field(self.slot, f, |v| match v {
                Some(v) if !v.is_null() => !self.value_matches(set, v, rec),
                _ => false,
            }),
            (None, Test::Differs(_)) => false,
            (None, Test::Values(set)) => {
                if set.all {
                    !set.groups.is_empty()
                        && set
                            .groups
                            .iter()
                            .all(|g| rec.any_value(&mut |s| ValueSet::matches_str(g, s, rec)))
                } else {
                    rec.any_value(&mut |s| {
                        set.groups.iter().any(|g| ValueSet::matches_str(g, s, rec))
                    })
                }
            }
        }
    }
}

/// Parsed modifiers of a detection item.
#[derive(Default)]
struct Mods {
    all: bool,
    cased: bool,
    expand: bool,
    re: bool,
    re_i: bool,
    re_m: bool,
    re_s: bool,
    cidr: bool,
    exists: bool,
    fieldref: bool,
    cmp: Option<CmpOp>,
    neq: bool,
    part: Option<DatePart>,
    /// Transformations in the order written.
    transforms: Vec<Transform>,
    /// A position modifier (contains/startswith/endswith) was given.
    positional: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transform {
    Contains,
    StartsWith,
    EndsWith,
    Windash,
    Base64,
    Base64Offset,
    Utf16 { be: bool, bom: bool },
}

fn parse_mods(mods: &[&str]) -> Result<Mods, RuleError> {
    let mut m = Mods::default();
    for raw in mods {
        let name = raw.trim();
        match name.to_ascii_lowercase().as_str() {
            "contains" => {
                m.transforms.push(Transform::Contains);
                m.positional = true;
            }
            "startswith" => {
                m.transforms.push(Transform::StartsWith);
                m.positional = true;
            }
            "endswith" => {
                m.transforms.push(Transform::EndsWith);
                m.positional = true;
            }
            "all" => m.all = true,
            "cased" => m.cased = true,
            "expand" => m.expand = true,
            "re" => m.re = true,
            "i" | "ignorecase" => m.re_i = true,
            "m" | "multiline" => m.re_m = true,
            "s" | "dotall" => m.re_s = true,
            "cidr" => m.cidr = true,
            "exists" => m.exists = true,
            "fieldref" => m.fieldref = true,
            "gt" => m.cmp = Some(CmpOp::Gt),
            "gte" => m.cmp = Some(CmpOp::Gte),
            "lt" => m.cmp = Some(CmpOp::Lt),
            "lte" => m.cmp = Some(CmpOp::Lte),
            "neq" => m.neq = true,
            part @ ("minute" | "hour" | "day" | "week" | "month" | "year") => {
                if m.part.is_some() {
                    return Err(RuleError::Modifier(
                        "only one of minute, hour, day, week, month, year".into(),
                    ));
                }
                m.part = DatePart::parse(part);
            }
            "windash" => m.transforms.push(Transform::Windash),
            "base64" => m.transforms.push(Transform::Base64),
            "base64offset" => m.transforms.push(Transform::Base64Offset),
            "wide" | "utf16le" => m.transforms.push(Transform::Utf16 {
                be: false,
                bom: false,
            }),
            "utf16be" => m.transforms.push(Transform::Utf16 {
                be: true,
                bom: false,
            }),
            "utf16" => m.transforms.push(Transform::Utf16 {
                be: false,
                bom: true,
            }),
            _ => return Err(RuleError::UnknownModifier(name.to_string())),
        }
    }
    let kinds = [m.re, m.cidr, m.exists, m.fieldref, m.cmp.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if kinds > 1 {
        return Err(RuleError::Modifier(
            "re, cidr, exists, fieldref and gt/gte/lt/lte exclude each other".into(),
        ));
    }
    if (m.re_i || m.re_m || m.re_s) && !m.re {
        return Err(RuleError::Modifier("i, m and s only apply to re".into()));
    }
    if (m.re || m.cidr || m.exists || m.cmp.is_some()) && !m.transforms.is_empty() {
        return Err(RuleError::Modifier(
            "re, cidr, exists and gt/gte/lt/lte take no string transformation".into(),
        ));
    }
    if m.part.is_some() && (m.re || m.cidr || m.exists || m.fieldref || m.expand) {
        return Err(RuleError::Modifier(
            "minute/hour/day/week/month/year combine only with gt/gte/lt/lte, neq and all".into(),
        ));
    }
    if m.part.is_some() && !m.transforms.is_empty() {
        return Err(RuleError::Modifier(
            "minute/hour/day/week/month/year take no string transformation".into(),
        ));
    }
    if m.neq && m.exists {
        return Err(RuleError::Modifier(
            "neq does not combine with exists (use exists: false)".into(),
        ));
    }
    if m.fieldref
        && m.transforms.iter().any(|t| {
            !matches!(
                t,
                Transform::Contains | Transform::StartsWith | Transform::EndsWith
            )
        })
    {
        return Err(RuleError::Modifier(
            "fieldref only combines with contains, startswith, endswith".into(),
        ));
    }
    Ok(m)
}

/// Replaces `%name%` placeholders with every combination of their configured values.
fn expand_placeholders(
    s: &str,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, RuleError> {
    let mut results = vec![String::new()];
    let mut rest = s;
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        let Some(len) = after.find('%') else { break };
        let name = &after[..len];
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !valid {
            for r in &mut results {
                r.push_str(&rest[..start + 1]);
            }
            rest = after;
            continue;
        }
        let values = placeholders
            .get(name)
            .ok_or_else(|| RuleError::Placeholder(name.to_string()))?;
        let prefix = &rest[..start];
        let mut next = Vec::with_capacity(results.len() * values.len().max(1));
        for r in &results {
            for v in values {
                next.push(format!("{r}{prefix}{v}"));
            }
        }
        results = next;
        rest = &after[len + 1..];
    }
    for r in &mut results {
        r.push_str(rest);
    }
    Ok(results)
}

/// Applies the string transformations to one value, giving its alternatives.
fn transform(s: SigmaStr, transforms: &[Transform]) -> Result<Vec<SigmaStr>, RuleError> {
    let mut cur = vec![s];
    for t in transforms {
        let mut next = Vec::with_capacity(cur.len());
        for v in cur {
            match t {
                Transform::Contains => next.push(v.wrap(true, true)),
                Transform::StartsWith => next.push(v.wrap(false, true)),
                Transform::EndsWith => next.push(v.wrap(true, false)),
                Transform::Windash => next.extend(v.windash()),
                Transform::Base64 => next.push(v.base64()?),
                Transform::Base64Offset => next.extend(v.base64offset()?),
                Transform::Utf16 { be, bom } => next.push(v.utf16(*be, *bom)?),
            }
        }
        cur = next;
    }
    Ok(cur)
}

/// Values of a detection item as a list of scalars.
pub(crate) fn scalars(v: &Yaml) -> Result<Vec<Scalar>, RuleError> {
    match v {
        Yaml::Sequence(items) => items.iter().map(Scalar::from_yaml).collect(),
        other => Ok(vec![Scalar::from_yaml(other)?]),
    }
}

/// Compiles `key: value` of a detection map (or a keyword list when `key` is None).
pub(crate) fn compile_item(
    key: Option<&str>,
    values: &[Scalar],
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<FieldMatcher, RuleError> {
    let (field, mod_names): (Option<String>, Vec<&str>) = match key {
        None => (None, Vec::new()),
        Some(k) => {
            let mut parts = k.split('|');
            let f = parts.next().unwrap_or("").trim();
            let f = if f.is_empty() {
                None
            } else {
                Some(f.to_string())
            };
            (f, parts.collect())
        }
    };
    let mut m = parse_mods(&mod_names)?;
    let keyword = field.is_none();

    if m.exists {
        let [v] = values else {
            return Err(RuleError::Modifier("exists takes one boolean".into()));
        };
        let want = match v {
            Scalar::Bool(b) => *b,
            Scalar::Str(s) if s.eq_ignore_ascii_case("true") => true,
            Scalar::Str(s) if s.eq_ignore_ascii_case("false") => false,
            _ => return Err(RuleError::Modifier("exists takes true or false".into())),
        };
        return Ok(FieldMatcher {
            field,
            slot: usize::MAX,
            test: Test::Exists(want),
            part: None,
        });
    }
    if keyword && (m.neq || m.part.is_some()) {
        return Err(RuleError::Modifier(
            "neq and minute/hour/day/week/month/year need a field".into(),
        ));
    }

    if keyword && !m.positional && !m.re && !m.cidr && m.cmp.is_none() && !m.fieldref {
        // Keywords are searched anywhere in the values.
        m.transforms.push(Transform::Contains);
        m.positional = true;
    }

    let mut groups: Vec<Vec<Pred>> = Vec::with_capacity(values.len());
    let mut variants_per_group: Vec<Vec<SigmaStr>> = Vec::with_capacity(values.len());
    let plain_strings = !m.re && !m.cidr && m.cmp.is_none() && !m.fieldref && m.part.is_none();
    for v in values {
        let mut group = Vec::new();
        let mut variants = Vec::new();
        if let Scalar::Null = v {
            group.push(Pred::Null);
            groups.push(group);
            variants_per_group.push(variants);
            continue;
        }
        if m.part.is_some() {
            group.push(date_part_pred(v, m.cmp)?);
        } else if m.re {
            let pat = v.text().unwrap_or_default();
            // Matching is linear in the input (the regex crate has no backtracking); what a
            // hostile rule could blow up is the compiled program, so it is bounded.
            let re = regex::RegexBuilder::new(&pat)
                .case_insensitive(m.re_i)
                .multi_line(m.re_m)
                .dot_matches_new_line(m.re_s)
                .size_limit(REGEX_SIZE_LIMIT)
                .nest_limit(REGEX_NEST_LIMIT)
                .build()
                .map_err(|e| RuleError::Regex {
                    pattern: pat.clone(),
                    message: e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_string(),
                })?;
            let needles = regex_needles(&pat, m.re_i, m.re_m, m.re_s);
            group.push(Pred::Regex { re, needles });
        } else if m.cidr {
            let text = v.text().unwrap_or_default();
            let t = text.trim();
            let net = t
                .parse::<IpNet>()
                .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| RuleError::Modifier(format!("cidr: '{t}' is not a network")))?;
            group.push(Pred::Cidr(net));
        } else if let Some(op) = m.cmp {
            let x = match v {
                Scalar::Int(i) => *i as f64,
                Scalar::Float(f) => *f,
                Scalar::Str(s) => s.trim().parse::<f64>().map_err(|_| {
                    RuleError::Modifier(format!("gt/gte/lt/lte: '{s}' is not a number"))
                })?,
                _ => return Err(RuleError::Modifier("gt/gte/lt/lte need a number".into())),
            };
            group.push(Pred::Cmp(op, x));
        } else if m.fieldref {
            let name = v.text().unwrap_or_default();
            let mode = match m.transforms.last() {
                Some(Transform::Contains) => RefMode::Contains,
                Some(Transform::StartsWith) => RefMode::Prefix,
                Some(Transform::EndsWith) => RefMode::Suffix,
                _ => RefMode::Equal,
            };
            group.push(Pred::FieldRef {
                field: name,
                mode,
                ci: !m.cased,
            });
        } else {
            match v {
                Scalar::Int(i) if m.transforms.is_empty() && !m.expand => {
                    group.push(Pred::Int {
                        n: *i,
                        text: i.to_string(),
                    });
                }
                Scalar::Float(f) if m.transforms.is_empty() && !m.expand => {
                    group.push(Pred::Float(*f));
                }
                Scalar::Bool(b) if m.transforms.is_empty() && !m.expand => {
                    group.push(Pred::Bool(*b));
                }
                _ => {
                    let text = v.text().unwrap_or_default();
                    let texts = if m.expand {
                        expand_placeholders(&text, placeholders)?
                    } else {
                        vec![text]
                    };
                    for t in texts {
                        let base = match v {
                            Scalar::Str(_) => SigmaStr::parse(&t),
                            _ => SigmaStr::literal(&t),
                        };
                        for alt in transform(base, &m.transforms)? {
                            if alt.0.iter().any(|tok| {
                                matches!(tok, crate::pattern::Tok::Lit(b) if std::str::from_utf8(b).is_err())
                            }) {
                                return Err(RuleError::Modifier(
                                    "utf16 value must be followed by base64/base64offset to be matched as text"
                                        .into(),
                                ));
                            }
                            group.push(Pred::Str(StrMatcher::new(&alt, m.cased)?));
                            variants.push(alt);
                        }
                    }
                }
            }
        }
        groups.push(group);
        variants_per_group.push(variants);
    }
    let mut set = ValueSet {
        groups,
        all: m.all && values.len() > 1,
    };
    if plain_strings {
        set = set.group_contains(&variants_per_group, m.cased)?;
    }
    Ok(FieldMatcher {
        field,
        slot: usize::MAX,
        test: if m.neq {
            Test::Differs(set)
        } else {
            Test::Values(set)
        },
        part: m.part,
    })
}

/// The predicate of one value of a date-part item: a whole number, compared for equality or
/// with the item's comparison modifier.
fn date_part_pred(v: &Scalar, cmp: Option<CmpOp>) -> Result<Pred, RuleError> {
    let n = match v {
        Scalar::Int(i) => *i,
        Scalar::Str(s) => s.trim().parse::<i64>().map_err(|_| {
            RuleError::Modifier(format!(
                "minute/hour/day/week/month/year: '{s}' is not a whole number"
            ))
        })?,
        _ => {
            return Err(RuleError::Modifier(
                "minute/hour/day/week/month/year need whole numbers".into(),
            ));
        }
    };
    Ok(match cmp {
        Some(op) => Pred::Cmp(op, n as f64),
        None => Pred::Int {
            n,
            text: n.to_string(),
        },
    })
}

#[cfg(test)]
mod regex_needle_tests {
    use super::regex_needles;

    /// Every haystack a pattern matches contains, lowercased, one of its needles.
    #[test]
    fn needles_are_necessary() {
        let cases: &[(&str, bool)] = &[
            ("cmd.{0,5}(?:/c|/r).+clip", true),
            ("^(?:powershell|pwsh)\\.exe", false),
            ("\\$\\{?(?:env|ENV):", false),
            ("Kelvin|kissing", true),
            ("(?s)σ.+end", false),
            ("[a-f0-9]{32}", false),
            ("ab?c", true),
            ("ÄBC", false),
            ("\\w+`(?:\\w+|-|.)`[\\w+|\\s]", false),
            ("\\.exe[\"']?\\s+[^\"]{0,64}werfaultsecure\\.exe", true),
            ("[a-z]+k", true),
            (".*ΟΣ", true),
        ];
        let hays = [
            "CMD /C whatever | CLIP",
            "PowerShell.exe -nop",
            "pwsh.exe",
            "x ${ENV:foo}",
            "\u{212A}elvin",
            "KISSING",
            "ΟΣ end",
            "σx end",
            "0123456789abcdef0123456789ABCDEF",
            "AC",
            "xaBc",
            "äbc ÄBC",
            "IN`V`o`Ke-eXp`ResSIOn",
            "a.EXE \"C:\\x\\WerFaultSecure.EXE\" 1234",
            "ab\u{212A}",
            "xx οσ",
        ];
        for (pat, ci) in cases {
            let Ok(re) = regex::RegexBuilder::new(pat).case_insensitive(*ci).build() else {
                panic!("{pat}")
            };
            let needles = regex_needles(pat, *ci, false, false);
            for h in hays {
                if !re.is_match(h) {
                    continue;
                }
                let Some(needles) = &needles else { continue };
                let lower = h.to_lowercase();
                assert!(
                    needles
                        .iter()
                        .any(|n| lower.as_bytes().windows(n.len()).any(|w| w == &n[..])),
                    "{pat} matches {h:?} but none of {needles:?} is in it"
                );
            }
        }
        assert_eq!(
            regex_needles("abc", false, false, false),
            Some(vec![b"abc".to_vec()])
        );
        assert_eq!(
            regex_needles("(?i)AB", false, false, false),
            Some(vec![b"ab".to_vec()])
        );
        // A sequence whose start says nothing: one of its parts stands for it.
        assert_eq!(
            regex_needles(".*x", false, false, false),
            Some(vec![b"x".to_vec()])
        );
        // Case-insensitive words expand into case variants up to the extractor's limits:
        // a long run of the word stands for it.
        let werfault = regex_needles(r"(?i)\.exe\s+[^x]{0,9}WerFault\.exe", false, false, false);
        assert!(
            matches!(&werfault, Some(n) if n.len() == 1 && n[0].len() >= 6
                && "werfault.exe".contains(std::str::from_utf8(&n[0]).unwrap_or("-"))),
            "{werfault:?}"
        );
        assert_eq!(
            regex_needles(r"\w+`(?:\w+|-)`", false, false, false),
            Some(vec![b"`".to_vec()])
        );
        assert_eq!(regex_needles(r".*\d+\s", false, false, false), None);
        assert_eq!(regex_needles("a|", false, false, false), None);
    }
}

#[cfg(test)]
mod regex_limit_tests {
    #[test]
    fn an_exploding_regex_is_refused_with_the_reason() {
        let huge = regex::RegexBuilder::new("(?:\\w{1000}){100}")
            .size_limit(super::REGEX_SIZE_LIMIT)
            .build();
        assert!(huge.unwrap_err().to_string().contains("size limit"));
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        let nested = regex::RegexBuilder::new(&deep)
            .nest_limit(super::REGEX_NEST_LIMIT)
            .build();
        assert!(nested.is_err());
    }

    /// The same limits on the engine's own path: a rule whose regex would compile to a huge
    /// program, or nests too deep, is refused with the reason and nothing of it is loaded.
    #[test]
    fn a_rule_with_an_exploding_regex_is_refused_by_the_loader() {
        let rule = |re: &str| {
            format!(
                "title: t\nlogsource:\n  product: x\ndetection:\n  sel:\n    f|re: '{re}'\n  condition: sel\n"
            )
        };
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        for (re, reason) in [
            ("(?:\\w{1000}){100}", "size limit"),
            (deep.as_str(), "nest"),
        ] {
            let text = rule(re);
            let (set, report) = crate::RuleSet::from_sources(
                &[(None, text.as_str())],
                &crate::LoadOptions::default(),
            );
            assert!(report.loaded.is_empty(), "{re}");
            assert_eq!(set.len(), 0);
            assert!(
                report.rejected[0].reason.to_lowercase().contains(reason),
                "{re}: {}",
                report.rejected[0].reason
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Test shorthand: match a JSON record without a field cache.
    trait Check {
        fn hit(&self, r: &serde_json::Value) -> bool;
    }

    impl Check for FieldMatcher {
        fn hit(&self, r: &serde_json::Value) -> bool {
            self.matches(&Ctx::new(r))
        }
    }

    fn item(key: &str, yaml: &str) -> FieldMatcher {
        let v: Yaml = serde_yaml::from_str(yaml).unwrap_or(Yaml::Null);
        let vals = scalars(&v).unwrap_or_default();
        let mut ph = BTreeMap::new();
        ph.insert(
            "admins".to_string(),
            vec!["root".to_string(), "adm_*".to_string()],
        );
        match compile_item(Some(key), &vals, &ph) {
            Ok(m) => m,
            Err(e) => panic!("{key}: {e}"),
        }
    }

    fn err(key: &str, yaml: &str) -> RuleError {
        let v: Yaml = serde_yaml::from_str(yaml).unwrap_or(Yaml::Null);
        let vals = scalars(&v).unwrap_or_default();
        match compile_item(Some(key), &vals, &BTreeMap::new()) {
            Ok(_) => panic!("{key} should fail"),
            Err(e) => e,
        }
    }

    #[test]
    fn neq_negates_the_whole_item_and_needs_the_field() {
        let one = item("User|neq", "bob");
        assert!(one.hit(&json!({"User": "alice"})));
        assert!(
            !one.hit(&json!({"User": "BOB"})),
            "case-insensitive like equality"
        );
        assert!(!one.hit(&json!({})), "a missing field is not 'different'");
        assert!(!one.hit(&json!({"User": null})));
        let list = item("User|neq", "[bob, carol]");
        assert!(list.hit(&json!({"User": "alice"})));
        assert!(
            !list.hit(&json!({"User": "carol"})),
            "neither bob nor carol"
        );
        let contains = item("CommandLine|contains|neq", "-enc");
        assert!(contains.hit(&json!({"CommandLine": "whoami"})));
        assert!(!contains.hit(&json!({"CommandLine": "powershell -ENC abc"})));
        let cased = item("User|cased|neq", "Bob");
        assert!(cased.hit(&json!({"User": "bob"})));
        let number = item("Port|neq", "22");
        assert!(number.hit(&json!({"Port": 2222})));
        assert!(!number.hit(&json!({"Port": 22})));
        let cidr = item("Ip|cidr|neq", "10.0.0.0/8");
        assert!(cidr.hit(&json!({"Ip": "192.0.2.1"})));
        assert!(!cidr.hit(&json!({"Ip": "10.1.2.3"})));
        // A negated item gives the prefilter nothing to require.
        assert!(one.necessary().is_none());
        assert!(matches!(
            err("User|neq|exists", "true"),
            RuleError::Modifier(_)
        ));
    }

    #[test]
    fn date_parts_read_the_field_as_a_utc_timestamp() {
        let t = json!({"t": "2026-03-01T22:45:10+01:00"}); // 21:45 UTC, a Sunday
        assert!(item("t|hour", "21").hit(&t));
        assert!(
            !item("t|hour", "22").hit(&t),
            "the offset is applied: UTC hour"
        );
        assert!(item("t|minute", "45").hit(&t));
        assert!(item("t|day", "1").hit(&t));
        assert!(item("t|month", "3").hit(&t));
        assert!(item("t|year", "2026").hit(&t));
        assert!(
            item("t|week", "9").hit(&t),
            "ISO week 9 ends on Sunday 1 March 2026"
        );
        assert!(item("t|hour|gte", "20").hit(&t));
        assert!(!item("t|hour|lt", "8").hit(&t));
        assert!(item("t|hour", "[8, 21]").hit(&t));
        assert!(item("t|hour|neq", "9").hit(&t));
        assert!(!item("t|hour|neq", "21").hit(&t));
        // Epoch seconds and milliseconds, naive ISO text (UTC), lists of times.
        assert!(item("t|hour", "21").hit(&json!({"t": 1_772_401_510})));
        assert!(item("t|hour", "21").hit(&json!({"t": 1_772_401_510_000i64})));
        assert!(item("t|hour", "21").hit(&json!({"t": "2026-03-01 21:45:10"})));
        assert!(
            item("t|hour", "21")
                .hit(&json!({"t": ["2026-03-01T01:00:00Z", "2026-03-01T21:00:00Z"]}))
        );
        // Not a time: no match, never an error.
        assert!(!item("t|hour", "21").hit(&json!({"t": "yesterday"})));
        assert!(!item("t|hour", "21").hit(&json!({})));
        // The prefilter must not look for "21" in the timestamp's text.
        assert!(item("t|hour", "21").necessary().is_none());
        assert!(matches!(err("t|hour", "evening"), RuleError::Modifier(_)));
        assert!(matches!(
            err("t|hour|contains", "2"),
            RuleError::Modifier(_)
        ));
        assert!(matches!(err("t|hour|minute", "2"), RuleError::Modifier(_)));
        assert!(matches!(err("t|hour|re", "2"), RuleError::Modifier(_)));
    }

    #[test]
    fn plain_and_lists() {
        let r = json!({"Image": "C:\\Windows\\System32\\cmd.exe", "User": "Bob"});
        assert!(item("Image", r"'C:\Windows\System32\CMD.exe'").hit(&r));
        assert!(item("User", "[alice, bob]").hit(&r));
        assert!(!item("User", "[alice, carol]").hit(&r));
        assert!(item("Image|endswith", r"['\cmd.exe', '\powershell.exe']").hit(&r));
        assert!(item("Image|startswith", r"'c:\windows\'").hit(&r));
        assert!(item("Image|contains", "System32").hit(&r));
        assert!(item("Image|contains", "[nope, System32]").hit(&r));
        assert!(!item("Image|contains", "[nope, never]").hit(&r));
        assert!(item("Image|contains|all", "[Windows, cmd]").hit(&r));
        assert!(!item("Image|contains|all", "[Windows, powershell]").hit(&r));
        assert!(!item("Missing", "x").hit(&r));
    }

    #[test]
    fn numbers_vs_strings() {
        let num = json!({"EventID": 4624, "Port": 443.0, "Flag": true});
        let txt = json!({"EventID": "4624", "Port": "443", "Flag": "TRUE"});
        assert!(item("EventID", "4624").hit(&num));
        assert!(item("EventID", "4624").hit(&txt));
        assert!(item("EventID", "'4624'").hit(&num));
        assert!(item("EventID", "'4624'").hit(&txt));
        assert!(!item("EventID", "4625").hit(&num));
        assert!(item("EventID", "[4625, 4624]").hit(&txt));
        assert!(item("EventID|startswith", "46").hit(&num));
        assert!(item("Port", "443").hit(&num));
        assert!(item("Port", "443").hit(&txt));
        assert!(item("Flag", "true").hit(&num));
        assert!(item("Flag", "true").hit(&txt));
        assert!(!item("Flag", "false").hit(&num));
    }

    #[test]
    fn null_and_exists() {
        let r = json!({"A": null, "B": "x", "C": ""});
        assert!(item("A", "null").hit(&r));
        assert!(item("Z", "null").hit(&r));
        assert!(!item("B", "null").hit(&r));
        assert!(item("B", "[null, x]").hit(&r));
        assert!(item("C", "''").hit(&r));
        assert!(!item("C", "null").hit(&r));
        assert!(item("B|exists", "true").hit(&r));
        assert!(!item("A|exists", "true").hit(&r));
        assert!(item("Z|exists", "false").hit(&r));
        assert!(!item("B|exists", "false").hit(&r));
    }

    #[test]
    fn regex_modifier() {
        let r = json!({"CommandLine": "Powershell -Enc AAAA\nsecond"});
        assert!(item("CommandLine|re", "'-Enc [A-Z]+'").hit(&r));
        assert!(!item("CommandLine|re", "'-enc [a-z]+'").hit(&r));
        assert!(item("CommandLine|re|i", "'-enc [a-z]+'").hit(&r));
        assert!(!item("CommandLine|re", "'^second'").hit(&r));
        assert!(item("CommandLine|re|m", "'^second'").hit(&r));
        assert!(!item("CommandLine|re", "'AAAA.second'").hit(&r));
        assert!(item("CommandLine|re|s", "'AAAA.second'").hit(&r));
        assert!(matches!(
            err("X|re", "'(unclosed'"),
            RuleError::Regex { .. }
        ));
        assert!(matches!(err("X|i", "'a'"), RuleError::Modifier(_)));
    }

    #[test]
    fn cidr_modifier() {
        let r4 = json!({"ip": "192.168.1.77"});
        let r6 = json!({"ip": "2001:db8::17"});
        let bad = json!({"ip": "not-an-ip"});
        let m = item(
            "ip|cidr",
            "['10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32']",
        );
        assert!(m.hit(&r4));
        assert!(m.hit(&r6));
        assert!(!m.hit(&bad));
        assert!(!item("ip|cidr", "'10.0.0.0/8'").hit(&r4));
        assert!(!item("ip|cidr", "'2001:db9::/32'").hit(&r6));
        assert!(item("ip|cidr", "'192.168.1.0/24'").hit(&json!({"ip": "::ffff:192.168.1.5"})));
        assert!(matches!(
            err("ip|cidr", "'10.0.0.0/99'"),
            RuleError::Modifier(_)
        ));
    }

    #[test]
    fn comparisons() {
        let r = json!({"n": 10, "s": "10", "f": 2.5});
        assert!(item("n|gt", "9").hit(&r));
        assert!(!item("n|gt", "10").hit(&r));
        assert!(item("n|gte", "10").hit(&r));
        assert!(item("s|lt", "11").hit(&r));
        assert!(item("s|lte", "10").hit(&r));
        assert!(item("f|lt", "3").hit(&r));
        assert!(!item("missing|lt", "3").hit(&r));
    }

    #[test]
    fn windash_modifier() {
        let m = item("CommandLine|contains|windash", "' -enc '");
        for cl in [
            "ps -enc x",
            "ps /enc x",
            "ps \u{2013}enc x",
            "ps \u{2014}ENC x",
            "ps \u{2015}enc x",
        ] {
            assert!(m.hit(&json!({ "CommandLine": cl })), "{cl}");
        }
        assert!(!m.hit(&json!({"CommandLine": "ps +enc x"})));
        // More than three switches: character classes instead of expansion.
        let m = item("c|windash", "'-a -b -c -d'");
        assert!(m.hit(&json!({"c": "/a -b \u{2013}c /d"})));
    }

    #[test]
    fn cased_modifier() {
        let r = json!({"x": "HeLLo"});
        assert!(item("x|cased", "HeLLo").hit(&r));
        assert!(!item("x|cased", "hello").hit(&r));
        assert!(item("x|contains|cased", "LL").hit(&r));
        assert!(!item("x|contains|cased", "ll").hit(&r));
        assert!(item("x|contains", "ll").hit(&r));
    }

    #[test]
    fn base64_modifiers() {
        let r = json!({"c": "powershell -e L2Jpbi9iYXNo"});
        assert!(item("c|base64|contains", "/bin/bash").hit(&r));
        let r = json!({"c": "xx IC9iaW4vYmFzaA== yy"}); // " /bin/bash"
        assert!(item("c|base64offset|contains", "/bin/bash").hit(&r));
        // wide then base64: "ab" utf16le = 61 00 62 00 -> YQBiAA==
        let r = json!({"c": "-enc YQBiAA=="});
        assert!(item("c|wide|base64|contains", "ab").hit(&r));
        assert!(item("c|utf16le|base64offset|contains", "ab").hit(&r));
        assert!(matches!(err("c|base64", "'a*'"), RuleError::Modifier(_)));
    }

    #[test]
    fn fieldref_modifier() {
        let r = json!({"a": "Bob", "b": "bob", "c": "bobby"});
        assert!(item("a|fieldref", "b").hit(&r));
        assert!(!item("a|fieldref|cased", "b").hit(&r));
        assert!(item("c|fieldref|startswith", "b").hit(&r));
        assert!(!item("a|fieldref", "c").hit(&r));
        assert!(!item("a|fieldref", "missing").hit(&r));
    }

    #[test]
    fn expand_modifier() {
        let m = item("User|expand", "'%admins%'");
        assert!(m.hit(&json!({"User": "ROOT"})));
        assert!(m.hit(&json!({"User": "adm_joe"})));
        assert!(!m.hit(&json!({"User": "joe"})));
        assert_eq!(
            err("User|expand", "'%nope%'"),
            RuleError::Placeholder("nope".into())
        );
    }

    #[test]
    fn unknown_modifier() {
        assert_eq!(
            err("x|frobnicate", "a"),
            RuleError::UnknownModifier("frobnicate".into())
        );
    }

    #[test]
    fn list_record_values() {
        let r = json!({"tags": ["alpha", "beta"]});
        assert!(item("tags", "beta").hit(&r));
        assert!(item("tags|contains|all", "[alp, bet]").hit(&r));
        assert!(!item("tags", "gamma").hit(&r));
    }

    #[test]
    fn keywords() {
        let r = json!({"msg": "Failed password for root", "n": {"deep": "sshd"}});
        let kw = |v: &str| {
            let y: Yaml = serde_yaml::from_str(v).unwrap_or(Yaml::Null);
            compile_item(None, &scalars(&y).unwrap_or_default(), &BTreeMap::new())
                .map(|m| m.hit(&r))
                .unwrap_or(false)
        };
        assert!(kw("['failed PASSWORD']"));
        assert!(kw("['nothing', 'SSHD']"));
        assert!(!kw("['nothing']"));
        let all = compile_item(
            Some("|all"),
            &[Scalar::Str("root".into()), Scalar::Str("sshd".into())],
            &BTreeMap::new(),
        )
        .map(|m| m.hit(&r))
        .unwrap_or(false);
        assert!(all);
    }
}

#[cfg(test)]
mod selectivity_tests {
    use super::selectivity;

    /// A word beats a number of the same length; a longer number can still win.
    #[test]
    fn numbers_count_less_than_words() {
        let s =
            |n: &[&str]| selectivity(&n.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>());
        assert!(s(&["dom3"]) > s(&["4625"]));
        assert!(s(&["abc"]) > s(&["1234"]));
        assert!(s(&["4625"]) <= s(&["abc"]));
        assert!(s(&["123456789"]) > s(&["abcde"]));
        assert!(
            s(&["abcd"]) > s(&["abcd", "efgh"]),
            "fewer needles win a tie"
        );
    }
}
