//! Sealing with XChaCha20-Poly1305: journal records, audit entries and whole files.
//!
//! XChaCha20-Poly1305 because its 192-bit nonce can be made of a random per-writer prefix and
//! a counter without any risk of reuse across restarts, and it is fast without AES
//! instructions.
//!
//! How it is computed (draft-irtf-cfrg-xchacha §2.3): XChaCha20-Poly1305 with key `K` and
//! nonce `N` is ChaCha20-Poly1305 (RFC 8439) with key `HChaCha20(K, N[0..16])` and nonce
//! `0x00000000 ‖ N[16..24]`. The journal's nonces share their first 16 bytes for a whole
//! writer (the random prefix of [`NonceSource`]), so a [`Sealer`] derives that subkey once
//! and seals each record with ring's assembly ChaCha20-Poly1305 — the bytes are exactly
//! those of RustCrypto's `XChaCha20Poly1305` (checked by a test), the cost a fraction
//! (`docs/benchmarks.md`, "Encryption at rest": the per-record HChaCha20 and RustCrypto's
//! AVX2 Poly1305 set-up dominated 400-byte records).

use crate::{KeyError, KeyId, KeyRing};
use chacha20::cipher::consts::U10;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

/// Bytes a sealed payload has beyond its plaintext: the 24-byte nonce and the 16-byte tag.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The first bytes of a sealed file: `"\x89OSENC1\n"`, in the manner of the journal's magic.
pub const FILE_MAGIC: [u8; 8] = [0x89, b'O', b'S', b'E', b'N', b'C', b'1', b'\n'];

/// Envelope header: magic, key id (u32 LE), nonce.
const FILE_HEADER_LEN: usize = FILE_MAGIC.len() + 4 + NONCE_LEN;

/// The ChaCha20-Poly1305 key for the nonces starting with `prefix`: `HChaCha20(key, prefix)`.
fn derived_key(key: &[u8; 32], prefix: &[u8]) -> LessSafeKey {
    let mut derived = chacha20::hchacha::<U10>(key.into(), prefix.into());
    let sub: Zeroizing<[u8; 32]> = Zeroizing::new(derived.into());
    derived.iter_mut().for_each(|b| *b = 0);
    // A 32-byte key is always accepted for ChaCha20-Poly1305.
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, &sub[..])
        .unwrap_or_else(|_| unreachable!("ChaCha20-Poly1305 takes 32-byte keys"));
    LessSafeKey::new(unbound)
}

/// The RFC 8439 nonce for the last 8 bytes of an XChaCha20 nonce.
fn inner_nonce(tail: &[u8]) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(tail);
    Nonce::assume_unique_for_key(n)
}

/// Appends `nonce ‖ ciphertext ‖ tag` of `plaintext` to `out` with the derived `key`.
fn seal_with(
    key: &LessSafeKey,
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
    match key.seal_in_place_separate_tag(
        inner_nonce(&nonce[16..]),
        Aad::from(aad),
        &mut out[start..],
    ) {
        Ok(tag) => {
            out.extend_from_slice(tag.as_ref());
            Ok(())
        }
        Err(_) => {
            // Only a plaintext beyond the cipher's limit (256 GiB); no plaintext left behind.
            out.truncate(before);
            Err(KeyError::TooLarge(plaintext.len()))
        }
    }
}

/// A subkey ready to seal and open.
pub struct RecordKey {
    id: KeyId,
    key: Zeroizing<[u8; 32]>,
}

impl RecordKey {
    pub(crate) fn new(id: KeyId, key: &[u8; 32]) -> RecordKey {
        RecordKey {
            id,
            key: Zeroizing::new(*key),
        }
    }

    /// The id of the key this subkey comes from.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Appends `nonce ‖ ciphertext ‖ tag` of `plaintext` to `out`, authenticating `aad`
    /// with it. The caller guarantees that `nonce` is never used twice with this key. For
    /// many records under one [`NonceSource`], [`RecordKey::sealer`] is much cheaper.
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
        seal_with(
            &derived_key(&self.key, &nonce[..16]),
            nonce,
            aad,
            plaintext,
            out,
        )
    }

    /// A sealer for the nonces of `nonces`: the XChaCha20 subkey of their shared prefix is
    /// derived once, here.
    pub fn sealer(&self, nonces: NonceSource) -> Sealer {
        Sealer {
            id: self.id,
            key: derived_key(&self.key, &nonces.prefix),
            nonces,
        }
    }

    /// Opens what [`RecordKey::seal`] or a [`Sealer`] produced with the same `aad`; `None`
    /// when it does not authenticate (another key, other `aad`, or changed bytes).
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < SEAL_OVERHEAD {
            return None;
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let key = derived_key(&self.key, &nonce[..16]);
        let mut plain = rest.to_vec();
        let len = key
            .open_in_place(inner_nonce(&nonce[16..]), Aad::from(aad), &mut plain)
            .ok()?
            .len();
        plain.truncate(len);
        Some(plain)
    }
}

/// Seals many records with one key and one [`NonceSource`] (the journal writer's): the
/// per-prefix subkey is derived once, each record costs one ChaCha20-Poly1305.
pub struct Sealer {
    id: KeyId,
    key: LessSafeKey,
    nonces: NonceSource,
}

impl Sealer {
    /// The id of the key it seals with.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Appends `nonce ‖ ciphertext ‖ tag` of `plaintext` under the nonce for `counter`
    /// (never repeated by the caller), as [`RecordKey::seal`] would.
    pub fn seal(
        &self,
        counter: u64,
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), KeyError> {
        seal_with(&self.key, &self.nonces.nonce(counter), aad, plaintext, out)
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
    seal_envelope(ring.file_current(), plaintext)
}

/// Seals the personal part of an audit entry: the envelope of [`seal_file`] under the
/// audit subkey of the ring's current key (a fresh random nonce per entry).
pub fn seal_audit(ring: &KeyRing, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
    seal_envelope(ring.audit_current(), plaintext)
}

/// Opens what [`seal_audit`] produced; `what` names the entry in errors.
pub fn open_audit(ring: &KeyRing, bytes: &[u8], what: &str) -> Result<Vec<u8>, KeyError> {
    let id = envelope_key_id(bytes, what)?;
    open_envelope(ring.audit_key(id, what)?, bytes, what)
}

fn seal_envelope(key: &RecordKey, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
    let mut out = Vec::with_capacity(FILE_HEADER_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&FILE_MAGIC);
    out.extend_from_slice(&key.id().0.to_le_bytes());
    let mut aad = [0u8; FILE_MAGIC.len() + 4];
    aad.copy_from_slice(&out);
    key.seal(&nonce, &aad, plaintext, &mut out)?;
    Ok(out)
}

fn envelope_key_id(bytes: &[u8], what: &str) -> Result<KeyId, KeyError> {
    if !is_sealed_file(bytes) || bytes.len() < FILE_HEADER_LEN + TAG_LEN {
        return Err(KeyError::NotSealed(what.to_owned()));
    }
    Ok(KeyId(u32::from_le_bytes([
        bytes[8], bytes[9], bytes[10], bytes[11],
    ])))
}

fn open_envelope(key: &RecordKey, bytes: &[u8], what: &str) -> Result<Vec<u8>, KeyError> {
    let (aad, sealed) = bytes.split_at(FILE_MAGIC.len() + 4);
    key.open(aad, sealed)
        .ok_or_else(|| KeyError::Tampered(what.to_owned()))
}

/// Whether `bytes` start like a sealed file.
pub fn is_sealed_file(bytes: &[u8]) -> bool {
    bytes.starts_with(&FILE_MAGIC)
}

/// Opens a file [`seal_file`] wrote; `what` names it in errors.
pub fn open_file(ring: &KeyRing, bytes: &[u8], what: &str) -> Result<Vec<u8>, KeyError> {
    let id = envelope_key_id(bytes, what)?;
    open_envelope(ring.file_key(id, what)?, bytes, what)
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
    fn the_bytes_are_rustcrypto_xchacha20poly1305_and_the_sealer_matches_seal() {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let raw: [u8; 32] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        let key = RecordKey::new(KeyId(9), &raw);
        let nonces = NonceSource::new().unwrap();
        let nonce = nonces.nonce(42);
        let plaintext: Vec<u8> = (0..400).map(|i| (i % 251) as u8).collect();
        let mut ours = Vec::new();
        key.seal(&nonce, b"aad", &plaintext, &mut ours).unwrap();
        let reference = chacha20poly1305::XChaCha20Poly1305::new((&raw).into())
            .encrypt(
                chacha20poly1305::XNonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: b"aad",
                },
            )
            .unwrap();
        assert_eq!(&ours[..NONCE_LEN], &nonce);
        assert_eq!(&ours[NONCE_LEN..], reference.as_slice());
        let sealer = key.sealer(nonces);
        let mut fast = Vec::new();
        sealer.seal(42, b"aad", &plaintext, &mut fast).unwrap();
        assert_eq!(fast, ours);
        assert_eq!(key.open(b"aad", &fast).unwrap(), plaintext);
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

    #[test]
    fn audit_envelopes_use_their_own_subkey() {
        let ring = KeyRing::parse(K1, "k").unwrap();
        let sealed = seal_audit(&ring, b"{\"actor\":\"amartin\"}").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"amartin"));
        assert_eq!(
            open_audit(&ring, &sealed, "leaf 0").unwrap(),
            b"{\"actor\":\"amartin\"}"
        );
        // Not interchangeable with an export envelope of the same key.
        assert!(matches!(
            open_file(&ring, &sealed, "leaf 0").unwrap_err(),
            KeyError::Tampered(_)
        ));
        let other = KeyRing::parse(K2, "k").unwrap();
        assert!(matches!(
            open_audit(&other, &sealed, "leaf 0").unwrap_err(),
            KeyError::UnknownKey { .. }
        ));
    }
}
