//! Byte layout of segment files: the segment header and the record framing.
//!
//! See `docs/journal-format.md` for the normative description. Everything is
//! little-endian.

use std::path::{Path, PathBuf};

/// Magic bytes at offset 0 of every segment file.
///
/// The leading non-ASCII byte and the trailing newline make text-mode
/// mangling and "this is some other file" mistakes detectable.
pub const MAGIC: [u8; 8] = [0x89, b'O', b'S', b'J', b'R', b'N', b'L', b'\n'];

/// Current (and only) on-disk format version.
pub const FORMAT_VERSION: u32 = 1;

/// Length of the segment header in bytes.
pub const HEADER_LEN: usize = 32;

/// Length of the fixed part of a record (length, CRC, sequence) in bytes.
pub const RECORD_HEADER_LEN: usize = 16;

/// Largest payload a single record may carry (64 MiB).
///
/// A length field above this value is treated as corruption by recovery and
/// by readers, so a damaged length can never make us allocate gigabytes.
pub const MAX_PAYLOAD_LEN: usize = 64 * 1024 * 1024;

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

/// Encodes the 32-byte header of a segment starting at `first_seq`.
pub fn encode_header(first_seq: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    // 12..16: flags, zero in version 1.
    h[16..24].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[0..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    // 28..32: reserved, zero.
    h
}

/// Decodes and validates a segment header, returning its first sequence or
/// a human-readable reason why the header is invalid.
pub fn decode_header(h: &[u8]) -> Result<u64, String> {
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
    let computed_crc = crc32c::crc32c(&h[0..24]);
    if stored_crc != computed_crc {
        return Err(format!(
            "segment header CRC mismatch: stored {stored_crc:#010x}, computed {computed_crc:#010x}"
        ));
    }
    let version = le_u32(&h[8..12]);
    if version != FORMAT_VERSION {
        return Err(format!(
            "unsupported format version {version} (this build reads version {FORMAT_VERSION})"
        ));
    }
    let flags = le_u32(&h[12..16]);
    if flags != 0 {
        return Err(format!("unknown header flags {flags:#010x}"));
    }
    let first_seq = le_u64(&h[16..24]);
    if first_seq == 0 {
        return Err("segment header names first sequence 0 (sequences start at 1)".to_owned());
    }
    Ok(first_seq)
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
        if self.len as usize > MAX_PAYLOAD_LEN {
            Err(format!(
                "record length field {} exceeds the maximum payload length {MAX_PAYLOAD_LEN}",
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
        let h = encode_header(42);
        assert_eq!(decode_header(&h), Ok(42));
        assert_eq!(&h[0..8], &MAGIC);
        assert_eq!(&h[28..32], &[0, 0, 0, 0]);
    }

    #[test]
    fn header_detects_damage() {
        let good = encode_header(7);
        for i in 0..28 {
            let mut h = good;
            h[i] ^= 0x01;
            assert!(
                decode_header(&h).is_err(),
                "flip at byte {i} went unnoticed"
            );
        }
        assert!(decode_header(&good[..31]).is_err());
        assert!(decode_header(&encode_header(0)).is_err());
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
        let mut file = encode_header(1).to_vec();
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
