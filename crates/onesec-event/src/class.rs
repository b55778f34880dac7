//! OCSF classes, activities, status and severity, with their numeric ids.

use serde::{Deserialize, Serialize};

/// Which world an event or alert belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Doors, badges, cameras, alarms.
    Physical,
    /// Logins, hosts, networks.
    Cyber,
    /// Both at once.
    Hybrid,
}

impl Domain {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Physical => "physical",
            Domain::Cyber => "cyber",
            Domain::Hybrid => "hybrid",
        }
    }

    /// The domain of a set that contains both `self` and `other`.
    pub fn join(self, other: Domain) -> Domain {
        if self == other { self } else { Domain::Hybrid }
    }
}

/// OCSF event class (core classes and the physical-security extension classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventClass {
    /// OCSF 3002: logon, logoff, failed logon.
    Authentication,
    /// OCSF 1007: a process started (e.g. sudo command).
    ProcessActivity,
    /// OCSF 4001: network sessions (VPN address assignment, firewall flows).
    NetworkActivity,
    /// physec 4230001: badge granted/denied, portal forced/held open, tailgate...
    PhysicalAccess,
    /// physec 4230002: intrusion, perimeter, panic, tamper alarm signals.
    AlarmSignal,
    /// onesec 4330001: camera motion, objects, tamper, signal loss.
    VideoAnalytics,
    /// onesec 4330002: device authentication failures, hardware faults, config/firmware changes.
    DeviceHealth,
    /// onesec 4330003: peripheral (USB) devices connected to a host.
    PeripheralActivity,
    /// OCSF 0: anything decoded but not classified.
    Base,
}

impl EventClass {
    /// OCSF `class_uid`.
    pub fn uid(self) -> u32 {
        match self {
            EventClass::Authentication => 3002,
            EventClass::ProcessActivity => 1007,
            EventClass::NetworkActivity => 4001,
            EventClass::PhysicalAccess => 4_230_001,
            EventClass::AlarmSignal => 4_230_002,
            EventClass::VideoAnalytics => 4_330_001,
            EventClass::DeviceHealth => 4_330_002,
            EventClass::PeripheralActivity => 4_330_003,
            EventClass::Base => 0,
        }
    }

    /// OCSF `category_uid`.
    pub fn category_uid(self) -> u32 {
        match self {
            EventClass::Authentication => 3,
            EventClass::ProcessActivity => 1,
            EventClass::NetworkActivity => 4,
            EventClass::PhysicalAccess | EventClass::AlarmSignal => 4230,
            EventClass::VideoAnalytics
            | EventClass::DeviceHealth
            | EventClass::PeripheralActivity => 4330,
            EventClass::Base => 0,
        }
    }

    /// snake_case name, as rules see it in the `class` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventClass::Authentication => "authentication",
            EventClass::ProcessActivity => "process_activity",
            EventClass::NetworkActivity => "network_activity",
            EventClass::PhysicalAccess => "physical_access",
            EventClass::AlarmSignal => "alarm_signal",
            EventClass::VideoAnalytics => "video_analytics",
            EventClass::DeviceHealth => "device_health",
            EventClass::PeripheralActivity => "peripheral_activity",
            EventClass::Base => "base",
        }
    }

    /// OCSF class caption.
    pub fn caption(self) -> &'static str {
        match self {
            EventClass::Authentication => "Authentication",
            EventClass::ProcessActivity => "Process Activity",
            EventClass::NetworkActivity => "Network Activity",
            EventClass::PhysicalAccess => "Physical Access Activity",
            EventClass::AlarmSignal => "Alarm Signal Activity",
            EventClass::VideoAnalytics => "Video Analytics Activity",
            EventClass::DeviceHealth => "Device Health Activity",
            EventClass::PeripheralActivity => "Peripheral Device Activity",
            EventClass::Base => "Base Event",
        }
    }

    /// Physical or cyber. Device health of a physical device is physical: cameras, readers and
    /// controllers are the physical estate.
    pub fn domain(self) -> Domain {
        match self {
            EventClass::PhysicalAccess
            | EventClass::AlarmSignal
            | EventClass::VideoAnalytics
            | EventClass::DeviceHealth => Domain::Physical,
            _ => Domain::Cyber,
        }
    }
}

/// What happened, within a class. Each maps to the class's OCSF `activity_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// Authentication: logon (success or failure by status).
    Logon,
    /// Authentication: logoff.
    Logoff,
    /// Process: launched.
    Launch,
    /// Network: session opened.
    Open,
    /// Network: session closed.
    Close,
    /// Network: address assigned (VPN pool).
    AddressAssigned,
    /// Physical access: the system granted access.
    AccessGranted,
    /// Physical access: the system denied access.
    AccessDenied,
    /// Physical access: the person passed after a grant.
    AccessTaken,
    /// Physical access: granted but nobody passed.
    AccessNotTaken,
    /// Physical access: portal opened without a grant.
    PortalForced,
    /// Physical access: portal held open too long.
    PortalHeldOpen,
    /// Physical access: request-to-exit button.
    RequestToExit,
    /// Physical access: duress code.
    Duress,
    /// Physical access: anti-passback violation.
    AntipassbackViolation,
    /// Physical access: more people passed than were granted.
    Tailgate,
    /// Physical access: door or reader tamper.
    Tamper,
    /// Physical access: portal alarm back to normal.
    PortalNormal,
    /// Alarm signal: intrusion.
    Intrusion,
    /// Alarm signal: perimeter.
    Perimeter,
    /// Alarm signal: panic / hold-up.
    Panic,
    /// Video: motion detected.
    Motion,
    /// Video: an object (person, car...) detected.
    ObjectDetected,
    /// Video: camera covered, blinded, moved or out of focus.
    VideoTamper,
    /// Video: video signal lost.
    SignalLoss,
    /// Video / device: condition cleared.
    Cleared,
    /// Device: failed login on the device itself.
    DeviceAuthFailed,
    /// Device: hardware failure.
    HardwareFailure,
    /// Device: configuration changed.
    ConfigChanged,
    /// Device: firmware changed.
    FirmwareChanged,
    /// Device: went offline / online.
    Connectivity,
    /// Peripheral: device connected.
    Connected,
    /// Peripheral: device disconnected.
    Disconnected,
    /// Anything else.
    Other,
}

impl Activity {
    /// OCSF `activity_id` within its class (99 = Other).
    pub fn id(self) -> u32 {
        use Activity::*;
        match self {
            Logon | Launch | Open | AccessGranted | Intrusion | Motion | DeviceAuthFailed
            | Connected => 1,
            Logoff | Close | AccessDenied | Perimeter | ObjectDetected | HardwareFailure
            | Disconnected => 2,
            AccessTaken | VideoTamper | ConfigChanged | Panic => 3,
            AccessNotTaken | SignalLoss | FirmwareChanged => 4,
            PortalForced | Cleared | Connectivity => 5,
            AddressAssigned => 6,
            PortalHeldOpen => 6,
            RequestToExit => 7,
            Duress => 8,
            AntipassbackViolation => 9,
            Tailgate => 10,
            Tamper => 12,
            PortalNormal | Other => 99,
        }
    }

    /// snake_case name, as rules see it in the `activity` field.
    pub fn as_str(self) -> &'static str {
        use Activity::*;
        match self {
            Logon => "logon",
            Logoff => "logoff",
            Launch => "launch",
            Open => "open",
            Close => "close",
            AddressAssigned => "address_assigned",
            AccessGranted => "access_granted",
            AccessDenied => "access_denied",
            AccessTaken => "access_taken",
            AccessNotTaken => "access_not_taken",
            PortalForced => "portal_forced",
            PortalHeldOpen => "portal_held_open",
            RequestToExit => "request_to_exit",
            Duress => "duress",
            AntipassbackViolation => "antipassback_violation",
            Tailgate => "tailgate",
            Tamper => "tamper",
            PortalNormal => "portal_normal",
            Intrusion => "intrusion",
            Perimeter => "perimeter",
            Panic => "panic",
            Motion => "motion",
            ObjectDetected => "object_detected",
            VideoTamper => "video_tamper",
            SignalLoss => "signal_loss",
            Cleared => "cleared",
            DeviceAuthFailed => "device_auth_failed",
            HardwareFailure => "hardware_failure",
            ConfigChanged => "config_changed",
            FirmwareChanged => "firmware_changed",
            Connectivity => "connectivity",
            Connected => "connected",
            Disconnected => "disconnected",
            Other => "other",
        }
    }
}

/// Outcome of the action (OCSF `status_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not stated.
    #[default]
    Unknown,
    /// It worked.
    Success,
    /// It was refused or failed.
    Failure,
}

impl Status {
    /// OCSF `status_id`.
    pub fn id(self) -> u32 {
        match self {
            Status::Unknown => 0,
            Status::Success => 1,
            Status::Failure => 2,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Success => "success",
            Status::Failure => "failure",
        }
    }
}

/// Severity (OCSF `severity_id`; also used for alerts and incidents).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Informational.
    #[default]
    Informational,
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
    /// OCSF `severity_id`.
    pub fn id(self) -> u32 {
        match self {
            Severity::Informational => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        }
    }

    /// Lower-case name (also the Sigma `level` word).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a Sigma level / severity word.
    pub fn parse(text: &str) -> Option<Severity> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "informational" | "info" => Severity::Informational,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}
