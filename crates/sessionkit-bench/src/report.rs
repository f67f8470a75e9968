//! What one load-generator run found, as JSON (for scripts and the chart) and as a row of the
//! Markdown table in `docs/BENCHMARKS.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One run against one target in one mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// What was measured, e.g. `sessionkit signed_cookies`.
    pub label: String,
    /// `incr`, `read`, `login` or `shared`.
    pub mode: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Threads the load generator ran on.
    pub loadgen_threads: usize,
    /// Measured wall-clock time, in seconds.
    pub duration_s: f64,
    /// Requests answered (errors included).
    pub requests: u64,
    /// Failed requests: transport errors, unexpected statuses, unexpected bodies.
    pub errors: u64,
    /// Requests per second over the measured time.
    pub req_per_s: f64,
    /// Latency of answered requests.
    pub latency_ms: Latency,
    /// Increments that did not survive: per-client modes sum each client's shortfall (its
    /// increments minus its last counter); `shared` compares the final counter with all
    /// increments. `None` when not checked (a target without sessions).
    pub lost_updates: Option<u64>,
    /// Clients whose last counter differed from their number of increments (per-client modes).
    pub clients_with_lost_updates: Option<u64>,
    /// `shared` mode: the counter read at the end, and what it should have been.
    pub shared_counter: Option<SharedCounter>,
    /// TCP connections opened (one per client when keep-alive holds).
    pub connections: u64,
    /// CPU time the load generator used during the run, in seconds.
    pub client_cpu_s: f64,
    /// CPU time the server processes used during the run, if their ids were given.
    pub server_cpu_s: Option<f64>,
    /// Server CPU time per answered request, in microseconds.
    pub server_cpu_us_per_req: Option<f64>,
    /// The first error seen, to say what went wrong.
    pub first_error: Option<String>,
    /// Answers by HTTP status (`"200"`, `"503"`, …), and `"none"` for requests that got no
    /// answer (a transport error).
    #[serde(default)]
    pub statuses: BTreeMap<String, u64>,
    /// Seconds from the start of the run to the first and to the last failed request (no
    /// answer, or not a 2xx), if any failed: how long an outage lasted, seen from the clients.
    #[serde(default)]
    pub failures_s: Option<(f64, f64)>,
    /// Per-client `incr`: increments a client saw acknowledged (a 2xx with its counter) that
    /// the store lost — the client's counter going back during the run, or `/read` at the end
    /// answering less than the last counter acknowledged. An increment that failed (a 503)
    /// but was applied anyway shows as a counter jumping ahead, which is not a loss.
    #[serde(default)]
    pub acknowledged_lost: Option<u64>,
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Mean.
    pub mean: f64,
    /// Slowest.
    pub max: f64,
}

/// The shared counter at the end of a `shared` run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedCounter {
    /// What `/bench/read` returned at the end.
    pub final_value: u64,
    /// The counter's start value plus every successful increment.
    pub expected: u64,
}

impl Latency {
    /// Percentiles (nearest rank) of `micros`, which is sorted in place.
    ///
    /// ```
    /// let mut samples: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
    /// let latency = sessionkit_bench::report::Latency::from_micros(&mut samples);
    /// assert_eq!((latency.p50, latency.p99, latency.max), (50.0, 99.0, 100.0));
    /// ```
    pub fn from_micros(micros: &mut [u32]) -> Latency {
        if micros.is_empty() {
            return Latency {
                p50: 0.0,
                p99: 0.0,
                mean: 0.0,
                max: 0.0,
            };
        }
        micros.sort_unstable();
        let ms = |us: u32| f64::from(us) / 1000.0;
        let rank = |p: f64| {
            let index = (p * micros.len() as f64).ceil() as usize;
            ms(micros[index.clamp(1, micros.len()) - 1])
        };
        let total: u64 = micros.iter().map(|&us| u64::from(us)).sum();
        Latency {
            p50: rank(0.50),
            p99: rank(0.99),
            mean: total as f64 / micros.len() as f64 / 1000.0,
            max: ms(micros[micros.len() - 1]),
        }
    }
}

/// The header of the table [`Report::markdown_row`] fills.
pub const MARKDOWN_HEADER: &str = "\
| target | mode | clients | req/s | p50 ms | p99 ms | errors | lost updates | server CPU µs/req |
|---|---|---:|---:|---:|---:|---:|---:|---:|";

impl Report {
    /// This run as one row under [`MARKDOWN_HEADER`].
    pub fn markdown_row(&self) -> String {
        let lost = match (&self.lost_updates, &self.shared_counter) {
            (None, _) => "n/a".to_owned(),
            (Some(lost), Some(shared)) => {
                format!(
                    "{lost} (final {} of {})",
                    shared.final_value, shared.expected
                )
            }
            (Some(lost), None) => lost.to_string(),
        };
        let cpu = self
            .server_cpu_us_per_req
            .map_or_else(|| "n/a".to_owned(), |us| format!("{us:.0}"));
        format!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} |",
            self.label,
            self.mode,
            self.clients,
            self.req_per_s,
            self.latency_ms.p50,
            self.latency_ms.p99,
            self.errors,
            lost,
            cpu
        )
    }
}

/// CPU time (user + system, all threads) a process has used so far, in seconds, from
/// `/proc/<pid>/stat`; `None` for this process.
pub fn cpu_seconds(pid: Option<u32>) -> std::io::Result<f64> {
    // USER_HZ: the unit of /proc's times, 100 on every Linux architecture in use.
    const TICKS_PER_SECOND: f64 = 100.0;
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(&path)?;
    // The command name (field 2) may hold spaces; the fields after its ')' are fixed. utime
    // and stime are fields 14 and 15, so the 12th and 13th after the ')'.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = after_name.split_whitespace().skip(11);
    let mut next = || -> std::io::Result<f64> {
        fields
            .next()
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| std::io::Error::other(format!("unexpected format of {path}")))
    };
    let (user, system) = (next()?, next()?);
    Ok((user + system) / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_cpu_time() {
        let spent = cpu_seconds(None).unwrap();
        assert!(spent >= 0.0);
    }

    #[test]
    fn a_row_shows_lost_updates_and_the_shared_counter() {
        let mut report = Report {
            label: "x".into(),
            mode: "shared".into(),
            clients: 4,
            loadgen_threads: 1,
            duration_s: 1.0,
            requests: 10,
            errors: 0,
            req_per_s: 10.0,
            latency_ms: Latency::from_micros(&mut [1000, 3000]),
            lost_updates: Some(3),
            clients_with_lost_updates: None,
            shared_counter: Some(SharedCounter {
                final_value: 8,
                expected: 11,
            }),
            connections: 4,
            client_cpu_s: 0.1,
            server_cpu_s: None,
            server_cpu_us_per_req: None,
            first_error: None,
            statuses: BTreeMap::new(),
            failures_s: None,
            acknowledged_lost: None,
        };
        assert_eq!(
            report.markdown_row(),
            "| x | shared | 4 | 10 | 1.00 | 3.00 | 0 | 3 (final 8 of 11) | n/a |"
        );
        report.lost_updates = None;
        assert!(report.markdown_row().contains("| n/a | n/a |"));
    }
}
