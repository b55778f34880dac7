//! A run's summary as the service records it (`onesec_compliance::ExerciseResult`): the
//! figures a compliance report lists per drill, from its [`Score`] and [`RunRecord`].

use crate::record::RunRecord;
use crate::score::Score;
pub use onesec_compliance::ExerciseResult;

/// The summary of a scored run. `run_id` names the run (the CLI uses the run folder's name);
/// `ran_ms` is when it finished.
pub fn exercise_result(
    score: &Score,
    record: &RunRecord,
    run_id: &str,
    ran_ms: i64,
) -> ExerciseResult {
    let detections: Vec<_> = score
        .injects
        .iter()
        .filter(|inject| inject.scored)
        .flat_map(|inject| &inject.detections)
        .collect();
    let times: Vec<i64> = detections
        .iter()
        .filter_map(|d| d.detect_ms)
        .map(|ms| ms.max(0))
        .collect();
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    ExerciseResult {
        run_id: run_id.to_string(),
        scenario: score.scenario.clone(),
        ran_ms,
        scenario_from_ms: record.start_ms,
        scenario_to_ms: record.end_ms.max(record.start_ms),
        passed: score.passed,
        injects_scored: count(score.injects.iter().filter(|i| i.scored).count()),
        detections_expected: count(detections.len()),
        detections_on_time: count(detections.iter().filter(|d| d.on_time).count()),
        detections_missed: count(detections.iter().filter(|d| d.detect_ms.is_none()).count()),
        false_positives: count(score.false_positives.len()),
        mean_detect_ms: mean(&times),
        slowest_detect_ms: times.iter().copied().max(),
        tasks_on_time: count(score.teams.iter().map(|t| t.on_time).sum()),
        tasks_expected: count(score.teams.iter().map(|t| t.tasks).sum()),
        teams: score.teams.iter().map(|t| t.team.clone()).collect(),
        improvements: score.improvements.clone(),
        problems: score.problems.clone(),
        recorded_by: String::new(),
        recorded_ms: 0,
    }
}

fn mean(values: &[i64]) -> Option<i64> {
    let count = i64::try_from(values.len()).ok().filter(|n| *n > 0)?;
    Some(values.iter().sum::<i64>() / count)
}
