//! Findings, their severities, and the catalogue of checks with the controls each maps to.

use serde::Serialize;
use std::fmt;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; costs no posture points.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// The name used in output and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Reads a name (`informational` is `info`).
    pub fn parse(text: &str) -> Option<Severity> {
        Some(match text.trim().to_lowercase().as_str() {
            "info" | "informational" | "none" => Severity::Info,
            "low" => Severity::Low,
            "medium" | "moderate" => Severity::Medium,
            "high" | "important" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// Posture points a finding of this severity costs (see `docs/hygiene.md`).
    pub fn weight(self) -> u32 {
        match self {
            Severity::Info => 0,
            Severity::Low => 3,
            Severity::Medium => 10,
            Severity::High => 25,
            Severity::Critical => 40,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A control of a framework that a check provides evidence for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Control {
    /// `ISO/IEC 27001:2022` or `IEC 62443-3-3` (or `IEC 62443-2-3`).
    pub framework: &'static str,
    /// Control id (`A.8.8`, `SR 1.5`).
    pub id: &'static str,
    /// Control title.
    pub title: &'static str,
}

const fn iso(id: &'static str, title: &'static str) -> Control {
    Control {
        framework: "ISO/IEC 27001:2022",
        id,
        title,
    }
}

const fn iec(id: &'static str, title: &'static str) -> Control {
    Control {
        framework: "IEC 62443-3-3",
        id,
        title,
    }
}

const A5_9: Control = iso(
    "A.5.9",
    "Inventory of information and other associated assets",
);
const A5_17: Control = iso("A.5.17", "Authentication information");
const A8_5: Control = iso("A.8.5", "Secure authentication");
const A8_8: Control = iso("A.8.8", "Management of technical vulnerabilities");
const A8_9: Control = iso("A.8.9", "Configuration management");
const A8_16: Control = iso("A.8.16", "Monitoring activities");
const A8_20: Control = iso("A.8.20", "Networks security");
const A8_22: Control = iso("A.8.22", "Segregation of networks");
const A8_24: Control = iso("A.8.24", "Use of cryptography");
const SR1_1: Control = iec("SR 1.1", "Human user identification and authentication");
const SR1_5: Control = iec("SR 1.5", "Authenticator management");
const SR4_1: Control = iec("SR 4.1", "Information confidentiality");
const SR5_1: Control = iec("SR 5.1", "Network segmentation");
const SR5_2: Control = iec("SR 5.2", "Zone boundary protection");
const SR6_2: Control = iec("SR 6.2", "Continuous monitoring");
const SR7_7: Control = iec("SR 7.7", "Least functionality");
const SR7_8: Control = iec("SR 7.8", "Control system component inventory");
const PATCH: Control = Control {
    framework: "IEC 62443-2-3",
    id: "2-3",
    title: "Patch management in the IACS environment",
};

/// One kind of check: id, what it means, the controls it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable id (`VULN-KEV`).
    pub id: &'static str,
    /// One line.
    pub title: &'static str,
    /// Controls this check is evidence for.
    pub controls: &'static [Control],
}

macro_rules! checks {
    ($($name:ident = $id:literal, $title:literal, [$($c:ident),*];)*) => {
        $(
            #[doc = $title]
            pub const $name: Check = Check { id: $id, title: $title, controls: &[$($c),*] };
        )*
        /// Every check, in documentation order.
        pub const ALL: &[Check] = &[$($name),*];
    };
}

/// The checks.
pub mod checks {
    use super::*;

    checks! {
        VULN_KEV = "VULN-KEV", "Product has a known exploited vulnerability (CISA KEV); check the firmware", [A8_8, PATCH];
        VULN_ADVISORY = "VULN-ADVISORY", "Firmware version is in an advisory's affected range", [A8_8, PATCH];
        CRED_DEFAULT = "CRED-DEFAULT", "Vendor default login in use", [A5_17, A8_5, SR1_5];
        CRED_DEFAULT_USER = "CRED-DEFAULT-USER", "Vendor default user name in use", [A5_17, SR1_5];
        CRED_UNKNOWN = "CRED-UNKNOWN", "Credential state unknown", [A5_17, SR1_5];
        CRED_NEVER_ROTATED = "CRED-NEVER-ROTATED", "Login never rotated", [A5_17, SR1_5];
        CRED_STALE = "CRED-STALE", "Login older than the allowed age", [A5_17, SR1_5];
        EXP_HTTP = "EXP-HTTP", "Web administration without TLS", [A8_20, A8_24, SR4_1];
        EXP_RTSP = "EXP-RTSP", "Video stream (RTSP) without TLS", [A8_20, A8_24, SR4_1];
        EXP_TELNET = "EXP-TELNET", "Telnet enabled", [A8_9, A8_20, SR7_7];
        EXP_FTP = "EXP-FTP", "FTP enabled", [A8_9, A8_20, SR7_7];
        EXP_UPNP = "EXP-UPNP", "UPnP / SSDP enabled", [A8_9, A8_20, SR7_7];
        EXP_SNMP = "EXP-SNMP", "SNMP v1/v2c (community strings in clear)", [A8_9, A8_24, SR4_1];
        EXP_OSDP_CLEAR = "EXP-OSDP-CLEAR", "Reader link without OSDP Secure Channel (OSDP plain or Wiegand)", [A8_20, A8_24, SR4_1];
        EXP_OSDP_DEFAULT_KEY = "EXP-OSDP-DEFAULT-KEY", "OSDP Secure Channel with the default key SCBK-D", [A8_24, SR1_5, SR4_1];
        EXP_NVR_NOAUTH = "EXP-NVR-NOAUTH", "Unauthenticated NVR / device API", [A8_5, SR1_1];
        SEG_OUTSIDE = "SEG-OUTSIDE", "Device outside its allowed network segments", [A8_22, SR5_1];
        SEG_UNKNOWN = "SEG-UNKNOWN", "Device location in the network unknown (no IP, VLAN or segment)", [A8_22, SR5_1];
        CONN_UNEXPECTED = "CONN-UNEXPECTED", "Connection to a destination outside the allow-list", [A8_16, A8_20, SR5_2];
        LIVE_SILENT = "LIVE-SILENT", "Device silent longer than its heartbeat", [A8_16, SR6_2];
        LIVE_UNKNOWN = "LIVE-UNKNOWN", "Device never seen", [A8_16, SR6_2];
        INV_INCOMPLETE = "INV-INCOMPLETE", "Vendor, model or firmware missing: vulnerabilities cannot be checked", [A5_9, SR7_8];
        INV_ROW = "INV-ROW", "Inventory row refused", [A5_9, SR7_8];
    }

    /// The check with this id.
    pub fn by_id(id: &str) -> Option<Check> {
        ALL.iter().copied().find(|c| c.id.eq_ignore_ascii_case(id))
    }
}

/// One thing wrong with one device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Check id (`VULN-KEV`).
    pub check: &'static str,
    /// Severity.
    pub severity: Severity,
    /// Device id.
    pub device: String,
    /// Device site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Device zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// One line: what is wrong.
    pub title: String,
    /// What was seen that shows it (values, file rows, catalogue entries).
    pub evidence: String,
    /// CVE, when the finding is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cve: Option<String>,
    /// Controls the check maps to.
    pub controls: &'static [Control],
}

impl Finding {
    /// A finding of `check` about `device`.
    pub fn new(
        check: Check,
        severity: Severity,
        device: &crate::Device,
        title: impl Into<String>,
        evidence: impl Into<String>,
    ) -> Finding {
        Finding {
            check: check.id,
            severity,
            device: device.id.clone(),
            site: device.site.clone(),
            zone: device.zone.clone(),
            title: title.into(),
            evidence: evidence.into(),
            cve: None,
            controls: check.controls,
        }
    }

    /// The same finding about a CVE.
    pub fn with_cve(mut self, cve: impl Into<String>) -> Finding {
        self.cve = Some(cve.into());
        self
    }

    /// The control ids, `ISO A.8.8, IEC SR 1.5` style.
    pub fn control_ids(&self) -> String {
        self.controls
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_maps_to_an_iso_control_and_ids_are_unique() {
        for (i, check) in checks::ALL.iter().enumerate() {
            assert!(
                check
                    .controls
                    .iter()
                    .any(|c| c.framework.starts_with("ISO")),
                "{}",
                check.id
            );
            assert!(checks::ALL[i + 1..].iter().all(|c| c.id != check.id));
        }
        assert_eq!(
            checks::by_id("vuln-kev").map(|c| c.controls[0].id),
            Some("A.8.8")
        );
        assert!(Severity::Critical > Severity::High);
        assert_eq!(Severity::parse("Moderate"), Some(Severity::Medium));
    }
}
