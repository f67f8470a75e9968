//! `migrate` and `clearsessions`: the operator's chores, named as in Django.

use sessionkit::EngineKind;

use crate::{Failure, config};

pub const MIGRATE_EXAMPLES: &str = "\
Examples:
  sessionkit migrate
  SESSION_DB_URL=postgres://app@db/app sessionkit migrate

Creates the table named by SESSION_DB_TABLE (default sessionkit_session) and its index if they
are missing; running it again changes nothing. The signed_cookies engine has nothing to create.";

const CLEAR_EXAMPLES: &str = "\
Examples:
  sessionkit clearsessions
  sessionkit clearsessions --batch 1000      # shorter locks on a busy table

  # crontab: every night at 03:17
  17 3 * * * cd /srv/app && sessionkit clearsessions

Server-side stores keep expired sessions until they are cleared; the signed_cookies engine
stores nothing, so there is nothing to delete.";

/// Arguments of `sessionkit clearsessions`.
#[derive(clap::Args)]
#[command(after_help = CLEAR_EXAMPLES)]
pub struct ClearArgs {
    /// Delete at most N sessions per statement, so a big clean-up never holds a long lock.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    batch: usize,
}

/// `sessionkit migrate`.
pub async fn migrate() -> Result<(), Failure> {
    let sessions = config::open().await?;
    sessions.engine().migrate().await.map_err(Failure::other)?;
    let settings = sessions.settings();
    match settings.engine {
        EngineKind::Db => println!(
            "table {} is ready (created if it was missing)",
            settings.db_table
        ),
        EngineKind::SignedCookies => {
            println!("nothing to migrate: the signed_cookies engine stores nothing on the server")
        }
    }
    Ok(())
}

/// `sessionkit clearsessions`.
pub async fn clear_sessions(args: ClearArgs) -> Result<(), Failure> {
    let sessions = config::open().await?;
    let deleted = sessions
        .engine()
        .clear_expired(args.batch)
        .await
        .map_err(Failure::other)?;
    println!("deleted {deleted} expired sessions");
    Ok(())
}
