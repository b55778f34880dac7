//! `onesec up` with `[store] backend = "postgres"`: the whole service (ingest → journal →
//! detection → store, the API reading it back) runs on PostgreSQL. The acme day, replayed,
//! opens exactly the incidents of `../shared/scenarios/acme/expected.yaml`, as on SQLite, and
//! they are kept in PostgreSQL, not in an SQLite file. A restart on the same schema finds them
//! again. PostgreSQL is the test server of `onesec_store::testing` (a scratch schema, dropped
//! at the end); the test fails under CI=true when it is unreachable.

mod common;

use common::{Acme, Onesec, Options, check_acme, cli, replay_acme_day};
use onesec_store::testing::ScratchSchema;
use std::collections::BTreeSet;

#[test]
fn acme_day_on_postgresql_opens_the_expected_incidents() {
    let Some(acme) = Acme::load() else { return };
    let Some(schema) = ScratchSchema::create("acme_up") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("onesec.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nbackend = \"postgres\"\nurl = {:?}\nschema = {:?}\n",
            schema.settings().url,
            schema.name()
        ),
    )
    .unwrap();
    let config_path = config.clone();
    let options = Options {
        config: Some(config),
        ..Options::acme(&tmp.path().join("data"), &acme)
    };
    let mut onesec = Onesec::start(&options);

    replay_acme_day(&onesec, &acme);
    let sent = acme.records().len() as u64;
    let status = onesec.wait_for_detection(sent);
    assert_eq!(status["journal_seq"].as_u64(), Some(sent), "{status}");
    assert_eq!(onesec.events().len() as u64, sent, "every event is stored");
    let matched = check_acme(&onesec, &acme);
    assert!(!matched.is_empty(), "acme expects incidents");

    // Kept in PostgreSQL: its tables hold what the API showed; no SQLite store was made.
    let in_postgres = |sql: &str| schema.query_i64(sql).unwrap();
    let open = onesec.incidents().len() as i64;
    assert_eq!(
        in_postgres("SELECT count(*) FROM incidents WHERE state NOT IN ('merged', 'withdrawn')"),
        open
    );
    assert_eq!(
        in_postgres("SELECT value FROM meta WHERE key = 'detected_upto'"),
        sent as i64
    );
    assert_eq!(
        in_postgres("SELECT coalesce(sum(count), 0)::BIGINT FROM event_blocks"),
        sent as i64
    );
    assert_eq!(
        in_postgres("SELECT max(version)::BIGINT FROM schema_migrations"),
        i64::from(onesec_store::MIGRATIONS.last().unwrap().version),
        "every migration ran"
    );
    assert!(
        !onesec.data_dir.join("onesec.db").exists(),
        "no SQLite store beside the journal"
    );

    // A restart on the same data folder and schema reads them back, detecting nothing twice.
    onesec.kill();
    let onesec = Onesec::start(&options);
    let status = onesec.wait_for_detection(sent);
    assert_eq!(status["detected_seq"].as_u64(), Some(sent), "{status}");
    assert_eq!(check_acme(&onesec, &acme), matched);
    let api_ids: BTreeSet<String> = onesec.incidents().into_iter().map(|i| i.id).collect();
    let mut onesec = onesec;
    onesec.kill();

    // The commands that read the store themselves read the one `--config` names.
    let data = options.data_dir.to_string_lossy().into_owned();
    let config = config_path.to_string_lossy().into_owned();
    let run = |args: &[&str]| {
        let output = cli(args);
        assert!(
            output.status.success(),
            "{args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let listed: serde_json::Value = serde_json::from_str(&run(&[
        "incidents",
        "--data-dir",
        &data,
        "--config",
        &config,
        "--json",
    ]))
    .unwrap();
    let listed: BTreeSet<String> = listed
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|i| i["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(listed, api_ids, "onesec incidents --data-dir --config");
    let exported = run(&["export", "--ocsf", "--data-dir", &data, "--config", &config]);
    assert_eq!(
        exported.lines().count() as u64,
        sent,
        "onesec export --config"
    );
    let verified = run(&["audit", "verify", "--data-dir", &data, "--config", &config]);
    assert!(
        verified.contains(&format!("store checked: {sent} events")),
        "{verified}"
    );
}
