//! Who may do what, tried on a running onesec: every route the router serves
//! (`onesec_server::served_routes`, the very lists the router is built from, so a new route
//! cannot be left out) without a token, with a bad token and with a token of each role, against
//! what the gate's table says it needs; per-site scope; the login limit; denials in the audit
//! log.

mod common;

use common::{Onesec, Options};
use onesec_auth::{Role, permission_table};
use onesec_server::gate::{self, Access, ROUTES};
use onesec_server::served_routes;
use reqwest::Method;
use serde_json::json;

/// A concrete path for a route pattern.
fn concrete(pattern: &str) -> String {
    pattern
        .replace("{id}", "no-such-incident")
        .replace("{event_id}", "1")
        .replace("{name}", "no-such-token")
        .replace("{task_id}", "no-such-task")
        .replace("{seq}", "1")
        .replace("{site}", "no-such-site")
}

fn token_for(onesec: &Onesec, name: &str, role: Role, sites: &[&str]) -> String {
    onesec.issue_token(name, role.as_str(), sites)
}

fn method(m: &axum::http::Method) -> Method {
    Method::from_bytes(m.as_str().as_bytes()).unwrap()
}

#[test]
fn every_route_refuses_callers_without_the_permission() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        ..Options::default()
    });
    let tokens: Vec<(Role, String)> = Role::ALL
        .iter()
        .map(|role| (*role, token_for(&onesec, role.as_str(), *role, &[])))
        .collect();
    let served = served_routes();
    for (m, pattern, _) in ROUTES {
        assert!(
            served.iter().any(|(sm, sp)| sm == m && sp == pattern),
            "{m} {pattern} is in the gate's table but not served"
        );
    }
    assert!(served.len() >= ROUTES.len());
    for (m, pattern) in &served {
        let access = gate::access(m, pattern)
            .unwrap_or_else(|| panic!("{m} {pattern} is served but not in the gate's table"));
        let access = &access;
        let path = concrete(pattern);
        let anonymous = onesec.request_as(method(m), &path, None);
        let forged = onesec.request_as(method(m), &path, Some("00ff"));
        if *access == Access::Public {
            assert_ne!(anonymous.status, 401, "{m} {pattern} is public");
            continue;
        }
        assert_eq!(anonymous.status, 401, "{m} {pattern} without a token");
        assert_eq!(forged.status, 401, "{m} {pattern} with a made-up token");
        for (role, token) in &tokens {
            let answer = onesec.request_as(method(m), &path, Some(token));
            let allowed = match access {
                Access::Needs(p) => role.may(*p),
                _ => true,
            };
            if allowed {
                assert!(
                    answer.status != 401 && answer.status != 403,
                    "{m} {pattern} as {}: {} {}",
                    role.as_str(),
                    answer.status,
                    answer.body
                );
            } else {
                assert_eq!(answer.status, 403, "{m} {pattern} as {}", role.as_str());
            }
        }
    }
    let leaves = std::fs::read(tmp.path().join("data/audit/leaves.bin")).unwrap();
    let text = String::from_utf8_lossy(&leaves);
    assert!(text.contains("auth.denied") && text.contains("token.create"));
}

#[test]
fn a_caller_limited_to_a_site_sees_only_that_site() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start_demo(&tmp.path().join("data"));
    let all = onesec.get_json("/api/v1/incidents");
    assert!(
        !all.as_array().unwrap().is_empty(),
        "the demo opens incidents at EDI"
    );
    let edi = token_for(&onesec, "edi-guard", Role::PhysicalOperator, &["EDI"]);
    let mtl = token_for(&onesec, "mtl-guard", Role::PhysicalOperator, &["MTL"]);
    let seen = |token: &str, path: &str| onesec.request_as(Method::GET, path, Some(token));
    assert_eq!(seen(&edi, "/api/v1/incidents").body, all);
    assert_eq!(seen(&mtl, "/api/v1/incidents").body, json!([]));
    let first = all[0]["id"].as_str().unwrap();
    assert_eq!(
        seen(&mtl, &format!("/api/v1/incidents/{first}")).status,
        404
    );
    assert_eq!(
        seen(&edi, &format!("/api/v1/incidents/{first}")).status,
        200
    );
    assert_eq!(seen(&mtl, "/api/v1/events?site=EDI").status, 403);
    let events = seen(&edi, "/api/v1/events").body;
    let events = events.as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["resolved"]["site"] == "EDI"));
    assert_eq!(seen(&mtl, "/api/v1/alerts").body, json!([]));
}

#[test]
fn failed_logins_are_limited_and_the_limit_holds_for_the_right_password() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        ..Options::default()
    });
    let client = reqwest::blocking::Client::new();
    let login = |password: &str| {
        client
            .post(format!("{}/api/v1/auth/login", onesec.base))
            .json(&json!({ "user": common::ADMIN, "password": password }))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    for _ in 0..5 {
        assert_eq!(login("not the password"), 401);
    }
    assert_eq!(login(common::ADMIN_PASSWORD), 429);
}

#[test]
fn the_permission_table_in_the_docs_is_the_one_enforced() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/permissions.md"),
    )
    .unwrap();
    assert!(
        doc.contains(&permission_table()),
        "docs/permissions.md is out of date; its table must read:\n{}",
        permission_table()
    );
    for (m, pattern, access) in ROUTES {
        let need = match access {
            Access::Public => "public".to_string(),
            Access::Authenticated => "any signed-in caller".to_string(),
            Access::Needs(p) => format!("`{}`", p.as_str()),
        };
        let row = format!("| `{m} {pattern}` | {need} |");
        assert!(
            doc.contains(&row),
            "docs/permissions.md lacks the row {row}"
        );
    }
}

#[test]
fn the_api_speaks_tls_with_a_generated_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = tmp.path().join("tls.toml");
    std::fs::write(&config, "[http]\ntls = \"self-signed\"\n").unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        config: Some(config),
        ..Options::default()
    });
    assert!(onesec.base.starts_with("https://"), "{}", onesec.base);
    // The helpers trust data/tls/cert.pem: signing in and reading went over TLS.
    assert!(onesec.token().is_some());
    assert_eq!(onesec.get("/api/v1/status").status, 200);
    let plain = onesec.base.replacen("https://", "http://", 1);
    assert!(
        reqwest::blocking::get(format!("{plain}/healthz")).is_err(),
        "no plain HTTP on the TLS port"
    );
    let untrusting = reqwest::blocking::get(format!("{}/healthz", onesec.base));
    assert!(
        untrusting.is_err(),
        "the certificate is not publicly trusted"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let status = common::cli_as(
        &[
            "status",
            "--server",
            &onesec.base,
            "--ca-cert",
            data.join("tls/cert.pem").to_str().unwrap(),
        ],
        onesec.token(),
    );
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[test]
fn answers_carry_the_security_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        ..Options::default()
    });
    for path in ["/healthz", "/api/v1/status"] {
        let response = reqwest::blocking::get(format!("{}{path}", onesec.base)).unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert!(headers.contains_key("content-security-policy"), "{path}");
    }
}

#[test]
fn working_an_incident_needs_the_permission_and_sight_of_its_site() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start_demo(&tmp.path().join("data"));
    let incidents = onesec.get_json("/api/v1/incidents");
    let id = incidents[0]["id"].as_str().unwrap().to_string();
    let post = |path: &str, body: serde_json::Value, token: &str| {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/incidents/{id}/{path}", onesec.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .unwrap();
        response.status().as_u16()
    };
    let auditor = token_for(&onesec, "auditor", Role::Auditor, &[]);
    let compliance = token_for(&onesec, "dpo", Role::ComplianceOfficer, &[]);
    let mtl = token_for(&onesec, "mtl-soc", Role::SocAnalyst, &["MTL"]);
    let edi = token_for(&onesec, "edi-soc", Role::SocAnalyst, &["EDI"]);
    let comment = json!({"comment": "seen"});
    let full = json!({"comment": "seen", "state": "acknowledged", "team": "it_soc", "priority": 2});
    for path in ["ack", "assign", "classify", "state", "comment"] {
        assert_eq!(post(path, full.clone(), &auditor), 403, "auditor {path}");
        assert_eq!(post(path, full.clone(), &mtl), 404, "other site {path}");
    }
    assert_eq!(
        post("ack", comment.clone(), &compliance),
        403,
        "compliance reads, does not ack"
    );
    assert_eq!(
        post("comment", comment.clone(), &compliance),
        201,
        "but comments"
    );
    assert_eq!(post("ack", comment.clone(), &edi), 200);
    // Casework: merge, split and attach need work_incidents and sight of the site; the
    // context needs read_events, the export and the report read_exports.
    let casework = json!({"into": id, "alerts": ["x"], "event_id": 1, "comment": "seen"});
    for path in ["merge", "split", "evidence"] {
        assert_eq!(
            post(path, casework.clone(), &auditor),
            403,
            "auditor {path}"
        );
        assert_eq!(
            post(path, casework.clone(), &compliance),
            403,
            "compliance {path}"
        );
        assert_eq!(post(path, casework.clone(), &mtl), 404, "other site {path}");
    }
    let manager = token_for(&onesec, "boss", Role::Manager, &[]);
    let get = |path: &str, token: &str| {
        let path = format!("/api/v1/incidents/{id}/{path}");
        onesec.request_as(Method::GET, &path, Some(token)).status
    };
    for path in ["context", "export", "report", "evidence"] {
        assert_eq!(get(path, &mtl), 404, "other site {path}");
    }
    assert_eq!(
        get("context", &compliance),
        403,
        "compliance reads no events"
    );
    assert_eq!(get("export", &manager), 403, "managers do not export");
    assert_eq!(get("report", &manager), 403);
    assert_eq!(get("evidence", &manager), 200, "but read the evidence list");
    assert_eq!(get("export", &auditor), 200, "auditors export");
    assert_eq!(get("report", &compliance), 200);
    assert_eq!(get("context", &edi), 200);
    let leaves = std::fs::read(tmp.path().join("data/audit/leaves.bin")).unwrap();
    let text = String::from_utf8_lossy(&leaves);
    assert!(text.contains("incident.comment") && text.contains("dpo") && text.contains("edi-soc"));
}
