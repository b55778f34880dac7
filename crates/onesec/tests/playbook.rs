//! One incident, one playbook, who does what, tried as a control room would on the demo: the
//! hybrid incident's run starts when detection opens it (dry-run connector), its manual steps
//! become tasks for the teams, deciding one advances the run; the incident is worked from
//! acknowledgement to closure through the API and the CLI, every human action lands in the
//! history and the audit log, and a restart keeps the case, the run and its tasks.

mod common;

use common::{Onesec, Options};
use onesec_auth::Role;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

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

/// Open tasks of one team for one incident.
fn open_tasks(onesec: &Onesec, team: &str, incident: &str, bearer: Option<&str>) -> Vec<Value> {
    let path = format!("/api/v1/tasks?team={team}");
    let answer = onesec.request_as(Method::GET, &path, bearer);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let all = answer.body.as_array().cloned().unwrap_or_default();
    all.into_iter()
        .filter(|t| t["incident_id"] == incident)
        .collect()
}

/// The run detection started for the incident (it starts right after the incident is stored,
/// on the response worker).
fn started_run(onesec: &Onesec, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = onesec.get(&format!("/api/v1/incidents/{id}/playbook"));
        if answer.status == 200 {
            return answer.body;
        }
        assert_eq!(answer.status, 404, "{}", answer.body);
        assert!(Instant::now() < deadline, "no run started: {}", answer.body);
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hybrid_id(onesec: &Onesec) -> String {
    let incidents = onesec.get_json("/api/v1/incidents");
    let hybrid = incidents
        .as_array()
        .and_then(|all| all.iter().find(|i| i["domain"] == "hybrid"))
        .unwrap_or_else(|| panic!("the demo opens a hybrid incident: {incidents}"));
    hybrid["id"].as_str().unwrap().to_string()
}

fn demo() -> (tempfile::TempDir, Onesec, String) {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start_demo(&tmp.path().join("data"));
    let id = hybrid_id(&onesec);
    (tmp, onesec, id)
}

fn audit_text(tmp: &tempfile::TempDir) -> String {
    let leaves = std::fs::read(tmp.path().join("data/audit/leaves.bin")).unwrap();
    String::from_utf8_lossy(&leaves).into_owned()
}

#[test]
fn the_demo_incident_runs_its_playbook_and_teams_decide_tasks() {
    let (tmp, onesec, id) = demo();
    let admin = onesec.token();
    let run = started_run(&onesec, &id);
    assert_eq!(run["incident_id"], id.as_str());
    assert_eq!(run["status"], "running", "{run}");
    assert_eq!(run["connector"], "dry-run");
    assert!(!run["dry_run_actions"].as_array().unwrap().is_empty());
    assert_eq!(run["actions"][0]["outcome"], "simulated", "{run}");
    assert_eq!(run["actions"][0]["by"], "onesec");
    assert!(!run["steps"].as_array().unwrap().is_empty());
    assert!(!run["log"].as_array().unwrap().is_empty());

    let management = open_tasks(&onesec, "management", &id, admin);
    assert_eq!(management.len(), 1, "containment needs management: {run}");
    assert!(open_tasks(&onesec, "it_soc", &id, admin).is_empty());
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
    let containment: Vec<&Value> = after["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["by"] == "admin")
        .collect();
    assert!(!containment.is_empty(), "containment ran on the approval");
    let again = post_as(&onesec, &approve, &json!({"comment": "twice"}), admin);
    assert_eq!(again.0, 409);

    assert!(!open_tasks(&onesec, "it_soc", &id, admin).is_empty());
    let guard_tasks = open_tasks(&onesec, "physical_security", &id, Some(&physical));
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

    let text = audit_text(&tmp);
    for action in [
        "playbook.start",
        "playbook.step",
        "task.approve",
        "task.reject",
        "response.action",
        "incident.route",
    ] {
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
    assert!([200, 201].contains(&started.0), "{}", started.1);
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
    let ack = post_as(
        &onesec,
        &format!("/api/v1/incidents/{id}/ack"),
        &json!({}),
        Some(&mtl),
    );
    assert_eq!(ack.0, 404, "another site's incident is not there for them");
    assert_eq!(open_tasks(&onesec, "", &id, admin).len(), 1);

    assert_eq!(
        onesec.get("/api/v1/incidents/inc-nope/playbook").status,
        404
    );
    for task in ["inc-nope:0", "garbage", &format!("{id}:99")] {
        let path = format!("/api/v1/tasks/{task}/approve");
        assert_eq!(post_as(&onesec, &path, &json!({}), admin).0, 404, "{task}");
    }
    assert_eq!(onesec.get("/api/v1/tasks?team=facilities").status, 400);
    let unknown = post_as(
        &onesec,
        &format!("/api/v1/incidents/{id}/playbook"),
        &json!({}),
        admin,
    );
    assert_eq!(unknown.0, 200, "a second start answers with the run it has");
}

#[test]
fn an_incident_is_worked_from_acknowledgement_to_closure_and_a_restart_keeps_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut onesec = Onesec::start_demo(&data);
    let id = hybrid_id(&onesec);
    let admin = onesec.token().map(str::to_string);
    let admin = admin.as_deref();
    let run_before = started_run(&onesec, &id);
    let post = |path: &str, body: Value| {
        post_as(
            &onesec,
            &format!("/api/v1/incidents/{id}/{path}"),
            &body,
            admin,
        )
    };

    let shown = onesec.get_json(&format!("/api/v1/incidents/{id}"));
    let case = &shown["case"];
    assert_eq!(case["owner_team"], "it_soc", "{shown}");
    assert!(case["ack_due_ms"].as_i64().unwrap() > case["opened_ms"].as_i64().unwrap());
    assert!(case["resolve_due_ms"].as_i64().unwrap() > case["ack_due_ms"].as_i64().unwrap());
    assert_eq!(shown["history"][0]["action"], "opened");

    let (status, acked) = post("ack", json!({"comment": "on it"}));
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["state"], "acknowledged");
    assert_eq!(acked["case"]["assignee"], "admin");
    assert_eq!(post("ack", json!({})).0, 409, "already acknowledged");
    let (status, assigned) = post(
        "assign",
        json!({"team": "physical_security", "assignee": "gus", "comment": "door first"}),
    );
    assert_eq!(status, 200, "{assigned}");
    assert_eq!(assigned["owner_team"], "physical_security");
    assert_eq!(post("assign", json!({"team": "facilities"})).0, 400);
    let (status, classified) = post("classify", json!({"priority": 2, "category": "intrusion"}));
    assert_eq!(status, 200, "{classified}");
    assert_eq!(classified["priority"], 2);
    assert_eq!(post("classify", json!({"priority": 9})).0, 400);
    assert_eq!(post("classify", json!({"category": "drill"})).0, 400);
    assert_eq!(
        post("comment", json!({"comment": "guard on the way"})).0,
        201
    );
    assert_eq!(post("comment", json!({"comment": ""})).0, 400);
    for state in ["in_progress", "on_hold", "in_progress", "resolved"] {
        let (status, body) = post("state", json!({"state": state, "comment": "step"}));
        assert_eq!(status, 200, "{state}: {body}");
        assert_eq!(body["state"], state);
    }
    assert_eq!(post("state", json!({"state": "acknowledged"})).0, 409);
    assert_eq!(
        post("state", json!({"state": "merged"})).0,
        400,
        "people do not merge by state"
    );
    assert_eq!(post("state", json!({"state": "paused"})).0, 400);

    // The CLI does the same through the API.
    let token = admin.unwrap();
    let cli = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--server", &onesec.base]);
        let out = common::cli_as(&all, Some(token));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), stdout, stderr)
    };
    let (ok, out, err) = cli(&["incident", "comment", &id, "closing after the review"]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(&["incident", "state", &id, "closed", "--comment", "done"]);
    assert!(ok && out.contains("closed"), "{out}{err}");
    let (ok, _, err) = cli(&["incident", "state", &id, "in_progress"]);
    assert!(!ok && err.contains("409"), "closed stays closed: {err}");
    let (ok, out, err) = cli(&["incident", &id]);
    assert!(
        ok && out.contains("history:") && out.contains("physical_security"),
        "{out}{err}"
    );
    let (ok, out, err) = cli(&["tasks", "--team", "management"]);
    assert!(ok && out.contains("task(s)"), "{out}{err}");
    let (ok, _, err) = cli(&["tasks", "--team", "facilities"]);
    assert!(!ok && err.contains("unknown team"), "{err}");

    let history = onesec.get_json(&format!("/api/v1/incidents/{id}"))["history"].clone();
    let steps: Vec<(String, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap().to_string(),
                h["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        "state",
        "assign",
        "assign_team",
        "priority",
        "category",
        "comment",
    ] {
        assert!(
            steps.iter().any(|(a, who)| a == expected && who == "admin"),
            "{expected} by admin in {steps:?}"
        );
    }
    let text = audit_text(&tmp);
    for action in [
        "incident.state",
        "incident.assign",
        "incident.classify",
        "incident.comment",
    ] {
        assert!(text.contains(action), "{action} is audited");
    }

    // Closing the incident cancelled its run: nothing more of it runs.
    let run_closed = onesec.get_json(&format!("/api/v1/incidents/{id}/playbook"));
    assert_eq!(run_closed["status"], "cancelled", "{run_closed}");

    // A restart on the same data: detection replays the journal; the human state, the case,
    // the history and the run with its tasks are all still there.
    onesec.kill();
    let onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        demo: false,
        ..Options::default()
    });
    onesec.wait_for_detection(1);
    let shown = onesec.get_json(&format!("/api/v1/incidents/{id}"));
    assert_eq!(
        shown["incident"]["state"], "closed",
        "detection did not reopen it"
    );
    assert_eq!(shown["case"]["owner_team"], "physical_security");
    assert_eq!(
        shown["history"].as_array().unwrap().len(),
        history.as_array().unwrap().len()
    );
    let run_after = onesec.get_json(&format!("/api/v1/incidents/{id}/playbook"));
    assert_eq!(run_after["playbook_id"], run_before["playbook_id"]);
    assert_eq!(run_after["tasks"][0]["id"], run_before["tasks"][0]["id"]);
    assert_eq!(run_after["status"], "cancelled");
    assert_eq!(
        run_after["log"].as_array().unwrap().len(),
        run_closed["log"].as_array().unwrap().len()
    );
}
