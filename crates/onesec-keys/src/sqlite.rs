//! SQLite databases as SQLCipher files: open with the ring's key, rekey, encrypt a plain one.
//!
//! Every database of a data folder (`onesec.db`, `auth.db`, `compliance.db`) is opened
//! through [`open`]. With a key ring installed the file is a SQLCipher database (AES-256 in
//! CBC mode with an HMAC-SHA512 per page, its write-ahead log too); without one it is a plain
//! SQLite file, as before.

use crate::{KeyRing, installed};
use rusqlite::{Connection, ErrorCode};
use std::path::{Path, PathBuf};
use tracing::warn;

/// What every SQLite file starts with when it is not encrypted.
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Why a database could not be opened with the keys given.
#[derive(Debug, thiserror::Error)]
pub enum SqliteKeyError {
    /// SQLite failed.
    #[error("{path}: cannot {action}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file is encrypted and no key was given.
    #[error(
        "{path} is encrypted and no encryption key was given: configure [privacy.encryption] or set ONESEC_ENCRYPTION_KEY_FILE (docs/privacy.md, \"Encryption at rest\")"
    )]
    NoKey {
        /// The database file.
        path: PathBuf,
    },
    /// A key ring is given, but the file is a plain SQLite database.
    #[error(
        "{path} is not encrypted although encryption is on: encrypt the data folder first with `onesec privacy rekey` (docs/privacy.md, \"Turning encryption on\")"
    )]
    NotEncrypted {
        /// The database file.
        path: PathBuf,
    },
    /// No key of the ring opens the file.
    #[error(
        "{path} does not open with any key of the ring (keys {held}): wrong key file, or the file is damaged"
    )]
    WrongKey {
        /// The database file.
        path: PathBuf,
        /// The ids of the keys tried.
        held: String,
    },
    /// This build's SQLite has no SQLCipher (rusqlite without `bundled-sqlcipher*`).
    #[error("{path}: this build of onesec cannot encrypt databases (SQLite without SQLCipher)")]
    NoCipher {
        /// The database file.
        path: PathBuf,
    },
    /// A file operation around an encryption failed.
    #[error("{path}: cannot {action}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// What the OS said.
        source: std::io::Error,
    },
}

fn sql(path: &Path, action: &'static str) -> impl FnOnce(rusqlite::Error) -> SqliteKeyError {
    let path = path.to_owned();
    move |source| SqliteKeyError::Sqlite {
        path,
        action,
        source,
    }
}

/// Opens (creating if needed) the database at `path` with the process's key ring: encrypted
/// with its current key when there is a ring (an older key of the ring still opens a file it
/// encrypted, with a warning to rekey), plain otherwise. `page_size` is the page size of an
/// encrypted file (SQLCipher's `cipher_page_size`: it must be the same at every open); `None`
/// for SQLCipher's 4096.
///
/// A wrong key, a missing key or a plain file while encryption is on are errors that say
/// so, never a database that reads as empty.
pub fn open(path: &Path, page_size: Option<u32>) -> Result<Connection, SqliteKeyError> {
    open_with(installed().as_deref(), path, page_size)
}

/// [`open`] with the key ring `ring` instead of the process's.
pub fn open_with(
    ring: Option<&KeyRing>,
    path: &Path,
    page_size: Option<u32>,
) -> Result<Connection, SqliteKeyError> {
    let existing = file_start(path)?;
    let Some(ring) = ring else {
        let conn = Connection::open(path).map_err(sql(path, "open database"))?;
        if existing.as_ref().is_some_and(|start| start != PLAIN_HEADER) {
            probe(&conn, path).map_err(|e| match e {
                SqliteKeyError::Sqlite { source, .. } if is_not_a_database(&source) => {
                    SqliteKeyError::NoKey {
                        path: path.to_owned(),
                    }
                }
                other => other,
            })?;
        }
        return Ok(conn);
    };
    if existing.as_ref().is_some_and(|start| start == PLAIN_HEADER) {
        return Err(SqliteKeyError::NotEncrypted {
            path: path.to_owned(),
        });
    }
    for index in 0..ring.len() {
        let conn = keyed(
            path,
            ring.sqlcipher_key(index).unwrap_or_default(),
            page_size,
        )?;
        match probe(&conn, path) {
            Ok(()) => {
                if index > 0 {
                    warn!(
                        database = %path.display(),
                        "database is encrypted with an older key of the ring; run `onesec privacy rekey` to move it to the current key"
                    );
                }
                return Ok(conn);
            }
            Err(SqliteKeyError::Sqlite { source, .. }) if is_not_a_database(&source) => {}
            Err(other) => return Err(other),
        }
    }
    Err(SqliteKeyError::WrongKey {
        path: path.to_owned(),
        held: ring.ids_text(),
    })
}

/// Moves the database at `path` to the ring's current key: a plain file is copied into a new
/// encrypted one that replaces it, a file encrypted with an older key is rekeyed in place.
/// Returns what was done (`None`: already on the current key). The database must not be in
/// use by another process.
pub fn rekey(
    ring: &KeyRing,
    path: &Path,
    page_size: Option<u32>,
) -> Result<Option<&'static str>, SqliteKeyError> {
    let current = ring.sqlcipher_key(0).unwrap_or_default();
    if file_start(path)?.is_some_and(|start| &start == PLAIN_HEADER) {
        encrypt_plain(ring, path, current, page_size)?;
        return Ok(Some("encrypted"));
    }
    let conn = open_with(Some(ring), path, page_size)?;
    // Opened with the current key when a fresh connection with it probes fine.
    if probe(&keyed(path, current, page_size)?, path).is_ok() {
        return Ok(None);
    }
    // Rekeying rewrites every page; out of WAL mode so no frame keeps the old key.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
        .map_err(sql(path, "leave WAL mode before rekeying"))?;
    conn.pragma_update(None, "rekey", current)
        .map_err(sql(path, "rekey"))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql(path, "return to WAL mode"))?;
    Ok(Some("rekeyed"))
}

fn encrypt_plain(
    ring: &KeyRing,
    path: &Path,
    key: &str,
    page_size: Option<u32>,
) -> Result<(), SqliteKeyError> {
    let plain = Connection::open(path).map_err(sql(path, "open plain database"))?;
    plain
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
        .map_err(sql(path, "checkpoint the plain database"))?;
    let target = path.with_extension("encrypting");
    let io = |action| {
        let target = target.clone();
        move |source| SqliteKeyError::Io {
            path: target,
            action,
            source,
        }
    };
    match std::fs::remove_file(&target) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io("remove")(e)),
        _ => {}
    }
    plain
        .execute(
            "ATTACH DATABASE ?1 AS encrypted KEY ?2",
            rusqlite::params![target.to_string_lossy(), key],
        )
        .map_err(sql(path, "create the encrypted copy"))?;
    if let Some(size) = page_size {
        plain
            .execute_batch(&format!("PRAGMA encrypted.cipher_page_size = {size};"))
            .map_err(sql(path, "set the encrypted copy's page size"))?;
    }
    plain
        .query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))
        .map_err(sql(path, "copy into the encrypted database"))?;
    plain
        .execute_batch("DETACH DATABASE encrypted;")
        .map_err(sql(path, "close the encrypted copy"))?;
    drop(plain);
    std::fs::rename(&target, path).map_err(io("replace the plain database with"))?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&side) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io("remove")(e)),
            _ => {}
        }
    }
    let conn = open_with(Some(ring), path, page_size)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql(path, "return to WAL mode"))?;
    Ok(())
}

fn keyed(path: &Path, key: &str, page_size: Option<u32>) -> Result<Connection, SqliteKeyError> {
    let conn = Connection::open(path).map_err(sql(path, "open database"))?;
    // Plain SQLite ignores `PRAGMA key` without a word: never let a build without SQLCipher
    // write in the clear while encryption is on.
    let cipher: Option<String> = conn
        .query_row("PRAGMA cipher_version", [], |row| row.get(0))
        .ok();
    if cipher.is_none_or(|v| v.is_empty()) {
        return Err(SqliteKeyError::NoCipher {
            path: path.to_owned(),
        });
    }
    conn.pragma_update(None, "key", key)
        .map_err(sql(path, "give the key"))?;
    if let Some(size) = page_size {
        conn.pragma_update(None, "cipher_page_size", size)
            .map_err(sql(path, "set the page size"))?;
    }
    Ok(conn)
}

/// Reads the schema, which needs page 1 decrypted: the cheapest proof that the key is right.
fn probe(conn: &Connection, path: &Path) -> Result<(), SqliteKeyError> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        .map_err(sql(path, "read the schema"))
}

fn is_not_a_database(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(ErrorCode::NotADatabase)
}

/// The first 16 bytes of an existing, non-empty file.
fn file_start(path: &Path) -> Result<Option<[u8; 16]>, SqliteKeyError> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SqliteKeyError::Io {
                path: path.to_owned(),
                action: "read",
                source,
            });
        }
    };
    let mut start = [0u8; 16];
    match file.read_exact(&mut start) {
        Ok(()) => Ok(Some(start)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(source) => Err(SqliteKeyError::Io {
            path: path.to_owned(),
            action: "read",
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "3f1c9a7e5b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f61";
    const K2: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90f1e2d3c4b5a69788796a5b4c3d2e1f00";

    fn ring(text: &str) -> KeyRing {
        KeyRing::parse(text, "test").unwrap()
    }

    fn write_secret(conn: &Connection) {
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE t(name TEXT); INSERT INTO t VALUES ('Dagny Lindqvist');",
        )
        .unwrap();
    }

    fn read_secret(conn: &Connection) -> String {
        conn.query_row("SELECT name FROM t", [], |r| r.get(0))
            .unwrap()
    }

    fn files_contain(dir: &Path, needle: &[u8]) -> bool {
        std::fs::read_dir(dir).unwrap().any(|e| {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
    }

    #[test]
    fn an_encrypted_database_and_its_wal_hold_no_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let keys = ring(K1);
        let conn = open_with(Some(&keys), &path, Some(16384)).unwrap();
        write_secret(&conn);
        assert!(dir.path().join("x.db-wal").exists());
        assert!(!files_contain(dir.path(), b"Lindqvist"));
        drop(conn);
        let again = open_with(Some(&keys), &path, Some(16384)).unwrap();
        assert_eq!(read_secret(&again), "Dagny Lindqvist");
        // The same in a plain file is there to find: the scan is not vacuous.
        let plain = tempfile::tempdir().unwrap();
        write_secret(&open_with(None, &plain.path().join("p.db"), None).unwrap());
        assert!(files_contain(plain.path(), b"Lindqvist"));
    }

    #[test]
    fn missing_wrong_and_plain_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        write_secret(&open_with(Some(&ring(K1)), &path, None).unwrap());
        let err = open_with(None, &path, None).unwrap_err();
        assert!(matches!(err, SqliteKeyError::NoKey { .. }), "{err}");
        let err = open_with(Some(&ring(K2)), &path, None).unwrap_err();
        assert!(matches!(err, SqliteKeyError::WrongKey { .. }), "{err}");
        let plain = dir.path().join("plain.db");
        write_secret(&open_with(None, &plain, None).unwrap());
        let err = open_with(Some(&ring(K1)), &plain, None).unwrap_err();
        assert!(matches!(err, SqliteKeyError::NotEncrypted { .. }), "{err}");
        assert!(err.to_string().contains("onesec privacy rekey"), "{err}");
    }

    #[test]
    fn rekey_moves_to_the_current_key_and_encrypts_a_plain_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        write_secret(&open_with(Some(&ring(K1)), &path, Some(16384)).unwrap());
        let rotated = ring(&format!("{K2}\n{K1}"));
        // The old key still opens it from the rotated ring.
        assert_eq!(
            read_secret(&open_with(Some(&rotated), &path, Some(16384)).unwrap()),
            "Dagny Lindqvist"
        );
        assert_eq!(
            rekey(&rotated, &path, Some(16384)).unwrap(),
            Some("rekeyed")
        );
        assert_eq!(rekey(&rotated, &path, Some(16384)).unwrap(), None);
        let only_new = ring(K2);
        assert_eq!(
            read_secret(&open_with(Some(&only_new), &path, Some(16384)).unwrap()),
            "Dagny Lindqvist"
        );
        assert!(open_with(Some(&ring(K1)), &path, Some(16384)).is_err());

        let plain = dir.path().join("plain.db");
        write_secret(&open_with(None, &plain, None).unwrap());
        assert_eq!(rekey(&only_new, &plain, None).unwrap(), Some("encrypted"));
        assert_eq!(
            read_secret(&open_with(Some(&only_new), &plain, None).unwrap()),
            "Dagny Lindqvist"
        );
        assert!(!files_contain(dir.path(), b"Lindqvist"));
    }
}
