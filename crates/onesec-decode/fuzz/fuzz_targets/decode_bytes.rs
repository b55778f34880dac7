//! Any bytes, through every format: decoding must never panic, and for the line formats
//! (`syslog`, `cef`, `leef`) every non-blank line must come back as exactly one event or one
//! error (nothing dropped silently, nothing counted twice).

#![no_main]

use libfuzzer_sys::fuzz_target;
use onesec_decode::{
    CsvMapping, DecodeContext, Format, JsonMapping, SiaReply, decode_bytes, decode_syslog,
    parse_sia_frame, sia_answer, sia_events,
};

/// The shipped example field mapping (every kind of target: time, text, status, direction, IP).
const DOOR_GATEWAY: &str = include_str!("../../../../examples/sources/door-gateway-mapping.toml");

fuzz_target!(|data: &[u8]| {
    let ctx = DecodeContext::new("fuzz", 1_773_180_000_000);
    for format in [
        Format::Auto,
        Format::WindowsJson,
        Format::OnvifEj,
        Format::OnvifXml,
        Format::Frigate,
        Format::Gallagher,
        Format::SiaDc09,
        Format::AccessCsv(CsvMapping::auto()),
        Format::EventJson,
        Format::Json,
        Format::JsonMap(JsonMapping::from_toml(DOOR_GATEWAY).expect("example mapping")),
    ] {
        decode_bytes(&format, data, &ctx);
    }
    let records = non_blank_lines(data);
    for format in [Format::Syslog, Format::Cef, Format::Leef] {
        let decoded = decode_bytes(&format, data, &ctx);
        assert_eq!(
            decoded.events.len() + decoded.errors.len(),
            records,
            "{format}: every non-blank line is one event or one error"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode_syslog(text, &ctx);
    }
    // The SIA receiver's path: one frame, with a key for every account (so that arbitrary
    // ciphertext reaches the decryption), then the events and an answer.
    let key = |_: &str| Some(b"0123456789abcdef".to_vec());
    if let Ok(message) = parse_sia_frame(data, &key) {
        let _ = sia_events(&message, "", &ctx);
        let _ = sia_answer(SiaReply::Ack, &message.header, Some(b"0123456789abcdef"), 0);
    }
});

/// Lines holding something besides ASCII white space, after a leading UTF-8 BOM.
fn non_blank_lines(data: &[u8]) -> usize {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    data.split(|b| *b == b'\n')
        .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
        .count()
}
