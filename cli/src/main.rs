//! `turnout`: the demo, the simulator, and operator commands.

/// `println!` for the commands' output, through [`out::line`].
macro_rules! say {
    () => {
        $crate::out::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}

mod checkpoint_cmd;
mod demo;
mod loadtest;
mod ops;
mod out;
mod pinned;
mod rollout_cmd;
mod sim_cmd;
mod smoke;
mod view;

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
    /// Check one side before traffic moves: models list, chat, stream, embedding (exit 0 all
    /// passed, 1 a check failed, 2 bad config).
    Smoke(smoke::SmokeArgs),
    /// Open-loop load at a constant arrival rate against one side, judged against thresholds
    /// (exit 0 ok, 1 a threshold breached, 2 bad usage).
    Loadtest(loadtest::LoadArgs),
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
            Command::Demo => demo::run().await.map(|()| ExitCode::SUCCESS),
            Command::Sim(args) => sim_cmd::run(args).await.map(|()| ExitCode::SUCCESS),
            Command::Smoke(args) => Ok(smoke::run(args).await),
            Command::Loadtest(args) => Ok(loadtest::run(args).await),
            Command::Op(op) => Ok(ops::run(op).await),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("turnout: {e}");
            ExitCode::FAILURE
        }
    }
}
