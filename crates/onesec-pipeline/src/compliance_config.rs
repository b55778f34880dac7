//! `[compliance]` and `[reports]` of the config file (docs/compliance.md, docs/configuration.md).
//! Plain settings: the server checks the time zone, periods and formats at start.

use serde::Deserialize;
use std::path::PathBuf;

/// `[compliance]`: regulatory clocks and notification drafts.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ComplianceSettings {
    /// IANA time zone calendar months are counted in and dates are shown in.
    pub timezone: String,
    /// Contact of the data protection officer, put into GDPR drafts.
    pub dpo_contact: Option<String>,
    /// Who an overdue regulatory deadline is escalated to (team keys or names).
    pub escalate_to: Vec<String>,
    /// How often overdue deadlines and scheduled reports are checked, seconds.
    pub check_secs: u64,
}

impl Default for ComplianceSettings {
    fn default() -> Self {
        ComplianceSettings {
            timezone: "UTC".to_string(),
            dpo_contact: None,
            escalate_to: vec!["management".to_string()],
            check_secs: 60,
        }
    }
}

/// `[reports]`: unified reports.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ReportsSettings {
    /// Working hours, `HH:MM-HH:MM` local: access outside them is "after hours".
    pub work_hours: String,
    /// Saturdays and Sundays count as after hours all day.
    pub weekdays_only: bool,
    /// Reports made on a schedule.
    pub schedule: Vec<ReportSchedule>,
}

impl Default for ReportsSettings {
    fn default() -> Self {
        ReportsSettings {
            work_hours: "07:00-19:00".to_string(),
            weekdays_only: true,
            schedule: Vec::new(),
        }
    }
}

/// `[[reports.schedule]]`: one report made on a schedule.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReportSchedule {
    /// Name, used in file names and the audit log.
    pub name: String,
    /// `daily`, `weekly` (Mondays, the week before) or `monthly` (the 1st, the month before).
    pub every: String,
    /// `html`, `pdf`, `csv`, `json`.
    #[serde(default = "default_formats")]
    pub formats: Vec<String>,
    /// Only this site.
    #[serde(default)]
    pub site: Option<String>,
    /// Folder the files are written to.
    #[serde(default)]
    pub folder: Option<PathBuf>,
    /// URL each file is POSTed to (`Content-Type` of the format, `X-Onesec-Report` header).
    #[serde(default)]
    pub webhook: Option<String>,
}

fn default_formats() -> Vec<String> {
    vec!["pdf".to_string()]
}
