//! Shared helpers for the behaviour tests.
#![allow(dead_code)]

use onesec_decode::{DecodeContext, Decoded, Format, decode_bytes};
use onesec_event::Event;

/// 2026-03-10T23:00:00Z: the evening after the acme day.
pub const ACME_RECEIVED_MS: i64 = 1_773_183_600_000;

/// Bytes of a shared data file, or `None` (test skipped) when the shared folder is absent.
pub fn shared_bytes(relative: &str) -> Option<Vec<u8>> {
    let path = onesec_testdata::shared(relative)?;
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display())))
}

/// Bytes of a file under this crate's `tests/data`.
pub fn local_bytes(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A replay context received at `received_ms`.
pub fn ctx(received_ms: i64) -> DecodeContext {
    DecodeContext::new("replay", received_ms)
}

/// Decodes `bytes` and fails with every error when there is any.
pub fn decode_clean(format: &Format, bytes: &[u8], ctx: &DecodeContext) -> Vec<Event> {
    let Decoded { events, errors } = decode_bytes(format, bytes, ctx);
    assert!(
        errors.is_empty(),
        "{} decode errors, first ones: {:#?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    events
}

/// The `action` field of an event, or "".
pub fn action(event: &Event) -> &str {
    event.fields.get("action").unwrap_or("")
}
