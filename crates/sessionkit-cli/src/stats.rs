//! `sessionkit stats`: what the configured store holds — live sessions, logged-in versus
//! anonymous, the size of their data, and who holds the most — read page by page through the
//! engine's export, so it works on every server store and never loads the whole store at once.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;
use sessionkit::django::json::to_python_json;
use sessionkit::engine::{ExportPage, user_of};

use crate::{Failure, config};

const STATS_EXAMPLES: &str = "\
Examples:
  sessionkit stats                 # a summary of the store the settings select
  sessionkit stats --json | jq .   # the same, for scripts

Expired sessions still stored are counted apart; they go with `sessionkit clearsessions` or
`serve --expire-every`. Sizes are those of the session data as JSON, as Django stores it before signing. Users are
those of _auth_user_id; only their ids are shown. signed_cookies and encrypted_cookies keep
sessions in browsers, so they have nothing to count.";

/// Arguments of `sessionkit stats`.
#[derive(clap::Args)]
#[command(after_help = STATS_EXAMPLES)]
pub struct StatsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// The summary `stats` prints.
#[derive(Debug, Default, Serialize, PartialEq)]
struct Stats {
    /// The engine counted.
    engine: &'static str,
    /// Live (unexpired) sessions.
    live: u64,
    /// Live sessions with a user (`_auth_user_id`).
    logged_in: u64,
    /// Live sessions without one.
    anonymous: u64,
    /// Live records that could not be read (bad signature, corrupted data).
    unreadable: u64,
    /// Expired sessions still stored, waiting for `clearsessions` or the background expiry;
    /// `null` where the store cannot tell (Redis and other stores that expire by themselves).
    expired_present: Option<u64>,
    /// Percentiles of the data's JSON size in bytes: p50, p90, p99, max.
    size_bytes: Percentiles,
    /// The ten users with the most live sessions, most first.
    top_users: Vec<UserCount>,
    /// How long counting took, in seconds.
    seconds: f64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
struct Percentiles {
    p50: usize,
    p90: usize,
    p99: usize,
    max: usize,
}

#[derive(Debug, Serialize, PartialEq)]
struct UserCount {
    user_id: String,
    sessions: u64,
}

/// Sessions asked of the store per page.
const PAGE: usize = 1_000;

/// `sessionkit stats`.
pub async fn run(args: StatsArgs) -> Result<(), Failure> {
    let sessions = config::open_existing().await?;
    let engine = sessions.engine();
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut cursor = None;
    loop {
        let page = engine.export(cursor, PAGE).await.map_err(Failure::other)?;
        cursor = page.next.clone();
        tally.add(page);
        if cursor.is_none() {
            break;
        }
    }
    let expired_present = engine.count_expired().await.map_err(Failure::other)?;
    let stats = Stats {
        expired_present,
        ..tally.finish(engine.name(), started.elapsed().as_secs_f64())
    };
    if args.json {
        println!("{}", serde_json::to_string(&stats).map_err(Failure::other)?);
    } else {
        print_table(&stats);
    }
    Ok(())
}

/// What the pages seen so far hold.
#[derive(Default)]
struct Tally {
    sizes: Vec<usize>,
    per_user: HashMap<String, u64>,
    anonymous: u64,
    unreadable: u64,
}

impl Tally {
    fn add(&mut self, page: ExportPage) {
        self.unreadable += page.unreadable;
        for session in page.sessions {
            self.sizes.push(to_python_json(&session.data).len());
            match user_of(&session.data) {
                Some(user) => *self.per_user.entry(user).or_default() += 1,
                None => self.anonymous += 1,
            }
        }
    }

    fn finish(mut self, engine: &'static str, seconds: f64) -> Stats {
        self.sizes.sort_unstable();
        let at = |fraction: f64| -> usize {
            let last = self.sizes.len().saturating_sub(1);
            let index = ((last as f64) * fraction).round() as usize;
            self.sizes.get(index).copied().unwrap_or(0)
        };
        let mut top_users: Vec<UserCount> = self
            .per_user
            .iter()
            .map(|(user_id, sessions)| UserCount {
                user_id: user_id.clone(),
                sessions: *sessions,
            })
            .collect();
        top_users.sort_by(|a, b| {
            b.sessions
                .cmp(&a.sessions)
                .then_with(|| a.user_id.cmp(&b.user_id))
        });
        top_users.truncate(10);
        let logged_in = self.per_user.values().sum();
        Stats {
            engine,
            live: logged_in + self.anonymous,
            logged_in,
            anonymous: self.anonymous,
            unreadable: self.unreadable,
            expired_present: None,
            size_bytes: Percentiles {
                p50: at(0.5),
                p90: at(0.9),
                p99: at(0.99),
                max: self.sizes.last().copied().unwrap_or(0),
            },
            top_users,
            seconds,
        }
    }
}

fn print_table(stats: &Stats) {
    let Percentiles { p50, p90, p99, max } = stats.size_bytes;
    println!("engine          {}", stats.engine);
    println!("live sessions   {}", stats.live);
    println!("  logged in     {}", stats.logged_in);
    println!("  anonymous     {}", stats.anonymous);
    println!("unreadable      {}", stats.unreadable);
    if let Some(expired) = stats.expired_present {
        println!("expired, stored {expired}");
    }
    println!("data bytes      p50 {p50}  p90 {p90}  p99 {p99}  max {max}");
    if !stats.top_users.is_empty() {
        println!("most sessions   (user id: sessions)");
        for user in &stats.top_users {
            println!("  {}: {}", user.user_id, user.sessions);
        }
    }
    println!("counted in {:.2} s", stats.seconds);
}
