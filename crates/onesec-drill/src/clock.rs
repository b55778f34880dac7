//! The facilitator's clock: scenario time, which runs at real time, faster, or jumps from one
//! record to the next (as fast as possible), and which the facilitator can pause. The response
//! side of the pipeline reads it too, so SLA, task deadlines and acknowledgements are all in
//! scenario time and comparable with the injects.

use onesec_pipeline::response::Clock;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

/// How fast scenario time runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// No waiting: the clock jumps to each next record (CI, scoring a scenario quickly).
    AsFastAsPossible,
    /// Scenario seconds per wall-clock second (1 = real time).
    Factor(f64),
}

impl Pace {
    /// `max`/`fast`, `real`, or a factor such as `60` or `60x`.
    pub fn parse(text: &str) -> Option<Pace> {
        match text.trim() {
            "max" | "fast" | "asap" => Some(Pace::AsFastAsPossible),
            "real" | "realtime" | "1" | "1x" => Some(Pace::Factor(1.0)),
            other => {
                let factor: f64 = other.trim_end_matches('x').parse().ok()?;
                (factor.is_finite() && factor > 0.0).then_some(Pace::Factor(factor))
            }
        }
    }
}

#[derive(Debug)]
struct State {
    /// Scenario time at `anchor`.
    scenario_ms: i64,
    anchor: Instant,
    paused: bool,
}

/// Scenario time, paused and resumed by the facilitator.
#[derive(Debug)]
pub struct FacilitatorClock {
    pace: Pace,
    state: Mutex<State>,
}

impl FacilitatorClock {
    /// A clock standing at `start_ms`, running at `pace` (from now).
    pub fn new(start_ms: i64, pace: Pace) -> FacilitatorClock {
        FacilitatorClock {
            pace,
            state: Mutex::new(State {
                scenario_ms: start_ms,
                anchor: Instant::now(),
                paused: false,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How fast it runs.
    pub fn pace(&self) -> Pace {
        self.pace
    }

    fn read(&self, state: &State) -> i64 {
        match self.pace {
            Pace::Factor(f) if !state.paused => {
                let wall = state.anchor.elapsed().as_secs_f64() * 1000.0;
                state.scenario_ms + (wall * f) as i64
            }
            _ => state.scenario_ms,
        }
    }

    /// Moves an as-fast-as-possible clock forward to `ms` (never back; a running clock
    /// moves by itself and ignores this).
    pub fn advance_to(&self, ms: i64) {
        if self.pace != Pace::AsFastAsPossible {
            return;
        }
        let mut state = self.state();
        state.scenario_ms = state.scenario_ms.max(ms);
    }

    /// Stops scenario time.
    pub fn pause(&self) {
        let mut state = self.state();
        if !state.paused {
            state.scenario_ms = self.read(&state);
            state.paused = true;
        }
    }

    /// Starts scenario time again where it stopped.
    pub fn resume(&self) {
        let mut state = self.state();
        if state.paused {
            state.anchor = Instant::now();
            state.paused = false;
        }
    }

    /// Whether it is paused.
    pub fn is_paused(&self) -> bool {
        self.state().paused
    }
}

impl Clock for FacilitatorClock {
    fn now_ms(&self) -> i64 {
        let state = self.state();
        self.read(&state)
    }
}

/// How the facilitator pauses a run from outside: while the pause file exists, scenario time
/// stands still (`touch drill.pause`, `rm drill.pause`).
#[derive(Debug, Clone, Default)]
pub struct PauseControl {
    /// The file whose presence pauses the run.
    pub pause_file: Option<PathBuf>,
}

impl PauseControl {
    /// Pauses or resumes `clock` to match the pause file; true while paused.
    pub fn apply(&self, clock: &FacilitatorClock) -> bool {
        let Some(file) = &self.pause_file else {
            return false;
        };
        let paused = file.exists();
        match (paused, clock.is_paused()) {
            (true, false) => {
                tracing::info!(file = %file.display(), "drill paused by the facilitator");
                clock.pause();
            }
            (false, true) => {
                tracing::info!("drill resumed");
                clock.resume();
            }
            _ => {}
        }
        paused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_clock_stands_still_and_resumes_where_it_stopped() {
        let clock = FacilitatorClock::new(1_000, Pace::Factor(1000.0));
        std::thread::sleep(std::time::Duration::from_millis(5));
        clock.pause();
        let stopped = clock.now_ms();
        assert!(stopped >= 1_000 + 5_000, "{stopped}");
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now_ms(), stopped);
        clock.resume();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(clock.now_ms() > stopped);
    }

    #[test]
    fn an_as_fast_as_possible_clock_moves_only_forward_when_told() {
        let clock = FacilitatorClock::new(1_000, Pace::AsFastAsPossible);
        clock.advance_to(5_000);
        clock.advance_to(2_000);
        assert_eq!(clock.now_ms(), 5_000);
    }

    #[test]
    fn the_pause_file_pauses_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("drill.pause");
        let control = PauseControl {
            pause_file: Some(file.clone()),
        };
        let clock = FacilitatorClock::new(0, Pace::Factor(1.0));
        assert!(!control.apply(&clock));
        std::fs::write(&file, b"").unwrap();
        assert!(control.apply(&clock));
        assert!(clock.is_paused());
        std::fs::remove_file(&file).unwrap();
        assert!(!control.apply(&clock));
        assert!(!clock.is_paused());
    }

    #[test]
    fn paces_parse() {
        assert_eq!(Pace::parse("max"), Some(Pace::AsFastAsPossible));
        assert_eq!(Pace::parse("real"), Some(Pace::Factor(1.0)));
        assert_eq!(Pace::parse("60x"), Some(Pace::Factor(60.0)));
        assert_eq!(Pace::parse("0"), None);
        assert_eq!(Pace::parse("soon"), None);
    }
}
