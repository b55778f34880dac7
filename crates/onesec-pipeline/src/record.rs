//! How detection sees an event: the Sigma [`Record`] view of an [`Event`].

use onesec_event::{Event, Value};
use onesec_sigma::{FieldValue, Record};

/// Borrowed Sigma view of an event (field names: `docs/fields.md`).
pub struct EventRecord<'a>(pub &'a Event);

fn convert(value: Value<'_>) -> FieldValue<'_> {
    match value {
        Value::Str(s) => FieldValue::Str(s),
        Value::Int(i) => FieldValue::Int(i),
        Value::Bool(b) => FieldValue::Bool(b),
        Value::List(items) => FieldValue::List(
            items
                .into_iter()
                .map(|s| FieldValue::Str(std::borrow::Cow::Borrowed(s)))
                .collect(),
        ),
    }
}

impl Record for EventRecord<'_> {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        self.0.lookup(name).map(convert)
    }

    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.0.any_text(f)
    }

    fn in_logsource(&self, key: &str, value: &str) -> bool {
        self.0.in_logsource(key, value)
    }

    fn logsource_token(&self) -> Option<u64> {
        // Everything `in_logsource` reads, hashed (see `Event::logsource_token`): the engine
        // then tests the log-source pairs once per token instead of once per event.
        Some(self.0.logsource_token())
    }

    fn time_ms(&self) -> i64 {
        self.0.time_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_event::{Activity, EventClass};

    fn event(product: &str, service: &str, class: EventClass, activity: Activity) -> Event {
        let mut e = Event::new(0, class, activity);
        e.source.product = product.to_string().into();
        e.source.service = service.to_string().into();
        e
    }

    fn windows(channel: &str, id: &str) -> Event {
        let mut e = event("windows", "", EventClass::ProcessActivity, Activity::Other);
        e.fields.insert("Channel", channel);
        e.fields.insert("EventID", id);
        e
    }

    /// The contract of `Record::logsource_token`: the same token, the same answers.
    #[test]
    fn same_token_same_log_source_answers() {
        let mut events = vec![
            event(
                "onesec",
                "",
                EventClass::PhysicalAccess,
                Activity::PortalForced,
            ),
            event(
                "onesec",
                "",
                EventClass::PhysicalAccess,
                Activity::PortalNormal,
            ),
            event(
                "OneSec",
                "",
                EventClass::PhysicalAccess,
                Activity::AccessGranted,
            ),
            event(
                "onesec",
                "",
                EventClass::PhysicalAccess,
                Activity::AccessDenied,
            ),
            event("linux", "sshd", EventClass::Authentication, Activity::Other),
            event("Linux", "SSHD", EventClass::Authentication, Activity::Other),
            event("linux", "sudo", EventClass::Authentication, Activity::Other),
            windows("Microsoft-Windows-Sysmon/Operational", "1"),
            windows("microsoft-windows-sysmon/operational", "1"),
            windows("Microsoft-Windows-Sysmon/Operational", "3"),
            windows("Microsoft-Windows-Sysmon/Operational", "13"),
            windows("Security", "4688"),
            windows("Security", "4624"),
        ];
        let mut noisy = windows("Security", "4624");
        noisy.fields.insert("TargetUserName", "bob");
        noisy.message = "other text".into();
        events.push(noisy);
        let pairs: Vec<(&str, &str)> = [
            ("product", "onesec"),
            ("product", "linux"),
            ("product", "windows"),
            ("service", "sshd"),
            ("service", "sudo"),
            ("service", "security"),
        ]
        .into_iter()
        .chain(
            [
                "physical_access",
                "door",
                "authentication",
                "process_creation",
                "network_connection",
                "registry_set",
                "registry_event",
                "image_load",
                "any",
            ]
            .map(|c| ("category", c)),
        )
        .collect();
        let records: Vec<EventRecord<'_>> = events.iter().map(EventRecord).collect();
        let answers = |r: &EventRecord<'_>| -> Vec<bool> {
            pairs.iter().map(|(k, v)| r.in_logsource(k, v)).collect()
        };
        let mut distinct = std::collections::BTreeSet::new();
        for a in &records {
            for b in &records {
                if a.logsource_token() == b.logsource_token() {
                    assert_eq!(
                        answers(a),
                        answers(b),
                        "{:?} / {:?}",
                        a.0.source,
                        b.0.source
                    );
                }
            }
            distinct.insert(a.logsource_token());
        }
        // Sources that answer differently get their own tokens; the case of a name, the
        // channel's and other fields do not matter, nor how a Windows process creation was
        // logged (Sysmon 1 and Security 4688 are both `process_creation`): 8 tokens.
        assert_eq!(distinct.len(), 8, "{distinct:?}");
        assert_eq!(records[7].logsource_token(), records[11].logsource_token());
        assert_eq!(records[4].logsource_token(), records[5].logsource_token());
        assert_eq!(records[7].logsource_token(), records[8].logsource_token());
        assert_eq!(records[12].logsource_token(), records[13].logsource_token());
        assert_ne!(records[0].logsource_token(), records[3].logsource_token());
    }
}
