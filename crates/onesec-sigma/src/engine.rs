//! The engine: matches records against the rule set and keeps the correlation state.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::correlation::{Algo, CorrelationType, Parts, Threshold, find_matches};
use crate::groups::{
    AlertEvents, AlertId, Entry, EntryExtra, Events, GroupMore, Groups, LiveAlert, More,
    before_front_removal,
};
use crate::hash::StableHash;
use crate::meta::{Level, LogSource};
use crate::prefilter::Matcher;
use crate::record::{FieldValue, Record};
use crate::ruleset::{Body, Rule, RuleSet};

mod snapshot;
pub use snapshot::SnapshotError;

/// Engine settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// How far (event time) behind the newest event seen an event may be and still take part
    /// in correlations. Default 24 h (a day of files may be replayed in any order).
    pub allowed_lateness_ms: i64,
    /// Most entries kept per correlation rule and group (oldest evicted beyond). Default 4096.
    pub max_group_entries: usize,
    /// Most groups kept per correlation rule (least recently touched evicted). Default 100 000.
    pub max_groups_per_rule: usize,
    /// A source whose newest event arrived (arrival time, see [`Engine::process_from`]) this
    /// long before the newest arrival of any source is idle and stops holding the watermark
    /// back. Default 5 minutes.
    pub source_idle_ms: i64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            allowed_lateness_ms: 24 * 3_600_000,
            max_group_entries: 4096,
            max_groups_per_rule: 100_000,
            source_idle_ms: 5 * 60_000,
        }
    }
}

/// Counters of the engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Records processed.
    pub events: u64,
    /// Detection rule matches (before `generate` suppression).
    pub detection_matches: u64,
    /// `Output::Fired` emitted.
    pub fired: u64,
    /// `Output::Updated` emitted.
    pub updated: u64,
    /// `Output::Withdrawn` emitted.
    pub withdrawn: u64,
    /// Occurrences buffered by correlation rules.
    pub correlation_inputs: u64,
    /// Correlation inputs older than the lateness horizon (still matched by single-event rules).
    pub late_dropped: u64,
    /// Buffer entries evicted because a group exceeded `max_group_entries`.
    pub buffer_evicted: u64,
    /// Groups evicted because a rule exceeded `max_groups_per_rule`.
    pub groups_evicted: u64,
    /// Inputs of `value_sum` / `value_avg` whose field was missing or not a number (skipped).
    pub non_numeric_skipped: u64,
    /// Correlation groups currently held.
    pub open_groups: u64,
    /// Correlation buffer entries currently held.
    pub buffered_entries: u64,
    /// The watermark, if any: the smallest newest event time over the active sources, never
    /// moving back (with a single source, the newest event time seen).
    pub max_time_ms: Option<i64>,
    /// Newest event time seen from any source.
    pub newest_time_ms: Option<i64>,
    /// Sources the engine keeps a watermark for (active or idle, until swept).
    pub sources: u64,
}

/// Whether an alert comes from a single event or a correlation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// A single-event detection rule.
    Single,
    /// A correlation rule of this type.
    Correlation(CorrelationType),
}

/// A detection result.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Stable id: derived from rule id, group key and first event id (or rule id + event id).
    pub id: String,
    /// The rule's `id` (else its `name`, else its title).
    pub rule_id: String,
    /// The rule's `name`.
    pub rule_name: Option<String>,
    /// The rule's title.
    pub title: String,
    /// The rule's level (medium when it states none).
    pub level: Level,
    /// The rule's tags.
    pub tags: Vec<String>,
    /// The rule's description.
    pub description: Option<String>,
    /// The rule's author (the Detection Rule License requires attribution).
    pub author: Option<String>,
    /// Group-by field → value (empty for single-event rules).
    pub group: Vec<(String, String)>,
    /// The events that made it, in event-time order.
    pub event_ids: Vec<u64>,
    /// Time of the first event (ms since the epoch).
    pub first_time_ms: i64,
    /// Time of the last event (ms since the epoch).
    pub last_time_ms: i64,
    /// Log sources of every base rule involved, including negated (absent) ones.
    pub logsources: Vec<LogSource>,
    /// Single or correlation.
    pub kind: AlertKind,
}

/// What `process` reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// A new alert.
    Fired(Alert),
    /// An alert that gained (or lost) events; same id.
    Updated(Alert),
    /// An alert that no longer holds (e.g. a late event contradicted an absence).
    Withdrawn {
        /// Id of the withdrawn alert.
        alert_id: String,
    },
}

/// Static alert attributes of a rule.
#[derive(Clone, Debug)]
struct Template {
    rule_id: String,
    rule_name: Option<String>,
    title: String,
    level: Level,
    tags: Vec<String>,
    description: Option<String>,
    author: Option<String>,
    logsources: Vec<LogSource>,
    kind: AlertKind,
}

impl Template {
    fn alert(&self, id: String, group: &[(String, String)], events: &[(i64, u64)]) -> Alert {
        Alert {
            id,
            rule_id: self.rule_id.clone(),
            rule_name: self.rule_name.clone(),
            title: self.title.clone(),
            level: self.level,
            tags: self.tags.clone(),
            description: self.description.clone(),
            author: self.author.clone(),
            group: group.to_vec(),
            event_ids: events.iter().map(|e| e.1).collect(),
            first_time_ms: events.first().map_or(0, |e| e.0),
            last_time_ms: events.last().map_or(0, |e| e.0),
            logsources: self.logsources.clone(),
            kind: self.kind,
        }
    }
}

/// A correlation alert as the engine tracks it (also what chained rules receive).
#[derive(Clone, Debug)]
struct AlertState {
    id: Arc<str>,
    /// (time, event id), time-sorted, unique ids.
    events: Arc<Vec<(i64, u64)>>,
    /// When the correlation first held (end of its earliest match): the time chained rules use.
    trigger: i64,
    group: Arc<Vec<(String, String)>>,
}

/// A change of a correlation's alerts.
enum Change {
    Fired(AlertState),
    Updated {
        state: AlertState,
        events_changed: bool,
    },
    Withdrawn(Arc<str>),
}

/// A group-by (or counted) field as seen through each member (aliases applied).
#[derive(Clone, Debug)]
struct FieldSpec {
    name: String,
    per_member: Vec<String>,
}

/// Runtime of one correlation rule.
#[derive(Debug)]
struct Corr {
    rule: usize,
    algo: Algo,
    span: i64,
    by_event: bool,
    group_by: Vec<FieldSpec>,
    value_field: Option<FieldSpec>,
    /// The field must be a number (`value_sum`, `value_avg`).
    numeric: bool,
    /// Decided on fixed windows once they close (`Algo::Closed`).
    closes: bool,
    /// Fixed windows ending at or before this time are closed (monotone).
    closed_before: i64,
    /// While the watermark's advance is being decided: `closed_before` before it (deadlines
    /// from here on are decided now, even past the horizon); else equal to `closed_before`.
    decided_from: i64,
    /// (window end, group key) of windows not yet closed, so that they are decided when the
    /// watermark passes them even if their group receives nothing more.
    pending: BTreeSet<(i64, String)>,
    emit: bool,
    /// Correlations fed by this one: (slot, member index there).
    feeds: Vec<(usize, usize)>,
    /// Group key → state, compactly (see `groups.rs`). Nothing observable depends on the
    /// table's order (eviction breaks ties by key).
    groups: Groups,
    /// A group's entries, decoded while it is worked on (reused).
    scratch: Vec<Entry>,
    /// Chained input alert id -> group key where its entry sits.
    chained_group: HashMap<Arc<str>, String>,
}

/// A chained or direct input to a correlation.
enum Input<'a> {
    Event { time: i64, id: u64 },
    Alert(&'a AlertState),
    Withdraw(&'a str),
}

/// The detection engine. See the crate docs for the semantics.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<Rule>,
    cfg: EngineConfig,
    templates: Vec<Template>,
    emit: Vec<bool>,
    /// Per rule: correlations it feeds (slot, member).
    feeds: Vec<Vec<(usize, usize)>>,
    /// Single-event matching (log-source groups, prefilter automata, per-event marks).
    matcher: Matcher,
    corrs: Vec<Corr>,
    /// The watermark: min over active sources of their newest event time, monotone.
    max_time: Option<i64>,
    /// Newest event time of any source.
    newest: Option<i64>,
    /// Per-source newest event time and arrival.
    sources: Sources,
    next_sweep: i64,
    /// Event time between two sweeps (see [`sweep_interval`]).
    sweep_every_ms: i64,
    stats: EngineStats,
    /// The detection rules the current event matched (reused buffer).
    scratch: Vec<usize>,
    /// Correlation group key being built, its values, and where they end (reused buffers).
    key_buf: String,
    key_raw: String,
    key_cuts: Vec<usize>,
    /// Fingerprint of the compiled rule set for snapshots, computed on first use (it walks
    /// every compiled rule).
    fingerprint: std::sync::OnceLock<[u8; 16]>,
}

fn collect_logsources(rules: &[Rule], r: usize, out: &mut Vec<LogSource>, depth: usize) {
    if depth > 64 {
        return;
    }
    match &rules[r].body {
        Body::Correlation { members, .. } => {
            for &m in members {
                collect_logsources(rules, m, out, depth + 1);
            }
        }
        _ => {
            let ls = &rules[r].meta.logsource;
            if !out.contains(ls) {
                out.push(ls.clone());
            }
        }
    }
}

fn field_spec(name: &str, spec: &crate::correlation::CorrelationSpec) -> FieldSpec {
    let per_member = spec
        .rules
        .iter()
        .map(|r| {
            spec.aliases
                .get(name)
                .and_then(|m| m.get(r))
                .cloned()
                .unwrap_or_else(|| name.to_string())
        })
        .collect();
    FieldSpec {
        name: name.to_string(),
        per_member,
    }
}

impl Engine {
    /// Builds an engine over a rule set.
    pub fn new(rules: RuleSet, cfg: EngineConfig) -> Engine {
        let mut rules: Vec<Rule> = rules.rules().to_vec();
        let matcher = Matcher::new(&mut rules);
        let n = rules.len();
        let mut slot_of = vec![usize::MAX; n];
        let mut corrs = Vec::new();
        let mut referenced = vec![false; n];
        let mut generate = vec![false; n];
        for (i, r) in rules.iter().enumerate() {
            if let Body::Correlation { spec, members } = &r.body {
                slot_of[i] = corrs.len();
                for &m in members {
                    referenced[m] = true;
                    if spec.generate {
                        generate[m] = true;
                    }
                }
                corrs.push(Corr {
                    rule: i,
                    algo: spec.algo.clone(),
                    span: spec.timespan_ms,
                    by_event: !matches!(
                        spec.kind,
                        CorrelationType::Temporal | CorrelationType::TemporalOrdered
                    ),
                    group_by: spec.group_by.iter().map(|g| field_spec(g, spec)).collect(),
                    value_field: spec.value_field.as_deref().map(|f| field_spec(f, spec)),
                    numeric: matches!(
                        spec.kind,
                        CorrelationType::ValueSum | CorrelationType::ValueAvg
                    ),
                    closes: spec.algo.closes(),
                    closed_before: i64::MIN,
                    decided_from: i64::MIN,
                    pending: BTreeSet::new(),
                    emit: true,
                    feeds: Vec::new(),
                    groups: Groups::new(members.len()),
                    scratch: Vec::new(),
                    chained_group: HashMap::new(),
                });
            }
        }
        let emit: Vec<bool> = (0..n).map(|i| !referenced[i] || generate[i]).collect();
        let mut feeds = vec![Vec::new(); n];
        for (slot, c) in corrs.iter_mut().enumerate() {
            c.emit = emit[c.rule];
            if let Body::Correlation { members, .. } = &rules[c.rule].body {
                for (mi, &m) in members.iter().enumerate() {
                    feeds[m].push((slot, mi));
                }
            }
        }
        for c in corrs.iter_mut() {
            c.feeds = feeds[c.rule].clone();
        }
        let templates = rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut logsources = Vec::new();
                collect_logsources(&rules, i, &mut logsources, 0);
                Template {
                    rule_id: r.meta.key().to_string(),
                    rule_name: r.meta.name.clone(),
                    title: r.meta.title.clone(),
                    level: r.meta.level.unwrap_or(Level::Medium),
                    tags: r.meta.tags.clone(),
                    description: r.meta.description.clone(),
                    author: r.meta.author.clone(),
                    logsources,
                    kind: match &r.body {
                        Body::Correlation { spec, .. } => AlertKind::Correlation(spec.kind),
                        _ => AlertKind::Single,
                    },
                }
            })
            .collect();
        let sweep_every_ms = sweep_interval(&cfg, &corrs);
        Engine {
            rules,
            cfg,
            templates,
            emit,
            feeds,
            matcher,
            corrs,
            max_time: None,
            newest: None,
            sources: Sources::default(),
            next_sweep: i64::MIN,
            sweep_every_ms,
            stats: EngineStats::default(),
            scratch: Vec::new(),
            key_buf: String::new(),
            key_raw: String::new(),
            key_cuts: Vec::new(),
            fingerprint: std::sync::OnceLock::new(),
        }
    }

    /// The rules the engine runs.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Counters (and the current watermark).
    pub fn stats(&self) -> EngineStats {
        let mut s = self.stats;
        for c in &self.corrs {
            s.open_groups += c.groups.len() as u64;
            s.buffered_entries += c
                .groups
                .live()
                .map(|g| c.groups.entry_count(g) as u64)
                .sum::<u64>();
        }
        s.max_time_ms = self.max_time;
        s.newest_time_ms = self.newest;
        s.sources = self.sources.list.len() as u64;
        s
    }

    /// The watermark (see [`EngineStats::max_time_ms`]), if any event was seen.
    pub fn watermark(&self) -> Option<i64> {
        self.max_time
    }

    /// Whether an event of time `time_ms` is beyond the allowed lateness behind the watermark
    /// now (it would still run through single-event rules, but not take part in correlations
    /// that end before it).
    pub fn is_late(&self, time_ms: i64) -> bool {
        self.max_time
            .is_some_and(|w| time_ms < w.saturating_sub(self.cfg.allowed_lateness_ms))
    }

    /// Matches one event (`event_id` = its journal sequence) and returns the alerts fired,
    /// updated or withdrawn.
    pub fn process<R: Record + ?Sized>(&mut self, event_id: u64, record: &R) -> Vec<Output> {
        let mut out = Vec::new();
        self.process_into(event_id, record, &mut out);
        out
    }

    /// Like [`Engine::process`], appending to `out` (which can be reused across calls; the
    /// per-event field cache is the only allocation when nothing matches).
    pub fn process_into<R: Record + ?Sized>(
        &mut self,
        event_id: u64,
        record: &R,
        out: &mut Vec<Output>,
    ) {
        self.process_from_into("", 0, event_id, record, out);
    }

    /// Like [`Engine::process`] for an event of `source` that arrived at `arrival_ms` (wall
    /// time when it was received, from the input, so that a replay decides the same): the
    /// watermark is the smallest newest event time over the sources that are not idle (see
    /// [`EngineConfig::source_idle_ms`]), so a source whose clock runs ahead does not make the
    /// events of the others late. [`Engine::process`] puts every event in one source.
    pub fn process_from<R: Record + ?Sized>(
        &mut self,
        source: &str,
        arrival_ms: i64,
        event_id: u64,
        record: &R,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        self.process_from_into(source, arrival_ms, event_id, record, &mut out);
        out
    }

    /// Like [`Engine::process_from`], appending to `out`.
    pub fn process_from_into<R: Record + ?Sized>(
        &mut self,
        source: &str,
        arrival_ms: i64,
        event_id: u64,
        record: &R,
        out: &mut Vec<Output>,
    ) {
        let rec: &dyn Record = &record;
        self.stats.events += 1;
        let time = rec.time_ms();
        self.observe(source, arrival_ms, time);
        // Windows this event's time closed are decided before the event itself is matched.
        self.close_due(out);

        let mut matched = std::mem::take(&mut self.scratch);
        self.matcher.matching(&self.rules, rec, &mut matched);
        for &r in &matched {
            self.stats.detection_matches += 1;
            if self.emit[r] {
                let id = StableHash::new()
                    .str("single")
                    .str(&self.templates[r].rule_id)
                    .u64(event_id)
                    .hex();
                self.stats.fired += 1;
                out.push(Output::Fired(self.templates[r].alert(
                    id,
                    &[],
                    &[(time, event_id)],
                )));
            }
            for fi in 0..self.feeds[r].len() {
                let (slot, member) = self.feeds[r][fi];
                self.feed(slot, member, Input::Event { time, id: event_id }, rec, out);
            }
        }
        self.scratch = matched;

        if let Some(m) = self.max_time
            && m >= self.next_sweep
        {
            self.sweep();
            self.next_sweep = m.saturating_add(self.sweep_every_ms);
        }
    }

    /// Takes an event's time into its source's clock and moves the watermark (never back) to
    /// the smallest newest time over the active sources.
    fn observe(&mut self, source: &str, arrival_ms: i64, time: i64) {
        self.newest = Some(self.newest.map_or(time, |m| m.max(time)));
        let held = self
            .sources
            .observe(source, arrival_ms, time, self.cfg.source_idle_ms);
        self.max_time = Some(self.max_time.map_or(held, |m| m.max(held)));
    }

    /// The event time before which correlation `c` no longer accepts inputs.
    fn horizon(&self, span: i64) -> i64 {
        match self.max_time {
            Some(m) => m
                .saturating_sub(self.cfg.allowed_lateness_ms)
                .saturating_sub(span),
            None => i64::MIN,
        }
    }

    /// Evicts old state everywhere (entries, finished alerts, empty groups).
    fn sweep(&mut self) {
        self.sources.forget_idle(self.cfg.source_idle_ms);
        for ci in 0..self.corrs.len() {
            let span = self.corrs[ci].span;
            let horizon = self.horizon(span);
            let evict_before = evict_before(&self.corrs[ci], horizon);
            let c = &mut self.corrs[ci];
            let live: Vec<u32> = c.groups.live().collect();
            for g in live {
                if c.groups.oldest_time(g).is_some_and(|t| t < evict_before) {
                    c.groups.load(g, &mut c.scratch);
                    let k = evict_count(&c.scratch, evict_before);
                    if let Some(more) = c.groups.more_mut(g) {
                        more.before_front_removal(&c.scratch, k);
                    }
                    drop_front(&mut c.scratch, k);
                    c.groups.store(g, &mut c.scratch);
                }
                c.groups.with_more(g, |_, more| more.retain_alerts(horizon));
                if c.groups.entry_count(g) == 0 && c.groups.more(g).alerts().is_empty() {
                    c.groups.remove(g);
                }
            }
            c.groups.shrink_if_sparse();
            let groups = &c.groups;
            c.chained_group
                .retain(|_, k| groups.find(k.as_str()).is_some());
        }
    }

    /// Decides the fixed windows the watermark has closed (`lt`, `lte`, ranges, averages,
    /// shares): a window `[kT, (k+1)T)` is closed once `(k+1)T <= max_time - allowed_lateness`,
    /// i.e. when no event within the allowed lateness can fall into it any more.
    fn close_due(&mut self, out: &mut Vec<Output>) {
        let Some(max) = self.max_time else { return };
        let bound = max.saturating_sub(self.cfg.allowed_lateness_ms);
        for slot in 0..self.corrs.len() {
            if self.corrs[slot].closes {
                let c = &mut self.corrs[slot];
                c.decided_from = c.closed_before;
                c.closed_before = c.closed_before.max(bound);
                self.decide_closed(slot, out);
                let c = &mut self.corrs[slot];
                c.decided_from = c.closed_before;
            }
        }
    }

    /// Moves the watermark to `time_ms` without an event (never back) and decides the fixed
    /// windows that closes. A partitioned deployment needs it: a partition that receives few
    /// events would otherwise never close its windows, while the input as a whole moved on.
    pub fn advance_watermark(&mut self, time_ms: i64) -> Vec<Output> {
        let mut out = Vec::new();
        self.max_time = Some(self.max_time.map_or(time_ms, |m| m.max(time_ms)));
        self.close_due(&mut out);
        out
    }

    /// Declares the input complete up to the newest event seen: every fixed window holding an
    /// event is closed and decided now (for `onesec rules test`, tests, the end of a replay).
    /// Later events are still processed; one that falls into a window closed here revises
    /// that window's alert (`Updated` / `Withdrawn`).
    pub fn flush(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        let Some(max) = self.newest else {
            return out;
        };
        for slot in 0..self.corrs.len() {
            if self.corrs[slot].closes {
                let c = &mut self.corrs[slot];
                c.decided_from = c.closed_before;
                c.closed_before = c.closed_before.max(c.algo.flush_bound(max, c.span));
                self.decide_closed(slot, &mut out);
                let c = &mut self.corrs[slot];
                c.decided_from = c.closed_before;
            }
        }
        out
    }

    /// Recomputes the groups of correlation `slot` that have a window closed by now.
    fn decide_closed(&mut self, slot: usize, out: &mut Vec<Output>) {
        let c = &mut self.corrs[slot];
        let mut keys = Vec::new();
        while let Some(first) = c.pending.first() {
            if first.0 > c.closed_before {
                break;
            }
            if let Some((_, key)) = c.pending.pop_first()
                && keys.last() != Some(&key)
            {
                keys.push(key);
            }
        }
        keys.sort_unstable();
        keys.dedup();
        let horizon = self.horizon(self.corrs[slot].span);
        let rule_key = self.templates[self.corrs[slot].rule].rule_id.clone();
        let mut changes = Vec::new();
        for key in keys {
            changes.extend(recompute(&mut self.corrs[slot], &key, horizon, &rule_key));
        }
        // No event is being processed: chained correlations take group values from the
        // inner alert only.
        self.emit_changes(slot, changes, &NoFields, out);
    }

    fn feed(
        &mut self,
        slot: usize,
        member: usize,
        input: Input<'_>,
        rec: &dyn Record,
        out: &mut Vec<Output>,
    ) {
        let horizon = self.horizon(self.corrs[slot].span);
        let c = &mut self.corrs[slot];
        let mut cx = InsertCtx {
            stats: &mut self.stats,
            cfg: &self.cfg,
            key: &mut self.key_buf,
            raw: &mut self.key_raw,
            cuts: &mut self.key_cuts,
            horizon,
            rule_key: &self.templates[c.rule].rule_id,
        };
        let changes = match input {
            Input::Withdraw(id) => {
                let mut changes = Vec::new();
                if let Some(key) = c.chained_group.remove(id) {
                    remove_chained_entry(c, &key, id);
                    changes.extend(recompute(c, &key, horizon, cx.rule_key));
                }
                changes
            }
            Input::Event { time, id } => insert(c, &mut cx, member, (time, id), None, rec),
            Input::Alert(st) => {
                let tie = st.events.first().map_or(0, |e| e.1);
                insert(c, &mut cx, member, (st.trigger, tie), Some(st), rec)
            }
        };
        self.emit_changes(slot, changes, rec, out);
    }

    /// Reports a correlation's changes (when it emits) and feeds them to the correlations
    /// that reference it.
    fn emit_changes(
        &mut self,
        slot: usize,
        changes: Vec<Change>,
        rec: &dyn Record,
        out: &mut Vec<Output>,
    ) {
        if changes.is_empty() {
            return;
        }
        let emit = self.corrs[slot].emit;
        let rule = self.corrs[slot].rule;
        for ch in changes {
            if emit {
                self.report(rule, &ch, out);
            }
            for fi in 0..self.corrs[slot].feeds.len() {
                let (s2, m2) = self.corrs[slot].feeds[fi];
                match &ch {
                    Change::Fired(st) | Change::Updated { state: st, .. } => {
                        self.feed(s2, m2, Input::Alert(st), rec, out)
                    }
                    Change::Withdrawn(id) => self.feed(s2, m2, Input::Withdraw(id), rec, out),
                }
            }
        }
    }

    /// One change as an output of rule `rule`.
    fn report(&mut self, rule: usize, ch: &Change, out: &mut Vec<Output>) {
        match ch {
            Change::Fired(st) => {
                self.stats.fired += 1;
                out.push(Output::Fired(self.templates[rule].alert(
                    st.id.to_string(),
                    &st.group,
                    &st.events,
                )));
            }
            Change::Updated {
                state,
                events_changed: true,
            } => {
                self.stats.updated += 1;
                out.push(Output::Updated(self.templates[rule].alert(
                    state.id.to_string(),
                    &state.group,
                    &state.events,
                )));
            }
            Change::Updated { .. } => {}
            Change::Withdrawn(id) => {
                self.stats.withdrawn += 1;
                out.push(Output::Withdrawn {
                    alert_id: id.to_string(),
                });
            }
        }
    }
}

/// How often (in event time) the engine sweeps every group for expired state. Each sweep
/// visits every group, so it should not run much more often than state can expire: nothing
/// expires before the allowed lateness plus a timespan has passed. A sixteenth of that, but at
/// least a minute and at most an hour. Groups that receive inputs are trimmed on insert anyway.
fn sweep_interval(cfg: &EngineConfig, corrs: &[Corr]) -> i64 {
    const MINUTE: i64 = 60_000;
    let shortest_span = corrs.iter().map(|c| c.span).min().unwrap_or(0);
    (cfg.allowed_lateness_ms.max(0).saturating_add(shortest_span) / 16).clamp(MINUTE, 60 * MINUTE)
}

/// The newest event time and arrival of each source.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Sources {
    /// (source, newest event time, newest arrival), in order of first appearance.
    pub(crate) list: Vec<(String, i64, i64)>,
    /// Source → index in `list`.
    index: HashMap<String, usize>,
    /// The source of the previous event (most events come in runs from one source).
    last: usize,
    /// Newest arrival of any source.
    pub(crate) newest_arrival: i64,
}

impl Sources {
    pub(crate) fn new(list: Vec<(String, i64, i64)>, newest_arrival: i64) -> Sources {
        let index = list
            .iter()
            .enumerate()
            .map(|(i, (k, _, _))| (k.clone(), i))
            .collect();
        Sources {
            list,
            index,
            last: 0,
            newest_arrival,
        }
    }

    /// Records an event; returns the smallest newest event time over the active sources.
    fn observe(&mut self, source: &str, arrival: i64, time: i64, idle_ms: i64) -> i64 {
        let i = match self.list.get(self.last) {
            Some((k, _, _)) if k == source => self.last,
            _ => match self.index.get(source) {
                Some(&i) => i,
                None => {
                    self.list.push((source.to_string(), time, arrival));
                    self.index.insert(source.to_string(), self.list.len() - 1);
                    self.list.len() - 1
                }
            },
        };
        self.last = i;
        let entry = &mut self.list[i];
        entry.1 = entry.1.max(time);
        entry.2 = entry.2.max(arrival);
        self.newest_arrival = self.newest_arrival.max(arrival);
        if self.list.len() == 1 {
            return self.list[0].1;
        }
        let since = self.newest_arrival.saturating_sub(idle_ms);
        self.list
            .iter()
            .filter(|(_, _, a)| *a >= since)
            .map(|(_, t, _)| *t)
            .min()
            .unwrap_or(time)
    }

    /// Drops the idle sources (they no longer count; one that sends again starts anew).
    fn forget_idle(&mut self, idle_ms: i64) {
        let since = self.newest_arrival.saturating_sub(idle_ms);
        if self.list.iter().all(|(_, _, a)| *a >= since) {
            return;
        }
        let list = std::mem::take(&mut self.list);
        *self = Sources::new(
            list.into_iter().filter(|(_, _, a)| *a >= since).collect(),
            self.newest_arrival,
        );
    }
}

/// A record with no fields: what chained correlations see when a closing window, not an
/// event, produced the alert.
struct NoFields;

impl Record for NoFields {
    fn field(&self, _: &str) -> Option<FieldValue<'_>> {
        None
    }
    fn any_value(&self, _: &mut dyn FnMut(&str) -> bool) -> bool {
        false
    }
    fn in_logsource(&self, _: &str, _: &str) -> bool {
        false
    }
    fn time_ms(&self) -> i64 {
        0
    }
}

/// Entries older than this are evicted. Sliding windows keep two timespans before the
/// horizon; fixed windows keep every window that can still change (it was decided when it
/// closed, which always comes before it stops accepting inputs).
fn evict_before(c: &Corr, horizon: i64) -> i64 {
    evict_before_of(c.algo.fixed_windows(), c.span, horizon)
}

fn evict_before_of(fixed_windows: bool, span: i64, horizon: i64) -> i64 {
    if fixed_windows {
        horizon.div_euclid(span).saturating_mul(span)
    } else {
        horizon.saturating_sub(span.saturating_mul(2))
    }
}

/// What inserting into one correlation needs besides the correlation: the engine's counters,
/// configuration and key buffers (reused, so that an update allocates nothing).
struct InsertCtx<'a> {
    stats: &'a mut EngineStats,
    cfg: &'a EngineConfig,
    /// The group key being built (values joined by U+001F).
    key: &'a mut String,
    /// The group-by values as read, and where each ends.
    raw: &'a mut String,
    cuts: &'a mut Vec<usize>,
    horizon: i64,
    rule_key: &'a str,
}

/// Buffers one occurrence ((time, tie-break), chained alert if any) and recomputes the groups
/// it touched.
fn insert(
    c: &mut Corr,
    cx: &mut InsertCtx<'_>,
    member: usize,
    (time, tie): (i64, u64),
    inner: Option<&AlertState>,
    rec: &dyn Record,
) -> Vec<Change> {
    let mut changes = Vec::new();
    // A chained alert that changed: drop its previous entry first.
    let old_key = inner.and_then(|st| c.chained_group.remove(&st.id));
    if let (Some(k), Some(st)) = (&old_key, inner) {
        remove_chained_entry(c, k, &st.id);
    }
    let keyed = build_group_key(c, member, rec, inner, (cx.key, cx.raw, cx.cuts));
    let value = input_value(c, member, rec, inner);
    if keyed && value.is_none() && c.numeric {
        cx.stats.non_numeric_skipped += 1;
    }
    let mut recomputed = false;
    if let (true, Some((value, num))) = (keyed, value) {
        if time < cx.horizon {
            cx.stats.late_dropped += 1;
        } else {
            let extra = (inner.is_some() || value.is_some() || num != 0.0).then(|| {
                Box::new(EntryExtra {
                    alert: inner.map(|st| (st.id.clone(), st.events.clone())),
                    value,
                    num,
                })
            });
            let entry = Entry {
                time,
                tie,
                member: member as u32,
                extra,
            };
            let key = std::mem::take(cx.key);
            if let Some(st) = inner {
                c.chained_group.insert(st.id.clone(), key.clone());
            }
            if let Some(ch) = insert_entry(c, cx, &key, entry, old_key.is_some()) {
                changes.extend(ch);
                recomputed = old_key.as_deref() == Some(key.as_str());
            }
            *cx.key = key;
        }
    }
    // The group that lost the previous entry of a chained alert, if not done.
    if let Some(k) = old_key
        && !recomputed
    {
        changes.extend(recompute(c, &k, cx.horizon, cx.rule_key));
    }
    changes
}

/// Writes the group key of an input into `key` (false: a group-by field is missing, the input
/// does not take part): one field's value as it is; several fields' values joined by U+001F,
/// with U+001E and U+001F inside a value escaped by a U+001E, so that different value lists
/// never share a key. The values themselves go to `raw`, each ending where `cuts` says.
fn build_group_key(
    c: &Corr,
    member: usize,
    rec: &dyn Record,
    inner: Option<&AlertState>,
    (key, raw, cuts): (&mut String, &mut String, &mut Vec<usize>),
) -> bool {
    key.clear();
    raw.clear();
    cuts.clear();
    let several = c.group_by.len() > 1;
    if !several {
        // One field (the usual case): its value is the key; no raw copy is needed.
        return c
            .group_by
            .first()
            .is_none_or(|g| push_value(g, member, rec, inner, key));
    }
    for (i, g) in c.group_by.iter().enumerate() {
        let start = raw.len();
        if !push_value(g, member, rec, inner, raw) {
            return false;
        }
        cuts.push(raw.len());
        let value = raw.get(start..).unwrap_or_default();
        if i > 0 {
            key.push(KEY_SEPARATOR);
        }
        for ch in value.chars() {
            if ch == KEY_SEPARATOR || ch == KEY_ESCAPE {
                key.push(KEY_ESCAPE);
            }
            key.push(ch);
        }
    }
    true
}

/// Separates the values of a multi-field group key.
const KEY_SEPARATOR: char = '\u{1f}';
/// Escapes a separator (or itself) inside a value of a multi-field group key.
const KEY_ESCAPE: char = '\u{1e}';

/// The counted value of an input: text, and for numeric correlations its number
/// (None: the input does not take part).
fn input_value(
    c: &Corr,
    member: usize,
    rec: &dyn Record,
    inner: Option<&AlertState>,
) -> Option<(Option<Box<str>>, f64)> {
    let Some(f) = &c.value_field else {
        return Some((None, 0.0));
    };
    let mut text = String::new();
    if !push_value(f, member, rec, inner, &mut text) {
        return None;
    }
    if !c.numeric {
        return Some((Some(text.into_boxed_str()), 0.0));
    }
    // Non-numeric values (text, lists, booleans) are skipped, not read as 0.
    let n: f64 = text.trim().parse().ok().filter(|n: &f64| n.is_finite())?;
    Some((None, n))
}

/// The group-by values of the key just built, from the raw values and where each ends
/// (several fields only: one field's value is the key itself).
fn key_values(
    group_by: &[FieldSpec],
    raw: &str,
    cuts: &[usize],
) -> Option<Arc<Vec<(String, String)>>> {
    if group_by.len() < 2 {
        return None;
    }
    let mut start = 0;
    let values = group_by
        .iter()
        .zip(cuts)
        .map(|(f, &end)| {
            let v = raw.get(start..end).unwrap_or_default().to_string();
            start = end;
            (f.name.clone(), v)
        })
        .collect();
    Some(Arc::new(values))
}

/// Inserts an entry at its event-time position in its group (created if new), applies the
/// eviction rules and caps, and recomputes the group if the entry was new or `force` says
/// (None: a duplicate, nothing recomputed). The group is looked up once.
fn insert_entry(
    c: &mut Corr,
    cx: &mut InsertCtx<'_>,
    key: &str,
    entry: Entry,
    force: bool,
) -> Option<Vec<Change>> {
    let time = entry.time;
    if c.closes {
        c.pending
            .insert((c.algo.deadline(time, c.span), key.to_string()));
    }
    if c.groups.len() >= cx.cfg.max_groups_per_rule.max(1) && c.groups.find(key).is_none() {
        evict_stalest_groups(c, cx.stats);
    }
    let evict = evict_before(c, cx.horizon);
    let by_event = c.by_event;
    let g = c.groups.find_or_insert(key, || {
        key_values(&c.group_by, cx.raw, cx.cuts).map(|values| GroupMore {
            values: Some(values),
            ..GroupMore::default()
        })
    });
    let mut entries = std::mem::take(&mut c.scratch);
    c.groups.load(g, &mut entries);
    let pos = entries.partition_point(|e| e.cmp_key(&entry, by_event) == Ordering::Less);
    let duplicate = entries
        .get(pos)
        .is_some_and(|e| e.cmp_key(&entry, by_event) == Ordering::Equal);
    if !duplicate {
        // Alerts' ranges of entries follow the insertion and the evictions.
        if let Some(more) = c.groups.more_mut(g) {
            more.before_insert(&entries, pos);
        }
        entries.insert(pos, entry);
        cx.stats.correlation_inputs += 1;
        let old = evict_count(&entries, evict);
        let cap = cx.cfg.max_group_entries.max(1);
        let extra = (entries.len() - old).saturating_sub(cap);
        cx.stats.buffer_evicted += extra as u64;
        let k = old + extra;
        if k > 0
            && let Some(more) = c.groups.more_mut(g)
        {
            more.before_front_removal(&entries, k);
        }
        drop_front(&mut entries, k);
    } else if !force {
        c.groups.store(g, &mut entries);
        c.scratch = entries;
        return None;
    }
    let shape = Shape {
        algo: &c.algo,
        span: c.span,
        closes: c.closes,
        closed_before: c.closed_before,
        decided_from: c.decided_from,
        group_by: &c.group_by,
    };
    let changes = c.groups.with_more(g, |key, more| {
        recompute_group(&shape, &mut entries, more, key, cx.horizon, cx.rule_key)
    });
    c.groups.store(g, &mut entries);
    c.scratch = entries;
    Some(changes)
}

/// Drops the entry of chained alert `id` from group `key`.
fn remove_chained_entry(c: &mut Corr, key: &str, id: &str) {
    if let Some(g) = c.groups.find(key) {
        c.groups.load(g, &mut c.scratch);
        if let Some(more) = c.groups.more_mut(g) {
            more.copy_events(&c.scratch);
        }
        c.scratch.retain(|e| e.alert_id() != id);
        c.groups.store(g, &mut c.scratch);
    }
}

/// Entries before `evict` (the first ones: entries are time-sorted).
fn evict_count(entries: &[Entry], evict: i64) -> usize {
    entries.partition_point(|e| e.time < evict)
}

/// Drops the first `cut` entries, giving back memory a burst left behind.
fn drop_front(entries: &mut Vec<Entry>, cut: usize) {
    entries.drain(..cut);
    if entries.capacity() > 8 && entries.len() < entries.capacity() / 4 {
        entries.shrink_to(entries.len() * 2);
    }
}

/// Appends a field value of an input to `out`: from the chained alert's group when it has it,
/// else from the record being processed (false: the field is missing or null).
fn push_value(
    f: &FieldSpec,
    member: usize,
    rec: &dyn Record,
    inner: Option<&AlertState>,
    out: &mut String,
) -> bool {
    let field = f
        .per_member
        .get(member)
        .map_or(f.name.as_str(), String::as_str);
    if let Some(st) = inner
        && let Some((_, v)) = st.group.iter().find(|(k, _)| k == &f.name || k == field)
    {
        out.push_str(v);
        return true;
    }
    match rec.field(field) {
        Some(FieldValue::Str(s)) => {
            out.push_str(&s);
            true
        }
        Some(v) => v.to_text().map(|t| out.push_str(&t)).is_some(),
        None => false,
    }
}

/// Evicts the least recently touched groups of a correlation that reached its group cap: a
/// sixty-fourth of the cap at once (at least one), so that a stream of new keys at the cap costs
/// one scan per many groups instead of one per group. Ties go by key: the map's order is
/// random.
fn evict_stalest_groups(c: &mut Corr, stats: &mut EngineStats) {
    let n = (c.groups.len() / 64).max(1);
    let groups = &c.groups;
    let mut by_age: Vec<(i64, &str, u32)> = groups
        .live()
        .map(|g| (groups.newest_time(g), groups.key(g), g))
        .collect();
    if n < by_age.len() {
        by_age.select_nth_unstable(n - 1);
        by_age.truncate(n);
    }
    let victims: Vec<(u32, String)> = by_age
        .into_iter()
        .map(|(_, k, g)| (g, k.to_string()))
        .collect();
    for (g, _) in &victims {
        c.groups.remove(*g);
    }
    c.chained_group
        .retain(|_, k| !victims.iter().any(|(_, v)| v == k));
    stats.groups_evicted += victims.len() as u64;
}

/// A cluster of overlapping matches being built.
struct Cluster {
    start: i64,
    end: i64,
    trigger: i64,
    max_weight: u64,
    events: Vec<(i64, u64)>,
}

/// Recomputes the alerts of one group from its buffer and returns the changes.
fn recompute(c: &mut Corr, key: &str, horizon: i64, rule_key: &str) -> Vec<Change> {
    let Some(g) = c.groups.find(key) else {
        return Vec::new();
    };
    let shape = Shape {
        algo: &c.algo,
        span: c.span,
        closes: c.closes,
        closed_before: c.closed_before,
        decided_from: c.decided_from,
        group_by: &c.group_by,
    };
    let mut entries = std::mem::take(&mut c.scratch);
    c.groups.load(g, &mut entries);
    let changes = c.groups.with_more(g, |key, more| {
        recompute_group(&shape, &mut entries, more, key, horizon, rule_key)
    });
    c.groups.store(g, &mut entries);
    c.scratch = entries;
    changes
}

/// What recomputing a group needs of its correlation (borrowed beside the group itself).
struct Shape<'a> {
    algo: &'a Algo,
    span: i64,
    closes: bool,
    closed_before: i64,
    decided_from: i64,
    group_by: &'a [FieldSpec],
}

/// Recomputes the alerts of group `g` (key `key`) from its buffer and returns the changes.
fn recompute_group(
    c: &Shape<'_>,
    entries: &mut Vec<Entry>,
    g: &mut More,
    key: &str,
    horizon: i64,
    rule_key: &str,
) -> Vec<Change> {
    let span = c.span;
    let eq = match c.algo {
        Algo::EventCount(Threshold::Eq(n)) | Algo::ValueCount(Threshold::Eq(n)) => Some(*n),
        _ => None,
    };
    let closes = c.closes;
    let evict = evict_before_of(c.algo.fixed_windows(), span, horizon);
    let mut matches = find_matches(c.algo, entries, span, c.closed_before);
    if !closes {
        // Matches that ended before the horizon were found (and reported) earlier.
        matches.retain(|m| m.end >= horizon);
    } else if !c.algo.fixed_windows() {
        // Trailing absence: a deadline before the horizon was decided (and reported) when the
        // watermark passed it, unless that is happening now (the watermark jumped past it).
        matches.retain(|m| m.end >= horizon || m.end >= c.decided_from);
    }
    // A fixed window is found only once it closes, possibly after the horizon passed it (one
    // event far ahead): it is decided here first, and its entries and alert dropped after.
    if matches.is_empty() && g.alerts().is_empty() {
        return Vec::new();
    }
    matches.sort_by(|a, b| a.start.cmp(&b.start).then(a.end.cmp(&b.end)));

    // Cluster overlapping matches; mark the entries each cluster uses.
    let mut owner = vec![usize::MAX; entries.len()];
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut marked_upto = 0usize;
    for m in &matches {
        let extend = clusters.last().is_some_and(|c| m.start <= c.end);
        if !extend {
            clusters.push(Cluster {
                start: m.start,
                end: m.end,
                trigger: m.trigger,
                max_weight: m.weight,
                events: Vec::new(),
            });
        }
        let ci = clusters.len() - 1;
        if let Some(cl) = clusters.last_mut() {
            cl.end = cl.end.max(m.end);
            cl.trigger = cl.trigger.min(m.trigger);
            cl.max_weight = cl.max_weight.max(m.weight);
        }
        match &m.parts {
            Parts::Range(lo, hi) => {
                for o in owner.iter_mut().take(hi + 1).skip((*lo).max(marked_upto)) {
                    *o = ci;
                }
                marked_upto = marked_upto.max(hi + 1);
            }
            Parts::Chain(positions) => {
                for &p in positions {
                    owner[p] = ci;
                }
            }
        }
    }
    for (pos, e) in entries.iter().enumerate() {
        if let Some(cl) = clusters.get_mut(owner[pos]) {
            e.push_events(&mut cl.events);
        }
    }
    if let Some(n) = eq {
        clusters.retain(|c| c.max_weight == n);
    }

    // Alerts that ended before the horizon are final: forget them (no output).
    let mut old = g.take_alerts();
    if !closes {
        old.retain(|a| a.span.1 >= horizon);
    }
    let values = g.values().unwrap_or_else(|| {
        Arc::new(
            c.group_by
                .first()
                .map(|f| vec![(f.name.clone(), key.to_string())])
                .unwrap_or_default(),
        )
    });
    let mut claimed = vec![false; old.len()];
    let mut changes = Vec::new();
    let mut next: Vec<LiveAlert> = Vec::with_capacity(clusters.len());
    for mut cl in clusters {
        let idx = old
            .iter()
            .enumerate()
            .position(|(i, a)| !claimed[i] && a.span.0 <= cl.end && cl.start <= a.span.1);
        match idx {
            Some(i) => {
                claimed[i] = true;
                let a = &mut old[i];
                let old_events = a.events.to_vec(entries);
                // Events before the horizon can no longer be recomputed: keep them.
                cl.events
                    .extend(old_events.iter().filter(|e| e.0 < horizon).copied());
                normalize(&mut cl.events);
                let events_changed = old_events != cl.events;
                let changed =
                    events_changed || a.span != (cl.start, cl.end) || a.trigger != cl.trigger;
                let events = match (events_range(&cl.events, entries), &mut a.events) {
                    (Some(range), _) => range,
                    (None, Events::Copied(copy)) if !events_changed => {
                        Events::Copied(std::mem::take(copy))
                    }
                    (None, _) => Events::Copied(AlertEvents::new(&cl.events)),
                };
                let live = LiveAlert {
                    id: a.id,
                    span: (cl.start, cl.end),
                    trigger: cl.trigger,
                    events,
                };
                if changed {
                    changes.push(Change::Updated {
                        state: AlertState {
                            id: Arc::from(live.id.text()),
                            events: Arc::new(cl.events),
                            trigger: live.trigger,
                            group: values.clone(),
                        },
                        events_changed,
                    });
                }
                next.push(live);
            }
            None => {
                normalize(&mut cl.events);
                let first = cl.events.first().map_or(0, |e| e.1);
                let mut salt = 0u64;
                let id = loop {
                    let mut h = StableHash::new()
                        .str("corr")
                        .str(rule_key)
                        .str(key)
                        .u64(first);
                    if salt > 0 {
                        h = h.u64(salt);
                    }
                    let id = AlertId::new(h.raw());
                    if !old.iter().chain(next.iter()).any(|a| a.id == id) {
                        break id;
                    }
                    salt += 1;
                };
                let live = LiveAlert {
                    id,
                    span: (cl.start, cl.end),
                    trigger: cl.trigger,
                    events: events_range(&cl.events, entries)
                        .unwrap_or_else(|| Events::Copied(AlertEvents::new(&cl.events))),
                };
                changes.push(Change::Fired(AlertState {
                    id: Arc::from(id.text()),
                    events: Arc::new(cl.events),
                    trigger: live.trigger,
                    group: values.clone(),
                }));
                next.push(live);
            }
        }
    }
    for (i, a) in old.into_iter().enumerate() {
        if !claimed[i] {
            changes.push(Change::Withdrawn(Arc::from(a.id.text())));
        }
    }
    next.sort_by_key(|a| a.span);
    if closes {
        let k = evict_count(entries, evict);
        before_front_removal(&mut next, entries, k);
        drop_front(entries, k);
        next.retain(|a| a.span.1 >= horizon);
    }
    g.set_alerts(next);
    changes
}

/// `events` (time-sorted) as a range of the group's `entries`, when they are exactly the
/// events of consecutive plain entries (the usual case: no copy kept).
fn events_range(events: &[(i64, u64)], entries: &[Entry]) -> Option<Events> {
    let &first = events.first()?;
    let lo = entries.partition_point(|e| (e.time, e.tie) < first);
    Events::range_of(events, entries, lo)
}

/// Sorts events by time then id and removes duplicate ids.
fn normalize(events: &mut Vec<(i64, u64)>) {
    events.sort_unstable();
    events.dedup();
}
