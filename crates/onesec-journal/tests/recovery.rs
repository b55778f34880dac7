//! Recovery on open: torn tails are cut, damage elsewhere is an error.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{open, payload_for, read_all, segment_files};
use onesec_journal::{FsyncPolicy, Journal, JournalError};

const SEG: u64 = 1024;

/// Writes records 1..=n with small segments and closes the journal.
fn populate(dir: &Path, n: u64) -> Vec<PathBuf> {
    let (j, _) = open(dir, SEG, FsyncPolicy::Always);
    for s in 1..=n {
        j.append(payload_for(s)).unwrap();
    }
    drop(j);
    segment_files(dir)
}

/// (offset, total length) of every record in a segment, parsed by hand from the documented format.
fn record_spans(path: &Path) -> Vec<(u64, u64)> {
    let bytes = std::fs::read(path).unwrap();
    let mut spans = Vec::new();
    let mut off = 32usize;
    while off + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
        if off + 16 + len > bytes.len() {
            break;
        }
        spans.push((off as u64, 16 + len as u64));
        off += 16 + len;
    }
    spans
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

fn append_bytes(path: &Path, extra: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(extra).unwrap();
}

fn assert_intact(j: &Journal, last: u64) {
    let all = read_all(j, 1);
    assert_eq!(all.len() as u64, last);
    for (s, p) in &all {
        assert_eq!(*p, payload_for(*s), "payload of {s}");
    }
}

#[test]
fn torn_tail_mid_record_is_truncated_and_earlier_records_intact() {
    let dir = tempfile::tempdir().unwrap();
    let segs = populate(dir.path(), 40);
    assert!(segs.len() >= 3);
    let last = segs.last().unwrap();
    let spans = record_spans(last);
    let (off, total) = *spans.last().unwrap();
    let file_len = std::fs::metadata(last).unwrap().len();
    assert_eq!(off + total, file_len);
    // Cut the last record in the middle of its payload.
    OpenOptions::new()
        .write(true)
        .open(last)
        .unwrap()
        .set_len(file_len - 5)
        .unwrap();

    let (j, rec) = open(dir.path(), SEG, FsyncPolicy::Always);
    let torn = rec.torn_tail.clone().expect("torn tail reported");
    assert_eq!(&torn.segment, last);
    assert_eq!(torn.offset, off);
    assert_eq!(torn.bytes_dropped, total - 5);
    assert_eq!(rec.torn_bytes_dropped(), total - 5);
    assert!(torn.reason.contains("torn record"), "{}", torn.reason);
    assert_eq!(torn.intact_records_after, 0);
    assert_eq!(torn.preserved_as, None);
    assert_eq!(rec.last_sequence, 39);
    assert_eq!(std::fs::metadata(last).unwrap().len(), off);
    assert_intact(&j, 39);

    // The sequence continues where the intact data ends.
    assert_eq!(j.append(payload_for(40)).unwrap(), 40);
    drop(j);
    let (j, rec) = open(dir.path(), SEG, FsyncPolicy::Always);
    assert!(rec.is_clean(), "{rec:?}");
    assert_intact(&j, 40);
}

#[test]
fn torn_record_prefix_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let segs = populate(dir.path(), 10);
    let last = segs.last().unwrap();
    // 7 bytes of what would be the next record's prefix.
    append_bytes(last, &[9, 0, 0, 0, 1, 2, 3]);
    let (j, rec) = open(dir.path(), SEG, FsyncPolicy::Always);
    assert_eq!(rec.torn_bytes_dropped(), 7);
    assert_eq!(rec.last_sequence, 10);
    assert_intact(&j, 10);
}

#[test]
fn garbage_appended_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let segs = populate(dir.path(), 25);
    let last = segs.last().unwrap();
    let before = std::fs::metadata(last).unwrap().len();
    let mut x = 0x1234_5678_9abc_def0u64;
    let garbage: Vec<u8> = (0..3000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    append_bytes(last, &garbage);

    let (j, rec) = open(dir.path(), SEG, FsyncPolicy::Always);
    let torn = rec.torn_tail.clone().expect("garbage reported");
    assert_eq!(torn.offset, before);
    assert_eq!(torn.bytes_dropped, 3000);
    assert_eq!(torn.intact_records_after, 0);
    assert_eq!(rec.last_sequence, 25);
    assert_eq!(std::fs::metadata(last).unwrap().len(), before);
    assert_intact(&j, 25);
}

#[test]
fn zero_filled_tail_is_truncated() {
    // What a crash can leave when the file size reached disk but the data did not.
    let dir = tempfile::tempdir().unwrap();
    let segs = populate(dir.path(), 12);
    append_bytes(segs.last().unwrap(), &[0u8; 4096]);
    let (j, rec) = open(dir.path(), SEG, FsyncPolicy::Always);
    assert_eq!(rec.torn_bytes_dropped(), 4096);
    assert_eq!(rec.last_sequence, 12);
    assert_intact(&j, 12);
}

#[test]
fn flipped_byte_in_middle_segment_is_corrupt_error() {
    let dir = tempfile::tempdir().unwrap();
    let segs = populate(dir.path(), 60);
    assert!(segs.len() >= 4, "{segs:?}");
    let victim = &segs[1];
    let spans = record_spans(victim);
    let (off, total) = spans[spans.len() / 2];
    // A payload byte of a record in the middle of the segment.
    flip_byte(victim, off + 16 + (total - 16) / 2);
    let len_before: Vec<u64> = segs
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect();

    for _ in 0..2 {
        let err = Journal::open(common::config(dir.path())).unwrap_err();
        match &err {
            JournalError::Corrupt {
                segment,
                offset,
                reason,
            } => {
                assert_eq!(segment, victim);
                assert_eq!(*offset, off);
                assert!(reason.contains("CRC mismatch"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("corrupt") && msg.contains(&victim.display().to_string()),
            "{msg}"
        );
    }
    // Nothing was "repaired" away.
    let len_after: Vec<u64> = segs
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect();
    assert_eq!(len_before, len_after);
}

#[test]
fn flipped_header_byte_in_middle_segment_is_corrupt_error() {
    let dir = tempfile::tempdir().unwrap();
    let segs = populate(dir.path(), 60);
    flip_byte(&segs[1], 3);
    match Journal::open(common::config(dir.path())) {
        Err(JournalError::Corrupt {
            segment,
            offset,
            reason,
        }) => {
            assert_eq!(segment, segs[1]);
            assert_eq!(offset, 0);
            assert!(reason.contains("magic"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn truncated_middle_segment_is_corrupt_error() {
    let dir = tempfile::tempdir().unwrap();
    let segs = populate(dir.path(), 60);
    let len = std::fs::metadata(&segs[1]).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&segs[1])
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let err = Journal::open(common::config(dir.path())).unwrap_err();
    assert!(
        matches!(err, JournalError::Corrupt { ref segment, .. } if *segment == segs[1]),
        "{err}"
    );
}

#[test]
fn missing_middle_segment_is_corrupt_error() {
    let dir = tempfile::tempdir().unwrap();
    let segs = populate(dir.path(), 60);
    std::fs::remove_file(&segs[1]).unwrap();
    match Journal::open(common::config(dir.path())) {
        Err(JournalError::Corrupt {
            segment, reason, ..
        }) => {
            assert_eq!(segment, segs[2]);
            assert!(reason.contains("missing"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn damage_inside_newest_segment_is_cut_but_preserved() {
    let dir = tempfile::tempdir().unwrap();
    let segs = populate(dir.path(), 30);
    let last = segs.last().unwrap();
    let spans = record_spans(last);
    assert!(spans.len() >= 3, "{spans:?}");
    let (off, _) = spans[1];
    let file_len = std::fs::metadata(last).unwrap().len();
    flip_byte(last, off + 20);

    let (j, rec) = open(dir.path(), SEG, FsyncPolicy::Always);
    let torn = rec.torn_tail.clone().unwrap();
    assert_eq!(torn.offset, off);
    assert_eq!(torn.intact_records_after, spans.len() as u64 - 2);
    let copy = torn.preserved_as.clone().expect("damaged bytes preserved");
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), file_len - off);
    let first_in_last: u64 = last.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    assert_eq!(rec.last_sequence, first_in_last);
    assert_intact(&j, first_in_last);
}

#[test]
fn unfinished_segment_creation_is_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let segs = populate(dir.path(), 20);
    let n_segs = segs.len();
    let last_seq = 20u64;
    // A temp file from an interrupted roll and a newest segment whose header never made it.
    let tmp = dir.path().join(format!("{:020}.seg.tmp", last_seq + 1));
    std::fs::write(&tmp, b"partial").unwrap();
    let headerless = dir.path().join(format!("{:020}.seg", last_seq + 1));
    std::fs::write(&headerless, [0x89, b'O', b'S']).unwrap();

    let (j, rec) = open(dir.path(), SEG, FsyncPolicy::Always);
    assert!(rec.removed_files.contains(&tmp), "{rec:?}");
    assert!(rec.removed_files.contains(&headerless), "{rec:?}");
    assert!(!tmp.exists());
    assert_eq!(rec.last_sequence, 20);
    assert_eq!(rec.segments, n_segs + 1);
    assert_eq!(j.append(payload_for(21)).unwrap(), 21);
    assert_intact(&j, 21);
}

#[test]
fn newest_segment_with_bad_header_but_intact_records_is_corrupt_error() {
    let dir = tempfile::tempdir().unwrap();
    let segs = populate(dir.path(), 30);
    flip_byte(segs.last().unwrap(), 0);
    let err = Journal::open(common::config(dir.path())).unwrap_err();
    match err {
        JournalError::Corrupt { reason, .. } => {
            assert!(reason.contains("refusing to discard"), "{reason}")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// Every recovery test again with encrypted segments: lengths and CRCs cover the sealed
/// bytes, so torn tails and damage are found exactly as in plain segments.
mod encrypted {
    #[test]
    fn torn_tail_mid_record_is_truncated_and_earlier_records_intact() {
        super::common::encrypted(
            super::torn_tail_mid_record_is_truncated_and_earlier_records_intact,
        );
    }
    #[test]
    fn torn_record_prefix_is_truncated() {
        super::common::encrypted(super::torn_record_prefix_is_truncated);
    }
    #[test]
    fn garbage_appended_is_truncated() {
        super::common::encrypted(super::garbage_appended_is_truncated);
    }
    #[test]
    fn zero_filled_tail_is_truncated() {
        super::common::encrypted(super::zero_filled_tail_is_truncated);
    }
    #[test]
    fn flipped_byte_in_middle_segment_is_corrupt_error() {
        super::common::encrypted(super::flipped_byte_in_middle_segment_is_corrupt_error);
    }
    #[test]
    fn flipped_header_byte_in_middle_segment_is_corrupt_error() {
        super::common::encrypted(super::flipped_header_byte_in_middle_segment_is_corrupt_error);
    }
    #[test]
    fn truncated_middle_segment_is_corrupt_error() {
        super::common::encrypted(super::truncated_middle_segment_is_corrupt_error);
    }
    #[test]
    fn missing_middle_segment_is_corrupt_error() {
        super::common::encrypted(super::missing_middle_segment_is_corrupt_error);
    }
    #[test]
    fn damage_inside_newest_segment_is_cut_but_preserved() {
        super::common::encrypted(super::damage_inside_newest_segment_is_cut_but_preserved);
    }
    #[test]
    fn unfinished_segment_creation_is_cleaned_up() {
        super::common::encrypted(super::unfinished_segment_creation_is_cleaned_up);
    }
    #[test]
    fn newest_segment_with_bad_header_but_intact_records_is_corrupt_error() {
        super::common::encrypted(
            super::newest_segment_with_bad_header_but_intact_records_is_corrupt_error,
        );
    }
}
