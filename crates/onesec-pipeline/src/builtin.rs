//! The converged rule pack, built into the binary so that `onesec up` works from any folder.
//!
//! The files live in `rules/converged/` at the workspace root; a test checks that every file
//! there is listed here.

/// `(file name, YAML text)` of every built-in rule.
pub const BUILTIN_RULES: &[(&str, &str)] = &[
    (
        "absent_account_used.yml",
        include_str!("../../../rules/converged/absent_account_used.yml"),
    ),
    (
        "absent_badge_used.yml",
        include_str!("../../../rules/converged/absent_badge_used.yml"),
    ),
    (
        "account_lockout_spree.yml",
        include_str!("../../../rules/converged/account_lockout_spree.yml"),
    ),
    (
        "bb_access_denied.yml",
        include_str!("../../../rules/converged/bb_access_denied.yml"),
    ),
    (
        "bb_access_granted.yml",
        include_str!("../../../rules/converged/bb_access_granted.yml"),
    ),
    (
        "bb_account_locked.yml",
        include_str!("../../../rules/converged/bb_account_locked.yml"),
    ),
    (
        "bb_badge_in.yml",
        include_str!("../../../rules/converged/bb_badge_in.yml"),
    ),
    (
        "bb_badge_out.yml",
        include_str!("../../../rules/converged/bb_badge_out.yml"),
    ),
    (
        "bb_console_login.yml",
        include_str!("../../../rules/converged/bb_console_login.yml"),
    ),
    (
        "bb_device_auth_failure.yml",
        include_str!("../../../rules/converged/bb_device_auth_failure.yml"),
    ),
    (
        "bb_device_brute_force.yml",
        include_str!("../../../rules/converged/bb_device_brute_force.yml"),
    ),
    (
        "bb_device_change.yml",
        include_str!("../../../rules/converged/bb_device_change.yml"),
    ),
    (
        "bb_host_access.yml",
        include_str!("../../../rules/converged/bb_host_access.yml"),
    ),
    (
        "bb_network_auth_failure.yml",
        include_str!("../../../rules/converged/bb_network_auth_failure.yml"),
    ),
    (
        "bb_remote_login.yml",
        include_str!("../../../rules/converged/bb_remote_login.yml"),
    ),
    (
        "bb_zone_access.yml",
        include_str!("../../../rules/converged/bb_zone_access.yml"),
    ),
    (
        "camera_tamper.yml",
        include_str!("../../../rules/converged/camera_tamper.yml"),
    ),
    (
        "camera_tamper_then_access.yml",
        include_str!("../../../rules/converged/camera_tamper_then_access.yml"),
    ),
    (
        "console_login_without_badge.yml",
        include_str!("../../../rules/converged/console_login_without_badge.yml"),
    ),
    (
        "denials_then_grant.yml",
        include_str!("../../../rules/converged/denials_then_grant.yml"),
    ),
    (
        "device_brute_force.yml",
        include_str!("../../../rules/converged/device_brute_force.yml"),
    ),
    (
        "device_brute_force_then_change.yml",
        include_str!("../../../rules/converged/device_brute_force_then_change.yml"),
    ),
    (
        "device_forbidden_connection.yml",
        include_str!("../../../rules/converged/device_forbidden_connection.yml"),
    ),
    (
        "device_new_listener.yml",
        include_str!("../../../rules/converged/device_new_listener.yml"),
    ),
    (
        "device_new_peer.yml",
        include_str!("../../../rules/converged/device_new_peer.yml"),
    ),
    (
        "door_alarm_restricted.yml",
        include_str!("../../../rules/converged/door_alarm_restricted.yml"),
    ),
    (
        "door_forced_open.yml",
        include_str!("../../../rules/converged/door_forced_open.yml"),
    ),
    (
        "door_held_open.yml",
        include_str!("../../../rules/converged/door_held_open.yml"),
    ),
    (
        "duress.yml",
        include_str!("../../../rules/converged/duress.yml"),
    ),
    (
        "intrusion_alarm.yml",
        include_str!("../../../rules/converged/intrusion_alarm.yml"),
    ),
    (
        "large_upload.yml",
        include_str!("../../../rules/converged/large_upload.yml"),
    ),
    (
        "new_network_device.yml",
        include_str!("../../../rules/converged/new_network_device.yml"),
    ),
    (
        "physical_and_cyber_same_site.yml",
        include_str!("../../../rules/converged/physical_and_cyber_same_site.yml"),
    ),
    (
        "remote_login_while_on_site.yml",
        include_str!("../../../rules/converged/remote_login_while_on_site.yml"),
    ),
    (
        "repeated_denials.yml",
        include_str!("../../../rules/converged/repeated_denials.yml"),
    ),
    (
        "restricted_door_then_host_access.yml",
        include_str!("../../../rules/converged/restricted_door_then_host_access.yml"),
    ),
    (
        "security_log_cleared.yml",
        include_str!("../../../rules/converged/security_log_cleared.yml"),
    ),
    (
        "ssh_brute_force.yml",
        include_str!("../../../rules/converged/ssh_brute_force.yml"),
    ),
    (
        "tailgate_or_antipassback.yml",
        include_str!("../../../rules/converged/tailgate_or_antipassback.yml"),
    ),
    (
        "terminated_account_used.yml",
        include_str!("../../../rules/converged/terminated_account_used.yml"),
    ),
    (
        "terminated_badge_used.yml",
        include_str!("../../../rules/converged/terminated_badge_used.yml"),
    ),
    (
        "usb_storage_on_server.yml",
        include_str!("../../../rules/converged/usb_storage_on_server.yml"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_file_is_built_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/converged");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yml"))
            .collect();
        on_disk.sort();
        let built_in: Vec<String> = BUILTIN_RULES.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(
            on_disk, built_in,
            "rules/converged and BUILTIN_RULES differ: update src/builtin.rs"
        );
    }
}
