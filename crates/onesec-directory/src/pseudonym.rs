//! Pseudonymisation: person identifiers replaced by keyed pseudonyms right after resolution,
//! before an event is journaled (docs/privacy.md, "Pseudonymisation").
//!
//! A pseudonym is `psn_` + 16 base32 characters of HMAC-SHA256(key, kind tag ‖ 0 ‖ normalised
//! identifier), truncated to 80 bits. The kind tag keeps a badge and an account with the same
//! text apart; normalising (case, a badge's `0x` and leading zeros) gives one pseudonym to every
//! spelling the directory would resolve alike. The same key always gives the same pseudonym, so
//! detection (rules, correlation by person) runs on pseudonyms unchanged.
//!
//! The key lives outside the data folder. Whoever holds it and the directory can go back:
//! [`PseudonymTable`] computes every directory person's pseudonyms at load and keeps the
//! reverse map in memory only, for the reveal on an incident's page.

use crate::Directory;
use crate::key::{badge_key, fold};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use hmac::{Hmac, Mac};
use onesec_event::Event;
use serde::Serialize;
use sha2::Sha256;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Prefix of every pseudonym.
pub const PSEUDONYM_PREFIX: &str = "psn_";
/// Key length in bytes (HMAC-SHA256 key, 256 bits).
pub const KEY_BYTES: usize = 32;
/// Bytes of the HMAC kept in a pseudonym (80 bits: 16 base32 characters).
const PSEUDONYM_BYTES: usize = 10;
/// Fewest distinct byte values a key of 32 random bytes may have. Random keys have about 30;
/// fewer than 12 happens by chance with a probability far below 2^-100, so such a key was
/// typed or patterned, not generated.
const MIN_DISTINCT_KEY_BYTES: usize = 12;
/// Shortest identifier searched for in free text (raw lines, messages, fields): shorter ones
/// would replace parts of unrelated words and numbers.
const MIN_TEXT_IDENTIFIER: usize = 3;

/// What a pseudonym stands for; each kind has its own domain tag in the HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// A directory person id (`person_id`).
    Person,
    /// A person's name (the directory's display name, or a holder name an access system sent).
    Name,
    /// An account name (`user`, `DOMAIN\user`).
    Account,
    /// A badge or card number.
    Badge,
    /// An e-mail address.
    Email,
}

impl IdKind {
    fn tag(self) -> &'static [u8] {
        match self {
            IdKind::Person => b"onesec/person",
            IdKind::Name => b"onesec/name",
            IdKind::Account => b"onesec/account",
            IdKind::Badge => b"onesec/badge",
            IdKind::Email => b"onesec/email",
        }
    }

    /// The spelling-independent form of an identifier of this kind.
    fn normalise(self, text: &str) -> String {
        match self {
            IdKind::Badge => badge_key(text),
            IdKind::Name => text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase(),
            IdKind::Person | IdKind::Account | IdKind::Email => fold(text),
        }
    }
}

/// Why a pseudonymisation key was refused.
#[derive(Debug, thiserror::Error)]
pub enum PseudonymKeyError {
    /// The key file could not be read.
    #[error("pseudonymisation key {}: cannot read: {source}", file.display())]
    Read {
        /// The key file.
        file: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The key file may be read by other users.
    #[error(
        "pseudonymisation key {}: readable by group or others (mode {mode:o}); run `chmod 600` on it",
        file.display()
    )]
    Exposed {
        /// The key file.
        file: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file lies inside the data folder, which it is meant to be kept apart from.
    #[error(
        "pseudonymisation key {}: inside the data folder {}; keep it elsewhere (whoever has both can undo the pseudonyms)",
        file.display(), data_dir.display()
    )]
    InsideDataDir {
        /// The key file.
        file: PathBuf,
        /// The data folder.
        data_dir: PathBuf,
    },
    /// The environment variable named for the key is not set.
    #[error("pseudonymisation key: environment variable {0} is not set")]
    MissingEnv(String),
    /// Neither a key file nor an environment variable was configured.
    #[error(
        "pseudonymisation is enabled but no key is configured: set [privacy.pseudonymisation] key_file or key_env (create a key with `onesec privacy pseudonym-key`)"
    )]
    NotConfigured,
    /// The text is not 64 hexadecimal digits.
    #[error("pseudonymisation key from {origin}: {why} (expected 64 hexadecimal digits, 32 bytes)")]
    Malformed {
        /// Where the key came from.
        origin: String,
        /// What is wrong.
        why: String,
    },
    /// The key has too little variety to be random.
    #[error(
        "pseudonymisation key from {origin}: only {distinct} distinct byte values in 32 bytes: not a random key (create one with `onesec privacy pseudonym-key`)"
    )]
    Weak {
        /// Where the key came from.
        origin: String,
        /// Distinct byte values found.
        distinct: usize,
    },
}

/// A 32-byte HMAC key. Its `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct PseudonymKey([u8; KEY_BYTES]);

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

impl PseudonymKey {
    /// The key written as 64 hexadecimal digits (surrounding white space ignored); `origin`
    /// names where it came from in errors.
    pub fn from_hex(text: &str, origin: &str) -> Result<PseudonymKey, PseudonymKeyError> {
        let malformed = |why: String| PseudonymKeyError::Malformed {
            origin: origin.to_string(),
            why,
        };
        let text = text.trim();
        if text.len() != KEY_BYTES * 2 {
            return Err(malformed(format!("{} characters", text.len())));
        }
        let mut bytes = [0u8; KEY_BYTES];
        for (slot, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
            let digits = std::str::from_utf8(pair).map_err(|_| malformed("not ASCII".into()))?;
            *slot = u8::from_str_radix(digits, 16)
                .map_err(|_| malformed(format!("`{digits}` is not hexadecimal")))?;
        }
        PseudonymKey::from_bytes(bytes, origin)
    }

    /// The key from raw bytes, refused when it cannot have been generated at random.
    pub fn from_bytes(
        bytes: [u8; KEY_BYTES],
        origin: &str,
    ) -> Result<PseudonymKey, PseudonymKeyError> {
        let mut seen = [false; 256];
        for b in bytes {
            if let Some(slot) = seen.get_mut(usize::from(b)) {
                *slot = true;
            }
        }
        let distinct = seen.iter().filter(|s| **s).count();
        if distinct < MIN_DISTINCT_KEY_BYTES {
            return Err(PseudonymKeyError::Weak {
                origin: origin.to_string(),
                distinct,
            });
        }
        Ok(PseudonymKey(bytes))
    }

    /// Reads a key file: 64 hex digits, readable by its owner only, outside `data_dir` (when
    /// the caller has one).
    pub fn load_file(
        file: &Path,
        data_dir: Option<&Path>,
    ) -> Result<PseudonymKey, PseudonymKeyError> {
        let absolute = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        if let Some(data_dir) = data_dir
            && absolute(file).starts_with(absolute(data_dir))
        {
            return Err(PseudonymKeyError::InsideDataDir {
                file: file.to_path_buf(),
                data_dir: data_dir.to_path_buf(),
            });
        }
        let read_error = |source| PseudonymKeyError::Read {
            file: file.to_path_buf(),
            source,
        };
        check_owner_only(file).map_err(|e| match e {
            Ok(mode) => PseudonymKeyError::Exposed {
                file: file.to_path_buf(),
                mode,
            },
            Err(io) => read_error(io),
        })?;
        let text = std::fs::read_to_string(file).map_err(read_error)?;
        PseudonymKey::from_hex(&text, &file.display().to_string())
    }

    /// Reads the key from the environment variable `name`.
    pub fn from_env(name: &str) -> Result<PseudonymKey, PseudonymKeyError> {
        let text =
            std::env::var(name).map_err(|_| PseudonymKeyError::MissingEnv(name.to_string()))?;
        PseudonymKey::from_hex(&text, &format!("environment variable {name}"))
    }

    /// The key as 64 lower-case hex digits (for writing a new key file).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// `Err(Ok(mode))` when group or others may read `file`.
#[cfg(unix)]
fn check_owner_only(file: &Path) -> Result<(), Result<u32, std::io::Error>> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file).map_err(Err)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Ok(mode));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(file: &Path) -> Result<(), Result<u32, std::io::Error>> {
    std::fs::metadata(file).map(|_| ()).map_err(Err)
}

/// HMAC-SHA256 (RFC 2104) with the key's padded blocks absorbed once.
#[derive(Clone)]
pub struct Pseudonymiser {
    /// HMAC-SHA256 already keyed (its padded key blocks hashed once), cloned per pseudonym.
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pseudonymiser(..)")
    }
}

impl Pseudonymiser {
    /// A pseudonymiser for `key`.
    pub fn new(key: &PseudonymKey) -> Pseudonymiser {
        // HMAC takes a key of any length; ours is always 32 bytes.
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(&key.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        Pseudonymiser { keyed }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// The pseudonym of `text` as an identifier of `kind`.
    pub fn pseudonym(&self, kind: IdKind, text: &str) -> String {
        let normal = kind.normalise(text);
        let mac = self.mac(&[kind.tag(), &[0], normal.as_bytes()]);
        let mut out = String::with_capacity(PSEUDONYM_PREFIX.len() + 16);
        out.push_str(PSEUDONYM_PREFIX);
        base32_into(mac.get(..PSEUDONYM_BYTES).unwrap_or(&mac), &mut out);
        out
    }

    /// The pseudonym a person's events carry as `resolved.person.id`: what the store indexes,
    /// so what the data subject requests look up.
    pub fn person(&self, person_id: &str) -> String {
        self.pseudonym(IdKind::Person, person_id)
    }
}

/// Whether `text` looks like a pseudonym (`psn_` + 16 base32 characters).
pub fn is_pseudonym(text: &str) -> bool {
    text.strip_prefix(PSEUDONYM_PREFIX).is_some_and(|rest| {
        rest.len() == 16 && rest.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7'))
    })
}

/// Lower-case RFC 4648 base32 without padding.
fn base32_into(bytes: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let index = ((buffer >> bits) & 31) as usize;
            out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'a')));
        }
    }
    if bits > 0 {
        let index = ((buffer << (5 - bits)) & 31) as usize;
        out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'a')));
    }
}

/// Who a pseudonym stands for, as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// What kind of identifier the pseudonym replaced.
    pub kind: IdKind,
    /// The identifier as the directory lists it.
    pub value: String,
    /// The person it belongs to.
    pub person_id: String,
    /// That person's name.
    pub person_name: String,
}

/// The pseudonyms of one directory: the reverse map (memory only) and the search for its
/// identifiers in free text.
pub struct PseudonymTable {
    pseudonymiser: Pseudonymiser,
    reverse: HashMap<String, Identity>,
    /// Person id (folded) → (id pseudonym, name pseudonym), so resolved events need no HMAC.
    persons: HashMap<String, (String, String)>,
    /// Every directory identifier of at least [`MIN_TEXT_IDENTIFIER`] bytes, ASCII case-blind,
    /// longest first at a position.
    search: Option<AhoCorasick>,
    /// The pseudonym of each pattern of `search`.
    replacements: Vec<String>,
}

impl fmt::Debug for PseudonymTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PseudonymTable")
            .field("identities", &self.reverse.len())
            .field("text_patterns", &self.replacements.len())
            .finish()
    }
}

impl PseudonymTable {
    /// Computes the pseudonym of every person id, name, account, e-mail and badge of
    /// `directory`.
    pub fn build(directory: &Directory, pseudonymiser: &Pseudonymiser) -> PseudonymTable {
        let mut reverse = HashMap::new();
        let mut persons = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut replacements = Vec::new();
        for person in directory.people() {
            let mut add = |kind: IdKind, value: &str, spellings: &[&str]| {
                let pseudonym = pseudonymiser.pseudonym(kind, value);
                for spelling in spellings {
                    if spelling.len() >= MIN_TEXT_IDENTIFIER {
                        patterns.push(spelling.to_string());
                        replacements.push(pseudonym.clone());
                    }
                }
                reverse.entry(pseudonym.clone()).or_insert(Identity {
                    kind,
                    value: value.to_string(),
                    person_id: person.id.clone(),
                    person_name: person.name.clone(),
                });
                pseudonym
            };
            let id = add(IdKind::Person, &person.id, &[person.id.trim()]);
            let name = add(IdKind::Name, &person.name, &[person.name.trim()]);
            persons.insert(fold(&person.id), (id, name));
            for account in &person.accounts {
                add(IdKind::Account, account, &[account.trim()]);
            }
            for email in &person.emails {
                add(IdKind::Email, email, &[email.trim()]);
                // An e-mail is also matched as an account name (DIRECTORY.md).
                add(IdKind::Account, email, &[]);
            }
            for badge in &person.badges {
                let core = crate::key::badge_core(badge);
                let prefixed = format!("0x{core}");
                add(IdKind::Badge, badge, &[badge.trim(), core, &prefixed]);
            }
        }
        let search = build_search(&patterns);
        PseudonymTable {
            pseudonymiser: pseudonymiser.clone(),
            reverse,
            persons,
            search,
            replacements,
        }
    }

    /// Who `pseudonym` stands for, when it is one of the directory's.
    pub fn reveal(&self, pseudonym: &str) -> Option<&Identity> {
        self.reverse.get(pseudonym)
    }

    /// How many identities the table can reveal.
    pub fn len(&self) -> usize {
        self.reverse.len()
    }

    /// Whether the directory had no person identifiers.
    pub fn is_empty(&self) -> bool {
        self.reverse.is_empty()
    }

    /// Replaces every person identifier of a resolved event by its pseudonym: the resolved
    /// person's id and name, the actor's account, badge and holder name (whether or not the
    /// directory knows them), and every directory identifier or actor identifier in the raw
    /// record, the message and the source fields. Status, department, home site, places and
    /// devices are kept: detection needs them and they name no one.
    pub fn pseudonymise(&self, event: &mut Event) {
        let mut local: Vec<(String, String)> = Vec::new();
        let actor = &mut event.actor;
        if let Some(user) = actor.user.as_mut() {
            let kind = if user.contains('@') {
                IdKind::Email
            } else {
                IdKind::Account
            };
            // A bare `user` of an event keeps its domain apart (`actor.domain`); an inline
            // `DOMAIN\user` is pseudonymised whole, as the directory lists it.
            let pseudonym = self.pseudonymiser.pseudonym(kind, user);
            local.push((std::mem::replace(user, pseudonym.clone()), pseudonym));
        }
        if let Some(badge) = actor.badge.as_mut() {
            let pseudonym = self.pseudonymiser.pseudonym(IdKind::Badge, badge);
            let clear = std::mem::replace(badge, pseudonym.clone());
            let core = crate::key::badge_core(&clear).to_string();
            local.push((clear, pseudonym.clone()));
            local.push((core, pseudonym));
        }
        if let Some(holder) = actor.holder_name.as_mut() {
            let pseudonym = self.pseudonymiser.pseudonym(IdKind::Name, holder);
            local.push((std::mem::replace(holder, pseudonym.clone()), pseudonym));
        }
        if let Some(person) = event.resolved.person.as_mut() {
            let (id, name) = match self.persons.get(&fold(&person.id)) {
                Some((id, name)) => (id.clone(), name.clone()),
                None => (
                    self.pseudonymiser.pseudonym(IdKind::Person, &person.id),
                    self.pseudonymiser.pseudonym(IdKind::Name, &person.name),
                ),
            };
            local.push((std::mem::replace(&mut person.id, id.clone()), id));
            local.push((std::mem::replace(&mut person.name, name.clone()), name));
        }
        local.retain(|(clear, _)| clear.trim().len() >= MIN_TEXT_IDENTIFIER);
        // Longest first, so `ACME\alice` is replaced before `alice`.
        local.sort_by_key(|(clear, _)| std::cmp::Reverse(clear.len()));
        let scrub = |text: &mut String| {
            if let Some(done) = self.scrub_text(text, &local) {
                *text = done;
            }
        };
        scrub(&mut event.raw);
        scrub(&mut event.message);
        event
            .fields
            .map_values(|value| self.scrub_text(value, &local));
    }

    /// `text` with every identifier of the directory's people standing as a word replaced by
    /// its pseudonym, as in an event's raw record; `None` when there is none. For text that
    /// never became an event (a dead letter's raw line), which has no actor of its own.
    pub fn scrub(&self, text: &str) -> Option<String> {
        self.scrub_text(text, &[])
    }

    /// `text` with every directory identifier and every `local` identifier (standing as a
    /// word) replaced by its pseudonym; `None` when nothing was found.
    fn scrub_text(&self, text: &str, local: &[(String, String)]) -> Option<String> {
        let mut current: Option<String> = None;
        if let Some(search) = &self.search {
            let mut out = String::new();
            let mut last = 0;
            for found in search.find_iter(text) {
                if !stands_alone(text, found.start(), found.end()) {
                    continue;
                }
                let Some(replacement) = self.replacements.get(found.pattern().as_usize()) else {
                    continue;
                };
                out.push_str(text.get(last..found.start()).unwrap_or(""));
                out.push_str(replacement);
                last = found.end();
            }
            if last > 0 {
                out.push_str(text.get(last..).unwrap_or(""));
                current = Some(out);
            }
        }
        for (clear, pseudonym) in local {
            let base = current.as_deref().unwrap_or(text);
            if let Some(done) = replace_words(base, clear.trim(), pseudonym) {
                current = Some(done);
            }
        }
        current
    }
}

fn build_search(patterns: &[String]) -> Option<AhoCorasick> {
    if patterns.is_empty() {
        return None;
    }
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .build(patterns)
        .map_err(|error| tracing::error!(%error, "cannot search identifiers in free text"))
        .ok()
}

/// A byte that continues a word: an identifier next to one is part of a longer token.
fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Whether `text[start..end]` is not glued to a word character on either side.
fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    let bytes = text.as_bytes();
    let before = start
        .checked_sub(1)
        .and_then(|i| bytes.get(i))
        .is_none_or(|b| !is_word_byte(*b));
    let after = bytes.get(end).is_none_or(|b| !is_word_byte(*b));
    before && after
}

/// `text` with every standalone, ASCII-case-blind occurrence of `needle` replaced; `None`
/// when there is none.
fn replace_words(text: &str, needle: &str, replacement: &str) -> Option<String> {
    if needle.is_empty() || needle.len() > text.len() {
        return None;
    }
    let (hay, want) = (text.as_bytes(), needle.as_bytes());
    let mut out: Option<String> = None;
    let mut last = 0;
    let mut at = 0;
    while at + want.len() <= hay.len() {
        let window = hay.get(at..at + want.len()).unwrap_or(&[]);
        if window.eq_ignore_ascii_case(want)
            && text.is_char_boundary(at)
            && text.is_char_boundary(at + want.len())
            && stands_alone(text, at, at + want.len())
        {
            let buffer = out.get_or_insert_with(|| String::with_capacity(text.len()));
            buffer.push_str(text.get(last..at).unwrap_or(""));
            buffer.push_str(replacement);
            at += want.len();
            last = at;
        } else {
            at += 1;
        }
    }
    let mut buffer = out?;
    buffer.push_str(text.get(last..).unwrap_or(""));
    Some(buffer)
}

/// A directory and its pseudonym table.
type TableOf = (Arc<Directory>, Arc<PseudonymTable>);

/// A pseudonymisation key with the table of the directory last seen, rebuilt when the
/// directory is replaced. Cheap to clone (shared).
#[derive(Clone)]
pub struct Pseudonyms {
    pseudonymiser: Pseudonymiser,
    cache: Arc<Mutex<Option<TableOf>>>,
}

impl fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pseudonyms(..)")
    }
}

impl Pseudonyms {
    /// Pseudonyms under `key`.
    pub fn new(key: &PseudonymKey) -> Pseudonyms {
        Pseudonyms {
            pseudonymiser: Pseudonymiser::new(key),
            cache: Arc::new(Mutex::new(None)),
        }
    }

    /// The HMAC of the key.
    pub fn pseudonymiser(&self) -> &Pseudonymiser {
        &self.pseudonymiser
    }

    /// The table of `directory` (built on first use after a reload).
    pub fn table(&self, directory: &Arc<Directory>) -> Arc<PseudonymTable> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((seen, table)) = cache.as_ref()
            && Arc::ptr_eq(seen, directory)
        {
            return Arc::clone(table);
        }
        let table = Arc::new(PseudonymTable::build(directory, &self.pseudonymiser));
        *cache = Some((Arc::clone(directory), Arc::clone(&table)));
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_event::{Activity, EventClass};

    fn key() -> PseudonymKey {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
        PseudonymKey::from_bytes(bytes, "test").unwrap()
    }

    const PEOPLE: &str = "person_id,name,department,status,accounts,badges,home_site,email\n\
        p001,Alice Martin,IT,active,alice;ACME\\alice,0x4F21A7,PAR,alice.martin@acme.example\n\
        p004,Dan Okafor,IT,terminated,dokafor,0x4F21D0,PAR,dan.okafor@acme.example\n";

    fn directory() -> Directory {
        Directory::from_texts(Some(PEOPLE), None, None).unwrap()
    }

    #[test]
    fn hmac_matches_an_independent_implementation() {
        // Python: hmac.new(bytes(range(32)), b"what do ya want for nothing?", "sha256").
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        let p = Pseudonymiser::new(&PseudonymKey(bytes));
        let mac = p.mac(&[b"what do ya want for nothing?"]);
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "099805f4ac310786968565c098db515cc50862b420ae31e20238312344bed36a"
        );
    }

    #[test]
    fn pseudonyms_are_stable_keyed_and_kind_tagged() {
        let p = Pseudonymiser::new(&key());
        let a = p.pseudonym(IdKind::Account, "alice");
        assert!(is_pseudonym(&a), "{a}");
        assert_eq!(a, p.pseudonym(IdKind::Account, "ALICE "));
        assert_ne!(a, p.pseudonym(IdKind::Badge, "alice"));
        assert_eq!(
            p.pseudonym(IdKind::Badge, "0x004F21A7"),
            p.pseudonym(IdKind::Badge, "4f21a7")
        );
        let mut other = key().0;
        other[0] ^= 1;
        let q = Pseudonymiser::new(&PseudonymKey(other));
        assert_ne!(a, q.pseudonym(IdKind::Account, "alice"));
    }

    #[test]
    fn weak_and_malformed_keys_are_refused() {
        assert!(matches!(
            PseudonymKey::from_bytes([7u8; 32], "t"),
            Err(PseudonymKeyError::Weak { distinct: 1, .. })
        ));
        let text = "00".repeat(32);
        assert!(PseudonymKey::from_hex(&text, "t").is_err());
        assert!(matches!(
            PseudonymKey::from_hex("abcd", "t"),
            Err(PseudonymKeyError::Malformed { .. })
        ));
        assert!(matches!(
            PseudonymKey::from_hex(&"zz".repeat(32), "t"),
            Err(PseudonymKeyError::Malformed { .. })
        ));
        let good = key();
        let back = PseudonymKey::from_hex(&good.to_hex(), "t").unwrap();
        assert_eq!(back.0, good.0);
        assert_eq!(format!("{good:?}"), "PseudonymKey(..)");
    }

    #[cfg(unix)]
    #[test]
    fn key_files_must_be_private_and_outside_the_data_folder() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let inside = data.join("key");
        std::fs::write(&inside, key().to_hex()).unwrap();
        std::fs::set_permissions(&inside, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            PseudonymKey::load_file(&inside, Some(&data)),
            Err(PseudonymKeyError::InsideDataDir { .. })
        ));
        let outside = tmp.path().join("key");
        std::fs::write(&outside, key().to_hex()).unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = PseudonymKey::load_file(&outside, Some(&data)).unwrap_err();
        assert!(error.to_string().contains("chmod 600"), "{error}");
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(PseudonymKey::load_file(&outside, Some(&data)).is_ok());
    }

    #[test]
    fn a_resolved_event_keeps_no_clear_identifier_and_the_table_reveals_it() {
        let directory = Arc::new(directory());
        let pseudonyms = Pseudonyms::new(&key());
        let table = pseudonyms.table(&directory);
        assert!(Arc::ptr_eq(&table, &pseudonyms.table(&directory)));
        let mut event = Event::new(0, EventClass::Authentication, Activity::Logon);
        event.actor.user = Some("alice".into());
        event.actor.domain = Some("ACME".into());
        event.raw = "sudo: alice : PWD=/home/alice ; ACME\\alice Alice Martin \
                     <alice.martin@acme.example> badge 4F21A7 0x4F21D0; malice alice_x"
            .into();
        event.fields.insert("TargetUserName", "ALICE");
        directory.resolve(&mut event);
        let status = event.resolved.person.as_ref().unwrap().status.clone();
        table.pseudonymise(&mut event);

        let person = event.resolved.person.as_ref().unwrap();
        assert_eq!(person.id, pseudonyms.pseudonymiser().person("p001"));
        assert_eq!(person.status, status, "status stays for the rules");
        let revealed = table.reveal(&person.id).unwrap();
        assert_eq!(
            (revealed.kind, revealed.person_id.as_str()),
            (IdKind::Person, "p001")
        );
        assert_eq!(
            table.reveal(&person.name).unwrap().person_name,
            "Alice Martin"
        );
        let user = event.actor.user.as_deref().unwrap();
        assert_eq!(table.reveal(user).unwrap().value, "alice");
        assert_eq!(
            event.actor.domain.as_deref(),
            Some("ACME"),
            "domains name no one"
        );

        let text = serde_json::to_string(&event).unwrap().to_lowercase();
        for clear in [
            "alice martin",
            "alice.martin",
            "\"alice\"",
            " alice ",
            "/alice",
            "4f21a7",
            "4f21d0",
            "p001",
        ] {
            assert!(!text.contains(clear), "{clear} left in {text}");
        }
        assert!(text.contains("malice alice_x"), "words are not cut: {text}");
    }

    #[test]
    fn unknown_identifiers_are_pseudonymised_too() {
        let directory = Arc::new(directory());
        let table = Pseudonyms::new(&key()).table(&directory);
        let mut event = Event::new(0, EventClass::PhysicalAccess, Activity::AccessDenied);
        event.actor.badge = Some("0x99AA01".into());
        event.actor.holder_name = Some("Zoe Visitor".into());
        event.raw = "denied 0x99AA01 holder Zoe Visitor".into();
        directory.resolve(&mut event);
        table.pseudonymise(&mut event);
        let badge = event.actor.badge.clone().unwrap();
        assert!(is_pseudonym(&badge));
        assert!(table.reveal(&badge).is_none(), "not a directory badge");
        assert!(!event.raw.contains("99AA01"), "{}", event.raw);
        assert!(!event.raw.contains("Zoe"), "{}", event.raw);
        assert!(event.raw.contains(&badge), "{}", event.raw);
    }

    #[test]
    fn base32_is_rfc_4648() {
        let mut out = String::new();
        base32_into(b"foobar", &mut out);
        assert_eq!(out, "mzxw6ytboi");
    }
}
