//! VAST Challenge 2016 MC2 prox-card exports (shared/data/vast2016) through the mapping files
//! shipped in `examples/vast2016`: every row decodes, readers are named from floor and zone.

mod common;

use common::{ctx, decode_clean, shared_bytes};
use onesec_decode::{CsvMapping, Format};
use std::collections::BTreeSet;

fn mapping(name: &str) -> Format {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/vast2016")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("the example mapping");
    Format::AccessCsv(CsvMapping::from_toml(&text).expect("a valid mapping"))
}

fn data_rows(bytes: &[u8]) -> usize {
    bytes
        .split(|b| *b == b'\n')
        .skip(1)
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .count()
}

#[test]
fn fixed_zone_readers() {
    let Some(bytes) = shared_bytes("data/vast2016/proxOut-MC2.csv") else {
        return;
    };
    let events = decode_clean(
        &mapping("prox-mapping.toml"),
        &bytes,
        &ctx(1_464_652_800_000),
    );
    assert_eq!(events.len(), data_rows(&bytes));
    let first = &events[0];
    assert_eq!(first.actor.badge.as_deref(), Some("vawelon001"));
    assert_eq!(first.physical.reader.as_deref(), Some("F1-Z1"));
    assert_eq!(first.time_rfc3339(), "2016-05-31T00:05:00.000Z");
    assert_eq!(&first.fields["csv.type"], "fixed-prox");
    let readers: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e.physical.reader.as_deref())
        .collect();
    assert!(
        readers
            .iter()
            .all(|r| r.starts_with('F') && r.contains("-Z")),
        "{readers:?}"
    );
    assert!(
        readers.contains("F2-Z1") && readers.contains("F3-Z1"),
        "zones of several floors: {readers:?}"
    );
}

#[test]
fn mobile_reader() {
    let Some(bytes) = shared_bytes("data/vast2016/proxMobileOut-MC2.csv") else {
        return;
    };
    let events = decode_clean(
        &mapping("prox-mobile-mapping.toml"),
        &bytes,
        &ctx(1_464_652_800_000),
    );
    assert_eq!(events.len(), data_rows(&bytes));
    let first = &events[0];
    assert_eq!(first.actor.badge.as_deref(), Some("vlagos001"));
    assert_eq!(first.physical.reader.as_deref(), Some("F1-MOBILE"));
    assert_eq!(
        (&first.fields["csv.x"], &first.fields["csv.y"]),
        ("174", "15")
    );
}
