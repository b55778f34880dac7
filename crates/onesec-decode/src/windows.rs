//! Windows events as JSON: Winlogbeat (`winlog.*`), EVTX rendered as JSON
//! (`{"Event":{"System":{..},"EventData":{..}}}`), Wazuh's `eventchannel` JSON (`win.system`,
//! `win.eventdata`, in an archive record or under `data` in an alert), PowerShell's
//! `Get-WinEvent | ConvertTo-Json` (`Id`, `Properties`) and flat objects with a top-level
//! `EventID`.

use crate::jv::{
    self, Json, JsonContainerTrait, JsonNumberTrait, JsonValueTrait, Object, Value, at, view,
};
use crate::{DecodeContext, new_event, scan, time};
use onesec_event::{Activity, Batch, Event, EventClass, Fields, LogonKind, Severity, Status};
use std::borrow::Cow;

/// The system part of a Windows event, whatever the JSON shape; texts borrowed from the
/// document where they are strings.
#[derive(Default)]
struct System<'v> {
    event_id: Option<u32>,
    channel: Option<Cow<'v, str>>,
    computer: Option<Cow<'v, str>>,
    provider: Option<Cow<'v, str>>,
    time_ms: Option<i64>,
    record_id: Option<Cow<'v, str>>,
    level: Option<Cow<'v, str>>,
    task: Option<Cow<'v, str>>,
    opcode: Option<Cow<'v, str>>,
    keywords: Option<Cow<'v, str>>,
    message: Option<Cow<'v, str>>,
}

/// Decodes one Windows event object.
pub(crate) fn decode(value: &Value, raw: &str, ctx: &DecodeContext) -> Result<Event, String> {
    // The event data and system values are shorter than the document: one allocation.
    let mut fields = Fields::with_capacity(24, raw.len());
    // The top-level keys either shape reads, in one pass over the object.
    let [
        evtx,
        winlog,
        at_timestamp,
        timestamp,
        message,
        event,
        host,
        log,
        win,
        data,
    ] = jv::pick(
        value,
        [
            "Event",
            "winlog",
            "@timestamp",
            "timestamp",
            "message",
            "event",
            "host",
            "log",
            "win",
            "data",
        ],
    );
    // The shapes only insert (document order, not key order): sorted in once at the end.
    let mut batch = fields.batch();
    let system = if let Some(event) = evtx.filter(|e| e.get("System").is_some()) {
        evtx_shape(event, &mut batch)
    } else if let Some(winlog) = winlog.filter(|w| w.is_object()) {
        let top = WinlogbeatTop {
            timestamp: at_timestamp.or(timestamp),
            message,
            event,
            host,
            log,
        };
        winlogbeat_shape(&top, winlog, &mut batch)
    } else if let Some(win) = wazuh_win(win, data) {
        wazuh_shape(win, &mut batch)
    } else if is_powershell(value) {
        powershell_shape(value, &mut batch)
    } else {
        flat_shape(value, &mut batch)
    };
    let Some(event_id) = system.event_id else {
        return Err(format!(
            "expected a Windows event with winlog.event_id, Event.System.EventID or EventID, found an object with keys {}",
            key_list(value)
        ));
    };
    // The system values under their EVTX names, over any event data of the same name.
    batch.insert_display("EventID", &event_id);
    batch.insert("Channel", system.channel.as_deref().unwrap_or_default());
    for (name, value) in [
        ("Provider_Name", &system.provider),
        ("Computer", &system.computer),
        ("EventRecordID", &system.record_id),
        ("Level", &system.level),
        ("Task", &system.task),
        ("Opcode", &system.opcode),
        ("Keywords", &system.keywords),
    ] {
        if let Some(value) = value {
            batch.insert(name, value);
        }
    }
    let sysmon = system
        .channel
        .as_deref()
        .is_some_and(|c| c.contains("Sysmon"))
        || system
            .provider
            .as_deref()
            .is_some_and(|p| p.contains("Sysmon"));
    let kind = kind_of(event_id, sysmon);
    // In the batch, after the event data: over any `action` item, as a later insert would be.
    if !kind.action.is_empty() {
        batch.insert("action", kind.action);
    }
    drop(batch);
    let mut event = new_event(
        ctx,
        "windows-json",
        raw,
        system.time_ms,
        EventClass::Base,
        Activity::Other,
    );
    event.fields = fields;
    let channel = system.channel.unwrap_or_default();
    event.source.product = "windows".into();
    // Windows Event Forwarding collects into `ForwardedEvents`: the provider names the log.
    event.source.service = match (&*channel, system.provider.as_deref()) {
        ("ForwardedEvents", Some("Microsoft-Windows-Security-Auditing")) => service_of("Security"),
        ("ForwardedEvents", Some("Service Control Manager")) => service_of("System"),
        ("ForwardedEvents", Some("Microsoft-Windows-PowerShell")) => {
            service_of("Microsoft-Windows-PowerShell/Operational")
        }
        ("ForwardedEvents", Some(p)) if p.contains("Sysmon") => service_of("Sysmon"),
        _ => service_of(&channel),
    };
    event.severity = severity_of(system.level.as_deref());
    event.host = system.computer.as_deref().map(str::to_string);
    event.message = system.message.map(Cow::into_owned).unwrap_or_else(|| {
        default_message(
            event_id,
            system.provider.as_deref().unwrap_or(&channel),
            system.computer.as_deref().unwrap_or("unknown host"),
        )
    });
    classify(&mut event, event_id, sysmon, &kind);
    Ok(event)
}

/// `Windows event 4624 (Microsoft-Windows-Security-Auditing) on PC-LYO-012`, built with
/// `push_str` (a `format!` was 4 % of decoding a Winlogbeat record).
fn default_message(event_id: u32, provider: &str, computer: &str) -> String {
    let mut text = String::with_capacity(32 + provider.len() + computer.len());
    text.push_str("Windows event ");
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut rest = event_id;
    loop {
        at -= 1;
        // `rest % 10` is a digit.
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        text.push(char::from(digit));
    }
    text.push_str(" (");
    text.push_str(provider);
    text.push_str(") on ");
    text.push_str(computer);
    text
}

fn key_list(value: &Value) -> String {
    match value.as_object() {
        Some(map) if !map.is_empty() => map
            .iter()
            .take(8)
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
            .join(", "),
        _ => "(none)".into(),
    }
}

/// `{"Event": {"System": {...}, "EventData": {...}, "UserData": {...}}}`.
fn evtx_shape<'v>(event: &'v Value, fields: &mut Batch<'_>) -> System<'v> {
    let [sys, event_data_value, user_data] = jv::pick(event, ["System", "EventData", "UserData"]);
    let Some(sys) = sys else {
        return System::default();
    };
    if let Some(data) = event_data_value {
        event_data(data, fields);
    }
    if let Some(user_data) = user_data.and_then(Value::as_object) {
        // `UserData` wraps its items in one element named after the event (e.g. `LogFileCleared`).
        for (_, wrapper) in user_data.iter() {
            match wrapper.as_object() {
                Some(items) => leaves(items, fields),
                None => leaves(user_data, fields),
            }
        }
    }
    let attribute = |v: &'v Value, name: &str| -> Option<Cow<'v, str>> {
        v.get("#attributes")
            .and_then(|a| a.get(name))
            .or_else(|| v.get(name))
            // xmltodict's JSON writes attributes as `@Name`.
            .or_else(|| {
                let map = v.as_object()?;
                map.iter()
                    .find(|(k, _)| k.strip_prefix('@') == Some(name))
                    .map(|(_, value)| value)
            })
            .and_then(scalar)
    };
    let [
        execution,
        event_id_value,
        channel,
        computer,
        provider,
        time_created,
        record_id,
        level,
        task,
        opcode,
        keywords,
    ] = jv::pick(
        sys,
        [
            "Execution",
            "EventID",
            "Channel",
            "Computer",
            "Provider",
            "TimeCreated",
            "EventRecordID",
            "Level",
            "Task",
            "Opcode",
            "Keywords",
        ],
    );
    if let Some(execution) = execution {
        for (name, key) in [
            ("ProcessID", "ExecutionProcessID"),
            ("ThreadID", "ExecutionThreadID"),
        ] {
            if let Some(value) = attribute(execution, name) {
                fields.insert_if_absent(key, &value);
            }
        }
    }
    System {
        event_id: event_id_value.and_then(event_id),
        channel: channel.and_then(scalar),
        computer: computer.and_then(scalar),
        provider: provider.and_then(|p| attribute(p, "Name").or_else(|| scalar(p))),
        time_ms: time_created
            .and_then(|t| attribute(t, "SystemTime").or_else(|| scalar(t)))
            .and_then(|t| time::parse_text(&t)),
        record_id: record_id.and_then(scalar),
        level: level.and_then(scalar),
        task: task.and_then(scalar),
        opcode: opcode.and_then(scalar),
        keywords: keywords.and_then(scalar),
        message: None,
    }
}

/// The top-level values of a Winlogbeat document besides `winlog` (picked by [`decode`]).
struct WinlogbeatTop<'v> {
    /// `@timestamp`, else `timestamp`.
    timestamp: Option<&'v Value>,
    message: Option<&'v Value>,
    event: Option<&'v Value>,
    host: Option<&'v Value>,
    log: Option<&'v Value>,
}

/// Winlogbeat / Elastic Agent: `@timestamp`, `winlog.{event_id, channel, computer_name,
/// provider_name, record_id, event_data, user_data}`, `message`.
fn winlogbeat_shape<'v>(
    top: &WinlogbeatTop<'v>,
    winlog: &'v Value,
    fields: &mut Batch<'_>,
) -> System<'v> {
    let [
        data,
        user_data,
        event_id_value,
        channel,
        computer_name,
        provider_name,
        record_id,
        level,
        task,
        opcode,
        keywords,
    ] = jv::pick(
        winlog,
        [
            "event_data",
            "user_data",
            "event_id",
            "channel",
            "computer_name",
            "provider_name",
            "record_id",
            "level",
            "task",
            "opcode",
            "keywords",
        ],
    );
    if let Some(data) = data {
        event_data(data, fields);
    }
    if let Some(data) = user_data.and_then(Value::as_object) {
        leaves(data, fields);
    }
    let text = |v: Option<&'v Value>| v.and_then(scalar);
    let inner = |outer: Option<&'v Value>, key: &str| outer.and_then(|o| o.get(key));
    System {
        event_id: event_id_value
            .and_then(event_id)
            .or_else(|| inner(top.event, "code").and_then(event_id)),
        channel: text(channel),
        computer: text(computer_name).or_else(|| text(inner(top.host, "name"))),
        provider: text(provider_name).or_else(|| text(inner(top.event, "provider"))),
        time_ms: top.timestamp.and_then(time::parse_value),
        record_id: text(record_id),
        level: text(inner(top.log, "level")).or_else(|| text(level)),
        task: text(task),
        opcode: text(opcode),
        keywords: text(keywords),
        message: text(top.message),
    }
}

/// Wazuh's `win` object (with its `system`): top-level in an archive record, under `data` in
/// an alert.
fn wazuh_win<'v>(win: Option<&'v Value>, data: Option<&'v Value>) -> Option<&'v Value> {
    win.or_else(|| data.and_then(|d| d.get("win")))
        .filter(|w| w.get("system").is_some_and(|s| s.is_object()))
}

/// Whether `value` is a Wazuh Windows record (for format detection).
pub(crate) fn is_wazuh(value: &Value) -> bool {
    wazuh_win(value.get("win"), value.get("data")).is_some()
}

/// Wazuh's `eventchannel` decoder writes the system values and the event data under
/// lower-camel-case names (`eventID`, `systemTime`, `targetUserName`, `ipAddress`): the event
/// data is kept under the names Windows and Sigma rules use (first letter upper case:
/// `TargetUserName`, `IpAddress`), and its `message` is Windows's text in quotes.
fn wazuh_shape<'v>(win: &'v Value, fields: &mut Batch<'_>) -> System<'v> {
    let [system, data] = jv::pick(win, ["system", "eventdata"]);
    if let Some(data) = data.and_then(Value::as_object) {
        let mut name = String::new();
        for (key, value) in data.iter() {
            let Some(text) = scalar(value) else {
                continue;
            };
            name.clear();
            let mut chars = key.chars();
            if let Some(first) = chars.next() {
                name.extend(first.to_uppercase());
                name.push_str(chars.as_str());
            }
            insert_data_item(fields, &name, &text);
        }
    }
    let Some(system) = system else {
        return System::default();
    };
    let [
        event_id_value,
        channel,
        computer,
        provider,
        system_time,
        record_id,
        level,
        task,
        opcode,
        keywords,
        message,
    ] = jv::pick(
        system,
        [
            "eventID",
            "channel",
            "computer",
            "providerName",
            "systemTime",
            "eventRecordID",
            "level",
            "task",
            "opcode",
            "keywords",
            "message",
        ],
    );
    let text = |v: Option<&'v Value>| v.and_then(scalar);
    System {
        event_id: event_id_value.and_then(event_id),
        channel: text(channel),
        computer: text(computer),
        provider: text(provider),
        time_ms: system_time.and_then(time::parse_value),
        record_id: text(record_id),
        level: text(level),
        task: text(task),
        opcode: text(opcode),
        keywords: text(keywords),
        message: text(message).map(|m| {
            match m.trim().strip_prefix('"').and_then(|m| m.strip_suffix('"')) {
                Some(inner) => Cow::Owned(inner.to_string()),
                None => m,
            }
        }),
    }
}

/// Whether `value` is an event record as PowerShell's `ConvertTo-Json` writes one (`Id`,
/// `Properties`, and `LogName` or `ProviderName`).
pub(crate) fn is_powershell(value: &Value) -> bool {
    let [id, properties, log, provider] =
        jv::pick(value, ["Id", "Properties", "LogName", "ProviderName"]);
    id.is_some()
        && properties.is_some_and(|p| p.is_array())
        && (log.is_some() || provider.is_some())
}

/// The names of the event data items of the Security events rules read most, in the order
/// Windows writes them (the manifest's template; later versions only append). PowerShell's
/// `Properties` are those items without their names. The orders of 4624, 4625, 4648, 4688,
/// 4771 and 6416 are checked against the EVTX samples (`tests/realworld.rs`); the others
/// follow Microsoft's event documentation.
fn security_template(event_id: u32) -> &'static [&'static str] {
    const SUBJECT: [&str; 4] = [
        "SubjectUserSid",
        "SubjectUserName",
        "SubjectDomainName",
        "SubjectLogonId",
    ];
    match event_id {
        4624 => &[
            SUBJECT[0],
            SUBJECT[1],
            SUBJECT[2],
            SUBJECT[3],
            "TargetUserSid",
            "TargetUserName",
            "TargetDomainName",
            "TargetLogonId",
            "LogonType",
            "LogonProcessName",
            "AuthenticationPackageName",
            "WorkstationName",
            "LogonGuid",
            "TransmittedServices",
            "LmPackageName",
            "KeyLength",
            "ProcessId",
            "ProcessName",
            "IpAddress",
            "IpPort",
            "ImpersonationLevel",
            "RestrictedAdminMode",
            "TargetOutboundUserName",
            "TargetOutboundDomainName",
            "VirtualAccount",
            "TargetLinkedLogonId",
            "ElevatedToken",
        ],
        4625 => &[
            SUBJECT[0],
            SUBJECT[1],
            SUBJECT[2],
            SUBJECT[3],
            "TargetUserSid",
            "TargetUserName",
            "TargetDomainName",
            "Status",
            "FailureReason",
            "SubStatus",
            "LogonType",
            "LogonProcessName",
            "AuthenticationPackageName",
            "WorkstationName",
            "TransmittedServices",
            "LmPackageName",
            "KeyLength",
            "ProcessId",
            "ProcessName",
            "IpAddress",
            "IpPort",
        ],
        4634 => &[
            "TargetUserSid",
            "TargetUserName",
            "TargetDomainName",
            "TargetLogonId",
            "LogonType",
        ],
        4647 => &[
            "TargetUserSid",
            "TargetUserName",
            "TargetDomainName",
            "TargetLogonId",
        ],
        4648 => &[
            SUBJECT[0],
            SUBJECT[1],
            SUBJECT[2],
            SUBJECT[3],
            "LogonGuid",
            "TargetUserName",
            "TargetDomainName",
            "TargetLogonGuid",
            "TargetServerName",
            "TargetInfo",
            "ProcessId",
            "ProcessName",
            "IpAddress",
            "IpPort",
        ],
        4688 => &[
            SUBJECT[0],
            SUBJECT[1],
            SUBJECT[2],
            SUBJECT[3],
            "NewProcessId",
            "NewProcessName",
            "TokenElevationType",
            "ProcessId",
            "CommandLine",
            "TargetUserSid",
            "TargetUserName",
            "TargetDomainName",
            "TargetLogonId",
            "ParentProcessName",
            "MandatoryLabel",
        ],
        4720 | 4726 | 4740 => &[
            "TargetUserName",
            "TargetDomainName",
            "TargetSid",
            SUBJECT[0],
            SUBJECT[1],
            SUBJECT[2],
            SUBJECT[3],
        ],
        4768 => &[
            "TargetUserName",
            "TargetDomainName",
            "TargetSid",
            "ServiceName",
            "ServiceSid",
            "TicketOptions",
            "Status",
            "TicketEncryptionType",
            "PreAuthType",
            "IpAddress",
            "IpPort",
            "CertIssuerName",
            "CertSerialNumber",
            "CertThumbprint",
        ],
        4771 => &[
            "TargetUserName",
            "TargetSid",
            "ServiceName",
            "TicketOptions",
            "Status",
            "PreAuthType",
            "IpAddress",
            "IpPort",
            "CertIssuerName",
            "CertSerialNumber",
            "CertThumbprint",
        ],
        4776 => &["PackageName", "TargetUserName", "Workstation", "Status"],
        6416 => &[
            SUBJECT[0],
            SUBJECT[1],
            SUBJECT[2],
            SUBJECT[3],
            "DeviceId",
            "DeviceDescription",
            "ClassId",
            "ClassName",
            "VendorIds",
            "CompatibleIds",
            "LocationInformation",
        ],
        _ => &[],
    }
}

/// PowerShell's `Get-WinEvent | ConvertTo-Json`: `Id`, `LogName`, `ProviderName`,
/// `MachineName`, `RecordId`, `Level`, `KeywordsDisplayNames`, `TimeCreated` (ISO 8601 from
/// PowerShell 7, `/Date(ms)/` from Windows PowerShell 5.1), `Message`, and `Properties`: the
/// event data items' values without their names, named here by [`security_template`] for the
/// Security log's common events and `Data.<index>` otherwise (as unnamed EVTX data).
fn powershell_shape<'v>(top: &'v Value, fields: &mut Batch<'_>) -> System<'v> {
    let [
        id,
        log,
        provider,
        machine,
        record_id,
        level,
        keywords,
        time_created,
        message,
        properties,
    ] = jv::pick(
        top,
        [
            "Id",
            "LogName",
            "ProviderName",
            "MachineName",
            "RecordId",
            "Level",
            "KeywordsDisplayNames",
            "TimeCreated",
            "Message",
            "Properties",
        ],
    );
    let event_id = id.and_then(event_id);
    let text = |v: Option<&'v Value>| v.and_then(scalar);
    let security = provider
        .and_then(|p| p.as_str())
        .is_some_and(|p| p == "Microsoft-Windows-Security-Auditing");
    let names = match event_id {
        Some(id) if security => security_template(id),
        _ => &[],
    };
    let items = properties.and_then(|p| p.as_array());
    for (index, item) in items.into_iter().flat_map(|items| items.iter()).enumerate() {
        let Some(value) = item.get("Value").or(Some(item)).and_then(scalar) else {
            continue;
        };
        match names.get(index) {
            Some(name) => fields.insert(name, &value),
            None => fields.insert(&format!("Data.{index}"), &value),
        };
    }
    System {
        event_id,
        channel: text(log),
        computer: text(machine),
        provider: text(provider),
        time_ms: time_created.and_then(|t| match t.as_str() {
            Some(text) => dotnet_date(text).or_else(|| time::parse_text(text)),
            None => time::parse_value(t),
        }),
        record_id: text(record_id),
        level: text(level),
        task: None,
        opcode: None,
        keywords: text(keywords),
        message: text(message),
    }
}

/// Windows PowerShell's JSON dates: `/Date(1795750200123)/` (UTC milliseconds, sometimes with
/// an offset after them that does not change the instant).
fn dotnet_date(text: &str) -> Option<i64> {
    let inner = text.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let end = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map_or(inner.len(), |(at, _)| at);
    inner.get(..end)?.parse().ok()
}

/// A flat object: `EventID`, `Channel`, `Computer`/`Hostname`, provider, time, and the event
/// data as the other keys.
fn flat_shape<'v>(top: &'v Value, fields: &mut Batch<'_>) -> System<'v> {
    const SYSTEM_KEYS: [&str; 15] = [
        "EventID",
        "Channel",
        "Computer",
        "Hostname",
        "Provider_Name",
        "ProviderName",
        "SourceName",
        "TimeCreated",
        "SystemTime",
        "EventTime",
        "TimeGenerated",
        "@timestamp",
        "timestamp",
        "EventRecordID",
        "Message",
    ];
    if let Some(map) = top.as_object() {
        leaves_dotted(map, &mut String::new(), &SYSTEM_KEYS, fields);
    }
    let first = |keys: &[&str]| keys.iter().find_map(|k| top.get(*k)).and_then(scalar);
    System {
        event_id: top.get("EventID").and_then(event_id),
        channel: first(&["Channel"]),
        computer: first(&["Computer", "Hostname"]),
        provider: first(&["Provider_Name", "ProviderName", "SourceName"]),
        time_ms: [
            "TimeCreated",
            "SystemTime",
            "EventTime",
            "TimeGenerated",
            "@timestamp",
            "timestamp",
        ]
        .iter()
        .find_map(|k| top.get(*k))
        .and_then(|v| time::parse_value(at(v, &["#attributes", "SystemTime"]).unwrap_or(v))),
        record_id: first(&["EventRecordID"]),
        level: first(&["Level"]),
        task: None,
        opcode: None,
        keywords: None,
        message: first(&["Message"]),
    }
}

/// `EventData`: an object of named items, or `{"Data": [{"#attributes": {"Name": ..}, "#text": ..}]}`.
fn event_data(data: &Value, fields: &mut Batch<'_>) {
    let Some(map) = data.as_object() else {
        return;
    };
    for (name, value) in map.iter() {
        if name == "#attributes" {
            continue;
        }
        if name == "Data"
            && let Json::Array(items) = view(value)
        {
            for (index, item) in items.iter().enumerate() {
                let named = item
                    .get("#attributes")
                    .and_then(|a| a.get("Name"))
                    .or_else(|| item.get("@Name"));
                match (
                    named.and_then(|n| n.as_str()),
                    item.get("#text").and_then(scalar).or_else(|| scalar(item)),
                ) {
                    (Some(item_name), Some(text)) => {
                        insert_data_item(fields, item_name, &text);
                    }
                    (None, Some(text)) => {
                        fields.insert(&format!("Data.{index}"), &text);
                    }
                    _ => {}
                }
            }
            continue;
        }
        match scalar(value) {
            Some(text) => {
                insert_data_item(fields, name, &text);
            }
            None => {
                if let Json::Object(inner) = view(value) {
                    leaves_dotted(inner, &mut name.to_string(), &[], fields);
                }
            }
        }
    }
}

/// Every scalar leaf of `map` under its own (leaf) name, unless already present.
fn leaves(map: &Object, fields: &mut Batch<'_>) {
    for (name, value) in map.iter() {
        if name == "#attributes" || name.starts_with("xmlns") {
            continue;
        }
        match (scalar(value), view(value)) {
            (Some(text), _) => {
                fields.insert_if_absent(name, &text);
            }
            (None, Json::Object(inner)) => leaves(inner, fields),
            _ => {}
        }
    }
}

/// Every scalar leaf of `map` under its dotted path below `path` (the key of `map`, extended
/// per level and restored after), except the keys of `map` itself that `skip` names.
fn leaves_dotted(map: &Object, path: &mut String, skip: &[&str], fields: &mut Batch<'_>) {
    for (name, value) in map.iter() {
        if name == "#attributes" || skip.contains(&name) {
            continue;
        }
        let len = path.len();
        if len > 0 {
            path.push('.');
        }
        path.push_str(name);
        match (scalar(value), view(value)) {
            (Some(text), _) => {
                fields.insert(path, &text);
            }
            (None, Json::Object(inner)) => leaves_dotted(inner, path, &[], fields),
            _ => {}
        }
        path.truncate(len);
    }
}

/// A scalar JSON value as text (`{"#text": v}` counts as `v`; arrays of scalars are joined
/// with `,`), borrowed from the document when it is a string; `None` for null and structured
/// values.
fn scalar(value: &Value) -> Option<Cow<'_, str>> {
    match view(value) {
        Json::Str(s) => Some(Cow::Borrowed(s)),
        Json::Number(n) => Some(Cow::Owned(n.to_string())),
        Json::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
        Json::Object(map) => map.get(&"#text").and_then(scalar),
        Json::Array(items) => {
            fn item(v: &Value) -> Option<Cow<'_, str>> {
                if v.is_object() || v.is_array() {
                    None
                } else {
                    scalar(v)
                }
            }
            // One item (Winlogbeat's `keywords`) is borrowed; more are joined in one string.
            if let [one] = items {
                return item(one);
            }
            let mut joined = String::new();
            for (index, value) in items.iter().enumerate() {
                if index > 0 {
                    joined.push(',');
                }
                joined.push_str(&item(value)?);
            }
            Some(Cow::Owned(joined))
        }
        Json::Null => None,
    }
}

fn event_id(value: &Value) -> Option<u32> {
    match view(value) {
        Json::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Json::Str(s) => s.trim().parse().ok(),
        Json::Object(map) => map
            .get(&"#text")
            .or_else(|| map.get(&"Value"))
            .and_then(event_id),
        _ => None,
    }
}

/// Keeps an event data item under its own name and, when the name has spaces (Defender's
/// `Threat Name`), also under the name without them, which is how Sigma rules spell it.
fn insert_data_item(fields: &mut Batch<'_>, name: &str, text: &str) {
    if name.contains(' ') {
        fields.insert(&name.replace(' ', ""), text);
    }
    fields.insert(name, text);
}

/// Sigma `logsource.service` of a channel.
fn service_of(channel: &str) -> onesec_event::Name {
    let known = match channel {
        "Security" => "security",
        "System" => "system",
        "Application" => "application",
        "Windows PowerShell" => "powershell-classic",
        "Microsoft-Windows-PowerShell/Operational" => "powershell",
        "Microsoft-Windows-Windows Defender/Operational" => "windefend",
        "Microsoft-Windows-TaskScheduler/Operational" => "taskscheduler",
        "Microsoft-Windows-WMI-Activity/Operational" => "wmi",
        "Microsoft-Windows-DNS-Client/Operational" => "dns-client",
        "Microsoft-Windows-Bits-Client/Operational" => "bits-client",
        "Microsoft-Windows-CodeIntegrity/Operational" => "codeintegrity-operational",
        "Microsoft-Windows-NTLM/Operational" => "ntlm",
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational" => {
            "terminalservices-localsessionmanager"
        }
        "Microsoft-Windows-DriverFrameworks-UserMode/Operational" => "driver-framework",
        "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall" => "firewall-as",
        "OpenSSH/Operational" => "openssh",
        _ if channel.contains("Sysmon") => "sysmon",
        _ if channel.starts_with("Microsoft-Windows-AppLocker/") => "applocker",
        _ => return crate::name_lowercase(channel),
    };
    known.into()
}

fn severity_of(level: Option<&str>) -> Severity {
    match level.map(str::trim) {
        Some("1") => Severity::Critical,
        Some("2") => Severity::High,
        Some("3") => Severity::Medium,
        Some(text) if text.eq_ignore_ascii_case("critical") => Severity::Critical,
        Some(text) if text.eq_ignore_ascii_case("error") => Severity::High,
        Some(text) if text.eq_ignore_ascii_case("warning") => Severity::Medium,
        _ => Severity::Informational,
    }
}

/// A field of the event data, unless empty or `-`.
fn field<'a>(event: &'a Event, name: &str) -> Option<&'a str> {
    event.fields.get(name).and_then(|v| scan::non_empty(v))
}

/// What an event id says: class, activity, status (`None`: read from the Kerberos/NTLM
/// `Status` item) and the `action` field (empty for none).
struct Kind {
    class: EventClass,
    activity: Activity,
    status: Option<Status>,
    action: &'static str,
}

fn kind_of(event_id: u32, sysmon: bool) -> Kind {
    let (class, activity, status, action) = match (event_id, sysmon) {
        (1, true) => (
            EventClass::ProcessActivity,
            Activity::Launch,
            Some(Status::Success),
            "process_created",
        ),
        (3, true) => (
            EventClass::NetworkActivity,
            Activity::Open,
            Some(Status::Success),
            "network_connection",
        ),
        (_, true) => (EventClass::Base, Activity::Other, Some(Status::Unknown), ""),
        (4624, _) => (
            EventClass::Authentication,
            Activity::Logon,
            Some(Status::Success),
            "logon",
        ),
        (4625, _) => (
            EventClass::Authentication,
            Activity::Logon,
            Some(Status::Failure),
            "logon_failed",
        ),
        (4634 | 4647, _) => (
            EventClass::Authentication,
            Activity::Logoff,
            Some(Status::Success),
            "logoff",
        ),
        (4648, _) => (
            EventClass::Authentication,
            Activity::Logon,
            Some(Status::Unknown),
            "explicit_credentials",
        ),
        (4740, _) => (
            EventClass::Authentication,
            Activity::Other,
            Some(Status::Failure),
            "account_locked",
        ),
        (4768, _) => (
            EventClass::Authentication,
            Activity::Logon,
            None,
            "kerberos_tgt_request",
        ),
        (4771, _) => (
            EventClass::Authentication,
            Activity::Logon,
            Some(Status::Failure),
            "kerberos_preauth_failed",
        ),
        (4776, _) => (
            EventClass::Authentication,
            Activity::Logon,
            None,
            "ntlm_validation",
        ),
        (4720, _) => (
            EventClass::Base,
            Activity::Other,
            Some(Status::Success),
            "user_account_created",
        ),
        (4726, _) => (
            EventClass::Base,
            Activity::Other,
            Some(Status::Success),
            "user_account_deleted",
        ),
        (6416, _) => (
            EventClass::PeripheralActivity,
            Activity::Connected,
            Some(Status::Success),
            "external_device_recognized",
        ),
        (4688, _) => (
            EventClass::ProcessActivity,
            Activity::Launch,
            Some(Status::Success),
            "process_created",
        ),
        _ => (EventClass::Base, Activity::Other, Some(Status::Unknown), ""),
    };
    Kind {
        class,
        activity,
        status,
        action,
    }
}

/// Class, activity, status, actor and endpoints from the event id (`kind`) and data.
fn classify(event: &mut Event, event_id: u32, sysmon: bool, kind: &Kind) {
    let (class, activity) = (kind.class, kind.activity);
    event.class = class;
    event.activity = activity;
    event.status = kind.status.unwrap_or_else(|| result_code(event));

    let (user_key, domain_key) = match class {
        EventClass::ProcessActivity if !sysmon => ("SubjectUserName", "SubjectDomainName"),
        // Account management: the administrator acts, the account in `Target*` is acted on.
        _ if matches!(event_id, 4720 | 4726) => ("SubjectUserName", "SubjectDomainName"),
        _ if field(event, "TargetUserName").is_some() => ("TargetUserName", "TargetDomainName"),
        _ if field(event, "SubjectUserName").is_some() => ("SubjectUserName", "SubjectDomainName"),
        _ => ("User", ""),
    };
    // In 4740 `TargetDomainName` is the caller computer, not the account's domain.
    let domain_key = if event_id == 4740 { "" } else { domain_key };
    set_actor(event, user_key, domain_key);

    if class == EventClass::NetworkActivity {
        endpoint(event, "SourceIp", "SourcePort", "SourceHostname", true);
        endpoint(
            event,
            "DestinationIp",
            "DestinationPort",
            "DestinationHostname",
            false,
        );
    } else {
        endpoint(event, "IpAddress", "IpPort", "", true);
    }
    if class == EventClass::Authentication && activity != Activity::Other {
        event.logon = Some(match event_id {
            4768 | 4771 | 4776 => LogonKind::Network,
            _ => logon_kind(field(event, "LogonType")),
        });
        event.dst.hostname.clone_from(&event.host);
        if let Some(workstation) =
            field(event, "WorkstationName").or_else(|| field(event, "Workstation"))
        {
            event.src.hostname = Some(workstation.to_string());
        }
        // 4648: the credentials were used towards `TargetServerName`.
        if event_id == 4648
            && let Some(server) =
                field(event, "TargetServerName").filter(|s| !s.eq_ignore_ascii_case("localhost"))
        {
            event.dst.hostname = Some(server.to_string());
        }
    }
}

/// Kerberos/NTLM `Status`: `0x0` is success, anything else a failure.
fn result_code(event: &Event) -> Status {
    match field(event, "Status") {
        Some("0x0" | "0") => Status::Success,
        Some(_) => Status::Failure,
        None => Status::Unknown,
    }
}

/// Windows `LogonType` to [`LogonKind`].
fn logon_kind(logon_type: Option<&str>) -> LogonKind {
    match logon_type.map(str::trim) {
        Some("2" | "11") => LogonKind::Console,
        Some("10" | "12") => LogonKind::RemoteInteractive,
        Some("3") => LogonKind::Network,
        _ => LogonKind::Other,
    }
}

/// Sets the actor from `user_key` (`DOMAIN\user` split) and `domain_key`.
fn set_actor(event: &mut Event, user_key: &str, domain_key: &str) {
    let Some(name) = field(event, user_key) else {
        return;
    };
    let (prefix, user) = match name.rsplit_once('\\') {
        Some((domain, user)) => (scan::non_empty(domain), user),
        None => (None, name),
    };
    let user = user.to_string();
    let domain = if domain_key.is_empty() {
        prefix
    } else {
        field(event, domain_key).or(prefix)
    }
    .map(str::to_string);
    event.actor.user = Some(user);
    event.actor.domain = domain;
}

/// Fills `src` (or `dst`) from address, port and host-name fields.
fn endpoint(event: &mut Event, ip_key: &str, port_key: &str, host_key: &str, src: bool) {
    let ip = field(event, ip_key).and_then(scan::ip);
    let port = field(event, port_key)
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|p| *p != 0);
    let host = if host_key.is_empty() {
        None
    } else {
        field(event, host_key).map(str::to_string)
    };
    let target = if src { &mut event.src } else { &mut event.dst };
    if ip.is_some() {
        target.ip = ip;
        target.port = port;
    }
    if host.is_some() {
        target.hostname = host;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_arrays_are_joined_with_commas() {
        let text = |json: &str| {
            let value: Value = sonic_rs::from_str(json).unwrap();
            scalar(&value).map(Cow::into_owned)
        };
        assert_eq!(
            text(r##"["Audit Success"]"##).as_deref(),
            Some("Audit Success")
        );
        assert_eq!(text(r##"["a", 1, true, {"#text": "t"}]"##), None);
        assert_eq!(text(r##"["a", 1, true]"##).as_deref(), Some("a,1,true"));
        assert_eq!(text("[]").as_deref(), Some(""));
        for none in [r#"["a", null]"#, "[null]", "[[1]]", r##"[{"#text": "t"}]"##] {
            assert_eq!(text(none), None, "{none}");
        }
        assert_eq!(text(r##"{"#text": ["x", "y"]}"##).as_deref(), Some("x,y"));
    }

    #[test]
    fn default_message_reads_as_the_format_did() {
        for id in [0, 7, 10, 4624, 4_294_967_295] {
            assert_eq!(
                default_message(id, "P", "H"),
                format!("Windows event {id} (P) on H")
            );
        }
    }

    fn ctx() -> DecodeContext {
        DecodeContext::new("test", 0)
    }

    #[test]
    fn forwarded_events_take_the_providers_log() {
        let line = r#"{"winlog":{"channel":"ForwardedEvents","event_id":"4625","computer_name":"SRV","provider_name":"Microsoft-Windows-Security-Auditing","event_data":{"TargetUserName":"bob","LogonType":"3"}}}"#;
        let e = decode(&crate::jv::parse_str(line).unwrap(), line, &ctx()).unwrap();
        assert_eq!(e.source.service, "security");
        assert_eq!(e.status, Status::Failure);
    }

    #[test]
    fn xmltodict_attributes_and_account_management() {
        let line = r##"{"Event":{"System":{"Provider":{"@Name":"Microsoft-Windows-Security-Auditing"},"EventID":"4625","TimeCreated":{"@SystemTime":"2026-11-27T03:22:01.5Z"},"Channel":"Security","Computer":"SRV"},"EventData":{"Data":[{"@Name":"TargetUserName","#text":"administrator"}]}}}"##;
        let e = decode(&crate::jv::parse_str(line).unwrap(), line, &ctx()).unwrap();
        assert_eq!(e.time_ms, 1_795_749_721_500);
        assert_eq!(e.source.service, "security");
        assert!(
            e.message.contains("Microsoft-Windows-Security-Auditing"),
            "{}",
            e.message
        );
        let line = r#"{"winlog":{"channel":"Security","event_id":"4720","computer_name":"DC01","event_data":{"SubjectUserName":"adm-bob","SubjectDomainName":"ACME","TargetUserName":"svc-backup2","TargetDomainName":"ACME"}}}"#;
        let e = decode(&crate::jv::parse_str(line).unwrap(), line, &ctx()).unwrap();
        assert_eq!(
            e.actor.user.as_deref(),
            Some("adm-bob"),
            "the administrator acts"
        );
        assert_eq!(&e.fields["action"], "user_account_created");
    }

    #[test]
    fn winlogbeat_console_logon() {
        let line = r#"{"@timestamp": "2026-03-10T07:52:40.000Z", "winlog": {"channel": "Security", "event_id": 4624, "computer_name": "PC-LYO-012", "provider_name": "Microsoft-Windows-Security-Auditing", "event_data": {"TargetUserName": "cdubois", "TargetDomainName": "ACME", "LogonType": "2", "IpAddress": "-", "WorkstationName": "PC-LYO-012"}}}"#;
        let e = decode(&crate::jv::parse_str(line).unwrap(), line, &ctx()).unwrap();
        assert_eq!(
            (e.class, e.activity, e.status),
            (EventClass::Authentication, Activity::Logon, Status::Success)
        );
        assert_eq!(e.logon, Some(LogonKind::Console));
        assert_eq!(e.actor.user.as_deref(), Some("cdubois"));
        assert_eq!(e.actor.domain.as_deref(), Some("ACME"));
        assert_eq!(e.src.ip, None);
        assert_eq!(e.host.as_deref(), Some("PC-LYO-012"));
        assert_eq!(e.dst.hostname.as_deref(), Some("PC-LYO-012"));
        assert_eq!(&e.fields["EventID"], "4624");
        assert_eq!(&e.fields["LogonType"], "2");
        assert_eq!(
            &e.fields["Provider_Name"],
            "Microsoft-Windows-Security-Auditing"
        );
        assert_eq!(e.source.service, "security");
        assert_eq!(e.time_rfc3339(), "2026-03-10T07:52:40.000Z");
    }

    #[test]
    fn evtx_json_with_named_data_array_and_mapped_ipv6() {
        let line = r##"{"Event":{"System":{"EventID":{"#text":4625},"Channel":"Security","Computer":"DC1","TimeCreated":{"#attributes":{"SystemTime":"2019-03-19T23:35:05.123Z"}},"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing"}}},"EventData":{"Data":[{"#attributes":{"Name":"TargetUserName"},"#text":"CORP\\bob"},{"#attributes":{"Name":"LogonType"},"#text":"10"},{"#attributes":{"Name":"IpAddress"},"#text":"::ffff:10.1.2.3"},{"#attributes":{"Name":"IpPort"},"#text":"5050"}]}}}"##;
        let e = decode(&crate::jv::parse_str(line).unwrap(), line, &ctx()).unwrap();
        assert_eq!(e.status, Status::Failure);
        assert_eq!(e.logon, Some(LogonKind::RemoteInteractive));
        assert_eq!(e.actor.user.as_deref(), Some("bob"));
        assert_eq!(e.actor.domain.as_deref(), Some("CORP"));
        assert_eq!(e.src.ip, "10.1.2.3".parse().ok());
        assert_eq!(e.src.port, Some(5050));
        assert_eq!(e.time_rfc3339(), "2019-03-19T23:35:05.123Z");
    }

    #[test]
    fn lockout_process_and_flat_shapes() {
        let line = r#"{"EventID": "4740", "Channel": "Security", "Computer": "DC1", "TargetUserName": "alice", "TargetDomainName": "PC-7", "TimeCreated": "2026-03-10 09:00:00"}"#;
        let e = decode(&crate::jv::parse_str(line).unwrap(), line, &ctx()).unwrap();
        assert_eq!(
            (e.class, e.activity, e.status),
            (EventClass::Authentication, Activity::Other, Status::Failure)
        );
        assert_eq!(&e.fields["action"], "account_locked");
        assert_eq!(e.actor.domain, None);
        assert_eq!(e.logon, None);
        let line = r#"{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws"},"EventData":{"Image":"C:\\x.exe","User":"WS\\eve","ProcessId":12}}}"#;
        let e = decode(&crate::jv::parse_str(line).unwrap(), line, &ctx()).unwrap();
        assert_eq!(
            (e.class, e.activity),
            (EventClass::ProcessActivity, Activity::Launch)
        );
        assert_eq!(e.actor.user.as_deref(), Some("eve"));
        assert_eq!(&e.fields["ProcessId"], "12");
        assert_eq!(e.source.service, "sysmon");
        let err = decode(&sonic_rs::json!({"a": 1}), "{}", &ctx()).unwrap_err();
        assert!(err.contains("EventID"), "{err}");
    }
}
