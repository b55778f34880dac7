//! Engine behaviour: single-event alerts, log sources, `generate`, aliases, value_count,
//! lateness, caps.

use std::borrow::Cow;

use onesec_sigma::{
    Alert, AlertKind, Engine, EngineConfig, FieldValue, LoadOptions, Output, Record, RuleSet,
};
use serde_json::{Value, json};

fn engine(yaml: &str, cfg: EngineConfig) -> Engine {
    let (rules, report) = RuleSet::from_yaml_str(yaml, &LoadOptions::default());
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    Engine::new(rules, cfg)
}

fn fired(out: &[Output]) -> Vec<&Alert> {
    out.iter()
        .filter_map(|o| match o {
            Output::Fired(a) => Some(a),
            _ => None,
        })
        .collect()
}

const MIN: i64 = 60_000;

fn ev(t_min: i64, fields: Value) -> Value {
    let mut v = fields;
    v["time_ms"] = json!(1_772_000_000_000i64 + t_min * MIN);
    v
}

const BASE: &str = r"
title: Failed login
id: 11111111-0000-4000-8000-000000000001
name: failed
author: Someone (Somewhere)
description: a failed login
tags: [attack.t1110]
logsource: {category: authentication}
detection:
    sel: {outcome: failure}
    condition: sel
level: low
";

#[test]
fn single_event_alerts_carry_rule_attribution() {
    let mut e = engine(BASE, EngineConfig::default());
    let out = e.process(7, &ev(0, json!({"outcome": "failure"})));
    let a = fired(&out);
    assert_eq!(a.len(), 1);
    let a = a[0];
    assert_eq!(a.rule_id, "11111111-0000-4000-8000-000000000001");
    assert_eq!(a.rule_name.as_deref(), Some("failed"));
    assert_eq!(a.author.as_deref(), Some("Someone (Somewhere)"));
    assert_eq!(a.description.as_deref(), Some("a failed login"));
    assert_eq!(a.level, onesec_sigma::Level::Low);
    assert_eq!(a.event_ids, vec![7]);
    assert_eq!(a.first_time_ms, a.last_time_ms);
    assert_eq!(a.kind, AlertKind::Single);
    assert!(a.group.is_empty());
    assert_eq!(a.id.len(), 32);
    // Same rule + event id: same alert id, in another engine too.
    let mut e2 = engine(BASE, EngineConfig::default());
    let out2 = e2.process(7, &ev(5, json!({"outcome": "failure"})));
    assert_eq!(fired(&out2)[0].id, a.id);
    assert!(
        e.process(8, &ev(1, json!({"outcome": "success"})))
            .is_empty()
    );
    assert_eq!(e.stats().events, 2);
    assert_eq!(e.stats().detection_matches, 1);
}

/// A record that belongs to one log source only.
struct Doorlog {
    event: &'static str,
}

impl Record for Doorlog {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        (name == "event").then_some(FieldValue::Str(Cow::Borrowed(self.event)))
    }
    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        f(self.event)
    }
    fn in_logsource(&self, key: &str, value: &str) -> bool {
        key == "category" && value.eq_ignore_ascii_case("physical_access")
    }
    fn time_ms(&self) -> i64 {
        0
    }
}

#[test]
fn logsource_is_checked() {
    let yaml = r"
title: Door forced (physical)
logsource: {category: physical_access}
detection: {sel: {event: door_forced}, condition: sel}
---
title: Door forced (windows)
logsource: {product: windows, category: physical_access}
detection: {sel: {event: door_forced}, condition: sel}
---
title: Keyword
logsource: {category: Physical_Access}
detection: {kw: [FORCED], condition: kw}
";
    let mut e = engine(yaml, EngineConfig::default());
    let out = e.process(
        1,
        &Doorlog {
            event: "door_forced",
        },
    );
    let titles: Vec<&str> = fired(&out).iter().map(|a| a.title.as_str()).collect();
    assert_eq!(titles, vec!["Door forced (physical)", "Keyword"]);
}

#[test]
fn generate_true_keeps_base_alerts() {
    let yaml = format!(
        "{BASE}---
title: Many failures
correlation:
    type: event_count
    rules: [failed]
    group-by: [user]
    timespan: 10m
    condition: {{gte: 2}}
    generate: true
"
    );
    let mut e = engine(&yaml, EngineConfig::default());
    let o1 = e.process(1, &ev(0, json!({"outcome": "failure", "user": "u"})));
    assert_eq!(fired(&o1).len(), 1);
    assert_eq!(fired(&o1)[0].kind, AlertKind::Single);
    let o2 = e.process(2, &ev(1, json!({"outcome": "failure", "user": "u"})));
    let kinds: Vec<AlertKind> = fired(&o2).iter().map(|a| a.kind).collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&AlertKind::Single));
    // The correlation has no id or name: its title identifies it.
    assert!(fired(&o2).iter().any(|a| a.rule_id == "Many failures"));
}

#[test]
fn group_by_field_missing_does_not_take_part() {
    let yaml = format!(
        "{BASE}---
title: Many failures
correlation: {{type: event_count, rules: [failed], group-by: [user], timespan: 10m, condition: {{gte: 2}}}}
"
    );
    let mut e = engine(&yaml, EngineConfig::default());
    assert!(
        e.process(1, &ev(0, json!({"outcome": "failure"})))
            .is_empty()
    );
    assert!(
        e.process(2, &ev(1, json!({"outcome": "failure"})))
            .is_empty()
    );
    assert!(
        e.process(3, &ev(1, json!({"outcome": "failure", "user": null})))
            .is_empty()
    );
    assert_eq!(e.stats().correlation_inputs, 0);
}

#[test]
fn aliases_map_group_by_fields() {
    let yaml = r"
title: Outbound
name: outbound
logsource: {category: firewall}
detection: {sel: {direction: out}, condition: sel}
---
title: Inbound
name: inbound
logsource: {category: firewall}
detection: {sel: {direction: in}, condition: sel}
---
title: Round trip
correlation:
    type: temporal_ordered
    rules: [outbound, inbound]
    group-by: [peer]
    timespan: 1m
    aliases:
        peer:
            outbound: dst_ip
            inbound: src_ip
";
    let mut e = engine(yaml, EngineConfig::default());
    assert!(
        e.process(
            1,
            &ev(0, json!({"direction": "out", "dst_ip": "192.0.2.1"}))
        )
        .is_empty()
    );
    assert!(
        e.process(2, &ev(0, json!({"direction": "in", "src_ip": "192.0.2.2"})))
            .is_empty()
    );
    let out = e.process(3, &ev(0, json!({"direction": "in", "src_ip": "192.0.2.1"})));
    let a = fired(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].group,
        vec![("peer".to_string(), "192.0.2.1".to_string())]
    );
    assert_eq!(a[0].event_ids, vec![1, 3]);
}

#[test]
fn value_count_distinct_users() {
    let yaml = format!(
        "{BASE}---
title: Password spraying
correlation:
    type: value_count
    rules: [failed]
    group-by: [src_ip]
    timespan: 10m
    condition: {{gte: 3, field: user}}
"
    );
    let mut e = engine(&yaml, EngineConfig::default());
    let mut outs = Vec::new();
    for (i, user) in ["a", "a", "b", "a", "c"].iter().enumerate() {
        outs.extend(e.process(
            i as u64 + 1,
            &ev(
                i as i64,
                json!({"outcome": "failure", "src_ip": "192.0.2.9", "user": user}),
            ),
        ));
    }
    let a = fired(&outs);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].event_ids, vec![1, 2, 3, 4, 5]);
    assert_eq!(
        a[0].kind,
        AlertKind::Correlation(onesec_sigma::CorrelationType::ValueCount)
    );
}

#[test]
fn event_count_eq_and_gt() {
    let yaml = format!(
        "{BASE}---
title: Exactly three
correlation: {{type: event_count, rules: [failed], group-by: [user], timespan: 10m, condition: {{eq: 3}}}}
---
title: More than three
correlation: {{type: event_count, rules: [failed], group-by: [user], timespan: 10m, condition: {{gt: 3}}}}
"
    );
    let mut e = engine(&yaml, EngineConfig::default());
    let mut live = std::collections::BTreeMap::new();
    for i in 0..4 {
        for o in e.process(
            i + 1,
            &ev(i as i64, json!({"outcome": "failure", "user": "u"})),
        ) {
            match o {
                Output::Fired(a) | Output::Updated(a) => {
                    live.insert(a.id.clone(), a);
                }
                Output::Withdrawn { alert_id } => {
                    live.remove(&alert_id);
                }
            }
        }
        let titles: Vec<&str> = live.values().map(|a| a.title.as_str()).collect();
        match i {
            0 | 1 => assert!(titles.is_empty()),
            // Three events: "exactly three" holds...
            2 => assert_eq!(titles, vec!["Exactly three"]),
            // ...until a fourth one: withdrawn, and "more than three" fires.
            _ => assert_eq!(titles, vec!["More than three"]),
        }
    }
}

#[test]
fn late_events_are_counted_not_buffered() {
    let yaml = format!(
        "{BASE}---
title: Many failures
correlation: {{type: event_count, rules: [failed], group-by: [user], timespan: 10m, condition: {{gte: 2}}}}
generate: true
"
    );
    let cfg = EngineConfig {
        allowed_lateness_ms: 60 * MIN,
        ..EngineConfig::default()
    };
    let mut e = engine(&yaml, cfg);
    e.process(1, &ev(24 * 60, json!({"outcome": "failure", "user": "u"})));
    // 23 h older than the newest event: beyond lateness + timespan.
    let out = e.process(2, &ev(60, json!({"outcome": "failure", "user": "u"})));
    assert_eq!(fired(&out).len(), 1, "single-event rules still run");
    assert_eq!(fired(&out)[0].kind, AlertKind::Single);
    let s = e.stats();
    assert_eq!(s.late_dropped, 1);
    assert_eq!(s.correlation_inputs, 1);
    assert_eq!(s.max_time_ms, Some(1_772_000_000_000 + 24 * 60 * MIN));
    // Within lateness: accepted.
    let out = e.process(
        3,
        &ev(24 * 60 - 30, json!({"outcome": "failure", "user": "v"})),
    );
    assert_eq!(fired(&out).len(), 1);
    assert_eq!(e.stats().correlation_inputs, 2);
}

#[test]
fn group_buffer_is_capped() {
    let yaml = format!(
        "{BASE}---
title: Many failures
correlation: {{type: event_count, rules: [failed], group-by: [user], timespan: 1h, condition: {{gte: 1000}}}}
"
    );
    let cfg = EngineConfig {
        max_group_entries: 5,
        max_groups_per_rule: 2,
        ..EngineConfig::default()
    };
    let mut e = engine(&yaml, cfg);
    for i in 0..8 {
        e.process(
            i + 1,
            &ev(i as i64, json!({"outcome": "failure", "user": "u"})),
        );
    }
    assert_eq!(e.stats().buffer_evicted, 3);
    assert_eq!(e.stats().buffered_entries, 5);
    for (i, u) in ["v", "w"].iter().enumerate() {
        e.process(
            100 + i as u64,
            &ev(10, json!({"outcome": "failure", "user": u})),
        );
    }
    assert_eq!(e.stats().groups_evicted, 1);
    assert_eq!(e.stats().open_groups, 2);
}

#[test]
fn neq_and_time_parts_run_through_the_engine() {
    // After-hours badge use by anyone but the night guard: no literal the prefilter could
    // require, so the rule must always be evaluated.
    let yaml = r"
title: After hours
logsource: {category: physical_access}
detection:
    late:
        when|hour|gte: 20
    early:
        when|hour|lt: 6
    not_guard:
        badge|neq: [G-001, G-002]
    condition: (late or early) and not_guard
";
    let mut e = engine(yaml, EngineConfig::default());
    let at = |t: &str, badge: &str| json!({"when": t, "badge": badge, "time_ms": 1_772_000_000_000i64, "logsource": {"category": "physical_access"}});
    let hit = |e: &mut Engine, id: u64, v: Value| !fired(&e.process(id, &v)).is_empty();
    assert!(hit(&mut e, 1, at("2026-03-02T22:10:00Z", "B-123")));
    assert!(hit(&mut e, 2, at("2026-03-02T05:59:59Z", "B-123")));
    assert!(
        !hit(&mut e, 3, at("2026-03-02T12:00:00Z", "B-123")),
        "office hours"
    );
    assert!(
        !hit(&mut e, 4, at("2026-03-02T23:00:00Z", "g-002")),
        "the guard"
    );
}

#[test]
fn several_group_by_fields_keep_values_apart() {
    let yaml = format!(
        "{BASE}---
title: Many failures
correlation: {{type: event_count, rules: [failed], group-by: [user, host], timespan: 10m, condition: {{gte: 2}}}}
"
    );
    let mut e = engine(&yaml, EngineConfig::default());
    // Joined naively, ("a\u{1f}b", "c") and ("a", "b\u{1f}c") would share one group.
    let first = ev(
        0,
        json!({"outcome": "failure", "user": "a\u{1f}b", "host": "c"}),
    );
    let second = ev(
        1,
        json!({"outcome": "failure", "user": "a", "host": "b\u{1f}c"}),
    );
    let third = ev(
        2,
        json!({"outcome": "failure", "user": "a", "host": "b\u{1f}c"}),
    );
    assert!(e.process(1, &first).is_empty());
    assert!(
        e.process(2, &second).is_empty(),
        "a second group, not a count of two"
    );
    assert_eq!(e.stats().open_groups, 2);
    let out = e.process(3, &third);
    let corr: Vec<&Alert> = fired(&out)
        .into_iter()
        .filter(|a| a.rule_id == "Many failures")
        .collect();
    assert_eq!(corr.len(), 1);
    assert_eq!(
        corr[0].group,
        vec![
            ("user".to_string(), "a".to_string()),
            ("host".to_string(), "b\u{1f}c".to_string())
        ]
    );
    assert_eq!(corr[0].event_ids, vec![2, 3]);
}

#[test]
fn a_flood_of_new_groups_evicts_the_stalest_in_batches() {
    let yaml = format!(
        "{BASE}---
title: Many failures
correlation: {{type: event_count, rules: [failed], group-by: [user], timespan: 1h, condition: {{gte: 3}}}}
"
    );
    let cfg = EngineConfig {
        max_groups_per_rule: 128,
        ..EngineConfig::default()
    };
    let mut e = engine(&yaml, cfg);
    // One busy user touched throughout, then 200 one-off users.
    e.process(1, &ev(0, json!({"outcome": "failure", "user": "busy"})));
    for i in 0..200u64 {
        let user = format!("u{i}");
        e.process(10 + i, &ev(1, json!({"outcome": "failure", "user": user})));
        if i % 50 == 0 {
            e.process(
                1000 + i,
                &ev(2, json!({"outcome": "failure", "user": "busy"})),
            );
        }
    }
    let s = e.stats();
    assert!(s.open_groups <= 128, "{} groups kept", s.open_groups);
    // 201 groups offered, at most 128 kept: at least 73 evicted, two at a time (128 / 64).
    assert_eq!(s.groups_evicted, 201 - s.open_groups);
    assert_eq!(s.groups_evicted % 2, 0);
    // The busy user was touched last of all: never the stalest, its alert (fired at its
    // third event) still grows.
    let out = e.process(5000, &ev(3, json!({"outcome": "failure", "user": "busy"})));
    let grown = out.iter().any(|o| match o {
        Output::Updated(a) => a.rule_id == "Many failures" && a.event_ids.len() == 6,
        _ => false,
    });
    assert!(grown, "busy's group survived the evictions: {out:?}");
}

#[test]
fn duplicate_event_is_idempotent() {
    let yaml = format!(
        "{BASE}---
title: Many failures
correlation: {{type: event_count, rules: [failed], group-by: [user], timespan: 10m, condition: {{gte: 2}}}}
"
    );
    let mut e = engine(&yaml, EngineConfig::default());
    let x = ev(0, json!({"outcome": "failure", "user": "u"}));
    assert!(e.process(1, &x).is_empty());
    assert!(
        e.process(1, &x).is_empty(),
        "the same event twice counts once"
    );
    assert_eq!(
        fired(&e.process(2, &ev(1, json!({"outcome": "failure", "user": "u"})))).len(),
        1
    );
}

#[test]
fn prefilter_never_hides_matches() {
    let yaml = r"
title: numbers
logsource: {product: x}
detection: {sel: {EventID: [4624, 4625], LogonType: 2}, condition: sel}
---
title: negation only
logsource: {product: x}
detection: {filter: {User|startswith: adm_}, condition: not filter}
---
title: null or value
logsource: {product: x}
detection: {sel: {Parent: [null, 'explorer.exe']}, condition: sel}
---
title: keywords
logsource: {product: x}
detection: {kw: ['mimikatz', 'sekurlsa::'], condition: kw}
---
title: keyword all
logsource: {product: x}
detection: {kw: {'|all': [alpha, beta]}, condition: kw}
---
title: cased
logsource: {product: x}
detection: {sel: {Cmd|contains|cased: [Invoke-Mimikatz, DumpCreds]}, condition: sel}
---
title: windash
logsource: {product: x}
detection: {sel: {Cmd|contains|windash: [' -enc ', ' -e ', ' -a -b -c -d']}, condition: sel}
---
title: all of and 1 of
logsource: {product: x}
detection:
    selection_img: {Image|endswith: ['\powershell.exe', '\pwsh.exe']}
    selection_cli: {Cmd|contains|all: [Net.WebClient, DownloadString]}
    filter_a: {User: SYSTEM}
    condition: all of selection_* and not 1 of filter_*
---
title: or of maps with regex
logsource: {product: x}
detection:
    a: {Cmd|re: 'evil[0-9]+'}
    b: {Image|endswith: '\evil.exe'}
    condition: a or b
---
title: bool and float
logsource: {product: x}
detection: {sel: {Elevated: true, Ratio: 0.5}, condition: sel}
---
title: list field
logsource: {product: x}
detection: {sel: {Tags: [beta]}, condition: sel}
---
title: non ascii
logsource: {product: x}
detection: {sel: {Path|contains: 'ÜBER'}, condition: sel}
---
title: base64offset
logsource: {product: x}
detection: {sel: {Cmd|base64offset|contains: 'IEX ('}, condition: sel}
";
    let (rules, report) = RuleSet::from_yaml_str(yaml, &LoadOptions::default());
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let records = [
        json!({"EventID": 4624, "LogonType": 2, "User": "bob"}),
        json!({"EventID": "4625", "LogonType": "2", "User": "adm_x"}),
        json!({"EventID": 4624.0, "LogonType": 3}),
        json!({"Parent": null, "User": "adm_y"}),
        json!({"Parent": "EXPLORER.EXE"}),
        json!({"msg": "Running MIMIKATZ now", "User": "adm_z"}),
        json!({"a": "alpha", "b": ["beta"], "User": "adm_1"}),
        json!({"Cmd": "powershell Invoke-Mimikatz", "User": "adm_2"}),
        json!({"Cmd": "powershell invoke-mimikatz", "User": "adm_3"}),
        json!({"Cmd": "powershell /enc AAA", "User": "adm_4"}),
        json!({"Cmd": "x \u{2013}e y", "User": "adm_5"}),
        json!({"Cmd": "x /a -b \u{2014}c /d", "User": "adm_6"}),
        json!({"Image": "C:\\pwsh.exe", "Cmd": "(New-Object Net.WebClient).DownloadString('x')", "User": "bob"}),
        json!({"Image": "C:\\pwsh.exe", "Cmd": "(New-Object Net.WebClient).DownloadString('x')", "User": "SYSTEM"}),
        json!({"Cmd": "run evil42", "User": "adm_7"}),
        json!({"Image": "D:\\EVIL.EXE", "User": "adm_8"}),
        json!({"Elevated": true, "Ratio": 0.5, "User": "adm_9"}),
        json!({"Elevated": "true", "Ratio": "0.5", "User": "adm_10"}),
        json!({"Tags": ["alpha", "BETA"], "User": "adm_11"}),
        json!({"Path": "c:\\über\\x", "User": "adm_12"}),
        json!({"Cmd": "powershell -e SUVYICgoTmV3", "User": "adm_13"}),
        json!({}),
    ];
    let mut engine = Engine::new(rules.clone(), EngineConfig::default());
    for (i, r) in records.iter().enumerate() {
        let mut by_engine: Vec<String> = fired(&engine.process(i as u64, r))
            .iter()
            .map(|a| a.title.clone())
            .collect();
        let mut direct: Vec<String> = rules
            .rules()
            .iter()
            .filter(|x| x.is_match(r) == Some(true))
            .map(|x| x.meta.title.clone())
            .collect();
        by_engine.sort();
        direct.sort();
        assert_eq!(by_engine, direct, "record {i}: {r}");
    }
    // And the expected matches are there at all (the comparison is not vacuous).
    let hits = |r: &Value| -> Vec<String> {
        rules
            .rules()
            .iter()
            .filter(|x| x.is_match(r) == Some(true))
            .map(|x| x.meta.title.clone())
            .collect()
    };
    assert!(hits(&records[1]).contains(&"numbers".to_string()));
    assert!(!hits(&records[2]).contains(&"numbers".to_string()));
    assert!(hits(&records[4]).contains(&"null or value".to_string()));
    assert!(hits(&records[5]).contains(&"keywords".to_string()));
    assert!(hits(&records[6]).contains(&"keyword all".to_string()));
    assert!(hits(&records[7]).contains(&"cased".to_string()));
    assert!(!hits(&records[8]).contains(&"cased".to_string()));
    assert!(hits(&records[11]).contains(&"windash".to_string()));
    assert!(hits(&records[12]).contains(&"all of and 1 of".to_string()));
    assert!(!hits(&records[13]).contains(&"all of and 1 of".to_string()));
    assert!(hits(&records[17]).contains(&"bool and float".to_string()));
    assert!(hits(&records[18]).contains(&"list field".to_string()));
    assert!(hits(&records[19]).contains(&"non ascii".to_string()));
    assert!(hits(&records[20]).contains(&"base64offset".to_string()));
}

#[test]
fn engine_and_rules_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    assert_send_sync::<RuleSet>();
    assert_send_sync::<Alert>();
}
