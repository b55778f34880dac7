//! A small fixed rule set (every modifier family, keywords, null, a filter and correlations)
//! against arbitrary records: the bytes as JSON when they parse, otherwise as the values of a
//! few Windows fields. Matching must never panic, and the engine must keep its counters
//! consistent.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use onesec_sigma::{Engine, EngineConfig, EvtxJson, LoadOptions, RuleSet};
use serde_json::{Value, json};

const RULES: &str = r#"
title: contains, startswith, endswith, all, windash
id: 00000000-0000-4000-8000-000000000001
name: strings
logsource: {product: windows}
detection:
    sel:
        Image|endswith: ['\cmd.exe', '\powershell.exe']
        CommandLine|windash|contains: ['-enc', '/c']
    sel2:
        CommandLine|contains|all: ['http', 'download']
    sel3:
        ParentImage|startswith: 'C:\Users\'
    condition: sel or sel2 or not sel3
---
title: regex, cidr, numbers, exists, null, fieldref
id: 00000000-0000-4000-8000-000000000002
name: special
logsource: {product: windows}
detection:
    re:
        CommandLine|re: '(?i)^[a-z]:\\.*\.(bat|ps1)$'
    net:
        IpAddress|cidr: ['10.0.0.0/8', 'fe80::/10']
    num:
        EventID|gte: 4624
        LogonType|lt: 11
    ex:
        User|exists: true
        Missing: null
    ref:
        TargetUserName|fieldref: SubjectUserName
    condition: 1 of re* or (net and num) or all of ex or ref
---
title: base64 and utf16
id: 00000000-0000-4000-8000-000000000003
logsource: {product: windows}
detection:
    sel:
        CommandLine|base64offset|contains: 'http://'
    sel2:
        CommandLine|wide|base64offset|contains: 'IEX'
    sel3:
        Payload|base64: 'secret'
    condition: 1 of sel*
---
title: keywords and wildcards
id: 00000000-0000-4000-8000-000000000004
logsource: {product: windows}
detection:
    keywords:
        - 'mimikatz'
        - 'sekurlsa::*'
        - 'lsass?dmp'
    sel:
        Image: '*\\rund?l32.exe'
    condition: keywords or sel
---
title: exclude the admin
id: 00000000-0000-4000-8000-000000000005
filter:
    rules: [strings]
    sel:
        User: admin
    condition: not sel
---
title: failed logons
id: 00000000-0000-4000-8000-000000000006
name: failed
logsource: {product: windows, service: security}
detection:
    sel:
        EventID: 4625
    condition: sel
---
title: success
id: 00000000-0000-4000-8000-000000000007
name: success
logsource: {product: windows, service: security}
detection:
    sel:
        EventID: 4624
    condition: sel
---
title: brute force
id: 00000000-0000-4000-8000-000000000008
name: brute
correlation:
    type: event_count
    rules: [failed]
    group-by: [IpAddress]
    timespan: 5m
    condition: {gte: 3}
---
title: many users from one address
id: 00000000-0000-4000-8000-000000000009
correlation:
    type: value_count
    rules: [failed]
    group-by: [IpAddress]
    timespan: 10m
    condition: {field: TargetUserName, gte: 2}
---
title: average logon type out of range
id: 00000000-0000-4000-8000-00000000000a
correlation:
    type: value_avg
    rules: [success]
    group-by: [Computer]
    timespan: 1h
    condition: {field: LogonType, gt: 5, lte: 10}
---
title: brute force then success, no logoff between
id: 00000000-0000-4000-8000-00000000000b
correlation:
    type: temporal_ordered
    rules: [brute, failed, success]
    group-by: [IpAddress]
    timespan: 10m
    condition: brute and not failed and success
"#;

fn rules() -> &'static RuleSet {
    static SET: OnceLock<RuleSet> = OnceLock::new();
    SET.get_or_init(|| {
        let (set, report) = RuleSet::from_yaml_str(RULES, &LoadOptions::default());
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        set
    })
}

/// The bytes as a record: JSON when they parse, else split on NUL into field values.
fn record(data: &[u8]) -> Value {
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        return v;
    }
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let mut next = || parts.next().unwrap_or("").to_string();
    json!({
        "EventID": data.first().map_or(4625, |b| 4620 + i64::from(b % 8)),
        "CommandLine": next(),
        "Image": next(),
        "ParentImage": next(),
        "IpAddress": next(),
        "TargetUserName": next(),
        "SubjectUserName": next(),
        "LogonType": data.get(1).map_or(3, |b| i64::from(*b)),
        "Computer": next(),
        "User": next(),
        "Payload": next(),
    })
}

fuzz_target!(|data: &[u8]| {
    let value = record(data);
    let mut engine = Engine::new(rules().clone(), EngineConfig::default());
    // The same record at several event times, in and out of order, then as a Windows JSON
    // rendering, so correlation windows open, grow, close and revise.
    let mut with_time = value.clone();
    for (i, t) in [60_000i64, 0, 120_000, 30_000, 3_600_000 * 30]
        .into_iter()
        .enumerate()
    {
        if let Value::Object(m) = &mut with_time {
            m.insert("time_ms".into(), json!(t));
        }
        let _ = engine.process(i as u64, &with_time);
    }
    let evtx = json!({"Event": {"System": {"EventID": 4625}, "EventData": value}});
    let _ = engine.process(100, &EvtxJson::new(&evtx));
    let _ = engine.process(101, &EvtxJson::new(&value));
    let _ = engine.flush();
    let stats = engine.stats();
    assert_eq!(stats.events, 7);
});
