//! HTTP load generator for the benchmark routes of docs/DESIGN.md §10.
//!
//! C clients, each a simulated browser with its own cookie jar and keep-alive connection, send
//! requests one after another for a fixed time (or request count), then report req/s, latency,
//! errors and lost updates. Modes:
//!
//! - `incr`: `GET /incr`; a client's last counter must equal its number of increments.
//! - `read`: one `GET /incr` per client before the clock starts, then `GET /read`, which must
//!   return that value.
//! - `login`: `POST /login` (a fresh key each time: the server deletes the previous session).
//! - `shared`: one session created before the clock starts, shared by all C clients, each
//!   sending the cookie last received by any of them; `GET /incr`; the final counter is
//!   compared with the total of increments, to expose lost updates under concurrency.
//!
//! Only loopback targets are accepted, and every run is bounded in time (≤ 600 s).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use sessionkit_bench::client::{Connection, CookieJar, Method, Response, Target};
use sessionkit_bench::report::{self, Latency, MARKDOWN_HEADER, Report, SharedCounter};

/// Longest run accepted, in seconds.
const MAX_DURATION_S: f64 = 600.0;
/// Most clients accepted.
const MAX_CLIENTS: usize = 4096;

const EXAMPLES: &str = "\
Examples:
  loadgen --url http://127.0.0.1:8000/bench --mode incr -c 64 --duration 10
  loadgen --mode shared -c 16 --requests 5000 --format markdown --label 'sessionkit memory'
  loadgen --markdown-header            # the table header the rows go under";

/// Load generator for the /bench/ routes (docs/DESIGN.md §10); loopback targets only.
#[derive(Parser)]
#[command(name = "loadgen", after_help = EXAMPLES)]
struct Cli {
    /// Base URL of the benchmark routes; requests go to <URL>/incr, <URL>/read, <URL>/login.
    #[arg(long, default_value = "http://127.0.0.1:8000/bench")]
    url: String,
    /// What each client does.
    #[arg(long, value_enum, default_value_t = Mode::Incr)]
    mode: Mode,
    /// Concurrent clients, each with its own connection (and its own cookie jar, except in
    /// `shared` mode).
    #[arg(short, long, default_value_t = 64)]
    clients: usize,
    /// How long to measure, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many requests in all, if that comes before --duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Threads for the load generator itself. It shares the machine with the server, so the
    /// fewer the better, as long as it keeps up.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Name of the target in the report.
    #[arg(long, default_value = "")]
    label: String,
    /// Do not check counters and bodies (for a target without sessions).
    #[arg(long)]
    no_verify: bool,
    /// Id of a server process whose CPU time to report (repeat for several processes).
    #[arg(long = "server-pid", value_name = "PID")]
    server_pids: Vec<u32>,
    /// Append the JSON report as one line to this file.
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,
    /// What to print on standard output.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Print the Markdown table header and exit.
    #[arg(long)]
    markdown_header: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Incr,
    Read,
    Login,
    Shared,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Incr => "incr",
            Mode::Read => "read",
            Mode::Login => "login",
            Mode::Shared => "shared",
        }
    }

    fn request(self) -> (Method, &'static str) {
        match self {
            Mode::Incr | Mode::Shared => (Method::Get, "/incr"),
            Mode::Read => (Method::Get, "/read"),
            Mode::Login => (Method::Post, "/login"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Json,
    Markdown,
}

/// Where a client keeps its cookies: its own jar, or the one all clients share.
#[derive(Clone)]
enum Jar {
    Own(CookieJar),
    Shared(Arc<Mutex<CookieJar>>),
}

impl Jar {
    fn header(&self) -> Option<Cow<'_, str>> {
        match self {
            Jar::Own(jar) => jar.header().map(Cow::Borrowed),
            Jar::Shared(jar) => jar
                .lock()
                .expect("jar lock")
                .header()
                .map(|h| h.to_owned().into()),
        }
    }

    fn store_all(&mut self, response: &Response) {
        match self {
            Jar::Own(jar) => jar.store_all(response),
            Jar::Shared(jar) => jar.lock().expect("jar lock").store_all(response),
        }
    }
}

/// One client: its connection, jar, and what it saw.
struct Client {
    connection: Connection,
    jar: Jar,
    /// The counter `/read` must return (read mode).
    expected_read: Option<u64>,
    latencies_us: Vec<u32>,
    requests: u64,
    errors: u64,
    increments: u64,
    last_counter: Option<u64>,
    first_error: Option<String>,
    /// Answers by status; `None` for a request that got no answer.
    statuses: BTreeMap<Option<u16>, u64>,
    /// When the first and the last failed request (no answer, or not a 2xx) ended.
    failures: Option<(Instant, Instant)>,
    /// Increments acknowledged and then lost (`incr`): the counter going back.
    acknowledged_lost: u64,
}

impl Client {
    fn new(target: Target, jar: Jar) -> Self {
        Client {
            connection: Connection::new(target),
            jar,
            expected_read: None,
            latencies_us: Vec::new(),
            requests: 0,
            errors: 0,
            increments: 0,
            last_counter: None,
            first_error: None,
            statuses: BTreeMap::new(),
            failures: None,
            acknowledged_lost: 0,
        }
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }

    /// Counts the answer's `status` (`None`: no answer) and, if it is a failure, when it came.
    fn answered(&mut self, status: Option<u16>) {
        *self.statuses.entry(status).or_default() += 1;
        if !status.is_some_and(|status| (200..300).contains(&status)) {
            let now = Instant::now();
            let (first, _) = self.failures.unwrap_or((now, now));
            self.failures = Some((first, now));
        }
    }

    /// One request with the jar's cookies; the jar takes the response's cookies.
    async fn send(&mut self, method: Method, path: &str) -> Result<(Response, u32), String> {
        let cookie = self.jar.header();
        let started = Instant::now();
        let response = self
            .connection
            .send(method, path, cookie.as_deref())
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        self.jar.store_all(&response);
        Ok((response, micros))
    }

    /// Measured requests until `deadline`, or until `budget` runs out.
    async fn run(
        mut self,
        mode: Mode,
        verify: bool,
        deadline: Instant,
        budget: Option<Arc<AtomicU64>>,
    ) -> Self {
        let (method, path) = mode.request();
        while Instant::now() < deadline {
            // Take one request from the budget; none left (the count never wraps) ends the run.
            let exhausted = budget.as_ref().is_some_and(|left| {
                left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_err()
            });
            if exhausted {
                break;
            }
            self.requests += 1;
            let (response, micros) = match self.send(method, path).await {
                Ok(answered) => answered,
                Err(error) => {
                    self.requests -= 1;
                    self.answered(None);
                    self.error(error);
                    continue;
                }
            };
            self.answered(Some(response.status));
            self.latencies_us.push(micros);
            if !(200..300).contains(&response.status) {
                self.error(format!("{path}: status {}", response.status));
                continue;
            }
            if !verify {
                continue;
            }
            let counter = parse_counter(&response.body);
            match mode {
                Mode::Incr | Mode::Shared => match counter {
                    Some(n) => {
                        if let Some(last) = self.last_counter.filter(|&last| n <= last) {
                            self.acknowledged_lost += last + 1 - n;
                        }
                        self.increments += 1;
                        self.last_counter = Some(n);
                    }
                    None => self.error(format!("{path}: body is not a counter")),
                },
                Mode::Read if counter != self.expected_read => self.error(format!(
                    "{path}: read {counter:?}, expected {:?}",
                    self.expected_read
                )),
                Mode::Read => {}
                Mode::Login if response.set_cookies.is_empty() => {
                    self.error(format!("{path}: no Set-Cookie"));
                }
                Mode::Login => {}
            }
        }
        self
    }
}

fn parse_counter(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body).ok()?.trim().parse().ok()
}

/// Creates the session a client (or all clients, in `shared` mode) starts from, before the
/// clock starts; returns the counter it holds.
async fn prepare(client: &mut Client, verify: bool) -> Result<u64, String> {
    let (response, _) = client.send(Method::Get, "/incr").await?;
    if !(200..300).contains(&response.status) {
        return Err(format!("/incr: status {}", response.status));
    }
    match parse_counter(&response.body) {
        Some(n) => Ok(n),
        None if !verify => Ok(0),
        None => Err("/incr: body is not a counter".to_owned()),
    }
}

fn server_cpu(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter()
        .map(|&pid| report::cpu_seconds(Some(pid)).ok())
        .sum()
}

/// One measured run: clients set up per mode, the warm-up, the timed window, then the checks
/// of what the server kept.
// Long, as a script is: the phases of one run in the order they happen, each short.
async fn measure(cli: &Cli, target: Target) -> Result<Report, String> {
    let verify = !cli.no_verify;
    let shared_jar = Arc::new(Mutex::new(CookieJar::default()));
    let mut clients: Vec<Client> = (0..cli.clients)
        .map(|_| {
            let jar = match cli.mode {
                Mode::Shared => Jar::Shared(shared_jar.clone()),
                _ => Jar::Own(CookieJar::default()),
            };
            Client::new(target.clone(), jar)
        })
        .collect();

    let mut shared_start = None;
    match cli.mode {
        Mode::Read => {
            let tasks: Vec<_> = clients
                .into_iter()
                .map(|mut client| {
                    tokio::spawn(async move {
                        let counter = prepare(&mut client, verify).await;
                        (client, counter)
                    })
                })
                .collect();
            clients = Vec::with_capacity(tasks.len());
            for task in tasks {
                let (mut client, counter) =
                    task.await.map_err(|e| format!("a client panicked: {e}"))?;
                client.expected_read = Some(counter?);
                clients.push(client);
            }
        }
        Mode::Shared => shared_start = Some(prepare(&mut clients[0], verify).await?),
        Mode::Incr | Mode::Login => {}
    }

    let budget = cli.requests.map(|n| Arc::new(AtomicU64::new(n)));
    let client_cpu_before = report::cpu_seconds(None).unwrap_or(0.0);
    let server_cpu_before = server_cpu(&cli.server_pids);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(cli.duration);
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| tokio::spawn(c.run(cli.mode, verify, deadline, budget.clone())))
        .collect();
    let mut clients = Vec::with_capacity(tasks.len());
    for task in tasks {
        clients.push(task.await.map_err(|e| format!("a client panicked: {e}"))?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let client_cpu_s = report::cpu_seconds(None).unwrap_or(0.0) - client_cpu_before;
    let server_cpu_s = server_cpu(&cli.server_pids)
        .zip(server_cpu_before)
        .map(|(after, before)| after - before);

    let requests: u64 = clients.iter().map(|c| c.requests).sum();
    let errors: u64 = clients.iter().map(|c| c.errors).sum();
    let first_error = clients.iter().find_map(|c| c.first_error.clone());
    let connections = clients.iter().map(|c| c.connection.connects).sum();
    let mut latencies: Vec<u32> = clients
        .iter_mut()
        .flat_map(|c| std::mem::take(&mut c.latencies_us))
        .collect();

    let (mut lost_updates, mut clients_with_lost_updates, mut shared_counter) = (None, None, None);
    let mut acknowledged_lost = None;
    if verify {
        match cli.mode {
            Mode::Incr => {
                acknowledged_lost = Some(lost_since_acknowledged(&mut clients).await?);
                let shortfalls: Vec<u64> = clients
                    .iter()
                    .map(|c| c.increments.abs_diff(c.last_counter.unwrap_or(0)))
                    .collect();
                lost_updates = Some(shortfalls.iter().sum());
                clients_with_lost_updates = Some(shortfalls.iter().filter(|&&s| s > 0).count());
            }
            Mode::Shared => {
                let start = shared_start.unwrap_or(0);
                let expected = start + clients.iter().map(|c| c.increments).sum::<u64>();
                let reader = &mut clients[0];
                let (response, _) = reader.send(Method::Get, "/read").await?;
                let final_value = parse_counter(&response.body)
                    .ok_or("/read at the end: body is not a counter")?;
                lost_updates = Some(expected.saturating_sub(final_value));
                shared_counter = Some(SharedCounter {
                    final_value,
                    expected,
                });
            }
            Mode::Read | Mode::Login => lost_updates = Some(0),
        }
    }

    Ok(Report {
        label: cli.label.clone(),
        mode: cli.mode.name().to_owned(),
        clients: cli.clients,
        loadgen_threads: cli.threads,
        duration_s: elapsed,
        requests,
        errors,
        req_per_s: requests as f64 / elapsed,
        latency_ms: Latency::from_micros(&mut latencies),
        lost_updates,
        clients_with_lost_updates: clients_with_lost_updates.map(|n| n as u64),
        shared_counter,
        connections,
        client_cpu_s,
        server_cpu_us_per_req: server_cpu_s
            .filter(|_| requests > 0)
            .map(|s| s * 1e6 / requests as f64),
        server_cpu_s,
        first_error,
        statuses: statuses(&clients),
        failures_s: failures_since(&clients, started),
        acknowledged_lost,
    })
}

/// Each client's increments lost during the run, plus what `/read` now says it lost of its
/// last acknowledged counter.
async fn lost_since_acknowledged(clients: &mut [Client]) -> Result<u64, String> {
    let mut lost = 0;
    for client in clients {
        lost += client.acknowledged_lost;
        let Some(last) = client.last_counter else {
            continue;
        };
        let (response, _) = client.send(Method::Get, "/read").await?;
        if !(200..300).contains(&response.status) {
            return Err(format!("/read at the end: status {}", response.status));
        }
        let stored =
            parse_counter(&response.body).ok_or("/read at the end: body is not a counter")?;
        lost += last.saturating_sub(stored);
    }
    Ok(lost)
}

/// Every client's answers by status, `"none"` for no answer.
fn statuses(clients: &[Client]) -> BTreeMap<String, u64> {
    let mut all = BTreeMap::new();
    for (status, count) in clients.iter().flat_map(|c| &c.statuses) {
        let status = status.map_or("none".to_owned(), |status| status.to_string());
        *all.entry(status).or_default() += count;
    }
    all
}

/// Seconds from `started` to the first and the last failure of any client.
fn failures_since(clients: &[Client], started: Instant) -> Option<(f64, f64)> {
    let first = clients
        .iter()
        .filter_map(|c| c.failures)
        .map(|f| f.0)
        .min()?;
    let last = clients
        .iter()
        .filter_map(|c| c.failures)
        .map(|f| f.1)
        .max()?;
    let since = |at: Instant| at.duration_since(started).as_secs_f64();
    Some((since(first), since(last)))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.markdown_header {
        println!("{MARKDOWN_HEADER}");
        return ExitCode::SUCCESS;
    }
    let target = match Target::parse(&cli.url) {
        Ok(target) => target,
        Err(error) => {
            eprintln!("loadgen: {error}");
            return ExitCode::from(2);
        }
    };
    if !(cli.duration > 0.0 && cli.duration <= MAX_DURATION_S) {
        eprintln!("loadgen: --duration must be in (0, {MAX_DURATION_S}] seconds");
        return ExitCode::from(2);
    }
    if !(1..=MAX_CLIENTS).contains(&cli.clients) || cli.threads == 0 {
        eprintln!("loadgen: --clients must be 1 to {MAX_CLIENTS}, --threads at least 1");
        return ExitCode::from(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let report = match runtime.block_on(measure(&cli, target)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("loadgen: {error}");
            return ExitCode::FAILURE;
        }
    };
    let json = serde_json::to_string(&report).expect("a report is JSON");
    if let Some(path) = &cli.json_out {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| writeln!(file, "{json}"));
        if let Err(error) = appended {
            eprintln!("loadgen: cannot append to {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    }
    match cli.format {
        Format::Json => println!("{json}"),
        Format::Markdown => println!("{}", report.markdown_row()),
    }
    if let Some(error) = &report.first_error {
        eprintln!("loadgen: {} errors; first: {error}", report.errors);
    }
    ExitCode::SUCCESS
}
