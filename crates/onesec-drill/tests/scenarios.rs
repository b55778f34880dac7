//! Every shipped scenario (`scenarios/` at the repository root) runs through the real pipeline
//! as fast as possible and meets its expectations: detections in time, the right team, the
//! acknowledgement and containment by its scripted trainees, no false positive, everything
//! marked as exercise and no action performed.

use onesec_drill::{RunOptions, Scenario, run, score};
use std::path::{Path, PathBuf};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn run_scenario(file: &str) {
    let path = scenarios_dir().join(file);
    let checked = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let data = tempfile::tempdir().unwrap();
    let record = run(&checked, &RunOptions::new(data.path().join("data"))).unwrap();
    let score = score(&checked, &record);
    if std::env::var_os("DRILL_SHOW").is_some() {
        eprintln!("{}", serde_json::to_string_pretty(&score).unwrap());
    }
    assert!(
        score.passed,
        "{file} did not pass:\n{}",
        serde_json::to_string_pretty(&score).unwrap()
    );
    assert!(record.background_events > 0 || checked.scenario.background.is_none());
    assert_eq!(record.unmarked_events, 0);
    assert!(!record.incidents.is_empty());
}

#[test]
fn vpn_abroad_while_badged_in() {
    run_scenario("vpn-abroad-while-badged-in.yaml");
}

#[test]
fn cloned_badge_rogue_device() {
    run_scenario("cloned-badge-rogue-device.yaml");
}

#[test]
fn usb_drop_after_tailgating() {
    run_scenario("usb-drop-after-tailgating.yaml");
}

#[test]
fn insider_after_hours_exfiltration() {
    run_scenario("insider-after-hours-exfiltration.yaml");
}

#[test]
fn camera_default_password_pivot() {
    run_scenario("camera-default-password-pivot.yaml");
}

#[test]
fn acs_unlock_and_log_wipe() {
    run_scenario("acs-unlock-and-log-wipe.yaml");
}

#[test]
fn intrusion_during_ransomware() {
    run_scenario("intrusion-during-ransomware.yaml");
}

#[test]
fn duress_and_lockout_spree() {
    run_scenario("duress-and-lockout-spree.yaml");
}
