//! Behaviour of a healthy journal: appends, rolls, restarts, readers, retention.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{block_on, open, payload_for, read_all, segment_files};
use onesec_journal::{FsyncPolicy, Journal, JournalConfig, JournalError, MAX_PAYLOAD_LEN};

#[test]
fn round_trip_across_segment_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let (j, rec) = open(dir.path(), 4096, FsyncPolicy::Always);
    assert_eq!(rec.last_sequence, 0);
    assert_eq!(rec.first_sequence, 1);
    assert!(rec.is_clean());

    let mut next = 1;
    for batch in 0..20 {
        let n = 1 + batch % 7;
        let payloads: Vec<Vec<u8>> = (next..next + n).map(payload_for).collect();
        let range = j.append_batch(payloads).unwrap();
        assert_eq!(range, next..=next + n - 1);
        next += n;
    }
    let last = next - 1;
    assert_eq!(j.last_sequence(), last);
    let segs = segment_files(dir.path());
    assert!(segs.len() > 3, "expected several segments, got {segs:?}");
    assert_eq!(
        segs[0].file_name().unwrap().to_str().unwrap(),
        "00000000000000000001.seg"
    );
    for s in &segs {
        let len = std::fs::metadata(s).unwrap().len();
        // Rolled at 4096 bytes; only a single oversized record could exceed it.
        assert!(len <= 4096, "{s:?} is {len} bytes");
    }

    let all = read_all(&j, 1);
    assert_eq!(all.len() as u64, last);
    for (i, (seq, p)) in all.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert_eq!(p, &payload_for(*seq));
    }
    // Start in the middle of a later segment.
    let mid = read_all(&j, last - 10);
    assert_eq!(mid.first().unwrap().0, last - 10);
    assert_eq!(mid.len(), 11);
}

#[test]
fn restart_continues_sequence() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (j, _) = open(dir.path(), 2048, FsyncPolicy::Always);
        for s in 1..=50u64 {
            assert_eq!(j.append(payload_for(s)).unwrap(), s);
        }
    }
    let (j, rec) = open(dir.path(), 2048, FsyncPolicy::Always);
    assert!(rec.is_clean(), "{rec:?}");
    assert_eq!(rec.last_sequence, 50);
    assert_eq!(rec.first_sequence, 1);
    assert_eq!(rec.segments, segment_files(dir.path()).len());
    assert_eq!(j.last_sequence(), 50);
    assert_eq!(
        j.append_batch(vec![payload_for(51), payload_for(52)])
            .unwrap(),
        51..=52
    );
    drop(j);
    let (j, rec) = open(dir.path(), 2048, FsyncPolicy::Always);
    assert_eq!(rec.last_sequence, 52);
    let all = read_all(&j, 1);
    assert_eq!(all.len(), 52);
    assert!(all.iter().all(|(s, p)| *p == payload_for(*s)));
}

#[test]
fn restart_after_empty_rolled_segment() {
    // A segment can end exactly at the roll size; the next append rolls.
    let dir = tempfile::tempdir().unwrap();
    {
        let (j, _) = open(dir.path(), 32 + 16 + 10, FsyncPolicy::Always);
        j.append(vec![7u8; 10]).unwrap();
        j.append(vec![8u8; 10]).unwrap();
    }
    let (j, rec) = open(dir.path(), 32 + 16 + 10, FsyncPolicy::Always);
    assert_eq!(rec.last_sequence, 2);
    assert_eq!(rec.segments, 2);
    assert_eq!(j.append(vec![9u8; 10]).unwrap(), 3);
    assert_eq!(read_all(&j, 1).len(), 3);
}

#[test]
fn oversized_record_gets_its_own_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open(dir.path(), 1024, FsyncPolicy::Always);
    j.append(vec![1; 100]).unwrap();
    j.append(vec![2; 5000]).unwrap();
    j.append(vec![3; 100]).unwrap();
    let segs = segment_files(dir.path());
    assert_eq!(segs.len(), 3);
    let all = read_all(&j, 1);
    assert_eq!(all[1].1, vec![2; 5000]);
    assert_eq!(all[2].1, vec![3; 100]);
}

#[test]
fn concurrent_appenders_get_disjoint_gapless_sequences() {
    const THREADS: usize = 8;
    const BATCHES: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open(dir.path(), 64 * 1024, FsyncPolicy::Always);
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let j = j.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                let mut got = Vec::new();
                for b in 0..BATCHES {
                    let n = 1 + (t + b) % 25;
                    let payloads: Vec<Vec<u8>> = (0..n)
                        .map(|i| format!("t{t}-b{b}-i{i}").into_bytes())
                        .collect();
                    let r = j.append_batch(payloads).unwrap();
                    assert_eq!(r.end() - r.start() + 1, n as u64);
                    got.push((r, t, b));
                }
                got
            })
        })
        .collect();
    let mut ranges: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    ranges.sort_by_key(|(r, _, _)| *r.start());
    let mut expected = 1;
    for (r, _, _) in &ranges {
        assert_eq!(*r.start(), expected, "gap or overlap before {r:?}");
        expected = r.end() + 1;
    }
    assert_eq!(j.last_sequence(), expected - 1);

    // Each range holds exactly that batch's payloads, in order.
    let all = read_all(&j, 1);
    for (r, t, b) in &ranges {
        for (i, seq) in r.clone().enumerate() {
            let (s, p) = &all[(seq - 1) as usize];
            assert_eq!(*s, seq);
            assert_eq!(p, format!("t{t}-b{b}-i{i}").as_bytes());
        }
    }
}

#[test]
fn reader_wakes_on_new_appends() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open(dir.path(), 1024, FsyncPolicy::Always);
    let mut reader = j.reader(1).unwrap();
    assert!(reader.next().is_none(), "empty journal yields nothing");
    assert!(reader.next_timeout(Duration::from_millis(20)).is_none());

    let appender = {
        let j = j.clone();
        thread::spawn(move || {
            for s in 1..=100u64 {
                thread::sleep(Duration::from_micros(200));
                j.append(payload_for(s)).unwrap();
            }
        })
    };
    let start = Instant::now();
    let mut seen = 0;
    while seen < 100 {
        let (seq, p) = reader
            .next_timeout(Duration::from_secs(10))
            .expect("reader should be woken")
            .unwrap();
        seen += 1;
        assert_eq!(seq, seen);
        assert_eq!(p, payload_for(seq));
    }
    assert!(start.elapsed() < Duration::from_secs(10));
    appender.join().unwrap();
    // Caught up again; resumable after returning None.
    assert!(reader.next().is_none());
    j.append(b"later".to_vec()).unwrap();
    assert_eq!(reader.next().unwrap().unwrap(), (101, b"later".to_vec()));
}

#[test]
fn subscription_wakes_blocking_and_async() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open(dir.path(), 1 << 20, FsyncPolicy::Always);
    let sub = j.subscribe();
    assert_eq!(sub.last_sequence(), 0);
    assert_eq!(
        sub.wait_beyond(0, Duration::from_millis(10)),
        0,
        "times out"
    );

    let waiter = {
        let sub = sub.clone();
        thread::spawn(move || sub.wait_beyond(0, Duration::from_secs(10)))
    };
    thread::sleep(Duration::from_millis(20));
    j.append_batch(vec![b"a".to_vec(), b"b".to_vec()]).unwrap();
    assert_eq!(waiter.join().unwrap(), 2);

    let j2 = j.clone();
    let async_waiter = thread::spawn(move || block_on(j2.subscribe().changed(2)));
    thread::sleep(Duration::from_millis(20));
    j.append(b"c".to_vec()).unwrap();
    assert_eq!(async_waiter.join().unwrap(), 3);

    // Dropping the journal closes subscriptions.
    drop(j);
    assert!(sub.is_closed());
    assert_eq!(sub.wait_beyond_forever(3), 3);
}

#[test]
fn async_append_and_async_reader() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open(dir.path(), 4096, FsyncPolicy::Always);
    let futures: Vec<_> = (0..10)
        .map(|i| j.append_batch_async(vec![vec![i as u8; 50]; 3]))
        .collect();
    // Order is fixed at submission, not at await time.
    for (i, f) in futures.into_iter().enumerate().rev() {
        let r = block_on(f).unwrap();
        let start = 1 + 3 * i as u64;
        assert_eq!(r, start..=start + 2);
    }
    let mut reader = j.reader(1).unwrap();
    let got = block_on(async {
        let mut v = Vec::new();
        while v.len() < 30 {
            v.push(reader.next_async().await.unwrap().unwrap());
        }
        v
    });
    assert_eq!(got.last().unwrap().0, 30);
    assert_eq!(got[29].1, vec![9u8; 50]);

    // A waiting async reader is woken by a later append.
    let j2 = j.clone();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        j2.append(b"tail".to_vec()).unwrap();
    });
    let rec = block_on(reader.next_async()).unwrap().unwrap();
    assert_eq!(rec, (31, b"tail".to_vec()));
    t.join().unwrap();
}

#[test]
fn truncate_before_removes_only_whole_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open(dir.path(), 1024, FsyncPolicy::Always);
    for s in 1..=200u64 {
        j.append(payload_for(s)).unwrap();
    }
    let before = segment_files(dir.path());
    let firsts: Vec<u64> = before
        .iter()
        .map(|p| p.file_stem().unwrap().to_str().unwrap().parse().unwrap())
        .collect();
    assert!(firsts.len() > 4);

    // Nothing below the first segment's end: nothing removed.
    assert_eq!(j.truncate_before(firsts[1] - 1).unwrap(), 0);
    assert_eq!(j.first_sequence(), 1);
    // Exactly the first two segments.
    assert_eq!(j.truncate_before(firsts[2]).unwrap(), 2);
    assert_eq!(j.first_sequence(), firsts[2]);
    assert_eq!(segment_files(dir.path()).len(), before.len() - 2);

    match j.reader(firsts[2] - 1) {
        Err(JournalError::SequenceUnavailable {
            requested,
            first_available,
        }) => {
            assert_eq!(requested, firsts[2] - 1);
            assert_eq!(first_available, firsts[2]);
        }
        other => panic!("expected SequenceUnavailable, got {other:?}"),
    }
    let rest = read_all(&j, firsts[2]);
    assert_eq!(rest.len() as u64, 200 - firsts[2] + 1);

    // Never removes the active segment, even when asked for everything.
    let n = j.truncate_before(u64::MAX).unwrap();
    assert_eq!(n, before.len() - 3);
    assert_eq!(segment_files(dir.path()).len(), 1);
    let last_first = *firsts.last().unwrap();
    assert_eq!(j.first_sequence(), last_first);
    assert_eq!(read_all(&j, last_first).len() as u64, 200 - last_first + 1);

    // Survives a restart and keeps counting.
    drop(j);
    let (j, rec) = open(dir.path(), 1024, FsyncPolicy::Always);
    assert_eq!(rec.first_sequence, last_first);
    assert_eq!(rec.last_sequence, 200);
    assert_eq!(j.append(b"x".to_vec()).unwrap(), 201);
}

#[test]
fn reader_keeps_working_while_segments_are_retired() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open(dir.path(), 1024, FsyncPolicy::Always);
    for s in 1..=100u64 {
        j.append(payload_for(s)).unwrap();
    }
    let mut r = j.reader(1).unwrap();
    assert_eq!(r.next().unwrap().unwrap().0, 1);
    // The reader holds the first segment open; later ones are gone.
    j.truncate_before(101).unwrap();
    let second = r.next().unwrap().unwrap();
    assert_eq!(second.0, 2);
    // Eventually it runs into a removed segment and says so.
    let err = r
        .find_map(|x| x.err())
        .expect("an error once segments are gone");
    assert!(
        matches!(err, JournalError::SequenceUnavailable { .. }),
        "{err}"
    );
}

#[test]
fn invalid_requests_are_rejected_without_side_effects() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open(dir.path(), 1 << 20, FsyncPolicy::Always);
    assert!(matches!(
        j.append_batch(Vec::new()),
        Err(JournalError::EmptyBatch)
    ));
    let big = vec![0u8; MAX_PAYLOAD_LEN + 1];
    match j.append_batch(vec![b"ok".to_vec(), big]) {
        Err(JournalError::RecordTooLarge { index, len, max }) => {
            assert_eq!((index, len, max), (1, MAX_PAYLOAD_LEN + 1, MAX_PAYLOAD_LEN));
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    assert_eq!(j.last_sequence(), 0);
    assert!(matches!(
        j.reader(0),
        Err(JournalError::SequenceUnavailable { .. })
    ));
    // Empty payloads are fine.
    assert_eq!(j.append(Vec::new()).unwrap(), 1);
    assert_eq!(read_all(&j, 1), vec![(1, Vec::new())]);

    let err =
        Journal::open(JournalConfig::new(dir.path().join("x")).segment_bytes(10)).unwrap_err();
    assert!(matches!(err, JournalError::InvalidConfig(_)), "{err}");
}

#[test]
fn second_open_of_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open(dir.path(), 1 << 20, FsyncPolicy::Always);
    let err = Journal::open(JournalConfig::new(dir.path())).unwrap_err();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("already open"), "{err}");
    drop(j);
    Journal::open(JournalConfig::new(dir.path())).unwrap();
}

#[test]
fn interval_and_never_policies_round_trip() {
    for policy in [FsyncPolicy::IntervalMs(5), FsyncPolicy::Never] {
        let dir = tempfile::tempdir().unwrap();
        {
            let (j, _) = open(dir.path(), 2048, policy);
            for s in 1..=60u64 {
                j.append(payload_for(s)).unwrap();
            }
            // Let the interval fsync fire at least once.
            thread::sleep(Duration::from_millis(20));
            j.append_batch((61..=80).map(payload_for).collect())
                .unwrap();
            j.sync().unwrap();
        }
        let (j, rec) = open(dir.path(), 2048, policy);
        assert!(rec.is_clean(), "{policy:?}: {rec:?}");
        assert_eq!(rec.last_sequence, 80);
        let all = read_all(&j, 1);
        assert!(all.iter().all(|(s, p)| *p == payload_for(*s)), "{policy:?}");
    }
}

#[test]
fn stray_files_in_directory_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README"), b"not a segment").unwrap();
    std::fs::write(dir.path().join("1.seg"), b"wrong name format").unwrap();
    let (j, rec) = open(dir.path(), 4096, FsyncPolicy::Always);
    assert!(rec.is_clean());
    assert_eq!(j.append(b"x".to_vec()).unwrap(), 1);
}

#[test]
fn records_are_read_again_at_their_positions_without_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open(dir.path(), 4096, FsyncPolicy::Always);
    let payloads: Vec<Vec<u8>> = (1..=60).map(payload_for).collect();
    j.append_batch(payloads).unwrap();
    let mut reader = j.reader(1).unwrap();
    let mut located = Vec::new();
    while let Some(record) = reader.try_next_located().unwrap() {
        located.push(record);
    }
    assert_eq!(located.len(), 60);
    let segments: std::collections::BTreeSet<u64> =
        located.iter().map(|(_, _, at)| at.segment).collect();
    assert!(segments.len() > 1, "the records span several segments");
    for (seq, payload, at) in &located {
        let again = onesec_journal::read_at(dir.path(), *at, *seq, 1).unwrap();
        assert_eq!(again, vec![(*seq, payload.clone())]);
    }
    // A run of consecutive records in one segment reads in one call.
    let (seq, _, at) = &located[0];
    let run = located
        .iter()
        .take_while(|(_, _, p)| p.segment == at.segment)
        .count();
    let again = onesec_journal::read_at(dir.path(), *at, *seq, run).unwrap();
    assert_eq!(again.len(), run);
    assert_eq!(again.last().unwrap().0, *seq + run as u64 - 1);
    // Asking past the segment's end, for the wrong sequence, or at a wrong offset is an error.
    assert!(onesec_journal::read_at(dir.path(), *at, *seq, run + 1).is_err());
    assert!(onesec_journal::read_at(dir.path(), *at, *seq + 1, 1).is_err());
    let shifted = onesec_journal::Position {
        offset: at.offset + 1,
        ..*at
    };
    let error = onesec_journal::read_at(dir.path(), shifted, *seq, 1).unwrap_err();
    assert!(error.to_string().contains(".seg"), "{error}");
}

#[test]
fn a_damaged_record_read_at_its_position_is_reported_not_returned() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open(dir.path(), 1 << 20, FsyncPolicy::Always);
    j.append_batch((1..=3).map(payload_for).collect()).unwrap();
    let mut reader = j.reader(1).unwrap();
    let (_, _, first) = reader.try_next_located().unwrap().unwrap();
    let (_, payload, second) = reader.try_next_located().unwrap().unwrap();
    drop(reader);
    drop(j);
    let path = segment_files(dir.path())[0].clone();
    let mut bytes = std::fs::read(&path).unwrap();
    let flip = second.offset as usize + 16 + payload.len() / 2;
    bytes[flip] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    assert!(onesec_journal::read_at(dir.path(), first, 1, 1).is_ok());
    let error = onesec_journal::read_at(dir.path(), first, 1, 2).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("CRC"), "{text}");
    assert!(text.contains(&second.offset.to_string()), "{text}");
}
