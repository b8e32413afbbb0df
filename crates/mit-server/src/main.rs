//! `mit`: the Mit server binary. Parses the command line and configuration, then hands over to
//! the `mit_server` library.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mit_server::config::{Config, Env};

/// Under load the JSON layer allocates for every field it writes; with glibc's allocator,
/// malloc and free were about a fifth of the server's CPU on a list of meetings (perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Mit: meetings with a WebRTC SFU, reviewed minutes, and versioned Ground Truth.
#[derive(Parser)]
#[command(name = "mit", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, the realtime sockets and the media plane (configured by the environment and `.env`).
    Serve,
    /// Apply pending database migrations (`DATABASE_URL`) and exit.
    Migrate,
    /// Print the OpenAPI document the server serves (the contract), without a database.
    Openapi {
        /// Print instead the document derived from the generated routes (for drift checks).
        #[arg(long)]
        routes: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi { routes } = cli.command {
        let document = if routes { mit_server::routes_openapi_json() } else { mit_server::served_openapi_json().to_string() };
        // A closed pipe (`mit openapi | head`) is not an error worth a panic.
        let _ = writeln!(std::io::stdout(), "{document}");
        return ExitCode::SUCCESS;
    }
    let dotenv = dotenvy::dotenv();
    let config = match Config::from_env(&Env::from_process()) {
        Ok(config) => config,
        Err(error) if matches!(cli.command, Command::Migrate) && error.variable != "DATABASE_URL" => {
            return run(migrate_only());
        }
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    mit_server::telemetry::init_logs(config.debug, config.json_logs);
    if let Ok(path) = dotenv {
        tracing::info!(path = %path.display(), "loaded .env");
    }
    match cli.command {
        Command::Serve => run(async move {
            let server = mit_server::start(config).await?;
            server.run_until_signalled().await;
            Ok(())
        }),
        Command::Migrate => run(async move { report_migrations(mit_server::migrate(&config.database_url).await?) }),
        Command::Openapi { .. } => ExitCode::SUCCESS,
    }
}

/// `mit migrate` needs only `DATABASE_URL`, not the whole server configuration.
async fn migrate_only() -> Result<(), mit_server::StartError> {
    mit_server::telemetry::init_logs(false, false);
    let url = std::env::var("DATABASE_URL").unwrap_or_default();
    report_migrations(mit_server::migrate(&url).await?)
}

fn report_migrations(applied: Vec<String>) -> Result<(), mit_server::StartError> {
    if applied.is_empty() {
        println!("the database is up to date");
    }
    for version in applied {
        println!("applied {version}");
    }
    Ok(())
}

fn run(work: impl std::future::Future<Output = Result<(), mit_server::StartError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
