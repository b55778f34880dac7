//! Correlation rules: parsing of the `correlation` section and the match computations over a
//! time-sorted buffer (pure functions of the buffer, so results do not depend on arrival order).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde_yaml::Value as Yaml;

use crate::condition::{self, Expr, RawAtom};
use crate::error::RuleError;

/// The correlation type (`correlation.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CorrelationType {
    /// `event_count`: at least N events in the timespan.
    EventCount,
    /// `value_count`: at least N distinct values of a field in the timespan.
    ValueCount,
    /// `temporal`: the referenced rules all (or per the boolean condition) occur in the timespan.
    Temporal,
    /// `temporal_ordered`: the referenced rules occur in the listed order (with absence atoms).
    TemporalOrdered,
    /// `value_sum`: the sum of a numeric field in the timespan.
    ValueSum,
    /// `value_avg`: the average of a numeric field over a closed fixed window.
    ValueAvg,
    /// `value_percentile`: the share (in percent) of each value of a field in a closed fixed
    /// window.
    ValuePercentile,
}

impl CorrelationType {
    /// Parses a type name.
    pub fn parse(s: &str) -> Option<CorrelationType> {
        Some(match s.trim() {
            "event_count" => CorrelationType::EventCount,
            "value_count" => CorrelationType::ValueCount,
            "temporal" => CorrelationType::Temporal,
            "temporal_ordered" => CorrelationType::TemporalOrdered,
            "value_sum" => CorrelationType::ValueSum,
            "value_avg" => CorrelationType::ValueAvg,
            "value_percentile" => CorrelationType::ValuePercentile,
            _ => return None,
        })
    }

    /// The Sigma name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::ValuePercentile => "value_percentile",
        }
    }
}

impl fmt::Display for CorrelationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A count threshold (`gt` / `gte` / `eq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Threshold {
    /// More than N.
    Gt(u64),
    /// At least N.
    Gte(u64),
    /// Exactly N (the densest timespan window of the alert holds exactly N).
    Eq(u64),
}

impl Threshold {
    /// The smallest count that can satisfy the threshold.
    fn min(self) -> u64 {
        match self {
            Threshold::Gt(n) => n.saturating_add(1),
            Threshold::Gte(n) | Threshold::Eq(n) => n,
        }
        .max(1)
    }
}

/// A comparison operator of a correlation condition (`gt`, `gte`, `lt`, `lte`, `eq`, `neq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl Op {
    fn parse(key: &str) -> Option<Op> {
        Some(match key {
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "eq" => Op::Eq,
            "neq" => Op::Neq,
            _ => return None,
        })
    }

    fn holds(self, x: f64, n: f64) -> bool {
        match self {
            Op::Gt => x > n,
            Op::Gte => x >= n,
            Op::Lt => x < n,
            Op::Lte => x <= n,
            Op::Eq => x == n,
            Op::Neq => x != n,
        }
    }
}

/// The comparisons of a condition; all must hold (`gt: 100, lte: 200` is a range).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Bounds(pub(crate) Vec<(Op, f64)>);

impl Bounds {
    pub(crate) fn holds(&self, x: f64) -> bool {
        self.0.iter().all(|(op, n)| op.holds(x, *n))
    }
}

/// What a fixed window measures (the quantity its condition compares).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Measure {
    /// Number of events (`event_count`).
    Events,
    /// Number of distinct values of the field (`value_count`).
    Distinct,
    /// Sum of the numeric field (`value_sum`).
    Sum,
    /// Average of the numeric field (`value_avg`).
    Avg,
    /// Share in percent of each value of the field (`value_percentile`).
    Share,
    /// Number of distinct referenced rules (`temporal` with a count condition).
    Rules,
}

/// When a `temporal` correlation holds over the rules present in a window.
#[derive(Clone, Debug)]
pub(crate) enum Presence {
    /// A positive boolean expression over member indexes (the onesec extension).
    Expr(Expr<usize>),
    /// At least this many distinct referenced rules (`condition: {gte: N}`).
    AtLeast(usize),
}

impl Presence {
    /// Evaluates over per-member presence counts; monotone (adding events never falsifies).
    fn holds(&self, present: &[u32; 64]) -> bool {
        match self {
            Presence::Expr(e) => e.eval(&mut |m| present[*m % 64] > 0),
            Presence::AtLeast(n) => present.iter().filter(|c| **c > 0).count() >= *n,
        }
    }
}

/// One positive step of a `temporal_ordered` sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    /// Member index (position in `rules:`).
    pub(crate) member: usize,
    /// Members that must be absent between the previous positive step and this one
    /// (for the first step: in the timespan before it).
    pub(crate) absent_before: Vec<usize>,
}

/// How a correlation decides.
#[derive(Clone, Debug)]
pub(crate) enum Algo {
    /// `event_count`.
    EventCount(Threshold),
    /// `value_count` over the field named here.
    ValueCount(Threshold),
    /// `value_sum` with a lower bound only: sliding windows, like `event_count`.
    ValueSum {
        /// The bound.
        min: f64,
        /// `gte` (true) or `gt` (false).
        inclusive: bool,
    },
    /// Any other condition: fixed windows `[kT, (k+1)T)`, evaluated once they are closed
    /// (an upper bound, an average or a share can only be decided when nothing can be added).
    Closed { measure: Measure, bounds: Bounds },
    /// `temporal` with a monotone presence condition.
    Temporal(Presence),
    /// `temporal_ordered`: the positive steps in order.
    Ordered(Vec<Step>),
    /// `temporal_ordered` ending in absence: the positive steps in order, then none of the
    /// `trailing` members within the timespan after the last step. Decided once the watermark
    /// passes that deadline (like a fixed window).
    OrderedAbsent {
        steps: Vec<Step>,
        trailing: Vec<usize>,
    },
}

impl Algo {
    /// Whether matches are decided only once the watermark passes a deadline (fixed windows,
    /// trailing absence) instead of as soon as they hold.
    pub(crate) fn closes(&self) -> bool {
        matches!(self, Algo::Closed { .. } | Algo::OrderedAbsent { .. })
    }

    /// Whether entries are kept per fixed window (evicted with their decided window) rather
    /// than for two timespans before the horizon.
    pub(crate) fn fixed_windows(&self) -> bool {
        matches!(self, Algo::Closed { .. })
    }

    /// The time after which an entry at `time` may change a decision no more: once the
    /// watermark's closing bound reaches it, its group is decided (closing kinds only).
    pub(crate) fn deadline(&self, time: i64, span: i64) -> i64 {
        match self {
            Algo::OrderedAbsent { .. } => time.saturating_add(span).saturating_add(1),
            _ => window_end(time, span),
        }
    }

    /// The closing bound that decides everything up to `max_time` at the end of an input.
    pub(crate) fn flush_bound(&self, max_time: i64, span: i64) -> i64 {
        self.deadline(max_time, span)
    }
}

/// A parsed correlation section (rule references not yet resolved).
#[derive(Clone, Debug)]
pub(crate) struct CorrelationSpec {
    pub(crate) kind: CorrelationType,
    /// References as written (ids or names).
    pub(crate) rules: Vec<String>,
    pub(crate) group_by: Vec<String>,
    pub(crate) timespan_ms: i64,
    pub(crate) generate: bool,
    /// alias -> (rule reference -> field).
    pub(crate) aliases: BTreeMap<String, BTreeMap<String, String>>,
    /// `value_count`: the field whose distinct values are counted.
    pub(crate) value_field: Option<String>,
    pub(crate) algo: Algo,
}

fn unsupported(msg: impl Into<String>) -> RuleError {
    RuleError::UnsupportedCorrelation(msg.into())
}

fn invalid(msg: impl Into<String>) -> RuleError {
    RuleError::Invalid(msg.into())
}

/// Parses `5m`, `1h`, `30s`, `2d`, `1w` into milliseconds.
pub(crate) fn parse_timespan(s: &str) -> Result<i64, RuleError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| invalid(format!("timespan '{s}' has no unit")))?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| invalid(format!("timespan '{s}' is not a number")))?;
    let mult = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => {
            return Err(invalid(format!(
                "timespan '{s}': unit must be s, m, h, d or w"
            )));
        }
    };
    if n <= 0 {
        return Err(invalid(format!("timespan '{s}' must be positive")));
    }
    n.checked_mul(mult)
        .ok_or_else(|| invalid(format!("timespan '{s}' is too large")))
}

/// A condition value: a non-negative integer for counts, any finite number otherwise.
fn number(v: &Yaml, key: &str, integer: bool) -> Result<f64, RuleError> {
    if integer {
        let n = match v {
            Yaml::Number(n) => n.as_u64(),
            Yaml::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        return n
            .map(|n| n as f64)
            .ok_or_else(|| invalid(format!("condition {key} must be a non-negative integer")));
    }
    let n = match v {
        Yaml::Number(n) => n.as_f64(),
        Yaml::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    n.filter(|n: &f64| n.is_finite())
        .ok_or_else(|| invalid(format!("condition {key} must be a number")))
}

/// The `field` of a condition (one field; several are refused).
fn condition_field(v: &Yaml, kind: CorrelationType) -> Result<String, RuleError> {
    match v {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Sequence(items) if items.len() == 1 => items[0]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| invalid("condition field must be a string")),
        Yaml::Sequence(_) => Err(unsupported(format!("{kind} over several fields"))),
        _ => Err(invalid("condition field must be a string")),
    }
}

/// Parses a condition mapping: its comparisons (all must hold) and its `field`.
fn parse_condition(
    cond: Option<&Yaml>,
    kind: CorrelationType,
) -> Result<(Bounds, Option<String>), RuleError> {
    let Some(Yaml::Mapping(map)) = cond else {
        return Err(invalid(format!(
            "{kind} needs a condition mapping (e.g. gte: 10)"
        )));
    };
    // Counts compare with integers; sums, averages and shares with any number.
    let integer = matches!(
        kind,
        CorrelationType::EventCount | CorrelationType::ValueCount | CorrelationType::Temporal
    );
    let mut terms = Vec::new();
    let mut field = None;
    for (k, v) in map {
        let key = k.as_str().unwrap_or("");
        if key == "field" {
            field = Some(condition_field(v, kind)?);
        } else if let Some(op) = Op::parse(key) {
            terms.push((op, number(v, key, integer)?));
        } else if key == "percentile" && kind == CorrelationType::ValuePercentile {
            return Err(invalid(
                "value_percentile compares the share (in percent) of each value of condition.field; \
                 a 'percentile' key is not part of Sigma",
            ));
        } else {
            return Err(invalid(format!("unknown condition key '{key}'")));
        }
    }
    if terms.is_empty() {
        return Err(invalid("condition has no gt/gte/lt/lte/eq/neq"));
    }
    if kind == CorrelationType::ValuePercentile
        && terms.iter().any(|(_, n)| !(0.0..=100.0).contains(n))
    {
        return Err(invalid(
            "value_percentile thresholds are percentages (0 to 100)",
        ));
    }
    Ok((Bounds(terms), field))
}

/// A single lower bound (`gt` or `gte`), which sliding windows can decide early.
fn lower_bound(b: &Bounds) -> Option<(Op, f64)> {
    match b.0.as_slice() {
        [(op @ (Op::Gt | Op::Gte), n)] => Some((*op, *n)),
        _ => None,
    }
}

/// The algorithm for a count, sum, average or share condition. Only a single `gt`/`gte`
/// (and `eq` on counts, decided on the densest window) runs on sliding windows; anything with
/// an upper bound, an average or a share cannot be decided before the window closes.
fn measure_algo(kind: CorrelationType, bounds: Bounds) -> Algo {
    let single = match bounds.0.as_slice() {
        [(op, n)] => Some((*op, *n as u64)),
        _ => None,
    };
    let count = match single {
        Some((Op::Gt, n)) => Some(Threshold::Gt(n)),
        Some((Op::Gte, n)) => Some(Threshold::Gte(n)),
        Some((Op::Eq, n)) => Some(Threshold::Eq(n)),
        _ => None,
    };
    let closed = |measure| Algo::Closed {
        measure,
        bounds: bounds.clone(),
    };
    match kind {
        CorrelationType::EventCount => {
            count.map_or_else(|| closed(Measure::Events), Algo::EventCount)
        }
        CorrelationType::ValueCount => {
            count.map_or_else(|| closed(Measure::Distinct), Algo::ValueCount)
        }
        CorrelationType::ValueSum => match lower_bound(&bounds) {
            Some((op, min)) => Algo::ValueSum {
                min,
                inclusive: op == Op::Gte,
            },
            None => closed(Measure::Sum),
        },
        CorrelationType::ValueAvg => closed(Measure::Avg),
        CorrelationType::ValuePercentile => closed(Measure::Share),
        CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
            match lower_bound(&bounds) {
                Some((op, n)) => {
                    let n = n as usize + usize::from(op == Op::Gt);
                    Algo::Temporal(Presence::AtLeast(n.max(1)))
                }
                None => closed(Measure::Rules),
            }
        }
    }
}

/// Parses a boolean condition over rule references (the onesec extension).
fn parse_expr(text: &str, rules: &[String]) -> Result<Expr<usize>, RuleError> {
    let bad = |message: String| RuleError::Condition {
        condition: text.to_string(),
        message,
    };
    let e = condition::parse(text).map_err(bad)?;
    e.try_map(&mut |a| match a {
        RawAtom::Ident(name) => rules
            .iter()
            .position(|r| *r == name)
            .ok_or_else(|| bad(format!("'{name}' is not one of the correlation's rules"))),
        RawAtom::Of(..) => Err(bad("'of' is not allowed in a correlation condition".into())),
    })
}

/// Builds the ordered plan from a conjunction of (possibly negated) rule atoms: the positive
/// steps, and the members that must be absent after the last one (trailing absence).
fn ordered_plan(
    expr: Option<&Expr<usize>>,
    n_rules: usize,
) -> Result<(Vec<Step>, Vec<usize>), RuleError> {
    // polarity per member: None = not mentioned, Some(true) = positive, Some(false) = negated.
    let mut polarity: Vec<Option<bool>> = vec![None; n_rules];
    match expr {
        None => polarity.iter_mut().for_each(|p| *p = Some(true)),
        Some(e) => {
            let atoms: Vec<&Expr<usize>> = match e {
                Expr::And(items) => items.iter().collect(),
                other => vec![other],
            };
            for a in atoms {
                let (m, pos) = match a {
                    Expr::Atom(m) => (*m, true),
                    Expr::Not(inner) => match inner.as_ref() {
                        Expr::Atom(m) => (*m, false),
                        _ => {
                            return Err(unsupported(
                                "temporal_ordered condition must be a conjunction of rule names and 'not name'",
                            ));
                        }
                    },
                    _ => {
                        return Err(unsupported(
                            "temporal_ordered condition must be a conjunction of rule names and 'not name'",
                        ));
                    }
                };
                if polarity[m].is_some() {
                    return Err(invalid("a rule appears twice in the condition"));
                }
                polarity[m] = Some(pos);
            }
        }
    }
    let mut steps: Vec<Step> = Vec::new();
    let mut pending_absent: Vec<usize> = Vec::new();
    for (m, p) in polarity.iter().enumerate() {
        match p {
            Some(true) => steps.push(Step {
                member: m,
                absent_before: std::mem::take(&mut pending_absent),
            }),
            Some(false) => pending_absent.push(m),
            None => {}
        }
    }
    if steps.is_empty() {
        return Err(invalid("temporal_ordered condition has no positive rule"));
    }
    Ok((steps, pending_absent))
}

/// The algorithm and counted field from `type` and `condition`.
fn parse_algo(
    kind: CorrelationType,
    cond: Option<&Yaml>,
    rules: &[String],
) -> Result<(Algo, Option<String>), RuleError> {
    let temporal = matches!(
        kind,
        CorrelationType::Temporal | CorrelationType::TemporalOrdered
    );
    if temporal && !matches!(cond, Some(Yaml::Mapping(_))) {
        return Ok((temporal_algo(kind, cond, rules)?, None));
    }
    if kind == CorrelationType::TemporalOrdered {
        return Err(unsupported(
            "temporal_ordered takes a boolean expression over rule names, not a count condition",
        ));
    }
    let (bounds, field) = parse_condition(cond, kind)?;
    let needs_field = !matches!(
        kind,
        CorrelationType::EventCount | CorrelationType::Temporal
    );
    if needs_field && field.is_none() {
        return Err(invalid(format!("{kind} needs condition.field")));
    }
    if kind == CorrelationType::Temporal && field.is_some() {
        return Err(invalid(
            "temporal counts rules, it takes no condition.field",
        ));
    }
    let field = if needs_field { field } else { None };
    Ok((measure_algo(kind, bounds), field))
}

/// `temporal` / `temporal_ordered` with no condition or a boolean expression.
fn temporal_algo(
    kind: CorrelationType,
    cond: Option<&Yaml>,
    rules: &[String],
) -> Result<Algo, RuleError> {
    let expr = match cond {
        None | Some(Yaml::Null) => None,
        Some(Yaml::String(s)) => Some(parse_expr(s, rules)?),
        Some(_) => {
            return Err(unsupported(format!(
                "{kind} condition must be a boolean expression over rule names or a count mapping"
            )));
        }
    };
    if kind == CorrelationType::TemporalOrdered {
        let (steps, trailing) = ordered_plan(expr.as_ref(), rules.len())?;
        return Ok(if trailing.is_empty() {
            Algo::Ordered(steps)
        } else {
            Algo::OrderedAbsent { steps, trailing }
        });
    }
    let e = match expr {
        Some(e) if e.has_not() => return Err(unsupported("absence needs temporal_ordered")),
        Some(e) => e,
        None => Expr::And((0..rules.len()).map(Expr::Atom).collect()),
    };
    Ok(Algo::Temporal(Presence::Expr(e)))
}

/// Parses the `correlation` section (plus a top-level `generate`).
pub(crate) fn parse_spec(
    section: &Yaml,
    top_generate: Option<&Yaml>,
) -> Result<CorrelationSpec, RuleError> {
    let Yaml::Mapping(map) = section else {
        return Err(invalid("correlation must be a mapping"));
    };
    let get = |k: &str| map.get(k);
    let kind_text = get("type")
        .and_then(Yaml::as_str)
        .ok_or_else(|| invalid("correlation.type is missing"))?;
    let kind = CorrelationType::parse(kind_text)
        .ok_or_else(|| invalid(format!("unknown correlation type '{kind_text}'")))?;
    let rules: Vec<String> = match get("rules") {
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|i| match i {
                Yaml::String(s) => Ok(s.trim().to_string()),
                _ => Err(invalid("correlation.rules items must be strings")),
            })
            .collect::<Result<_, _>>()?,
        Some(Yaml::String(s)) => vec![s.trim().to_string()],
        _ => return Err(invalid("correlation.rules is missing")),
    };
    if rules.is_empty() {
        return Err(invalid("correlation.rules is empty"));
    }
    if rules.len() > 64 {
        return Err(unsupported("more than 64 referenced rules"));
    }
    for (i, r) in rules.iter().enumerate() {
        if rules[..i].contains(r) {
            return Err(invalid(format!("rule '{r}' is listed twice")));
        }
    }
    let group_by: Vec<String> = match get("group-by") {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid("group-by items must be strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(Yaml::String(s)) => vec![s.clone()],
        _ => return Err(invalid("group-by must be a list")),
    };
    let timespan_ms = match get("timespan") {
        Some(Yaml::String(s)) => parse_timespan(s)?,
        _ => return Err(invalid("correlation.timespan is missing")),
    };
    let generate = match get("generate").or(top_generate) {
        None | Some(Yaml::Null) => false,
        Some(Yaml::Bool(b)) => *b,
        Some(_) => return Err(invalid("generate must be true or false")),
    };
    let mut aliases = BTreeMap::new();
    if let Some(a) = get("aliases") {
        let Yaml::Mapping(am) = a else {
            return Err(invalid("aliases must be a mapping"));
        };
        for (k, v) in am {
            let (Some(alias), Yaml::Mapping(per_rule)) = (k.as_str(), v) else {
                return Err(invalid("aliases: alias -> {rule: field}"));
            };
            let mut m = BTreeMap::new();
            for (r, f) in per_rule {
                let (Some(r), Some(f)) = (r.as_str(), f.as_str()) else {
                    return Err(invalid("aliases: alias -> {rule: field}"));
                };
                if !rules.iter().any(|x| x == r) {
                    return Err(RuleError::Reference(format!(
                        "alias '{alias}' maps rule '{r}', which is not in correlation.rules"
                    )));
                }
                m.insert(r.to_string(), f.to_string());
            }
            aliases.insert(alias.to_string(), m);
        }
    }
    let (algo, value_field) = parse_algo(kind, get("condition"), &rules)?;
    Ok(CorrelationSpec {
        kind,
        rules,
        group_by,
        timespan_ms,
        generate,
        aliases,
        value_field,
        algo,
    })
}

/// One buffered occurrence as the match computations see it.
pub(crate) trait Occurrence {
    /// Event time (ms).
    fn time(&self) -> i64;
    /// Member index.
    fn member(&self) -> usize;
    /// The counted value (value_count, value_percentile).
    fn value(&self) -> Option<&str>;
    /// The numeric value (value_sum, value_avg); entries without one are never buffered.
    fn num(&self) -> f64 {
        0.0
    }
}

/// Which buffer entries a match uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Parts {
    /// Entries `lo..=hi`.
    Range(usize, usize),
    /// These entries (ascending).
    Chain(Vec<usize>),
}

/// One way the correlation holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Match {
    pub(crate) start: i64,
    pub(crate) end: i64,
    /// When the correlation first held within this match (e.g. the N-th event of a count).
    pub(crate) trigger: i64,
    /// The count in the window (count types), for `eq`.
    pub(crate) weight: u64,
    pub(crate) parts: Parts,
}

/// All matches over a buffer sorted by time. Fixed windows ending after `closed_before` are
/// still open and yield nothing.
pub(crate) fn find_matches<O: Occurrence>(
    algo: &Algo,
    entries: &[O],
    span: i64,
    closed_before: i64,
) -> Vec<Match> {
    match algo {
        Algo::EventCount(t) => {
            let min = t.min();
            windows(entries, span, |lo, hi| {
                let c = (hi - lo + 1) as u64;
                (c >= min).then(|| (c, entries[lo + (min as usize) - 1].time()))
            })
        }
        Algo::ValueCount(t) => value_windows(entries, span, *t),
        Algo::ValueSum { min, inclusive } => sum_windows(entries, span, *min, *inclusive),
        Algo::Closed { measure, bounds } => {
            closed_windows(entries, span, closed_before, *measure, bounds)
        }
        Algo::Temporal(p) => temporal(entries, span, p),
        Algo::Ordered(steps) => ordered(entries, span, steps),
        Algo::OrderedAbsent { steps, trailing } => {
            ordered_then_absent(entries, span, steps, trailing, closed_before)
        }
    }
}

/// `temporal_ordered` with trailing absence: every sequence `ordered` finds (ending at the
/// last positive step, time `t`) that no `trailing` member follows within `(t, t + span]`
/// (after the last step in event-time order). Decided only once `t + span < closed_before`;
/// the match spans to that deadline, which is also when it first held.
fn ordered_then_absent<O: Occurrence>(
    entries: &[O],
    span: i64,
    steps: &[Step],
    trailing: &[usize],
    closed_before: i64,
) -> Vec<Match> {
    let mut out = Vec::new();
    for m in ordered(entries, span, steps) {
        let Parts::Chain(positions) = &m.parts else {
            continue;
        };
        let Some(&last) = positions.last() else {
            continue;
        };
        let deadline = m.end.saturating_add(span);
        if deadline >= closed_before {
            continue; // the absence can still be broken
        }
        let broken = entries[last + 1..]
            .iter()
            .take_while(|e| e.time() <= deadline)
            .any(|e| trailing.contains(&e.member()));
        if !broken {
            out.push(Match {
                start: m.start,
                end: deadline,
                trigger: deadline,
                weight: 0,
                parts: m.parts,
            });
        }
    }
    out
}

/// End (exclusive) of the fixed window `[kT, (k+1)T)` holding time `t`.
pub(crate) fn window_end(t: i64, span: i64) -> i64 {
    t.div_euclid(span).saturating_add(1).saturating_mul(span)
}

/// `value_sum` with a lower bound: windows `[t_i, t_i + span]` whose sum passes; the trigger
/// is the first entry at which the running sum from `t_i` passes.
fn sum_windows<O: Occurrence>(entries: &[O], span: i64, min: f64, inclusive: bool) -> Vec<Match> {
    let passes = |x: f64| if inclusive { x >= min } else { x > min };
    // Prefix sums, summed left to right so the result is the same on every run.
    let mut prefix = Vec::with_capacity(entries.len() + 1);
    prefix.push(0.0f64);
    for e in entries {
        prefix.push(prefix[prefix.len() - 1] + e.num());
    }
    let monotone = entries.iter().all(|e| e.num() >= 0.0);
    windows(entries, span, |lo, hi| {
        if !passes(prefix[hi + 1] - prefix[lo]) {
            return None;
        }
        // With no negative values the running sum only grows: binary search; else scan.
        let first = if monotone {
            lo + prefix[lo + 1..=hi + 1].partition_point(|p| !passes(p - prefix[lo]))
        } else {
            (lo..=hi)
                .find(|&k| passes(prefix[k + 1] - prefix[lo]))
                .unwrap_or(hi)
        };
        Some((0, entries[first.min(hi)].time()))
    })
}

/// Fixed windows `[kT, (k+1)T)` that are closed (end ≤ `closed_before`) and whose measure
/// satisfies the bounds. A match spans its whole window, so windows never merge into one alert.
fn closed_windows<O: Occurrence>(
    entries: &[O],
    span: i64,
    closed_before: i64,
    measure: Measure,
    bounds: &Bounds,
) -> Vec<Match> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let end = window_end(entries[i].time(), span);
        let j = i + entries[i..].partition_point(|e| e.time() < end);
        if end > closed_before {
            break; // later windows end later still
        }
        if let Some(parts) = window_holds(&entries[i..j], i, measure, bounds) {
            out.push(Match {
                start: end.saturating_sub(span),
                end: end - 1,
                trigger: entries[j - 1].time(),
                weight: 0,
                parts,
            });
        }
        i = j;
    }
    out
}

/// Whether one closed window's measure satisfies the bounds; `base` is its first position.
fn window_holds<O: Occurrence>(
    window: &[O],
    base: usize,
    measure: Measure,
    bounds: &Bounds,
) -> Option<Parts> {
    let all = Parts::Range(base, base + window.len() - 1);
    let n = window.len() as f64;
    let x = match measure {
        Measure::Events => n,
        Measure::Distinct => distinct(window.iter().filter_map(|e| e.value())) as f64,
        Measure::Sum => window.iter().map(|e| e.num()).sum(),
        Measure::Avg => window.iter().map(|e| e.num()).sum::<f64>() / n,
        Measure::Rules => distinct(window.iter().map(|e| e.member())) as f64,
        Measure::Share => return rare_values(window, base, bounds),
    };
    bounds.holds(x).then_some(all)
}

fn distinct<T: Ord>(items: impl Iterator<Item = T>) -> usize {
    items.collect::<std::collections::BTreeSet<T>>().len()
}

/// `value_percentile`: the entries whose value's share of the window (in percent) satisfies
/// the bounds, or None when no value does.
fn rare_values<O: Occurrence>(window: &[O], base: usize, bounds: &Bounds) -> Option<Parts> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in window.iter().filter_map(|e| e.value()) {
        *counts.entry(v).or_insert(0) += 1;
    }
    let total: usize = counts.values().sum();
    let chosen = |v: &str| {
        counts
            .get(v)
            .is_some_and(|c| bounds.holds(100.0 * *c as f64 / total as f64))
    };
    let positions: Vec<usize> = window
        .iter()
        .enumerate()
        .filter(|(_, e)| e.value().is_some_and(chosen))
        .map(|(k, _)| base + k)
        .collect();
    (!positions.is_empty()).then_some(Parts::Chain(positions))
}

/// Windows anchored at each entry: `[t_i, t_i + span]`; `keep(lo, hi)` decides.
fn windows<O: Occurrence>(
    entries: &[O],
    span: i64,
    mut keep: impl FnMut(usize, usize) -> Option<(u64, i64)>,
) -> Vec<Match> {
    let mut out = Vec::new();
    let mut j = 0;
    for i in 0..entries.len() {
        let limit = entries[i].time().saturating_add(span);
        if j < i {
            j = i;
        }
        while j + 1 < entries.len() && entries[j + 1].time() <= limit {
            j += 1;
        }
        if let Some((weight, trigger)) = keep(i, j) {
            out.push(Match {
                start: entries[i].time(),
                end: entries[j].time(),
                trigger,
                weight,
                parts: Parts::Range(i, j),
            });
        }
    }
    out
}

fn value_windows<O: Occurrence>(entries: &[O], span: i64, t: Threshold) -> Vec<Match> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::new();
    let mut j = 0; // exclusive end of the entries added so far
    for i in 0..entries.len() {
        let limit = entries[i].time().saturating_add(span);
        while j < entries.len() && entries[j].time() <= limit {
            if let Some(v) = entries[j].value() {
                *counts.entry(v).or_insert(0) += 1;
            }
            j += 1;
        }
        let distinct = counts.len() as u64;
        if distinct >= t.min() {
            out.push(Match {
                start: entries[i].time(),
                end: entries[j - 1].time(),
                trigger: entries[j - 1].time(),
                weight: distinct,
                parts: Parts::Range(i, j - 1),
            });
        }
        if let Some(v) = entries[i].value()
            && let Some(c) = counts.get_mut(v)
        {
            *c -= 1;
            if *c == 0 {
                counts.remove(v);
            }
        }
    }
    out
}

fn temporal<O: Occurrence>(entries: &[O], span: i64, cond: &Presence) -> Vec<Match> {
    // `present` counts members in the whole window [i, j); `early` in [i, k), the shortest
    // prefix of the window that satisfies the (monotone) expression: its end is the trigger.
    let mut present = [0u32; 64];
    let mut early = [0u32; 64];
    let mut out = Vec::new();
    let mut j = 0;
    let mut k = 0;
    for i in 0..entries.len() {
        let limit = entries[i].time().saturating_add(span);
        while j < entries.len() && entries[j].time() <= limit {
            present[entries[j].member() % 64] += 1;
            j += 1;
        }
        if cond.holds(&present) {
            while k < j && !cond.holds(&early) {
                early[entries[k].member() % 64] += 1;
                k += 1;
            }
            out.push(Match {
                start: entries[i].time(),
                end: entries[j - 1].time(),
                // The expression holds on the whole window, so [i, k) is non-empty here.
                trigger: entries[k.max(i + 1) - 1].time(),
                weight: 0,
                parts: Parts::Range(i, j - 1),
            });
        }
        present[entries[i].member() % 64] -= 1;
        if k > i {
            early[entries[i].member() % 64] -= 1;
        } else {
            k = i + 1;
        }
    }
    out
}

/// The chain plus every other occurrence that could stand in for one of its steps: an earlier
/// occurrence of step `j`, after step `j - 1` and within the timespan, with no forbidden event
/// between it and step `j + 1`. The alert then shows all the evidence (e.g. every badge-in
/// since the last badge-out), not only the one occurrence the chain happened to use.
fn supporting_evidence<O: Occurrence>(
    entries: &[O],
    span: i64,
    steps: &[Step],
    gap: &[Option<usize>],
    lead: &[i64],
    chain: &[usize],
) -> Vec<usize> {
    let end = chain.last().map_or(0, |&p| entries[p].time());
    let mut positions = chain.to_vec();
    for j in 0..chain.len().saturating_sub(1) {
        let lower_pos = if j == 0 { 0 } else { chain[j - 1] + 1 };
        for q in (lower_pos..chain[j]).rev() {
            let e = &entries[q];
            if e.time() < end.saturating_sub(span) {
                break;
            }
            if gap[e.member()] == Some(j + 1) {
                break; // forbidden between this occurrence and step j + 1
            }
            if e.member() != steps[j].member {
                continue;
            }
            let leading_clear = j > 0 || {
                let from = e.time().saturating_sub(span);
                let first_ge = lead.partition_point(|x| *x < from);
                lead.get(first_ge).is_none_or(|x| *x > e.time())
            };
            if leading_clear {
                positions.push(q);
            }
        }
    }
    positions.sort_unstable();
    positions
}

/// `temporal_ordered`: a left-to-right sweep keeping, per step, the best (latest) start of a
/// valid partial chain since the last forbidden event of the gap before the next step.
/// For every occurrence of the last step this finds the valid chain with the latest first
/// step (exact: absence gaps are handled by resetting, not by greedy choice).
fn ordered<O: Occurrence>(entries: &[O], span: i64, steps: &[Step]) -> Vec<Match> {
    let k = steps.len();
    let max_member = entries.iter().map(|e| e.member()).max().unwrap_or(0);
    let n_members = max_member
        .max(steps.iter().map(|s| s.member).max().unwrap_or(0))
        .max(
            steps
                .iter()
                .flat_map(|s| s.absent_before.iter().copied())
                .max()
                .unwrap_or(0),
        )
        + 1;
    let mut role: Vec<Option<usize>> = vec![None; n_members];
    let mut gap: Vec<Option<usize>> = vec![None; n_members];
    for (j, s) in steps.iter().enumerate() {
        role[s.member] = Some(j);
        for a in &s.absent_before {
            gap[*a] = Some(j);
        }
    }
    // Times of the leading forbidden events (sorted, as entries are).
    let lead: Vec<i64> = entries
        .iter()
        .filter(|e| gap[e.member()] == Some(0))
        .map(|e| e.time())
        .collect();
    // nodes: (entry position, previous node)
    let mut nodes: Vec<(usize, Option<usize>)> = Vec::new();
    let mut run: Vec<Option<(i64, usize)>> = vec![None; k];
    let mut out = Vec::new();
    for (pos, e) in entries.iter().enumerate() {
        let m = e.member();
        if let Some(j) = gap[m]
            && j > 0
        {
            run[j] = None;
        }
        let Some(j) = role[m] else { continue };
        let t = e.time();
        let best: Option<(i64, Option<usize>)> = if j == 0 {
            let from = t.saturating_sub(span);
            let first_ge = lead.partition_point(|x| *x < from);
            let clear = lead.get(first_ge).is_none_or(|x| *x > t);
            clear.then_some((t, None))
        } else {
            run[j].map(|(s, node)| (s, Some(node)))
        };
        let Some((start, prev)) = best else { continue };
        if start < t.saturating_sub(span) {
            continue; // too old to complete within the timespan, and only gets older
        }
        nodes.push((pos, prev));
        let node = nodes.len() - 1;
        if j + 1 == k {
            let mut chain = Vec::with_capacity(k);
            let mut cur = Some(node);
            while let Some(c) = cur {
                chain.push(nodes[c].0);
                cur = nodes[c].1;
            }
            chain.reverse();
            let evidence = supporting_evidence(entries, span, steps, &gap, &lead, &chain);
            out.push(Match {
                start,
                end: t,
                trigger: t,
                weight: 0,
                parts: Parts::Chain(evidence),
            });
        } else if run[j + 1].is_none_or(|(s, _)| start >= s) {
            run[j + 1] = Some((start, node));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct E(i64, usize, Option<&'static str>);

    /// A numeric occurrence (value_sum / value_avg).
    struct N(i64, f64);
    impl Occurrence for N {
        fn time(&self) -> i64 {
            self.0
        }
        fn member(&self) -> usize {
            0
        }
        fn value(&self) -> Option<&str> {
            None
        }
        fn num(&self) -> f64 {
            self.1
        }
    }

    fn algo(yaml: &str) -> Algo {
        match spec(yaml) {
            Ok(s) => s.algo,
            Err(e) => panic!("{yaml}: {e}"),
        }
    }

    fn starts(m: &[Match]) -> Vec<i64> {
        m.iter().map(|m| m.start).collect()
    }
    impl Occurrence for E {
        fn time(&self) -> i64 {
            self.0
        }
        fn member(&self) -> usize {
            self.1
        }
        fn value(&self) -> Option<&str> {
            self.2
        }
    }

    fn spec(yaml: &str) -> Result<CorrelationSpec, RuleError> {
        let v: Yaml = serde_yaml::from_str(yaml).unwrap_or(Yaml::Null);
        parse_spec(&v, None)
    }

    fn plan(yaml_cond: &str, rules: &[&str]) -> Result<(Vec<Step>, Vec<usize>), RuleError> {
        let rules: Vec<String> = rules.iter().map(|s| s.to_string()).collect();
        let e = parse_expr(yaml_cond, &rules)?;
        ordered_plan(Some(&e), rules.len())
    }

    fn steps(yaml_cond: &str, rules: &[&str]) -> Result<Vec<Step>, RuleError> {
        plan(yaml_cond, rules).map(|(s, _)| s)
    }

    #[test]
    fn trailing_absence_waits_for_its_deadline() {
        // rules [badge_in, badge_out]; condition badge_in and not badge_out; timespan 10.
        let algo = Algo::OrderedAbsent {
            steps: vec![Step {
                member: 0,
                absent_before: vec![],
            }],
            trailing: vec![1],
        };
        // In at 0 and out at 8: broken. In at 20, nothing after: holds once 30 is closed.
        let es = [E(0, 0, None), E(8, 1, None), E(20, 0, None)];
        assert!(
            find_matches(&algo, &es, 10, 30).is_empty(),
            "deadline 30 not passed"
        );
        let m = find_matches(&algo, &es, 10, 31);
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].start, m[0].end, m[0].trigger), (20, 30, 30));
        assert_eq!(m[0].parts, Parts::Chain(vec![2]));
        // An out exactly at the deadline still breaks it; one after it does not.
        let es = [E(0, 0, None), E(10, 1, None)];
        assert!(find_matches(&algo, &es, 10, i64::MAX).is_empty());
        let es = [E(0, 0, None), E(11, 1, None)];
        assert_eq!(find_matches(&algo, &es, 10, i64::MAX).len(), 1);
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("5m").ok(), Some(300_000));
        assert_eq!(parse_timespan("1h").ok(), Some(3_600_000));
        assert_eq!(parse_timespan("30s").ok(), Some(30_000));
        assert_eq!(parse_timespan("2d").ok(), Some(172_800_000));
        assert!(parse_timespan("5").is_err());
        assert!(parse_timespan("5y").is_err());
        assert!(parse_timespan("0m").is_err());
    }

    #[test]
    fn plans() {
        let r = ["badge_in", "badge_out", "remote_login"];
        let s = steps("badge_in and not badge_out and remote_login", &r).unwrap_or_default();
        assert_eq!(
            s,
            vec![
                Step {
                    member: 0,
                    absent_before: vec![]
                },
                Step {
                    member: 2,
                    absent_before: vec![1]
                }
            ]
        );
        let s = steps("not badge_in and remote_login", &r).unwrap_or_default();
        assert_eq!(
            s,
            vec![Step {
                member: 2,
                absent_before: vec![0]
            }]
        );
        let e = plan("badge_in and not remote_login", &r);
        assert!(matches!(e, Ok((s, t)) if s.len() == 1 && t == vec![2]));
        assert!(steps("badge_in or remote_login", &r).is_err());
        assert!(steps("not badge_in", &r).is_err());
        assert!(steps("nobody", &r).is_err());
    }

    #[test]
    fn specs() {
        assert!(
            spec("type: temporal\nrules: [a, b]\ntimespan: 5m\ncondition: a and not b")
                .is_err_and(|e| e.to_string().contains("absence needs temporal_ordered"))
        );
        let s = spec(
            "type: event_count\nrules: [a]\ngroup-by: [ip]\ntimespan: 5m\ncondition: {gte: 3}\ngenerate: true",
        );
        assert!(s.is_ok_and(|s| s.generate && s.group_by == vec!["ip".to_string()]));
        assert!(spec("type: value_count\nrules: [a]\ntimespan: 5m\ncondition: {gte: 3}").is_err());
    }

    #[test]
    fn ordered_absence_is_exact() {
        // rules [a, x, b, c]; condition a and not x and b and c.
        // a@1 b@2 x@3 b@4 c@5: greedy-latest (b@4, a@1) crosses x@3, but a@1 b@2 c@5 is valid.
        let plan = vec![
            Step {
                member: 0,
                absent_before: vec![],
            },
            Step {
                member: 2,
                absent_before: vec![1],
            },
            Step {
                member: 3,
                absent_before: vec![],
            },
        ];
        let es = [
            E(1, 0, None),
            E(2, 2, None),
            E(3, 1, None),
            E(4, 2, None),
            E(5, 3, None),
        ];
        let m = ordered(&es, 10, &plan);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].parts, Parts::Chain(vec![0, 1, 4]));
        // Outside the timespan: nothing.
        assert!(ordered(&es, 3, &plan).is_empty());
    }

    #[test]
    fn ordered_evidence_keeps_every_occurrence_that_could_stand_in() {
        // rules [badge_in, badge_out, remote]; condition badge_in and not badge_out and remote.
        let plan = vec![
            Step {
                member: 0,
                absent_before: vec![],
            },
            Step {
                member: 2,
                absent_before: vec![1],
            },
        ];
        // Two badge-ins (main door, then office door) before the remote login: both are evidence.
        let es = [E(1, 0, None), E(2, 0, None), E(5, 2, None)];
        let m = ordered(&es, 10, &plan);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].parts, Parts::Chain(vec![0, 1, 2]));
        // A badge-out in between cuts the earlier badge-in off; one outside the timespan too.
        let es = [
            E(1, 0, None),
            E(2, 1, None),
            E(3, 0, None),
            E(4, 0, None),
            E(9, 2, None),
        ];
        let m = ordered(&es, 6, &plan);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].parts, Parts::Chain(vec![2, 3, 4]));
    }

    #[test]
    fn ordered_leading_absence() {
        let plan = vec![Step {
            member: 1,
            absent_before: vec![0],
        }];
        // badge_in at 0, login at 5 (span 10): blocked; login at 20: fine.
        let es = [E(0, 0, None), E(5, 1, None), E(20, 1, None)];
        let m = ordered(&es, 10, &plan);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].parts, Parts::Chain(vec![2]));
        // Boundary: a badge-in exactly timespan before still counts.
        let es = [E(0, 0, None), E(10, 1, None)];
        assert!(ordered(&es, 10, &plan).is_empty());
    }

    #[test]
    fn counting_windows() {
        let es: Vec<E> = (0..12).map(|i| E(i * 10, 0, None)).collect();
        let m = find_matches(&Algo::EventCount(Threshold::Gte(10)), &es, 100, i64::MAX);
        assert_eq!(m.len(), 3); // windows anchored at 0, 10, 20
        assert_eq!(m[0].parts, Parts::Range(0, 10));
        assert_eq!(m[0].trigger, 90); // the 10th event
        assert_eq!(m[2].trigger, 110);
        let vals = [
            E(0, 0, Some("a")),
            E(1, 0, Some("b")),
            E(2, 0, Some("a")),
            E(50, 0, Some("c")),
        ];
        // Windows anchored at 0 {a,b,a} and 1 {b,a} have 2 distinct values; 2 {a} and 50 {c} not.
        let m = find_matches(&Algo::ValueCount(Threshold::Gte(2)), &vals, 10, i64::MAX);
        assert_eq!(m.len(), 2);
        let m = find_matches(&Algo::ValueCount(Threshold::Gte(3)), &vals, 100, i64::MAX);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].parts, Parts::Range(0, 3));
        assert!(find_matches(&Algo::ValueCount(Threshold::Gt(3)), &vals, 100, i64::MAX).is_empty());
    }

    #[test]
    fn temporal_expression() {
        let e = Presence::Expr(Expr::And(vec![
            Expr::Or(vec![Expr::Atom(0), Expr::Atom(1)]),
            Expr::Or(vec![Expr::Atom(2), Expr::Atom(3)]),
        ]));
        let es = [E(0, 1, None), E(5, 3, None), E(7, 0, None)];
        let m = temporal(&es, 10, &e);
        assert_eq!(m.len(), 2); // anchored at b@0 and at d@5
        assert_eq!((m[0].start, m[0].trigger, m[0].end), (0, 5, 7));
        assert_eq!((m[1].start, m[1].trigger, m[1].end), (5, 7, 7));
        let es = [E(0, 0, None), E(5, 1, None)];
        assert!(temporal(&es, 10, &e).is_empty());
        let es = [E(0, 2, None), E(15, 0, None)];
        assert!(temporal(&es, 10, &e).is_empty());
    }

    #[test]
    fn condition_maps_choose_the_algorithm() {
        let a = algo("type: event_count\nrules: [a]\ntimespan: 10s\ncondition: {gte: 3}");
        assert!(matches!(a, Algo::EventCount(Threshold::Gte(3))));
        let a = algo("type: event_count\nrules: [a]\ntimespan: 10s\ncondition: {lt: 3}");
        assert!(matches!(
            a,
            Algo::Closed {
                measure: Measure::Events,
                ..
            }
        ));
        let a = algo(
            "type: value_count\nrules: [a]\ntimespan: 10s\ncondition: {field: u, gt: 1, lte: 4}",
        );
        assert!(
            matches!(a, Algo::Closed { measure: Measure::Distinct, bounds } if bounds.0 == vec![(Op::Gt, 1.0), (Op::Lte, 4.0)])
        );
        let a = algo("type: value_sum\nrules: [a]\ntimespan: 10s\ncondition: {field: b, gte: 2.5}");
        assert!(matches!(a, Algo::ValueSum { min, inclusive: true } if min == 2.5));
        let a = algo("type: value_sum\nrules: [a]\ntimespan: 10s\ncondition: {field: b, neq: 0}");
        assert!(matches!(
            a,
            Algo::Closed {
                measure: Measure::Sum,
                ..
            }
        ));
        let a = algo("type: value_avg\nrules: [a]\ntimespan: 10s\ncondition: {field: b, gt: 500}");
        assert!(matches!(
            a,
            Algo::Closed {
                measure: Measure::Avg,
                ..
            }
        ));
        let a = algo(
            "type: value_percentile\nrules: [a]\ntimespan: 1d\ncondition: {field: Image, lte: 1}",
        );
        assert!(matches!(
            a,
            Algo::Closed {
                measure: Measure::Share,
                ..
            }
        ));
        let a = algo("type: temporal\nrules: [a, b, c]\ntimespan: 10s\ncondition: {gte: 2}");
        assert!(matches!(a, Algo::Temporal(Presence::AtLeast(2))));
        let a = algo("type: temporal\nrules: [a, b, c]\ntimespan: 10s\ncondition: {lt: 2}");
        assert!(matches!(
            a,
            Algo::Closed {
                measure: Measure::Rules,
                ..
            }
        ));
    }

    #[test]
    fn bad_conditions_say_why() {
        let err = |yaml: &str| match spec(yaml) {
            Ok(_) => panic!("accepted: {yaml}"),
            Err(e) => e.to_string(),
        };
        let base = "rules: [a]\ntimespan: 10s\ncondition: ";
        assert!(
            err(&format!("type: value_sum\n{base}{{gt: 3}}")).contains("needs condition.field")
        );
        assert!(
            err(&format!("type: value_avg\n{base}{{field: b, gt: x}}"))
                .contains("must be a number")
        );
        assert!(
            err(&format!("type: event_count\n{base}{{gt: 2.5}}")).contains("non-negative integer")
        );
        assert!(err(&format!("type: event_count\n{base}{{field: b}}")).contains("no gt/gte"));
        assert!(
            err(&format!("type: event_count\n{base}{{over: 3}}")).contains("unknown condition key")
        );
        assert!(
            err(&format!(
                "type: value_percentile\n{base}{{field: b, percentile: 95, gt: 3}}"
            ))
            .contains("not part of Sigma")
        );
        assert!(
            err(&format!(
                "type: value_percentile\n{base}{{field: b, gt: 300}}"
            ))
            .contains("0 to 100")
        );
        assert!(
            err(&format!("type: temporal_ordered\n{base}{{gte: 2}}"))
                .contains("boolean expression")
        );
        assert!(
            err(&format!("type: temporal\n{base}{{field: b, gte: 2}}"))
                .contains("no condition.field")
        );
        assert!(
            err(&format!("type: value_sum\n{base}{{field: [a, b], gt: 1}}"))
                .contains("several fields")
        );
    }

    #[test]
    fn sums_on_sliding_windows() {
        let es = [N(0, 400.0), N(5, 400.0), N(8, 300.0), N(30, 2000.0)];
        let sum = Algo::ValueSum {
            min: 1000.0,
            inclusive: true,
        };
        let m = find_matches(&sum, &es, 10, i64::MAX);
        // [0, 10] sums 1100 (passes at the third entry); [30, 40] sums 2000.
        assert_eq!(starts(&m), vec![0, 30]);
        assert_eq!((m[0].trigger, m[0].parts.clone()), (8, Parts::Range(0, 2)));
        let gt = Algo::ValueSum {
            min: 2000.0,
            inclusive: false,
        };
        assert!(find_matches(&gt, &es, 10, i64::MAX).is_empty());
        // A negative value inside the window lowers the sum; the trigger is still the first
        // prefix that passes.
        let es = [N(0, 900.0), N(1, 200.0), N(2, -500.0)];
        let m = find_matches(&sum, &es, 10, i64::MAX);
        assert!(m.is_empty());
        let es = [N(0, 900.0), N(1, 200.0), N(2, -50.0)];
        let m = find_matches(&sum, &es, 10, i64::MAX);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].trigger, 1);
    }

    #[test]
    fn fixed_windows_wait_until_closed() {
        let lt = algo("type: event_count\nrules: [a]\ntimespan: 10s\ncondition: {lt: 3}");
        // Windows [0, 10 s): 2 events; [10 s, 20 s): 3 events; [20 s, 30 s): 1 event.
        let es = [
            E(1_000, 0, None),
            E(9_999, 0, None),
            E(10_000, 0, None),
            E(12_000, 0, None),
            E(19_000, 0, None),
            E(25_000, 0, None),
        ];
        let m = find_matches(&lt, &es, 10_000, 20_000);
        assert_eq!(starts(&m), vec![0]); // [20 s, 30 s) is not closed yet
        assert_eq!((m[0].end, m[0].trigger), (9_999, 9_999));
        assert_eq!(m[0].parts, Parts::Range(0, 1));
        assert_eq!(
            starts(&find_matches(&lt, &es, 10_000, 30_000)),
            vec![0, 20_000]
        );
        assert!(find_matches(&lt, &es, 10_000, 9_999).is_empty());
        let range =
            algo("type: event_count\nrules: [a]\ntimespan: 10s\ncondition: {gt: 2, lte: 3}");
        assert_eq!(
            starts(&find_matches(&range, &es, 10_000, i64::MAX)),
            vec![10_000]
        );
        let neq = algo("type: event_count\nrules: [a]\ntimespan: 10s\ncondition: {neq: 3}");
        assert_eq!(
            starts(&find_matches(&neq, &es, 10_000, i64::MAX)),
            vec![0, 20_000]
        );
        // Negative times fall into the window below zero, not into [0, T).
        let es = [E(-1, 0, None), E(0, 0, None)];
        assert_eq!(
            starts(&find_matches(&lt, &es, 10_000, i64::MAX)),
            vec![-10_000, 0]
        );
    }

    #[test]
    fn averages_and_distinct_values_on_fixed_windows() {
        let avg =
            algo("type: value_avg\nrules: [a]\ntimespan: 10s\ncondition: {field: b, gt: 500}");
        let es = [N(0, 400.0), N(1, 700.0), N(10_000, 100.0), N(10_001, 200.0)];
        let m = find_matches(&avg, &es, 10_000, i64::MAX);
        assert_eq!(starts(&m), vec![0]); // avg 550, then 150
        let lte =
            algo("type: value_avg\nrules: [a]\ntimespan: 10s\ncondition: {field: b, lte: 150}");
        assert_eq!(
            starts(&find_matches(&lte, &es, 10_000, i64::MAX)),
            vec![10_000]
        );
        let few =
            algo("type: value_count\nrules: [a]\ntimespan: 10s\ncondition: {field: u, lt: 2}");
        let es = [
            E(0, 0, Some("x")),
            E(1, 0, Some("x")),
            E(10_000, 0, Some("x")),
            E(10_001, 0, Some("y")),
        ];
        assert_eq!(starts(&find_matches(&few, &es, 10_000, i64::MAX)), vec![0]);
    }

    #[test]
    fn shares_pick_the_rare_values() {
        let rare = algo(
            "type: value_percentile\nrules: [a]\ntimespan: 10s\ncondition: {field: Image, lte: 10}",
        );
        // 10 events: svchost 9 times (90 %), evil.exe once (10 %).
        let mut es: Vec<E> = (0..9).map(|i| E(i, 0, Some("svchost.exe"))).collect();
        es.insert(4, E(4, 0, Some("evil.exe")));
        let m = find_matches(&rare, &es, 10_000, i64::MAX);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].parts, Parts::Chain(vec![4]));
        let rarer = algo(
            "type: value_percentile\nrules: [a]\ntimespan: 10s\ncondition: {field: Image, lt: 10}",
        );
        assert!(find_matches(&rarer, &es, 10_000, i64::MAX).is_empty());
    }

    #[test]
    fn temporal_counts_distinct_rules() {
        let two = Presence::AtLeast(2);
        let es = [E(0, 0, None), E(1, 0, None), E(5, 2, None), E(30, 1, None)];
        let m = temporal(&es, 10, &two);
        assert_eq!(starts(&m), vec![0, 1]);
        assert_eq!(m[0].trigger, 5);
        assert!(temporal(&es, 10, &Presence::AtLeast(3)).is_empty());
    }
}
