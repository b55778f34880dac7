//! Any bytes as an HTTP ingest request, through the API's own steps. Up to the first NUL: the
//! `X-Onesec-Csv-Mapping` header's TOML (a mapping that loads makes the format `access-csv`,
//! as in the API), else the same text as a `?format=` name. The rest, the body: through
//! `json_body_as_lines` (one JSON document or array becomes lines), then `decode_bytes`. It
//! fails on any panic, and when a body that is not JSON is changed by the JSON step.

#![no_main]

use libfuzzer_sys::fuzz_target;
use onesec_decode::{CsvMapping, DecodeContext, Format, decode_bytes, json_body_as_lines};

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == 0) {
        Some(at) => (Some(&data[..at]), &data[at + 1..]),
        None => (None, data),
    };
    let text = header.and_then(|h| std::str::from_utf8(h).ok());
    let mapping = text.and_then(|text| CsvMapping::from_toml(text).ok());
    // The same text as the `?format=` name, as the API parses it.
    let named = text.and_then(|text| text.parse::<Format>().ok());
    let format = match (mapping, named) {
        (Some(mapping), _) => Format::AccessCsv(mapping),
        (None, Some(named)) => named,
        (None, None) => Format::Auto,
    };
    let lines = json_body_as_lines(body);
    if !matches!(body.trim_ascii_start().first(), Some(b'{' | b'[')) {
        assert_eq!(lines, body, "a body that is not JSON passes unchanged");
    }
    let ctx = DecodeContext::new("fuzz", 1_773_180_000_000);
    decode_bytes(&format, &lines, &ctx);
});
