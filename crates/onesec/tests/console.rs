//! The web console (`docs/console.md`) on a running `onesec up --demo`, over plain HTTP: signing
//! in through the form, the session cookie and the header changes need, what each role and
//! site scope sees, and the live queue's server-sent events. The browser tests are in
//! `console-tests/` (headless Chromium).

mod common;

use common::{ADMIN, ADMIN_PASSWORD, Onesec};
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use std::io::{BufRead, BufReader};

fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in through the console's form; the `name=value` of the session cookie.
fn sign_in(onesec: &Onesec, user: &str, password: &str) -> reqwest::blocking::Response {
    no_redirects()
        .post(format!("{}/console/login", onesec.base))
        .form(&[("user", user), ("password", password)])
        .send()
        .unwrap()
}

fn session_cookie(onesec: &Onesec) -> String {
    let answer = sign_in(onesec, ADMIN, ADMIN_PASSWORD);
    assert_eq!(answer.status(), 303);
    assert_eq!(answer.headers()["location"], "/console");
    let cookie = answer.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_string()
}

fn first_incident(onesec: &Onesec) -> String {
    onesec.get_json("/api/v1/incidents")[0]["id"]
        .as_str()
        .expect("the demo opens an incident")
        .to_string()
}

#[test]
fn the_console_signs_in_with_a_cookie_and_changes_need_the_console_header() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start_demo(&tmp.path().join("data"));
    let refused = sign_in(&onesec, ADMIN, "not the password at all");
    assert_eq!(refused.status(), 401);
    assert!(refused.text().unwrap().contains("role=\"alert\""));

    let cookie = session_cookie(&onesec);
    let id = first_incident(&onesec);
    let client = no_redirects();
    let queue = client
        .get(format!("{}/console", onesec.base))
        .header(COOKIE, &cookie)
        .send()
        .unwrap();
    assert_eq!(queue.status(), 200);
    let csp = queue.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(queue.text().unwrap().contains(&id));

    let ack = format!("{}/api/v1/incidents/{id}/ack", onesec.base);
    let forged = client
        .post(&ack)
        .header(COOKIE, &cookie)
        .json(&serde_json::json!({}))
        .send()
        .unwrap();
    assert_eq!(
        forged.status(),
        401,
        "a cookie alone must not change anything"
    );
    let from_console = client
        .post(&ack)
        .header(COOKIE, &cookie)
        .header("x-onesec-console", "1")
        .json(&serde_json::json!({ "comment": "from the console" }))
        .send()
        .unwrap();
    assert_eq!(from_console.status(), 200);
    assert_eq!(
        onesec.get_json(&format!("/api/v1/incidents/{id}"))["case"]["acknowledged"][1],
        ADMIN
    );

    let anonymous = client
        .get(format!("{}/console", onesec.base))
        .send()
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.text().unwrap().contains("url=/console/login"));
    let script = client
        .get(format!("{}/console/assets/console.js", onesec.base))
        .send()
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
}

#[test]
fn each_role_and_site_scope_sees_only_what_the_api_lets_it() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start_demo(&tmp.path().join("data"));
    let id = first_incident(&onesec);
    let edi = onesec.issue_token("edi-guard", "physical_operator", &["EDI"]);
    let mtl = onesec.issue_token("mtl-guard", "physical_operator", &["MTL"]);
    let manager = onesec.issue_token("boss", "manager", &[]);
    let page = |token: &str, path: &str| onesec.request_as(reqwest::Method::GET, path, Some(token));

    let seen = page(&edi, "/console");
    assert_eq!(seen.status, 200);
    assert!(seen.body.as_str().unwrap().contains(&id));
    let plan = page(&edi, "/console/sites/EDI").body;
    assert!(plan.as_str().unwrap().contains("data-device=\"EDI-D-SRV\""));

    assert!(!page(&mtl, "/console").body.as_str().unwrap().contains(&id));
    assert_eq!(page(&mtl, &format!("/console/incidents/{id}")).status, 404);
    assert_eq!(page(&mtl, "/console/sites/EDI").status, 404);
    assert!(
        !page(&mtl, "/console/sites")
            .body
            .as_str()
            .unwrap()
            .contains("/console/sites/EDI")
    );

    let incident = page(&manager, &format!("/console/incidents/{id}"));
    assert_eq!(incident.status, 200);
    let html = incident.body.as_str().unwrap();
    assert!(
        !html.contains("data-action=\"ack\""),
        "managers do not work incidents"
    );
    assert!(
        !html.contains("Printable report"),
        "managers do not read exports"
    );
    let refused = page(&manager, "/console/sites");
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .body
            .as_str()
            .unwrap()
            .contains("lacks permission read_events")
    );
}

/// Reads SSE lines until an event of `kind` whose data contains `needle`; returns that data.
fn wait_for_event(lines: &mut impl Iterator<Item = String>, kind: &str, needle: &str) -> String {
    let mut current = String::new();
    for line in lines {
        if let Some(name) = line.strip_prefix("event: ") {
            current = name.to_string();
        } else if let Some(data) = line.strip_prefix("data: ")
            && current == kind
            && data.contains(needle)
        {
            return data.to_string();
        }
    }
    panic!("the stream ended before a {kind} event with {needle}");
}

#[test]
fn a_client_that_asks_for_no_stream_gets_the_snapshot_and_the_answer_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start_demo(&tmp.path().join("data"));
    let id = first_incident(&onesec);
    let answer = onesec.request_as(reqwest::Method::GET, "/console/live", onesec.token());
    assert_eq!(answer.status, 200);
    let text = answer.body.as_str().unwrap().to_string();
    assert!(text.starts_with("event: snapshot\n"), "{text}");
    assert!(text.contains(&id));
}

#[test]
fn the_live_queue_sends_a_snapshot_then_the_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start_demo(&tmp.path().join("data"));
    let id = first_incident(&onesec);
    let token = onesec.token().unwrap().to_string();
    let stream = Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
        .get(format!("{}/console/live", onesec.base))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .send()
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut lines = BufReader::new(stream).lines().map_while(Result::ok);
    let snapshot = wait_for_event(&mut lines, "snapshot", &id);
    let rows: serde_json::Value = serde_json::from_str(&snapshot).unwrap();
    assert_eq!(rows[0]["state"], "new");
    assert_eq!(rows[0]["domain"], "hybrid");

    let ack = onesec.request_as(
        reqwest::Method::POST,
        &format!("/api/v1/incidents/{id}/ack"),
        Some(&token),
    );
    assert_eq!(ack.status, 200, "{}", ack.body);
    let change = wait_for_event(&mut lines, "change", "acknowledged");
    let change: serde_json::Value = serde_json::from_str(&change).unwrap();
    assert_eq!(change["upsert"][0]["id"], id.as_str());
    assert_eq!(change["upsert"][0]["assignee"], ADMIN);
}
