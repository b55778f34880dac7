//! Encrypted segments: nothing of a payload is in the files, keys rotate segment by segment,
//! and a missing or wrong key is refused by name instead of yielding garbage.

mod common;

use std::path::Path;

use common::{OTHER_KEY, TEST_KEY, payload_for, read_all, ring, segment_files};
use onesec_journal::{Journal, JournalConfig, JournalError, Position};

const SEG: u64 = 4096;

fn open_with(dir: &Path, keys: &[&str]) -> Journal {
    let keys = (!keys.is_empty()).then(|| ring(keys));
    Journal::open(JournalConfig::new(dir).segment_bytes(SEG).keys(keys))
        .expect("open journal")
        .0
}

fn header_version_and_key(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    (
        u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
        u32::from_le_bytes(bytes[28..32].try_into().unwrap()),
    )
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn sealed_records_read_back_and_leave_no_plaintext_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_with(dir.path(), &[TEST_KEY]);
    let secret = b"{\"person\":\"Dagny Lindqvist\",\"badge\":\"0047113\"}".to_vec();
    j.append(secret.clone()).unwrap();
    for s in 2..=80 {
        j.append(payload_for(s)).unwrap();
    }
    let all = read_all(&j, 1);
    assert_eq!(all[0].1, secret);
    for (s, p) in &all[1..] {
        assert_eq!(*p, payload_for(*s));
    }
    drop(j);
    let segs = segment_files(dir.path());
    assert!(segs.len() > 1, "small segments roll");
    for seg in &segs {
        let bytes = std::fs::read(seg).unwrap();
        assert_eq!(header_version_and_key(seg).0, 2);
        assert!(!contains(&bytes, b"Lindqvist") && !contains(&bytes, b"0047113"));
    }
    // The same data in a plain journal is there to find: the scan above is not vacuous.
    let plain = tempfile::tempdir().unwrap();
    open_with(plain.path(), &[]).append(secret).unwrap();
    let bytes = std::fs::read(&segment_files(plain.path())[0]).unwrap();
    assert!(contains(&bytes, b"Lindqvist"));
}

#[test]
fn reopening_with_the_key_resumes_and_without_it_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_with(dir.path(), &[TEST_KEY]);
    for s in 1..=10 {
        j.append(payload_for(s)).unwrap();
    }
    drop(j);
    match Journal::open(JournalConfig::new(dir.path()).keys(None)) {
        Err(JournalError::KeyUnavailable { why, .. }) => {
            assert!(why.contains("no encryption key"), "{why}")
        }
        other => panic!("expected KeyUnavailable, got {other:?}"),
    }
    let err =
        Journal::open(JournalConfig::new(dir.path()).keys(Some(ring(&[OTHER_KEY])))).unwrap_err();
    assert!(
        matches!(err, JournalError::KeyUnavailable { .. }),
        "wrong key: {err}"
    );
    assert!(err.to_string().contains("[privacy.encryption]"), "{err}");
    let j = open_with(dir.path(), &[TEST_KEY]);
    j.append(payload_for(11)).unwrap();
    assert_eq!(read_all(&j, 1).len(), 11);
}

#[test]
fn rotation_starts_a_segment_with_the_new_key_and_old_segments_stay_readable() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_with(dir.path(), &[TEST_KEY]);
    for s in 1..=5 {
        j.append(payload_for(s)).unwrap();
    }
    drop(j);
    let before = segment_files(dir.path());
    let old_id = header_version_and_key(&before[before.len() - 1]).1;
    // New key first, old key kept for reading.
    let j = open_with(dir.path(), &[OTHER_KEY, TEST_KEY]);
    j.append(payload_for(6)).unwrap();
    let after = segment_files(dir.path());
    assert_eq!(
        after.len(),
        before.len() + 1,
        "a new segment for the new key"
    );
    let new_id = header_version_and_key(&after[after.len() - 1]).1;
    assert_ne!(new_id, old_id);
    let all = read_all(&j, 1);
    assert_eq!(all.len(), 6);
    assert!(all.iter().all(|(s, p)| *p == payload_for(*s)));
    drop(j);
    // Without the old key the old segment is refused, naming it.
    let err =
        Journal::open(JournalConfig::new(dir.path()).keys(Some(ring(&[OTHER_KEY])))).unwrap_err();
    match err {
        JournalError::KeyUnavailable { segment, .. } => assert_eq!(segment, before[0]),
        other => panic!("expected KeyUnavailable, got {other:?}"),
    }
}

#[test]
fn turning_encryption_on_keeps_plain_segments_readable_and_seals_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_with(dir.path(), &[]);
    for s in 1..=3 {
        j.append(payload_for(s)).unwrap();
    }
    drop(j);
    let j = open_with(dir.path(), &[TEST_KEY]);
    j.append(payload_for(4)).unwrap();
    let segs = segment_files(dir.path());
    assert_eq!(header_version_and_key(&segs[0]).0, 1);
    assert_eq!(header_version_and_key(&segs[segs.len() - 1]).0, 2);
    assert_eq!(read_all(&j, 1).len(), 4);
}

#[test]
fn an_empty_newest_segment_is_reheaded_for_the_current_key() {
    let dir = tempfile::tempdir().unwrap();
    drop(open_with(dir.path(), &[]));
    let segs = segment_files(dir.path());
    assert_eq!(segs.len(), 1);
    assert_eq!(header_version_and_key(&segs[0]).0, 1);
    let j = open_with(dir.path(), &[TEST_KEY]);
    j.append(payload_for(1)).unwrap();
    let segs = segment_files(dir.path());
    assert_eq!(segs.len(), 1, "no second segment for an empty one");
    assert_eq!(header_version_and_key(&segs[0]).0, 2);
    assert_eq!(read_all(&j, 1), vec![(1, payload_for(1))]);
}

#[test]
fn read_at_opens_sealed_records_and_refuses_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_with(dir.path(), &[TEST_KEY]);
    j.append_batch((1..=4).map(payload_for).collect()).unwrap();
    let mut reader = j.reader(1).unwrap();
    let (_, _, position): (u64, Vec<u8>, Position) = reader.try_next_located().unwrap().unwrap();
    let keys = ring(&[TEST_KEY]);
    let records = onesec_journal::read_at_with(Some(&keys), dir.path(), position, 1, 4).unwrap();
    assert_eq!(records[3], (4, payload_for(4)));
    let err = onesec_journal::read_at_with(None, dir.path(), position, 1, 1).unwrap_err();
    assert!(matches!(err, JournalError::KeyUnavailable { .. }), "{err}");
}

#[test]
fn a_record_altered_with_a_matching_crc_does_not_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_with(dir.path(), &[TEST_KEY]);
    j.append(payload_for(1)).unwrap();
    drop(j);
    let seg = &segment_files(dir.path())[0];
    let mut bytes = std::fs::read(seg).unwrap();
    // Change a ciphertext byte and fix the CRC, as an attacker (not bit rot) would.
    let len = u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
    bytes[32 + 16 + 30] ^= 0x01;
    let mut crc_input = 1u64.to_le_bytes().to_vec();
    crc_input.extend_from_slice(&bytes[48..48 + len]);
    bytes[36..40].copy_from_slice(&crc32c(&crc_input).to_le_bytes());
    std::fs::write(seg, bytes).unwrap();
    let j = open_with(dir.path(), &[TEST_KEY]);
    let err = j.reader(1).unwrap().try_next().unwrap_err();
    assert!(
        matches!(err, JournalError::Undecryptable { sequence: 1, .. }),
        "{err}"
    );
}

/// CRC32C (Castagnoli), bitwise, as docs/journal-format.md defines it.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn resealing_moves_old_segments_to_the_current_key_keeping_every_offset() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_with(dir.path(), &[TEST_KEY]);
    for s in 1..=40 {
        j.append(payload_for(s)).unwrap();
    }
    let mut reader = j.reader(1).unwrap();
    let mut positions = Vec::new();
    while let Some((seq, _, position)) = reader.try_next_located().unwrap() {
        positions.push((seq, position));
    }
    drop(reader);
    drop(j);
    let sizes: Vec<u64> = segment_files(dir.path())
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect();
    let j = open_with(dir.path(), &[OTHER_KEY, TEST_KEY]);
    j.append(payload_for(41)).unwrap();
    let err = onesec_journal::reseal_dir(
        JournalConfig::new(dir.path()).keys(Some(ring(&[OTHER_KEY, TEST_KEY]))),
    )
    .unwrap_err();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    drop(j);
    let done = onesec_journal::reseal_dir(
        JournalConfig::new(dir.path()).keys(Some(ring(&[OTHER_KEY, TEST_KEY]))),
    )
    .unwrap();
    assert_eq!(done.resealed.len(), sizes.len(), "every old segment");
    let new_only = ring(&[OTHER_KEY]);
    for (seq, position) in positions {
        let got =
            onesec_journal::read_at_with(Some(&new_only), dir.path(), position, seq, 1).unwrap();
        assert_eq!(got, vec![(seq, payload_for(seq))]);
    }
    for (path, size) in segment_files(dir.path()).iter().zip(&sizes) {
        assert_eq!(std::fs::metadata(path).unwrap().len(), *size);
    }
    let j = open_with(dir.path(), &[OTHER_KEY]);
    assert_eq!(read_all(&j, 1).len(), 41);
}
