//! # onesec-sigma — onesec's own Sigma detection engine
//!
//! Loads [Sigma](https://sigmahq.io) rules (specification 2.x: detection rules, correlation
//! rules 2.1, filters), compiles them once, and matches records against them. The engine does
//! not know onesec's event type: it matches anything that implements [`Record`]
//! (`serde_json::Value` and [`EvtxJson`] implementations are included for tests and replays).
//!
//! ```
//! use onesec_sigma::{Engine, EngineConfig, LoadOptions, Output, RuleSet};
//! let yaml = r"
//! title: Door forced
//! id: 6b1c7a52-0000-4000-8000-000000000001
//! author: onesec
//! logsource: {category: physical_access}
//! detection:
//!     sel: {event: door_forced}
//!     condition: sel
//! level: high
//! ";
//! let (rules, report) = RuleSet::from_yaml_str(yaml, &LoadOptions::default());
//! assert!(report.rejected.is_empty());
//! let mut engine = Engine::new(rules, EngineConfig::default());
//! let event = serde_json::json!({"event": "door_forced", "time_ms": 1000});
//! let out = engine.process(1, &event);
//! assert!(matches!(&out[..], [Output::Fired(a)] if a.event_ids == vec![1]));
//! ```
//!
//! ## Loading
//!
//! [`RuleSet::load_dir`] / [`RuleSet::load_paths`] / [`RuleSet::from_yaml_str`] return the
//! rule set and a [`LoadReport`]. A rule the engine cannot run (unknown modifier, bad regex,
//! bad condition, unresolved placeholder, unsupported correlation feature, dangling
//! reference, duplicate id, cycle) is **reported** with its file, title and reason — never
//! silently dropped. A file may hold several documents separated by `---`.
//! Unknown top-level keys are kept in [`RuleMeta::custom`].
//!
//! ## Detection rules: supported features
//!
//! * Plain values: case-insensitive equality with `*` / `?` wildcards; `\*`, `\?`, `\\` escape
//!   (a backslash before any other character is literal). `null` = field absent or null.
//!   A list of values is OR (AND with `|all`); a map is AND of its fields; a list of maps is OR.
//! * Keyword searches (a list of strings without field): case-insensitive substring search over
//!   every string value of the record ([`Record::any_value`]).
//! * Numbers: an integer in a rule compares numerically with numeric fields and as text with
//!   string fields (`EventID: 4624` matches `"4624"`, `EventID: '4624'` matches `4624`).
//! * Modifiers: `contains`, `startswith`, `endswith`, `all`, `re` (with `i`, `m`, `s`), `cidr`
//!   (v4 and v6), `exists`, `gt`, `gte`, `lt`, `lte`, `windash` (`-`, `/`, en dash, em dash,
//!   horizontal bar), `cased`, `base64`, `base64offset`, `wide`/`utf16le`, `utf16be`, `utf16`,
//!   `fieldref` (optionally with `contains`/`startswith`/`endswith`), `expand` (`%name%`
//!   placeholders from [`LoadOptions::placeholders`]; unresolved → rejected).
//!   Regular expressions use the `regex` crate (no look-around or back-references: such a rule
//!   is rejected with the compiler's message). `re` searches (unanchored), case-sensitively
//!   unless `|i`.
//! * Conditions: `and`, `or`, `not`, parentheses, `1 of x*`, `N of x*`, `all of x*`,
//!   `1 of them`, `all of them` (`them` skips identifiers starting with `_`), precedence
//!   `not` > `and` > `or`, a list of conditions = their OR. Compiled to an AST at load time.
//!   Sigma 1.x aggregations (`| count() > 5`) are rejected: use correlation rules.
//! * Filters (`filter:` documents): their condition is ANDed to the target rules (write
//!   `condition: not selection` to exclude), for targets whose log source is the filter's or
//!   narrower; `rules: any` or no `rules` targets every rule.
//! * Everything is compiled at load: folded needles, regexes, one Aho-Corasick automaton per
//!   list of more than a few `contains` needles (a single needle, or a few, is searched with
//!   `memchr` from its least common byte). ASCII values are matched without allocation;
//!   non-ASCII values are lowercased once per comparison.
//! * Per event, the [`Engine`] checks each distinct log source once ([`Record::in_logsource`]
//!   receives the rule's value ASCII-lowercased) and keeps a table of the field values it
//!   looked up, each at most once, in storage reused from event to event. A record that can
//!   list its fields ([`Record::for_each_field`]; JSON objects do) fills the table in one pass:
//!   one hash lookup per field of the record instead of one lookup in the record per field
//!   name of the rules. Only the rules that can match are evaluated: at load, every rule's
//!   condition yields (where possible) a set of literals of which a matching record must
//!   contain one (in a given field, or in any value for keywords; a regex contributes its
//!   possible match prefixes); one automaton per field over all those literals, run once over
//!   the value lowercased, selects the candidate rules. Rules without such literals (e.g.
//!   `not` only, `null`, `fieldref`, a regex that may start with anything) are always
//!   evaluated. Differential tests check that this never hides a match.
//! * Records that carry a log source get their own automata: the first record of each
//!   combination of applicable log-source groups (e.g. Windows process creation) builds a
//!   *plan* — the always-evaluated rules and prefilter automata of those groups only — that
//!   later records of the combination reuse (at most 64 plans; records that say nothing of
//!   their source use the shared automata). A record that tells a log-source token
//!   ([`Record::logsource_token`]) skips the log-source tests once its token is known.
//!   Throughput on the SigmaHQ set: `docs/benchmarks.md` ("Detection engine vs rsigma").
//!
//! ## Correlation rules
//!
//! All seven types: `event_count`, `value_count`, `value_sum`, `value_avg`,
//! `value_percentile`, `temporal`, `temporal_ordered`. `rules` reference rules by `id` or
//! `name`, including other
//! correlation rules (chaining); `group-by` (a record lacking a group-by field does not take
//! part); `timespan` (`s`, `m`, `h`, `d`, `w`); `aliases` (alias → {rule: field}) for
//! group-by and the counted field; `generate` (top level or in `correlation`): rules referenced
//! by a correlation do **not** alert on their own unless some referencing correlation says
//! `generate: true`. The same applies to correlation rules referenced by other correlations.
//!
//! ### Conditions and windows
//!
//! A `condition` mapping holds one or more of `gt`, `gte`, `lt`, `lte`, `eq`, `neq`; all must
//! hold (`gt: 100, lte: 200` is a range). Counts (`event_count`, `value_count`, `temporal`)
//! take non-negative integers; `value_sum` / `value_avg` any number; `value_percentile` a
//! percentage (0–100). `field` names the counted, summed or averaged field (one field). Two
//! kinds of window:
//!
//! * **Sliding** (decided as soon as they hold): a single `gt` / `gte` on `event_count`,
//!   `value_count`, `value_sum` and `temporal` (`temporal` with a count = that many distinct
//!   referenced rules), and `eq` on `event_count` / `value_count` (the densest window of the
//!   alert holds exactly N).
//! * **Fixed, decided when closed**: everything else — any upper bound (`lt`, `lte`), `neq`,
//!   ranges, every `value_avg` and `value_percentile`, `value_sum` with anything but a single
//!   lower bound, and `temporal` with a count other than a single lower bound. A count can only
//!   grow while its window is open, and an average or a share can move either way, so these
//!   are decided once nothing more can fall into the window. Windows are `[kT, (k+1)T)` for
//!   timespan `T`, aligned on the Unix epoch (UTC; `1d` windows are calendar days, `1w` windows
//!   start on Thursdays), per group. A window **closes** when the watermark passes its end:
//!   `(k+1)T <= max_time − allowed_lateness`, or at [`Engine::flush`] (end of input). Only
//!   windows that hold at least one event exist, so `lt` means "seen, but fewer than N"; a
//!   group that sends nothing at all is not detected (that is absence, not a count).
//!   An event that arrives later than the allowed lateness into a closed window still revises
//!   it (the alert is updated or withdrawn) while it is within the horizon below.
//!
//! `value_sum` and `value_avg` read the field as a number (integers, floats, and strings that
//! parse as one, e.g. Windows `EventData` values); an input whose value is missing, null,
//! non-numeric or a list is **skipped** — not counted as 0 — and counted in
//! [`EngineStats::non_numeric_skipped`]. `value_percentile` follows the specification's
//! example (`field: Image`, `lte: 1`: "a process name that makes up 1 % or less of the
//! processes of a computer in the timespan"): per closed window and group, the share in percent
//! of each value of `field` among the inputs that have the field; the alert holds the events
//! of every value whose share satisfies the condition (one alert per group and window). There
//! is no `percentile:` key in Sigma; one is refused with that reason.
//!
//! A sliding window is `[t, t + timespan]` (both ends included) for every buffered `t`.
//! `event_count`/`value_count`/`value_sum` hold when such a window holds enough events (values,
//! sum); `eq N` holds when the densest window of the alert holds exactly N. One event matched by
//! several referenced rules counts once. Memory per window: one compact buffer entry per
//! input (time, event id, referenced rule, and the value or number), capped as below.
//!
//! ### Extension: boolean conditions for temporal correlations
//!
//! This is the onesec reading of the Sigma 2.2 boolean-condition proposal. For `temporal` and
//! `temporal_ordered`, `condition` may be a string boolean expression over the referenced rule
//! names as written in `rules:` (`and`, `or`, `not`, parentheses):
//!
//! * `temporal`: positive only (`not` → rejected, "absence needs temporal_ordered"). Holds when,
//!   within some window of length ≤ timespan, the set of rules that occurred makes the
//!   expression true. No condition = all rules.
//! * `temporal_ordered`: a conjunction of atoms, each a rule name or `not name`; the order of
//!   `rules:` is the sequence. Positive atoms must occur in that order, first to last within the
//!   timespan. A negated atom forbids any event of that rule between its neighbouring positive
//!   atoms (strictly between them in event-time order); a **leading** negated atom forbids it in
//!   `[first − timespan, first]`; a **trailing** negated atom forbids it within the timespan
//!   after the last positive atom, `(last, last + timespan]` (the positive sequence itself must
//!   still fit the timespan). Rules not mentioned are ignored.
//!   Trailing absence is decided like a fixed window: once the watermark passes the deadline
//!   (`last + timespan < max_time − allowed_lateness`, or at [`Engine::flush`]); the alert's
//!   match then spans to the deadline (when chained, that is its time). A forbidden event that
//!   arrives later, within the lateness horizon, withdraws the alert. Example:
//!   `rules: [badge_in, badge_out]`, `condition: badge_in and not badge_out`, `timespan: 12h`
//!   = badged in and not out within 12 hours.
//!   Example: `rules: [badge_in, badge_out, remote_login]`,
//!   `condition: badge_in and not badge_out and remote_login` = remote login while badged in.
//!
//! ## Event time, arrival order and lateness
//!
//! Events may arrive in any order (whole files replayed one after another); conclusions do not
//! depend on arrival order:
//!
//! * Per correlation rule and group key the engine keeps a time-sorted buffer of matches
//!   (time, event id, which referenced rule; for chained rules the inner alert). Events are
//!   inserted at their event-time position (ties broken by event id).
//! * After every insert the group's alerts are **recomputed from the buffer** (a pure function
//!   of its content) and diffed with the alerts already reported: a match that overlaps an
//!   existing alert of the same rule and group (in time) extends it (`Output::Updated`, same
//!   id), otherwise a new alert fires (`Output::Fired`); an alert that no longer holds — e.g. a
//!   late `badge_out` inside an absence gap — is withdrawn (`Output::Withdrawn`).
//!   `temporal_ordered` matching is exact (a sweep keeping, per step, the latest valid partial
//!   chain since the last forbidden event), not greedy.
//! * Alert ids are a stable 128-bit FNV-1a hash of rule id + group key + first event id
//!   (single-event alerts: rule id + event id), so the same sequence of `process` calls gives
//!   the same ids (journal replay after a crash upserts by id). An alert keeps its id when it is
//!   extended.
//! * **Watermark and lateness**: the engine tracks, per source ([`Engine::process_from`]; one
//!   source for [`Engine::process`]), the newest event time and the newest arrival; the
//!   watermark `max_time` is the smallest newest event time over the sources whose newest
//!   arrival is within `source_idle_ms` of the newest arrival of all, and never moves back
//!   (with one source: the newest event time seen).
//!   For a correlation with timespan `T`, an input older than
//!   `max_time − allowed_lateness − T` is not buffered and is counted in
//!   [`EngineStats::late_dropped`] (the event still runs through single-event rules).
//!   Alerts that ended before that horizon are final (forgotten, never withdrawn); buffer
//!   entries older than `horizon − 2T` are evicted (for fixed windows: entries of windows that
//!   ended before the horizon, after they were decided). `allowed_lateness_ms` defaults to 24 h.
//!   Within the lateness window, results are independent of arrival order; at the horizon they
//!   are best effort. One event far in the future moves its own source's time only; if that
//!   source is the only active one, it moves the watermark for everyone: feed sane times.
//! * Caps: `max_group_entries` (default 4096, oldest evicted, counted in
//!   [`EngineStats::buffer_evicted`]) and `max_groups_per_rule` (when a new group would pass
//!   it, the least recently touched 1/64 of the rule's groups — at least one — are evicted at
//!   once, so a flood of new keys costs one scan per many groups; counted in
//!   [`EngineStats::groups_evicted`]). Under eviction, order independence is lost.
//! * **Chaining**: when a correlation alert fires or is updated it is fed, as one occurrence, to
//!   the correlations that reference it. Its time is the moment the correlation first held (the
//!   end of its earliest match) — not its last event, so that later events extending, e.g., a
//!   brute-force alert do not push it after what follows it. Its events are all the inner
//!   alert's events. Its group-by values are taken from the inner alert's group when it has the
//!   field (by group-by name or field), otherwise from the record being processed at that
//!   moment (none when a closing fixed window produced the alert). A withdrawn inner alert is
//!   removed from the outer buffers, which withdraws the outer alerts that no longer hold.
//! * Every alert carries the log sources of every base rule involved, including negated ones,
//!   and the rule's `author` (Detection Rule License attribution).
//!
//! ## Memory of the correlation state
//!
//! Per correlation rule, a group costs 48 bytes in a slab plus a 4-byte slot (and a control
//! byte) in its hash table; a key of up to 15 bytes is stored in the group, a longer one once in
//! a shared arena. The first entry of a group is stored in the group; every further entry of
//! plain events costs 6 bytes (time within 2²⁴ ms and event id within 2²³ of the group's first
//! entry), else 8 (within 2³² ms and 2³¹); one more byte when the correlation references
//! several rules; in pooled chunks of 1, 2, 4, … entries reused across groups, except that a
//! single 6-byte further entry is kept in the group itself. Entries that carry more (a chained
//! alert, a counted value for `value_count` / `value_percentile`, a number for `value_sum` /
//! `value_avg`) or do not fit those ranges make their group keep a plain vector of 32-byte
//! entries instead. Live alerts (one inline) and several group-by values sit in an 80-byte part
//! that most groups do not have, in a slab of the rule (no allocation per group); an alert's
//! events are a range of its group's entries when they can be (else a packed copy). The
//! periodic sweep rebuilds the slab, the arena and the pools when more than half of one of them
//! is dead, so memory follows the live state after a burst.
//!
//! ## Snapshot and restore
//!
//! [`Engine::snapshot`] writes the correlation state — every group with its buffered entries
//! and live alerts, the fixed windows not yet closed, chained inputs, the watermark and the
//! counters — as bytes: a versioned, documented format (magic, format version, a 128-bit
//! fingerprint of the compiled rule set, the engine settings, the state, a CRC-32C).
//! [`Engine::restore`] reads it into an engine built over the same rule set and settings; it is
//! refused with a [`SnapshotError`] (leaving the engine unchanged) when the bytes are damaged or
//! truncated, of another format version, or made for other rules or settings. A restored
//! engine fed the events that followed the snapshot gives the same outputs and alert ids as an
//! uninterrupted run. The caller keeps, with the snapshot, the journal sequence it covers, and
//! replays the journal from there after a restart.

#![warn(missing_docs)]

mod condition;
mod correlation;
mod ctx;
mod detection;
mod engine;
mod error;
mod groups;
mod hash;
mod json;
mod meta;
mod pattern;
mod prefilter;
mod record;
mod ruleset;
pub mod support;
mod value;

pub use correlation::CorrelationType;
pub use detection::SearchHit;
pub use engine::{Alert, AlertKind, Engine, EngineConfig, EngineStats, Output, SnapshotError};
pub use error::RuleError;
pub use json::{EvtxJson, parse_json_stream, parse_rfc3339_ms};
pub use meta::{Level, LogSource, Related, RuleMeta, Status};
pub use record::{FieldValue, Record};
pub use ruleset::{LoadOptions, LoadReport, LoadedRule, RejectedRule, Rule, RuleKind, RuleSet};
