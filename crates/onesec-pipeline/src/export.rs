//! An incident exported: the signed bundle (JSON with the audit proofs) and the HTML report.
//!
//! The bundle is `{"format", "document", "signature", "public_key"}`. `document` holds the
//! incident, its case and history, alerts, the timeline of its events, the context, the
//! evidence (files inline, base64), the playbook run and the audit proofs
//! ([`crate::IncidentProofs`]). `signature` is the audit key's Ed25519 signature
//! (`onesec_audit::sign_document`) over the document serialised compactly by `serde_json`
//! (the same bytes whether the file is read back pretty-printed or not). [`verify_bundle`]
//! checks it offline: the signature, every event's inclusion proof, that each proven payload
//! is the event the timeline shows, and the proofs of the audit entries.

use onesec_audit::{EventProof, InclusionProof, parse_public_key, verify_document};
use serde_json::{Value, json};

/// The bundle's format name.
pub const BUNDLE_FORMAT: &str = "onesec-incident-bundle/v1";

/// Signs a document with `sign` (the audit key): the bundle.
pub fn seal_bundle(document: Value, public_key: &str, sign: impl FnOnce(&[u8]) -> String) -> Value {
    let bytes = serde_json::to_vec(&document).unwrap_or_default();
    let signature = sign(&bytes);
    json!({
        "format": BUNDLE_FORMAT,
        "document": document,
        "signature": signature,
        "public_key": public_key,
    })
}

/// What [`verify_bundle`] checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BundleCheck {
    /// The incident id.
    pub incident: String,
    /// Whether the key given by the caller was used (else the bundle's own, which proves only
    /// that the bundle is intact, not who made it).
    pub trusted_key: bool,
    /// Events (of the timeline and referenced as evidence) with a checked inclusion proof.
    pub events_proven: usize,
    /// Events without a proof (listed in the bundle with the reason).
    pub events_unproven: usize,
    /// Audit entries about the incident with a checked inclusion proof.
    pub entries_proven: usize,
}

/// Checks a bundle: the document signature and every proof it carries, with `trusted_key`
/// (the audit `signing.pub`, hex) when given, else the key in the bundle. The first problem
/// found, or what was checked.
pub fn verify_bundle(text: &str, trusted_key: Option<&str>) -> Result<BundleCheck, String> {
    let bundle: Value =
        serde_json::from_str(text).map_err(|e| format!("the bundle is not JSON: {e}"))?;
    if bundle["format"] != BUNDLE_FORMAT {
        return Err(format!(
            "format is {}, expected {BUNDLE_FORMAT}",
            bundle["format"]
        ));
    }
    let key_hex = match trusted_key {
        Some(k) => k.trim(),
        None => bundle["public_key"].as_str().unwrap_or_default(),
    };
    let key = parse_public_key(key_hex)?;
    let document = &bundle["document"];
    let bytes = serde_json::to_vec(document).map_err(|e| e.to_string())?;
    let signature = bundle["signature"].as_str().unwrap_or_default();
    verify_document(&key, &bytes, signature).map_err(|e| format!("document signature: {e}"))?;
    let mut check = BundleCheck {
        incident: document["incident"]["id"].as_str().unwrap_or("").into(),
        trusted_key: trusted_key.is_some(),
        ..BundleCheck::default()
    };
    let proofs = &document["proofs"];
    let timeline = document["timeline"].as_array().cloned().unwrap_or_default();
    let referenced = document["evidence_events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for raw in proofs["events"].as_array().into_iter().flatten() {
        let proof: EventProof = serde_json::from_value(raw.clone())
            .map_err(|e| format!("an event proof is malformed: {e}"))?;
        proof
            .verify(&key)
            .map_err(|e| format!("event {}: {e}", proof.event_id))?;
        let shown = timeline
            .iter()
            .chain(&referenced)
            .find(|t| t["id"].as_u64() == Some(proof.event_id))
            .ok_or_else(|| {
                format!(
                    "event {} is proven but neither in the timeline nor referenced as evidence",
                    proof.event_id
                )
            })?;
        let journaled: Value = serde_json::from_str(&proof.payload)
            .map_err(|e| format!("event {}: payload is not JSON: {e}", proof.event_id))?;
        if journaled["raw"] != shown["raw"] {
            return Err(format!(
                "event {}: the timeline's raw input is not the journaled one",
                proof.event_id
            ));
        }
        check.events_proven += 1;
    }
    check.events_unproven = proofs["unproven"].as_array().map_or(0, Vec::len);
    for raw in proofs["entries"].as_array().into_iter().flatten() {
        let proof: InclusionProof = serde_json::from_value(raw.clone())
            .map_err(|e| format!("an audit entry proof is malformed: {e}"))?;
        proof
            .verify(&key)
            .map_err(|e| format!("audit entry {}: {e}", proof.leaf_index))?;
        check.entries_proven += 1;
    }
    Ok(check)
}

/// HTML-escapes text (the incident report here, the drill's after-action report).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as table text: strings bare, times (fields ending `_ms`) as RFC 3339, null as
/// a dash, lists joined.
fn cell(key: &str, value: &Value) -> String {
    match value {
        Value::Null => "–".into(),
        Value::String(s) => esc(s),
        Value::Number(n) if key.ends_with("_ms") || key == "at" => n
            .as_i64()
            .map(onesec_event::format_time_ms)
            .unwrap_or_else(|| n.to_string()),
        Value::Array(items) => items
            .iter()
            .map(|v| cell("", v))
            .collect::<Vec<_>>()
            .join(", "),
        other => esc(&other.to_string()),
    }
}

/// A table of `rows` showing `columns` (JSON keys).
fn table(out: &mut String, rows: &[Value], columns: &[&str]) {
    if rows.is_empty() {
        out.push_str("<p class=\"none\">none</p>\n");
        return;
    }
    out.push_str("<table><tr>");
    for c in columns {
        out.push_str(&format!("<th>{}</th>", esc(c)));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for c in columns {
            out.push_str(&format!("<td>{}</td>", cell(c, &row[*c])));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn list(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

/// The report of an exported document: one self-contained HTML page (no script, no external
/// resource) with the incident, case, history, alerts, timeline, context, evidence, response
/// actions and what the bundle's proofs cover.
pub fn render_report(document: &Value) -> String {
    let incident = &document["incident"];
    let case = &document["case"];
    let id = incident["id"].as_str().unwrap_or("");
    let mut out = String::new();
    out.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Incident {}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;width:100%;margin-bottom:1em}}\
         th,td{{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top;font-size:.9em}}th{{background:#eee}}\
         .none{{color:#777}}dl{{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}}dt{{font-weight:bold}}</style></head><body>\n",
        esc(id)
    ));
    out.push_str(&format!(
        "<h1>Incident {}: {}</h1>\n<dl>",
        esc(id),
        esc(incident["title"].as_str().unwrap_or(""))
    ));
    let facts: [(&str, &Value, &str); 11] = [
        ("state", &incident["state"], ""),
        ("domain", &incident["domain"], ""),
        ("severity", &incident["priority"], ""),
        ("first event", &incident["first_ms"], "first_ms"),
        ("last event", &incident["last_ms"], "last_ms"),
        ("repeats counted", &incident["repeats"], ""),
        ("priority (1–5)", &case["priority"], ""),
        ("category", &case["category"], ""),
        ("owner team", &case["owner_team"], ""),
        ("assignee", &case["assignee"], ""),
        ("exported", &document["exported_ms"], "exported_ms"),
    ];
    for (label, value, key) in facts {
        out.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>",
            esc(label),
            cell(key, value)
        ));
    }
    let entities = &incident["entities"];
    for kind in [
        "persons", "sites", "zones", "devices", "hosts", "portals", "accounts",
    ] {
        out.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>",
            kind,
            cell("", &entities[kind])
        ));
    }
    out.push_str("</dl>\n<h2>History</h2>\n");
    table(
        &mut out,
        &list(&document["history"]),
        &["at_ms", "actor", "action", "from", "to", "comment"],
    );
    out.push_str("<h2>Alerts</h2>\n");
    table(
        &mut out,
        &list(&document["alerts"]),
        &[
            "id",
            "title",
            "severity",
            "domain",
            "status",
            "first_ms",
            "repeats",
            "repeat_of",
        ],
    );
    out.push_str("<h2>Timeline</h2>\n");
    table(
        &mut out,
        &list(&document["timeline"]),
        &[
            "id", "time", "domain", "class", "activity", "person", "user", "site", "zone",
            "portal", "host", "message",
        ],
    );
    let context = &document["context"];
    out.push_str("<h2>Context</h2>\n<h3>Cameras watching its zones</h3>\n");
    table(
        &mut out,
        &list(&context["cameras"]),
        &["id", "name", "site", "watches"],
    );
    for door in list(&context["doors"]) {
        out.push_str(&format!(
            "<h3>Door {} — recent events</h3>\n",
            esc(door["portal"].as_str().unwrap_or(""))
        ));
        table(
            &mut out,
            &list(&door["events"]),
            &["time", "activity", "status", "person", "badge", "message"],
        );
    }
    for person in list(&context["persons"]) {
        out.push_str(&format!(
            "<h3>{} ({}) — badge and login events</h3>\n",
            esc(person["name"].as_str().unwrap_or("")),
            esc(person["person"].as_str().unwrap_or(""))
        ));
        let mut events = list(&person["badge_events"]);
        events.extend(list(&person["login_events"]));
        table(
            &mut out,
            &events,
            &[
                "time", "class", "activity", "status", "site", "portal", "host", "src_ip",
            ],
        );
    }
    out.push_str("<h3>Device posture</h3>\n");
    table(
        &mut out,
        &list(&context["devices"]),
        &["device", "score", "findings"],
    );
    out.push_str("<h2>Evidence</h2>\n");
    table(
        &mut out,
        &list(&document["evidence"]),
        &[
            "seq", "kind", "name", "event_id", "size", "sha256", "added_by", "added_ms", "note",
        ],
    );
    out.push_str("<h2>Response actions</h2>\n");
    let run = &document["playbook"];
    if !run.is_null() {
        out.push_str(&format!(
            "<p>Playbook {} — {}</p>\n",
            esc(run["playbook"].as_str().unwrap_or("")),
            esc(run["status"].as_str().unwrap_or(""))
        ));
    }
    table(
        &mut out,
        &list(&run["actions"]),
        &["at_ms", "by", "step", "team", "command", "mode", "outcome"],
    );
    table(
        &mut out,
        &list(&run["tasks"]),
        &["id", "team", "state", "instruction"],
    );
    let proofs = &document["proofs"];
    out.push_str("<h2>Integrity</h2>\n");
    if proofs.is_null() {
        out.push_str("<p>The audit log is disabled: no proofs.</p>\n");
    } else {
        out.push_str(&format!(
            "<p>{} event(s) and {} audit entr(y/ies) proven under the checkpoint of {} leaves (root {}), signed {} with key {}. \
             Check the JSON bundle with <code>onesec incident verify</code>.</p>\n",
            list(&proofs["events"]).len(),
            list(&proofs["entries"]).len(),
            cell("", &proofs["checkpoint"]["size"]),
            cell("", &proofs["checkpoint"]["root"]),
            cell("time_ms", &proofs["checkpoint"]["time_ms"]),
            cell("", &proofs["public_key"]),
        ));
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_escapes_what_it_shows() {
        let document = json!({
            "incident": {"id": "inc-1", "title": "<script>alert(1)</script>", "first_ms": 0},
            "history": [{"at_ms": 0, "actor": "a&b", "action": "state", "comment": "\"x\""}],
            "timeline": [], "alerts": [], "context": {}, "evidence": [], "playbook": null,
            "proofs": null,
        });
        let html = render_report(&document);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("a&amp;b"));
        assert!(html.contains("1970-01-01T00:00:00"));
        assert!(html.contains("no proofs"));
    }

    #[test]
    fn a_sealed_bundle_verifies_and_a_changed_one_does_not() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
        let public = hex::encode(key.verifying_key().to_bytes());
        let document = json!({
            "incident": {"id": "inc-1"}, "timeline": [], "proofs": {"events": [], "entries": []},
        });
        let bundle = seal_bundle(document, &public, |bytes| {
            onesec_audit::sign_document(&key, bytes)
        });
        let text = serde_json::to_string_pretty(&bundle).unwrap();
        let check = verify_bundle(&text, Some(&public)).unwrap();
        assert_eq!(check.incident, "inc-1");
        assert!(check.trusted_key);
        let forged = text.replace("inc-1", "inc-2");
        assert!(
            verify_bundle(&forged, None)
                .unwrap_err()
                .contains("signature")
        );
        let other = hex::encode(
            ed25519_dalek::SigningKey::from_bytes(&[4u8; 32])
                .verifying_key()
                .to_bytes(),
        );
        assert!(verify_bundle(&text, Some(&other)).is_err());
    }
}
