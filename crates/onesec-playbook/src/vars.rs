//! Variables at run time and their substitution into commands.
//!
//! CACAO names variables `__name__` and references their value as `__name__:value`. Only that
//! form is substituted: a bare `__name__` is left as written (the validator warns about it),
//! because text like `__init__` in a script must not change meaning by accident.

use std::collections::BTreeMap;

/// Values a connector returns for a step's `out_args`: variable name → value.
pub type Outputs = BTreeMap<String, String>;

/// One variable slot: its value (`None` = unknown, JSON null) and whether it may change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Slot {
    pub value: Option<String>,
    pub constant: bool,
}

/// A scope of variables, ordered by name so logs and iteration are deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Vars {
    slots: BTreeMap<String, Slot>,
}

/// Why a variable could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    #[error("variable {0} is not declared")]
    Undeclared(String),
    #[error("variable {0} is constant")]
    Constant(String),
}

impl Vars {
    pub fn new() -> Self {
        Vars::default()
    }

    /// Declares a variable (or redeclares it, which a step scope does over the playbook's).
    pub fn declare(&mut self, name: &str, value: Option<String>, constant: bool) {
        self.slots
            .insert(name.to_string(), Slot { value, constant });
    }

    /// `None` when undeclared; `Some(None)` when declared without a value.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.slots.get(name).map(|s| s.value.as_deref())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.slots.contains_key(name)
    }

    /// Changes a declared, non-constant variable.
    pub fn set(&mut self, name: &str, value: String) -> Result<(), VarError> {
        let slot = self
            .slots
            .get_mut(name)
            .ok_or_else(|| VarError::Undeclared(name.to_string()))?;
        if slot.constant {
            return Err(VarError::Constant(name.to_string()));
        }
        slot.value = Some(value);
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Slot)> {
        self.slots.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// This scope with `inner` laid over it (step variables over playbook variables).
    pub fn overlaid(&self, inner: &Vars) -> Vars {
        let mut out = self.clone();
        for (name, slot) in &inner.slots {
            out.slots.insert(name.clone(), slot.clone());
        }
        out
    }

    /// Replaces every `__name__:value` of a variable with a value; unknown names and variables
    /// without a value stay as written.
    pub fn substitute(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("__") {
            out.push_str(&rest[..start]);
            let tail = &rest[start..];
            match self.reference_at(tail) {
                Some((value, len)) => {
                    out.push_str(value);
                    rest = &tail[len..];
                }
                None => {
                    out.push_str("__");
                    rest = &tail[2..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// If `tail` starts with `__name__:value` of a variable with a value: (value, length).
    fn reference_at<'a>(&'a self, tail: &str) -> Option<(&'a str, usize)> {
        self.slots.iter().find_map(|(name, slot)| {
            let value = slot.value.as_deref()?;
            let after = tail.strip_prefix(name.as_str())?;
            after
                .starts_with(":value")
                .then_some((value, name.len() + ":value".len()))
        })
    }
}

/// CACAO variable names: `__` + letter or `_` + up to 199 of `[A-Za-z0-9_-]` + `__`.
pub fn is_variable_name(name: &str) -> bool {
    let Some(inner) = name.strip_prefix("__").and_then(|s| s.strip_suffix("__")) else {
        return false;
    };
    let mut chars = inner.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && inner.len() <= 200
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Names referenced as `__name__:value` in a text (for validation).
pub fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices(":value") {
        let before = &text[..i];
        if !before.ends_with("__") {
            continue;
        }
        let body = &before[..before.len() - 2];
        let Some(start) = body.rfind("__") else {
            continue;
        };
        let candidate = &before[start..];
        if is_variable_name(candidate) {
            out.push(candidate.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_cacao_pattern() {
        assert!(is_variable_name("__ip__"));
        assert!(is_variable_name("__src-ip_2__"));
        assert!(!is_variable_name("ip"));
        assert!(!is_variable_name("__2ip__"));
        assert!(!is_variable_name("____"));
        assert!(!is_variable_name("__a b__"));
    }

    #[test]
    fn only_the_value_form_is_substituted() {
        let mut v = Vars::new();
        v.declare("__ip__", Some("10.0.0.1".into()), false);
        v.declare("__unknown__", None, false);
        assert_eq!(
            v.substitute(
                "block __ip__:value; keep __ip__ and __unknown__:value and __other__:value"
            ),
            "block 10.0.0.1; keep __ip__ and __unknown__:value and __other__:value"
        );
    }

    #[test]
    fn constants_refuse_changes() {
        let mut v = Vars::new();
        v.declare("__c__", Some("1".into()), true);
        assert_eq!(
            v.set("__c__", "2".into()),
            Err(VarError::Constant("__c__".into()))
        );
        assert_eq!(
            v.set("__x__", "2".into()),
            Err(VarError::Undeclared("__x__".into()))
        );
    }

    #[test]
    fn references_are_found() {
        assert_eq!(
            references("GET http://__host__:value/x/__id__:value?__nope__"),
            vec!["__host__", "__id__"]
        );
    }
}
