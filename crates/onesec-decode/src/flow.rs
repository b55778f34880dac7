//! Flow records as JSON: what firewalls, NDR sensors and cloud networks write per connection,
//! read by the generic JSON decoder as network activity (source, destination, ports,
//! protocol, bytes, verdict) so device connection monitoring and Sigma's `network_connection`
//! rules see them as they see a CEF firewall record.
//!
//! The shapes are recognised by their address keys, after the document is flattened: Elastic
//! Common Schema (`source.ip`, `destination.ip`: Filebeat, Elastic Agent, Packetbeat), Suricata
//! EVE (`src_ip`, `dest_ip`), Zeek `conn.log` JSON (`id.orig_h`, `id.resp_h`), AWS VPC flow logs
//! in JSON (`srcaddr`, `dstaddr`), and flat firewall JSON (`src_ip`/`srcip`/`src`, `dst_ip`/
//! `dstip`/`dst`: FortiGate, pfSense, OPNsense and custom exports).

use crate::{scan, siem};
use onesec_event::{Activity, Event, EventClass};

/// Where one shape keeps each part of a flow (the first key present wins).
struct Shape {
    src_ip: &'static [&'static str],
    src_port: &'static [&'static str],
    dst_ip: &'static [&'static str],
    dst_port: &'static [&'static str],
    protocol: &'static [&'static str],
    /// Bytes the destination sent back.
    bytes_in: &'static [&'static str],
    /// Bytes the source sent.
    bytes_out: &'static [&'static str],
    /// Texts saying allowed or denied (`accept`, `REJECT`, `blocked`...).
    verdict: &'static [&'static str],
    /// A field and the value of it that means denied, where the shape has no verdict text
    /// (Zeek's `conn_state` `REJ`: the attempt was rejected).
    denied_state: Option<(&'static str, &'static str)>,
    /// Texts saying the flow ended (`closed`, `end`, `teardown`...).
    state: &'static [&'static str],
}

const SHAPES: [Shape; 5] = [
    // Elastic Common Schema.
    Shape {
        src_ip: &["source.ip"],
        src_port: &["source.port"],
        dst_ip: &["destination.ip"],
        dst_port: &["destination.port"],
        protocol: &[
            "network.transport",
            "network.iana_number",
            "network.protocol",
        ],
        bytes_in: &["destination.bytes"],
        bytes_out: &["source.bytes"],
        verdict: &[
            "event.action",
            "event.outcome",
            "event.type.0",
            "event.type",
        ],
        state: &["event.action", "event.type.0", "event.type.1"],
        denied_state: None,
    },
    // Suricata EVE (`flow`, `netflow`, `alert` records).
    Shape {
        src_ip: &["src_ip"],
        src_port: &["src_port"],
        dst_ip: &["dest_ip"],
        dst_port: &["dest_port"],
        protocol: &["proto"],
        bytes_in: &["flow.bytes_toclient", "netflow.bytes"],
        bytes_out: &["flow.bytes_toserver"],
        verdict: &["alert.action", "drop.reason"],
        state: &["flow.state"],
        denied_state: None,
    },
    // Zeek conn.log.
    Shape {
        src_ip: &["id.orig_h"],
        src_port: &["id.orig_p"],
        dst_ip: &["id.resp_h"],
        dst_port: &["id.resp_p"],
        protocol: &["proto"],
        bytes_in: &["resp_bytes"],
        bytes_out: &["orig_bytes"],
        verdict: &[],
        state: &[],
        denied_state: Some(("conn_state", "REJ")),
    },
    // AWS VPC flow logs (JSON).
    Shape {
        src_ip: &["srcaddr"],
        src_port: &["srcport"],
        dst_ip: &["dstaddr"],
        dst_port: &["dstport"],
        protocol: &["protocol"],
        bytes_in: &[],
        bytes_out: &["bytes"],
        verdict: &["action"],
        state: &[],
        denied_state: None,
    },
    // Flat firewall JSON.
    Shape {
        src_ip: &["src_ip", "srcip", "source_ip", "src"],
        src_port: &["src_port", "srcport", "sport", "source_port", "spt"],
        dst_ip: &["dst_ip", "dstip", "dest_ip", "destination_ip", "dst"],
        dst_port: &[
            "dst_port",
            "dstport",
            "dport",
            "dest_port",
            "destination_port",
            "dpt",
        ],
        protocol: &["protocol", "proto", "transport"],
        bytes_in: &["bytes_in", "rcvdbyte", "bytes_received"],
        bytes_out: &["bytes_out", "sentbyte", "bytes_sent"],
        verdict: &["action", "verdict", "outcome", "disposition"],
        state: &["status", "state", "type"],
        denied_state: None,
    },
];

/// The top-level keys under which the shapes keep the source address (`source` and `id` hold
/// ECS's and Zeek's nested forms).
const SOURCE_KEYS: [&str; 8] = [
    "source",
    "src_ip",
    "id.orig_h",
    "id",
    "srcaddr",
    "srcip",
    "source_ip",
    "src",
];

/// Whether a document with the top-level key `key` may be a flow record (some shape keeps the
/// source address under it). Asked by the generic decoder of each top-level key as it
/// flattens them, so other JSON (the usual case) pays no field lookups for [`classify`] and no
/// second walk over its keys (which cost 4 % of decoding a Winlogbeat line as generic JSON).
pub(crate) fn is_source_key(key: &str) -> bool {
    // Every source key starts with `s` or `i`: most keys are ruled out by their first byte.
    matches!(key.as_bytes().first(), Some(b's' | b'i')) && SOURCE_KEYS.contains(&key)
}

/// Makes `event` (a generic JSON event, fields flattened) a network flow when its fields hold
/// the addresses of one of the [`SHAPES`]; whether it did.
pub(crate) fn classify(event: &mut Event) -> bool {
    let Some((shape, src, dst)) = SHAPES.iter().find_map(|shape| {
        let ip = |keys| first(event, keys).and_then(scan::ip);
        Some((shape, ip(shape.src_ip)?, ip(shape.dst_ip)?))
    }) else {
        return false;
    };
    let port = |keys| {
        first(event, keys)
            .and_then(|t| t.parse::<u16>().ok())
            .filter(|p| *p != 0)
    };
    let (src_port, dst_port) = (port(shape.src_port), port(shape.dst_port));
    // Owned: they are written into the fields they are read from.
    let protocol = first(event, shape.protocol).map(|p| siem::protocol_name(p).into_owned());
    let bytes = |keys| {
        first(event, keys)
            .filter(|b| b.parse::<u64>().is_ok())
            .map(str::to_string)
    };
    let (bytes_in, bytes_out) = (bytes(shape.bytes_in), bytes(shape.bytes_out));
    let verdict = shape
        .verdict
        .iter()
        .filter_map(|k| event.fields.get(k))
        .find_map(|text| siem::verdict(text, true))
        .or_else(|| {
            shape
                .denied_state
                .filter(|(key, value)| event.fields.get(key) == Some(*value))
                .map(|_| false)
        });
    let closed = shape
        .state
        .iter()
        .filter_map(|k| event.fields.get(k))
        .any(says_closed);
    event.class = EventClass::NetworkActivity;
    event.activity = if closed {
        Activity::Close
    } else {
        Activity::Open
    };
    event.status = siem::status(verdict);
    event.src.ip = Some(src);
    event.src.port = src_port;
    event.dst.ip = Some(dst);
    event.dst.port = dst_port;
    let mut batch = event.fields.batch();
    for (key, value) in [
        ("network.protocol", &protocol),
        ("network.bytes_in", &bytes_in),
        ("network.bytes_out", &bytes_out),
    ] {
        if let Some(value) = value {
            batch.insert(key, value);
        }
    }
    let (name, action) = siem::flow_action(verdict);
    if let Some(name) = name {
        batch.insert("network.action", name);
    }
    batch.insert("action", action);
    true
}

/// The first non-empty value of `keys` in the event's fields.
fn first<'e>(event: &'e Event, keys: &[&str]) -> Option<&'e str> {
    keys.iter()
        .find_map(|k| event.fields.get(k))
        .and_then(scan::non_empty)
}

/// The time of a flow record whose document has none of the usual time keys: AWS's `start`
/// (epoch seconds), a FortiGate's `date` and `time` (the device's local time, read in `zone`).
pub(crate) fn time_of(event: &Event, zone: &chrono_tz::Tz) -> Option<i64> {
    if let Some(start) = event
        .fields
        .get("start")
        .filter(|_| event.fields.contains_key("srcaddr"))
    {
        return crate::time::parse_text(start);
    }
    let (date, time) = (event.fields.get("date")?, event.fields.get("time")?);
    crate::time::parse_text_in(&format!("{date} {time}"), zone)
}

/// Whether a state or action text says the flow ended.
fn says_closed(text: &str) -> bool {
    const CLOSING: [&str; 8] = [
        "end",
        "ended",
        "close",
        "closed",
        "teardown",
        "terminated",
        "stop",
        "timeout",
    ];
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| CLOSING.iter().any(|c| word.eq_ignore_ascii_case(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_words() {
        assert!(says_closed("closed"));
        assert!(says_closed("flow_end"));
        assert!(says_closed("TIMEOUT"));
        assert!(!says_closed("established"));
        assert!(!says_closed("endpoint"));
    }
}
