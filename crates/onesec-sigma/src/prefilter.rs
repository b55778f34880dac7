//! Single-event matching: log-source groups, the per-field literal prefilter automata, and
//! the per-event pass that selects and evaluates the candidate detection rules.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::ctx::Ctx;
use crate::pattern::fold;
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
}

impl PfField {
    /// Marks the rules whose literals occur in the value.
    fn scan(
        &self,
        v: &FieldValue<'_>,
        epoch: u32,
        pat_seen: &mut [u32],
        cand: &mut [u32],
        out: &mut Vec<usize>,
    ) {
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
                    self.scan(x, epoch, pat_seen, cand, out);
                }
                return;
            }
        };
        self.scan_str(text, epoch, pat_seen, cand, out);
    }

    /// Marks the rules whose literals occur in `text`.
    fn scan_str(
        &self,
        text: &str,
        epoch: u32,
        pat_seen: &mut [u32],
        cand: &mut [u32],
        out: &mut Vec<usize>,
    ) {
        let folded = fold(text);
        for m in self.ac.find_overlapping_iter(folded.as_bytes()) {
            let p = m.pattern().as_usize();
            let seen = &mut pat_seen[self.base + p];
            if *seen == epoch {
                continue;
            }
            *seen = epoch;
            for &r in &self.rules[p] {
                if cand[r] != epoch {
                    cand[r] = epoch;
                    out.push(r);
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
    /// One prefilter automaton per field, over all groups.
    prefilter: Vec<PfField>,
    /// Log-source group of each detection rule.
    rule_group: Vec<usize>,
    /// Per event: which groups apply, which prefilter fields to scan (epoch marks).
    group_on: Vec<u32>,
    field_on: Vec<u32>,
    /// Interned field slots for the per-event field cache.
    slots: usize,
    epoch: u32,
    cand: Vec<u32>,
    pat_seen: Vec<u32>,
}

impl Matcher {
    /// Interns the rules' field names (each distinct field is looked up once per event) and
    /// builds the log-source groups and prefilter automata over the detection rules.
    pub(crate) fn new(rules: &mut [Rule]) -> Matcher {
        let mut slot_ids: HashMap<String, usize> = HashMap::new();
        for r in rules.iter_mut() {
            if let Body::Detection { detection, filters } = &mut r.body {
                let dets = std::iter::once(detection).chain(filters.iter_mut().map(Arc::make_mut));
                for d in dets {
                    for m in d.field_matchers_mut() {
                        if let Some(f) = m.field() {
                            let next = slot_ids.len();
                            m.slot = *slot_ids.entry(f.to_string()).or_insert(next);
                        }
                    }
                }
            }
        }
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
        let (ls_groups, prefilter, pattern_count) = build_prefilter(rules, ls_groups, &slot_ids);
        let mut rule_group = vec![usize::MAX; n];
        for (gi, (members, _)) in ls_groups.iter().enumerate() {
            for &r in members {
                rule_group[r] = gi;
            }
        }
        let ls_groups: Vec<LsGroup> = ls_groups.into_iter().map(|(_, g)| g).collect();
        Matcher {
            ls_state: vec![0; ls_pairs.len()],
            ls_pairs,
            scratch_candidates: Vec::new(),
            group_on: vec![0; ls_groups.len()],
            ls_groups,
            field_on: vec![0; prefilter.len()],
            prefilter,
            rule_group,
            slots: slot_ids.len(),
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
        let ctx = Ctx::new(rec, self.slots);
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.cand.iter_mut().for_each(|c| *c = 0);
            self.pat_seen.iter_mut().for_each(|c| *c = 0);
            self.epoch = 1;
        }
        let epoch = self.epoch;
        if self.epoch == 1 {
            self.group_on.iter_mut().for_each(|c| *c = 0);
            self.field_on.iter_mut().for_each(|c| *c = 0);
        }
        let mut candidates = std::mem::take(&mut self.scratch_candidates);
        candidates.clear();
        // Which groups apply, and which fields their prefilters need.
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
            if !ok {
                continue;
            }
            self.group_on[gi] = epoch;
            for &f in &g.fields {
                self.field_on[f] = epoch;
            }
            for &r in &g.always {
                if rules[r].matches_ctx(&ctx) == Some(true) {
                    matched.push(r);
                }
            }
        }
        // Each needed field scanned once; candidates are rules whose literals occur.
        for (fi, pf) in self.prefilter.iter().enumerate() {
            if self.field_on[fi] != epoch {
                continue;
            }
            if pf.name.is_empty() {
                // Keyword literals: every string value of the record.
                rec.any_value(&mut |s| {
                    pf.scan_str(
                        s,
                        epoch,
                        &mut self.pat_seen,
                        &mut self.cand,
                        &mut candidates,
                    );
                    false
                });
                continue;
            }
            ctx.with_field(pf.slot, &pf.name, |v| {
                if let Some(v) = v {
                    pf.scan(
                        v,
                        epoch,
                        &mut self.pat_seen,
                        &mut self.cand,
                        &mut candidates,
                    );
                }
            });
        }
        for &r in &candidates {
            if self.group_on.get(self.rule_group[r]) == Some(&epoch)
                && rules[r].matches_ctx(&ctx) == Some(true)
            {
                matched.push(r);
            }
        }
        self.scratch_candidates = candidates;
        matched.sort_unstable();
    }
}

/// Builds the log-source groups and the per-field prefilter automata.
#[allow(clippy::type_complexity)]
fn build_prefilter(
    rules: &[Rule],
    groups: Vec<(Vec<usize>, Vec<usize>)>,
    slot_ids: &HashMap<String, usize>,
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
                    for (field, needle) in n {
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
        let built = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&pats);
        match built {
            Ok(ac) => {
                prefilter.push(PfField {
                    slot: slot_ids.get(&name).copied().unwrap_or(usize::MAX),
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
