//! Single-event matching: log-source groups, the per-field literal prefilter automata, and
//! the per-event pass that selects and evaluates the candidate detection rules.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::ctx::{Ctx, FieldIndex, TableStore};
use crate::record::{FieldValue, Record, float_text, int_text};
use crate::ruleset::{Body, Rule};

/// Detection rules sharing one log source.
#[derive(Debug)]
struct LsGroup {
    pairs: Vec<usize>,
    /// Rules without a literal prefilter: always evaluated.
    always: Vec<usize>,
    /// Prefilter fields (indexes into `Engine::prefilter`) the rules of this group need.
    fields: Vec<usize>,
}

/// Prefilter of one field (`""`: keywords, any string value): a rule is evaluated only when
/// the field contains one of the literals it needs (derived from its condition at load time).
#[derive(Debug)]
struct PfField {
    name: String,
    slot: usize,
    ac: AhoCorasick,
    /// Global index of pattern 0 (for the per-event pattern marks).
    base: usize,
    /// Rules per pattern.
    rules: Vec<Vec<usize>>,
    /// Length of the shortest pattern (an ASCII value shorter than this holds none).
    min_len: usize,
    /// For the keyword prefilter, which sees every string value of the record and finds a
    /// pattern in few of them: the same patterns, ASCII-case-insensitive, to test an ASCII
    /// value for any pattern at all, as it is, before lowercasing it for the overlapping
    /// search that finds them all.
    gate: Option<AhoCorasick>,
}

/// The per-event marks a prefilter scan updates.
struct Marks<'a> {
    epoch: u32,
    /// Per pattern (global index): the epoch it was last seen in.
    pat_seen: &'a mut [u32],
    /// Per rule: the epoch it last became a candidate in.
    cand: &'a mut [u32],
    /// This event's candidates.
    out: &'a mut Vec<usize>,
    /// The value being scanned, lowercased (a reused buffer).
    lower: &'a mut Vec<u8>,
}

impl PfField {
    /// Marks the rules whose literals occur in the value.
    fn scan(&self, v: &FieldValue<'_>, marks: &mut Marks<'_>) {
        let mut buf = [0u8; 24];
        let float;
        let text: &str = match v {
            FieldValue::Str(s) => s,
            FieldValue::Int(i) => int_text(*i, &mut buf),
            FieldValue::Float(f) => {
                float = float_text(*f);
                &float
            }
            FieldValue::Bool(b) => {
                if *b {
                    "true"
                } else {
                    "false"
                }
            }
            FieldValue::Null => return,
            FieldValue::List(items) => {
                for x in items {
                    self.scan(x, marks);
                }
                return;
            }
        };
        self.scan_str(text, marks);
    }

    /// Marks the rules whose literals occur in `text`.
    fn scan_str(&self, text: &str, marks: &mut Marks<'_>) {
        // The literals are lowercase and the automaton compares exactly: it reads the text
        // lowercased once (what `fold` and an ASCII-case-insensitive comparison amount to).
        let lower = &mut *marks.lower;
        lower.clear();
        if text.is_ascii() {
            if text.len() < self.min_len {
                return;
            }
            // The patterns are lowercase: for ASCII text, an ASCII-case-insensitive match is
            // a match in the lowercased text.
            if let Some(gate) = &self.gate
                && !gate.is_match(text)
            {
                return;
            }
            lower.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
        } else {
            lower.extend_from_slice(text.to_lowercase().as_bytes());
        }
        for m in self.ac.find_overlapping_iter(&lower[..]) {
            let p = m.pattern().as_usize();
            let seen = &mut marks.pat_seen[self.base + p];
            if *seen == marks.epoch {
                continue;
            }
            *seen = marks.epoch;
            for &r in &self.rules[p] {
                if marks.cand[r] != marks.epoch {
                    marks.cand[r] = marks.epoch;
                    marks.out.push(r);
                }
            }
        }
    }
}

/// What single-event matching keeps: the log-source groups, the prefilter automata, and the
/// per-event marks (reused across events, reset by epoch).
#[derive(Debug)]
pub(crate) struct Matcher {
    ls_pairs: Vec<(String, String)>,
    ls_groups: Vec<LsGroup>,
    ls_state: Vec<u8>,
    scratch_candidates: Vec<usize>,
    /// Buffer of the lowercased value a prefilter scans.
    lower: Vec<u8>,
    /// One prefilter automaton per field, over all groups.
    prefilter: Vec<PfField>,
    /// Log-source group of each detection rule.
    rule_group: Vec<usize>,
    /// Per event: which groups apply, which prefilter fields to scan (epoch marks).
    group_on: Vec<u32>,
    field_on: Vec<u32>,
    /// The interned field names of the detection rules.
    fields: FieldIndex,
    /// The per-event field table's storage.
    table: TableStore,
    /// Per field slot: its prefilter field (`u32::MAX`: none).
    pf_of_slot: Vec<u32>,
    /// Prefilter fields with a dotted name (found below another field of the record).
    dotted_pf: Vec<usize>,
    /// The keyword prefilter (literals in any string value), if any.
    keyword_pf: Option<usize>,
    epoch: u32,
    cand: Vec<u32>,
    pat_seen: Vec<u32>,
    /// Members of each log-source group (to build plans).
    group_members: Vec<Vec<usize>>,
    /// The active groups of this event (scratch).
    active: Vec<u32>,
    /// Plans built so far, by their set of active groups.
    plan_of: HashMap<Box<[u32]>, usize, FixedState>,
    plans: Vec<Plan>,
    /// The plan of each log-source token seen ([`Record::logsource_token`]).
    plan_of_token: HashMap<u64, usize, FixedState>,
}

/// Log-source tokens remembered at most (records of further tokens are asked pair by pair).
const MAX_TOKENS: usize = 4096;

/// Plans kept at most: events of more distinct log-source combinations than this use the
/// shared automata (each plan costs its automata's build time and memory).
const MAX_PLANS: usize = 64;

/// Hasher of the plan map: keys are sets of group indexes, fixed by the rules.
type FixedState = foldhash::fast::FixedState;

/// What matching needs for one combination of active log-source groups (e.g. every
/// Windows process-creation event): the always-evaluated rules of those groups, and prefilter
/// automata holding only those groups' literals. Built the first time an event of that
/// combination comes, so an event scans only the needles of rules that can apply to it, and
/// its candidates need no log-source check.
#[derive(Debug)]
struct Plan {
    always: Vec<usize>,
    prefilter: Vec<PfField>,
    /// Per field slot: its prefilter field (`u32::MAX`: none).
    pf_of_slot: Vec<u32>,
    dotted_pf: Vec<usize>,
    keyword_pf: Option<usize>,
}

impl Plan {
    fn new(
        rules: &[Rule],
        groups: Vec<(Vec<usize>, Vec<usize>)>,
        fields: &FieldIndex,
    ) -> (Plan, usize) {
        let (groups, prefilter, pattern_count) = build_prefilter(rules, groups, fields);
        let mut always: Vec<usize> = groups
            .iter()
            .flat_map(|(_, g)| g.always.iter().copied())
            .collect();
        always.sort_unstable();
        always.dedup();
        let (pf_of_slot, dotted_pf, keyword_pf) = slots_of(&prefilter, fields);
        (
            Plan {
                always,
                prefilter,
                pf_of_slot,
                dotted_pf,
                keyword_pf,
            },
            pattern_count,
        )
    }
}

/// Per field slot its prefilter field, the dotted prefilter fields, the keyword prefilter.
fn slots_of(prefilter: &[PfField], fields: &FieldIndex) -> (Vec<u32>, Vec<usize>, Option<usize>) {
    let mut pf_of_slot = vec![u32::MAX; fields.len()];
    let mut dotted_pf = Vec::new();
    for (i, pf) in prefilter.iter().enumerate() {
        if pf.slot < fields.len() {
            pf_of_slot[pf.slot] = i as u32;
            if pf.name.contains('.') {
                dotted_pf.push(i);
            }
        }
    }
    let keyword_pf = prefilter.iter().position(|pf| pf.name.is_empty());
    (pf_of_slot, dotted_pf, keyword_pf)
}

impl Matcher {
    /// Interns the rules' field names (each distinct field is looked up once per event) and
    /// builds the log-source groups and prefilter automata over the detection rules.
    pub(crate) fn new(rules: &mut [Rule]) -> Matcher {
        let mut fields = FieldIndex::default();
        for r in rules.iter_mut() {
            if let Body::Detection { detection, filters } = &mut r.body {
                let dets = std::iter::once(detection).chain(filters.iter_mut().map(Arc::make_mut));
                for d in dets {
                    for m in d.field_matchers_mut() {
                        if let Some(f) = m.field() {
                            m.slot = fields.intern(f);
                        }
                    }
                }
            }
        }
        fields.finish();
        let n = rules.len();
        // Detection rules grouped by log source.
        let mut ls_pairs: Vec<(String, String)> = Vec::new();
        let mut ls_groups: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if !matches!(r.body, Body::Detection { .. }) {
                continue;
            }
            let mut pairs = Vec::new();
            for (k, v) in r.meta.logsource.pairs() {
                let key = (k.to_string(), v.to_ascii_lowercase());
                let idx = match ls_pairs.iter().position(|p| *p == key) {
                    Some(p) => p,
                    None => {
                        ls_pairs.push(key);
                        ls_pairs.len() - 1
                    }
                };
                pairs.push(idx);
            }
            pairs.sort_unstable();
            match ls_groups.iter_mut().find(|g| g.0 == pairs) {
                Some(g) => g.1.push(i),
                None => ls_groups.push((pairs, vec![i])),
            }
        }
        let (ls_groups, prefilter, pattern_count) = build_prefilter(rules, ls_groups, &fields);
        let mut rule_group = vec![usize::MAX; n];
        for (gi, (members, _)) in ls_groups.iter().enumerate() {
            for &r in members {
                rule_group[r] = gi;
            }
        }
        let (group_members, ls_groups): (Vec<Vec<usize>>, Vec<LsGroup>) =
            ls_groups.into_iter().unzip();
        let (pf_of_slot, dotted_pf, keyword_pf) = slots_of(&prefilter, &fields);
        Matcher {
            group_members,
            active: Vec::new(),
            plan_of: HashMap::default(),
            plans: Vec::new(),
            plan_of_token: HashMap::default(),
            keyword_pf,
            table: TableStore::new(fields.len()),
            fields,
            pf_of_slot,
            dotted_pf,
            ls_state: vec![0; ls_pairs.len()],
            ls_pairs,
            scratch_candidates: Vec::new(),
            lower: Vec::new(),
            group_on: vec![0; ls_groups.len()],
            ls_groups,
            field_on: vec![0; prefilter.len()],
            prefilter,
            rule_group,
            epoch: 0,
            cand: vec![0; n],
            pat_seen: vec![0; pattern_count],
        }
    }

    /// Puts into `matched` (cleared first) the detection rules the record matches, in rule
    /// order: log sources checked once per event, fields looked up once, and only rules whose
    /// needed literals occur (or that have none) evaluated.
    pub(crate) fn matching(&mut self, rules: &[Rule], rec: &dyn Record, matched: &mut Vec<usize>) {
        matched.clear();
        self.ls_state.iter_mut().for_each(|s| *s = 0);
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.cand.iter_mut().for_each(|c| *c = 0);
            self.pat_seen.iter_mut().for_each(|c| *c = 0);
            self.group_on.iter_mut().for_each(|c| *c = 0);
            self.field_on.iter_mut().for_each(|c| *c = 0);
            self.table.reset();
            self.epoch = 1;
        }
        let epoch = self.epoch;
        let token = rec.logsource_token();
        let known = token.and_then(|t| self.plan_of_token.get(&t).copied());
        let mut active = std::mem::take(&mut self.active);
        active.clear();
        let plan = if known.is_some() {
            // A record of the same log source was seen: its plan holds.
            known
        } else {
            // Which groups apply.
            for (gi, g) in self.ls_groups.iter().enumerate() {
                let mut ok = true;
                for &p in &g.pairs {
                    if self.ls_state[p] == 0 {
                        let (k, v) = &self.ls_pairs[p];
                        self.ls_state[p] = if rec.in_logsource(k, v) { 1 } else { 2 };
                    }
                    if self.ls_state[p] != 1 {
                        ok = false;
                        break;
                    }
                }
                if ok {
                    active.push(gi as u32);
                }
            }
            let plan = if active.len() == self.ls_groups.len() {
                // Every group applies (a record that says nothing of its source): the shared
                // automata are that plan.
                None
            } else {
                self.plan_for(rules, &active)
            };
            if let (Some(t), Some(pi)) = (token, plan)
                && self.plan_of_token.len() < MAX_TOKENS
            {
                self.plan_of_token.insert(t, pi);
            }
            plan
        };
        let mut candidates = std::mem::take(&mut self.scratch_candidates);
        candidates.clear();
        let ctx = Ctx::with_table(rec, &self.fields, &mut self.table, epoch);
        let mut marks = Marks {
            epoch,
            pat_seen: &mut self.pat_seen,
            cand: &mut self.cand,
            out: &mut candidates,
            lower: &mut self.lower,
        };
        match plan {
            Some(pi) => {
                let plan = &self.plans[pi];
                for &r in &plan.always {
                    if rules[r].matches_ctx(&ctx) == Some(true) {
                        matched.push(r);
                    }
                }
                scan_fields(
                    &ctx,
                    rec,
                    &plan.prefilter,
                    &plan.pf_of_slot,
                    &plan.dotted_pf,
                    plan.keyword_pf,
                    None,
                    &mut marks,
                );
                // The plan's automata hold only rules of the active groups.
                for &r in &candidates {
                    if rules[r].matches_ctx(&ctx) == Some(true) {
                        matched.push(r);
                    }
                }
            }
            None => {
                for &gi in &active {
                    let g = &self.ls_groups[gi as usize];
                    self.group_on[gi as usize] = epoch;
                    for &f in &g.fields {
                        self.field_on[f] = epoch;
                    }
                    for &r in &g.always {
                        if rules[r].matches_ctx(&ctx) == Some(true) {
                            matched.push(r);
                        }
                    }
                }
                scan_fields(
                    &ctx,
                    rec,
                    &self.prefilter,
                    &self.pf_of_slot,
                    &self.dotted_pf,
                    self.keyword_pf,
                    Some((&self.field_on, epoch)),
                    &mut marks,
                );
                for &r in &candidates {
                    if self.group_on.get(self.rule_group[r]) == Some(&epoch)
                        && rules[r].matches_ctx(&ctx) == Some(true)
                    {
                        matched.push(r);
                    }
                }
            }
        }
        self.scratch_candidates = candidates;
        self.active = active;
        matched.sort_unstable();
    }

    /// The plan of this set of active groups, built on first use (`None` once
    /// [`MAX_PLANS`] are built: the shared automata serve the rest).
    fn plan_for(&mut self, rules: &[Rule], active: &[u32]) -> Option<usize> {
        if let Some(&pi) = self.plan_of.get(active) {
            return Some(pi);
        }
        if self.plans.len() >= MAX_PLANS {
            return None;
        }
        let groups: Vec<(Vec<usize>, Vec<usize>)> = active
            .iter()
            .map(|&gi| {
                let gi = gi as usize;
                (
                    self.ls_groups[gi].pairs.clone(),
                    self.group_members[gi].clone(),
                )
            })
            .collect();
        let (plan, pattern_count) = Plan::new(rules, groups, &self.fields);
        tracing::debug!(
            groups = active.len(),
            fields = plan.prefilter.len(),
            patterns = pattern_count,
            "log-source plan built"
        );
        if self.pat_seen.len() < pattern_count {
            // New marks start at 0, below every epoch in use.
            self.pat_seen.resize(pattern_count, 0);
        }
        self.plans.push(plan);
        let pi = self.plans.len() - 1;
        self.plan_of.insert(active.into(), pi);
        Some(pi)
    }
}

/// Runs the prefilter fields over the record, marking candidates. `on`: only the fields
/// marked with this epoch (the shared automata), else every field (a plan's).
#[allow(clippy::too_many_arguments)]
fn scan_fields(
    ctx: &Ctx<'_>,
    rec: &dyn Record,
    prefilter: &[PfField],
    pf_of_slot: &[u32],
    dotted_pf: &[usize],
    keyword_pf: Option<usize>,
    on: Option<(&[u32], u32)>,
    marks: &mut Marks<'_>,
) {
    let is_on = |fi: usize| on.is_none_or(|(f, e)| f[fi] == e);
    if ctx.complete() {
        // The record's own fields drive the scan: one step per field it has.
        ctx.each_entry(|slot, v| {
            let pf = pf_of_slot[slot] as usize;
            if pf < prefilter.len() && is_on(pf) {
                prefilter[pf].scan(v, marks);
            }
        });
        for &fi in dotted_pf {
            let pf = &prefilter[fi];
            // Dotted names found in the listing were scanned above.
            if is_on(fi) && !ctx.in_table(pf.slot) && ctx.may_have(pf.slot) {
                ctx.with_field(pf.slot, &pf.name, |v| {
                    if let Some(v) = v {
                        pf.scan(v, marks);
                    }
                });
            }
        }
        if let Some(fi) = keyword_pf
            && is_on(fi)
        {
            let pf = &prefilter[fi];
            rec.any_value(&mut |s| {
                pf.scan_str(s, marks);
                false
            });
        }
    } else {
        // Each needed field looked up and scanned once.
        for (fi, pf) in prefilter.iter().enumerate() {
            if !is_on(fi) {
                continue;
            }
            if pf.name.is_empty() {
                // Keyword literals: every string value of the record.
                rec.any_value(&mut |s| {
                    pf.scan_str(s, marks);
                    false
                });
                continue;
            }
            ctx.with_field(pf.slot, &pf.name, |v| {
                if let Some(v) = v {
                    pf.scan(v, marks);
                }
            });
        }
    }
}

/// Builds the log-source groups and the per-field prefilter automata.
#[allow(clippy::type_complexity)]
fn build_prefilter(
    rules: &[Rule],
    groups: Vec<(Vec<usize>, Vec<usize>)>,
    fields: &FieldIndex,
) -> (Vec<(Vec<usize>, LsGroup)>, Vec<PfField>, usize) {
    // field -> (needle -> rules)
    let mut by_field: BTreeMap<String, BTreeMap<Vec<u8>, Vec<usize>>> = BTreeMap::new();
    let mut out_groups = Vec::with_capacity(groups.len());
    let mut group_fields: Vec<Vec<String>> = Vec::with_capacity(groups.len());
    for (pairs, members) in groups {
        let mut always = Vec::new();
        let mut fields: Vec<String> = Vec::new();
        for &r in &members {
            let needles = match &rules[r].body {
                Body::Detection { detection, .. } => detection.necessary(),
                _ => None,
            };
            match needles {
                Some(n) if !n.is_empty() => {
                    for (field, mut needle) in n {
                        // Folded already; ASCII-lowercased again so that the exact automaton
                        // over lowercased values stays case-insensitive whatever the source.
                        needle.make_ascii_lowercase();
                        if !fields.contains(&field) {
                            fields.push(field.clone());
                        }
                        let list = by_field
                            .entry(field)
                            .or_default()
                            .entry(needle)
                            .or_default();
                        if list.last() != Some(&r) {
                            list.push(r);
                        }
                    }
                }
                // No literal is necessary (or an empty set: can never match): evaluate always.
                _ => always.push(r),
            }
        }
        group_fields.push(fields);
        out_groups.push((
            members,
            LsGroup {
                pairs,
                always,
                fields: Vec::new(),
            },
        ));
    }
    let mut prefilter: Vec<PfField> = Vec::new();
    let mut pattern_count = 0;
    for (name, needles) in by_field {
        let (pats, rule_lists): (Vec<Vec<u8>>, Vec<Vec<usize>>) = needles.into_iter().unzip();
        // The needles are folded (lowercase) and the scan lowercases the value: the
        // automaton compares exactly, which builds and searches faster than ASCII case
        // insensitivity.
        let built = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&pats);
        match built {
            Ok(ac) => {
                prefilter.push(PfField {
                    slot: fields.slot(&name).unwrap_or(usize::MAX),
                    min_len: pats.iter().map(Vec::len).min().unwrap_or(0),
                    gate: if name.is_empty() {
                        AhoCorasickBuilder::new()
                            .match_kind(MatchKind::Standard)
                            .ascii_case_insensitive(true)
                            .build(&pats)
                            .ok()
                    } else {
                        None
                    },
                    name,
                    ac,
                    base: pattern_count,
                    rules: rule_lists,
                });
                pattern_count += pats.len();
            }
            Err(_) => {
                // Cannot build (too large): evaluate these rules without prefilter.
                for (_, g) in out_groups.iter_mut() {
                    for l in &rule_lists {
                        g.always.extend(l.iter().copied());
                    }
                }
            }
        }
    }
    for ((members, g), fields) in out_groups.iter_mut().zip(group_fields) {
        g.fields = fields
            .iter()
            .filter_map(|f| prefilter.iter().position(|p| p.name == *f))
            .collect();
        // Only this group's rules belong in its always-list.
        g.always.retain(|r| members.contains(r));
        g.always.sort_unstable();
        g.always.dedup();
    }
    (out_groups, prefilter, pattern_count)
}
