//! `migrate` and `clearsessions`: the operator's chores, named as in Django.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use sessionkit::EngineKind;
use sessionkit::engine::clear_expired;

use crate::{Failure, config};

pub const MIGRATE_EXAMPLES: &str = "\
Examples:
  sessionkit migrate
  SESSION_DB_URL=postgres://app@db/app sessionkit migrate

Creates the table named by SESSION_DB_TABLE (default sessionkit_session) and its index if they
are missing; running it again changes nothing. The cookie engines have nothing to create.";

const CLEAR_EXAMPLES: &str = "\
Examples:
  sessionkit clearsessions
  sessionkit clearsessions --batch 1000      # shorter locks on a busy table

  # crontab: every night at 03:17
  17 3 * * * cd /srv/app && sessionkit clearsessions

Server-side stores keep expired sessions until they are cleared; each batch is a short
statement of its own, so the site keeps working during a long clean-up. On a terminal a
running count is shown. Cookie engines and Redis expire sessions by themselves.";

/// Arguments of `sessionkit clearsessions`.
#[derive(clap::Args)]
#[command(after_help = CLEAR_EXAMPLES)]
pub struct ClearArgs {
    /// Delete at most N sessions per statement. Statements start small and grow while each
    /// takes under 0.1 s, so a big clean-up is fast and never holds a long lock.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    batch: usize,
}

/// `sessionkit migrate`.
pub async fn migrate() -> Result<(), Failure> {
    let sessions = config::open().await?;
    sessions.engine().migrate().await.map_err(Failure::other)?;
    let settings = sessions.settings();
    match settings.engine {
        EngineKind::Db | EngineKind::CachedDb => println!(
            "table {} is ready (created if it was missing)",
            settings.db_table
        ),
        other => println!("nothing to migrate: the {other} engine needs no schema"),
    }
    Ok(())
}

/// `sessionkit clearsessions`.
pub async fn clear_sessions(args: ClearArgs) -> Result<(), Failure> {
    let sessions = config::open_existing().await?;
    let started = Instant::now();
    let progress = Progress::new("deleting expired sessions");
    let deleted = clear_expired(sessions.engine().as_ref(), args.batch, |n| {
        progress.show(n, started.elapsed())
    })
    .await
    .map_err(Failure::other)?;
    progress.finish();
    println!(
        "deleted {deleted} expired sessions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A one-line running count on a terminal; silent otherwise (cron mails stay short).
pub struct Progress {
    on_terminal: bool,
    /// What is being counted, e.g. "deleting expired sessions".
    doing: &'static str,
}

impl Progress {
    pub fn new(doing: &'static str) -> Self {
        Progress {
            on_terminal: std::io::stderr().is_terminal(),
            doing,
        }
    }

    pub fn show(&self, done: u64, elapsed: Duration) {
        if self.on_terminal {
            let rate = done as f64 / elapsed.as_secs_f64().max(1e-3);
            eprint!("\r\x1b[2K{}: {done} ({rate:.0}/s)", self.doing);
        }
    }

    pub fn finish(&self) {
        if self.on_terminal {
            eprintln!();
        }
    }
}
