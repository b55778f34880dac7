//! Attacks on a copy of an audit folder, each of which `verify_dir` must catch and place; and
//! proofs checked by an independent implementation of the RFC 9162 hashing.

use onesec_audit::{
    AuditLog, Entry, LEAVES_FILE, VerifyReport, Witness, read_contents, verify_dir,
};
use std::fs;
use std::path::{Path, PathBuf};

fn entry(i: u64) -> Entry {
    let detail = if i.is_multiple_of(4) {
        let payloads = batch_payloads(i);
        serde_json::json!({
            "input": "http", "format": "syslog", "raw_sha256": format!("{i:064x}"),
            "first_id": i * 10 + 1, "last_id": i * 10 + 3,
            "events_root": hex(&onesec_audit::events_root(&payloads)),
        })
    } else {
        serde_json::json!({"from": "new", "to": "acknowledged"})
    };
    Entry {
        time_ms: 1_776_326_400_000 + i as i64,
        actor: if i.is_multiple_of(4) {
            "onesec"
        } else {
            "alice"
        }
        .into(),
        action: if i.is_multiple_of(4) {
            "ingest.batch"
        } else {
            "incident.state"
        }
        .into(),
        target: format!("inc-{i}"),
        detail,
    }
}

fn batch_payloads(i: u64) -> Vec<Vec<u8>> {
    (1..=3)
        .map(|k| {
            format!(
                "{{\"id\":0,\"time_ms\":{},\"message\":\"event {k} of batch {i}\"}}",
                i * 10 + k
            )
            .into_bytes()
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 40 entries with a checkpoint every 10, and a witness file beside the folder.
fn build_log(root: &Path) -> (PathBuf, PathBuf) {
    let dir = root.join("audit");
    let witness = root.join("witness.jsonl");
    let (mut log, _) = AuditLog::open(
        &dir,
        Witness {
            file: Some(witness.clone()),
            url: None,
        },
    )
    .unwrap();
    for i in 0..40 {
        log.append(&entry(i)).unwrap();
        if i % 10 == 9 {
            log.checkpoint(1_776_326_400_000 + i as i64).unwrap();
        }
    }
    (dir, witness)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for item in fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        fs::copy(item.path(), to.join(item.file_name())).unwrap();
    }
}

/// The byte offsets of the records in a leaves file.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        offsets.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 8 + len;
    }
    offsets
}

fn attacked(attack: impl FnOnce(&Path)) -> VerifyReport {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, witness) = build_log(tmp.path());
    let copy = tmp.path().join("copy");
    copy_dir(&dir, &copy);
    attack(&copy);
    verify_dir(&copy, None, Some(&witness)).unwrap()
}

fn positions(report: &VerifyReport) -> Vec<String> {
    report
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.position, p.what))
        .collect()
}

#[test]
fn an_untouched_log_verifies() {
    let report = attacked(|_| {});
    assert!(report.is_ok(), "{:?}", positions(&report));
    assert_eq!(
        (report.leaves, report.checkpoints, report.checkpoints_ok),
        (40, 4, 4)
    );
    assert_eq!(report.witnessed, 4);
}

#[test]
fn one_flipped_byte_is_found_at_its_leaf() {
    let report = attacked(|dir| {
        let path = dir.join(LEAVES_FILE);
        let mut bytes = fs::read(&path).unwrap();
        let offset = record_offsets(&bytes)[17];
        bytes[offset + 20] ^= 0x04;
        fs::write(&path, bytes).unwrap();
    });
    let found = positions(&report);
    assert!(found[0].starts_with("leaf 17 "), "{found:?}");
    assert!(!report.is_ok());
}

#[test]
fn a_changed_record_with_a_recomputed_checksum_breaks_the_checkpoints_after_it() {
    let report = attacked(|dir| {
        let path = dir.join(LEAVES_FILE);
        let bytes = fs::read(&path).unwrap();
        let offsets = record_offsets(&bytes);
        let mut rebuilt = bytes[..offsets[23]].to_vec();
        let mut forged = entry(23);
        forged.actor = "mallory".into();
        onesec_audit::entry::frame(&forged.to_payload(), &mut rebuilt);
        rebuilt.extend_from_slice(&bytes[offsets[24]..]);
        fs::write(&path, rebuilt).unwrap();
    });
    let found = positions(&report);
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("checkpoint 3 (size 30)")),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|p| p.starts_with("checkpoint 2 ")),
        "earlier ones hold: {found:?}"
    );
}

#[test]
fn a_deleted_record_is_caught() {
    let report = attacked(|dir| {
        let path = dir.join(LEAVES_FILE);
        let bytes = fs::read(&path).unwrap();
        let offsets = record_offsets(&bytes);
        let mut cut = bytes[..offsets[5]].to_vec();
        cut.extend_from_slice(&bytes[offsets[6]..]);
        fs::write(&path, cut).unwrap();
    });
    let found = positions(&report);
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("checkpoint 1 (size 10)")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("covers 40 leaves but only 39")),
        "{found:?}"
    );
}

#[test]
fn two_swapped_records_are_caught() {
    let report = attacked(|dir| {
        let path = dir.join(LEAVES_FILE);
        let bytes = fs::read(&path).unwrap();
        let o = record_offsets(&bytes);
        let mut swapped = bytes[..o[31]].to_vec();
        swapped.extend_from_slice(&bytes[o[32]..o[33]]);
        swapped.extend_from_slice(&bytes[o[31]..o[32]]);
        swapped.extend_from_slice(&bytes[o[33]..]);
        fs::write(&path, swapped).unwrap();
    });
    let found = positions(&report);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("checkpoint 4 (size 40)"), "{found:?}");
    assert!(found[1].starts_with("witness"), "{found:?}");
}

#[test]
fn a_truncation_is_caught() {
    let report = attacked(|dir| {
        let path = dir.join(LEAVES_FILE);
        let bytes = fs::read(&path).unwrap();
        let o = record_offsets(&bytes);
        fs::write(&path, &bytes[..o[25] + 3]).unwrap();
    });
    let found = positions(&report);
    assert!(
        found[0].starts_with("leaf 25 ") && found[0].contains("truncated"),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("covers 30 leaves but only 25")),
        "{found:?}"
    );
}

#[test]
fn a_rebuilt_tail_re_signed_with_the_stolen_key_is_caught_by_the_witness() {
    let report = attacked(|dir| {
        // The attacker holds signing.key: cuts the log after leaf 19, rebuilds the rest with
        // one entry changed, and re-signs every checkpoint. Only the witness still knows.
        let path = dir.join(LEAVES_FILE);
        let bytes = fs::read(&path).unwrap();
        let o = record_offsets(&bytes);
        fs::write(&path, &bytes[..o[20]]).unwrap();
        let cps = fs::read_to_string(dir.join("checkpoints.jsonl")).unwrap();
        let kept: Vec<&str> = cps.lines().take(2).collect();
        fs::write(dir.join("checkpoints.jsonl"), kept.join("\n") + "\n").unwrap();
        let (mut log, _) = AuditLog::open(dir, Witness::default()).unwrap();
        for i in 20..40 {
            let mut e = entry(i);
            if i == 26 {
                e.target = "inc-covered-up".into();
            }
            log.append(&e).unwrap();
            if i % 10 == 9 {
                log.checkpoint(1_776_326_400_000 + i as i64).unwrap();
            }
        }
    });
    let found = positions(&report);
    assert_eq!(report.checkpoints_ok, 4, "the log alone looks fine");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|p| p.starts_with("witness")), "{found:?}");
    assert!(
        found[0].contains("line 3") && found[1].contains("line 4"),
        "{found:?}"
    );
}

#[test]
fn a_forged_checkpoint_and_a_replaced_key_are_caught() {
    let report = attacked(|dir| {
        let path = dir.join("checkpoints.jsonl");
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, text.replacen("\"size\":20", "\"size\":19", 1)).unwrap();
    });
    let found = positions(&report);
    assert!(
        found[0].starts_with("checkpoint 2 (size 19)") && found[0].contains("signature"),
        "{found:?}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = build_log(tmp.path());
    let trusted = onesec_audit::load_public_key(&dir.join("signing.pub")).unwrap();
    fs::remove_file(dir.join("signing.key")).unwrap();
    fs::remove_file(dir.join("signing.pub")).unwrap();
    let (mut log, _) = {
        // A new key cannot take over the log: opening checks the last checkpoint with it.
        let err = AuditLog::open(&dir, Witness::default())
            .err()
            .expect("refused");
        assert!(err.to_string().contains("signature"), "{err}");
        fs::remove_file(dir.join("checkpoints.jsonl")).unwrap();
        AuditLog::open(&dir, Witness::default()).unwrap()
    };
    log.checkpoint(1).unwrap();
    let report = verify_dir(&dir, Some(&trusted), None).unwrap();
    assert!(
        positions(&report)[0].contains("signature"),
        "{:?}",
        positions(&report)
    );
}

#[test]
fn a_torn_last_record_is_cut_on_open_and_kept_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = build_log(tmp.path());
    let path = dir.join(LEAVES_FILE);
    let mut bytes = fs::read(&path).unwrap();
    let full = bytes.len();
    let mut extra = Vec::new();
    onesec_audit::entry::frame(&entry(40).to_payload(), &mut extra);
    bytes.extend_from_slice(&extra[..extra.len() / 2]);
    fs::write(&path, &bytes).unwrap();
    let (log, report) = AuditLog::open(&dir, Witness::default()).unwrap();
    assert_eq!(report.torn_bytes, (extra.len() / 2) as u64);
    assert_eq!(log.size(), 40);
    assert_eq!(fs::read(&path).unwrap().len(), full);
    assert!(dir.join(format!("leaves.bin.torn-{full}")).exists());
}

// ---- an independent RFC 9162 implementation, written from the RFC text for this test ----

mod independent {
    use sha2::{Digest, Sha256};

    pub fn leaf(data: &[u8]) -> [u8; 32] {
        Sha256::new()
            .chain_update([0x00])
            .chain_update(data)
            .finalize()
            .into()
    }

    fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
        Sha256::new()
            .chain_update([0x01])
            .chain_update(l)
            .chain_update(r)
            .finalize()
            .into()
    }

    /// RFC 9162 §2.1.3.2, transcribed.
    pub fn root_from_path(
        index: u64,
        size: u64,
        leaf: [u8; 32],
        path: &[[u8; 32]],
    ) -> Option<[u8; 32]> {
        if index >= size {
            return None;
        }
        let (mut f, mut s, mut r) = (index, size - 1, leaf);
        for p in path {
            if s == 0 {
                return None;
            }
            if f % 2 == 1 || f == s {
                r = node(p, &r);
                while f % 2 == 0 && f != 0 {
                    f /= 2;
                    s /= 2;
                }
            } else {
                r = node(&r, p);
            }
            f /= 2;
            s /= 2;
        }
        (s == 0).then_some(r)
    }
}

fn unhex(text: &str) -> [u8; 32] {
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

#[test]
fn proofs_check_with_the_public_key_and_an_independent_hash_implementation() {
    use ed25519_dalek::Verifier;
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = build_log(tmp.path());
    let key = onesec_audit::load_public_key(&dir.join("signing.pub")).unwrap();
    let contents = read_contents(&dir).unwrap();

    // An event of the batch in leaf 12 (events 121..=123).
    let proof = contents.prove_event(122, &batch_payloads(12)).unwrap();
    proof.verify(&key).unwrap();

    // The same, by hand: payload → events_root → leaf → checkpoint root → signature.
    let batch_path: Vec<[u8; 32]> = proof.batch_path.iter().map(|h| unhex(h)).collect();
    let events_root = independent::root_from_path(
        1,
        3,
        independent::leaf(proof.payload.as_bytes()),
        &batch_path,
    )
    .unwrap();
    let entry: serde_json::Value = serde_json::from_str(&proof.batch.entry).unwrap();
    assert_eq!(
        hex(&events_root),
        entry["detail"]["events_root"].as_str().unwrap()
    );
    let path: Vec<[u8; 32]> = proof.batch.audit_path.iter().map(|h| unhex(h)).collect();
    let cp = &proof.batch.checkpoint;
    let root = independent::root_from_path(
        12,
        cp.size,
        independent::leaf(proof.batch.entry.as_bytes()),
        &path,
    )
    .unwrap();
    assert_eq!(hex(&root), cp.root);
    let message = format!(
        "onesec-audit-checkpoint/v1\n{}\n{}\n{}\n",
        cp.size, cp.root, cp.time_ms
    );
    let signature: [u8; 64] = (0..64)
        .map(|i| u8::from_str_radix(&cp.signature[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .try_into()
        .unwrap();
    key.verify(
        message.as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&signature),
    )
    .unwrap();

    // A changed payload or a wrong position does not verify.
    let mut forged = proof.clone();
    forged.payload = forged.payload.replace("event 2", "event 9");
    assert!(forged.verify(&key).is_err());
    let mut moved = proof.clone();
    moved.event_id = 121;
    assert!(moved.verify(&key).is_err());
    // A witness holding the checkpoint of size 20 checks that the last one extends it.
    let (proof, last) = contents.consistency(20).unwrap();
    let proof: Vec<[u8; 32]> = proof.iter().map(|h| unhex(h)).collect();
    let witnessed = contents.leaves[..20].to_vec();
    let old_root = onesec_audit::merkle::root(&witnessed);
    let new_root = unhex(&last.root);
    assert!(onesec_audit::merkle::verify_consistency(
        20, last.size, &old_root, &new_root, &proof
    ));
    // A journal that no longer matches the audited batch gets no proof.
    let mut changed = batch_payloads(12);
    changed[0].push(b' ');
    assert!(contents.prove_event(122, &changed).is_err());
}

/// Reads one HTTP request from `stream` (header and a `Content-Length` body), answers 200 and
/// returns the request line and the body.
fn read_request(stream: &mut std::net::TcpStream) -> (String, String) {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    (request_line, String::from_utf8(body).unwrap())
}

/// The witness URL: each checkpoint is POSTed as JSON, and what the witness receives verifies
/// with the log's public key and matches the checkpoint the log kept.
#[test]
fn checkpoints_are_posted_to_the_witness_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/witness", listener.local_addr().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let (mut log, _) = AuditLog::open(
        &tmp.path().join("audit"),
        Witness {
            file: None,
            url: Some(url),
        },
    )
    .unwrap();
    let received = std::thread::spawn(move || {
        (0..2)
            .map(|_| read_request(&mut listener.accept().unwrap().0))
            .collect::<Vec<_>>()
    });
    let mut signed = Vec::new();
    for i in 0..2 {
        log.append(&entry(i)).unwrap();
        signed.push(log.checkpoint(1_776_326_400_000 + i as i64).unwrap());
    }
    let mut received = received.join().unwrap();
    received.sort_by_key(|(_, body)| body.contains("\"size\":2"));
    let key = log.public_key();
    for ((request_line, body), kept) in received.iter().zip(&signed) {
        assert!(request_line.starts_with("POST /witness "), "{request_line}");
        let posted: onesec_audit::Checkpoint = serde_json::from_str(body).unwrap();
        posted.verify(&key).unwrap();
        assert_eq!(&posted, kept);
    }
}
