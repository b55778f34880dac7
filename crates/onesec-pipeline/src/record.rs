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

    fn time_ms(&self) -> i64 {
        self.0.time_ms
    }
}
