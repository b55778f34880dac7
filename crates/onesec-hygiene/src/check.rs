//! The per-device checks: vulnerable firmware, credentials, exposure, segmentation, liveness,
//! inventory completeness. [`Knowledge`] holds what they compare against.

use crate::advisory::{Advisories, Verdict};
use crate::creds::DefaultCreds;
use crate::finding::{Finding, Severity, checks};
use crate::inventory::{CredentialState, Device};
use crate::kev::{KevCatalog, ProductMatch};
use crate::policy::{Policy, Segment};
use chrono::NaiveDate;
use std::collections::HashSet;

/// Kinds of the connected physical estate: inventory completeness and unknown credentials are
/// checked for these (IT hosts have their own management).
pub const PHYSICAL_KINDS: &[&str] = &[
    "camera",
    "ptz",
    "encoder",
    "nvr",
    "dvr",
    "vms",
    "recorder",
    "reader",
    "controller",
    "panel",
    "sensor",
    "alarm",
    "intercom",
    "lock",
];

/// Whether a kind belongs to the physical estate.
pub fn is_physical(kind: &str) -> bool {
    PHYSICAL_KINDS.contains(&kind)
}

/// Everything the checks compare devices against.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    /// CISA KEV.
    pub kev: Option<KevCatalog>,
    /// Advisories with version ranges.
    pub advisories: Advisories,
    /// Vendor default logins.
    pub creds: Option<DefaultCreds>,
    /// Segments, allow-lists, heartbeats, credential age.
    pub policy: Policy,
}

/// When the checks run: today's date (credential age) and now (liveness; `None` skips it).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Today (UTC).
    pub today: NaiveDate,
    /// Now, epoch milliseconds; liveness is checked only when given.
    pub now_ms: Option<i64>,
}

impl Clock {
    /// The wall clock.
    pub fn now() -> Clock {
        let now = chrono::Utc::now();
        Clock {
            today: now.date_naive(),
            now_ms: Some(now.timestamp_millis()),
        }
    }

    /// A fixed instant (tests, replays).
    pub fn at(ms: i64) -> Clock {
        let today = chrono::DateTime::from_timestamp_millis(ms)
            .map(|d| d.date_naive())
            .unwrap_or_default();
        Clock {
            today,
            now_ms: Some(ms),
        }
    }
}

impl Knowledge {
    /// Every finding about one device.
    pub fn check(&self, device: &Device, clock: Clock) -> Vec<Finding> {
        let mut out = Vec::new();
        self.vulnerabilities(device, &mut out);
        self.credentials(device, clock.today, &mut out);
        exposure(device, &mut out);
        self.segmentation(device, &mut out);
        if let Some(now) = clock.now_ms {
            self.liveness(device, now, &mut out);
        }
        inventory(device, &mut out);
        out
    }

    /// Every finding about every device, in device order.
    pub fn check_all(&self, devices: &[Device], clock: Clock) -> Vec<Finding> {
        devices.iter().flat_map(|d| self.check(d, clock)).collect()
    }

    fn in_kev(&self, cve: &str) -> Option<&crate::kev::KevEntry> {
        self.kev.as_ref().and_then(|k| k.entry(cve))
    }

    fn vulnerabilities(&self, device: &Device, out: &mut Vec<Finding>) {
        if device.vendor_key.is_empty() {
            return;
        }
        let firmware = device.firmware.as_deref().unwrap_or("");
        let mut settled: HashSet<String> = HashSet::new();
        for adv in self.advisories.list.iter().filter(|a| a.covers(device)) {
            let kev: Vec<&str> = adv
                .cves
                .iter()
                .filter(|c| self.in_kev(c).is_some())
                .map(String::as_str)
                .collect();
            let cve_text = if adv.cves.is_empty() {
                String::new()
            } else {
                format!(" ({})", adv.cves.join(", "))
            };
            let fixed = adv
                .fixed
                .as_ref()
                .map(|f| format!("; fixed in {f}"))
                .unwrap_or_default();
            let kev_text = if kev.is_empty() {
                String::new()
            } else {
                format!("; {} in CISA KEV", kev.join(", "))
            };
            let finding = match adv.verdict(device) {
                Verdict::NotAffected => {
                    settled.extend(adv.cves.iter().cloned());
                    continue;
                }
                Verdict::Affected(range) => {
                    let severity = if kev.is_empty() {
                        adv.severity
                    } else {
                        Severity::Critical
                    };
                    Finding::new(
                        checks::VULN_ADVISORY,
                        severity,
                        device,
                        format!("firmware {firmware} affected by {}{cve_text}", adv.id),
                        format!(
                            "{} {}: firmware `{firmware}` is in `{range}` of advisory {} ({}){fixed}{kev_text}",
                            device.vendor.as_deref().unwrap_or(""),
                            device.model.as_deref().unwrap_or(""),
                            adv.id,
                            adv.source,
                        ),
                    )
                }
                Verdict::Unknown => Finding::new(
                    checks::VULN_ADVISORY,
                    Severity::Medium,
                    device,
                    format!("product covered by {}{cve_text}; firmware unknown", adv.id),
                    format!(
                        "{} {} is covered by advisory {} ({}), but firmware `{firmware}` is missing or not a version{fixed}{kev_text}",
                        device.vendor.as_deref().unwrap_or(""),
                        device.model.as_deref().unwrap_or(""),
                        adv.id,
                        adv.source,
                    ),
                ),
            };
            settled.extend(adv.cves.iter().cloned());
            let finding = match adv.cves.first() {
                Some(cve) => finding.with_cve(cve.clone()),
                None => finding,
            };
            out.push(finding);
        }
        let Some(kev) = &self.kev else { return };
        for entry in kev.matches(device) {
            if settled.contains(&entry.cve) {
                continue;
            }
            let severity = match (&entry.matcher, entry.ransomware) {
                (_, true) => Severity::Critical,
                (ProductMatch::Any, false) => Severity::Medium,
                _ => Severity::High,
            };
            let how = match &entry.matcher {
                ProductMatch::Model(_) => "model",
                ProductMatch::Class(_) => "device kind",
                ProductMatch::Any => "vendor only",
            };
            out.push(
                Finding::new(
                    checks::VULN_KEV,
                    severity,
                    device,
                    format!("{}: {}; check the firmware", entry.cve, entry.name),
                    format!(
                        "CISA KEV {}: {} / {} (matched by {how}); added {}, due {}{}; device firmware `{firmware}` (KEV has no version ranges: compare with the vendor advisory)",
                        kev.version,
                        entry.vendor_project,
                        entry.product,
                        entry.date_added,
                        entry.due_date,
                        if entry.ransomware {
                            "; known ransomware use"
                        } else {
                            ""
                        },
                    ),
                )
                .with_cve(entry.cve.clone()),
            );
        }
    }

    fn credentials(&self, device: &Device, today: NaiveDate, out: &mut Vec<Finding>) {
        let defaults = self
            .creds
            .as_ref()
            .map(|c| c.for_vendor(&device.vendor_key))
            .unwrap_or(&[]);
        let known_defaults = || {
            let mut users: Vec<&str> = defaults.iter().map(|l| l.username.as_str()).collect();
            users.sort_unstable();
            users.dedup();
            users.retain(|u| !u.is_empty());
            if users.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} ships default logins for user(s) {}",
                    device.vendor.as_deref().unwrap_or(&device.vendor_key),
                    users.join(", ")
                )
            }
        };
        if let (Some(user), Some(password), Some(creds)) =
            (&device.username, &device.password, &self.creds)
            && let Some(login) = creds.login_match(&device.vendor_key, user, password)
        {
            out.push(Finding::new(
                checks::CRED_DEFAULT,
                Severity::Critical,
                device,
                format!("vendor default login `{user}` in use"),
                format!(
                    "the declared login (user `{user}`) equals the default listed for `{}`",
                    login.product
                ),
            ));
            return;
        }
        match device.credential_state {
            CredentialState::Default => {
                out.push(Finding::new(
                    checks::CRED_DEFAULT,
                    Severity::Critical,
                    device,
                    "factory login still in use",
                    format!("inventory credential_state = default{}", known_defaults()),
                ));
                return;
            }
            CredentialState::Managed | CredentialState::Rotated => {}
            _ => {
                if let (Some(user), Some(creds)) = (&device.username, &self.creds)
                    && let Some(login) = creds.username_match(&device.vendor_key, user)
                {
                    out.push(Finding::new(
                        checks::CRED_DEFAULT_USER,
                        Severity::Medium,
                        device,
                        format!("vendor default user name `{user}` in use"),
                        format!(
                            "user `{user}` is a default user of `{}`; credential_state = {}",
                            login.product,
                            device.credential_state.as_str()
                        ),
                    ));
                }
            }
        }
        match device.credential_state {
            CredentialState::Unknown if is_physical(&device.kind) => {
                let hint = known_defaults();
                let severity = if hint.is_empty() {
                    Severity::Medium
                } else {
                    Severity::High
                };
                out.push(Finding::new(
                    checks::CRED_UNKNOWN,
                    severity,
                    device,
                    "credential state unknown",
                    format!("credential_state is empty or unknown{hint}"),
                ));
            }
            CredentialState::NeverRotated => out.push(Finding::new(
                checks::CRED_NEVER_ROTATED,
                Severity::Medium,
                device,
                "login never rotated",
                "inventory credential_state = never-rotated",
            )),
            CredentialState::Changed | CredentialState::Rotated => {
                let max = self.policy.credential_max_age_days;
                match device.last_rotated {
                    None => out.push(Finding::new(
                        checks::CRED_STALE,
                        Severity::Low,
                        device,
                        "login age unknown",
                        format!(
                            "credential_state = {} without last_rotated (allowed age {max} days)",
                            device.credential_state.as_str()
                        ),
                    )),
                    Some(date) => {
                        let age = (today - date).num_days();
                        if age > max {
                            out.push(Finding::new(
                                checks::CRED_STALE,
                                Severity::Medium,
                                device,
                                format!("login {age} days old"),
                                format!(
                                    "last_rotated = {date}, {age} days ago; allowed {max} days"
                                ),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn segmentation(&self, device: &Device, out: &mut Vec<Finding>) {
        let rules = self
            .policy
            .segment_rules(&device.kind, device.site.as_deref());
        if rules.is_empty() {
            return;
        }
        let allowed: Vec<&Segment> = rules.iter().flat_map(|r| r.allow.iter()).collect();
        let listed = allowed
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let mut comparable = false;
        for segment in &allowed {
            let fits = match segment {
                Segment::Cidr(net) => device.ip.map(|ip| {
                    let ip = ip.to_canonical();
                    net.contains(&ip)
                }),
                Segment::Vlan(v) => device.vlan.map(|d| d == *v),
                Segment::Named(n) => device.segment.as_ref().map(|s| s.eq_ignore_ascii_case(n)),
            };
            match fits {
                Some(true) => return,
                Some(false) => comparable = true,
                None => {}
            }
        }
        let place = [
            device.ip.map(|ip| ip.to_string()),
            device.vlan.map(|v| format!("vlan {v}")),
            device.segment.as_ref().map(|s| format!("segment {s}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        let scope = format!(
            "{} at {}",
            device.kind,
            device.site.as_deref().unwrap_or("any site")
        );
        if comparable {
            out.push(Finding::new(
                checks::SEG_OUTSIDE,
                Severity::High,
                device,
                format!("outside the segments allowed for {scope}"),
                format!("{place} is not in {listed}"),
            ));
        } else {
            out.push(Finding::new(
                checks::SEG_UNKNOWN,
                Severity::Low,
                device,
                "place in the network unknown",
                format!(
                    "allowed for {scope}: {listed}; the inventory gives {}",
                    if place.is_empty() {
                        "no IP, VLAN or segment".to_string()
                    } else {
                        place
                    }
                ),
            ));
        }
    }

    fn liveness(&self, device: &Device, now_ms: i64, out: &mut Vec<Finding>) {
        let Some(heartbeat) = device
            .heartbeat_secs
            .or_else(|| self.policy.heartbeat_secs(&device.kind))
        else {
            return;
        };
        let Some(seen) = device.last_seen_ms else {
            out.push(Finding::new(
                checks::LIVE_UNKNOWN,
                Severity::Info,
                device,
                "never seen",
                format!("no last_seen; expected heartbeat {}", human_secs(heartbeat)),
            ));
            return;
        };
        let silent_ms = now_ms.saturating_sub(seen);
        let limit_ms = i64::try_from(heartbeat.saturating_mul(1000)).unwrap_or(i64::MAX);
        if silent_ms > limit_ms {
            let silent = u64::try_from(silent_ms / 1000).unwrap_or(0);
            let severity = if silent > 86_400 {
                Severity::High
            } else {
                Severity::Medium
            };
            let when = chrono::DateTime::from_timestamp_millis(seen)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(|| seen.to_string());
            out.push(Finding::new(
                checks::LIVE_SILENT,
                severity,
                device,
                format!("silent for {}", human_secs(silent)),
                format!(
                    "last seen {when}, {} ago; expected heartbeat {}",
                    human_secs(silent),
                    human_secs(heartbeat)
                ),
            ));
        }
    }
}

fn exposure(device: &Device, out: &mut Vec<Finding>) {
    let has = |names: &[&str]| {
        device
            .protocols
            .iter()
            .any(|p| names.contains(&p.name.as_str()))
    };
    let declared = |names: &[&str]| {
        device
            .protocols
            .iter()
            .filter(|p| names.contains(&p.name.as_str()))
            .map(|p| match p.port {
                Some(port) => format!("{}:{port}", p.name),
                None => p.name.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut push = |check, severity, title: &str, names: &[&str]| {
        out.push(Finding::new(
            check,
            severity,
            device,
            title,
            format!("declared protocols: {}", declared(names)),
        ));
    };
    const HTTP: &[&str] = &["http", "http-admin", "web"];
    if has(HTTP) {
        if has(&["https", "https-admin"]) {
            push(
                checks::EXP_HTTP,
                Severity::Medium,
                "plain HTTP open beside HTTPS",
                HTTP,
            );
        } else {
            push(
                checks::EXP_HTTP,
                Severity::High,
                "web administration without TLS",
                HTTP,
            );
        }
    }
    if has(&["rtsp"]) && !has(&["rtsps", "srtp", "rtsp-tls"]) {
        push(
            checks::EXP_RTSP,
            Severity::Medium,
            "video stream without TLS (RTSP)",
            &["rtsp"],
        );
    }
    if has(&["telnet"]) {
        push(
            checks::EXP_TELNET,
            Severity::High,
            "Telnet enabled",
            &["telnet"],
        );
    }
    if has(&["ftp", "tftp"]) {
        push(
            checks::EXP_FTP,
            Severity::Medium,
            "FTP enabled",
            &["ftp", "tftp"],
        );
    }
    if has(&["upnp", "ssdp"]) {
        push(
            checks::EXP_UPNP,
            Severity::Medium,
            "UPnP enabled",
            &["upnp", "ssdp"],
        );
    }
    const SNMP: &[&str] = &["snmp", "snmpv1", "snmpv2", "snmpv2c", "snmp-v1", "snmp-v2c"];
    if has(SNMP) {
        push(
            checks::EXP_SNMP,
            Severity::Medium,
            "SNMP v1/v2c enabled",
            SNMP,
        );
    }
    const OSDP_CLEAR: &[&str] = &["osdp", "osdp-plain", "osdp-clear", "wiegand"];
    if has(OSDP_CLEAR) {
        push(
            checks::EXP_OSDP_CLEAR,
            Severity::High,
            "reader link without OSDP Secure Channel",
            OSDP_CLEAR,
        );
    }
    const OSDP_DEFAULT: &[&str] = &[
        "osdp-scbk-d",
        "osdp-default-key",
        "osdp-sc-default",
        "scbk-d",
    ];
    if has(OSDP_DEFAULT) {
        push(
            checks::EXP_OSDP_DEFAULT_KEY,
            Severity::High,
            "OSDP Secure Channel keyed with the default SCBK-D",
            OSDP_DEFAULT,
        );
    }
    const NOAUTH: &[&str] = &[
        "nvr-api-noauth",
        "api-noauth",
        "http-noauth",
        "onvif-noauth",
    ];
    if has(NOAUTH) {
        push(
            checks::EXP_NVR_NOAUTH,
            Severity::Critical,
            "API answers without authentication",
            NOAUTH,
        );
    }
}

fn inventory(device: &Device, out: &mut Vec<Finding>) {
    if !is_physical(&device.kind) {
        return;
    }
    let missing: Vec<&str> = [
        ("vendor", device.vendor.is_none()),
        ("model", device.model.is_none()),
        ("firmware", device.firmware.is_none()),
    ]
    .into_iter()
    .filter(|(_, m)| *m)
    .map(|(n, _)| n)
    .collect();
    if !missing.is_empty() {
        out.push(Finding::new(
            checks::INV_INCOMPLETE,
            Severity::Low,
            device,
            format!("{} missing", missing.join(", ")),
            format!(
                "inventory row at line {} has no {}",
                device.line,
                missing.join(", ")
            ),
        ));
    }
}

/// `90` → `1m 30s`, `7200` → `2h`.
pub fn human_secs(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::Advisories;
    use crate::creds::DefaultCreds;
    use crate::inventory::Inventory;
    use crate::kev::KevCatalog;

    fn devices(rows: &str) -> Vec<Device> {
        let header = "id,kind,vendor,model,firmware,ip,vlan,site,protocols,credential_state,last_rotated,username,password,last_seen,heartbeat\n";
        let inv = Inventory::from_csv("t.csv", &format!("{header}{rows}")).unwrap();
        assert!(inv.errors.is_empty(), "{:?}", inv.errors);
        inv.devices
    }

    fn ids(findings: &[Finding]) -> Vec<&'static str> {
        let mut v: Vec<&str> = findings.iter().map(|f| f.check).collect();
        v.sort_unstable();
        v
    }

    fn knowledge() -> Knowledge {
        let kev = KevCatalog::from_json(
            "k.json",
            r#"{"catalogVersion": "t", "vulnerabilities": [
                {"cveID": "CVE-2021-36260", "vendorProject": "Hikvision", "product": "Security cameras web server",
                 "vulnerabilityName": "Hikvision Improper Input Validation", "dateAdded": "2022-01-10", "dueDate": "2022-01-24",
                 "knownRansomwareCampaignUse": "Unknown"}]}"#,
        )
        .unwrap();
        let advisories = Advisories::from_toml(
            "a.toml",
            r#"
[[advisory]]
id = "HSRC-202109-01"
cve = "CVE-2021-36260"
vendor = "Hikvision"
products = ["DS-2CD*"]
affected = [">= 5.4.0, < 5.5.800"]
severity = "high"
"#,
        )
        .unwrap();
        let creds = DefaultCreds::from_csv(
            "c.csv",
            "productvendor,username,password\nhikvision (ssh),admin,12345\nAxis (web),root,pass\n",
        )
        .unwrap();
        let policy = crate::Policy::from_toml(
            "p.toml",
            r#"
[credentials]
max_age_days = 90
[[segments]]
kind = "camera"
allow = ["10.10.50.0/24", "vlan:50"]
"#,
        )
        .unwrap();
        Knowledge {
            kev: Some(kev),
            advisories,
            creds: Some(creds),
            policy,
        }
    }

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    #[test]
    fn an_old_hikvision_with_the_default_login_is_critical_everywhere() {
        let d = devices(
            "CAM-1,camera,Hikvision,DS-2CD2043G0-I,V5.5.0 build 170725,10.10.20.44,,PAR,http;rtsp;telnet,,,admin,12345,2025-12-31T23:58:00Z,\n",
        );
        let f = knowledge().check(&d[0], Clock::at(NOW));
        assert_eq!(
            ids(&f),
            [
                "CRED-DEFAULT",
                "EXP-HTTP",
                "EXP-RTSP",
                "EXP-TELNET",
                "SEG-OUTSIDE",
                "VULN-ADVISORY"
            ]
        );
        let vuln = f.iter().find(|x| x.check == "VULN-ADVISORY").unwrap();
        assert_eq!(vuln.severity, Severity::Critical, "the CVE is in KEV");
        assert_eq!(vuln.cve.as_deref(), Some("CVE-2021-36260"));
        assert!(
            vuln.evidence.contains(">= 5.4.0, < 5.5.800"),
            "{}",
            vuln.evidence
        );
        assert_eq!(vuln.controls[0].id, "A.8.8");
        let cred = f.iter().find(|x| x.check == "CRED-DEFAULT").unwrap();
        assert!(
            !cred.evidence.contains("12345"),
            "passwords never appear in evidence"
        );
        let seg = f.iter().find(|x| x.check == "SEG-OUTSIDE").unwrap();
        assert_eq!(seg.evidence, "10.10.20.44 is not in 10.10.50.0/24, vlan:50");
    }

    #[test]
    fn a_fixed_firmware_clears_the_kev_match_and_an_uncovered_model_keeps_it() {
        let d = devices(
            "CAM-1,camera,Hikvision,DS-2CD2043G0-I,V5.5.800 build 210628,10.10.50.4,,PAR,https;rtsps,managed,,,,,\n\
             CAM-2,camera,Hikvision,iDS-2CD7A46G0,V5.5.800,10.10.50.5,,PAR,https,managed,,,,,\n",
        );
        let k = knowledge();
        let clock = Clock::at(NOW);
        assert!(
            ids(&k.check(&d[0], clock))
                .iter()
                .all(|c| !c.starts_with("VULN"))
        );
        let f = k.check(&d[1], clock);
        let kev = f.iter().find(|x| x.check == "VULN-KEV").unwrap();
        assert_eq!(kev.severity, Severity::High);
        assert!(
            kev.evidence.contains("matched by device kind"),
            "{}",
            kev.evidence
        );
    }

    #[test]
    fn credential_states() {
        let d = devices(
            "A,camera,Axis,P3245-LV,10.12.114,10.10.50.6,,PAR,https,,,,,,\n\
             B,camera,Axis,P3245-LV,10.12.114,10.10.50.7,,PAR,https,rotated,2025-01-01,,,,\n\
             C,camera,Axis,P3245-LV,10.12.114,10.10.50.8,,PAR,https,never-rotated,,root,,,\n\
             D,camera,Axis,P3245-LV,10.12.114,10.10.50.9,,PAR,https,default,,,,,\n\
             E,camera,Axis,P3245-LV,10.12.114,10.10.50.10,,PAR,https,rotated,2025-12-01,,,,\n\
             F,server,Dell,R650,2.1,10.10.90.9,,PAR,ssh,,,,,,\n",
        );
        let k = knowledge();
        let c = Clock {
            today: Clock::at(NOW).today,
            now_ms: None,
        };
        let a = k.check(&d[0], c);
        assert_eq!(ids(&a), ["CRED-UNKNOWN"]);
        assert_eq!(a[0].severity, Severity::High, "Axis has known defaults");
        assert!(a[0].evidence.contains("root"), "{}", a[0].evidence);
        assert_eq!(ids(&k.check(&d[1], c)), ["CRED-STALE"]);
        assert_eq!(
            ids(&k.check(&d[2], c)),
            ["CRED-DEFAULT-USER", "CRED-NEVER-ROTATED"]
        );
        assert_eq!(ids(&k.check(&d[3], c)), ["CRED-DEFAULT"]);
        assert!(k.check(&d[4], c).is_empty());
        assert!(
            k.check(&d[5], c).is_empty(),
            "IT hosts: no unknown-credential finding"
        );
    }

    #[test]
    fn exposure_from_declared_protocols() {
        let d = devices(
            "R,reader,HID,Signo 40,10.0.2.1,10.10.50.11,50,PAR,osdp;osdp-scbk-d,managed,,,,,\n\
             N,nvr,Acme,N1,1.0,10.10.50.12,50,PAR,http;https;upnp;ftp;snmpv2c;nvr-api-noauth,managed,,,,,\n",
        );
        let k = Knowledge::default();
        let c = Clock::at(NOW);
        assert_eq!(
            ids(&k.check(&d[0], c)),
            ["EXP-OSDP-CLEAR", "EXP-OSDP-DEFAULT-KEY", "LIVE-UNKNOWN"]
        );
        let n = k.check(&d[1], c);
        assert_eq!(
            ids(&n),
            [
                "EXP-FTP",
                "EXP-HTTP",
                "EXP-NVR-NOAUTH",
                "EXP-SNMP",
                "EXP-UPNP",
                "LIVE-UNKNOWN"
            ]
        );
        let http = n.iter().find(|f| f.check == "EXP-HTTP").unwrap();
        assert_eq!(http.severity, Severity::Medium, "HTTPS is there too");
    }

    #[test]
    fn liveness_uses_the_kind_default_or_the_device_heartbeat() {
        let d = devices(
            "A,camera,Axis,P,1,10.10.50.6,,PAR,,managed,,,,2025-12-31T23:50:00Z,\n\
             B,camera,Axis,P,1,10.10.50.7,,PAR,,managed,,,,2025-12-31T23:50:00Z,1h\n\
             C,camera,Axis,P,1,10.10.50.8,,PAR,,managed,,,,2025-12-29T00:00:00Z,\n",
        );
        let k = Knowledge::default();
        let c = Clock::at(NOW);
        let a = k.check(&d[0], c);
        assert_eq!(ids(&a), ["LIVE-SILENT"]);
        assert_eq!(a[0].severity, Severity::Medium);
        assert!(
            a[0].evidence.contains("10m ago; expected heartbeat 5m"),
            "{}",
            a[0].evidence
        );
        assert!(k.check(&d[1], c).is_empty());
        assert_eq!(k.check(&d[2], c)[0].severity, Severity::High);
        let without_now = Clock {
            today: c.today,
            now_ms: None,
        };
        assert!(k.check(&d[0], without_now).is_empty());
    }

    #[test]
    fn incomplete_rows_and_unknown_places() {
        let d = devices("A,camera,,,,,,PAR,,managed,,,,,\n");
        let k = knowledge();
        let f = k.check(
            &d[0],
            Clock {
                today: Clock::at(NOW).today,
                now_ms: None,
            },
        );
        assert_eq!(ids(&f), ["INV-INCOMPLETE", "SEG-UNKNOWN"]);
        let inv = f.iter().find(|x| x.check == "INV-INCOMPLETE").unwrap();
        assert_eq!(inv.title, "vendor, model, firmware missing");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_secs(90), "1m 30s");
        assert_eq!(human_secs(7200), "2h");
        assert_eq!(human_secs(0), "0s");
    }
}
