//! The scenario file (`docs/drills.md`): a site and population, a background traffic profile
//! and timed injects with the detections and responses expected of each. [`Scenario::load`]
//! reads and validates one file; every problem names the file, the line and column where it can
//! be found, and why it is wrong.

use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// A scenario file that cannot be run: where and why.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The scenario file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML or does not have the scenario's shape.
    #[error("{}: {}", place(.path, *.line, *.column), .reason)]
    Syntax {
        /// The scenario file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// One or more values are wrong (every problem found, each placed).
    #[error("{}", join(.0))]
    Invalid(Vec<Problem>),
}

/// One wrong value of a scenario: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The scenario file.
    pub path: PathBuf,
    /// 1-based line of the value, when it could be found.
    pub line: Option<usize>,
    /// 1-based column of the value, when it could be found.
    pub column: Option<usize>,
    /// Which value (`injects[2].at`).
    pub field: String,
    /// Why it is wrong.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            place(&self.path, self.line, self.column),
            self.field,
            self.reason
        )
    }
}

fn place(path: &Path, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}", path.display()),
        (Some(l), None) => format!("{}:{l}", path.display()),
        _ => path.display().to_string(),
    }
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One exercise: who and where, the everyday traffic, and the attack's injects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name shown in reports.
    pub name: String,
    /// What the exercise trains, for the facilitator.
    #[serde(default)]
    pub description: String,
    /// The site and population: a directory folder or the files inline.
    pub directory: DirectorySource,
    /// Scenario time zero (UTC, RFC 3339).
    pub start: String,
    /// How long the exercise lasts after `start` (`8h`, `1h30m`, `02:00:00`).
    pub duration: String,
    /// Everyday traffic under the attack; none when absent.
    #[serde(default)]
    pub background: Option<Background>,
    /// The attack, in any order (they are run in time order).
    pub injects: Vec<Inject>,
    /// Scripted trainees for unattended runs (CI, demos); a live drill leaves it out and the
    /// teams work the incidents through the console, the API or the CLI.
    #[serde(default)]
    pub trainees: Vec<Trainee>,
    /// Where the file is (set by [`Scenario::load`]; relative paths are read from its folder).
    #[serde(skip)]
    pub file: PathBuf,
}

/// The site and population of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DirectorySource {
    /// A directory folder (`people.csv`, `sites.yaml`, `devices.csv`), relative to the file.
    Folder(PathBuf),
    /// The directory's files written in the scenario.
    Inline {
        /// `people.csv` text.
        people_csv: String,
        /// `sites.yaml` text.
        sites_yaml: String,
        /// `devices.csv` text.
        #[serde(default)]
        devices_csv: String,
    },
}

/// The background traffic profile: a working day's rhythm at every site.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Background {
    /// Seed of the generator: the same seed gives the same traffic.
    pub seed: u64,
    /// Mean arrival time, site local time (`08:30`).
    pub arrive: String,
    /// Mean departure time, site local time (`17:15`).
    pub leave: String,
    /// Badge in and out at the entrance and the office door.
    pub doors: bool,
    /// SSH logins from each person's workstation to the site's servers, per person per day.
    pub logins_per_person: u32,
    /// People without a badge (remote workers) connect through the VPN in the morning.
    pub vpn: bool,
    /// Motion events per camera per working hour.
    pub camera_motion_per_hour: u32,
    /// Allowed outbound firewall flows (CEF) per person per working hour.
    pub flows_per_person_per_hour: u32,
}

impl Default for Background {
    fn default() -> Self {
        Background {
            seed: 1,
            arrive: "08:30".into(),
            leave: "17:15".into(),
            doors: true,
            logins_per_person: 2,
            vpn: true,
            camera_motion_per_hour: 2,
            flows_per_person_per_hour: 2,
        }
    }
}

/// One timed piece of the attack, in a public input format.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inject {
    /// Unique within the scenario.
    pub id: String,
    /// When, after `start` (`2h10m`, `14:10:00`).
    pub at: String,
    /// What happens, for the facilitator and the report.
    #[serde(default)]
    pub description: String,
    /// ATT&CK techniques it represents: enterprise (`T1200`, `T1091.001`) and ICS (`T0812`).
    pub attack: Vec<String>,
    /// Decoder: `syslog`, `cef`, `windows-json`, `onvif-ej`, `onvif-xml`, `frigate`,
    /// `access-csv`, `sia-dc09`, `gallagher`, `auto`...
    pub format: String,
    /// Header row for `access-csv`.
    #[serde(default)]
    pub header: Option<String>,
    /// The records, one per entry, with `{{time}}` placeholders (`docs/drills.md`).
    pub lines: Vec<String>,
    /// Send the lines this many times (`{{n}}` is the repetition, from 1).
    #[serde(default = "one")]
    pub repeat: u32,
    /// Time between two lines (and repetitions); all at once by default.
    #[serde(default)]
    pub every: Option<String>,
    /// What onesec and the teams should do about it; nothing when absent.
    #[serde(default)]
    pub expect: Option<Expectation>,
}

fn one() -> u32 {
    1
}

/// The detections and the response expected of one inject.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Rules that must fire on it (rule `name` or `id`).
    pub detections: Vec<String>,
    /// Time to detect, from the inject's time.
    pub within: String,
    /// Team that should own the incident (`it_soc`, `physical_security`, `compliance`,
    /// `management`).
    #[serde(default)]
    pub team: Option<String>,
    /// Time to acknowledge the incident, from the inject's time.
    #[serde(default)]
    pub acknowledge_within: Option<String>,
    /// Time to contain (the owner team's first task done), from the inject's time.
    #[serde(default)]
    pub contain_within: Option<String>,
}

/// A scripted team: what it does and how long it takes (unattended runs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trainee {
    /// `it_soc`, `physical_security`, `compliance` or `management`.
    pub team: String,
    /// Acknowledges the incidents it owns this long after they open.
    #[serde(default)]
    pub acknowledge_after: Option<String>,
    /// Approves its playbook tasks this long after they are created.
    #[serde(default)]
    pub complete_tasks_after: Option<String>,
}

/// Teams a playbook task or a case can belong to.
pub const TEAMS: [&str; 4] = ["it_soc", "physical_security", "compliance", "management"];

/// A scenario that passed validation, with its times in milliseconds.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The scenario as written.
    pub scenario: Scenario,
    /// `start` in UTC milliseconds.
    pub start_ms: i64,
    /// `duration` in milliseconds.
    pub duration_ms: i64,
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Checked, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(&text, path)
    }

    /// Parses and validates scenario text; `path` names it in errors and anchors relative
    /// paths.
    pub fn parse(text: &str, path: &Path) -> Result<Checked, ScenarioError> {
        let mut scenario: Scenario =
            serde_yaml::from_str(text).map_err(|error| ScenarioError::Syntax {
                path: path.to_path_buf(),
                line: error.location().map(|l| l.line()),
                column: error.location().map(|l| l.column()),
                reason: error.to_string(),
            })?;
        scenario.file = path.to_path_buf();
        let mut check = Validation {
            path,
            text,
            problems: Vec::new(),
        };
        let checked = check.scenario(scenario);
        match checked {
            Some(c) if check.problems.is_empty() => Ok(c),
            _ => Err(ScenarioError::Invalid(check.problems)),
        }
    }

    /// The directory folder, resolved against the scenario's folder (None when inline).
    pub fn directory_folder(&self) -> Option<PathBuf> {
        match &self.directory {
            DirectorySource::Folder(dir) if dir.is_absolute() => Some(dir.clone()),
            DirectorySource::Folder(dir) => Some(
                self.file
                    .parent()
                    .unwrap_or_else(|| Path::new("."))
                    .join(dir),
            ),
            DirectorySource::Inline { .. } => None,
        }
    }

    /// The folder the pipeline reads the directory from: the scenario's folder, or the inline
    /// files written into `scratch`.
    pub fn directory_for_pipeline(&self, scratch: &Path) -> std::io::Result<PathBuf> {
        match &self.directory {
            DirectorySource::Folder(_) => Ok(self.directory_folder().unwrap_or_default()),
            DirectorySource::Inline {
                people_csv,
                sites_yaml,
                devices_csv,
            } => {
                std::fs::create_dir_all(scratch)?;
                std::fs::write(scratch.join("people.csv"), people_csv)?;
                std::fs::write(scratch.join("sites.yaml"), sites_yaml)?;
                if !devices_csv.is_empty() {
                    std::fs::write(scratch.join("devices.csv"), devices_csv)?;
                }
                Ok(scratch.to_path_buf())
            }
        }
    }

    /// Loads the scenario's directory.
    pub fn load_directory(
        &self,
    ) -> Result<onesec_directory::Directory, onesec_directory::DirectoryError> {
        match &self.directory {
            DirectorySource::Inline {
                people_csv,
                sites_yaml,
                devices_csv,
            } => onesec_directory::Directory::from_texts(
                Some(people_csv),
                Some(sites_yaml),
                (!devices_csv.is_empty()).then_some(devices_csv.as_str()),
            ),
            DirectorySource::Folder(_) => {
                let folder = self.directory_folder().unwrap_or_default();
                onesec_directory::Directory::load_dir(folder)
            }
        }
    }
}

/// Collects every problem of a parsed scenario, each placed in the text.
struct Validation<'a> {
    path: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Validation<'_> {
    fn scenario(&mut self, scenario: Scenario) -> Option<Checked> {
        let start_ms = match chrono::DateTime::parse_from_rfc3339(&scenario.start) {
            Ok(t) => Some(t.timestamp_millis()),
            Err(e) => {
                self.problem(
                    "start",
                    &scenario.start,
                    None,
                    format!("not an RFC 3339 time: {e}"),
                );
                None
            }
        };
        let duration_ms = self.duration("duration", &scenario.duration, None);
        if scenario.injects.is_empty() {
            self.problem(
                "injects",
                "injects:",
                None,
                "a scenario needs at least one inject".into(),
            );
        }
        if let Some(bg) = &scenario.background {
            for (field, value) in [
                ("background.arrive", &bg.arrive),
                ("background.leave", &bg.leave),
            ] {
                if parse_clock_time(value).is_none() {
                    self.problem(field, value, None, "expected a local time HH:MM".into());
                }
            }
        }
        if let DirectorySource::Folder(_) = &scenario.directory {
            let folder = scenario.directory_folder().unwrap_or_default();
            if !folder.join("people.csv").is_file() || !folder.join("sites.yaml").is_file() {
                let shown = match &scenario.directory {
                    DirectorySource::Folder(d) => d.display().to_string(),
                    DirectorySource::Inline { .. } => String::new(),
                };
                self.problem(
                    "directory",
                    &shown,
                    None,
                    format!("{} has no people.csv and sites.yaml", folder.display()),
                );
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (index, inject) in scenario.injects.iter().enumerate() {
            if !seen.insert(inject.id.clone()) {
                self.problem(
                    &format!("injects[{index}].id"),
                    &inject.id,
                    None,
                    "used by an earlier inject".into(),
                );
            }
            self.inject(index, inject, duration_ms);
        }
        for (index, trainee) in scenario.trainees.iter().enumerate() {
            let field = format!("trainees[{index}]");
            self.team(&format!("{field}.team"), &trainee.team);
            for (name, value) in [
                ("acknowledge_after", &trainee.acknowledge_after),
                ("complete_tasks_after", &trainee.complete_tasks_after),
            ] {
                if let Some(v) = value {
                    self.duration(&format!("{field}.{name}"), v, None);
                }
            }
        }
        Some(Checked {
            start_ms: start_ms?,
            duration_ms: duration_ms?,
            scenario,
        })
    }

    fn inject(&mut self, index: usize, inject: &Inject, duration_ms: Option<i64>) {
        let field = |name: &str| format!("injects[{index}].{name}");
        let anchor = Some(inject.id.as_str());
        if let Some(at) = self.duration(&field("at"), &inject.at, anchor)
            && let Some(d) = duration_ms
            && at > d
        {
            self.problem(
                &field("at"),
                &inject.at,
                anchor,
                format!("after the end of the scenario ({})", format_duration(d)),
            );
        }
        if inject.attack.is_empty() {
            self.problem(
                &field("attack"),
                "attack:",
                anchor,
                "name at least one ATT&CK technique (T1200, T0812...)".into(),
            );
        }
        for technique in &inject.attack {
            if technique_kind(technique).is_none() {
                self.problem(
                    &field("attack"),
                    technique,
                    anchor,
                    "not an ATT&CK technique id (T1234 or T1234.001; ICS T0800-T0899)".into(),
                );
            }
        }
        if let Err(e) = inject.format.parse::<onesec_decode::Format>() {
            self.problem(&field("format"), &inject.format, anchor, format!("{e}"));
        }
        if inject.lines.is_empty() {
            self.problem(
                &field("lines"),
                "lines:",
                anchor,
                "an inject needs at least one record".into(),
            );
        }
        for (n, line) in inject.lines.iter().enumerate() {
            if let Err(reason) = crate::inject::check_template(line) {
                self.problem(
                    &format!("injects[{index}].lines[{n}]"),
                    line,
                    anchor,
                    reason,
                );
            }
        }
        if inject.repeat == 0 {
            self.problem(
                &field("repeat"),
                "repeat:",
                anchor,
                "must be at least 1".into(),
            );
        }
        if let Some(every) = &inject.every
            && let Some(every_ms) = self.duration(&field("every"), every, anchor)
            && let (Some(at), Some(end)) = (parse_duration(&inject.at), duration_ms)
        {
            let records = inject.lines.len() as i64 * i64::from(inject.repeat.max(1));
            let last = at.saturating_add(every_ms.saturating_mul(records - 1));
            if last > end {
                self.problem(
                    &field("every"),
                    every,
                    anchor,
                    format!(
                        "its last record would come at {}, after the end of the scenario",
                        format_duration(last)
                    ),
                );
            }
        }
        if let Some(expect) = &inject.expect {
            if expect.detections.is_empty() {
                self.problem(
                    &field("expect.detections"),
                    "detections:",
                    anchor,
                    "name the rules expected (or leave out expect)".into(),
                );
            }
            self.duration(&field("expect.within"), &expect.within, anchor);
            for (name, value) in [
                ("acknowledge_within", &expect.acknowledge_within),
                ("contain_within", &expect.contain_within),
            ] {
                if let Some(v) = value {
                    self.duration(&field(&format!("expect.{name}")), v, anchor);
                }
            }
            if let Some(team) = &expect.team {
                self.team(&field("expect.team"), team);
            }
        }
    }

    fn team(&mut self, field: &str, team: &str) {
        if !TEAMS.contains(&team) {
            self.problem(
                field,
                team,
                None,
                format!("unknown team (one of {})", TEAMS.join(", ")),
            );
        }
    }

    fn duration(&mut self, field: &str, value: &str, anchor: Option<&str>) -> Option<i64> {
        let parsed = parse_duration(value);
        if parsed.is_none() {
            self.problem(
                field,
                value,
                anchor,
                "expected a duration such as 90s, 15m, 1h30m or 01:30:00".into(),
            );
        }
        parsed
    }

    /// Records a problem, placed at the first occurrence of `needle` (after `anchor`, the
    /// inject's id, when given).
    fn problem(&mut self, field: &str, needle: &str, anchor: Option<&str>, reason: String) {
        let (line, column) = locate(self.text, needle, anchor);
        self.problems.push(Problem {
            path: self.path.to_path_buf(),
            line,
            column,
            field: field.to_string(),
            reason,
        });
    }
}

/// Line and column (1-based) of `needle` in `text`, searching after `anchor` when it is found.
fn locate(text: &str, needle: &str, anchor: Option<&str>) -> (Option<usize>, Option<usize>) {
    let from = anchor
        .and_then(|a| text.find(&format!("id: {a}")))
        .unwrap_or(0);
    let needle = needle.lines().next().unwrap_or("");
    if needle.is_empty() {
        return (None, None);
    }
    let Some(offset) = text[from..].find(needle).map(|o| o + from) else {
        return (None, None);
    };
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = offset - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    (Some(line), Some(column))
}

/// Enterprise or ICS, from an ATT&CK technique id; None when it is not one.
pub fn technique_kind(id: &str) -> Option<&'static str> {
    let rest = id.strip_prefix('T')?;
    let (main, sub) = match rest.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(main, 4) || sub.is_some_and(|s| !digits(s, 3)) {
        return None;
    }
    Some(if main.starts_with("08") {
        "ics"
    } else {
        "enterprise"
    })
}

/// `90s`, `15m`, `1h30m`, `2d`, `500ms` or `HH:MM[:SS]`, in milliseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.contains(':') {
        let parts: Vec<&str> = text.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return None;
        }
        let mut total = 0i64;
        for (part, factor) in parts.iter().zip([3_600_000i64, 60_000, 1000]) {
            let n: i64 = part.parse().ok()?;
            total = total.checked_add(n.checked_mul(factor)?)?;
        }
        return Some(total);
    }
    if text.is_empty() {
        return None;
    }
    // `1h30m`: each number with its unit is one term of the configuration's spelling.
    let mut rest = text;
    let mut total = 0i64;
    while !rest.is_empty() {
        let unit = rest.find(|c: char| !c.is_ascii_digit())?;
        let end = rest[unit..]
            .find(|c: char| c.is_ascii_digit())
            .map_or(rest.len(), |e| e + unit);
        total = total.checked_add(onesec_pipeline::parse_duration_ms(&rest[..end])?)?;
        rest = &rest[end..];
    }
    Some(total)
}

/// Milliseconds as `1h30m`, `5m`, `45s`, `0s`.
pub fn format_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let mut s = ms.unsigned_abs() / 1000;
    let mut out = String::new();
    for (unit, size) in [("h", 3600), ("m", 60)] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    format!("{sign}{out}")
}

/// `HH:MM` as minutes after midnight.
pub fn parse_clock_time(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_spelling() {
        assert_eq!(parse_duration("90s"), Some(90_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("01:30:00"), Some(5_400_000));
        assert_eq!(parse_duration("14:10"), Some(51_000_000));
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(45_000), "45s");
    }

    #[test]
    fn techniques_are_enterprise_or_ics() {
        assert_eq!(technique_kind("T1200"), Some("enterprise"));
        assert_eq!(technique_kind("T1052.001"), Some("enterprise"));
        assert_eq!(technique_kind("T0812"), Some("ics"));
        assert_eq!(technique_kind("T12"), None);
        assert_eq!(technique_kind("1200"), None);
        assert_eq!(technique_kind("T1200.1"), None);
    }

    #[test]
    fn a_problem_is_placed_after_its_inject() {
        let text = "injects:\n  - id: a\n    at: 5m\n  - id: b\n    at: 5m\n";
        assert_eq!(locate(text, "5m", Some("b")), (Some(5), Some(9)));
        assert_eq!(locate(text, "nothing", None), (None, None));
    }
}
