//! Device hygiene end to end: `onesec devices check` / `list` offline on a small estate
//! (`tests/data/hygiene`: inventory, a KEV-format catalogue, advisories, policy, flows), and the
//! same directory served by `GET /api/v1/devices` with per-site scope.

mod common;

use common::{Onesec, Options, cli};
use onesec_auth::Role;
use reqwest::Method;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hygiene")
        .join(name)
}

/// `(device, check, severity)` of every finding in a `devices check --json` answer.
fn triples(findings: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = findings
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("device"), s("check"), s("severity"))
        })
        .collect();
    out.sort();
    out
}

fn t(device: &str, check: &str, severity: &str) -> (String, String, String) {
    (device.into(), check.into(), severity.into())
}

#[test]
fn check_finds_each_problem_of_the_estate_offline() {
    let tmp = tempfile::tempdir().unwrap();
    // the inventory plus one bad row, which is reported and does not hide the others
    let mut inventory = std::fs::read_to_string(data("directory/devices.csv")).unwrap();
    inventory.push_str(
        "CAM-BAD,camera,,10.10.50.300,,PAR,PAR-LOBBY,Axis,M3086-V,10.12.153,,50,https,managed,,\n",
    );
    let inventory_path = tmp.path().join("inventory.csv");
    std::fs::write(&inventory_path, &inventory).unwrap();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["devices".into(), "check".into(), "--inventory".into()];
        v.push(inventory_path.display().to_string());
        for (flag, file) in [
            ("--kev", "kev.json"),
            ("--advisories", "advisories.toml"),
            ("--policy", "policy.toml"),
            ("--flows", "flows.csv"),
        ] {
            v.push(flag.into());
            v.push(data(file).display().to_string());
        }
        v.extend(["--now".into(), "2026-01-01T00:00:00Z".into()]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let out = cli(&args(&["--json"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("inventory.csv:10:4: column `ip`: invalid value `10.10.50.300`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("flows.csv:8:5: column `dst_port`"),
        "{stderr}"
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        triples(&body["findings"]),
        [
            t("CAM-DAHUA", "CONN-UNEXPECTED", "medium"),
            t("CAM-DAHUA", "CRED-DEFAULT", "critical"),
            t("CAM-DAHUA", "EXP-RTSP", "medium"),
            t("CAM-DAHUA", "LIVE-SILENT", "medium"),
            t("CAM-DAHUA", "VULN-KEV", "high"),
            t("CAM-HIK", "CONN-UNEXPECTED", "high"),
            t("CAM-HIK", "CRED-UNKNOWN", "medium"),
            t("CAM-HIK", "EXP-HTTP", "high"),
            t("CAM-HIK", "EXP-RTSP", "medium"),
            t("CAM-HIK", "VULN-ADVISORY", "critical"),
            t("CTL-PAR-01", "CRED-NEVER-ROTATED", "medium"),
            t("CTL-PAR-01", "EXP-TELNET", "high"),
            t("CTL-PAR-01", "SEG-OUTSIDE", "high"),
            t("NVR-LYO", "EXP-HTTP", "high"),
            t("NVR-LYO", "EXP-NVR-NOAUTH", "critical"),
            t("NVR-LYO", "VULN-KEV", "high"),
            t("RDR-PAR-09", "EXP-OSDP-DEFAULT-KEY", "high"),
        ]
    );
    let findings = body["findings"].as_array().unwrap();
    let find = |device: &str, check: &str| {
        findings
            .iter()
            .find(|f| f["device"] == device && f["check"] == check)
            .unwrap_or_else(|| panic!("{device} {check}"))
    };
    let hik = find("CAM-HIK", "VULN-ADVISORY");
    assert_eq!(hik["cve"], "CVE-2021-36260");
    assert!(
        hik["evidence"]
            .as_str()
            .unwrap()
            .contains("fixed in 5.5.800")
    );
    assert_eq!(hik["controls"][0]["id"], "A.8.8");
    let internet = find("CAM-HIK", "CONN-UNEXPECTED");
    assert!(
        internet["title"]
            .as_str()
            .unwrap()
            .contains("45.33.32.156:443/tcp (internet)")
    );
    assert!(
        internet["evidence"]
            .as_str()
            .unwrap()
            .starts_with("2 flow(s)")
    );
    assert_eq!(
        find("CTL-PAR-01", "SEG-OUTSIDE")["controls"][0]["id"],
        "A.8.22"
    );
    // the Dahua camera was seen in a flow at 23:11, not only at its inventory time 20:00
    assert!(
        find("CAM-DAHUA", "LIVE-SILENT")["evidence"]
            .as_str()
            .unwrap()
            .contains("2025-12-31T23:11:00Z, 49m ago")
    );
    let sites = body["posture"]["sites"].as_array().unwrap();
    let par = sites.iter().find(|s| s["id"] == "PAR").unwrap();
    assert_eq!(par["devices"], 4);
    let axis = body["posture"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device"] == "CAM-AXIS")
        .unwrap();
    assert_eq!(
        axis["score"], 100,
        "fixed firmware, rotated login, TLS only"
    );

    let failing = cli(&args(&["--fail-on", "critical"]));
    assert_eq!(failing.status.code(), Some(1));
    let text = String::from_utf8_lossy(&failing.stdout);
    assert!(text.contains("CRITICAL CAM-HIK"), "{text}");
    assert!(text.contains("controls: A.8.8"), "{text}");
    let only_osdp = cli(&args(&[
        "--finding",
        "EXP-OSDP-DEFAULT-KEY",
        "--fail-on",
        "critical",
    ]));
    assert!(
        only_osdp.status.success(),
        "the filter leaves no critical finding"
    );
}

#[test]
fn list_filters_by_site_kind_and_finding() {
    let ids = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["devices", "list", "--directory"];
        let dir = data("directory").display().to_string();
        let kev = data("kev.json").display().to_string();
        args.push(&dir);
        args.extend(["--kev", &kev, "--now", "none", "--json"]);
        args.extend(extra);
        let out = cli(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let body: Value = serde_json::from_slice(&out.stdout).unwrap();
        body.as_array()
            .unwrap()
            .iter()
            .map(|r| r["device"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&[]).len(), 6);
    assert_eq!(ids(&["--site", "LYO"]), ["CAM-DAHUA", "NVR-LYO"]);
    assert_eq!(ids(&["--site", "LYO", "--kind", "camera"]), ["CAM-DAHUA"]);
    assert_eq!(
        ids(&["--finding", "VULN-KEV"]),
        ["CAM-HIK", "CAM-DAHUA", "NVR-LYO"]
    );
    let out = cli(&["devices", "list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--inventory"));
}

#[test]
fn the_api_serves_devices_with_findings_and_site_scope() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("onesec.toml");
    let line = |key: &str, file: &str| format!("{key} = {:?}\n", data(file).display().to_string());
    let text = format!(
        "[hygiene]\n{}{}{}",
        line("kev", "kev.json"),
        format_args!(
            "advisories = [{:?}]\n",
            data("advisories.toml").display().to_string()
        ),
        line("policy", "policy.toml"),
    );
    std::fs::write(&config, text).unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        directory: Some(data("directory")),
        config: Some(config),
        ..Options::default()
    });
    let all = onesec.get_json("/api/v1/devices");
    assert_eq!(all.as_array().unwrap().len(), 6);
    let vulnerable = onesec.get_json("/api/v1/devices?finding=VULN");
    let ids: Vec<&str> = vulnerable
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["device"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["CAM-HIK", "CAM-DAHUA", "NVR-LYO"]);
    let hik = onesec.get_json("/api/v1/devices/cam-hik");
    assert_eq!(hik["device"]["vendor_key"], "hikvision");
    let checks: Vec<&str> = hik["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert!(
        checks.contains(&"VULN-ADVISORY") && checks.contains(&"EXP-HTTP"),
        "{checks:?}"
    );
    assert!(hik["score"].as_u64().unwrap() < 50);
    assert_eq!(onesec.get("/api/v1/devices/NO-SUCH").status, 404);

    let lyo = onesec.issue_token("lyo-guard", Role::PhysicalOperator.as_str(), &["LYO"]);
    let seen = |path: &str| onesec.request_as(Method::GET, path, Some(&lyo));
    let mine = seen("/api/v1/devices").body;
    let sites: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["device"]["site"].as_str().unwrap())
        .collect();
    assert_eq!(sites, ["LYO", "LYO"]);
    assert_eq!(seen("/api/v1/devices?site=PAR").status, 403);
    assert_eq!(seen("/api/v1/devices/CAM-HIK").status, 404);
    assert_eq!(seen("/api/v1/devices/CAM-DAHUA").status, 200);
    let manager = onesec.issue_token("boss", Role::Manager.as_str(), &[]);
    assert_eq!(
        onesec
            .request_as(Method::GET, "/api/v1/devices", Some(&manager))
            .status,
        403
    );
}

#[test]
fn the_api_judges_liveness_against_the_devices_own_events() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("onesec.toml");
    let policy = data("policy.toml").display().to_string();
    std::fs::write(&config, format!("[hygiene]\npolicy = {policy:?}\n")).unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        directory: Some(data("directory")),
        config: Some(config),
        ..Options::default()
    });
    // The controller reports a day after the inventory's last-seen times; the cameras stay
    // silent.
    let door = r#"{"topic": "acme/ctl-par-01/onvif-ej/Door/State/DoorMode/&PAR-D-1", "payload": {"UtcTime": "2026-01-02T00:00:00Z", "PropertyOperation": "Changed", "Source": {"DoorToken": "PAR-D-1"}, "Data": {"State": "Locked"}}}"#;
    let answer = onesec.post_events("onvif-ej", door, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    onesec.wait_for_detection(1);
    let checks = |id: &str| -> Vec<String> {
        onesec.get_json(&format!("/api/v1/devices/{id}"))["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f["check"].as_str().unwrap(),
                    f["severity"].as_str().unwrap()
                )
            })
            .collect()
    };
    let axis = checks("CAM-AXIS");
    assert!(axis.contains(&"LIVE-SILENT high".to_string()), "{axis:?}");
    let controller = checks("CTL-PAR-01");
    assert!(
        !controller.iter().any(|c| c.starts_with("LIVE-")),
        "the controller just reported: {controller:?}"
    );
    let seen = onesec.get_json("/api/v1/devices/seen");
    assert_eq!(seen[0]["device"], "CTL-PAR-01", "{seen}");
    assert_eq!(seen[0]["known"], true);
}

#[test]
fn the_posture_of_each_site_is_kept_per_day() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        directory: Some(data("directory")),
        ..Options::default()
    });
    let trend = onesec.get_json("/api/v1/devices/trend?site=PAR");
    let days = trend["days"].as_array().unwrap();
    assert_eq!(days.len(), 1, "today's point: {trend}");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(days[0]["day"], today.as_str());
    assert_eq!(days[0]["devices"], 4, "PAR has four devices: {trend}");
    assert!(days[0]["score"].as_f64().is_some_and(|s| s <= 100.0));
    let zone = onesec.get_json("/api/v1/devices/trend?zone=PAR-SRV");
    assert_eq!(zone["days"][0]["devices"], 2, "{zone}");
    assert_eq!(onesec.get("/api/v1/devices/trend").status, 400);
    assert_eq!(
        onesec
            .get("/api/v1/devices/trend?site=PAR&device=CAM-AXIS")
            .status,
        400
    );
    // A device's own trend: its score today, the same as its posture now.
    let posture = onesec.get_json("/api/v1/devices/CAM-AXIS");
    let device = onesec.get_json("/api/v1/devices/trend?device=CAM-AXIS");
    assert_eq!(device["scope"], "device");
    assert_eq!(device["days"].as_array().unwrap().len(), 1, "{device}");
    assert_eq!(device["days"][0]["day"], today.as_str());
    assert_eq!(
        device["days"][0]["score"].as_f64(),
        posture["score"].as_f64(),
        "{device} vs {posture}"
    );
    let lyo = onesec.issue_token("lyo-guard", Role::PhysicalOperator.as_str(), &["LYO"]);
    let answer = onesec.request_as(Method::GET, "/api/v1/devices/trend?site=PAR", Some(&lyo));
    assert_eq!(answer.status, 403);
    let answer = onesec.request_as(
        Method::GET,
        "/api/v1/devices/trend?device=CAM-AXIS",
        Some(&lyo),
    );
    assert_eq!(answer.status, 403, "CAM-AXIS is in PAR");
}

/// Serves `body` over HTTP once, on a free local port; returns the URL.
fn serve_once(body: Vec<u8>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/kev.json", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    url
}

/// The test catalogue, and `dir/kev.json` holding an older one that does not list the
/// Hikvision CVE (what the service starts with).
fn older_kev(dir: &std::path::Path) -> (Value, std::path::PathBuf) {
    let full: Value = serde_json::from_slice(&std::fs::read(data("kev.json")).unwrap()).unwrap();
    let mut old = full.clone();
    old["vulnerabilities"]
        .as_array_mut()
        .unwrap()
        .retain(|v| v["vendorProject"] != "Hikvision");
    let kev = dir.join("kev.json");
    std::fs::write(&kev, old.to_string()).unwrap();
    (full, kev)
}

#[test]
fn a_refreshed_kev_catalogue_is_checked_then_used_by_the_running_service() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, kev) = older_kev(tmp.path());
    let config = tmp.path().join("onesec.toml");
    std::fs::write(
        &config,
        format!("[hygiene]\nkev = {:?}\n", kev.display().to_string()),
    )
    .unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        directory: Some(data("directory")),
        config: Some(config),
        ..Options::default()
    });
    let kev_checks = |onesec: &Onesec| -> Vec<String> {
        onesec.get_json("/api/v1/devices/CAM-HIK")["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"] == "VULN-KEV")
            .map(|f| f["evidence"].to_string())
            .collect()
    };
    assert!(kev_checks(&onesec).is_empty());

    let out_path = kev.display().to_string();
    let url = serve_once(std::fs::read(data("kev.json")).unwrap());
    let out = cli(&["devices", "kev-update", "--url", &url, "--out", &out_path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 vulnerabilities"));
    let found = kev_checks(&onesec);
    assert!(
        found.iter().any(|e| e.contains("Hikvision")),
        "the running service uses the new catalogue: {found:?}"
    );

    // Something that is not a catalogue is refused and the file stays as it was.
    let garbage = tmp.path().join("garbage.json");
    std::fs::write(&garbage, "<html>maintenance</html>").unwrap();
    let before = std::fs::read(&kev).unwrap();
    let out = cli(&[
        "devices",
        "kev-update",
        "--from",
        &garbage.display().to_string(),
        "--out",
        &out_path,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a KEV catalogue"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&kev).unwrap(), before);
}

#[test]
fn the_service_refreshes_the_kev_catalogue_from_its_url() {
    let tmp = tempfile::tempdir().unwrap();
    let (full, kev) = older_kev(tmp.path());
    // The first refresh runs at start and fetches the full catalogue.
    let url = serve_once(full.to_string().into_bytes());
    let config = tmp.path().join("onesec.toml");
    std::fs::write(
        &config,
        format!(
            "[hygiene]\nkev = {:?}\nkev_url = {url:?}\nkev_refresh_hours = 24\n",
            kev.display().to_string()
        ),
    )
    .unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        directory: Some(data("directory")),
        config: Some(config),
        ..Options::default()
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let refreshed = loop {
        let text = std::fs::read_to_string(&kev).unwrap();
        if text.contains("Hikvision") || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        refreshed.contains("Hikvision"),
        "the file was not refreshed"
    );
    let findings = onesec.get_json("/api/v1/devices/CAM-HIK")["findings"].to_string();
    assert!(
        findings.contains("VULN-KEV") && findings.contains("Hikvision"),
        "the running service uses the refreshed catalogue: {findings}"
    );
}
