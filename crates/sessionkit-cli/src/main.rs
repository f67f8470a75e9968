//! `sessionkit`: the command-line face of the sessionkit library.
//!
//! `serve` runs the demo store on the configured engine; `migrate` and `clearsessions` are the
//! operator's chores, as in Django; `copy-sessions` moves every session to another store;
//! `decode` and `encode` read and write session cookies (Django's signed format, or the
//! `encrypted_cookies` engine's), to inspect one or to make one for a test.
//!
//! Exit codes: 0 on success, 1 when the command failed, 2 for a bad setting or bad usage
//! (clap uses 2 for usage errors too), so scripts can tell "fix the configuration" apart.

mod config;
mod copy;
mod maintenance;
mod serve;
mod shop;
mod signed;
mod stats;

use std::fmt;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sessionkit::ConfigError;
use sessionkit::engine::OpenError;
use tracing_subscriber::EnvFilter;

const EXAMPLES: &str = "\
Examples:
  sessionkit serve                       # the demo store on http://localhost:8000/
  SESSION_ENGINE=signed_cookies sessionkit serve --addr 127.0.0.1:3000
  sessionkit migrate                     # create the session table
  sessionkit clearsessions               # from cron: delete expired sessions
  sessionkit copy-sessions --from 'sqlite://db.sqlite3?table=django_session' --to redis://localhost
  sessionkit decode --secret \"$SECRET_KEY\" \"$COOKIE\"

Settings (SESSION_ENGINE, SESSION_DB_URL, SECRET_KEY, ...) are read from environment variables
of those names, else from ./sessionkit.toml. Without a SECRET_KEY, serve, migrate,
clearsessions and copy-sessions use the one kept in ./sessionkit-secret.key, generating it on
first use.
Logs go to standard error; RUST_LOG filters them (default: info).";

/// Django-style sessions for Rust web apps: the demo store and the tools around it.
#[derive(Parser)]
#[command(name = "sessionkit", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the demo store over HTTP on the configured session engine.
    Serve(serve::Args),
    /// Create the engine's storage (the session table for `db`); safe to run again.
    #[command(after_help = maintenance::MIGRATE_EXAMPLES)]
    Migrate,
    /// Delete expired sessions from a server-side store (run it from cron).
    Clearsessions(maintenance::ClearArgs),
    /// Copy every live session from one store into another (e.g. Django's table to Redis).
    CopySessions(copy::CopyArgs),
    /// Verify a signed value (a signed_cookies cookie, or session_data) or decrypt an
    /// encrypted_cookies cookie, and print its JSON.
    Decode(signed::DecodeArgs),
    /// Sign a JSON object in Django's format (or seal it for encrypted_cookies), e.g. to make
    /// a session cookie for a test.
    Encode(signed::EncodeArgs),
    /// Show what the store holds: live sessions, logged in or not, data sizes, top users.
    Stats(stats::StatsArgs),
}

impl Command {
    /// The name the user typed, for error messages.
    fn name(&self) -> &'static str {
        match self {
            Command::Serve(_) => "serve",
            Command::Migrate => "migrate",
            Command::Clearsessions(_) => "clearsessions",
            Command::CopySessions(_) => "copy-sessions",
            Command::Decode(_) => "decode",
            Command::Encode(_) => "encode",
            Command::Stats(_) => "stats",
        }
    }
}

/// Why a command failed; the variant decides the exit code.
#[derive(Debug)]
enum Failure {
    /// A bad setting (exit code 2): the fix is in the configuration, not in a retry.
    Config(ConfigError),
    /// Anything else: bad input, an unreachable store, an I/O error (exit code 1).
    Other(String),
}

impl Failure {
    fn other(error: impl fmt::Display) -> Self {
        Failure::Other(error.to_string())
    }

    fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Config(_) => ExitCode::from(2),
            Failure::Other(_) => ExitCode::FAILURE,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Config(error) => error.fmt(f),
            Failure::Other(message) => f.write_str(message),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(error: ConfigError) -> Self {
        Failure::Config(error)
    }
}

impl From<OpenError> for Failure {
    fn from(error: OpenError) -> Self {
        match error {
            OpenError::Config(error) => Failure::Config(error),
            OpenError::Engine(error) => Failure::other(error),
            other => Failure::other(other),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let name = cli.command.name();
    let outcome = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Migrate => maintenance::migrate().await,
        Command::Clearsessions(args) => maintenance::clear_sessions(args).await,
        Command::CopySessions(args) => copy::copy_sessions(args).await,
        Command::Decode(args) => signed::decode(args),
        Command::Encode(args) => signed::encode(args),
        Command::Stats(args) => stats::run(args).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("sessionkit {name}: {failure}");
            failure.exit_code()
        }
    }
}

/// Logs go to standard error so that standard output carries only what a command prints
/// (`decode`'s JSON, `encode`'s value) and can be piped; colours only on a terminal. At
/// `RUST_LOG=sessionkit=debug` each request's `session` span and its `session_store` spans
/// are printed as they close, with their timings.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
