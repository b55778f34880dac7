//! The audit log end to end: batches and actions are recorded by a running onesec, an event's
//! proof checks with the public key alone, `onesec audit verify` passes on the untouched data
//! folder and reports the position of a changed journal event or audit leaf in copies of it,
//! and journaled events a crash (here: a run with the audit log off) left without an entry are
//! covered on the next start.

mod common;

use common::{Onesec, Options, cli};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn northwind() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/northwind")
}

fn grant(minute: u32, badge: &str) -> String {
    format!(
        r#"{{"topic": "northwind/ctl-edi-01/onvif-ej/AccessControl/AccessGranted/Credential/&RDR-EDI-05", "payload": {{"UtcTime": "2026-05-05T08:{minute:02}:00Z", "Source": {{"AccessPointToken": "RDR-EDI-05"}}, "Data": {{"CredentialToken": "{badge}"}}}}}}"#
    )
}

fn sshd(minute: u32, user: &str) -> String {
    format!(
        "<38>1 2026-05-05T09:{minute:02}:00Z srv-edi-fs1 sshd 411 - - Accepted publickey for {user} from 10.20.0.7 port 50522 ssh2"
    )
}

/// Three batches: 2 badge events, 3 SSH logins, 1 badge event; returns the acknowledged ids.
fn ingest_three_batches(onesec: &Onesec) -> Vec<Vec<u64>> {
    let bodies = [
        (
            "onvif-ej",
            format!("{}\n{}", grant(1, "0x7A0001"), grant(2, "0x7A0002")),
        ),
        (
            "syslog",
            (1..=3)
                .map(|m| sshd(m, "amacleod"))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ("onvif-ej", grant(3, "0x7A0003")),
    ];
    bodies
        .iter()
        .map(|(format, body)| {
            let answer = onesec.post_events(format, body.clone(), None);
            assert_eq!(answer.status, 200, "{}", answer.body);
            let (first, last) = (
                answer.body["first_id"].as_u64(),
                answer.body["last_id"].as_u64(),
            );
            (first.unwrap()..=last.unwrap()).collect()
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for item in fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        let target = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_dir(&item.path(), &target);
        } else if item.file_name() != "LOCK" {
            fs::copy(item.path(), target).unwrap();
        }
    }
}

/// Rewrites one byte of journal record `seq`'s payload and fixes the record's CRC, as an
/// attacker who knows the journal format would (docs/journal-format.md).
fn rewrite_journal_event(data: &Path, seq: u64) {
    let journal = data.join("journal");
    let segment = fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .expect("a segment");
    let mut bytes = fs::read(&segment).unwrap();
    let mut at = 32;
    loop {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let record_seq = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
        if record_seq == seq {
            let payload = at + 16..at + 16 + len;
            let text = String::from_utf8(bytes[payload.clone()].to_vec()).unwrap();
            let forged = text.replacen("amacleod", "nobody00", 1);
            assert_ne!(forged, text, "the record names the user");
            bytes[payload.clone()].copy_from_slice(forged.as_bytes());
            let crc = crc32c::crc32c_append(crc32c::crc32c(&seq.to_le_bytes()), &bytes[payload]);
            bytes[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
            break;
        }
        at += 16 + len;
    }
    fs::write(&segment, bytes).unwrap();
}

fn verify(data: &Path) -> (bool, String) {
    let out = cli(&["audit", "verify", "--data-dir", data.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

#[test]
fn batches_and_actions_are_audited_proved_and_verified() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let mut onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        directory: Some(northwind()),
        ..Options::default()
    });
    let batches = ingest_three_batches(&onesec);
    onesec.wait_for_detection(6);
    assert_eq!(onesec.post_json("/api/v1/directory/reload").status, 200);

    let proof = onesec.get_json(&format!("/api/v1/audit/proof/{}", batches[1][1]));
    let key = onesec_audit::load_public_key(&data.join("audit/signing.pub")).unwrap();
    let parsed: onesec_audit::EventProof = serde_json::from_value(proof.clone()).unwrap();
    parsed
        .verify(&key)
        .expect("the proof checks with the public key");
    assert!(parsed.payload.contains("Accepted publickey for amacleod"));
    let proof_file = temp.path().join("proof.json");
    fs::write(&proof_file, proof.to_string()).unwrap();
    let checked = cli(&[
        "audit",
        "check-proof",
        proof_file.to_str().unwrap(),
        "--public-key",
        data.join("audit/signing.pub").to_str().unwrap(),
    ]);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );

    let mut forged: Value = proof.clone();
    forged["payload"] = Value::String(parsed.payload.replace("amacleod", "nobody00"));
    fs::write(&proof_file, forged.to_string()).unwrap();
    let refused = cli(&[
        "audit",
        "check-proof",
        proof_file.to_str().unwrap(),
        "--public-key",
        data.join("audit/signing.pub").to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stdout).contains("INVALID"));

    assert_eq!(onesec.get("/api/v1/audit/checkpoint").status, 200);
    onesec.kill();

    let (ok, report) = verify(&data);
    assert!(ok, "{report}");
    assert!(report.contains("journal checked: 3 batches"), "{report}");
    let leaves = fs::read(data.join("audit/leaves.bin")).unwrap();
    let text = String::from_utf8_lossy(&leaves);
    for action in ["service.start", "ingest.batch", "directory.reload"] {
        assert!(text.contains(action), "{action} is recorded");
    }

    let changed_event = temp.path().join("changed-event");
    copy_dir(&data, &changed_event);
    rewrite_journal_event(&changed_event, batches[1][2]);
    let (ok, report) = verify(&changed_event);
    assert!(!ok);
    let range = format!("journal records {}..={}", batches[1][0], batches[1][2]);
    assert!(report.contains(&format!("PROBLEM  {range}")), "{report}");

    let changed_leaf = temp.path().join("changed-leaf");
    copy_dir(&data, &changed_leaf);
    let path = changed_leaf.join("audit/leaves.bin");
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x20;
    fs::write(&path, bytes).unwrap();
    let (ok, report) = verify(&changed_leaf);
    assert!(!ok);
    assert!(report.contains("PROBLEM  leaf "), "{report}");
}

#[test]
fn events_journaled_without_an_entry_are_covered_on_the_next_start() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let config = temp.path().join("no-audit.toml");
    fs::write(&config, "[audit]\nenabled = false\n").unwrap();
    let mut onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        directory: Some(northwind()),
        config: Some(config),
        ..Options::default()
    });
    let batches = ingest_three_batches(&onesec);
    onesec.wait_for_detection(6);
    assert_eq!(onesec.get("/api/v1/audit/checkpoint").status, 404);
    onesec.kill();

    let onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        directory: Some(northwind()),
        ..Options::default()
    });
    let proof = onesec.get_json(&format!("/api/v1/audit/proof/{}", batches[2][0]));
    let parsed: onesec_audit::EventProof = serde_json::from_value(proof).unwrap();
    let key = onesec_audit::load_public_key(&data.join("audit/signing.pub")).unwrap();
    parsed.verify(&key).unwrap();
    assert!(parsed.batch.entry.contains("journal.recovered"));
}
