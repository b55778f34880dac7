//! Exercise results: what a drill (`onesec drill run`) showed, kept as evidence that incident
//! response is tested (ISO/IEC 27001 5.24–5.26, 5.27 lessons learned; NIS2 Art. 21(2)(b) and
//! (f)). A drill runs in a scratch data folder of its own; its summary is recorded with the
//! service (`POST /api/v1/exercises`) so the unified report of the period lists it.

use serde::{Deserialize, Serialize};

/// The summary of one drill run, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExerciseResult {
    /// Identifies the run (the drill names it from its scenario and start); recording the same
    /// run again replaces it.
    pub run_id: String,
    /// Scenario name.
    pub scenario: String,
    /// When the run finished (UTC ms, wall clock): the date the report files it under.
    pub ran_ms: i64,
    /// The scenario time the run covered (UTC ms).
    pub scenario_from_ms: i64,
    /// End of the covered scenario time (UTC ms).
    pub scenario_to_ms: i64,
    /// The drill's overall verdict.
    pub passed: bool,
    /// Injects that expected a detection.
    pub injects_scored: u32,
    /// Expected detections.
    pub detections_expected: u32,
    /// Expected detections that happened within the time allowed.
    pub detections_on_time: u32,
    /// Expected detections that never happened.
    pub detections_missed: u32,
    /// Alerts the background traffic alone raised.
    pub false_positives: u32,
    /// Mean time from inject to detection over the detected ones (ms).
    pub mean_detect_ms: Option<i64>,
    /// Slowest detection (ms).
    pub slowest_detect_ms: Option<i64>,
    /// Playbook tasks done on time, over all teams.
    pub tasks_on_time: u32,
    /// Playbook tasks expected, over all teams.
    pub tasks_expected: u32,
    /// Teams that took part.
    pub teams: Vec<String>,
    /// What to work on next (the drill's improvement list).
    pub improvements: Vec<String>,
    /// Defects of the run itself (refused records, unmarked events, actions performed).
    pub problems: Vec<String>,
    /// Who recorded it (filled by the service from the caller).
    #[serde(default)]
    pub recorded_by: String,
    /// When it was recorded (UTC ms, filled by the service).
    #[serde(default)]
    pub recorded_ms: i64,
}

/// Why a result cannot be recorded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("exercise result {run_id:?}: {reason}")]
pub struct InvalidResult {
    /// The run.
    pub run_id: String,
    /// What is wrong.
    pub reason: String,
}

impl ExerciseResult {
    /// Checks that the counts and times hold together, so a report never shows a result such
    /// as "5 of 3 detected on time".
    pub fn validate(&self) -> Result<(), InvalidResult> {
        let fail = |reason: String| {
            Err(InvalidResult {
                run_id: self.run_id.clone(),
                reason,
            })
        };
        if self.run_id.trim().is_empty() || self.scenario.trim().is_empty() {
            return fail("run_id and scenario must not be empty".into());
        }
        if self.scenario_to_ms < self.scenario_from_ms {
            return fail("scenario_to_ms is before scenario_from_ms".into());
        }
        if self.detections_on_time + self.detections_missed > self.detections_expected {
            return fail(format!(
                "{} on time + {} missed is more than the {} expected detections",
                self.detections_on_time, self.detections_missed, self.detections_expected
            ));
        }
        if self.tasks_on_time > self.tasks_expected {
            return fail(format!(
                "{} tasks on time of only {} expected",
                self.tasks_on_time, self.tasks_expected
            ));
        }
        let negative = [self.mean_detect_ms, self.slowest_detect_ms]
            .into_iter()
            .flatten()
            .any(|ms| ms < 0);
        if negative {
            return fail("detection times must not be negative".into());
        }
        Ok(())
    }

    /// "3 of 4" detections on time, for tables.
    pub fn detections_text(&self) -> String {
        format!(
            "{} of {}",
            self.detections_on_time, self.detections_expected
        )
    }

    /// "5 of 6" tasks on time, for tables.
    pub fn tasks_text(&self) -> String {
        format!("{} of {}", self.tasks_on_time, self.tasks_expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> ExerciseResult {
        ExerciseResult {
            run_id: "badge-cloning-1764158400".into(),
            scenario: "badge cloning into the server room".into(),
            ran_ms: 1_764_158_400_000,
            scenario_from_ms: 1_746_403_200_000,
            scenario_to_ms: 1_746_410_400_000,
            passed: false,
            injects_scored: 3,
            detections_expected: 4,
            detections_on_time: 3,
            detections_missed: 1,
            false_positives: 0,
            mean_detect_ms: Some(45_000),
            slowest_detect_ms: Some(120_000),
            tasks_on_time: 5,
            tasks_expected: 6,
            teams: vec!["soc".into(), "guards".into()],
            improvements: vec!["tune the USB rule".into()],
            problems: vec![],
            recorded_by: String::new(),
            recorded_ms: 0,
        }
    }

    #[test]
    fn a_consistent_result_is_valid() {
        assert_eq!(sample().validate(), Ok(()));
        assert_eq!(sample().detections_text(), "3 of 4");
        assert_eq!(sample().tasks_text(), "5 of 6");
    }

    #[test]
    fn counts_that_do_not_add_up_are_refused() {
        let mut result = sample();
        result.detections_on_time = 4;
        let error = result.validate().unwrap_err();
        assert!(error.reason.contains("4 on time + 1 missed"), "{error}");

        let mut result = sample();
        result.tasks_on_time = 7;
        assert!(result.validate().is_err());

        let mut result = sample();
        result.scenario_to_ms = result.scenario_from_ms - 1;
        assert!(result.validate().is_err());

        let mut result = sample();
        result.run_id = " ".into();
        assert!(result.validate().is_err());

        let mut result = sample();
        result.mean_detect_ms = Some(-1);
        assert!(result.validate().is_err());
    }
}
