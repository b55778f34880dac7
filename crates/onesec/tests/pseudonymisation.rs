//! `[privacy.pseudonymisation]` on the acme day (docs/privacy.md, "Pseudonymisation"): the
//! same incidents as `expected.yaml`, whose people come back through the reveal; nothing in the
//! store or the journal names a person of the directory; a role without `reveal_identities`
//! sees pseudonyms only and is refused the reveal; every reveal is in the access audit; the
//! DPO's export and "who looked" still find the person by their directory id.

mod common;

use common::{Acme, ActualIncident, Onesec, Options, check_incidents, cli, replay_acme_day};
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const REASON: &str = "case 2026-11";

/// A key made by `onesec privacy pseudonym-key`, outside the data folder.
fn new_key(dir: &Path) -> PathBuf {
    let key = dir.join("pseudonym.key");
    let output = cli(&["privacy", "pseudonym-key", "--out", key.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "pseudonym-key: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let again = cli(&["privacy", "pseudonym-key", "--out", key.to_str().unwrap()]);
    assert!(!again.status.success(), "an existing key is never replaced");
    key
}

fn config(dir: &Path, key: &Path) -> PathBuf {
    let path = dir.join("onesec.toml");
    let text = format!(
        "[privacy.pseudonymisation]\nenabled = true\nkey_file = {:?}\n",
        key.to_str().unwrap()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn is_pseudonym(text: &str) -> bool {
    text.strip_prefix("psn_").is_some_and(|rest| {
        rest.len() == 16 && rest.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7'))
    })
}

/// Every identifier of the directory's people, as people.csv writes them.
fn clear_identifiers(acme: &Acme) -> Vec<String> {
    let text = std::fs::read_to_string(acme.path("people.csv")).unwrap();
    let mut out = Vec::new();
    // person_id, name, department, status, accounts, badges, home_site, email (no quoting).
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let row: Vec<&str> = line.split(',').collect();
        assert_eq!(row.len(), 8, "people.csv row {line:?}");
        out.push(row[0].to_string());
        out.push(row[1].to_string());
        for list in [row[4], row[5]] {
            out.extend(list.split(';').map(str::to_string));
        }
        out.push(row[7].to_string());
    }
    // The bare badge numbers as access systems also write them.
    let bare: Vec<String> = out
        .iter()
        .filter_map(|i| i.strip_prefix("0x").map(str::to_string))
        .collect();
    out.extend(bare);
    out
}

/// Where `needle` stands in `haystack` as a whole token (ASCII case ignored): not glued to a
/// letter, digit or underscore, so a hex digest that happens to hold a badge's digits is not
/// taken for it.
fn token_at(haystack: &[u8], needle: &str) -> Option<usize> {
    let n = needle.len();
    let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    (0..haystack.len().saturating_sub(n - 1)).find(|&i| {
        haystack[i..i + n].eq_ignore_ascii_case(needle.as_bytes())
            && !word(i.checked_sub(1).and_then(|j| haystack.get(j)))
            && !word(haystack.get(i + n))
    })
}

/// Every file of the store (database and its WAL) and the journal.
fn stored_files(data: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("onesec.db"))
        })
        .collect();
    files.extend(onesec_testdata::files_under(&data.join("journal"), &|_| {
        true
    }));
    files
}

/// The incident's pseudonyms of people, revealed by `bearer` for `REASON`.
fn reveal(onesec: &Onesec, id: &str, bearer: &str) -> BTreeMap<String, String> {
    let path = format!("/api/v1/incidents/{id}/identities?reason=case%202026-11");
    let answer = onesec.request_as(Method::GET, &path, Some(bearer));
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["identities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "person")
        .map(|i| {
            (
                i["pseudonym"].as_str().unwrap().to_string(),
                i["person"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn pseudonymised_acme_day_opens_the_same_incidents_and_stores_no_identity() {
    let Some(acme) = Acme::load() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key(tmp.path());
    let data = tmp.path().join("data");
    let mut onesec = Onesec::start(&Options {
        config: Some(config(tmp.path(), &key)),
        ..Options::acme(&data, &acme)
    });
    replay_acme_day(&onesec, &acme);
    let sent = acme.records().len() as u64;
    onesec.wait_for_detection(sent);
    let dead = onesec.get_json("/api/v1/dead-letters?limit=100");
    assert_eq!(dead.as_array().map(Vec::len), Some(0), "{dead:#}");

    // The incidents name people by pseudonyms only; revealed, they are expected.yaml's.
    let admin = onesec.token().expect("signed in").to_string();
    let actual = onesec.incidents();
    let mut revealed_incidents: Vec<ActualIncident> = Vec::new();
    for incident in &actual {
        assert!(
            incident.persons.iter().all(|p| is_pseudonym(p)),
            "{}: {:?}",
            incident.id,
            incident.persons
        );
        let people = reveal(&onesec, &incident.id, &admin);
        let mut revealed = incident.clone();
        revealed.persons = incident
            .persons
            .iter()
            .map(|p| people.get(p).cloned().unwrap_or_else(|| p.clone()))
            .collect();
        revealed_incidents.push(revealed);
    }
    check_incidents(&revealed_incidents, &acme.expected());

    // A role without reveal_identities reads pseudonyms and is refused the reveal.
    let auditor = onesec.issue_token("auditor", "auditor", &[]);
    let first = &actual[0].id;
    let detail = onesec.request_as(
        Method::GET,
        &format!("/api/v1/incidents/{first}"),
        Some(&auditor),
    );
    assert_eq!(detail.status, 200);
    let events = onesec.request_as(Method::GET, "/api/v1/events?limit=100000", Some(&auditor));
    assert_eq!(events.status, 200);
    let shown = format!("{}{}", detail.body, events.body).into_bytes();
    for clear in clear_identifiers(&acme) {
        assert_eq!(
            token_at(&shown, &clear),
            None,
            "the auditor is shown {clear}"
        );
    }
    let path = format!("/api/v1/incidents/{first}/identities?reason=curious");
    assert_eq!(
        onesec.request_as(Method::GET, &path, Some(&auditor)).status,
        403
    );
    let path = format!("/api/v1/incidents/{first}/identities");
    assert_eq!(
        onesec.request_as(Method::GET, &path, Some(&admin)).status,
        400,
        "a reveal needs a reason"
    );

    // The DPO asks about Bruno Keller (p002) by his directory id.
    let dpo = onesec.issue_token("dpo", "compliance_officer", &[]);
    let export = onesec.request_as(
        Method::GET,
        "/api/v1/privacy/subjects/p002?reason=SAR%202026-4",
        Some(&dpo),
    );
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(export.body["person"], "p002");
    let his: Vec<&Value> = export.body["events"].as_array().unwrap().iter().collect();
    assert!(
        his.len() >= 3,
        "badge, VPN and logins of p002: {}",
        his.len()
    );
    let pseudonym = his[0]["resolved"]["person"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(is_pseudonym(&pseudonym));
    assert!(
        his.iter()
            .all(|e| e["resolved"]["person"]["id"] == pseudonym.as_str())
    );
    let s2 = revealed_incidents
        .iter()
        .find(|i| i.persons.contains("p002"))
        .expect("the incident about p002");
    assert!(
        export.body["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == s2.id.as_str()),
        "the export lists the incident naming him"
    );

    // "Who looked at p002?" finds the reveals of his incident, with their reason.
    let who = onesec.request_as(
        Method::GET,
        "/api/v1/privacy/access?person=p002",
        Some(&dpo),
    );
    assert_eq!(who.status, 200, "{}", who.body);
    let looks = who.body.as_array().unwrap();
    assert!(
        looks.iter().any(|a| a["kind"] == "identity_reveal"
            && a["target"] == s2.id.as_str()
            && a["reason"] == REASON
            && a["actor"] == common::ADMIN),
        "{looks:#?}"
    );
    assert!(
        looks.iter().any(|a| a["kind"] == "subject_export"),
        "{looks:#?}"
    );

    // The data folder's store and journal hold no identifier of the directory's people.
    onesec.kill();
    for file in stored_files(&data) {
        let bytes = std::fs::read(&file).unwrap();
        for clear in clear_identifiers(&acme) {
            if let Some(at) = token_at(&bytes, &clear) {
                let from = at.saturating_sub(60);
                let context = String::from_utf8_lossy(&bytes[from..(at + 60).min(bytes.len())]);
                panic!("{} holds {clear}: …{context}…", file.display());
            }
        }
    }
}

#[test]
fn a_weak_or_misplaced_key_stops_the_start_with_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let weak = tmp.path().join("weak.key");
    std::fs::write(&weak, "00".repeat(32)).unwrap();
    set_private(&weak);
    let inside = data.join("pseudonym.key");
    let good = new_key(tmp.path());
    std::fs::copy(&good, &inside).unwrap();
    set_private(&inside);
    let missing = tmp.path().join("missing.key");
    for (key, why) in [
        (weak.as_path(), "not a random key"),
        (inside.as_path(), "inside the data folder"),
        (missing.as_path(), "cannot read"),
    ] {
        let config = config(tmp.path(), key);
        let output = cli(&[
            "up",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "started with {}", key.display());
        assert!(stderr.contains(why), "{}: {stderr}", key.display());
    }
}

fn set_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// A refused line that names a person of the directory (their account, badge and e-mail) is
/// kept as a dead letter without those identifiers: the same free-text scrub as an event's raw
/// record replaces them by their pseudonyms before the line is stored.
#[test]
fn dead_letters_lose_the_directorys_identifiers_before_they_are_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let key = new_key(tmp.path());
    let options = Options {
        data_dir: data.clone(),
        directory: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/northwind")),
        config: Some(config(tmp.path(), &key)),
        ..Options::default()
    };
    let mut onesec = Onesec::start(&options);
    // Not JSON, so the ONVIF decoder refuses it whole.
    let refused = "{broken UtcTime 2026-03-02T09:00:00Z icampbell badge 0x7A1002 \
                   mail isla.campbell@northwind.example by Isla Campbell";
    let answer = onesec.post_events("onvif-ej", refused.to_string(), None);
    let dead = onesec.get_json("/api/v1/dead-letters?limit=10");
    let dead = dead.as_array().cloned().unwrap_or_default();
    assert_eq!(
        dead.len(),
        1,
        "{dead:#?} ({}: {})",
        answer.status,
        answer.body
    );
    let raw = dead[0]["raw"].as_str().unwrap();
    for clear in [
        "icampbell",
        "0x7A1002",
        "isla.campbell@northwind.example",
        "Isla Campbell",
    ] {
        assert!(!raw.contains(clear), "{clear} in the dead letter: {raw}");
    }
    let pseudonyms = raw.split_whitespace().filter(|w| is_pseudonym(w)).count();
    assert_eq!(pseudonyms, 4, "each identifier became its pseudonym: {raw}");
    assert!(
        raw.contains("2026-03-02T09:00:00Z"),
        "the rest stays: {raw}"
    );
    onesec.kill();
    // Nor is any left in the store's bytes.
    let mut bytes = Vec::new();
    for file in stored_files(&data) {
        bytes.extend(std::fs::read(file).unwrap_or_default());
    }
    for clear in ["icampbell", "isla.campbell@northwind.example"] {
        assert!(
            token_at(&bytes, clear).is_none(),
            "{clear} in the data folder"
        );
    }
}
