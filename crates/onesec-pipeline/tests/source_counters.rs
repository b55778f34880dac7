//! Per-source counters: what each input delivered, decoded, refused and delivered late (beyond
//! `detection.allowed_lateness` behind the newest event time), in `Pipeline::sources` and on
//! the metrics text.

use onesec_decode::Format;
use onesec_pipeline::{Config, Pipeline};

#[test]
fn each_source_counts_its_own_records_and_late_events() {
    let data = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    };
    config.detection.allowed_lateness = "1h".into();
    let pipeline = Pipeline::start(config).unwrap();
    pipeline.declare_source("mqtt");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = "<86>1 2026-03-10T12:00:00Z srv sshd 41 - - Accepted publickey for alice from 10.0.0.1 port 5 ssh2\n\
               <999>Mar 10 16:40:17 host app: bad pri\n";
    runtime.block_on(
        pipeline
            .ingestor()
            .ingest_body(&Format::Syslog, now.as_bytes(), "first"),
    );
    // Three hours behind the newest event: late; twenty minutes behind: not.
    let late = "<86>1 2026-03-10T09:00:00Z srv sshd 41 - - Accepted publickey for bob from 10.0.0.2 port 5 ssh2\n\
                <86>1 2026-03-10T11:40:00Z srv sshd 41 - - Accepted publickey for carol from 10.0.0.3 port 5 ssh2\n";
    runtime.block_on(
        pipeline
            .ingestor()
            .ingest_body(&Format::Syslog, late.as_bytes(), "second"),
    );
    assert!(pipeline.wait_detected(std::time::Duration::from_secs(10)));
    let sources = pipeline.sources();
    let names: Vec<&str> = sources.iter().map(|s| s.source.as_str()).collect();
    assert_eq!(names, ["first", "mqtt", "second"]);
    let (first, mqtt, second) = (&sources[0], &sources[1], &sources[2]);
    assert_eq!(
        (
            first.received,
            first.decoded,
            first.dead_lettered,
            first.late
        ),
        (2, 1, 1, 0)
    );
    assert!(first.last_seen_ms > 0);
    assert_eq!((mqtt.received, mqtt.last_seen_ms), (0, 0));
    assert_eq!(
        (
            second.received,
            second.decoded,
            second.dead_lettered,
            second.late
        ),
        (2, 2, 0, 1)
    );
    let metrics = pipeline.metrics_text();
    assert!(metrics.contains("onesec_late_events_total 1"), "{metrics}");
    assert!(metrics.contains("onesec_source_late_total{source=\"second\"} 1"));
    assert!(metrics.contains("onesec_source_dead_lettered_total{source=\"first\"} 1"));
    // The late event is stored like the others and listed as late, with its source.
    let late = pipeline.read_store(|s| s.late_events(None, 10)).unwrap();
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0].source, "second/linux");
    assert_eq!(late[0].watermark_ms - late[0].time_ms, 3 * 3_600_000);
    let stored = pipeline
        .read_store(|s| s.events_by_ids(&[late[0].id]))
        .unwrap();
    assert_eq!(stored.len(), 1, "a late event is stored");
    assert_eq!(pipeline.read_store(|s| s.event_count()).unwrap(), 3);
    pipeline.shutdown();
}

/// The watermark is kept per source (input and product): a source whose clock is a day ahead
/// does not make another source's events late.
#[test]
fn a_source_a_day_ahead_does_not_make_another_late() {
    let data = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    };
    config.detection.allowed_lateness = "1h".into();
    let pipeline = Pipeline::start(config).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let line = |t: &str, user: &str| {
        format!(
            "<86>1 {t} srv sshd 41 - - Accepted publickey for {user} from 10.0.0.1 port 5 ssh2\n"
        )
    };
    for (t, source) in [
        ("2026-03-10T12:00:00Z", "office"),
        ("2026-03-11T12:00:00Z", "skewed"),
        ("2026-03-10T12:05:00Z", "office"),
        ("2026-03-10T11:30:00Z", "office"),
    ] {
        runtime.block_on(pipeline.ingestor().ingest_body(
            &Format::Syslog,
            line(t, "alice").as_bytes(),
            source,
        ));
    }
    assert!(pipeline.wait_detected(std::time::Duration::from_secs(10)));
    let late: Vec<(String, u64)> = pipeline
        .sources()
        .into_iter()
        .map(|s| (s.source, s.late))
        .collect();
    assert_eq!(
        late,
        [("office".to_string(), 0), ("skewed".to_string(), 0)],
        "a day-ahead clock on one input makes nothing late on another"
    );
    // Three hours behind the office's own newest event: late.
    runtime.block_on(pipeline.ingestor().ingest_body(
        &Format::Syslog,
        line("2026-03-10T09:00:00Z", "bob").as_bytes(),
        "office",
    ));
    assert!(pipeline.wait_detected(std::time::Duration::from_secs(10)));
    let office = pipeline
        .sources()
        .into_iter()
        .find(|s| s.source == "office")
        .unwrap();
    assert_eq!(office.late, 1);
    pipeline.shutdown();
}
