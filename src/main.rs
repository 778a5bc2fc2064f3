//! The `plex-sharing-exporter` binary: parse flags, set up logging, run a command.

use std::process::ExitCode;

use plex_sharing_exporter::app;
use plex_sharing_exporter::config::{self, Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

fn init_logging(cli: &Cli) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&cli.log_level).map_err(|e| anyhow::anyhow!("--log.level: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

fn main() -> ExitCode {
    plex_sharing_exporter::memory::limit_arenas();
    let cli = match config::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        // --help, --version, and help for a missing subcommand print as clap prints them.
        Err(e) if !e.use_stderr() || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            e.exit()
        }
        // Usage errors are one line, exit 2, like every other configuration error.
        Err(e) => {
            eprintln!("{}", config::one_line(&e));
            return ExitCode::from(2);
        }
    };
    if let Err(e) = init_logging(&cli) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Report(args) => {
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::new(stdout.lock());
                let r = app::run_report(args, &mut out).await;
                use std::io::Write;
                let flushed = out.flush();
                r.and(flushed.map_err(app::AppError::from))
            }
            Command::Serve(args) => app::run_serve(args).await,
            Command::Demo(args) => app::run_demo(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
