//! RFC 3164 lines carry no year: without `syslog.year` they take the year of the fully dated
//! input around them, so a replayed day from another year still lines up.

use onesec_decode::Format;
use onesec_pipeline::{Config, Pipeline};
use onesec_store::EventFilter;

fn year_of(ms: i64) -> String {
    onesec_event::format_time_ms(ms)[..4].to_string()
}

#[test]
fn bsd_syslog_takes_the_year_of_dated_events() {
    let data = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::start(Config {
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    })
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let same_body = "<86>1 2024-03-10T10:12:05Z srv sshd 41 - - Accepted publickey for alice from 10.0.0.1 port 5 ssh2\n\
                     <38>Mar 10 16:40:15 gw sshd[7100]: Failed password for root from 203.0.113.77 port 40000 ssh2\n";
    let report = runtime.block_on(pipeline.ingestor().ingest_body(
        &Format::Syslog,
        same_body.as_bytes(),
        "test",
    ));
    assert_eq!(report.accepted, 2);
    let later_alone = "<38>Mar 11 08:00:00 gw sshd[7101]: Failed password for root from 203.0.113.77 port 40001 ssh2\n";
    let report = runtime.block_on(pipeline.ingestor().ingest_body(
        &Format::Syslog,
        later_alone.as_bytes(),
        "test",
    ));
    assert_eq!(report.accepted, 1);
    assert!(pipeline.wait_detected(std::time::Duration::from_secs(30)));
    let events = pipeline
        .read_store(|s| s.events(&EventFilter::default()))
        .unwrap();
    let years: Vec<String> = events.iter().map(|e| year_of(e.time_ms)).collect();
    assert_eq!(years, vec!["2024", "2024", "2024"], "{events:#?}");
}
