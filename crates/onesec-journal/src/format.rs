//! Byte layout of segment files: the segment header and the record framing.
//!
//! See `docs/journal-format.md` for the normative description. Everything is
//! little-endian.

use onesec_keys::{KeyId, RecordKey, SEAL_OVERHEAD, Sealer};
use std::path::{Path, PathBuf};

/// Magic bytes at offset 0 of every segment file.
///
/// The leading non-ASCII byte and the trailing newline make text-mode
/// mangling and "this is some other file" mistakes detectable.
pub const MAGIC: [u8; 8] = [0x89, b'O', b'S', b'J', b'R', b'N', b'L', b'\n'];

/// Format version of a segment whose payloads are stored in the clear.
pub const FORMAT_VERSION: u32 = 1;

/// Format version of a segment whose payloads are sealed (XChaCha20-Poly1305): the header's
/// flags say so and its last four bytes name the key.
pub const ENCRYPTED_FORMAT_VERSION: u32 = 2;

/// Header flag of an encrypted segment (version 2).
const FLAG_ENCRYPTED: u32 = 1;

/// Length of the segment header in bytes.
pub const HEADER_LEN: usize = 32;

/// Length of the fixed part of a record (length, CRC, sequence) in bytes.
pub const RECORD_HEADER_LEN: usize = 16;

/// Largest payload a single record may carry (64 MiB).
///
/// A length field above this value is treated as corruption by recovery and
/// by readers, so a damaged length can never make us allocate gigabytes.
pub const MAX_PAYLOAD_LEN: usize = 64 * 1024 * 1024;

/// Largest length field a record may carry: the largest payload sealed (nonce and tag added).
/// Plain and encrypted segments share the limit, so recovery needs no key to find a torn tail.
pub const MAX_STORED_LEN: usize = MAX_PAYLOAD_LEN + SEAL_OVERHEAD;

/// Suffix of segment file names.
pub const SEGMENT_SUFFIX: &str = ".seg";

/// Suffix of a segment that is still being created (header not yet durable).
pub const TMP_SUFFIX: &str = ".seg.tmp";

/// File name of the segment whose first record has sequence `first_seq`.
pub fn segment_file_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SEGMENT_SUFFIX}")
}

/// Full path of the segment whose first record has sequence `first_seq`.
pub fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(segment_file_name(first_seq))
}

/// Parses a segment file name (`NNNNNNNNNNNNNNNNNNNN.seg`, exactly 20
/// decimal digits) into its first sequence. Anything else yields `None`.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What a valid segment header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Sequence of the segment's first record.
    pub first_seq: u64,
    /// The key its payloads are sealed with; `None` for a plain (version 1) segment.
    pub key: Option<KeyId>,
}

/// Encodes the 32-byte header of a segment starting at `first_seq`, sealed with `key` (a
/// version 2 header) or plain (version 1, byte for byte what earlier builds wrote).
pub fn encode_header(first_seq: u64, key: Option<KeyId>) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    let (version, flags) = match key {
        Some(_) => (ENCRYPTED_FORMAT_VERSION, FLAG_ENCRYPTED),
        None => (FORMAT_VERSION, 0),
    };
    h[8..12].copy_from_slice(&version.to_le_bytes());
    h[12..16].copy_from_slice(&flags.to_le_bytes());
    h[16..24].copy_from_slice(&first_seq.to_le_bytes());
    // 28..32: the key id in version 2; zero (reserved) in version 1.
    if let Some(id) = key {
        h[28..32].copy_from_slice(&id.0.to_le_bytes());
    }
    let crc = header_crc(&h, version);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The header CRC: over bytes 0..24 in version 1 (as earlier builds wrote it), over bytes
/// 0..24 followed by the key id (28..32) in version 2, so a damaged key id is corruption.
fn header_crc(h: &[u8], version: u32) -> u32 {
    let crc = crc32c::crc32c(&h[0..24]);
    if version == ENCRYPTED_FORMAT_VERSION {
        crc32c::crc32c_append(crc, &h[28..32])
    } else {
        crc
    }
}

/// Decodes and validates a segment header, or says in words why it is invalid.
pub fn decode_header(h: &[u8]) -> Result<SegmentHeader, String> {
    if h.len() < HEADER_LEN {
        return Err(format!(
            "segment header is truncated: {} of {HEADER_LEN} bytes present",
            h.len()
        ));
    }
    if h[0..8] != MAGIC {
        return Err(format!(
            "bad magic bytes {:02x?} (expected {:02x?})",
            &h[0..8],
            MAGIC
        ));
    }
    let stored_crc = le_u32(&h[24..28]);
    let computed_crc = header_crc(h, le_u32(&h[8..12]));
    if stored_crc != computed_crc {
        return Err(format!(
            "segment header CRC mismatch: stored {stored_crc:#010x}, computed {computed_crc:#010x}"
        ));
    }
    let version = le_u32(&h[8..12]);
    let flags = le_u32(&h[12..16]);
    let key = match (version, flags) {
        (FORMAT_VERSION, 0) => None,
        (ENCRYPTED_FORMAT_VERSION, FLAG_ENCRYPTED) => Some(KeyId(le_u32(&h[28..32]))),
        (FORMAT_VERSION | ENCRYPTED_FORMAT_VERSION, _) => {
            return Err(format!(
                "unknown header flags {flags:#010x} for format version {version}"
            ));
        }
        _ => {
            return Err(format!(
                "unsupported format version {version} (this build reads versions {FORMAT_VERSION} and {ENCRYPTED_FORMAT_VERSION})"
            ));
        }
    };
    let first_seq = le_u64(&h[16..24]);
    if first_seq == 0 {
        return Err("segment header names first sequence 0 (sequences start at 1)".to_owned());
    }
    Ok(SegmentHeader { first_seq, key })
}

/// The associated data a sealed payload authenticates: its sequence and key id, so a record
/// copied to another place or relabelled with another key does not open.
fn record_aad(seq: u64, key: KeyId) -> [u8; 12] {
    let mut aad = [0u8; 12];
    aad[..8].copy_from_slice(&seq.to_le_bytes());
    aad[8..].copy_from_slice(&key.0.to_le_bytes());
    aad
}

/// Appends one record whose payload is `payload` sealed by `sealer` (nonce: the sealer's
/// prefix and `seq`): the length field and CRC describe the sealed bytes, so recovery checks
/// them without the key.
pub fn encode_sealed_record(
    out: &mut Vec<u8>,
    seq: u64,
    payload: &[u8],
    sealer: &Sealer,
) -> Result<(), onesec_keys::KeyError> {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER_LEN]);
    if let Err(e) = sealer.seal(seq, &record_aad(seq, sealer.id()), payload, out) {
        out.truncate(start);
        return Err(e);
    }
    let body = &out[start + RECORD_HEADER_LEN..];
    // At most MAX_PAYLOAD_LEN + SEAL_OVERHEAD < u32::MAX: lossless.
    let len = body.len() as u32;
    let crc = record_crc(seq, body);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    out[start + 8..start + 16].copy_from_slice(&seq.to_le_bytes());
    Ok(())
}

/// Opens the sealed payload of record `seq`; `None` when it does not authenticate.
pub fn open_sealed_payload(key: &RecordKey, seq: u64, stored: &[u8]) -> Option<Vec<u8>> {
    key.open(&record_aad(seq, key.id()), stored)
}

/// CRC32C over `sequence (u64 LE) ‖ payload`, as stored in each record.
pub fn record_crc(seq: u64, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&seq.to_le_bytes()), payload)
}

/// Appends the encoding of one record to `out`.
///
/// The caller guarantees `payload.len() <= MAX_PAYLOAD_LEN`.
pub fn encode_record(out: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    debug_assert!(payload.len() <= MAX_PAYLOAD_LEN);
    out.reserve(RECORD_HEADER_LEN + payload.len());
    // MAX_PAYLOAD_LEN < u32::MAX, so this conversion is lossless.
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&record_crc(seq, payload).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// The fixed 16-byte prefix of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Payload length in bytes.
    pub len: u32,
    /// Stored CRC32C of `sequence ‖ payload`.
    pub crc: u32,
    /// Sequence number of the record.
    pub seq: u64,
}

impl RecordHeader {
    /// Decodes the fixed record prefix (no validation).
    pub fn decode(b: &[u8; RECORD_HEADER_LEN]) -> Self {
        RecordHeader {
            len: le_u32(&b[0..4]),
            crc: le_u32(&b[4..8]),
            seq: le_u64(&b[8..16]),
        }
    }

    /// Total on-disk size of the record (prefix plus payload).
    pub fn total_len(&self) -> u64 {
        RECORD_HEADER_LEN as u64 + u64::from(self.len)
    }

    /// Checks the length field against the format limit.
    pub fn check_len(&self) -> Result<(), String> {
        if self.len as usize > MAX_STORED_LEN {
            Err(format!(
                "record length field {} exceeds the maximum stored payload length {MAX_STORED_LEN}",
                self.len
            ))
        } else {
            Ok(())
        }
    }

    /// Checks the payload against the stored CRC and the expected sequence.
    pub fn check(&self, payload: &[u8], expected_seq: u64) -> Result<(), String> {
        let computed = record_crc(self.seq, payload);
        if computed != self.crc {
            return Err(format!(
                "record CRC mismatch: stored {:#010x}, computed {computed:#010x} (length {}, sequence field {})",
                self.crc, self.len, self.seq
            ));
        }
        if self.seq != expected_seq {
            return Err(format!(
                "record carries sequence {} where {expected_seq} was expected",
                self.seq
            ));
        }
        Ok(())
    }
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = encode_header(42, None);
        assert_eq!(
            decode_header(&h),
            Ok(SegmentHeader {
                first_seq: 42,
                key: None
            })
        );
        assert_eq!(&h[0..8], &MAGIC);
        assert_eq!(&h[28..32], &[0, 0, 0, 0]);
    }

    #[test]
    fn header_detects_damage() {
        let good = encode_header(7, None);
        for i in 0..28 {
            let mut h = good;
            h[i] ^= 0x01;
            assert!(
                decode_header(&h).is_err(),
                "flip at byte {i} went unnoticed"
            );
        }
        assert!(decode_header(&good[..31]).is_err());
        assert!(decode_header(&encode_header(0, None)).is_err());
        let sealed = encode_header(7, Some(KeyId(0xdead_beef)));
        for i in 0..32 {
            let mut h = sealed;
            h[i] ^= 0x01;
            assert!(
                decode_header(&h).is_err(),
                "flip at byte {i} went unnoticed"
            );
        }
    }

    #[test]
    fn encrypted_header_names_its_key() {
        let h = encode_header(9, Some(KeyId(0x0102_0304)));
        assert_eq!(&h[8..12], &2u32.to_le_bytes());
        assert_eq!(&h[12..16], &1u32.to_le_bytes());
        assert_eq!(&h[28..32], &[4, 3, 2, 1]);
        assert_eq!(
            decode_header(&h),
            Ok(SegmentHeader {
                first_seq: 9,
                key: Some(KeyId(0x0102_0304))
            })
        );
    }

    #[test]
    fn sealed_record_checks_without_the_key_and_opens_with_it() {
        let ring = onesec_keys::KeyRing::parse(
            "3f1c9a7e5b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f61",
            "test",
        )
        .unwrap();
        let key = ring.journal_current();
        let sealer = key.sealer(onesec_keys::NonceSource::new().unwrap());
        let mut out = Vec::new();
        encode_sealed_record(&mut out, 5, b"badge 4711", &sealer).unwrap();
        assert_eq!(out.len(), RECORD_HEADER_LEN + 10 + SEAL_OVERHEAD);
        let mut prefix = [0u8; RECORD_HEADER_LEN];
        prefix.copy_from_slice(&out[..RECORD_HEADER_LEN]);
        let h = RecordHeader::decode(&prefix);
        let stored = &out[RECORD_HEADER_LEN..];
        assert!(h.check(stored, 5).is_ok());
        assert!(!stored.windows(4).any(|w| w == b"4711"));
        assert_eq!(open_sealed_payload(key, 5, stored).unwrap(), b"badge 4711");
        assert!(open_sealed_payload(key, 6, stored).is_none());
    }

    #[test]
    fn record_layout_is_as_documented() {
        let mut out = Vec::new();
        encode_record(&mut out, 0x0102_0304_0506_0708, b"hi");
        assert_eq!(out.len(), RECORD_HEADER_LEN + 2);
        assert_eq!(&out[0..4], &2u32.to_le_bytes());
        let crc = crc32c::crc32c(&[8, 7, 6, 5, 4, 3, 2, 1, b'h', b'i']);
        assert_eq!(&out[4..8], &crc.to_le_bytes());
        assert_eq!(&out[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&out[16..], b"hi");
        let mut prefix = [0u8; RECORD_HEADER_LEN];
        prefix.copy_from_slice(&out[..RECORD_HEADER_LEN]);
        let h = RecordHeader::decode(&prefix);
        assert_eq!(h.total_len(), 18);
        assert!(h.check_len().is_ok());
        assert!(h.check(b"hi", 0x0102_0304_0506_0708).is_ok());
        assert!(h.check(b"ho", 0x0102_0304_0506_0708).is_err());
        assert!(h.check(b"hi", 1).is_err());
    }

    #[test]
    fn documented_example_bytes() {
        // docs/journal-format.md, "Example".
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        let mut file = encode_header(1, None).to_vec();
        encode_record(&mut file, 1, b"hi");
        let expected: [u8; 50] = [
            0x89, 0x4f, 0x53, 0x4a, 0x52, 0x4e, 0x4c, 0x0a, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x8d, 0x03, 0x40, 0x6c,
            0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xde, 0x25, 0x77, 0x2c, 0x01, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, b'h', b'i',
        ];
        assert_eq!(file, expected);
    }

    #[test]
    fn all_zero_record_is_invalid() {
        let h = RecordHeader::decode(&[0u8; RECORD_HEADER_LEN]);
        assert!(h.check(&[], 1).is_err());
    }

    #[test]
    fn segment_names() {
        assert_eq!(segment_file_name(1), "00000000000000000001.seg");
        assert_eq!(parse_segment_file_name("00000000000000000001.seg"), Some(1));
        assert_eq!(
            parse_segment_file_name(&segment_file_name(u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(parse_segment_file_name("1.seg"), None);
        assert_eq!(parse_segment_file_name("0000000000000000000x.seg"), None);
        assert_eq!(
            parse_segment_file_name("00000000000000000001.seg.tmp"),
            None
        );
        assert_eq!(parse_segment_file_name("99999999999999999999.seg"), None);
    }
}
