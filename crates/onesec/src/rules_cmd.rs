//! `onesec rules check`: which rules load and which are refused, and why.

use clap::{Args, Subcommand};
use onesec_pipeline::load_rules;
use std::path::PathBuf;
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
}

/// Runs the subcommand; exit code 1 when a rule was refused.
pub fn run(args: RulesArgs) -> anyhow::Result<ExitCode> {
    let RulesCommand::Check {
        paths,
        no_builtin,
        verbose,
    } = args.command;
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
        println!(
            "REFUSED  {}: {}: {}",
            rejected.source, rejected.title, rejected.reason
        );
    }
    println!(
        "{} rule(s) loaded, {} refused",
        report.loaded.len(),
        report.rejected.len()
    );
    Ok(if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
