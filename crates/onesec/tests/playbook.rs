//! One incident, one playbook: the demo's hybrid incident gets the built-in hybrid-intrusion
//! run (dry-run connector), its manual steps become tasks for the teams, deciding one advances
//! the run, site scope and team ownership hold, unknown ids are 404.

mod common;

use common::Onesec;
use onesec_auth::Role;
use reqwest::Method;
use serde_json::{Value, json};

fn token_for(onesec: &Onesec, name: &str, role: Role, sites: &[&str]) -> String {
    onesec.issue_token(name, role.as_str(), sites)
}

/// `POST base+path` with a JSON body as `bearer`: (status, body).
fn post_as(onesec: &Onesec, path: &str, body: &Value, bearer: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::blocking::Client::new()
        .post(format!("{}{path}", onesec.base))
        .json(body);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    let response = request.send().expect("server answers");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn open_tasks(onesec: &Onesec, team: &str, bearer: Option<&str>) -> Vec<Value> {
    let path = format!("/api/v1/tasks?team={team}");
    let answer = onesec.request_as(Method::GET, &path, bearer);
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body.as_array().cloned().unwrap_or_default()
}

fn demo() -> (tempfile::TempDir, Onesec, String) {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start_demo(&tmp.path().join("data"));
    let incidents = onesec.get_json("/api/v1/incidents");
    let hybrid = incidents
        .as_array()
        .and_then(|all| all.iter().find(|i| i["domain"] == "hybrid"))
        .unwrap_or_else(|| panic!("the demo opens a hybrid incident: {incidents}"));
    let id = hybrid["id"].as_str().unwrap().to_string();
    (tmp, onesec, id)
}

#[test]
fn the_demo_incident_runs_its_playbook_and_teams_decide_tasks() {
    let (tmp, onesec, id) = demo();
    let admin = onesec.token();
    let run = onesec.get_json(&format!("/api/v1/incidents/{id}/playbook"));
    assert_eq!(run["incident_id"], id.as_str());
    assert_eq!(run["status"], "running", "{run}");
    assert_eq!(run["connector"], "dry-run");
    assert!(!run["dry_run_actions"].as_array().unwrap().is_empty());
    assert!(!run["steps"].as_array().unwrap().is_empty());
    assert!(!run["log"].as_array().unwrap().is_empty());

    let management = open_tasks(&onesec, "management", admin);
    assert_eq!(management.len(), 1, "containment needs management: {run}");
    assert!(open_tasks(&onesec, "it_soc", admin).is_empty());
    let task = management[0]["id"].as_str().unwrap().to_string();

    let approve = format!("/api/v1/tasks/{task}/approve");
    let physical = token_for(&onesec, "edi-guard", Role::PhysicalOperator, &["EDI"]);
    let denied = post_as(
        &onesec,
        &approve,
        &json!({"comment": "no"}),
        Some(&physical),
    );
    assert_eq!(denied.0, 403, "a guard does not decide for management");
    let (status, after) = post_as(&onesec, &approve, &json!({"comment": "go"}), admin);
    assert_eq!(status, 200, "{after}");
    assert!(after["tasks"].as_array().unwrap().len() > 1, "{after}");
    let again = post_as(&onesec, &approve, &json!({"comment": "twice"}), admin);
    assert_eq!(again.0, 409);

    assert!(!open_tasks(&onesec, "it_soc", admin).is_empty());
    let guard_tasks = open_tasks(&onesec, "physical_security", Some(&physical));
    assert_eq!(guard_tasks.len(), 1, "the guard verifies the zone");
    let guard_task = guard_tasks[0]["id"].as_str().unwrap();
    let path = format!("/api/v1/tasks/{guard_task}/reject");
    let (status, after) = post_as(
        &onesec,
        &path,
        &json!({"comment": "locked"}),
        Some(&physical),
    );
    assert_eq!(status, 200, "{after}");

    let leaves = std::fs::read(tmp.path().join("data/audit/leaves.bin")).unwrap();
    let text = String::from_utf8_lossy(&leaves);
    for action in ["playbook.start", "task.approve", "task.reject"] {
        assert!(text.contains(action), "{action} is audited");
    }
}

#[test]
fn other_sites_see_no_tasks_and_unknown_ids_are_404() {
    let (_tmp, onesec, id) = demo();
    let admin = onesec.token();
    let started = post_as(
        &onesec,
        &format!("/api/v1/incidents/{id}/playbook"),
        &json!({}),
        admin,
    );
    assert_eq!(started.0, 200, "{}", started.1);
    let task = started.1["tasks"][0]["id"].as_str().unwrap().to_string();

    let mtl = token_for(&onesec, "mtl-guard", Role::PhysicalOperator, &["MTL"]);
    let seen = onesec.request_as(Method::GET, "/api/v1/tasks", Some(&mtl));
    assert_eq!(seen.body, json!([]));
    let playbook = onesec.request_as(
        Method::GET,
        &format!("/api/v1/incidents/{id}/playbook"),
        Some(&mtl),
    );
    assert_eq!(playbook.status, 404);
    let decide = post_as(
        &onesec,
        &format!("/api/v1/tasks/{task}/reject"),
        &json!({}),
        Some(&mtl),
    );
    assert_eq!(decide.0, 404);
    assert_eq!(open_tasks(&onesec, "", admin).len(), 1);

    assert_eq!(
        onesec.get("/api/v1/incidents/inc-nope/playbook").status,
        404
    );
    for task in ["inc-nope:0", "garbage", &format!("{id}:99")] {
        let path = format!("/api/v1/tasks/{task}/approve");
        assert_eq!(post_as(&onesec, &path, &json!({}), admin).0, 404, "{task}");
    }
    assert_eq!(onesec.get("/api/v1/tasks?team=facilities").status, 400);
}
