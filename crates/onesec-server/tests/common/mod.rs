//! What the server's integration tests share: an in-process pipeline and server on free
//! ports, and reading back what was stored.
#![allow(dead_code)]

use onesec_event::Event;
use onesec_pipeline::{Config, Pipeline};
use onesec_store::EventFilter;
use std::sync::Arc;
use std::time::Duration;

/// A configuration with its data in `data`, the API on a free port and no syslog listener.
pub fn config(data: &std::path::Path) -> Config {
    let mut config = Config {
        data_dir: data.to_path_buf(),
        ..Config::default()
    };
    config.http.listen = "127.0.0.1:0".into();
    config.syslog.udp = String::new();
    config.syslog.tcp = String::new();
    config
}

/// Starts the pipeline and every listener and client `config` asks for.
pub async fn start(config: &Config) -> (Arc<Pipeline>, onesec_server::Server) {
    let pipeline = Arc::new(Pipeline::start(config.clone()).unwrap());
    let server = onesec_server::start(pipeline.clone(), config)
        .await
        .unwrap();
    (pipeline, server)
}

/// Up to `limit` stored events, once detection has caught up (or 5 s passed).
pub async fn stored_events(pipeline: &Arc<Pipeline>, limit: usize) -> Vec<Event> {
    let p = pipeline.clone();
    tokio::task::spawn_blocking(move || {
        p.wait_detected(Duration::from_secs(5));
        p.read_store(|s| {
            s.events(&EventFilter {
                limit: Some(limit),
                ..EventFilter::default()
            })
        })
        .unwrap()
    })
    .await
    .unwrap()
}
