//! Binary EVTX files (shared/data/evtx): every record becomes an event through the Windows JSON
//! decoder, the counts agree with the evtx crate's own reading and with `manifest.csv`, and a
//! damaged file keeps its good chunks.

mod common;

use common::{ctx, shared_bytes};
use onesec_decode::{Decoded, Format, decode_bytes, read_evtx};
use onesec_event::{Activity, EventClass, Status};
use std::collections::BTreeMap;

/// `4625x16 4624x2` → {4625: 16, 4624: 2}.
fn manifest_ids(text: &str) -> BTreeMap<String, usize> {
    text.split_whitespace()
        .map(|part| {
            let (id, count) = part.split_once('x').unwrap();
            (id.to_string(), count.parse().unwrap())
        })
        .collect()
}

/// The evtx crate's own count of readable records, with its default settings.
fn crate_count(bytes: &[u8]) -> usize {
    let mut parser = evtx::EvtxParser::from_buffer(bytes.to_vec()).unwrap();
    parser.records().filter(Result::is_ok).count()
}

#[test]
fn every_evtx_file_decodes_with_the_manifest_event_ids() {
    let Some(manifest) = shared_bytes("data/evtx/manifest.csv") else {
        return;
    };
    let mut reader = csv::Reader::from_reader(manifest.as_slice());
    let mut files = 0;
    for row in reader.records() {
        let row = row.unwrap();
        let (file, ids) = (&row[0], manifest_ids(&row[4]));
        let bytes = shared_bytes(&format!("data/evtx/{file}")).unwrap();
        let Decoded { events, errors } = decode_bytes(&Format::Evtx, &bytes, &ctx(0));
        assert!(errors.is_empty(), "{file}: {errors:#?}");
        assert_eq!(events.len(), crate_count(&bytes), "{file}");
        let mut found: BTreeMap<String, usize> = BTreeMap::new();
        for event in &events {
            *found
                .entry(event.fields["EventID"].to_string())
                .or_default() += 1;
            assert_eq!(event.source.format, "windows-json");
            assert_eq!(event.source.product, "windows");
            assert!(event.time_ms > 1_500_000_000_000, "{file}: time read");
        }
        assert_eq!(found, ids, "{file}");
        // Auto-detection goes by the magic.
        assert_eq!(
            decode_bytes(&Format::Auto, &bytes, &ctx(0)).events.len(),
            events.len()
        );
        files += 1;
    }
    assert_eq!(
        files, 12,
        "every .evtx file of the data set is in manifest.csv"
    );
}

#[test]
fn attack_samples_map_to_event_classes() {
    let Some(bytes) = shared_bytes("data/evtx/local_bruteforce_4625_lt2.evtx") else {
        return;
    };
    let events = decode_bytes(&Format::Evtx, &bytes, &ctx(0)).events;
    assert!(events.iter().all(|e| (e.class, e.activity, e.status)
        == (EventClass::Authentication, Activity::Logon, Status::Failure)));
    assert_eq!(events[0].host.as_deref(), Some("WIN"));
    let Some(bytes) = shared_bytes("data/evtx/kerberos_bruteforce_4771.evtx") else {
        return;
    };
    let events = decode_bytes(&Format::Evtx, &bytes, &ctx(0)).events;
    assert!(events.iter().all(|e| e.class == EventClass::Authentication));
    let Some(bytes) = shared_bytes("data/evtx/new_service_smbexec_7045_4697.evtx") else {
        return;
    };
    // Service installs have no class of their own: base events whose fields rules read.
    let events = decode_bytes(&Format::Evtx, &bytes, &ctx(0)).events;
    let service = events
        .iter()
        .find(|e| &e.fields["EventID"] == "7045")
        .unwrap();
    assert!(
        service.fields.contains_key("ImagePath"),
        "{:?}",
        service.fields
    );
    assert_eq!(service.source.service, "system");
}

/// A copy cut in the middle of its third chunk: the first two chunks' records are kept, the
/// cut chunk is one error that names it and its bytes.
#[test]
fn truncated_file_keeps_the_good_chunks() {
    let Some(bytes) = shared_bytes("data/evtx/password_spray_4648.evtx") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.evtx");
    let cut = 4096 + 2 * 65536 + 30_000;
    std::fs::write(&path, &bytes[..cut]).unwrap();
    let cut_bytes = std::fs::read(&path).unwrap();

    let whole = read_evtx(bytes.clone()).unwrap();
    let in_first_two = whole
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .take_while(|r| r.record_id <= last_id_of_chunk(&bytes, 1))
        .count();
    let Decoded { events, errors } = decode_bytes(&Format::Evtx, &cut_bytes, &ctx(0));
    assert_eq!(events.len(), in_first_two);
    assert!(in_first_two > 0);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let reason = &errors[0].reason;
    assert!(
        reason.starts_with("EVTX chunk 2 (file bytes 135168..200704) cannot be read"),
        "{reason}"
    );
    assert!(reason.contains("the other chunks are kept"), "{reason}");
    assert_eq!(errors[0].line, in_first_two + 1);

    let not_evtx = decode_bytes(&Format::Evtx, b"<38>not an evtx file", &ctx(0));
    assert!(not_evtx.events.is_empty());
    assert!(
        not_evtx.errors[0]
            .reason
            .starts_with("not an EVTX file: expected the magic"),
        "{:?}",
        not_evtx.errors
    );
}

/// The last record id a chunk header names (bytes 32..40 of the chunk header).
fn last_id_of_chunk(file: &[u8], chunk: usize) -> u64 {
    let at = 4096 + chunk * 65536 + 32;
    u64::from_le_bytes(file[at..at + 8].try_into().unwrap())
}
