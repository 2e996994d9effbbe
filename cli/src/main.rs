//! `turnout`: the demo, the simulator, and operator commands.

mod demo;
mod ops;
mod sim_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// In-process blue/green, canary and fallback routing for OpenAI-compatible APIs.
#[derive(Debug, Parser)]
#[command(name = "turnout", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A live progressive rollout on two embedded simulators: an automatic rollback, then a
    /// promotion. No keys needed.
    Demo,
    /// Run an OpenAI-compatible simulator with fault injection on loopback.
    Sim(sim_cmd::SimArgs),
    #[command(flatten)]
    Op(ops::Op),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("turnout: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo => demo::run().await,
            Command::Sim(args) => sim_cmd::run(args).await,
            Command::Op(op) => ops::run(op).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("turnout: {e}");
            ExitCode::FAILURE
        }
    }
}
