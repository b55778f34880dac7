//! `onesec rules check`: which rules load and which are refused, and why.
//! `onesec rules test`: runs rule files over a file of events and says what matched and why.

use clap::{Args, Subcommand};
use onesec_event::Event;
use onesec_pipeline::{EventRecord, load_rules};
use onesec_sigma::{
    Alert, Engine, EngineConfig, LoadOptions, Output, Record, RejectedRule, Rule, RuleKind, RuleSet,
};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `onesec rules` subcommands.
#[derive(Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Load rule folders (and the built-in pack) and report every rule the engine cannot run.
    Check {
        /// Rule files or folders.
        paths: Vec<PathBuf>,
        /// Leave the built-in converged pack out.
        #[arg(long)]
        no_builtin: bool,
        /// List every loaded rule too.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Run rule files over events (onesec event JSON, one per line) and print, per event,
    /// which rules matched and why, then the correlation alerts.
    Test {
        /// Rule files or folders, then the events file (last).
        #[arg(required = true, num_args = 2.., value_name = "RULE... EVENTS.jsonl")]
        paths: Vec<PathBuf>,
        /// Print events that matched nothing too.
        #[arg(long, short)]
        verbose: bool,
    },
}

/// Runs the subcommand; exit code 1 when a rule was refused (or, for `test`, an event line
/// could not be read).
pub fn run(args: RulesArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        RulesCommand::Check {
            paths,
            no_builtin,
            verbose,
        } => check(paths, no_builtin, verbose),
        RulesCommand::Test { paths, verbose } => test(&paths, verbose),
    }
}

fn check(paths: Vec<PathBuf>, no_builtin: bool, verbose: bool) -> anyhow::Result<ExitCode> {
    let config = onesec_pipeline::RulesConfig {
        builtin: !no_builtin,
        dirs: paths,
    };
    let (_, report) = load_rules(&config).map_err(anyhow::Error::msg)?;
    if verbose {
        for rule in &report.loaded {
            println!("ok       {rule}");
        }
    }
    for rejected in &report.rejected {
        let mut at = rejected.source.clone();
        if let Some(line) = rejected.line {
            at.push_str(&format!(":{line}"));
            if let Some(column) = rejected.column {
                at.push_str(&format!(":{column}"));
            }
        }
        println!("REFUSED  {at}: {}: {}", rejected.title, rejected.reason);
    }
    println!(
        "{} rule(s) loaded, {} refused",
        report.loaded.len(),
        report.rejected.len()
    );
    Ok(failed_if(!report.rejected.is_empty()))
}

fn failed_if(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn test(paths: &[PathBuf], verbose: bool) -> anyhow::Result<ExitCode> {
    let Some((events_path, rule_paths)) = paths.split_last() else {
        anyhow::bail!("usage: onesec rules test RULE... EVENTS.jsonl");
    };
    let rule_paths: Vec<&Path> = rule_paths.iter().map(PathBuf::as_path).collect();
    let (rules, report) = RuleSet::load_paths(&rule_paths, &LoadOptions::default());
    for r in &report.rejected {
        print_refused(r);
    }
    if rules.is_empty() {
        anyhow::bail!("no rule loaded from {}", display_list(&rule_paths));
    }
    let file = std::fs::File::open(events_path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", events_path.display()))?;
    let mut tester = Tester::new(rules);
    let mut bad_lines = 0usize;
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line_no = n + 1;
        let line = line.map_err(|e| anyhow::anyhow!("{}: {e}", events_path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(&line) {
            Ok(event) => tester.event(line_no, &event, verbose),
            Err(e) => {
                bad_lines += 1;
                eprintln!(
                    "{}:{line_no}: not an onesec event: {e}",
                    events_path.display()
                );
            }
        }
    }
    tester.finish();
    Ok(failed_if(!report.rejected.is_empty() || bad_lines > 0))
}

fn display_list(paths: &[&Path]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_refused(r: &RejectedRule) {
    println!(
        "REFUSED  {}: {}: {}",
        r.location(),
        r.title.as_deref().unwrap_or("(no title)"),
        r.reason
    );
}

/// Runs events through the engine and explains the matches.
struct Tester {
    engine: Engine,
    /// Detection rules (index into `engine.rules()`).
    detections: Vec<usize>,
    single_matches: usize,
    correlation_outputs: usize,
}

impl Tester {
    fn new(rules: RuleSet) -> Tester {
        // The default lateness lets the file be in any order; `finish` flushes the windows the
        // watermark has not closed, since the file is the whole input.
        let engine = Engine::new(rules, EngineConfig::default());
        let detections = engine
            .rules()
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind() == RuleKind::Detection)
            .map(|(i, _)| i)
            .collect();
        Tester {
            engine,
            detections,
            single_matches: 0,
            correlation_outputs: 0,
        }
    }

    /// One event (its id is its line number, so alerts list lines).
    fn event(&mut self, line: usize, event: &Event, verbose: bool) {
        let record = EventRecord(event);
        let matched: Vec<String> = self
            .detections
            .iter()
            .map(|&i| &self.engine.rules()[i])
            .filter(|r| in_logsource(r, &record) && r.is_match(&record) == Some(true))
            .map(|r| explain(r, &record))
            .collect();
        if matched.is_empty() && verbose {
            println!("line {line}: no rule matched");
        }
        for m in &matched {
            println!("line {line}: MATCH {m}");
        }
        self.single_matches += matched.len();
        let outputs = self.engine.process(line as u64, &record);
        self.print_correlations(&format!("line {line}"), &outputs);
    }

    /// Closes the fixed windows still open and prints the summary.
    fn finish(&mut self) {
        let outputs = self.engine.flush();
        self.print_correlations("end of input", &outputs);
        println!(
            "{} event(s), {} rule match(es), {} correlation output(s)",
            self.engine.stats().events,
            self.single_matches,
            self.correlation_outputs
        );
    }

    fn print_correlations(&mut self, when: &str, outputs: &[Output]) {
        for o in outputs {
            let text = match o {
                Output::Fired(a) if is_correlation(a) => format!("CORRELATION {}", describe(a)),
                Output::Updated(a) if is_correlation(a) => format!("UPDATED {}", describe(a)),
                Output::Withdrawn { alert_id } => format!("WITHDRAWN alert {alert_id}"),
                _ => continue,
            };
            self.correlation_outputs += 1;
            println!("{when}: {text}");
        }
    }
}

fn is_correlation(a: &Alert) -> bool {
    a.kind != onesec_sigma::AlertKind::Single
}

fn in_logsource(rule: &Rule, record: &dyn Record) -> bool {
    rule.meta
        .logsource
        .pairs()
        .all(|(k, v)| record.in_logsource(k, &v.to_ascii_lowercase()))
}

/// `id "title" because sel (Image, User), keywords`.
fn explain(rule: &Rule, record: &dyn Record) -> String {
    let hits: Vec<String> = rule
        .explain(record)
        .into_iter()
        .map(|h| {
            if h.keywords {
                format!("{} (keywords)", h.name)
            } else {
                format!("{} ({})", h.name, h.fields.join(", "))
            }
        })
        .collect();
    format!(
        "{} \"{}\" because {}",
        rule.meta.key(),
        rule.meta.title,
        if hits.is_empty() {
            "its condition holds with no search true (e.g. 'not ...')".to_string()
        } else {
            hits.join(", ")
        }
    )
}

/// `id "title" group user=bob events at lines 1, 2, 4`.
fn describe(a: &Alert) -> String {
    let group: Vec<String> = a.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let lines: Vec<String> = a.event_ids.iter().map(u64::to_string).collect();
    format!(
        "{} \"{}\" ({}) group [{}] events at lines {}",
        a.rule_id,
        a.title,
        match a.kind {
            onesec_sigma::AlertKind::Correlation(t) => t.as_str(),
            onesec_sigma::AlertKind::Single => "single",
        },
        group.join(", "),
        lines.join(", ")
    )
}
