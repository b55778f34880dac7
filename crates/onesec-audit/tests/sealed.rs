//! Encryption at rest of the audit log (docs/audit-format.md, "Sealed entries"): with a key
//! ring installed the personal part of every entry is sealed, the log still verifies without
//! the key (the leaves are the sealed bytes), reading who did what needs the key, and a
//! changed sealed part is caught by the tree like any other change. Its own test binary: the
//! key ring is process-wide.

use onesec_audit::{
    AuditLog, Entry, LEAVES_FILE, Witness, open_payload, read_contents, spool_entry, verify_dir,
};
use onesec_keys::KeyRing;
use std::sync::Arc;

const KEY: &str = "3f1c9a7e5b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f61";
const OTHER: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90f1e2d3c4b5a69788796a5b4c3d2e1f00";

fn entries() -> Vec<Entry> {
    vec![
        Entry {
            time_ms: 1,
            actor: "token:badge-feeder".into(),
            action: "ingest.batch".into(),
            target: String::new(),
            detail: serde_json::json!({"input": "http", "format": "json", "raw_sha256": "00",
                "first_id": 1, "last_id": 2, "events_root": "11"}),
        },
        Entry {
            time_ms: 2,
            actor: "amartin".into(),
            action: "privacy.lookup".into(),
            target: "p001".into(),
            detail: serde_json::json!({"kind": "person_timeline", "persons": ["Alice Martin"],
                "reason": "badge 0x4A7F11 seen at night"}),
        },
        Entry {
            time_ms: 3,
            actor: "cli:root".into(),
            action: "privacy.erase".into(),
            target: "p002".into(),
            detail: serde_json::json!({"subject_sha256": "ab", "reason": "Bruno Keller asked",
                "removed_ids": [[1, 1]], "journal": {"first_retained": 2}}),
        },
    ]
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

const PERSONAL: [&str; 8] = [
    "amartin",
    "Alice Martin",
    "4A7F11",
    "p001",
    "p002",
    "Bruno Keller",
    "badge-feeder",
    "cli:root",
];

#[test]
fn a_sealed_log_verifies_without_the_key_and_reads_only_with_it() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("audit");
    let ring = Arc::new(KeyRing::parse(KEY, "test key").unwrap());
    onesec_keys::install(Some(ring.clone()));
    let (mut log, _) = AuditLog::open(&dir, Witness::default()).unwrap();
    for entry in entries() {
        log.append(&entry).unwrap();
    }
    // A command's entry, spooled while encryption is on, is sealed in its file too.
    let spooled = Entry {
        time_ms: 4,
        actor: "cli:amartin".into(),
        action: "export.ocsf".into(),
        target: "/tmp/alice-martin.json".into(),
        detail: serde_json::json!({"events": 3}),
    };
    let file = spool_entry(&dir, &spooled).unwrap();
    assert!(!contains(&std::fs::read(&file).unwrap(), "amartin"));
    assert_eq!(log.absorb_spool().unwrap(), 1);
    log.checkpoint(10).unwrap();
    drop(log);

    let bytes = std::fs::read(dir.join(LEAVES_FILE)).unwrap();
    for secret in PERSONAL.iter().chain(&["alice-martin"]) {
        assert!(!contains(&bytes, secret), "{secret} in leaves.bin");
    }

    // Verification needs no key.
    onesec_keys::install(None);
    let report = verify_dir(&dir, None, None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.leaves, 4);
    // Without the key: the clear part only, and the batch facts verification uses.
    let contents = read_contents(&dir).unwrap();
    let clear: Entry = serde_json::from_slice(&contents.entries[1]).unwrap();
    assert_eq!(clear.action, "privacy.lookup");
    assert!(clear.actor.is_empty() && clear.target.is_empty());
    assert_eq!(contents.batches().len(), 1);
    assert!(open_payload(&contents.stored[1], None).is_err());
    // A ring without the key opens nothing either.
    onesec_keys::install(Some(Arc::new(KeyRing::parse(OTHER, "other").unwrap())));
    let contents = read_contents(&dir).unwrap();
    let clear: Entry = serde_json::from_slice(&contents.entries[1]).unwrap();
    assert!(clear.actor.is_empty());

    // With the key: every entry whole, and proofs still over the stored bytes.
    onesec_keys::install(Some(ring.clone()));
    let contents = read_contents(&dir).unwrap();
    let mut expected = entries();
    expected.push(spooled);
    for (bytes, entry) in contents.entries.iter().zip(&expected) {
        assert_eq!(&serde_json::from_slice::<Entry>(bytes).unwrap(), entry);
    }
    let proof = contents.prove_leaf(1).unwrap();
    let key = onesec_audit::load_public_key(&dir.join("signing.pub")).unwrap();
    proof.verify(&key).unwrap();
    assert_eq!(proof.entry.as_bytes(), contents.stored[1].as_slice());

    // Reopening with the key appends and still verifies (mixed old and new entries).
    let (mut log, report) = AuditLog::open(&dir, Witness::default()).unwrap();
    assert_eq!(
        report.covered_upto, 2,
        "the last batch is found without opening entries"
    );
    log.append(&entries()[1]).unwrap();
    log.checkpoint(20).unwrap();
    drop(log);
    assert!(verify_dir(&dir, None, None).unwrap().is_ok());

    // One hex digit of a sealed part changed, its CRC recomputed: the tree catches it.
    let mut bytes = std::fs::read(dir.join(LEAVES_FILE)).unwrap();
    let len = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let first = bytes[8..8 + len].to_vec();
    let at = first
        .windows(10)
        .position(|w| w == b"\"sealed\":\"")
        .unwrap()
        + 20;
    bytes[8 + at] = if bytes[8 + at] == b'0' { b'1' } else { b'0' };
    let crc = crc32c(&bytes[8..8 + len]);
    bytes[4..8].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(dir.join(LEAVES_FILE), &bytes).unwrap();
    let report = verify_dir(&dir, None, None).unwrap();
    assert!(!report.is_ok());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.what.contains("do not hash to its root")),
        "{:?}",
        report.problems
    );
    onesec_keys::install(None);
}

/// CRC32C (Castagnoli), bitwise, so the test does not lean on the crate under test.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
