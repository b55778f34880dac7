//! Exercises that train the IT SOC and physical security together, and the load generator.
//!
//! A scenario (`docs/drills.md`) is a YAML file: a site and population (a directory folder or
//! inline files), a background traffic profile (a working day's rhythm of doors, logins, VPN,
//! camera motion and flows) and timed **injects** — records in the public input formats (syslog,
//! CEF, Windows JSON, ONVIF, Frigate, access CSV, SIA) — each with the ATT&CK techniques it
//! represents and the detections, team and response times expected.
//!
//! ```text
//! Scenario::load ─► runner::run (real pipeline, exercise mode, facilitator clock)
//!                      └─► RunRecord ─► score::score ─► report::{html, json}
//! generator::Population ─► background records (also the benchmark workload)
//! ```
//!
//! [`runner::run`] starts a [`onesec_pipeline::Pipeline`] in its own data folder with
//! `[response] exercise` set, marks every event `exercise = true`, opens every case with the
//! category `exercise`, and walks scenario time on a [`clock::FacilitatorClock`] that the
//! response side reads too (as fast as possible, accelerated or real time; pausable).

pub mod clock;
pub mod generator;
pub mod inject;
pub mod record;
pub mod report;
pub mod result;
pub mod runner;
pub mod scenario;
pub mod score;

pub use clock::{FacilitatorClock, Pace, PauseControl};
pub use record::RunRecord;
pub use result::exercise_result;
pub use runner::{RunError, RunOptions, run, run_observed};
pub use scenario::{Checked, Scenario, ScenarioError};
pub use score::{Score, score};
