//! `onesec up --demo`: the example company from `examples/northwind` and a short hybrid attack,
//! built into the binary so the demo works from any folder.

use onesec_decode::Format;
use onesec_pipeline::Pipeline;
use std::path::{Path, PathBuf};

const DIRECTORY_FILES: [(&str, &str); 3] = [
    (
        "people.csv",
        include_str!("../../../examples/northwind/people.csv"),
    ),
    (
        "sites.yaml",
        include_str!("../../../examples/northwind/sites.yaml"),
    ),
    (
        "devices.csv",
        include_str!("../../../examples/northwind/devices.csv"),
    ),
];

const ATTACK: [(&str, &str); 2] = [
    (
        "onvif-ej",
        include_str!("../../../examples/northwind/demo-events.jsonl"),
    ),
    (
        "syslog",
        include_str!("../../../examples/northwind/demo-syslog.log"),
    ),
];

/// Writes the example directory into `<data>/demo-directory` and returns that folder.
pub fn write_directory(data_dir: &Path) -> std::io::Result<PathBuf> {
    let dir = data_dir.join("demo-directory");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in DIRECTORY_FILES {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(dir)
}

/// Sends the demo attack through the pipeline (once per data folder: a second `up --demo`
/// on the same folder does not send it again) and waits until detection has seen it.
pub async fn replay(pipeline: &std::sync::Arc<Pipeline>) {
    let marker = pipeline
        .config()
        .data_dir
        .join("demo-directory")
        .join(".replayed");
    if marker.exists() {
        tracing::info!("demo attack already in this data folder; not sent again");
        return;
    }
    for (format, text) in ATTACK {
        let format: Format = format.parse().unwrap_or(Format::Auto);
        let report = pipeline
            .ingestor()
            .ingest_body(&format, text.as_bytes(), "demo")
            .await;
        tracing::info!(
            accepted = report.accepted,
            errors = report.errors.len(),
            "demo events sent"
        );
    }
    if let Err(error) = std::fs::write(&marker, b"") {
        tracing::warn!(%error, "cannot mark the demo as replayed");
    }
    let p = pipeline.clone();
    let _ =
        tokio::task::spawn_blocking(move || p.wait_detected(std::time::Duration::from_secs(10)))
            .await;
}
