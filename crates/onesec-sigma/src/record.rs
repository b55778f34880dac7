//! The input abstraction: what a rule is matched against.

use std::borrow::Cow;

/// A field value as a rule sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue<'a> {
    /// A string.
    Str(Cow<'a, str>),
    /// An integer.
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// An explicit null (treated like an absent field by `null` values and `exists`).
    Null,
    /// A multi-valued field: a value matches when any element matches.
    List(Vec<FieldValue<'a>>),
}

impl FieldValue<'_> {
    /// The value rendered as text for group keys and field references (`None` for null).
    pub fn to_text(&self) -> Option<String> {
        match self {
            FieldValue::Str(s) => Some(s.to_string()),
            FieldValue::Int(i) => Some(i.to_string()),
            FieldValue::Float(f) => Some(float_text(*f)),
            FieldValue::Bool(b) => Some(b.to_string()),
            FieldValue::Null => None,
            FieldValue::List(items) => {
                let parts: Vec<String> = items.iter().filter_map(|v| v.to_text()).collect();
                if parts.is_empty() {
                    None
                } else {
                    Some(parts.join(","))
                }
            }
        }
    }

    /// True for `Null` (and for an empty list).
    pub fn is_null(&self) -> bool {
        match self {
            FieldValue::Null => true,
            FieldValue::List(items) => items.is_empty(),
            _ => false,
        }
    }
}

/// Renders a float the way a rule author would write it (`2` rather than `2.0` for integral values).
pub(crate) fn float_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Anything a rule can be matched against.
pub trait Record {
    /// Field by Sigma name (names may be dotted, e.g. `person.status`); None when absent.
    fn field(&self, name: &str) -> Option<FieldValue<'_>>;
    /// Calls `f` on every string value of the record (for keyword / value-only detections);
    /// stops early when `f` returns true; returns whether `f` returned true.
    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool;
    /// Whether this record belongs to the rule's logsource key/value, e.g.
    /// `("category", "physical_access")`, `("product", "windows")`, `("service", "security")`.
    /// Case-insensitive comparison is the implementor's job (the engine passes the rule's value
    /// ASCII-lowercased and asks once per distinct pair and event).
    fn in_logsource(&self, key: &str, value: &str) -> bool;
    /// Event time, milliseconds since the Unix epoch (UTC).
    fn time_ms(&self) -> i64;
    /// Optional: a token standing for this record's log source. Records that return the same
    /// `Some(token)` (to one engine) must answer [`Record::in_logsource`] alike for every pair;
    /// the engine then asks `in_logsource` only for the first record of each token and reuses
    /// what it found for the others. The default, `None`, makes the engine ask every record.
    fn logsource_token(&self) -> Option<u64> {
        None
    }
    /// Lists the record's top-level fields in one pass, so that the engine can index them at
    /// once instead of asking [`Record::field`] for every name its rules use. Optional: the
    /// default lists nothing and returns false (the engine then asks field by field).
    ///
    /// `f` receives each name and a function that gives its value (called only for the names
    /// the rules use). A record that returns true promises, for every name `n` and the calls
    /// `f(name, value)` it made: when `n` has no dot, `field(n)` is `Some(value())` exactly
    /// when `f` was called with `n`; when `n` has dots, `field(n)` is `Some(value())` if `f`
    /// was called with `n`, and otherwise can only be `Some` when `f` was called with a
    /// dot-separated prefix of `n` (`a` or `a.b` for `a.b.c`: the name reaches into that
    /// field's value).
    fn for_each_field<'a>(
        &'a self,
        f: &mut dyn FnMut(&'a str, &dyn Fn() -> FieldValue<'a>),
    ) -> bool {
        let _ = f;
        false
    }
}

impl<R: Record + ?Sized> Record for &R {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        (**self).field(name)
    }
    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        (**self).any_value(f)
    }
    fn in_logsource(&self, key: &str, value: &str) -> bool {
        (**self).in_logsource(key, value)
    }
    fn time_ms(&self) -> i64 {
        (**self).time_ms()
    }
    fn logsource_token(&self) -> Option<u64> {
        (**self).logsource_token()
    }
    fn for_each_field<'a>(
        &'a self,
        f: &mut dyn FnMut(&'a str, &dyn Fn() -> FieldValue<'a>),
    ) -> bool {
        (**self).for_each_field(f)
    }
}

/// Formats an integer into a stack buffer (no allocation) and returns the text.
pub(crate) fn int_text(n: i64, buf: &mut [u8; 24]) -> &str {
    let mut i = buf.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    // Only ASCII digits and '-' were written.
    std::str::from_utf8(&buf[i..]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_text_formats() {
        let mut b = [0u8; 24];
        assert_eq!(int_text(0, &mut b), "0");
        assert_eq!(int_text(4624, &mut b), "4624");
        assert_eq!(int_text(-17, &mut b), "-17");
        assert_eq!(int_text(i64::MIN, &mut b), i64::MIN.to_string());
        assert_eq!(float_text(2.0), "2");
        assert_eq!(float_text(2.5), "2.5");
    }
}
