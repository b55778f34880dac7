//! The key ring: parsing, checks, ids, subkeys, and the process-wide ring.

use crate::KeyError;
use crate::seal::RecordKey;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::{Arc, RwLock};
use zeroize::Zeroizing;

/// The environment variable that may hold the keys themselves (same format as a key file;
/// lines or commas separate keys).
pub const KEY_ENV: &str = "ONESEC_ENCRYPTION_KEY";

/// The environment variable that may name the key file.
pub const KEY_FILE_ENV: &str = "ONESEC_ENCRYPTION_KEY_FILE";

/// Length of a key in bytes (256 bits).
const KEY_LEN: usize = 32;

/// A key with fewer distinct byte values than this is refused as hand-made: 32 random bytes
/// have about 30 distinct values, and fewer than 12 happens with probability below 1e-12.
const MIN_DISTINCT_BYTES: usize = 12;

/// A key's public name: the first four bytes of `SHA-256("onesec-key-id-v1" ‖ key)`.
///
/// Derived from the key, so a wrong key has another id and is refused by name before any
/// decryption is tried; four bytes leak nothing usable about a 256-bit key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u32);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// One key of the ring with the subkeys derived from it.
struct Entry {
    id: KeyId,
    journal: RecordKey,
    files: RecordKey,
    audit: RecordKey,
    sqlcipher: Zeroizing<String>,
}

/// The keys a data folder is sealed with: the current one first, then older ones.
pub struct KeyRing {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        f.debug_struct("KeyRing").field("ids", &self.ids()).finish()
    }
}

impl KeyRing {
    /// Parses keys: one per line (or comma-separated), 64 hex digits each, `#` comments and
    /// blank lines ignored; the first key is the current one. `source_name` names the file or
    /// variable in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<KeyRing, KeyError> {
        let mut entries: Vec<Entry> = Vec::new();
        let items = text.split(['\n', ',']).enumerate();
        for (index, raw) in items {
            let item = raw.split('#').next().unwrap_or("").trim();
            if item.is_empty() {
                continue;
            }
            let bad = |reason: String| KeyError::BadKey {
                source_name: source_name.to_owned(),
                line: index + 1,
                reason,
            };
            let key = decode_key(item).map_err(bad)?;
            let entry = Entry::derive(&key);
            if entries.iter().any(|e| e.id == entry.id) {
                return Err(bad(format!("key {} is listed twice", entry.id)));
            }
            entries.push(entry);
        }
        if entries.is_empty() {
            return Err(KeyError::Empty(source_name.to_owned()));
        }
        Ok(KeyRing { entries })
    }

    /// Reads a key file, refusing one that group or others may read.
    pub fn load_file(path: &Path) -> Result<KeyRing, KeyError> {
        let read = |source| KeyError::Read {
            path: path.to_owned(),
            source,
        };
        check_private(path).map_err(|e| match e {
            PrivateCheck::Io(source) => read(source),
            PrivateCheck::Open(mode) => KeyError::Permissions {
                path: path.to_owned(),
                mode,
            },
        })?;
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(read)?);
        KeyRing::parse(&text, &path.display().to_string())
    }

    /// The keys of the environment: [`KEY_ENV`] itself, else the file [`KEY_FILE_ENV`]
    /// names; `None` when neither is set.
    pub fn from_env() -> Result<Option<KeyRing>, KeyError> {
        if let Some(text) = std::env::var_os(KEY_ENV) {
            let text = Zeroizing::new(text.to_string_lossy().into_owned());
            return KeyRing::parse(&text, &format!("the variable {KEY_ENV}")).map(Some);
        }
        match std::env::var_os(KEY_FILE_ENV) {
            Some(path) => KeyRing::load_file(Path::new(&path)).map(Some),
            None => Ok(None),
        }
    }

    /// The id of the current key (what new data is sealed with).
    pub fn current_id(&self) -> KeyId {
        self.entries[0].id
    }

    /// Every key id, current first.
    pub fn ids(&self) -> Vec<KeyId> {
        self.entries.iter().map(|e| e.id).collect()
    }

    /// The ids as text for error messages.
    pub fn ids_text(&self) -> String {
        let ids: Vec<String> = self.ids().iter().map(KeyId::to_string).collect();
        ids.join(", ")
    }

    /// The current key's journal subkey.
    pub fn journal_current(&self) -> &RecordKey {
        &self.entries[0].journal
    }

    /// The journal subkey of key `id`, or why there is none (`what` names the segment).
    pub fn journal_key(&self, id: KeyId, what: &str) -> Result<&RecordKey, KeyError> {
        self.entry(id, what).map(|e| &e.journal)
    }

    /// The export-file subkey of key `id`.
    pub(crate) fn file_key(&self, id: KeyId, what: &str) -> Result<&RecordKey, KeyError> {
        self.entry(id, what).map(|e| &e.files)
    }

    /// The current key's export-file subkey.
    pub(crate) fn file_current(&self) -> &RecordKey {
        &self.entries[0].files
    }

    /// The audit-entry subkey of key `id`.
    pub(crate) fn audit_key(&self, id: KeyId, what: &str) -> Result<&RecordKey, KeyError> {
        self.entry(id, what).map(|e| &e.audit)
    }

    /// The current key's audit-entry subkey.
    pub(crate) fn audit_current(&self) -> &RecordKey {
        &self.entries[0].audit
    }

    /// SQLCipher's `PRAGMA key` value for key `index` of the ring (0 = current): a raw
    /// 256-bit key as `x'…'`, so SQLCipher skips its password derivation.
    pub fn sqlcipher_key(&self, index: usize) -> Option<&str> {
        self.entries.get(index).map(|e| e.sqlcipher.as_str())
    }

    /// How many keys the ring holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Never true: a ring holds at least one key (kept for the `len` convention).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn entry(&self, id: KeyId, what: &str) -> Result<&Entry, KeyError> {
        self.entries
            .iter()
            .find(|e| e.id == id)
            .ok_or_else(|| KeyError::UnknownKey {
                what: what.to_owned(),
                id,
                held: self.ids_text(),
            })
    }
}

impl Entry {
    fn derive(key: &[u8; KEY_LEN]) -> Entry {
        let id_hash = subkey(b"onesec-key-id-v1", key);
        let id = KeyId(u32::from_le_bytes([
            id_hash[0], id_hash[1], id_hash[2], id_hash[3],
        ]));
        let sqlcipher = Zeroizing::new(format!(
            "x'{}'",
            hex::encode(*subkey(b"onesec-sqlcipher-v1", key))
        ));
        Entry {
            id,
            journal: RecordKey::new(id, &subkey(b"onesec-journal-v1", key)),
            files: RecordKey::new(id, &subkey(b"onesec-file-v1", key)),
            audit: RecordKey::new(id, &subkey(b"onesec-audit-v1", key)),
            sqlcipher,
        }
    }
}

/// `SHA-256(label ‖ key)`: a subkey per use, so a key is never used for two purposes.
fn subkey(label: &[u8], key: &[u8; KEY_LEN]) -> Zeroizing<[u8; 32]> {
    let mut hash = Sha256::new();
    hash.update(label);
    hash.update(key);
    Zeroizing::new(hash.finalize().into())
}

fn decode_key(item: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, String> {
    if item.len() != 2 * KEY_LEN {
        return Err(format!(
            "a key is 64 hexadecimal digits (256 bits), this one has {} characters",
            item.len()
        ));
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    hex::decode_to_slice(item, &mut key[..])
        .map_err(|_| "a key is 64 hexadecimal digits; this one has other characters".to_owned())?;
    let mut seen = [false; 256];
    key.iter().for_each(|&b| seen[usize::from(b)] = true);
    let distinct = seen.iter().filter(|&&s| s).count();
    if distinct < MIN_DISTINCT_BYTES {
        return Err(format!(
            "this key is too regular to be random ({distinct} distinct byte values); generate one with `onesec privacy keygen`"
        ));
    }
    Ok(key)
}

enum PrivateCheck {
    Io(std::io::Error),
    Open(u32),
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), PrivateCheck> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(PrivateCheck::Io)?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(PrivateCheck::Open(mode & 0o777));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), PrivateCheck> {
    Ok(())
}

/// A new random key as a key-file line (64 hex digits), from the OS random generator.
pub fn generate_key_hex() -> Result<Zeroizing<String>, KeyError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(&mut key[..]).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(Zeroizing::new(hex::encode(*key)))
}

static INSTALLED: RwLock<Option<Arc<KeyRing>>> = RwLock::new(None);

/// Makes `ring` the process's key ring (or none): what the journal and the SQLite store use
/// unless told otherwise. Called once at start by the binary.
pub fn install(ring: Option<Arc<KeyRing>>) {
    let mut slot = INSTALLED
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *slot = ring;
}

/// The process's key ring, if encryption is on.
pub fn installed() -> Option<Arc<KeyRing>> {
    INSTALLED
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "3f1c9a7e5b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f61";
    const K2: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90f1e2d3c4b5a69788796a5b4c3d2e1f00";

    #[test]
    fn first_key_is_current_and_ids_differ() {
        let ring = KeyRing::parse(&format!("# keys\n{K1}\n\n{K2}  # old\n"), "test").unwrap();
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.ids()[0], ring.current_id());
        assert_ne!(ring.ids()[0], ring.ids()[1]);
        let again = KeyRing::parse(&format!("{K2},{K1}"), "test").unwrap();
        assert_eq!(again.current_id(), ring.ids()[1]);
    }

    #[test]
    fn weak_short_and_duplicate_keys_are_refused_with_their_line() {
        let zeros = "0".repeat(64);
        let err = KeyRing::parse(&format!("{K1}\n{zeros}"), "keys.txt").unwrap_err();
        assert!(err.to_string().contains("keys.txt line 2"), "{err}");
        assert!(err.to_string().contains("too regular"), "{err}");
        let err = KeyRing::parse("abcd", "k").unwrap_err();
        assert!(err.to_string().contains("64 hexadecimal digits"), "{err}");
        let err = KeyRing::parse(&format!("{K1}\n{K1}"), "k").unwrap_err();
        assert!(err.to_string().contains("listed twice"), "{err}");
        let err = KeyRing::parse("# nothing\n", "k").unwrap_err();
        assert!(matches!(err, KeyError::Empty(_)), "{err}");
        let bad_hex = "zz".repeat(32);
        assert!(KeyRing::parse(&bad_hex, "k").is_err());
    }

    #[test]
    fn generated_keys_parse_and_differ() {
        let a = generate_key_hex().unwrap();
        let b = generate_key_hex().unwrap();
        assert_ne!(*a, *b);
        KeyRing::parse(&a, "generated").unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, K1).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = KeyRing::load_file(&path).unwrap_err();
        assert!(matches!(err, KeyError::Permissions { .. }), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        KeyRing::load_file(&path).unwrap();
    }

    #[test]
    fn subkeys_differ_per_use_and_debug_shows_no_key() {
        let ring = KeyRing::parse(K1, "k").unwrap();
        let sql = ring.sqlcipher_key(0).unwrap();
        assert!(sql.starts_with("x'") && sql.len() == 67, "{sql}");
        assert!(!sql.contains(K1));
        let debug = format!("{ring:?}");
        assert!(!debug.contains(&K1[..16]), "{debug}");
    }
}
