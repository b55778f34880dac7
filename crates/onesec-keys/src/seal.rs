//! Sealing with XChaCha20-Poly1305: journal records and whole files.
//!
//! XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`) because its 192-bit nonce can be made
//! of a random per-writer prefix and a counter without any risk of reuse across restarts,
//! and it is fast without AES instructions.

use crate::{KeyError, KeyId, KeyRing};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};

/// Bytes a sealed payload has beyond its plaintext: the 24-byte nonce and the 16-byte tag.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The first bytes of a sealed file: `"\x89OSENC1\n"`, in the manner of the journal's magic.
pub const FILE_MAGIC: [u8; 8] = [0x89, b'O', b'S', b'E', b'N', b'C', b'1', b'\n'];

/// Envelope header: magic, key id (u32 LE), nonce.
const FILE_HEADER_LEN: usize = FILE_MAGIC.len() + 4 + NONCE_LEN;

/// A subkey ready to seal and open (the cipher's key schedule done once).
pub struct RecordKey {
    id: KeyId,
    cipher: XChaCha20Poly1305,
}

impl RecordKey {
    pub(crate) fn new(id: KeyId, key: &[u8; 32]) -> RecordKey {
        RecordKey {
            id,
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// The id of the key this subkey comes from.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Appends `nonce ‖ ciphertext ‖ tag` of `plaintext` to `out`, authenticating `aad`
    /// with it. The caller guarantees that `nonce` is never used twice with this key.
    ///
    /// On error (only a plaintext beyond the cipher's 256 GiB limit) `out` is left as it was,
    /// so no plaintext is ever left behind in it.
    pub fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), KeyError> {
        let before = out.len();
        out.reserve(SEAL_OVERHEAD + plaintext.len());
        out.extend_from_slice(nonce);
        let start = out.len();
        out.extend_from_slice(plaintext);
        match self.cipher.encrypt_in_place_detached(
            XNonce::from_slice(nonce),
            aad,
            &mut out[start..],
        ) {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                Ok(())
            }
            Err(_) => {
                out.truncate(before);
                Err(KeyError::TooLarge(plaintext.len()))
            }
        }
    }

    /// Opens what [`RecordKey::seal`] produced with the same `aad`; `None` when it does not
    /// authenticate (another key, other `aad`, or changed bytes).
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < SEAL_OVERHEAD {
            return None;
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let mut plain = body.to_vec();
        self.cipher
            .decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                aad,
                &mut plain,
                Tag::from_slice(tag),
            )
            .ok()?;
        Some(plain)
    }
}

/// Nonces for one writer: a random 128-bit prefix drawn when the writer starts, then a
/// 64-bit value the caller never repeats (the journal uses the record's sequence). Two
/// writers — say before and after a crash that tore a record which is then written again
/// with the same sequence — draw different prefixes, so no nonce repeats under one key.
pub struct NonceSource {
    prefix: [u8; 16],
}

impl NonceSource {
    /// Draws the prefix from the OS random generator.
    pub fn new() -> Result<NonceSource, KeyError> {
        let mut prefix = [0u8; 16];
        getrandom::fill(&mut prefix).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(NonceSource { prefix })
    }

    /// The nonce for `counter`.
    pub fn nonce(&self, counter: u64) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..16].copy_from_slice(&self.prefix);
        nonce[16..].copy_from_slice(&counter.to_le_bytes());
        nonce
    }
}

/// Seals a whole file's content with the ring's current key: `FILE_MAGIC ‖ key id (u32 LE)
/// ‖ nonce (24) ‖ ciphertext ‖ tag (16)`, the header authenticated as associated data.
pub fn seal_file(ring: &KeyRing, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
    let key = ring.file_current();
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
    let mut out = Vec::with_capacity(FILE_HEADER_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&FILE_MAGIC);
    out.extend_from_slice(&key.id().0.to_le_bytes());
    let aad = out.clone();
    key.seal(&nonce, &aad, plaintext, &mut out)?;
    Ok(out)
}

/// Whether `bytes` start like a sealed file.
pub fn is_sealed_file(bytes: &[u8]) -> bool {
    bytes.starts_with(&FILE_MAGIC)
}

/// Opens a file [`seal_file`] wrote; `what` names it in errors.
pub fn open_file(ring: &KeyRing, bytes: &[u8], what: &str) -> Result<Vec<u8>, KeyError> {
    if !is_sealed_file(bytes) || bytes.len() < FILE_HEADER_LEN + TAG_LEN {
        return Err(KeyError::NotSealed(what.to_owned()));
    }
    let id_bytes = [bytes[8], bytes[9], bytes[10], bytes[11]];
    let key = ring.file_key(KeyId(u32::from_le_bytes(id_bytes)), what)?;
    let (aad, sealed) = bytes.split_at(FILE_MAGIC.len() + 4);
    key.open(aad, sealed)
        .ok_or_else(|| KeyError::Tampered(what.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "3f1c9a7e5b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f61";
    const K2: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90f1e2d3c4b5a69788796a5b4c3d2e1f00";

    #[test]
    fn a_record_opens_only_with_its_key_and_aad() {
        let ring = KeyRing::parse(K1, "k").unwrap();
        let key = ring.journal_current();
        let nonces = NonceSource::new().unwrap();
        let mut sealed = Vec::new();
        key.seal(
            &nonces.nonce(7),
            b"aad-7",
            b"Alice Martin badge 4711",
            &mut sealed,
        )
        .unwrap();
        assert_eq!(sealed.len(), 23 + SEAL_OVERHEAD);
        assert!(!sealed.windows(5).any(|w| w == b"Alice"));
        assert_eq!(
            key.open(b"aad-7", &sealed).unwrap(),
            b"Alice Martin badge 4711"
        );
        assert!(key.open(b"aad-8", &sealed).is_none(), "moved record");
        let other = KeyRing::parse(K2, "k").unwrap();
        assert!(other.journal_current().open(b"aad-7", &sealed).is_none());
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert!(key.open(b"aad-7", &flipped).is_none());
        assert!(key.open(b"aad-7", &sealed[..10]).is_none());
    }

    #[test]
    fn nonces_of_two_writers_differ_for_the_same_counter() {
        let (a, b) = (NonceSource::new().unwrap(), NonceSource::new().unwrap());
        assert_ne!(a.nonce(1), b.nonce(1));
        assert_ne!(a.nonce(1), a.nonce(2));
    }

    #[test]
    fn files_round_trip_and_rotation_keeps_old_files_readable() {
        let old = KeyRing::parse(K1, "k").unwrap();
        let sealed = seal_file(&old, b"{\"name\":\"Alice\"}").unwrap();
        assert!(is_sealed_file(&sealed));
        let rotated = KeyRing::parse(&format!("{K2}\n{K1}"), "k").unwrap();
        assert_eq!(
            open_file(&rotated, &sealed, "export").unwrap(),
            b"{\"name\":\"Alice\"}"
        );
        let only_new = KeyRing::parse(K2, "k").unwrap();
        let err = open_file(&only_new, &sealed, "export.json").unwrap_err();
        assert!(matches!(err, KeyError::UnknownKey { .. }), "{err}");
        assert!(matches!(
            open_file(&old, b"plain text", "x").unwrap_err(),
            KeyError::NotSealed(_)
        ));
        let mut changed = sealed.clone();
        let last = changed.len() - 1;
        changed[last] ^= 0x80;
        assert!(matches!(
            open_file(&old, &changed, "x").unwrap_err(),
            KeyError::Tampered(_)
        ));
    }
}
