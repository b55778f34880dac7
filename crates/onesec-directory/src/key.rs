//! Normalised lookup keys: case-folded identifiers, account names and badge numbers.
//!
//! Keys are stored folded (Unicode lower case) at load time. At lookup time the query is folded
//! into a stack buffer when it is short ASCII (the usual case), so resolving an event does not
//! allocate for its lookups.

/// Longest key folded on the stack; longer or non-ASCII keys fall back to a `String`.
const STACK: usize = 96;

/// A folded (lower-case) key, on the stack when it can be.
pub(crate) enum Folded {
    /// Short ASCII key.
    Stack([u8; STACK], usize),
    /// Long or non-ASCII key.
    Heap(String),
}

impl Folded {
    /// Folds the concatenation of `parts`.
    pub(crate) fn of(parts: &[&str]) -> Folded {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total <= STACK && parts.iter().all(|p| p.is_ascii()) {
            let mut buf = [0u8; STACK];
            let mut len = 0;
            for part in parts {
                for byte in part.bytes() {
                    if let Some(slot) = buf.get_mut(len) {
                        *slot = byte.to_ascii_lowercase();
                        len += 1;
                    }
                }
            }
            return Folded::Stack(buf, len);
        }
        let mut text = String::with_capacity(total);
        for part in parts {
            text.push_str(&part.to_lowercase());
        }
        Folded::Heap(text)
    }

    /// The folded text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Folded::Stack(buf, len) => buf
                .get(..*len)
                .and_then(|bytes| std::str::from_utf8(bytes).ok())
                .unwrap_or(""),
            Folded::Heap(text) => text,
        }
    }
}

/// The folded form of an identifier, for storing as a map key.
pub(crate) fn fold(text: &str) -> String {
    text.trim().to_lowercase()
}

/// The significant part of a badge number: trimmed, without `0x`, without leading zeros
/// (not yet case-folded).
pub(crate) fn badge_core(badge: &str) -> &str {
    let text = badge.trim();
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let stripped = text.trim_start_matches('0');
    if stripped.is_empty() && !text.is_empty() {
        "0"
    } else {
        stripped
    }
}

/// The stored key of a badge number: `0x004F21B3`, `4f21b3` and `0x4F21B3` share one key.
pub(crate) fn badge_key(badge: &str) -> String {
    badge_core(badge).to_lowercase()
}

/// Splits `DOMAIN\user` into its domain and user; a name without backslash has no domain.
pub(crate) fn split_account(account: &str) -> (Option<&str>, &str) {
    match account.split_once('\\') {
        Some((domain, user)) => (Some(domain.trim()), user.trim()),
        None => (None, account.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_normalise_prefix_case_and_zeros() {
        assert_eq!(badge_key("0x4F21B3"), "4f21b3");
        assert_eq!(badge_key("4f21b3"), "4f21b3");
        assert_eq!(badge_key(" 0x004F21B3 "), "4f21b3");
        assert_eq!(badge_key("0X0000"), "0");
        assert_eq!(badge_key("000123"), "123");
        assert_eq!(badge_key(""), "");
    }

    #[test]
    fn folding_matches_stored_keys() {
        assert_eq!(
            Folded::of(&["ACME", "\\", "DOkafor"]).as_str(),
            "acme\\dokafor"
        );
        assert_eq!(Folded::of(&["Élodie"]).as_str(), fold("ÉLODIE"));
        let long = "X".repeat(200);
        assert_eq!(Folded::of(&[&long]).as_str(), fold(&long));
    }

    #[test]
    fn accounts_split_on_backslash() {
        assert_eq!(split_account("ACME\\alice"), (Some("ACME"), "alice"));
        assert_eq!(split_account("alice"), (None, "alice"));
    }
}
