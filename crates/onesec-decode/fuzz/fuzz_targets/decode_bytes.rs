//! Any bytes, through every format: decoding must never panic, and for the line formats
//! (`syslog`, `cef`, `leef`) every non-blank line must come back as exactly one event or one
//! error (nothing dropped silently, nothing counted twice).

#![no_main]

use libfuzzer_sys::fuzz_target;
use onesec_decode::{CsvMapping, DecodeContext, Format, decode_bytes, decode_syslog};

fuzz_target!(|data: &[u8]| {
    let ctx = DecodeContext::new("fuzz", 1_773_180_000_000);
    for format in [
        Format::Auto,
        Format::WindowsJson,
        Format::OnvifEj,
        Format::AccessCsv(CsvMapping::auto()),
        Format::EventJson,
        Format::Json,
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
});

/// Lines holding something besides ASCII white space, after a leading UTF-8 BOM.
fn non_blank_lines(data: &[u8]) -> usize {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    data.split(|b| *b == b'\n')
        .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
        .count()
}
