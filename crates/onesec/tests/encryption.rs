//! Encryption at rest (docs/privacy.md): a copy of the data folder of a running onesec that
//! took the acme day holds no name, badge number or account name of the acme directory in any
//! byte of any file, while the same day without encryption leaves them there to find (so the
//! scan cannot pass vacuously); a wrong or missing key stops the start with the reason; the
//! key rotates (keygen --rotate, rekey) and the folder then opens with the new key alone.

mod common;

use common::{Acme, Onesec, Options, check_acme, cli, replay_acme_day};
use std::path::{Path, PathBuf};

/// The personal data of the acme directory to look for: names, badge numbers (as written
/// and without the `0x`), account names (with and without the domain), e-mail addresses.
fn acme_personal_data(acme: &Acme) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(acme.path("people.csv")).unwrap();
    let mut needles = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        let (name, accounts, badges, email) = (cells[1], cells[4], cells[5], cells[7]);
        needles.push(("name".to_string(), name.to_string()));
        needles.push(("email".to_string(), email.to_string()));
        for account in accounts.split(';') {
            let bare = account.rsplit('\\').next().unwrap_or(account);
            needles.push(("account".to_string(), bare.to_string()));
        }
        for badge in badges.split(';') {
            let digits = badge.trim_start_matches("0x");
            needles.push(("badge".to_string(), digits.to_uppercase()));
            needles.push(("badge".to_string(), digits.to_lowercase()));
        }
    }
    needles
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Which needles occur in which file: `(kind, needle, file)`.
fn scan(dir: &Path, needles: &[(String, String)]) -> Vec<(String, String, PathBuf)> {
    let mut found = Vec::new();
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).unwrap();
        for (kind, needle) in needles {
            if occurs_as_token(&bytes, needle.as_bytes()) {
                found.push((kind.clone(), needle.clone(), file.clone()));
            }
        }
    }
    found
}

/// Whether `needle` occurs in `bytes` with no letter or digit right before (but for a `0x`
/// prefix: badges are written `0x4F21E2`) or right after it. Personal data in the clear
/// stands on its own (quoted in JSON, between separators in a line); inside a longer run of
/// letters and digits it is part of something else — a badge such as `4f21e2` turns up now
/// and then inside the hex of a sealed audit entry or of a digest.
fn occurs_as_token(bytes: &[u8], needle: &[u8]) -> bool {
    let joins = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    bytes.windows(needle.len()).enumerate().any(|(at, window)| {
        let before = &bytes[..at];
        let before = before
            .strip_suffix(b"0x")
            .or_else(|| before.strip_suffix(b"0X"))
            .unwrap_or(before);
        window == needle && !joins(before.last()) && !joins(bytes.get(at + needle.len()))
    })
}

#[test]
fn a_token_is_found_on_its_own_not_inside_hex() {
    assert!(occurs_as_token(br#"{"badge":"4f21e2"}"#, b"4f21e2"));
    assert!(occurs_as_token(b"4f21e2", b"4f21e2"));
    assert!(occurs_as_token(b"name=Ada Lovelace;", b"Ada Lovelace"));
    assert!(occurs_as_token(br#"{"badge":"0x4F21E2"}"#, b"4F21E2"));
    assert!(!occurs_as_token(b"\"sealed\":\"a94f21e20c\"", b"4f21e2"));
    assert!(!occurs_as_token(b"x4f21e2", b"4f21e2"));
    assert!(!occurs_as_token(b"4f21e2b", b"4f21e2"));
}

/// A copy of a folder, as a thief would take it.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_folder(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn run(args: &[&str], env: &[(&str, &Path)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_onesec"));
    command.args(args).env("ONESEC_LOG", "warn");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The acme day through `onesec up` with `config`, then a subject export written to a file
/// inside the data folder; returns a copy of the folder taken while onesec still runs.
fn acme_day_folder(acme: &Acme, root: &Path, config: &Path) -> PathBuf {
    let data = root.join("data");
    let mut options = Options::acme(&data, acme);
    options.config = Some(config.to_path_buf());
    let mut onesec = Onesec::start(&options);
    replay_acme_day(&onesec, acme);
    let sent = acme.records().len() as u64;
    onesec.wait_for_detection(sent);
    check_acme(&onesec, acme);
    // Personal data reaching the folder by other ways than the day's events, so that the
    // files they land in are scanned with something to find: a refused line naming a person
    // and her badge (a dead letter), a token named after an account (auth.db and the audit
    // log), a look at a person's timeline with a reason naming her (the audit log).
    onesec.post_events(
        "json",
        "{\"user\":\"Alice Martin\",\"badge\":\"0x4F21A7\"",
        None,
    );
    if onesec.token().is_some() {
        onesec.issue_token("bkeller-feed", "soc_analyst", &[]);
    }
    let lookup = onesec.get("/api/v1/events?person=p001&reason=asked%20by%20Alice%20Martin");
    assert_eq!(lookup.status, 200, "{}", lookup.body);
    // A file export left in the folder (sealed when encryption is on).
    let export = data.join("export-p001.json");
    let output = cli(&[
        "privacy",
        "export",
        "p001",
        "--reason",
        "SAR test",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        export.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    // Taken while it runs: the write-ahead logs and the active segment are part of it.
    let stolen = root.join("stolen");
    copy_folder(&data, &stolen);
    onesec.kill();
    stolen
}

#[test]
fn a_stolen_data_folder_without_the_key_holds_no_personal_data() {
    let Some(acme) = Acme::load() else { return };
    let needles = acme_personal_data(&acme);
    let temp = tempfile::tempdir().unwrap();

    // Without encryption the same scan finds them: it is not vacuous.
    let plain_root = temp.path().join("plain");
    std::fs::create_dir_all(&plain_root).unwrap();
    let plain_config = plain_root.join("onesec.toml");
    let directory = format!("directory = {:?}\n", acme.dir.display().to_string());
    std::fs::write(&plain_config, &directory).unwrap();
    let plain = scan(
        &acme_day_folder(&acme, &plain_root, &plain_config),
        &needles,
    );
    for kind in ["name", "badge", "account"] {
        assert!(
            plain.iter().any(|(k, _, _)| k == kind),
            "the plain folder should hold some {kind}: {plain:?}"
        );
    }

    let root = temp.path().join("encrypted");
    std::fs::create_dir_all(&root).unwrap();
    let key_file = root.join("onesec.key");
    let output = cli(&["privacy", "keygen", "--out", key_file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let config = root.join("onesec.toml");
    std::fs::write(
        &config,
        format!(
            "{directory}[privacy.encryption]\nenabled = true\nkey_file = {:?}\n",
            key_file.display().to_string()
        ),
    )
    .unwrap();
    let records = cli(&["privacy", "records", "--config", config.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&records.stdout).contains("encryption at rest: yes"),
        "{}",
        String::from_utf8_lossy(&records.stdout)
    );
    let stolen = acme_day_folder(&acme, &root, &config);
    let leaks = scan(&stolen, &needles);
    assert!(leaks.is_empty(), "personal data in the clear: {leaks:#?}");
    let files = files_under(&stolen);
    for part in [
        "journal",
        "onesec.db",
        "auth.db",
        "compliance.db",
        "export-p001.json",
        "audit/leaves.bin",
    ] {
        assert!(
            files.iter().any(|f| f.to_string_lossy().contains(part)),
            "the copy has no {part}: {files:?}"
        );
    }

    // The audit log of the copy verifies without the key (its leaves are the sealed entries).
    let output = run(
        &["audit", "verify", "--data-dir", stolen.to_str().unwrap()],
        &[],
    );
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );

    // With the key the copy is whole: the export decrypts and names the person...
    let with_key = [("ONESEC_ENCRYPTION_KEY_FILE", key_file.as_path())];
    let export = stolen.join("export-p001.json");
    let output = run(&["privacy", "decrypt", export.to_str().unwrap()], &with_key);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("Alice Martin"));
    // ...and offline commands read the store and the journal of the copy.
    let output = run(
        &["export", "--ocsf", "--data-dir", stolen.to_str().unwrap()],
        &with_key,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let ocsf = String::from_utf8_lossy(&output.stdout);
    assert_eq!(ocsf.lines().count(), acme.records().len());

    // Without the key, or with another one, it is refused by name, never read as empty.
    let output = run(
        &["export", "--ocsf", "--data-dir", stolen.to_str().unwrap()],
        &[],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("is encrypted"),
        "{}",
        stderr(&output)
    );
    let other_key = root.join("other.key");
    let output = cli(&["privacy", "keygen", "--out", other_key.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run(
        &["export", "--ocsf", "--data-dir", stolen.to_str().unwrap()],
        &[("ONESEC_ENCRYPTION_KEY_FILE", other_key.as_path())],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("does not open with any key"),
        "{}",
        stderr(&output)
    );
}

/// One sshd log-on (RFC 5424), at minute `minute`.
fn post_login(onesec: &Onesec, minute: u32) {
    let line = format!(
        "<38>1 2026-03-02T09:{minute:02}:00Z srv-fs1 sshd 411 - - Accepted publickey for zsecret from 10.20.0.7 port 50522 ssh2"
    );
    let answer = onesec.post_events("syslog", line, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[test]
fn a_wrong_or_missing_key_stops_the_start_with_the_reason() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let key_file = temp.path().join("onesec.key");
    let output = cli(&["privacy", "keygen", "--out", key_file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let config = temp.path().join("onesec.toml");
    let write_config = |key: &Path| {
        std::fs::write(
            &config,
            format!(
                "[privacy.encryption]\nenabled = true\nkey_file = {:?}\n",
                key.display().to_string()
            ),
        )
        .unwrap();
    };
    write_config(&key_file);
    let mut options = Options {
        data_dir: data.clone(),
        config: Some(config.clone()),
        ..Options::default()
    };
    let mut onesec = Onesec::start(&options);
    post_login(&onesec, 1);
    onesec.wait_for_detection(1);
    onesec.kill();

    let up = |args: &[&str]| {
        let mut all = vec!["up", "--data-dir", data.to_str().unwrap()];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--http", "127.0.0.1:0", "--syslog", "127.0.0.1:0"]);
        run(&all, &[])
    };
    // Another key: refused, naming what does not open.
    let other = temp.path().join("other.key");
    assert!(
        cli(&["privacy", "keygen", "--out", other.to_str().unwrap()])
            .status
            .success()
    );
    write_config(&other);
    let output = up(&["--config", config.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("key"), "{}", stderr(&output));
    // Encryption on without a key: refused before anything is opened.
    std::fs::write(&config, "[privacy.encryption]\nenabled = true\n").unwrap();
    let output = up(&["--config", config.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("no key"), "{}", stderr(&output));
    // No encryption configured at all: the encrypted folder is not taken for an empty one.
    let output = up(&[]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("encrypted"), "{}", stderr(&output));
    // A key file others can read is refused.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_config(&key_file);
        let output = up(&["--config", config.to_str().unwrap()]);
        assert!(!output.status.success());
        assert!(stderr(&output).contains("chmod 600"), "{}", stderr(&output));
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // Rotation: a new current key in the same file, restart (new segments use it), stop,
    // rekey; then the old key can go and the folder opens with the new key alone.
    write_config(&key_file);
    let output = cli(&["privacy", "keygen", "--rotate", key_file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    options.config = Some(config.clone());
    let mut onesec = Onesec::start(&options);
    post_login(&onesec, 2);
    onesec.wait_for_detection(2);
    onesec.kill();
    let output = cli(&[
        "privacy",
        "rekey",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains("re-sealed"), "{report}");
    assert!(report.contains("rekeyed"), "{report}");
    // The audit log is not rewritten: its entries sealed with the old key are counted.
    assert!(report.contains("entries sealed with key"), "{report}");
    let text = std::fs::read_to_string(&key_file).unwrap();
    let newest = text.lines().next().unwrap();
    std::fs::write(&key_file, format!("{newest}\n")).unwrap();
    let output = run(
        &["export", "--ocsf", "--data-dir", data.to_str().unwrap()],
        &[("ONESEC_ENCRYPTION_KEY_FILE", key_file.as_path())],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 2);
    // The whole folder, audit log, journal and store, still verifies with the new key alone.
    let output = run(
        &["audit", "verify", "--data-dir", data.to_str().unwrap()],
        &[("ONESEC_ENCRYPTION_KEY_FILE", key_file.as_path())],
    );
    let verified = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{verified}{}", stderr(&output));
    assert!(verified.contains("journal checked"), "{verified}");
}
